"""How configuration problems are collected and worded: every one at once, each naming its key."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Sequence

from buildkit_slim.credentials import has_credentials, redact

# A bare TOML key (and a target name): anything else is quoted in a dotted key.
BARE_KEY_RE = re.compile(r"[a-zA-Z0-9_-]+")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
NO_CONTROL = "must not contain newlines or control characters"
NO_CREDENTIALS = (
    "holds a URL with credentials (a password or token before its host), which would be "
    "written into the generated files or the image; give it without them (for a private index: "
    "bslim bake --netrc FILE)")


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        # A bad top-level value is checked once per target inheriting it: report it once.
        # Values are quoted in messages (keys too): never a secret they hold.
        line = redact(f"{key}: {message}")
        if line not in self.items:
            self.items.append(line)


def dotted(part: str) -> str:
    """One part of a dotted key as TOML spells it: `api`, but `"bad name"` or `"a.b"`."""
    return part if BARE_KEY_RE.fullmatch(part) else json.dumps(part, ensure_ascii=False)


def suggest(value: str, choices: Sequence[str]) -> str:
    """`; did you mean 'x'?` for a near miss, else empty."""
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def describe(value: object) -> str:
    """What a TOML value is, as an error message says it: `got an array`."""
    kinds = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
             list: "an array", dict: "a table"}
    return kinds.get(type(value), type(value).__name__)


def control_characters(value: object, key: str) -> list[str]:
    """Dotted keys of every string (table keys too) in `value` holding a control character."""
    return strings_where(value, key, lambda text: bool(CONTROL_RE.search(text)))


def credentials(value: object, key: str) -> list[str]:
    """Dotted keys of every string (table keys too) in `value` holding a URL with credentials."""
    return strings_where(value, key, has_credentials)


def strings_where(value: object, key: str, bad: Callable[[str], bool]) -> list[str]:
    """Dotted keys of every string (table keys too) in `value` for which `bad` holds.

    Iterative: TOML nests only as deep as its parser allows, but no recursion here either way.
    """
    found: list[str] = []
    # (value, its key, whether the key itself is bad); it grows while it is read: breadth
    # first, in file order.
    queue: list[tuple[object, str, bool]] = [(value, key, False)]
    for item, item_key, bad_key in queue:
        if bad_key or (isinstance(item, str) and bad(item)):
            found.append(item_key)
        elif isinstance(item, dict):
            queue.extend((sub, f"{item_key}.{dotted(str(name))}", bad(str(name)))
                         for name, sub in item.items())
        elif isinstance(item, list | tuple):
            queue.extend((sub, f"{item_key}[{index}]", False) for index, sub in enumerate(item))
    return found
