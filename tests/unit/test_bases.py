"""Base images pinned by digest: the lock file, and FROM lines naming tag and digest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildkit_slim import bases
from buildkit_slim.bases import BasePin, BasePins, PinError

HERE = Path(__file__).resolve().parent / "bases"
RAW = (HERE / "python-3.13-slim-trixie.manifest-list.json").read_bytes()
REGISTRY_DIGEST = "sha256:95b793ea9d2566cf5c5f8635ed59ddbc918794760d2e9af8ab5496e2c03822a0"
PLATFORMS = ("linux/amd64", "linux/arm/v7")
PATH = "bake/bases.lock.json"


def slim() -> BasePin:
    return bases.pin_from_manifest("python:3.13-slim-trixie", RAW)


def test_digest_of_a_real_manifest_list_is_the_registrys() -> None:
    pin = slim()
    assert pin.digest == REGISTRY_DIGEST
    assert dict(pin.platforms) == {
        "linux/amd64": "sha256:adb52f3c2ff2dacbd553a19a46b4329c5d367aba4df34fe02998012753add413",
        "linux/arm/v7": "sha256:49012c017672c0133d5dc11e3e2c459dbab05e782e6661a0db55ce87c240bdf5",
    }


def test_attestation_manifests_are_no_platform() -> None:
    data = json.loads(RAW)
    data["manifests"].append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "e" * 64,
        "size": 1, "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"}})
    pin = bases.pin_from_manifest("x:1", json.dumps(data).encode())
    assert [p for p, _ in pin.platforms] == list(PLATFORMS)


def test_a_single_manifest_stands_for_the_platform_asked_for() -> None:
    raw = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'
    pin = bases.pin_from_manifest("x:1", raw, platform="linux/amd64")
    assert pin.platforms == (("linux/amd64", pin.digest),)


def test_the_file_round_trips_and_is_deterministic() -> None:
    builder = BasePin(ref="python:3.13-trixie", digest="sha256:" + "1" * 64,
                      platforms=(("linux/arm/v7", "sha256:" + "3" * 64),
                                 ("linux/amd64", "sha256:" + "2" * 64)))
    pins = BasePins(pins=(slim(), builder))
    text = bases.render_pins(pins)
    assert text == bases.render_pins(BasePins(pins=(builder, slim())))
    # sorted by reference, whatever order they came in
    assert text.endswith("}\n") and text.index('"python:3.13-slim-trixie"') < text.index(
        '"python:3.13-trixie"')
    again = bases.parse_pins(text, PATH)
    assert again.get("python:3.13-slim-trixie") == slim()
    assert bases.render_pins(again) == text


def test_from_lines_name_tag_and_digest() -> None:
    pins = BasePins(pins=(slim(),))
    assert bases.pinned("python:3.13-slim-trixie", pins, platforms=PLATFORMS, path=PATH) == \
        f"python:3.13-slim-trixie@{REGISTRY_DIGEST}"
    own = "ghcr.io/acme/py:3.13@sha256:" + "f" * 64
    assert bases.pinned(own, pins, platforms=PLATFORMS, path=PATH) == own


def test_a_missing_digest_names_the_base() -> None:
    with pytest.raises(PinError) as caught:
        bases.pinned("python:3.13-trixie", BasePins(pins=(slim(),)), platforms=PLATFORMS,
                     path=PATH)
    assert caught.value.message == "bake/bases.lock.json: base image python:3.13-trixie has " \
                                   "no digest"
    assert "bslim lock-bases" in (caught.value.hint or "")
    assert caught.value.exit_code == 2


def test_every_missing_base_and_platform_at_once() -> None:
    problems = bases.check_pins(
        ["python:3.13-trixie", "python:3.13-slim-trixie", "python:3.13-trixie"],
        BasePins(pins=(slim(),)), platforms=(*PLATFORMS, "linux/arm64"), path=PATH)
    assert problems == [
        "bake/bases.lock.json: base image python:3.13-trixie has no digest",
        "bake/bases.lock.json: base image python:3.13-slim-trixie was locked without "
        "linux/arm64 (it has linux/amd64, linux/arm/v7)",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not valid JSON"),
    ('{"version": 2, "bases": {}}', "not a bslim base-image lock (version 1)"),
    ('{"version": 1, "bases": []}', "`bases` must be a table"),
    ('{"version": 1, "bases": {"python:3": {"digest": "sha256:12", "platforms": {}}}}',
     "bases.'python:3'.digest must be sha256:<64 hex>"),
    ('{"version": 1, "bases": {"python:3": {"digest": "sha256:' + "a" * 64 + '", '
     '"platforms": {"linux/amd64": "latest"}}}}', "platforms must map platforms"),
])
def test_a_damaged_file_is_named(text: str, message: str) -> None:
    with pytest.raises(PinError, match="bake/bases.lock.json: .*" + re.escape(message)):
        bases.parse_pins(text, PATH)


def test_lock_bases_keeps_only_what_is_still_used() -> None:
    old = BasePin(ref="python:3.11-slim-bookworm", digest="sha256:" + "9" * 64, platforms=())
    moved = BasePin(ref="python:3.13-slim-trixie", digest="sha256:" + "8" * 64, platforms=())
    pins = BasePins(pins=(old, moved))
    new = bases.updated(pins, [slim()], keep=["python:3.13-slim-trixie"])
    assert new == BasePins(pins=(slim(),))
