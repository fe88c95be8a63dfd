"""A JSON schema for `[tool.slim]`, generated from the key declarations (config.model, tags).

`python -m buildkit_slim.schema > buildkit_slim/schema.json` regenerates the committed file; a
test fails when they drift. validate-pyproject finds it through the `validate_pyproject.tool_schema`
entry point, and editors that read SchemaStore-style schemas can use it directly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from buildkit_slim.config.model import DEFAULT_PLATFORMS, KEY_TABLE, KeyTable
from buildkit_slim.keys import Key, keys_of

_KINDS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"}, "bool": {"type": "boolean"}, "int": {"type": "integer"},
    "list": {"type": "array", "items": {"type": "string"}},
    "table": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
}
_LINK_RE = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")  # the README's own links mean nothing here


def _property(decl: Key) -> dict[str, Any]:
    if decl.table is not None:
        prop: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {
            k.name: _property(k) for k in keys_of(decl.table)}}
    else:
        prop = dict(decl.schema or _KINDS[decl.kind])
    prop["description"] = _LINK_RE.sub(r"\1", decl.doc)
    default = decl.toml_default()
    if default is not None and default != {}:
        prop["default"] = default
    return prop


def schema(table: KeyTable = KEY_TABLE) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/bslim-dev/buildkit-slim/blob/main/buildkit_slim/schema.json",
        "title": "bslim [tool.slim] (schema version 1)",
        "description": "Small multi-architecture container images for Python projects. "
                       f"Default platforms: {', '.join(DEFAULT_PLATFORMS)}.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{k.name: _property(k) for k in table.keys},
            "targets": {
                "type": "object",
                "description": "One image per target; each inherits the top level and "
                               "overrides what it names.",
                "propertyNames": {"pattern": "^[a-zA-Z0-9_-]+$"},
                "additionalProperties": {"type": "object", "additionalProperties": False,
                                         "properties": {k.name: _property(k)
                                                        for k in table.per_target}},
            },
        },
    }


def render(table: KeyTable = KEY_TABLE) -> str:
    return json.dumps(schema(table), indent=2, sort_keys=True) + "\n"


def tool_schema() -> dict[str, Any]:
    """The validate-pyproject plugin: `[tool.slim]` is checked against this schema."""
    return schema()


if __name__ == "__main__":
    print(render(), end="")
