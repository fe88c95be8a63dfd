"""Per-build OCI metadata (pure): the revision and created labels, and index annotations.

Decision where the issue was silent: ``created`` comes from ``SOURCE_DATE_EPOCH`` only: without
it there is no created label or annotation at all, so builds stay reproducible and
cache-identical. Both are passed at build time (bake ``--set``), never written into the
committed bake file.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.errors import UsageError

_REVISION_RE = re.compile(r"[0-9a-fA-F]{7,64}")
OCI = "org.opencontainers.image."
# buildx learned `imagetools create --annotation` in 0.12.
ANNOTATIONS_SINCE = (0, 12)


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
    target: TargetBlueprint, *, revision: str | None, created: str | None
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
