"""matrix, labels, refs, staging, merge, remote and release: from plain data.

The registry's answers are given as data (a `current` mapping of tag -> digest, RemoteImage
values), never by a mocked docker: the decisions are pure functions of them.
"""

from __future__ import annotations

import json

import pytest

from buildkit_slim import labels, matrix, refs, release, remote, staging
from buildkit_slim import merge as merging
from buildkit_slim.blueprint import Blueprint, TargetBlueprint, make_blueprint, select
from buildkit_slim.config import load
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.remote import RemoteImage
from buildkit_slim.tags import DEFAULT_RULES, TagError, TagRules, build_tags
from tests.unit.conftest import WriteProject

IMAGE = "ghcr.io/acme/spark"
ARM, AMD = "linux/arm/v7", "linux/amd64"
D1, D2, D3 = ("sha256:" + c * 64 for c in "abc")
SHA7 = "3f9c2a1"
PROJECT = """\
    [project]
    name = "spark"
    version = "1.4.2"
    description = "Spark, the service"
    license = "MIT"

    [project.urls]
    Source = "https://example.invalid/spark"

    [project.scripts]
    spark = "spark.cli:main"

    [tool.slim]
    image = "ghcr.io/acme/spark"
"""
MULTI = PROJECT + """
    [tool.slim.targets.api]
    [tool.slim.targets.worker]
    image = "ghcr.io/acme/spark-worker"
    platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
"""


@pytest.fixture
def the_blueprint(write_project: WriteProject) -> Blueprint:
    return make_blueprint(load(write_project(PROJECT)))


@pytest.fixture
def target(the_blueprint: Blueprint) -> TargetBlueprint:
    return the_blueprint.targets[0]


def record(platform: str = AMD, digest: str = D1, *, image: str = IMAGE,
           target: str = "spark", mode: str = "digest", **extra: object) -> str:
    body: dict[str, object] = {
        "format": 1, "image": image, "target": target, "platform": platform, "digest": digest,
        "ref": f"{image}@{digest}", "mode": mode, **extra}
    return json.dumps(body)


def merge(target: TargetBlueprint, files: list[tuple[str, str]]) -> merging.MergeSteps:
    return merging.merge_steps(target, files, tags=(f"{IMAGE}:edge",), annotations={},
                               staging_dir="digests")


def refusal(target: TargetBlueprint, files: list[tuple[str, str]]) -> list[str]:
    with pytest.raises(CheckFailed) as info:
        merge(target, files)
    exc = info.value
    assert exc.hint is not None and exc.hint.startswith("nothing was pushed")
    if exc.detail is None:
        return [exc.message.split(": ", 1)[1]]
    assert exc.message.endswith(" problems")
    return [line.removeprefix("  - ") for line in exc.detail.splitlines()]


# --- matrix ------------------------------------------------------------------------------------

def test_matrix_one_entry_per_target_and_platform_in_blueprint_order(
    write_project: WriteProject
) -> None:
    the_blueprint = make_blueprint(load(write_project(MULTI)))
    x64, arm, default = ["X64"], ["ARM", "ARM64"], "ubuntu-24.04"
    assert matrix.matrix(the_blueprint) == {"include": [
        {"target": "api", "platform": AMD, "platform-pair": "linux-amd64",
         "runs-on": default, "native-on": x64},
        {"target": "api", "platform": ARM, "platform-pair": "linux-arm-v7",
         "runs-on": default, "native-on": arm},
        {"target": "worker", "platform": AMD, "platform-pair": "linux-amd64",
         "runs-on": default, "native-on": x64},
        {"target": "worker", "platform": "linux/arm64", "platform-pair": "linux-arm64",
         "runs-on": default, "native-on": ["ARM64"]},
        {"target": "worker", "platform": ARM, "platform-pair": "linux-arm-v7",
         "runs-on": default, "native-on": arm},
    ]}
    only = select(the_blueprint, ["worker"], [])
    assert [e["target"] for e in matrix.matrix(only)["include"]] == ["worker"] * 3


def test_matrix_json_is_deterministic(the_blueprint: Blueprint) -> None:
    first = json.dumps(matrix.matrix(the_blueprint))
    assert first == json.dumps(matrix.matrix(the_blueprint))
    assert list(json.loads(first)["include"][0]) == [
        "target", "platform", "platform-pair", "runs-on", "native-on"]


def test_runners_map_a_platform_to_its_runner_per_target(write_project: WriteProject) -> None:
    """Off by default (every job on ubuntu-24.04); the top level's runners reach every target,
    a target's own replace them; an array of labels stays an array (a self-hosted runner)."""
    the_blueprint = make_blueprint(load(write_project(MULTI.replace(
        "    [tool.slim.targets.api]\n", '    runners = { "linux/arm/v7" = "ubuntu-24.04-arm" }'
        "\n    [tool.slim.targets.api]\n").replace(
        '    image = "ghcr.io/acme/spark-worker"\n',
        '    image = "ghcr.io/acme/spark-worker"\n'
        '    runners = { "linux/arm64" = ["self-hosted", "ARM64"] }\n'))))
    runs_on = [(e["target"], e["platform"], e["runs-on"])
               for e in matrix.matrix(the_blueprint)["include"]]
    assert runs_on == [
        ("api", AMD, "ubuntu-24.04"), ("api", ARM, "ubuntu-24.04-arm"),
        ("worker", AMD, "ubuntu-24.04"), ("worker", "linux/arm64", ["self-hosted", "ARM64"]),
        ("worker", ARM, "ubuntu-24.04")]


def test_a_platform_no_runner_arch_runs_natively_lists_none(write_project: WriteProject) -> None:
    the_blueprint = make_blueprint(load(write_project(PROJECT.replace(
        "    [tool.slim]\n",
        '    [tool.slim]\n    platforms = ["linux/riscv64", "linux/386"]\n', 1))))
    assert [e["native-on"] for e in matrix.matrix(the_blueprint)["include"]] == [[], ["X86", "X64"]]


# --- stage -------------------------------------------------------------------------------------

def test_stage_by_digest_pushes_the_repository_without_tags(target: TargetBlueprint) -> None:
    stage = staging.staging_steps(target, ARM, tag="dev", by_digest=True)
    assert stage.mode == "digest"
    assert dict(stage.overrides) == {
        "spark.output": f"type=image,name={IMAGE},push-by-digest=true,name-canonical=true,"
                        "push=true",
        "spark.tags": "",
    }
    assert stage.push is False  # the output pushes; --push would add a second output
    assert stage.staging_ref is None
    assert stage.record_name == "spark.linux-arm-v7.json"


def test_stage_on_the_docker_driver_uses_a_per_platform_staging_tag(
        target: TargetBlueprint) -> None:
    stage = staging.staging_steps(target, ARM, tag="pr-7", by_digest=False)
    assert stage.mode == "tag"
    assert stage.staging_ref == f"{IMAGE}:pr-7-stage-linux-arm-v7"
    assert dict(stage.overrides) == {"spark.tags": f"{IMAGE}:pr-7-stage-linux-arm-v7"}
    assert stage.push is True


def test_staging_tag_must_stay_a_valid_tag(target: TargetBlueprint) -> None:
    with pytest.raises(UsageError, match="staging tag"):
        staging.staging_steps(target, AMD, tag="x" * 120, by_digest=False)


def test_stage_platform_must_belong_to_the_target(target: TargetBlueprint) -> None:
    with pytest.raises(UsageError, match="'linux/arm64' is not a platform of target 'spark'"):
        staging.staging_steps(target, "linux/arm64", tag="dev", by_digest=True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"push": False, "export_wheels": False, "print_": False}, "--staging needs --push"),
    ({"push": True, "export_wheels": True, "print_": False}, "combined with --export-wheels"),
    ({"push": True, "export_wheels": False, "print_": True}, "combined with --print"),
    ({"push": True, "export_wheels": False, "print_": False},
     "--staging builds exactly one platform; pass --platform (one of linux/amd64, linux/arm/v7)"),
])
def test_stage_choice_refusals(the_blueprint: Blueprint, kwargs: dict[str, bool],
                               message: str) -> None:
    with pytest.raises(UsageError) as info:
        staging.staging_choice(the_blueprint, **kwargs)
    assert message in info.value.message


def test_stage_choice_needs_one_target(write_project: WriteProject) -> None:
    the_blueprint = select(make_blueprint(load(write_project(MULTI))), [], [AMD])
    with pytest.raises(UsageError, match=r"exactly one target; name it \(api, worker\)"):
        staging.staging_choice(the_blueprint, push=True, export_wheels=False, print_=False)
    one = select(the_blueprint, ["worker"], [AMD])
    chosen, platform = staging.staging_choice(one, push=True, export_wheels=False, print_=False)
    assert (chosen.name, platform) == ("worker", AMD)


def test_digest_from_metadata() -> None:
    text = json.dumps({"spark": {"containerimage.digest": D1, "image.name": IMAGE}})
    assert staging.digest_from_metadata(text, "spark") == D1
    with pytest.raises(CheckFailed, match=r"no containerimage\.digest for target 'api'"):
        staging.digest_from_metadata(text, "api")
    with pytest.raises(CheckFailed, match="is not a sha256 digest"):
        staging.digest_from_metadata(json.dumps({"spark": {"containerimage.digest": "x"}}),
                                     "spark")
    with pytest.raises(CheckFailed):
        staging.digest_from_metadata("not json", "spark")


def test_record_round_trip(target: TargetBlueprint) -> None:
    stage = staging.staging_steps(target, ARM, tag="dev", by_digest=False)
    rec = staging.staging_record(stage, D2)
    text = staging.render_record(rec)
    assert text.endswith("}\n")
    assert staging.parse_record("x.json", text) == rec
    assert rec.ref == f"{IMAGE}:dev-stage-linux-arm-v7"
    # The merge always reads the digest, never the staging tag that may move.
    assert rec.source == f"{IMAGE}@{D2}"


@pytest.mark.parametrize(("text", "message"), [
    ("{", "a.json: not a staging record (invalid JSON"),
    ("[]", "a.json: not a staging record (expected a JSON object)"),
    (record(format=2), "a.json: staging record format 2 is not 1"),
    (json.dumps({"format": 1, "image": IMAGE}), "a.json: staging record has no target"),
    (record(digest="sha256:abc"), "a.json: 'sha256:abc' is not a sha256 digest"),
    (record(image="Not/Valid"), "a.json: 'Not/Valid' is not an image repository"),
    (record(mode="copy"), "a.json: mode 'copy' is not one of digest, tag"),
])
def test_bad_records(text: str, message: str) -> None:
    with pytest.raises(CheckFailed) as info:
        staging.parse_record("a.json", text)
    assert info.value.message.startswith(message)


# --- merge -------------------------------------------------------------------------------------

def test_merge_takes_one_digest_per_platform_in_platform_order(target: TargetBlueprint) -> None:
    files = [("spark.linux-arm-v7.json", record(ARM, D2, mode="tag")),
             ("spark.linux-amd64.json", record(AMD, D1))]
    merged = merge(target, files)
    assert merged.sources == (f"{IMAGE}@{D1}", f"{IMAGE}@{D2}")
    assert merged.platforms == (AMD, ARM)
    assert merged.ignored == ()


def test_merge_ignores_other_targets_and_accepts_identical_duplicates(
    target: TargetBlueprint
) -> None:
    files = [("a.json", record(AMD, D1)), ("b.json", record(ARM, D2)),
             ("copy/a.json", record(AMD, D1)),
             ("worker.json", record(AMD, D3, image=f"{IMAGE}-worker", target="worker"))]
    merged = merge(target, files)
    assert merged.sources == (f"{IMAGE}@{D1}", f"{IMAGE}@{D2}")
    assert merged.ignored == ("worker.json",)


def test_merge_refuses_a_missing_platform(target: TargetBlueprint) -> None:
    assert refusal(target, [("spark.linux-amd64.json", record(AMD))]) == [
        "linux/arm/v7: no staging record in digests (expected spark.linux-arm-v7.json from "
        "`bslim bake spark --platform linux/arm/v7 --push --staging digests`)"]


def test_merge_refuses_an_empty_directory_naming_every_platform(target: TargetBlueprint) -> None:
    problems = refusal(target, [])
    assert [p.split(":", 1)[0] for p in problems] == [AMD, ARM]


def test_merge_refuses_disagreeing_records(target: TargetBlueprint) -> None:
    files = [("a.json", record(AMD, D1)), ("b.json", record(ARM, D2)),
             ("c.json", record(ARM, D3))]
    assert refusal(target, files) == [
        f"linux/arm/v7: staging records disagree: b.json says {D2}, c.json says {D3}"]


def test_merge_refuses_a_record_of_another_image(target: TargetBlueprint) -> None:
    files = [("a.json", record(AMD, D1)),
             ("b.json", record(ARM, D2, image="ghcr.io/acme/other"))]
    assert refusal(target, files) == [
        "b.json: record of target 'spark' is for image 'ghcr.io/acme/other', not the "
        "target's image 'ghcr.io/acme/spark'",
        "linux/arm/v7: no staging record in digests (expected spark.linux-arm-v7.json from "
        "`bslim bake spark --platform linux/arm/v7 --push --staging digests`)"]


def test_merge_refuses_a_record_of_this_image_from_another_target(target: TargetBlueprint) -> None:
    files = [("a.json", record(AMD)), ("b.json", record(ARM, D2)),
             ("c.json", record(ARM, D2, target="old-name"))]
    assert refusal(target, files) == [
        "c.json: record of image 'ghcr.io/acme/spark' belongs to target 'old-name', not 'spark'"]


def test_merge_refuses_a_platform_the_target_does_not_build(target: TargetBlueprint) -> None:
    files = [("a.json", record(AMD)), ("b.json", record(ARM, D2)),
             ("c.json", record("linux/arm64", D3))]
    assert refusal(target, files) == [
        "c.json: platform 'linux/arm64' is not a platform of target 'spark' "
        "(linux/amd64, linux/arm/v7)"]


def test_merge_refuses_a_broken_record_even_when_the_rest_is_complete(
    target: TargetBlueprint
) -> None:
    files = [("a.json", record(AMD)), ("b.json", record(ARM, D2)), ("junk.json", "{")]
    assert refusal(target, files)[0].startswith("junk.json: not a staging record")


# --- final tags --------------------------------------------------------------------------------

def test_final_tags_default_bare_and_full() -> None:
    assert refs.final_tags(IMAGE, [], "dev") == (f"{IMAGE}:dev",)
    assert refs.final_tags(IMAGE, ["edge", f"{IMAGE}:sha-3f9c2a1", "edge"], "dev") == (
        f"{IMAGE}:edge", f"{IMAGE}:sha-3f9c2a1")
    registry = "127.0.0.1:5000/acme/spark"
    assert refs.final_tags(registry, [f"{registry}:1.0"], "dev") == (f"{registry}:1.0",)


@pytest.mark.parametrize(("tag", "message"), [
    ("ghcr.io/acme/other:1.0", "--tag: 'ghcr.io/acme/other:1.0' is in repository "
                               "'ghcr.io/acme/other', not the target's image"),
    (f"{IMAGE}@{D1}", "is a digest reference"),
    ("bad tag", "--tag: 'bad tag' is neither a tag nor <image>:<tag>"),
    ("127.0.0.1:5000/acme/spark", "is neither a tag nor <image>:<tag>"),
    (f"{IMAGE}:-x", "--tag: '-x' is not a valid OCI tag"),
])
def test_final_tags_refusals(tag: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        refs.final_tags(IMAGE, [tag], "dev")
    assert message in info.value.message


# --- metadata ----------------------------------------------------------------------------------

def test_created_from_source_date_epoch() -> None:
    assert labels.created_from_epoch(None) is None
    assert labels.created_from_epoch("") is None
    assert labels.created_from_epoch("0") == "1970-01-01T00:00:00Z"
    assert labels.created_from_epoch("1700000000") == "2023-11-14T22:13:20Z"
    for bad in ("-1", "1.5", "soon", "9" * 30):
        with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
            labels.created_from_epoch(bad)


def test_revision() -> None:
    assert labels.check_revision(None) is None
    assert labels.check_revision("3F9C2A1") == "3f9c2a1"
    with pytest.raises(UsageError, match="--revision: 'main' is not a commit sha"):
        labels.check_revision("main")


def test_build_labels_are_set_values_for_the_target() -> None:
    assert labels.build_labels("spark", revision=None, created=None) == {}
    assert labels.build_labels("spark", revision="abc1234", created="1970-01-01T00:00:00Z") == {
        "spark.labels.org.opencontainers.image.revision": "abc1234",
        "spark.labels.org.opencontainers.image.created": "1970-01-01T00:00:00Z",
    }


def test_index_annotations_carry_the_oci_labels(target: TargetBlueprint) -> None:
    assert labels.index_annotations(target, revision="abc1234", created=None) == {
        "index:org.opencontainers.image.description": "Spark, the service",
        "index:org.opencontainers.image.licenses": "MIT",
        "index:org.opencontainers.image.revision": "abc1234",
        "index:org.opencontainers.image.source": "https://example.invalid/spark",
        "index:org.opencontainers.image.title": "spark",
        "index:org.opencontainers.image.version": "1.4.2",
    }


@pytest.mark.parametrize(("version", "expected"), [
    ("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3", True),
    ("github.com/docker/buildx v0.12.0 542e5d8", True),
    ("github.com/docker/buildx v0.11.2 9872040", False),
    ("0.9.1", False),
    (None, True),
    ("unparseable", True),
])
def test_annotations_need_buildx_0_12(version: str | None, expected: bool) -> None:
    assert labels.supports_annotations(version) is expected


# --- what the registry says --------------------------------------------------------------------

def index_json(digest: str, *platforms: str) -> dict[str, object]:
    entries: list[dict[str, object]] = []
    for platform in platforms:
        os_, arch, *variant = platform.split("/")
        plat = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        entries.append({"digest": D3, "platform": plat})
        entries.append({"digest": D3, "platform": {"os": "unknown", "architecture": "unknown"}})
    return {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest,
            "manifests": entries}


def test_remote_image_from_inspect_output() -> None:
    image = remote.remote_image(index_json(D1, AMD, ARM))
    assert image == RemoteImage(digest=D1, index=True, platforms=(AMD, ARM))
    single = remote.remote_image({"digest": D2, "layers": []})
    assert single == RemoteImage(digest=D2, index=False, platforms=())


def test_check_index() -> None:
    both = RemoteImage(digest=D1, index=True, platforms=(AMD, ARM))
    assert remote.check_index("r", both, (AMD, ARM)) == []
    assert remote.check_index("r", None, (AMD,)) == ["r does not exist in the registry"]
    amd_only = RemoteImage(digest=D1, index=True, platforms=(AMD,))
    assert remote.check_index("r", amd_only, (AMD, ARM)) == [
        "r lacks linux/arm/v7 (it has linux/amd64)"]
    single = RemoteImage(digest=D2, index=False, platforms=())
    assert "single-platform image" in remote.check_index("r", single, (AMD, ARM))[0]
    assert remote.check_index("r", single, (AMD,)) == []


# --- release -----------------------------------------------------------------------------------

TAGS = tuple(f"{IMAGE}:{t}" for t in ("1.2.3", "1.2", "1", "latest"))
SOURCE = RemoteImage(digest=D1, index=True, platforms=(AMD, ARM))


def release_steps(target: TargetBlueprint, current: dict[str, str | None], *, force: bool = False,
                  source: RemoteImage | None = SOURCE) -> release.ReleaseSteps:
    return release.release_steps(target, immutable=TAGS[:1], tags=TAGS,
                                 source_ref=f"{IMAGE}:edge", source=source, current=current,
                                 force=force)


def test_release_tags_are_the_version_tags_only() -> None:
    assert release.release_tags(IMAGE, "1.2.3", DEFAULT_RULES) == (TAGS[:1], TAGS)
    assert release.release_tags(IMAGE, "1.3.0rc1", DEFAULT_RULES) == (
        (f"{IMAGE}:1.3.0rc1",), (f"{IMAGE}:1.3.0rc1",))
    prefixed = TagRules(prefix="py3-", latest=False)
    assert release.release_tags(IMAGE, "v2.0", prefixed)[1] == (
        f"{IMAGE}:py3-2.0", f"{IMAGE}:py3-2")


def test_a_first_release_writes_every_tag(target: TargetBlueprint) -> None:
    done = release_steps(target, dict.fromkeys(TAGS))
    assert done.source == f"{IMAGE}@{D1}"
    assert done.to_write == TAGS
    assert done.moved == ()
    assert done.forced is False


def test_moving_tags_move_without_force(target: TargetBlueprint) -> None:
    current = {TAGS[0]: None, TAGS[1]: D2, TAGS[2]: D2, TAGS[3]: D1}
    done = release_steps(target, current)
    assert done.to_write == TAGS[:3]
    assert done.moved == ((TAGS[1], D2), (TAGS[2], D2))


def test_releasing_the_same_image_again_is_a_no_op(target: TargetBlueprint) -> None:
    done = release_steps(target, dict.fromkeys(TAGS, D1))
    assert done.to_write == ()


def test_the_version_tag_is_immutable(target: TargetBlueprint) -> None:
    current = {**dict.fromkeys(TAGS), TAGS[0]: D2}
    with pytest.raises(CheckFailed) as info:
        release_steps(target, current)
    assert info.value.message == (
        f"{IMAGE}:1.2.3 already points at {D2}, not at {D1} ({IMAGE}:edge); "
        "version tags are immutable")
    assert info.value.hint == "release a new version, or pass --force to move the tag anyway"


def test_force_moves_the_version_tag(target: TargetBlueprint) -> None:
    current = {**dict.fromkeys(TAGS), TAGS[0]: D2}
    done = release_steps(target, current, force=True)
    assert done.forced is True
    assert done.to_write == TAGS
    assert done.moved == ((TAGS[0], D2),)


@pytest.mark.parametrize(("source", "message"), [
    (None, f"cannot release from {IMAGE}:edge: {IMAGE}:edge does not exist in the registry"),
    (RemoteImage(digest=D1, index=True, platforms=(AMD,)),
     f"cannot release from {IMAGE}:edge: {IMAGE}:edge lacks linux/arm/v7 (it has linux/amd64)"),
    (RemoteImage(digest=D1, index=False, platforms=()),
     f"cannot release from {IMAGE}:edge: {IMAGE}:edge is a single-platform image"),
])
def test_the_source_must_be_a_complete_index(
    target: TargetBlueprint, source: RemoteImage | None, message: str
) -> None:
    # Checked before the tags: force does not help either.
    with pytest.raises(CheckFailed) as info:
        release_steps(target, dict.fromkeys(TAGS), source=source, force=True)
    assert info.value.message.startswith(message)


def test_verify_release(target: TargetBlueprint) -> None:
    done = release_steps(target, dict.fromkeys(TAGS))
    release.verify_release(done, dict.fromkeys(TAGS, D1))
    with pytest.raises(CheckFailed) as info:
        release.verify_release(done, {**dict.fromkeys(TAGS, D1), TAGS[3]: D2, TAGS[2]: None})
    assert info.value.message == (
        f"after the release, 2 tag(s) do not point at {D1}: {TAGS[2]} -> missing; "
        f"{TAGS[3]} -> {D2}")


@pytest.mark.parametrize(("given", "expected"), [
    (None, f"{IMAGE}:edge"),
    ("sha-3f9c2a1", f"{IMAGE}:sha-3f9c2a1"),
    (f"{IMAGE}:edge", f"{IMAGE}:edge"),
    (D1, f"{IMAGE}@{D1}"),
    (f"{IMAGE}@{D1}", f"{IMAGE}@{D1}"),
])
def test_resolve_from(given: str | None, expected: str) -> None:
    assert release.resolve_from(IMAGE, given, DEFAULT_RULES) == expected


def test_resolve_from_default_follows_the_rules() -> None:
    rules = TagRules(edge="nightly", prefix="py3-")
    assert release.resolve_from(IMAGE, None, rules) == f"{IMAGE}:py3-nightly"
    with pytest.raises(UsageError, match=r"no default, because tool\.slim\.tags\.edge is disabled"):
        release.resolve_from(IMAGE, None, TagRules(edge=""))


@pytest.mark.parametrize(("given", "message"), [
    ("ghcr.io/acme/other:edge", "'ghcr.io/acme/other:edge' is in repository "
                                "'ghcr.io/acme/other', not the target's image"),
    (f"ghcr.io/acme/other@{D1}", "is in repository 'ghcr.io/acme/other'"),
    (f"{IMAGE}@sha256:abc", "is not a sha256 digest"),
    ("not a tag", "neither a tag nor <image>:<tag>"),
])
def test_resolve_from_refusals(given: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        release.resolve_from(IMAGE, given, DEFAULT_RULES)
    assert message in info.value.message


# --- bslim tags: where the version comes from ---------------------------------------------------

@pytest.mark.parametrize(("kwargs", "tags", "warnings"), [
    pytest.param({}, ("1.4.2", "1.4", "1", "latest"), (), id="project-version"),
    pytest.param({"ref": "refs/heads/main", "sha": SHA7},
                 ("edge", "sha-3f9c2a1"), (), id="branch-no-version"),
    pytest.param({"ref": "refs/tags/v1.4.2"}, ("1.4.2", "1.4", "1", "latest"), (),
                 id="tag-ref-agrees"),
    pytest.param({"ref": "refs/tags/v2.0.0"}, ("2.0.0", "2.0", "2", "latest"),
                 ("refs/tags/v2.0.0 is not [project].version 1.4.2",), id="tag-ref-disagrees"),
    pytest.param({"version": "3.0.0rc1", "ref": "refs/heads/dev"}, ("3.0.0rc1", "dev"), (),
                 id="explicit-version-on-branch"),
    pytest.param({"ref": "refs/tags/v1.4.2", "sha": SHA7, "no_version": True},
                 ("sha-3f9c2a1",), (), id="no-version-tag-push"),
    pytest.param({"ref": "refs/heads/main", "sha": SHA7, "no_version": True},
                 ("edge", "sha-3f9c2a1"), (), id="no-version-branch"),
])
def test_build_tags(kwargs: dict[str, object], tags: tuple[str, ...],
                    warnings: tuple[str, ...]) -> None:
    args: dict[str, object] = {"project_version": "1.4.2", "version": None, "ref": None,
                               "sha": None, "rules": DEFAULT_RULES, **kwargs}
    assert build_tags(**args) == (tags, warnings)  # type: ignore[arg-type]


def test_build_tags_without_a_project_version() -> None:
    with pytest.raises(TagError, match="nothing to tag"):
        build_tags(project_version=None, version=None, ref=None, sha=None,
                           rules=DEFAULT_RULES)
    # A project version that is no PEP 440 version only matters when it is used.
    assert build_tags(project_version="dev", version=None, ref="refs/tags/1.0",
                              sha=None, rules=DEFAULT_RULES) == (("1.0", "1", "latest"), ())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"version": "1.0", "no_version": True}, "--no-version and --version: choose one"),
    ({"ref": "refs/tags/v1.4.2", "no_version": True}, "--no-version leaves nothing to tag"),
    ({"ref": "refs/tags/nightly", "sha": SHA7, "no_version": True},
     "--ref: tag 'nightly' is not a PEP 440 version"),
])
def test_build_tags_refusals(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"project_version": "1.4.2", "version": None, "ref": None,
                               "sha": None, "rules": DEFAULT_RULES, **kwargs}
    with pytest.raises(TagError) as info:
        build_tags(**args)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
