"""`bslim doctor`: can this machine build what the project asks for? Each check says how to fix."""

from __future__ import annotations

import platform as host_platform
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildkit_slim.blueprint import Blueprint
from buildkit_slim.errors import BslimError, EnvironmentProblem
from buildkit_slim.platforms import machine as machine_of
from buildkit_slim.platforms import native as native_of

BINFMT_IMAGE = "tonistiigi/binfmt:qemu-v8.1.5"
BINFMT_FIX = (f"docker run --privileged --rm {BINFMT_IMAGE} --install arm "
              "(then recreate docker-container builders)")
BINFMT_QEMU_ARM = Path("/proc/sys/fs/binfmt_misc/qemu-arm")
MIN_BUILDX = (0, 10)


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def binfmt_status(path: Path = BINFMT_QEMU_ARM) -> tuple[bool, str]:
    """(usable inside containers, description) from the kernel's binfmt_misc entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False, f"{path} not found"
    enabled = text.splitlines()[0].strip() == "enabled" if text else False
    flags = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                  if ln.startswith("flags:")), "")
    if not enabled:
        return False, f"{path} is disabled"
    if "F" not in flags:
        return False, f"qemu-arm registered without the F flag (flags: {flags or 'none'}): " \
                      "it cannot run inside containers"
    return True, f"qemu-arm enabled, flags {flags}"


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.lstrip("v").split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def buildkit_detail(reported: str | None, engine_version: str, driver: str) -> str:
    """What `doctor` says about the builder's BuildKit. Distribution builds of the engine
    (Debian's docker.io 26.1 and 28.5 both) report v0.0.0+unknown: say so, with the engine's
    version, which is then the best name for what its built-in BuildKit can do."""
    if reported and not reported.lstrip("v").startswith("0.0.0"):
        return f"BuildKit {reported}"
    why = f"reports {reported}" if reported else "reports no version"
    if driver == "docker":
        return (f"the engine's built-in BuildKit {why} (a distribution's build, e.g. Debian's "
                f"docker.io); Docker Engine {engine_version}")
    return f"builder {why}"


def arm_emulation(foreign: Sequence[str], builder_platforms: Sequence[str],
                  binfmt: Callable[[], tuple[bool, str]]) -> Check:
    """Newer BuildKit (Docker 28's) lists linux/arm/v7 once QEMU is registered; Docker 26's
    does not although arm/v7 builds work, so the kernel's binfmt entry decides there."""
    arm = [p for p in foreign if p.startswith("linux/arm/")]
    usable, text = binfmt()
    listed = [p for p in arm if p in builder_platforms]
    if listed == arm:
        return Check(name="arm emulation", status="ok",
                     detail=f"the builder lists {', '.join(arm)}; {text}")
    return Check(name="arm emulation", status="ok" if usable else "warn",
                 detail=text, fix="" if usable else BINFMT_FIX)


def run_checks(
    blueprint: Blueprint | None,
    *,
    builder: str | None,
    which: Callable[[str], str | None] = shutil.which,
    binfmt: Callable[[], tuple[bool, str]] = binfmt_status,
    probe_bases: bool = True,
) -> list[Check]:
    """Every check in order; an unreachable daemon raises EnvironmentProblem (exit 3)."""
    from buildkit_slim import docker

    checks: list[Check] = []
    cli = which("docker")
    if cli is None:
        raise EnvironmentProblem("docker CLI not found on PATH",
                                 hint="install Docker: https://docs.docker.com/engine/install/")
    checks.append(Check(name="docker CLI", status="ok", detail=cli))
    engine = docker.engine_facts()  # raises EnvironmentProblem when the daemon is down
    checks.append(Check(name="daemon", status="ok",
                        detail=f"Docker Engine {engine.server_version} ({engine.os_arch})"))
    version = docker.buildx_version()
    if version is None:
        raise EnvironmentProblem("docker buildx is not installed",
                                 hint="install the buildx plugin (Debian: docker-buildx)")
    old = _version_tuple(version) < MIN_BUILDX
    checks.append(Check(name="buildx", status="warn" if old else "ok", detail=version,
                        fix="upgrade buildx to 0.10 or newer" if old else ""))
    facts = docker.builder_facts(builder)
    checks.append(Check(name="BuildKit", status="ok",
                        detail=buildkit_detail(facts.buildkit, engine.server_version,
                                               facts.driver)))
    if facts.driver == "docker-container" or (facts.driver == "docker" and engine.containerd_store):
        checks.append(Check(name="builder", status="ok",
                            detail=f"{facts.name} (driver {facts.driver}"
                            + (", containerd image store" if facts.driver == "docker" else "")
                            + "): multi-platform builds and cache export work"))
    else:
        checks.append(Check(
            name="builder", status="fail",
            detail=f"{facts.name} (driver {facts.driver}, classic image store) cannot build "
                   "several platforms at once or export cache",
            fix="enable the containerd image store (daemon.json: "
                "{\"features\": {\"containerd-snapshotter\": true}}) or "
                "`docker buildx create --use --driver docker-container`"))
    platforms = sorted({p for t in (blueprint.targets if blueprint else ()) for p in t.platforms})
    native = native_of(host_platform.machine()) or ""
    foreign = [p for p in platforms if p not in (native, "linux/386")]
    if any(p.startswith("linux/arm/") for p in foreign):
        checks.append(arm_emulation(foreign, facts.platforms, binfmt))
    if blueprint is not None and probe_bases:
        checks.extend(_probe_bases(blueprint, builder))
    return checks


def _probe_bases(blueprint: Blueprint, builder: str | None) -> list[Check]:
    from buildkit_slim import docker

    checks = []
    seen: set[tuple[str, str]] = set()
    for target in blueprint.targets:
        if target.wheels_stage is None:
            continue
        for image in (target.config.builder_base, target.config.runtime_base):
            for platform in target.platforms:
                if (image, platform) in seen:
                    continue
                seen.add((image, platform))
                name = f"base {image} {platform}"
                try:
                    machine = docker.probe_platform(image, platform, builder)
                except BslimError as exc:
                    checks.append(Check(name=name, status="fail", detail=exc.message,
                                        fix="check the image name, your registry login, and "
                                            "emulation for this platform"))
                    continue
                expected = machine_of(platform)
                good = expected is None or machine == expected
                checks.append(Check(
                    name=name, status="ok" if good else "fail",
                    detail=f"runs, platform.machine() = {machine}",
                    fix="" if good else f"expected {expected}: emulation is not working; "
                                        + BINFMT_FIX))
    return checks


def format_checks(checks: Sequence[Check]) -> list[str]:
    width = max((len(c.name) for c in checks), default=0)
    lines = []
    for check in checks:
        lines.append(f"{check.status:<4} {check.name:<{width}}  {check.detail}")
        if check.fix:
            lines.append(f"     {'':<{width}}  fix: {check.fix}")
    return lines
