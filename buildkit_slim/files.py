"""Write generated files atomically: every file fully written to a temporary sibling first,
then all renamed into place. A failure leaves the old files, never half-written ones, and no
temporary file either (an interrupt included)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from buildkit_slim.errors import UsageError
from buildkit_slim.render import GeneratedFile


def _current(path: Path, shown: str) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None  # missing, or not what bslim writes: stale either way
    except IsADirectoryError:
        raise UsageError(f"{shown}: is a directory where bslim writes a file",
                         hint="remove or rename it") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read it: {exc.strerror or exc}") from None


def stale_files(root: Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Paths whose content on disk differs from what would be written."""
    return [f.path for f in files if _current(root / f.path, f.path) != f.text]


def _inside(root: Path, directory: Path, shown: str) -> None:
    """The last fence before writing: no symlinked directory leads out of the project."""
    try:
        resolved = directory.resolve()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"{shown}: cannot resolve its directory: {exc}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise UsageError(f"{shown}: its directory leads outside the project ({resolved}); "
                         "bslim writes only inside the project")


def _remove_leftovers(directory: Path, name: str) -> None:
    """Temporary files an interrupted run (SIGKILL, power loss) left behind."""
    with contextlib.suppress(OSError):
        for old in directory.glob(f".{name}.*.tmp"):
            old.unlink()


def write_atomically(root: Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Write what changed; returns the paths written."""
    changed = stale_files(root, files)
    temps: list[tuple[str, Path]] = []
    try:
        for f in files:
            if f.path not in changed:
                continue
            target = root / f.path
            _inside(root, target.parent, f.path)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"{f.path}: cannot create its directory: "
                                 f"{exc.strerror or exc}") from None
            _inside(root, target.parent, f.path)
            _remove_leftovers(target.parent, target.name)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp")
            # Recorded before anything else can fail or be interrupted: `finally` removes it.
            temps.append((f.path, Path(name)))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(f.text)
            Path(name).chmod(0o644)
        for path, temp in temps:
            temp.replace(root / path)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'the generated files'}: "
                         f"{exc.strerror or exc}") from None
    finally:
        for _, temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return changed
