"""The build's secrets (a netrc for private indexes, the CA bundle) reach no layer, no history
entry and no blob of the registry cache: a real build with both, every stage cached (mode=max),
then the image and the cache read blob by blob for their markers."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

from tests.e2e import registry
from tests.e2e.conftest import DEFAULT_LAYOUT, PLATFORMS, base_image, bslim, make_project

REG = "127.0.0.1:5000/bslim-e2e"


def _base_layers() -> set[str]:
    """The stand-in base images' layers: the cache holds them too; they are not ours."""
    return {layer["digest"] for slim in (False, True)
            for image in registry.platform_images(base_image(DEFAULT_LAYOUT, slim=slim)).values()
            for layer in image.layers}


def _plain(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def test_the_netrc_and_ca_reach_no_layer_history_or_cache_blob(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    marker = f"bslim-e2e-netrc-marker-{uuid.uuid4().hex}"
    netrc = tmp_path / "netrc"
    # A machine pip never asks for: the build works, and pip has read the file.
    netrc.write_text(f"machine private-index.invalid login ci password {marker}\n")
    project = make_project(tmp_path / "secrets")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{REG}/secrets"')
        + f'\n[tool.slim.cache]\nregistry = "{REG}/secrets-cache"\n')
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e", "--no-cache",
                   "--ca-bundle", str(ca_bundle[0]), "--netrc", str(netrc))
    assert result.returncode == 0, result.stderr[-3000:]
    markers = (marker.encode(), ca_bundle[1].encode())
    base = _base_layers()

    found: list[str] = []
    scanned = 0
    images = registry.platform_images(f"{REG}/secrets:e2e")
    assert sorted(images) == sorted(PLATFORMS)
    for platform, image in images.items():
        history = json.dumps(image.config.get("history", []))  # what `docker history` shows
        assert "netrc" not in history.lower() and "secrets/ca" not in history
        found += [f"{platform} config" for m in markers if m in json.dumps(image.config).encode()]
        for layer in image.layers:
            if layer["digest"] in base:
                continue
            scanned += 1
            data = _plain(registry.blob("bslim-e2e/secrets", layer["digest"]))
            found += [f"{platform} layer {layer['digest']}" for m in markers if m in data]

    cache, _ = registry.get_json("bslim-e2e/secrets-cache", "e2eapp")
    blobs = [cache["config"]] if "config" in cache else []
    blobs += cache.get("layers", []) + cache.get("manifests", [])
    for descriptor in blobs:
        if descriptor["digest"] in base:
            continue
        scanned += 1
        data = _plain(registry.blob("bslim-e2e/secrets-cache", descriptor["digest"]))
        found += [f"cache blob {descriptor['digest']}" for m in markers if m in data]
    assert not found, found
    assert scanned >= 6, scanned  # the scan saw the fetch, compile and install stages' layers
