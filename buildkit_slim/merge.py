"""Merge (pure): every staging record of a target, checked, as one multi-platform index.

Every check runs before the first push, so a refused merge leaves the registry as it was.

Decisions where the issue was silent (unit tests pin them down):

* Records of other targets in the staging directory are ignored (a CI merge job downloads every
  artifact into one directory), unless they claim this target's image: then they are refused.
* A record for a platform the target does not build is refused: the index would carry a
  platform the configuration no longer names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.errors import CheckFailed
from buildkit_slim.staging import StagingRecord, parse_record, record_name


@dataclass(frozen=True, kw_only=True)
class MergeSteps:
    target: str
    image: str
    sources: tuple[str, ...]  # <image>@<digest>, in the target's platform order
    platforms: tuple[str, ...]
    tags: tuple[str, ...]  # full references
    annotations: tuple[tuple[str, str], ...]
    ignored: tuple[str, ...]  # record files of other targets


def merge_steps(
    target: TargetBlueprint,
    files: Sequence[tuple[str, str]],
    *,
    tags: Sequence[str],
    annotations: Mapping[str, str],
    staging_dir: str,
) -> MergeSteps:
    """Check every record in the staging directory against the target; refuse with every reason.

    `files` are (file name, contents) of the directory's *.json files.
    """
    problems: list[str] = []
    ignored: list[str] = []
    by_platform: dict[str, list[tuple[str, StagingRecord]]] = {}
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
            problems.append(f"{platform}: no staging record in {staging_dir} (expected "
                            f"{record_name(target.name, platform)} from `bslim bake "
                            f"{target.name} --platform {platform} --push --staging {staging_dir}`)")
            continue
        digests = sorted({record.digest for _, record in found})
        if len(digests) > 1:
            listed = ", ".join(f"{name} says {record.digest}" for name, record in found)
            problems.append(f"{platform}: staging records disagree: {listed}")
            continue
        sources.append(found[0][1].source)
    if problems:
        raise CheckFailed(f"cannot merge target {target.name!r}: " + (
            problems[0] if len(problems) == 1 else f"{len(problems)} problems"),
            detail=None if len(problems) == 1 else "\n".join(f"  - {p}" for p in problems),
            hint="nothing was pushed; stage the missing platforms or clear the staging directory")
    return MergeSteps(target=target.name, image=image, sources=tuple(sources),
                      platforms=tuple(target.config.platforms), tags=tuple(tags),
                      annotations=tuple(sorted(annotations.items())), ignored=tuple(ignored))
