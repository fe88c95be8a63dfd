"""Compute the image tags for one build (the logic behind ``bslim tags`` and ``bslim release``).

The release script and GitHub Actions pass what they know about the build -- a version, a git
ref, a commit sha -- and get back the tags to push. Everything here is pure: no I/O, no
environment reads. The rules are ``[tool.slim.tags]``, `TagRules` (its keys declared in
`config/model.py`, checked by `config/tag_checks.py`); what version an input names is
`tag_versions.py`; patterns and the tag grammar are `tag_grammar.py`.

Tag order (deterministic; duplicates dropped, first occurrence wins):

1. version tags: each pattern in order (default ``1.4.2``, ``1.4``, ``1``), then the ``extra``
   tags, then ``latest`` -- the order docker/metadata-action uses;
2. the ref tag: ``edge`` for the default branch, the sanitized branch name for other branches,
   ``pr-<n>`` for pull requests (a ``refs/tags/...`` ref contributes its version to step 1);
3. ``sha-<hex>``.

Every tag then gets ``prefix`` and ``suffix`` (``latest`` as ``prefix-on-latest`` /
``suffix-on-latest`` say) and is checked against the OCI tag grammar.

Decisions where the spec was silent (tests pin each one down):

* PEP 440 is the version grammar: ``v2.0.8-beta.67`` is ``2.0.8b67``; ``{{raw}}`` renders the
  version as written. ``+`` (local versions) is not allowed in OCI tags and maps to ``-``.
* Only a final release gets floating tags (``{{major}}``/``{{minor}}``-only patterns),
  ``extra`` and ``latest``; for a pre-, dev-, post- or local version such a pattern renders
  ``{{version}}`` instead (as metadata-action does), so it tags only itself.
* Epochs (``1!2.0``) raise: ``!`` is not allowed in OCI tags, and any replacement (``1-2.0``)
  would look like an unrelated version. ``0!1.4`` is accepted: it normalizes to ``1.4``.
* A one-part version is padded (``1`` -> ``1``, ``1.0``): PEP 440 says ``1 == 1.0``.
* A git tag that is no version (see `tag_versions.py`), with ``non-version = "publish"``, is
  published as itself (characters a tag cannot hold become ``-``), an immutable tag, never
  with ``latest``, ``extra`` or floating tags.
* When ``--version`` and a ``refs/tags/`` ref are both given they must be equal as PEP 440
  versions (``1.4.0`` agrees with ``v1.4``); the spelling of ``--version`` is used.
* Pull-request tags are governed by ``branch``; the default branch only ever gets ``edge``.
* A branch whose tag would overwrite a tag bslim computes for something else (``latest``, the
  edge tag, ``sha-<hex>``, ``pr-<n>``, an ``extra`` tag, anything a pattern can render for a
  final, pre-, post- or dev release, e.g. ``1.4``) raises: a push to maintenance branch ``1.4``
  must not replace the ``1.4`` release tag. What only a local version renders does not count:
  ``1.4-fix`` and ``123-fix`` are how teams name issue branches, and the local version
  ``1.4+fix`` being released from CI as well is far-fetched. A non-version git tag published
  as itself is held to the same rule.
* Sanitized branch names also lose trailing ``-``/``.`` so truncation never leaves a dangling
  separator. Inputs that produce no tag at all raise: a build pushed without tags is never
  what the caller wants. Inputs are validated even when their rule is off (a malformed
  ``--sha`` is an error with ``sha = false`` too). Empty strings are not "absent".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

from buildkit_slim.config.model import DEFAULT_RULES, TagRules
from buildkit_slim.keys import keys_of
from buildkit_slim.tag_grammar import (
    RESERVED_SHAPES,
    TAG_GRAMMAR,
    TAG_INVALID_RE,
    TAG_MAX,
    TagError,
    is_tag,
    parse_pattern,
)
from buildkit_slim.tag_versions import (
    Named,
    git_tag_version,
    input_version,
    parse_version,
)

__all__ = [
    "DEFAULT_RULES",
    "TAG_RULE_KEYS",
    "Named",
    "ReleaseTags",
    "TagError",
    "TagRules",
    "build_tags",
    "compute_tags",
    "git_tag_version",
    "input_version",
    "parse_version",
    "release_tags",
]

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_PULL = re.compile(r"refs/pull/([0-9]+)(?:/(?:merge|head))?")
_BRANCH_INVALID = re.compile(r"[^a-z0-9_.-]")
_DASHES = re.compile(r"-{2,}")
_REF_FORMS = (
    "refs/heads/<branch>, refs/tags/<version>, refs/pull/<number>/merge or a bare branch name"
)
_VERSION_PATTERN = parse_pattern("{{version}}")


# (config key, TagRules attribute) pairs, in field order: derived from the declarations.
TAG_RULE_KEYS: tuple[tuple[str, str], ...] = tuple((k.name, k.attr) for k in keys_of(TagRules))


@dataclass(frozen=True)
class ReleaseTags:
    tags: tuple[str, ...]  # every tag of the version, in the documented order
    immutable: tuple[str, ...]  # the ones a release never moves without --force
    # What was released: the PEP 440 version (1.4.2 for v1.4.2 or p1/v1.4.2), or a non-version
    # git tag as it was given.
    version: str


def compute_tags(
    *,
    version: str | None,
    ref: str | None,
    sha: str | None,
    rules: TagRules = DEFAULT_RULES,
) -> tuple[str, ...]:
    """Return the tags for a build, in the order documented in the module."""
    return tuple(tag for tag, _ in _tags(version, ref, sha, rules))


def release_tags(version: str, rules: TagRules, *, option: str = "--version") -> ReleaseTags:
    """The tags `bslim release VERSION` writes, and which of them are immutable."""
    try:
        found = _tags(version, None, None, rules)
    except TagError as exc:
        raise TagError(re.sub(r"^--version\b", option, str(exc))) from None
    named = input_version(version, rules, option=option)
    return ReleaseTags(tags=tuple(tag for tag, _ in found),
                       immutable=tuple(tag for tag, fixed in found if fixed),
                       version=named.raw if named.version is None else str(named.version))


def build_tags(
    *,
    project_version: str | None,
    version: str | None,
    ref: str | None,
    sha: str | None,
    rules: TagRules,
    no_version: bool = False,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tags, warnings) for `bslim tags`: compute_tags plus where the version comes from.

    The project version is the default only when no ref is known at all: on a branch it is not
    released yet, and tagging it would move a version tag on every push.
    """
    warnings: list[str] = []
    ref = None if ref is None else ref.strip()
    git_tag = ref.removeprefix("refs/tags/") if ref and ref.startswith("refs/tags/") else None
    if no_version:
        if version is not None:
            raise TagError("--no-version and --version: choose one")
        if git_tag is not None:
            git_tag_version(git_tag, rules)  # still validated; `bslim release` tags it
            ref = None
        if ref is None and sha is None:
            raise TagError("--no-version leaves nothing to tag: pass --sha or a branch --ref")
    elif version is None and ref is None:
        version = project_version
    if git_tag is not None and not no_version and project_version is not None:
        try:
            named = git_tag_version(git_tag, rules)
            if named.version is not None and named.version != parse_version(
                    project_version, option="project.version"):
                warnings.append(f"{ref} is not [project].version {project_version}")
        except TagError:
            pass  # compute_tags reports a bad ref; a dynamic-looking project version is no error
    return compute_tags(version=version, ref=ref, sha=sha, rules=rules), tuple(warnings)


def _tags(version: str | None, ref: str | None, sha: str | None,
          rules: TagRules) -> list[tuple[str, bool]]:
    """(tag, immutable) pairs, affixed, checked and without duplicates."""
    if version is None and ref is None and sha is None:
        raise TagError(
            "nothing to tag: pass --version, --ref or --sha "
            "(e.g. --ref refs/tags/v1.4.2 --sha <commit>)"
        )
    # Shell and CI plumbing can leave a trailing newline; git refs and shas never contain
    # whitespace, so stripping cannot change their meaning.
    ref = None if ref is None else ref.strip()
    sha = None if sha is None else sha.strip()

    ref_named: Named | None = None
    ref_tag: str | None = None
    if ref is not None:
        ref_named, ref_tag = _parse_ref(ref, rules)

    # (option, tag, immutable): the option names the input in errors.
    candidates: list[tuple[str, str, bool]] = []
    if version is not None:
        named = input_version(version, rules)
        if ref_named is not None and (named.version != ref_named.version or (
                named.version is None and named.raw != ref_named.raw)):
            raise TagError(
                f"--version {version!r} disagrees with --ref {ref!r} "
                f"({ref_named.version or ref_named.raw}); pass matching values or omit --version"
            )
        candidates += [("--version", *t) for t in _version_tags(named, rules, "--version",
                                                                version)]
    elif ref_named is not None and ref is not None:
        candidates += [("--ref", *t) for t in _version_tags(ref_named, rules, "--ref", ref)]

    if ref_tag is not None:
        candidates.append(("--ref", rules.affix(ref_tag), False))

    if sha is not None:
        sha_tag = _sha_tag(sha, rules)
        if sha_tag is not None:
            candidates.append(("--sha", rules.affix(sha_tag), False))

    tags: dict[str, bool] = {}
    for option, tag, immutable in candidates:
        if tag in tags:
            tags[tag] = tags[tag] or immutable
            continue
        if not is_tag(tag):
            raise TagError(f"{option}: tag {tag!r} is not a valid OCI tag (must match "
                           f"{TAG_GRAMMAR})")
        tags[tag] = immutable

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
    return list(tags.items())


def _version_tags(named: Named, rules: TagRules, option: str,
                  text: str) -> list[tuple[str, bool]]:
    """(affixed tag, immutable) for a version, or for a non-version git tag published as is."""
    if named.version is None:
        return [(rules.affix(_published(named.raw, rules, option)), True)]
    version = named.version
    if version.epoch:
        raise TagError(
            f"{option}: {text!r} has an epoch ({version.epoch}!) and '!' is not "
            "allowed in OCI tags; use a version without an epoch (e.g. 1.4.2)"
        )
    full = _version_tag(version)
    # Floating tags (1.4, 1, latest, extra) must only ever move to final releases.
    final = not (version.is_prerelease or version.is_postrelease or version.local is not None)
    # Pad so "1" also yields "1.0": PEP 440 treats them as the same version.
    major, minor, patch = (*version.release, 0, 0)[:3]
    values = {"version": full, "major": str(major), "minor": str(minor), "patch": str(patch),
              "raw": named.raw.replace("+", "-")}
    out: list[tuple[str, bool]] = []
    for pattern in rules.version_patterns():
        if final:
            tag = pattern.render(values)
            # "1" from {{major}} is also version 1's own tag: immutable like {{version}}'s.
            fixed = pattern.immutable or tag in (values["version"], values["raw"])
            out.append((rules.affix(tag), fixed))
        elif pattern.names_the_version:
            out.append((rules.affix(pattern.render(values)), True))
        else:
            out.append((rules.affix(full), True))
    if final:
        out += [(rules.affix(tag), False) for tag in rules.extra]
        if rules.latest:
            out.append((rules.latest_tag(), False))
    return out


def _version_tag(version: Version) -> str:
    # "+" is not allowed in OCI tags; "-" is, and never occurs in a
    # normalized PEP 440 version, so the mapping cannot collide.
    return str(version).replace("+", "-")


def _parse_ref(ref: str, rules: TagRules) -> tuple[Named | None, str | None]:
    """Return (version from a tag ref, bare tag for a branch/PR ref)."""
    if ref.startswith("refs/tags/"):
        return git_tag_version(ref.removeprefix("refs/tags/"), rules), None
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


def _room(rules: TagRules) -> int:
    """Characters left for a branch or git tag name once prefix and suffix are on."""
    return TAG_MAX - len(rules.prefix) - len(rules.suffix)


def _branch_tag(branch: str, rules: TagRules) -> str:
    name = _BRANCH_INVALID.sub("-", branch.lower())
    name = _DASHES.sub("-", name).lstrip(".-")
    name = name[: _room(rules)].rstrip(".-")
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


def _published(name: str, rules: TagRules, option: str) -> str:
    """A non-version git tag as a tag: as written, what a tag cannot hold as '-'."""
    tag = TAG_INVALID_RE.sub("-", name).lstrip(".-")[: _room(rules)].rstrip(".-")
    if not tag:
        raise TagError(f"{option}: tag {name!r} has no characters usable in an OCI tag "
                       "(letters, digits, '_', '.', '-')")
    if _is_reserved(tag, rules):
        raise TagError(f"{option}: tag {name!r} would be published as {tag!r}, which is "
                       "reserved for release, edge, sha and pr tags; use another tag name")
    return tag


def _is_reserved(name: str, rules: TagRules) -> bool:
    if name == rules.edge or name in rules.extra or RESERVED_SHAPES.fullmatch(name.lower()):
        return True
    # Only what a pattern renders collides: "v1.4" or "1.4.x" are fine as branch tags under
    # the default patterns, "1.4" is not. {{version}} always counts: a pre-release renders it
    # for every pattern that only has {{major}}/{{minor}}/{{patch}}.
    return any(pattern.could_render(name)
               for pattern in (*rules.version_patterns(), _VERSION_PATTERN))


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
