"""Benchmark: bslim against the origin note's recipe, in ONE invocation, on the local engine.

    .venv/bin/python -m tests.bench.benchmark [--cases abcdefghi] [--repeat-cold N] [--out FILE]
                                              [--layout official|debian] [--docs]

--docs puts the result into docs/performance.md, in place of the table of the engine it ran on
(between `<!-- benchmark: 26 -->` or `28` and `<!-- /benchmark -->`); the rest of that page is
written by hand.

BSLIM_ENGINE=28 runs it on the second engine tests/engine/up.sh brings up (tests/e2e/engine.py).
--layout picks the stand-ins both sides build on (tests/e2e/conftest.py): `official` (default,
CPython in /usr/local as in the official python images, `FROM python:3.13-trixie` through the
registry mirror) or `debian` (Debian's python3 packages, 127.0.0.1:5000/bslim-debian/python).

Both build the same fixture (a C extension compiled from its sdist + a pure package) for
linux/amd64 and linux/arm/v7 and push to the local registry. Cases:
  (a) cold, no cache            (b) warm, nothing changed      (c) only the project's code changed
  (d) one dependency added      (e) fresh builder (`docker builder prune -af`), registry cache only
  (f) a derived project: bslim with `wheels-from` its parent's wheel image vs without
  (g) the wheel stage alone (`--export-wheels`), cold, per platform, for a project whose
      dependencies all have an armv7l wheel or are pure, configured with that one platform
      (fast-wheels fetches for every configured platform): fast-wheels amd64 vs arm/v7, and
      the plain strategy's arm/v7 (ratios: arm/v7 to amd64, plain to fast)
  (h) the same for a web service: aiohttp, markupsafe (armv7l wheels on PyPI), msgpack, pyyaml,
      httptools (sdists only for arm/v7: cross-compiled, or with cross off compiled under
      emulation: a row of its own, same invocation)
  (i) the same for an asyncio service on uvloop (its bundled libuv is configured and built with
      it; no armv7l wheel on PyPI): fast-wheels amd64, arm/v7 cross-compiled and arm/v7
      compiled under emulation (the plain strategy compiles the same way as the latter)
Per distribution compiled for arm/v7 in (g)-(i), its cross build's and its emulated compile's
seconds (as the cross and compile stages print them) are tabled beside each other.
Both sides get the same registry cache (mode=max), so the ratios measure the Dockerfiles, not
the cache settings. Printed: wall time, ratio to the baseline's same case, and per platform the
compressed image size, bytes of .whl files in any layer, and the wheels pip compiled.
This is a script, not a test: machines are noisy, so it prints ratios measured side by side.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from buildkit_slim.cache import platform_pair
from tests.e2e import engine as engines
from tests.e2e import registry
from tests.e2e.conftest import FIXTURES, HOST_CA, LAYOUT_REPOS, LAYOUTS, base_image, make_sdist

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "performance.md"
RATIO = ("ratio = wall time / the baseline's same case ((f): with / without wheels-from; "
         "(g), (h): arm/v7 / amd64 and plain / fast arm/v7).")
# (i) is read as (h); "fast" arm/v7 cross-compiles, "fast-emulated" compiles under emulation
REG = registry.REGISTRY
PLATFORMS = ("linux/amd64", "linux/arm/v7")
BASELINE_DOCKERFILE = """\
# The origin note's recipe (2018), unchanged but for the CA secret these machines need.
FROM {builder} AS base
COPY . /build
RUN --mount=type=secret,id=ca \\
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \\
    pip3 install wheel && pip3 wheel /build --wheel-dir=/wheeley --find-links /build/wheelhouse

FROM {runtime}
COPY --from=base /wheeley /wheeley
RUN pip3 install --no-index --find-links=/wheeley {name} && rm -rf /wheeley
ENTRYPOINT ["{name}"]
"""
STEP = re.compile(r"^#(\d+) \[(linux/[a-z0-9/]+) ")
# pip building a wheel, or bslim's compile stage calling a build backend (no pip there)
# (or the cross stage's line for a wheel it cross-compiled)
BUILDING = re.compile(
    r"^#(\d+) [0-9.]+ +(?:Building wheel for ([A-Za-z0-9_.-]+)|bslim: built ([A-Za-z0-9_.]+)-"
    r"|bslim: ([A-Za-z0-9_.-]+)==\S+: cross-compiled for)")
# seconds of one distribution's build: the cross stage's line, the compile stage's line
SECONDS = re.compile(r"bslim: ([A-Za-z0-9_.-]+)==\S+: (cross-compiled|compiled) for \S+ in "
                     r"([0-9.]+) s")


@dataclass
class Result:
    case: str
    side: str
    seconds: float
    ref_side: str | None = None  # compared with this side of the same case, not the baseline
    sizes: dict[str, int] = field(default_factory=dict)
    wheel_bytes: dict[str, int] = field(default_factory=dict)
    compiled: dict[str, list[str]] = field(default_factory=dict)
    # distribution -> ("cross-compiled" | "compiled", seconds), as the build's log says
    seconds_of: dict[str, tuple[str, float]] = field(default_factory=dict)


def run(cmd: list[str], *, cwd: Path | None = None) -> tuple[float, str]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-6000:])
        raise SystemExit(f"benchmark: command failed ({proc.returncode}): {' '.join(cmd)}")
    return elapsed, proc.stdout + proc.stderr


def compiled_per_platform(log: str, default: str | None = None) -> dict[str, list[str]]:
    """Distributions pip built, per platform; `default`: the platform of a single-platform
    build, whose step headers name none."""
    steps: dict[str, str] = {}
    out: dict[str, set[str]] = defaultdict(set)
    for line in log.splitlines():
        if match := STEP.match(line):
            steps.setdefault(match.group(1), match.group(2))
        elif default and (match := re.match(r"^#(\d+) \[[a-z]", line)):
            steps.setdefault(match.group(1), default)
        elif (match := BUILDING.match(line)) and match.group(1) in steps:
            out[steps[match.group(1)]].add((match.group(2) or match.group(3)).lower()
                                           if not match.group(4)
                                           else f"{match.group(4).lower()} (cross)")
    return {p: sorted(out.get(p, ())) for p in PLATFORMS}


def bases(layout: str) -> tuple[str, str]:
    """The builder and runtime images as a Dockerfile names them: the unchanged Docker Hub names
    for the official layout (the registry mirror serves the stand-ins), full references else."""
    if layout == "official":
        return "python:3.13-trixie", "python:3.13-slim-trixie"
    return base_image(layout, slim=False), base_image(layout, slim=True)


def measure(ref: str, result: Result, runtime_base: str) -> Result:
    """Sizes, and .whl bytes in the layers added on top of the slim base (the base's own Debian
    pip/setuptools wheels are the same on both sides and not counted)."""
    repo, _ = registry.split_ref(ref)
    runtime = registry.platform_images(runtime_base)
    for platform, image in registry.platform_images(ref).items():
        base = {layer["digest"] for layer in runtime[platform].layers}
        result.sizes[platform] = image.compressed_size
        result.wheel_bytes[platform] = sum(
            member.size
            for layer in image.layers if layer["digest"] not in base
            for member, _ in registry.layer_members(repo, layer["digest"])
            if member.name.endswith(".whl")
        )
    return result


def write_project(root: Path, name: str, deps: list[str], packages: list[str], slim: str,
                  layout: str) -> Path:
    """A copy of the e2e fixture app, renamed, with the given deps and [tool.slim] table."""
    shutil.copytree(FIXTURES / "app", root)
    (root / "e2eapp").rename(root / name)
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir()
    for package in packages:
        make_sdist(FIXTURES / "packages" / package, wheelhouse)
    text = (root / "pyproject.toml").read_text()
    text = text.replace('name = "e2eapp"', f'name = "{name}"')
    text = text.replace('e2eapp = "e2eapp:main"', f'{name} = "{name}:main"')
    text = text.replace('packages = ["e2eapp"]', f'packages = ["{name}"]')
    text = re.sub(r"dependencies = \[.*\]", "dependencies = [" + ", ".join(
        f'"{d}"' for d in deps) + "]", text, count=1)
    text = text.split("[tool.slim]")[0] + "[tool.slim]\n" + slim
    (root / "pyproject.toml").write_text(text)
    builder, runtime = bases(layout)
    (root / "baseline.Dockerfile").write_text(
        BASELINE_DOCKERFILE.format(name=name, builder=builder, runtime=runtime))
    return root


def edit_code(project: Path, name: str) -> None:
    init = project / name / "__init__.py"
    init.write_text(init.read_text() + f"\n# edited {time.time()}\n")


def add_dependency(project: Path) -> None:
    make_sdist(FIXTURES / "packages" / "tinyadd", project / "wheelhouse")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '"tinypure==0.1.0"]', '"tinypure==0.1.0", "tinyadd==0.1.0"]', 1))


def prune() -> None:
    if not engines.engine_is_ours():
        host = os.environ.get("DOCKER_HOST") or "the default socket"
        raise SystemExit(f"benchmark: the engine at {host} was not started by tests/engine/up.sh "
                         f"for BSLIM_ENGINE={engines.chosen()}: its build cache is not the "
                         "benchmark's to prune")
    run(["docker", "builder", "prune", "-af"])


class Bench:
    def __init__(self, work: Path, ca: Path, layout: str) -> None:
        self.work = work
        self.ca = ca
        self.layout = layout
        self.runtime_base = base_image(layout, slim=True)
        self.bslim = [sys.executable, "-m", "buildkit_slim"]
        stamp = int(time.time())
        self.ns = f"{REG}/bslim-bench-{stamp}"

    def baseline(self, project: Path, name: str, case: str) -> Result:
        ref = f"{self.ns}/baseline-{name}:{case}"
        cache = f"{self.ns}/baseline-{name}-cache:all"
        seconds, log = run([
            "docker", "buildx", "build", "--progress", "plain",
            "--platform", ",".join(PLATFORMS), "-f", "baseline.Dockerfile",
            "--secret", f"id=ca,src={self.ca}", "-t", ref, "--push",
            "--cache-from", f"type=registry,ref={cache}",
            "--cache-to", f"type=registry,ref={cache},mode=max,ignore-error=true", ".",
        ], cwd=project)
        return measure(ref, Result(case=case, side="baseline", seconds=seconds,
                                   compiled=compiled_per_platform(log)), self.runtime_base)

    def slim(self, project: Path, name: str, case: str, side: str = "bslim") -> Result:
        seconds, log = run([*self.bslim, "bake", "--project", str(project), "--push",
                            "--tag", case, "--ca-bundle", str(self.ca)])
        ref = f"{self.ns}/{name}:{case}"
        return measure(ref, Result(case=case, side=side, seconds=seconds,
                                   compiled=compiled_per_platform(log)), self.runtime_base)

    def slim_table(self, name: str, extra: str = "") -> str:
        layout = ""
        if self.layout != "official":  # the defaults name the official layout's stand-ins
            repo = f"{REG}/{LAYOUT_REPOS[self.layout]}"
            layout = (f'builder-base = "{repo}:{{python}}-{{debian}}"\n'
                      f'runtime-base = "{repo}:{{python}}-slim-{{debian}}"\n')
        return (f'image = "{self.ns}/{name}"\nfind-links = ["wheelhouse"]\n{layout}{extra}'
                f'[tool.slim.cache]\nregistry = "{self.ns}/{name}-cache"\n')


def run_cases(cases: str, bench: Bench) -> list[Result]:
    results: list[Result] = []
    deps = ["tinyext==0.1.0", "tinypure==0.1.0"]
    packages = ["tinyext", "tinypure"]
    sides = [("baseline", "appbase"), ("bslim", "app")]
    for side, name in sides:
        project = write_project(bench.work / side, name, deps, packages, bench.slim_table(name),
                                bench.layout)
        build = bench.baseline if side == "baseline" else bench.slim
        if "a" in cases or "b" in cases:
            prune()
            results.append(build(project, name, "a"))
            print(f"bench: {side} (a) {results[-1].seconds:.1f} s", file=sys.stderr)
        if "b" in cases:
            results.append(build(project, name, "b"))
        if "c" in cases:
            edit_code(project, name)
            results.append(build(project, name, "c"))
        if "d" in cases:
            add_dependency(project)
            results.append(build(project, name, "d"))
        if "e" in cases:
            prune()
            results.append(build(project, name, "e"))
        print(f"bench: {side} done", file=sys.stderr)
    if "f" in cases:
        parent = write_project(bench.work / "parent", "parent", deps, packages,
                               bench.slim_table("parent", "publish-wheels = true\n"), bench.layout)
        prune()
        bench.slim(parent, "parent", "f-parent", side="parent")
        derived_deps = [*deps, "tinyadd==0.1.0"]
        derived_packages = [*packages, "tinyadd"]
        for side, extra in (("without", ""), ("with", f'wheels-from = ["{bench.ns}/parent-wheels:'
                                                      'f-parent"]\n')):
            name = f"derived{side}"
            project = write_project(bench.work / name, name, derived_deps, derived_packages,
                                    bench.slim_table(name, extra), bench.layout)
            prune()
            results.append(bench.slim(project, name, "f", side=f"bslim {side} wheels-from"))
    if "g" in cases:  # an armv7l wheel on PyPI, and a pure package
        results += wheel_stages(bench, "g", "wheels", ["multidict", "tinypure==0.1.0"],
                                ["tinypure"])
    if "h" in cases:
        results += wheel_stages(bench, "h", "web", WEB_SERVICE, [])
    if "i" in cases:
        results += wheel_stages(bench, "i", "loop", LOOP_SERVICE, [],
                                ("fast", "fast-emulated"))
    return results


# (h): a web service as users have them: aiohttp and markupsafe (and aiohttp's own C
# dependencies) come as armv7l wheels from PyPI; msgpack, pyyaml and httptools have none for
# arm/v7 and are compiled from their sdists there.
WEB_SERVICE = ["aiohttp==3.14.5", "markupsafe==3.0.4", "msgpack==1.2.4", "pyyaml==6.0.4",
               "httptools==0.9.0"]
# (i): uvloop has no armv7l wheel on PyPI; its build configures and compiles libuv too.
LOOP_SERVICE = ["uvloop==0.23.0"]


def wheel_stages(bench: Bench, case: str, stem: str, deps: list[str], packages: list[str],
                 strategies: tuple[str, ...] = ("fast", "fast-emulated", "plain"),
                 ) -> list[Result]:
    """The wheel stage alone (`--export-wheels`), cold, per platform: fast-wheels on amd64 and
    arm/v7 (cross-compiling what has no wheel, the default), fast-wheels on arm/v7 compiling
    that under emulation (`cross = { enabled = false }`), and the plain strategy on arm/v7;
    ratios against fast amd64, then against fast arm/v7 (cross)."""
    out = []
    arm = "fast wheel stage linux/arm/v7"
    for strategy, platform, ref_side in (
            ("fast", "linux/amd64", None),
            ("fast", "linux/arm/v7", "fast wheel stage linux/amd64"),
            ("fast-emulated", "linux/arm/v7", arm),
            ("plain", "linux/arm/v7", arm)):
        if strategy not in strategies:
            continue
        name = f"{stem}{strategy.replace('-', '')}{platform_pair(platform).replace('-', '')}"
        extra = {"plain": "fast-wheels = false\n",
                 "fast-emulated": "cross = { enabled = false }\n"}.get(strategy, "")
        project = write_project(bench.work / name, name, deps, packages,
                                bench.slim_table(name, f'{extra}platforms = ["{platform}"]\n'),
                                bench.layout)
        prune()
        seconds, log = run([*bench.bslim, "bake", "--project", str(project), "--export-wheels",
                            str(bench.work / f"out-{name}"), "--ca-bundle", str(bench.ca)])
        print(f"bench: ({case}) {strategy} {platform} {seconds:.1f} s", file=sys.stderr)
        out.append(Result(case=case, side=f"{strategy} wheel stage {platform}", seconds=seconds,
                          ref_side=ref_side, compiled=compiled_per_platform(log, platform),
                          seconds_of={m.group(1).lower(): (m.group(2), float(m.group(3)))
                                      for m in SECONDS.finditer(log)}))
    return out


def table(results: list[Result]) -> str:
    base = {r.case: r for r in results if r.side == "baseline"}
    without = next((r for r in results if r.side == "bslim without wheels-from"), None)
    rows = ["| case | side | wall s | ratio | " + " | ".join(
        f"{p}: MB / .whl KB in added layers / built from sdist" for p in PLATFORMS) + " |",
        "|---|---|---:|---:|" + "---|" * len(PLATFORMS)]
    by_side = {(r.case, r.side): r for r in results}
    for r in results:
        ref = without if r.case == "f" else base.get(r.case)
        if r.ref_side is not None or r.case in ("g", "h", "i"):
            ref = by_side.get((r.case, r.ref_side or ""))
        ratio = f"{r.seconds / ref.seconds:.2f}" if ref and ref is not r else "1.00"
        cells = [(f"{r.sizes[p] / 1e6:.1f} / {r.wheel_bytes[p] / 1e3:.0f} / " if p in r.sizes
                  else "- / - / ") + (", ".join(r.compiled.get(p, [])) or "-")
                 for p in PLATFORMS]
        rows.append(f"| ({r.case}) | {r.side} | {r.seconds:.1f} | {ratio} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def per_package(results: list[Result]) -> str:
    """Each distribution compiled for arm/v7 in (g)-(i): its cross build's seconds (fast side)
    beside its emulated compile's (fast-emulated side), as the stages print them."""
    rows = []
    for case in sorted({r.case for r in results if r.seconds_of}):
        cross = next((r.seconds_of for r in results if r.case == case
                      and r.side == "fast wheel stage linux/arm/v7"), {})
        emulated = next((r.seconds_of for r in results if r.case == case
                         and r.side == "fast-emulated wheel stage linux/arm/v7"), {})
        for name in sorted({*cross, *emulated}):
            how, across = cross.get(name, ("", 0.0))
            under = emulated.get(name, ("", 0.0))[1]
            rows.append(f"| ({case}) | {name} | "
                        f"{f'{across:.1f}' if how == 'cross-compiled' else '-'} | "
                        f"{f'{under:.1f}' if under else '-'} | "
                        f"{f'{under / across:.1f}x' if how == 'cross-compiled' and under else '-'}"
                        " |")
    if not rows:
        return ""
    return ("\nPer distribution, arm/v7 (seconds of its build in the stage's log; cross builds "
            "run one more than cores side by side, emulated compiles one per core):\n\n"
            "| case | distribution | cross-compiled s | compiled under emulation s | "
            "emulated / cross |\n|---|---|---:|---:|---:|\n" + "\n".join(rows) + "\n")


def versions() -> str:
    server = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, check=False).stdout.strip()
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True,
                            check=False).stdout.split()[1:2]
    return f"Docker Engine {server}, buildx {' '.join(buildx)} (BSLIM_ENGINE={engines.chosen()})"


def repeat_cold(bench: Bench, times: int) -> str:
    """Case (a) again `times` times, the two sides alternating (the order flips each round),
    each after `docker builder prune -af` and with a registry cache of its own (so cold): on
    a noisy machine one pair is one sample."""
    deps, packages = ["tinyext==0.1.0", "tinypure==0.1.0"], ["tinyext", "tinypure"]
    ratios, rows = [], []
    for round_ in range(times):
        seconds = {}
        for side in ("baseline", "bslim") if round_ % 2 == 0 else ("bslim", "baseline"):
            name = f"{'appbase' if side == 'baseline' else 'app'}{round_}"
            project = write_project(bench.work / f"repeat-{name}", name, deps, packages,
                                    bench.slim_table(name), bench.layout)
            prune()
            build = bench.baseline if side == "baseline" else bench.slim
            seconds[side] = build(project, name, "a").seconds
            print(f"bench: round {round_ + 1} {side} {seconds[side]:.1f} s", file=sys.stderr)
        ratios.append(seconds["bslim"] / seconds["baseline"])
        rows.append(f"| {round_ + 1} | {seconds['baseline']:.1f} | {seconds['bslim']:.1f} | "
                    f"{ratios[-1]:.2f} | {1 / ratios[-1]:.2f}x |")
    median = sorted(ratios)[len(ratios) // 2]
    return ("\n(a) repeated, cold, sides alternating:\n\n| round | baseline s | bslim s | ratio "
            "| speed-up |\n|---|---:|---:|---:|---:|\n" + "\n".join(rows)
            + f"\n\nmedian ratio {median:.2f} ({1 / median:.2f}x faster)\n")


def replace_block(doc: str, engine: str, text: str) -> str:
    """`doc` with the block of `engine` (between its marker and the next end marker) holding
    `text`; ValueError when the page has no such block."""
    start_marker, end_marker = f"<!-- benchmark: {engine} -->\n", "<!-- /benchmark -->"
    start = doc.find(start_marker)
    end = doc.find(end_marker, start + len(start_marker)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError(f"no `{start_marker.strip()}` ... `{end_marker}` block")
    body = text if text.endswith("\n") else text + "\n"
    return doc[:start + len(start_marker)] + body + doc[end:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="abcdefghi")
    parser.add_argument("--repeat-cold", type=int, default=0, metavar="N",
                        help="also run case (a) N more times, sides alternating; median ratio")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--layout", choices=LAYOUTS, default="official",
                        help="the python stand-ins both sides build on (default: official)")
    parser.add_argument("--docs", action="store_true",
                        help=f"replace this engine's table in {DOCS.relative_to(REPO)}")
    args = parser.parse_args()
    problem = engines.select()
    if problem:
        raise SystemExit(f"benchmark: {problem}")
    if args.docs:  # refuse before an hour of building, not after
        try:
            replace_block(DOCS.read_text(encoding="utf-8"), engines.chosen(), "")
        except (OSError, ValueError) as exc:
            raise SystemExit(f"benchmark: --docs: {DOCS}: {exc}") from None
    ca = Path(os.environ.get("BSLIM_CA_BUNDLE") or HOST_CA)
    with tempfile.TemporaryDirectory(prefix="bslim-bench-") as tmp:
        bench = Bench(Path(tmp), ca, args.layout)
        results = run_cases(args.cases, bench)
        repeated = repeat_cold(bench, args.repeat_cold) if args.repeat_cold else ""
    header = (f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, "
              f"{versions()}, {args.layout} layout of the python stand-ins; {RATIO}\n\n")
    text = header + (table(results) + per_package(results) if results else "") + repeated
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.docs:
        DOCS.write_text(replace_block(DOCS.read_text(encoding="utf-8"), engines.chosen(), text),
                        encoding="utf-8")
        print(f"benchmark: wrote the BSLIM_ENGINE={engines.chosen()} table of {DOCS}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
