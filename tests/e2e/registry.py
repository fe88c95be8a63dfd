"""A tiny client for the local registry's HTTP API: the e2e tests read images layer by layer."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

REGISTRY = "127.0.0.1:5000"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


def _get(path: str, accept: tuple[str, ...] = ()) -> tuple[bytes, str]:
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{path}")
    if accept:
        request.add_header("Accept", ", ".join(accept))
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read(), str(response.headers.get("Content-Type", ""))


def split_ref(ref: str) -> tuple[str, str]:
    """'127.0.0.1:5000/a/b:tag' -> ('a/b', 'tag')."""
    assert ref.startswith(REGISTRY + "/"), ref
    repo, _, tag = ref[len(REGISTRY) + 1:].rpartition(":")
    return repo, tag


def get_json(repo: str, reference: str) -> tuple[dict[str, Any], str]:
    body, content_type = _get(f"{repo}/manifests/{reference}", INDEX_TYPES + MANIFEST_TYPES)
    return json.loads(body), content_type


def blob(repo: str, digest: str) -> bytes:
    return _get(f"{repo}/blobs/{digest}")[0]


@dataclass(frozen=True)
class PlatformImage:
    platform: str
    manifest: dict[str, Any]
    config: dict[str, Any]

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.manifest["layers"])

    @property
    def compressed_size(self) -> int:
        return sum(int(layer["size"]) for layer in self.layers)


def platform_images(ref: str) -> dict[str, PlatformImage]:
    """Platform ('linux/arm/v7') -> manifest and config, skipping attestation manifests."""
    repo, tag = split_ref(ref)
    index, content_type = get_json(repo, tag)
    assert content_type in INDEX_TYPES, f"{ref} is not a multi-platform index: {content_type}"
    out = {}
    for entry in index["manifests"]:
        plat = entry.get("platform", {})
        if plat.get("os") == "unknown":
            continue  # buildkit attestation manifest
        name = "/".join(p for p in (plat.get("os"), plat.get("architecture"),
                                    plat.get("variant")) if p)
        manifest, _ = get_json(repo, entry["digest"])
        config = json.loads(blob(repo, manifest["config"]["digest"]))
        out[name] = PlatformImage(platform=name, manifest=manifest, config=config)
    return out


def layer_members(repo: str, digest: str) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """Every entry of a layer with its content (files only)."""
    data = blob(repo, digest)
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar:
            content = None
            if member.isfile():
                handle = tar.extractfile(member)
                content = handle.read() if handle else None
            yield member, content
