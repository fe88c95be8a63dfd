"""bslim's cross compile, shipped beside the shim (pip_for_target.py) in the named context
bslim-shim; the standard library and the modules beside it.

`build_all` (the `cross` stage, on the build platform): each distribution the fetch listed for
cross-compiling (a pass's DIR/cross.txt) is built for the target by its PEP 517 backend
(wheel_build.hook) at native speed: its build requirements installed for the build machine
(DIR/buildenv-native), Debian's cross gcc for the target run with the target's own root as its
sysroot (the target's builder with apt-build, mounted from the `target-root` stage), and the
target interpreter's sysconfig data (its headers, EXT_SUFFIX, SOABI), which
`wheel_gate.py facts` wrote there. Each wheel then goes through the gate's static checks
against the build platform's wheel of the same version (DIR/reference: from the index, see
`from_index`, else built by the fetch; `Crossing.check` says when it is built here instead).
What passes is kept in OUT/wheels (and in a cache keyed by sdist, toolchain and the target's
ABI facts); every outcome is in OUT/report.json.

`prove` (the `compile` stage, on the target): each wheel that passed is imported there, every
extension module really loaded; what passes is used, the rest is compiled under emulation as
before, each with one line naming the distribution and the check it failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

try:  # bslim's own modules; in a build, their copies beside this file
    from buildkit_slim.platforms import gnu_type
    from buildkit_slim.resources import wheel_build as build
    from buildkit_slim.resources import wheel_gate as gate
except ImportError:  # in bslim's tree, one up
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    import wheel_build as build  # type: ignore[import-not-found,no-redef]
    import wheel_gate as gate  # type: ignore[import-not-found,no-redef]
    from platforms import gnu_type  # type: ignore[import-not-found,no-redef]
    del sys.path[:2]

CROSS_LIST, REFERENCE, REPORT = "cross.txt", "reference", "report.json"  # in DIR; REPORT: OUT
INDEX_WHEELS = ".index-wheels"  # in DIR, while its pass runs pip: `from_index`'s downloads
TARGET_DIR = "/bslim/target"  # in the target's root: what `wheel_gate.py facts` wrote
# What bslim knows a distribution's cross build needs ({host}: the target's GNU type);
# [tool.slim.cross] env adds to it and replaces what it names. libuv, bundled by uvloop, is
# configured for the build machine unless told the host (uvloop issue #104, PR #114).
KNOWN_ENV = {"uvloop": {"LIBUV_CONFIGURE_HOST": "{host}"}}
TOOLS = ("gcc", "g++", "cpp", "ar", "ranlib", "strip", "nm", "ld", "objcopy", "readelf")
SYSROOTED = ("gcc", "g++", "cpp")  # take --sysroot
LOG_TAIL = 25  # lines of a failed cross build's log the cross stage prints


def why_emulated(name: str, mine: bool, *, enabled: bool, emulate: Sequence[str],
                 target: str | None, with_project: bool = False) -> str | None:
    """Why `name`, listed for `target`, is compiled under emulation; None: cross-compiled.
    `with_project`: listed by the project's own pass (the cross stage takes the others')."""
    if not enabled:
        return "cross-compiling is off ([tool.slim.cross] enabled = false)"
    if mine:
        return "the project itself (cross-compiling covers its dependencies)"
    if with_project:
        return "resolved with the project's source (dynamic dependencies), built with it"
    if name in emulate:
        return "[tool.slim.cross] emulate lists it"
    if gnu_type(target or "") is None:
        return f"bslim knows no cross compiler for {target}"
    return None


def set_aside(directory: Path, wheel: Path, why: str | None) -> dict[str, str]:
    """A listed wheel the fetch built here for the target: with no reason to compile it under
    emulation (`why`), kept as the gate's reference for its cross build, else deleted. What
    the pass's report says of how it is compiled."""
    if why:
        wheel.unlink()
        return {"how": "emulated", "why": why}
    (directory / REFERENCE).mkdir(exist_ok=True)
    wheel.rename(directory / REFERENCE / wheel.name)
    return {"how": "cross"}


def from_index(directory: Path, download: Callable[[list[str], IO[str]], int]) -> None:
    """In a foreign pass, before it runs `pip wheel`: the wheel pip would build there from an
    sdist does not fit the target; it only lists the sdist and is the gate's reference for its
    cross build. So each sdist pip would build is given, instead, the build platform's binary
    wheel of the same version from the same index or find-links directory, when there is one:
    downloaded by `download` (pip's arguments, where its output goes; natively), not built (a
    second per sdist, where a build takes several). Each sdist is kept in DIR/sdists/<key>
    for `prepare`. What has no such wheel is built as before; a reference that disagrees with
    the cross-built wheel on its modules is built natively in the cross stage
    (`Crossing.check`). Uses pip's internals: its `wheel` command's `build`, and its
    requirement's `link`/`local_file_path` (its `wheel_builder.build` sets them so)."""
    from pip._internal.commands import wheel as command
    from pip._internal.models.link import Link
    from pip._internal.utils.urls import path_to_url

    build_wheels = command.build  # type: ignore[attr-defined]

    def reference(req: Any) -> Path | None:
        try:  # whatever goes wrong here, pip builds it as before
            return _reference(req)
        except Exception as error:
            print(f"bslim: {req.name}: no reference from the index ({error!r}): built here",
                  file=sys.stderr)
            return None

    def _reference(req: Any) -> Path | None:
        link = req.link
        if (req.editable or link is None or link.is_vcs or link.is_wheel or not req.name
                or link.is_existing_dir() or not req.local_file_path):
            return None
        version = str(req.get_dist().version)
        if link.scheme == "file":  # a find-links directory
            where = ["--no-index", "--find-links", str(Path(link.file_path).parent)]
        elif link.scheme in ("http", "https") and isinstance(link.comes_from, str) \
                and link.comes_from.rstrip("/").count("/") > 2:  # <index>/<project>/
            where = ["--index-url", link.comes_from.rstrip("/").rsplit("/", 1)[0] + "/"]
        else:  # a direct URL: no index to ask
            return None
        key = build.dist_key(f"{req.name}=={version}")
        out = directory / INDEX_WHEELS / key
        # --isolated: that index only (no PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS or pip.conf),
        # with the CA bundle the step was given
        cert = ["--cert", os.environ["PIP_CERT"]] if os.environ.get("PIP_CERT") else []
        with Path(os.devnull).open("w") as quiet:  # none there is no error, not a line
            if download(["download", "--isolated", "--quiet", "--no-deps", "--only-binary",
                         ":all:", *cert, "--dest", str(out), *where,
                         f"{req.name}=={version}"], quiet) != 0:
                return None
        found = sorted(out.glob("*.whl"))
        if len(found) != 1 or all(t.endswith("-any") for t in gate.wheel_name(found[0])[2]):
            return None  # a pure wheel (--no-binary chose the sdist): the build decides
        sdists = directory / build.SDISTS / key
        sdists.mkdir(parents=True, exist_ok=True)
        shutil.copy2(req.local_file_path, sdists / Path(req.local_file_path).name)
        return found[0]

    def build_or_download(requirements: Any, *args: Any, **kwargs: Any) -> Any:
        reqs = list(requirements)
        with ThreadPoolExecutor(4) as pool:  # pip processes, mostly waiting on the index
            found = dict(zip(map(id, reqs), pool.map(reference, reqs), strict=True))
        for req in reqs:
            if (wheel := found[id(req)]) is not None:
                print(f"bslim: {req.name}: the build platform's {wheel.name} from the index is "
                      "the reference for its cross build (not built here)", file=sys.stderr)
                req.link = Link(path_to_url(str(wheel)))
                req.local_file_path = req.link.file_path
        built, failed = build_wheels([r for r in reqs if found[id(r)] is None], *args, **kwargs)
        return [*(r for r in reqs if found[id(r)] is not None), *built], failed

    command.build = build_or_download  # type: ignore[attr-defined]


def _swap_includes(includes: Mapping[str, str]) -> str:
    """Shell: each `-I<dir>` argument naming a key of `includes` becomes `-I<its value>`."""
    arms = "".join(f" -I{host} | -I{host}/) a=-I{target} ;;"
                   for host, target in sorted(includes.items()))
    return (f'for a do shift; case $a in{arms} esac; set -- "$@" "$a"; done\n'
            if arms else "")


def toolchain(gnu: str, sysroot: Path, bin_dir: Path, includes: Mapping[str, str] | None = None,
              ) -> tuple[dict[str, str], str]:
    """Wrappers named <gnu>-gcc etc. (what autotools look for), first on PATH, calling Debian's
    cross tools by path, the compilers with --sysroot: the environment of a cross build and
    the toolchain's identity (its compiler's version line). `includes`: the build
    interpreter's header directories -> the target's, swapped in the compilers' `-I`
    arguments (a setup.py taking sysconfig.get_path("include"), as cymem's does, names the
    build platform's Python headers, whose pyconfig.h is another machine's: LONG_BIT)."""
    real = shutil.which(f"{gnu}-gcc")
    if real is None:
        raise gate.Rejected("toolchain", f"no {gnu}-gcc on the build platform")
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        if (found := shutil.which(f"{gnu}-{tool}")) is not None:
            wrapper = bin_dir / f"{gnu}-{tool}"
            flag = f" --sysroot={sysroot}" if tool in SYSROOTED else ""
            swap = _swap_includes(includes or {}) if tool in SYSROOTED else ""
            wrapper.write_text(f'#!/bin/sh\n{swap}exec {found}{flag} "$@"\n')
            wrapper.chmod(0o755)
    version = subprocess.run([real, "--version"], capture_output=True, text=True,
                             check=False).stdout.partition("\n")[0]
    pkgconfig = ":".join(f"{sysroot}{d}/pkgconfig" for d in (
        f"/usr/lib/{gnu}", "/usr/lib", "/usr/share", "/usr/local/lib"))
    return {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "CC": f"{gnu}-gcc", "CXX": f"{gnu}-g++", "AR": f"{gnu}-ar", "RANLIB": f"{gnu}-ranlib",
        # pkg-config (the build platform's, when apt-build brings it) reports the target's
        "PKG_CONFIG_SYSROOT_DIR": str(sysroot), "PKG_CONFIG_LIBDIR": pkgconfig,
    }, version


def link_multiarch(sysroot: Path, multiarch: str, root: Path = Path("/")) -> None:
    """Debian's -dev links are absolute across top-level directories (/usr/lib/<multiarch>/
    libm.so -> /lib/<multiarch>/libm.so.6): here, that directory is the sysroot's."""
    own = root / "usr" / "lib" / multiarch
    if multiarch and not own.exists() and not own.is_symlink():
        own.parent.mkdir(parents=True, exist_ok=True)
        own.symlink_to(sysroot / "usr" / "lib" / multiarch)


def package_env(name: str, given: Mapping[str, Mapping[str, str]], gnu: str) -> dict[str, str]:
    """A distribution's own cross environment: bslim's, then [tool.slim.cross] env's."""
    env = {**KNOWN_ENV.get(name, {}), **given.get(name, {})}
    return {k: v.replace("{host}", gnu) for k, v in sorted(env.items())}


def cache_entry(cache: Path, directory: Path, key: str, identity: object) -> Path | None:
    """Where a wheel cross-built from this sdist (its sha256, which prepare wrote) is kept, for
    this toolchain, the target's ABI facts and the distribution's environment."""
    digest = (directory / build.SDISTS / key).with_suffix(".sha256")
    if not digest.is_file():
        return None
    ident = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return cache / f"{digest.read_text().strip()}-{sys.implementation.cache_tag}-{ident}"


def build_one(directory: Path, requirement: str, work: Path, env: Mapping[str, str],
              paths: list[Path], log: Path) -> Path:
    """One cross build in `work`, from a copy of the prepared source: the wheel, or
    Rejected("build", what went wrong)."""
    key = build.dist_key(requirement)
    tops = sorted(p for p in (directory / build.SOURCES / key).glob("*") if p.is_dir())
    native = directory / build.NATIVE_ENV / key
    if len(tops) != 1 or not native.is_dir():
        raise gate.Rejected("build", "its source or native build requirements were not "
                            "prepared")
    src = work / "src" / tops[0].name
    shutil.copytree(tops[0], src, symlinks=True)  # the mount is read-only; builds write
    with log.open("w", encoding="utf-8", errors="replace") as stream:
        status = build.hook("wheel", src, work / "out", [native, *paths], env, log=stream)
    wheels = sorted((work / "out").glob("*.whl"))
    if status != 0 or len(wheels) != 1:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise gate.Rejected("build", f"exit status {status}" + (
            f": {tail[-1].strip()[:200]}" if tail else ""))
    return wheels[0]


@dataclass(frozen=True)
class Crossing:
    """What every cross build of one cross stage shares."""

    directory: Path  # the fetch pass's
    out: Path
    facts: dict[str, object]  # the target's, from `wheel_gate.py facts`
    sysconfig: Path  # the target's sysconfigdata module is in there
    tools: dict[str, str]  # the toolchain's environment (none: `missing` says why)
    missing: gate.Rejected | None
    identity: list[object]  # the toolchain's version line and the target's ABI facts
    env_of: dict[str, dict[str, str]]  # [tool.slim.cross] env
    references: dict[str, Path]  # the build platform's wheels, by distribution
    cache: Path | None
    work: Path

    def check(self, requirement: str, wheel: Path) -> dict[str, object]:
        """The gate's static checks, against the reference: the build platform's wheel from the
        index (`from_index`), else built by the fetch. One from the index that has a module
        the cross-built wheel lacks is not the last word (the index's wheel may have been
        built with more than this builder has): the sdist is then built natively, here, and
        that is the reference."""
        reference = self.references.get(gate.wheel_name(wheel)[0])
        try:
            return {**gate.check_wheel(wheel, self.facts, reference),
                    "reference": reference and reference.name}
        except gate.Rejected as error:
            if error.check != "modules" or reference is None or all(
                    t.endswith(f"-linux_{build.BUILD_MACHINE}")
                    for t in gate.wheel_name(reference)[2]):
                raise
            first = error
            print(f"bslim: {requirement}: {error} (from the index); building it natively to "
                  "compare", file=sys.stderr)
        key = build.dist_key(requirement)
        try:
            native = build_one(self.directory, requirement, self.work / f"{key}.native", {},
                               [], self.out / "logs" / f"{key}.native.log")
        except gate.Rejected:  # no native build to compare with: the index's wheel stands
            raise first from None
        return {**gate.check_wheel(wheel, self.facts, native), "reference": native.name}

    def one(self, requirement: str) -> tuple[str, dict[str, object]]:
        """Build (or take from the cache) and check one: its report entry."""
        name, _, version = requirement.partition("==")
        key, started = build.dist_key(requirement), time.monotonic()
        entry: dict[str, object] = {"name": name, "version": version}
        own = package_env(key, self.env_of, gnu_type(str(self.facts["platform"])) or "")
        try:
            if self.missing is not None:
                raise self.missing
            kept = cache_entry(self.cache, self.directory, key, [*self.identity, sorted(
                own.items())]) if self.cache else None
            wheels = sorted(kept.glob("*.whl")) if kept else []
            if len(wheels) != 1:
                env = {**self.tools, "TARGETPLATFORM": str(self.facts["platform"]),
                       "_PYTHON_HOST_PLATFORM": "linux-" + str(self.facts["machine"]),
                       "_PYTHON_SYSCONFIGDATA_NAME": str(self.facts["sysconfigdata"]), **own}
                wheels = [build_one(self.directory, requirement, self.work / key, env,
                                    [self.sysconfig], self.out / "logs" / f"{key}.log")]
            entry.update(self.check(requirement, wheels[0]))
            shutil.copy2(wheels[0], self.out / "wheels" / wheels[0].name)
            if kept is not None and wheels[0].parent != kept:
                kept.mkdir(parents=True, exist_ok=True)
                shutil.copy2(wheels[0], kept / wheels[0].name)
            entry.update(ok=True, wheel=wheels[0].name, cached=wheels[0].parent == kept)
        except gate.Rejected as error:
            entry.update(ok=False, check=error.check, detail=str(error))
        except Exception as error:  # a wheel the gate cannot even read: not used
            entry.update(ok=False, check="build", detail=f"{type(error).__name__}: {error}")
        entry["seconds"] = round(time.monotonic() - started, 1)
        return requirement, entry


def build_all(directory: Path, out: Path, sysroot: Path, cache: Path | None,
              given: Sequence[Sequence[str]], jobs: int | None = None) -> int:
    """The cross stage: every distribution DIR/cross.txt lists, side by side (one more than cores),
    each built, then checked (see the module's doc); always 0, OUT/report.json says what
    came of each (the compile stage proves or replaces them)."""
    listing = directory / CROSS_LIST
    listed = listing.read_text().split() if listing.is_file() else []
    target_dir = sysroot / TARGET_DIR.lstrip("/")
    if not (target_dir / "facts.json").is_file():  # the target-root stage said why
        report = {r: {"name": r.partition("==")[0], "version": r.partition("==")[2],
                      "ok": False, "check": "facts", "detail": "see the target-root stage's "
                      "log"}
                  for r in listed}
        out.mkdir(parents=True, exist_ok=True)
        (out / REPORT).write_text(json.dumps({"toolchain": "", "facts": {}, "built": report},
                                             indent=2, sort_keys=True) + "\n")
        return 0
    facts = json.loads((target_dir / "facts.json").read_text())
    gnu = gnu_type(str(facts["platform"])) or ""
    env_of: dict[str, dict[str, str]] = {}
    for name, assignment in given:
        variable, _, value = assignment.partition("=")
        env_of.setdefault(name, {})[variable] = value
    (out / "wheels").mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    abi = {k: facts.get(k) for k in ("platform", "python_full", "abi", "soabi", "ext_suffix",
                                     "glibc", "platform_tag")}
    # One fixed place per stage (beside OUT) for the builds: the paths a compiler records
    # (debug info) are the same in every build of the same sources, as in the compile stage.
    tmp = out.parent / f".{out.name}-work"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            target_include = str(target_dir / "include")
            host_includes = {sysconfig.get_path(name) for name in ("include", "platinclude")}
            tools, version, missing = *toolchain(gnu, sysroot, tmp / "bin", {
                host.rstrip("/"): target_include for host in host_includes if host}), None
            link_multiarch(sysroot, str(facts.get("multiarch") or gnu))
        except gate.Rejected as error:
            tools, version, missing = {}, "", error
        crossing = Crossing(
            directory=directory, out=out, facts=facts, sysconfig=target_dir / "sysconfig",
            tools=tools, missing=missing, identity=[version, abi], env_of=env_of,
            references={gate.wheel_name(w)[0]: w
                        for w in sorted((directory / REFERENCE).glob("*.whl"))},
            cache=cache, work=tmp)
        # one more build than cores: each has single-threaded and waiting phases (its backend
        # starting, Cython, archiving) that leave a core idle
        with ThreadPoolExecutor(max(1, min(len(listed), jobs or (os.cpu_count() or 1) + 1))) \
                as pool:
            report = dict(pool.map(crossing.one, listed))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for requirement, entry in report.items():
        if entry["ok"]:
            print(f"bslim: {requirement}: cross-compiled for {facts['platform']} in "
                  f"{entry['seconds']} s{' (from the cache)' if entry['cached'] else ''}; "
                  "proven on the target before use", file=sys.stderr)
        elif entry["check"] == "build":  # the log stays in this stage: its end, to see why
            log = out / "logs" / f"{build.dist_key(requirement)}.log"
            tail = [line.rstrip()[:300] for line in (log.read_text(errors="replace").splitlines()
                    if log.is_file() else []) if line.strip()][-LOG_TAIL:]
            print(f"bslim: {requirement}: its cross build failed" + (
                "; the end of its log:\n" + "\n".join(f"  {line}" for line in tail)
                if tail else ""), file=sys.stderr)
    (out / REPORT).write_text(json.dumps({"toolchain": version, "facts": abi,
                                          "built": report}, indent=2, sort_keys=True) + "\n")
    return 0


def prove(directory: Path, cross: Path, out: Path, jobs: int | None = None) -> set[str]:
    """On the target: import each cross-built wheel that passed the static checks (with the
    target's wheels the fetch kept, and the other cross-built ones, as its dependencies);
    those that pass are copied into `out`. Each listed distribution that does not get here
    gets one line. Returns the requirements proven."""
    listing = directory / CROSS_LIST
    listed = listing.read_text().split() if listing.is_file() else []
    done = json.loads((cross / REPORT).read_text()) if (cross / REPORT).is_file() else {}
    report: dict[str, dict[str, object]] = done.get("built", {})
    ready = {r: cross / "wheels" / str(e["wheel"]) for r, e in report.items() if e.get("ok")}
    others = [*sorted((directory / build.WHEELS).glob("*.whl")), *ready.values()]

    def one(requirement: str) -> gate.Rejected | None:
        entry = report.get(requirement)
        try:
            if entry is None:
                raise gate.Rejected("build", "the cross stage did not build it")
            if not entry.get("ok"):
                raise gate.Rejected(str(entry["check"]), str(entry["detail"]))
            gate.import_check(ready[requirement], [o for o in others
                                                   if o != ready[requirement]])
        except gate.Rejected as error:
            return error
        return None

    with ThreadPoolExecutor(max(1, min(len(listed), jobs or os.cpu_count() or 1))) as pool:
        outcomes = list(pool.map(one, listed))
    proven = set()
    out.mkdir(parents=True, exist_ok=True)
    for requirement, error in zip(listed, outcomes, strict=True):
        name, _, version = requirement.partition("==")
        if error is None:
            shutil.copy2(ready[requirement], out / ready[requirement].name)
            proven.add(requirement)
            print(f"bslim: {name} {version}: cross-compiled wheel proven on {build.TARGET} "
                  f"(imported {', '.join(gate.extension_modules(ready[requirement])) or 'it'})",
                  file=sys.stderr)
        else:
            print(gate.failed(name, version, error.check, str(error)), file=sys.stderr)
    return proven
