"""The vocabulary of #20: patterns, prefix/suffix, extra tags, git-tag rules, non-version tags.

Exact tuples (order included) and exact error lines; the metadata-action comparison is in
test_tags_metadata_action.py, the protections as properties in test_tags_properties.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildkit_slim import config, refs, staging, tag_grammar
from buildkit_slim.config import checks
from buildkit_slim.tag_grammar import is_tag, parse_pattern, tag_problem
from buildkit_slim.tags import (
    DEFAULT_RULES,
    ReleaseTags,
    TagError,
    TagRules,
    build_tags,
    compute_tags,
    input_version,
    release_tags,
)

SHA = "3f9c2a1d4e5b6a7980f1e2d3c4b5a69788776655"
P1 = TagRules(git_tag_prefix="p1/")
P1_REGEX = TagRules(git_tag_regex=r"^p1/v(.+)$")
PUBLISH = TagRules(non_version="publish")

CASES = [
    # Patterns.
    pytest.param("1.4.2", None, TagRules(patterns=("{{version}}",)), ("1.4.2", "latest"),
                 id="only-the-version-and-latest"),
    pytest.param("1.4.2", None, TagRules(patterns=("{{major}}.{{minor}}",), latest=False),
                 ("1.4",), id="only-major-minor"),
    pytest.param("v1.4.2", None, TagRules(patterns=("{{raw}}",)), ("v1.4.2", "latest"),
                 id="raw-as-written"),
    pytest.param(None, "refs/tags/V1.4.2", TagRules(patterns=("{{raw}}", "{{version}}")),
                 ("V1.4.2", "1.4.2", "latest"), id="raw-from-the-ref"),
    pytest.param("1.4.2", None, TagRules(patterns=("v{{version}}", "v{{major}}.{{minor}}")),
                 ("v1.4.2", "v1.4", "latest"), id="literal-text"),
    pytest.param("1.4", None, TagRules(patterns=("{{major}}.{{minor}}.{{patch}}",)),
                 ("1.4.0", "latest"), id="patch-padded"),
    pytest.param("1", None, TagRules(patterns=("{{ major }}.{{minor}}",)), ("1.0", "latest"),
                 id="spaces-in-braces"),
    pytest.param("1.4.2", None, TagRules(patterns=("{{major}}", "{{version}}")),
                 ("1", "1.4.2", "latest"), id="pattern-order-kept"),
    # A pre-release tags only itself: floating patterns render {{version}} instead.
    pytest.param("1.5.0rc1", None, TagRules(patterns=("{{major}}.{{minor}}",)), ("1.5.0rc1",),
                 id="pre-floating-becomes-version"),
    pytest.param("v2.0.8-beta.67", None, TagRules(patterns=("{{raw}}", "{{major}}")),
                 ("v2.0.8-beta.67", "2.0.8b67"), id="semver-pre-raw-and-pep440"),
    pytest.param("1.5.0rc1", None, TagRules(patterns=("v{{version}}", "r{{patch}}")),
                 ("v1.5.0rc1", "1.5.0rc1"), id="pre-patch-is-no-version-spelling"),
    pytest.param("1.4.2+abc", None, TagRules(patterns=("{{raw}}",)), ("1.4.2-abc",),
                 id="raw-local-plus-to-dash"),
    # Prefix, suffix and latest.
    pytest.param("1.4.2", None, TagRules(prefix="foo-", suffix="-dev"),
                 ("foo-1.4.2-dev", "foo-1.4-dev", "foo-1-dev", "foo-latest-dev"),
                 id="prefix-suffix-on-latest"),
    pytest.param("1.4.2", None, TagRules(prefix="foo-", suffix="-dev", prefix_on_latest=False),
                 ("foo-1.4.2-dev", "foo-1.4-dev", "foo-1-dev", "latest-dev"),
                 id="prefix-not-on-latest"),
    pytest.param("1.4.2", None, TagRules(suffix="-slim", suffix_on_latest=False, major=False),
                 ("1.4.2-slim", "1.4-slim", "latest"), id="suffix-not-on-latest"),
    pytest.param("1.4.2", "refs/heads/main", TagRules(suffix="-slim", patterns=("{{version}}",)),
                 ("1.4.2-slim", "latest-slim", "edge-slim"), id="suffix-on-edge"),
    pytest.param(None, "refs/pull/7/merge", TagRules(suffix="-slim"), ("pr-7-slim",),
                 id="suffix-on-pr"),
    # Extra tags: with a final release only, between the patterns and latest.
    pytest.param("1.4.2", None, TagRules(extra=("stable", "prod"), prefix="p-"),
                 ("p-1.4.2", "p-1.4", "p-1", "p-stable", "p-prod", "p-latest"), id="extra"),
    pytest.param("1.5.0rc1", None, TagRules(extra=("stable",)), ("1.5.0rc1",),
                 id="no-extra-on-pre"),
    pytest.param(None, "refs/heads/main", TagRules(extra=("stable",)), ("edge",),
                 id="no-extra-on-a-branch"),
    # Git tag rules: a monorepo's p1/v1.0.0.
    pytest.param(None, "refs/tags/p1/v1.0.0", P1, ("1.0.0", "1.0", "1", "latest"),
                 id="git-tag-prefix"),
    pytest.param(None, "refs/tags/p1/v1.0.0", TagRules(git_tag_prefix="p1/",
                                                        patterns=("{{raw}}",)),
                 ("v1.0.0", "latest"), id="git-tag-prefix-raw-is-after-the-prefix"),
    pytest.param(None, "refs/tags/p1/v1.0.0rc1", P1_REGEX, ("1.0.0rc1",), id="git-tag-regex"),
    pytest.param("p1/v1.0.0", None, P1, ("1.0.0", "1.0", "1", "latest"),
                 id="version-through-the-prefix"),
    pytest.param("1.0.0", None, P1, ("1.0.0", "1.0", "1", "latest"),
                 id="version-without-the-prefix"),
    pytest.param("p1/v1.0.0", "refs/tags/p1/v1.0", P1, ("1.0.0", "1.0", "1", "latest"),
                 id="version-and-ref-agree"),
    # A git tag that is no version, published as itself.
    pytest.param(None, "refs/tags/sometag", PUBLISH, ("sometag",), id="publish"),
    pytest.param(None, "refs/tags/Nightly/2024#1", TagRules(non_version="publish", prefix="x-"),
                 ("x-Nightly-2024-1",), id="publish-sanitized-case-kept"),
    pytest.param(None, "refs/tags/p1/nightly", TagRules(non_version="publish",
                                                         git_tag_prefix="p1/"),
                 ("p1-nightly",), id="publish-under-a-prefix"),
    pytest.param("sometag", None, PUBLISH, ("sometag",), id="publish-version-argument"),
    pytest.param(None, "refs/tags/v1.4.2", PUBLISH, ("1.4.2", "1.4", "1", "latest"),
                 id="publish-leaves-versions-alone"),
    # Branches: reserved as the patterns say.
    pytest.param(None, "refs/heads/v1.4", DEFAULT_RULES, ("v1.4",), id="v-branch-default"),
    pytest.param(None, "refs/heads/1.4.x", TagRules(patterns=("v{{version}}",)), ("1.4.x",),
                 id="branch-with-v-patterns"),
    pytest.param(None, "refs/heads/123-fix-login", TagRules(patterns=("{{version}}",)),
                 ("123-fix-login",), id="issue-branch"),
    # Issue branches: only a local version (123+fix) could be tagged so; not reserved.
    pytest.param(None, "refs/heads/123-fix", DEFAULT_RULES, ("123-fix",), id="issue-number-dash"),
    pytest.param(None, "refs/heads/1.4-fix", DEFAULT_RULES, ("1.4-fix",), id="version-dash-word"),
    pytest.param(None, "refs/heads/1.4-fix", TagRules(patterns=("{{raw}}", "{{version}}")),
                 ("1.4-fix",), id="version-dash-word-raw"),
]


@pytest.mark.parametrize(("version", "ref", "rules", "expected"), CASES)
def test_tags(version: str | None, ref: str | None, rules: TagRules,
              expected: tuple[str, ...]) -> None:
    tags = compute_tags(version=version, ref=ref, sha=None, rules=rules)
    assert tags == expected
    assert all(is_tag(tag) for tag in tags)


ERRORS = [
    pytest.param({"ref": "refs/tags/p2/v1.0.0"}, P1,
                 "--ref: tag 'p2/v1.0.0' does not start with git-tag-prefix 'p1/' (another "
                 "package's tag? run the workflow on this package's tags only)",
                 id="other-package-prefix"),
    pytest.param({"ref": "refs/tags/p2/v1.0.0"}, TagRules(git_tag_prefix="p1/",
                                                           non_version="publish"),
                 "--ref: tag 'p2/v1.0.0' does not start with git-tag-prefix 'p1/' (another "
                 "package's tag? run the workflow on this package's tags only)",
                 id="other-package-never-published"),
    pytest.param({"ref": "refs/tags/v1.0.0"}, P1_REGEX,
                 "--ref: tag 'v1.0.0' does not match git-tag-regex '^p1/v(.+)$' (another "
                 "package's tag? run the workflow on this package's tags only)",
                 id="regex-mismatch"),
    pytest.param({"ref": "refs/tags/p1/nightly"}, P1,
                 "--ref: tag 'p1/nightly' gives 'nightly' through git-tag-prefix 'p1/', which is "
                 'not a PEP 440 version; or set non-version = "publish" in [tool.slim.tags] to '
                 "tag it as itself", id="prefix-then-no-version"),
    pytest.param({"ref": "refs/tags/p1/vx"}, P1_REGEX,
                 "--ref: tag 'p1/vx' gives 'x' through git-tag-regex '^p1/v(.+)$', which is not "
                 'a PEP 440 version; or set non-version = "publish" in [tool.slim.tags] to tag '
                 "it as itself", id="regex-then-no-version"),
    pytest.param({"version": "p2/v1.0"}, TagRules(git_tag_prefix="p1/", non_version="publish"),
                 "--version: 'p2/v1.0' is no version and does not start with git-tag-prefix "
                 "'p1/'", id="version-of-another-package"),
    pytest.param({"version": "sometag"}, DEFAULT_RULES,
                 "--version: 'sometag' is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)",
                 id="version-refused"),
    pytest.param({"version": "1.0", "ref": "refs/tags/sometag"}, PUBLISH,
                 "--version '1.0' disagrees with --ref 'refs/tags/sometag' (sometag); pass "
                 "matching values or omit --version", id="version-vs-non-version"),
    pytest.param({"ref": "refs/tags/latest"}, PUBLISH,
                 "--ref: tag 'latest' would be published as 'latest', which is reserved for "
                 "release, edge, sha and pr tags; use another tag name", id="publish-latest"),
    pytest.param({"ref": "refs/tags/stable"}, TagRules(non_version="publish", extra=("stable",)),
                 "--ref: tag 'stable' would be published as 'stable', which is reserved for "
                 "release, edge, sha and pr tags; use another tag name", id="publish-extra"),
    pytest.param({"ref": "refs/tags/%%%"}, PUBLISH,
                 "--ref: tag '%%%' has no characters usable in an OCI tag (letters, digits, '_', "
                 "'.', '-')", id="publish-nothing-usable"),
    pytest.param({"ref": "refs/heads/v1.4"}, TagRules(patterns=("v{{major}}.{{minor}}",)),
                 "--ref: branch 'v1.4' would be tagged 'v1.4', which is reserved for release, "
                 "edge, sha and pr tags; rename the branch or set branch = false",
                 id="branch-like-a-pattern"),
    pytest.param({"ref": "refs/heads/1.5.0rc1"}, TagRules(patterns=("{{major}}.{{minor}}",)),
                 "--ref: branch '1.5.0rc1' would be tagged '1.5.0rc1', which is reserved for "
                 "release, edge, sha and pr tags; rename the branch or set branch = false",
                 id="branch-like-a-pre-release"),
    pytest.param({"ref": "refs/heads/1.4.post1"}, DEFAULT_RULES,
                 "--ref: branch '1.4.post1' would be tagged '1.4.post1', which is reserved for "
                 "release, edge, sha and pr tags; rename the branch or set branch = false",
                 id="branch-like-a-post-release"),
    pytest.param({"ref": "refs/heads/1.4-1"}, TagRules(patterns=("{{raw}}",)),
                 "--ref: branch '1.4-1' would be tagged '1.4-1', which is reserved for "
                 "release, edge, sha and pr tags; rename the branch or set branch = false",
                 id="branch-like-a-raw-post-release"),
    pytest.param({"ref": "refs/heads/stable"}, TagRules(extra=("stable",)),
                 "--ref: branch 'stable' would be tagged 'stable', which is reserved for "
                 "release, edge, sha and pr tags; rename the branch or set branch = false",
                 id="branch-like-an-extra-tag"),
    pytest.param({"version": "1.4.2"}, TagRules(patterns=("{{version}}-" + "x" * 125,)),
                 f"--version: tag '1.4.2-{'x' * 125}' is not a valid OCI tag (must match "
                 "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", id="pattern-too-long"),
]


@pytest.mark.parametrize(("kwargs", "rules", "message"), ERRORS)
def test_errors(kwargs: dict[str, str], rules: TagRules, message: str) -> None:
    with pytest.raises(TagError) as caught:
        compute_tags(version=kwargs.get("version"), ref=kwargs.get("ref"), sha=None,
                     rules=rules)
    assert str(caught.value) == message


@pytest.mark.parametrize(("version", "rules", "expected"), [
    pytest.param("1.4.2", DEFAULT_RULES,
                 ReleaseTags(("1.4.2", "1.4", "1", "latest"), ("1.4.2",), "1.4.2"), id="default"),
    pytest.param("v1.4.2", TagRules(patterns=("{{raw}}", "{{version}}", "{{major}}"),
                                    extra=("stable",)),
                 ReleaseTags(("v1.4.2", "1.4.2", "1", "stable", "latest"), ("v1.4.2", "1.4.2"),
                             "1.4.2"),
                 id="raw-and-version-both-immutable"),
    pytest.param("1.4.2", TagRules(patterns=("{{major}}.{{minor}}.{{patch}}", "{{major}}")),
                 ReleaseTags(("1.4.2", "1", "latest"), ("1.4.2",), "1.4.2"), id="patch-immutable"),
    pytest.param("1.4.2", TagRules(patterns=("{{major}}.{{minor}}",)),
                 ReleaseTags(("1.4", "latest"), (), "1.4.2"), id="only-floating"),
    pytest.param("1", DEFAULT_RULES, ReleaseTags(("1", "1.0", "latest"), ("1",), "1"),
                 id="one-part"),
    pytest.param("1", TagRules(patterns=("{{major}}",)), ReleaseTags(("1", "latest"), ("1",), "1"),
                 id="major-is-the-version"),
    pytest.param("p1/v2.0rc1", TagRules(git_tag_prefix="p1/", patterns=("{{major}}",)),
                 ReleaseTags(("2.0rc1",), ("2.0rc1",), "2.0rc1"), id="monorepo-pre"),
    pytest.param("sometag", PUBLISH, ReleaseTags(("sometag",), ("sometag",), "sometag"),
                 id="publish"),
])
def test_release_tags(version: str, rules: TagRules, expected: ReleaseTags) -> None:
    assert release_tags(version, rules) == expected


def test_release_tags_name_the_argument() -> None:
    with pytest.raises(TagError, match=r"^VERSION: 'nope' is not a PEP 440 version"):
        release_tags("nope", DEFAULT_RULES, option="VERSION")


def test_input_version_keeps_the_spelling() -> None:
    named = input_version(" p1/V1.0-RC.1 ", TagRules(git_tag_prefix=" p1/"))
    assert (str(named.version), named.raw) == ("1.0rc1", "V1.0-RC.1")


@pytest.mark.parametrize(("kwargs", "tags", "warnings"), [
    pytest.param({"ref": "refs/tags/p1/v1.4.2"}, ("1.4.2", "1.4", "1", "latest"), (),
                 id="monorepo-agrees"),
    pytest.param({"ref": "refs/tags/p1/v2.0"}, ("2.0", "2", "latest"),
                 ("refs/tags/p1/v2.0 is not [project].version 1.4.2",), id="monorepo-disagrees"),
    pytest.param({"ref": "refs/tags/p1/v1.4.2", "sha": SHA[:7], "no_version": True},
                 ("sha-3f9c2a1",), (), id="monorepo-no-version"),
])
def test_build_tags_with_a_git_tag_prefix(kwargs: dict[str, object], tags: tuple[str, ...],
                                          warnings: tuple[str, ...]) -> None:
    args: dict[str, object] = {"project_version": "1.4.2", "version": None, "ref": None,
                               "sha": None, "rules": P1, **kwargs}
    assert build_tags(**args) == (tags, warnings)  # type: ignore[arg-type]


def test_build_tags_no_version_publish_and_refuse() -> None:
    # A non-version tag push: the image is merged under its sha; `bslim release` adds the tag.
    assert build_tags(project_version="1.4.2", version=None, ref="refs/tags/sometag", sha=SHA,
                      rules=PUBLISH, no_version=True) == (("sha-3f9c2a1",), ())
    with pytest.raises(TagError, match=r"^--ref: tag 'sometag' is not a PEP 440 version"):
        build_tags(project_version="1.4.2", version=None, ref="refs/tags/sometag", sha=SHA,
                   rules=DEFAULT_RULES, no_version=True)
    with pytest.raises(TagError, match=r"^--ref: tag 'p2/v1' does not start with"):
        build_tags(project_version="1.4.2", version=None, ref="refs/tags/p2/v1", sha=SHA,
                   rules=TagRules(git_tag_prefix="p1/", non_version="publish"),
                   no_version=True)


@pytest.mark.parametrize(("text", "problem"), [
    ("1.4.2", None), ("_x", None), ("a" * 128, None),
    ("", "a tag cannot be empty"),
    ("a" * 129, "a tag has 128 characters at most, this one 129"),
    ("1.4+x", "'+' cannot be in a tag (letters, digits, '_', '.', '-')"),
    ("-x", "a tag starts with a letter, digit or '_'"),
    ("x\n", "'\\n' cannot be in a tag (letters, digits, '_', '.', '-')"),
])
def test_tag_problem(text: str, problem: str | None) -> None:
    assert tag_problem(text) == problem
    assert is_tag(text) == (problem is None)


def test_the_tag_grammar_is_written_once() -> None:
    """tag_grammar is the one source: config's checks, refs, staging and tags take it from there."""
    assert config.TAG_RE is vars(refs)["TAG_RE"] is vars(staging)["TAG_RE"] is tag_grammar.TAG_RE
    assert f"(?::{tag_grammar.TAG_GRAMMAR})?" in checks.IMAGE_REF_RE.pattern
    # No other module spells the grammar's character classes.
    package = Path(tag_grammar.__file__).parent
    spelled = re.compile(r"A-Za-z0-9_\]\[A-Za-z0-9_\.-|\[\^?A-Za-z0-9_\.-\]")
    copies = [str(path.relative_to(package)) for path in sorted(package.rglob("*.py"))
              if path.name != "tag_grammar.py" and spelled.search(path.read_text())]
    assert copies == []


@pytest.mark.parametrize(("text", "immutable", "names_the_version"), [
    ("{{version}}", True, True), ("{{raw}}", True, True), ("v{{ version }}-x", True, True),
    ("{{major}}.{{minor}}.{{patch}}", True, False), ("{{major}}.{{minor}}", False, False),
    ("{{major}}", False, False), ("_{{minor}}", False, False),
])
def test_pattern_kinds(text: str, immutable: bool, names_the_version: bool) -> None:
    pattern = parse_pattern(text)
    assert (pattern.immutable, pattern.names_the_version) == (immutable, names_the_version)


@pytest.mark.parametrize(("text", "name", "could"), [
    ("{{version}}", "1.4.2", True), ("{{version}}", "1.4.2rc1", True),
    ("{{version}}", "1.4.post1", True), ("{{version}}", "1.4.dev0", True),
    ("{{version}}", "1.4.x", False), ("{{version}}", "01.4", False), ("{{version}}", "v1.4", False),
    # What only a local version renders (1.4+fix -> 1.4-fix) is a branch's to take.
    ("{{version}}", "1.4-fix", False), ("{{version}}", "123-fix", False),
    ("{{raw}}", "v1.4", True), ("{{raw}}", "V1.0-RC.1", True), ("{{raw}}", "1.4-1", True),
    ("{{raw}}", "1.4-dev", True), ("{{raw}}", "123-fix", False), ("{{raw}}", "1.4-fix", False),
    ("{{raw}}", "v1.x", False), ("{{raw}}", "release", False),
    ("v{{major}}.{{minor}}", "v1.4", True), ("v{{major}}.{{minor}}", "v1.4.2", False),
    ("{{major}}-{{raw}}", "1-v1.0", True),
])
def test_what_a_pattern_could_render(text: str, name: str, could: bool) -> None:
    assert parse_pattern(text).could_render(name) is could


@pytest.mark.parametrize("rules", [
    DEFAULT_RULES, P1, P1_REGEX, PUBLISH,
    TagRules(patterns=("{{raw}}", "{{major}}.{{minor}}"), extra=("stable",), suffix="-slim",
             prefix="py3-", prefix_on_latest=False, non_version="publish", git_tag_prefix="p1/"),
], ids=["default", "prefix", "regex", "publish", "everything"])
@pytest.mark.parametrize("git_tag", ["v1.4.2", "p1/v1.4.2", "p1/v2.0.0rc1", "p1/nightly",
                                     "sometag", "p2/v1.0"])
def test_the_workflow_release_tags_what_bslim_tags_computes(rules: TagRules,
                                                            git_tag: str) -> None:
    """On a tag push the merge job runs `bslim tags --no-version` (which checks the tag), then
    `bslim release "$GITHUB_REF_NAME"`; a user runs `bslim tags --ref refs/tags/<tag>`: both
    give the same version tags, or both refuse."""
    ref = f"refs/tags/{git_tag}"
    try:
        expected: tuple[str, ...] | str = compute_tags(version=None, ref=ref, sha=None,
                                                       rules=rules)
    except TagError:
        expected = "refused"
    try:
        merged, _ = build_tags(project_version=None, version=None, ref=ref, sha=SHA,
                               rules=rules, no_version=True)
        assert merged == (rules.affix("sha-3f9c2a1"),)
        got: tuple[str, ...] | str = release_tags(git_tag, rules).tags
    except TagError:
        got = "refused"
    assert got == expected
