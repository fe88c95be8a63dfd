"""Which locked packages a target platform installs, at which versions, from which files.

uv.lock: walk the graph from the project (its requirements and those of the chosen extras),
taking each edge whose marker holds on the target. pylock.toml and requirements files: take
each package whose marker holds. Either way every package taken must have a file that
installs there — a wheel whose tags the target takes, else an sdist to compile — and only
those files' hashes go to pip (`--require-hashes --no-deps`), best wheel first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from buildkit_slim.locks.environment import AmbiguousMarker, TargetEnvironment
from buildkit_slim.locks.model import Artefact, Dependency, Lock, LockedPackage
from buildkit_slim.locks.uvlock import source_key


@dataclass(frozen=True, kw_only=True)
class Selected:
    name: str
    version: str | None
    # What installs on the target, best first: wheels by pip's tag preference, then sdists.
    # From a requirements file: one entry per hash (pip finds the files at build time).
    artefacts: tuple[Artefact, ...]
    url: str | None = None  # a direct URL requirement (not from an index)

    @property
    def wheel(self) -> Artefact | None:
        return next((a for a in self.artefacts if a.kind == "wheel"), None)

    @property
    def sdist(self) -> Artefact | None:
        return next((a for a in self.artefacts if a.kind == "sdist"), None)

    @property
    def how(self) -> str:
        """"pure" (a py3-none-any wheel), "wheel" (a binary wheel for the target), "sdist"
        (compiled: no wheel fits), "pip" (hash-pinned; pip picks the file at build time)."""
        wheel = self.wheel
        if wheel is not None:
            return "pure" if all(t.endswith("-any") for t in wheel.wheel_tags) else "wheel"
        return "sdist" if self.sdist is not None else "pip"

    @property
    def requirement(self) -> str:
        """This package's line for `pip install --require-hashes --no-deps -r`."""
        head = f"{self.name} @ {self.url}" if self.url else f"{self.name}=={self.version}"
        hashes = sorted({h for a in self.artefacts for h in a.pip_hashes})
        return " \\\n    ".join([head, *(f"--hash={h}" for h in hashes)])


@dataclass(frozen=True, kw_only=True)
class PlatformLock:
    environment: TargetEnvironment
    lock_path: str
    packages: tuple[Selected, ...]  # by name

    @property
    def platform(self) -> str:
        return self.environment.platform

    def requirements_text(self) -> str:
        """Every package of this platform, pinned and hashed: pip's input in the build."""
        return "".join(f"{p.requirement}\n" for p in self.packages)

    def version(self, name: str) -> str | None:
        return next((p.version for p in self.packages if p.name == name), None)


def select(lock: Lock, env: TargetEnvironment, *, project: str,
           extras: Sequence[str] = ()) -> tuple[PlatformLock, list[str]]:
    """The target's packages and what stands in the way (problems, each naming the lock, the
    platform and the package): an empty list means the lock can be installed there."""
    problems: list[str] = []
    say = f"{lock.path}: {env.platform}"
    if lock.requires_python:
        try:
            if not env.python_in(lock.requires_python):
                problems.append(f"{say}: the lock's requires-python {lock.requires_python} "
                                f"excludes Python {env.python}")
        except AmbiguousMarker:
            problems.append(f"{say}: the lock's requires-python {lock.requires_python} "
                            f"depends on the patch release of Python {env.python}")
    if lock.environments and not any(
            _holds(env, m, problems, say, "environments", lock) for m in lock.environments):
        problems.append(f"{say}: the lock covers only {' or '.join(lock.environments)}")
    if lock.format == "uv.lock":
        chosen = _walk(lock, env, project, extras, problems, say)
    else:
        chosen = [p for p in lock.packages if p.name != project
                  and _holds(env, p.marker, problems, say, p.label, lock, extras)]
    selected: dict[str, Selected] = {}
    for package in chosen:
        item = _installable(package, env, problems, say)
        if item is None:
            continue
        other = selected.get(package.name)
        if other is not None and other != item:
            problems.append(f"{say}: {package.name}: the lock gives two versions here "
                            f"({other.version} and {item.version}); markers must pick one")
            continue
        selected[package.name] = item
    packages = tuple(selected[name] for name in sorted(selected))
    return PlatformLock(environment=env, lock_path=lock.path, packages=packages), problems


def _holds(env: TargetEnvironment, marker: str | None, problems: list[str], say: str,
           what: str, lock: Lock, extras: Sequence[str] = ()) -> bool:
    try:
        if lock.format == "pylock.toml":
            return env.evaluate(marker, extras=set(extras), groups=set(lock.default_groups))
        return env.evaluate(marker)
    except AmbiguousMarker:
        problems.append(f"{say}: {what}: marker {marker!r} depends on the patch release of "
                        "Python or on the kernel, which bslim does not know before the build")
        return False


def _walk(lock: Lock, env: TargetEnvironment, project: str, extras: Sequence[str],
          problems: list[str], say: str) -> list[LockedPackage]:
    roots = [p for p in lock.named(project) if p.is_source_tree]
    if not roots:
        problems.append(f"{lock.path}: has no entry for the project {project!r} (is it the "
                        "lock of another project?)")
        return []
    root = next((p for p in roots if p.source in (".", "")), roots[0])
    out: list[LockedPackage] = []
    seen: set[tuple[int, str]] = set()
    pending: list[tuple[LockedPackage, tuple[str, ...]]] = [(root, ("", *extras))]
    index = {id(p): i for i, p in enumerate(lock.packages)}
    while pending:
        package, wanted = pending.pop()
        optional = dict(package.optional_dependencies)
        for extra in wanted:
            key = (index[id(package)], extra)
            if key in seen:
                continue
            seen.add(key)
            if extra and extra not in optional:
                if package is root:
                    problems.append(f"{say}: the lock has no extra {extra!r} of {project}")
                continue
            edges = optional[extra] if extra else package.dependencies
            for edge in edges:
                if not _holds(env, edge.marker, problems, say,
                              f"{package.name} -> {edge.name}", lock):
                    continue
                target = _resolve(lock, edge, env, problems, say)
                if target is None:
                    continue
                if target is not root and all(target is not p for p in out):
                    out.append(target)
                pending.append((target, ("", *edge.extras)))
    return out


def _resolve(lock: Lock, edge: Dependency, env: TargetEnvironment, problems: list[str],
             say: str) -> LockedPackage | None:
    candidates = [p for p in lock.named(edge.name)
                  if (edge.version is None or p.version == edge.version)
                  and (edge.source is None or source_key(p) == edge.source)]
    if len(candidates) > 1:
        candidates = [p for p in candidates if not p.resolution_markers or any(
            _holds(env, m, problems, say, p.label, lock) for m in p.resolution_markers)]
    if len(candidates) != 1:
        found = ", ".join(p.label for p in lock.named(edge.name)) or "none"
        wanted = f"{edge.name} {edge.version}" if edge.version else edge.name
        problems.append(f"{say}: cannot tell which {wanted} the lock means (it has: {found})")
        return None
    return candidates[0]


def _installable(package: LockedPackage, env: TargetEnvironment, problems: list[str],
                 say: str) -> Selected | None:
    if package.is_source_tree:
        problems.append(f"{say}: {package.label} comes from a {package.source_kind} source "
                        f"({package.source}); bslim installs the project's dependencies "
                        "only from files with hashes: publish it, or lock a wheel or sdist")
        return None
    if package.requires_python:
        try:
            if not env.python_in(package.requires_python):
                problems.append(f"{say}: {package.label} requires Python "
                                f"{package.requires_python}, the image has {env.python}")
                return None
        except AmbiguousMarker:
            pass  # a patch-release bound: pip checks it at build time
    url = package.source if package.source_kind == "url" else None
    if package.source_kind == "requirements":
        return Selected(name=package.name, version=package.version,
                        artefacts=package.artefacts)
    wheels = sorted(
        ((rank, a) for a in package.artefacts if a.kind == "wheel"
         for rank in [env.wheel_rank(a.filename)] if rank is not None),
        key=lambda item: (item[0], item[1].filename))
    sdists = [a for a in package.artefacts if a.kind == "sdist"]
    if not wheels and not sdists:
        offered = sorted({a.filename for a in package.artefacts}) or ["no files"]
        problems.append(f"{say}: {package.label}: no file installs here — no wheel for "
                        f"{env.machine}/cp{env.python.replace('.', '')} (glibc "
                        f"{'.'.join(map(str, env.glibc))}) and no sdist; the lock has: "
                        + ", ".join(offered[:4]) + (" ..." if len(offered) > 4 else ""))
        return None
    return Selected(name=package.name, version=package.version, url=url,
                    artefacts=(*(a for _, a in wheels), *sdists))
