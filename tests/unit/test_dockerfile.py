"""What the generated Dockerfile runs where: the properties fast-wheels' speed rests on, checked on
every golden configuration (the golden files pin the text; these say why it is shaped so)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from buildkit_slim.blueprint import (
    CONTEXT,
    Blueprint,
    BuildStage,
    TargetBlueprint,
    blueprint_stages,
)
from buildkit_slim.load import load
from buildkit_slim.render import dockerfile as renderer
from buildkit_slim.render.dockerfile import render_dockerfile
from tests.unit.regen_golden import GOLDEN, cases


@dataclass
class Stage:
    name: str
    base: str
    platform: str | None  # FROM --platform=...; $BUILDPLATFORM: never emulated
    runs: list[str] = field(default_factory=list)  # RUN instructions, continuation lines joined
    copies_from: set[str] = field(default_factory=set)

    @property
    def native(self) -> bool:
        return self.platform == "$BUILDPLATFORM"


def stages(dockerfile: str) -> dict[str, Stage]:
    """The stages of a Dockerfile (it has no heredoc: hadolint parses it)."""
    assert "<<" not in dockerfile
    found: dict[str, Stage] = {}
    stage: Stage | None = None
    lines = iter(dockerfile.splitlines())
    for first in lines:
        line = first
        while line.endswith("\\"):
            line = line[:-1] + next(lines)
        if line.startswith("FROM "):
            words = line.split()
            platform = next((w.removeprefix("--platform=") for w in words
                             if w.startswith("--platform=")), None)
            stage = Stage(name=words[-1], base=words[-3], platform=platform)
            found[stage.name] = stage
        elif stage is not None and line.startswith("RUN "):
            stage.runs.append(line)
            stage.copies_from |= set(re.findall(r"from=([\w.-]+)", line))
        elif stage is not None and line.startswith("COPY --from="):
            stage.copies_from.add(line.split()[1].removeprefix("--from="))
    return found


def fast_cases() -> list[tuple[Path, str, dict[str, Stage]]]:
    out = []
    for case in cases():
        blueprint = load(case)[1]
        if not blueprint.generated_targets:
            continue
        text = render_dockerfile(blueprint)
        for target in blueprint.generated_targets:
            if target.fetch_stage is not None:
                out.append((case, target.fetch_stage.removesuffix("fetch"), stages(text)))
    return out


FAST = [pytest.param(s, prefix, id=f"{case.name}:{prefix or '-'}")
        for case, prefix, s in fast_cases()]


def test_every_golden_case_with_fast_wheels_is_checked() -> None:
    assert len(FAST) >= 6


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_pip_never_runs_under_emulation_except_as_a_fallback(
        found: dict[str, Stage], prefix: str) -> None:
    """Target-platform stages call the shim's `compile` (a PEP 517 backend, pip only when the
    build could not be prepared) or plain shell; resolving, fetching, installing are native."""
    for name in (f"{prefix}compile", f"{prefix}compile-project", f"{prefix}runtime"):
        stage = found[name]
        assert not stage.native
        for run in stage.runs:
            command = run.split("python3", 1)[-1] if "pip_for_target.py compile" in run else run
            assert not re.search(r"\bpip3? (install|wheel|download)\b", command), (name, run)
    for name in (f"{prefix}fetch", f"{prefix}fetch-project", f"{prefix}install"):
        assert found[name].native or found[found[name].base].native, name


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_every_step_that_can_reach_an_index_mounts_the_ca_secret(found: dict[str, Stage],
                                                                 prefix: str) -> None:
    """Correct before fast: behind a TLS-intercepting proxy a fallback without the CA fails
    the build, so every RUN that can reach an index (the fetches, the compiles' fallback to
    pip's build isolation) mounts it; the native install (--no-index) and the runtime never
    do (a secret mount costs ~1.5 s on BuildKit < 0.16)."""
    with_secret = {name for name, stage in found.items() if name.startswith(prefix)
                   for run in stage.runs if "type=secret,id=ca" in run}
    assert with_secret == {f"{prefix}{s}" for s in (
        "fetch", "fetch-project", "compile", "compile-project")}
    for name in with_secret:
        for run in found[name].runs:
            if "pip_for_target.py fetch" in run or "pip_for_target.py compile" in run:
                assert "PIP_CERT=/run/secrets/ca" in run, run


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_cache_mounts_are_keyed_by_what_changes_a_built_wheel(found: dict[str, Stage],
                                                              prefix: str) -> None:
    ids = {m for stage in found.values() for run in stage.runs
           for m in re.findall(r"type=cache,id=([^,]+)", run)}
    assert ids, "fast-wheels has cache mounts"
    for cache_id in ids:
        assert re.fullmatch(r"bslim-(fetch|pip|cross|cross-apt|cross-apt-lists)-[0-9a-f]{12}"
                            r"(-\$\{TARGETOS\}-\$\{TARGETARCH\}\$\{TARGETVARIANT\})?",
                            cache_id), cache_id


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_dependencies_compile_while_the_project_is_fetched(
        found: dict[str, Stage], prefix: str) -> None:
    """The emulated compile of the dependencies (and their cross builds) does not wait for the
    project's own wheel (a code change reruns neither), and the runtime only copies what was
    installed natively."""
    compile_deps = found[f"{prefix}compile"]
    inherited = {n for n in compile_deps.copies_from if "wheels-from" in n}
    assert compile_deps.copies_from - inherited == {f"{prefix}fetch", f"{prefix}cross"}
    assert found[f"{prefix}cross"].copies_from == {f"{prefix}fetch", f"{prefix}target-root"}
    assert found[f"{prefix}target-root"].copies_from == {"bslim-shim"}
    assert found[f"{prefix}fetch-project"].base == f"{prefix}fetch"
    assert found[f"{prefix}compile-project"].base == f"{prefix}compile"
    runtime = found[f"{prefix}runtime"]
    assert runtime.copies_from == {f"{prefix}install"}
    assert f"{prefix}wheels" in found[f"{prefix}install"].copies_from
    assert found[f"{prefix}wheels"].base == "scratch"


def test_the_plain_strategy_installs_with_pip_on_the_target() -> None:
    plain = [case for case in cases()
             if any(t.fetch_stage is None and t.wheels_stage is not None
                    for t in load(case)[1].targets)]
    assert plain, "a golden case has fast-wheels = false"
    for case in plain:
        blueprint = load(case)[1]
        found = stages(render_dockerfile(blueprint))
        for target in blueprint.generated_targets:
            if target.fetch_stage is None:
                name = target.runtime_stage or ""
                assert any("pip install" in run for run in found[name].runs)
                assert f"{name.removesuffix('runtime')}install" not in found


def _graph_cases() -> list[tuple[str, TargetBlueprint, dict[str, Stage]]]:
    out = []
    for case in cases():
        blueprint = load(case)[1]
        if blueprint.generated_targets:
            found = stages(render_dockerfile(blueprint))
            out += [(case.name, target, found) for target in blueprint.generated_targets]
    return out


def expect_graph(target: TargetBlueprint, found: dict[str, Stage]) -> None:
    images = {"builder": target.config.builder_base, "runtime": target.config.runtime_base,
              "scratch": "scratch"}
    assert [name for name in found if name in {s.name for s in target.stages}] == [
        s.name for s in target.stages]  # in the planned order
    for planned in target.stages:
        stage = found[planned.name]
        assert stage.platform == ("$BUILDPLATFORM" if planned.native else planned.platform)
        assert stage.base == (images.get(planned.base) or (
            planned.base.removeprefix(CONTEXT) if planned.base.startswith(CONTEXT)
            else target.stage(planned.base))), planned.name
        # Every stage and named context it copies or mounts from, and nothing else.
        assert stage.copies_from == {target.stage(role) for role in planned.reads} | set(
            planned.contexts), planned.name


@pytest.mark.parametrize(("target", "found"), [
    pytest.param(target, found, id=f"{name}:{target.name}")
    for name, target, found in _graph_cases()])
def test_the_rendered_stages_are_the_planned_graph(target: TargetBlueprint,
                                                   found: dict[str, Stage]) -> None:
    """blueprint.py decides the stages and what each reads; the renderer only spells them out."""
    expect_graph(target, found)


# --- a change to the graph is a change in one place: the rendered Dockerfile follows ---------

def _with_stages(blueprint: Blueprint, change: dict[str, dict[str, object]]) -> Blueprint:
    """The blueprint with some stages changed (by role), in every target."""
    targets = tuple(replace(t, stages=tuple(
        replace(s, **change.get(s.role, {})) for s in t.stages))  # type: ignore[arg-type]
        for t in blueprint.targets)
    return replace(blueprint, targets=targets)


@pytest.fixture
def blueprint() -> Blueprint:
    return load(GOLDEN / "derived-cache")[1]  # both strategies, inherited wheels


def test_renamed_stages_are_renamed_everywhere(blueprint: Blueprint) -> None:
    renamed = replace(blueprint, targets=tuple(replace(t, stages=tuple(
        replace(s, name=f"x{s.name}") for s in t.stages)) for t in blueprint.targets))
    found = stages(render_dockerfile(renamed))
    assert all(name.startswith("x") for name in found)
    for target in renamed.targets:
        expect_graph(target, found)


def test_a_new_base_or_platform_is_the_new_from(blueprint: Blueprint) -> None:
    changed = _with_stages(blueprint, {"compile-project": {"base": "builder"},
                                       "install": {"native": False},
                                       "wheels-from-0-linux-amd64": {"platform": "linux/386"}})
    found = stages(render_dockerfile(changed))
    assert found["spark-compile-project"].base == "python:3.13-trixie"
    assert found["spark-install"].platform is None
    assert found["spark-wheels-from-0-linux-amd64"].platform == "linux/386"
    for target in changed.targets:
        expect_graph(target, found)


def test_a_stage_cannot_read_what_its_blueprint_does_not_list(blueprint: Blueprint) -> None:
    broken = _with_stages(blueprint, {"fetch-report": {"reads": ("fetch",)}})
    with pytest.raises(ValueError, match=r"stage spark-fetch-report reads 'fetch-project', "
                                         r"which its blueprint does not list \(reads: fetch\)"):
        render_dockerfile(broken)
    with pytest.raises(ValueError, match="reads context 'bslim-shim'"):
        render_dockerfile(_with_stages(blueprint, {"fetch": {"contexts": ()}}))


def test_adding_a_stage_is_a_blueprint_entry_and_what_its_role_runs(
        blueprint: Blueprint, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the next stages (a cross-compiling one, a lock) need: one BuildStage in the graph,
    one entry in STAGES; FROM and every reference follow from the blueprint."""
    def lock(stage: renderer.Stage) -> tuple[list[str], list[str]]:
        return ["# a lock"], [f"COPY --from={stage.read('fetch')} /fetched /lock"]

    monkeypatch.setitem(renderer.STAGES, "lock", lock)
    target = blueprint.targets[0]
    added = BuildStage(role="lock", name="spark-lock", base="scratch", reads=("fetch",))
    grown = replace(blueprint, targets=(replace(target, stages=(*target.stages, added)),
                                        *blueprint.targets[1:]))
    text = render_dockerfile(grown)
    assert "# a lock\nFROM scratch AS spark-lock\nCOPY --from=spark-fetch /fetched /lock\n" in text
    expect_graph(grown.targets[0], stages(text))


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_cross_builds_run_natively_and_compile_starts_from_the_targets_builder(
        found: dict[str, Stage], prefix: str) -> None:
    """The cross builds run on the build platform, from the fetch stage's head (one apt-build
    layer); the target's builder (apt-build, asked for its facts) is where the compile stage
    starts, on the target. The cross builds reach no index (their build requirements come
    from the fetch): no secret."""
    crossed, fetched = found[f"{prefix}cross"], found[f"{prefix}fetch"]
    assert crossed.native and crossed.base == fetched.base
    assert not found[f"{prefix}target-root"].native
    assert found[f"{prefix}compile"].base == f"{prefix}target-root"
    assert not any("type=secret" in run for run in crossed.runs)
    assert any("pip_for_target.py cross" in run for run in crossed.runs)
    assert any("--cross-wheels /cross" in run for run in found[f"{prefix}compile"].runs)
    assert any("wheel_gate.py facts" in run for run in found[f"{prefix}target-root"].runs)


def test_the_cross_compiler_is_installed_only_when_something_is_to_be_cross_compiled() -> None:
    """A pure project never downloads Debian's cross gcc: it is installed in the cross
    stage's one RUN, after the test for a non-empty cross.txt, for the target's platform;
    if apt fails, the build goes on (each wheel is then compiled under emulation)."""
    blueprint = load(GOLDEN / "minimal")[1]
    (run,) = stages(render_dockerfile(blueprint))["cross"].runs
    listed = run.index('deps"/cross.txt ]; then ')
    assert listed < run.index("apt-get install") < run.index("pip_for_target.py cross")
    assert "linux/arm/v7) set -- gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf ;;" in run
    assert "|| echo \"bslim: could not install the cross compiler" in run
    assert "target=/var/cache/apt,sharing=locked" in run


def test_cross_compiling_off_leaves_the_graph_as_it_was() -> None:
    blueprint = load(GOLDEN / "minimal")[1]
    target = blueprint.targets[0]
    off = replace(target.config, cross=replace(target.config.cross, enabled=False))
    plain = replace(blueprint, targets=(replace(target, config=off, stages=blueprint_stages(
        "", fast=True, platforms=target.platforms, cross=False)),))
    found = stages(render_dockerfile(plain))
    assert not {"target-root", "cross"} & set(found)
    assert found["compile"].base == "python:3.13-trixie"
    assert not any("--cross" in run for stage in found.values() for run in stage.runs)
