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
       pip_for_target.py prepare DIR -- PIP-OPTIONS   (natively: build requirements of the list)
       pip_for_target.py compile DIR -- PIP-OPTIONS   (on the target: build the list)
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


BUILDENV = ".bslim-buildenv"
SDISTS = ".bslim-sdists"
LEGACY_REQUIRES = ["setuptools>=40.8.0"]  # PEP 517's default for an sdist without build-system


def _key(requirement: str) -> str:
    from pip._vendor.packaging.utils import canonicalize_name

    return "src" if requirement.startswith("/") else str(
        canonicalize_name(requirement.split("==", 1)[0]))


def _pip(args: list[str], env: dict[str, str] | None = None) -> int:
    """pip in a fresh process, through this script (so with the target's tags)."""
    import subprocess

    return subprocess.call([sys.executable, __file__, "pip", *args],
                           env={**os.environ, **(env or {})})


def sdist_pyproject(archive: Path) -> str:
    """The top-level pyproject.toml of an sdist (.tar.gz or .zip), or "" when it has none."""
    import tarfile
    import zipfile

    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1
                     and n.endswith("/pyproject.toml")]
            return zf.read(names[0]).decode() if names else ""
    with tarfile.open(archive) as tf:
        member = next((m for m in tf.getmembers() if m.name.count("/") == 1
                       and m.name.endswith("/pyproject.toml")), None)
        handle = tf.extractfile(member) if member else None
        return handle.read().decode() if handle else ""


def build_requires(pyproject_text: str) -> list[str] | None:
    """[build-system].requires (PEP 518; PEP 517's setuptools default without a table)."""
    import importlib

    try:
        tomllib = importlib.import_module("tomllib")  # the image's Python; 3.11+
    except ImportError:
        return None
    system = tomllib.loads(pyproject_text).get("build-system", {}) if pyproject_text else {}
    return [str(r) for r in system.get("requires", LEGACY_REQUIRES)]


def _build_requires(requirement: str, sdists: Path, options: list[str]) -> list[str] | None:
    """The build requirements of what pip would build for `requirement`."""
    if requirement.startswith("/"):
        pyproject = Path(requirement) / "pyproject.toml"
        return build_requires(pyproject.read_text() if pyproject.is_file() else "")
    dest = sdists / _key(requirement)
    if _pip(["download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest",
             str(dest), *options, requirement]) != 0:
        return None
    archive = next(iter(sorted(dest.glob("*"))), None)
    return build_requires(sdist_pyproject(archive)) if archive else None


def prepare(directory: Path, options: list[str]) -> None:
    """Natively, for each distribution to compile on the target: install its build
    requirements with the target's wheels into DIR/.bslim-buildenv/<name>, so that the emulated
    stage can skip pip's build isolation (which installs them under emulation: seconds each)."""
    listing = directory / COMPILE_LIST
    for requirement in listing.read_text().split() if listing.exists() else []:
        requires = _build_requires(requirement, directory / SDISTS, options)
        target = directory / BUILDENV / _key(requirement)
        if requires is None or _pip(["install", "--quiet", "--target", str(target),
                                     "--only-binary", ":all:", *options, *requires]) != 0:
            import shutil

            shutil.rmtree(target, ignore_errors=True)
            print(f"bslim: {requirement}: build requirements not prepared; pip's build "
                  "isolation will install them", file=sys.stderr)


def compile_listed(directory: Path, options: list[str]) -> int:
    """On the target: build what the fetch stage listed, with the prepared build requirements
    where there are some, else (or if that fails) with pip's build isolation."""
    listing = directory / COMPILE_LIST
    for requirement in listing.read_text().split() if listing.exists() else []:
        wheel = ["wheel", "--no-deps", "--wheel-dir", str(directory), *options]
        env_dir = directory / BUILDENV / _key(requirement)
        if env_dir.is_dir():
            sdists = directory / SDISTS / _key(requirement)
            prepared = [*wheel, "--no-build-isolation", "--find-links", str(sdists), requirement]
            if _pip(prepared, env={"PYTHONPATH": str(env_dir)}) == 0:
                continue
            print(f"bslim: {requirement}: retrying with pip's build isolation", file=sys.stderr)
        status = _pip([*wheel, requirement])
        if status != 0:
            return status
    return 0


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
    if argv[:1] in (["prepare"], ["compile"]) and len(argv) >= 2:
        options = argv[argv.index("--") + 1:] if "--" in argv else []
        if argv[0] == "prepare":
            prepare(Path(argv[1]), options)
            return 0
        return compile_listed(Path(argv[1]), options)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
