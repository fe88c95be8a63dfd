"""Prototype driver for issue #18, phase A: runs INSIDE the build (tests/cross/Dockerfile).

--toolchain gcc|zig: on the build platform, for each sdist the fetch stage listed for the
target: its build requirements installed for the BUILD machine (Cython as a native wheel),
a native build of the same sdist (the gate's reference), and the cross build; each timed;
then wheel_gate.py's static checks. --emulated: the shim's own compile (what bslim does today)
for each listed sdist, one at a time, timed the same way.

The recipe of a cross build (see `cross_env`): the target interpreter's facts come from
facts.json (wheel_gate.py facts, run once under emulation); its sysconfigdata module, rewritten,
is copied into the build interpreter's standard library (pip's build isolation ignores
PYTHONPATH) and named by _PYTHON_SYSCONFIGDATA_NAME; _PYTHON_HOST_PLATFORM gives the wheel's
platform; CC/CXX/AR/RANLIB are wrappers calling the toolchain by path; include and library
dirs of the target's root (apt-build installed there) go through CPPFLAGS/LDFLAGS, never
CFLAGS (which replaces the interpreter's own -O2 -DNDEBUG in some builds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, "/bslim/shim")
import pip_for_target as shim
import wheel_gate as gate

BIN = Path("/bslim/toolchain/bin")
ZIG = "/bslim/zig/ziglang/zig"
# What a package needs to know about the target beyond the compiler ({triplet}: MULTIARCH).
PER_PACKAGE_ENV = {"uvloop": {"LIBUV_CONFIGURE_HOST": "{triplet}"}}
ZIG_CPU = "-mcpu=generic+v7a+vfp3d16+thumb2"  # Debian armhf's baseline: ARMv7-A, VFPv3-D16


# Flags of the target's sysconfig (Debian's LDSHARED) that zig's linker refuses: dropped.
ZIG_DROP = ("-Wl,-Bsymbolic-functions",)


def _wrapper(name: str, command: str, drop: tuple[str, ...] = ()) -> None:
    BIN.mkdir(parents=True, exist_ok=True)
    path = BIN / name
    arms = "".join(f"{flag}) ;; " for flag in drop)
    filtering = (f'for a; do shift; case $a in {arms}*) set -- "$@" "$a" ;; esac; done\n'
                 if drop else "")
    path.write_text(f'#!/bin/sh\n{filtering}exec {command} "$@"\n')
    path.chmod(0o755)


def toolchain(kind: str, facts: dict[str, object], sysroot: str) -> dict[str, str]:
    """Wrappers named <triplet>-gcc etc. (autotools look for those), and the flags."""
    triplet = str(facts["multiarch"])
    if kind == "gcc":
        for tool, real in (("gcc", "gcc"), ("g++", "g++")):
            _wrapper(f"{triplet}-{tool}", f"/usr/bin/{triplet}-{real} --sysroot={sysroot}")
        for tool in ("ar", "ranlib", "strip"):
            _wrapper(f"{triplet}-{tool}", f"/usr/bin/{triplet}-{tool}")
        cppflags, ldflags = "", ""
    else:
        target = f"arm-linux-gnueabihf.{facts['glibc']}"
        _wrapper(f"{triplet}-gcc", f"{ZIG} cc -target {target} {ZIG_CPU}", ZIG_DROP)
        _wrapper(f"{triplet}-g++", f"{ZIG} c++ -target {target} {ZIG_CPU}", ZIG_DROP)
        for tool in ("ar", "ranlib"):
            _wrapper(f"{triplet}-{tool}", f"{ZIG} {tool}")
        _wrapper(f"{triplet}-strip", "true")
        # zig brings its own glibc (headers and stubs for the target's version): the target's
        # headers only after its own, for what apt-build installed (yaml.h).
        cppflags = (f"-idirafter {sysroot}/usr/include/{triplet} "
                    f"-idirafter {sysroot}/usr/include")
        ldflags = f"-L{sysroot}/usr/lib/{triplet}"
    # Debian's -dev symlinks are absolute across top-level dirs (libm.so -> /lib/<triplet>/
    # libm.so.6): make the target's multiarch library dir exist at its own path here.
    own = Path(f"/usr/lib/{triplet}")
    if not own.exists():
        own.symlink_to(f"{sysroot}/usr/lib/{triplet}")
    return {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "CC": f"{triplet}-gcc", "CXX": f"{triplet}-g++",
        "AR": f"{triplet}-ar", "RANLIB": f"{triplet}-ranlib", "STRIP": f"{triplet}-strip",
        "CPPFLAGS": cppflags, "LDFLAGS": ldflags,
        "ZIG_GLOBAL_CACHE_DIR": "/tmp/zig-cache", "ZIG_LOCAL_CACHE_DIR": "/tmp/zig-cache",
    }


def install_sysconfigdata(facts: dict[str, object], target_dir: Path) -> None:
    """The target's _sysconfigdata module where the build interpreter's stdlib finds it."""
    name = f"{facts['sysconfigdata']}.py"
    stdlib = Path(sysconfig.get_path("stdlib"))
    if (stdlib / name).exists():
        raise SystemExit(f"{stdlib / name} exists: the build interpreter has the target's ABI?")
    shutil.copyfile(target_dir / "sysconfig" / name, stdlib / name)


def cross_env(facts: dict[str, object], tools: dict[str, str], key: str) -> dict[str, str]:
    env = {
        **tools,
        "TARGETPLATFORM": str(facts["platform"]),
        "_PYTHON_HOST_PLATFORM": str(facts["platform_tag"]).replace("_", "-", 1),
        "_PYTHON_SYSCONFIGDATA_NAME": str(facts["sysconfigdata"]),
    }
    for name, value in PER_PACKAGE_ENV.get(key, {}).items():
        env[name] = value.format(triplet=facts["multiarch"])
    return env


def native_env(key: str, src: Path, build_platform: str, log: Path) -> Path:
    """The sdist's build requirements, installed for the build machine."""
    env_dir = Path("/bslim/native-env") / key
    pyproject = src / "pyproject.toml"
    requires = shim.build_requires(pyproject.read_text() if pyproject.is_file() else "") or []
    os.environ["TARGETPLATFORM"] = build_platform
    with log.open("a") as out:
        if not shim._install(env_dir, requires, []):
            raise SystemExit(f"{key}: build requirements not installed natively")
        asked = env_dir.with_name(f"{key}.requires.json")
        if shim.hook("requires", src, asked, [env_dir], {"TARGETPLATFORM": build_platform},
                     log=out) != 0:
            raise SystemExit(f"{log.read_text()[-3000:]}\n{key}: get_requires_for_build_wheel "
                             "failed")
    extra = [r for r in json.loads(asked.read_text()) if r not in requires]
    if extra and not shim._install(env_dir, [*requires, *extra], []):
        raise SystemExit(f"{key}: {extra} not installed natively")
    return env_dir


def timed_build(src: Path, out: Path, env_dir: Path, env: dict[str, str], log: Path) -> float:
    """One wheel from a fresh copy of the source (no build/ or generated C of another run)."""
    work = Path("/tmp/work") / out.name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src, work)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("a") as stream:
        status = shim.hook("wheel", work, out, [env_dir], env, log=stream)
    seconds = time.monotonic() - start
    shutil.rmtree(work, ignore_errors=True)
    if status != 0:
        print(log.read_text()[-4000:], file=sys.stderr)
        print(f"bslim-proto: build failed ({log.name})", file=sys.stderr)
        return -seconds
    return seconds


ONLY = [n for n in os.environ.get("ONLY", "").split(",") if n]  # a subset, by key


def listed(fetched: Path) -> list[tuple[str, str, Path]]:
    out = []
    for requirement in (fetched / shim.COMPILE_LIST).read_text().split():
        if ONLY and shim._key(requirement) not in ONLY:
            continue
        src = shim.source_dir(fetched, requirement)
        assert src is not None, requirement
        out.append((requirement, shim._key(requirement), src))
    return out


def cross_main(args: argparse.Namespace) -> None:
    facts = json.loads(Path(args.facts).read_text())
    target_dir = Path(args.facts).parent
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    build_platform = os.environ.get("BUILDPLATFORM", "linux/amd64")
    install_sysconfigdata(facts, target_dir)
    tools = toolchain(args.toolchain, facts, args.sysroot)
    times: dict[str, dict[str, float]] = {}
    # The toolchain's first use (zig builds its glibc stubs for the target once), apart.
    probe = Path("/tmp/probe.c")
    probe.write_text("#include <math.h>\nint main(void) { return (int)sqrt(4.0); }\n")
    start = time.monotonic()
    subprocess.run([tools["CC"], "-O2", str(probe), "-lm", "-o", "/tmp/probe"], check=True,
                   env={**os.environ, **tools})
    times["(toolchain first use)"] = {"cross": time.monotonic() - start}
    for requirement, key, mounted in listed(Path(args.fetched)):
        log = out / "logs" / f"{key}.log"
        src = Path("/tmp/src") / key / mounted.name  # the mount is read-only; egg_info writes
        shutil.copytree(mounted, src)
        start = time.monotonic()
        env_dir = native_env(key, src, build_platform, log)
        prepare = time.monotonic() - start
        native = timed_build(src, out / "native" / key, env_dir,
                             {"TARGETPLATFORM": build_platform}, log)
        cross = timed_build(src, out / "wheels" / key, env_dir,
                            cross_env(facts, tools, key), log)
        times[requirement] = {"prepare_native_env": prepare, "native": native, "cross": cross}
        print(f"bslim-proto: {requirement}: native env {prepare:.1f} s, native {native:.1f} s, "
              f"cross ({args.toolchain}) {cross:.1f} s", file=sys.stderr, flush=True)
    for kind in ("native", "wheels"):  # flat, as the gate takes them
        for wheel in sorted((out / kind).glob("*/*.whl")):
            wheel.rename(out / kind / wheel.name)
    wheels = sorted((out / "wheels").glob("*.whl"))
    start = time.monotonic()
    report = gate.check_all(wheels, facts, out / "native", out / "passed")
    times["(static gate)"] = {"cross": time.monotonic() - start}
    (out / "check.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out / "times.json").write_text(json.dumps(times, indent=2) + "\n")
    (out / "toolchain.txt").write_text(subprocess.run(
        [tools["CC"], "--version"], capture_output=True, text=True, check=False,
        env={**os.environ, **tools}).stdout)


def emulated_main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    fetched = Path(args.fetched)
    times: dict[str, dict[str, float]] = {}
    for requirement, key, _ in listed(fetched):
        # exactly today's compile (the shim's _compile_one: the prepared target build
        # requirements and the backend called directly, else pip's build isolation), in a
        # process of its own so that a slow one can be stopped at --cap seconds
        log = out / "logs" / f"{key}.log"
        (out / "wheels" / key).mkdir(parents=True)
        code = ("import sys; from pathlib import Path; sys.path.insert(0, '/bslim/shim'); "
                "import pip_for_target as s; sys.exit(s._compile_one(Path(sys.argv[1]), "
                "sys.argv[2], Path(sys.argv[3]), []))")
        start = time.monotonic()
        with log.open("w") as stream:
            child = subprocess.Popen(
                [sys.executable, "-c", code, str(fetched), requirement,
                 str(out / "wheels" / key)], stdout=stream, stderr=subprocess.STDOUT,
                start_new_session=True)
            try:
                status = child.wait(timeout=args.cap)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
                child.wait()
                status = None
        seconds = time.monotonic() - start
        if status is None:
            seconds = -seconds  # stopped: at least this long
            (out / "stopped.txt").open("a").write(f"{requirement} {args.cap}\n")
        elif status != 0:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise SystemExit(f"{requirement}: compile under emulation failed")
        times[requirement] = {"emulated": seconds}
        print(f"bslim-proto: {requirement}: emulated {seconds:.1f} s", file=sys.stderr,
              flush=True)
    for wheel in sorted((out / "wheels").glob("*/*.whl")):
        wheel.rename(out / "wheels" / wheel.name)
    (out / "times.json").write_text(json.dumps(times, indent=2) + "\n")


def finish_main(args: argparse.Namespace) -> None:
    """Under emulation, in the target's builder: the gate's import check of every wheel that
    passed the static checks, then today's compile for each listed sdist whose cross-built
    wheel did not pass (one line each says why); a wheel compiled here that still lacks an
    extension module of the build platform's is said too (apt-build is missing something)."""
    facts = json.loads(Path(args.facts).read_text())
    cross, out, fetched = Path(args.cross), Path(args.out), Path(args.fetched)
    (out / "wheels").mkdir(parents=True, exist_ok=True)
    passed = sorted((cross / "passed").glob("*.whl"))
    report = gate.import_all(passed, sorted((fetched / shim.WHEELS).glob("*.whl")), facts)
    (out / "import.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    good = {gate.wheel_name(Path(name))[0] for name, verdict in report.items() if verdict["ok"]}
    for wheel in passed:
        if gate.wheel_name(wheel)[0] in good:
            shutil.copy2(wheel, out / "wheels" / wheel.name)
    refs = gate.references(cross / "native")
    for requirement, key, _ in listed(fetched):
        name = key.replace("-", "_")
        if name in good:
            continue
        if not any(gate.wheel_name(w)[0] == name for w in (cross / "wheels").glob("*.whl")):
            print(f"bslim: {requirement}: no cross-built wheel; compiling it under emulation",
                  file=sys.stderr, flush=True)
        work = out / f".{key}"
        work.mkdir()
        if shim._compile_one(fetched, requirement, work, []) != 0:
            raise SystemExit(f"bslim: {requirement}: compile under emulation failed")
        for wheel in sorted(work.glob("*.whl")):
            reference = refs.get(name)
            missing = sorted(set(gate.extension_modules(reference)) - set(
                gate.extension_modules(wheel))) if reference else []
            if missing:
                print(f"bslim: {requirement}: compiled under emulation without "
                      f"{', '.join(missing)}, which the build platform's {reference.name} "
                      "has: the target's builder lacks what it needs (apt-build)",
                      file=sys.stderr, flush=True)
            wheel.rename(out / "wheels" / wheel.name)
        work.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--toolchain", choices=("gcc", "zig"))
    parser.add_argument("--emulated", action="store_true")
    parser.add_argument("--finish", action="store_true")
    parser.add_argument("--cross")
    parser.add_argument("--cap", type=float, default=None,
                        help="stop an emulated compile after this many seconds")
    parser.add_argument("--fetched", required=True)
    parser.add_argument("--facts")
    parser.add_argument("--sysroot", default="/bslim/sysroot")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.emulated:
        emulated_main(args)
    elif args.finish:
        finish_main(args)
    else:
        cross_main(args)


if __name__ == "__main__":
    main()
