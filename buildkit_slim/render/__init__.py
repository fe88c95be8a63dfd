"""Render a plan into the files bslim generates (pure: text in, text out)."""

from __future__ import annotations

from dataclasses import dataclass

from buildkit_slim.plan import Plan
from buildkit_slim.render.bake import render_bake
from buildkit_slim.render.dockerfile import render_dockerfile, shim_files
from buildkit_slim.render.dockerignore import render_dockerignore


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
    # The named context bslim-shim: the shim, what it pins, and each target's lists.
    shim = {f"{t.shim_dir}/{name}": text for t in plan.targets if t.shim_dir is not None
            for name, text in shim_files(t).items()}
    files += [GeneratedFile(path=path, text=text) for path, text in shim.items()]
    return tuple(sorted(files, key=lambda f: f.path))
