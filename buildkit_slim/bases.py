"""Base images pinned by digest: `<output-dir>/bases.lock.json` (pure, but for reading it).

One commit must mean one image even after `python:3.13-slim` moves, so every FROM names its
base by tag and digest — `python:3.13-slim-trixie@sha256:...` — the way Renovate and
Dependabot pin Dockerfile bases. The digests come from the registry only through an explicit
command (`bslim lock-bases`), which rewrites this file; an update is then a reviewable diff.
`render` (and `render --check`) only read the file: they never reach the network, and a base
without a recorded digest is an error naming it.

The file records, per base as configured: the digest of what the tag pointed at (an index
for a multi-platform image), and each platform's manifest digest inside it, so that a review
sees which platforms changed and bslim can tell when a configured platform is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from buildkit_slim.errors import UsageError

PINS_FILE = "bases.lock.json"
FORMAT_VERSION = 1
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
REFRESH = "bslim lock-bases"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True, kw_only=True)
class BasePin:
    ref: str  # as configured: "python:3.13-slim-trixie"
    digest: str  # what the tag pointed at: the index (or the one manifest)
    platforms: tuple[tuple[str, str], ...]  # ("linux/arm/v7", manifest digest), sorted


@dataclass(frozen=True, kw_only=True)
class BasePins:
    pins: tuple[BasePin, ...] = ()

    def get(self, ref: str) -> BasePin | None:
        return next((p for p in self.pins if p.ref == ref), None)


class PinError(UsageError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems),
                         hint=f"run `{REFRESH}` (it asks the registry) and commit the result")


def parse_pins(text: str, path: str) -> BasePins:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PinError([f"{path}: not valid JSON: {exc}"]) from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise PinError([f"{path}: not a bslim base-image lock (version {FORMAT_VERSION})"])
    bases = data.get("bases")
    if not isinstance(bases, dict):
        raise PinError([f"{path}: `bases` must be a table of image references"])
    problems: list[str] = []
    pins = []
    for ref, entry in sorted(bases.items()):
        digest = entry.get("digest") if isinstance(entry, dict) else None
        platforms = entry.get("platforms") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            problems.append(f"{path}: bases.{ref!r}.digest must be sha256:<64 hex>")
            continue
        if not isinstance(platforms, dict) or not all(
                isinstance(v, str) and DIGEST_RE.fullmatch(v) for v in platforms.values()):
            problems.append(f"{path}: bases.{ref!r}.platforms must map platforms to "
                            "sha256:<64 hex>")
            continue
        pins.append(BasePin(ref=ref, digest=digest, platforms=tuple(sorted(platforms.items()))))
    if problems:
        raise PinError(problems)
    return BasePins(pins=tuple(pins))


def render_pins(pins: BasePins) -> str:
    data = {
        "comment": f"Written by `{REFRESH}`: the digest each base image's tag pointed at. "
                   "`bslim render` pins every FROM to it; refresh it only with that command.",
        "version": FORMAT_VERSION,
        "bases": {pin.ref: {"digest": pin.digest, "platforms": dict(pin.platforms)}
                  for pin in sorted(pins.pins, key=lambda p: p.ref)},
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def has_digest(ref: str) -> bool:
    return "@" in ref


def pinned(ref: str, pins: BasePins, *, platforms: Sequence[str], path: str) -> str:
    """`ref@sha256:...` for a FROM line; a ref that names a digest itself stays as it is.
    PinError when the file has no digest for it, or not for every platform built."""
    problems = check_pins([ref], pins, platforms=platforms, path=path)
    if problems:
        raise PinError(problems)
    if has_digest(ref):
        return ref
    pin = pins.get(ref)
    assert pin is not None
    return f"{ref}@{pin.digest}"


def check_pins(refs: Iterable[str], pins: BasePins, *, platforms: Sequence[str],
               path: str) -> list[str]:
    """Every problem at once: bases without a digest, platforms their pin lacks."""
    problems = []
    for ref in dict.fromkeys(refs):
        if has_digest(ref):
            continue
        pin = pins.get(ref)
        if pin is None:
            problems.append(f"{path}: base image {ref} has no digest")
            continue
        have = dict(pin.platforms)
        missing = [p for p in platforms if p not in have]
        if missing:
            problems.append(f"{path}: base image {ref} was locked without "
                            f"{', '.join(missing)} (it has {', '.join(have) or 'none'})")
    return problems


def platform_of(entry: Mapping[str, Any]) -> str | None:
    """"linux/arm/v7" from an index entry's platform; None for attestation manifests."""
    plat = entry.get("platform")
    if not isinstance(plat, dict):
        return None
    os_name, arch = plat.get("os"), plat.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str) or "unknown" in (os_name, arch):
        return None
    variant = plat.get("variant")
    return f"{os_name}/{arch}" + (f"/{variant}" if isinstance(variant, str) and variant else "")


def pin_from_manifest(ref: str, raw: bytes, *, platform: str | None = None) -> BasePin:
    """A pin from the registry's manifest bytes for `ref` (what `docker buildx imagetools
    inspect --raw` prints): its digest is the sha256 of exactly those bytes. An index lists
    its platforms; a single manifest stands for `platform`, which the caller knows."""
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    data = json.loads(raw)
    if data.get("mediaType") in INDEX_TYPES or "manifests" in data:
        platforms: dict[str, str] = {}
        for entry in data.get("manifests", []):
            name = platform_of(entry)
            if name is not None and isinstance(entry.get("digest"), str):
                platforms.setdefault(name, entry["digest"])
        return BasePin(ref=ref, digest=digest, platforms=tuple(sorted(platforms.items())))
    return BasePin(ref=ref, digest=digest,
                   platforms=((platform, digest),) if platform else ())


def updated(pins: BasePins, new: Iterable[BasePin], *, keep: Iterable[str]) -> BasePins:
    """The file after `lock-bases`: the new pins, plus the old ones still used (`keep`)."""
    by_ref = {p.ref: p for p in pins.pins if p.ref in set(keep)}
    by_ref.update({p.ref: p for p in new})
    return BasePins(pins=tuple(by_ref[r] for r in sorted(by_ref)))
