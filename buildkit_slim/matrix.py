"""The CI matrix (pure): one job per target and platform, as GitHub Actions' `strategy.matrix`.

Each job builds and pushes its one platform to a staging location (staging.py); a merge job
joins them (merge.py). Each entry names its runner (`runs-on`: the target's `runners` for that
platform, else DEFAULT_RUNNER) and the runner architectures that run the platform without
emulation (`native-on`, as GitHub's `runner.arch` spells them): the reusable workflow sets up
QEMU only where `runner.arch` is not one of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from buildkit_slim.blueprint import Blueprint, select
from buildkit_slim.platforms import pair as platform_pair

DEFAULT_RUNNER = "ubuntu-24.04"
# GitHub's `runner.arch` values (X86, X64, ARM, ARM64) under which a platform's containers run
# without emulation: a 64-bit kernel runs its 32-bit sibling's processes (an arm64 CPU only
# when it implements AArch32 at EL0; the workflow checks before it skips QEMU).
NATIVE_ON = {
    "linux/386": ["X86", "X64"],
    "linux/amd64": ["X64"],
    "linux/arm/v6": ["ARM", "ARM64"],
    "linux/arm/v7": ["ARM", "ARM64"],
    "linux/arm64": ["ARM64"],
}


def matrix(blueprint: Blueprint) -> dict[str, list[dict[str, object]]]:
    """`strategy.matrix` for GitHub Actions: one entry per target and platform, in blueprint
    order."""
    include: list[dict[str, object]] = []
    for target in blueprint.targets:
        runners = dict(target.config.runners)
        for platform in target.platforms:
            labels = runners.get(platform, (DEFAULT_RUNNER,))
            include.append({
                "target": target.name, "platform": platform,
                "platform-pair": platform_pair(platform),
                "runs-on": labels[0] if len(labels) == 1 else list(labels),
                "native-on": NATIVE_ON.get(platform, [])})
    return {"include": include}


def matrix_line(blueprint: Blueprint, targets: Sequence[str] = ()) -> str:
    """`bslim matrix`: the matrix of the chosen targets (default all) as one JSON line."""
    return json.dumps(matrix(select(blueprint, list(targets), [])), separators=(",", ":"))
