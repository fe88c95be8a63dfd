"""The project around `[tool.slim]`: its `[project]` metadata (PEP 621, parsed here, pure) and
what reading found on disk for the keys that name paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from buildkit_slim.config.problems import (
    CONTROL_RE,
    Problems,
    control_characters,
    credentials,
    describe,
    dotted,
)
from buildkit_slim.credentials import has_credentials

# PEP 508 names: the project name reaches a RUN line, so nothing else may get through.
_PROJECT_NAME_RE = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
LEGACY_BUILD_REQUIRES: tuple[str, ...] = ("setuptools>=40.8.0",)
CREDENTIALS_HINT = "pass them at build time as a secret: bslim bake --netrc FILE"
# The [project.urls] entries that become OCI labels: for each label, the first of these keys
# (case-insensitive) the table has.
URL_LABELS = (
    ("org.opencontainers.image.source",
     ("source", "repository", "source code", "sourcecode", "code", "github")),
    ("org.opencontainers.image.url", ("homepage", "home", "documentation")),
)
# [project] values the requirement checks report credentials in themselves.
_REQUIREMENT_KEYS = ("dependencies", "optional-dependencies")


@dataclass(frozen=True, kw_only=True)
class ProjectMeta:
    """What bslim needs from `[project]`."""

    name: str
    version: str | None = None
    description: str | None = None
    license: str | None = None
    urls: tuple[tuple[str, str], ...] = ()
    scripts: tuple[str, ...] = ()
    # None when `dependencies` is dynamic: then the wheel stage resolves them from the source.
    dependencies: tuple[str, ...] | None = ()
    optional_dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # [build-system].requires (PEP 518; without the table, PEP 517's setuptools default).
    build_requires: tuple[str, ...] = LEGACY_BUILD_REQUIRES

    @property
    def distribution(self) -> str:
        return str(canonicalize_name(self.name))

    @property
    def url_labels(self) -> tuple[tuple[str, str], ...]:
        """(OCI label, value) of the [project.urls] entries that become labels."""
        return tuple((label, url) for label, (_, url) in url_labels(self.urls).items())


def url_labels(urls: Mapping[str, object] | tuple[tuple[str, str], ...]) -> dict[
        str, tuple[str, str]]:
    """OCI label -> ([project.urls] key, value) for the entries that become labels."""
    items = urls.items() if isinstance(urls, Mapping) else urls
    by_key = {}
    for name, value in items:
        if isinstance(value, str):
            by_key[str(name).lower()] = (str(name), value)  # the last of equal keys, as dicts
    out = {}
    for label, keys in URL_LABELS:
        found = next((by_key[k] for k in keys if k in by_key), None)
        if found is not None:
            out[label] = found
    return out


@dataclass(frozen=True, kw_only=True)
class ProjectSource:
    """Everything `parse` needs, gathered by `read_project` (the only I/O of configuration)."""

    root: Path
    pyproject: Mapping[str, Any]
    main_packages: tuple[str, ...]  # import packages with a __main__.py
    existing: frozenset[str]  # project-relative posix paths that exist (files and dirs)
    # Of the paths looked up: those a symlink takes out of the project, those that are not
    # directories (a file where output-dir or a cache directory should be), and those that are
    # not regular files (a directory or a FIFO where a requirements file should be).
    outside: frozenset[str] = frozenset()
    not_dirs: frozenset[str] = frozenset()
    not_files: frozenset[str] = frozenset()
    # What is in the output directory that bslim does not write (it goes into .dockerignore).
    foreign_output: tuple[str, ...] = ()
    # Directories under a cache.local directory that are neither bslim's nor BuildKit's cache.
    not_caches: frozenset[str] = frozenset()


def parse_project(data: Mapping[str, Any], problems: Problems) -> ProjectMeta:
    project = data.get("project")
    if not isinstance(project, dict):
        problems.add("project", "missing [project] table (bslim reads name and dependencies there)")
        return ProjectMeta(name="unknown")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        problems.add("project.name", "missing or not a string")
        name = "unknown"
    elif not _PROJECT_NAME_RE.fullmatch(name):
        problems.add("project.name", f"{name!r} is not a valid project name (PEP 508: letters, "
                     "digits, '.', '_' and '-', starting and ending with a letter or digit)")
        name = "unknown"
    dynamic = project.get("dynamic", [])
    dynamic = dynamic if isinstance(dynamic, list) else []
    deps: tuple[str, ...] | None
    if "dependencies" in dynamic:
        deps = None
    else:
        deps = _requirements(project.get("dependencies", []), "project.dependencies", problems)
    optional: list[tuple[str, tuple[str, ...]]] = []
    raw_optional = project.get("optional-dependencies", {})
    if isinstance(raw_optional, dict):
        for extra, reqs in sorted(raw_optional.items()):
            optional.append((str(canonicalize_name(extra)), _requirements(
                reqs, f"project.optional-dependencies.{dotted(extra)}", problems) or ()))
    for item_key in control_characters(
            {k: project.get(k) for k in ("version", "license", "urls", "scripts", "gui-scripts")
             # A license table's text may span lines: it is left out then, not refused.
             if k in project and not (k == "license" and isinstance(project[k], dict))},
            "project"):
        problems.add(item_key, "must not contain newlines or control characters")
    raw_urls = project.get("urls")
    labelled = {f"project.urls.{dotted(key)}": label for label, (key, _) in
                url_labels(raw_urls if isinstance(raw_urls, dict) else {}).items()}
    for item_key in credentials(
            {k: v for k, v in project.items() if k not in _REQUIREMENT_KEYS}, "project"):
        # Not echoed: the value is a secret. [project] is the installed wheel's metadata.
        where = (f"the {labelled[item_key]} label of the bake file and the image"
                 if item_key in labelled else "the image (the installed package's metadata)")
        problems.add(item_key, "holds a URL with credentials (a password or token before its "
                     f"host), which would be written into {where}; give it without them")
    version = project.get("version")
    description = project.get("description")
    license_value = project.get("license")
    license_text: str | None = None
    if isinstance(license_value, str):
        license_text = license_value
    elif isinstance(license_value, dict) and isinstance(license_value.get("text"), str):
        text = license_value["text"].strip()
        license_text = text if text and "\n" not in text and len(text) <= 100 else None
    urls = project.get("urls", {})
    scripts = project.get("scripts", {})
    system = data.get("build-system")
    build_requires: tuple[str, ...] = LEGACY_BUILD_REQUIRES
    if isinstance(system, dict) and "requires" in system:
        build_requires = _requirements(system["requires"], "build-system.requires", problems)
    return ProjectMeta(
        name=name,
        version=version if isinstance(version, str) else None,
        description=description if isinstance(description, str) else None,
        license=license_text,
        urls=tuple(sorted((str(k), str(v)) for k, v in urls.items()))
        if isinstance(urls, dict) else (),
        scripts=tuple(sorted(str(k) for k in scripts)) if isinstance(scripts, dict) else (),
        dependencies=deps,
        optional_dependencies=tuple(optional),
        build_requires=build_requires,
    )


def _requirements(value: object, key: str, problems: Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(key, f"must be an array of requirement strings, got {describe(value)}")
        return ()
    out: list[str] = []
    for index, item in enumerate(value):
        try:
            if not isinstance(item, str) or CONTROL_RE.search(item):
                raise InvalidRequirement("not a single-line string")
            req = Requirement(item)
        except InvalidRequirement:
            problems.add(f"{key}[{index}]", f"{item!r} is not a valid PEP 508 requirement")
            continue
        if req.url and has_credentials(req.url):
            # Not echoed: the value is a secret.
            problems.add(f"{key}[{index}]", f"{req.name} @ <url>: the URL holds credentials, "
                         "which would be written into the generated Dockerfile; remove them "
                         f"and {CREDENTIALS_HINT}")
            continue
        out.append(str(req))
    return tuple(out)
