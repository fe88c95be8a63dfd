"""Apply a plan: write the generated files, turn CLI choices into a bake request, run it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildkit_slim import files, render
from buildkit_slim.cache import cache_refs, gha_warning, local_dirs
from buildkit_slim.config import CACHE_MARKER, is_cache_dir
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import UsageError
from buildkit_slim.plan import WHEELS_SUFFIX, Plan, TargetPlan
from buildkit_slim.render.bake import escape_hcl

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


def bake_request(
    full: Plan,
    chosen: Plan,
    options: BakeOptions,
    *,
    exists: Callable[[Path], bool] = Path.exists,
) -> BakeRequest:
    """What `docker buildx bake` gets for these choices (`exists` is the only look outside).

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
        if target.config.publish_wheels and body:
            # The wheel image builds the same stages: same platforms and secret, but it never
            # writes the cache (the image target does; two writers of one ref race).
            override[target.name + WHEELS_SUFFIX] = dict(body)
        body.update(_cache_override(target, options, subset, exists))
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
    env = {"TAG": options.tag} if options.tag is not None else {}
    if any(not p.is_relative_to(root.resolve()) for p in outside):
        # buildx >= 0.20 refuses secrets and outputs outside the working directory without
        # `--allow fs...`, which python-on-whales cannot pass; the paths are the user's choice.
        env["BUILDX_BAKE_ENTITLEMENTS_FS"] = "0"
    return BakeRequest(
        project_root=root,
        files=(full.bake_file,),
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


def _cache_override(target: TargetPlan, options: BakeOptions, subset: bool,
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


def warnings(plan: Plan, env: Mapping[str, str]) -> list[str]:
    message = gha_warning(env, [t.config.cache for t in plan.targets])
    return [message] if message else []


def render_files(project_root: Path, plan: Plan) -> list[str]:
    return files.write_atomically(project_root, render.render_all(plan))


def _local_cache_dirs(chosen: Plan, options: BakeOptions) -> list[tuple[Path, Path]]:
    out = []
    for target in chosen.targets:
        dirs = local_dirs(target.config.cache, target=target.name,
                          all_platforms=target.config.platforms, platforms=target.platforms)
        if dirs is not None:
            current, new = (options.project_root / d for d in dirs)
            out.append((current, new))
    return out


def _replaceable(path: Path) -> bool:
    """Only a directory bslim (or BuildKit, for it) wrote may be deleted: never a symlink,
    never one holding anything else (cache.local = "." once made that the project's code)."""
    if path.is_symlink() or not path.is_dir():
        return False
    return is_cache_dir([p.name for p in path.iterdir()])


def _refuse(path: Path, project_root: Path) -> UsageError:
    return UsageError(f"{path.relative_to(project_root).as_posix()} is not a build cache bslim "
                      f"wrote (no {CACHE_MARKER} file in it); bslim deletes no directory it did "
                      "not create", hint="move it away, or point cache.local elsewhere")


def clear_stale_local_caches(chosen: Plan, options: BakeOptions) -> None:
    """A `.new` directory left by a failed build would be written into, and grow: start empty."""
    for _, new in _local_cache_dirs(chosen, options):
        if new.is_symlink() or new.exists():
            if not _replaceable(new):
                raise _refuse(new, options.project_root)
            shutil.rmtree(new)


def rotate_local_caches(chosen: Plan, options: BakeOptions) -> None:
    """type=local only grows: the build wrote a fresh directory; it replaces the old one."""
    if not options.export_cache:
        return
    for current, new in _local_cache_dirs(chosen, options):
        if new.is_dir() and not new.is_symlink():
            (new / CACHE_MARKER).write_text("a build cache written by bslim; bslim replaces "
                                            "this directory after each build\n",
                                            encoding="utf-8")
            if current.is_symlink() or current.exists():
                if not _replaceable(current):
                    raise _refuse(current, options.project_root)
                shutil.rmtree(current)
            new.rename(current)


def run_bake(request: BakeRequest, *, quiet: bool = False) -> None:
    """quiet: keep buildx's progress to show it only when the build fails."""
    from buildkit_slim import docker

    docker.bake(request, emit=(lambda line: None) if quiet else None)
