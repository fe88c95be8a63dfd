"""Carry out the steps of staging.py, merge.py and release.py: push one platform for a later
merge, merge the staged platforms, release.

The decisions are made in those modules from plain data; this module only fetches that data from
the registry and the staging directory, and writes once every check has passed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from buildkit_slim import docker, files, labels, release, staging
from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.merge import MergeSteps
from buildkit_slim.remote import RemoteImage, check_index, remote_image
from buildkit_slim.tags import TagRules


def push_by_digest(builder: str | None) -> bool:
    """The docker driver cannot push by digest; docker-container, kubernetes and remote can."""
    return docker.builder_facts(builder).driver != "docker"


def run_staging(request: BakeRequest, choice: staging.Staging, staging_dir: Path,
                builder: str | None) -> tuple[staging.StagingRecord, Path]:
    """Build and push one platform, then write its record (only after the push succeeded)."""
    stage = choice.by_tag
    if push_by_digest(builder):
        stage = choice.by_digest
    if isinstance(stage, UsageError):
        raise stage
    overrides = dict(request.overrides or {})
    clash = sorted(key for key, _ in stage.overrides if key in overrides)
    if clash:
        raise UsageError(f"--set {clash[0]}: --staging decides where the image goes; "
                         "do not override it")
    overrides.update(dict(stage.overrides))
    with tempfile.TemporaryDirectory(prefix="bslim-staging-") as tmp:
        metadata = request.metadata_file or Path(tmp) / "metadata.json"
        docker.bake(replace(request, overrides=overrides, push=stage.push,
                            metadata_file=metadata))
        record, text = staging.finish(stage, metadata.read_text(encoding="utf-8"))
    staging_dir.mkdir(parents=True, exist_ok=True)
    path = staging_dir / stage.record_name
    files.write_file(path, text.encode("utf-8"))  # at once: a merge never reads half of one
    return record, path


def read_staging_dir(staging_dir: Path) -> list[tuple[str, str]]:
    """(name relative to the directory, contents) of every *.json below it: a CI merge job may
    download each artifact into its own subdirectory."""
    if not staging_dir.is_dir():
        raise UsageError(f"--staging: {staging_dir} is not a directory")
    out = []
    for path in sorted(staging_dir.rglob("*.json")):
        if not path.is_file():
            continue
        name = path.relative_to(staging_dir).as_posix()
        try:
            out.append((name, path.read_bytes().decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise CheckFailed(f"{name}: not a staging record (not UTF-8: byte {exc.start})",
                              hint="staging records are JSON written by `bslim bake --staging`"
                              ) from None
    return out


def remote(ref: str) -> RemoteImage | None:
    manifest = docker.inspect_manifest(ref)
    return None if manifest is None else remote_image(manifest)


@dataclass(frozen=True, kw_only=True)
class Merged:
    digest: str
    annotations_skipped: bool


def run_merge(merge: MergeSteps) -> Merged:
    annotations = dict(merge.annotations)
    skipped = bool(annotations) and not labels.supports_annotations(docker.buildx_version())
    docker.imagetools_create(merge.sources, merge.tags, {} if skipped else annotations)
    first = merge.tags[0]
    image = remote(first)
    problems = check_index(first, image, merge.platforms)
    if problems or image is None:
        raise CheckFailed(f"after the merge: {problems[0]}")
    return Merged(digest=image.digest, annotations_skipped=skipped)


def current_digests(refs: Sequence[str]) -> Mapping[str, str | None]:
    out: dict[str, str | None] = {}
    for ref in refs:
        image = remote(ref)
        out[ref] = None if image is None else image.digest
    return out


def run_release(target: TargetBlueprint, *, version: str, rules: TagRules, from_: str | None,
                force: bool) -> release.ReleaseSteps:
    """Check every precondition against the registry, copy, then verify the copy."""
    image = target.config.image
    immutable, tags = release.release_tags(image, version, rules)
    source_ref = release.resolve_from(image, from_, rules)
    steps = release.release_steps(
        target, immutable=immutable, tags=tags, source_ref=source_ref,
        source=remote(source_ref), current=current_digests(tags), force=force)
    if steps.to_write:
        docker.imagetools_create([steps.source], steps.to_write)
    release.verify_release(steps, current_digests(tags))
    return steps
