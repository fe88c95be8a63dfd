"""The protections of `bslim tags` and `bslim release`, as properties over random input (#20).

For random PEP 440 versions (any spelling: `v` prefixes, semver-style `-beta.67`, implicit
post releases, local versions) and random `[tool.slim.tags]` rules (patterns, prefix, suffix,
on-latest switches, extra tags):

* a pre-, dev-, post- or local version never gets `latest`, an extra tag or a floating tag:
  every tag it gets spells the whole version;
* a final release gets `latest` exactly when the rules say so, and its floating tags are its
  own major and minor;
* a release never moves an existing version tag without --force, and with --force writes
  exactly the tags not already at the source;
* a branch never gets a tag that a release under the same rules gets, unless only a local
  version gets it (`1.4-fix` is an issue branch far more often than 1.4+fix is released).

The expected values come from how each version was drawn, not from bslim. Derandomized (a
fixed seed) with a bounded number of examples; `--hypothesis-show-statistics` shows the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from buildkit_slim import release
from buildkit_slim.blueprint import TargetBlueprint, make_blueprint
from buildkit_slim.config import load
from buildkit_slim.errors import CheckFailed
from buildkit_slim.remote import RemoteImage
from buildkit_slim.tags import TagError, TagRules, compute_tags, release_tags

EXAMPLES = 300
SETTINGS = settings(derandomize=True, max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
IMAGE = "ghcr.io/acme/spark"
SOURCE, OTHER = "sha256:" + "a" * 64, "sha256:" + "b" * 64

# Patterns with {{version}}, {{raw}} or {{patch}} name a version; the others float.
NAMING = ["{{version}}", "{{raw}}", "v{{version}}", "{{major}}.{{minor}}.{{patch}}",
          "{{version}}-{{major}}", "r{{patch}}"]
FLOATING = {"{{major}}": "{major}", "{{major}}.{{minor}}": "{major}.{minor}",
            "v{{major}}.{{minor}}": "v{major}.{minor}", "{{ minor }}": "{minor}"}


@dataclass(frozen=True)
class Drawn:
    text: str  # the version as written
    release: tuple[int, ...]
    final: bool  # no pre, dev, post or local part was drawn


NUMBERS = st.one_of(st.integers(0, 20), st.integers(0, 10**9))
PRE = st.tuples(st.sampled_from(["", ".", "-", "_"]),
                st.sampled_from(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "RC"]),
                st.sampled_from(["", ".", "-"]), NUMBERS).map(lambda p: "".join(map(str, p)))
POST = st.one_of(st.tuples(st.sampled_from([".post", "post", "-post", "_rev", ".r"]), NUMBERS)
                 .map(lambda p: f"{p[0]}{p[1]}"), NUMBERS.map(lambda n: f"-{n}"))
DEV = st.tuples(st.sampled_from([".dev", "dev", "-dev"]), NUMBERS).map(lambda p: f"{p[0]}{p[1]}")
LOCAL = st.from_regex(r"\+[a-z0-9]{1,6}([._-][A-Za-z0-9]{1,4})?", fullmatch=True)


@st.composite
def versions(draw: st.DrawFn) -> Drawn:
    numbers = tuple(draw(st.lists(NUMBERS, min_size=1, max_size=4)))
    parts = [""] * 4
    if draw(st.booleans()):  # half of them final; the others with one part, or several
        chosen = draw(st.one_of(st.sampled_from([[0], [1], [2], [3]]),
                                st.lists(st.integers(0, 3), min_size=2, max_size=4,
                                         unique=True)))
        parts = [draw(part) if i in chosen else "" for i, part in enumerate((PRE, POST, DEV,
                                                                             LOCAL))]
    lead = draw(st.sampled_from(["", "", "v", "V"]))
    text = lead + ".".join(map(str, numbers)) + "".join(parts)
    return Drawn(text=text, release=numbers, final=not any(parts))


@st.composite
def rules(draw: st.DrawFn) -> TagRules:
    shape: dict[str, object] = {}
    if draw(st.booleans()):
        shape["patterns"] = tuple(draw(st.lists(st.sampled_from([*NAMING, *FLOATING]),
                                                min_size=1, max_size=4, unique=True)))
    else:
        shape["major"], shape["minor"] = draw(st.booleans()), draw(st.booleans())
    return TagRules(
        **shape,  # type: ignore[arg-type]
        latest=draw(st.booleans()), prefix=draw(st.sampled_from(["", "py3-", "a.b_"])),
        suffix=draw(st.sampled_from(["", "-dev", ".x"])),
        prefix_on_latest=draw(st.booleans()), suffix_on_latest=draw(st.booleans()),
        extra=tuple(draw(st.lists(st.sampled_from(["stable", "prod", "lts"]), max_size=2,
                                  unique=True))))


def bare(tag: str, rules: TagRules) -> str:
    return tag.removeprefix(rules.prefix).removesuffix(rules.suffix)


def tags_of(drawn: Drawn, rules: TagRules) -> tuple[str, ...]:
    event("final release" if drawn.final else "pre/dev/post/local")
    version = Version(drawn.text)
    if not drawn.final:
        event(" ".join(name for name, part in (("pre", version.pre), ("post", version.post),
                                                ("dev", version.dev), ("local", version.local))
                       if part is not None))
    try:
        return compute_tags(version=drawn.text, ref=None, sha=None, rules=rules)
    except TagError as exc:
        event("too long for a tag")
        # Only a version too long for a tag may be refused (a billion-sized number, 4 parts).
        assert "is not a valid OCI tag" in str(exc), exc
        return ()


@SETTINGS
@given(versions(), rules())
def test_no_pre_release_gets_latest_extra_or_a_floating_tag(drawn: Drawn,
                                                            rules: TagRules) -> None:
    tags = tags_of(drawn, rules)
    if drawn.final or not tags:
        return
    assert rules.latest_tag() not in tags
    assert not {rules.affix(tag) for tag in rules.extra} & set(tags)
    spelled = str(Version(drawn.text)).replace("+", "-")
    raw = drawn.text.replace("+", "-")
    for tag in tags:
        assert spelled in bare(tag, rules) or raw in bare(tag, rules), (tag, drawn.text)
    # Every tag names the version, so a release treats each as immutable.
    assert release_tags(drawn.text, rules).immutable == tags


@SETTINGS
@given(versions(), rules())
def test_a_final_release_floats_its_own_major_and_minor(drawn: Drawn, rules: TagRules) -> None:
    tags = tags_of(drawn, rules)
    if not drawn.final or not tags:
        return
    assert (rules.latest_tag() in tags) == rules.latest
    assert {rules.affix(tag) for tag in rules.extra} <= set(tags)
    major, minor = (*drawn.release, 0)[:2]
    # major/minor = false drop their pattern (drawn only with the default patterns).
    dropped = {"{{major}}.{{minor}}": not rules.minor, "{{major}}": not rules.major}
    for pattern in (p for p in rules.patterns if not dropped.get(p)):
        if pattern in FLOATING:
            expected = FLOATING[pattern].format(major=major, minor=minor)
            assert rules.affix(expected) in tags
            # A floating tag moves freely, unless it is also the version's own ("1" of 1).
            assert rules.affix(expected) not in release_tags(drawn.text, rules).immutable \
                or expected in (str(Version(drawn.text)), drawn.text)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> TargetBlueprint:
    root = tmp_path_factory.mktemp("spark")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "spark"\nversion = "1.4.2"\n[project.scripts]\n'
        f'spark = "spark.cli:main"\n[tool.slim]\nimage = "{IMAGE}"\n')
    return make_blueprint(load(Path(root))).targets[0]


@SETTINGS
@given(versions(), rules(), st.data())
def test_a_release_never_moves_a_version_tag_without_force(
        target: TargetBlueprint, drawn: Drawn, rules: TagRules, data: st.DataObject) -> None:
    if not tags_of(drawn, rules):
        return
    found = release_tags(drawn.text, rules)
    refs = [f"{IMAGE}:{tag}" for tag in found.tags]
    immutable = [f"{IMAGE}:{tag}" for tag in found.immutable]
    # A tag spelling the whole version is a version tag, whichever pattern made it.
    spellings = {rules.affix(str(Version(drawn.text)).replace("+", "-")),
                 rules.affix(drawn.text.replace("+", "-"))}
    assert spellings & set(found.tags) <= set(found.immutable)
    current = {ref: data.draw(st.sampled_from([None, SOURCE, OTHER]), label=ref) for ref in refs}
    clash = any(current[ref] == OTHER for ref in immutable)
    source = RemoteImage(digest=SOURCE, index=True, platforms=tuple(target.config.platforms))

    def steps(force: bool) -> release.ReleaseSteps:
        return release.release_steps(target, immutable=immutable, tags=refs,
                                     source_ref=f"{IMAGE}:edge", source=source, current=current,
                                     force=force)

    if clash:
        with pytest.raises(CheckFailed, match="version tags are immutable"):
            steps(False)
    else:
        assert not {tag for tag, _ in steps(False).moved} & set(immutable)
    forced = steps(True)
    assert forced.forced == clash
    assert set(forced.to_write) == {ref for ref in refs if current[ref] != SOURCE}


@SETTINGS
@given(versions(), rules())
def test_no_branch_gets_a_release_tag(drawn: Drawn, rules: TagRules) -> None:
    tags = tags_of(drawn, rules)
    if Version(drawn.text).local is not None:
        # What only a local version renders (1.4+fix -> 1.4-fix) is left to branches: issue
        # branches are named so (see test_a_branch_may_take_a_local_versions_tag).
        return
    for tag in tags:
        try:
            branch = compute_tags(version=None, ref=f"refs/heads/{bare(tag, rules)}", sha=None,
                                  rules=rules)
        except TagError as exc:
            assert "reserved for release" in str(exc) or "no characters" in str(exc), exc
            event("branch refused")
            continue
        event("branch tagged")
        assert not set(branch) & set(tags), (tag, branch)


@SETTINGS
@given(st.from_regex(r"[1-9][0-9]{0,3}(\.[0-9]{1,2}){0,2}-[a-z]{2,8}", fullmatch=True), rules())
def test_a_branch_may_take_a_local_versions_tag(branch: str, rules: TagRules) -> None:
    """`123-fix`, `1.4-fix`: how teams name issue branches; such a tag is also what the local
    version 123+fix gets, which is not reason enough to refuse the branch."""
    local = Version(branch.replace("-", "+", 1))
    assert local.local is not None  # the collision the rule accepts is real
    if _spells_a_version(branch):  # 1.4-dev, 2-post: the dev or post release as {{raw}}
        event("spells a pre/post/dev release too")
        return
    event("only a local version's tag")
    assert compute_tags(version=None, ref=f"refs/heads/{branch}", sha=None, rules=rules) == (
        rules.affix(branch),)


def _spells_a_version(text: str) -> bool:
    try:
        Version(text)
    except ValueError:
        return False
    return True
