"""Where each installed wheel came from, for the SBOM: the install step of bslim's shim
(pip_for_target.py) writes ORIGIN_FILE into each .dist-info it installed (listed in RECORD),
and the SBOM generator (buildkit_slim/sbom_scan.py, bslim's image under BuildKit's protocol)
reads it back from the image's root filesystem.

Shipped beside the shim in the named context `bslim-shim`; the standard library, wheel_build
beside it, and the `packaging` vendored in the shim's pinned pip (names, as pip compares them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

try:  # bslim's own modules; in a build, their copies beside this file
    from buildkit_slim.resources import wheel_build as build
except ImportError:
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    import wheel_build as build  # type: ignore[import-not-found,no-redef]

SBOM_ARG = "BSLIM_SBOM"  # the build arg `bslim bake --sbom` sets (request.py, the Dockerfile)
ORIGIN_FILE = "bslim-origin.json"  # in each .dist-info bslim installed; read by sbom_scan.py


def recorded(install: Callable[[list[str]], int], paths: Mapping[str, str],
             fetched: Path | None, project: str | None,
             cross_wheels: Path | None) -> Callable[[], int]:
    """`install` (pip install, given more arguments), then, with `fetched` (the fetch's pass
    directory for this platform) and the build arg SBOM_ARG (`bslim bake --sbom`), ORIGIN_FILE
    into each .dist-info it wrote. Without the SBOM nothing is recorded: the record names each
    wheel's sha256, and a wheel built in the build differs per build (its archive's times)
    unless the build is reproducible; the image would then differ per build too."""
    def run() -> int:
        if fetched is None or os.environ.get(SBOM_ARG) != "1":
            return install([])
        report = Path(tempfile.mkdtemp(prefix="bslim-")) / "report.json"
        status = install(["--report", str(report)])
        if status == 0:
            record_origins(json.loads(report.read_text()), {Path(paths["purelib"]),
                           Path(paths["platlib"])}, fetched, project, cross_wheels)
        return status

    return run


def origin_of(entry: dict[str, Any] | None, wheel: Path, *, project: bool, fetched: Path,
              cross_wheels: Path | None) -> tuple[str, str]:
    """(origin, how) of an installed wheel, from what the fetch decided for it (its report
    entry) and, for one compiled for a foreign target, whether it is the cross stage's."""
    if entry is None:
        return "inherited", "a wheel this build did not fetch (a wheels-from image or directory)"
    kind, built = entry.get("kind"), bool(entry.get("built"))
    sdist = fetched / ("project" if project else "deps") / build.SDISTS / \
        build.dist_key(f"{entry['name']}=={entry['version']}")
    digest = sdist.with_suffix(".sha256")
    source = f" from its sdist sha256:{digest.read_text().strip()}" if digest.is_file() \
        else " from its source"
    if kind == "compile":
        crossed = cross_wheels and cross_wheels / "wheels" / wheel.name
        if crossed and crossed.is_file() and hashlib.sha256(crossed.read_bytes()).digest() == \
                hashlib.sha256(wheel.read_bytes()).digest():
            how = (f"cross-compiled on the build platform ({build.NATIVE}) for "
                   f"{build.TARGET}{source}, then imported on the target")
        else:
            why = entry.get("why")
            how = f"compiled on {build.TARGET} (under emulation where foreign){source}" + \
                (f"; not cross-compiled: {why}" if why else "")
        return ("project" if project else "compiled"), how
    if built or kind == "native":
        return ("project" if project else "compiled"), \
            f"built on the build platform ({build.NATIVE}){source}"
    if project:
        return "project", "its wheel, as the build found it"
    return "downloaded", ("pure-Python" if kind == "pure" else "binary") + \
        " wheel downloaded from the package index"


def record_origins(report: dict[str, Any], libs: set[Path], fetched: Path,
                   project: str | None, cross_wheels: Path | None) -> None:
    """Into each .dist-info pip just wrote: ORIGIN_FILE (the wheel's file name, its sha256,
    where it came from), listed in RECORD. `report`: pip's installation report."""
    from email.parser import HeaderParser
    from urllib.parse import unquote, urlparse

    from pip._vendor.packaging.utils import canonicalize_name

    fetch: dict[tuple[str, str], dict[str, Any]] = {}
    for part in ("deps", "project"):
        if (fetched / part / build.REPORT).is_file():
            for entry in json.loads((fetched / part / build.REPORT).read_text()):
                fetch[(canonicalize_name(entry["name"]), entry["version"])] = entry
    infos = {}
    for lib in sorted(libs):
        for info in sorted(lib.glob("*.dist-info")):
            if (info / "METADATA").is_file():
                headers = HeaderParser().parsestr((info / "METADATA").read_text(
                    encoding="utf-8", errors="replace"))
                infos[(canonicalize_name(headers["Name"] or ""), headers["Version"])] = info
    mine = canonicalize_name(project) if project else None
    for item in report.get("install", []):
        name, version = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
        wheel = Path(unquote(urlparse(item["download_info"]["url"]).path))
        found = infos.get((name, version))
        if found is None or not wheel.is_file():
            print(f"bslim: no record of {name} {version}: {found} / {wheel}", file=sys.stderr)
            continue
        info = found
        origin, how = origin_of(fetch.get((name, version)), wheel, project=name == mine,
                                fetched=fetched, cross_wheels=cross_wheels)
        data = (json.dumps({"wheel": wheel.name, "sha256": hashlib.sha256(
            wheel.read_bytes()).hexdigest(), "origin": origin, "how": how,
            "platform": str(build.TARGET)}, indent=2, sort_keys=True) + "\n").encode()
        (info / ORIGIN_FILE).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        with (info / "RECORD").open("a", encoding="utf-8") as record:
            record.write(f"{info.name}/{ORIGIN_FILE},sha256={digest},{len(data)}\n")
