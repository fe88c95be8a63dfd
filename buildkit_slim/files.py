"""bslim's one way to write files: `write_file` replaces one file atomically (generated files,
`init`'s pyproject.toml, staging records); `write_generated` replaces the output directory's
whole file set at once.

A new generation is written in full into a hidden sibling of the output directory, then the two
are swapped with one rename (renameat2 RENAME_EXCHANGE; two renames with signals held back
where the file system cannot exchange): a reader, `render --check` included, sees the old
generation or the new one, never a mix, whenever bslim is stopped. Writers of one output
directory take turns (flock on its parent directory: no lock file to leave behind). What is
in the output directory and not bslim's is carried into the new generation (hard links), so
nothing of the user's goes; a failed write leaves the old files and nothing beside them — no
temporary file, no empty directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from buildkit_slim import interrupts
from buildkit_slim.errors import UsageError
from buildkit_slim.render import GeneratedFile

GENERATED_MODE = 0o644
_NEW, _OLD = "bslim-new", "bslim-old"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` at once: written and flushed to a temporary sibling, then
    renamed over it. mode: the file's mode; None keeps an existing file's, else the usual
    0666 less the umask. Nothing is left behind on failure or interrupt."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(mode)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _current(path: Path, shown: str) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None  # missing: stale
    except IsADirectoryError:
        raise UsageError(f"{shown}: is a directory where bslim writes a file",
                         hint="remove or rename it") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot read it: {exc.strerror or exc}") from None


def stale_files(root: Path, files: Sequence[GeneratedFile]) -> list[str]:
    """Paths whose bytes on disk differ from what would be written (line ends included)."""
    return [f.path for f in files if _current(root / f.path, f.path) != f.text.encode()]


def _inside(root: Path, directory: Path, shown: str) -> Path:
    """The last fence before writing: no symlinked directory leads out of the project."""
    try:
        resolved = directory.resolve()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"{shown}: cannot resolve its directory: {exc}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise UsageError(f"{shown}: its directory leads outside the project ({resolved}); "
                         "bslim writes only inside the project")
    return resolved


@contextlib.contextmanager
def _locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Writers of one output directory take turns; `render --check` reads between them."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        yield  # nothing there to read or to race for
        return
    try:
        with contextlib.suppress(OSError):  # a file system without locks: still atomic
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _relative(output_dir: str, files: Sequence[GeneratedFile]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for f in files:
        if not f.path.startswith(output_dir + "/"):
            raise ValueError(f"{f.path} is not in {output_dir}")
        out[f.path[len(output_dir) + 1:]] = f.text.encode()
    return out


def _make_parents(directory: Path) -> list[Path]:
    """mkdir -p, returning what it created (to remove again if the write fails)."""
    missing = []
    for candidate in (directory, *directory.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        candidate.mkdir(exist_ok=True)
    return missing


def _rmdir_empty(directories: Sequence[Path]) -> None:
    for directory in directories:  # deepest first
        with contextlib.suppress(OSError):
            directory.rmdir()


def read_generated(root: Path, output_dir: str,
                   files: Sequence[GeneratedFile]) -> list[str]:
    """stale_files between writers (a shared lock): what `render --check` reports."""
    parent = (root / output_dir).parent
    try:
        real_parent = parent.resolve()
    except (OSError, RuntimeError):
        return stale_files(root, files)
    with _locked(real_parent, exclusive=False):
        return stale_files(root, files)


def write_generated(root: Path, output_dir: str, files: Sequence[GeneratedFile]) -> list[str]:
    """Make the output directory hold exactly this generation of bslim's files (and whatever
    else was there); returns the paths that changed."""
    wanted = _relative(output_dir, files)
    out = root / output_dir
    _inside(root, out.parent, output_dir)
    try:
        created = _make_parents(out.parent)
    except OSError as exc:
        raise UsageError(f"{output_dir}: cannot create its directory: "
                         f"{exc.strerror or exc}") from None
    try:
        real = _inside(root, out, output_dir) if out.is_symlink() else \
            _inside(root, out.parent, output_dir) / out.name
        with _locked(real.parent, exclusive=True):
            _recover(real)
            changed = stale_files(root, files)
            if changed:
                _swap_in(real, wanted, output_dir)
        return changed
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or output_dir}: "
                         f"{exc.strerror or exc}") from None
    finally:
        if not out.exists():
            _rmdir_empty(created)


# --- the swap --------------------------------------------------------------------------------

def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _stage_name(real: Path, kind: str) -> Path:
    return real.with_name(f".{real.name}.{kind}-{secrets.token_hex(4)}")


def _swap_in(real: Path, wanted: Mapping[str, bytes], shown: str) -> None:
    if (real.exists() or real.is_symlink()) and not real.is_dir():
        raise UsageError(f"{shown}: is a file where bslim writes a directory")
    stage = _stage_name(real, _NEW)
    stage.mkdir(mode=0o700)
    try:
        for rel, data in sorted(wanted.items()):
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            write_file(stage / rel, data, mode=GENERATED_MODE)
        carried = _carry_over(real, stage, wanted) if real.is_dir() else {}
        stage.chmod(stat.S_IMODE(real.stat().st_mode) if real.is_dir() else 0o777 & ~_umask())
    except BaseException:
        _remove_ours(stage, wanted, real)
        raise
    # From here to the end the swap and the removal of the old generation happen together: a
    # signal waits until they are done.
    with interrupts.deferred():
        if not real.is_dir():
            try:
                stage.rename(real)
            except BaseException:
                _remove_ours(stage, wanted, real)
                raise
            return
        try:
            if _exchange(stage, real):
                old = stage
            else:  # two renames, nothing in between
                old = _stage_name(real, _OLD)
                real.rename(old)
                try:
                    stage.rename(real)
                except BaseException:
                    old.rename(real)
                    raise
        except BaseException:
            _remove_ours(stage, wanted, real)
            raise
        _retire(old, real, wanted, carried)


def _walk(directory: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """(relative path, path) of everything below `directory`, files before their dirs."""
    for entry in sorted(directory.iterdir()):
        rel = prefix + entry.name
        if entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry, rel + "/")
        yield rel, entry


def _dirs_of(wanted: Mapping[str, bytes]) -> set[str]:
    return {"/".join(rel.split("/")[:i]) for rel in wanted for i in range(1, rel.count("/") + 1)}


def _carry_over(real: Path, stage: Path, wanted: Mapping[str, bytes]) -> dict[str, int]:
    """Hard-link into the new generation what is not bslim's: returns rel -> inode."""
    dirs = _dirs_of(wanted)
    carried: dict[str, int] = {}
    for rel, path in _walk(real):
        if rel in wanted or rel in dirs or (_is_generated_name(rel) and rel.endswith(".tmp")):
            if rel in dirs and not (path.is_dir() and not path.is_symlink()):
                raise UsageError(f"{real.name}/{rel}: is a file where bslim writes a directory")
            continue
        target = stage / rel
        if path.is_dir() and not path.is_symlink():
            target.mkdir(exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target, follow_symlinks=False)
        except OSError:  # no hard links here: a copy keeps it as well
            shutil.copy2(path, target, follow_symlinks=False)
        carried[rel] = path.lstat().st_ino
    # Directories are walked after their contents: recreate the empty ones too.
    return carried


def _retire(old: Path, real: Path, wanted: Mapping[str, bytes], carried: Mapping[str, int]
            ) -> None:
    """Remove the previous generation: bslim's files, and the links of what was carried
    over. Anything else (put there while the new generation was being written) goes back."""
    dirs = _dirs_of(wanted)
    for rel, path in _walk(old):
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.rmdir()
            continue
        ours = (rel in wanted or _is_generated_name(rel)) and rel not in carried
        if ours or (rel in carried and path.lstat().st_ino == carried[rel]):
            path.unlink()
        elif rel not in dirs:
            with contextlib.suppress(OSError):
                (real / rel).parent.mkdir(parents=True, exist_ok=True)
                path.replace(real / rel)
    with contextlib.suppress(OSError):
        old.rmdir()


def _remove_ours(stage: Path, wanted: Mapping[str, bytes], real: Path) -> None:
    """A stage directory of this process or of one that was killed: bslim's files, temporary
    files and links to what the output directory holds; nothing else."""
    if not stage.is_dir() or stage.is_symlink():
        return
    for rel, path in _walk(stage):
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.rmdir()
            continue
        twin = real / rel
        linked = twin.exists() and not twin.is_dir() and os.path.samestat(
            path.lstat(), twin.lstat())
        temp = path.name.startswith(".") and path.name.endswith(".tmp")
        if rel in wanted or linked or temp or _is_generated_name(rel):
            with contextlib.suppress(OSError):
                path.unlink()
    with contextlib.suppress(OSError):
        stage.rmdir()


def _is_generated_name(rel: str) -> bool:
    """A name bslim writes in the output directory (the shim's context: each module, what it
    pins, each target's lists), or a temporary file of one (left by a write that was killed,
    also by bslim versions that wrote in place)."""
    from buildkit_slim.config.read import GENERATED_NAMES, SHIM_DIR, SHIM_NAMES

    folder, _, name = rel.rpartition("/")
    if name.startswith(".") and name.endswith(".tmp"):  # .<name>.<token>.tmp
        name = name[1:].rsplit(".", 2)[0]
    if not folder:
        return name in GENERATED_NAMES
    return folder == SHIM_DIR and SHIM_NAMES.fullmatch(name) is not None


def _recover(real: Path) -> None:
    """What a killed writer left beside the output directory: a previous generation moved
    aside by the two-rename swap goes back when the directory is missing; stage directories
    are removed (bslim's files only)."""
    prefix = f".{real.name}."
    leftovers = sorted(p for p in real.parent.iterdir()
                       if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()
                       and p.name[len(prefix):].split("-", 2)[:2] in (["bslim", "new"],
                                                                       ["bslim", "old"]))
    for path in leftovers:
        if path.name.startswith(prefix + _OLD) and not real.exists() and not real.is_symlink():
            path.rename(real)
    for path in leftovers:
        if path.exists():
            _remove_ours(path, {}, real)
