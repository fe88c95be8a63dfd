"""bslim's compile side, shipped beside the shim (pip_for_target.py, the pip-facing side) in
the named context bslim-shim: building wheels from sources without pip. A PEP 517 hook runs
through pyproject_hooks (PINS, installed by hash into LIB) in a fresh interpreter that is this
file (`python -I -S wheel_build.py --path <env>... -- <pyproject_hooks' script>`); sdists are
unpacked with every member checked; `compile` (on the target) builds what the fetch listed,
side by side, and keeps each wheel in the compile cache, keyed by sdist (sha256) and Python.

pip is only used as a fallback (`pip wheel` with its build isolation, run by the shim) and for
its vendored libraries (tested with the pinned pip by tests/unit/test_pip_for_target.py):
tomli on Python 3.10 (no tomllib) and packaging's requirements in `build_project`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

try:  # bslim's own modules; in a build, their copies beside this file
    from buildkit_slim.platforms import MACHINES, native, running_as
    from buildkit_slim.resources import pinning
except ImportError:  # (off the path in a hook's `python -I -S`; in bslim's tree, one up)
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    import pinning  # type: ignore[import-not-found,no-redef]
    from platforms import MACHINES, native, running_as  # type: ignore[import-not-found,no-redef]
    del sys.path[:2]
# Read before pretending: the machine this runs as (an arm/v7 container on an arm64 kernel is
# told aarch64 or armv8l: it runs as armv7l).
BUILD_MACHINE = running_as(platform.machine(), 64 if sys.maxsize > 2**32 else 32)
NATIVE = native(BUILD_MACHINE)
TARGET = os.environ.get("TARGETPLATFORM") or NATIVE
LIB = Path(__file__).with_name("lib")  # the shim's PINS, installed: first on the path
COMPILE_LIST, WHEELS = "compile.txt", "wheels"  # in a fetch pass's DIR: what has no wheel
REPORT = "report.json"  # in a fetch pass's DIR: what it decided for each distribution
BUILDENV, SDISTS, SOURCES = "buildenv", "sdists", "src"  # DIR/<this>/<key>: for `compile`
NATIVE_ENV = "buildenv-native"  # DIR/<this>/<key>: its build requirements for the build machine
LEGACY = {"build-backend": "setuptools.build_meta:__legacy__", "backend-path": [],
          "requires": ["setuptools>=40.8.0"]}  # PEP 517/518 without a [build-system]
NO_BACKEND = 3  # `hook`: the backend cannot be imported from the prepared requirements
HOOK_PATH = "--path"  # the hook interpreter's one flag (repeated): a build environment
# A reproducible build (`bslim bake --reproducible` sets the build arg): everything compiled
# from an sdist for the build platform too is built in the compile stage's fixed directory,
# with the source mapped to `.` (-ffile-prefix-map), and every wheel built is normalized.
REPRODUCIBLE = os.environ.get("BSLIM_REPRODUCIBLE") == "1"
Pip = Callable[[list[str], "IO[str] | None"], int]  # `pip <args>` for the target, logged


def pretend_machine(machine: str, build_machine: str) -> bool:
    """Give this process `machine`'s markers (platform_machine, sysconfig's platform); and
    every Python it starts too when this is that machine, only named otherwise by its kernel
    (an arm/v7 container on an arm64 kernel hears aarch64). False: it had them already."""
    if machine == platform.machine():
        return False
    if machine == build_machine:
        os.environ["_PYTHON_HOST_PLATFORM"] = f"linux-{machine}"
    platform.machine = lambda: machine
    sysconfig.get_platform = lambda: f"linux-{machine}"
    return True


def dist_key(requirement: str) -> str:
    """The directory name of a listed requirement (name==version, or the project's path):
    its PEP 503 normalized name, or `src`."""
    return "src" if requirement[0] == "/" else re.sub(
        r"[-_.]+", "-", requirement.split("==", 1)[0]).lower()


def build_system(src: Path) -> dict[str, Any]:  # with PEP 517/518's defaults
    import importlib

    try:
        toml = importlib.import_module("tomllib")
    except ImportError:  # Python 3.10: pip's own copy
        toml = importlib.import_module("pip._vendor.tomli")
    path = src / "pyproject.toml"
    table = toml.loads(path.read_text("utf-8")).get("build-system") if path.is_file() else {}
    return {**LEGACY, **(table if isinstance(table, dict) else {})}



def hook(action: str, src: Path, out: Path, paths: list[Path],
         env: Mapping[str, str] | None = None, log: IO[str] | None = None) -> int:
    """A PEP 517 hook through pyproject_hooks, in a fresh interpreter that sees the standard
    library and `paths` (their .pth files run, as in pip's build isolation), not this image's
    site-packages: `requires` writes the backend's extra requirements to `out`, `wheel` builds
    into it, with pip's config_settings (PIP_CONFIG_SETTINGS; a key given again, a list)."""
    from pyproject_hooks import BackendUnavailable, BuildBackendHookCaller

    system, say = build_system(src), log or sys.stderr
    if REPRODUCIBLE:
        env = {**(env or {}), **pinning.reproducible_env(src)}
    settings: dict[str, str | list[str]] = {}
    backend_path = [str(p) for p in system["backend-path"]] \
        if isinstance(system["backend-path"], list) else ["/"]
    if not all((src / p).resolve().is_relative_to(src.resolve()) for p in backend_path):
        print(f"bslim: {src}: backend-path {system['backend-path']!r} is not inside the source",
              file=say)
        return 1
    for key, _, value in (v.partition("=") for v in os.environ.get(
            "PIP_CONFIG_SETTINGS", "").split()):
        old = settings.get(key)
        settings[key] = value if old is None else [*([old] if isinstance(old, str) else old),
                                                   value]

    def run(cmd: Sequence[str], cwd: str | None = None,
            extra_environ: Mapping[str, str] | None = None) -> None:
        subprocess.run([sys.executable, "-I", "-S", __file__, *(
            a for p in paths for a in (HOOK_PATH, str(p))), "--", *cmd[1:]], cwd=cwd, check=True,
            stdout=log,
            env={**os.environ, **(env or {}), **(extra_environ or {})},
            stderr=subprocess.STDOUT if log else None)

    caller = BuildBackendHookCaller(str(src), system["build-backend"], backend_path, run)
    try:
        if action == "requires":
            out.write_text(json.dumps(caller.get_requires_for_build_wheel(settings or None)))
        else:
            out.mkdir(parents=True, exist_ok=True)
            name = caller.build_wheel(str(out), settings or None)
            if REPRODUCIBLE:
                pinning.normalize_wheel(out / name)
            print(f"bslim: built {name}", file=log or sys.stdout, flush=True)
    except BackendUnavailable as error:
        print(f"bslim: build backend {system['build-backend']} not importable: "
              f"{str(error).splitlines()[0]}", file=say, flush=True)
        return NO_BACKEND
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    return 0



def run_hook(args: list[str]) -> int:
    """The hook's interpreter (`python -I -S`): the standard library, each HOOK_PATH as a site
    directory and the target's markers; then pyproject_hooks' script (what follows `--`)."""
    import runpy
    import site

    parser = argparse.ArgumentParser(prog="wheel_build.py", epilog="the hook's script follows --")
    parser.add_argument(HOOK_PATH, action="append", default=[])
    at = args.index("--") if "--" in args else len(args)
    paths, script = parser.parse_args(args[:at]).path, args[at + 1:]
    sys.path[:] = [p for p in sys.path if p not in (str(LIB), str(Path(__file__).parent))]
    for mine in ("platforms", "pinning"):  # this file's; a backend's own are its own
        sys.modules.pop(mine, None)
    for path in paths:
        site.addsitedir(path)
    pretend_machine(MACHINES.get(TARGET or "", BUILD_MACHINE), BUILD_MACHINE)
    sys.argv = script
    runpy.run_path(script[0], run_name="__main__")
    return 0


def unpack(archive: Path, dest: Path) -> Path | None:
    """The sdist's top directory, unpacked under dest; None when it is no archive or a member
    would land outside dest (absolute, `..`, a link out, a device). Checked here: tarfile's
    filter="data" is missing from Debian bookworm's Python 3.11."""
    import posixpath
    import tarfile
    import zipfile

    def inside(name: str) -> bool:
        path = posixpath.normpath(name)
        return not path.startswith(("/", "../")) and path != ".." and (
            dest / path).resolve().is_relative_to(dest.resolve())

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                if safe := all(inside(n) for n in zipped.namelist()):
                    zipped.extractall(dest)  # noqa: S202 - every name checked
        else:
            with tarfile.open(archive) as tar:
                members = tar.getmembers()
                safe = all((m.isfile() or m.isdir() or m.issym() or m.islnk()) and inside(
                    m.name) and inside(posixpath.join(posixpath.dirname(m.name), m.linkname)
                                       if m.issym() else m.linkname or m.name)
                           for m in members)
                for member in members:
                    member.mode &= 0o755  # no setuid/setgid/sticky bits
                if safe:
                    tar.extractall(dest, members)  # noqa: S202 - every member checked
    except (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile):
        return None
    if not safe:
        print(f"bslim: {archive.name}: refused, a member would land outside the source "
              "directory", file=sys.stderr)
    tops = [p for p in dest.iterdir() if p.is_dir()] if safe else []
    return tops[0] if len(tops) == 1 else None


def build_project(env: Path, src: str) -> tuple[int, Path | None]:
    """The project's wheel, natively, by its backend with the requirements prepared in
    env/native: (0, the wheel); (0, None) when that cannot be done (pip does it then); else
    the build's failure."""
    import importlib.metadata

    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    from pip._vendor.packaging.utils import canonicalize_name

    native, asked, out = env / "native", env / "requires.json", env / "native-project"
    run_env = {"TARGETPLATFORM": NATIVE or ""}
    if not NATIVE or not native.is_dir() or hook("requires", Path(src), asked, [native],
                                                 run_env) != 0:
        return 0, None
    have = {canonicalize_name(d.metadata["Name"] or "")
            for d in importlib.metadata.distributions(path=[str(native)])}
    try:
        missing = {canonicalize_name(Requirement(r).name)
                   for r in json.loads(asked.read_text())} - have
    except InvalidRequirement:
        return 0, None
    if missing:
        print(f"bslim: the build backend also asks for {sorted(missing)}: pip builds the "
              "project", file=sys.stderr)
        return 0, None
    if (status := hook("wheel", Path(src), out, [native], run_env)) == NO_BACKEND:
        return 0, None
    wheels = sorted(out.glob("*.whl"))
    return status, wheels[0] if status == 0 and len(wheels) == 1 else None


def compile_listed(directory: Path, out: Path, options: list[str], cache: Path | None = None,
                   jobs: int | None = None, *, pip: Pip,
                   locked: Mapping[str, Any] | None = None, done: Collection[str] = ()) -> int:
    """On the target: build what the fetch listed, by its backend with the build requirements
    prepared (no pip: seconds to start under emulation), else with pip's isolation; a wheel
    compiled earlier from the same sdist (sha256) for this Python comes from `cache`. Builds
    run side by side, one per core (each compiler is one slow process under emulation), each
    log shown whole, in the listed order; the first failure is the status. `locked` (name ->
    pinning.Locked): every sdist is checked against the lock's sha256 first (the fetch
    downloaded it by that hash). `done`: listed but built already (cross-compiled, proven)."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    listing, todo = directory / COMPILE_LIST, []
    out.mkdir(parents=True, exist_ok=True)
    for requirement in listing.read_text().split() if listing.exists() else []:
        if requirement in done:
            continue
        digest = (directory / SDISTS / dist_key(requirement)).with_suffix(".sha256")
        entry = (locked or {}).get(dist_key(requirement)) if requirement[0] != "/" else None
        want = [h for h in entry.hashes if h.startswith("sha256:")] if entry else []
        have = f"sha256:{digest.read_text().strip()}" if digest.is_file() else "none"
        if want and have not in want:
            print(f"bslim: {requirement}: the sdist to compile has {have}, the lock says "
                  f"{' or '.join(want)}", file=sys.stderr)
            return 1
        kept = cache / f"{digest.read_text().strip()}-{sys.implementation.cache_tag}" \
            f"{'-reproducible' if REPRODUCIBLE else ''}" \
            if cache and requirement[0] != "/" and digest.is_file() else None
        if kept is not None and len(wheels := sorted(kept.glob("*.whl"))) == 1:
            shutil.copy2(wheels[0], out / wheels[0].name)
            print(f"bslim: {requirement}: compiled earlier for {TARGET} ({wheels[0].name}, "
                  "from the cache)", file=sys.stderr)
        else:
            todo.append((requirement, kept))
    if (jobs := min(len(todo), jobs or os.cpu_count() or 1)) <= 1:  # output as it comes
        return next((s for r, k in todo if (s := _build(directory, r, k, out, options, pip))), 0)

    def logged(item: tuple[str, Path | None]) -> tuple[int, str]:
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
            status = _build(directory, *item, out, options, pip, log)
            log.seek(0)
            return status, log.read()

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(logged, todo))
    sys.stderr.write("".join(text for _, text in results))
    return next((s for s, _ in results if s != 0), 0)


def _build(directory: Path, requirement: str, kept: Path | None, out: Path,
           options: list[str], pip: Pip, log: IO[str] | None = None) -> int:
    """One listed distribution, built in a directory of its own, its wheel moved into `out`
    and kept in the cache: by its backend when prepared, else (or when it cannot be imported
    from what was prepared) by pip with its build isolation."""
    key = dist_key(requirement)
    work, env = out / f".{key}.build", directory / BUILDENV / key
    tops = sorted(p for p in (directory / SOURCES / key).glob("*") if p.is_dir())
    src = Path(requirement) if requirement[0] == "/" else tops[0] if len(tops) == 1 else None
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    status, say, started = NO_BACKEND, log or sys.stderr, time.monotonic()
    try:
        if env.is_dir() and src is not None:
            print(f"bslim: compiling {requirement} for {TARGET}", file=say, flush=True)
            status = hook("wheel", src, work, [env], log=log)
        if status == NO_BACKEND:
            print(f"bslim: {requirement}: building with pip's build isolation", file=say,
                  flush=True)
            pinned = (directory / SDISTS / key).with_suffix(".lock.txt")
            what = ["--require-hashes", "--requirement", str(pinned)] if pinned.is_file() \
                else [requirement]  # the lock's hash, as the fetch downloaded it
            status = pip(["wheel", "--no-deps", "--wheel-dir", str(work), *options,
                          "--find-links", str(directory / SDISTS / key), *what], log)
        built = sorted(work.glob("*.whl"))
        for wheel in built:
            if REPRODUCIBLE:
                pinning.normalize_wheel(wheel)
            shutil.move(wheel, out / wheel.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if status == 0:
        print(f"bslim: {requirement}: compiled for {TARGET} in "
              f"{time.monotonic() - started:.1f} s", file=say, flush=True)
    if status == 0 and kept is not None and len(built) == 1:
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / built[0].name, kept / built[0].name)
    return status


if __name__ == "__main__":
    sys.exit(run_hook(sys.argv[1:]))
