"""Locks as input: uv.lock, pylock.toml (PEP 751) and requirements files with hashes.

    lock = locks.load(root, configured)          # I/O: find and read it (None: no lock)
    per_platform = locks.check_lock(lock, envs, project=..., dependencies=..., ...)
    per_platform["linux/arm/v7"].requirements_text()   # pip --require-hashes --no-deps

Everything but `load`/`find` is pure. bslim reads locks and never writes one.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from buildkit_slim._compat import tomllib
from buildkit_slim.locks.check import check_lock, refresh_hint
from buildkit_slim.locks.environment import TargetEnvironment
from buildkit_slim.locks.model import Artefact, Lock, LockedPackage, LockError
from buildkit_slim.locks.pylock import parse_pylock
from buildkit_slim.locks.reader import Reader
from buildkit_slim.locks.requirements import parse_requirements
from buildkit_slim.locks.selection import PlatformLock, Selected, select
from buildkit_slim.locks.uvlock import parse_uv_lock

__all__ = [
    "DEFAULT_NAMES",
    "Artefact",
    "Lock",
    "LockError",
    "LockedPackage",
    "PlatformLock",
    "Selected",
    "TargetEnvironment",
    "check_lock",
    "find",
    "format_of",
    "load",
    "parse",
    "refresh_hint",
    "select",
]

# Found beside pyproject.toml without configuration, in this order of the message only: when
# both are there, bslim refuses to guess (one of them is usually exported from the other, and
# may be stale) and asks for `tool.slim.lock`.
DEFAULT_NAMES = ("uv.lock", "pylock.toml")
_PYLOCK_RE = re.compile(r"pylock\.([^.]+\.)?toml")


def format_of(path: str) -> str:
    """"uv.lock", "pylock.toml" (also `pylock.<name>.toml`, PEP 751's names) or
    "requirements" (any other name: a requirements file with hashes)."""
    name = PurePosixPath(path).name
    if name == "uv.lock":
        return "uv.lock"
    if _PYLOCK_RE.fullmatch(name):
        return "pylock.toml"
    return "requirements"


def find(root: Path, configured: str | bool | None) -> str | None:
    """The project-relative lock to read: the configured one, else uv.lock or pylock.toml
    beside pyproject.toml; None: no lock (`lock = false`, or none there)."""
    if configured is False:
        return None
    if isinstance(configured, str):
        return configured
    present = [name for name in DEFAULT_NAMES if (root / name).is_file()]
    if len(present) > 1:
        raise LockError(
            [f"tool.slim.lock: both {' and '.join(present)} are beside pyproject.toml; bslim "
             "does not guess which one the image is built from"],
            hint='set it, e.g. `lock = "uv.lock"` in [tool.slim] (or `lock = false`)')
    return present[0] if present else None


def parse(text: str, path: str) -> Lock:
    """A lock's text (pure); LockError naming every problem of the file at once."""
    reader = Reader(path)
    kind = format_of(path)
    if kind == "requirements":
        lock = parse_requirements(text, path, reader)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LockError([f"{path}: not valid TOML: {exc}"]) from None
        lock = parse_uv_lock(data, path, reader) if kind == "uv.lock" else \
            parse_pylock(data, path, reader)
    if reader.problems:
        raise LockError(reader.problems, hint=refresh_hint(lock))
    return lock


def load(root: Path, configured: str | bool | None) -> Lock | None:
    """Find and read the project's lock (the only I/O here)."""
    path = find(root, configured)
    if path is None:
        return None
    try:
        raw = (root / path).read_bytes()
    except FileNotFoundError:
        raise LockError([f"tool.slim.lock: {path} does not exist in the project"]) from None
    except OSError as exc:
        raise LockError([f"tool.slim.lock: {path}: cannot read it: "
                         f"{exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig" if format_of(path) == "requirements" else "utf-8")
    except UnicodeDecodeError as exc:
        raise LockError([f"{path}: not valid UTF-8 (byte {exc.start})"]) from None
    return parse(text, path)
