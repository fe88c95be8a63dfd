"""Locked builds, the install step and reproducible wheels, for bslim's shim
(pip_for_target.py) in the build.

Shipped beside the shim in the named context `bslim-shim`; the standard library only (it runs
on whatever Python the builder and runtime images have), but for `locked_entries` and
`write_pinned`, which read names and versions with the `packaging` vendored in the shim's
pinned pip, as pip itself does (a pip-internal use the shim's docstring lists).

A platform's locked requirements (`<target>.<arg_pair>.lock.txt`, written by bslim from the
project's lock) hold one line per package: `name==version --hash=sha256:<hex>  # how: file`,
with the hash of the one file the platform installs (a wheel, or the sdist it compiles), so
that pip cannot silently take another file of the package when a hash is wrong.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# 1980-01-01T00:00:00Z, the earliest time a zip archive can record: what wheels built for a
# reproducible build say, whatever the commit (so their bytes, and caches, outlive commits).
ZIP_EPOCH = 315532800
_HASH_RE = re.compile(r"--hash=([a-z0-9]+:[0-9a-f]+)")


@dataclass(frozen=True)
class Locked:
    """One line of a platform's locked requirements."""

    name: str  # canonical
    version: str | None  # None: a direct URL (its wheel's version then)
    hashes: tuple[str, ...]  # "sha256:<hex>", as pip's --hash takes them
    line: str  # the requirement and its hashes, the comment dropped


def read_locked(path: Path, canonical: Callable[[str], str]) -> dict[str, Locked]:
    """The packages of a locked requirements file, by canonical name."""
    out: dict[str, Locked] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        head = line.split(" --hash=", 1)[0].strip()
        if " @ " in head:
            name, version = head.split(" @ ", 1)[0], None
        else:
            name, _, version = head.partition("==")
        out[canonical(name.strip())] = Locked(name=canonical(name.strip()), version=version,
                                              hashes=tuple(_HASH_RE.findall(line)), line=line)
    return out


def locked_entries(path: Path | None) -> dict[str, Locked]:
    """`read_locked`, names canonical as pip's packaging spells them; none without a lock."""
    from pip._vendor.packaging.utils import canonicalize_name

    return read_locked(path, lambda n: str(canonicalize_name(n))) if path else {}


def sdist_requirement(requirement: str, entry: Locked | None, sdists: Path) -> list[str]:
    """What `pip download` fetches a listed sdist into `sdists` by: the requirement, or the
    lock's line, by its hash (written to sdists.lock.txt, where the compile reads it too)."""
    if entry is None:
        return [requirement]
    pinned = sdists.with_suffix(".lock.txt")
    pinned.parent.mkdir(parents=True, exist_ok=True)
    pinned.write_text(f"{entry.line}\n")
    return ["--require-hashes", "--requirement", str(pinned)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pin(wheels: Path, locked: dict[str, Locked], project: str | None,
        parse_wheel: Callable[[str], tuple[str, str]], same: Callable[[str, str], bool]
        ) -> tuple[str, list[str]]:
    """What the install step installs, pinned: each locked package's wheel in `wheels` by its
    sha256 (the lock's, for a downloaded file; for a wheel compiled in this build from the
    locked sdist, which was checked against the lock before it was built, its own), and the
    project's wheel, built from the context, by its own. (text, problems)."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        wheel_name, wheel_version = parse_wheel(wheel.name)
        found.setdefault(wheel_name, []).append((wheel_version, wheel))
    lines, problems = [], []
    wanted: list[tuple[str, str | None, Locked | None]] = [
        (entry.name, entry.version, entry) for entry in locked.values()]
    if project is not None:
        wanted.append((project, None, None))
    for name, version, entry in wanted:
        candidates = [(v, w) for v, w in found.get(name, [])
                      if version is None or same(v, version)]
        if len(candidates) != 1:
            what = f"{name} {version}" if version else name
            problems.append(f"bslim: {what}: {len(candidates) or 'no'} wheels of it in "
                            f"{wheels}, one expected")
            continue
        wheel_version, wheel = candidates[0]
        digest = f"sha256:{sha256_of(wheel)}"
        how = "downloaded" if entry is not None and digest in entry.hashes else \
            "the project" if entry is None else "built here from the locked sdist"
        lines.append(f"{name}=={wheel_version} --hash={digest}  # {how}: {wheel.name}\n")
    return "".join(lines), problems


def pinned_install(wheels: Path, entries: dict[str, Locked], project: str | None,
                   target: str) -> list[str] | None:
    """pip's arguments for a locked install (exactly the locked packages' wheels and the
    project's, each by its sha256, nothing resolved); None when a wheel is missing
    (write_pinned has said which)."""
    import tempfile

    requirements = Path(tempfile.mkdtemp(prefix="bslim-")) / "pinned.txt"
    if write_pinned(wheels, entries, project, requirements):
        return None
    print(f"bslim: installing for {target}, pinned:\n{requirements.read_text()}", end="",
          file=sys.stderr)
    return ["--no-deps", "--require-hashes", "--requirement", str(requirements)]

def write_pinned(wheels: Path, locked: dict[str, Locked], project: str | None,
                 out: Path) -> int:
    """`pin`, names and versions compared as pip's packaging does, written to `out`; each
    problem on stderr. 1 when there is one (what a wheel stage or install then exits with)."""
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
    from pip._vendor.packaging.version import Version

    def parse_wheel(filename: str) -> tuple[str, str]:
        name, version, _, _ = parse_wheel_filename(filename)
        return str(name), str(version)

    text, problems = pin(wheels, locked, project and str(canonicalize_name(project)),
                         parse_wheel, lambda a, b: Version(a) == Version(b))
    for problem in problems:
        print(problem, file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return int(bool(problems))


def capture(roots: list[Path], out: Path, removed: Path, action: Callable[[], int]) -> int:
    """Run `action`; copy what it created or changed under `roots` into `out` (same paths,
    modes and times; parents with the modes they have here), list what it deleted."""
    def tree() -> dict[str, tuple[int, int, int, int]]:  # symlinks not followed
        return {f"{parent}/{name}": (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
                for root in roots for parent, dirs, files in os.walk(root)
                for name in dirs + files if (st := (Path(parent) / name).lstat())}

    before = tree()
    if (status := action()) != 0:
        return status
    after = tree()
    out.mkdir(parents=True, exist_ok=True)
    for path, info in sorted(after.items()):
        if before.get(path) == info or (stat.S_ISDIR(info[0]) and path in before):
            continue
        for parent in reversed(Path(path).parents):
            if not (mirror := out / str(parent).lstrip("/")).exists():
                mirror.mkdir()
                shutil.copystat(parent, mirror)
        copy = out / path.lstrip("/")
        if stat.S_ISLNK(info[0]):
            copy.symlink_to(Path(path).readlink())
        elif stat.S_ISDIR(info[0]):
            copy.mkdir(exist_ok=True)
            shutil.copystat(path, copy)
        else:
            shutil.copy2(path, copy)
    removed.write_text("".join(f"{p}\n" for p in sorted(set(before) - set(after))))
    return 0


def normalize_wheel(wheel: Path) -> None:
    """Rewrite a wheel built in this build so that its bytes depend on its content only:
    members in a fixed order (the .dist-info last, RECORD at the very end), each dated
    1980-01-01, mode 644 (755 when executable), deflated at one level. What the wheel
    installs, and its RECORD, stay the same."""
    with zipfile.ZipFile(wheel) as source:
        members = [(info, source.read(info)) for info in source.infolist() if
                   not info.is_dir()]

    def order(item: tuple[zipfile.ZipInfo, bytes]) -> tuple[bool, bool, str]:
        name = item[0].filename
        top = name.split("/", 1)[0]
        return (top.endswith(".dist-info"), name.endswith(".dist-info/RECORD"), name)

    temp = wheel.with_name(f".{wheel.name}.tmp")
    with zipfile.ZipFile(temp, "w") as out:
        for info, data in sorted(members, key=order):
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            executable = (info.external_attr >> 16) & 0o111
            fixed.external_attr = (0o100755 if executable else 0o100644) << 16
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3  # unix, whatever this machine is
            out.writestr(fixed, data, compresslevel=6)
    temp.replace(wheel)


def reproducible_env(src: Path) -> dict[str, str]:
    """The environment of a build of `src` in a reproducible build: the C/C++ compilers map
    the source directory to `.` in debug information and __FILE__ (-ffile-prefix-map), and
    SOURCE_DATE_EPOCH, when unset, is ZIP_EPOCH (__DATE__, wheel archives)."""
    flag = f"-ffile-prefix-map={src.resolve()}=."
    env = {name: f"{os.environ.get(name, '')} {flag}".strip() for name in ("CFLAGS", "CXXFLAGS")}
    env["SOURCE_DATE_EPOCH"] = os.environ.get("SOURCE_DATE_EPOCH") or str(ZIP_EPOCH)
    return env
