"""Typed access to a parsed lock file that collects what is wrong instead of stopping at it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        line = f"{self.path}: {message}"
        if line not in self.problems:
            self.problems.append(line)

    @staticmethod
    def _key(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def string(self, raw: Mapping[str, Any], key: str, where: str, *,
               optional: bool = False) -> str | None:
        value = raw.get(key)
        if value is None:
            if not optional:
                self.problem(f"{self._key(where, key)}: missing")
            return None
        if not isinstance(value, str):
            self.problem(f"{self._key(where, key)}: must be a string, got {type(value).__name__}")
            return None
        return value

    def strings(self, raw: Mapping[str, Any], key: str, where: str) -> list[str]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{self._key(where, key)}: must be an array of strings")
            return []
        return list(value)

    def tables(self, raw: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(f"{self._key(where, key)}: must be an array of tables")
            return []
        return list(value)

    def table(self, raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(f"{self._key(where, key)}: must be a table")
            return None
        return value
