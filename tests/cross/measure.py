"""Issue #18 phase A: cross-compiling arm/v7 wheels against compiling them under emulation,
per package, in ONE invocation on the local engine:

    .venv/bin/python -m tests.cross.measure [--py 3.11]
        [--toolchains gcc,zig] [--no-emulated] [--no-fallback-demo] [--out DIR]

Builds tests/cross/Dockerfile for linux/arm/v7: the prerequisites first (fetch, the target's
root and facts, each toolchain; cached), then, each with its timed stage forced to run again:
today's compile under emulation, the cross stage with each toolchain (build requirements for
the build machine, a native build of each sdist as the gate's reference, the cross build, the
static gate), the gate's import + use of each C path under emulation, and the silent-fallback
demonstration (the target's root without libyaml-dev). Per-package seconds are measured
inside the build (the build step alone, no buildx overhead); the stage wall times come from
buildx's log. Ratios: cross / emulated (the baseline), in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ROOT / "tests" / "cross"
CA = "/etc/ssl/certs/ca-certificates.crt"


def build(target: str, out: Path, *, args: dict[str, str], fresh: str | None,
          log: Path) -> float:
    """One buildx build of `target` for arm/v7, its result in `out`; wall seconds."""
    shutil.rmtree(out, ignore_errors=True)
    command = ["docker", "buildx", "build", "--progress", "plain", "--platform", "linux/arm/v7",
               "--build-context", f"bslim-shim={ROOT / 'buildkit_slim' / 'resources'}",
               "-f", str(CONTEXT / "Dockerfile"), "--target", target,
               "--output", f"type=local,dest={out}"]
    if Path(CA).exists():
        command += ["--secret", f"id=ca,src={CA}"]
    for key, value in sorted(args.items()):
        command += ["--build-arg", f"{key}={value}"]
    if fresh:
        command += ["--no-cache-filter", fresh]
    start = time.monotonic()
    with log.open("w") as stream:
        status = subprocess.call([*command, str(CONTEXT)], stdout=stream,
                                 stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if status != 0:
        print(log.read_text()[-6000:], file=sys.stderr)
        raise SystemExit(f"measure: building {target} failed ({log})")
    print(f"measure: {target} {args} {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def step_seconds(log: Path, stage: str) -> float | None:
    """How long buildx says the stage's last RUN took (`#N [stage k/k] RUN` ... `#N DONE s`)."""
    text = log.read_text()
    steps = re.findall(rf"^#(\d+) \[{re.escape(stage)} (\d+)/(\d+)\] RUN", text, re.MULTILINE)
    last = [n for n, k, total in steps if k == total]
    if not last:
        return None
    done = re.findall(rf"^#{last[-1]} DONE ([0-9.]+)s", text, re.MULTILINE)
    return float(done[-1]) if done else None


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or value <= 0 or base <= 0:
        return "—"
    return f"{value / base:.2f}x"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value >= 0 else f"FAILED after {-value:.1f}"


def render(options: argparse.Namespace, toolchains: list[str], state: dict[str, Any]) -> str:
    emulated: dict[str, dict[str, float]] = state.get("emulated", {})
    cross: dict[str, dict[str, dict[str, float]]] = state.get("cross", {})
    lines = [f"# cross vs emulated, linux/arm/v7, python:{options.py} (builder stand-in), "
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores", "",
             "Seconds measured inside the build, per package, one at a time; ratio = cross / "
             "emulated (the baseline, today's compile). native: the same sdist built for the "
             "build machine (the gate's reference); native env: its build requirements "
             "installed for the build machine.", ""]
    head = ["package", "emulated s"]
    for tool in toolchains:
        head += [f"cross {tool} s", f"{tool} / emulated"]
    head += ["native s", "native env s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    packages = sorted({p for t in cross.values() for p in t} | set(emulated))
    for package in packages:
        base = emulated.get(package, {}).get("emulated")
        stopped = base is not None and base < 0
        row = [package, (f"> {-base:.0f} (stopped)" if stopped and base is not None
                         else seconds(base))]
        for tool in toolchains:
            value = cross.get(tool, {}).get(package, {}).get("cross")
            found = ratio(value, abs(base) if base is not None else None)
            row += [seconds(value), f"< {found}" if stopped and found != "—" else found]
        first = cross.get(toolchains[0], {}).get(package, {}) if toolchains else {}
        row += [seconds(first.get("native")), seconds(first.get("prepare_native_env"))]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Stage RUN step wall seconds (buildx): " + ", ".join(
        f"{k} {seconds(v)}" for k, v in state.get("stage_wall", {}).items())]
    for tool in toolchains:
        if tool not in state.get("checks", {}):
            continue
        lines += ["", f"## gate, {tool}"]
        for name, verdict in sorted(state["checks"][tool].items()):
            lines.append(f"- {name}: {json.dumps(verdict, sort_keys=True)}")
        if tool in state.get("exercised", {}):
            lines += ["", f"exercised under emulation ({tool}):",
                      state["exercised"][tool].rstrip()]
    lines += state.get("fallback", [])
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py", default="3.11")
    parser.add_argument("--toolchains", default="gcc,zig")
    parser.add_argument("--no-emulated", action="store_true")
    parser.add_argument("--emulated-cap", type=int, default=600,
                        help="stop an emulated compile after this many seconds (reported so)")
    parser.add_argument("--no-fallback-demo", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bslim-cross-measure"))
    parser.add_argument("--copy-report", type=Path, default=None,
                        help="also write the report here after every step")
    options = parser.parse_args()
    out: Path = options.out
    out.mkdir(parents=True, exist_ok=True)
    toolchains = [t for t in options.toolchains.split(",") if t]
    base = {"PY": options.py}
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    state: dict[str, Any] = {"stage_wall": {}, "checks": {}, "exercised": {}, "cross": {}}

    def save() -> str:
        report = render(options, toolchains, state)
        (out / "report.md").write_text(report)
        if options.copy_report:
            options.copy_report.write_text(report)
        return report

    # (prerequisites are built by the first build that needs them: the figures below are
    # measured inside the timed steps, so they do not include them)
    def cross_step(tool: str) -> None:
        args = {**base, "TOOLCHAIN": tool}
        log = logs / f"cross-{tool}.log"
        build("cross-out", out / f"cross-{tool}", args=args, fresh="cross", log=log)
        state["cross"][tool] = json.loads((out / f"cross-{tool}" / "times.json").read_text())
        state["checks"][tool] = json.loads((out / f"cross-{tool}" / "check.json").read_text())
        state["stage_wall"][f"cross {tool}"] = step_seconds(log, "cross")
        save()

    def gate_step(tool: str) -> None:
        args = {**base, "TOOLCHAIN": tool}
        glog = logs / f"gate-{tool}.log"
        build("gate-out", out / f"gate-{tool}", args=args, fresh="gate", log=glog)
        state["stage_wall"][f"import gate + fallback {tool}"] = step_seconds(glog, "gate")
        imported = json.loads((out / f"gate-{tool}" / "import.json").read_text())
        for name, verdict in imported.items():
            state["checks"][tool].setdefault(name, {})["import"] = verdict
        state["exercised"][tool] = (out / f"gate-{tool}" / "exercise.txt").read_text()
        save()

    def emulated_step() -> None:
        log = logs / "emulated.log"
        build("emulated-out", out / "emulated",
              args={**base, "EMULATED_CAP": str(options.emulated_cap)}, fresh="emulated",
              log=log)
        state["emulated"] = json.loads((out / "emulated" / "times.json").read_text())
        state["stage_wall"]["emulated"] = step_seconds(log, "emulated")
        save()

    def fallback_step() -> None:
        # PyYAML's silent fallback: the target's root without libyaml-dev (the build machine
        # has it, so the native reference build has yaml._yaml).
        args = {**base, "TOOLCHAIN": toolchains[0], "APT_BUILD": "", "ONLY": "pyyaml"}
        log = logs / "fallback.log"
        build("cross-out", out / "fallback", args=args, fresh="cross", log=log)
        verdicts = json.loads((out / "fallback" / "check.json").read_text())
        glog = logs / "fallback-gate.log"
        build("gate-out", out / "fallback-gate", args=args, fresh="gate", log=glog)
        said = [line.split(" ", 2)[-1] for line in [*log.read_text().splitlines(),
                                                    *glog.read_text().splitlines()]
                if re.search(r"bslim: .*(cross-built wheel failed|compiled under emulation "
                             r"without|no cross-built wheel)", line)]
        state["fallback"] = [
            "", "## silent-fallback demonstration (the target's root without libyaml-dev)",
            *(f"- {name}: {json.dumps(v, sort_keys=True)}" for name, v in sorted(verdicts.items())),
            "", "lines the build printed:", *said, "", "exercised:",
            (out / "fallback-gate" / "exercise.txt").read_text().rstrip()]
        save()

    # the first toolchain, the baseline, its gate, the fallback demonstration, then the other
    # toolchains (the report is rewritten after every step: a stopped run keeps its figures)
    steps: list[Any] = [lambda: cross_step(toolchains[0])] if toolchains else []
    if not options.no_emulated:
        steps.append(emulated_step)
    if toolchains:
        steps.append(lambda: gate_step(toolchains[0]))
    if not options.no_fallback_demo and toolchains:
        steps.append(fallback_step)
    for tool in toolchains[1:]:
        steps += [lambda tool=tool: cross_step(tool), lambda tool=tool: gate_step(tool)]
    for step in steps:
        step()
    print(save())
    return 0


if __name__ == "__main__":
    sys.exit(main())
