"""docker-bake.json: one target per [tool.slim] target, tags from `image` and the TAG variable."""

from __future__ import annotations

import json
from typing import Any

from buildkit_slim.blueprint import SHIM_CONTEXT, WHEELS_SUFFIX, Blueprint, TargetBlueprint
from buildkit_slim.cache import cache_refs

TAG_VARIABLE = "TAG"
DEFAULT_TAG = "dev"


def escape_hcl(value: str) -> str:
    """Bake interpolates `${...}` and `%{...}` in every string of a JSON file: keep them literal."""
    return value.replace("${", "$${").replace("%{", "%%{")


def bake_target(target: TargetBlueprint) -> dict[str, Any]:
    body: dict[str, Any] = {
        "context": ".",
        "dockerfile": escape_hcl(target.dockerfile),  # a project path may hold `%{`
        "labels": {k: escape_hcl(v) for k, v in target.labels},
        "platforms": list(target.platforms),
        "tags": [f"{escape_hcl(target.config.image)}:${{{TAG_VARIABLE}}}"],
    }
    if target.runtime_stage is not None:
        body["target"] = target.runtime_stage
    if target.config.args:
        body["args"] = {k: escape_hcl(v) for k, v in target.config.args}
    contexts = dict(target.contexts)
    if target.shim_dir is not None:
        contexts[SHIM_CONTEXT] = target.shim_dir
    if contexts:
        # wheels-from directories are project paths, which may hold `%{`.
        body["contexts"] = {k: escape_hcl(v) for k, v in contexts.items()}
    # Registry and gha locations are fixed: committed here, so that a plain `docker buildx
    # bake -f` uses them too. A local cache is added per run (it must exist to be read).
    refs = cache_refs(target.config.cache, target=target.name, all_platforms=target.platforms,
                      platforms=target.platforms, local=False)
    if refs.cache_from:
        body["cache-from"] = [escape_hcl(r) for r in refs.cache_from]
        body["cache-to"] = [escape_hcl(r) for r in refs.cache_to]
    return body


def wheels_target(target: TargetBlueprint) -> dict[str, Any]:
    """`<image>-wheels:<tag>`: a FROM scratch image of the wheels, for derived images."""
    body = bake_target(target)
    body["target"] = target.wheelhouse_stage
    body["tags"] = [f"{escape_hcl(target.config.image)}-wheels:${{{TAG_VARIABLE}}}"]
    body["labels"] = {**body["labels"], "org.opencontainers.image.title":
                      escape_hcl(f"{target.config.image.rsplit('/', 1)[-1]} wheels")}
    body.pop("cache-to", None)  # the main target writes the shared cache
    return body


def bake_definition(blueprint: Blueprint) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    for target in blueprint.targets:
        targets[target.name] = bake_target(target)
        if target.config.publish_wheels and target.wheelhouse_stage:
            targets[target.name + WHEELS_SUFFIX] = wheels_target(target)
    return {
        "group": {"default": {"targets": list(targets)}},
        "target": targets,
        "variable": {TAG_VARIABLE: {"default": DEFAULT_TAG}},
    }


def render_bake(blueprint: Blueprint) -> str:
    return json.dumps(bake_definition(blueprint), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"
