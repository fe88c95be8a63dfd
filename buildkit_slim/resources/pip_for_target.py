"""Run pip natively as if on the target platform, then sort what it produced.

bslim copies this file into the fetch stage of the generated Dockerfile. That stage runs on the
build platform (no emulation), and this script makes pip resolve for TARGETPLATFORM: environment
markers (`platform_machine == "armv7l"`) and wheel tags (manylinux_2_x_armv7l) are the target's,
so pip downloads the target's wheels at native speed. Sdists pip builds here are built natively;
`sort` then keeps what fits the target (pure wheels, the target's binary wheels) and lists the
rest, which the emulated wheel stage compiles: only what has no wheel for the target.

Usage: pip_for_target.py pip ARGS...     (pip with the target's markers and tags)
       pip_for_target.py sort DIR [--project NAME]   (keep what fits, list the rest)
       pip_for_target.py check DIR   (say which inherited wheels do not fit the target)
The builder image and the target share Python X.Y and Debian (glibc), so only the machine differs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import sysconfig
from pathlib import Path

MACHINES = {
    "linux/amd64": "x86_64",
    "linux/386": "i686",
    "linux/arm64": "aarch64",
    "linux/arm/v7": "armv7l",
    "linux/arm/v6": "armv6l",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
}
BUILD_MACHINE = platform.machine()  # before pretend(): the machine this really runs on
COMPILE_LIST = ".bslim-compile.txt"
REPORT = ".bslim-report.json"


def pretend(target_platform: str) -> str:
    """Make this interpreter's markers and wheel tags those of `target_platform`."""
    machine = MACHINES[target_platform]
    if machine != platform.machine():
        platform.machine = lambda: machine  # markers: platform_machine
        sysconfig.get_platform = lambda: f"linux-{machine}"  # tags: linux_<machine>
        from pip._vendor.packaging import _manylinux

        # manylinux support is decided from the ELF header of this (native) interpreter;
        # the target image has the same Debian, so the same glibc: its answer is the target's.
        _manylinux._have_compatible_abi = lambda *args, **kwargs: True
    return machine


def target_tags() -> set[str]:
    from pip._vendor.packaging.tags import sys_tags

    return {str(tag) for tag in sys_tags()}


def classify(filename: str, supported: set[str]) -> str:
    """'pure' (any platform), 'wheel' (a published binary wheel for the target), 'native'
    (compiled here, natively, for a target that is the build platform), or 'compile' (to be
    compiled on the target, under emulation)."""
    from pip._vendor.packaging.utils import parse_wheel_filename

    _, _, _, tags = parse_wheel_filename(filename)
    if not any(str(tag) in supported for tag in tags):
        return "compile"
    if all(tag.platform == "any" for tag in tags):
        return "pure"
    # PyPI accepts only manylinux/musllinux binaries: a plain linux_<build machine> tag is a
    # wheel pip just built here from an sdist. (piwheels serves plain linux_armv7l wheels: for
    # an arm/v7 target on an x86-64 builder those cannot have been built here.)
    built_here = all(tag.platform == f"linux_{BUILD_MACHINE}" for tag in tags)
    return "native" if built_here else "wheel"


def check(directory: Path) -> None:
    """Say which inherited wheels cannot serve the target (pip would skip them silently and
    build those distributions from source, under emulation for arm/v7)."""
    from pip._vendor.packaging.utils import parse_wheel_filename

    supported = target_tags()
    for wheel in sorted(directory.rglob("*.whl")):
        if classify(wheel.name, supported) == "compile":
            name, version, _, _ = parse_wheel_filename(wheel.name)
            print(f"bslim: inherited wheel {wheel.name} does not fit {TARGET} "
                  f"({sys.implementation.cache_tag}); {name} {version} will be built here",
                  file=sys.stderr)


def sort(directory: Path, project: str | None, project_path: str) -> None:
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

    supported = target_tags()
    report, compile_here = [], []
    for wheel in sorted(directory.glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        kind = classify(wheel.name, supported)
        report.append({"name": str(name), "version": str(version), "kind": kind,
                       "file": wheel.name})
        if kind == "compile":
            wheel.unlink()
            is_project = project is not None and name == canonicalize_name(project)
            compile_here.append(project_path if is_project else f"{name}=={version}")
    (directory / COMPILE_LIST).write_text("".join(f"{line}\n" for line in compile_here))
    (directory / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    for entry in report:
        print(f"bslim: {entry['name']} {entry['version']}: {entry['kind']}")


TARGET = os.environ.get("TARGETPLATFORM") or "linux/amd64"


def main(argv: list[str]) -> int:
    pretend(TARGET)
    if argv[:1] == ["pip"]:
        from pip._internal.cli.main import main as pip_main

        return int(pip_main(argv[1:]) or 0)
    if argv[:1] == ["sort"] and len(argv) >= 2:
        project = argv[argv.index("--project") + 1] if "--project" in argv else None
        sort(Path(argv[1]), project, "/src")
        return 0
    if argv[:1] == ["check"] and len(argv) == 2:
        check(Path(argv[1]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
