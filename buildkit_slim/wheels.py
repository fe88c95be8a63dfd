"""Exported wheels: one directory per platform plus a manifest (name, version, tags, sha256)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import parse_wheel_filename

from buildkit_slim import sbom
from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.platforms import export_dir, pair

MANIFEST = "manifest.json"


def split_dir(exported: Path, platform: str, platforms: Sequence[str]) -> Path:
    """Where buildx's local exporter put one platform: split per platform (linux_arm_v7/)
    only when the build had several."""
    return exported / export_dir(platform) if len(platforms) > 1 else exported


def collect(exported: Path, dest: Path, platforms: Sequence[str]) -> Path:
    """Move what buildx exported (split per platform as linux_arm_v7/ when there are several)
    into DEST/<platform-pair>/ and write DEST/manifest.json."""
    for platform in platforms:
        source = split_dir(exported, platform, platforms)
        out = dest / pair(platform)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        for wheel in sorted(source.glob("*.whl")):
            wheel.rename(out / wheel.name)
    shutil.rmtree(exported, ignore_errors=True)
    path = dest / MANIFEST
    path.write_text(json.dumps(manifest(dest, platforms), indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
    for platform in platforms:  # beside it, each platform's SBOM of exactly these wheels
        (dest / f"{pair(platform)}{SBOM_SUFFIX}").write_text(sbom.render(sbom.document(
            image=dest.name, platform=platform, components=exported_components(
                dest / pair(platform)), tool=f"bslim-{_version()}")), encoding="utf-8")
    return path


SBOM_SUFFIX = ".spdx.json"


def _version() -> str:
    from importlib.metadata import version

    return version("buildkit-slim")


def exported_components(directory: Path) -> list[sbom.Component]:
    """The exported wheels as SBOM components: name, version, sha256, license from each
    wheel's METADATA. Whether a wheel was downloaded or compiled is not recorded on this path
    (the wheel stage keeps no record; the image's install step does): origin "exported"."""
    import zipfile

    found = []
    for wheel in sorted(directory.glob("*.whl")):
        name, version, _, tags = parse_wheel_filename(wheel.name)
        try:
            with zipfile.ZipFile(wheel) as archive:
                metadata = next((archive.read(n).decode("utf-8", "replace")
                                 for n in sorted(archive.namelist())
                                 if n.count("/") == 1 and n.endswith(".dist-info/METADATA")),
                                "")
        except zipfile.BadZipFile:  # no license to read; the rest stands
            metadata = ""
        expression, declared = sbom.license_of(metadata)
        pure = all(t.platform == "any" for t in tags)
        found.append(sbom.Component(
            name=str(name), version=str(version), wheel=wheel.name,
            sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(), origin="exported",
            how="exported by bslim bake --export-wheels: a " + (
                "pure-Python" if pure else "binary") + " wheel of this build (downloaded or "
            "compiled: not recorded on this path)", license=expression, license_text=declared))
    return found


def manifest(dest: Path, platforms: Sequence[str]) -> dict[str, object]:
    entries = {}
    for platform in sorted(platforms):
        wheels = []
        for wheel in sorted((dest / pair(platform)).glob("*.whl")):
            name, version, _, tags = parse_wheel_filename(wheel.name)
            wheels.append({
                "file": wheel.name,
                "name": str(name),
                "version": str(version),
                "tags": sorted(str(t) for t in tags),
                "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
                "size": wheel.stat().st_size,
            })
        entries[platform] = {"directory": pair(platform), "wheels": wheels}
    return {"platforms": entries}


KIND_TEXT = {
    "pure": "pure Python wheel (one for every platform)",
    "wheel": "binary wheel from the index",
    "native": "compiled natively (the build platform)",
    "compile": "COMPILED UNDER EMULATION",
}


def plan_lines(exported: Path, platforms: Sequence[str], native: str,
               target: str) -> list[str]:
    """`bslim plan` output for one target, from the reports its fetch stage exported."""
    lines = []
    for platform in platforms:
        base = split_dir(exported, platform, platforms)
        entries = []
        for part in ("deps.json", "project.json"):
            entries += json.loads((base / part).read_text(encoding="utf-8"))
        emulated = platform != native
        lines.append(f"{target} {platform} ({'emulated' if emulated else 'native'}):")
        for entry in sorted(entries, key=lambda e: str(e["name"])):
            lines.append(f"  {entry['name']:<24} {entry['version']:<12} "
                         f"{_kind_text(entry, emulated)}")
        compiled = sum(1 for e in entries if e["kind"] == "compile")
        crossed = sum(1 for e in entries if e["kind"] == "compile" and e.get("how") == "cross")
        noun = "distribution" if len(entries) == 1 else "distributions"
        lines.append(f"  {len(entries)} {noun}, " + (
            f"{crossed} cross-compiled, {compiled - crossed} compiled under emulation"
            if emulated and crossed else f"{compiled} compiled"
            + (" under emulation" if emulated and compiled else "")))
    return lines


def lock_tells(target: TargetBlueprint) -> bool:
    """Whether the lock alone says what each platform installs and how (uv.lock and
    pylock.toml name their files; a requirements file only hashes, which pip matches at
    build time)."""
    return all(p.how != "pip" for _, locked in target.locked for p in locked.packages)


def locked_plan_lines(target: TargetBlueprint, native: str, version: str | None) -> list[str]:
    """`bslim plan` for a locked target, from the lock alone: each platform's locked
    versions, which come as wheels and which compile from their sdists (the project itself is
    built from its source)."""
    lines = []
    locks = dict(target.locked)
    for platform in target.platforms:
        locked = locks[platform]
        emulated = platform != native
        lines.append(f"{target.name} {platform} ({'emulated' if emulated else 'native'}), "
                     f"from {locked.lock_path}:")
        for package in locked.packages:
            kind = {"sdist": "compile" if emulated else "native"}.get(package.how, package.how)
            lines.append(f"  {package.name:<24} {package.version or '(url)':<12} "
                         f"{KIND_TEXT[kind]}")
        project = target.install.split("[", 1)[0]
        lines.append(f"  {project:<24} {version or '(dynamic)':<12} the project, built from "
                     "its source")
        compiled = sum(1 for p in locked.packages if p.how == "sdist")
        count = len(locked.packages) + 1
        lines.append(f"  {count} distributions, {compiled} compiled"
                     + (" under emulation" if emulated and compiled else "")
                     + ", every file checked against the lock's sha256")
    return lines


def _kind_text(entry: dict[str, object], emulated: bool) -> str:
    kind = str(entry["kind"])
    if kind != "compile":
        return KIND_TEXT.get(kind, kind)
    if not emulated:
        return "compiled on the target (native)"
    if entry.get("how") == "cross":
        return ("cross-compiled on the build platform (proven on the target before use; if it "
                "fails, compiled under emulation)")
    return KIND_TEXT[kind] + (f" ({entry['why']})" if entry.get("why") else "")
