"""Render a plan into the files bslim generates (pure: text in, text out)."""

from __future__ import annotations

from dataclasses import dataclass

from buildkit_slim.plan import Plan
from buildkit_slim.render.bake import render_bake
from buildkit_slim.render.dockerfile import render_dockerfile, render_dockerignore


@dataclass(frozen=True, kw_only=True)
class GeneratedFile:
    path: str  # project-relative, posix
    text: str


def render_all(plan: Plan) -> tuple[GeneratedFile, ...]:
    files = [GeneratedFile(path=plan.bake_file, text=render_bake(plan))]
    if plan.generated_targets:
        files.append(GeneratedFile(path=plan.dockerfile, text=render_dockerfile(plan)))
        files.append(GeneratedFile(path=f"{plan.dockerfile}.dockerignore",
                                   text=render_dockerignore(plan)))
    return tuple(sorted(files, key=lambda f: f.path))
