"""What makes a `[tool.slim.tags]` value valid (pure): the validators its keys' declarations
name (`TagRules` in config.model), and the rules between its keys.

Each validator has the shape of those in config.checks: (value, dotted key, where to report)
-> the value, or REFUSED once it reported a problem. The grammar of tags and patterns is
tag_grammar's. TagRules runs the same validators on itself, so rules built in code are held to
what a pyproject.toml is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from packaging.version import InvalidVersion, Version

from buildkit_slim.config.problems import describe, suggest
from buildkit_slim.keys import REFUSED, Refused
from buildkit_slim.tag_grammar import (
    DEFAULT_PATTERNS,
    RESERVED_SHAPES,
    TAG_CHARS,
    TAG_GRAMMAR,
    TAG_PREFIX_RE,
    TAG_SUFFIX_RE,
    TagError,
    is_tag,
    parse_pattern,
    tag_problem,
)

if TYPE_CHECKING:
    from buildkit_slim.config.model import TagRules

KEY = "tool.slim.tags"
SHA_LENGTH = (7, 40)
NON_VERSION = ("refuse", "publish")
_COMPUTED = "(latest, edge, a version, sha-<hex>, pr-<n>); use latest/edge/patterns"


class Reports(Protocol):
    """Where a validator reports: config.checks.Context, or config.problems.Problems."""

    def add(self, key: str, message: str) -> None: ...


def default_branch(raw: str, key: str, ctx: Reports) -> str | Refused:
    if not raw:
        ctx.add(key, "must not be empty")
        return REFUSED
    return raw


def sha_length(raw: int, key: str, ctx: Reports) -> int | Refused:
    low, high = SHA_LENGTH
    if not low <= raw <= high:
        ctx.add(key, f"{raw} is out of range ({low} to {high})")
        return REFUSED
    return raw


def edge(raw: str, key: str, ctx: Reports) -> str | Refused:
    if raw and not is_tag(raw):
        ctx.add(key, f"{raw!r} is not a valid OCI tag (must match {TAG_GRAMMAR}; use '' to "
                "disable)")
        return REFUSED
    return raw


def prefix(raw: str, key: str, ctx: Reports) -> str | Refused:
    if raw and not TAG_PREFIX_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} cannot start an OCI tag (letters, digits, '_' first; then also "
                "'.' and '-')")
        return REFUSED
    return raw


def suffix(raw: str, key: str, ctx: Reports) -> str | Refused:
    if not TAG_SUFFIX_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} cannot end an OCI tag (only {TAG_CHARS})")
        return REFUSED
    return raw


def non_version(raw: str, key: str, ctx: Reports) -> str | Refused:
    if raw not in NON_VERSION:
        ctx.add(key, f"{raw!r} is not one of {', '.join(map(repr, NON_VERSION))}"
                + suggest(raw, NON_VERSION))
        return REFUSED
    return raw


def _strings(raw: Sequence[Any], key: str, ctx: Reports) -> Iterator[tuple[int, str]]:
    """(index, item) of each string item; the others are reported."""
    for index, item in enumerate(raw):
        if isinstance(item, str):
            yield index, item
        else:
            ctx.add(f"{key}[{index}]", f"must be a string, got {describe(item)}")


def patterns(raw: Sequence[Any], key: str, ctx: Reports) -> tuple[str, ...] | Refused:
    reported = not raw or any(not isinstance(item, str) for item in raw)
    if not raw:
        ctx.add(key, "must list at least one pattern, e.g. [\"{{version}}\"]")
    for index, text in _strings(raw, key, ctx):
        try:
            parse_pattern(text)
        except TagError as exc:
            ctx.add(f"{key}[{index}]", str(exc))
            reported = True
        if text in raw[:index]:
            ctx.add(f"{key}[{index}]", f"{text!r} is listed twice")
            reported = True
    return REFUSED if reported else tuple(raw)


def is_reserved_extra(tag: str) -> bool:
    """A fixed tag that looks like what bslim itself computes (latest, sha-, pr-, a version)."""
    if RESERVED_SHAPES.fullmatch(tag.lower()):
        return True
    try:
        Version(tag)
    except (InvalidVersion, ValueError):
        return False
    return True


def extra(raw: Sequence[Any], key: str, ctx: Reports) -> tuple[str, ...] | Refused:
    reported = any(not isinstance(item, str) for item in raw)
    for index, tag in _strings(raw, key, ctx):
        problem = tag_problem(tag)
        if problem:
            ctx.add(f"{key}[{index}]", f"{tag!r} is not a valid OCI tag ({problem})")
        elif is_reserved_extra(tag):
            ctx.add(f"{key}[{index}]", f"{tag!r} looks like a tag bslim computes {_COMPUTED}")
        elif tag in raw[:index]:
            ctx.add(f"{key}[{index}]", f"{tag!r} is listed twice")
        else:
            continue
        reported = True
    return REFUSED if reported else tuple(raw)


def git_tag_prefix(raw: str, key: str, ctx: Reports) -> str | Refused:
    if raw.startswith("refs/"):
        ctx.add(key, f"{raw!r}: give the start of the tag's name, without refs/tags/ (e.g. "
                "\"p1/\")")
        return REFUSED
    return raw


def git_tag_regex(raw: str, key: str, ctx: Reports) -> str | Refused:
    if not raw:
        return raw
    try:
        groups = re.compile(raw).groups
    except (re.error, OverflowError, RecursionError) as exc:  # a{4294967296}, ((((...
        ctx.add(key, f"{raw!r} is not a regular expression ({exc})")
        return REFUSED
    if groups != 1:
        ctx.add(key, f"{raw!r} has {groups} groups; it needs exactly one, the version (e.g. "
                "\"^p1/v(.+)$\")")
        return REFUSED
    return raw


def between(rules: TagRules) -> Iterator[tuple[str, str]]:
    """(dotted key, message) for values that are fine alone but not together."""
    if rules.patterns != DEFAULT_PATTERNS:
        for name, pattern in (("major", "{{major}}"), ("minor", "{{major}}.{{minor}}")):
            if getattr(rules, name) is False:
                yield (f"{KEY}.{name}", f"has no say when patterns is set; list '{pattern}' in "
                       "patterns or leave it out")
    if rules.git_tag_prefix and rules.git_tag_regex:
        yield f"{KEY}.git-tag-regex", "set git-tag-prefix or git-tag-regex, not both"
    if rules.edge in rules.extra:
        index = rules.extra.index(rules.edge)
        yield (f"{KEY}.extra[{index}]", f"{rules.edge!r} looks like a tag bslim computes "
               f"{_COMPUTED}")
