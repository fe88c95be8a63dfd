"""Is the lock the project's, and can every platform install it? Answered before any build.

Stale: uv.lock records what the project required when it was locked (`requires-dist`), so it
is compared with `[project].dependencies` and `[project.optional-dependencies]` requirement by
requirement (markers by meaning: uv rewrites them). pylock.toml and requirements files do not
record it; for them, and for uv.lock too, every requirement of the project that applies on a
platform must be met there by the version the lock gives (and pip-compile's `# via`
annotations name lines the project asked for but no longer does).
Incomplete: a package a platform takes with no file that installs there (select.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion

from buildkit_slim.locks.environment import AmbiguousMarker, TargetEnvironment, equivalent
from buildkit_slim.locks.model import Lock, LockError
from buildkit_slim.locks.selection import PlatformLock, select


def refresh_hint(lock: Lock) -> str:
    """How the user regenerates this lock (bslim never writes one)."""
    tool = lock.created_by or ""
    if lock.format == "uv.lock":
        return "refresh it with `uv lock`"
    if lock.format == "pylock.toml":
        commands = {
            "uv": f"`uv lock && uv export --format pylock.toml -o {lock.path}`",
            "pip": f"`pip lock . -o {lock.path}`; pip locks for the machine it runs on only "
                   "(its wheels, no markers): for several platforms use a universal lock, "
                   "`uv lock` (uv.lock, or `uv export --format pylock.toml`)",
            "pdm": "`pdm lock --format pylock`",
        }
        return "refresh it with " + commands.get(
            tool.split(" ", 1)[0].lower(), "the tool that wrote it (`uv export --format "
            "pylock.toml`, `pdm lock --format pylock`, `pip lock`)")
    commands = {
        "pip-compile": "`pip-compile --generate-hashes`",
        "uv pip compile": "`uv pip compile --universal --generate-hashes`",
        "uv export": f"`uv lock && uv export --format requirements-txt -o {lock.path}`",
        "uv": "`uv pip compile --universal --generate-hashes`",
        "pdm export": "`pdm lock && pdm export`",
    }
    return "refresh it with " + commands.get(
        tool, "the tool that wrote it (`pip-compile --generate-hashes`, `uv pip compile "
        "--universal --generate-hashes`, `uv export`, `pdm export`)")


def declared(dependencies: Sequence[str], optional: Sequence[tuple[str, Sequence[str]]]
             ) -> list[Requirement]:
    """pyproject's requirements as a lock records them: the optional ones with their
    `extra == "<name>"` marker."""
    out = [Requirement(text) for text in dependencies]
    for extra, texts in optional:
        for text in texts:
            req = Requirement(text)
            marker = f'extra == "{extra}"'
            req = Requirement(str(req).split(";", 1)[0].strip() + " ; " + (
                f"({req.marker}) and {marker}" if req.marker is not None else marker))
            out.append(req)
    return out


def _key(req: Requirement) -> tuple[str, frozenset[str], SpecifierSet]:
    return (str(canonicalize_name(req.name)),
            frozenset(str(canonicalize_name(e)) for e in req.extras), req.specifier)


def _same(first: Requirement, second: Requirement) -> bool:
    if _key(first) != _key(second):
        return False
    if first.url and second.url and first.url != second.url:
        return False  # a [tool.uv.sources] entry makes a URL of a plain name: not compared
    return equivalent(None if first.marker is None else str(first.marker),
                      None if second.marker is None else str(second.marker))


def stale_requirements(locked: Sequence[str], wanted: Sequence[Requirement]
                       ) -> tuple[list[str], list[str]]:
    """(required by pyproject but not locked, locked but no longer required)."""
    remaining = [Requirement(text) for text in locked]  # the reader checked them
    missing: list[str] = []
    for req in wanted:
        match = next((i for i, other in enumerate(remaining) if _same(req, other)), None)
        if match is None:
            missing.append(str(req))
        else:
            del remaining[match]
    return missing, [str(r) for r in remaining]


def check_roots(lock: Lock, *, project: str, dependencies: Sequence[str] | None,
                optional: Sequence[tuple[str, Sequence[str]]], extras: Sequence[str]
                ) -> list[str]:
    """uv.lock's record of the project's requirements against pyproject.toml's."""
    if lock.format != "uv.lock" or dependencies is None:
        return []  # nothing recorded, or pyproject's are dynamic: the platform checks remain
    roots = [p for p in lock.named(project) if p.is_source_tree and p.requires_dist is not None]
    if not roots:
        return []  # select() says the project is missing
    root = next((p for p in roots if p.source in (".", "")), roots[0])
    assert root.requires_dist is not None
    problems = []
    missing, extra = stale_requirements(root.requires_dist, declared(dependencies, optional))
    for text in missing:
        problems.append(f"{lock.path}: stale: pyproject.toml requires `{text}`, which the "
                        "lock was not made with")
    for text in extra:
        problems.append(f"{lock.path}: stale: the lock was made with `{text}`, which "
                        "pyproject.toml no longer requires")
    for name in extras:
        if root.provides_extras is not None and name not in root.provides_extras:
            problems.append(f"{lock.path}: stale: the lock has no extra {name!r} of {project}")
    return problems


def check_platform(lock: Lock, platform_lock: PlatformLock, wanted: Sequence[str]) -> list[str]:
    """Every requirement of the project that applies on this platform is met by the version
    the lock installs there."""
    env = platform_lock.environment
    problems = []
    for text in wanted:
        req = Requirement(text)
        try:
            if not env.evaluate(None if req.marker is None else str(req.marker)):
                continue
        except AmbiguousMarker:
            problems.append(f"{lock.path}: {env.platform}: `{text}`: its marker depends on the "
                            "patch release of Python or on the kernel")
            continue
        name = str(canonicalize_name(req.name))
        found = next((p for p in platform_lock.packages if p.name == name), None)
        if found is None:
            problems.append(f"{lock.path}: stale: {env.platform} needs `{text}` and the lock "
                            f"installs no {name} there")
            continue
        if req.url:
            if found.url != req.url:
                problems.append(f"{lock.path}: stale: `{text}`, the lock has {found.name} "
                                f"from {found.url or 'an index'}")
            continue
        try:
            ok = found.version is not None and req.specifier.contains(found.version,
                                                                      prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append(f"{lock.path}: stale: {env.platform} needs `{text}`, the lock has "
                            f"{found.name} {found.version}")
    return problems


def check_via(lock: Lock, *, project: str, wanted_names: set[str]) -> list[str]:
    """pip-compile's annotations: a line the project asked for (`# via <project>`) that no
    requirement of the project names any more."""
    problems = []
    for package in lock.packages:
        if package.via and package.via == (project,) and package.name not in wanted_names:
            problems.append(f"{lock.path}: stale: {package.name} is there because {project} "
                            "required it, and pyproject.toml no longer does")
    return problems


def check_lock(lock: Lock, environments: Sequence[TargetEnvironment], *, project: str,
               dependencies: Sequence[str] | None,
               optional: Sequence[tuple[str, Sequence[str]]],
               extras: Sequence[str] = (), wanted: Sequence[str] = ()
               ) -> dict[str, PlatformLock]:
    """Each platform's packages, or a LockError with every problem of the lock at once.
    `wanted`: the project's requirements with the chosen extras (blueprint.dependencies)."""
    problems = check_roots(lock, project=project, dependencies=dependencies,
                            optional=optional, extras=extras)
    if lock.extras is not None:
        problems += [f"{lock.path}: stale: the lock was made without the extra {name!r}"
                     for name in extras if name not in lock.extras]
    if dependencies is not None and lock.format == "requirements":
        names = {str(canonicalize_name(Requirement(t).name)) for t in dependencies}
        names |= {str(canonicalize_name(Requirement(t).name))
                  for _, texts in optional for t in texts}
        problems += check_via(lock, project=project, wanted_names=names)
    out: dict[str, PlatformLock] = {}
    for env in environments:
        platform_lock, platform_problems = select(lock, env, project=project, extras=extras)
        problems += platform_problems
        if not platform_problems:
            problems += check_platform(lock, platform_lock, wanted)
        out[env.platform] = platform_lock
    if problems:
        raise LockError(list(dict.fromkeys(problems)), hint=refresh_hint(lock))
    return out
