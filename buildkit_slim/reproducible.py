"""`bslim bake --reproducible`: one commit, one image digest, whenever and wherever it is built.

What one switch sets (pure, but for `source_date_epoch`, which asks git):
- SOURCE_DATE_EPOCH, from the last commit (or the environment, as CI sets it): the image's and
  its history's times, the `created` label, hash-based byte code in the install step;
- every image output with `rewrite-timestamp=true` (each file's time in the layers becomes
  SOURCE_DATE_EPOCH), pushed with `store=false` on the docker driver, or an OCI tarball;
- no default provenance attestation (it records when the build ran);
- the build arg BSLIM_REPRODUCIBLE=1: the shim compiles every sdist (for the build platform
  too) in the compile stage's fixed directory, maps it to `.` in debug information
  (-ffile-prefix-map), and normalizes every wheel it builds (order, times, modes).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildkit_slim.errors import UsageError

BUILD_ARG = "BSLIM_REPRODUCIBLE"
NO_DEFAULT_ATTESTATIONS = "BUILDX_NO_DEFAULT_ATTESTATIONS"
REWRITE = "rewrite-timestamp=true"
# Known to push with rewrite-timestamp on the docker driver: Docker Engine 28.5 (buildx
# 0.29). Known not to: 26.1 (buildx 0.13): its image store unpacks what it keeps, which
# rewrite-timestamp refuses, and without keeping a copy it pushes nothing (`tag does not
# exist`). Versions between were not tried: refused, with the way around.
PUSH_FROM_ENGINE = 28
OCI_SUFFIX = ".oci.tar"


@dataclass(frozen=True, kw_only=True)
class Epoch:
    seconds: str
    source: str  # "SOURCE_DATE_EPOCH" or "git commit <sha>"
    dirty: bool = False  # the working tree differs from that commit


def source_date_epoch(root: Path, env: Mapping[str, str]) -> Epoch:
    """SOURCE_DATE_EPOCH as given, else the last commit's time (git log -1 --format=%ct)."""
    given = env.get("SOURCE_DATE_EPOCH")
    if given:
        if not re.fullmatch(r"[0-9]{1,12}", given):
            raise UsageError(f"SOURCE_DATE_EPOCH: {given!r} is not a whole number of seconds "
                             "since 1970 (e.g. the commit time: git log -1 --format=%ct)")
        return Epoch(seconds=given, source="SOURCE_DATE_EPOCH")
    try:
        log = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct %H"],
                             capture_output=True, text=True, timeout=60, check=False)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"--reproducible: SOURCE_DATE_EPOCH is not set and git cannot tell "
                         f"the last commit's time ({exc})",
                         hint="export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)") from None
    parts = log.stdout.split()
    if log.returncode != 0 or len(parts) != 2 or not parts[0].isdigit():
        reason = (log.stderr.strip().splitlines() or ["no commit"])[-1]
        raise UsageError(f"--reproducible: SOURCE_DATE_EPOCH is not set and {root} has no git "
                         f"commit to take it from ({reason})",
                         hint="commit, or set SOURCE_DATE_EPOCH (seconds since 1970)")
    return Epoch(seconds=parts[0], source=f"git commit {parts[1][:12]}",
                 dirty=status.returncode == 0 and bool(status.stdout.strip()))


def image_output(*, push: bool, oci: Path | None, target: str, reproducible: bool) -> str | None:
    """The output of one target's image: an OCI tarball `oci/<target>.oci.tar`, or with
    --reproducible --push an image pushed without a copy in the engine's store (which would
    unpack it); None: buildx's own default."""
    rewrite = f",{REWRITE}" if reproducible else ""
    if oci is not None:
        return f"type=oci,dest={oci / f'{target}{OCI_SUFFIX}'}{rewrite}"
    if reproducible and push:
        return f"type=image,push=true,store=false{rewrite}"
    return None


def check_outputs(*, reproducible: bool, push: bool, load: bool, oci: Path | None,
                  export_wheels: bool) -> None:
    """What --reproducible and --oci can be combined with."""
    if oci is not None and (push or load or export_wheels):
        raise UsageError("--oci writes the images to tarballs; it cannot be combined with "
                         + ("--push" if push else "--load" if load else "--export-wheels"))
    if not reproducible:
        return
    if load:
        raise UsageError("--reproducible --load: the engine's image store unpacks what it "
                         "loads, which rewrite-timestamp refuses",
                         hint="use --push, or --oci DIR for a tarball")
    if not (push or oci is not None or export_wheels):
        raise UsageError("--reproducible needs somewhere to put the image: --push, or --oci DIR "
                         "for an OCI tarball (the engine's image store cannot keep it)")


def push_problem(driver: str, server_version: str) -> str | None:
    """Why this builder cannot push with rewrite-timestamp, or None."""
    if driver != "docker":
        return None
    major = re.match(r"([0-9]+)\.", server_version)
    if major and int(major.group(1)) >= PUSH_FROM_ENGINE:
        return None
    return (f"--reproducible --push: Docker Engine {server_version} with the docker driver "
            "cannot push an image with rewrite-timestamp (it pushes through its image store, "
            "which unpacks what it keeps and then has no tag to push: `tag does not exist`; "
            f"Docker {PUSH_FROM_ENGINE}.5 can)")


PUSH_HINT = ("write an OCI tarball instead, `bslim bake --reproducible --oci DIR`, and push "
             f"DIR/<target>{OCI_SUFFIX} with skopeo (skopeo copy oci-archive:FILE "
             "docker://IMAGE:TAG), crane or regctl; or build on a docker-container builder "
             "(docker buildx create --use --driver docker-container)")
