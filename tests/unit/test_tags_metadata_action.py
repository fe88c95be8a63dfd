"""docker/metadata-action's pep440/semver cases, in bslim's vocabulary (#20).

Source: https://github.com/docker/metadata-action, `__tests__/meta.test.ts` -- the 25 cases
whose tag inputs use `type=semver` or `type=pep440` (22 in its `push`/`tag`/`raw`/`json`
tables, one each in `bakeFile`). Each row is written from what the case means, not copied:

* tag in: the git ref of the case's fixture (`GITHUB_REF`), or the version the case passes as
  `value=` (then it is bslim's `--version`);
* config in: the case's `tags`/`flavor` inputs as a `[tool.slim.tags]` table, parsed by the
  real parser (an empty table where the action's rules are bslim's defaults);
* tags out: the tags the case expects for its first image, in its order.

Agreement means the same set of tags and the same first tag (the one the action also puts in
`org.opencontainers.image.version`). The order can differ in one way only: the action puts
`latest` last, bslim puts it right after the version and extra tags, before `edge` (push14,
push35). Where bslim differs or cannot say the same, the row says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.tags import TagError, compute_tags
from tests.unit.conftest import tag_rules_of

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULTS: dict[str, Any] = {}  # the action's {{version}}, {{major}}.{{minor}}, {{major}}
PATCH = ["{{version}}", "{{major}}.{{minor}}.{{patch}}"]
ALL_PARTS = ["{{version}}", "{{major}}.{{minor}}.{{patch}}", "{{major}}.{{minor}}", "{{major}}"]
FLOATING = ["{{major}}.{{minor}}", "{{major}}"]
MONOREPO = r"v(\d.\d.\d)$"  # the action's own match= of tag34/push35, verbatim
EXTRA = ["my", "custom", "tags"]


@dataclass(frozen=True)
class Case:
    name: str  # the action's test id
    ref: str | None  # tag in: the fixture's GITHUB_REF ...
    version: str | None  # ... or the value= the case passes
    table: dict[str, Any]  # config in: [tool.slim.tags]
    expected: tuple[str, ...]  # tags out, as the action's test expects them
    bslim: tuple[str, ...] | str | None = None  # where bslim differs: its tags, or its error
    why: str = ""
    action: str = field(default="", compare=False)  # the action's inputs, for the reader


CASES = [
    Case("push12", "refs/heads/my/feature#1245", None,
         {"default-branch": "master", "branch": False, "sha": False, "patterns": ["{{version}}"]},
         (), bslim="no tags: tool.slim.tags disables every tag for --ref "
                   "'refs/heads/my/feature#1245'; pass --version or enable edge, branch or sha",
         why="nothing to tag on a feature branch: the action returns no tags, bslim refuses "
             "(a build pushed without tags is never what the caller wants)",
         action="semver+pep440 {{version}}, type=edge"),
    Case("push14", "refs/heads/master", "v1.2.3",
         {"default-branch": "master", "sha": False, "patterns": ["{{version}}"]},
         ("1.2.3", "edge", "latest"), action="semver+pep440 {{version}},value=v1.2.3, type=edge"),
    Case("tag11", "refs/tags/v1.1.1", None, DEFAULTS, ("1.1.1", "1.1", "1", "latest"),
         action="semver {{version}}, {{major}}.{{minor}}, {{major}}"),
    Case("tag12", "refs/tags/v1.1.1", None, {"patterns": PATCH}, ("1.1.1", "latest"),
         action="semver {{version}}, {{major}}.{{minor}}.{{patch}}"),
    Case("tag13", "refs/tags/v2.0.8-beta.67", None, {"patterns": FLOATING},
         ("2.0.8-beta.67",), bslim=("2.0.8b67",),
         why="PEP 440 is bslim's version grammar: semver's 2.0.8-beta.67 is 2.0.8b67 "
             "({{raw}} keeps the tag as written, see tag31)",
         action="semver {{major}}.{{minor}}, {{major}}"),
    Case("tag14", "refs/tags/sometag", None, {"non-version": "publish", "latest": False},
         ("sometag",), action="type=ref,event=tag + semver patterns; latest=false"),
    Case("tag21", "refs/tags/v1.1.1", None, {"patterns": PATCH, "suffix": "-dev"},
         ("1.1.1-dev", "latest-dev"), action="semver patterns; suffix=-dev,onlatest=true"),
    Case("tag22", "refs/tags/v1.1.1", None,
         {"patterns": PATCH, "prefix": "foo-", "suffix": "-dev"},
         ("foo-1.1.1-dev", "foo-latest-dev"),
         action="semver patterns; prefix=foo-,onlatest=true; suffix=-dev,onlatest=true"),
    Case("tag23", "refs/tags/v1.1.1", None, {"patterns": ["{{raw}}", "{{major}}.{{minor}}"]},
         ("v1.1.1", "1.1", "latest"), action="pep440 {{raw}}, {{major}}.{{minor}}"),
    Case("tag24", "refs/tags/1.2", None, {"patterns": ["{{version}}", "{{major}}.{{minor}}"]},
         ("1.2", "latest"), action="pep440 {{version}}, {{major}}.{{minor}}"),
    Case("tag25", "refs/tags/1.1beta2", None, {"patterns": FLOATING}, ("1.1b2",),
         action="pep440 {{major}}.{{minor}}, {{major}}"),
    Case("tag26", "refs/tags/1.0dev4", None, {"patterns": FLOATING}, ("1.0.dev4",),
         action="pep440 {{major}}.{{minor}}, {{major}}"),
    Case("tag27", "refs/tags/1.2.3rc2", None,
         {"patterns": ["{{raw}}", "{{version}}", *FLOATING]}, ("1.2.3rc2",),
         action="pep440 {{raw}}, {{version}}, {{major}}.{{minor}}, {{major}}"),
    Case("tag28", "refs/tags/v1.1.1", None, {"patterns": ALL_PARTS},
         ("1.1.1", "1.1", "1", "latest"),
         action="pep440 {{version}}, {{major}}.{{minor}}.{{patch}}, {{major}}.{{minor}}, "
                "{{major}}"),
    Case("tag29", "refs/tags/1.2post1", None, {"patterns": ["{{version}}", *FLOATING]},
         ("1.2.post1",), action="pep440 {{version}}, {{major}}.{{minor}}, {{major}}"),
    Case("tag30", "refs/tags/sometag", None, {"non-version": "publish", "latest": False},
         ("sometag",), action="type=ref,event=tag + pep440 patterns; latest=false"),
    Case("tag31", "refs/tags/v2.0.8-beta.67", None, {"patterns": ["{{raw}}"]},
         ("v2.0.8-beta.67",), action="semver {{raw}}"),
    Case("tag32", "refs/tags/v1.2.3rc2", None, {"patterns": ["{{raw}}", "{{major}}.{{minor}}"]},
         ("v1.2.3rc2", "1.2.3rc2"), action="pep440 {{raw}}, {{major}}.{{minor}}"),
    Case("tag33", "refs/tags/v1.1.1", None, {"patterns": ALL_PARTS},
         ("1.1.1", "1.1", "1", "latest"), action="as tag28, tag names without images"),
    Case("tag34", "refs/tags/p1/v1.0.0", None,
         {"git-tag-regex": MONOREPO, "patterns": ["{{version}}"]}, ("1.0.0", "latest"),
         action=r"semver {{version}},match=v(\d.\d.\d)$"),
    Case("push35", "refs/heads/master", "p1/v1.2.3",
         {"default-branch": "master", "sha": False, "git-tag-regex": MONOREPO,
          "patterns": ["{{version}}"]}, ("1.2.3", "edge", "latest"),
         action=r"semver+pep440 {{version}},value=p1/v1.2.3,match=v(\d.\d.\d)$, type=edge"),
    *[Case(name, "refs/tags/v1.1.1", None, {"extra": EXTRA},
           ("1.1.1", "1.1", "1", "my", "custom", "tags", "latest"),
           action="semver {{version}}, {{major}}.{{minor}}, {{major}}; type=raw my, custom, tags")
      for name in ("raw05", "json05", "bakeFile05")],
]

# The case bslim's vocabulary cannot say, and why.
INEXPRESSIBLE = {
    "tag15": "type=raw,priority=2000,foo + semver {{version}} + type=match,pattern=\\d.\\d on "
             "v2.0.8-beta.67 gives foo, 2.0.8-beta.67 and 2.0: a floating 2.0 from a beta (the "
             "protection bslim keeps), an extra tag on a pre-release, and priority ordering",
}

AGREE = [c for c in CASES if c.bslim is None]
DIFFER = [c for c in CASES if c.bslim is not None]


def tags_for(case: Case) -> tuple[str, ...]:
    return compute_tags(version=case.version, ref=case.ref, sha=None,
                        rules=tag_rules_of(case.table))


@pytest.mark.parametrize("case", AGREE, ids=lambda c: c.name)
def test_bslim_agrees(case: Case) -> None:
    tags = tags_for(case)
    assert sorted(tags) == sorted(case.expected)
    assert len(tags) == len(case.expected)
    assert tags[0] == case.expected[0]
    # The order is the action's, but for where `latest` goes (after the extra tags, not last).
    latest = [t for t in tags if t.removeprefix("foo-").removesuffix("-dev") == "latest"]
    assert [t for t in tags if t not in latest] == [t for t in case.expected if t not in latest]


@pytest.mark.parametrize("case", DIFFER, ids=lambda c: c.name)
def test_bslim_differs_on_purpose(case: Case) -> None:
    assert case.why
    if isinstance(case.bslim, str):
        with pytest.raises(TagError) as info:
            tags_for(case)
        assert str(info.value) == case.bslim
    else:
        tags = tags_for(case)
        assert tags == case.bslim
        assert sorted(tags) != sorted(case.expected)


def test_the_count_covers_all_25_cases_once() -> None:
    names = [c.name for c in CASES] + list(INEXPRESSIBLE)
    assert len(names) == len(set(names)) == 25
    assert (len(AGREE), len(DIFFER), len(INEXPRESSIBLE)) == (22, 2, 1)


def test_the_readme_states_the_count() -> None:
    text = re.sub(r"\s+", " ", README.read_text())
    assert ("24 of its 25 pep440/semver cases can be said in `[tool.slim.tags]`, and 22 of "
            "those give the same tags") in text
