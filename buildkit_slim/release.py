"""Distributed builds and releases, planned (pure): matrix, stage records, merge, release.

The flow a CI matrix runs: one job per platform builds and pushes that platform alone to a
staging location and writes a *stage record* (``bslim bake T --platform P --push --stage DIR``);
one merge job turns every record of a target into one multi-platform index with the final tags
(``bslim merge``); later, ``bslim release`` copies a pushed index to a version's tags.

Everything here takes what the registry or the files said as plain data and decides; the calls
to docker happen in ``publish.py``. Every check runs before the first write, so a refused merge
or release leaves the registry as it was.

Decisions where the issue was silent (unit tests pin them down):

* Stage records are named ``<target>.<platform-pair>.json``: target names cannot contain a dot,
  so the name splits back unambiguously; merge reads the *contents*, never trusts the name.
* Records of other targets in the stage directory are ignored (a CI merge job downloads every
  artifact into one directory), unless they claim this target's image: then they are refused.
* A record for a platform the target does not build is refused: the index would carry a
  platform the configuration no longer names.
* The staging tag (docker driver) is ``<TAG>-stage-<platform-pair>``; it stays in the registry
  (deleting tags is not portable across registries) and is never a version or moving tag.
* ``release`` copies from ``<image>@<digest>`` of the source it checked, not from the source's
  tag, so a push to ``edge`` between the check and the copy cannot be released unchecked.
* ``release --from`` must name the target's own repository: copying another repository's image
  under this name is the mistake this tool exists to prevent.
* Only version tags are immutable: those of patterns naming the whole version (``1.2.3``,
  ``v1.2.3``) or its patch (see tag_grammar.py), and a non-version git tag published as itself;
  ``1.2``, ``1``, ``latest`` and ``extra`` tags move.
* ``created`` comes from ``SOURCE_DATE_EPOCH`` only: without it there is no created label or
  annotation at all, so builds stay reproducible and cache-identical.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from buildkit_slim import tags as tagging
from buildkit_slim.config import REPOSITORY_RE
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.plan import Plan, TargetPlan
from buildkit_slim.platforms import pair as platform_pair
from buildkit_slim.tag_grammar import TAG_RE

RECORD_FORMAT = 1
DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
_REVISION_RE = re.compile(r"[0-9a-fA-F]{7,64}")
OCI = "org.opencontainers.image."
# buildx learned `imagetools create --annotation` in 0.12.
ANNOTATIONS_SINCE = (0, 12)
MODES = ("digest", "tag")
_OWN_REPO = {
    "--tag": "give bare tags (e.g. --tag 1.4.2): they go onto the target's image",
    "--from": "a release only retags images of the target's own repository",
}


# --- matrix ------------------------------------------------------------------------------------

def matrix(plan: Plan) -> dict[str, list[dict[str, str]]]:
    """`strategy.matrix` for GitHub Actions: one entry per target and platform, in plan order."""
    return {"include": [
        {"target": target.name, "platform": platform, "platform-pair": platform_pair(platform)}
        for target in plan.targets for platform in target.platforms
    ]}


# --- OCI metadata ------------------------------------------------------------------------------

def created_from_epoch(value: str | None) -> str | None:
    """SOURCE_DATE_EPOCH (seconds) as RFC 3339 UTC, or None when it is not set."""
    if value is None or value == "":
        return None
    try:
        if not re.fullmatch(r"[0-9]{1,12}", value):
            raise ValueError(value)
        moment = datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH: {value!r} is not a whole number of seconds "
                         "since 1970 (e.g. the commit time: git log -1 --format=%ct)") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_revision(value: str | None, option: str = "--revision") -> str | None:
    if value is None or value == "":
        return None
    if not _REVISION_RE.fullmatch(value.strip()):
        raise UsageError(f"{option}: {value!r} is not a commit sha (7 to 64 hex digits)")
    return value.strip().lower()


def build_labels(target: str, *, revision: str | None, created: str | None) -> dict[str, str]:
    """`--set` values adding the per-build labels the committed bake file must not hold."""
    out: dict[str, str] = {}
    if revision is not None:
        out[f"{target}.labels.{OCI}revision"] = revision
    if created is not None:
        out[f"{target}.labels.{OCI}created"] = created
    return out


def index_annotations(
    target: TargetPlan, *, revision: str | None, created: str | None
) -> dict[str, str]:
    """The OCI labels of the target, plus revision and created, as index annotations."""
    values = {key: value for key, value in target.labels if key.startswith(OCI)}
    if revision is not None:
        values[f"{OCI}revision"] = revision
    if created is not None:
        values[f"{OCI}created"] = created
    return {f"index:{key}": value for key, value in sorted(values.items())}


def supports_annotations(buildx_version: str | None) -> bool:
    """Whether `imagetools create --annotation` exists (buildx 0.12+); unknown means yes."""
    if not buildx_version:
        return True
    match = re.search(r"v?([0-9]+)\.([0-9]+)", buildx_version)
    if match is None:
        return True
    return (int(match.group(1)), int(match.group(2))) >= ANNOTATIONS_SINCE


# --- stage: one platform of one target ---------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class StagePlan:
    target: str
    image: str
    platform: str
    mode: str  # "digest": push-by-digest; "tag": under a staging tag (docker driver)
    overrides: tuple[tuple[str, str], ...]  # bake --set
    push: bool  # pass --push to bake (the digest output pushes by itself)
    staging_ref: str | None  # mode "tag": where the image is pushed
    record_name: str


def stage_choice(chosen: Plan, *, push: bool, export_wheels: bool,
                 print_: bool) -> tuple[TargetPlan, str]:
    """The one target and one platform `bake --stage` builds, or a usage error saying why not."""
    if not push:
        raise UsageError("--stage needs --push: the merge job reads the staged image from the "
                         "registry")
    if export_wheels or print_:
        raise UsageError("--stage pushes an image; it cannot be combined with "
                         + ("--export-wheels" if export_wheels else "--print"))
    if len(chosen.targets) != 1:
        raise UsageError("--stage builds exactly one target; name it ("
                         + ", ".join(t.name for t in chosen.targets) + ")")
    target = chosen.targets[0]
    if len(target.platforms) != 1:
        raise UsageError(f"--stage builds exactly one platform; pass --platform (one of "
                         f"{', '.join(target.platforms)})",
                         hint="a CI matrix gets one job per platform from `bslim matrix`")
    return target, target.platforms[0]


def record_name(target: str, platform: str) -> str:
    return f"{target}.{platform_pair(platform)}.json"


def staging_tag(tag: str, platform: str) -> str:
    staged = f"{tag}-stage-{platform_pair(platform)}"
    if not TAG_RE.fullmatch(staged):
        raise UsageError(f"--tag: {tag!r} gives the staging tag {staged!r}, which is not a "
                         "valid OCI tag (at most 128 letters, digits, '_', '.', '-')")
    return staged


def plan_stage(target: TargetPlan, platform: str, *, tag: str, by_digest: bool) -> StagePlan:
    """How one platform of `target` is pushed for a later merge."""
    if platform not in target.config.platforms:
        raise UsageError(f"--platform: {platform!r} is not a platform of target {target.name!r} "
                         f"(platforms: {', '.join(target.config.platforms)})")
    image, name = target.config.image, target.name
    if by_digest:
        output = f"type=image,name={image},push-by-digest=true,name-canonical=true,push=true"
        return StagePlan(
            target=name, image=image, platform=platform, mode="digest",
            # An empty tags list would fall back to the bake file's: clear it explicitly.
            overrides=((f"{name}.output", output), (f"{name}.tags", "")),
            push=False, staging_ref=None, record_name=record_name(name, platform),
        )
    ref = f"{image}:{staging_tag(tag, platform)}"
    return StagePlan(
        target=name, image=image, platform=platform, mode="tag",
        overrides=((f"{name}.tags", ref),), push=True, staging_ref=ref,
        record_name=record_name(name, platform),
    )


def digest_from_metadata(text: str, target: str) -> str:
    """`containerimage.digest` of `target` from buildx's --metadata-file."""
    try:
        data = json.loads(text)
        digest = data[target]["containerimage.digest"]
    except (ValueError, KeyError, TypeError):
        raise CheckFailed(f"buildx metadata has no containerimage.digest for target {target!r}",
                          hint="was the image pushed? --stage needs --push") from None
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise CheckFailed(f"buildx metadata: {digest!r} is not a sha256 digest")
    return digest


@dataclass(frozen=True, kw_only=True)
class StageRecord:
    image: str
    target: str
    platform: str
    digest: str
    ref: str  # where the platform image was pushed (a digest or a staging tag reference)
    mode: str

    @property
    def source(self) -> str:
        """What `imagetools create` reads: always the digest, never the movable staging tag."""
        return f"{self.image}@{self.digest}"


def stage_record(stage: StagePlan, digest: str) -> StageRecord:
    return StageRecord(image=stage.image, target=stage.target, platform=stage.platform,
                       digest=digest, ref=stage.staging_ref or f"{stage.image}@{digest}",
                       mode=stage.mode)


def render_record(record: StageRecord) -> str:
    body = {"format": RECORD_FORMAT, "image": record.image, "target": record.target,
            "platform": record.platform, "digest": record.digest, "ref": record.ref,
            "mode": record.mode}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def parse_record(name: str, text: str) -> StageRecord:
    """One record file's contents; CheckFailed names the file and what is wrong."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise CheckFailed(f"{name}: not a stage record (invalid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise CheckFailed(f"{name}: not a stage record (expected a JSON object)")
    if data.get("format") != RECORD_FORMAT:
        raise CheckFailed(f"{name}: stage record format {data.get('format')!r} is not "
                          f"{RECORD_FORMAT}; stage it again with this bslim")
    fields = {}
    for key in ("image", "target", "platform", "digest", "ref", "mode"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise CheckFailed(f"{name}: stage record has no {key}")
        fields[key] = value
    if not DIGEST_RE.fullmatch(fields["digest"]):
        raise CheckFailed(f"{name}: {fields['digest']!r} is not a sha256 digest")
    if not REPOSITORY_RE.fullmatch(fields["image"]):
        raise CheckFailed(f"{name}: {fields['image']!r} is not an image repository")
    if fields["mode"] not in MODES:
        raise CheckFailed(f"{name}: mode {fields['mode']!r} is not one of {', '.join(MODES)}")
    return StageRecord(**fields)


# --- merge -------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MergePlan:
    target: str
    image: str
    sources: tuple[str, ...]  # <image>@<digest>, in the target's platform order
    platforms: tuple[str, ...]
    tags: tuple[str, ...]  # full references
    annotations: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]  # record files of other targets


def final_tags(image: str, tags: Sequence[str], default: str, option: str = "--tag") -> tuple[
        str, ...]:
    """Full references for the final tags: bare tags go onto `image`; full references must name
    `image` itself (pushing one service under another's name is refused)."""
    out: list[str] = []
    for tag in tags or [default]:
        if "@" in tag:
            raise UsageError(f"{option}: {tag!r} is a digest reference; give a tag such as 1.4.2")
        ref = f"{image}:{_tag_on(image, tag, option)}"
        if ref not in out:
            out.append(ref)
    return tuple(out)


def _tag_on(image: str, value: str, option: str) -> str:
    """The tag of `value`, a bare tag or `<image>:<tag>` of this very image."""
    if TAG_RE.fullmatch(value):
        return value
    repo, sep, bare = value.rpartition(":")
    if not sep or "/" in bare or not repo:
        raise UsageError(f"{option}: {value!r} is neither a tag nor <image>:<tag> (a tag has "
                         "letters, digits, '_', '.', '-'; at most 128)")
    if repo != image:
        raise UsageError(f"{option}: {value!r} is in repository {repo!r}, not the target's "
                         f"image {image!r}", hint=_OWN_REPO.get(option))
    if not TAG_RE.fullmatch(bare):
        raise UsageError(f"{option}: {bare!r} is not a valid OCI tag (letters, digits, '_', "
                         "'.', '-'; at most 128)")
    return bare


def plan_merge(
    target: TargetPlan,
    files: Sequence[tuple[str, str]],
    *,
    tags: Sequence[str],
    annotations: Mapping[str, str],
    stage_dir: str,
) -> MergePlan:
    """Check every record in the stage directory against the target; refuse with every reason.

    `files` are (file name, contents) of the directory's *.json files.
    """
    problems: list[str] = []
    ignored: list[str] = []
    by_platform: dict[str, list[tuple[str, StageRecord]]] = {}
    image = target.config.image
    for name, text in sorted(files):
        try:
            record = parse_record(name, text)
        except CheckFailed as exc:
            problems.append(exc.message)
            continue
        if record.target != target.name and record.image != image:
            ignored.append(name)
            continue
        if record.image != image:
            problems.append(f"{name}: record of target {record.target!r} is for image "
                            f"{record.image!r}, not the target's image {image!r}")
            continue
        if record.target != target.name:
            problems.append(f"{name}: record of image {image!r} belongs to target "
                            f"{record.target!r}, not {target.name!r}")
            continue
        if record.platform not in target.config.platforms:
            problems.append(f"{name}: platform {record.platform!r} is not a platform of target "
                            f"{target.name!r} ({', '.join(target.config.platforms)})")
            continue
        by_platform.setdefault(record.platform, []).append((name, record))
    sources: list[str] = []
    for platform in target.config.platforms:
        found = by_platform.get(platform, [])
        if not found:
            problems.append(f"{platform}: no stage record in {stage_dir} (expected "
                            f"{record_name(target.name, platform)} from `bslim bake "
                            f"{target.name} --platform {platform} --push --stage {stage_dir}`)")
            continue
        digests = sorted({record.digest for _, record in found})
        if len(digests) > 1:
            listed = ", ".join(f"{name} says {record.digest}" for name, record in found)
            problems.append(f"{platform}: stage records disagree: {listed}")
            continue
        sources.append(found[0][1].source)
    if problems:
        raise CheckFailed(f"cannot merge target {target.name!r}: " + (
            problems[0] if len(problems) == 1 else f"{len(problems)} problems"),
            detail=None if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems),
            hint="nothing was pushed; stage the missing platforms or clear the stage directory")
    return MergePlan(target=target.name, image=image, sources=tuple(sources),
                     platforms=tuple(target.config.platforms), tags=tuple(tags),
                     annotations=tuple(sorted(annotations.items())), ignored=tuple(ignored))


# --- what the registry says --------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RemoteImage:
    """A pushed reference as `imagetools inspect` reports it."""

    digest: str
    index: bool  # a multi-platform index (or manifest list), not a single manifest
    platforms: tuple[str, ...]  # of an index, attestation manifests left out


def remote_image(manifest: Mapping[str, Any]) -> RemoteImage:
    """From `imagetools inspect --format '{{json .Manifest}}'` output."""
    digest = str(manifest.get("digest", ""))
    entries = manifest.get("manifests")
    if not isinstance(entries, list):
        return RemoteImage(digest=digest, index=False, platforms=())
    platforms: list[str] = []
    for entry in entries:
        plat = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(plat, dict) or plat.get("os") in (None, "unknown"):
            continue
        name = "/".join(str(p) for p in (plat.get("os"), plat.get("architecture"),
                                          plat.get("variant")) if p)
        if name not in platforms:
            platforms.append(name)
    return RemoteImage(digest=digest, index=True, platforms=tuple(platforms))


def check_index(ref: str, image: RemoteImage | None, platforms: Sequence[str]) -> list[str]:
    """Problems with `ref` as a multi-platform image of `platforms` (empty: fine)."""
    if image is None:
        return [f"{ref} does not exist in the registry"]
    if not image.index:
        if len(platforms) > 1:
            return [f"{ref} is a single-platform image ({image.digest}), not a multi-platform "
                    f"index of {', '.join(platforms)}"]
        return []
    missing = [p for p in platforms if p not in image.platforms]
    if missing:
        return [f"{ref} lacks {', '.join(missing)} (it has "
                f"{', '.join(image.platforms) or 'no platform'})"]
    return []


# --- release -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReleasePlan:
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
        return f"{image}:{_tag_on(image, given, '--from')}"
    repo, _, digest = given.partition("@")
    if not DIGEST_RE.fullmatch(digest):
        raise UsageError(f"--from: {given!r}: {digest!r} is not a sha256 digest")
    if repo != image:
        raise UsageError(f"--from: {given!r} is in repository {repo!r}, not the target's "
                         f"image {image!r}", hint=_OWN_REPO["--from"])
    return given


def plan_release(
    target: TargetPlan,
    *,
    immutable: Sequence[str],
    tags: Sequence[str],
    source_ref: str,
    source: RemoteImage | None,
    current: Mapping[str, str | None],
    force: bool,
) -> ReleasePlan:
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
    return ReleasePlan(
        target=target.name, source=f"{target.config.image}@{source.digest}",
        digest=source.digest, tags=tuple(tags), immutable=tuple(immutable),
        to_write=tuple(t for t in tags if current.get(t) != source.digest),
        moved=moved, forced=forced,
    )


def verify_release(plan: ReleasePlan, after: Mapping[str, str | None]) -> None:
    """After the copy: every tag must be the source's digest, byte for byte (a carbon copy)."""
    wrong = [f"{tag} -> {after.get(tag) or 'missing'}" for tag in plan.tags
             if after.get(tag) != plan.digest]
    if wrong:
        raise CheckFailed(f"after the release, {len(wrong)} tag(s) do not point at "
                          f"{plan.digest}: {'; '.join(wrong)}",
                          hint="the registry rewrote the index; check it with "
                               "`docker buildx imagetools inspect`")
