"""`bslim matrix`, `tags`, `merge`, `release` and `bake --staging` through `cli.main`.

Only what is decided before docker is reached: output of the pure commands, usage errors
(exit 2) and merge refusals (exit 1). The tripwire fails any test that reaches for docker, so
each refusal here is proven to happen before anything is pushed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildkit_slim.cli import main
from tests.unit.conftest import WriteProject

PROJECT = """\
    [project]
    name = "spark"
    version = "1.4.2"

    [project.scripts]
    spark = "spark.cli:main"

    [tool.slim]
    image = "ghcr.io/acme/spark"
"""
MULTI = PROJECT + """
    [tool.slim.targets.api]
    [tool.slim.targets.worker]
    image = "ghcr.io/acme/spark-worker"
"""
SHA = "3f9c2a1d4e5b6a7980f1e2d3c4b5a69788776655"
D1, D2 = ("sha256:" + c * 64 for c in "ab")


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture(autouse=True)
def no_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The commands read these in CI; the tests must not depend on where they run.
    for name in ("GITHUB_REF", "GITHUB_SHA", "SOURCE_DATE_EPOCH", "TAG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project(PROJECT)


# --- matrix ------------------------------------------------------------------------------------

def test_matrix_is_one_json_line(capsys: pytest.CaptureFixture[str],
                                 write_project: WriteProject) -> None:
    root = write_project(MULTI)
    result = run(capsys, "matrix", "--project", str(root))
    assert result.code == 0, result.err
    assert result.out.count("\n") == 1  # `echo "matrix=$(bslim matrix)" >> $GITHUB_OUTPUT`
    entries = json.loads(result.out)["include"]
    assert [(e["target"], e["platform-pair"]) for e in entries] == [
        ("api", "linux-amd64"), ("api", "linux-arm-v7"),
        ("worker", "linux-amd64"), ("worker", "linux-arm-v7")]
    only = json.loads(run(capsys, "matrix", "worker", "--project", str(root)).out)
    assert {e["target"] for e in only["include"]} == {"worker"}


def test_matrix_unknown_target(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    result = run(capsys, "matrix", "sprak", "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        "error: target 'sprak' is not defined; did you mean 'spark'? (targets: spark)")


# --- tags --------------------------------------------------------------------------------------

def test_tags_default_to_the_project_version(capsys: pytest.CaptureFixture[str],
                                              project: Path) -> None:
    result = run(capsys, "tags", "--project", str(project))
    assert (result.code, result.out) == (0, "1.4.2\n1.4\n1\nlatest\n")


def test_tags_on_the_default_branch_are_edge_and_sha(capsys: pytest.CaptureFixture[str],
                                                      project: Path) -> None:
    result = run(capsys, "tags", "--ref", "refs/heads/main", "--sha", SHA, "--json",
                 "--project", str(project))
    assert result.code == 0, result.err
    # No version tags on a branch: 1.4.2 is not released by a push to main.
    assert json.loads(result.out) == ["edge", "sha-3f9c2a1"]


def test_tags_read_the_github_environment(capsys: pytest.CaptureFixture[str], project: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REF", "refs/tags/v1.4.2")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    result = run(capsys, "tags", "--images", "--project", str(project))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"ghcr.io/acme/spark:{t}" for t in (
        "1.4.2", "1.4", "1", "latest", "sha-3f9c2a1")]
    assert result.err == ""
    # An explicit option wins over the environment; an empty variable is no value.
    monkeypatch.setenv("GITHUB_SHA", "")
    assert run(capsys, "tags", "--ref", "feature/x", "--project", str(project)).out == (
        "feature-x\n")


def test_tags_warn_when_the_git_tag_is_not_the_project_version(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    result = run(capsys, "tags", "--ref", "refs/tags/v1.5.0", "--project", str(project))
    assert result.code == 0
    assert result.out == "1.5.0\n1.5\n1\nlatest\n"
    assert result.err == "warning: refs/tags/v1.5.0 is not [project].version 1.4.2\n"


def test_tags_follow_the_rules_table(capsys: pytest.CaptureFixture[str],
                                     write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
        [tool.slim.tags]
        latest = false
        prefix = "py3-"
    """.replace("\n        ", "\n"))
    assert run(capsys, "tags", "--version", "2.0.1", "--project", str(root)).out == (
        "py3-2.0.1\npy3-2.0\npy3-2\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--version", "one"], "error: --version: 'one' is not a PEP 440 version "
                           "(e.g. 1.4.2, 1.5.0rc1)"),
    (["--version", "1.0", "--ref", "refs/tags/v2.0"], "error: --version '1.0' disagrees with "
                                                      "--ref 'refs/tags/v2.0' (2.0); pass "
                                                      "matching values or omit --version"),
    (["--sha", "xyz"], "error: --sha: 'xyz' is not a commit sha (7 to 40 hex digits, "
                       "e.g. 3f9c2a1)"),
])
def test_tag_errors_are_usage_errors(capsys: pytest.CaptureFixture[str], project: Path,
                                     args: list[str], message: str) -> None:
    result = run(capsys, "tags", *args, "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines() == [message]


def test_tags_without_version_or_ref(capsys: pytest.CaptureFixture[str],
                                     write_project: WriteProject) -> None:
    root = write_project(PROJECT.replace('version = "1.4.2"', 'dynamic = ["version"]'))
    result = run(capsys, "tags", "--project", str(root))
    assert result.code == 2
    assert result.err.startswith("error: nothing to tag: pass --version, --ref or --sha")


def test_tags_images_needs_a_target_when_there_are_several(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(MULTI)
    result = run(capsys, "tags", "--images", "--version", "1.0.0", "--project", str(root))
    assert result.code == 2
    assert result.err == "error: this project has several targets; name one (api, worker)\n"
    result = run(capsys, "tags", "worker", "--images", "--version", "1.0.0",
                 "--project", str(root))
    assert result.out.splitlines()[0] == "ghcr.io/acme/spark-worker:1.0.0"


def test_bad_tag_rules_are_config_errors(capsys: pytest.CaptureFixture[str],
                                         write_project: WriteProject) -> None:
    root = write_project(PROJECT + "\n    [tool.slim.tags]\n    sha-length = 4\n")
    result = run(capsys, "tags", "--project", str(root))
    assert result.code == 2
    assert result.err == "error: tool.slim.tags.sha-length: 4 is out of range (7 to 40)\n"


# --- bake --staging ------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    ([], "error: --staging needs --push: the merge job reads the staged image from the registry"),
    (["--push"], "error: --staging builds exactly one platform; pass --platform (one of "
                 "linux/amd64, linux/arm/v7)"),
    (["--push", "--platform", "linux/arm64"], "error: --platform: 'linux/arm64' is not a "
                                              "platform of target 'spark'"),
    (["--push", "--platform", "linux/amd64", "--print"],
     "error: --staging pushes an image; it cannot be combined with --print"),
    (["--load", "--platform", "linux/amd64"], "error: --load and --push: choose one"),
])
def test_bake_stage_usage_errors(capsys: pytest.CaptureFixture[str], project: Path,
                                 tmp_path: Path, args: list[str], message: str) -> None:
    if "--load" in args:
        args = [*args, "--push"]
    result = run(capsys, "bake", "--staging", str(tmp_path / "digests"), *args,
                 "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(message)
    assert not (project / "bake").exists(), "refused before anything was written"


def test_bake_stage_needs_one_target(capsys: pytest.CaptureFixture[str],
                                     write_project: WriteProject, tmp_path: Path) -> None:
    root = write_project(MULTI)
    result = run(capsys, "bake", "--staging", str(tmp_path), "--push", "--platform",
                 "linux/amd64", "--project", str(root))
    assert result.code == 2
    assert result.err == ("error: --staging builds exactly one target; name it (api, worker)\n")


def test_bake_bad_source_date_epoch(capsys: pytest.CaptureFixture[str], project: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    result = run(capsys, "bake", "--project", str(project))
    assert result.code == 2
    assert result.err.startswith("error: SOURCE_DATE_EPOCH: 'yesterday' is not a whole number")


# --- merge -------------------------------------------------------------------------------------

def write_record(stage: Path, name: str, platform: str, digest: str,
                 image: str = "ghcr.io/acme/spark") -> None:
    stage.mkdir(exist_ok=True)
    (stage / name).write_text(json.dumps({
        "format": 1, "image": image, "target": "spark", "platform": platform,
        "digest": digest, "ref": f"{image}@{digest}", "mode": "digest"}))


def test_merge_needs_a_stage_directory(capsys: pytest.CaptureFixture[str], project: Path,
                                       tmp_path: Path) -> None:
    result = run(capsys, "merge", "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines() == [
        "error: --staging: missing; name the directory of staging records (from `bslim bake "
        "--staging`)"]
    result = run(capsys, "merge", "--staging", str(tmp_path / "none"), "--project", str(project))
    assert (result.code, result.err) == (2, f"error: --staging: {tmp_path / 'none'} is not a "
                                            "directory\n")


def test_stage_is_the_hidden_old_spelling_of_staging(capsys: pytest.CaptureFixture[str],
                                                     project: Path, tmp_path: Path) -> None:
    """`--stage DIR` (CI files written before the rename) still means `--staging DIR`; it is
    not in --help, and the two naming different directories is refused."""
    result = run(capsys, "merge", "--stage", str(tmp_path / "none"), "--project", str(project))
    assert (result.code, result.err) == (2, f"error: --staging: {tmp_path / 'none'} is not a "
                                            "directory\n")
    result = run(capsys, "merge", "--stage", str(tmp_path / "a"), "--staging",
                 str(tmp_path / "b"), "--project", str(project))
    assert result.code == 2
    assert result.err.startswith("error: --staging and --stage (its old spelling) name different")
    for command in ("bake", "merge"):
        assert "--stage " not in run(capsys, command, "--help").out
        assert "--staging" in run(capsys, command, "--help").out
    # bake: the old spelling reaches the same checks as the new one, before any docker call.
    result = run(capsys, "bake", "--stage", str(tmp_path / "d"), "--project", str(project))
    assert (result.code, result.err.splitlines()[0]) == (
        2, "error: --staging needs --push: the merge job reads the staged image from the "
           "registry")


def test_merge_refuses_a_missing_platform_before_pushing(
    capsys: pytest.CaptureFixture[str], project: Path, tmp_path: Path
) -> None:
    stage = tmp_path / "digests"
    write_record(stage, "spark.linux-amd64.json", "linux/amd64", D1)
    result = run(capsys, "merge", "--staging", str(stage), "--project", str(project))
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == (
        f"error: cannot merge target 'spark': linux/arm/v7: no staging record in {stage} "
        f"(expected spark.linux-arm-v7.json from `bslim bake spark --platform linux/arm/v7 "
        f"--push --staging {stage}`)")
    assert lines[1].startswith("hint: nothing was pushed")


def test_merge_lists_every_problem(capsys: pytest.CaptureFixture[str], project: Path,
                                   tmp_path: Path) -> None:
    stage = tmp_path / "digests"
    write_record(stage, "a.json", "linux/amd64", D1)
    write_record(stage, "b.json", "linux/amd64", D2)
    write_record(stage, "c.json", "linux/arm/v7", D1, image="ghcr.io/acme/other")
    result = run(capsys, "merge", "--staging", str(stage), "--project", str(project))
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == "error: cannot merge target 'spark': 3 problems"
    assert lines[1].startswith("  - c.json: record of target 'spark' is for image "
                               "'ghcr.io/acme/other'")
    assert lines[2] == (f"  - linux/amd64: staging records disagree: a.json says {D1}, "
                        f"b.json says {D2}")
    assert lines[3].startswith("  - linux/arm/v7: no staging record")


def test_merge_refuses_a_tag_of_another_repository(capsys: pytest.CaptureFixture[str],
                                                    project: Path, tmp_path: Path) -> None:
    result = run(capsys, "merge", "--staging", str(tmp_path), "--tag", "ghcr.io/acme/other:1",
                 "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines() == [
        "error: --tag: 'ghcr.io/acme/other:1' is in repository 'ghcr.io/acme/other', not the "
        "target's image 'ghcr.io/acme/spark'",
        "hint: give bare tags (e.g. --tag 1.4.2): they go onto the target's image"]


# --- release -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["1.2.x"], "error: VERSION: '1.2.x' is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)"),
    (["1!2.0"], "error: VERSION: '1!2.0' has an epoch (1!)"),
    (["1.2.3", "--from", "ghcr.io/acme/other:edge"],
     "error: --from: 'ghcr.io/acme/other:edge' is in repository 'ghcr.io/acme/other', not the "
     "target's image 'ghcr.io/acme/spark'"),
    (["1.2.3", "--from", "bad ref!"], "error: --from: 'bad ref!' is neither a tag nor"),
    (["1.2.3", "nope"], "error: target 'nope' is not defined"),
])
def test_release_usage_errors_before_any_registry_call(
    capsys: pytest.CaptureFixture[str], project: Path, args: list[str], message: str
) -> None:
    result = run(capsys, "release", *args, "--project", str(project))
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(message)


def test_release_needs_a_target_when_there_are_several(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    result = run(capsys, "release", "1.0.0", "--project", str(write_project(MULTI)))
    assert (result.code, result.err) == (
        2, "error: this project has several targets; name one (api, worker)\n")


def test_tags_no_version_on_a_tag_push(capsys: pytest.CaptureFixture[str], project: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REF", "refs/tags/v1.4.2")
    monkeypatch.setenv("GITHUB_SHA", SHA)
    result = run(capsys, "tags", "--no-version", "--project", str(project))
    assert (result.code, result.out, result.err) == (0, "sha-3f9c2a1\n", "")


# --- [tool.slim.tags] vocabulary (#20) ---------------------------------------------------------

MONOREPO = PROJECT + """
    [tool.slim.tags]
    git-tag-prefix = "p1/"
    patterns = ["{{raw}}", "{{major}}.{{minor}}"]
    suffix = "-slim"
    prefix-on-latest = false
    extra = ["stable"]
"""


def test_tags_of_a_monorepo_tag(capsys: pytest.CaptureFixture[str],
                                write_project: WriteProject,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(MONOREPO)
    monkeypatch.setenv("GITHUB_REF", "refs/tags/p1/v1.4.2")
    result = run(capsys, "tags", "--images", "--project", str(root))
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [f"ghcr.io/acme/spark:{tag}" for tag in (
        "v1.4.2-slim", "1.4-slim", "stable-slim", "latest-slim")]
    # The workflow's merge job on that push: only the sha tag; `bslim release` adds the rest.
    monkeypatch.setenv("GITHUB_SHA", SHA)
    result = run(capsys, "tags", "--no-version", "--project", str(root))
    assert (result.code, result.out) == (0, "sha-3f9c2a1-slim\n")


def test_another_packages_tag_is_refused(capsys: pytest.CaptureFixture[str],
                                         write_project: WriteProject) -> None:
    root = write_project(MONOREPO)
    for argv in (["tags", "--ref", "refs/tags/p2/v1.0.0"],
                 ["tags", "--no-version", "--ref", "refs/tags/p2/v1.0.0", "--sha", SHA]):
        result = run(capsys, *argv, "--project", str(root))
        assert (result.code, result.out) == (2, "")
        assert result.err == ("error: --ref: tag 'p2/v1.0.0' does not start with git-tag-prefix "
                              "'p1/' (another package's tag? run the workflow on this package's "
                              "tags only)\n")


def test_a_non_version_tag_needs_publish(capsys: pytest.CaptureFixture[str],
                                         write_project: WriteProject) -> None:
    result = run(capsys, "tags", "--ref", "refs/tags/nightly", "--project",
                 str(write_project(PROJECT)))
    assert (result.code, result.err) == (2, (
        "error: --ref: tag 'nightly' is not a PEP 440 version (e.g. refs/tags/v1.4.2, "
        'refs/tags/1.5.0rc1); or set non-version = "publish" in [tool.slim.tags] to tag it as '
        "itself\n"))
    root = write_project(PROJECT + '\n    [tool.slim.tags]\n    non-version = "publish"\n')
    result = run(capsys, "tags", "--ref", "refs/tags/nightly", "--sha", SHA, "--project",
                 str(root))
    assert (result.code, result.out) == (0, "nightly\nsha-3f9c2a1\n")


def test_bad_patterns_are_config_errors_naming_the_key(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
    [tool.slim.tags]
    patterns = ["{{version}}", "{{mjor}}"]
    non-version = "skip"
""")
    for argv in (["tags", "--version", "1.0"], ["release", "1.0"], ["render", "--check"]):
        result = run(capsys, *argv, "--project", str(root))
        assert (result.code, result.out) == (2, "")
        assert result.err.splitlines() == [
            "error: tool.slim.tags.patterns[1]: '{{mjor}}' has the unknown placeholder "
            "{{mjor}}; did you mean {{major}}? (valid: {{version}}, {{major}}, {{minor}}, "
            "{{patch}}, {{raw}})",
            "error: tool.slim.tags.non-version: 'skip' is not one of 'refuse', 'publish'"]


@pytest.mark.parametrize(("table", "args", "message"), [
    ('git-tag-prefix = "p1/"', ["p2/v1.0"],
     "error: VERSION: 'p2/v1.0' is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)"),
    ('non-version = "publish"', ["latest"],
     "error: VERSION: tag 'latest' would be published as 'latest', which is reserved"),
    ('patterns = ["{{version}}-' + "x" * 125 + '"]', ["1.0"],
     "error: VERSION: tag '1.0-xxx"),
])
def test_release_refuses_bad_tags_before_any_registry_call(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject, table: str,
        args: list[str], message: str) -> None:
    root = write_project(PROJECT + f"\n    [tool.slim.tags]\n    {table}\n")
    result = run(capsys, "release", *args, "--project", str(root))
    assert result.code == 2
    assert result.err.splitlines()[0].startswith(message)


@pytest.mark.parametrize(("given", "last_line"), [
    ("p1/v2.0.0", "released 2.0.0 of spark (given as p1/v2.0.0)"),
    ("v2.0", "released 2.0 of spark (given as v2.0)"),
    ("2.0.0", "released 2.0.0 of spark"),
])
def test_release_says_which_version_it_released(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject,
        monkeypatch: pytest.MonkeyPatch, given: str, last_line: str) -> None:
    """What `bslim release` prints once the registry work is done. That work (publish) is
    stood in for by its result: the real one runs in tests/e2e/test_release_flow.py."""
    from buildkit_slim import publish
    from buildkit_slim.blueprint import TargetBlueprint
    from buildkit_slim.release import ReleaseSteps, release_tags
    from buildkit_slim.tags import TagRules

    def registry_done(target: TargetBlueprint, *, version: str, rules: TagRules, from_: str | None,
                      force: bool) -> ReleaseSteps:
        immutable, tags = release_tags(target.config.image, version, rules)
        return ReleaseSteps(target=target.name, source=f"{target.config.image}@{D1}", digest=D1,
                            tags=tags, immutable=immutable, to_write=tags, moved=(),
                            forced=False)

    monkeypatch.setattr(publish, "run_release", registry_done)
    result = run(capsys, "release", given, "--project", str(write_project(MONOREPO)))
    assert (result.code, result.err) == (0, "")
    raw = given.removeprefix("p1/")
    assert result.out.splitlines()[0] == f"tagged ghcr.io/acme/spark:{raw}-slim@{D1}"
    assert result.out.splitlines()[-1] == last_line
