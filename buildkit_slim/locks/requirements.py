"""Requirements files with hashes (pip-compile --generate-hashes, uv pip compile, uv export,
pdm export): `name==version ; marker --hash=sha256:...`, one hash per file pip may install.

They name no files, only hashes: which of them fits a platform is pip's to find out at
build time, so `select` cannot tell here whether a platform has a wheel or must compile.
pip-compile's `# via` annotations, when present, say which lines the project itself asked
for; `check` uses them to find a dependency the project no longer has.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from buildkit_slim.locks.model import Artefact, Lock, LockedPackage, artefact_kind, filename_of
from buildkit_slim.locks.reader import Reader

# Options a compiled requirements file may carry, kept for the build (pip reads them there).
GLOBAL_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f",
                  "--trusted-host", "--no-binary", "--only-binary", "--prefer-binary", "--pre",
                  "--no-index")
NESTED = ("-r", "--requirement", "-c", "--constraint")
EDITABLE = ("-e", "--editable")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"(sha256|sha384|sha512):([0-9a-fA-F]+)")
_TOOLS = (("pip-compile", "pip-compile"), ("uv pip compile", "uv pip compile"),
          ("uv export", "uv export"), ("pdm export", "pdm export"), ("by uv", "uv"))


def parse_requirements(text: str, path: str, reader: Reader) -> Lock:
    packages: list[LockedPackage] = []
    options: list[str] = []
    created_by = _tool(text)
    via_of: dict[int, list[str]] = {}  # index in packages -> annotations
    in_via = False
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if packages and body.startswith("via"):
                rest = body[3:].strip()
                via_of.setdefault(len(packages) - 1, []).extend([rest] if rest else [])
                in_via = not rest
            elif packages and in_via and body:
                via_of.setdefault(len(packages) - 1, []).append(body)
            else:
                in_via = False
            continue
        in_via = False
        content = _COMMENT.sub("", line).strip()
        if not content:
            continue
        where = f"line {number}"
        if content.startswith("-"):
            _option(content, where, options, reader)
            continue
        package = _requirement(content, where, reader)
        if package is not None:
            packages.append(package)
    packages = [replace(p, via=tuple(_via_name(v) for v in via_of.get(i, ())))
                for i, p in enumerate(packages)]
    return Lock(path=path, format="requirements", created_by=created_by,
                packages=tuple(packages), options=tuple(options))


def _via_name(annotation: str) -> str:
    """`lockapp (pyproject.toml)` -> `lockapp`; `-r requirements.in` stays as it is."""
    first = annotation.split(" ", 1)[0]
    return annotation if first.startswith("-") else str(canonicalize_name(first))


def _tool(text: str) -> str | None:
    head = "\n".join(line for line in text.splitlines()[:5] if line.startswith("#"))
    return next((tool for needle, tool in _TOOLS if needle in head), None)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash continuations joined, as pip reads them. A
    comment line in the middle of a continuation ends it (pip-compile's `# via` follows the
    last `--hash \\` line of a requirement that way)."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if current and line.lstrip().startswith("#"):
            out.append((start, " ".join(current)))
            current = []
        if not current:
            start = number
        if line.endswith("\\") and not line.lstrip().startswith("#"):
            current.append(line[:-1])
            continue
        current.append(line)
        out.append((start, " ".join(current)))
        current = []
    if current:
        out.append((start, " ".join(current)))
    return out


def _option(content: str, where: str, options: list[str], reader: Reader) -> None:
    try:
        words = shlex.split(content)
    except ValueError:
        reader.problem(f"{where}: cannot read {content!r}")
        return
    flag = words[0].split("=", 1)[0]
    if flag in EDITABLE or flag in NESTED:
        target = words[0].split("=", 1)[1] if "=" in words[0] else " ".join(words[1:])
        if flag in EDITABLE and target.rstrip("/") in (".", "file:.", "file:./"):
            return  # the project itself: built from the build context, not from the lock
        reader.problem(f"{where}: {content!r}: bslim installs what the file pins, and follows "
                       "no other file or source tree; compile one file with every pin in it")
        return
    if flag not in GLOBAL_OPTIONS:
        reader.problem(f"{where}: option {flag!r} is not one bslim can pass on "
                       f"({', '.join(GLOBAL_OPTIONS)})")
        return
    options.extend(words)


def _requirement(content: str, where: str, reader: Reader) -> LockedPackage | None:
    text, *option_parts = re.split(r"\s+(?=--)", content)
    hashes: list[tuple[str, str]] = []
    for part in option_parts:
        name, _, value = part.partition("=") if "=" in part.split(" ", 1)[0] else \
            part.partition(" ")
        match = _HASH.fullmatch(value.strip())
        if name != "--hash" or match is None:
            reader.problem(f"{where}: {part.strip()!r}: only --hash=sha256:<hex> (or sha384, "
                           "sha512) may follow a requirement here")
            return None
        hashes.append((match.group(1), match.group(2).lower()))
    if text.strip() in (".", "./"):
        return None  # the project itself
    try:
        req = Requirement(text.strip())
    except InvalidRequirement as exc:
        reader.problem(f"{where}: {text.strip()!r} is not a requirement: {exc}")
        return None
    name = str(canonicalize_name(req.name))
    if not hashes:
        reader.problem(f"{where}: {name} has no --hash; bslim installs only what it can "
                       "verify (pip-compile --generate-hashes, uv pip compile "
                       "--generate-hashes and uv export write them)")
        return None
    marker = str(req.marker) if req.marker is not None else None
    if req.url:
        filename = filename_of(req.url)
        kind = artefact_kind(filename)
        if kind is None:
            reader.problem(f"{where}: {name} @ {req.url}: not a wheel or sdist; bslim installs "
                           "no source tree or VCS checkout from a lock")
            return None
        artefact = Artefact(kind=kind, filename=filename, url=req.url, hashes=tuple(hashes))
        version = str(parse_wheel_filename(filename)[1]) if kind == "wheel" else None
        return LockedPackage(name=name, version=version, source_kind="url", source=req.url,
                             marker=marker, artefacts=(artefact,), where=where)
    pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    if len(pins) != 1 or len(req.specifier) != 1:
        reader.problem(f"{where}: {name}{req.specifier}: a lock pins one version with == "
                       f"(e.g. {name}==1.2.3)")
        return None
    return LockedPackage(
        name=name, version=pins[0].version, source_kind="requirements", marker=marker,
        artefacts=tuple(Artefact(kind="hashes", filename="", hashes=(h,)) for h in hashes),
        where=where)
