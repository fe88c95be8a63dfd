"""The local build cache (`cache.local`): which directories bslim may read and replace, and the
one sequence around a build that writes it: clear a stale `.new`, run, rotate `.new` in.

BuildKit's `type=local` cache only grows: each build writes `<dir>/<target>.new`, which then
replaces `<dir>/<target>`. bslim deletes no directory it did not write (a `.bslim-cache` mark,
or BuildKit's bare cache layout from versions before the mark).
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from buildkit_slim.blueprint import Blueprint
from buildkit_slim.cache import local_dirs
from buildkit_slim.config import CACHE_MARKER
from buildkit_slim.errors import UsageError


def _local_cache_dirs(chosen: Blueprint, project_root: Path) -> list[tuple[Path, Path]]:
    out = []
    for target in chosen.targets:
        dirs = local_dirs(target.config.cache, target=target.name,
                          all_platforms=target.config.platforms, platforms=target.platforms)
        if dirs is not None:
            current, new = (project_root / d for d in dirs)
            out.append((current, new))
    return out


_BUILDKIT_TOP = frozenset(("index.json", "ingest", "blobs", "oci-layout"))
_HEX = re.compile(r"[0-9a-f]{16,128}")
_INGEST_FILES = frozenset(("data", "ref", "startedat", "total", "updatedat", "expected"))


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _real_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _buildkit_layout(path: Path) -> bool:
    """Exactly what BuildKit's local cache exporter writes, and nothing else: index.json,
    oci-layout, blobs/<algorithm>/<hex digest>, ingest/<hex>/<its bookkeeping>. A directory
    that only looks so from its top level (blobs/photo.png) is not one."""
    for entry in path.iterdir():
        name = entry.name
        if name not in _BUILDKIT_TOP:
            return False
        if name in ("index.json", "oci-layout"):
            if not _real_file(entry):
                return False
        elif not _real_dir(entry):
            return False
        elif name == "blobs":
            for algorithm in entry.iterdir():
                if not (_real_dir(algorithm) and algorithm.name.isalnum()
                        and all(_real_file(b) and _HEX.fullmatch(b.name)
                                for b in algorithm.iterdir())):
                    return False
        else:  # ingest
            for item in entry.iterdir():
                if not (_real_dir(item) and _HEX.fullmatch(item.name)
                        and all(_real_file(f) and f.name in _INGEST_FILES
                                for f in item.iterdir())):
                    return False
    return True


def owned_cache(path: Path) -> bool:
    """Whether bslim may read this directory as its cache and delete it: one it marked
    (`.bslim-cache`, a regular file), or BuildKit's cache layout with nothing else in it
    (what bslim versions before the mark left). Never a symlink."""
    if not _real_dir(path):
        return False
    try:
        return _real_file(path / CACHE_MARKER) or _buildkit_layout(path)
    except OSError:
        return False


def readable_cache(path: Path, project_root: Path) -> bool:
    """A local cache to hand BuildKit as cache-from: False when there is none; a directory
    there that bslim did not write is refused (BuildKit would fail on it, or read a user's
    files as a cache)."""
    if not path.exists() and not path.is_symlink():
        return False
    readable = (path / "index.json").is_file()
    if not owned_cache(path) or (not readable and not _real_file(path / CACHE_MARKER)):
        raise _refuse(path, project_root)
    return readable


def _refuse(path: Path, project_root: Path) -> UsageError:
    shown = path.relative_to(project_root).as_posix() if path.is_relative_to(project_root) \
        else str(path)
    return UsageError(f"{shown} is not a build cache bslim wrote (no {CACHE_MARKER} file in it, "
                      "and not BuildKit's cache layout alone); bslim neither reads it as a "
                      "cache nor deletes it", hint="move it away, or point cache.local "
                      "elsewhere")


def clear_stale_local_caches(chosen: Blueprint, project_root: Path) -> None:
    """A `.new` directory left by a failed build would be written into, and grow: start empty.
    Deletes only what `owned_cache` says bslim wrote, whoever calls it."""
    for _, new in _local_cache_dirs(chosen, project_root):
        if new.is_symlink() or new.exists():
            if not owned_cache(new):
                raise _refuse(new, project_root)
            shutil.rmtree(new)


def rotate_local_caches(chosen: Blueprint, project_root: Path, *,
                        export_cache: bool = True) -> None:
    """type=local only grows: the build wrote a fresh directory; it replaces the old one.
    Marks and keeps only what BuildKit (or bslim) wrote; deletes only what `owned_cache` says
    bslim wrote, whoever calls it."""
    if not export_cache:
        return
    for current, new in _local_cache_dirs(chosen, project_root):
        if not new.is_dir() or new.is_symlink():
            continue
        for path in (new, current):
            if (path.is_symlink() or path.exists()) and not owned_cache(path):
                raise _refuse(path, project_root)
        if not (new / "index.json").is_file():
            continue  # an export that did not finish: the next build clears it
        (new / CACHE_MARKER).write_text("a build cache written by bslim; bslim replaces "
                                        "this directory after each build\n",
                                        encoding="utf-8")
        if current.is_symlink() or current.exists():
            shutil.rmtree(current)
        new.rename(current)


@contextlib.contextmanager
def local_cache_rotation(chosen: Blueprint, project_root: Path, *,
                         export_cache: bool = True) -> Iterator[None]:
    """Around a build that writes the local cache: a fresh `.new` before it, swapped in after
    it; a build that fails or is interrupted leaves no unfinished `.new` behind."""
    clear_stale_local_caches(chosen, project_root)
    try:
        yield
    except BaseException:
        with contextlib.suppress(UsageError, OSError):
            clear_stale_local_caches(chosen, project_root)
        raise
    rotate_local_caches(chosen, project_root, export_cache=export_cache)
