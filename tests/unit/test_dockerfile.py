"""What the generated Dockerfile runs where: the properties fast-wheels' speed rests on, checked on
every golden configuration (the golden files pin the text; these say why it is shaped so)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from buildkit_slim.config import load
from buildkit_slim.plan import SHIM_CONTEXT, TargetPlan, make_plan
from buildkit_slim.render.dockerfile import render_dockerfile
from tests.unit.regen_golden import cases

HEREDOC = re.compile(r"<<'?([A-Za-z_]+)'?")


@dataclass
class Stage:
    name: str
    base: str
    native: bool  # FROM --platform=$BUILDPLATFORM: never emulated
    runs: list[str] = field(default_factory=list)  # RUN instructions, continuation lines joined
    copies_from: set[str] = field(default_factory=set)


def stages(dockerfile: str) -> dict[str, Stage]:
    """The stages of a Dockerfile, heredoc bodies (the embedded shim, the requirements) left out."""
    found: dict[str, Stage] = {}
    stage: Stage | None = None
    lines = iter(dockerfile.splitlines())
    for first in lines:
        if match := HEREDOC.search(first):
            for body in lines:
                if body == match.group(1):
                    break
        line = first
        while line.endswith("\\"):
            line = line[:-1] + next(lines)
        if line.startswith("FROM "):
            words = line.split()
            stage = Stage(name=words[-1], base=words[-3],
                          native="--platform=$BUILDPLATFORM" in words)
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
        plan = make_plan(load(case))
        if not plan.generated_targets:
            continue
        text = render_dockerfile(plan)
        for target in plan.generated_targets:
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
        assert re.fullmatch(r"bslim-(fetch|pip)-[0-9a-f]{12}(-\$\{TARGETOS\}-\$\{TARGETARCH\}"
                            r"\$\{TARGETVARIANT\})?", cache_id), cache_id


@pytest.mark.parametrize(("found", "prefix"), FAST)
def test_dependencies_compile_while_the_project_is_fetched(
        found: dict[str, Stage], prefix: str) -> None:
    """The emulated compile of the dependencies does not wait for the project's own wheel
    (a code change reruns neither), and the runtime only copies what was installed natively."""
    compile_deps = found[f"{prefix}compile"]
    inherited = {n for n in compile_deps.copies_from if "wheels-from" in n}
    assert compile_deps.copies_from - inherited == {f"{prefix}fetch"}
    assert found[f"{prefix}fetch-project"].base == f"{prefix}fetch"
    assert found[f"{prefix}compile-project"].base == f"{prefix}compile"
    runtime = found[f"{prefix}runtime"]
    assert runtime.copies_from == {f"{prefix}install"}
    assert f"{prefix}wheels" in found[f"{prefix}install"].copies_from
    assert found[f"{prefix}wheels"].base == "scratch"


def test_the_plain_strategy_installs_with_pip_on_the_target() -> None:
    plain = [case for case in cases()
             if any(t.fetch_stage is None and t.wheels_stage is not None
                    for t in make_plan(load(case)).targets)]
    assert plain, "a golden case has fast-wheels = false"
    for case in plain:
        plan = make_plan(load(case))
        found = stages(render_dockerfile(plan))
        for target in plan.generated_targets:
            if target.fetch_stage is None:
                name = target.runtime_stage or ""
                assert any("pip install" in run for run in found[name].runs)
                assert f"{name.removesuffix('runtime')}install" not in found


def _graph_cases() -> list[tuple[str, TargetPlan, dict[str, Stage]]]:
    out = []
    for case in cases():
        plan = make_plan(load(case))
        if plan.generated_targets:
            found = stages(render_dockerfile(plan))
            out += [(case.name, target, found) for target in plan.generated_targets]
    return out


@pytest.mark.parametrize(("target", "found"), [
    pytest.param(target, found, id=f"{name}:{target.name}")
    for name, target, found in _graph_cases()])
def test_the_rendered_stages_are_the_planned_graph(target: TargetPlan,
                                                   found: dict[str, Stage]) -> None:
    """plan.py decides the stages and what each reads; the renderer only spells them out."""
    images = {"builder": target.config.builder_base, "runtime": target.config.runtime_base,
              "scratch": "scratch"}
    for planned in target.stages:
        stage = found[planned.name]
        assert stage.native == planned.native, planned.name
        assert stage.base == images.get(planned.base) or stage.base == target.stage(
            planned.base), planned.name
        # Named contexts (the shim, inherited wheels) are not stages of this target.
        own = {n for n in stage.copies_from if n != SHIM_CONTEXT and "wheels-from" not in n}
        assert own == {target.stage(role) for role in planned.reads}, planned.name
