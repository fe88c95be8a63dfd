"""Write generated files atomically: every file fully written to a temporary sibling first,
then all renamed into place. A failure leaves the old files, never half-written ones."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from buildkit_slim.render import GeneratedFile


def stale_files(root: Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Paths whose content on disk differs from what would be written."""
    stale = []
    for f in files:
        try:
            current = (root / f.path).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            current = None
        if current != f.text:
            stale.append(f.path)
    return stale


def write_atomically(root: Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Write what changed; returns the paths written."""
    changed = stale_files(root, files)
    temps: list[tuple[str, Path]] = []
    try:
        for f in files:
            if f.path not in changed:
                continue
            target = root / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(f.text)
            Path(name).chmod(0o644)
            temps.append((f.path, Path(name)))
        for path, temp in temps:
            temp.replace(root / path)
    finally:
        for _, temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return changed
