"""What version a `--version`, `bslim release VERSION` or git tag names (pure).

PEP 440 is the version grammar (`v2.0.8-beta.67` is 2.0.8b67); the spelling is kept for
`{{raw}}`. A git tag gives its version through `git-tag-prefix`/`git-tag-regex` when set
(strictly: a tag that does not match is another package's); `--version` and `VERSION` go
through them only when they match, so both `p1/v1.0.0` and `1.0.0` work there. A git tag that
is no version is refused unless `non-version = "publish"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from buildkit_slim.tag_grammar import TAG_MAX, TagError

if TYPE_CHECKING:
    from buildkit_slim.tags import TagRules

__all__ = ["Named", "git_tag_version", "input_version", "parse_version", "version_of"]

_VERSION_MAX = 1000  # longer cannot make a tag; refused before packaging parses it
_PUBLISH_HINT = 'or set non-version = "publish" in [tool.slim.tags] to tag it as itself'


@dataclass(frozen=True)
class Named:
    """What a version input names: a PEP 440 version with its spelling, or (``non-version =
    "publish"``) a git tag that is no version (``version`` None)."""

    version: Version | None
    raw: str


def parse_version(text: str, *, option: str = "--version") -> Version:
    """Parse a PEP 440 version, accepting a leading ``v`` (``v1.4.2``).

    ``option`` names the input in the error message.
    """
    # packaging already accepts "v"/"V" and surrounding whitespace.
    if len(text) > _VERSION_MAX:  # and Version() would call int() on 4300+ digits
        raise TagError(f"{option}: {text[:20]!r}... is {len(text)} characters long; a version "
                       f"becomes a tag, which has {TAG_MAX} at most")
    try:
        return version_of(text)
    except InvalidVersion:
        raise TagError(
            f"{option}: {text!r} is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)"
        ) from None


def git_tag_version(name: str, rules: TagRules, *, option: str = "--ref") -> Named:
    """The version of git tag `name` under the rules' git-tag-prefix/regex (strict)."""
    text, mismatch = _strip_git_tag(name, rules)
    if mismatch is not None:
        raise TagError(f"{option}: tag {_short(name)} {mismatch} (another package's tag? run "
                       "the workflow on this package's tags only)")
    if len(text) <= _VERSION_MAX:
        try:
            return Named(version_of(text), text.strip())
        except InvalidVersion:
            pass
    if rules.non_version == "publish":
        return Named(None, name)
    if rules.git_tag_prefix or rules.git_tag_regex:
        via = (f"git-tag-prefix {rules.git_tag_prefix!r}" if rules.git_tag_prefix
               else f"git-tag-regex {rules.git_tag_regex!r}")
        why = f"gives {_short(text)} through {via}, which is not a PEP 440 version"
    else:
        why = "is not a PEP 440 version (e.g. refs/tags/v1.4.2, refs/tags/1.5.0rc1)"
    raise TagError(f"{option}: tag {_short(name)} {why}; {_PUBLISH_HINT}")


def _short(text: str) -> str:
    return f"{text[:40]!r}{'...' if len(text) > 40 else ''}"


def input_version(text: str, rules: TagRules, *, option: str = "--version") -> Named:
    """`--version` or `bslim release VERSION`: a version, or a git tag the rules take it from
    (`p1/v1.0.0` under git-tag-prefix "p1/"; `1.0.0` works as well)."""
    stripped, mismatch = _strip_git_tag(text, rules)
    if mismatch is None and stripped != text and len(stripped) <= _VERSION_MAX:
        try:
            return Named(version_of(stripped), stripped.strip())
        except InvalidVersion:
            pass
    try:
        return Named(parse_version(text, option=option), text.strip())
    except TagError:
        if rules.non_version != "publish" or not text.strip():
            raise
        if mismatch is not None:
            raise TagError(f"{option}: {_short(text)} is no version and {mismatch}") from None
        return Named(None, text.strip())


def version_of(text: str) -> Version:
    """Version(), with a number too long for int() (over 4300 digits) also InvalidVersion."""
    try:
        return Version(text)
    except ValueError as exc:  # InvalidVersion is a ValueError too
        raise InvalidVersion(str(exc)) from None


def _strip_git_tag(name: str, rules: TagRules) -> tuple[str, str | None]:
    """(version text, None) through git-tag-prefix/regex, or (name, why it does not match)."""
    if rules.git_tag_prefix:
        if not name.startswith(rules.git_tag_prefix):
            return name, f"does not start with git-tag-prefix {rules.git_tag_prefix!r}"
        return name.removeprefix(rules.git_tag_prefix), None
    if rules.git_tag_regex:
        found = re.search(rules.git_tag_regex, name)
        if found is None:
            return name, f"does not match git-tag-regex {rules.git_tag_regex!r}"
        return found.group(1) or "", None
    return name, None
