"""Staging (pure): one platform of one target pushed for a later merge, and its record.

The flow a CI matrix runs: one job per platform builds and pushes that platform alone to a
staging location and writes a *staging record* (``bslim bake T --platform P --push --staging
DIR``); one merge job turns every record of a target into one multi-platform index (merge.py).
The docker calls happen in publish.py.

Decisions where the issue was silent (unit tests pin them down):

* Records are named ``<target>.<platform-pair>.json``: target names cannot contain a dot, so the
  name splits back unambiguously; merge reads the *contents*, never trusts the name.
* The staging tag (docker driver) is ``<TAG>-stage-<platform-pair>``; it stays in the registry
  (deleting tags is not portable across registries) and is never a version or moving tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from buildkit_slim.blueprint import Blueprint, TargetBlueprint
from buildkit_slim.config import REPOSITORY_RE
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.platforms import pair as platform_pair
from buildkit_slim.refs import DIGEST_RE
from buildkit_slim.reproducible import REWRITE
from buildkit_slim.tag_grammar import TAG_RE

RECORD_FORMAT = 1
MODES = ("digest", "tag")


@dataclass(frozen=True, kw_only=True)
class StagingSteps:
    target: str
    image: str
    platform: str
    mode: str  # "digest": push-by-digest; "tag": under a staging tag (docker driver)
    overrides: tuple[tuple[str, str], ...]  # bake --set
    push: bool  # pass --push to bake (the digest output pushes by itself)
    staging_ref: str | None  # mode "tag": where the image is pushed
    record_name: str


def staging_choice(chosen: Blueprint, *, push: bool, export_wheels: bool,
                   print_: bool) -> tuple[TargetBlueprint, str]:
    """The one target and one platform `bake --staging` builds, or a usage error saying why not."""
    if not push:
        raise UsageError("--staging needs --push: the merge job reads the staged image from the "
                         "registry")
    if export_wheels or print_:
        raise UsageError("--staging pushes an image; it cannot be combined with "
                         + ("--export-wheels" if export_wheels else "--print"))
    if len(chosen.targets) != 1:
        raise UsageError("--staging builds exactly one target; name it ("
                         + ", ".join(t.name for t in chosen.targets) + ")")
    target = chosen.targets[0]
    if len(target.platforms) != 1:
        raise UsageError(f"--staging builds exactly one platform; pass --platform (one of "
                         f"{', '.join(target.platforms)})",
                         hint="a CI matrix gets one job per platform from `bslim matrix`")
    return target, target.platforms[0]


@dataclass(frozen=True, kw_only=True)
class Staging:
    """`bake --staging`, decided before anything is written: the one platform of one target,
    and how it is pushed by a builder that pushes by digest or by the `docker` driver (which
    cannot: under a staging tag, or why that tag is not valid)."""

    by_digest: StagingSteps
    by_tag: StagingSteps | UsageError


def prepare(chosen: Blueprint, *, push: bool, export_wheels: bool, print_: bool,
            tag: str, reproducible: bool = False) -> Staging:
    """`reproducible`: the push by digest rewrites timestamps (`bake --reproducible`)."""
    target, platform = staging_choice(chosen, push=push, export_wheels=export_wheels,
                                      print_=print_)
    by_digest = staging_steps(target, platform, tag=tag, by_digest=True,
                              reproducible=reproducible)
    try:
        by_tag: StagingSteps | UsageError = staging_steps(target, platform, tag=tag,
                                                          by_digest=False)
    except UsageError as exc:
        by_tag = exc
    return Staging(by_digest=by_digest, by_tag=by_tag)


def record_name(target: str, platform: str) -> str:
    return f"{target}.{platform_pair(platform)}.json"


def staging_tag(tag: str, platform: str) -> str:
    staged = f"{tag}-stage-{platform_pair(platform)}"
    if not TAG_RE.fullmatch(staged):
        raise UsageError(f"--tag: {tag!r} gives the staging tag {staged!r}, which is not a "
                         "valid OCI tag (at most 128 letters, digits, '_', '.', '-')")
    return staged


def staging_steps(target: TargetBlueprint, platform: str, *, tag: str, by_digest: bool,
                  reproducible: bool = False) -> StagingSteps:
    """How one platform of `target` is pushed for a later merge."""
    if platform not in target.config.platforms:
        raise UsageError(f"--platform: {platform!r} is not a platform of target {target.name!r} "
                         f"(platforms: {', '.join(target.config.platforms)})")
    image, name = target.config.image, target.name
    if by_digest:
        output = f"type=image,name={image},push-by-digest=true,name-canonical=true,push=true" + (
            f",{REWRITE}" if reproducible else "")
        return StagingSteps(
            target=name, image=image, platform=platform, mode="digest",
            # An empty tags list would fall back to the bake file's: clear it explicitly.
            overrides=((f"{name}.output", output), (f"{name}.tags", "")),
            push=False, staging_ref=None, record_name=record_name(name, platform),
        )
    ref = f"{image}:{staging_tag(tag, platform)}"
    return StagingSteps(
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
                          hint="was the image pushed? --staging needs --push") from None
    if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
        raise CheckFailed(f"buildx metadata: {digest!r} is not a sha256 digest")
    return digest


@dataclass(frozen=True, kw_only=True)
class StagingRecord:
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


def staging_record(stage: StagingSteps, digest: str) -> StagingRecord:
    return StagingRecord(image=stage.image, target=stage.target, platform=stage.platform,
                         digest=digest, ref=stage.staging_ref or f"{stage.image}@{digest}",
                         mode=stage.mode)


def render_record(record: StagingRecord) -> str:
    body = {"format": RECORD_FORMAT, "image": record.image, "target": record.target,
            "platform": record.platform, "digest": record.digest, "ref": record.ref,
            "mode": record.mode}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def parse_record(name: str, text: str) -> StagingRecord:
    """One record file's contents; CheckFailed names the file and what is wrong."""
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise CheckFailed(f"{name}: not a staging record (invalid JSON: {exc})") from None
    if not isinstance(data, dict):
        raise CheckFailed(f"{name}: not a staging record (expected a JSON object)")
    if data.get("format") != RECORD_FORMAT:
        raise CheckFailed(f"{name}: staging record format {data.get('format')!r} is not "
                          f"{RECORD_FORMAT}; stage it again with this bslim")
    fields = {}
    for key in ("image", "target", "platform", "digest", "ref", "mode"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise CheckFailed(f"{name}: staging record has no {key}")
        fields[key] = value
    if not DIGEST_RE.fullmatch(fields["digest"]):
        raise CheckFailed(f"{name}: {fields['digest']!r} is not a sha256 digest")
    if not REPOSITORY_RE.fullmatch(fields["image"]):
        raise CheckFailed(f"{name}: {fields['image']!r} is not an image repository")
    if fields["mode"] not in MODES:
        raise CheckFailed(f"{name}: mode {fields['mode']!r} is not one of {', '.join(MODES)}")
    return StagingRecord(**fields)


def finish(stage: StagingSteps, metadata: str) -> tuple[StagingRecord, str]:
    """The record of a pushed platform, from buildx's --metadata-file, and its file's text."""
    record = staging_record(stage, digest_from_metadata(metadata, stage.target))
    return record, render_record(record)
