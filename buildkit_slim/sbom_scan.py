"""bslim's image as a BuildKit SBOM generator: the Python distributions of a scanned rootfs.

BuildKit's SBOM generator protocol (docs/attestations/sbom-protocol.md in moby/buildkit) runs
the generator image's entrypoint and command with the rootfs to scan mounted read-only at
$BUILDKIT_SCAN_SOURCE, and attaches every `<scan>.spdx.json` in-toto statement left in
$BUILDKIT_SCAN_DESTINATION to the image as an SBOM attestation. bslim's image runs `bslim`
with no arguments: with those two variables set, that is this scan (buildkit_slim.entry).
Also `python -m buildkit_slim.sbom_scan ROOTFS DEST` by hand.

Each distribution bslim installed carries `bslim-origin.json` in its .dist-info (written by
the install step, bake/shim/pip_for_target.py): the wheel's file name, its sha256, where it came
from. A distribution without one came with the base image (pip, say): listed, origin "base",
without a wheel or checksum (none was installed).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import canonicalize_name

from buildkit_slim import sbom
from buildkit_slim.resources.origins import ORIGIN_FILE

SCAN_FILE = "sbom.spdx.json"  # one scan per target: BuildKit's core SBOM
# Where distributions are installed: the official images' prefix, Debian's own python3.
SITE_GLOBS = ("usr/local/lib/python3*/site-packages", "usr/local/lib/python3*/dist-packages",
              "usr/lib/python3*/site-packages", "usr/lib/python3/dist-packages")


def _metadata(info: Path) -> str | None:
    for name in ("METADATA", "PKG-INFO"):
        if (info / name).is_file():
            return (info / name).read_text(encoding="utf-8", errors="replace")
    if info.is_file():  # a legacy single-file .egg-info
        return info.read_text(encoding="utf-8", errors="replace")
    return None


def components(rootfs: Path) -> list[sbom.Component]:
    """Every distribution installed under the rootfs's site directories."""
    found = []
    for pattern in SITE_GLOBS:
        for site in sorted(rootfs.glob(pattern)):
            if site.is_symlink():  # would point into the generator's own root
                continue
            for info in sorted([*site.glob("*.dist-info"), *site.glob("*.egg-info")]):
                text = _metadata(info)
                if text is None:
                    continue
                headers = HeaderParser().parsestr(text)
                name, version = headers.get("Name"), headers.get("Version")
                if not name or not version:
                    continue
                record = info / ORIGIN_FILE
                origin = json.loads(record.read_text()) if record.is_file() else {
                    "origin": "base", "how": "in the base image: not installed by bslim"}
                expression, declared = sbom.license_of(text)
                found.append(sbom.Component(
                    name=name.strip(), version=version.strip(), wheel=origin.get("wheel"),
                    sha256=origin.get("sha256"), origin=origin["origin"], how=origin["how"],
                    license=expression, license_text=declared))
    return found


def scan(rootfs: Path, *, epoch: int = 0, tool: str | None = None) -> dict[str, object]:
    """The in-toto statement of the rootfs's SBOM."""
    found = components(rootfs)
    platforms = sorted({str(json.loads(p.read_text()).get("platform", "")) for pattern in
                        SITE_GLOBS for p in rootfs.glob(f"{pattern}/*.dist-info/{ORIGIN_FILE}")})
    project = sorted(c.name for c in found if c.origin == "project")
    image = canonicalize_name(project[0]) if project else "python-image"
    if tool is None:
        from importlib.metadata import version

        tool = f"bslim-{version('buildkit-slim')}"
    doc = sbom.document(image=image, platform=",".join(p for p in platforms if p) or "unknown",
                        components=found, tool=tool, epoch=epoch)
    return sbom.statement(doc)


def write(rootfs: Path, destination: Path, env: Mapping[str, str]) -> Path:
    epoch = env.get("SOURCE_DATE_EPOCH", "")
    statement = scan(rootfs, epoch=int(epoch) if epoch.isdigit() else 0)
    destination.mkdir(parents=True, exist_ok=True)
    out = destination / SCAN_FILE
    out.write_text(sbom.render(statement), encoding="utf-8")
    return out


def protocol(env: Mapping[str, str]) -> int:
    """Run as BuildKit's generator: $BUILDKIT_SCAN_SOURCE -> $BUILDKIT_SCAN_DESTINATION."""
    out = write(Path(env["BUILDKIT_SCAN_SOURCE"]), Path(env["BUILDKIT_SCAN_DESTINATION"]), env)
    print(f"bslim: wrote {out}", file=sys.stderr)
    return 0


def main(args: list[str]) -> int:
    if len(args) != 2:
        print("usage: python -m buildkit_slim.sbom_scan ROOTFS DEST", file=sys.stderr)
        return 2
    print(write(Path(args[0]), Path(args[1]), os.environ))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
