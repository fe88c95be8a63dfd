"""The cross stages of a fast-wheels target (blueprint.CROSS_STAGES): what each role runs.

  target-root  the target's builder with apt-build (emulated for a foreign platform), asked
               once for what a cross build needs (wheel_gate.py facts); `compile` starts here.
  cross        on the build platform (the fetch stage's head, apt-build included): Debian's cross
               gcc for the target, installed only when the fetch listed something to
               cross-compile (a pure project never downloads it, nor caches or exports it),
               then the cross builds and the gate's static checks; `compile` proves each wheel
               on the target before anything uses it.
"""

from __future__ import annotations

from collections.abc import Callable

from buildkit_slim.platforms import cross_packages
from buildkit_slim.render.dockerfile import (
    CROSS_DIR,
    FETCHED,
    SHIM,
    SHIM_HOME,
    Stage,
    _args,
    _compile,
    _copy_inputs,
    _head,
    _inherit,
    _shim,
    compile_deps,
)
from buildkit_slim.render.instructions import Shell, _run, _shell
from buildkit_slim.render.shim import GATE_FILE, PLATFORMS_FILE
from buildkit_slim.resources.cross_build import CROSS_LIST, TARGET_DIR
from buildkit_slim.resources.pip_for_target import argv

SYSROOT = "/bslim/sysroot"  # where the cross stage mounts the target's root
CROSS_CACHE = "/root/.cache/bslim-cross"  # wheels cross-built earlier (see cross_build.py)
CROSSED = CROSS_DIR  # the cross stage's output: report.json, wheels/ (checked), logs/
ALL_ARGS = "ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT"


def target_root(stage: Stage) -> tuple[list[str], list[str]]:
    target = stage.target
    facts = ["python3", f"{SHIM_HOME}/{GATE_FILE}", "facts", TARGET_DIR, "--platform",
             Shell('"$TARGETPLATFORM"'), "--sysroot", SYSROOT]
    return [f"# {target.config.name}: the target's builder with apt-build, asked once (emulated "
            "for a foreign", "# platform) what a cross build for it needs: see "
            f"{target.shim_dir}/{GATE_FILE}."], [
        *_head(stage), *_run(_shim(stage, only=(GATE_FILE, PLATFORMS_FILE)), [
            f"{_shell(facts)} || echo 'bslim: the target interpreter did not say what a cross "
            "build needs: what has no wheel is compiled under emulation' >&2"])]


def install_toolchain(platforms: tuple[str, ...]) -> str:
    """Shell: Debian's cross gcc for $TARGETPLATFORM (apt's lists and packages in a cache
    mount, kept: this stage's filesystem reaches no image); if that fails, the cross build
    finds no compiler and every wheel is compiled under emulation, each saying why."""
    arms = " ".join(f"{platform}) set -- {' '.join(cross_packages(platform))} ;;"
                    for platform in platforms if cross_packages(platform))
    return (f'case "$TARGETPLATFORM" in {arms} *) set -- ;; esac; '
            'if [ "$#" -gt 0 ]; then rm -f /etc/apt/apt.conf.d/docker-clean; '
            '{ apt-get update -qq && apt-get install -qq -y --no-install-recommends "$@" '
            '>/dev/null; } || echo "bslim: could not install the cross compiler ($*); each '
            'wheel is compiled under emulation" >&2; fi')


def cross(stage: Stage) -> tuple[list[str], list[str]]:
    """The cross builds, on the build platform, of what the fetch listed for cross-compiling:
    the fetch's sources and build requirements, the target's root as the compiler's sysroot;
    nothing listed: neither apt nor Python starts."""
    target = stage.target
    config = target.config
    folder = f'"{FETCHED}/$TARGETOS-$TARGETARCH$TARGETVARIANT/deps"'
    env = [[name, f"{variable}={value}"] for name, values in config.cross.env
           for variable, value in values]
    command = ["python3", SHIM, *argv("cross", Shell(folder), CROSSED, sysroot=SYSROOT,
                                      cache=CROSS_CACHE, env=env)]
    mounts = [f"--mount=type=bind,from={stage.read('fetch')},source={FETCHED},target={FETCHED}",
              f"--mount=type=bind,from={stage.read('fetch')},source={SHIM_HOME},"
              f"target={SHIM_HOME}",
              f"--mount=type=bind,from={stage.read('target-root')},target={SYSROOT}",
              f"--mount=type=cache,id=bslim-cross-{target.cache_key}-${{TARGETOS}}-"
              f"${{TARGETARCH}}${{TARGETVARIANT}},target={CROSS_CACHE},sharing=locked",
              f"--mount=type=cache,id=bslim-cross-apt-{target.cache_key},"
              "target=/var/cache/apt,sharing=locked",
              f"--mount=type=cache,id=bslim-cross-apt-lists-{target.cache_key},"
              "target=/var/lib/apt/lists,sharing=locked"]
    return [f"# {config.name}: on the build platform, cross-compile what has no wheel for a "
            "foreign platform", "# (Debian's cross gcc, installed only then); each wheel is "
            "checked here, and proven on", "# the target before anything uses it."], [
        *_head(stage, per_target=False), ALL_ARGS,
        "# Debian's cross gcc, as the builder's release has it:", "# hadolint ignore=DL3008",
        *_run(mounts, [f"mkdir -p {CROSSED}",
                       f"if [ -s {folder}/{CROSS_LIST} ]; then "
                       f"{install_toolchain(target.platforms)}; {_shell(command)}; fi"])]


def compile_crossed(stage: Stage) -> tuple[list[str], list[str]]:
    """`compile`, reading the cross stage: from target-root, whose head it has already; each
    cross-built wheel is proven first, only what fails is compiled."""
    target = stage.target
    if "cross" not in stage.planned.reads:
        return compile_deps(stage)
    return [f"# {target.config.name}: each cross-built wheel is proven here (emulated for a "
            "foreign platform);", "# what has neither a wheel nor a proven one is compiled "
            "here, and nothing else."], [
        ALL_ARGS, *_args(target), *_inherit(stage), *_copy_inputs(target),
        *_compile(stage, "fetch", "deps", f"--mount=type=bind,from={stage.read('cross')},"
                  f"source={CROSSED},target={CROSSED}", cross_wheels=CROSSED)]


STAGES: dict[str, Callable[[Stage], tuple[list[str], list[str]]]] = {
    "target-root": target_root, "cross": cross,
    "compile": compile_crossed}
