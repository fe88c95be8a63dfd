"""pylock.toml (PEP 751, lock-version 1.x): a flat list of packages, each with a marker.

An installer takes every package whose marker holds in its environment (with PEP 751's
`extras` and `dependency_groups` marker variables), refuses when two versions of one name
would be taken, and installs each from a wheel that fits the environment, else its sdist.
`environments` and `requires-python`, when present, say what the lock covers at all. pip's
`pip lock` writes a single-environment lock (no markers, only the wheels of the machine it
ran on); uv's `uv export --format pylock.toml` a universal one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name

from buildkit_slim.locks.model import Artefact, Lock, LockedPackage, artefact_kind, filename_of
from buildkit_slim.locks.reader import Reader

SOURCES = ("vcs", "directory", "archive")


def parse_pylock(data: Mapping[str, Any], path: str, reader: Reader) -> Lock:
    version = reader.string(data, "lock-version", "")
    if version is None:
        return Lock(path=path, format="pylock.toml")
    if version.split(".", 1)[0] != "1":
        reader.problem(f"lock-version = {version!r}: bslim reads PEP 751 lock-version 1.x")
        return Lock(path=path, format="pylock.toml")
    extras = data.get("extras")
    packages = []
    for index, raw in enumerate(reader.tables(data, "packages", "")):
        package = _package(raw, f"packages[{index}]", reader)
        if package is not None:
            packages.append(package)
    return Lock(
        path=path,
        format="pylock.toml",
        created_by=reader.string(data, "created-by", ""),
        requires_python=reader.string(data, "requires-python", "", optional=True),
        environments=tuple(reader.strings(data, "environments", "")),
        extras=None if extras is None else tuple(
            str(canonicalize_name(e)) for e in reader.strings(data, "extras", "")),
        default_groups=tuple(reader.strings(data, "default-groups", "")),
        packages=tuple(packages),
    )


def _package(raw: Mapping[str, Any], where: str, reader: Reader) -> LockedPackage | None:
    name = reader.string(raw, "name", where)
    if name is None:
        return None
    where = f"{where} ({name})"
    sources = [key for key in SOURCES if key in raw]
    has_files = "sdist" in raw or "wheels" in raw
    if len(sources) + has_files != 1:
        found = [*sources, *(["sdist/wheels"] if has_files else [])]
        reader.problem(f"{where}: needs exactly one of vcs, directory, archive, or "
                       f"sdist/wheels (PEP 751); it has {', '.join(found) or 'none'}")
        return None
    kind, location = "registry", str(raw.get("index", ""))
    artefacts: list[Artefact] = []
    if sources:
        kind = sources[0]
        table = reader.table(raw, kind, where) or {}
        location = str(table.get("url") or table.get("path") or "")
        if kind == "archive":
            kind = "url" if isinstance(table.get("url"), str) else "path"
            artefact = _artefact(table, f"{where}.archive", reader, None)
            if artefact is not None:
                artefacts.append(artefact)
        elif kind == "vcs":
            kind = "git"
    else:
        sdist = reader.table(raw, "sdist", where)
        if sdist is not None:
            artefact = _artefact(sdist, f"{where}.sdist", reader, "sdist")
            if artefact is not None:
                artefacts.append(artefact)
        for w_index, wheel in enumerate(reader.tables(raw, "wheels", where)):
            artefact = _artefact(wheel, f"{where}.wheels[{w_index}]", reader, "wheel")
            if artefact is not None:
                artefacts.append(artefact)
    return LockedPackage(
        name=str(canonicalize_name(name)),
        version=reader.string(raw, "version", where, optional=True),
        source_kind=kind,
        source=location,
        marker=reader.string(raw, "marker", where, optional=True),
        requires_python=reader.string(raw, "requires-python", where, optional=True),
        artefacts=tuple(artefacts),
        where=where,
    )


def _artefact(raw: Mapping[str, Any], where: str, reader: Reader,
              expected: str | None) -> Artefact | None:
    url = raw.get("url") if isinstance(raw.get("url"), str) else None
    path = raw.get("path") if isinstance(raw.get("path"), str) else None
    if url is None and path is None:
        reader.problem(f"{where}: needs url or path")
        return None
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    filename = name or filename_of(url or path or "")
    kind = artefact_kind(filename)
    if kind is None or (expected is not None and kind != expected):
        reader.problem(f"{where}: {filename!r} is not a {expected or 'wheel or sdist'} file "
                       "name")
        return None
    hashes = raw.get("hashes")
    if not isinstance(hashes, dict) or not hashes or not all(
            isinstance(v, str) for v in hashes.values()):
        reader.problem(f"{where}: no hashes table; bslim installs only what it can verify")
        return None
    size = raw.get("size")
    return Artefact(
        kind=kind, filename=filename, url=url, path=path,
        hashes=tuple(sorted((str(k).lower(), str(v).lower()) for k, v in hashes.items())),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None)
