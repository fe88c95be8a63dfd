"""Read `pyproject.toml` (I/O) and parse `[tool.slim]` into frozen dataclasses (pure).

`KEYS` is both the table of defaults and the list of allowed keys: the parser, `bslim config`,
the JSON schema and the README's key reference all come from it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from buildkit_slim._compat import tomllib
from buildkit_slim.cache import CACHE_KEYS, NO_CACHE, CacheConfig, is_cache_dir
from buildkit_slim.errors import ConfigError, UsageError
from buildkit_slim.tags import DEFAULT_RULES, TAG_RULE_KEYS, TagError, TagRules

PLATFORMS = (
    "linux/386",
    "linux/amd64",
    "linux/arm/v6",
    "linux/arm/v7",
    "linux/arm64",
    "linux/ppc64le",
    "linux/riscv64",
    "linux/s390x",
)
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm/v7")
# What `uname -m` and Debian call them: difflib alone would offer linux/386 for linux/x86_64.
PLATFORM_ALIASES = {
    "x86_64": "linux/amd64", "x86-64": "linux/amd64", "aarch64": "linux/arm64",
    "armv7l": "linux/arm/v7", "armhf": "linux/arm/v7", "i386": "linux/386", "i686": "linux/386",
}
# Debian releases the official python images are published for; a base image whose tag names one
# of them pins the glibc the wheels are built against.
DEBIAN_RELEASES = ("bullseye", "bookworm", "trixie", "forky")

# OCI distribution-spec grammar for a repository (with optional registry host and port).
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL})(?:\.{_LABEL})*"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(
    rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
)
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_IMAGE_REF_RE = re.compile(
    rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
TARGET_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")
_BARE_KEY_RE = TARGET_NAME_RE
# PEP 508 names: the project name reaches a RUN line, so nothing else may get through.
_PROJECT_NAME_RE = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)
_PYTHON_RE = re.compile(r"3\.[0-9]{1,2}")
_DEBIAN_RE = re.compile(r"[a-z]+")
_APT_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_EXPOSE_RE = re.compile(r"([0-9]{1,5})(?:/(tcp|udp|sctp))?")
_URL_RE = re.compile(r"https?://[^\s'\"\\`$]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# One component of a path in the project that reaches COPY, a bake file or .dockerignore: no
# leading '-' (an option to COPY), no glob or .dockerignore syntax (*?[]!#), no quotes or '$'.
_PATH_PART_RE = re.compile(r"[A-Za-z0-9_.+~%@{}][A-Za-z0-9_.+~%@{}-]*")
_PATH_MAX = 1024  # far below PATH_MAX, and no component above NAME_MAX (255 bytes)
_WORKDIR_RE = re.compile(r"(?:/[A-Za-z0-9_.+~-]+)+")  # it reaches a RUN line (and is quoted)
# chown'ing these (or running from them) breaks the image; a directory below some is fine
# (/usr/src/app, /home/app), below others never (/etc/app). /srv, /opt: empty, fine.
_SYSTEM_DIRS = frozenset((
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/root", "/run", "/sbin", "/sys", "/tmp", "/usr",  # noqa: S108 - refused, not used
    "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local",
    "/usr/local/bin", "/usr/local/include", "/usr/local/lib", "/usr/local/sbin",
    "/usr/local/share", "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/cache", "/var/lib",
    "/var/log", "/var/run", "/var/tmp",  # noqa: S108 - refused, not used
))
_SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                 "/run", "/sbin", "/sys", "/usr/bin", "/usr/lib", "/usr/local/bin",
                 "/usr/local/lib", "/usr/sbin", "/var/lib")
# What bslim writes into the output directory; anything else there is the user's, and the
# directory goes into .dockerignore.
GENERATED_NAMES = ("Dockerfile", "Dockerfile.dockerignore", "docker-bake.json")
# fast-wheels' helper: <output-dir>/shim/pip_for_target.py (the build's named context), with
# what it pins and each target's lists (render/dockerfile.py's shim_files).
SHIM_DIR, SHIM_FILE = "shim", "pip_for_target.py"
SHIM_NAMES = re.compile(r"pip_for_target\.py|pins\.txt"
                        r"|[A-Za-z0-9_-]+\.(requirements|build-requires)\.txt")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, kw_only=True)
class KeySpec:
    """One `[tool.slim]` key: its type, default, and what makes a value valid."""

    key: str
    kind: str  # str | list | table | bool
    default: Any
    doc: str
    top_only: bool = False


# The defaults table. `None` means "derived" (see the doc text) or "unset".
KEYS: tuple[KeySpec, ...] = (
    KeySpec(key="image", kind="str", default=None,
            doc="Repository without tag, e.g. `ghcr.io/acme/spark`. Default: the project name."),
    KeySpec(key="python", kind="str", default="3.13", doc="Python version X.Y of the base images."),
    KeySpec(key="debian", kind="str", default="trixie", doc="Debian release of the base images."),
    KeySpec(key="builder-base", kind="str", default="python:{python}-{debian}",
            doc="Image the wheel stage starts from; `{python}` and `{debian}` are filled in."),
    KeySpec(key="runtime-base", kind="str", default="python:{python}-slim-{debian}",
            doc="Image the runtime stage starts from; same placeholders."),
    KeySpec(key="platforms", kind="list", default=DEFAULT_PLATFORMS,
            doc="Platforms to build, from: " + ", ".join(PLATFORMS) + "."),
    KeySpec(key="entrypoint", kind="list", default=None,
            doc="Exec-form entrypoint. Default: the single `[project.scripts]` entry, else "
                "`python -m <package>` when the package has `__main__.py`."),
    KeySpec(key="cmd", kind="list", default=(), doc="Exec-form CMD (arguments to the entrypoint)."),
    KeySpec(key="workdir", kind="str", default="/app", doc="Absolute working directory."),
    KeySpec(key="user", kind="str", default="app",
            doc="Non-root user created in the runtime stage (uid/gid 10001); `root` to run "
                "as root."),
    KeySpec(key="env", kind="table", default={}, doc="Environment variables of the image."),
    KeySpec(key="labels", kind="table", default={},
            doc="Extra image labels (added to the OCI labels taken from `[project]`)."),
    KeySpec(key="args", kind="table", default={},
            doc="Build args, available to both stages (e.g. `CFLAGS` for compiled wheels)."),
    KeySpec(key="expose", kind="list", default=(), doc="Ports, e.g. `8080` or `\"53/udp\"`."),
    KeySpec(key="extras", kind="list", default=(),
            doc="Extras of the project to install (from `[project.optional-dependencies]`)."),
    KeySpec(key="requirements", kind="str", default=None,
            doc="Constraints/lock file (relative to the project) whose pins the wheel stage "
                "honours."),
    KeySpec(key="apt-build", kind="list", default=(),
            doc="Debian packages for the wheel stage (e.g. `libffi-dev`)."),
    KeySpec(key="apt-runtime", kind="list", default=(),
            doc="Debian packages for the runtime stage (e.g. `libopenblas0`)."),
    KeySpec(key="index-url", kind="str", default=None,
            doc="pip index URL (no credentials). Default: pip's."),
    KeySpec(key="extra-index-urls", kind="list", default=(),
            doc="Extra pip index URLs (no credentials)."),
    KeySpec(key="platform-index-urls", kind="table", default={},
            doc="Extra pip index URLs for one platform only, e.g. "
                "`{ \"linux/arm/v7\" = [\"https://www.piwheels.org/simple\"] }` (opt-in)."),
    KeySpec(key="find-links", kind="list", default=(),
            doc="Directories in the project holding wheels or sdists pip may use (a local "
                "wheelhouse)."),
    KeySpec(key="output-dir", kind="str", default="bake", top_only=True,
            doc="Where generated files go, relative to the project."),
    KeySpec(key="cache", kind="table", default={},
            doc="Build cache: `registry = \"<repo>\"` (cache-from/to, mode=max, one ref per target "
                "and platform set), `local = \"<dir>\"` (rotated), `gha = true`. A target's table "
                "replaces the top-level one."),
    KeySpec(key="fast-wheels", kind="bool", default=True,
            doc="Resolve, download and install on the build platform for the target (markers "
                "and wheel tags of the target); compile under emulation only what has no wheel "
                "for it, without pip."),
    KeySpec(key="publish-wheels", kind="bool", default=False,
            doc="Also build `<image>-wheels:<tag>`, a FROM scratch image holding only the wheels."),
    KeySpec(key="wheels-from", kind="list", default=(),
            doc="Wheel images (`<image>-wheels:<tag>`) or project directories of wheels the wheel "
                "stage starts from: only what is missing is built."),
    KeySpec(key="dockerfile", kind="str", default=None,
            doc="Use this Dockerfile (relative to the project) instead of generating one."),
)
KEY_SPECS: Mapping[str, KeySpec] = {spec.key: spec for spec in KEYS}
_TOP_LEVEL_TABLES = ("targets", "tags")


LEGACY_BUILD_REQUIRES: tuple[str, ...] = ("setuptools>=40.8.0",)


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


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    """One image to build: the top-level `[tool.slim]` values overridden by its target table."""

    name: str
    image: str
    python: str
    debian: str
    builder_base: str
    runtime_base: str
    platforms: tuple[str, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    workdir: str
    user: str
    env: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    args: tuple[tuple[str, str], ...]
    expose: tuple[str, ...]
    extras: tuple[str, ...]
    requirements: str | None
    apt_build: tuple[str, ...]
    apt_runtime: tuple[str, ...]
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    platform_index_urls: tuple[tuple[str, tuple[str, ...]], ...] = ()
    find_links: tuple[str, ...]
    dockerfile: str | None
    cache: CacheConfig = NO_CACHE
    fast_wheels: bool = True
    publish_wheels: bool = False
    wheels_from: tuple[tuple[str, str], ...] = ()  # ("image" | "dir", reference or path)
    # key -> "default" | "derived" | "tool.slim" | "tool.slim.targets.<name>"
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True, kw_only=True)
class Config:
    project: ProjectMeta
    output_dir: str
    targets: tuple[TargetConfig, ...]
    tags: TagRules = DEFAULT_RULES  # [tool.slim.tags]: what `bslim tags` and `release` produce


@dataclass(frozen=True, kw_only=True)
class ProjectSource:
    """Everything `parse` needs, gathered by `read` (the only I/O in this module)."""

    root: Path
    pyproject: Mapping[str, Any]
    main_packages: tuple[str, ...]  # import packages with a __main__.py
    existing: frozenset[str]  # project-relative posix paths that exist (files and dirs)
    # Of the paths looked up: those a symlink takes out of the project, and those that are not
    # directories (a file where output-dir or a cache directory should be).
    outside: frozenset[str] = frozenset()
    not_dirs: frozenset[str] = frozenset()
    # What is in the output directory that bslim does not write (it goes into .dockerignore).
    foreign_output: tuple[str, ...] = ()
    # Directories under a cache.local directory that are neither bslim's nor BuildKit's cache.
    not_caches: frozenset[str] = frozenset()


def _read_pyproject(path: Path) -> dict[str, Any]:
    """The parsed file; every way it can be unreadable is a UsageError naming it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"--project: no pyproject.toml in {path.parent}",
            hint="pass --project DIR pointing at a Python project",
        ) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raise UsageError(f"{path}: starts with a UTF-8 byte order mark, which TOML does not "
                         "allow", hint="save the file as UTF-8 without a BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 (byte {exc.start}); TOML files are "
                         "UTF-8") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: arrays or tables nested too deeply to read") from None
    return data


def _kind(root: Path, resolved_root: Path, item: str) -> str:
    """"missing", "file", "dir" or "outside" (a symlink leaving the project) for a path."""
    candidate = root / item
    try:
        if not candidate.exists() and not candidate.is_symlink():
            return "missing"
        resolved = candidate.resolve()
        if not resolved.is_relative_to(resolved_root):
            return "outside"
        return "dir" if candidate.is_dir() else "file"
    except (OSError, RuntimeError):  # ENAMETOOLONG, ELOOP, EACCES: not usable either way
        return "missing"


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _names(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir())
    except OSError:
        return []


def read_project(root: Path) -> ProjectSource:
    """Load pyproject.toml and look around the project for what defaults need."""
    data = _read_pyproject(root / "pyproject.toml")
    mains: list[str] = []
    for base in (root, root / "src"):
        if base.is_dir():
            mains.extend(
                sorted(p.parent.name for p in base.glob("*/__main__.py") if p.parent.is_dir())
            )
    existing: set[str] = set()
    outside: set[str] = set()
    not_dirs: set[str] = set()
    not_caches: set[str] = set()
    foreign: list[str] = []
    resolved_root = root.resolve()
    # Only the paths the config may name are looked up: no walk of the project tree.
    tool = data.get("tool")
    slim = tool.get("slim") if isinstance(tool, dict) else None
    slim = slim if isinstance(slim, dict) else {}
    targets = slim.get("targets")
    tables = [slim] + [t for t in targets.values() if isinstance(t, dict)] \
        if isinstance(targets, dict) else [slim]

    def look(item: object) -> str | None:
        if not isinstance(item, str) or not safe_path(item):
            return None
        posix = PurePosixPath(item).as_posix()
        kind = _kind(root, resolved_root, posix)
        if kind == "outside":
            outside.add(posix)
        elif kind != "missing":
            existing.add(posix)
            if kind == "file":
                not_dirs.add(posix)
        return kind

    for table in tables:
        for key in ("requirements", "dockerfile", "find-links", "wheels-from"):
            value = table.get(key)
            for item in value if isinstance(value, list) else [value]:
                look(item)
        cache = table.get("cache")
        local = cache.get("local") if isinstance(cache, dict) else None
        if look(local) == "dir":
            assert isinstance(local, str)
            for sub in _subdirs(root / local):
                if not is_cache_dir(_names(sub)):
                    not_caches.add(f"{PurePosixPath(local).as_posix()}/{sub.name}")
    output_dir = slim.get("output-dir", KEY_SPECS["output-dir"].default)
    if look(output_dir) == "dir":
        assert isinstance(output_dir, str)
        foreign = [name for name in _names(root / output_dir)
                   if not _generated(root / output_dir, name)]
    return ProjectSource(
        root=root, pyproject=data, main_packages=tuple(mains), existing=frozenset(existing),
        outside=frozenset(outside), not_dirs=frozenset(not_dirs), foreign_output=tuple(foreign),
        not_caches=frozenset(not_caches),
    )


def _generated(directory: Path, name: str) -> bool:
    """Whether bslim writes `name` in the output directory (or left it from an interrupted
    write): the generated files, and the shim's directory holding nothing else."""
    if name == SHIM_DIR and (directory / name).is_dir() and not (directory / name).is_symlink():
        return all(SHIM_NAMES.fullmatch(n) or (n.startswith(".") and n.endswith(".tmp")
                                                and SHIM_NAMES.fullmatch(n[1:].rsplit(".", 2)[0]))
                   for n in _names(directory / name))
    return name in GENERATED_NAMES or _is_leftover_temp(name)


def _is_leftover_temp(name: str, generated: tuple[str, ...] = GENERATED_NAMES) -> bool:
    """A temporary file of an interrupted write (files.write_atomically's names)."""
    return name.startswith(".") and name.endswith(".tmp") and any(
        name.startswith(f".{file}.") for file in generated)


def safe_path(path: str) -> bool:
    """A relative path inside the project that may reach COPY, a bake file and .dockerignore
    as it is: no '..', no option or glob syntax, not too long to open."""
    return (_is_relative_inside(path) and len(path) <= _PATH_MAX
            and all(_PATH_PART_RE.fullmatch(part) and len(part.encode()) <= 255
                    for part in PurePosixPath(path).parts))


def load(root: Path) -> Config:
    return parse(read_project(root))


PATH_RULE = "no '..', spaces, quotes, '$', ',', '=', glob characters or leading '-'"


def _is_relative_inside(path: str) -> bool:
    p = PurePosixPath(path)
    return bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path


def dotted(part: str) -> str:
    """One part of a dotted key as TOML spells it: `api`, but `"bad name"` or `"a.b"`."""
    return part if _BARE_KEY_RE.fullmatch(part) else json.dumps(part, ensure_ascii=False)


def suggest(value: str, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)` for a near miss, else empty."""
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def suggest_platform(value: str, choices: Sequence[str]) -> str:
    """`suggest` for platforms, knowing the other names they go by (linux/x86_64, armv7)."""
    alias = PLATFORM_ALIASES.get(value.lower().removeprefix("linux/"))
    if alias is not None:
        return f"; did you mean '{alias}'?" if alias in choices else ""
    return suggest(value, choices) or suggest(value.replace("v", "/v"), choices)


def _describe(value: object) -> str:
    kinds = {str: "a string", bool: "a boolean", int: "an integer", float: "a number",
             list: "an array", dict: "a table"}
    return kinds.get(type(value), type(value).__name__)


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        # A bad top-level value is checked once per target inheriting it: report it once.
        line = f"{key}: {message}"
        if line not in self.items:
            self.items.append(line)


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
        problems.add(key, f"must be an array of requirement strings, got {_describe(value)}")
        return ()
    out: list[str] = []
    for index, item in enumerate(value):
        try:
            if not isinstance(item, str) or _CONTROL_RE.search(item):
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


CREDENTIALS_HINT = "pass them at build time as a secret: bslim bake --netrc FILE"


def has_credentials(url: str) -> bool:
    """user:token@ (or token@) in a URL's authority; `git+ssh://git@host` is no secret."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return "@" in authority and not (scheme.endswith("ssh") and ":" not in
                                     authority.split("@", 1)[0])


def parse(source: ProjectSource) -> Config:
    """Pure: the whole configuration, or a ConfigError listing every problem at once."""
    problems = Problems()
    project = parse_project(source.pyproject, problems)
    tool = source.pyproject.get("tool", {})
    slim = tool.get("slim") if isinstance(tool, dict) else None
    if slim is None:
        raise ConfigError(["tool.slim: no [tool.slim] table in pyproject.toml; "
                           "run `bslim init` to add one"])
    if not isinstance(slim, dict):
        raise ConfigError([f"tool.slim: must be a table, got {_describe(slim)}"])

    allowed_top = [*KEY_SPECS, *_TOP_LEVEL_TABLES]
    for key in slim:
        if key not in allowed_top:
            problems.add(f"tool.slim.{dotted(key)}", "unknown key" + suggest(key, allowed_top))
    top_values = {k: v for k, v in slim.items() if k in KEY_SPECS}
    tag_rules = _parse_tag_rules(slim.get("tags"), problems)

    raw_targets = slim.get("targets", {})
    if not isinstance(raw_targets, dict):
        problems.add("tool.slim.targets",
                     f"must be a table of tables, got {_describe(raw_targets)}")
        raw_targets = {}
    target_tables: list[tuple[str, dict[str, Any]]] = []
    for tname, table in raw_targets.items():
        prefix = f"tool.slim.targets.{dotted(tname)}"
        if not TARGET_NAME_RE.fullmatch(tname):
            problems.add(prefix, "target names may use only letters, digits, '_' and '-'")
            continue
        if not isinstance(table, dict):
            problems.add(prefix, f"must be a table, got {_describe(table)}")
            continue
        for key in table:
            if key == "tags":  # one set of tag rules per project: `bslim tags` has no target
                problems.add(f"{prefix}.tags", "can only be set at the top level (tool.slim.tags)")
            elif key not in KEY_SPECS:
                problems.add(f"{prefix}.{dotted(key)}",
                             "unknown key" + suggest(key, list(KEY_SPECS)))
            elif KEY_SPECS[key].top_only:
                problems.add(f"{prefix}.{key}", "can only be set at the top level (tool.slim)")
        target_tables.append((tname, {k: v for k, v in table.items() if k in KEY_SPECS
                                      and not KEY_SPECS[k].top_only}))
    if not raw_targets:
        target_tables.append((_default_target_name(project.name), {}))

    output_dir = _parse_output_dir(top_values.get("output-dir", "bake"), source, problems)
    targets = [
        _parse_target(tname, top_values, table, project, source, problems)
        for tname, table in target_tables
    ]
    seen: dict[str, str] = {}
    for target in targets:
        if target.image in seen:
            problems.add(f"tool.slim.targets.{target.name}.image",
                         f"{target.image!r} is already the image of target "
                         f"'{seen[target.image]}'; give each target its own image")
        seen.setdefault(target.image, target.name)
    config = Config(project=project, output_dir=PurePosixPath(output_dir).as_posix(),
                    targets=tuple(targets), tags=tag_rules)
    _check_cache_dirs(config, source, problems)
    if problems.items:
        raise ConfigError(problems.items)
    return config


def _parse_output_dir(output_dir: object, source: ProjectSource, problems: Problems) -> str:
    if not isinstance(output_dir, str):
        problems.add("tool.slim.output-dir", f"must be a string, got {_describe(output_dir)}")
        return "bake"
    if control_characters(output_dir, "") or not safe_path(output_dir) \
            or PurePosixPath(output_dir).parts == ():
        # It becomes a .dockerignore line and the bake file's dockerfile path; "." would put
        # the generated Dockerfile over the project's own and ignore the whole context.
        problems.add("tool.slim.output-dir", f"{output_dir!r} must be a relative path to a "
                     f"directory inside the project (not '.'; {PATH_RULE})")
        return "bake"
    output_dir = PurePosixPath(output_dir).as_posix()
    _check_output_dir(output_dir, source, problems)
    return output_dir


def _check_output_dir(output_dir: str, source: ProjectSource, problems: Problems) -> None:
    """bslim writes there, and the whole directory goes into .dockerignore."""
    key = "tool.slim.output-dir"
    if output_dir in source.outside:
        problems.add(key, f"{output_dir!r} leads outside the project through a symlink; "
                     "bslim writes only inside the project")
    elif output_dir in source.not_dirs:
        problems.add(key, f"{output_dir!r} is a file, not a directory")
    elif source.foreign_output:
        shown = ", ".join(source.foreign_output[:3]) + (
            ", ..." if len(source.foreign_output) > 3 else "")
        problems.add(key, f"{output_dir!r} holds files bslim does not write ({shown}); the "
                     "output directory is left out of the build context, so they would be "
                     "too: use a directory of its own, e.g. \"bake\"")


def _check_cache_dirs(config: Config, source: ProjectSource, problems: Problems) -> None:
    """cache.local is rotated (the old directory deleted): it must not overlap anything else."""
    for target in config.targets:
        local = target.cache.local
        if local is None:
            continue
        key = ("tool.slim.cache.local" if dict(target.sources).get("cache") != f"tool.slim."
               f"targets.{target.name}" else f"tool.slim.targets.{target.name}.cache.local")
        others = [config.output_dir, *(p for p in (target.requirements, target.dockerfile)
                                       if p), *target.find_links,
                  *(p for kind, p in target.wheels_from if kind == "dir")]
        if PurePosixPath(local).parts == ():
            problems.add(key, f"{local!r} is the project itself; use a directory of its own, "
                         "e.g. \".cache/buildkit\"")
            continue
        for other in others:
            if _overlap(local, other):
                problems.add(key, f"{local!r} overlaps {other!r}; the cache is replaced after "
                             "every build: use a directory of its own, e.g. \".cache/buildkit\"")
        base = f"{local}/{target.name}"
        for path in sorted(source.not_caches):
            if path == base or path.startswith((f"{base}-", f"{base}.")):
                problems.add(key, f"{path!r} is not a build cache (bslim replaces "
                             f"{base!r} after every build); use a directory of its own, e.g. "
                             "\".cache/buildkit\"")


def _overlap(a: str, b: str) -> bool:
    pa, pb = PurePosixPath(a).parts, PurePosixPath(b).parts
    return pa[:len(pb)] == pb or pb[:len(pa)] == pa


def _default_target_name(project_name: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_-]+", "-", str(canonicalize_name(project_name))).strip("-")
    return name or "app"


def _parse_tag_rules(raw: object, problems: Problems) -> TagRules:
    """`[tool.slim.tags]`: the keys are TagRules' fields, dashed; their types are the defaults'."""
    if raw is None:
        return DEFAULT_RULES
    if not isinstance(raw, dict):
        problems.add("tool.slim.tags", f"must be a table, got {_describe(raw)}")
        return DEFAULT_RULES
    attrs = dict(TAG_RULE_KEYS)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        item_key = f"tool.slim.tags.{dotted(key)}"
        if key not in attrs:
            problems.add(item_key, "unknown key" + suggest(key, list(attrs)))
            continue
        default = getattr(DEFAULT_RULES, attrs[key])
        # `type(...) is` because a boolean is an int to isinstance (sha-length = true).
        if type(value) is not type(default):
            problems.add(item_key, f"must be {_describe(default)}, got {_describe(value)}")
        elif isinstance(value, str) and _CONTROL_RE.search(value):
            problems.add(item_key, "must not contain newlines or control characters")
        else:
            values[attrs[key]] = value
    # TagRules stops at its first bad value; one value at a time reports them all. Its messages
    # name the dotted key themselves: "tool.slim.tags.sha-length: 3 is out of range ...".
    valid = True
    for attr, value in values.items():
        try:
            TagRules(**{attr: value})
        except TagError as exc:
            key, _, message = str(exc).partition(": ")
            problems.add(key, message)
            valid = False
    return TagRules(**values) if valid else DEFAULT_RULES


def _parse_target(
    name: str,
    top: Mapping[str, Any],
    own: Mapping[str, Any],
    project: ProjectMeta,
    source: ProjectSource,
    problems: Problems,
) -> TargetConfig:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    keys: dict[str, str] = {}
    for spec in KEYS:
        if spec.top_only:
            continue
        if spec.key in own:
            raw, origin, key = own[spec.key], f"tool.slim.targets.{name}", \
                f"tool.slim.targets.{name}.{spec.key}"
        elif spec.key in top:
            raw, origin, key = top[spec.key], "tool.slim", f"tool.slim.{spec.key}"
        else:
            raw, origin, key = spec.default, "default", f"tool.slim.{spec.key}"
        keys[spec.key] = key
        sources[spec.key] = origin
        values[spec.key] = _check_value(spec, raw, key, problems, project, source)

    def field_of(key: str) -> Any:
        return values[key]

    python, debian = field_of("python"), field_of("debian")
    builder_base = _fill_base(field_of("builder-base"), python, debian, keys["builder-base"],
                              problems)
    runtime_base = _fill_base(field_of("runtime-base"), python, debian, keys["runtime-base"],
                              problems)
    _check_bases_match(builder_base, runtime_base, keys["runtime-base"], problems)

    image = field_of("image")
    if image is None:
        image = str(canonicalize_name(project.name))
        sources["image"] = "derived"
        if not REPOSITORY_RE.fullmatch(image):
            problems.add(keys["image"], f"project name {project.name!r} is not a valid image "
                         "repository; set image = \"registry/owner/name\"")
    entrypoint = field_of("entrypoint")
    if entrypoint is None and field_of("dockerfile") is None:
        entrypoint = default_entrypoint(project, source, keys["entrypoint"], problems)
        sources["entrypoint"] = "derived"
    return TargetConfig(
        name=name,
        image=image,
        python=python,
        debian=debian,
        builder_base=builder_base,
        runtime_base=runtime_base,
        platforms=field_of("platforms"),
        entrypoint=tuple(entrypoint or ()),
        cmd=field_of("cmd"),
        workdir=field_of("workdir"),
        user=field_of("user"),
        env=field_of("env"),
        labels=field_of("labels"),
        args=field_of("args"),
        expose=field_of("expose"),
        extras=field_of("extras"),
        requirements=field_of("requirements"),
        apt_build=field_of("apt-build"),
        apt_runtime=field_of("apt-runtime"),
        index_url=field_of("index-url"),
        extra_index_urls=field_of("extra-index-urls"),
        platform_index_urls=field_of("platform-index-urls"),
        find_links=field_of("find-links"),
        dockerfile=field_of("dockerfile"),
        cache=field_of("cache"),
        fast_wheels=field_of("fast-wheels"),
        publish_wheels=field_of("publish-wheels"),
        wheels_from=field_of("wheels-from"),
        sources=tuple(sorted(sources.items())),
    )


def default_entrypoint(
    project: ProjectMeta, source: ProjectSource, key: str, problems: Problems
) -> tuple[str, ...] | None:
    if len(project.scripts) == 1:
        return (project.scripts[0],)
    if len(project.scripts) > 1:
        problems.add(key, f"not set, and [project.scripts] has {len(project.scripts)} entries "
                     f"({', '.join(project.scripts)}); set entrypoint = [\"{project.scripts[0]}\"]")
        return None
    module = project.name.replace("-", "_").lower()
    if module in source.main_packages:
        return ("python", "-m", module)
    if len(source.main_packages) == 1:
        return ("python", "-m", source.main_packages[0])
    problems.add(key, "not set, and there is no default: the project has no [project.scripts] "
                 f"entry and no {module}/__main__.py; set entrypoint = [\"python\", \"-m\", "
                 f"\"{module}\"] or similar")
    return None


def _fill_base(template: str, python: str, debian: str, key: str, problems: Problems) -> str:
    unknown = [p for p in _PLACEHOLDER_RE.findall(template) if p not in ("python", "debian")]
    if unknown:
        problems.add(key, f"unknown placeholder {{{unknown[0]}}}; valid: {{python}}, {{debian}}")
        return template
    filled = template.replace("{python}", python).replace("{debian}", debian)
    if not _IMAGE_REF_RE.fullmatch(filled):
        problems.add(key, f"{filled!r} is not a valid image reference (e.g. python:3.13-trixie)")
    return filled


def _release_in(image: str) -> str | None:
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    found = [r for r in DEBIAN_RELEASES if re.search(rf"(^|-){r}($|-)", tag)]
    return found[0] if found else None


def _python_in(image: str) -> str | None:
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    match = re.match(r"^(3\.[0-9]{1,2})(?:[.-]|$)", tag)
    return match.group(1) if match else None


def _check_bases_match(builder: str, runtime: str, key: str, problems: Problems) -> None:
    """Wheels built on one glibc/Python must run on the other: flag obvious mismatches."""
    b_rel, r_rel = _release_in(builder), _release_in(runtime)
    if b_rel and r_rel and b_rel != r_rel:
        problems.add(key, f"{runtime!r} is Debian {r_rel} but builder-base {builder!r} is "
                     f"{b_rel}; wheels must be built on the runtime's Debian release (glibc)")
    b_py, r_py = _python_in(builder), _python_in(runtime)
    if b_py and r_py and b_py != r_py:
        problems.add(key, f"{runtime!r} is Python {r_py} but builder-base {builder!r} is "
                     f"Python {b_py}; both stages need the same Python")


def _check_value(
    spec: KeySpec,
    raw: Any,
    key: str,
    problems: Problems,
    project: ProjectMeta,
    source: ProjectSource,
) -> Any:
    """Type-check and validate one value; returns a normalized value (tuples for lists)."""
    types: dict[str, type | tuple[type, ...]] = {
        "str": str, "list": (list, tuple), "table": dict, "bool": bool}
    expected = types[spec.kind]
    if raw is None:
        return None
    bad = control_characters(raw, key)
    if bad:
        # The one fence every [tool.slim] string passes, keys of tables included: a newline
        # would start a new Dockerfile instruction. The checks below are the second.
        for item_key in bad:
            problems.add(item_key, "must not contain newlines or control characters")
        return _check_value(spec, spec.default, key, Problems(), project, source)
    if not isinstance(raw, expected) or (spec.kind == "str" and isinstance(raw, bool)):
        problems.add(key, f"must be {_kind_name(spec.kind)}, got {_describe(raw)}")
        # Carry on with the (valid) default so that later checks see a well-typed value.
        return _check_value(spec, spec.default, key, Problems(), project, source)
    checker = _CHECKS.get(spec.key)
    if checker is None:
        return tuple(raw) if isinstance(raw, list) else raw
    return checker(raw, key, problems, project, source)


def control_characters(value: object, key: str) -> list[str]:
    """Dotted keys of every string (table keys too) in `value` holding a control character.

    Iterative: TOML nests only as deep as its parser allows, but no recursion here either way.
    """
    found: list[str] = []
    # (value, its key, whether the key itself is bad); it grows while it is read: breadth
    # first, in file order.
    queue: list[tuple[object, str, bool]] = [(value, key, False)]
    for item, item_key, bad_key in queue:
        if bad_key or (isinstance(item, str) and _CONTROL_RE.search(item)):
            found.append(item_key)
        elif isinstance(item, dict):
            queue.extend((sub, f"{item_key}.{dotted(str(name))}",
                          bool(_CONTROL_RE.search(str(name)))) for name, sub in item.items())
        elif isinstance(item, list | tuple):
            queue.extend((sub, f"{item_key}[{index}]", False) for index, sub in enumerate(item))
    return found


def _kind_name(kind: str) -> str:
    return {"str": "a string", "list": "an array", "table": "a table", "bool": "a boolean"}[kind]


_Check = Callable[[Any, str, Problems, ProjectMeta, ProjectSource], Any]


def _strings(raw: list[Any], key: str, problems: Problems) -> list[tuple[str, str]]:
    """(item key, value) for each string item; reports non-strings and control characters."""
    out = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        if not isinstance(item, str):
            problems.add(item_key, f"must be a string, got {_describe(item)}")
        elif _CONTROL_RE.search(item):
            problems.add(item_key, "must not contain newlines or control characters")
        else:
            out.append((item_key, item))
    return out


def _check_image(raw: str, key: str, problems: Problems, *_: Any) -> str:
    if ":" in raw.rsplit("/", 1)[-1] or "@" in raw:
        problems.add(key, f"{raw!r}: give the repository without a tag or digest "
                     "(tags come from TAG / bslim tags)")
    elif not REPOSITORY_RE.fullmatch(raw):
        problems.add(key, f"{raw!r} is not a valid image repository (lowercase, e.g. "
                     "ghcr.io/acme/spark)")
    return raw


def _check_python(raw: str, key: str, problems: Problems, *_: Any) -> str:
    if not _PYTHON_RE.fullmatch(raw):
        problems.add(key, f"{raw!r} must be a Python version X.Y, e.g. \"3.13\"")
    return raw


def _check_debian(raw: str, key: str, problems: Problems, *_: Any) -> str:
    if not _DEBIAN_RE.fullmatch(raw):
        problems.add(key, f"{raw!r} must be a Debian release name, e.g. "
                     + ", ".join(DEBIAN_RELEASES) + suggest(raw, DEBIAN_RELEASES))
    elif raw not in DEBIAN_RELEASES and suggest(raw, DEBIAN_RELEASES):
        problems.add(key, f"{raw!r} is not a Debian release" + suggest(raw, DEBIAN_RELEASES))
    return raw


def _check_platforms(raw: list[Any], key: str, problems: Problems, *_: Any) -> tuple[str, ...]:
    out: list[str] = []
    if not raw:
        problems.add(key, "must name at least one platform, e.g. [\"linux/amd64\"]")
    for item_key, item in _strings(raw, key, problems):
        if item not in PLATFORMS:
            near = suggest_platform(item, PLATFORMS)
            problems.add(item_key, f"{item!r} is not a supported platform" + (
                near or "; valid: " + ", ".join(PLATFORMS)))
        elif item in out:
            problems.add(item_key, f"{item!r} is listed twice")
        else:
            out.append(item)
    return tuple(out)


def _check_exec_list(raw: list[Any], key: str, problems: Problems, *_: Any) -> tuple[str, ...]:
    items = _strings(raw, key, problems)
    if key.endswith("entrypoint") and not raw:
        problems.add(key, "must not be empty; omit it to use the default")
    return tuple(v for _, v in items)


def _check_workdir(raw: str, key: str, problems: Problems, *_: Any) -> str:
    path = raw.rstrip("/") if raw != "/" else raw
    if path != "/" and (not _WORKDIR_RE.fullmatch(path)
                        or any(part in (".", "..") for part in path.split("/"))):
        problems.add(key, f"{raw!r} must be an absolute path of letters, digits and . _ + ~ -, "
                     "without '..', e.g. \"/app\"")
    elif path in _SYSTEM_DIRS or path == "/" or any(
            path.startswith(tree + "/") for tree in _SYSTEM_TREES):
        problems.add(key, f"{raw!r} is a system directory (or inside one); it would be "
                     "chowned to the user: use a directory of its own, e.g. \"/app\"")
    return raw


def _check_user(raw: str, key: str, problems: Problems, *_: Any) -> str:
    if not _USER_RE.fullmatch(raw):
        problems.add(key, f"{raw!r} must be a user name like \"app\" (lowercase letters, digits, "
                     "'_' or '-'), or \"root\"")
    return raw


def _table(pattern: re.Pattern[str], what: str) -> _Check:
    def check(raw: dict[str, Any], key: str, problems: Problems, *_: Any) -> tuple[
            tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for name, value in raw.items():
            item_key = f"{key}.{dotted(name)}"
            if not pattern.fullmatch(name):
                problems.add(item_key, f"{name!r} is not a valid {what} name")
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                problems.add(item_key, f"must be a string, got {_describe(value)}")
            elif _CONTROL_RE.search(str(value)):
                problems.add(item_key, "must not contain newlines or control characters")
            else:
                out.append((name, str(value)))
        return tuple(sorted(out))
    return check


def _check_expose(raw: list[Any], key: str, problems: Problems, *_: Any) -> tuple[str, ...]:
    out: list[str] = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        match = _EXPOSE_RE.fullmatch(str(item)) if isinstance(item, int | str) and \
            not isinstance(item, bool) else None
        if match is None or not 0 < int(match.group(1)) < 65536:
            problems.add(item_key, f"{item!r} is not a port; use 8080 or \"8080/tcp\", "
                         "\"53/udp\"")
            continue
        port = f"{int(match.group(1))}/{match.group(2) or 'tcp'}"
        if port not in out:
            out.append(port)
    return tuple(out)


def _check_extras(
    raw: list[Any], key: str, problems: Problems, project: ProjectMeta, _: ProjectSource
) -> tuple[str, ...]:
    known = [name for name, _ in project.optional_dependencies]
    out: list[str] = []
    for item_key, item in _strings(raw, key, problems):
        extra = str(canonicalize_name(item))
        if extra not in known:
            valid = suggest(extra, known) or (
                "; [project.optional-dependencies] has " + ", ".join(known) if known
                else "; the project defines no [project.optional-dependencies]")
            problems.add(item_key, f"{item!r} is not an extra of the project" + valid)
        elif extra not in out:
            out.append(extra)
    return tuple(sorted(out))


def _project_path(kind: str) -> _Check:
    def check(raw: str, key: str, problems: Problems, _p: ProjectMeta,
              source: ProjectSource) -> str:
        if not safe_path(raw):
            problems.add(key, f"{raw!r} must be a relative path inside the project "
                         f"({PATH_RULE})")
        elif PurePosixPath(raw).as_posix() in source.outside:
            problems.add(key, f"{raw!r} leads outside the project through a symlink; the "
                         "build context holds only the project")
        elif PurePosixPath(raw).as_posix() not in source.existing:
            problems.add(key, f"{kind} {raw!r} does not exist in the project")
        return PurePosixPath(raw).as_posix()
    return check


def _check_find_links(
    raw: list[Any], key: str, problems: Problems, project: ProjectMeta, source: ProjectSource
) -> tuple[str, ...]:
    check = _project_path("directory")
    return tuple(check(item, item_key, problems, project, source)
                 for item_key, item in _strings(raw, key, problems))


def _check_apt(raw: list[Any], key: str, problems: Problems, *_: Any) -> tuple[str, ...]:
    out: list[str] = []
    for item_key, item in _strings(raw, key, problems):
        if not _APT_RE.fullmatch(item):
            problems.add(item_key, f"{item!r} is not a Debian package name (e.g. libffi-dev or "
                         "libffi-dev=3.4.4-1)")
        elif item not in out:
            out.append(item)
    return tuple(sorted(out))


def _url(raw: str, key: str, problems: Problems) -> str:
    if not _URL_RE.fullmatch(raw):
        problems.add(key, f"{raw!r} must be an http(s) URL without spaces or quotes")
    elif has_credentials(raw):
        problems.add(key, "must not contain credentials; they would end up in the image "
                     f"history: {CREDENTIALS_HINT}")
    return raw


def _check_index_url(raw: str, key: str, problems: Problems, *_: Any) -> str:
    return _url(raw, key, problems)


def _check_extra_index_urls(
    raw: list[Any], key: str, problems: Problems, *_: Any
) -> tuple[str, ...]:
    return tuple(_url(item, item_key, problems) for item_key, item in _strings(raw, key, problems))


def _check_cache(raw: dict[str, Any], key: str, problems: Problems, _p: ProjectMeta,
                 source: ProjectSource) -> CacheConfig:
    for name in raw:
        if name not in CACHE_KEYS:
            problems.add(f"{key}.{dotted(name)}", "unknown key" + suggest(name, CACHE_KEYS))
    registry = raw.get("registry")
    if registry is not None and (not isinstance(registry, str)
                                 or not REPOSITORY_RE.fullmatch(registry)):
        problems.add(f"{key}.registry", f"{registry!r} must be an image repository without tag, "
                     "e.g. \"ghcr.io/acme/spark-cache\"")
        registry = None
    local = raw.get("local")
    if local is not None and (not isinstance(local, str) or not safe_path(local)):
        problems.add(f"{key}.local", f"{local!r} must be a relative directory inside the "
                     f"project, e.g. \".cache/buildkit\" ({PATH_RULE})")
        local = None
    elif local is not None:
        local = PurePosixPath(local).as_posix()
        if local in source.outside:
            problems.add(f"{key}.local", f"{local!r} leads outside the project through a "
                         "symlink")
            local = None
        elif local in source.not_dirs:
            problems.add(f"{key}.local", f"{local!r} is a file, not a directory")
            local = None
    gha = raw.get("gha", False)
    if not isinstance(gha, bool):
        problems.add(f"{key}.gha", f"must be true or false, got {_describe(gha)}")
        gha = False
    return CacheConfig(registry=registry, local=local, gha=gha)


def _check_wheels_from(
    raw: list[Any], key: str, problems: Problems, project: ProjectMeta, source: ProjectSource
) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for item_key, item in _strings(raw, key, problems):
        path = PurePosixPath(item).as_posix()
        if safe_path(item) and path in source.outside:
            problems.add(item_key, f"{item!r} leads outside the project through a symlink; "
                         "the build context holds only the project")
        elif safe_path(item) and path in source.existing:
            out.append(("dir", path))
        elif _IMAGE_REF_RE.fullmatch(item) and ":" in item.rsplit("/", 1)[-1]:
            out.append(("image", item))
        else:
            problems.add(item_key, f"{item!r} is neither a wheel image with a tag (e.g. "
                         "\"ghcr.io/acme/base-wheels:1.2\") nor a directory in the project")
    return tuple(out)


def _check_platform_index_urls(
    raw: dict[str, Any], key: str, problems: Problems, *_: Any
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for platform, urls in sorted(raw.items()):
        item_key = f"{key}.{dotted(platform)}"
        if platform not in PLATFORMS:
            problems.add(item_key, f"{platform!r} is not a supported platform"
                         + (suggest_platform(platform, PLATFORMS)
                            or "; valid: " + ", ".join(PLATFORMS)))
        elif not isinstance(urls, list):
            problems.add(item_key, f"must be an array of URLs, got {_describe(urls)}")
        else:
            out.append((platform, _check_extra_index_urls(urls, item_key, problems)))
    return tuple(out)


_CHECKS: dict[str, _Check] = {
    "platform-index-urls": _check_platform_index_urls,
    "cache": _check_cache,
    "wheels-from": _check_wheels_from,
    "image": _check_image,
    "python": _check_python,
    "debian": _check_debian,
    # builder-base and runtime-base: checked against the image grammar once filled in.
    "platforms": _check_platforms,
    "entrypoint": _check_exec_list,
    "cmd": _check_exec_list,
    "workdir": _check_workdir,
    "user": _check_user,
    "env": _table(_ENV_KEY_RE, "environment variable"),
    "labels": _table(_LABEL_KEY_RE, "label"),
    "args": _table(_ENV_KEY_RE, "build arg"),
    "expose": _check_expose,
    "extras": _check_extras,
    "requirements": _project_path("file"),
    "apt-build": _check_apt,
    "apt-runtime": _check_apt,
    "index-url": _check_index_url,
    "extra-index-urls": _check_extra_index_urls,
    "find-links": _check_find_links,
    "dockerfile": _project_path("file"),
}
