"""What BuildKit makes of the names and the build context bslim generates (#17).

- Target names at the edges of bslim's rule give stage and named-context names buildx and
  BuildKit accept; names the rule refuses, rendered past it, are refused by BuildKit itself
  (the rule is BuildKit's, not a guess). A bake whose targets name a stage that does not exist
  stops once BuildKit has parsed every stage ("target stage ... could not be found"), before
  it pulls or runs anything. (BuildKit 0.13 does not refuse two stages of one name: with `API`
  beside `api` the Dockerfile parses, and one `api-fetch` answers for both, which is why config
  refuses the pair.)
- The local build cache stays out of the build context: a second build with nothing changed
  runs none of the project's steps again (every build rewrites the cache directory, which in
  the context invalidated `COPY . /src`).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from buildkit_slim.apply import render_files
from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.config import load
from tests.e2e.conftest import bslim, make_project
from tests.test_buildx_print import edge_name_project

NO_STAGE = "bslim-no-such-stage"


def parse(root: Path, *targets: str) -> str:
    """What buildx and BuildKit make of the project's bake file and Dockerfile: the error output
    of a bake of the targets (default: all) whose stage does not exist (it never gets
    further; the first target to fail is the one reported)."""
    result = subprocess.run(
        ["docker", "buildx", "bake", "--progress", "plain", "-f", "bake/docker-bake.json",
         "--set", f"*.target={NO_STAGE}", "--set", "*.platform=linux/amd64", *targets],
        cwd=root, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_buildkit_parses_the_stages_of_edge_target_names(engine: None, tmp_path: Path) -> None:
    # Named contexts (wheels-from) included: buildx checks their names before the build.
    root = edge_name_project(tmp_path / "names")
    err = parse(root)
    assert f'target stage "{NO_STAGE}" could not be found' in err, err[-2000:]
    assert "invalid" not in err, err[-2000:]


@pytest.mark.parametrize(("names", "said"), [
    (("1api", "web"), "invalid name for build stage"),
    (("_api", "web"), "invalid name for build stage"),
    (("-api", "web"), "invalid name for build stage"),
    # <name>-fetch is no image name: BuildKit looks every stage up as a named context
    (("c--_9", "web"), "invalid context name c--_9-fetch"),
    (("a_-b", "web"), "invalid context name a_-b-fetch"),
])
def test_buildkit_refuses_the_names_bslim_refuses(engine: None, tmp_path: Path,
                                                 names: tuple[str, str], said: str) -> None:
    root = edge_name_project(tmp_path / "names")
    config = load(root)
    # Past config's rule (which refuses these names): what BuildKit says of the stages.
    forced = replace(config, targets=tuple(
        replace(t, name=n) for t, n in zip(config.targets, names, strict=False)))
    render_files(root, make_blueprint(forced))
    err = parse(root)
    assert said in err, err[-2000:]
    assert "could not be found" not in err, err[-2000:]


@pytest.mark.parametrize("name", ["Named", "named"])
def test_a_named_context_must_be_lowercase(engine: None, tmp_path: Path, name: str) -> None:
    # Why bslim lowercases the stage prefix (its wheels-from contexts share it): BuildKit
    # parses a named context's name as an image name, and the build fails on an uppercase one
    # (before, target `Api` with wheels-from rendered `Api-wheels-from-0`).
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("x\n")
    (tmp_path / "Dockerfile").write_text(f"FROM scratch AS a\nCOPY --from={name} / /x/\n")
    (tmp_path / "bake.json").write_text(json.dumps({"target": {"t": {
        "context": ".", "contexts": {name: "./d"}, "platforms": ["linux/amd64"]}}}))
    result = subprocess.run(["docker", "buildx", "bake", "--progress", "plain", "-f",
                             "bake.json", "t"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, check=False)
    if name.islower():
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        assert result.returncode != 0
        assert "must be lowercase" in result.stderr, result.stderr[-2000:]
    root = edge_name_project(tmp_path / "names")
    contexts = [c for t in make_blueprint(load(root)).targets for c, _ in t.contexts]
    assert contexts == [c.lower() for c in contexts] and "api-wheels-from-0" in contexts


def executed_steps(log: str, pattern: str) -> list[str]:
    """Headers of the build steps matching `pattern` that ran (were not CACHED)."""
    headers: dict[str, str] = {}
    cached: set[str] = set()
    for line in log.splitlines():
        if match := re.match(r"^#(\d+) (\[[^\]]+\] .*)$", line):
            if re.search(pattern, match.group(2)):
                headers.setdefault(match.group(1), match.group(2))
        elif match := re.match(r"^#(\d+) CACHED$", line):
            cached.add(match.group(1))
    return [header for step, header in headers.items() if step not in cached]


def test_the_local_cache_does_not_rerun_the_project_steps(
        engine: None, ca_bundle: tuple[Path, str], tmp_path: Path) -> None:
    project = make_project(tmp_path / "e2eapp", dependencies=["tinypure==0.1.0"],
                           packages=("tinypure",))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'platforms = ["linux/amd64"]\n'
                         '[tool.slim.cache]\nlocal = ".cache/bk"\n')
    argv = ("bake", "--project", str(project), "--ca-bundle", str(ca_bundle[0]))
    first = bslim(*argv)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (project / ".cache" / "bk" / "e2eapp" / "index.json").is_file()
    assert executed_steps(first.stderr, r"COPY \. /src")  # the probe sees a step that ran
    second = bslim(*argv)
    assert second.returncode == 0, second.stderr[-3000:]
    assert executed_steps(second.stderr, r"COPY \. /src") == [], second.stderr[-3000:]
    assert executed_steps(second.stderr, r"RUN ") == [], second.stderr[-3000:]
