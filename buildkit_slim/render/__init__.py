"""Render a blueprint into the files bslim generates (pure: text in, text out)."""

from __future__ import annotations

from dataclasses import dataclass

from buildkit_slim.blueprint import Blueprint
from buildkit_slim.render.bake import render_bake
from buildkit_slim.render.dockerfile import render_dockerfile
from buildkit_slim.render.dockerignore import render_dockerignore
from buildkit_slim.render.shim import shim_files


@dataclass(frozen=True, kw_only=True)
class GeneratedFile:
    path: str  # project-relative, posix
    text: str


def render_all(blueprint: Blueprint) -> tuple[GeneratedFile, ...]:
    files = [GeneratedFile(path=blueprint.bake_file, text=render_bake(blueprint))]
    if blueprint.generated_targets:
        files.append(GeneratedFile(path=blueprint.dockerfile, text=render_dockerfile(blueprint)))
        files.append(GeneratedFile(path=f"{blueprint.dockerfile}.dockerignore",
                                   text=render_dockerignore(blueprint)))
    # The named context bslim-shim: the shim, what it pins, and each target's lists.
    shim = {f"{t.shim_dir}/{name}": text for t in blueprint.targets if t.shim_dir is not None
            for name, text in shim_files(t).items()}
    files += [GeneratedFile(path=path, text=text) for path, text in shim.items()]
    return tuple(sorted(files, key=lambda f: f.path))
