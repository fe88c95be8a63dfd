"""The CI matrix (pure): one job per target and platform, as GitHub Actions' `strategy.matrix`.

Each job builds and pushes its one platform to a staging location (staging.py); a merge job
joins them (merge.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from buildkit_slim.plan import Plan, select
from buildkit_slim.platforms import pair as platform_pair


def matrix(plan: Plan) -> dict[str, list[dict[str, str]]]:
    """`strategy.matrix` for GitHub Actions: one entry per target and platform, in plan order."""
    return {"include": [
        {"target": target.name, "platform": platform, "platform-pair": platform_pair(platform)}
        for target in plan.targets for platform in target.platforms
    ]}


def matrix_line(plan: Plan, targets: Sequence[str] = ()) -> str:
    """`bslim matrix`: the matrix of the chosen targets (default all) as one JSON line."""
    return json.dumps(matrix(select(plan, list(targets), [])), separators=(",", ":"))
