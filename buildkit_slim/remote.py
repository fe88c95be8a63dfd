"""What the registry says about a pushed reference (pure): parsed `imagetools inspect` output,
and whether it is a multi-platform index of the platforms a target builds. publish.py asks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class RemoteImage:
    """A pushed reference as `imagetools inspect` reports it."""

    digest: str
    index: bool  # a multi-platform index (or manifest list), not a single manifest
    platforms: tuple[str, ...]  # of an index, attestation manifests left out


def remote_image(manifest: Mapping[str, Any]) -> RemoteImage:
    """From `imagetools inspect --format '{{json .Manifest}}'` output."""
    digest = str(manifest.get("digest", ""))
    entries = manifest.get("manifests")
    if not isinstance(entries, list):
        return RemoteImage(digest=digest, index=False, platforms=())
    platforms: list[str] = []
    for entry in entries:
        plat = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(plat, dict) or plat.get("os") in (None, "unknown"):
            continue
        name = "/".join(str(p) for p in (plat.get("os"), plat.get("architecture"),
                                          plat.get("variant")) if p)
        if name not in platforms:
            platforms.append(name)
    return RemoteImage(digest=digest, index=True, platforms=tuple(platforms))


def check_index(ref: str, image: RemoteImage | None, platforms: Sequence[str]) -> list[str]:
    """Problems with `ref` as a multi-platform image of `platforms` (empty: fine)."""
    if image is None:
        return [f"{ref} does not exist in the registry"]
    if not image.index:
        if len(platforms) > 1:
            return [f"{ref} is a single-platform image ({image.digest}), not a multi-platform "
                    f"index of {', '.join(platforms)}"]
        return []
    missing = [p for p in platforms if p not in image.platforms]
    if missing:
        return [f"{ref} lacks {', '.join(missing)} (it has "
                f"{', '.join(image.platforms) or 'no platform'})"]
    return []
