"""Exported wheels: one directory per platform plus a manifest (name, version, tags, sha256)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import parse_wheel_filename

from buildkit_slim.cache import platform_pair

MANIFEST = "manifest.json"


def collect(exported: Path, dest: Path, platforms: Sequence[str]) -> Path:
    """Move what buildx exported (split per platform as linux_arm_v7/ when there are several)
    into DEST/<platform-pair>/ and write DEST/manifest.json."""
    for platform in platforms:
        source = exported / platform.replace("/", "_") if len(platforms) > 1 else exported
        out = dest / platform_pair(platform)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for wheel in sorted(source.glob("*.whl")):
            wheel.rename(out / wheel.name)
    shutil.rmtree(exported, ignore_errors=True)
    path = dest / MANIFEST
    path.write_text(json.dumps(manifest(dest, platforms), indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path


def manifest(dest: Path, platforms: Sequence[str]) -> dict[str, object]:
    entries = {}
    for platform in sorted(platforms):
        wheels = []
        for wheel in sorted((dest / platform_pair(platform)).glob("*.whl")):
            name, version, _, tags = parse_wheel_filename(wheel.name)
            wheels.append({
                "file": wheel.name,
                "name": str(name),
                "version": str(version),
                "tags": sorted(str(t) for t in tags),
                "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
                "size": wheel.stat().st_size,
            })
        entries[platform] = {"directory": platform_pair(platform), "wheels": wheels}
    return {"platforms": entries}
