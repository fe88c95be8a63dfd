"""Run pip natively as if on the target platform, then sort what it produced.

bslim copies this file into the fetch stage of the generated Dockerfile. That stage runs on the
build platform (no emulation), and this script makes pip resolve for TARGETPLATFORM: environment
markers (`platform_machine == "armv7l"`) and wheel tags (manylinux_2_x_armv7l) are the target's,
so pip downloads the target's wheels at native speed. Sdists pip builds here are built natively;
`sort` then keeps what fits the target (pure wheels, the target's binary wheels) and lists the
rest, which the emulated wheel stage compiles: only what has no wheel for the target.

Usage (DIR holds DIR/wheels, the list of what to compile, the report, and for each listed
distribution its unpacked source and natively prepared build requirements):
  pip_for_target.py pip ARGS...    pip with the target's markers and tags
  pip_for_target.py fetch DIR [--project NAME] [--inherited DIR] PIP-ARGS... -- PIP-OPTIONS
                   natively: say which inherited wheels do not fit, pip wheel into DIR/wheels,
                   keep what fits, list the rest, prepare its build (one process)
  pip_for_target.py fetch TEMPLATE --platforms P1,P2 [--index-for P URL]... [as above]
                   the same once per platform, into TEMPLATE with {pair} = linux-armv7...
  pip_for_target.py compile DIR OUT [--cache DIR] -- PIP-OPTIONS
                   on the target: build the listed distributions into OUT, without pip
  pip_for_target.py install OUT REMOVED -- PIP-ARGS
                   natively: pip install for the target, then copy what it wrote into OUT
                   (same paths) and list in REMOVED what it deleted from the image
The builder image and the target share Python X.Y and Debian (glibc), so only the machine differs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

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
# What a 64-bit kernel reports to a 32-bit process, and what that process really runs as: an
# arm64 machine running an arm/v7 container natively says aarch64 (armv8l under linux32).
THIRTY_TWO_BIT = {"x86_64": "i686", "aarch64": "armv7l", "armv8l": "armv7l"}


def pointer_bits() -> int:
    import struct

    return struct.calcsize("P") * 8


def running_as(machine: str) -> str:
    """The wheel machine this interpreter runs as, whatever the kernel calls itself."""
    machine = machine.lower()
    return THIRTY_TWO_BIT.get(machine, machine) if pointer_bits() == 32 else machine


BUILD_MACHINE = running_as(platform.machine())  # before pretend(): what this really runs as
# The pip this file drives, and is tested with (bslim's dev environment pins the same): the
# fetch stage installs exactly this wheel, by hash, into PINNED_PIP beside this file, and every
# run of this file puts it first on the path. pip's internals it hooks differ between releases.
PIP_VERSION = "26.3"
PIP_SHA256 = "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13"
PINNED_PIP = Path(__file__).with_name("pip")
if PINNED_PIP.is_dir() and str(PINNED_PIP) not in sys.path:
    sys.path.insert(0, str(PINNED_PIP))
# Machines PyPI publishes manylinux wheels for: pretending to be one must offer its tags.
MANYLINUX_MACHINES = ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x")
COMPILE_LIST = "compile.txt"
REPORT = "report.json"
WHEELS = "wheels"  # DIR/wheels: what the wheel stage takes


def pretend(target_platform: str, *, tags: bool = True) -> str:
    """Make this interpreter's markers (and, with `tags`, pip's wheel tags) those of
    `target_platform`. Without `tags`, pip is not imported: a build hook runs without it."""
    machine = MACHINES[target_platform]
    if machine != platform.machine():
        if running_as(platform.machine()) == machine:
            # On the target itself, the kernel only names it otherwise (arm/v7 on an arm64
            # runner): say so to every Python this starts too (pip's build isolation, a
            # backend's own subprocesses), or setuptools tags its wheel linux_armv8l.
            os.environ["_PYTHON_HOST_PLATFORM"] = f"linux-{machine}"
        platform.machine = lambda: machine  # markers: platform_machine
        sysconfig.get_platform = lambda: f"linux-{machine}"  # tags: linux_<machine>
        if not tags:
            return machine
        from pip._vendor.packaging import _manylinux, markers

        # packaging 25+ computes the marker environment once per process: not before this.
        cached = getattr(markers, "_cached_default_environment", None)
        if cached is not None:
            cached.cache_clear()

        # manylinux support is decided from the ELF header of this (native) interpreter;
        # the target image has the same Debian, so the same glibc: its answer is the target's.
        _manylinux._have_compatible_abi = lambda *args, **kwargs: True
        if machine in MANYLINUX_MACHINES and not any(
                t.startswith("manylinux") and t.endswith(f"_{machine}") for t in _platforms()):
            # Without them every binary wheel of the target would be skipped and its sdist
            # compiled under emulation: fail loudly instead.
            raise SystemExit(f"bslim: pip {_pip_version()} does not offer manylinux tags for "
                             f"{machine} when pretending to be {target_platform}")
    return machine


def _platforms() -> set[str]:
    from pip._vendor.packaging.tags import sys_tags

    return {tag.platform for tag in sys_tags()}


def _pip_version() -> str:
    """The version of the pip this process imports (the pinned one when it is there)."""
    try:
        import pip
    except ImportError:
        return "(none)"
    return str(pip.__version__)


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


def pair(target_platform: str) -> str:
    """linux/arm/v7 -> linux-armv7: ${TARGETOS}-${TARGETARCH}${TARGETVARIANT} in a Dockerfile."""
    os_name, arch, *variant = target_platform.split("/")
    return f"{os_name}-{arch}{''.join(variant)}"


def check(directory: Path) -> None:
    """Say which inherited wheels cannot serve the target (pip would skip them silently and
    build those distributions from source, under emulation for arm/v7). directory/<n>/ holds
    the n-th source's wheels: flat, and per platform in directory/<n>/linux-arm-v7/ (the
    layout of `bslim bake --export-wheels`)."""
    from pip._vendor.packaging.utils import parse_wheel_filename

    supported = target_tags()
    mine = [*directory.glob("*/*.whl"), *directory.glob(f"*/{TARGET.replace('/', '-')}/**/*.whl")]
    for wheel in sorted(mine):
        if classify(wheel.name, supported) == "compile":
            name, version, _, _ = parse_wheel_filename(wheel.name)
            print(f"bslim: inherited wheel {wheel.name} does not fit {TARGET} "
                  f"({sys.implementation.cache_tag}); {name} {version} will be built here",
                  file=sys.stderr)


def sort(directory: Path, project: str | None, project_path: str) -> None:
    """Keep in DIR/wheels what fits the target; list the rest in DIR/COMPILE_LIST."""
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

    supported = target_tags()
    report, compile_here = [], []
    (directory / WHEELS).mkdir(parents=True, exist_ok=True)
    for wheel in sorted((directory / WHEELS).glob("*.whl")):
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


BUILDENV = "buildenv"  # DIR/buildenv/<key>: build requirements, installed for the target
SDISTS = "sdists"  # DIR/sdists/<key>: the sdist pip would build
SOURCES = "src"  # DIR/src/<key>/<top>: that sdist, unpacked
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
LEGACY_REQUIRES = ["setuptools>=40.8.0"]  # PEP 517's default for an sdist without build-system
NO_BACKEND = 3  # exit status of `backend`: the build backend cannot be imported


def _key(requirement: str) -> str:
    from pip._vendor.packaging.utils import canonicalize_name

    return "src" if requirement.startswith("/") else str(
        canonicalize_name(requirement.split("==", 1)[0]))


def _self(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
          log: IO[str] | None = None) -> int:
    """This script in a fresh process (so with the target's tags when it runs pip); its output
    into `log` when given (builds running side by side), else where this process writes."""
    import subprocess

    return subprocess.call([sys.executable, __file__, *args], cwd=cwd,
                           env={**os.environ, **(env or {})}, stdout=log,
                           stderr=subprocess.STDOUT if log else None)


def _pip(args: list[str], env: dict[str, str] | None = None,
         log: IO[str] | None = None) -> int:
    return _self(["pip", *args], env, log=log)


def _build_system(pyproject_text: str) -> dict[str, object] | None:
    import importlib

    try:
        tomllib = importlib.import_module("tomllib")  # Python 3.11+
    except ImportError:
        try:
            tomllib = importlib.import_module("pip._vendor.tomli")  # 3.10: pip's own copy
        except ImportError:
            return None
    system = tomllib.loads(pyproject_text).get("build-system") if pyproject_text else None
    return dict(system) if isinstance(system, dict) else {}


def build_requires(pyproject_text: str) -> list[str] | None:
    """[build-system].requires (PEP 518; PEP 517's setuptools default without a table)."""
    system = _build_system(pyproject_text)
    if system is None:
        return None
    return [str(r) for r in system.get("requires", LEGACY_REQUIRES)]  # type: ignore[attr-defined]


def _unpack(archive: Path, dest: Path) -> Path | None:
    """The sdist's top-level directory, unpacked under dest; None when it is no archive or a
    member would land outside dest (absolute, `..`, a link pointing out, a device)."""
    import shutil
    import tarfile
    import zipfile

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    try:
        if not _extract(archive, dest):
            print(f"bslim: {archive.name}: refused, a member would land outside the source "
                  "directory", file=sys.stderr)
            return None
    except (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile):
        return None
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else None


def _inside(root: Path, name: str) -> bool:
    import posixpath

    path = posixpath.normpath(name)
    return not (path.startswith("/") or path == ".." or path.startswith("../")
                or not (root / path).resolve().is_relative_to(root.resolve()))


def _extract(archive: Path, dest: Path) -> bool:
    """Extract a .tar.gz/.tar.bz2/.zip sdist with no member outside dest (Python's own
    `filter="data"` is missing from the 3.10/3.11 of older images)."""
    import posixpath
    import tarfile
    import zipfile

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            if not all(_inside(dest, n) for n in zipped.namelist()):
                return False
            zipped.extractall(dest)  # noqa: S202 - every name checked above
        return True
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            if not _inside(dest, member.name) or not (member.isfile() or member.isdir()
                                                      or member.issym() or member.islnk()):
                return False
            if member.issym() and not _inside(
                    dest, posixpath.join(posixpath.dirname(member.name), member.linkname)):
                return False
            if member.islnk() and not _inside(dest, member.linkname):
                return False
            member.mode &= 0o755  # no setuid/setgid/sticky bits
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members, filter="data")
        else:
            tar.extractall(dest, members)  # noqa: S202 - every member checked above
    return True


def source_dir(directory: Path, requirement: str) -> Path | None:
    if requirement.startswith("/"):
        return Path(requirement)
    tops = sorted(p for p in (directory / SOURCES / _key(requirement)).glob("*") if p.is_dir())
    return tops[0] if len(tops) == 1 else None


def capture_sdists(into: Path) -> None:
    """Keep a copy of every sdist pip unpacks in this process, in into/<name>/ (pip's own
    download, so `prepare` needs no second one: `pip download` of an sdist prepares its
    metadata again, build isolation and all). Without the hook (another pip), `prepare` falls
    back to `pip download`."""
    import shutil

    from pip._vendor.packaging.utils import canonicalize_name, parse_sdist_filename

    try:
        from pip._internal.operations import prepare as pip_prepare

        original = pip_prepare.unpack_url
    except (ImportError, AttributeError):
        return

    def unpack_url(link: Any, *args: Any, **kwargs: Any) -> Any:
        file = original(link, *args, **kwargs)
        if file is not None and not link.is_wheel:
            try:
                name, _ = parse_sdist_filename(link.filename)
            except ValueError:  # not an sdist name: prepare downloads it, if it must
                return file
            dest = into / str(canonicalize_name(name))
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file.path, dest / link.filename)
        return file

    pip_prepare.unpack_url = unpack_url


def _captured(requirement: str, folder: Path) -> Path | None:
    from pip._vendor.packaging.utils import parse_sdist_filename

    version = requirement.split("==", 1)[1] if "==" in requirement else None
    for archive in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            found = str(parse_sdist_filename(archive.name)[1])
        except ValueError:  # not an sdist name
            continue
        if version is None or found == version:
            return archive
    return None


def _source(requirement: str, directory: Path, options: list[str]) -> Path | None:
    """The source tree pip would build for `requirement`: the project, or its sdist unpacked."""
    if requirement.startswith("/"):
        return Path(requirement)
    dest = directory / SDISTS / _key(requirement)
    archive = _captured(requirement, dest)
    if archive is None:
        if _pip(["download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest",
                 str(dest), *options, requirement]) != 0:
            return None
        archive = _captured(requirement, dest)
    if archive is None:
        return None
    import hashlib  # the compile stage's cache key for what it builds from this sdist

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (directory / SDISTS / f"{_key(requirement)}.sha256").write_text(digest)
    return _unpack(archive, directory / SOURCES / _key(requirement))


def _install(target: Path, requirements: list[str], options: list[str]) -> bool:
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    if not requirements:
        target.mkdir(parents=True)
        return True
    return _pip(["install", "--quiet", "--target", str(target), "--only-binary", ":all:",
                 *options, *requirements]) == 0


def prepare_one(requirement: str, directory: Path, options: list[str]) -> bool:
    """Natively: unpack what the target must compile and install its build requirements
    (static, then what the backend asks for) with the target's wheels into DIR/buildenv/<key>,
    so that the emulated stage runs neither pip nor its build isolation (seconds each there)."""
    src = _source(requirement, directory, options)
    if src is None:
        return False
    pyproject = src / "pyproject.toml"
    requires = build_requires(pyproject.read_text() if pyproject.is_file() else "")
    env_dir = directory / BUILDENV / _key(requirement)
    if requires is None or not _install(env_dir, requires, options):
        return False
    # The backend's own extra requirements (get_requires_for_build_wheel), asked natively.
    asked = env_dir.with_name(env_dir.name + ".requires.json")
    if hook("requires", src, asked, [env_dir]) != 0:
        return False
    extra = [r for r in json.loads(asked.read_text()) if r not in requires]
    asked.unlink()
    return not extra or _install(env_dir, [*requires, *extra], options)


def prepare(directory: Path, options: list[str]) -> None:
    listing = directory / COMPILE_LIST
    for requirement in listing.read_text().split() if listing.exists() else []:
        if not prepare_one(requirement, directory, options):
            import shutil

            shutil.rmtree(directory / BUILDENV / _key(requirement), ignore_errors=True)
            print(f"bslim: {requirement}: build requirements not prepared natively; pip's "
                  "build isolation will install them under emulation", file=sys.stderr)


def fetch(directory: Path, project: str | None, pip_args: list[str],
          options: list[str]) -> int:
    """Natively, for the target: pip wheel, sort, prepare, in one process."""
    from pip._internal.cli.main import main as pip_main

    capture_sdists(directory / SDISTS)
    if pip_args:
        status = int(pip_main(["wheel", "--wheel-dir", str(directory / WHEELS), *options,
                               *pip_args]) or 0)
        if status != 0:
            return status
    sort(directory, project, pip_args[-1] if project and pip_args else "/src")
    prepare(directory, options)
    return 0


NATIVE = next((p for p, m in MACHINES.items() if m == BUILD_MACHINE), None)
PROJECT_WHEEL = "native-project"  # under the project env: the project's wheel, built here


def project_env(env: Path, requires_file: str, platforms: list[str],
                options: list[str]) -> None:
    """The project's [build-system].requires, ahead of its code: installed natively into
    env/native (the project's wheel is then built without pip, its network or its isolation),
    and downloaded for each foreign platform into env/<pair> (for a project that has to be
    compiled there)."""
    import shutil

    if not Path(requires_file).read_text().split():  # requires = []: nothing to prepare
        (env / "native").mkdir(parents=True, exist_ok=True)
        return
    native = ["install", "--quiet", "--target", str(env / "native"), "--only-binary", ":all:",
              *options, "--requirement", requires_file]
    if _pip(native, {"TARGETPLATFORM": str(NATIVE)}) != 0:
        shutil.rmtree(env / "native", ignore_errors=True)
        print("bslim: the project's build requirements could not be installed natively: pip "
              "builds the project", file=sys.stderr)
    for target in platforms:
        if target != NATIVE and _pip(
                ["download", "--quiet", "--only-binary", ":all:", "--dest",
                 str(env / pair(target)), *options, "--requirement", requires_file],
                {"TARGETPLATFORM": target}) != 0:
            print(f"bslim: the project's build requirements have no wheels for {target}",
                  file=sys.stderr)


def _installed(env: Path) -> set[str]:
    import importlib.metadata

    from pip._vendor.packaging.utils import canonicalize_name

    return {str(canonicalize_name(d.metadata["Name"] or ""))
            for d in importlib.metadata.distributions(path=[str(env)])}


def build_project(env: Path, src: str) -> tuple[int, Path | None]:
    """The project's wheel, natively, by its backend with the prepared requirements: (0, the
    wheel); (0, None) when that cannot be done (pip does it then); else the build's failure."""
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
    from pip._vendor.packaging.utils import canonicalize_name

    native = env / "native"
    out = env / PROJECT_WHEEL
    if NATIVE is None or not native.is_dir():
        return 0, None
    run_env = {"TARGETPLATFORM": NATIVE}
    asked = env / "requires.json"
    if hook("requires", Path(src), asked, [native], run_env) != 0:
        return 0, None
    try:
        names = {str(canonicalize_name(Requirement(r).name)) for r in json.loads(asked.read_text())}
    except InvalidRequirement:
        return 0, None
    if not names <= _installed(native):
        print(f"bslim: the build backend also asks for {sorted(names - _installed(native))}: "
              "pip builds the project", file=sys.stderr)
        return 0, None
    status = hook("wheel", Path(src), out, [native], run_env)
    if status == NO_BACKEND:
        return 0, None
    wheels = sorted(out.glob("*.whl"))
    return (status, wheels[0] if status == 0 and len(wheels) == 1 else None)


def fetch_all(template: str, platforms: list[str], project: str | None, pip_args: list[str],
              options: list[str], extra_indexes: list[tuple[str, str]],
              inherited: list[str], env: str | None = None,
              requires_file: str | None = None) -> int:
    """Natively, once for the whole platform set: a pass per platform into the template's
    directory ("{pair}" replaced), each in a fresh process (the markers and tags are that
    platform's). Foreign platforms first, so that sdists built natively for them serve the
    build platform from pip's wheel cache; pure wheels built in one pass come from that cache
    in the next. The project's wheel is built once: natively without pip when its build
    requirements were prepared (`env`), else by pip in the first pass when it is pure.
    `requires_file`: prepare those (in the background, beside the passes); a failure there
    fails the fetch."""
    import threading

    worker, failed = None, []

    def prepare_project() -> None:
        try:
            project_env(Path(str(env)), str(requires_file), platforms, options)
        except BaseException as error:  # reaches the exit status below, not just a thread's log
            failed.append(error)
            raise

    if env and requires_file:
        worker = threading.Thread(target=prepare_project)
        worker.start()
    try:
        status = _passes(template, platforms, project, pip_args, options, extra_indexes,
                         inherited, env)
    finally:
        if worker is not None:
            worker.join()
    if failed:
        print(f"bslim: preparing the project's build requirements failed: {failed[0]!r}",
              file=sys.stderr)
        return status or 1
    return status


def _passes(template: str, platforms: list[str], project: str | None, pip_args: list[str],
            options: list[str], extra_indexes: list[tuple[str, str]], inherited: list[str],
            env: str | None) -> int:
    import shutil

    shared: Path | None = None  # the project's wheel, once built
    prepared = False  # built from prepared requirements: the passes need no index
    if project and env and "--no-deps" in pip_args:
        status, shared = build_project(Path(env), pip_args[-1])
        if status != 0:
            return status
        prepared = shared is not None
    for target in sorted(platforms, key=lambda p: MACHINES.get(p) == BUILD_MACHINE):
        directory = Path(template.replace("{pair}", pair(target)))
        extra = [a for p, url in extra_indexes if p == target for a in ("--extra-index-url", url)]
        if prepared and env:  # what compiling the project there needs, downloaded already
            extra = ["--no-index", "--find-links", str(Path(env) / pair(target))]
        named = [*(["--project", project] if project else []),
                 *(a for folder in inherited for a in ("--inherited", folder))]
        if shared is not None:
            (directory / WHEELS).mkdir(parents=True, exist_ok=True)
            shutil.copy2(shared, directory / WHEELS / shared.name)
            args = ["fetch", str(directory), *named, "--", *options, *extra]
        else:
            args = ["fetch", str(directory), *named, *pip_args, "--", *options, *extra]
        status = _self(args, {"TARGETPLATFORM": target})
        if status != 0:
            return status
        if project and "--no-deps" in pip_args and shared is None:
            report = json.loads((directory / REPORT).read_text())
            shared = next((directory / WHEELS / str(e["file"]) for e in report
                           if e["kind"] == "pure"), None)
    return 0


def backend_of(src: Path) -> tuple[str, list[str]]:
    """The source tree's build backend and backend-path (PEP 517/518)."""
    pyproject = src / "pyproject.toml"
    system = _build_system(pyproject.read_text() if pyproject.is_file() else "") or {}
    paths = system.get("backend-path", [])
    return (str(system.get("build-backend", LEGACY_BACKEND)),
            [str(p) for p in paths] if isinstance(paths, list) else [])


def hook(action: str, src: Path, out: Path, paths: list[Path],
         env: dict[str, str] | None = None, log: IO[str] | None = None) -> int:
    """Run a PEP 517 hook the way pip's build isolation does: in a fresh interpreter that sees
    the standard library and `paths` (their .pth files processed, so setuptools' distutils
    shim works), and nothing of the image's site-packages (a Debian setuptools there breaks a
    newer one: distutils from one, setuptools from the other)."""
    import subprocess

    spec, backend_path = backend_of(src)
    args = [sys.executable, "-I", "-S", __file__, "backend", action, str(src), str(out),
            "--backend", spec,
            *(a for p in backend_path for a in ("--backend-path", p)),
            *(a for p in paths for a in ("--path", str(p)))]
    return subprocess.call(args, env={**os.environ, **(env or {})}, stdout=log,
                           stderr=subprocess.STDOUT if log else None)


def backend(action: str, src: Path, out: Path, spec: str = LEGACY_BACKEND,
            backend_path: tuple[str, ...] = (), paths: tuple[str, ...] = ()) -> int:
    """A minimal PEP 517 frontend, in the hook's own process (see `hook`), run in src with
    `paths` as site directories: `requires` writes get_requires_for_build_wheel() to out,
    `wheel` builds into out."""
    import importlib
    import site

    for path in paths:
        site.addsitedir(path)
    sys.path[:0] = [str(src / p) for p in backend_path]
    os.chdir(src)
    module, _, attrs = spec.partition(":")
    try:
        hooks = importlib.import_module(module)
    except ImportError as error:
        print(f"bslim: build backend {spec} not importable: {error}", file=sys.stderr)
        return NO_BACKEND
    for attr in filter(None, attrs.split(".")):
        hooks = getattr(hooks, attr)
    if action == "requires":
        get = getattr(hooks, "get_requires_for_build_wheel", None)
        out.write_text(json.dumps(list(get()) if get else []))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    print(f"bslim: built {hooks.build_wheel(str(out))}")
    return 0


def _cached(directory: Path, requirement: str, cache: Path | None) -> Path | None:
    """Where wheels compiled from this very sdist, for this Python, are kept across builds
    (a cache mount: a dependency added elsewhere reruns the compile step, not the compile)."""
    digest = directory / SDISTS / f"{_key(requirement)}.sha256"
    if cache is None or requirement.startswith("/") or not digest.is_file():
        return None
    return cache / f"{digest.read_text().strip()}-{sys.implementation.cache_tag}"


def compile_listed(directory: Path, out: Path, options: list[str],
                   cache: Path | None = None, jobs: int | None = None) -> int:
    """On the target: build what the fetch stage listed, with the build requirements it
    prepared (no pip: it takes seconds to start under emulation), else with pip's isolation.
    A wheel compiled earlier from the same sdist for the same Python is taken from `cache`.
    Several builds run side by side, one per core (`jobs`): under emulation each compiler is
    one slow process, and the listed distributions do not need each other (each one's build
    requirements were prepared apart). Their logs are shown whole, in the listed order."""
    import shutil

    listing = directory / COMPILE_LIST
    out.mkdir(parents=True, exist_ok=True)
    todo: list[tuple[str, Path | None]] = []
    for requirement in listing.read_text().split() if listing.exists() else []:
        kept = _cached(directory, requirement, cache)
        if kept is not None and len(wheels := sorted(kept.glob("*.whl"))) == 1:
            shutil.copy2(wheels[0], out / wheels[0].name)
            print(f"bslim: {requirement}: compiled earlier for {TARGET} ({wheels[0].name}, "
                  "from the cache)", file=sys.stderr)
        else:
            todo.append((requirement, kept))
    jobs = min(len(todo), jobs or os.cpu_count() or 1)
    if jobs <= 1:  # one at a time, its output as it comes
        for requirement, kept in todo:
            status = _build_into(directory, requirement, out, options, kept)
            if status != 0:  # reported once: no second attempt through pip's isolation
                return status
        return 0
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    def build(item: tuple[str, Path | None]) -> tuple[int, str]:
        requirement, kept = item
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
            status = _build_into(directory, requirement, out, options, kept, log)
            log.seek(0)
            return status, log.read()

    statuses = []
    with ThreadPoolExecutor(jobs) as pool:
        for status, text in pool.map(build, todo):
            sys.stderr.write(text)
            sys.stderr.flush()
            statuses.append(status)
    return next((s for s in statuses if s != 0), 0)


def _build_into(directory: Path, requirement: str, out: Path, options: list[str],
                kept: Path | None, log: IO[str] | None = None) -> int:
    """One listed distribution, built in a directory of its own (builds may run side by side),
    its wheel then moved into `out` and kept in the cache."""
    import shutil

    work = out / f".{_key(requirement)}.build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        status = _compile_one(directory, requirement, work, options, log)
        built = sorted(work.glob("*.whl"))
        for wheel in built:
            shutil.move(str(wheel), out / wheel.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if status == 0 and kept is not None and len(built) == 1:
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / built[0].name, kept / built[0].name)
    return status


def _compile_one(directory: Path, requirement: str, out: Path, options: list[str],
                 log: IO[str] | None = None) -> int:
    env_dir = directory / BUILDENV / _key(requirement)
    src = source_dir(directory, requirement)
    say = log or sys.stderr
    if env_dir.is_dir() and src is not None:
        print(f"bslim: compiling {requirement} for {TARGET}", file=say, flush=True)
        status = hook("wheel", src, out, [env_dir], log=log)
        if status != NO_BACKEND:
            return status
    sdists = directory / SDISTS / _key(requirement)
    print(f"bslim: {requirement}: building with pip's build isolation", file=say, flush=True)
    return _pip(["wheel", "--no-deps", "--wheel-dir", str(out), *options,
                 "--find-links", str(sdists), requirement], log=log)


def _tree(roots: list[Path]) -> dict[str, tuple[int, int, int, int]]:
    """path -> (mode, size, mtime, inode) of everything under roots, symlinks not followed."""
    found: dict[str, tuple[int, int, int, int]] = {}
    for root in roots:
        for parent, dirs, files in os.walk(root):
            for name in dirs + files:
                st = (Path(parent) / name).lstat()
                found[f"{parent}/{name}"] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return found


def _roots() -> list[Path]:
    """Where pip installs (its scheme for this interpreter): the outermost existing ones."""
    from pip._internal.locations import get_scheme

    scheme = get_scheme("")
    paths = sorted({Path(p) for p in (scheme.purelib, scheme.platlib, scheme.scripts,
                                      scheme.data, scheme.headers)})
    roots: list[Path] = []
    for wanted in paths:
        path = wanted
        while not path.exists():
            path = path.parent
        if not any(path == r or r in path.parents for r in roots):
            roots = [r for r in roots if path not in r.parents] + [path]
    return roots


def install(out: Path, removed: Path, pip_args: list[str]) -> int:
    """Natively, for the target: pip install into this image (the runtime image of the build
    platform: same Python, same paths), then copy every file pip wrote into `out` under its
    own path, for the runtime stage to copy; list what pip deleted (an upgraded package of the
    base image) in `removed`. Byte code is compiled here, for the same Python."""
    from pip._internal.cli.main import main as pip_main

    sys.dont_write_bytecode = True  # pip's own modules: no byte code of them in `out`
    return capture(_roots(), out, removed, lambda: int(pip_main(["install", *pip_args]) or 0))


def capture(roots: list[Path], out: Path, removed: Path, action: Callable[[], int]) -> int:
    """Run `action`; copy what it created or changed under `roots` into `out` (same paths,
    modes and times; parents with the modes they have here), list what it deleted."""
    import shutil
    import stat

    before = _tree(roots)
    status = action()
    if status != 0:
        return status
    after = _tree(roots)
    out.mkdir(parents=True, exist_ok=True)
    for path, info in sorted(after.items()):
        if before.get(path) == info or (stat.S_ISDIR(info[0]) and path in before):
            continue
        copy = out / path.lstrip("/")
        for parent in reversed(Path(path).parents):
            mirror = out / str(parent).lstrip("/")
            if not mirror.exists():
                mirror.mkdir()
                shutil.copystat(parent, mirror)
        if stat.S_ISLNK(info[0]):
            copy.symlink_to(Path(path).readlink())
        elif stat.S_ISDIR(info[0]):
            copy.mkdir(exist_ok=True)
            shutil.copystat(path, copy)
        else:
            shutil.copy2(path, copy)
    gone = sorted(p for p in before if p not in after)
    removed.write_text("".join(f"{p}\n" for p in gone))
    return 0


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in args:
        return args, []
    at = args.index("--")
    return args[:at], args[at + 1:]


def _flags(head: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Pull `--project NAME`, `--platforms LIST`, `--inherited DIR` and `--index-for P URL`
    (repeatable) out of the arguments before `--`."""
    rest: list[str] = []
    flags: dict[str, list[str]] = {}
    items = iter(head)
    for item in items:
        if item in ("--project", "--platforms", "--inherited", "--project-env",
                    "--project-requires", "--cache", "--backend", "--backend-path", "--path"):
            flags.setdefault(item, []).append(next(items))
        elif item == "--index-for":
            flags.setdefault(item, []).append(f"{next(items)} {next(items)}")
        else:
            rest.append(item)
    return rest, flags


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "backend":  # a hook's process (see `hook`): no pip here, nor its tags
        head, flags = _flags(args)
        if len(head) == 3 and head[0] in ("requires", "wheel") and "--backend" in flags:
            pretend(TARGET, tags=False)
            return backend(head[0], Path(head[1]), Path(head[2]), flags["--backend"][0],
                           tuple(flags.get("--backend-path", [])),
                           tuple(flags.get("--path", [])))
        print(__doc__, file=sys.stderr)
        return 2
    if PINNED_PIP.is_dir() and _pip_version() != PIP_VERSION:
        print(f"bslim: {PINNED_PIP} holds pip {_pip_version()}, not {PIP_VERSION}",
              file=sys.stderr)
        return 2
    pretend(TARGET)
    if command == "pip":
        from pip._internal.cli.main import main as pip_main

        return int(pip_main(args) or 0)
    head, options = _split(args)
    head, flags = _flags(head)
    project = flags.get("--project", [None])[0]
    if command == "fetch" and head and "--platforms" in flags:
        indexes = [(p, url) for p, url in (i.split(" ", 1) for i in flags.get("--index-for", []))]
        return fetch_all(head[0], flags["--platforms"][0].split(","), project, head[1:],
                         options, indexes, flags.get("--inherited", []),
                         flags.get("--project-env", [None])[0],
                         flags.get("--project-requires", [None])[0])
    if command == "fetch" and head:
        for inherited in flags.get("--inherited", []):
            check(Path(inherited))
        return fetch(Path(head[0]), project, head[1:], options)
    if command == "compile" and len(head) == 2:
        cache = flags.get("--cache", [None])[0]
        return compile_listed(Path(head[0]), Path(head[1]), options,
                              Path(cache) if cache else None)
    if command == "install" and len(head) == 2:
        return install(Path(head[0]), Path(head[1]), options)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
