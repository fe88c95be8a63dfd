"""Tag computation for `bslim tags`: exact tuples (order included) and exact errors."""

from __future__ import annotations

import dataclasses
import re

import pytest
from packaging.version import Version

from buildkit_slim.tags import (
    DEFAULT_RULES,
    TAG_RULE_KEYS,
    TagError,
    TagRules,
    compute_tags,
    parse_version,
)

SHA = "3F9C2A1D4E5B6A7980F1E2D3C4B5A69788776655"
OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
RELEASE = ("1.4.2", "1.4", "1", "latest")

# (version, ref, sha, rules, expected)
CASES = [
    # Final releases: full, minor, major, latest.
    pytest.param("1.4.2", None, None, DEFAULT_RULES, RELEASE, id="final"),
    pytest.param("v1.4.2", None, None, DEFAULT_RULES, RELEASE, id="final-v"),
    pytest.param("V1.4.2", None, None, DEFAULT_RULES, RELEASE, id="final-V"),
    pytest.param("1.4", None, None, DEFAULT_RULES, ("1.4", "1", "latest"), id="two-part"),
    pytest.param(
        "1.4.0", None, None, DEFAULT_RULES, ("1.4.0", "1.4", "1", "latest"), id="trailing-zero"
    ),
    pytest.param("1", None, None, DEFAULT_RULES, ("1", "1.0", "latest"), id="one-part-padded"),
    pytest.param(
        "1.4.2.3", None, None, DEFAULT_RULES, ("1.4.2.3", "1.4", "1", "latest"), id="four-part"
    ),
    pytest.param("01.04.2", None, None, DEFAULT_RULES, RELEASE, id="leading-zeros-normalized"),
    pytest.param("0!1.4.2", None, None, DEFAULT_RULES, RELEASE, id="epoch-zero"),
    # Everything that is not a final release tags only itself.
    pytest.param("1.5.0rc1", None, None, DEFAULT_RULES, ("1.5.0rc1",), id="rc"),
    pytest.param("1.5.0-RC.1", None, None, DEFAULT_RULES, ("1.5.0rc1",), id="rc-normalized"),
    pytest.param("1.5.0a1", None, None, DEFAULT_RULES, ("1.5.0a1",), id="alpha"),
    pytest.param("1.5.0b2", None, None, DEFAULT_RULES, ("1.5.0b2",), id="beta"),
    pytest.param("1.5.0.dev3", None, None, DEFAULT_RULES, ("1.5.0.dev3",), id="dev"),
    pytest.param("1.4.2.post1", None, None, DEFAULT_RULES, ("1.4.2.post1",), id="post"),
    pytest.param("1.4.2-1", None, None, DEFAULT_RULES, ("1.4.2.post1",), id="post-implicit"),
    pytest.param("1.4.2+abc", None, None, DEFAULT_RULES, ("1.4.2-abc",), id="local-plus-to-dash"),
    pytest.param(
        "1.4.2+Ubuntu-1", None, None, DEFAULT_RULES, ("1.4.2-ubuntu.1",), id="local-normalized"
    ),
    # Rule toggles on the floating tags.
    pytest.param(
        "1.4.2", None, None, TagRules(latest=False), ("1.4.2", "1.4", "1"), id="no-latest"
    ),
    pytest.param(
        "1.4.2", None, None, TagRules(major=False), ("1.4.2", "1.4", "latest"), id="no-major"
    ),
    pytest.param(
        "1.4.2", None, None, TagRules(minor=False), ("1.4.2", "1", "latest"), id="no-minor"
    ),
    pytest.param(
        "1.4.2",
        None,
        None,
        TagRules(latest=False, major=False, minor=False),
        ("1.4.2",),
        id="no-floating",
    ),
    # Tag refs supply the version.
    pytest.param(None, "refs/tags/v1.4.2", None, DEFAULT_RULES, RELEASE, id="ref-tag-v"),
    pytest.param(
        None, "refs/tags/1.4.2", SHA, DEFAULT_RULES, (*RELEASE, "sha-3f9c2a1"), id="ref-tag-sha"
    ),
    pytest.param(None, "refs/tags/v1.5.0rc1", None, DEFAULT_RULES, ("1.5.0rc1",), id="ref-tag-rc"),
    pytest.param("1.4.2", "refs/tags/v1.4.2", None, DEFAULT_RULES, RELEASE, id="version-agrees"),
    pytest.param(
        "1.4.0",
        "refs/tags/v1.4",
        None,
        DEFAULT_RULES,
        ("1.4.0", "1.4", "1", "latest"),
        id="version-equal-pep440-spelling-wins",
    ),
    # Branch refs: edge for the default branch, sanitized names otherwise.
    pytest.param(None, "refs/heads/main", SHA, DEFAULT_RULES, ("edge", "sha-3f9c2a1"), id="edge"),
    pytest.param(None, "main", None, DEFAULT_RULES, ("edge",), id="edge-bare"),
    pytest.param(
        None, "refs/heads/trunk", None, TagRules(default_branch="trunk"), ("edge",), id="edge-trunk"
    ),
    pytest.param(
        None,
        "refs/heads/main",
        None,
        TagRules(default_branch="trunk"),
        ("main",),
        id="main-not-default",
    ),
    pytest.param(None, "main", None, TagRules(edge="nightly"), ("nightly",), id="edge-renamed"),
    pytest.param(None, "main", SHA, TagRules(edge=""), ("sha-3f9c2a1",), id="edge-disabled"),
    pytest.param(
        None, "refs/heads/feature/Foo_bar", None, DEFAULT_RULES, ("feature-foo_bar",), id="branch"
    ),
    pytest.param(
        None, "feature/Foo_bar", None, DEFAULT_RULES, ("feature-foo_bar",), id="branch-bare"
    ),
    pytest.param(
        None, "refs/heads/fix//a b@@c", None, DEFAULT_RULES, ("fix-a-b-c",), id="branch-collapse"
    ),
    pytest.param(
        None, "refs/heads/.hidden/--x", None, DEFAULT_RULES, ("hidden-x",), id="branch-strip-lead"
    ),
    pytest.param(
        None, "refs/heads/fix/ünïcode", None, DEFAULT_RULES, ("fix-n-code",), id="branch-unicode"
    ),
    pytest.param(None, "refs/heads/v1.4", None, DEFAULT_RULES, ("v1.4",), id="branch-v-version"),
    pytest.param(None, "refs/heads/1.x", None, DEFAULT_RULES, ("1.x",), id="branch-1.x"),
    pytest.param(
        None, "refs/heads/" + "a" * 200, None, DEFAULT_RULES, ("a" * 128,), id="branch-truncate"
    ),
    pytest.param(
        None,
        "refs/heads/" + "a" * 200,
        None,
        TagRules(prefix="py312-"),
        ("py312-" + "a" * 122,),
        id="branch-truncate-prefix",
    ),
    pytest.param(
        None,
        "refs/heads/" + "a" * 127 + "/b",
        None,
        DEFAULT_RULES,
        ("a" * 127,),
        id="branch-truncate-no-dangling-dash",
    ),
    pytest.param(
        None, "refs/heads/feature/x", SHA, TagRules(branch=False), ("sha-3f9c2a1",), id="no-branch"
    ),
    # Pull requests (governed by the branch rule).
    pytest.param(None, "refs/pull/42/merge", None, DEFAULT_RULES, ("pr-42",), id="pr-merge"),
    pytest.param(
        None, "refs/pull/7/head", SHA, DEFAULT_RULES, ("pr-7", "sha-3f9c2a1"), id="pr-head"
    ),
    pytest.param(None, "refs/pull/007", None, DEFAULT_RULES, ("pr-7",), id="pr-bare-leading-zero"),
    pytest.param(
        None, "refs/pull/42/merge", SHA, TagRules(branch=False), ("sha-3f9c2a1",), id="no-pr"
    ),
    # Shas.
    pytest.param(None, None, SHA, DEFAULT_RULES, ("sha-3f9c2a1",), id="sha-40-lowercased"),
    pytest.param(None, None, "abcdef0", DEFAULT_RULES, ("sha-abcdef0",), id="sha-7"),
    pytest.param(
        None, None, SHA, TagRules(sha_length=12), ("sha-3f9c2a1d4e5b",), id="sha-length-12"
    ),
    pytest.param(
        None, None, SHA, TagRules(sha_length=40), ("sha-" + SHA.lower(),), id="sha-length-40"
    ),
    pytest.param("1.4.2", None, SHA, TagRules(sha=False), RELEASE, id="no-sha"),
    # Combinations, order and prefix.
    pytest.param(
        "1.4.2",
        "refs/heads/main",
        SHA,
        DEFAULT_RULES,
        ("1.4.2", "1.4", "1", "latest", "edge", "sha-3f9c2a1"),
        id="all-three",
    ),
    pytest.param(
        "1.5.0rc1",
        "refs/heads/release/1.5",
        SHA,
        DEFAULT_RULES,
        ("1.5.0rc1", "release-1.5", "sha-3f9c2a1"),
        id="rc-on-branch",
    ),
    pytest.param(
        "1.4.2",
        "refs/heads/main",
        SHA,
        TagRules(prefix="v"),
        ("v1.4.2", "v1.4", "v1", "vlatest", "vedge", "vsha-3f9c2a1"),
        id="prefix-every-tag",
    ),
    pytest.param(
        None,
        "refs/tags/v1.5.0rc1",
        SHA,
        TagRules(prefix="py3.12-"),
        ("py3.12-1.5.0rc1", "py3.12-sha-3f9c2a1"),
        id="prefix-rc",
    ),
    pytest.param(
        "1.4.2", "main", None, TagRules(edge="latest"), RELEASE, id="duplicate-dropped-first-wins"
    ),
    pytest.param(
        None, "refs/heads/main\n", f"{SHA}\n", DEFAULT_RULES, ("edge", "sha-3f9c2a1"), id="strip"
    ),
]


@pytest.mark.parametrize(("version", "ref", "sha", "rules", "expected"), CASES)
def test_compute_tags(
    version: str | None,
    ref: str | None,
    sha: str | None,
    rules: TagRules,
    expected: tuple[str, ...],
) -> None:
    tags = compute_tags(version=version, ref=ref, sha=sha, rules=rules)
    assert tags == expected
    assert all(OCI_TAG.fullmatch(tag) for tag in tags)


def test_rules_default_to_default_rules() -> None:
    assert compute_tags(version="1.4.2", ref="main", sha=SHA) == (*RELEASE, "edge", "sha-3f9c2a1")


# (kwargs, rules, message)
ERRORS = [
    pytest.param(
        {},
        DEFAULT_RULES,
        "nothing to tag: pass --version, --ref or --sha "
        "(e.g. --ref refs/tags/v1.4.2 --sha <commit>)",
        id="nothing",
    ),
    pytest.param(
        {"version": "foo"},
        DEFAULT_RULES,
        "--version: 'foo' is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)",
        id="version-invalid",
    ),
    pytest.param(
        {"version": ""},
        DEFAULT_RULES,
        "--version: '' is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)",
        id="version-empty",
    ),
    pytest.param(
        {"version": "1!2.0"},
        DEFAULT_RULES,
        "--version: '1!2.0' has an epoch (1!) and '!' is not allowed in OCI tags; "
        "use a version without an epoch (e.g. 1.4.2)",
        id="version-epoch",
    ),
    pytest.param(
        {"ref": "refs/tags/2!1.0"},
        DEFAULT_RULES,
        "--ref: 'refs/tags/2!1.0' has an epoch (2!) and '!' is not allowed in OCI tags; "
        "use a version without an epoch (e.g. 1.4.2)",
        id="ref-epoch",
    ),
    pytest.param(
        {"ref": "refs/tags/release-1"},
        DEFAULT_RULES,
        "--ref: tag 'release-1' is not a PEP 440 version "
        "(e.g. refs/tags/v1.4.2, refs/tags/1.5.0rc1); or set non-version = \"publish\" in "
        "[tool.slim.tags] to tag it as itself",
        id="ref-tag-not-pep440",
    ),
    pytest.param(
        {"version": "1.4.3", "ref": "refs/tags/v1.4.2"},
        DEFAULT_RULES,
        "--version '1.4.3' disagrees with --ref 'refs/tags/v1.4.2' (1.4.2); "
        "pass matching values or omit --version",
        id="disagree",
    ),
    pytest.param(
        {"version": "1.4.2+abc", "ref": "refs/tags/1.4.2"},
        DEFAULT_RULES,
        "--version '1.4.2+abc' disagrees with --ref 'refs/tags/1.4.2' (1.4.2); "
        "pass matching values or omit --version",
        id="disagree-local",
    ),
    pytest.param(
        {"ref": "refs/remotes/origin/main"},
        DEFAULT_RULES,
        "--ref: 'refs/remotes/origin/main' is not a supported ref (expected refs/heads/<branch>, "
        "refs/tags/<version>, refs/pull/<number>/merge or a bare branch name)",
        id="ref-unsupported",
    ),
    pytest.param(
        {"ref": ""},
        DEFAULT_RULES,
        "--ref: '' is not a supported ref (expected refs/heads/<branch>, "
        "refs/tags/<version>, refs/pull/<number>/merge or a bare branch name)",
        id="ref-empty",
    ),
    pytest.param(
        {"ref": "refs/heads/"},
        DEFAULT_RULES,
        "--ref: 'refs/heads/' is not a supported ref (expected refs/heads/<branch>, "
        "refs/tags/<version>, refs/pull/<number>/merge or a bare branch name)",
        id="ref-empty-branch",
    ),
    pytest.param(
        {"ref": "refs/pull/abc/merge"},
        DEFAULT_RULES,
        "--ref: 'refs/pull/abc/merge' is not a supported ref (expected refs/heads/<branch>, "
        "refs/tags/<version>, refs/pull/<number>/merge or a bare branch name)",
        id="ref-pull-not-number",
    ),
    pytest.param(
        {"ref": "refs/heads/ü/ï"},
        DEFAULT_RULES,
        "--ref: branch 'ü/ï' has no characters usable in an OCI tag "
        "(letters, digits, '_', '.', '-')",
        id="branch-nothing-usable",
    ),
    pytest.param(
        {"ref": "refs/heads/1.4"},
        DEFAULT_RULES,
        "--ref: branch '1.4' would be tagged '1.4', which is reserved for release, edge, sha "
        "and pr tags; rename the branch or set branch = false",
        id="branch-reserved-version",
    ),
    pytest.param(
        {"ref": "Latest"},
        DEFAULT_RULES,
        "--ref: branch 'Latest' would be tagged 'latest', which is reserved for release, edge, "
        "sha and pr tags; rename the branch or set branch = false",
        id="branch-reserved-latest",
    ),
    pytest.param(
        {"ref": "refs/heads/edge"},
        DEFAULT_RULES,
        "--ref: branch 'edge' would be tagged 'edge', which is reserved for release, edge, "
        "sha and pr tags; rename the branch or set branch = false",
        id="branch-reserved-edge",
    ),
    pytest.param(
        {"ref": "refs/heads/pr/42"},
        DEFAULT_RULES,
        "--ref: branch 'pr/42' would be tagged 'pr-42', which is reserved for release, edge, "
        "sha and pr tags; rename the branch or set branch = false",
        id="branch-reserved-pr",
    ),
    pytest.param(
        {"ref": "sha-abc1234"},
        DEFAULT_RULES,
        "--ref: branch 'sha-abc1234' would be tagged 'sha-abc1234', which is reserved for "
        "release, edge, sha and pr tags; rename the branch or set branch = false",
        id="branch-reserved-sha",
    ),
    pytest.param(
        {"sha": "xyz1234"},
        DEFAULT_RULES,
        "--sha: 'xyz1234' is not a commit sha (7 to 40 hex digits, e.g. 3f9c2a1)",
        id="sha-not-hex",
    ),
    pytest.param(
        {"sha": "abc123"},
        DEFAULT_RULES,
        "--sha: 'abc123' is not a commit sha (7 to 40 hex digits, e.g. 3f9c2a1)",
        id="sha-too-short",
    ),
    pytest.param(
        {"sha": SHA + "0"},
        DEFAULT_RULES,
        f"--sha: '{SHA}0' is not a commit sha (7 to 40 hex digits, e.g. 3f9c2a1)",
        id="sha-too-long",
    ),
    pytest.param(
        {"version": "1.4.2", "sha": "xyz1234"},
        TagRules(sha=False),
        "--sha: 'xyz1234' is not a commit sha (7 to 40 hex digits, e.g. 3f9c2a1)",
        id="sha-validated-when-off",
    ),
    pytest.param(
        {"sha": "3f9c2a1"},
        TagRules(sha_length=12),
        "--sha: '3f9c2a1' has 7 hex digits, fewer than sha-length 12; pass the full commit sha",
        id="sha-shorter-than-length",
    ),
    pytest.param(
        {"version": "1.0+" + "a" * 130},
        DEFAULT_RULES,
        f"--version: tag '1.0-{'a' * 130}' is not a valid OCI tag "
        "(must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
        id="tag-too-long",
    ),
    pytest.param(
        {"sha": SHA},
        TagRules(prefix="p" * 120),
        f"--sha: tag '{'p' * 120}sha-3f9c2a1' is not a valid OCI tag "
        "(must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
        id="prefix-too-long",
    ),
    pytest.param(
        {"ref": "refs/heads/feature/x", "sha": SHA},
        TagRules(branch=False, sha=False),
        f"no tags: tool.slim.tags disables every tag for --ref 'refs/heads/feature/x', "
        f"--sha '{SHA}'; pass --version or enable edge, branch or sha",
        id="no-tags",
    ),
    pytest.param(
        {"ref": "main"},
        TagRules(edge=""),
        "no tags: tool.slim.tags disables every tag for --ref 'main'; "
        "pass --version or enable edge, branch or sha",
        id="no-tags-edge-off",
    ),
]


@pytest.mark.parametrize(("kwargs", "rules", "message"), ERRORS)
def test_compute_tags_errors(kwargs: dict[str, str], rules: TagRules, message: str) -> None:
    with pytest.raises(TagError) as caught:
        compute_tags(
            version=kwargs.get("version"),
            ref=kwargs.get("ref"),
            sha=kwargs.get("sha"),
            rules=rules,
        )
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"sha_length": 6},
            "tool.slim.tags.sha-length: 6 is out of range (7 to 40)",
            id="sha-length-low",
        ),
        pytest.param(
            {"sha_length": 41},
            "tool.slim.tags.sha-length: 41 is out of range (7 to 40)",
            id="sha-length-high",
        ),
        pytest.param(
            {"default_branch": ""},
            "tool.slim.tags.default-branch: must not be empty",
            id="default-branch-empty",
        ),
        pytest.param(
            {"edge": "bad/tag"},
            "tool.slim.tags.edge: 'bad/tag' is not a valid OCI tag "
            "(must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; use '' to disable)",
            id="edge-invalid",
        ),
        pytest.param(
            {"prefix": "-v"},
            "tool.slim.tags.prefix: '-v' cannot start an OCI tag "
            "(letters, digits, '_' first; then also '.' and '-')",
            id="prefix-invalid",
        ),
    ],
)
def test_rules_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(TagError) as caught:
        TagRules(**overrides)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_rules_defaults() -> None:
    assert TagRules() == DEFAULT_RULES
    assert dataclasses.asdict(DEFAULT_RULES) == {
        "default_branch": "main",
        "latest": True,
        "major": True,
        "minor": True,
        "edge": "edge",
        "branch": True,
        "sha": True,
        "sha_length": 7,
        "prefix": "",
        "suffix": "",
        "prefix_on_latest": True,
        "suffix_on_latest": True,
        "patterns": ("{{version}}", "{{major}}.{{minor}}", "{{major}}"),
        "extra": (),
        "git_tag_prefix": "",
        "git_tag_regex": "",
        "non_version": "refuse",
    }


def test_rules_are_frozen_and_keyword_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RULES.latest = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        TagRules("main")  # type: ignore[call-arg]


def test_tag_rule_keys_map_dashed_config_keys_to_attributes() -> None:
    assert TAG_RULE_KEYS == (
        ("default-branch", "default_branch"),
        ("latest", "latest"),
        ("major", "major"),
        ("minor", "minor"),
        ("patterns", "patterns"),
        ("extra", "extra"),
        ("edge", "edge"),
        ("branch", "branch"),
        ("sha", "sha"),
        ("sha-length", "sha_length"),
        ("prefix", "prefix"),
        ("suffix", "suffix"),
        ("prefix-on-latest", "prefix_on_latest"),
        ("suffix-on-latest", "suffix_on_latest"),
        ("git-tag-prefix", "git_tag_prefix"),
        ("git-tag-regex", "git_tag_regex"),
        ("non-version", "non_version"),
    )
    # Every field of TagRules is a key, and every key a field.
    assert {attr for _, attr in TAG_RULE_KEYS} == {f.name for f in dataclasses.fields(TagRules)}


def test_compute_tags_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        compute_tags("1.4.2", None, None)  # type: ignore[call-arg]


def test_tag_error_is_a_value_error() -> None:
    assert issubclass(TagError, ValueError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.4.2", "1.4.2"), ("v1.4.2", "1.4.2"), (" v1.5.0-rc.1 ", "1.5.0rc1"), ("1!2.0", "1!2.0")],
)
def test_parse_version(text: str, expected: str) -> None:
    parsed = parse_version(text)
    assert isinstance(parsed, Version)
    assert str(parsed) == expected


def test_parse_version_error_names_the_option() -> None:
    with pytest.raises(TagError, match=r"^--ref: 'vv1' is not a PEP 440 version \(e\.g\. "):
        parse_version("vv1", option="--ref")
