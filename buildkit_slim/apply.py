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
    """Pure: what `docker buildx bake` gets for these choices.

    Per-run values (platforms, the CA secret) go into an override bake file passed after the
    generated one, not into `--set`: bake merges lists from later files (one value per key is
    all `--set` can carry through python-on-whales), and `--set` key names differ across buildx
    versions (`secret` vs `secrets`).
    """
    override: dict[str, dict[str, object]] = {}
    for target in chosen.targets:
        body: dict[str, object] = {}
        if platforms:
            body["platforms"] = list(target.platforms)
        if ca_bundle is not None:
            body["secret"] = [f"id=ca,src={ca_bundle.resolve()}"]
        if body:
            override[target.name] = body
    env = {"TAG": tag} if tag is not None else {}
    if ca_bundle is not None and not ca_bundle.resolve().is_relative_to(project_root.resolve()):
        # buildx >= 0.20 refuses secrets outside the working directory without `--allow
        # fs.read=...`, which python-on-whales cannot pass; the path is the user's own choice.
        env["BUILDX_BAKE_ENTITLEMENTS_FS"] = "0"
    everything = len(chosen.targets) == len(full.targets)
    return BakeRequest(
        project_root=project_root,
        files=(full.bake_file,),
        override={"target": override} if override else None,
        targets=() if everything else tuple(t.name for t in chosen.targets),
        overrides=dict(overrides),
        variables=env,
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
