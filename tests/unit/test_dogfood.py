"""bslim builds its own image: the repo's bake/ (and the example's) is what `bslim render` makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.config import load
from buildkit_slim.render import render_all

REPO = Path(__file__).resolve().parents[2]


def test_the_repo_configures_itself() -> None:
    cfg = load(REPO)
    (target,) = cfg.targets
    assert target.image == "ghcr.io/bslim-dev/bslim"
    assert target.entrypoint == ("bslim",)  # derived: the one [project.scripts] entry
    assert dict(target.sources)["entrypoint"] == "derived"


@pytest.mark.parametrize("project", [".", "examples/hello"])
def test_committed_generated_files_are_current(project: str) -> None:
    root = REPO / project
    blueprint = make_blueprint(load(root))
    expected = {f.path: f.text for f in render_all(blueprint)}
    on_disk = {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((root / blueprint.output_dir).rglob("*")) if p.is_file()
    }
    if on_disk != expected:
        stale = sorted(p for p in set(on_disk) | set(expected)
                       if on_disk.get(p) != expected.get(p))
        pytest.fail(f"generated files in {project} are stale: {', '.join(stale)}; run "
                    f"`bslim render --project {project}` at the repo root and commit them",
                    pytrace=False)
