"""Build cache locations: `[tool.slim.cache]` (and per target) -> cache-from / cache-to (pure).

Rules that shape this (moby/buildkit#2529, buildx#1044): two builds that may run at the same
time must never write one cache location, so a per-platform job writes a per-platform ref and
reads every ref it can use; `mode=max` so the wheel stage is cached, not only the final layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from buildkit_slim.config.model import CacheConfig
from buildkit_slim.platforms import pair

platform_pair = pair  # the name render/ imports; buildkit_slim.platforms defines it


@dataclass(frozen=True, kw_only=True)
class CacheRefs:
    cache_from: tuple[str, ...]
    cache_to: tuple[str, ...]


def _registry_ref(repo: str, target: str, scope: str | None) -> str:
    return f"{repo}:{target}" + (f"-{scope}" if scope else "")


def cache_refs(
    cache: CacheConfig,
    *,
    target: str,
    all_platforms: Sequence[str],
    platforms: Sequence[str],
    export: bool = True,
    local: bool = True,
) -> CacheRefs:
    """Where one build of `target` for `platforms` reads and writes its cache.

    A build of every platform (one BuildKit solve) owns the target-wide location; a build of a
    subset (a CI matrix job) owns one location per platform set and reads all the others.
    """
    if not cache.enabled:
        return CacheRefs(cache_from=(), cache_to=())
    whole = tuple(platforms) == tuple(all_platforms)
    own_scope = None if whole else "-".join(platform_pair(p) for p in platforms)
    # Read what can help this build: its own location and the whole-target one for a subset;
    # for a whole build also what the per-platform jobs wrote.
    pairs = [platform_pair(p) for p in all_platforms]
    scopes: list[str | None] = [None, *pairs] if whole else [own_scope, None]
    read: list[str] = []
    write: list[str] = []
    if cache.registry:
        for scope in scopes:
            read.append(f"type=registry,ref={_registry_ref(cache.registry, target, scope)}")
        write.append(f"type=registry,ref={_registry_ref(cache.registry, target, own_scope)},"
                     "mode=max,ignore-error=true")
    if cache.gha:
        for scope in scopes:
            read.append(f"type=gha,scope={target}" + (f"-{scope}" if scope else ""))
        write.append(f"type=gha,scope={target}" + (f"-{own_scope}" if own_scope else "")
                     + ",mode=max,ignore-error=true")
    if cache.local and local:
        base = f"{cache.local}/{target}" + (f"-{own_scope}" if own_scope else "")
        read.append(f"type=local,src={base}")
        # type=local only ever grows: write a fresh directory, swapped in after the build.
        write.append(f"type=local,dest={base}{LOCAL_NEW_SUFFIX},mode=max")
    return CacheRefs(cache_from=tuple(read), cache_to=tuple(write) if export else ())


LOCAL_NEW_SUFFIX = ".new"


def local_dirs(cache: CacheConfig, *, target: str, all_platforms: Sequence[str],
               platforms: Sequence[str]) -> tuple[str, str] | None:
    """(current, freshly written) project-relative dirs of the local cache, for rotation."""
    if not cache.local:
        return None
    whole = tuple(platforms) == tuple(all_platforms)
    scope = "" if whole else "-" + "-".join(platform_pair(p) for p in platforms)
    base = f"{cache.local}/{target}{scope}"
    return base, base + LOCAL_NEW_SUFFIX


def gha_warning(env: Mapping[str, str], caches: Sequence[CacheConfig]) -> str | None:
    """buildx silently drops the gha cache when the runtime token is missing (run: steps)."""
    if not any(c.gha for c in caches) or env.get("GITHUB_ACTIONS") != "true":
        return None
    if env.get("ACTIONS_RUNTIME_TOKEN") and (env.get("ACTIONS_RESULTS_URL")
                                              or env.get("ACTIONS_CACHE_URL")):
        return None
    return ("cache.gha is set but ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL are not in the "
            "environment: buildx will silently skip the gha cache. Expose them with "
            "crazy-max/ghaction-github-runtime@v3 before this step, or use cache.registry.")
