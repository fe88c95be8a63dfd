"""Carry out the plans of release.py: stage one platform, merge the staged platforms, release.

The decisions are made in release.py from plain data; this module only fetches that data from
the registry and the stage directory, and writes once every check has passed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from buildkit_slim import docker, files, release
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.plan import TargetPlan
from buildkit_slim.tags import TagRules


def push_by_digest(builder: str | None) -> bool:
    """The docker driver cannot push by digest; docker-container, kubernetes and remote can."""
    return docker.builder_facts(builder).driver != "docker"


def run_stage(request: BakeRequest, stage: release.StagePlan,
              stage_dir: Path) -> tuple[release.StageRecord, Path]:
    """Build and push one platform, then write its record (only after the push succeeded)."""
    overrides = dict(request.overrides or {})
    clash = sorted(key for key, _ in stage.overrides if key in overrides)
    if clash:
        raise UsageError(f"--set {clash[0]}: --stage decides where the image goes; "
                         "do not override it")
    overrides.update(dict(stage.overrides))
    with tempfile.TemporaryDirectory(prefix="bslim-stage-") as tmp:
        metadata = request.metadata_file or Path(tmp) / "metadata.json"
        docker.bake(replace(request, overrides=overrides, push=stage.push,
                            metadata_file=metadata))
        digest = release.digest_from_metadata(metadata.read_text(encoding="utf-8"),
                                              stage.target)
    record = release.stage_record(stage, digest)
    return record, write_record(stage_dir, stage.record_name, record)


def write_record(stage_dir: Path, name: str, record: release.StageRecord) -> Path:
    """The record, at once (a merge job never reads half of one)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    path = stage_dir / name
    files.write_file(path, release.render_record(record).encode("utf-8"))
    return path


def read_stage_dir(stage_dir: Path) -> list[tuple[str, str]]:
    """(name relative to the directory, contents) of every *.json below it: a CI merge job may
    download each artifact into its own subdirectory."""
    if not stage_dir.is_dir():
        raise UsageError(f"--stage: {stage_dir} is not a directory")
    out = []
    for path in sorted(stage_dir.rglob("*.json")):
        if not path.is_file():
            continue
        name = path.relative_to(stage_dir).as_posix()
        try:
            out.append((name, path.read_bytes().decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise CheckFailed(f"{name}: not a stage record (not UTF-8: byte {exc.start})",
                              hint="stage records are JSON written by `bslim bake --stage`"
                              ) from None
    return out


def remote(ref: str) -> release.RemoteImage | None:
    manifest = docker.inspect_manifest(ref)
    return None if manifest is None else release.remote_image(manifest)


@dataclass(frozen=True, kw_only=True)
class Merged:
    digest: str
    annotations_skipped: bool


def run_merge(merge: release.MergePlan) -> Merged:
    annotations = dict(merge.annotations)
    skipped = bool(annotations) and not release.supports_annotations(docker.buildx_version())
    docker.imagetools_create(merge.sources, merge.tags, {} if skipped else annotations)
    first = merge.tags[0]
    image = remote(first)
    problems = release.check_index(first, image, merge.platforms)
    if problems or image is None:
        raise CheckFailed(f"after the merge: {problems[0]}")
    return Merged(digest=image.digest, annotations_skipped=skipped)


def current_digests(refs: Sequence[str]) -> Mapping[str, str | None]:
    out: dict[str, str | None] = {}
    for ref in refs:
        image = remote(ref)
        out[ref] = None if image is None else image.digest
    return out


def run_release(target: TargetPlan, *, version: str, rules: TagRules, from_: str | None,
                force: bool) -> release.ReleasePlan:
    """Check every precondition against the registry, copy, then verify the copy."""
    image = target.config.image
    immutable, tags = release.release_tags(image, version, rules)
    source_ref = release.resolve_from(image, from_, rules)
    the_plan = release.plan_release(
        target, immutable=immutable, tags=tags, source_ref=source_ref,
        source=remote(source_ref), current=current_digests(tags), force=force)
    if the_plan.to_write:
        docker.imagetools_create([the_plan.source], the_plan.to_write)
    release.verify_release(the_plan, current_digests(tags))
    return the_plan
