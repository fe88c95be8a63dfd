"""`[tool.slim.tags]`: the tag rules table, its exact error lines, and its defaults."""

from __future__ import annotations

import jsonschema
import pytest

from buildkit_slim import schema
from buildkit_slim.config import load
from buildkit_slim.errors import ConfigError
from buildkit_slim.tags import DEFAULT_RULES, TAG_RULE_KEYS, TagRules
from tests.unit.conftest import WriteProject, tag_rules_of

PROJECT = """\
    [project]
    name = "spark"
    version = "1.4.2"

    [project.scripts]
    spark = "spark.cli:main"

    [tool.slim]
    image = "ghcr.io/acme/spark"
"""

BAD = [
    pytest.param('tags = "latest"', ["tool.slim.tags: must be a table, got a string"],
                 id="not-a-table"),
    pytest.param("[tool.slim.tags]\nsha-lenght = 8",
                 ["tool.slim.tags.sha-lenght: unknown key; did you mean 'sha-length'?"],
                 id="unknown-key-suggested"),
    pytest.param("[tool.slim.tags]\nsha_length = 8",
                 ["tool.slim.tags.sha_length: unknown key; did you mean 'sha-length'?"],
                 id="underscore-key"),
    pytest.param("[tool.slim.tags]\nflavour = 1", ["tool.slim.tags.flavour: unknown key"],
                 id="unknown-key-no-suggestion"),
    pytest.param('[tool.slim.tags]\nlatest = "no"',
                 ["tool.slim.tags.latest: must be a boolean, got a string"], id="bool-as-string"),
    pytest.param("[tool.slim.tags]\nsha-length = true",
                 ["tool.slim.tags.sha-length: must be an integer, got a boolean"],
                 id="bool-is-not-int"),
    pytest.param('[tool.slim.tags]\nsha-length = "8"',
                 ["tool.slim.tags.sha-length: must be an integer, got a string"],
                 id="int-as-string"),
    pytest.param("[tool.slim.tags]\nsha-length = 3",
                 ["tool.slim.tags.sha-length: 3 is out of range (7 to 40)"], id="sha-short"),
    pytest.param("[tool.slim.tags]\nedge = 7",
                 ["tool.slim.tags.edge: must be a string, got an integer"], id="edge-int"),
    pytest.param('[tool.slim.tags]\nedge = "bleeding edge"',
                 ["tool.slim.tags.edge: 'bleeding edge' is not a valid OCI tag (must match "
                  "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; use '' to disable)"], id="edge-bad-tag"),
    pytest.param('[tool.slim.tags]\nprefix = "-v"',
                 ["tool.slim.tags.prefix: '-v' cannot start an OCI tag (letters, digits, '_' "
                  "first; then also '.' and '-')"], id="prefix-bad"),
    pytest.param('[tool.slim.tags]\ndefault-branch = ""',
                 ["tool.slim.tags.default-branch: must not be empty"], id="branch-empty"),
    pytest.param('[tool.slim.tags]\ndefault-branch = "ma\\nin"',
                 ["tool.slim.tags.default-branch: must not contain newlines or control "
                  "characters"], id="branch-newline"),
    # The patterns and the keys of issue #20.
    pytest.param('[tool.slim.tags]\npatterns = "{{version}}"',
                 ["tool.slim.tags.patterns: must be an array, got a string"], id="patterns-str"),
    pytest.param("[tool.slim.tags]\npatterns = []",
                 ['tool.slim.tags.patterns: must list at least one pattern, e.g. '
                  '["{{version}}"]'], id="patterns-empty"),
    # A non-string item does not hide what is wrong with the strings (as in every array).
    pytest.param("[tool.slim.tags]\npatterns = ['{{majr}}.{{minor}}', 7]",
                 ["tool.slim.tags.patterns[0]: '{{majr}}.{{minor}}' has the unknown placeholder "
                  "{{majr}}; did you mean {{major}}? (valid: {{version}}, {{major}}, {{minor}}, "
                  "{{patch}}, {{raw}})",
                  "tool.slim.tags.patterns[1]: must be a string, got an integer"],
                 id="patterns-item-int"),
    pytest.param("[tool.slim.tags]\npatterns = ['{{majr}}.{{minor}}', '{{version}}+x', "
                 "'stable', '{{version', '-{{major}}', '{{version}}', '{{ version }}', "
                 "'{{version}}']",
                 ["tool.slim.tags.patterns[0]: '{{majr}}.{{minor}}' has the unknown placeholder "
                  "{{majr}}; did you mean {{major}}? (valid: {{version}}, {{major}}, {{minor}}, "
                  "{{patch}}, {{raw}})",
                  "tool.slim.tags.patterns[1]: '{{version}}+x': '+' cannot be in a tag (besides "
                  "the placeholders: letters, digits, '_', '.', '-')",
                  "tool.slim.tags.patterns[2]: 'stable' has no placeholder ({{version}}, "
                  "{{major}}, {{minor}}, {{patch}}, {{raw}}); fixed tags go in "
                  "tool.slim.tags.extra",
                  "tool.slim.tags.patterns[3]: '{{version' has a brace outside a placeholder "
                  "(placeholders are {{version}}, {{major}}, {{minor}}, {{patch}}, {{raw}})",
                  "tool.slim.tags.patterns[4]: '-{{major}}' cannot start a tag (a letter, digit, "
                  "'_' or placeholder first)",
                  "tool.slim.tags.patterns[7]: '{{version}}' is listed twice"],
                 id="patterns-every-problem"),
    # major/minor = false drop from the default patterns; with other patterns they cannot.
    pytest.param("[tool.slim.tags]\npatterns = ['{{version}}']\nmajor = false\nminor = false",
                 ["tool.slim.tags.major: has no say when patterns is set; list '{{major}}' in "
                  "patterns or leave it out",
                  "tool.slim.tags.minor: has no say when patterns is set; list "
                  "'{{major}}.{{minor}}' in patterns or leave it out"],
                 id="patterns-with-major-minor"),
    pytest.param("[tool.slim.tags]\nminor = false\npatterns = ['{{version}}']\nmajor = true",
                 ["tool.slim.tags.minor: has no say when patterns is set; list "
                  "'{{major}}.{{minor}}' in patterns or leave it out"],
                 id="patterns-with-minor"),
    pytest.param("[tool.slim.tags]\nextra = ['my tag', 'latest', 'v2', 'sha-abc1234', "
                 "'ok', 'ok', '']",
                 ["tool.slim.tags.extra[0]: 'my tag' is not a valid OCI tag (' ' cannot be in a "
                  "tag (letters, digits, '_', '.', '-'))",
                  "tool.slim.tags.extra[1]: 'latest' looks like a tag bslim computes (latest, "
                  "edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns",
                  "tool.slim.tags.extra[2]: 'v2' looks like a tag bslim computes (latest, edge, a "
                  "version, sha-<hex>, pr-<n>); use latest/edge/patterns",
                  "tool.slim.tags.extra[3]: 'sha-abc1234' looks like a tag bslim computes "
                  "(latest, edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns",
                  "tool.slim.tags.extra[5]: 'ok' is listed twice",
                  "tool.slim.tags.extra[6]: '' is not a valid OCI tag (a tag cannot be empty)"],
                 id="extra-every-problem"),
    # The edge tag, as edge names it: a rule between two keys, checked once each is valid.
    pytest.param("[tool.slim.tags]\nextra = ['ok', 'edge']",
                 ["tool.slim.tags.extra[1]: 'edge' looks like a tag bslim computes (latest, "
                  "edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns"],
                 id="extra-is-edge"),
    pytest.param("[tool.slim.tags]\nextra = ['nightly']\nedge = 'nightly'",
                 ["tool.slim.tags.extra[0]: 'nightly' looks like a tag bslim computes (latest, "
                  "edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns"],
                 id="extra-is-renamed-edge"),
    pytest.param('[tool.slim.tags]\nsuffix = "+dev"',
                 ["tool.slim.tags.suffix: '+dev' cannot end an OCI tag (only letters, digits, "
                  "'_', '.', '-')"], id="suffix-bad"),
    pytest.param('[tool.slim.tags]\nsuffix-on-latest = "yes"',
                 ["tool.slim.tags.suffix-on-latest: must be a boolean, got a string"],
                 id="on-latest-str"),
    pytest.param('[tool.slim.tags]\nnon-version = "publsh"',
                 ["tool.slim.tags.non-version: 'publsh' is not one of 'refuse', 'publish'; did "
                  "you mean 'publish'?"], id="non-version-typo"),
    pytest.param("[tool.slim.tags]\nnon-version = true",
                 ["tool.slim.tags.non-version: must be a string, got a boolean"],
                 id="non-version-bool"),
    pytest.param('[tool.slim.tags]\ngit-tag-regex = "p1/v(.+"',
                 ["tool.slim.tags.git-tag-regex: 'p1/v(.+' is not a regular expression "
                  "(missing ), unterminated subpattern at position 4)"], id="regex-broken"),
    pytest.param('[tool.slim.tags]\ngit-tag-regex = "v{4294967296}(.+)"',
                 ["tool.slim.tags.git-tag-regex: 'v{4294967296}(.+)' is not a regular "
                  "expression (the repetition number is too large)"], id="regex-overflow"),
    pytest.param('[tool.slim.tags]\ngit-tag-regex = "^p1/v.+$"',
                 ["tool.slim.tags.git-tag-regex: '^p1/v.+$' has 0 groups; it needs exactly one, "
                  'the version (e.g. "^p1/v(.+)$")'], id="regex-no-group"),
    pytest.param('[tool.slim.tags]\ngit-tag-regex = "^(p1)/v(.+)$"',
                 ["tool.slim.tags.git-tag-regex: '^(p1)/v(.+)$' has 2 groups; it needs exactly "
                  'one, the version (e.g. "^p1/v(.+)$")'], id="regex-two-groups"),
    pytest.param('[tool.slim.tags]\ngit-tag-regex = "^p1/v(.+)$"\ngit-tag-prefix = "p1/"',
                 ["tool.slim.tags.git-tag-regex: set git-tag-prefix or git-tag-regex, not both"],
                 id="prefix-and-regex"),
    pytest.param('[tool.slim.tags]\ngit-tag-prefix = "refs/tags/p1/"',
                 ["tool.slim.tags.git-tag-prefix: 'refs/tags/p1/': give the start of the tag's "
                  'name, without refs/tags/ (e.g. "p1/")'], id="prefix-with-refs"),
    pytest.param('[tool.slim.tags]\ngit-tag-prefix = "p1/\\n"',
                 ["tool.slim.tags.git-tag-prefix: must not contain newlines or control "
                  "characters"], id="prefix-newline"),
    pytest.param('[tool.slim.tags]\npatterns = ["{{version}}\\t"]',
                 ["tool.slim.tags.patterns[0]: must not contain newlines or control "
                  "characters"], id="pattern-control"),
    pytest.param("[tool.slim.tags]\npatern = ['{{version}}']",
                 ["tool.slim.tags.patern: unknown key; did you mean 'patterns'?"],
                 id="patterns-typo"),
    # Every problem at once, in the order of the file (unknown keys too, as in [tool.slim]).
    pytest.param('[tool.slim.tags]\nsha-length = 99\nedge = "a b"\nmajr = false',
                 ["tool.slim.tags.sha-length: 99 is out of range (7 to 40)",
                  "tool.slim.tags.edge: 'a b' is not a valid OCI tag (must match "
                  "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; use '' to disable)",
                  "tool.slim.tags.majr: unknown key; did you mean 'major'?"], id="all-at-once"),
    # The rules between keys too: each key's own problems first, then those between the keys
    # that are fine alone.
    pytest.param('[tool.slim.tags]\nsha-length = 99\ngit-tag-prefix = "p1/"\n'
                 'git-tag-regex = "^p1/(.+)$"\nextra = ["edge"]',
                 ["tool.slim.tags.sha-length: 99 is out of range (7 to 40)",
                  "tool.slim.tags.extra[0]: 'edge' looks like a tag bslim computes (latest, "
                  "edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns",
                  "tool.slim.tags.git-tag-regex: set git-tag-prefix or git-tag-regex, not both"],
                 id="between-too"),
]


@pytest.mark.parametrize(("slim", "expected"), BAD)
def test_bad_tag_rules_exact_errors(
    write_project: WriteProject, slim: str, expected: list[str]
) -> None:
    root = write_project(PROJECT + slim + "\n")
    with pytest.raises(ConfigError) as info:
        load(root)
    assert list(info.value.problems) == expected


def test_tags_inside_a_target_is_refused(write_project: WriteProject) -> None:
    root = write_project(PROJECT + "[tool.slim.targets.api.tags]\nlatest = false\n")
    with pytest.raises(ConfigError) as info:
        load(root)
    assert list(info.value.problems) == [
        "tool.slim.targets.api.tags: can only be set at the top level (tool.slim.tags)"]


def test_no_table_means_the_default_rules(write_project: WriteProject) -> None:
    assert load(write_project(PROJECT)).tags == DEFAULT_RULES


def test_every_rule_can_be_set(write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
        [tool.slim.tags]
        default-branch = "trunk"
        latest = false
        major = false
        minor = false
        edge = "nightly"
        branch = false
        sha = false
        sha-length = 12
        prefix = "py3.13-"
        suffix = "-slim"
        prefix-on-latest = false
        suffix-on-latest = false
        extra = ["stable", "prod"]
        git-tag-prefix = "p1/"
        non-version = "publish"
    """.replace("\n        ", "\n"))
    rules = load(root).tags
    assert rules == TagRules(default_branch="trunk", latest=False, major=False, minor=False,
                             edge="nightly", branch=False, sha=False, sha_length=12,
                             prefix="py3.13-", suffix="-slim", prefix_on_latest=False,
                             suffix_on_latest=False, extra=("stable", "prod"),
                             git_tag_prefix="p1/", non_version="publish")
    # The keys that cannot go with those above: patterns (with major/minor), git-tag-regex
    # (with git-tag-prefix).
    root = write_project(PROJECT + """
        [tool.slim.tags]
        patterns = ["v{{version}}", "{{ major }}.{{minor}}", "{{raw}}"]
        git-tag-regex = "^p1/(.+)$"
    """.replace("\n        ", "\n"))
    assert load(root).tags == TagRules(
        patterns=("v{{version}}", "{{ major }}.{{minor}}", "{{raw}}"), git_tag_regex="^p1/(.+)$")
    # The two tables above name every key: a new rule must be added to them (and the README).
    assert [key for key, _ in TAG_RULE_KEYS] == [
        "default-branch", "latest", "major", "minor", "patterns", "extra", "edge", "branch",
        "sha", "sha-length", "prefix", "suffix", "prefix-on-latest", "suffix-on-latest",
        "git-tag-prefix", "git-tag-regex", "non-version"]


@pytest.mark.parametrize("table", [
    {"default-branch": "trunk", "latest": False, "major": False, "minor": False,
     "edge": "nightly", "branch": False, "sha": False, "sha-length": 12, "prefix": "py3.13-",
     "suffix": "-slim", "prefix-on-latest": False, "suffix-on-latest": False,
     "extra": ["stable", "prod"], "git-tag-prefix": "p1/", "non-version": "publish"},
    {"patterns": ["v{{version}}", "{{ major }}.{{minor}}", "{{raw}}"],
     "git-tag-regex": "^p1/(.+)$"},
], ids=["switches", "patterns"])
def test_what_bslim_accepts_the_schema_accepts(table: dict[str, object]) -> None:
    jsonschema.validate({"tags": table}, schema.schema())
    assert tag_rules_of(table) != DEFAULT_RULES
