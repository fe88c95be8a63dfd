"""Issue #17: a target name is the prefix of its Dockerfile stages and named contexts, and a
bake target name: it must be valid for both, and distinct from the others as BuildKit sees it.

BuildKit lowercases a stage name and then requires `^[a-z][a-z0-9-_.]*$`
(moby/buildkit frontend/dockerfile/instructions/parse.go, validStageName); buildx allows bake
target names of `[a-zA-Z0-9_-]` only. So a name starts with a letter, and `API` beside `api`
is one stage prefix twice.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.config import load
from buildkit_slim.errors import ConfigError
from buildkit_slim.render import render_all
from tests.unit.conftest import WriteProject
from tests.unit.test_cli import run

PROJECT = """\
    [project]
    name = "hello"
    version = "1.0.0"
    dependencies = []

    [project.scripts]
    hello = "hello:main"

    [tool.slim]
    image = "ghcr.io/acme/hello"
"""
# BuildKit's rule for a stage name, applied after it lowercased it.
STAGE_NAME_RE = re.compile(r"[a-z][a-z0-9-_.]*")
FROM_AS_RE = re.compile(r"^FROM .* AS (\S+)$", re.MULTILINE)
# distribution/reference: one path component of an image name.
IMAGE_NAME_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")


def targets(*names: str, extra: str = "") -> str:
    return PROJECT + "".join(
        f'    [tool.slim.targets."{name}"]\n    image = "ghcr.io/acme/img{index}"\n{extra}'
        for index, name in enumerate(names))


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(root)
    return list(info.value.problems)


@pytest.mark.parametrize("name", ["1api", "_api", "-api", "9", "_", "-",
                                  # <name>-fetch must also be an image name: separators are one
                                  # '_', two '_' or a run of '-' (BuildKit looks every stage up
                                  # as a named context, reference.ParseNormalizedNamed)
                                  "c--_9", "a_-b", "a___b", "b_", "a-_", "x" * 129])
def test_a_name_buildkit_refuses_as_a_stage_prefix_is_refused(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str], name: str) -> None:
    root = write_project(targets(name, "web"))
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2, result.err
    assert not (root / "bake").exists()
    [line] = result.err_lines
    assert line.startswith(f"error: tool.slim.targets.{name}: "), line
    assert "a target name is a letter" in line, line


@pytest.mark.parametrize(("names", "clash"), [
    (("api", "API"), "API"),
    (("Web", "web", "WEB"), "web"),
    (("my_api", "My_Api"), "My_Api"),
])
def test_names_that_differ_only_in_case_are_refused(
        write_project: WriteProject, names: tuple[str, ...], clash: str) -> None:
    root = write_project(targets(*names))
    found = problems(root)
    assert any(line.startswith(f"tool.slim.targets.{clash}: ") and "case" in line
               for line in found), found


@pytest.mark.parametrize(("names", "extra", "clash"), [
    # publish-wheels adds the bake target <name>-wheels beside <name>
    (("api", "api-wheels"), "    publish-wheels = true\n", "api-wheels"),
    # bake --export-wheels and bslim plan add <name>-export-wheels and <name>-plan
    (("api", "api-export-wheels"), "", "api-export-wheels"),
    (("api", "API-plan"), "", "API-plan"),
])
def test_a_name_another_target_derives_a_bake_target_from_is_refused(
        write_project: WriteProject, names: tuple[str, ...], extra: str, clash: str) -> None:
    root = write_project(targets(*names, extra=extra))
    found = problems(root)
    assert any(line.startswith(f"tool.slim.targets.{clash}: ") for line in found), found


@pytest.mark.parametrize("names", [("Api", "web"), ("a1", "b-2_c"), ("x", "X1"),
                                   ("b-", "c--9"), ("d__e", "f---g-"), ("x" * 128, "y")])
def test_valid_names_give_stage_names_buildkit_accepts(
        write_project: WriteProject, names: tuple[str, ...]) -> None:
    root = write_project(targets(*names, extra='    wheels-from = ["ghcr.io/a/w:1"]\n'))
    the_blueprint = make_blueprint(load(root))
    dockerfile = next(f.text for f in render_all(the_blueprint) if f.path == "bake/Dockerfile")
    stages = FROM_AS_RE.findall(dockerfile)
    assert stages
    for stage in stages:
        # As written, not only once lowercased: COPY --from and named contexts match it too.
        assert STAGE_NAME_RE.fullmatch(stage), stage
    assert len({s.lower() for s in stages}) == len(stages)
    for target in the_blueprint.targets:
        for context, _ in target.contexts:
            assert STAGE_NAME_RE.fullmatch(context), context
    for name in [*stages, *(c for t in the_blueprint.targets for c, _ in t.contexts)]:
        # As BuildKit reads a stage name looking it up as a named context: an image name.
        assert IMAGE_NAME_RE.fullmatch(name) and len(f"docker.io/library/{name}") <= 255, name


def test_the_derived_bake_targets_are_those_bslim_adds() -> None:
    from buildkit_slim.blueprint import WHEELS_SUFFIX
    from buildkit_slim.config.parse import DERIVED_TARGETS
    from buildkit_slim.request import EXPORT_SUFFIX, PLAN_SUFFIX

    assert [suffix for suffix, _ in DERIVED_TARGETS] == [WHEELS_SUFFIX, EXPORT_SUFFIX,
                                                         PLAN_SUFFIX]
