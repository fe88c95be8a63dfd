"""The CI flow on the real engine: one process per platform stages, merge joins, release retags.

bake --staging (amd64) and bake --staging (arm/v7) in two separate processes, as two matrix jobs
would -> bslim merge with the tags `bslim tags` printed -> one index with both platforms ->
bslim release 1.2.3 copies it to 1.2.3, 1.2, 1, latest at the same digest -> releasing 1.2.3
again from a different image is refused and changes nothing -> under monorepo tag rules, the git
tag p1/v2.0.0 is released to the tags `bslim tags` computes for it.

Each run pushes to a repository of its own: version tags are immutable, so a second run
against the first run's 1.2.3 would (rightly) be refused.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import registry
from tests.e2e.conftest import bslim, make_project

PLATFORMS = ("linux/amd64", "linux/arm/v7")
SHA = "3f9c2a1d4e5b6a7980f1e2d3c4b5a69788776655"
EPOCH = "1700000000"
CREATED = "2023-11-14T22:13:20Z"
OCI = "org.opencontainers.image."


def manifest_digest(repo: str, reference: str) -> str | None:
    """The digest the registry serves for a tag (sha256 of the exact bytes), None if absent."""
    request = urllib.request.Request(f"http://{registry.REGISTRY}/v2/{repo}/manifests/{reference}")
    request.add_header("Accept", ", ".join(registry.INDEX_TYPES + registry.MANIFEST_TYPES))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return "sha256:" + hashlib.sha256(response.read()).hexdigest()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


@dataclass
class Flow:
    project: Path
    image: str
    repo: str
    stage: Path
    tags: list[str]
    timings: dict[str, float]
    ca: Path


def timed(flow_timings: dict[str, float], name: str, *args: str,
          env: dict[str, str] | None = None) -> tuple[int, str, str]:
    start = time.monotonic()
    result = bslim(*args, env=env)
    flow_timings[name] = round(time.monotonic() - start, 1)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def flow(engine: None, tmp_path_factory: pytest.TempPathFactory,
         ca_bundle: tuple[Path, str]) -> Flow:
    repo = f"bslim-e2e-release/app-{uuid.uuid4().hex[:10]}"
    image = f"{registry.REGISTRY}/{repo}"
    project = make_project(tmp_path_factory.mktemp("release") / "e2eapp")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{image}"'))
    stage = tmp_path_factory.mktemp("stage")
    timings: dict[str, float] = {}
    env = {"SOURCE_DATE_EPOCH": EPOCH, "GITHUB_SHA": "", "GITHUB_REF": ""}
    # Two matrix jobs: separate processes, separate artifact directories.
    for platform in PLATFORMS:
        pair = platform.replace("/", "-")
        code, out, err = timed(
            timings, f"bake --staging {platform}", "bake", "e2eapp", "--project", str(project),
            "--platform", platform, "--push", "--staging", str(stage / f"digests-{pair}"),
            "--tag", "ci", "--revision", SHA, "--ca-bundle", str(ca_bundle[0]), env=env)
        assert code == 0, err[-3000:]
        assert f"staged e2eapp {platform} sha256:" in out
    code, out, err = timed(timings, "tags", "tags", "--project", str(project),
                           "--ref", "refs/heads/main", "--sha", SHA)
    assert code == 0, err
    tags = out.split()
    assert tags == ["edge", "sha-3f9c2a1"]
    code, out, err = timed(
        timings, "merge", "merge", "e2eapp", "--project", str(project), "--staging", str(stage),
        *[arg for tag in tags for arg in ("--tag", tag)], "--revision", SHA, env=env)
    assert code == 0, err
    assert "merged e2eapp (linux/amd64, linux/arm/v7)" in out
    return Flow(project=project, image=image, repo=repo, stage=stage, tags=tags,
                timings=timings, ca=ca_bundle[0])


def test_each_platform_process_wrote_its_record(flow: Flow) -> None:
    records = sorted(flow.stage.rglob("*.json"))
    assert [p.relative_to(flow.stage).as_posix() for p in records] == [
        "digests-linux-amd64/e2eapp.linux-amd64.json",
        "digests-linux-arm-v7/e2eapp.linux-arm-v7.json"]
    for path, platform in zip(records, PLATFORMS, strict=True):
        record = json.loads(path.read_text())
        assert record["platform"] == platform
        assert record["image"] == flow.image
        # tests/engine/up.sh runs the docker driver: no push-by-digest, so a staging tag. A
        # docker-container builder (a laptop's, CI's) pushes by digest instead.
        pair = platform.replace("/", "-")
        if record["mode"] == "tag":
            assert record["ref"] == f"{flow.image}:ci-stage-{pair}"
            assert manifest_digest(flow.repo, f"ci-stage-{pair}") == record["digest"]
        else:
            assert record["mode"] == "digest"
            assert record["ref"] == f"{flow.image}@{record['digest']}"
        assert manifest_digest(flow.repo, record["digest"]) == record["digest"]


def test_merge_made_one_index_with_both_platforms_under_every_tag(flow: Flow) -> None:
    digests = {tag: manifest_digest(flow.repo, tag) for tag in flow.tags}
    assert len(set(digests.values())) == 1 and None not in digests.values(), digests
    images = registry.platform_images(f"{flow.image}:edge")
    assert sorted(images) == sorted(PLATFORMS)
    for image in images.values():
        labels = image.config["config"]["Labels"]
        assert labels[f"{OCI}revision"] == SHA
        assert labels[f"{OCI}created"] == CREATED
        assert labels[f"{OCI}version"] == "0.3.0"
    index, _ = registry.get_json(flow.repo, "edge")
    annotations = index.get("annotations", {})
    assert annotations[f"{OCI}revision"] == SHA
    assert annotations[f"{OCI}created"] == CREATED
    assert annotations[f"{OCI}version"] == "0.3.0"
    assert annotations[f"{OCI}source"] == "https://example.invalid/e2eapp"


def test_release_copies_the_index_and_refuses_to_move_the_version(flow: Flow) -> None:
    source = f"sha-{SHA[:7]}"
    merged = manifest_digest(flow.repo, source)
    assert merged is not None
    code, out, err = timed(flow.timings, "release", "release", "1.2.3", "--from", source,
                           "--project", str(flow.project))
    assert code == 0, err
    assert "released 1.2.3 of e2eapp" in out
    release_tags = ("1.2.3", "1.2", "1", "latest")
    assert {tag: manifest_digest(flow.repo, tag) for tag in release_tags} == dict.fromkeys(
        release_tags, merged)
    assert sorted(registry.platform_images(f"{flow.image}:1.2.3")) == sorted(PLATFORMS)

    # Releasing the same image again is harmless.
    code, out, err = timed(flow.timings, "release again", "release", "1.2.3", "--from", source,
                           "--project", str(flow.project))
    assert code == 0, err
    assert out.count("already ") == 4

    # A different image of the same repository: a variant of the project, built from cache
    # where the engine has it (Docker 26.1 reuses the per-platform jobs' fetch steps; 28.5 runs
    # the native ones again, so the variant needs the index, and the CA, like any build).
    code, out, err = timed(
        flow.timings, "bake variant", "bake", "--project", str(flow.project), "--push",
        "--tag", "variant", "--set", "e2eapp.labels.org.example.variant=2",
        "--ca-bundle", str(flow.ca))
    assert code == 0, err[-3000:]
    variant = manifest_digest(flow.repo, "variant")
    assert variant is not None and variant != merged
    code, out, err = timed(flow.timings, "release refused", "release", "1.2.3", "--from",
                           "variant", "--project", str(flow.project))
    assert code == 1, out + err
    assert err.splitlines()[0] == (
        f"error: {flow.image}:1.2.3 already points at {merged}, not at {variant} "
        f"({flow.image}:variant); version tags are immutable")
    # Refused before the first write: not even the moving tags changed.
    assert {tag: manifest_digest(flow.repo, tag) for tag in release_tags} == dict.fromkeys(
        release_tags, merged)

    code, out, err = timed(flow.timings, "release --force", "release", "1.2.3", "--from",
                           "variant", "--force", "--project", str(flow.project))
    assert code == 0, err
    assert "(forced)" in out
    assert manifest_digest(flow.repo, "1.2.3") == variant


MONOREPO_RULES = """
[tool.slim.tags]
git-tag-prefix = "p1/"
patterns = ["{{raw}}", "{{version}}", "{{major}}.{{minor}}"]
extra = ["stable"]
suffix = "-slim"
suffix-on-latest = false
"""


def test_a_monorepo_git_tag_releases_what_bslim_tags_says(flow: Flow) -> None:
    """[tool.slim.tags] (#20): the reusable workflow's `bslim release "$GITHUB_REF_NAME"` on the
    git tag p1/v2.0.0 writes exactly the tags `bslim tags --ref refs/tags/p1/v2.0.0` prints,
    and both version tags (raw and normalized) are immutable. Runs after the test above, on
    its registry state; only retags, builds nothing."""
    pyproject = flow.project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original + MONOREPO_RULES)
    try:
        code, out, err = timed(flow.timings, "tags p1", "tags", "--project", str(flow.project),
                               "--ref", "refs/tags/p1/v2.0.0")
        assert code == 0, err
        tags = out.split()
        assert tags == ["v2.0.0-slim", "2.0.0-slim", "2.0-slim", "stable-slim", "latest"]
        source = f"sha-{SHA[:7]}"
        merged = manifest_digest(flow.repo, source)
        code, out, err = timed(flow.timings, "release p1", "release", "p1/v2.0.0", "--from",
                               source, "--project", str(flow.project))
        assert code == 0, err
        assert "released 2.0.0 of e2eapp (given as p1/v2.0.0)" in out
        assert {tag: manifest_digest(flow.repo, tag) for tag in tags} == dict.fromkeys(
            tags, merged)

        variant = manifest_digest(flow.repo, "variant")
        code, out, err = timed(flow.timings, "release p1 refused", "release", "p1/v2.0.0",
                               "--from", "variant", "--project", str(flow.project))
        assert code == 1, out + err
        assert err.splitlines()[0] == (
            f"error: {flow.image}:v2.0.0-slim already points at {merged}, "
            f"{flow.image}:2.0.0-slim at {merged}, not at {variant} ({flow.image}:variant); "
            "version tags are immutable")
        assert {tag: manifest_digest(flow.repo, tag) for tag in tags} == dict.fromkeys(
            tags, merged)
    finally:
        pyproject.write_text(original)
    print("timings (s):", json.dumps(flow.timings))
