"""The OCI tag grammar and the tag patterns of `[tool.slim.tags]` (pure; no other bslim import).

A pattern is text with placeholders, `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}` and
`{{raw}}` (spaces inside the braces allowed, as in docker/metadata-action's Handlebars); the
text between them must be tag characters. What the placeholders say about a tag:

* `{{version}}` or `{{raw}}`: the tag names one version (immutable, never moved by a release
  without --force);
* `{{patch}}` without them: treated as a version tag too -- `1.4.2` must not move silently
  (for a four-part version, 1.4.2.3, that is the cautious side);
* only `{{major}}` / `{{minor}}`: a floating tag, moved by every release it matches, and never
  given to a pre-, dev-, post- or local version.

The tag grammar is written here once: the configuration's checks (an image reference's tag in
`config.checks`), `bslim release` and `bslim tags` all take it from this module (`TAG_RE`,
`is_tag`, `tag_problem`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

__all__ = [
    "DEFAULT_PATTERNS",
    "PLACEHOLDERS",
    "RESERVED_SHAPES",
    "TAG_CHARS",
    "TAG_GRAMMAR",
    "TAG_INVALID_RE",
    "TAG_MAX",
    "TAG_PREFIX_RE",
    "TAG_RE",
    "TAG_SUFFIX_RE",
    "Pattern",
    "TagError",
    "is_tag",
    "parse_pattern",
    "tag_problem",
]

# The OCI distribution spec's tag grammar: a first character, then up to 127 more.
_FIRST, _REST = "A-Za-z0-9_", "A-Za-z0-9_.-"
TAG_GRAMMAR = f"[{_FIRST}][{_REST}]{{0,127}}"
TAG_RE = re.compile(TAG_GRAMMAR)
TAG_MAX = 128
TAG_CHARS = "letters, digits, '_', '.', '-'"
TAG_PREFIX_RE = re.compile(f"[{_FIRST}][{_REST}]*")  # what can start a tag (prefix)
TAG_SUFFIX_RE = re.compile(f"[{_REST}]*")  # what can end one (suffix)
TAG_INVALID_RE = re.compile(f"[^{_REST}]+")  # a run of characters no tag can hold

PLACEHOLDERS = ("version", "major", "minor", "patch", "raw")
DEFAULT_PATTERNS = ("{{version}}", "{{major}}.{{minor}}", "{{major}}")
# Shapes of tags bslim produces for other inputs; a branch or extra tag must not take them.
RESERVED_SHAPES = re.compile(r"latest|sha-[0-9a-f]+|pr-[0-9]+")
_SPELLED = ", ".join(f"{{{{{name}}}}}" for name in PLACEHOLDERS)
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# What each placeholder can render to for a final, pre-, post- or dev release, for telling
# whether a branch name could collide with a release tag. {{version}} renders the normalized
# version; {{raw}} is checked again with packaging after the match (it can be any spelling).
# Local versions are left out on purpose: {{version}} of 1.4+fix is `1.4-fix`, which is also how
# teams name a branch for issue 1.4 or 123 (`123-fix`); a team that publishes local versions
# from CI and names branches so is far rarer than one that names branches so.
_NUM = r"(?:0|[1-9][0-9]*)"
_SHAPES = {
    "major": _NUM, "minor": _NUM, "patch": _NUM,
    "version": rf"{_NUM}(?:\.{_NUM})*(?:(?:a|b|rc){_NUM})?(?:\.post{_NUM})?(?:\.dev{_NUM})?",
    "raw": rf"[vV]?[0-9][{_REST}]*?",
}


class TagError(ValueError):
    """Invalid tag input or rule; the message is one line naming the culprit."""


def is_tag(text: str) -> bool:
    """Whether `text` is a valid OCI tag."""
    return TAG_RE.fullmatch(text) is not None


def tag_problem(text: str) -> str | None:
    """Why `text` is not a valid OCI tag, or None when it is one."""
    if TAG_RE.fullmatch(text):
        return None
    if not text:
        return "a tag cannot be empty"
    if len(text) > TAG_MAX:
        return f"a tag has {TAG_MAX} characters at most, this one {len(text)}"
    bad = TAG_INVALID_RE.search(text)
    if bad:
        return f"{bad.group()[0]!r} cannot be in a tag ({TAG_CHARS})"
    return "a tag starts with a letter, digit or '_'"


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: literal text and placeholder names, in order."""

    text: str
    parts: tuple[tuple[bool, str], ...]  # (is a placeholder, its name or the literal text)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(value for placeholder, value in self.parts if placeholder)

    @property
    def names_the_version(self) -> bool:
        """Whether the tag spells the whole version ({{version}} or {{raw}})."""
        return bool(self.names & {"version", "raw"})

    @property
    def immutable(self) -> bool:
        """Whether a release treats the tag as a version tag (see the module docstring)."""
        return bool(self.names & {"version", "raw", "patch"})

    def render(self, values: Mapping[str, str]) -> str:
        return "".join(values[value] if placeholder else value for placeholder, value in self.parts)

    def could_render(self, name: str) -> bool:
        """Whether a final, pre-, post- or dev release could render to `name` (a branch tag
        must not take it); what only a local version renders (`1.4-fix`) does not count."""
        regex = "".join(f"({_SHAPES[value]})" if placeholder else re.escape(value)
                        for placeholder, value in self.parts)
        found = re.fullmatch(regex, name)
        if found is None:
            return False
        names = [value for placeholder, value in self.parts if placeholder]
        return all(_is_version(found.group(i + 1)) for i, name in enumerate(names)
                   if name == "raw")


def _is_version(text: str) -> bool:
    """Whether `text` spells a version as written (no "+", so never a local one)."""
    try:
        Version(text)
    except (InvalidVersion, ValueError):
        return False
    return True


def parse_pattern(text: str) -> Pattern:
    """Parse and check a pattern; TagError (without the key) says what is wrong and valid."""
    parts: list[tuple[bool, str]] = []
    at = 0
    for found in _PLACEHOLDER_RE.finditer(text):
        if found.start() > at:
            parts.append((False, text[at:found.start()]))
        name = found.group(1)
        if name not in PLACEHOLDERS:
            near = difflib.get_close_matches(name, PLACEHOLDERS, n=1, cutoff=0.6)
            hint = f"; did you mean {{{{{near[0]}}}}}?" if near else ""
            raise TagError(f"{text!r} has the unknown placeholder {found.group()}{hint} "
                           f"(valid: {_SPELLED})")
        parts.append((True, name))
        at = found.end()
    if at < len(text):
        parts.append((False, text[at:]))
    for placeholder, value in parts:
        if placeholder:
            continue
        if "{" in value or "}" in value:
            raise TagError(f"{text!r} has a brace outside a placeholder (placeholders are "
                           f"{_SPELLED})")
        bad = TAG_INVALID_RE.search(value)
        if bad:
            raise TagError(f"{text!r}: {bad.group()[0]!r} cannot be in a tag (besides the "
                           f"placeholders: {TAG_CHARS})")
    pattern = Pattern(text=text, parts=tuple(parts))
    if not pattern.names:
        raise TagError(f"{text!r} has no placeholder ({_SPELLED}); fixed tags go in "
                       "tool.slim.tags.extra")
    if not parts[0][0] and parts[0][1][0] in ".-":
        raise TagError(f"{text!r} cannot start a tag (a letter, digit, '_' or placeholder first)")
    if sum(len(value) for placeholder, value in parts if not placeholder) >= TAG_MAX:
        raise TagError(f"{text!r} is longer than a tag can be ({TAG_MAX} characters)")
    return pattern
