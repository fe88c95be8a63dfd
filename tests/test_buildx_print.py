"""buildx itself accepts every golden bake file: `docker buildx bake --print` on each.

This runs the buildx CLI plugin, which resolves the bake file (HCL interpolation included)
without building, so it lives outside tests/unit/ (whose tripwire forbids processes). It is
skipped only when `docker buildx version` fails; where BSLIM_REQUIRE_ENGINE=1 (the test
command and CI) a missing buildx is a failure instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.apply import render_files
from buildkit_slim.load import load as load_blueprint
from buildkit_slim.render.bake import escape_hcl
from tests.unit.regen_golden import EXPECTED, cases

REPO = Path(__file__).resolve().parents[1]


def _buildx_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not found"
    version = subprocess.run(["docker", "buildx", "version"], capture_output=True, text=True,
                             check=False)
    if version.returncode != 0:
        return f"`docker buildx version` failed: {(version.stderr or version.stdout).strip()}"
    return None


@pytest.fixture(scope="module")
def buildx() -> None:
    problem = _buildx_problem()
    if problem is None:
        return
    if os.environ.get("BSLIM_REQUIRE_ENGINE") == "1":
        pytest.fail(f"buildx is required here (BSLIM_REQUIRE_ENGINE=1): {problem}")
    pytest.skip(f"no buildx CLI plugin to check the golden bake files with: {problem}")


def materialize(case: Path, root: Path) -> Path:
    """The case as a project: its inputs plus the expected output where render writes it."""
    shutil.copytree(case, root, ignore=shutil.ignore_patterns(EXPECTED))
    shutil.copytree(case / EXPECTED, root, dirs_exist_ok=True)
    return root


def bake_print(root: Path, bake_file: str, tag: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "TAG" and not k.startswith("BUILDX_")}
    if tag is not None:
        env["TAG"] = tag
    result = subprocess.run(
        ["docker", "buildx", "bake", "--print", "-f", bake_file], cwd=root, env=env,
        capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"buildx rejected {bake_file}:\n{result.stderr}"
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def printed_escaped(buildx: None, tmp_path_factory: pytest.TempPathFactory) -> bool:
    """Whether this buildx prints values escaped again (`$${X}` for a literal `${X}`, so that
    its --print output is a bake file itself: buildx 0.29 does, 0.13 prints them resolved).
    Either way the build gets the literal value; the check below compares like with like."""
    root = tmp_path_factory.mktemp("probe")
    (root / "b.json").write_text('{"group": {"default": {"targets": ["p"]}}, '
                                   '"target": {"p": {"labels": {"x": "$${X}"}}}}')
    return bool(bake_print(root, "b.json", None)["target"]["p"]["labels"]["x"] == "$${X}")


@pytest.mark.usefixtures("buildx")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in cases()])
@pytest.mark.parametrize("tag", [None, "1.4.2"], ids=["default-tag", "TAG-from-env"])
def test_buildx_accepts_the_golden_bake_file(case: Path, tag: str | None, tmp_path: Path,
                                            printed_escaped: bool) -> None:
    root = materialize(case, tmp_path / case.name)
    blueprint = load_blueprint(root)[1]
    resolved = bake_print(root, blueprint.bake_file, tag)

    # publish-wheels adds `<target>-wheels` (the wheel image) beside its target (newer buildx
    # print a group's targets sorted, older ones as written).
    names = [n for t in blueprint.targets
             for n in (t.name, *([f"{t.name}-wheels"] if t.config.publish_wheels else []))]
    assert sorted(resolved["group"]["default"]["targets"]) == sorted(names)
    assert sorted(resolved["target"]) == sorted(names)
    for target in blueprint.targets:
        body = resolved["target"][target.name]
        assert body["platforms"] == list(target.platforms)
        assert body["tags"] == [f"{target.config.image}:{tag or 'dev'}"]
        assert body["dockerfile"] == target.dockerfile
        assert (root / body["dockerfile"]).is_file()
        assert body.get("target") == target.runtime_stage
        # What bake resolves is the value as written: every ${ and %{ stayed literal.
        spelled = escape_hcl if printed_escaped else str
        assert body.get("labels", {}) == {k: spelled(v) for k, v in target.labels}
        assert body.get("args", {}) == {k: spelled(v) for k, v in target.config.args}


@pytest.mark.usefixtures("buildx")
@pytest.mark.parametrize("project", [REPO, REPO / "examples" / "hello"], ids=["repo", "hello"])
def test_buildx_accepts_the_committed_bake_files(project: Path) -> None:
    # The repo's own bake/ and the example's are kept current by their own tests; here buildx
    # reads them where they are, as `bslim bake` would.
    blueprint = load_blueprint(project)[1]
    resolved = bake_print(project, blueprint.bake_file, None)
    assert sorted(resolved["target"]) == sorted(t.name for t in blueprint.targets)


# Target names at the edges of bslim's rule (a letter first, then letters, digits, '_', '-';
# distinct once lowercased): buildx must take each as a bake target name, with its derived
# `-wheels` target, and the stage and named-context names bslim derives from it.
EDGE_NAMES = ("a", "Z", "Api", "x_y-z", "b-", "default", "c--9", "d__e")


def edge_name_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables = "".join(
        f'[tool.slim.targets."{name}"]\nimage = "127.0.0.1:5000/bslim-names/t{index}"\n'
        + ('wheels-from = ["127.0.0.1:5000/bslim-names/base-wheels:1"]\n' if index == 2 else "")
        + ("publish-wheels = true\n" if index == 5 else "")
        + ("fast-wheels = false\n" if index == 3 else "")
        for index, name in enumerate(EDGE_NAMES))
    (root / "pyproject.toml").write_text(
        '[project]\nname = "hello"\nversion = "1.0.0"\ndependencies = []\n'
        '[project.scripts]\nhello = "hello:main"\n\n[tool.slim]\n'
        'platforms = ["linux/amd64"]\n' + tables, encoding="utf-8")
    (root / "hello").mkdir(exist_ok=True)
    (root / "hello" / "__init__.py").write_text("def main() -> None: ...\n", encoding="utf-8")
    render_files(root, load_blueprint(root)[1])
    return root


@pytest.mark.usefixtures("buildx")
def test_buildx_accepts_the_edge_target_names(tmp_path: Path) -> None:
    root = edge_name_project(tmp_path / "names")
    blueprint = load_blueprint(root)[1]
    resolved = bake_print(root, blueprint.bake_file, None)
    expected = [*EDGE_NAMES, "default-wheels"]
    assert sorted(resolved["group"]["default"]["targets"]) == sorted(expected)
    assert sorted(resolved["target"]) == sorted(expected)
    for target in blueprint.targets:
        body = resolved["target"][target.name]
        assert body["target"] == target.runtime_stage == f"{target.name.lower()}-runtime"
        assert sorted(body.get("contexts", {})) == sorted(
            [*dict(target.contexts), *(["bslim-shim"] if target.shim_dir else [])])
