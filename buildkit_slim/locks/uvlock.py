"""uv.lock (version 1): uv's universal lock, a graph from the project to every package.

Read as uv writes it: `[[package]]` entries with `source`, `dependencies` (edges with markers,
a `version`/`source` when the lock holds several versions of one name), `optional-dependencies`,
`sdist` and `wheels` (`hash = "sha256:..."`), and the project's own `[package.metadata]`
`requires-dist`, which is what `uv lock --check` compares with pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from buildkit_slim.locks.model import (
    Artefact,
    Dependency,
    Lock,
    LockedPackage,
    artefact_kind,
    filename_of,
)
from buildkit_slim.locks.reader import Reader

SOURCE_KINDS = ("registry", "url", "path", "directory", "editable", "virtual", "git")


def parse_uv_lock(data: Mapping[str, Any], path: str, reader: Reader) -> Lock:
    version = data.get("version")
    if version != 1:
        reader.problem(f"version = {version!r}: bslim reads uv.lock version 1; regenerate it "
                       "with a uv that writes it, or update bslim")
        return Lock(path=path, format="uv.lock")
    packages = []
    for index, raw in enumerate(reader.tables(data, "package", "")):
        package = _package(raw, f"package[{index}]", reader)
        if package is not None:
            packages.append(package)
    return Lock(
        path=path,
        format="uv.lock",
        created_by="uv",
        requires_python=reader.string(data, "requires-python", "", optional=True),
        environments=tuple(reader.strings(data, "supported-markers", "")),
        packages=tuple(packages),
    )


def _package(raw: Mapping[str, Any], where: str, reader: Reader) -> LockedPackage | None:
    name = reader.string(raw, "name", where)
    if name is None:
        return None
    where = f"{where} ({name})"
    source = raw.get("source")
    kind, location = "registry", ""
    if isinstance(source, dict) and len(source) >= 1:
        kind = next((k for k in SOURCE_KINDS if k in source), "")
        if not kind:
            reader.problem(f"{where}: source {sorted(source)} is not one bslim knows "
                           f"({', '.join(SOURCE_KINDS)})")
            return None
        location = str(source[kind])
    else:
        reader.problem(f"{where}: no source table")
        return None
    artefacts: list[Artefact] = []
    sdist = raw.get("sdist")
    if isinstance(sdist, dict):
        artefact = _artefact(sdist, f"{where}.sdist", reader, kind, location, "sdist")
        if artefact is not None:
            artefacts.append(artefact)
    for w_index, wheel in enumerate(reader.tables(raw, "wheels", where)):
        artefact = _artefact(wheel, f"{where}.wheels[{w_index}]", reader, kind, location,
                             "wheel")
        if artefact is not None:
            artefacts.append(artefact)
    optional = raw.get("optional-dependencies", {})
    # What a source tree (the project among them) required when it was locked: what
    # `uv lock --check` compares with its pyproject.toml.
    metadata = raw.get("metadata")
    requires_dist = provides_extras = None
    if isinstance(metadata, dict):
        requires_dist = _requires_dist(metadata, f"{where}.metadata", reader)
        provides_extras = tuple(sorted(str(canonicalize_name(e)) for e in reader.strings(
            metadata, "provides-extras", f"{where}.metadata")))
    return LockedPackage(
        name=str(canonicalize_name(name)),
        version=reader.string(raw, "version", where, optional=True),
        source_kind=kind,
        source=location,
        artefacts=tuple(artefacts),
        dependencies=_edges(raw, "dependencies", where, reader),
        optional_dependencies=tuple(sorted(
            (str(canonicalize_name(extra)), _edges(optional, extra, f"{where}.optional", reader))
            for extra in (optional if isinstance(optional, dict) else {}))),
        resolution_markers=tuple(reader.strings(raw, "resolution-markers", where)),
        requires_dist=requires_dist,
        provides_extras=provides_extras,
        where=where,
    )


def _artefact(raw: Mapping[str, Any], where: str, reader: Reader, kind: str, location: str,
              expected: str) -> Artefact | None:
    url = raw.get("url") if isinstance(raw.get("url"), str) else None
    path = raw.get("path") if isinstance(raw.get("path"), str) else None
    filename = raw.get("filename") if isinstance(raw.get("filename"), str) else None
    if url is None and path is None:
        # The package's source is the file itself (a direct URL or a path to an archive).
        if kind == "url":
            url = location
        elif kind == "path":
            path = location
    name = filename or filename_of(url or path or "")
    if artefact_kind(name) != expected:
        reader.problem(f"{where}: {name!r} is not a {expected} file name")
        return None
    digest = raw.get("hash")
    if not isinstance(digest, str) or ":" not in digest:
        reader.problem(f"{where}: no hash (`hash = \"sha256:...\"`); bslim installs only what "
                       "it can verify")
        return None
    algorithm, value = digest.split(":", 1)
    size = raw.get("size")
    return Artefact(kind=expected, filename=name, url=url, path=path,
                    hashes=((algorithm.lower(), value.lower()),),
                    size=size if isinstance(size, int) and not isinstance(size, bool) else None)


def _edges(raw: Mapping[str, Any], key: str, where: str, reader: Reader
           ) -> tuple[Dependency, ...]:
    out = []
    for index, edge in enumerate(reader.tables(raw, key, where)):
        name = reader.string(edge, "name", f"{where}.{key}[{index}]")
        if name is None:
            continue
        source = edge.get("source")
        source_text = None
        if isinstance(source, dict) and source:
            kind = next((k for k in SOURCE_KINDS if k in source), sorted(source)[0])
            source_text = f"{kind}:{source[kind]}"
        out.append(Dependency(
            name=str(canonicalize_name(name)),
            version=reader.string(edge, "version", where, optional=True),
            source=source_text,
            marker=reader.string(edge, "marker", where, optional=True),
            extras=tuple(sorted(str(canonicalize_name(e))
                                for e in reader.strings(edge, "extra", where))),
        ))
    return tuple(out)


def source_key(package: LockedPackage) -> str:
    """How an edge's `source` names a package (`registry:https://pypi.org/simple`)."""
    return f"{package.source_kind}:{package.source}"


def _requires_dist(metadata: Mapping[str, Any], where: str, reader: Reader) -> tuple[str, ...]:
    """`requires-dist` tables back into PEP 508 text: what the project required when locked."""
    out = []
    for index, item in enumerate(reader.tables(metadata, "requires-dist", where)):
        name = reader.string(item, "name", f"{where}.requires-dist[{index}]")
        if name is None:
            continue
        extras = reader.strings(item, "extras", where)
        text = name + (f"[{','.join(extras)}]" if extras else "")
        direct = next((item[k] for k in ("url", "git", "path", "directory", "editable")
                       if isinstance(item.get(k), str)), None)
        if direct is not None:
            text += f" @ {direct}"
        else:
            text += str(item.get("specifier", ""))
        marker = item.get("marker")
        if isinstance(marker, str):
            text += f" ; {marker}"
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            reader.problem(f"{where}.requires-dist[{index}]: {text!r} is not a requirement: "
                           f"{exc}")
            continue
        out.append(text)
    return tuple(out)
