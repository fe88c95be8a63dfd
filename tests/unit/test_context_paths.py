"""Issue #17: the paths [tool.slim] names, against what bslim writes and what the build sees.

- bslim never overwrites a file it does not own: a path a key names inside the output directory
  (where bslim writes and replaces) is an error naming both keys, and nothing is written;
- nothing the default .dockerignore leaves out (secrets, VCS, virtualenvs, tool caches) comes
  back into the build through a key that re-includes it (`!path`) or hands it to the build as a
  named context; `find-links` and `wheels-from` name directories, `requirements` and
  `dockerfile` regular files;
- the local cache directory, which every build changes, is not in the build context.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.config import load
from buildkit_slim.errors import ConfigError
from buildkit_slim.render import render_all
from buildkit_slim.render.dockerignore import DOCKERIGNORE
from tests.unit.conftest import WriteProject
from tests.unit.test_cli import run

PROJECT = """\
    [project]
    name = "hello"
    version = "1.0.0"
    dependencies = []

    [project.scripts]
    hello = "hello:main"

"""
USER_DOCKERFILE = "FROM python:3.13-slim\n# the user's own\n"


def slim(*lines: str) -> str:
    return PROJECT + "".join(f"    {line}\n" for line in lines)


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(root)
    return list(info.value.problems)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def dockerignore(root: Path) -> list[str]:
    text = next(f.text for f in render_all(make_blueprint(load(root)))
                if f.path.endswith(".dockerignore"))
    return text.splitlines()


# --- files bslim does not own, inside the output directory ---------------------------------

# (config lines, files of the user's, the key naming a path in the output dir)
OWN_FILE_CASES = {
    "dockerfile-beside-generated": (
        ["[tool.slim.targets.api]", "[tool.slim.targets.own]", 'image = "own"',
         'dockerfile = "bake/Dockerfile"'],
        {"bake/Dockerfile": USER_DOCKERFILE}, "tool.slim.targets.own.dockerfile"),
    "dockerfile-only-target": (
        ["[tool.slim]", 'dockerfile = "bake/Dockerfile"'],
        {"bake/Dockerfile": USER_DOCKERFILE}, "tool.slim.dockerfile"),
    "requirements": (
        ["[tool.slim]", 'requirements = "bake/Dockerfile"'],
        {"bake/Dockerfile": USER_DOCKERFILE}, "tool.slim.requirements"),
    "requirements-bake-file": (
        ["[tool.slim]", 'requirements = "bake/docker-bake.json"'],
        {"bake/docker-bake.json": "{}\n"}, "tool.slim.requirements"),
    "requirements-shim": (
        ["[tool.slim]", 'requirements = "bake/shim/pip_for_target.py"'],
        {"bake/shim/pip_for_target.py": "# mine\n"}, "tool.slim.requirements"),
    "dockerfile-other-output-dir": (
        ["[tool.slim]", 'output-dir = "gen"', "[tool.slim.targets.api]",
         "[tool.slim.targets.own]", 'image = "own"', 'dockerfile = "gen/Dockerfile.dockerignore"'],
        {"gen/Dockerfile.dockerignore": USER_DOCKERFILE}, "tool.slim.targets.own.dockerfile"),
    "find-links-output-dir": (
        ["[tool.slim]", 'find-links = ["bake"]'], {"bake/Dockerfile": USER_DOCKERFILE},
        "tool.slim.find-links[0]"),
    "find-links-shim-dir": (
        ["[tool.slim]", 'find-links = ["wheels", "bake/shim"]'],
        {"bake/shim/pip_for_target.py": "# mine\n", "wheels/.keep": ""},
        "tool.slim.find-links[1]"),
    "wheels-from-shim-dir": (
        ["[tool.slim]", "[tool.slim.targets.api]", 'wheels-from = ["bake/shim"]'],
        {"bake/shim/pip_for_target.py": "# mine\n"}, "tool.slim.targets.api.wheels-from[0]"),
}


@pytest.mark.parametrize("case", list(OWN_FILE_CASES))
def test_a_path_inside_the_output_dir_is_refused_naming_both_keys(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str], case: str) -> None:
    lines, files, key = OWN_FILE_CASES[case]
    root = write_project(slim(*lines), files)
    before = tree(root)
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2, result.err
    assert tree(root) == before  # the user's file is still theirs, nothing else written
    [line] = [e for e in result.err_lines if e.startswith(f"error: {key}: ")]
    assert "tool.slim.output-dir" in line, line
    assert "bslim writes" in line, line


def test_a_file_beside_the_output_dir_is_fine(write_project: WriteProject) -> None:
    root = write_project(slim("[tool.slim.targets.api]", "[tool.slim.targets.own]",
                              'image = "own"', 'dockerfile = "bake.Dockerfile"',
                              'requirements = "bake-req.txt"'),
                         {"bake.Dockerfile": USER_DOCKERFILE, "bake-req.txt": "a==1\n"})
    assert [t.dockerfile for t in make_blueprint(load(root)).targets] == [
        "bake/Dockerfile", "bake.Dockerfile"]


# --- what the default .dockerignore leaves out stays out --------------------------------------

@pytest.mark.parametrize(("value", "files"), [
    (".env", {".env": "TOKEN=secret\n"}),
    (".git", {".git/config": "[core]\n"}),
    (".git/objects", {".git/objects/x": ""}),
    (".venv", {".venv/lib/x.whl": ""}),
    ("pkg/__pycache__", {"pkg/__pycache__/x.pyc": ""}),
    ("hello.egg-info", {"hello.egg-info/PKG-INFO": ""}),
    (".tox/wheels", {".tox/wheels/x.whl": ""}),
])
def test_find_links_never_brings_back_a_default_excluded_path(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str], value: str,
        files: dict[str, str]) -> None:
    root = write_project(slim("[tool.slim]", f"find-links = [{json.dumps(value)}]"), files)
    before = tree(root)
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2, result.err
    assert tree(root) == before
    [line] = result.err_lines
    assert line.startswith("error: tool.slim.find-links[0]: "), line
    assert "left out of the build context" in line, line


@pytest.mark.parametrize(("key", "value", "files"), [
    ("requirements", ".env", {".env": "TOKEN=secret\n"}),
    ("requirements", ".git/config", {".git/config": "[core]\n"}),
    ("requirements", "venv/constraints.txt", {"venv/constraints.txt": "a==1\n"}),
    ("wheels-from", '[".git"]', {".git/config": "[core]\n"}),
    ("wheels-from", '[".venv"]', {".venv/x.whl": ""}),
])
def test_no_other_key_brings_back_a_default_excluded_path(
        write_project: WriteProject, key: str, value: str, files: dict[str, str]) -> None:
    shown = value if value.startswith("[") else json.dumps(value)
    root = write_project(slim("[tool.slim]", f"{key} = {shown}"), files)
    [line] = problems(root)
    assert line.startswith(f"tool.slim.{key}"), line
    assert "left out of the build context" in line, line


def test_wheelhouses_under_dist_and_build_stay_allowed(write_project: WriteProject) -> None:
    # The documented use: a wheelhouse (or a lock file) under dist/ or build/ is re-included.
    root = write_project(slim("[tool.slim]", 'find-links = ["dist/wheels", "build"]',
                              'requirements = "dist/constraints.txt"'),
                         {"dist/wheels/a.whl": "", "build/b.whl": "",
                          "dist/constraints.txt": "a==1\n"})
    lines = dockerignore(root)
    assert {"!dist/wheels", "!build", "!dist/constraints.txt"} <= set(lines)


@pytest.mark.parametrize(("value", "files", "said"), [
    ("req.txt", {"req.txt": "a==1\n"}, "is a file, not a directory"),
    ("wheels.zip", {"wheels.zip": ""}, "is a file, not a directory"),
])
def test_find_links_must_be_a_directory(write_project: WriteProject, value: str,
                                        files: dict[str, str], said: str) -> None:
    root = write_project(slim("[tool.slim]", f"find-links = [{json.dumps(value)}]"), files)
    [line] = problems(root)
    assert line.startswith("tool.slim.find-links[0]: "), line
    assert said in line, line


def test_wheels_from_a_file_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim("[tool.slim]", 'wheels-from = ["a.whl"]'), {"a.whl": ""})
    [line] = problems(root)
    assert line.startswith("tool.slim.wheels-from[0]: "), line
    assert "not a directory" in line, line


@pytest.mark.parametrize("key", ["requirements", "dockerfile"])
@pytest.mark.parametrize("value", [".", "src", "src/"])
def test_requirements_and_dockerfile_must_be_regular_files(
        write_project: WriteProject, key: str, value: str) -> None:
    root = write_project(slim("[tool.slim]", f"{key} = {json.dumps(value)}"),
                         {"src/hello/__init__.py": ""})
    [line] = problems(root)
    assert line.startswith(f"tool.slim.{key}: "), line
    assert "not a regular file" in line, line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_requirements_a_fifo_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim("[tool.slim]", 'requirements = "req.txt"'))
    os.mkfifo(root / "req.txt")
    [line] = problems(root)
    assert line.startswith("tool.slim.requirements: "), line
    assert "not a regular file" in line, line


# --- the local cache is not part of the build context ---------------------------------------

@pytest.mark.parametrize(("lines", "excluded"), [
    (["[tool.slim.cache]", 'local = ".cache/bk"'], [".cache/bk/hello"]),
    (["[tool.slim.targets.api]", "[tool.slim.targets.api.cache]", 'local = "caches/api"',
      "[tool.slim.targets.web]", 'image = "web"', "[tool.slim.targets.web.cache]",
      'local = "caches/web"'],
     ["caches/api/api", "caches/web/web"]),
    # A target with its own Dockerfile shares the context of the generated ones.
    (["[tool.slim.targets.api]", "[tool.slim.targets.own]", 'image = "own"',
      'dockerfile = "ops/Dockerfile"',
      "[tool.slim.targets.own.cache]", 'local = "own-cache"'], ["own-cache/own"]),
])
def test_the_local_cache_dir_is_left_out_of_the_context(
        write_project: WriteProject, lines: list[str], excluded: list[str]) -> None:
    root = write_project(slim(*lines), {"ops/Dockerfile": USER_DOCKERFILE})
    ignored = dockerignore(root)
    for path in excluded:
        # What bslim writes there: <dir>/<target>, per platform set <dir>/<target>-<pairs>,
        # and the .new directory a build writes before it is swapped in.
        assert {path, f"{path}-*", f"{path}.new"} <= set(ignored), ignored
        assert not [line for line in ignored if line.startswith("!") and path in line]


def test_only_the_cache_dirs_bslim_writes_are_left_out(write_project: WriteProject) -> None:
    # cache.local may be a directory holding more (here: the code); only bslim's caches go.
    root = write_project(slim("[tool.slim.cache]", 'local = "src"'), {"src/app/main.py": ""})
    ignored = dockerignore(root)
    assert "src" not in ignored
    assert {"src/hello", "src/hello-*", "src/hello.new"} <= set(ignored), ignored


def test_the_default_excludes_are_what_keys_may_not_bring_back() -> None:
    # The list config refuses re-including is the generated .dockerignore's, but dist/ and
    # build/ (wheelhouses live there, find-links brings them back on purpose).
    from buildkit_slim.config.checks import NEVER_IN_CONTEXT

    assert set(DOCKERIGNORE) - {"build", "dist"} == set(NEVER_IN_CONTEXT)
