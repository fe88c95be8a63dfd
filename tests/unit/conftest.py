"""Unit tests never reach docker: a tripwire fails any subprocess and any use of python_on_whales.

Every test gets it (autouse). A tripped wire raises where the call was made and is also recorded,
so a caller that swallows the exception (a broad `except`) still fails the test at teardown.
Tests of the tripwire itself take the `tripwire` fixture and call `tripwire.reset()`.
"""

from __future__ import annotations

import _posixsubprocess
import importlib.abc
import importlib.machinery
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import pytest

if TYPE_CHECKING:
    from buildkit_slim.tags import TagRules

WHALES = "python_on_whales"
_OS_CALLS = (
    "system", "popen", "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp",
    "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp",
    "spawnvpe", "posix_spawn", "posix_spawnp", "fork", "forkpty",
)


class TripwireError(AssertionError):
    """A unit test tried to run a process or talk to docker."""


class Tripwire:
    def __init__(self) -> None:
        self.trips: list[str] = []

    def trip(self, what: str) -> NoReturn:
        self.trips.append(what)
        raise TripwireError(
            f"unit tests must not run processes or talk to docker: {what} "
            "(real-engine tests belong in tests/e2e/)"
        )

    def reset(self) -> list[str]:
        """Forget the trips so far (for tests that trip the wire on purpose); returns them."""
        trips, self.trips = self.trips, []
        return trips


class _BlockWhales(importlib.abc.MetaPathFinder):
    def __init__(self, wire: Tripwire) -> None:
        self.wire = wire

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == WHALES or fullname.startswith(f"{WHALES}."):
            self.wire.trip(f"import {fullname}")
        return None


def _blocked(wire: Tripwire, name: str) -> Callable[..., NoReturn]:
    def call(*args: Any, **kwargs: Any) -> NoReturn:
        wire.trip(f"{name}{args!r}")

    return call


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tripwire]:
    wire = Tripwire()
    # Popen underlies run, call, check_output and asyncio's subprocesses.
    monkeypatch.setattr(subprocess, "Popen", _blocked(wire, "subprocess.Popen"))
    monkeypatch.setattr(subprocess, "run", _blocked(wire, "subprocess.run"))
    for name in _OS_CALLS:
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _blocked(wire, f"os.{name}"))
    # Below Popen: what multiprocessing's spawn and anything else calling it directly use.
    monkeypatch.setattr(_posixsubprocess, "fork_exec",
                        _blocked(wire, "_posixsubprocess.fork_exec"))
    # Imported earlier in this process (another test directory)? Hide it, so that an import
    # goes through the finder below instead of quietly reusing the module.
    for name in [m for m in sys.modules if m == WHALES or m.startswith(f"{WHALES}.")]:
        monkeypatch.delitem(sys.modules, name)
    finder = _BlockWhales(wire)
    sys.meta_path.insert(0, finder)
    try:
        yield wire
    finally:
        sys.meta_path.remove(finder)
    if wire.trips:
        pytest.fail(f"tripwire: a unit test reached for a process or docker: {wire.trips}",
                    pytrace=False)


class WriteProject(Protocol):
    def __call__(self, pyproject: str, files: dict[str, str] | None = None) -> Path: ...


@pytest.fixture
def write_project(tmp_path: Path) -> WriteProject:
    """Write a dedented pyproject.toml (and any other files) into tmp_path; returns the root."""

    def write(pyproject: str, files: dict[str, str] | None = None) -> Path:
        (tmp_path / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
        for name, text in (files or {}).items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path

    return write


def tag_rules_of(table: object) -> TagRules:
    """`[tool.slim.tags] = table` through the real parser (no files): the rules, or ConfigError."""
    from buildkit_slim.config import ProjectSource, parse

    pyproject = {"project": {"name": "spark", "version": "1.4.2",
                             "scripts": {"spark": "spark.cli:main"}},
                 "tool": {"slim": {"image": "ghcr.io/acme/spark", "tags": table}}}
    source = ProjectSource(root=Path("/nonexistent"), pyproject=pyproject, main_packages=(),
                           existing=frozenset())
    return parse(source).tags
