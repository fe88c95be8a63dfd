"""`[tool.slim.tags]`: the tag rules table, its exact error lines, and its defaults."""

from __future__ import annotations

import pytest

from buildkit_slim.config import load
from buildkit_slim.errors import ConfigError
from buildkit_slim.tags import DEFAULT_RULES, TAG_RULE_KEYS, TagRules
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
    # Every problem at once, in the order of the file.
    pytest.param('[tool.slim.tags]\nsha-length = 99\nedge = "a b"\nmajr = false',
                 ["tool.slim.tags.majr: unknown key; did you mean 'major'?",
                  "tool.slim.tags.sha-length: 99 is out of range (7 to 40)",
                  "tool.slim.tags.edge: 'a b' is not a valid OCI tag (must match "
                  "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; use '' to disable)"], id="all-at-once"),
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
    """.replace("\n        ", "\n"))
    rules = load(root).tags
    assert rules == TagRules(default_branch="trunk", latest=False, major=False, minor=False,
                             edge="nightly", branch=False, sha=False, sha_length=12,
                             prefix="py3.13-")
    # The test above names every key: a new rule must be added to it (and to the README).
    assert [key for key, _ in TAG_RULE_KEYS] == [
        "default-branch", "latest", "major", "minor", "edge", "branch", "sha", "sha-length",
        "prefix"]
