"""Apply a plan: write the generated files, turn CLI choices into a bake request, run it."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildkit_slim import files, render
from buildkit_slim.cache import cache_refs, gha_warning, local_dirs
from buildkit_slim.config import CACHE_MARKER
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import UsageError
from buildkit_slim.plan import SHIM_CONTEXT, WHEELS_SUFFIX, Plan, TargetPlan
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
    # A private copy of this run's generation (`render_files`): buildx reads the bake file,
    # Dockerfile and shim from there, so a render of the project while it builds cannot hand
    # it half of another generation.
    inputs: Path | None = None


def bake_request(
    full: Plan,
    chosen: Plan,
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
        if target.config.publish_wheels and body:
            # The wheel image builds the same stages: same platforms and secret, but it never
            # writes the cache (the image target does; two writers of one ref race).
            override[target.name + WHEELS_SUFFIX] = dict(body)
        body.update(_cache_override(target, options, subset,
                                    exists or (lambda path: readable_cache(path, root))))
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


def _read_inputs(full: Plan, inputs: Path, override: dict[str, dict[str, Any]]
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


def render_files(project_root: Path, plan: Plan, inputs: Path | None = None) -> list[str]:
    """Write the generation into the output directory; with `inputs`, also the private copy
    the build reads (BakeOptions.inputs)."""
    generated = render.render_all(plan)
    if inputs is not None:
        for f in generated:
            path = inputs / f.path.removeprefix(plan.output_dir + "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            files.write_file(path, f.text.encode(), mode=files.GENERATED_MODE)
    return files.write_generated(project_root, plan.output_dir, generated)


def _local_cache_dirs(chosen: Plan, options: BakeOptions) -> list[tuple[Path, Path]]:
    out = []
    for target in chosen.targets:
        dirs = local_dirs(target.config.cache, target=target.name,
                          all_platforms=target.config.platforms, platforms=target.platforms)
        if dirs is not None:
            current, new = (options.project_root / d for d in dirs)
            out.append((current, new))
    return out


_BUILDKIT_TOP = frozenset(("index.json", "ingest", "blobs", "oci-layout"))
_HEX = re.compile(r"[0-9a-f]{16,128}")
_INGEST_FILES = frozenset(("data", "ref", "startedat", "total", "updatedat", "expected"))


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _real_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _buildkit_layout(path: Path) -> bool:
    """Exactly what BuildKit's local cache exporter writes, and nothing else: index.json,
    oci-layout, blobs/<algorithm>/<hex digest>, ingest/<hex>/<its bookkeeping>. A directory
    that only looks so from its top level (blobs/photo.png) is not one."""
    for entry in path.iterdir():
        name = entry.name
        if name not in _BUILDKIT_TOP:
            return False
        if name in ("index.json", "oci-layout"):
            if not _real_file(entry):
                return False
        elif not _real_dir(entry):
            return False
        elif name == "blobs":
            for algorithm in entry.iterdir():
                if not (_real_dir(algorithm) and algorithm.name.isalnum()
                        and all(_real_file(b) and _HEX.fullmatch(b.name)
                                for b in algorithm.iterdir())):
                    return False
        else:  # ingest
            for item in entry.iterdir():
                if not (_real_dir(item) and _HEX.fullmatch(item.name)
                        and all(_real_file(f) and f.name in _INGEST_FILES
                                for f in item.iterdir())):
                    return False
    return True


def owned_cache(path: Path) -> bool:
    """Whether bslim may read this directory as its cache and delete it: one it marked
    (`.bslim-cache`, a regular file), or BuildKit's cache layout with nothing else in it
    (what bslim versions before the mark left). Never a symlink."""
    if not _real_dir(path):
        return False
    try:
        return _real_file(path / CACHE_MARKER) or _buildkit_layout(path)
    except OSError:
        return False


def readable_cache(path: Path, project_root: Path) -> bool:
    """A local cache to hand BuildKit as cache-from: False when there is none; a directory
    there that bslim did not write is refused (BuildKit would fail on it, or read a user's
    files as a cache)."""
    if not path.exists() and not path.is_symlink():
        return False
    readable = (path / "index.json").is_file()
    if not owned_cache(path) or (not readable and not _real_file(path / CACHE_MARKER)):
        raise _refuse(path, project_root)
    return readable


def _refuse(path: Path, project_root: Path) -> UsageError:
    shown = path.relative_to(project_root).as_posix() if path.is_relative_to(project_root) \
        else str(path)
    return UsageError(f"{shown} is not a build cache bslim wrote (no {CACHE_MARKER} file in it, "
                      "and not BuildKit's cache layout alone); bslim neither reads it as a "
                      "cache nor deletes it", hint="move it away, or point cache.local "
                      "elsewhere")


def clear_stale_local_caches(chosen: Plan, options: BakeOptions) -> None:
    """A `.new` directory left by a failed build would be written into, and grow: start empty.
    Deletes only what `owned_cache` says bslim wrote, whoever calls it."""
    for _, new in _local_cache_dirs(chosen, options):
        if new.is_symlink() or new.exists():
            if not owned_cache(new):
                raise _refuse(new, options.project_root)
            shutil.rmtree(new)


def rotate_local_caches(chosen: Plan, options: BakeOptions) -> None:
    """type=local only grows: the build wrote a fresh directory; it replaces the old one.
    Marks and keeps only what BuildKit (or bslim) wrote; deletes only what `owned_cache` says
    bslim wrote, whoever calls it."""
    if not options.export_cache:
        return
    for current, new in _local_cache_dirs(chosen, options):
        if not new.is_dir() or new.is_symlink():
            continue
        for path in (new, current):
            if (path.is_symlink() or path.exists()) and not owned_cache(path):
                raise _refuse(path, options.project_root)
        if not (new / "index.json").is_file():
            continue  # an export that did not finish: the next build clears it
        (new / CACHE_MARKER).write_text("a build cache written by bslim; bslim replaces "
                                        "this directory after each build\n",
                                        encoding="utf-8")
        if current.is_symlink() or current.exists():
            shutil.rmtree(current)
        new.rename(current)


@contextlib.contextmanager
def local_cache_rotation(chosen: Plan, options: BakeOptions) -> Iterator[None]:
    """Around a build that writes the local cache: a fresh `.new` before it, swapped in after
    it; a build that fails or is interrupted leaves no unfinished `.new` behind."""
    clear_stale_local_caches(chosen, options)
    try:
        yield
    except BaseException:
        with contextlib.suppress(UsageError, OSError):
            clear_stale_local_caches(chosen, options)
        raise
    rotate_local_caches(chosen, options)


def run_bake(request: BakeRequest, *, quiet: bool = False) -> None:
    """quiet: keep buildx's progress to show it only when the build fails."""
    from buildkit_slim import docker

    docker.bake(request, emit=(lambda line: None) if quiet else None)
