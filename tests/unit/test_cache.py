"""Cache locations: what a whole build and a per-platform build read and write, local cache
directories, the gha warning, and the rule that no two concurrent builds write one location."""

from __future__ import annotations

import itertools

import pytest

from buildkit_slim.cache import (
    CacheRefs,
    cache_refs,
    gha_warning,
    local_dirs,
    platform_pair,
)
from buildkit_slim.config import NO_CACHE, CacheConfig

AMD, ARM, ARM64 = "linux/amd64", "linux/arm/v7", "linux/arm64"
BOTH = (AMD, ARM)
REPO = "ghcr.io/acme/spark-cache"
REGISTRY = CacheConfig(registry=REPO)
GHA = CacheConfig(gha=True)
LOCAL = CacheConfig(local=".cache/bk")
ALL = CacheConfig(registry=REPO, local=".cache/bk", gha=True)
WRITE = ",mode=max,ignore-error=true"
GHA_WARNING = (
    "cache.gha is set but ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL are not in the "
    "environment: buildx will silently skip the gha cache. Expose them with "
    "crazy-max/ghaction-github-runtime@v3 before this step, or use cache.registry."
)


@pytest.mark.parametrize(("platform", "pair"), [
    (AMD, "linux-amd64"),
    (ARM, "linux-arm-v7"),
    (ARM64, "linux-arm64"),
    ("linux/arm/v6", "linux-arm-v6"),
])
def test_platform_pair(platform: str, pair: str) -> None:
    assert platform_pair(platform) == pair


@pytest.mark.parametrize(("cache", "enabled"), [
    (NO_CACHE, False),
    (REGISTRY, True),
    (GHA, True),
    (LOCAL, True),
    (CacheConfig(registry="", local=""), False),
])
def test_enabled(cache: CacheConfig, enabled: bool) -> None:
    assert cache.enabled is enabled


# (cache, platforms of this build, export, local, cache-from, cache-to); the target is `api`
# with platforms linux/amd64 and linux/arm/v7.
REFS = [
    pytest.param(NO_CACHE, BOTH, True, True, (), (), id="disabled"),
    pytest.param(NO_CACHE, (ARM,), True, True, (), (), id="disabled-subset"),
    # A whole build reads its own location and every per-platform one, writes its own.
    pytest.param(REGISTRY, BOTH, True, True,
                 (f"type=registry,ref={REPO}:api",
                  f"type=registry,ref={REPO}:api-linux-amd64",
                  f"type=registry,ref={REPO}:api-linux-arm-v7"),
                 (f"type=registry,ref={REPO}:api{WRITE}",), id="registry-whole"),
    # A per-platform build reads its own location first, then the whole-target one.
    pytest.param(REGISTRY, (ARM,), True, True,
                 (f"type=registry,ref={REPO}:api-linux-arm-v7",
                  f"type=registry,ref={REPO}:api"),
                 (f"type=registry,ref={REPO}:api-linux-arm-v7{WRITE}",), id="registry-arm"),
    pytest.param(REGISTRY, (AMD,), True, True,
                 (f"type=registry,ref={REPO}:api-linux-amd64",
                  f"type=registry,ref={REPO}:api"),
                 (f"type=registry,ref={REPO}:api-linux-amd64{WRITE}",), id="registry-amd"),
    pytest.param(REGISTRY, BOTH, False, True,
                 (f"type=registry,ref={REPO}:api",
                  f"type=registry,ref={REPO}:api-linux-amd64",
                  f"type=registry,ref={REPO}:api-linux-arm-v7"),
                 (), id="registry-no-export"),
    pytest.param(REGISTRY, (ARM,), False, True,
                 (f"type=registry,ref={REPO}:api-linux-arm-v7",
                  f"type=registry,ref={REPO}:api"),
                 (), id="registry-subset-no-export"),
    pytest.param(GHA, BOTH, True, True,
                 ("type=gha,scope=api", "type=gha,scope=api-linux-amd64",
                  "type=gha,scope=api-linux-arm-v7"),
                 (f"type=gha,scope=api{WRITE}",), id="gha-whole"),
    pytest.param(GHA, (ARM,), True, True,
                 ("type=gha,scope=api-linux-arm-v7", "type=gha,scope=api"),
                 (f"type=gha,scope=api-linux-arm-v7{WRITE}",), id="gha-arm"),
    # type=local writes a fresh directory (rotated after the build), without ignore-error.
    pytest.param(LOCAL, BOTH, True, True,
                 ("type=local,src=.cache/bk/api",),
                 ("type=local,dest=.cache/bk/api.new,mode=max",), id="local-whole"),
    pytest.param(LOCAL, (ARM,), True, True,
                 ("type=local,src=.cache/bk/api-linux-arm-v7",),
                 ("type=local,dest=.cache/bk/api-linux-arm-v7.new,mode=max",), id="local-arm"),
    pytest.param(LOCAL, BOTH, True, False, (), (), id="local-left-out"),
    pytest.param(LOCAL, BOTH, False, True, ("type=local,src=.cache/bk/api",), (),
                 id="local-no-export"),
    # Order: registry, then gha, then local; reads in the same scope order for each.
    pytest.param(ALL, BOTH, True, True,
                 (f"type=registry,ref={REPO}:api",
                  f"type=registry,ref={REPO}:api-linux-amd64",
                  f"type=registry,ref={REPO}:api-linux-arm-v7",
                  "type=gha,scope=api", "type=gha,scope=api-linux-amd64",
                  "type=gha,scope=api-linux-arm-v7",
                  "type=local,src=.cache/bk/api"),
                 (f"type=registry,ref={REPO}:api{WRITE}",
                  f"type=gha,scope=api{WRITE}",
                  "type=local,dest=.cache/bk/api.new,mode=max"), id="all-whole"),
    pytest.param(ALL, (AMD,), True, False,
                 (f"type=registry,ref={REPO}:api-linux-amd64",
                  f"type=registry,ref={REPO}:api",
                  "type=gha,scope=api-linux-amd64", "type=gha,scope=api"),
                 (f"type=registry,ref={REPO}:api-linux-amd64{WRITE}",
                  f"type=gha,scope=api-linux-amd64{WRITE}"), id="all-amd-no-local"),
]


@pytest.mark.parametrize(("cache", "platforms", "export", "local", "read", "write"), REFS)
def test_cache_refs(cache: CacheConfig, platforms: tuple[str, ...], export: bool, local: bool,
                    read: tuple[str, ...], write: tuple[str, ...]) -> None:
    refs = cache_refs(cache, target="api", all_platforms=BOTH, platforms=platforms,
                      export=export, local=local)
    assert refs == CacheRefs(cache_from=read, cache_to=write)


def test_a_subset_of_several_platforms_has_one_scope() -> None:
    refs = cache_refs(REGISTRY, target="api", all_platforms=(AMD, ARM, ARM64),
                      platforms=(AMD, ARM64))
    assert refs == CacheRefs(
        cache_from=(f"type=registry,ref={REPO}:api-linux-amd64-linux-arm64",
                    f"type=registry,ref={REPO}:api"),
        cache_to=(f"type=registry,ref={REPO}:api-linux-amd64-linux-arm64{WRITE}",),
    )


def test_a_single_platform_target_is_always_a_whole_build() -> None:
    refs = cache_refs(REGISTRY, target="api", all_platforms=(ARM,), platforms=(ARM,))
    assert refs.cache_to == (f"type=registry,ref={REPO}:api{WRITE}",)


def _location(ref: str) -> str:
    """The place a cache-to entry writes: type plus ref, scope or dest, without the options."""
    fields = dict(part.split("=", 1) for part in ref.split(","))
    place = fields.get("ref") or fields.get("scope") or fields.get("dest")
    assert place is not None, ref
    return f"{fields['type']}:{place}"


def _subsets(platforms: tuple[str, ...]) -> list[tuple[str, ...]]:
    # In config order, as `blueprint.select` narrows: every build bslim can start for the target.
    return [combo for size in range(1, len(platforms) + 1)
            for combo in itertools.combinations(platforms, size)]


@pytest.mark.parametrize("all_platforms", [
    pytest.param((ARM,), id="one"),
    pytest.param(BOTH, id="two"),
    pytest.param((AMD, ARM, ARM64, "linux/arm/v6"), id="four"),
])
def test_no_two_builds_write_one_location(all_platforms: tuple[str, ...]) -> None:
    """A whole build and every per-platform subset of it may run at the same time (a CI
    matrix next to a local build): each must write places nobody else writes."""
    writers: dict[str, tuple[str, ...]] = {}
    subsets = _subsets(all_platforms)
    assert len(subsets) == 2 ** len(all_platforms) - 1
    for platforms in subsets:
        refs = cache_refs(ALL, target="api", all_platforms=all_platforms, platforms=platforms)
        assert len(refs.cache_to) == 3, platforms  # registry, gha and local each write
        for ref in refs.cache_to:
            place = _location(ref)
            assert place not in writers, f"{platforms} and {writers[place]} both write {place}"
            writers[place] = platforms
    assert len(writers) == 3 * len(subsets)


@pytest.mark.parametrize("platforms", _subsets((AMD, ARM, ARM64)), ids=",".join)
def test_every_build_reads_what_it_writes_and_the_whole_target(
        platforms: tuple[str, ...]) -> None:
    refs = cache_refs(ALL, target="api", all_platforms=(AMD, ARM, ARM64), platforms=platforms)
    read = {_location(r.replace(",src=", ",dest=")) for r in refs.cache_from}
    for ref in refs.cache_to:
        # The local cache is written next to the directory it is read from, then rotated.
        assert _location(ref).removesuffix(".new") in read
    assert f"registry:{REPO}:api" in read
    assert "gha:api" in read


# (cache, platforms of this build, expected (current, new) dirs)
LOCAL_DIRS = [
    pytest.param(LOCAL, BOTH, (".cache/bk/api", ".cache/bk/api.new"), id="whole"),
    pytest.param(LOCAL, (ARM,), (".cache/bk/api-linux-arm-v7", ".cache/bk/api-linux-arm-v7.new"),
                 id="arm"),
    pytest.param(ALL, (AMD,), (".cache/bk/api-linux-amd64", ".cache/bk/api-linux-amd64.new"),
                 id="amd-all-kinds"),
    pytest.param(REGISTRY, BOTH, None, id="registry-only"),
    pytest.param(NO_CACHE, (ARM,), None, id="none"),
]


@pytest.mark.parametrize(("cache", "platforms", "dirs"), LOCAL_DIRS)
def test_local_dirs(cache: CacheConfig, platforms: tuple[str, ...],
                    dirs: tuple[str, str] | None) -> None:
    assert local_dirs(cache, target="api", all_platforms=BOTH, platforms=platforms) == dirs


@pytest.mark.parametrize("platforms", _subsets((AMD, ARM, ARM64)), ids=",".join)
def test_local_dirs_match_the_local_refs(platforms: tuple[str, ...]) -> None:
    all_platforms = (AMD, ARM, ARM64)
    dirs = local_dirs(LOCAL, target="api", all_platforms=all_platforms, platforms=platforms)
    refs = cache_refs(LOCAL, target="api", all_platforms=all_platforms, platforms=platforms)
    assert dirs is not None
    assert refs == CacheRefs(cache_from=(f"type=local,src={dirs[0]}",),
                             cache_to=(f"type=local,dest={dirs[1]},mode=max",))


TOKEN = {"ACTIONS_RUNTIME_TOKEN": "t"}
# (caches, environment, warns)
GHA_ENV = [
    pytest.param([GHA], {"GITHUB_ACTIONS": "true"}, True, id="no-token"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "true", **TOKEN}, True, id="token-no-url"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "true", "ACTIONS_RESULTS_URL": "https://r"}, True,
                 id="url-no-token"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "true", "ACTIONS_RUNTIME_TOKEN": "",
                         "ACTIONS_RESULTS_URL": "https://r"}, True, id="empty-token"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "true", **TOKEN, "ACTIONS_RESULTS_URL": "https://r"},
                 False, id="token-and-results-url"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "true", **TOKEN, "ACTIONS_CACHE_URL": "https://c"},
                 False, id="token-and-cache-url"),
    pytest.param([REGISTRY, ALL], {"GITHUB_ACTIONS": "true"}, True, id="one-target-uses-gha"),
    # Not on GitHub Actions (or not saying so exactly): nothing to warn about.
    pytest.param([GHA], {}, False, id="not-actions"),
    pytest.param([GHA], {"GITHUB_ACTIONS": "1"}, False, id="actions-not-true"),
    pytest.param([REGISTRY, LOCAL], {"GITHUB_ACTIONS": "true"}, False, id="no-gha-cache"),
    pytest.param([], {"GITHUB_ACTIONS": "true"}, False, id="no-targets"),
]


@pytest.mark.parametrize(("caches", "env", "warns"), GHA_ENV)
def test_gha_warning(caches: list[CacheConfig], env: dict[str, str], warns: bool) -> None:
    assert gha_warning(env, caches) == (GHA_WARNING if warns else None)
