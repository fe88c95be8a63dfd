"""How a `[tool.slim]` key is declared: one field of the model it fills, nothing else.

    python: str = key("3.13", "Python version X.Y of the base images.",
                      check=checks.python_version)

A key's name is its field's, dashed (`fast_wheels` is `fast-wheels`); its type in the model is
the field's annotation; `key()` gives the rest: TOML type, default, documentation, validator,
whether it names a path in the project and whether only the top level may set it. A field whose
default is itself such a model (`cache: CacheConfig = key(CacheConfig(), ...)`) is a sub-table
whose keys are that model's fields.

Parsing, the JSON schema, `bslim config` and the README's key tables all read these declarations
through `keys_of(model)`: nothing else lists keys. Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

# TOML types a key may have, as error messages name them.
KINDS = {"str": "a string", "bool": "a boolean", "int": "an integer", "list": "an array",
         "table": "a table"}
_KIND_OF_DEFAULT = {str: "str", bool: "bool", int: "int", tuple: "list", dict: "table"}
_METADATA = "bslim.key"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Key:
    """One key of `[tool.slim]` or of one of its sub-tables."""

    name: str  # as pyproject.toml spells it: fast-wheels
    attr: str  # the model's field: fast_wheels
    kind: str  # its TOML type, one of KINDS
    default: Any  # the value when it is not set; None: unset, or derived (see `shown`)
    doc: str  # markdown: the JSON schema's description and the README's meaning column
    shown: str | None = None  # how the README shows a default the code derives
    # (value of the right TOML type, its dotted key, config.checks.Context) -> the parsed value,
    # reporting problems to the context, or REFUSED when it reported one (parsing carries on
    # with the default); None: the value as it is (arrays as tuples).
    check: Callable[..., Any] | None = None
    path: bool = False  # names a path in the project, which reading looks up
    top_only: bool = False  # only [tool.slim] itself may set it, not a target
    schema: Mapping[str, Any] | None = None  # JSON schema of a structured value
    table: type | None = None  # a sub-table's model, whose fields are its keys

    def toml_default(self) -> Any:
        """The default as it would be written in TOML (None: nothing to show)."""
        if self.table is not None or self.default is None:
            return None
        return list(self.default) if isinstance(self.default, tuple) else self.default


class Refused:
    """A validator's answer for a value it reported: parsing carries on with the default."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED = Refused()


def key(default: Any, doc: str, *, kind: str | None = None,
        check: Callable[..., Any] | None = None, path: bool = False, top_only: bool = False,
        schema: Mapping[str, Any] | None = None, shown: str | None = None) -> Any:
    """A model field that declares a key; its default is the key's (`{}` for a table)."""
    table = type(default) if dataclasses.is_dataclass(default) else None
    kind = kind or ("table" if table else _KIND_OF_DEFAULT.get(type(default)))
    if kind not in KINDS:
        raise TypeError(f"key({default!r}, ...): say its kind, one of {', '.join(KINDS)}")
    if isinstance(default, dict) and default:
        raise TypeError("a table's default is empty")
    declared = Key(name="", attr="", kind=kind, default=default, doc=doc, shown=shown,
                   check=check, path=path, top_only=top_only, schema=schema, table=table)
    metadata = {_METADATA: declared}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def keys_of(model: type) -> tuple[Key, ...]:
    """The keys a model declares, in field order."""
    return tuple(
        dataclasses.replace(f.metadata[_METADATA], name=f.name.replace("_", "-"), attr=f.name)
        for f in dataclasses.fields(model) if _METADATA in f.metadata)
