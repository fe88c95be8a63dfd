"""Compute the image tags for one build (the logic behind ``bslim tags``).

The release script and GitHub Actions pass what they know about the build --
a version, a git ref, a commit sha -- and get back the tags to push.
Everything here is pure: no I/O, no environment reads.

Tag order (deterministic; duplicates dropped, first occurrence wins):

1. version tags, most specific first: ``1.4.2``, ``1.4``, ``1``, ``latest``;
2. the ref tag: ``edge`` for the default branch, the sanitized branch name
   for other branches, ``pr-<n>`` for pull requests (a ``refs/tags/...``
   ref contributes its version to step 1 instead);
3. ``sha-<hex>``.

``TagRules.prefix`` is then prepended to every tag, and each result is
checked against the OCI tag grammar.

Decisions where the spec was silent (tests pin each one down):

* ``+`` (PEP 440 local versions) is not allowed in OCI tags, so it maps to
  ``-``: ``1.4.2+abc`` -> ``1.4.2-abc``. A local version only tags itself.
* Epochs (``1!2.0``) raise: ``!`` is not allowed in OCI tags, and any
  replacement (``1-2.0``) would look like an unrelated version. ``0!1.4``
  is accepted because it normalizes to ``1.4``.
* Post releases only tag themselves, as pre and dev releases do.
* A one-part version is padded for the minor tag (``1`` -> ``1``, ``1.0``,
  ``latest``): PEP 440 says ``1 == 1.0``, so ``1.0`` must follow it.
* When ``--version`` and a ``refs/tags/`` ref are both given they must be
  equal as PEP 440 versions (``1.4.0`` agrees with ``v1.4``); the spelling
  of ``--version`` is used for the full tag.
* Pull-request tags are governed by ``branch`` (a PR is a non-default
  branch); the default branch never gets its name as a tag, only ``edge``.
* A branch whose tag would overwrite a release-style tag (``latest``, a
  version such as ``1.4``, the edge tag, ``sha-<hex>``, ``pr-<n>``) raises
  instead: a push to maintenance branch ``1.4`` must not replace the ``1.4``
  release tag.
* Sanitized branch names also lose trailing ``-``/``.`` so truncation never
  leaves a dangling separator.
* Inputs that produce no tag at all under the rules raise, because a build
  pushed without tags is never what the caller wants.
* Inputs are validated even when their rule is off (a malformed ``--sha``
  is an error with ``sha = false`` too): garbage in CI should be loud.
* Empty strings are not "absent": ``--version ''`` is an invalid version.
  The CLI decides whether an empty environment value means "not given".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from buildkit_slim.keys import key, keys_of

__all__ = [
    "DEFAULT_RULES",
    "TAG_RULE_KEYS",
    "TagError",
    "TagRules",
    "compute_tags",
    "parse_version",
]

# The OCI distribution spec's tag grammar; 128 characters at most.
_OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_OCI_TAG_MAX = 128
_VERSION_MAX = 1000  # longer cannot make a tag; refused before packaging parses it
_OCI_TAG_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_SHA_LENGTH_MIN = 7
_SHA_LENGTH_MAX = 40
_PULL = re.compile(r"refs/pull/([0-9]+)(?:/(?:merge|head))?")
_BRANCH_INVALID = re.compile(r"[^a-z0-9_.-]")
_DASHES = re.compile(r"-{2,}")
# Shapes of tags that this module itself produces for other inputs; a branch
# name must not take them over (see _is_reserved).
_RESERVED_SHAPES = re.compile(r"latest|sha-[0-9a-f]+|pr-[0-9]+")

_GRAMMAR = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REF_FORMS = (
    "refs/heads/<branch>, refs/tags/<version>, refs/pull/<number>/merge or a bare branch name"
)


class TagError(ValueError):
    """Invalid tag input; the message is one line naming the culprit."""


@dataclass(frozen=True, kw_only=True)
class TagRules:
    """Which tags to produce; the ``[tool.slim.tags]`` table (each field declares its key)."""

    default_branch: str = key("main", "The branch tagged with `edge`.")
    latest: bool = key(True, "Whether a final release also gets `latest`.")
    major: bool = key(True, "Whether a final release also gets its major version (`1`).")
    minor: bool = key(True, "Whether a final release also gets its minor version (`1.4`).")
    edge: str = key("edge", "The default branch's tag; `\"\"` for none.")
    branch: bool = key(True, "Tag other branches and pull requests.")
    sha: bool = key(True, "Tag `sha-<hex>`.")
    sha_length: int = key(7, "Hex digits of the sha tag (7 to 40).")
    prefix: str = key("", "Put before every tag, e.g. `\"py3.13-\"`.")

    def __post_init__(self) -> None:
        # Checked here so a bad config fails when loaded, naming its key,
        # rather than later as an odd-looking invalid tag.
        if not self.default_branch:
            raise TagError("tool.slim.tags.default-branch: must not be empty")
        if not _SHA_LENGTH_MIN <= self.sha_length <= _SHA_LENGTH_MAX:
            raise TagError(
                f"tool.slim.tags.sha-length: {self.sha_length} is out of range "
                f"({_SHA_LENGTH_MIN} to {_SHA_LENGTH_MAX})"
            )
        if self.edge and not _OCI_TAG.fullmatch(self.edge):
            raise TagError(
                f"tool.slim.tags.edge: {self.edge!r} is not a valid OCI tag "
                f"(must match {_GRAMMAR}; use '' to disable)"
            )
        if self.prefix and not _OCI_TAG_PREFIX.fullmatch(self.prefix):
            raise TagError(
                f"tool.slim.tags.prefix: {self.prefix!r} cannot start an OCI tag "
                "(letters, digits, '_' first; then also '.' and '-')"
            )


DEFAULT_RULES = TagRules()

# (config key, TagRules attribute) pairs, in field order: derived from the declarations.
TAG_RULE_KEYS: tuple[tuple[str, str], ...] = tuple((k.name, k.attr) for k in keys_of(TagRules))


def parse_version(text: str, *, option: str = "--version") -> Version:
    """Parse a PEP 440 version, accepting a leading ``v`` (``v1.4.2``).

    ``option`` names the input in the error message.
    """
    # packaging already accepts "v"/"V" and surrounding whitespace.
    if len(text) > _VERSION_MAX:  # and Version() would call int() on 4300+ digits
        raise TagError(f"{option}: {text[:20]!r}... is {len(text)} characters long; a version "
                       f"becomes a tag, which has {_OCI_TAG_MAX} at most")
    try:
        return _version(text)
    except InvalidVersion:
        raise TagError(
            f"{option}: {text!r} is not a PEP 440 version (e.g. 1.4.2, 1.5.0rc1)"
        ) from None


def compute_tags(
    *,
    version: str | None,
    ref: str | None,
    sha: str | None,
    rules: TagRules = DEFAULT_RULES,
) -> tuple[str, ...]:
    """Return the tags for a build, in the order documented in the module."""
    if version is None and ref is None and sha is None:
        raise TagError(
            "nothing to tag: pass --version, --ref or --sha "
            "(e.g. --ref refs/tags/v1.4.2 --sha <commit>)"
        )

    # Shell and CI plumbing can leave a trailing newline; git refs and shas
    # never contain whitespace, so stripping cannot change their meaning.
    ref = None if ref is None else ref.strip()
    sha = None if sha is None else sha.strip()

    ref_version: Version | None = None
    ref_tag: str | None = None
    if ref is not None:
        ref_version, ref_tag = _parse_ref(ref, rules)

    # (option, tag without prefix): the option names the input in errors.
    candidates: list[tuple[str, str]] = []
    if version is not None:
        parsed = parse_version(version)
        if ref_version is not None and parsed != ref_version:
            raise TagError(
                f"--version {version!r} disagrees with --ref {ref!r} "
                f"({ref_version}); pass matching values or omit --version"
            )
        candidates += [("--version", t) for t in _version_tags(parsed, rules, "--version", version)]
    elif ref_version is not None and ref is not None:
        candidates += [("--ref", t) for t in _version_tags(ref_version, rules, "--ref", ref)]

    if ref_tag is not None:
        candidates.append(("--ref", ref_tag))

    if sha is not None:
        sha_tag = _sha_tag(sha, rules)
        if sha_tag is not None:
            candidates.append(("--sha", sha_tag))

    tags: list[str] = []
    for option, bare in candidates:
        tag = rules.prefix + bare
        if tag in tags:
            continue
        if not _OCI_TAG.fullmatch(tag):
            raise TagError(f"{option}: tag {tag!r} is not a valid OCI tag (must match {_GRAMMAR})")
        tags.append(tag)

    if not tags:
        given = ", ".join(
            f"{name} {value!r}"
            for name, value in (("--ref", ref), ("--sha", sha))
            if value is not None
        )
        raise TagError(
            f"no tags: tool.slim.tags disables every tag for {given}; "
            "pass --version or enable edge, branch or sha"
        )
    return tuple(tags)


def _version_tags(version: Version, rules: TagRules, option: str, text: str) -> list[str]:
    if version.epoch:
        raise TagError(
            f"{option}: {text!r} has an epoch ({version.epoch}!) and '!' is not "
            "allowed in OCI tags; use a version without an epoch (e.g. 1.4.2)"
        )
    full = _version_tag(version)
    # Floating tags (1.4, 1, latest) must only ever move to final releases;
    # anything with a pre/dev/post/local part tags just itself.
    if version.is_prerelease or version.is_postrelease or version.local is not None:
        return [full]
    # Pad so "1" also yields "1.0": PEP 440 treats them as the same version.
    major, minor = (*version.release, 0)[:2]
    tags = [full]
    if rules.minor:
        tags.append(f"{major}.{minor}")
    if rules.major:
        tags.append(f"{major}")
    if rules.latest:
        tags.append("latest")
    return tags


def _version_tag(version: Version) -> str:
    # "+" is not allowed in OCI tags; "-" is, and never occurs in a
    # normalized PEP 440 version, so the mapping cannot collide.
    return str(version).replace("+", "-")


def _version(text: str) -> Version:
    """Version(), with a number too long for int() (over 4300 digits) also InvalidVersion."""
    try:
        return Version(text)
    except ValueError as exc:  # InvalidVersion is a ValueError too
        raise InvalidVersion(str(exc)) from None


def _parse_ref(ref: str, rules: TagRules) -> tuple[Version | None, str | None]:
    """Return (version from a tag ref, tag for a branch/PR ref)."""
    if ref.startswith("refs/tags/"):
        name = ref.removeprefix("refs/tags/")
        try:
            return parse_version(name, option="--ref"), None
        except TagError:
            raise TagError(
                f"--ref: tag {name[:40]!r}{'...' if len(name) > 40 else ''} is not a PEP 440 "
                "version (e.g. refs/tags/v1.4.2, refs/tags/1.5.0rc1)"
            ) from None
    if pull := _PULL.fullmatch(ref):
        # Not int(): a number over 4300 digits raises; the tag grammar refuses it later.
        return None, (f"pr-{pull.group(1).lstrip('0') or '0'}" if rules.branch else None)
    if ref.startswith("refs/heads/"):
        branch = ref.removeprefix("refs/heads/")
    elif ref.startswith("refs/") or not ref:
        raise TagError(f"--ref: {ref!r} is not a supported ref (expected {_REF_FORMS})")
    else:
        branch = ref
    if not branch:
        raise TagError(f"--ref: {ref!r} is not a supported ref (expected {_REF_FORMS})")
    if branch == rules.default_branch:
        return None, rules.edge or None
    if not rules.branch:
        return None, None
    return None, _branch_tag(branch, rules)


def _branch_tag(branch: str, rules: TagRules) -> str:
    name = _BRANCH_INVALID.sub("-", branch.lower())
    name = _DASHES.sub("-", name).lstrip(".-")
    # Leave room for the prefix so the final tag stays within 128 characters.
    name = name[: _OCI_TAG_MAX - len(rules.prefix)].rstrip(".-")
    if not name:
        raise TagError(
            f"--ref: branch {branch!r} has no characters usable in an OCI tag "
            "(letters, digits, '_', '.', '-')"
        )
    if _is_reserved(name, rules):
        raise TagError(
            f"--ref: branch {branch!r} would be tagged {name!r}, which is reserved "
            "for release, edge, sha and pr tags; rename the branch or set branch = false"
        )
    return name


def _is_reserved(name: str, rules: TagRules) -> bool:
    if name == rules.edge or _RESERVED_SHAPES.fullmatch(name):
        return True
    try:
        version = _version(name)
    except InvalidVersion:
        return False
    # Only the exact spelling a release would produce collides: "v1.4" or
    # "1.4.x" are fine as branch tags, "1.4" is not.
    return version.epoch == 0 and _version_tag(version) == name


def _sha_tag(sha: str, rules: TagRules) -> str | None:
    if not _SHA.fullmatch(sha):
        raise TagError(f"--sha: {sha!r} is not a commit sha (7 to 40 hex digits, e.g. 3f9c2a1)")
    if not rules.sha:
        return None
    # Never emit a shorter tag than configured: sha tags of one project
    # should all have the same length.
    if len(sha) < rules.sha_length:
        raise TagError(
            f"--sha: {sha!r} has {len(sha)} hex digits, fewer than sha-length "
            f"{rules.sha_length}; pass the full commit sha"
        )
    return f"sha-{sha[: rules.sha_length].lower()}"
