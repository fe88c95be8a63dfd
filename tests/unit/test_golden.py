"""Rendered bake files and Dockerfiles, byte for byte, against the committed golden files."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from buildkit_slim import __version__
from buildkit_slim.load import load
from buildkit_slim.render import render_all
from buildkit_slim.render.bake import escape_hcl
from buildkit_slim.resources.pip_for_target import PINS
from tests.unit.conftest import WriteProject
from tests.unit.regen_golden import (
    EXPECTED,
    GOLDEN,
    REGENERATE,
    cases,
    expected_files,
    render_case,
)

CASES = [pytest.param(case, id=case.name) for case in cases()]


def test_there_are_golden_cases() -> None:
    assert {c.name for c in cases()} >= {
        "minimal", "multi-target", "apt-extras", "own-dockerfile", "hcl-escaping", "mixed"}


@pytest.mark.parametrize("case", CASES)
def test_golden(case: Path) -> None:
    rendered = render_case(case)
    expected = expected_files(case)
    if rendered != expected:
        diff: list[str] = []
        for path in sorted(set(rendered) | set(expected)):
            diff += difflib.unified_diff(
                expected.get(path, "").splitlines(keepends=True),
                rendered.get(path, "").splitlines(keepends=True),
                f"expected/{path}", f"rendered/{path}")
        pytest.fail(
            f"golden files of {case.name} are stale. If the change is intended, regenerate with "
            f"`{REGENERATE}` and review the diff.\n" + "".join(diff), pytrace=False)


@pytest.mark.parametrize("case", CASES)
def test_render_is_deterministic(case: Path) -> None:
    first = render_all(load(case)[1])
    second = render_all(load(case)[1])
    assert first == second
    assert [f.path for f in first] == sorted(f.path for f in first)
    for f in first:
        assert f.text.endswith("\n") or (f.text == "" and f.path.endswith(".txt"))  # a list
        assert not f.text.endswith("\n\n")
        assert "\r" not in f.text


@pytest.mark.parametrize("case", CASES)
def test_bake_json_has_sorted_keys_and_one_target_per_config_target(case: Path) -> None:
    cfg = load(case)[0]
    text = render_case(case)[f"{cfg.output_dir}/docker-bake.json"]
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # publish-wheels adds `<target>-wheels` (the wheel image) right after its target.
    names = [n for t in cfg.targets
             for n in (t.name, *([f"{t.name}-wheels"] if t.publish_wheels else []))]
    assert data["group"] == {"default": {"targets": names}}
    assert sorted(data["target"]) == sorted(names)
    assert data["variable"] == {"TAG": {"default": "dev"}}
    for target in cfg.targets:
        body = data["target"][target.name]
        assert body["platforms"] == list(target.platforms)
        assert body["tags"] == [f"{target.image}:${{TAG}}"]
        assert body["context"] == "."


def test_own_dockerfile_case_writes_the_bake_file_only() -> None:
    assert list(expected_files(GOLDEN / "own-dockerfile")) == ["bake/docker-bake.json"]


def test_rendering_does_not_depend_on_where_the_project_is(tmp_path: Path) -> None:
    for case in cases():
        copy = tmp_path / case.name
        shutil.copytree(case, copy, ignore=shutil.ignore_patterns(EXPECTED))
        assert render_case(copy) == render_case(case)


def test_regenerating_writes_exactly_the_rendered_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit import regen_golden

    golden = tmp_path / "golden"
    shutil.copytree(GOLDEN / "minimal", golden / "minimal")
    (golden / "minimal" / EXPECTED / "bake" / "stale.txt").write_text("old", encoding="utf-8")
    (golden / "minimal" / EXPECTED / "bake" / "Dockerfile").write_text("old", encoding="utf-8")
    monkeypatch.setattr(regen_golden, "GOLDEN", golden)
    assert regen_golden.main() == 0
    assert expected_files(golden / "minimal") == render_case(GOLDEN / "minimal")


# --- escaping: bake reads every JSON string as an HCL template ------------------------------------

@pytest.mark.parametrize(("value", "escaped"), [
    ("${HOME}", "$${HOME}"),
    ("%{ if x }", "%%{ if x }"),
    ("$${kept}", "$$${kept}"),
    ("100% $5 {x} $ %", "100% $5 {x} $ %"),
])
def test_escape_hcl(value: str, escaped: str) -> None:
    assert escape_hcl(value) == escaped


def test_hcl_case_escapes_every_template_in_labels_and_args() -> None:
    bake = json.loads(expected_files(GOLDEN / "hcl-escaping")["bake/docker-bake.json"])
    target = bake["target"]["templater"]
    assert target["labels"]["com.example.template"] == "$${HOME} %%{ for x in y }"
    assert target["labels"]["org.opencontainers.image.description"] == (
        "Renders $${name} and %%{ if x }templates%%{ endif }")
    assert target["labels"]["org.opencontainers.image.source"] == (
        "https://example.com/templater?ref=$${BRANCH}")
    assert target["args"] == {"PERCENT": "%%{x}", "TEMPLATE": "$${VAR}"}
    # The one template bslim means: the tag variable.
    assert target["tags"] == ["ghcr.io/acme/templater:${TAG}"]


def test_a_dockerfile_path_with_a_template_is_escaped(write_project: WriteProject) -> None:
    root = write_project(
        '[project]\nname = "p"\n[tool.slim]\nimage = "x/p"\ndockerfile = "ops/%{odd}.Dockerfile"\n',
        files={"ops/%{odd}.Dockerfile": "FROM scratch\n"})
    (bake,) = render_all(load(root)[1])
    assert json.loads(bake.text)["target"]["p"]["dockerfile"] == "ops/%%{odd}.Dockerfile"


def test_env_values_are_quoted_in_the_dockerfile() -> None:
    dockerfile = expected_files(GOLDEN / "apt-extras")["docker/Dockerfile"]
    env = [line for line in dockerfile.splitlines() if line.startswith("ENV GEO_MODE")]
    assert env == ['ENV GEO_MODE="server" GREETING="it\'s \\"quoted\\", \\\\ and \\$dollar" '
                   'PYTHONUNBUFFERED="1"']


def test_the_lists_are_files_in_the_shim_context_not_in_the_dockerfile(
        write_project: WriteProject) -> None:
    """A dependency list is data in its own file (hadolint cannot parse heredocs), one
    requirement a line, whatever it spells; the Dockerfile copies it from bslim-shim."""
    root = write_project("""
        [project]
        name = "p"
        dependencies = ["BSLIM_REQUIREMENTS", "RUN @ https://example.com/x.whl"]
        scripts = { p = "p:main" }
        [tool.slim]
    """)
    files = {f.path: f.text for f in render_all(load(root)[1])}
    assert files["bake/shim/p.requirements.txt"] == (
        "BSLIM_REQUIREMENTS\nRUN @ https://example.com/x.whl\n")
    assert files["bake/shim/p.build-requires.txt"] == "setuptools>=40.8.0\n"
    assert files["bake/shim/pins.txt"].splitlines() == [
        f"{name}=={version} --hash=sha256:{digest}" for name, version, digest in PINS]
    dockerfile = files["bake/Dockerfile"]
    assert "<<" not in dockerfile and "BSLIM_REQUIREMENTS" not in dockerfile
    assert ("COPY --from=bslim-shim pip_for_target.py platforms.py wheel_build.py pinning.py "
            "cross_build.py wheel_gate.py origins.py pins.txt "
            "p.requirements.txt p.build-requires.txt /bslim/shim/\n") in dockerfile
    assert json.loads(files["bake/docker-bake.json"])["target"]["p"]["contexts"] == {
        "bslim-shim": "bake/shim"}


def test_no_generated_file_names_the_bslim_version() -> None:
    """Upgrading bslim changes a user's generated files only where its output changes."""
    for case in cases():
        for path, text in render_case(case).items():
            assert __version__ not in text.splitlines()[0], path


def test_output_does_not_depend_on_the_order_keys_are_written_in(
    write_project: WriteProject
) -> None:
    def rendered(slim: str) -> dict[str, str]:
        root = write_project('[project]\nname = "p"\nscripts = { p = "p:main" }\n'
                             '[project.optional-dependencies]\na = ["x"]\nb = ["y"]\n' + slim)
        return {f.path: f.text for f in render_all(load(root)[1])}

    one = rendered("""
        [tool.slim]
        image = "x/p"
        env = { A = "1", B = "2" }
        labels = { "l.a" = "1", "l.b" = "2" }
        args = { X = "1", Y = "2" }
        apt-build = ["gcc", "make"]
        apt-runtime = ["libpq5", "curl"]
        extras = ["a", "b"]
    """)
    two = rendered("""
        [tool.slim]
        extras = ["b", "a"]
        apt-runtime = ["curl", "libpq5"]
        apt-build = ["make", "gcc"]
        args = { Y = "2", X = "1" }
        labels = { "l.b" = "2", "l.a" = "1" }
        env = { B = "2", A = "1" }
        image = "x/p"
    """)
    assert one == two
