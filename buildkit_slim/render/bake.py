"""docker-bake.json: one target per [tool.slim] target, tags from `image` and the TAG variable."""

from __future__ import annotations

import json
from typing import Any

from buildkit_slim.plan import Plan, TargetPlan

TAG_VARIABLE = "TAG"
DEFAULT_TAG = "dev"


def escape_hcl(value: str) -> str:
    """Bake interpolates `${...}` and `%{...}` in every string of a JSON file: keep them literal."""
    return value.replace("${", "$${").replace("%{", "%%{")


def bake_target(target: TargetPlan) -> dict[str, Any]:
    body: dict[str, Any] = {
        "context": ".",
        "dockerfile": escape_hcl(target.dockerfile),  # a project path may hold `%{`
        "labels": {k: escape_hcl(v) for k, v in target.labels},
        "platforms": list(target.platforms),
        "tags": [f"{target.config.image}:${{{TAG_VARIABLE}}}"],
    }
    if target.runtime_stage is not None:
        body["target"] = target.runtime_stage
    if target.config.args:
        body["args"] = {k: escape_hcl(v) for k, v in target.config.args}
    return body


def bake_definition(plan: Plan) -> dict[str, Any]:
    return {
        "group": {"default": {"targets": [t.name for t in plan.targets]}},
        "target": {t.name: bake_target(t) for t in plan.targets},
        "variable": {TAG_VARIABLE: {"default": DEFAULT_TAG}},
    }


def render_bake(plan: Plan) -> str:
    return json.dumps(bake_definition(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
