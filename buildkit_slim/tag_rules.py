"""`[tool.slim.tags]`: one declaration per key, the validator and the parser (pure).

The model, `TagRules`, is in `tags.py` with what computes tags from it (`bslim tags`, `bslim
release` and the reusable workflow all do so); every key is declared once in `TAG_KEYS` (type,
documentation; the default is the model's), from which the parser, the JSON schema and the
README table are made, and `check` validates the values.

How the old switches and the patterns combine: `major = false` / `minor = false` drop
`{{major}}` / `{{major}}.{{minor}}` from the default patterns; a table that sets `patterns`
and `major` or `minor` is refused (one place says which version tags there are). `latest`,
`prefix` and the rest apply with or without `patterns`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from buildkit_slim.tag_grammar import (
    TAG_CHARS,
    TAG_GRAMMAR,
    TagError,
    is_tag,
    parse_pattern,
    tag_problem,
)

if TYPE_CHECKING:
    from buildkit_slim.tags import TagRules

__all__ = [
    "DEFAULT_PATTERNS",
    "NON_VERSION",
    "RESERVED_SHAPES",
    "TAG_KEYS",
    "TagKey",
    "check",
    "parse_table",
]

DEFAULT_PATTERNS = ("{{version}}", "{{major}}.{{minor}}", "{{major}}")
NON_VERSION = ("refuse", "publish")
_SHA_LENGTH = (7, 40)
_PREFIX_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SUFFIX_RE = re.compile(r"[A-Za-z0-9_.-]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Shapes of tags bslim produces for other inputs; a branch or extra tag must not take them.
RESERVED_SHAPES = re.compile(r"latest|sha-[0-9a-f]+|pr-[0-9]+")
KEY = "tool.slim.tags"


@dataclass(frozen=True)
class TagKey:
    """One key of `[tool.slim.tags]`: the one declaration parser, schema and README use."""

    key: str  # as written in pyproject.toml
    kind: str  # "bool", "int", "str", "list" (of strings), "choice"
    doc: str
    choices: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()  # JSON schema keywords, e.g. ("minimum", 7)

    @property
    def attr(self) -> str:
        return self.key.replace("-", "_")

    @property
    def default(self) -> Any:
        from buildkit_slim.tags import DEFAULT_RULES

        value = getattr(DEFAULT_RULES, self.attr)
        return DEFAULT_PATTERNS if self.key == "patterns" else value


TAG_KEYS = (
    TagKey("default-branch", "str", "the branch tagged with `edge`"),
    TagKey("latest", "bool", "a final release also gets `latest`"),
    TagKey("major", "bool", "a final release also gets `1` (drops `{{major}}` from the default "
                            "patterns; not with `patterns`)"),
    TagKey("minor", "bool", "a final release also gets `1.4` (drops `{{major}}.{{minor}}`; not "
                            "with `patterns`)"),
    TagKey("patterns", "list", "the version tags, from `{{version}}`, `{{major}}`, `{{minor}}`, "
                               "`{{patch}}`, `{{raw}}` and tag characters, e.g. `v{{version}}`",
           limits=(("minItems", 1),)),
    TagKey("extra", "list", "fixed tags a final release also gets (they move like `latest`), "
                            "e.g. `[\"stable\"]`"),
    TagKey("edge", "str", "the default branch's tag; `\"\"` for none"),
    TagKey("branch", "bool", "tag other branches and pull requests"),
    TagKey("sha", "bool", "tag `sha-<hex>`"),
    TagKey("sha-length", "int", "hex digits of the sha tag (7 to 40)",
           limits=(("minimum", _SHA_LENGTH[0]), ("maximum", _SHA_LENGTH[1]))),
    TagKey("prefix", "str", "put before every tag, e.g. `\"py3.13-\"`"),
    TagKey("suffix", "str", "put after every tag, e.g. `\"-slim\"`"),
    TagKey("prefix-on-latest", "bool", "`latest` gets the prefix too"),
    TagKey("suffix-on-latest", "bool", "`latest` gets the suffix too"),
    TagKey("git-tag-prefix", "str", "a git tag is `<prefix><version>`, e.g. `\"p1/\"` for "
                                    "`p1/v1.0.0`"),
    TagKey("git-tag-regex", "str", "or: a regular expression whose one group is the version, "
                                   "e.g. `\"^p1/v(.+)$\"`"),
    TagKey("non-version", "choice", "a git tag that is no version: `\"refuse\"` it, or "
                                    "`\"publish\"` it as itself", NON_VERSION),
)
_BY_KEY = {spec.key: spec for spec in TAG_KEYS}


def is_reserved_extra(tag: str) -> bool:
    """A fixed tag that looks like what bslim itself produces (latest, sha-, pr-, a version)."""
    if RESERVED_SHAPES.fullmatch(tag.lower()):
        return True
    try:
        Version(tag)
    except (InvalidVersion, ValueError):
        return False
    return True


def check(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dotted key, message) for every bad value among `values` (TagRules attribute names)."""
    out: list[tuple[str, str]] = []
    for part in (_check_scalars, _check_patterns, _check_extra, _check_git_tag):
        out += [(f"{KEY}.{key}", message) for key, message in part(values)]
    return out


def _check_scalars(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if values.get("default_branch", "main") == "":
        yield "default-branch", "must not be empty"
    length = values.get("sha_length", 7)
    if not _SHA_LENGTH[0] <= length <= _SHA_LENGTH[1]:
        yield "sha-length", f"{length} is out of range ({_SHA_LENGTH[0]} to {_SHA_LENGTH[1]})"
    edge = values.get("edge", "")
    if edge and not is_tag(edge):
        yield "edge", (f"{edge!r} is not a valid OCI tag (must match {TAG_GRAMMAR}; use '' to "
                       "disable)")
    prefix = values.get("prefix", "")
    if prefix and not _PREFIX_RE.fullmatch(prefix):
        yield "prefix", (f"{prefix!r} cannot start an OCI tag (letters, digits, '_' first; then "
                         "also '.' and '-')")
    suffix = values.get("suffix", "")
    if not _SUFFIX_RE.fullmatch(suffix):
        yield "suffix", f"{suffix!r} cannot end an OCI tag (only {TAG_CHARS})"
    choice = values.get("non_version", "refuse")
    if choice not in NON_VERSION:
        yield "non-version", f"{choice!r} is not one of {', '.join(map(repr, NON_VERSION))}"


def _check_patterns(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    patterns = values.get("patterns")
    if patterns is None:
        return
    if not patterns:
        yield "patterns", "must list at least one pattern, e.g. [\"{{version}}\"]"
    for index, text in enumerate(patterns):
        try:
            parse_pattern(text)
        except TagError as exc:
            yield f"patterns[{index}]", str(exc)
        if text in patterns[:index]:
            yield f"patterns[{index}]", f"{text!r} is listed twice"
    off = [f"{name} = false" for name in ("major", "minor") if values.get(name) is False]
    if off:
        yield "patterns", (f"cannot be combined with {' and '.join(off)}; list the patterns to "
                           "publish instead")


def _check_extra(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    extra = values.get("extra", ())
    for index, tag in enumerate(extra):
        problem = tag_problem(tag)
        if problem:
            yield f"extra[{index}]", f"{tag!r} is not a valid OCI tag ({problem})"
        elif is_reserved_extra(tag) or tag == values.get("edge", "edge"):
            yield f"extra[{index}]", (f"{tag!r} looks like a tag bslim computes (latest, edge, "
                                      "a version, sha-<hex>, pr-<n>); use latest/edge/patterns")
        elif tag in extra[:index]:
            yield f"extra[{index}]", f"{tag!r} is listed twice"


def _check_git_tag(values: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    prefix = values.get("git_tag_prefix", "")
    if prefix.startswith("refs/"):
        yield "git-tag-prefix", (f"{prefix!r}: give the start of the tag's name, without "
                                 "refs/tags/ (e.g. \"p1/\")")
    regex = values.get("git_tag_regex", "")
    if not regex:
        return
    try:
        groups = re.compile(regex).groups
    except (re.error, OverflowError, RecursionError) as exc:  # a{4294967296}, ((((...
        yield "git-tag-regex", f"{regex!r} is not a regular expression ({exc})"
    else:
        if groups != 1:
            yield "git-tag-regex", (f"{regex!r} has {groups} groups; it needs exactly one, the "
                                    "version (e.g. \"^p1/v(.+)$\")")
    if prefix:
        yield "git-tag-regex", "set git-tag-prefix or git-tag-regex, not both"


def parse_table(raw: object) -> tuple[TagRules, list[tuple[str, str]]]:
    """`[tool.slim.tags]` -> (rules, problems as (dotted key, message)); the default rules when
    there are problems, so the rest of the configuration is still checked."""
    from buildkit_slim.config import _describe, dotted, suggest
    from buildkit_slim.tags import DEFAULT_RULES, TagRules

    if raw is None:
        return DEFAULT_RULES, []
    if not isinstance(raw, dict):
        return DEFAULT_RULES, [(KEY, f"must be a table, got {_describe(raw)}")]
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        item_key = f"{KEY}.{dotted(key)}"
        spec = _BY_KEY.get(key)
        if spec is None:
            problems.append((item_key, "unknown key" + suggest(key, list(_BY_KEY))))
            continue
        expected = {"bool": bool, "int": int, "list": list}.get(spec.kind, str)
        # `type(...) is` because a boolean is an int to isinstance (sha-length = true).
        if type(value) is not expected:
            problems.append((item_key, f"must be {_describe(expected())}, got "
                                       f"{_describe(value)}"))
            continue
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        wrong = [(i, item) for i, item in enumerate(items) if not isinstance(item, str)]
        for index, item in wrong:
            problems.append((f"{item_key}[{index}]", f"must be a string, got {_describe(item)}"))
        if wrong:
            continue
        control = [i for i, item in enumerate(items) if _CONTROL_RE.search(item)]
        for index in control:
            where = f"{item_key}[{index}]" if isinstance(value, list) else item_key
            problems.append((where, "must not contain newlines or control characters"))
        if control:
            continue
        if spec.kind == "choice" and value not in spec.choices:
            problems.append((item_key, f"{value!r} is not one of "
                                       f"{', '.join(map(repr, spec.choices))}"
                             + suggest(str(value), spec.choices)))
            continue
        values[spec.attr] = tuple(value) if isinstance(value, list) else value
    if "patterns" in values:
        for name, pattern in (("major", "{{major}}"), ("minor", "{{major}}.{{minor}}")):
            if values.pop(name, None) is not None:
                problems.append((f"{KEY}.{name}", f"has no say when patterns is set; list "
                                                  f"'{pattern}' in patterns or leave it out"))
    found = check(values)
    problems += [problem for problem in found if problem not in problems]
    return (DEFAULT_RULES if problems else TagRules(**values)), problems

