"""The build blueprint: OCI labels, dependencies with extras, stage names, and narrowing it down."""

from __future__ import annotations

import pytest

from buildkit_slim.blueprint import Blueprint, dependencies, make_blueprint, select
from buildkit_slim.config import ProjectMeta, load
from buildkit_slim.errors import UsageError
from tests.unit.conftest import WriteProject

TWO_TARGETS = """\
    [project]
    name = "spark"
    version = "1.0"
    scripts = { spark = "spark:main" }

    [tool.slim.targets.api]
    image = "ghcr.io/acme/spark-api"

    [tool.slim.targets.worker]
    image = "ghcr.io/acme/spark-worker"
    platforms = ["linux/amd64"]
"""


def blueprint_of(write_project: WriteProject, pyproject: str,
                 files: dict[str, str] | None = None) -> Blueprint:
    return make_blueprint(load(write_project(pyproject, files)))


def labels_of(write_project: WriteProject, project: str, slim: str = "") -> dict[str, str]:
    blueprint = blueprint_of(write_project,
                             project + '\nscripts = { x = "x:m" }\n[tool.slim]\n' + slim)
    return dict(blueprint.targets[0].labels)


# --- labels -------------------------------------------------------------------------------------

def test_labels_from_project(write_project: WriteProject) -> None:
    labels = labels_of(write_project, """
        [project]
        name = "Spark"
        version = "1.4.2"
        description = "  Fast\\n   and   small  "
        license = "MIT OR Apache-2.0"
        urls = { Homepage = "https://spark.example", Repository = "https://github.com/a/s" }
    """)
    assert labels == {
        "org.opencontainers.image.title": "Spark",
        "org.opencontainers.image.description": "Fast and small",
        "org.opencontainers.image.version": "1.4.2",
        "org.opencontainers.image.licenses": "MIT OR Apache-2.0",
        "org.opencontainers.image.source": "https://github.com/a/s",
        "org.opencontainers.image.url": "https://spark.example",
    }


def test_labels_are_sorted(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, """
        [project]
        name = "spark"
        version = "1"
        description = "d"
        scripts = { x = "x:m" }
        [tool.slim]
        labels = { "a.first" = "1", "z.last" = "2" }
    """)
    keys = [k for k, _ in blueprint.targets[0].labels]
    assert keys == sorted(keys)
    assert keys[0] == "a.first"


def test_only_the_title_when_project_says_nothing_else(write_project: WriteProject) -> None:
    assert labels_of(write_project, '[project]\nname = "spark"') == {
        "org.opencontainers.image.title": "spark"}


@pytest.mark.parametrize(("urls", "source"), [
    pytest.param('{ Source = "https://s" }', "https://s", id="Source"),
    pytest.param('{ "Source Code" = "https://s" }', "https://s", id="Source Code"),
    pytest.param('{ repository = "https://s" }', "https://s", id="repository-lowercase"),
    pytest.param('{ GitHub = "https://s" }', "https://s", id="GitHub"),
    # The first of the source keys in order of preference wins.
    pytest.param('{ GitHub = "https://g", Source = "https://s" }', "https://s",
                 id="source-before-github"),
    pytest.param('{ Homepage = "https://h", Documentation = "https://d" }', None,
                 id="no-source-url"),
    pytest.param('{ Changelog = "https://c" }', None, id="unrelated-url"),
])
def test_source_url_detection(write_project: WriteProject, urls: str, source: str | None) -> None:
    labels = labels_of(write_project, f'[project]\nname = "spark"\nurls = {urls}')
    assert labels.get("org.opencontainers.image.source") == source


def test_homepage_detection(write_project: WriteProject) -> None:
    labels = labels_of(write_project, '[project]\nname = "spark"\n'
                       'urls = { Documentation = "https://d", Homepage = "https://h" }')
    assert labels["org.opencontainers.image.url"] == "https://h"


def test_user_labels_win(write_project: WriteProject) -> None:
    labels = labels_of(
        write_project, '[project]\nname = "spark"\nversion = "1.0"',
        'labels = { "org.opencontainers.image.version" = "1.0-custom", '
        '"org.opencontainers.image.vendor" = "Acme" }\n')
    assert labels == {
        "org.opencontainers.image.title": "spark",
        "org.opencontainers.image.version": "1.0-custom",
        "org.opencontainers.image.vendor": "Acme",
    }


def test_each_target_gets_its_own_labels(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, TWO_TARGETS + 'labels = { role = "worker" }\n')
    api, worker = blueprint.targets
    assert "role" not in dict(api.labels)
    assert dict(worker.labels)["role"] == "worker"


# --- dependencies -------------------------------------------------------------------------------

def meta(dependencies: tuple[str, ...] | None = ("requests>=2",),
         **optional: tuple[str, ...]) -> ProjectMeta:
    return ProjectMeta(name="Proj", dependencies=dependencies,
                       optional_dependencies=tuple(sorted(optional.items())))


def test_dependencies_without_extras() -> None:
    assert dependencies(meta(("zeta", "Alpha>=1", "beta")), []) == ("Alpha>=1", "beta", "zeta")


def test_dependencies_with_extras() -> None:
    project = meta(redis=("redis>=5",), pg=("psycopg>=3",), docs=("sphinx",))
    assert dependencies(project, ["redis", "pg"]) == ("psycopg>=3", "redis>=5", "requests>=2")


def test_self_referencing_extra_pulls_in_the_named_extras() -> None:
    project = meta(a=("a1",), b=("b1; python_version < \"3.12\"",), c=("c1",),
                   all=("proj[a,b]",))
    # `proj` itself never becomes a dependency: it is built from the source.
    assert dependencies(project, ["all"]) == ("a1", 'b1; python_version < "3.12"',
                                              "requests>=2")


def test_self_reference_by_another_spelling_of_the_name() -> None:
    project = meta(a=("a1",), everything=("PROJ[A]",))
    assert dependencies(project, ["everything"]) == ("a1", "requests>=2")


def test_self_references_in_a_cycle_terminate() -> None:
    project = meta(a=("a1", "proj[b]"), b=("b1", "proj[a]"))
    assert dependencies(project, ["a"]) == ("a1", "b1", "requests>=2")


def test_a_dependency_listed_twice_appears_once() -> None:
    project = meta(("requests>=2",), a=("requests>=2", "x"))
    assert dependencies(project, ["a"]) == ("requests>=2", "x")


def test_dynamic_dependencies_are_none() -> None:
    assert dependencies(meta(None, a=("a1",)), ["a"]) is None


def test_blueprint_carries_dependencies_and_install(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, """
        [project]
        name = "Spark_Plug"
        dependencies = ["requests>=2"]
        scripts = { x = "x:m" }
        [project.optional-dependencies]
        redis = ["redis"]
        all = ["spark-plug[redis]"]
        [tool.slim]
        extras = ["all", "redis"]
    """)
    target = blueprint.targets[0]
    assert target.dependencies == ("redis", "requests>=2")
    assert target.install == "spark-plug[all,redis]"


def test_blueprint_with_dynamic_dependencies(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, '[project]\nname = "spark"\n'
                             'dynamic = ["dependencies"]\nscripts = { x = "x:m" }\n[tool.slim]\n')
    assert blueprint.targets[0].dependencies is None
    assert blueprint.targets[0].install == "spark"


# --- stages and files ---------------------------------------------------------------------------

def test_single_target_stage_names(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, '[project]\nname = "spark"\nscripts = { x = "x:m" }\n'
                             '[tool.slim]\noutput-dir = "ops/docker"\n')
    (target,) = blueprint.targets
    assert (target.wheels_stage, target.runtime_stage) == ("wheels", "runtime")
    assert target.dockerfile == blueprint.dockerfile == "ops/docker/Dockerfile"
    assert blueprint.bake_file == "ops/docker/docker-bake.json"
    assert blueprint.generated_targets == blueprint.targets


def test_multi_target_stage_names_are_prefixed(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, TWO_TARGETS)
    assert [(t.name, t.wheels_stage, t.runtime_stage) for t in blueprint.targets] == [
        ("api", "api-wheels", "api-runtime"),
        ("worker", "worker-wheels", "worker-runtime"),
    ]
    assert [t.platforms for t in blueprint.targets] == [("linux/amd64", "linux/arm/v7"),
                                                        ("linux/amd64",)]


def test_own_dockerfile_has_no_stages(write_project: WriteProject) -> None:
    blueprint = blueprint_of(write_project, TWO_TARGETS + 'dockerfile = "Dockerfile.worker"\n',
                             files={"Dockerfile.worker": "FROM scratch\n"})
    api, worker = blueprint.targets
    assert (worker.wheels_stage, worker.runtime_stage) == (None, None)
    assert worker.dockerfile == "Dockerfile.worker"
    assert api.dockerfile == "bake/Dockerfile"
    assert blueprint.generated_targets == (api,)


# --- select -------------------------------------------------------------------------------------

@pytest.fixture
def two(write_project: WriteProject) -> Blueprint:
    return blueprint_of(write_project, TWO_TARGETS)


def test_select_nothing_keeps_everything(two: Blueprint) -> None:
    assert select(two, [], []) == two


def test_select_targets(two: Blueprint) -> None:
    chosen = select(two, ["worker"], [])
    assert [t.name for t in chosen.targets] == ["worker"]
    assert chosen.output_dir == two.output_dir


def test_select_platforms_narrows_every_target(two: Blueprint) -> None:
    chosen = select(two, [], ["linux/amd64"])
    assert [t.platforms for t in chosen.targets] == [("linux/amd64",), ("linux/amd64",)]


def test_select_keeps_the_configured_platform_order(two: Blueprint) -> None:
    chosen = select(two, ["api"], ["linux/arm/v7", "linux/amd64"])
    assert chosen.targets[0].platforms == ("linux/amd64", "linux/arm/v7")


@pytest.mark.parametrize(("targets", "platforms", "message"), [
    pytest.param(["wroker"], [], "target 'wroker' is not defined; did you mean 'worker'? "
                 "(targets: api, worker)", id="target-typo"),
    pytest.param(["db"], [], "target 'db' is not defined (targets: api, worker)",
                 id="target-unknown"),
    pytest.param(["api"], ["linux/armv7"], "--platform: 'linux/armv7' is not a platform of "
                 "target 'api'; did you mean 'linux/arm/v7'? (platforms: linux/amd64, "
                 "linux/arm/v7)", id="platform-typo"),
    pytest.param(["api"], ["linux/x86_64"], "--platform: 'linux/x86_64' is not a platform of "
                 "target 'api'; did you mean 'linux/amd64'? (platforms: linux/amd64, "
                 "linux/arm/v7)", id="platform-alias"),
    # worker has amd64 only: asking every target for arm/v7 names the one that lacks it.
    pytest.param([], ["linux/arm/v7"], "--platform: 'linux/arm/v7' is not a platform of "
                 "target 'worker' (platforms: linux/amd64)", id="platform-missing-in-one"),
])
def test_select_errors(two: Blueprint, targets: list[str], platforms: list[str],
                       message: str) -> None:
    with pytest.raises(UsageError) as info:
        select(two, targets, platforms)
    assert info.value.message == message
    assert info.value.exit_code == 2
