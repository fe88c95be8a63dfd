"""A JSON schema for `[tool.slim]`, generated from `config.KEYS` (and the tag rules).

`python -m buildkit_slim.schema > buildkit_slim/schema.json` regenerates the committed file; a
test fails when they drift. validate-pyproject finds it through the `validate_pyproject.tool_schema`
entry point, and editors that read SchemaStore-style schemas can use it directly.
"""

from __future__ import annotations

import json
from typing import Any

from buildkit_slim.config import DEFAULT_PLATFORMS, KEYS, PLATFORMS
from buildkit_slim.tag_rules import TAG_KEYS, TagKey

_STRING_LIST = {"type": "array", "items": {"type": "string"}}
_STRING_TABLE = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}
_SPECIAL: dict[str, dict[str, Any]] = {
    "platforms": {"type": "array", "items": {"enum": list(PLATFORMS)}, "minItems": 1,
                  "uniqueItems": True},
    "expose": {"type": "array", "items": {"type": ["integer", "string"]}},
    "cache": {"type": "object", "additionalProperties": False, "properties": {
        "registry": {"type": "string"}, "local": {"type": "string"},
        "gha": {"type": "boolean"}}},
    "platform-index-urls": {"type": "object", "propertyNames": {"enum": list(PLATFORMS)},
                            "additionalProperties": _STRING_LIST},
}
_KINDS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"}, "bool": {"type": "boolean"}, "list": _STRING_LIST,
    "table": _STRING_TABLE,
}


def _property(key: str, kind: str, default: Any, doc: str) -> dict[str, Any]:
    prop = dict(_SPECIAL.get(key, _KINDS[kind]))
    prop["description"] = doc
    if default is not None and default != {}:
        prop["default"] = list(default) if isinstance(default, tuple) else default
    return prop


def _tag_property(spec: TagKey) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "str": {"type": "string"}, "bool": {"type": "boolean"}, "int": {"type": "integer"},
        "list": {**_STRING_LIST, "uniqueItems": True}, "choice": {"enum": list(spec.choices)}}
    default = spec.default
    return {**kinds[spec.kind], **dict(spec.limits), "description": spec.doc,
            "default": list(default) if isinstance(default, tuple) else default}


def schema() -> dict[str, Any]:
    keys = {spec.key: _property(spec.key, spec.kind, spec.default, spec.doc) for spec in KEYS}
    per_target = {k: v for k, v in keys.items()
                  if not next(s for s in KEYS if s.key == k).top_only}
    tag_props = {spec.key: _tag_property(spec) for spec in TAG_KEYS}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/bslim-dev/buildkit-slim/blob/main/buildkit_slim/schema.json",
        "title": "bslim [tool.slim] (schema version 1)",
        "description": "Small multi-architecture container images for Python projects. "
                       f"Default platforms: {', '.join(DEFAULT_PLATFORMS)}.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **keys,
            "targets": {
                "type": "object",
                "description": "One image per target; each inherits the top level and "
                               "overrides what it names.",
                "propertyNames": {"pattern": "^[a-zA-Z0-9_-]+$"},
                "additionalProperties": {"type": "object", "additionalProperties": False,
                                         "properties": per_target},
            },
            "tags": {"type": "object", "additionalProperties": False,
                     "description": "Rules of `bslim tags` and `bslim release`.",
                     "properties": tag_props},
        },
    }


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def tool_schema() -> dict[str, Any]:
    """The validate-pyproject plugin: `[tool.slim]` is checked against this schema."""
    return schema()


if __name__ == "__main__":
    print(render(), end="")

