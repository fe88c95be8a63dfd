"""What makes one value of a `[tool.slim]` key valid (pure): the validators that key declarations
name, and the grammars they hold values to.

A validator takes the value (already of its key's TOML type, free of control characters), its
dotted key and the Context; it reports what is wrong there and returns the parsed value, or
REFUSED to carry on with the key's default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from packaging.utils import canonicalize_name

from buildkit_slim.config.problems import CONTROL_RE, Problems, describe, dotted, suggest
from buildkit_slim.config.project import ProjectMeta, ProjectSource
from buildkit_slim.keys import REFUSED, Refused
from buildkit_slim.platforms import PLATFORMS
from buildkit_slim.platforms import alias as platform_alias
from buildkit_slim.tag_grammar import TAG_GRAMMAR

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
IMAGE_REF_RE = re.compile(
    rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    rf"(?::{TAG_GRAMMAR})?(?:@sha256:[a-f0-9]{{64}})?"
)
_PYTHON_RE = re.compile(r"3\.[0-9]{1,2}")
_DEBIAN_RE = re.compile(r"[a-z]+")
_APT_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LABEL_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_EXPOSE_RE = re.compile(r"([0-9]{1,5})(?:/(tcp|udp|sctp))?")
_URL_RE = re.compile(r"https?://[^\s'\"\\`$]+")
_DISTRIBUTION_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508 names
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
# One component of a path in the project that reaches COPY, a bake file or .dockerignore: no
# leading '-' (an option to COPY), no glob or .dockerignore syntax (*?[]!#), no quotes or '$'.
_PATH_PART_RE = re.compile(r"[A-Za-z0-9_.+~%@{}][A-Za-z0-9_.+~%@{}-]*")
_PATH_MAX = 1024  # far below PATH_MAX, and no component above NAME_MAX (255 bytes)
PATH_RULE = "no '..', spaces, quotes, '$', ',', '=', glob characters or leading '-'"
# What the generated .dockerignore leaves out of the build context that no key may bring back
# (`!path` in it, a COPY, a named context): secrets, version control, virtualenvs, tool caches.
# Its other entries, build/ and dist/, may hold a wheelhouse or lock file: those stay allowed.
# Patterns as .dockerignore reads them: a bare name at the project's top, `**/` at any depth.
NEVER_IN_CONTEXT = (
    ".git", ".hg", ".svn", ".venv", "venv", ".env", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "**/__pycache__", "**/*.py[cod]", "**/*.egg-info",
    "htmlcov", ".coverage", ".DS_Store",
)
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


@dataclass(frozen=True)
class Context:
    """What a validator may look at besides the value, and where it reports."""

    problems: Problems
    project: ProjectMeta
    source: ProjectSource

    def add(self, key: str, message: str) -> None:
        self.problems.add(key, message)


Check = Callable[[Any, str, Context], Any]


def safe_path(path: str) -> bool:
    """A relative path inside the project that may reach COPY, a bake file and .dockerignore
    as it is: no '..', no option or glob syntax, not too long to open."""
    p = PurePosixPath(path)
    inside = bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path
    return (inside and len(path) <= _PATH_MAX
            and all(_PATH_PART_RE.fullmatch(part) and len(part.encode()) <= 255
                    for part in p.parts))


def excluded_by_default(path: str) -> str | None:
    """The NEVER_IN_CONTEXT pattern that leaves `path` (or a directory above it) out of the
    build context, if any."""
    parts = PurePosixPath(path).parts
    for pattern in NEVER_IN_CONTEXT:
        glob = pattern.removeprefix("**/")
        candidates = parts if glob != pattern else parts[:1]
        if any(fnmatchcase(part, glob) for part in candidates):
            return pattern
    return None


def suggest_platform(value: str, choices: tuple[str, ...] | list[str]) -> str:
    """`suggest` for platforms, knowing the other names they go by (linux/x86_64, armv7)."""
    meant = platform_alias(value)
    if meant is not None:
        return f"; did you mean '{meant}'?" if meant in choices else ""
    return suggest(value, choices) or suggest(value.replace("v", "/v"), choices)


def _strings(raw: list[Any], key: str, ctx: Context) -> list[tuple[str, str]]:
    """(item key, value) for each string item; reports non-strings and control characters."""
    out = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        if not isinstance(item, str):
            ctx.add(item_key, f"must be a string, got {describe(item)}")
        elif CONTROL_RE.search(item):
            ctx.add(item_key, "must not contain newlines or control characters")
        else:
            out.append((item_key, item))
    return out


def image_repository(raw: str, key: str, ctx: Context) -> str:
    if ":" in raw.rsplit("/", 1)[-1] or "@" in raw:
        ctx.add(key, f"{raw!r}: give the repository without a tag or digest "
                "(tags come from TAG / bslim tags)")
    elif not REPOSITORY_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} is not a valid image repository (lowercase, e.g. "
                "ghcr.io/acme/spark)")
    return raw


def python_version(raw: str, key: str, ctx: Context) -> str:
    if not _PYTHON_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} must be a Python version X.Y, e.g. \"3.13\"")
    return raw


def debian_release(raw: str, key: str, ctx: Context) -> str:
    if not _DEBIAN_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} must be a Debian release name, e.g. "
                + ", ".join(DEBIAN_RELEASES) + suggest(raw, DEBIAN_RELEASES))
    elif raw not in DEBIAN_RELEASES and suggest(raw, DEBIAN_RELEASES):
        ctx.add(key, f"{raw!r} is not a Debian release" + suggest(raw, DEBIAN_RELEASES))
    return raw


def _platform(item: str, item_key: str, ctx: Context) -> bool:
    if item in PLATFORMS:
        return True
    ctx.add(item_key, f"{item!r} is not a supported platform"
            + (suggest_platform(item, PLATFORMS) or "; valid: " + ", ".join(PLATFORMS)))
    return False


def platform_list(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    out: list[str] = []
    if not raw:
        ctx.add(key, "must name at least one platform, e.g. [\"linux/amd64\"]")
    for item_key, item in _strings(raw, key, ctx):
        if not _platform(item, item_key, ctx):
            continue
        if item in out:
            ctx.add(item_key, f"{item!r} is listed twice")
        else:
            out.append(item)
    return tuple(out)


def exec_form(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    return tuple(v for _, v in _strings(raw, key, ctx))


def entrypoint(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    if not raw:
        ctx.add(key, "must not be empty; omit it to use the default")
    return exec_form(raw, key, ctx)


def workdir(raw: str, key: str, ctx: Context) -> str:
    path = raw.rstrip("/") if raw != "/" else raw
    if path != "/" and (not _WORKDIR_RE.fullmatch(path)
                        or any(part in (".", "..") for part in path.split("/"))):
        ctx.add(key, f"{raw!r} must be an absolute path of letters, digits and . _ + ~ -, "
                "without '..', e.g. \"/app\"")
    elif path in _SYSTEM_DIRS or path == "/" or any(
            path.startswith(tree + "/") for tree in _SYSTEM_TREES):
        ctx.add(key, f"{raw!r} is a system directory (or inside one); it would be "
                "chowned to the user: use a directory of its own, e.g. \"/app\"")
    return raw


def user_name(raw: str, key: str, ctx: Context) -> str:
    if not _USER_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} must be a user name like \"app\" (lowercase letters, digits, "
                "'_' or '-'), or \"root\"")
    return raw


def string_table(pattern: re.Pattern[str], what: str) -> Check:
    """A table of names (matching `pattern`, `what` names them) to strings (or numbers)."""
    def check(raw: dict[str, Any], key: str, ctx: Context) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for name, value in raw.items():
            item_key = f"{key}.{dotted(name)}"
            if not pattern.fullmatch(name):
                ctx.add(item_key, f"{name!r} is not a valid {what} name")
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                ctx.add(item_key, f"must be a string, got {describe(value)}")
            elif CONTROL_RE.search(str(value)):
                ctx.add(item_key, "must not contain newlines or control characters")
            else:
                out.append((name, str(value)))
        return tuple(sorted(out))
    return check


def ports(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    out: list[str] = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        match = _EXPOSE_RE.fullmatch(str(item)) if isinstance(item, int | str) and \
            not isinstance(item, bool) else None
        if match is None or not 0 < int(match.group(1)) < 65536:
            ctx.add(item_key, f"{item!r} is not a port; use 8080 or \"8080/tcp\", \"53/udp\"")
            continue
        port = f"{int(match.group(1))}/{match.group(2) or 'tcp'}"
        if port not in out:
            out.append(port)
    return tuple(out)


def extras(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    known = [name for name, _ in ctx.project.optional_dependencies]
    out: list[str] = []
    for item_key, item in _strings(raw, key, ctx):
        extra = str(canonicalize_name(item))
        if extra not in known:
            valid = suggest(extra, known) or (
                "; [project.optional-dependencies] has " + ", ".join(known) if known
                else "; the project defines no [project.optional-dependencies]")
            ctx.add(item_key, f"{item!r} is not an extra of the project" + valid)
        elif extra not in out:
            out.append(extra)
    return tuple(sorted(out))


def _in_project(raw: str, key: str, ctx: Context, kind: str, *, context: bool = True) -> str:
    problem = _path_problem(raw, ctx, kind, context=context)
    if problem is not None:
        ctx.add(key, problem)
    return PurePosixPath(raw).as_posix()


def _path_problem(raw: str, ctx: Context, kind: str, *, context: bool) -> str | None:
    """What is wrong with a path in the project of `kind` ("file": a regular one, or
    "directory"); `context`: the build gets it from the build context, so it may not be one
    the context leaves out."""
    path = PurePosixPath(raw).as_posix()
    source = ctx.source
    excluded = excluded_by_default(path) if context and safe_path(raw) else None
    if not safe_path(raw):
        return f"{raw!r} must be a relative path inside the project ({PATH_RULE})"
    if kind == "directory" and context and not PurePosixPath(path).parts:
        # `!.` in .dockerignore would bring back everything it leaves out.
        return f"{raw!r} is the project itself; name a {kind} in it"
    if excluded is not None:
        return (f"{raw!r} is left out of the build context (.dockerignore: {excluded}), as "
                "secrets, version control, virtualenvs and tool caches always are; name a "
                f"{kind} elsewhere (dist/ and build/ may hold one)")
    if path in source.outside:
        return (f"{raw!r} leads outside the project through a symlink; the build context "
                "holds only the project")
    if path not in source.existing:
        return f"{kind} {raw!r} does not exist in the project"
    if kind == "file" and path in source.not_files:
        what = "a directory" if path not in source.not_dirs else "a FIFO, socket or device"
        return f"{raw!r} is {what}, not a regular file"
    if kind == "directory" and path in source.not_dirs:
        what = "a file" if path not in source.not_files else "a FIFO, socket or device"
        return f"{raw!r} is {what}, not a directory"
    return None


def project_file(raw: str, key: str, ctx: Context) -> str:
    """A file bslim reads itself (a Dockerfile), not through the build context."""
    return _in_project(raw, key, ctx, "file", context=False)


def context_file(raw: str, key: str, ctx: Context) -> str:
    """A file the build copies from the context (requirements)."""
    return _in_project(raw, key, ctx, "file")


def lock_file(raw: str | bool, key: str, ctx: Context) -> str | None:
    """`false`: no lock; a path: the lock (its format from its name, its content read later)."""
    return None if raw is False else project_file(str(raw), key, ctx)


def project_dirs(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    return tuple(_in_project(item, item_key, ctx, "directory")
                 for item_key, item in _strings(raw, key, ctx))


def apt_packages(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    out: list[str] = []
    for item_key, item in _strings(raw, key, ctx):
        if not _APT_RE.fullmatch(item):
            ctx.add(item_key, f"{item!r} is not a Debian package name (e.g. libffi-dev or "
                    "libffi-dev=3.4.4-1)")
        elif item not in out:
            out.append(item)
    return tuple(sorted(out))


def url(raw: str, key: str, ctx: Context) -> str:
    # Credentials never get here: parsing refuses them in every value (problems.credentials).
    if not _URL_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} must be an http(s) URL without spaces or quotes")
    return raw


def urls(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    return tuple(url(item, item_key, ctx) for item_key, item in _strings(raw, key, ctx))


def platform_urls(
    raw: dict[str, Any], key: str, ctx: Context
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for platform, items in sorted(raw.items()):
        item_key = f"{key}.{dotted(platform)}"
        if not _platform(platform, item_key, ctx):
            continue
        if not isinstance(items, list):
            ctx.add(item_key, f"must be an array of URLs, got {describe(items)}")
        else:
            out.append((platform, urls(items, item_key, ctx)))
    return tuple(out)


_RUNNER_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def platform_runners(
    raw: dict[str, Any], key: str, ctx: Context
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`runners`: platform -> a GitHub Actions runner label, or an array of labels (a
    self-hosted runner's, all of which it must have)."""
    out = []
    for platform, value in sorted(raw.items()):
        item_key = f"{key}.{dotted(platform)}"
        if not _platform(platform, item_key, ctx):
            continue
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            ctx.add(item_key, "must be a runner label (e.g. \"ubuntu-24.04-arm\") or a "
                    f"non-empty array of labels, got "
                    f"{'an empty array' if value == [] else describe(value)}")
            continue
        labels = []
        for label_key, label in _strings(items, item_key, ctx):
            if _RUNNER_LABEL_RE.fullmatch(label):
                labels.append(label)
            else:
                ctx.add(label_key if not isinstance(value, str) else item_key,
                        f"{label!r} is not a runner label (letters, digits, '.', '_' and '-', "
                        "starting with a letter or digit)")
        if len(labels) == len(items):
            out.append((platform, tuple(labels)))
    return tuple(out)


def wheel_sources(raw: list[Any], key: str, ctx: Context) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for item_key, item in _strings(raw, key, ctx):
        path = PurePosixPath(item).as_posix()
        if safe_path(item) and (path in ctx.source.existing or path in ctx.source.outside):
            # A directory handed to the build as a named context, whole.
            problem = _path_problem(item, ctx, "directory", context=True)
            if problem is None:
                out.append(("dir", path))
            else:
                ctx.add(item_key, problem)
        elif IMAGE_REF_RE.fullmatch(item) and ":" in item.rsplit("/", 1)[-1]:
            out.append(("image", item))
        else:
            ctx.add(item_key, f"{item!r} is neither a wheel image with a tag (e.g. "
                    "\"ghcr.io/acme/base-wheels:1.2\") nor a directory in the project")
    return tuple(out)


def cache_repository(raw: str, key: str, ctx: Context) -> str | Refused:
    if not REPOSITORY_RE.fullmatch(raw):
        ctx.add(key, f"{raw!r} must be an image repository without tag, e.g. "
                "\"ghcr.io/acme/spark-cache\"")
        return REFUSED
    return raw


def cache_dir(raw: str, key: str, ctx: Context) -> str | Refused:
    if not safe_path(raw):
        ctx.add(key, f"{raw!r} must be a relative directory inside the project, e.g. "
                f"\".cache/buildkit\" ({PATH_RULE})")
        return REFUSED
    local = PurePosixPath(raw).as_posix()
    if local in ctx.source.outside:
        ctx.add(key, f"{local!r} leads outside the project through a symlink")
        return REFUSED
    if local in ctx.source.not_dirs:
        ctx.add(key, f"{local!r} is a file, not a directory")
        return REFUSED
    return local


def output_dir(raw: str, key: str, ctx: Context) -> str | Refused:
    """bslim writes there, and the whole directory goes into .dockerignore."""
    if not safe_path(raw) or PurePosixPath(raw).parts == ():
        # It becomes a .dockerignore line and the bake file's dockerfile path; "." would put
        # the generated Dockerfile over the project's own and ignore the whole context.
        ctx.add(key, f"{raw!r} must be a relative path to a directory inside the project "
                f"(not '.'; {PATH_RULE})")
        return REFUSED
    path = PurePosixPath(raw).as_posix()
    source = ctx.source
    if path in source.outside:
        ctx.add(key, f"{path!r} leads outside the project through a symlink; bslim writes "
                "only inside the project")
    elif path in source.not_dirs:
        ctx.add(key, f"{path!r} is a file, not a directory")
    elif source.foreign_output:
        shown = ", ".join(source.foreign_output[:3]) + (
            ", ..." if len(source.foreign_output) > 3 else "")
        ctx.add(key, f"{path!r} holds files bslim does not write ({shown}); the output "
                "directory is left out of the build context, so they would be too: use a "
                "directory of its own, e.g. \"bake\"")
    return path


def distribution_names(raw: list[Any], key: str, ctx: Context) -> tuple[str, ...]:
    """Distribution names (PEP 508), normalized (PEP 503)."""
    out: list[str] = []
    for index, item in enumerate(raw):  # each item's problem in the array's order
        item_key = f"{key}[{index}]"
        if not isinstance(item, str):
            ctx.add(item_key, f"must be a string, got {describe(item)}")
            continue
        if not _DISTRIBUTION_RE.fullmatch(item):
            ctx.add(item_key, f"{item!r} is not a distribution name (e.g. \"numpy\")")
        elif (name := str(canonicalize_name(item))) not in out:
            out.append(name)
    return tuple(sorted(out))


def distribution_env(
    raw: dict[str, Any], key: str, ctx: Context
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """A table of distribution names to tables of environment variables, whose values may
    name the target's GNU type as {host}."""
    variables = string_table(ENV_KEY_RE, "environment variable")
    out = []
    for name, env in raw.items():
        item_key = f"{key}.{dotted(name)}"
        if not _DISTRIBUTION_RE.fullmatch(name):
            ctx.add(item_key, f"{name!r} is not a distribution name (e.g. \"uvloop\")")
        elif not isinstance(env, dict):
            ctx.add(item_key, "must be a table of environment variables, e.g. "
                    f"{{ LIBUV_CONFIGURE_HOST = \"{{host}}\" }}, got {describe(env)}")
        else:
            values = variables(env, item_key, ctx)
            for variable, value in values:
                for unknown in (p for p in _PLACEHOLDER_RE.findall(value) if p != "host"):
                    ctx.add(f"{item_key}.{variable}", f"unknown placeholder {{{unknown}}}; "
                            "valid: {host} (the target's GNU type, e.g. arm-linux-gnueabihf)")
            out.append((str(canonicalize_name(name)), values))
    return tuple(sorted(out))
