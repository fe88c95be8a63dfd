"""Release (pure): copy a pushed multi-platform index to a version's tags, without rebuilding.

Everything here takes what the registry said as plain data and decides; the calls to docker
happen in publish.py. Every check runs before the first write, so a refused release leaves the
registry as it was. The other steps of the CI flow: matrix.py, staging.py, merge.py.

Decisions where the issue was silent (unit tests pin them down):

* ``release`` copies from ``<image>@<digest>`` of the source it checked, not from the source's
  tag, so a push to ``edge`` between the check and the copy cannot be released unchecked.
* ``release --from`` must name the target's own repository (refs.py).
* Only version tags are immutable: those of patterns naming the whole version (``1.2.3``,
  ``v1.2.3``) or its patch (see tag_grammar.py), and a non-version git tag published as itself;
  ``1.2``, ``1``, ``latest`` and ``extra`` tags move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from buildkit_slim import tags as tagging
from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.refs import DIGEST_RE, OWN_REPO, tag_on
from buildkit_slim.remote import RemoteImage, check_index


@dataclass(frozen=True, kw_only=True)
class ReleaseSteps:
    target: str
    source: str  # <image>@<digest>: what is copied
    digest: str
    tags: tuple[str, ...]  # every tag of the version, full references
    immutable: tuple[str, ...]  # the version tags, which only --force moves
    to_write: tuple[str, ...]  # tags not already at the digest
    moved: tuple[tuple[str, str], ...]  # (tag, old digest) that will point elsewhere
    forced: bool  # a version tag is overwritten because of --force


def release_tags(image: str, version: str,
                 rules: tagging.TagRules) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(immutable version tags, every tag) as references; TagError for a bad version."""
    found = tagging.release_tags(version, rules)
    return (tuple(f"{image}:{tag}" for tag in found.immutable),
            tuple(f"{image}:{tag}" for tag in found.tags))


def resolve_from(image: str, given: str | None, rules: tagging.TagRules) -> str:
    """The --from reference: a bare tag or digest goes onto the target's image."""
    if given is None:
        if not rules.edge:
            raise UsageError("--from: no default, because tool.slim.tags.edge is disabled",
                             hint="name the pushed image to release, e.g. --from sha-3f9c2a1")
        return f"{image}:{rules.affix(rules.edge)}"
    if DIGEST_RE.fullmatch(given):
        return f"{image}@{given}"
    if "@" not in given:
        return f"{image}:{tag_on(image, given, '--from')}"
    repo, _, digest = given.partition("@")
    if not DIGEST_RE.fullmatch(digest):
        raise UsageError(f"--from: {given!r}: {digest!r} is not a sha256 digest")
    if repo != image:
        raise UsageError(f"--from: {given!r} is in repository {repo!r}, not the target's "
                         f"image {image!r}", hint=OWN_REPO["--from"])
    return given


def release_steps(
    target: TargetBlueprint,
    *,
    immutable: Sequence[str],
    tags: Sequence[str],
    source_ref: str,
    source: RemoteImage | None,
    current: Mapping[str, str | None],
    force: bool,
) -> ReleaseSteps:
    """Every precondition of a release, from what the registry said (`current`: tag -> digest,
    None where the tag does not exist)."""
    problems = check_index(source_ref, source, target.config.platforms)
    if problems or source is None:
        raise CheckFailed(f"cannot release from {source_ref}: {problems[0]}",
                          hint="release retags a merged image: run `bslim merge` (or the image "
                               "workflow) first")
    moved = tuple((tag, digest) for tag in tags if (digest := current.get(tag)) is not None
                  and digest != source.digest)
    clashes = [(tag, old) for tag in immutable
               if (old := current.get(tag)) is not None and old != source.digest]
    forced = bool(clashes)
    if forced and not force:
        listed = ", ".join(f"{tag} already points at {old}" if i == 0 else f"{tag} at {old}"
                           for i, (tag, old) in enumerate(clashes))
        raise CheckFailed(
            f"{listed}, not at {source.digest} ({source_ref}); version tags are immutable",
            hint="release a new version, or pass --force to move the tag anyway")
    return ReleaseSteps(
        target=target.name, source=f"{target.config.image}@{source.digest}",
        digest=source.digest, tags=tuple(tags), immutable=tuple(immutable),
        to_write=tuple(t for t in tags if current.get(t) != source.digest),
        moved=moved, forced=forced,
    )


def verify_release(steps: ReleaseSteps, after: Mapping[str, str | None]) -> None:
    """After the copy: every tag must be the source's digest, byte for byte (a carbon copy)."""
    wrong = [f"{tag} -> {after.get(tag) or 'missing'}" for tag in steps.tags
             if after.get(tag) != steps.digest]
    if wrong:
        raise CheckFailed(f"after the release, {len(wrong)} tag(s) do not point at "
                          f"{steps.digest}: {'; '.join(wrong)}",
                          hint="the registry rewrote the index; check it with "
                               "`docker buildx imagetools inspect`")
