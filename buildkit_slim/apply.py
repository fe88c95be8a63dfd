"""Apply a plan: write the generated files, turn CLI choices into a bake request, run it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from buildkit_slim import files, render
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import UsageError
from buildkit_slim.plan import Plan


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key or key.startswith(".") or key.endswith("."):
            raise UsageError(f"--set: {item!r} must look like pattern.key=value, "
                             "e.g. *.args.FOO=bar or app.platform=linux/amd64")
        out[key] = value
    return out


def bake_request(
    full: Plan,
    chosen: Plan,
    *,
    project_root: Path,
    platforms: bool,
    overrides: dict[str, str],
    tag: str | None,
    push: bool,
    load: bool,
    builder: str | None,
    progress: str,
    metadata_file: Path | None,
    ca_bundle: Path | None,
    cache: bool,
) -> BakeRequest:
    """Pure: what `docker buildx bake` gets for these choices."""
    sets: dict[str, str] = {}
    if platforms:
        for target in chosen.targets:
            sets[f"{target.name}.platform"] = ",".join(target.platforms)
    if ca_bundle is not None:
        sets["*.secret"] = f"id=ca,src={ca_bundle.resolve()}"
    sets.update(overrides)  # the user's --set wins
    variables = {"TAG": tag} if tag is not None else {}
    everything = len(chosen.targets) == len(full.targets)
    return BakeRequest(
        project_root=project_root,
        files=(full.bake_file,),
        targets=() if everything else tuple(t.name for t in chosen.targets),
        overrides=sets,
        variables=variables,
        push=push,
        load=load,
        builder=builder,
        progress=progress,
        metadata_file=metadata_file.resolve() if metadata_file else None,
        cache=cache,
    )


def render_files(project_root: Path, plan: Plan) -> list[str]:
    return files.write_atomically(project_root, render.render_all(plan))


def run_bake(request: BakeRequest) -> None:
    from buildkit_slim import docker

    docker.bake(request)
