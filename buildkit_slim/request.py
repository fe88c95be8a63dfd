"""What `docker buildx bake` gets for one run (pure but for one look at the local cache):
the command line's choices (BakeOptions) turned into a BakeRequest over the generated bake file.

Per-run values (platforms, secrets, per-platform cache refs, exports, the private copy of the
generation) go into an override bake file passed after the generated one, never into the
committed file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildkit_slim import reproducible as repro
from buildkit_slim.blueprint import SHIM_CONTEXT, WHEELS_SUFFIX, Blueprint, TargetBlueprint
from buildkit_slim.cache import cache_refs, gha_warning, local_dirs
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import UsageError
from buildkit_slim.local_cache import readable_cache
from buildkit_slim.render.bake import escape_hcl
from buildkit_slim.resources.origins import SBOM_ARG

EXPORT_SUFFIX = "-export-wheels"
PLAN_SUFFIX = "-plan"


def parse_overrides(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key or key.startswith(".") or key.endswith("."):
            raise UsageError(f"--set: {item!r} must look like pattern.key=value, "
                             "e.g. *.args.FOO=bar or app.platform=linux/amd64")
        out[key] = value
    return out


@dataclass(frozen=True, kw_only=True)
class BakeOptions:
    """What the user chose on the command line for one `bslim bake`."""

    project_root: Path
    platforms: tuple[str, ...] = ()  # narrowing; empty: every platform of each target
    overrides: Mapping[str, str] = field(default_factory=dict)
    tag: str | None = None
    push: bool = False
    load: bool = False
    builder: str | None = None
    progress: str = "plain"
    metadata_file: Path | None = None
    ca_bundle: Path | None = None
    netrc: Path | None = None  # credentials for private indexes, a secret like ca_bundle
    cache: bool = True  # False: --no-cache
    export_cache: bool = True  # False: --no-cache-export (pull requests must not write)
    export_wheels: Path | None = None
    report_dir: Path | None = None  # `bslim plan`: export the fetch stage's decisions here
    # A private copy of this run's generation (`render_files`): buildx reads the bake file,
    # Dockerfile and shim from there, so a render of the project while it builds cannot hand
    # it half of another generation.
    inputs: Path | None = None
    reproducible: bool = False
    epoch: str | None = None  # SOURCE_DATE_EPOCH of a reproducible build
    oci: Path | None = None  # images as OCI tarballs: DIR/<target>.oci.tar
    # --sbom: the install step records each wheel's origin (build arg SBOM_ARG), for the
    # generator to read. Only then: the record names each wheel's sha256, and a wheel built in
    # the build (the project's, at least) differs per build unless --reproducible.
    sbom: bool = False


def bake_request(
    full: Blueprint,
    chosen: Blueprint,
    options: BakeOptions,
    *,
    exists: Callable[[Path], bool] | None = None,
) -> BakeRequest:
    """What `docker buildx bake` gets for these choices (`exists`, whether a local cache to
    read is there, is the only look outside; by default `readable_cache`, which refuses a
    directory at a cache location that bslim did not write).

    Per-run values (platforms, the CA secret, per-platform cache refs, exports) go into an
    override bake file passed after the generated one, not into `--set`: bake replaces
    `platforms`/`cache-to`/`output` and appends `cache-from`/`secret` from later files, and
    `--set` key names differ across buildx versions (`secret` vs `secrets`).
    """
    root = options.project_root
    override: dict[str, dict[str, Any]] = {}
    outside: list[Path] = []
    for target in chosen.targets:
        body: dict[str, Any] = {}
        subset = tuple(target.platforms) != tuple(target.config.platforms)
        if subset:
            body["platforms"] = list(target.platforms)
        # Secrets go in per run, never into the committed bake file.
        for secret_id, source in (("ca", options.ca_bundle), ("netrc", options.netrc)):
            if source is not None:
                body.setdefault("secret", []).append(f"id={secret_id},src={source.resolve()}")
                outside.append(source.resolve())
        cache = _cache_override(target, options, subset,
                                exists or (lambda path: readable_cache(path, root)))
        # --reproducible and --oci: the build arg, and the image output.
        args = {**({repro.BUILD_ARG: "1"} if options.reproducible else {}),
                **({SBOM_ARG: "1"} if options.sbom else {})}
        output = repro.image_output(push=options.push, oci=options.oci and options.oci.resolve(),
                                    target=target.name, reproducible=options.reproducible)
        if target.config.publish_wheels and (body or args or output):
            # The wheel image builds the same stages: same platforms, secret and args, but it
            # never writes the cache (the image target does; two writers of one ref race) and
            # keeps its own output.
            override[target.name + WHEELS_SUFFIX] = {**body, **({"args": args} if args else {})}
        if output is not None:
            body["output"] = [output]
            if options.oci is not None:
                outside.append(options.oci.resolve())
        if args:
            body["args"] = args
        body.update(cache)
        if body:
            override[target.name] = body
    names: tuple[str, ...] = () if len(chosen.targets) == len(full.targets) else tuple(
        n for t in chosen.targets
        for n in (t.name, *([t.name + WHEELS_SUFFIX] if t.config.publish_wheels else [])))
    # Exports build one stage of each chosen target into a local directory, instead of images.
    exports = []
    if options.export_wheels is not None:
        exports.append((EXPORT_SUFFIX, options.export_wheels.resolve(), "--export-wheels"))
    if options.report_dir is not None:
        exports.append((PLAN_SUFFIX, options.report_dir.resolve(), "plan"))
    for suffix, dest, what in exports:
        outside.append(dest)
        for target in chosen.targets:
            stage = target.wheelhouse_stage if suffix == EXPORT_SUFFIX else (
                target.fetch_stage and target.stage("fetch-report"))
            if stage is None:
                raise UsageError(f"{what}: target {target.name!r} has no such stage (its own "
                                 "Dockerfile, or fast-wheels = false for plan)")
            override[target.name + suffix] = {
                "inherits": [target.name],
                "target": stage,
                "tags": [],
                "cache-to": [],
                "output": [f"type=local,dest={export_dir(dest, target.name)}"],
            }
        names = tuple(t.name + suffix for t in chosen.targets)
    bake_files: tuple[str, ...] = (full.bake_file,)
    if options.inputs is not None:
        bake_files = _read_inputs(full, options.inputs.resolve(), override)
        outside.append(options.inputs.resolve())
    env = {"TAG": options.tag} if options.tag is not None else {}
    if options.reproducible:
        env[repro.NO_DEFAULT_ATTESTATIONS] = "1"  # provenance records when the build ran
    if options.epoch is not None:
        env["SOURCE_DATE_EPOCH"] = options.epoch
    if any(not p.is_relative_to(root.resolve()) for p in outside):
        # buildx >= 0.20 refuses secrets and outputs outside the working directory without
        # `--allow fs...`, which python-on-whales cannot pass; the paths are the user's choice.
        env["BUILDX_BAKE_ENTITLEMENTS_FS"] = "0"
    return BakeRequest(
        project_root=root,
        files=bake_files,
        # A bake file too: paths (secret files, export dirs, caches) must stay literal.
        override={"target": _escape_all(override)} if override else None,
        targets=names,
        overrides=dict(options.overrides),
        variables=env,
        push=options.push,
        load=options.load,
        builder=options.builder,
        progress=options.progress,
        metadata_file=options.metadata_file.resolve() if options.metadata_file else None,
        cache=options.cache,
    )


def _read_inputs(full: Blueprint, inputs: Path, override: dict[str, dict[str, Any]]
                 ) -> tuple[str, ...]:
    """Point every target at the private copy of the generation: the Dockerfile (with its
    .dockerignore beside it) and the shim's context; returns the bake file to read."""
    def inside(path: str) -> str:
        return str(inputs / path.removeprefix(full.output_dir + "/"))

    for target in full.targets:
        body: dict[str, Any] = {}
        if target.dockerfile == full.dockerfile:
            body["dockerfile"] = inside(full.dockerfile)
        if target.shim_dir is not None:
            body["contexts"] = {SHIM_CONTEXT: inside(target.shim_dir)}
        names = [target.name] + ([target.name + WHEELS_SUFFIX]
                                 if target.config.publish_wheels else [])
        for name in names if body else []:
            override.setdefault(name, {}).update(body)
    return (inside(full.bake_file),)


def _escape_all(value: Any) -> Any:
    if isinstance(value, str):
        return escape_hcl(value)
    if isinstance(value, dict):
        return {k: _escape_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_all(v) for v in value]
    return value


def export_dir(dest: Path, target: str) -> Path:
    """Where buildx writes a target's wheels before `wheels.collect` sorts them."""
    return dest / f".bslim-export-{target}"


def _cache_override(target: TargetBlueprint, options: BakeOptions, subset: bool,
                    exists: Callable[[Path], bool]) -> dict[str, Any]:
    cache = target.config.cache
    if not cache.enabled:
        return {}
    body: dict[str, Any] = {}
    refs = cache_refs(cache, target=target.name, all_platforms=target.config.platforms,
                      platforms=target.platforms, export=options.export_cache)
    if subset:
        # The committed file names the whole-target locations; a per-platform build writes
        # its own (cache-to is replaced) and reads its own as well (cache-from is appended).
        body["cache-to"] = list(refs.cache_to)
        body["cache-from"] = [r for r in refs.cache_from if not r.startswith("type=local")]
    elif not options.export_cache:
        body["cache-to"] = []
    elif cache.local:
        body["cache-to"] = list(refs.cache_to)
    dirs = local_dirs(cache, target=target.name, all_platforms=target.config.platforms,
                      platforms=target.platforms)
    if dirs and exists(options.project_root / dirs[0]):
        body.setdefault("cache-from", []).append(f"type=local,src={dirs[0]}")
    return body


def warnings(blueprint: Blueprint, env: Mapping[str, str]) -> list[str]:
    message = gha_warning(env, [t.config.cache for t in blueprint.targets])
    return [message] if message else []
