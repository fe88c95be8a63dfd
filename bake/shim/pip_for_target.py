"""bslim's fast-wheels helper: pip, run natively, resolving and installing for the target.

bslim writes it beside the generated Dockerfile (the named build context `bslim-shim`); the
stages run it (Python 3.10+) with the pip and pyproject_hooks of PINS, installed by hash into
LIB beside it. `fetch`, natively, once: a pass per target platform, in which pip resolves for
it and downloads its wheels; sdists are built natively, and what then does not fit the target
is listed, its source and build requirements prepared. `compile`, on the target: builds only
that, through its PEP 517 backend (wheel_build.py beside this file: the compile side, no pip).
`install`, natively: pip installs for the target. `check`: which inherited wheels do not fit.
Command lines: ARGS (bslim's renderer spells them from it).

pip cannot resolve (`pip wheel`) or install into this interpreter's scheme for another platform
through public options (--platform/--abi/--python-version/--implementation need --target or
--dry-run, and binary wheels only), and evaluates markers for the running interpreter only. So
a pass and `install` run pip's command line in a process that `pretend`s to be the target,
relying on (each checked with the pinned pip by bslim's tests/unit/test_pip_for_target.py):
 1. packaging (vendored in pip) taking PEP 508's platform_machine from platform.machine() and
    PEP 425's platform tag from sysconfig.get_platform(), when first asked (then cached).
 2. pip._vendor.packaging._manylinux._have_compatible_abi, replaced for armv7l and i686: it
    reads the ELF header of this interpreter (the build machine's). Builder and target share
    Debian, so the glibc found here is the target's.
 3. pip._vendor.packaging (tags, names, requirements; tomli on 3.10, in wheel_build.py too):
    pip's own copy, so that what fits the target here is what pip chose.
Wheels that need no resolution (build requirements) come through pip's public options instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

try:  # bslim's own modules; in a build, their copies beside this file
    from buildkit_slim.platforms import MACHINES, MANYLINUX_MACHINES, arg_pair, pair
    from buildkit_slim.resources import cross_build as cross
    from buildkit_slim.resources import pinning
    from buildkit_slim.resources import wheel_build as build
except ImportError:  # (in bslim's tree, one up)
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    import cross_build as cross  # type: ignore[import-not-found,no-redef]
    import pinning  # type: ignore[import-not-found,no-redef]
    import wheel_build as build  # type: ignore[import-not-found,no-redef]
    from platforms import (  # type: ignore[import-not-found,no-redef]
        MACHINES,
        MANYLINUX_MACHINES,
        arg_pair,
        pair,
    )
    del sys.path[:2]
BUILD_MACHINE, NATIVE, TARGET, LIB = build.BUILD_MACHINE, build.NATIVE, build.TARGET, build.LIB
PIP_VERSION = "26.3"
PINS = (("pip", PIP_VERSION, "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13"),
        ("pyproject_hooks", "1.3.3",
         "5fc53fdac9f7bd63fbcdc868fb5f90b4784d78a53a3d3388cd738b807441a20b"))
if LIB.is_dir() and str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))
# Machines packaging offers manylinux tags for (armv7l and i686 once pretend patched; riscv64
# too, though PyPI has none): what target_platforms spells, to match pip's tags.
MANYLINUX = ("x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64")
COMPILE_LIST, REPORT, WHEELS = build.COMPILE_LIST, "report.json", build.WHEELS  # a pass's DIR
REPRODUCIBLE = build.REPRODUCIBLE  # `bslim bake --reproducible` (wheel_build.py says what)

Declared = tuple[tuple[str, dict[str, Any]], ...]  # (name, argparse's add_argument keywords)
LIST: dict[str, Any] = {"action": "append", "default": []}
_PASS: Declared = (("--project", {}), ("--source", {}), ("--requirement", {}),
                   ("--no-deps", {"action": "store_true"}), ("--inherited", LIST),
                   ("--locked", {}), ("--cross", {"action": "store_true"}),
                   ("--emulate", LIST))
ARGS: dict[str, Declared] = {  # dir: a pass's output; template: the same with {pair}
    "fetch": (("template", {}), ("--platforms", {"required": True}),
              ("--index-for", {**LIST, "nargs": 2, "metavar": ("PLATFORM", "URL")}),
              ("--project-requires", {}), ("--project-env", {}), *_PASS),
    "pass": (("dir", {}), ("--wheel", {}), *_PASS),
    "compile": (("dir", {}), ("out", {}), ("--cache", {}), ("--locked", {}),
                ("--cross-wheels", {})),
    "cross": (("dir", {}), ("out", {}), ("--sysroot", {"required": True}), ("--cache", {}),
              ("--env", {**LIST, "nargs": 2, "metavar": ("DISTRIBUTION", "NAME=VALUE")})),
    "install": (("out", {}), ("removed", {}), ("--locked", {}), ("--wheels", {}),
                ("--project", {}), ("--fetched", {}), ("--cross-wheels", {})),
    "pin": (("wheels", {}), ("locked", {}), ("out", {}), ("--project", {})),
    "check": (("inherited", {}),),
    "pip": (),
}


def argv(command: str, *positional: str, **flags: object) -> list[str]:
    """`command`'s arguments as ARGS declares them (flags in its order; a list repeats one):
    the one way this file and bslim's renderer spell them. pip's options follow `--`."""
    out = [command, *positional]
    for name, _ in ARGS[command]:
        value = flags.pop(name[2:].replace("-", "_"), None) if name[0] == "-" else None
        for item in value if isinstance(value, list) else [] if value in (None, False) else [value]:
            out += [name, *([] if item is True else item if isinstance(item, list) else [item])]
    if flags or len(positional) != sum(n[0] != "-" for n, _ in ARGS[command]):
        raise TypeError(f"{command} takes no {sorted(flags)} / {len(positional)} positionals")
    return out


def parse(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """ARGS as argparse reads them; what follows `--` goes to pip as it is."""
    parser = argparse.ArgumentParser(prog="pip_for_target.py", epilog="pip's options follow --")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, declared in ARGS.items():
        sub = commands.add_parser(command)
        for name, options in declared:
            sub.add_argument(name, **options)
    at = args.index("--") if "--" in args else len(args)
    return parser.parse_args(args[:at]), args[at + 1:]


def pretend(target: str | None, *, tags: bool) -> None:
    """Give this process the markers of `target` (and, with `tags`, pip's wheel tags), before
    anything asks for them; the build machine's own platform changes nothing."""
    if target is not None and target not in MACHINES:
        raise SystemExit(f"bslim: no machine known for {target}")
    machine = MACHINES.get(target or "", BUILD_MACHINE)
    if build.pretend_machine(machine, BUILD_MACHINE) and tags:
        from pip._vendor.packaging import _manylinux

        if machine in ("armv7l", "i686"):
            _manylinux._have_compatible_abi = lambda *args: True
        if machine in MANYLINUX_MACHINES and not any("-manylinux" in t for t in target_tags()):
            raise SystemExit(f"bslim: this pip offers no manylinux tags for {machine}: every "
                             "binary wheel would be compiled under emulation")


def target_platforms(machine: str) -> list[str]:
    """`machine`'s platform tags with this glibc (the target's), in packaging's order: linux_,
    then PEP 600's manylinux_2_<n> down to 2_17 (2_5 on x86), each with its PEP 513/571/599 name."""
    glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "-").split()[-1].split(".")
    out = [f"linux_{machine}"]
    if machine in MANYLINUX and glibc[0] == "2" and len(glibc) > 1:
        for minor in range(int(glibc[1]), 4 if machine in ("x86_64", "i686") else 16, -1):
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(minor)
            out += [f"manylinux_2_{minor}_{machine}", *([f"{legacy}_{machine}"] * bool(legacy))]
    return out


def target_options(target: str | None) -> list[str]:
    """pip's public options for `target`'s binary wheels (none for the build machine's)."""
    from pip._vendor.packaging.tags import sys_tags

    if (machine := MACHINES.get(target or "", BUILD_MACHINE)) == BUILD_MACHINE:
        return []
    best = next(iter(sys_tags()))  # this interpreter's own: cp313-cp313-...
    return ["--only-binary", ":all:", "--implementation", best.interpreter[:2], "--abi",
            best.abi, "--python-version", "{}.{}".format(*sys.version_info[:2]),
            *(o for p in target_platforms(machine) for o in ("--platform", p))]


def target_tags() -> set[str]:  # pip's, pretending or not
    from pip._vendor.packaging.tags import sys_tags

    return {str(tag) for tag in sys_tags()}


def classify(filename: str, supported: set[str]) -> str:
    """'pure' (any platform), 'wheel' (a published binary wheel for the target), 'native'
    (built here from an sdist, the target being this machine) or 'compile' (on the target)."""
    from pip._vendor.packaging.utils import parse_wheel_filename

    tags = parse_wheel_filename(filename)[3]
    if not any(str(tag) in supported for tag in tags):
        return "compile"
    if all(tag.platform == "any" for tag in tags):
        return "pure"
    # PyPI takes only manylinux/musllinux binaries: a plain linux_<this machine> wheel was
    # built here. (piwheels serves linux_armv7l ones: not built on an x86-64 builder.)
    return "native" if all(t.platform == f"linux_{BUILD_MACHINE}" for t in tags) else "wheel"


def check(directory: Path) -> int:
    """Name the inherited wheels that cannot serve the target (pip would skip them and build
    from source, emulated). directory/<n>/ holds a source's wheels, flat and in <n>/<platform
    as linux-arm-v7>/ for each platform (as `bslim bake --export-wheels` writes them)."""
    from pip._vendor.packaging.utils import parse_wheel_filename

    supported, own = target_tags(), pair(str(TARGET))
    for wheel in sorted([*directory.glob("*/*.whl"), *directory.glob(f"*/{own}/**/*.whl")]):
        if classify(wheel.name, supported) == "compile":
            name, version, _, _ = parse_wheel_filename(wheel.name)
            print(f"bslim: inherited wheel {wheel.name} does not fit {TARGET} "
                  f"({sys.implementation.cache_tag}); {name} {version} will be built here",
                  file=sys.stderr)
    return 0  # not an error: what does not fit is built


def sort(directory: Path, project: str | None, source: str, hooked: str | None = None,
         emulated: Callable[[str, bool], str | None] | None = None) -> None:
    """Keep in DIR/wheels what fits the target; list the rest in DIR/COMPILE_LIST. `hooked`:
    the project's wheel, built by its backend here (in a fixed directory). Each entry of the
    report says whether the wheel was built from source (else downloaded as it is). With
    `emulated` (name, whether the project's -> why not cross-compiled), those to cross-compile
    in DIR/cross.txt too, the wheel built here of each kept as the gate's reference."""
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

    supported, report, listed, crossed = target_tags(), [], [], []
    (directory / WHEELS).mkdir(parents=True, exist_ok=True)
    built_by_pip = _pip_built()
    for wheel in sorted((directory / WHEELS).glob("*.whl")):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        kind = classify(wheel.name, supported)
        built = wheel.name in built_by_pip or wheel.name == hooked or kind in ("native", "compile")
        if REPRODUCIBLE and kind == "native" and wheel.name != hooked:
            kind = "compile"  # pip built it in a random directory: again, in a fixed one
        elif REPRODUCIBLE and built and kind != "compile":
            pinning.normalize_wheel(wheel)
        report.append({"name": name, "version": str(version), "kind": kind, "file": wheel.name,
                       "built": built})
        print(f"bslim: {name} {version}: {kind}")
        if kind == "compile":
            mine = project is not None and name == canonicalize_name(project)
            listed.append(source if mine else f"{name}=={version}")
            why = emulated(name, mine) if emulated else None
            if emulated:
                report[-1].update({"how": "emulated", "why": why} if why else {"how": "cross"})
            if emulated and not why:
                crossed.append(listed[-1])
                (directory / cross.REFERENCE).mkdir(exist_ok=True)
                wheel.rename(directory / cross.REFERENCE / wheel.name)
            else:
                wheel.unlink()
    (directory / COMPILE_LIST).write_text("".join(f"{line}\n" for line in listed))
    (directory / cross.CROSS_LIST).write_text("".join(f"{line}\n" for line in crossed))
    (directory / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def _pip_built() -> set[str]:
    """File names of the wheels in pip's wheel cache: what pip built from an sdist (what it
    downloads as a wheel never goes there)."""
    cache = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip") / "wheels"
    return {p.name for p in cache.rglob("*.whl")} if cache.is_dir() else set()


def locked_file(template: str | None) -> Path | None:
    """A platform's locked requirements: the template's `{pair}` for TARGETPLATFORM's."""
    return Path(template.replace("{pair}", arg_pair(str(TARGET)))) if template else None


def locked_entries(template: str | None) -> dict[str, Any]:  # name -> pinning.Locked
    from pip._vendor.packaging.utils import canonicalize_name

    path = locked_file(template)
    return pinning.read_locked(path, lambda n: str(canonicalize_name(n))) if path else {}


def _self(args: list[str], env: Mapping[str, str] | None = None,
          log: IO[str] | None = None) -> int:  # this file in a fresh process
    return subprocess.call([sys.executable, __file__, *args], env={**os.environ, **(env or {})},
                           stdout=log, stderr=subprocess.STDOUT if log else None)


def _pip(args: list[str], env: Mapping[str, str] | None = None,
         log: IO[str] | None = None) -> int:  # with TARGETPLATFORM's markers (env's, or ours)
    return _self([*argv("pip"), "--", *args], env, log)


def run_pip(args: list[str]) -> int:
    """pip's command line (`python -m pip`) in this process: after `pretend`, for the target."""
    import runpy

    sys.argv = ["pip", *args]
    try:
        runpy.run_module("pip", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    return 0


def _install(into: Path, requirements: list[str], options: list[str],
             target: str | None) -> bool:  # `target`'s wheels
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    return not requirements or _pip(["install", "--quiet", "--target", str(into),
                                     "--only-binary", ":all:", *target_options(target),
                                     *options, *requirements],
                                    {"TARGETPLATFORM": target or ""}) == 0


def prepare(directory: Path, requirement: str, options: list[str],
            locked: Mapping[str, Any] | None = None) -> bool:
    """Natively, for one listed distribution: its source (the project, or its sdist from pip
    download, unpacked; its sha256 keys the compile cache) and its build requirements (static,
    then what the backend asks for: asked here, with them installed for the build machine into
    DIR/buildenv-native/<key>, which the cross build uses) installed for the target into
    DIR/buildenv/<key>, so that the emulated compile runs neither pip nor its build isolation.
    `locked`: the sdist is downloaded by the lock's hash (pip --require-hashes)."""
    import hashlib

    key, src = build.dist_key(requirement), Path(requirement)
    env, sdists = directory / build.BUILDENV / key, directory / build.SDISTS / key
    if requirement[0] != "/":
        what = [requirement]
        if key in (locked or {}):
            pinned = sdists.with_suffix(".lock.txt")
            pinned.parent.mkdir(parents=True, exist_ok=True)
            pinned.write_text(f"{(locked or {})[key].line}\n")
            what = ["--require-hashes", "--requirement", str(pinned)]
        if _pip(["download", "--quiet", "--no-deps", "--no-binary", key, "--dest", str(sdists),
                 *options, *what]) != 0 or len(found := list(sdists.iterdir())) != 1:
            return False
        sdists.with_suffix(".sha256").write_text(hashlib.sha256(found[0].read_bytes()).hexdigest())
        if (unpacked := build.unpack(found[0], directory / build.SOURCES / key)) is None:
            return False
        src = unpacked
    requires, native = list(build.build_system(src)["requires"]), directory / build.NATIVE_ENV / key
    asked = native.with_name(f"{key}.requires.json")
    if not _install(native, requires, options, NATIVE) or build.hook(
            "requires", src, asked, [native]) != 0:
        return False
    extra = [r for r in json.loads(asked.read_text()) if r not in requires]
    asked.unlink()
    return (not extra or _install(native, [*requires, *extra], options, NATIVE)) and _install(
        env, [*requires, *extra], options, TARGET)


def one_pass(ns: argparse.Namespace, options: list[str]) -> int:
    """For TARGETPLATFORM, pretending: pip wheel (or copy the project's wheel, built already),
    sort, prepare what is listed."""
    directory, source = Path(ns.dir), ns.source
    for folder in ns.inherited:
        check(Path(folder))
    what = [*(["--requirement", ns.requirement] if ns.requirement else []),
            *(["--no-deps"] if ns.no_deps else []), *([source] if source else [])]
    locked = locked_entries(ns.locked)
    if ns.locked:  # exactly the lock's files, each checked by its hash; nothing resolved
        what = ["--no-deps", "--require-hashes", "--requirement",
                str(locked_file(ns.locked))] if locked else []
    if ns.wheel:
        (directory / WHEELS).mkdir(parents=True, exist_ok=True)
        shutil.copy2(ns.wheel, directory / WHEELS / Path(ns.wheel).name)
    elif what and (status := run_pip(["wheel", "--wheel-dir", str(directory / WHEELS),
                                      *options, *what])) != 0:
        return status
    sort(directory, ns.project, source or "/src", hooked=ns.wheel and Path(ns.wheel).name,
         emulated=None if TARGET == NATIVE else (
             lambda name, mine: cross.why_emulated(name, mine, enabled=ns.cross,
                                                   emulate=ns.emulate, target=TARGET,
                                                   with_project=bool(ns.project))))
    listed = (directory / COMPILE_LIST).read_text().split()
    with ThreadPoolExecutor(4) as pool:  # pip processes, mostly waiting on the index
        for requirement, ready in zip(listed, pool.map(
                lambda r: prepare(directory, r, options, locked), listed), strict=True):
            if not ready:
                for env in (build.BUILDENV, build.NATIVE_ENV):
                    shutil.rmtree(directory / env / build.dist_key(requirement), True)
                print(f"bslim: {requirement}: build requirements not prepared natively; pip's "
                      "build isolation will install them under emulation", file=sys.stderr)
    return 0


def project_env(env: Path, requires_file: str, platforms: list[str],
                options: list[str]) -> None:
    """The project's [build-system].requires, ahead of its code: installed natively into
    env/native (its wheel is then built without pip), each foreign platform's wheels
    downloaded into env/<pair> (for a project compiled there)."""
    (env / "native").mkdir(parents=True, exist_ok=True)
    requires = ["--requirement", requires_file] * bool(Path(requires_file).read_text().split())
    if requires and _pip(["install", "--quiet", "--target", str(env / "native"),
                          "--only-binary", ":all:", *options, *requires],
                         {"TARGETPLATFORM": NATIVE or ""}):
        shutil.rmtree(env / "native", ignore_errors=True)
        print("bslim: the project's build requirements could not be installed natively: pip "
              "builds the project", file=sys.stderr)
    for target in (p for p in platforms if p != NATIVE and requires):
        if _pip(["download", "--quiet", "--dest", str(env / arg_pair(target)),
                 *target_options(target), *options, *requires], {"TARGETPLATFORM": target}):
            print(f"bslim: the project's build requirements have no wheels for {target}",
                  file=sys.stderr)


def fetch(ns: argparse.Namespace, options: list[str]) -> int:
    """Natively, once for the platform set: a pass per platform into the template's directory
    ("{pair}" replaced), each a process of its own, foreign platforms first (sdists built for
    them serve the build platform from pip's wheel cache). The project's wheel is built once,
    by its backend from what `--project-env` prepared when it can, else by pip in the first
    pass when it is pure. `--project-requires`: prepared in the background, beside the
    passes; a failure there fails the fetch."""
    env, platforms = ns.project_env, ns.platforms.split(",")
    with ThreadPoolExecutor(1) as background:
        preparing = background.submit(project_env, Path(env), ns.project_requires, platforms,
                                      options) if env and ns.project_requires else None
        status, wheel = build.build_project(Path(env), ns.source) if ns.project and env and \
            ns.no_deps and ns.source else (0, None)
        prepared = wheel is not None  # from prepared requirements: the passes need no index
        for target in sorted(platforms, key=lambda p: p == NATIVE) if status == 0 else []:
            directory = Path(ns.template.replace("{pair}", arg_pair(target)))
            extra = [o for p, url in ns.index_for if p == target
                     for o in ("--extra-index-url", url)]
            if prepared:  # what compiling the project there needs: downloaded already
                extra = ["--no-index", "--find-links", str(Path(env) / arg_pair(target))]
            args = argv("pass", str(directory), wheel=wheel and str(wheel), project=ns.project,
                        source=ns.source, requirement=ns.requirement, no_deps=ns.no_deps,
                        inherited=ns.inherited, locked=ns.locked, cross=ns.cross,
                        emulate=ns.emulate)
            if status := _self([*args, "--", *options, *extra], {"TARGETPLATFORM": target}):
                break
            if ns.project and ns.no_deps and wheel is None:  # pure: one wheel for every pass
                wheel = next((directory / WHEELS / e["file"] for e in json.loads(
                    (directory / REPORT).read_text()) if e["kind"] == "pure"), None)
        failed = preparing.exception() if preparing else None
    if failed:
        print(f"bslim: preparing the project's build requirements failed: {failed!r}",
              file=sys.stderr)
    return status or int(failed is not None)


def capture(roots: list[Path], out: Path, removed: Path, action: Callable[[], int]) -> int:
    """Run `action`; copy what it created or changed under `roots` into `out` (same paths,
    modes and times; parents with the modes they have here), list what it deleted."""
    import stat

    def tree() -> dict[str, tuple[int, int, int, int]]:  # symlinks not followed
        return {f"{parent}/{name}": (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
                for root in roots for parent, dirs, files in os.walk(root)
                for name in dirs + files if (st := (Path(parent) / name).lstat())}

    before = tree()
    if (status := action()) != 0:
        return status
    after = tree()
    out.mkdir(parents=True, exist_ok=True)
    for path, info in sorted(after.items()):
        if before.get(path) == info or (stat.S_ISDIR(info[0]) and path in before):
            continue
        for parent in reversed(Path(path).parents):
            if not (mirror := out / str(parent).lstrip("/")).exists():
                mirror.mkdir()
                shutil.copystat(parent, mirror)
        copy = out / path.lstrip("/")
        if stat.S_ISLNK(info[0]):
            copy.symlink_to(Path(path).readlink())
        elif stat.S_ISDIR(info[0]):
            copy.mkdir(exist_ok=True)
            shutil.copystat(path, copy)
        else:
            shutil.copy2(path, copy)
    removed.write_text("".join(f"{p}\n" for p in sorted(set(before) - set(after))))
    return 0


def pinned(wheels: Path, template: str, project: str | None) -> tuple[str, list[str]]:
    """The locked packages' wheels and the project's, each pinned by its sha256 (pinning.pin)."""
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
    from pip._vendor.packaging.version import Version

    def parse_wheel(filename: str) -> tuple[str, str]:
        name, version, _, _ = parse_wheel_filename(filename)
        return str(name), str(version)

    return pinning.pin(wheels, locked_entries(template),
                       project and str(canonicalize_name(project)), parse_wheel,
                       lambda a, b: Version(a) == Version(b))


def pin(ns: argparse.Namespace, _: list[str]) -> int:
    """The plain strategy's wheel stage: what its runtime stage installs, pinned (`pinned`)."""
    text, problems = pinned(Path(ns.wheels), ns.locked, ns.project)
    for problem in problems:
        print(problem, file=sys.stderr)
    Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.out).write_text(text)
    return int(bool(problems))


def install(ns: argparse.Namespace, pip_args: list[str]) -> int:
    """Natively, for the target: pip install into this (the build platform's runtime) image,
    then copy what it wrote into `out`; what it deleted (an upgraded package) into `removed`.
    `--locked`: exactly the locked packages' wheels and the project's, each by its sha256,
    nothing resolved (pip --no-deps --require-hashes)."""
    import tempfile

    sys.dont_write_bytecode = True  # no byte code of pip's own modules in `out`
    if ns.locked:
        text, problems = pinned(Path(ns.wheels), ns.locked, ns.project)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        requirements = Path(tempfile.mkdtemp(prefix="bslim-")) / "pinned.txt"
        requirements.write_text(text)
        print(f"bslim: installing for {TARGET}, pinned:\n{text}", end="", file=sys.stderr)
        pip_args = [*pip_args, "--no-deps", "--require-hashes", "--requirement",
                    str(requirements)]
    # Under the data path of this interpreter's preferred scheme (sysconfig's, which pip
    # follows on Python 3.10+): /usr/local on the python images, Debian's included.
    paths = sysconfig.get_paths(sysconfig.get_preferred_scheme("prefix"))
    root, report = Path(paths["data"]), Path(tempfile.mkdtemp(prefix="bslim-")) / "report.json"

    def pip_then_record() -> int:
        status = run_pip(["install", *pip_args, "--report", str(report)])
        if status == 0 and ns.fetched:
            record_origins(json.loads(report.read_text()), {Path(paths["purelib"]),
                           Path(paths["platlib"])}, Path(ns.fetched) / arg_pair(str(TARGET)),
                           ns.project, ns.cross_wheels and Path(ns.cross_wheels))
        return status

    return capture([root], Path(ns.out), Path(ns.removed), pip_then_record)


ORIGIN_FILE = "bslim-origin.json"  # in each .dist-info bslim installed; buildkit_slim/sbom_scan.py


def origin_of(entry: dict[str, Any] | None, wheel: Path, *, project: bool, fetched: Path,
              cross_wheels: Path | None) -> tuple[str, str]:
    """(origin, how) of an installed wheel, from what the fetch decided for it (its report
    entry) and, for one compiled for a foreign target, whether it is the cross stage's."""
    import hashlib

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
            how = (f"cross-compiled on the build platform ({NATIVE}) for {TARGET}{source}, "
                   "then imported on the target")
        else:
            why = entry.get("why")
            how = f"compiled on {TARGET} (under emulation where foreign){source}" + \
                (f"; not cross-compiled: {why}" if why else "")
        return ("project" if project else "compiled"), how
    if built or kind == "native":
        return ("project" if project else "compiled"), \
            f"built on the build platform ({NATIVE}){source}"
    if project:
        return "project", "its wheel, as the build found it"
    return "downloaded", ("pure-Python" if kind == "pure" else "binary") + \
        " wheel downloaded from the package index"


def record_origins(report: dict[str, Any], libs: set[Path], fetched: Path,
                   project: str | None, cross_wheels: Path | None) -> None:
    """Into each .dist-info pip just wrote: ORIGIN_FILE (the wheel's file name, its sha256,
    where it came from), listed in RECORD. `report`: pip's installation report."""
    import base64
    import hashlib
    from email.parser import HeaderParser
    from urllib.parse import unquote, urlparse

    from pip._vendor.packaging.utils import canonicalize_name

    fetch: dict[tuple[str, str], dict[str, Any]] = {}
    for part in ("deps", "project"):
        if (fetched / part / REPORT).is_file():
            for entry in json.loads((fetched / part / REPORT).read_text()):
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
            "platform": str(TARGET)}, indent=2, sort_keys=True) + "\n").encode()
        (info / ORIGIN_FILE).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        with (info / "RECORD").open("a", encoding="utf-8") as record:
            record.write(f"{info.name}/{ORIGIN_FILE},sha256={digest},{len(data)}\n")


def main(args: list[str]) -> int:
    ns, rest = parse(args)
    import pip

    if LIB.is_dir() and pip.__version__ != PIP_VERSION:
        print(f"bslim: {LIB} holds pip {pip.__version__}, not {PIP_VERSION}", file=sys.stderr)
        return 2
    if ns.command in ("pass", "install", "pip"):
        pretend(TARGET, tags=ns.command != "pip")
    commands: dict[str, Callable[[argparse.Namespace, list[str]], int]] = {
        "fetch": fetch, "pass": one_pass, "install": install,
        "compile": lambda ns, rest: build.compile_listed(
            Path(ns.dir), Path(ns.out), rest, ns.cache and Path(ns.cache),
            pip=lambda args, log: _pip(args, log=log), locked=locked_entries(ns.locked),
            done=cross.prove(Path(ns.dir), Path(ns.cross_wheels), Path(ns.out))
            if ns.cross_wheels else ()),
        "pin": pin,
        "cross": lambda ns, rest: cross.build_all(Path(ns.dir), Path(ns.out), Path(ns.sysroot),
                                                  ns.cache and Path(ns.cache), ns.env),
        "check": lambda ns, rest: check(Path(ns.inherited)),
        "pip": lambda ns, rest: run_pip(rest)}
    return commands[ns.command](ns, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
