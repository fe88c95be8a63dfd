"""Read `pyproject.toml` and look up what its `[tool.slim]` names on disk: the only I/O of
configuration. Which keys name paths comes from their declarations (`path=True`)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from buildkit_slim._compat import tomllib
from buildkit_slim.config.checks import safe_path
from buildkit_slim.config.model import KEY_TABLE, KeyTable, is_cache_dir
from buildkit_slim.config.project import ProjectSource
from buildkit_slim.errors import UsageError
from buildkit_slim.keys import Key, keys_of
from buildkit_slim.resources import PINS_FILE, SHIM_MODULES

# What bslim writes into the output directory; anything else there is the user's, and the
# directory goes into .dockerignore.
GENERATED_NAMES = ("Dockerfile", "Dockerfile.dockerignore", "docker-bake.json")
# Written by `bslim lock-bases`, read by render: bslim's too, though render does not write it.
BASES_LOCK = "bases.lock.json"
# What `lock` defaults to when it sits beside pyproject.toml (buildkit_slim.locks reads them).
LOCK_NAMES = ("uv.lock", "pylock.toml")
# fast-wheels' helper: <output-dir>/shim/pip_for_target.py (the build's named context), with
# the modules it imports, what it pins and each target's lists (render/dockerfile.py's shim_files).
SHIM_DIR = "shim"
SHIM_NAMES = re.compile("|".join(re.escape(n) for n in (*SHIM_MODULES, PINS_FILE))
                        + r"|[A-Za-z0-9_-]+\.(requirements|build-requires)\.txt"
                        r"|[A-Za-z0-9_-]+\.[a-z0-9]+-[a-z0-9]+\.lock\.txt")


def read_project(root: Path, table: KeyTable = KEY_TABLE) -> ProjectSource:
    """Load pyproject.toml and look around the project for what defaults need."""
    data = _read_pyproject(root / "pyproject.toml")
    mains: list[str] = []
    for base in (root, root / "src"):
        if base.is_dir():
            mains.extend(
                sorted(p.parent.name for p in base.glob("*/__main__.py") if p.parent.is_dir())
            )
    existing: set[str] = set()
    outside: set[str] = set()
    not_dirs: set[str] = set()
    not_files: set[str] = set()
    not_caches: set[str] = set()
    foreign: list[str] = []
    resolved_root = root.resolve()
    # Only the paths the config may name are looked up: no walk of the project tree.
    tool = data.get("tool")
    slim = tool.get("slim") if isinstance(tool, dict) else None
    slim = slim if isinstance(slim, dict) else {}
    targets = slim.get("targets")
    tables = [t for t in targets.values() if isinstance(t, dict)] \
        if isinstance(targets, dict) else []

    def look(item: object) -> str | None:
        if not isinstance(item, str) or not safe_path(item):
            return None
        posix = PurePosixPath(item).as_posix()
        kind = _kind(root, resolved_root, posix)
        if kind == "outside":
            outside.add(posix)
        elif kind != "missing":
            existing.add(posix)
            if kind != "dir":
                not_dirs.add(posix)
            if kind != "file":
                not_files.add(posix)
        return kind

    paths = [*_paths(table.keys, slim, top=True),
             *(p for t in tables for p in _paths(table.per_target, t, top=False))]
    for name, value in paths:
        kind = look(value)
        # cache.local's <target> directories are replaced after each build, the output
        # directory is left out of the build context: what else is there must be known.
        if name == "cache.local" and kind == "dir":
            assert isinstance(value, str)
            for sub in _subdirs(root / value):
                if not is_cache_dir(_names(sub)):
                    not_caches.add(f"{PurePosixPath(value).as_posix()}/{sub.name}")
        elif name == "output-dir" and kind == "dir":
            assert isinstance(value, str)
            foreign = [n for n in _names(root / value) if not _generated(root / value, n)]
    return ProjectSource(
        root=root, pyproject=data, main_packages=tuple(mains), existing=frozenset(existing),
        outside=frozenset(outside), not_dirs=frozenset(not_dirs),
        not_files=frozenset(not_files), foreign_output=tuple(foreign),
        not_caches=frozenset(not_caches),
        found_locks=tuple(name for name in LOCK_NAMES if (root / name).is_file()),
    )


def _paths(keys: tuple[Key, ...], table: Mapping[str, Any], *, top: bool,
           prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted name, value) of each path a table names, sub-tables included. At the top level
    a default counts too (the output directory): targets inherit what they do not set."""
    for decl in keys:
        value = table.get(decl.name, decl.default if top and decl.table is None else None)
        if decl.table is not None and isinstance(value, dict):
            yield from _paths(keys_of(decl.table), value, top=False,
                              prefix=f"{prefix}{decl.name}.")
        elif decl.path:
            for item in value if isinstance(value, list) else [value]:
                yield f"{prefix}{decl.name}", item


def _read_pyproject(path: Path) -> dict[str, Any]:
    """The parsed file; every way it can be unreadable is a UsageError naming it."""
    try:  # O_NONBLOCK, then fstat: a FIFO or device is refused, not waited on
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:  # noqa: PTH123
            if not stat.S_ISREG(mode := os.fstat(handle.fileno()).st_mode):
                kind = " (a directory)" if stat.S_ISDIR(mode) else ""
                raise UsageError(f"{path}: not a regular file{kind}")
            raw = handle.read()
    except FileNotFoundError:
        raise UsageError(
            f"--project: no pyproject.toml in {path.parent}",
            hint="pass --project DIR pointing at a Python project",
        ) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise UsageError(f"{path}: starts with a UTF-8 byte order mark, which TOML does not "
                         "allow", hint="save the file as UTF-8 without a BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 (byte {exc.start}); TOML files are "
                         "UTF-8") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: arrays or tables nested too deeply to read") from None
    return data


def _kind(root: Path, resolved_root: Path, item: str) -> str:
    """"missing", "file" (a regular one), "dir", "special" (a FIFO, socket or device) or
    "outside" (a symlink leaving the project) for a path."""
    candidate = root / item
    try:
        if not candidate.exists() and not candidate.is_symlink():
            return "missing"
        resolved = candidate.resolve()
        if not resolved.is_relative_to(resolved_root):
            return "outside"
        return "dir" if candidate.is_dir() else "file" if candidate.is_file() else "special"
    except (OSError, RuntimeError):  # ENAMETOOLONG, ELOOP, EACCES: not usable either way
        return "missing"


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _names(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir())
    except OSError:
        return []


def _generated(directory: Path, name: str) -> bool:
    """Whether bslim writes `name` in the output directory (or left it from an interrupted
    write): the generated files, and the shim's directory holding nothing else."""
    if name == SHIM_DIR and (directory / name).is_dir() and not (directory / name).is_symlink():
        return all(SHIM_NAMES.fullmatch(n) or (n.startswith(".") and n.endswith(".tmp") and
                                                SHIM_NAMES.fullmatch(n[1:].rsplit(".", 2)[0]))
                   for n in _names(directory / name))
    return name in (*GENERATED_NAMES, BASES_LOCK) or _is_leftover_temp(
        name, (*GENERATED_NAMES, BASES_LOCK))


def _is_leftover_temp(name: str, generated: tuple[str, ...] = GENERATED_NAMES) -> bool:
    """A temporary file of an interrupted write (files.write_atomically's names)."""
    return name.startswith(".") and name.endswith(".tmp") and any(
        name.startswith(f".{file}.") for file in generated)
