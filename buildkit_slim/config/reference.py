"""What the key declarations say to people: the README's key tables and `bslim config`'s listing.

`python -m buildkit_slim.config.reference README.md` rewrites the README's generated tables (the
lines between `<!-- keys: NAME -->` and `<!-- /keys -->`); a test fails when they drift.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from buildkit_slim.config.model import KEY_TABLE, Config, KeyTable
from buildkit_slim.keys import Key, keys_of

REGENERATE = "python -m buildkit_slim.config.reference README.md"
_REGION_RE = re.compile(r"(<!-- keys: (?P<name>[\w.-]+) -->\n?)(?P<body>.*?)(<!-- /keys -->)",
                        re.DOTALL)


def listing(config: Config) -> list[str]:
    """`bslim config`: the resolved values, per target with where each came from."""
    lines = [f"# project {config.project.name} {config.project.version or ''}".rstrip()]
    lines += [f"{k.name} = {_json(getattr(config, k.attr), k)}"
              for k in keys_of(type(config)) if k.top_only]
    for target in config.targets:
        keys = keys_of(type(target))
        width = max(len(k.name) for k in keys)
        sources = dict(target.sources)
        lines += ["", f"[target {target.name}]"]
        lines += [f"{k.name:<{width}} = {_json(getattr(target, k.attr), k)}  "
                  f"# {sources.get(k.name, 'default')}" for k in keys]
    return lines


def _json(value: Any, decl: Key) -> str:
    """A parsed value as the user would write it (a sub-table: what differs from defaults)."""
    if decl.table is not None:
        value = {k.name: getattr(value, k.attr) for k in keys_of(decl.table)
                 if getattr(value, k.attr) != k.default}
    elif decl.kind == "table":
        value = dict(value)
    elif isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def tables(table: KeyTable = KEY_TABLE) -> dict[str, str]:
    """Markdown tables of `[tool.slim]` and of each sub-table, by dotted table name; and
    "paths", the keys that name paths in the project, inline."""
    out = {"tool.slim": _markdown(table.keys)}
    paths = [k.name for k in table.keys if k.path]
    for decl in table.keys:
        if decl.table is not None:
            out[f"tool.slim.{decl.name}"] = _markdown(keys_of(decl.table))
            paths += [f"{decl.name}.{k.name}" for k in keys_of(decl.table) if k.path]
    out["paths"] = ", ".join(f"`{name}`" for name in paths)
    return out


def _markdown(keys: tuple[Key, ...]) -> str:
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for decl in keys:
        doc = decl.doc + (" Top level only." if decl.top_only else "")
        rows.append(f"| `{decl.name}` | {_cell(_default(decl))} | {_cell(doc)} |")
    return "\n".join(rows) + "\n"


def _default(decl: Key) -> str:
    if decl.shown is not None:
        return decl.shown
    if decl.table is not None:
        return "`{}`"
    value = decl.toml_default()
    return "none" if value is None else f"`{json.dumps(value, ensure_ascii=False)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def update(text: str, table: KeyTable = KEY_TABLE) -> str:
    """`text` (the README) with every generated region replaced by what `tables` says."""
    generated = tables(table)
    found = {m["name"] for m in _REGION_RE.finditer(text)}
    if found != set(generated):
        raise ValueError(f"the <!-- keys: NAME --> regions are {', '.join(sorted(found))}; "
                         f"expected {', '.join(sorted(generated))}")

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + generated[match["name"]] + match.group(4)
    return _REGION_RE.sub(replace, text)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {REGENERATE}", file=sys.stderr)
        return 2
    path = Path(argv[0])
    text = path.read_text(encoding="utf-8")
    new = update(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
