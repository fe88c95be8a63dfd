"""What a lock file says, whatever wrote it: packages, their versions, markers and artefacts.

uv.lock, pylock.toml (PEP 751) and hashed requirements files all parse into one `Lock`. A uv
lock is a graph (the project's requirements, then each package's, with markers on the edges);
the other two are flat lists of packages with a marker each. `select` walks the one and
filters the other, per target platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from buildkit_slim.errors import UsageError

# Hash algorithms pip's --hash accepts; a lock may record others (PEP 751 allows any).
PIP_HASHES = ("sha256", "sha384", "sha512")


@dataclass(frozen=True, kw_only=True)
class Artefact:
    """One file a package can be installed from: a wheel, an sdist, or an archive of either
    (a direct URL). Requirements files record hashes without the files: kind "hashes"."""

    kind: str  # "wheel" | "sdist" | "hashes"
    filename: str  # the wheel's or sdist's file name; "" for kind "hashes"
    url: str | None = None
    path: str | None = None  # relative to the lock file's directory
    hashes: tuple[tuple[str, str], ...] = ()  # (algorithm, lowercase hex), sorted
    size: int | None = None

    @property
    def sha256(self) -> str | None:
        return dict(self.hashes).get("sha256")

    @property
    def pip_hashes(self) -> tuple[str, ...]:
        """`sha256:<hex>` values pip's --hash takes (algorithms pip knows only)."""
        return tuple(f"{algo}:{value}" for algo, value in self.hashes if algo in PIP_HASHES)

    @property
    def wheel_tags(self) -> frozenset[str]:
        if self.kind != "wheel":
            return frozenset()
        _, _, _, tags = parse_wheel_filename(self.filename)
        return frozenset(str(tag) for tag in tags)

    @property
    def location(self) -> str:
        return self.url or self.path or self.filename


@dataclass(frozen=True, kw_only=True)
class Dependency:
    """An edge of a uv lock: the package it leads to and when it applies."""

    name: str
    version: str | None = None  # given when the lock holds several versions of `name`
    source: str | None = None
    marker: str | None = None
    extras: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LockedPackage:
    name: str  # canonical (PEP 503)
    version: str | None
    # "registry" | "url" | "path" (an artefact) | "directory" | "editable" | "virtual" |
    # "git" (source trees) | "requirements"
    source_kind: str
    source: str = ""  # the index URL, the URL, the path...
    marker: str | None = None  # pylock / requirements: when this package is installed
    requires_python: str | None = None
    artefacts: tuple[Artefact, ...] = ()
    # uv.lock's graph
    dependencies: tuple[Dependency, ...] = ()
    optional_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    resolution_markers: tuple[str, ...] = ()
    # uv.lock, source trees: `requires-dist` as PEP 508 text (the optional requirements with
    # `extra == "<name>"`) and `provides-extras`, as they were when the lock was made
    requires_dist: tuple[str, ...] | None = None
    provides_extras: tuple[str, ...] | None = None
    # requirements files written by pip-compile / uv pip compile: `# via` annotations
    via: tuple[str, ...] = ()
    where: str = ""  # how an error names the entry: "package[3]", "line 12"

    @property
    def is_source_tree(self) -> bool:
        return self.source_kind in ("directory", "editable", "virtual", "git")

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}" if self.version else self.name


@dataclass(frozen=True, kw_only=True)
class Lock:
    path: str  # as configured (project-relative), for messages
    format: str  # "uv.lock" | "pylock.toml" | "requirements"
    created_by: str | None = None  # pylock's created-by; the tool that wrote a requirements file
    requires_python: str | None = None
    environments: tuple[str, ...] = ()  # markers of the environments the lock claims to cover
    extras: tuple[str, ...] | None = None  # pylock: the extras it was locked with (None: unsaid)
    default_groups: tuple[str, ...] = ()
    packages: tuple[LockedPackage, ...] = ()
    options: tuple[str, ...] = ()  # requirements files: --index-url and the like, as written

    def named(self, name: str) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.name == name)


class LockError(UsageError):
    """Everything wrong with a lock, at once: each line names the lock and the package (and
    the platform where it matters)."""

    def __init__(self, problems: list[str] | tuple[str, ...], *, hint: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} lock {noun}:\n" + "\n".join(self.problems), hint=hint)


def filename_of(url_or_path: str) -> str:
    """The file name at the end of a URL or path (percent-decoded, fragment dropped)."""
    path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


# What pip unpacks as a source distribution (old sdists on PyPI are .tar.bz2 and .zip too).
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".tar")


def artefact_kind(filename: str) -> str | None:
    """"wheel" or "sdist" from a file name; None when it is neither (a bad name)."""
    if filename.endswith(".whl"):
        try:
            parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return None
        return "wheel"
    return "sdist" if filename.lower().endswith(SDIST_SUFFIXES) else None
