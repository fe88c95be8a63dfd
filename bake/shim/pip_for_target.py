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
a pass and `install` run pip's command line in a process that `pretend`s to be the target.
Wheels that need no resolution (build requirements) come through pip's public options instead.
Every pip internal bslim relies on (1-3 checked with the pinned pip by bslim's
tests/unit/test_pip_for_target.py, 6 by test_cross_build.py; 4-6 used by every build):
 1. packaging (vendored in pip) taking PEP 508's platform_machine from platform.machine() and
    PEP 425's platform tag from sysconfig.get_platform(), when first asked, then cached
    (`pretend`, through wheel_build.pretend_machine).
 2. pip._vendor.packaging._manylinux._have_compatible_abi, replaced for armv7l and i686: it
    reads the ELF header of this interpreter (the build machine's). Builder and target share
    Debian, so the glibc found here is the target's (`pretend`).
 3. pip's own packaging, so that what fits the target here is what pip chose: tags
    (`target_tags`, `target_options`), utils (`classify`, `check`, `sort`; pinning.py's
    `locked_entries`, `write_pinned`), version (`write_pinned`), requirements (wheel_build.py's
    `build_project`); pip._vendor.tomli on Python 3.10 (wheel_build.build_system).
 4. pip's command line run in this process (`run_pip`, runpy), where `pretend` reaches it
    (pip documents only a subprocess); 5. pip's wheel cache layout (`sort`); 6. its
    `wheel` command's `build` and a requirement's link, wrapped (cross_build.from_index).
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
    from buildkit_slim.platforms import MACHINES, MANYLINUX_MACHINES, arg_pair, pair, platform_tags
    from buildkit_slim.resources import cross_build as cross
    from buildkit_slim.resources import origins, pinning
    from buildkit_slim.resources import wheel_build as build
except ImportError:  # (in bslim's tree, one up)
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    import cross_build as cross  # type: ignore[import-not-found,no-redef]
    import origins  # type: ignore[import-not-found,no-redef]
    import pinning  # type: ignore[import-not-found,no-redef]
    import wheel_build as build  # type: ignore[import-not-found,no-redef]
    from platforms import (  # type: ignore[import-not-found,no-redef]
        MACHINES,
        MANYLINUX_MACHINES,
        arg_pair,
        pair,
        platform_tags,
    )
    del sys.path[:2]
BUILD_MACHINE, NATIVE, TARGET, LIB = build.BUILD_MACHINE, build.NATIVE, build.TARGET, build.LIB
PIP_VERSION = "26.3"
PINS = (("pip", PIP_VERSION, "f3b60b20ffaadd4415ed7957212a38ac63fa4c5fa375bd0f4a797777940fad13"),
        ("pyproject_hooks", "1.3.3",
         "5fc53fdac9f7bd63fbcdc868fb5f90b4784d78a53a3d3388cd738b807441a20b"))
if LIB.is_dir() and str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))
COMPILE_LIST, REPORT, WHEELS = build.COMPILE_LIST, build.REPORT, build.WHEELS  # a pass's DIR
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
    """`machine`'s platform tags with this glibc (the target's), in packaging's order."""
    glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "glibc 0.0").split()[-1].split(".")
    return platform_tags(machine, (int(glibc[0]), int(glibc[1])))


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
    in DIR/cross.txt too, each one's build-platform wheel kept as the gate's reference."""
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

    supported, report, listed, crossed = target_tags(), [], [], []
    (directory / WHEELS).mkdir(parents=True, exist_ok=True)
    cache = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip") / "wheels"
    built_by_pip = {p.name for p in cache.rglob("*.whl")} if cache.is_dir() else set()
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
            if emulated:  # `how` it is compiled; its wheel built here, kept or dropped
                report[-1].update(cross.set_aside(directory, wheel, why := emulated(name, mine)))
                crossed += [] if why else [listed[-1]]
            else:
                wheel.unlink()
    (directory / COMPILE_LIST).write_text("".join(f"{line}\n" for line in listed))
    (directory / cross.CROSS_LIST).write_text("".join(f"{line}\n" for line in crossed))
    (directory / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def locked_file(template: str | None) -> Path | None:
    """A platform's locked requirements: the template's `{pair}` for TARGETPLATFORM's."""
    return Path(template.replace("{pair}", arg_pair(str(TARGET)))) if template else None


def locked_entries(template: str | None) -> dict[str, pinning.Locked]:
    return pinning.locked_entries(locked_file(template))


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
            locked: Mapping[str, pinning.Locked] | None = None) -> bool:
    """Natively, for one listed distribution: its source (the project, or its sdist from pip
    download, unpacked; its sha256 keys the compile cache) and its build requirements (static,
    then what the backend asks for: asked here, with them installed for the build machine into
    DIR/buildenv-native/<key>, which the cross build uses) installed for the target into
    DIR/buildenv/<key>, so that the emulated compile runs neither pip nor its build isolation.
    `locked`: the sdist is downloaded by the lock's hash (pinning.sdist_requirement)."""
    import hashlib

    key, src = build.dist_key(requirement), Path(requirement)
    env, sdists = directory / build.BUILDENV / key, directory / build.SDISTS / key
    if requirement[0] != "/":
        what = pinning.sdist_requirement(requirement, (locked or {}).get(key), sdists)
        if (len(found := list(sdists.glob("*"))) != 1 or what != [requirement]) and (_pip([
                "download", "--quiet", "--no-deps", "--no-binary", key, "--dest", str(sdists),
                *options, *what]) != 0 or len(found := list(sdists.iterdir())) != 1):
            return False  # (one there: cross.from_index kept the one pip resolved)
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
    elif what:
        if TARGET != NATIVE and ns.cross:  # each sdist's reference downloaded, not built
            cross.from_index(directory, lambda args, log: _pip(
                args, {"TARGETPLATFORM": NATIVE or ""}, log))
        status = run_pip(["wheel", "--wheel-dir", str(directory / WHEELS), *options, *what])
        shutil.rmtree(directory / cross.INDEX_WHEELS, ignore_errors=True)
        if status != 0:
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


def install(ns: argparse.Namespace, pip_args: list[str]) -> int:
    """Natively, for the target: pip install into this (the build platform's runtime) image,
    then copy what it wrote into `out`; what it deleted (an upgraded package) into `removed`.
    `--locked`: exactly the locked packages' wheels and the project's, each by its sha256,
    nothing resolved (pip --no-deps --require-hashes)."""
    sys.dont_write_bytecode = True  # no byte code of pip's own modules in `out`
    if ns.locked:
        pinned = pinning.pinned_install(Path(ns.wheels), locked_entries(ns.locked), ns.project,
                                        str(TARGET))
        if pinned is None:
            return 1
        pip_args = [*pip_args, *pinned]
    # Under the data path of this interpreter's preferred scheme (sysconfig's, which pip
    # follows on Python 3.10+): /usr/local on the python images, Debian's included.
    paths = sysconfig.get_paths(sysconfig.get_preferred_scheme("prefix"))
    return pinning.capture([Path(paths["data"])], Path(ns.out), Path(ns.removed), origins.recorded(
        lambda extra: run_pip(["install", *pip_args, *extra]), paths,
        ns.fetched and Path(ns.fetched) / arg_pair(str(TARGET)), ns.project,
        ns.cross_wheels and Path(ns.cross_wheels)))

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
        "pin": lambda ns, rest: pinning.write_pinned(
            Path(ns.wheels), locked_entries(ns.locked), ns.project, Path(ns.out)),
        "cross": lambda ns, rest: cross.build_all(Path(ns.dir), Path(ns.out), Path(ns.sysroot),
                                                  ns.cache and Path(ns.cache), ns.env),
        "check": lambda ns, rest: check(Path(ns.inherited)),
        "pip": lambda ns, rest: run_pip(rest)}
    return commands[ns.command](ns, rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
