"""From CLI choices to a bake request: the override file (platforms, cache, CA secret, exports),
the targets and variables; `--set` parsing; rotation of the local cache directories."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.blueprint import Blueprint, make_blueprint, select
from buildkit_slim.config import load
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import UsageError
from buildkit_slim.local_cache import clear_stale_local_caches, rotate_local_caches
from buildkit_slim.request import BakeOptions, bake_request, parse_overrides, warnings
from tests.unit.conftest import WriteProject

PROJECT = """\
    [project]
    name = "spark"
    version = "1.0"
    scripts = { spark = "spark:main" }

"""
AMD, ARM = "linux/amd64", "linux/arm/v7"
REPO = "ghcr.io/acme/spark-cache"
WRITE = ",mode=max,ignore-error=true"
REGISTRY = f'[tool.slim.cache]\nregistry = "{REPO}"\n'
LOCAL = '[tool.slim.cache]\nlocal = ".cache/bk"\n'
BOTH_CACHES = f'[tool.slim.cache]\nregistry = "{REPO}"\nlocal = ".cache/bk"\n'
GHA = "[tool.slim.cache]\ngha = true\n"
NO_CACHE = "[tool.slim]\n"
PUBLISH = "[tool.slim]\npublish-wheels = true\n"
TWO_TARGETS = """\
    [tool.slim]
    publish-wheels = true

    [tool.slim.targets.api]
    image = "ghcr.io/acme/spark-api"

    [tool.slim.targets.worker]
    image = "ghcr.io/acme/spark-worker"
    publish-wheels = false
"""
NO_STAGE = "target {!r} has no such stage (its own Dockerfile, or fast-wheels = false for plan)"
FS = {"BUILDX_BAKE_ENTITLEMENTS_FS": "0"}


def blueprints(write_project: WriteProject, slim: str, targets: Collection[str] = (),
               platforms: Collection[str] = (), files: dict[str, str] | None = None,
               ) -> tuple[Path, Blueprint, Blueprint]:
    root = write_project(PROJECT + slim, files)
    full = make_blueprint(load(root))
    return root, full, select(full, list(targets), list(platforms))


def existing(root: Path, dirs: Collection[str]) -> Callable[[Path], bool]:
    """`exists` that knows only these project-relative directories."""
    paths = {root / d for d in dirs}
    return lambda path: path in paths


def request_of(write_project: WriteProject, slim: str, *, targets: Collection[str] = (),
               platforms: Collection[str] = (), dirs: Collection[str] = (),
               files: dict[str, str] | None = None, **options: Any) -> BakeRequest:
    root, full, chosen = blueprints(write_project, slim, targets, platforms, files)
    return bake_request(full, chosen, BakeOptions(project_root=root, platforms=tuple(platforms),
                                                  **options), exists=existing(root, dirs))


def override_of(request: BakeRequest) -> dict[str, Any] | None:
    return None if request.override is None else dict(request.override["target"])


# --- a plain run --------------------------------------------------------------------------------

def test_a_plain_run_needs_no_override(write_project: WriteProject, tmp_path: Path) -> None:
    assert request_of(write_project, REGISTRY) == BakeRequest(
        project_root=tmp_path, files=("bake/docker-bake.json",), override=None, targets=(),
        overrides={}, variables={}, push=False, load=False, builder=None, progress="plain",
        metadata_file=None, cache=True)


def test_choices_reach_the_request(write_project: WriteProject, tmp_path: Path) -> None:
    request = request_of(
        write_project, NO_CACHE, tag="1.2.3", overrides={"*.args.FOO": "bar"}, push=True,
        builder="multi", progress="tty", metadata_file=Path("meta.json"), cache=False)
    assert request == BakeRequest(
        project_root=tmp_path, files=("bake/docker-bake.json",), override=None, targets=(),
        overrides={"*.args.FOO": "bar"}, variables={"TAG": "1.2.3"}, push=True, load=False,
        builder="multi", progress="tty", metadata_file=Path("meta.json").resolve(), cache=False)


def test_the_output_dir_names_the_bake_file(write_project: WriteProject) -> None:
    request = request_of(write_project, '[tool.slim]\noutput-dir = "docker/gen"\n')
    assert request.files == ("docker/gen/docker-bake.json",)


# --- platforms and cache ------------------------------------------------------------------------

# (the [tool.slim] part, --platform, export_cache, existing local cache dirs, override of `spark`
# or None for no override at all)
CACHE = [
    # The committed bake file already names the whole-target registry/gha locations.
    pytest.param(REGISTRY, (), True, (), None, id="registry-whole"),
    pytest.param(GHA, (), True, (), None, id="gha-whole"),
    pytest.param(NO_CACHE, (), False, (), None, id="no-cache-no-export"),
    pytest.param(REGISTRY, (), False, (), {"cache-to": []}, id="registry-whole-no-export"),
    pytest.param(REGISTRY, (ARM,), True, (), {
        "platforms": [ARM],
        "cache-to": [f"type=registry,ref={REPO}:spark-linux-arm-v7{WRITE}"],
        "cache-from": [f"type=registry,ref={REPO}:spark-linux-arm-v7",
                       f"type=registry,ref={REPO}:spark"],
    }, id="registry-arm"),
    pytest.param(REGISTRY, (AMD,), True, (), {
        "platforms": [AMD],
        "cache-to": [f"type=registry,ref={REPO}:spark-linux-amd64{WRITE}"],
        "cache-from": [f"type=registry,ref={REPO}:spark-linux-amd64",
                       f"type=registry,ref={REPO}:spark"],
    }, id="registry-amd"),
    # Both platforms named: that is the whole build, not a subset.
    pytest.param(REGISTRY, (ARM, AMD), True, (), None, id="registry-both-named"),
    pytest.param(REGISTRY, (ARM,), False, (), {
        "platforms": [ARM],
        "cache-to": [],
        "cache-from": [f"type=registry,ref={REPO}:spark-linux-arm-v7",
                       f"type=registry,ref={REPO}:spark"],
    }, id="registry-arm-no-export"),
    pytest.param(GHA, (ARM,), True, (), {
        "platforms": [ARM],
        "cache-to": [f"type=gha,scope=spark-linux-arm-v7{WRITE}"],
        "cache-from": ["type=gha,scope=spark-linux-arm-v7", "type=gha,scope=spark"],
    }, id="gha-arm"),
    pytest.param(NO_CACHE, (ARM,), True, (), {"platforms": [ARM]}, id="no-cache-arm"),
    # A local cache is read only when its directory exists, and written to a fresh one.
    pytest.param(LOCAL, (), True, (),
                 {"cache-to": ["type=local,dest=.cache/bk/spark.new,mode=max"]},
                 id="local-whole-new"),
    pytest.param(LOCAL, (), True, (".cache/bk/spark",), {
        "cache-to": ["type=local,dest=.cache/bk/spark.new,mode=max"],
        "cache-from": ["type=local,src=.cache/bk/spark"],
    }, id="local-whole-exists"),
    pytest.param(LOCAL, (), False, (".cache/bk/spark",), {
        "cache-to": [],
        "cache-from": ["type=local,src=.cache/bk/spark"],
    }, id="local-whole-exists-no-export"),
    pytest.param(LOCAL, (ARM,), True, (".cache/bk/spark",), {
        "platforms": [ARM],
        "cache-to": ["type=local,dest=.cache/bk/spark-linux-arm-v7.new,mode=max"],
        "cache-from": [],
    }, id="local-arm-only-the-whole-dir-exists"),
    pytest.param(LOCAL, (ARM,), True, (".cache/bk/spark-linux-arm-v7",), {
        "platforms": [ARM],
        "cache-to": ["type=local,dest=.cache/bk/spark-linux-arm-v7.new,mode=max"],
        "cache-from": ["type=local,src=.cache/bk/spark-linux-arm-v7"],
    }, id="local-arm-exists"),
    # cache-to is replaced by a later bake file: the registry location must be named again.
    pytest.param(BOTH_CACHES, (), True, (".cache/bk/spark",), {
        "cache-to": [f"type=registry,ref={REPO}:spark{WRITE}",
                     "type=local,dest=.cache/bk/spark.new,mode=max"],
        "cache-from": ["type=local,src=.cache/bk/spark"],
    }, id="both-whole"),
    pytest.param(BOTH_CACHES, (AMD,), True, (".cache/bk/spark-linux-amd64",), {
        "platforms": [AMD],
        "cache-to": [f"type=registry,ref={REPO}:spark-linux-amd64{WRITE}",
                     "type=local,dest=.cache/bk/spark-linux-amd64.new,mode=max"],
        "cache-from": [f"type=registry,ref={REPO}:spark-linux-amd64",
                       f"type=registry,ref={REPO}:spark",
                       "type=local,src=.cache/bk/spark-linux-amd64"],
    }, id="both-amd"),
]


@pytest.mark.parametrize(("slim", "platforms", "export_cache", "dirs", "body"), CACHE)
def test_platforms_and_cache(write_project: WriteProject, slim: str, platforms: tuple[str, ...],
                             export_cache: bool, dirs: tuple[str, ...],
                             body: dict[str, Any] | None) -> None:
    request = request_of(write_project, slim, platforms=platforms, dirs=dirs,
                         export_cache=export_cache)
    assert override_of(request) == (None if body is None else {"spark": body})
    assert request.targets == ()
    assert request.variables == {}


def test_the_local_cache_is_looked_up_in_the_project(write_project: WriteProject,
                                                     tmp_path: Path) -> None:
    root, full, chosen = blueprints(write_project, LOCAL, platforms=[ARM])
    asked: list[Path] = []

    def exists(path: Path) -> bool:
        asked.append(path)
        return False

    bake_request(full, chosen, BakeOptions(project_root=root), exists=exists)
    assert asked == [tmp_path / ".cache/bk/spark-linux-arm-v7"]


def test_each_target_gets_its_own_cache_locations(write_project: WriteProject) -> None:
    request = request_of(write_project, REGISTRY + TWO_TARGETS, platforms=[AMD])

    def narrowed(name: str) -> dict[str, Any]:
        return {
            "platforms": [AMD],
            "cache-to": [f"type=registry,ref={REPO}:{name}-linux-amd64{WRITE}"],
            "cache-from": [f"type=registry,ref={REPO}:{name}-linux-amd64",
                           f"type=registry,ref={REPO}:{name}"],
        }

    assert override_of(request) == {
        "api": narrowed("api"),
        "api-wheels": {"platforms": [AMD]},  # narrowed too, but it never writes the cache
        "worker": narrowed("worker"),
    }
    assert request.targets == ()



def test_no_two_runs_write_one_cache_location(write_project: WriteProject) -> None:
    """What reaches buildx: every `--platform` choice of a target (a CI matrix next to a whole
    build) writes its own places, the publish-wheels target none."""
    platforms = (AMD, ARM, "linux/arm64")
    root, full, _ = blueprints(write_project, PUBLISH + 'platforms = ["linux/amd64", '
                               '"linux/arm/v7", "linux/arm64"]\n' + BOTH_CACHES)
    writers: dict[str, tuple[str, ...]] = {}
    for size in range(1, len(platforms) + 1):
        for chosen in itertools.combinations(platforms, size):
            request = bake_request(full, select(full, [], list(chosen)),
                                   BakeOptions(project_root=root), exists=existing(root, ()))
            override = override_of(request) or {}
            assert "cache-to" not in override.get("spark-wheels", {})
            written = override["spark"]["cache-to"]
            assert len(written) == 2, chosen  # the registry and the local directory
            for ref in written:
                place = ref.split(",")[1]
                assert place not in writers, f"{chosen} and {writers[place]} both write {place}"
                writers[place] = chosen
    assert len(writers) == 2 * 7


# --- the CA secret ------------------------------------------------------------------------------

def test_ca_secret_inside_the_project(write_project: WriteProject, tmp_path: Path) -> None:
    request = request_of(write_project, PUBLISH + REGISTRY, ca_bundle=tmp_path / "certs/ca.pem")
    secret = [f"id=ca,src={(tmp_path / 'certs/ca.pem').resolve()}"]
    # A whole build: the committed file already names the cache; the wheel image gets the
    # secret too, since it builds the same stages.
    assert override_of(request) == {"spark": {"secret": secret},
                                    "spark-wheels": {"secret": secret}}
    assert request.variables == {}


def test_ca_secret_from_a_relative_path_is_made_absolute(
        write_project: WriteProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path / "..")
    request = request_of(write_project, NO_CACHE, ca_bundle=Path(tmp_path.name) / "ca.pem")
    assert override_of(request) == {
        "spark": {"secret": [f"id=ca,src={(tmp_path / 'ca.pem').resolve()}"]}}


def test_ca_secret_outside_the_project_lifts_the_fs_entitlement(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    ca = tmp_path_factory.mktemp("elsewhere") / "ca.pem"
    request = request_of(write_project, NO_CACHE, ca_bundle=ca, tag="dev")
    assert override_of(request) == {"spark": {"secret": [f"id=ca,src={ca.resolve()}"]}}
    assert request.variables == {"TAG": "dev", **FS}


def test_the_wheel_image_never_writes_the_cache(write_project: WriteProject,
                                                tmp_path: Path) -> None:
    request = request_of(write_project, PUBLISH + BOTH_CACHES, platforms=[ARM],
                         dirs=[".cache/bk/spark-linux-arm-v7"], ca_bundle=tmp_path / "ca.pem")
    secret = [f"id=ca,src={(tmp_path / 'ca.pem').resolve()}"]
    assert override_of(request) == {
        "spark": {
            "platforms": [ARM],
            "secret": secret,
            "cache-to": [f"type=registry,ref={REPO}:spark-linux-arm-v7{WRITE}",
                         "type=local,dest=.cache/bk/spark-linux-arm-v7.new,mode=max"],
            "cache-from": [f"type=registry,ref={REPO}:spark-linux-arm-v7",
                           f"type=registry,ref={REPO}:spark",
                           "type=local,src=.cache/bk/spark-linux-arm-v7"],
        },
        "spark-wheels": {"platforms": [ARM], "secret": secret},
    }


def test_no_wheel_image_override_without_publish_wheels(write_project: WriteProject,
                                                        tmp_path: Path) -> None:
    request = request_of(write_project, NO_CACHE, platforms=[AMD], ca_bundle=tmp_path / "ca.pem")
    assert set(override_of(request) or {}) == {"spark"}


def test_a_wheel_image_with_nothing_to_override_is_left_out(write_project: WriteProject) -> None:
    request = request_of(write_project, PUBLISH + REGISTRY, export_cache=False)
    assert override_of(request) == {"spark": {"cache-to": []}}


# --- which targets are built --------------------------------------------------------------------

@pytest.mark.parametrize(("chosen", "names"), [
    pytest.param((), (), id="all-means-the-default-group"),
    pytest.param(("api", "worker"), (), id="both-named"),
    pytest.param(("api",), ("api", "api-wheels"), id="api-with-its-wheel-image"),
    pytest.param(("worker",), ("worker",), id="worker"),
])
def test_targets(write_project: WriteProject, chosen: tuple[str, ...],
                 names: tuple[str, ...]) -> None:
    assert request_of(write_project, TWO_TARGETS, targets=chosen).targets == names


# --- exports: --export-wheels and `bslim plan` --------------------------------------------------

def exporter(target: str, stage: str, dest: Path) -> dict[str, Any]:
    return {"inherits": [target], "target": stage, "tags": [], "cache-to": [],
            "output": [f"type=local,dest={dest.resolve()}/.bslim-export-{target}"]}


def test_export_wheels_inside_the_project(write_project: WriteProject, tmp_path: Path) -> None:
    request = request_of(write_project, PUBLISH + REGISTRY, export_wheels=tmp_path / "dist")
    assert override_of(request) == {
        "spark-export-wheels": exporter("spark", "wheelhouse", tmp_path / "dist")}
    # Only the exporter is built: not the image, not the wheel image.
    assert request.targets == ("spark-export-wheels",)
    assert request.variables == {}


def test_export_wheels_outside_the_project(write_project: WriteProject,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    dest = tmp_path_factory.mktemp("out")
    request = request_of(write_project, NO_CACHE, export_wheels=dest)
    assert override_of(request) == {"spark-export-wheels": exporter("spark", "wheelhouse", dest)}
    assert request.variables == FS


def test_export_wheels_keeps_the_narrowing_and_the_secret(write_project: WriteProject,
                                                          tmp_path: Path) -> None:
    request = request_of(write_project, REGISTRY, platforms=[ARM], ca_bundle=tmp_path / "ca.pem",
                         export_wheels=tmp_path / "dist")
    assert override_of(request) == {
        # The exporter inherits this (its own cache-to, [], wins).
        "spark": {
            "platforms": [ARM],
            "secret": [f"id=ca,src={(tmp_path / 'ca.pem').resolve()}"],
            "cache-to": [f"type=registry,ref={REPO}:spark-linux-arm-v7{WRITE}"],
            "cache-from": [f"type=registry,ref={REPO}:spark-linux-arm-v7",
                           f"type=registry,ref={REPO}:spark"],
        },
        "spark-export-wheels": exporter("spark", "wheelhouse", tmp_path / "dist"),
    }
    assert request.targets == ("spark-export-wheels",)


@pytest.mark.parametrize(("chosen", "names"), [
    pytest.param((), ("api-export-wheels", "worker-export-wheels"), id="all"),
    pytest.param(("worker",), ("worker-export-wheels",), id="worker"),
])
def test_export_wheels_of_several_targets(write_project: WriteProject, tmp_path: Path,
                                          chosen: tuple[str, ...], names: tuple[str, ...]) -> None:
    request = request_of(write_project, TWO_TARGETS, targets=chosen,
                         export_wheels=tmp_path / "dist")
    every = {f"{t}-export-wheels": exporter(t, f"{t}-wheelhouse", tmp_path / "dist")
             for t in ("api", "worker")}
    assert override_of(request) == {name: every[name] for name in names}
    assert request.targets == names


def test_plan_exports_the_fetch_reports(write_project: WriteProject,
                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    reports = tmp_path_factory.mktemp("bslim-plan-")
    request = request_of(write_project, TWO_TARGETS, report_dir=reports)
    assert override_of(request) == {
        "api-plan": exporter("api", "api-fetch-report", reports),
        "worker-plan": exporter("worker", "worker-fetch-report", reports),
    }
    assert request.targets == ("api-plan", "worker-plan")
    assert request.variables == FS


def test_export_wheels_without_fast_wheels(write_project: WriteProject, tmp_path: Path) -> None:
    request = request_of(write_project, "[tool.slim]\nfast-wheels = false\n",
                         export_wheels=tmp_path / "dist")
    assert override_of(request) == {
        "spark-export-wheels": exporter("spark", "wheelhouse", tmp_path / "dist")}


OWN_DOCKERFILE = """\
    [tool.slim.targets.web]
    image = "ghcr.io/acme/shop"

    [tool.slim.targets.legacy]
    image = "ghcr.io/acme/shop-legacy"
    dockerfile = "ops/legacy.Dockerfile"
"""


@pytest.mark.parametrize(("slim", "chosen", "option", "message"), [
    pytest.param(OWN_DOCKERFILE, (), "export_wheels",
                 "--export-wheels: " + NO_STAGE.format("legacy"), id="export-own-dockerfile"),
    pytest.param(OWN_DOCKERFILE, ("legacy",), "report_dir",
                 "plan: " + NO_STAGE.format("legacy"), id="plan-own-dockerfile"),
    pytest.param("[tool.slim]\nfast-wheels = false\n", (), "report_dir",
                 "plan: " + NO_STAGE.format("spark"), id="plan-without-fast-wheels"),
])
def test_export_usage_errors(write_project: WriteProject, tmp_path: Path, slim: str,
                             chosen: tuple[str, ...], option: str, message: str) -> None:
    options: dict[str, Any] = {option: tmp_path / "out"}
    with pytest.raises(UsageError) as info:
        request_of(write_project, slim, targets=chosen, files={"ops/legacy.Dockerfile": "FROM x\n"},
                   **options)
    assert info.value.message == message


def test_export_of_the_generated_target_next_to_an_own_dockerfile(write_project: WriteProject,
                                                                  tmp_path: Path) -> None:
    request = request_of(write_project, OWN_DOCKERFILE, targets=["web"],
                         files={"ops/legacy.Dockerfile": "FROM x\n"},
                         export_wheels=tmp_path / "dist")
    assert override_of(request) == {
        "web-export-wheels": exporter("web", "web-wheelhouse", tmp_path / "dist")}


def test_an_outside_metadata_file_needs_no_entitlement(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    # buildx writes it itself, not through a bake output.
    meta = tmp_path_factory.mktemp("meta") / "metadata.json"
    request = request_of(write_project, NO_CACHE, metadata_file=meta)
    assert request.variables == {}
    assert request.metadata_file == meta.resolve()


# --- warnings -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("slim", "count"), [(GHA, 1), (REGISTRY, 0)])
def test_warnings(write_project: WriteProject, slim: str, count: int) -> None:
    _, full, _ = blueprints(write_project, slim)
    found = warnings(full, {"GITHUB_ACTIONS": "true"})
    assert len(found) == count
    assert all(w.startswith("cache.gha is set but ACTIONS_RUNTIME_TOKEN") for w in found)


# --- --set --------------------------------------------------------------------------------------

def test_parse_overrides() -> None:
    assert parse_overrides(["*.args.FOO=bar", "app.platform=linux/amd64", "a.b=", "a.c=x=y",
                            "*.args.FOO=baz"]) == {
        "*.args.FOO": "baz", "app.platform": "linux/amd64", "a.b": "", "a.c": "x=y"}


def test_parse_no_overrides() -> None:
    assert parse_overrides([]) == {}


@pytest.mark.parametrize("item", ["FOO", "FOO=bar", ".args=1", "args.=1", "=x", ""])
def test_parse_overrides_errors(item: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_overrides(["ok.key=1", item])
    assert info.value.message == (
        f"--set: {item!r} must look like pattern.key=value, "
        "e.g. *.args.FOO=bar or app.platform=linux/amd64")


# --- rotation of the local cache ----------------------------------------------------------------

def make_dirs(root: Path, contents: dict[str, str]) -> None:
    for name, text in contents.items():
        path = root / name
        path.mkdir(parents=True, exist_ok=True)
        (path / "index.json").write_text(text, encoding="utf-8")


def tree(root: Path) -> dict[str, str]:
    base = root / ".cache/bk"
    if not base.exists():
        return {}
    return {p.parent.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(base.rglob("index.json"))}


# (the [tool.slim] part, --platform, export_cache, dirs before (with their index.json), after)
ROTATE = [
    pytest.param(LOCAL, (), True, {".cache/bk/spark": "old", ".cache/bk/spark.new": "new"},
                 {".cache/bk/spark": "new"}, id="replace"),
    pytest.param(LOCAL, (), True, {".cache/bk/spark.new": "new"},
                 {".cache/bk/spark": "new"}, id="first-build"),
    pytest.param(LOCAL, (), True, {".cache/bk/spark": "old"},
                 {".cache/bk/spark": "old"}, id="nothing-written"),
    pytest.param(LOCAL, (), False, {".cache/bk/spark": "old", ".cache/bk/spark.new": "new"},
                 {".cache/bk/spark": "old", ".cache/bk/spark.new": "new"}, id="no-export"),
    # A per-platform build rotates its own directory only.
    pytest.param(LOCAL, (ARM,), True,
                 {".cache/bk/spark": "old", ".cache/bk/spark.new": "new",
                  ".cache/bk/spark-linux-arm-v7": "old arm",
                  ".cache/bk/spark-linux-arm-v7.new": "new arm"},
                 {".cache/bk/spark": "old", ".cache/bk/spark.new": "new",
                  ".cache/bk/spark-linux-arm-v7": "new arm"}, id="arm"),
    pytest.param(REGISTRY, (), True, {".cache/bk/spark.new": "new"},
                 {".cache/bk/spark.new": "new"}, id="no-local-cache"),
]


@pytest.mark.parametrize(("slim", "platforms", "export_cache", "before", "after"), ROTATE)
def test_rotate_local_caches(write_project: WriteProject, slim: str, platforms: tuple[str, ...],
                             export_cache: bool, before: dict[str, str],
                             after: dict[str, str]) -> None:
    root, _, chosen = blueprints(write_project, slim, platforms=platforms)
    make_dirs(root, before)
    rotate_local_caches(chosen, root, export_cache=export_cache)
    assert tree(root) == after


def test_rotate_the_chosen_targets_only(write_project: WriteProject) -> None:
    root, _, chosen = blueprints(write_project, LOCAL + TWO_TARGETS, targets=["worker"])
    make_dirs(root, {".cache/bk/api.new": "api", ".cache/bk/worker.new": "worker"})
    rotate_local_caches(chosen, root)
    assert tree(root) == {".cache/bk/api.new": "api", ".cache/bk/worker": "worker"}


def test_a_stale_new_cache_dir_is_cleared_before_the_build(write_project: WriteProject) -> None:
    root, _, chosen = blueprints(write_project, LOCAL, platforms=(ARM,))
    make_dirs(root, {".cache/bk/spark": "old", ".cache/bk/spark-linux-arm-v7": "old arm",
                     ".cache/bk/spark-linux-arm-v7.new": "left by a failed build"})
    clear_stale_local_caches(chosen, root)
    assert tree(root) == {".cache/bk/spark": "old", ".cache/bk/spark-linux-arm-v7": "old arm"}
