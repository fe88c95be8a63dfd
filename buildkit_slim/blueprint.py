"""Blueprint: which targets, stages, platforms, tags and labels a build has (pure)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from buildkit_slim.bases import PINS_FILE, BasePins, PinError, check_pins, pinned
from buildkit_slim.config import (
    PLATFORMS,
    SHIM_DIR,
    Config,
    ProjectMeta,
    TargetConfig,
    suggest,
    suggest_platform,
)
from buildkit_slim.errors import UsageError
from buildkit_slim.locks import Lock, LockError, PlatformLock, TargetEnvironment, check_lock
from buildkit_slim.platforms import arg_pair, pair

WHEELS_SUFFIX = "-wheels"  # bake target of a target's wheel image (publish-wheels)
# fast-wheels' helper, written beside the generated files and handed to the fetch stage as a
# named build context (a file of its own, not a heredoc in every Dockerfile).
SHIM_CONTEXT = "bslim-shim"


CONTEXT = "context:"  # a BuildStage base that is a named build context, not a stage


@dataclass(frozen=True, kw_only=True)
class BuildStage:
    """One stage of a generated Dockerfile: its name, what it starts from, the stages and
    named contexts it copies or mounts from, and the platform it runs for. The renderer
    spells every FROM and every cross-stage reference from these, nothing else."""

    role: str  # fetch, fetch-project, fetch-report, compile, compile-project, wheels, ...
    name: str
    base: str  # a stage's role, "builder"/"runtime" (the base images), "scratch", or CONTEXT+name
    reads: tuple[str, ...] = ()  # roles of the stages it copies or mounts from
    contexts: tuple[str, ...] = ()  # named build contexts it copies or mounts from
    native: bool = False  # FROM --platform=$BUILDPLATFORM: never emulated
    platform: str | None = None  # FROM --platform=<this>: one platform's, whatever the target


# fast-wheels: fetch and install natively, compile on the target only what has no wheel there.
# `reads` of stages that take inherited wheels (wheels-from) are completed by blueprint_stages.
FAST_STAGES = (
    BuildStage(role="fetch", name="fetch", base="builder", native=True,
               contexts=(SHIM_CONTEXT,)),
    BuildStage(role="fetch-project", name="fetch-project", base="fetch"),
    BuildStage(role="fetch-report", name="fetch-report", base="scratch",
               reads=("fetch", "fetch-project")),
    BuildStage(role="compile", name="compile", base="builder", reads=("fetch",)),
    BuildStage(role="compile-project", name="compile-project", base="compile",
               reads=("fetch", "fetch-project")),
    BuildStage(role="wheels", name="wheels", base="scratch",
               reads=("fetch", "fetch-project", "compile-project")),
    BuildStage(role="wheelhouse", name="wheelhouse", base="scratch", reads=("wheels",)),
    BuildStage(role="install", name="install", base="runtime",
               reads=("fetch", "fetch-project", "wheels"), native=True),
    BuildStage(role="runtime", name="runtime", base="runtime", reads=("install",)),
)
# Cross-compiling, with fast-wheels: the target's builder (apt-build, asked for its ABI facts)
# and, on the build platform, the cross builds (the cross compiler installed there only when
# something is to be cross-compiled); `compile` then starts from the target's builder, proves
# each cross-built wheel there and compiles the rest.
CROSS_STAGES = (
    BuildStage(role="target-root", name="target-root", base="builder",
               contexts=(SHIM_CONTEXT,)),
    BuildStage(role="cross", name="cross", base="builder", native=True,
               reads=("fetch", "target-root")),
)
# The plain strategy: pip builds and installs on the target.
PLAIN_STAGES = (
    BuildStage(role="wheels", name="wheels", base="builder", contexts=(SHIM_CONTEXT,)),
    BuildStage(role="wheelhouse", name="wheelhouse", base="scratch", reads=("wheels",)),
    BuildStage(role="runtime", name="runtime", base="runtime", reads=("wheels",)),
)


def inherited_role(index: int, platform: str | None = None) -> str:
    """The stage holding the index-th wheels-from image: for the target, or for `platform`."""
    return f"wheels-from-{index}-{pair(platform) if platform else 'target'}"


def blueprint_stages(prefix: str, *, fast: bool, contexts: Sequence[tuple[str, str]] = (),
                     platforms: Sequence[str] = (), cross: bool = False) -> tuple[BuildStage, ...]:
    """A target's stages, named `<prefix><role>` (several targets share one Dockerfile).
    wheels-from images come through stages of their own (the target's, and with fast-wheels
    each platform's for the native fetch); directories are read as named contexts. `cross`
    (with `fast`): the cross stages, before `compile`, which then reads them."""
    inherited: list[BuildStage] = []
    images = [(i, name) for i, (name, value) in enumerate(contexts)
              if value.startswith("docker-image://")]
    for index, name in images:
        inherited.append(BuildStage(role=inherited_role(index), name="",
                                    base=CONTEXT + name))
        inherited += [BuildStage(role=inherited_role(index, p), name="", base=CONTEXT + name,
                                 platform=p) for p in (platforms if fast else ())]
    dirs = tuple(name for name, value in contexts if not value.startswith("docker-image://"))
    targets = tuple(inherited_role(i) for i, _ in images)
    every = tuple(inherited_role(i, p) for i, _ in images for p in platforms)
    takes = {"fetch": (every, dirs), "compile": (targets, dirs)} if fast \
        else {"wheels": (targets, dirs)}
    graph = list(FAST_STAGES if fast else PLAIN_STAGES)
    if fast and cross:
        at = next(i for i, s in enumerate(graph) if s.role == "compile")
        graph[at:at + 1] = [*CROSS_STAGES, replace(graph[at], base="target-root",
                                                    reads=("fetch", "cross"))]
        # install records which wheels are the cross stage's (bslim-origin.json, the SBOM's)
        graph = [replace(s, reads=(*s.reads, "cross")) if s.role == "install" else s
                 for s in graph]
    stages = [replace(s, reads=s.reads + takes[s.role][0], contexts=s.contexts
                      + takes[s.role][1]) if s.role in takes else s for s in graph]
    return tuple(replace(stage, name=prefix + stage.role) for stage in (*inherited, *stages))


@dataclass(frozen=True, kw_only=True)
class TargetBlueprint:
    config: TargetConfig
    dockerfile: str  # project-relative path bake points at
    platforms: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    # Dependencies built before the project's own code is copied, so that a code change does not
    # rebuild them. None: they are dynamic, so pip resolves them from the source.
    dependencies: tuple[str, ...] | None
    install: str  # what the runtime stage installs, e.g. "spark[redis]"
    # The generated Dockerfile's stages for this target; none for a user-supplied Dockerfile.
    stages: tuple[BuildStage, ...] = ()
    # The project's [build-system].requires: fast-wheels prepares them with the dependencies.
    build_requires: tuple[str, ...] = ()
    # Named build contexts the wheel stage copies inherited wheels from (wheels-from).
    contexts: tuple[tuple[str, str], ...] = ()
    # The project-relative directory holding SHIM_FILE and the lists (context SHIM_CONTEXT).
    shim_dir: str | None = None
    # With a lock: what each platform installs, by platform (dependencies only from there).
    locked: tuple[tuple[str, PlatformLock], ...] = ()
    # The base images as FROM names them: the configured tags, `@sha256:...` when pinned.
    builder_image: str = ""
    runtime_image: str = ""

    @property
    def lock_template(self) -> str | None:
        """In shim_dir: each platform's locked requirements, `{pair}` for its arg_pair()."""
        return f"{self.name}.{{pair}}.lock.txt" if self.locked else None

    def lock_file(self, platform: str) -> str:
        return f"{self.name}.{arg_pair(platform)}.lock.txt"

    @property
    def requirements_file(self) -> str | None:
        """In shim_dir: the dependencies, resolved before the project's code is copied."""
        return f"{self.name}.requirements.txt" if self.dependencies and not self.locked \
            else None

    @property
    def build_requires_file(self) -> str | None:
        """In shim_dir: [build-system].requires, prepared ahead (static dependencies only)."""
        return f"{self.name}.build-requires.txt" \
            if self.dependencies is not None and self.fetch_stage is not None else None

    def stage(self, role: str) -> str:
        """The name of the stage playing `role` (StopIteration when this target has none)."""
        return next(s.name for s in self.stages if s.role == role)

    def _maybe(self, role: str) -> str | None:
        return next((s.name for s in self.stages if s.role == role), None)

    @property
    def wheels_stage(self) -> str | None:
        """This platform's wheels (FROM scratch with fast-wheels); None: a user Dockerfile."""
        return self._maybe("wheels")

    @property
    def runtime_stage(self) -> str | None:
        return self._maybe("runtime")

    @property
    def wheelhouse_stage(self) -> str | None:
        """FROM scratch + the wheels: exports, wheel images."""
        return self._maybe("wheelhouse")

    @property
    def fetch_stage(self) -> str | None:
        """fast-wheels: the native stage that resolves and downloads for every platform."""
        return self._maybe("fetch")

    @property
    def cross_stage(self) -> str | None:
        """fast-wheels with cross-compiling: the stage that cross-compiles on the build
        platform what has no wheel for the target."""
        return self._maybe("cross")

    @property
    def cache_key(self) -> str:
        """What changes a wheel compiled in this target's builder, as a short hash for cache
        mount ids: two projects on one builder share compiled wheels only when all of it is
        the same (a wheel built against trixie's glibc must never serve a bookworm image)."""
        config = self.config
        what = [config.builder_base, config.python, config.debian, *config.apt_build,
                *(f"{k}={v}" for k, v in config.args)]
        return hashlib.sha256("\0".join(what).encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True, kw_only=True)
class Blueprint:
    project: ProjectMeta
    output_dir: str
    targets: tuple[TargetBlueprint, ...]

    @property
    def dockerfile(self) -> str:
        return f"{self.output_dir}/Dockerfile"

    @property
    def bake_file(self) -> str:
        return f"{self.output_dir}/docker-bake.json"

    @property
    def local_caches(self) -> tuple[str, ...]:
        """.dockerignore patterns of the local caches (cache.local/<target>, -<platforms>,
        .new): every build rewrites them, which in the context would rerun the project's
        stages each time. Every target's (they share one context); only those, as
        cache.local may hold more."""
        return tuple(sorted({f"{t.config.cache.local}/{t.name}{suffix}" for t in self.targets
                             if t.config.cache.local for suffix in ("", "-*", ".new")}))

    @property
    def generated_targets(self) -> tuple[TargetBlueprint, ...]:
        return tuple(t for t in self.targets if t.wheels_stage is not None)


def make_blueprint(config: Config, locks: Mapping[str, Lock] | None = None,
                   pins: BasePins | None = None) -> Blueprint:
    """`locks`: the configured locks, read (by path); `pins`: <output-dir>/bases.lock.json,
    read, when there (every base image is then named by digest). Every lock problem and every
    missing pin of every target at once (exit 2), before anything is built."""
    single = len(config.targets) == 1
    dockerfile = f"{config.output_dir}/Dockerfile"
    targets = []
    lock_problems: list[str] = []
    hints: list[str] = []
    pin_problems: list[str] = []
    pins_path = f"{config.output_dir}/{PINS_FILE}"
    for target in config.targets:
        locked: dict[str, PlatformLock] = {}
        if target.lock is not None and target.dockerfile is None:
            try:
                if target.lock not in (locks or {}):
                    raise LockError([f"{target.lock}: the lock was not read (load.load reads "
                                     "the locks a configuration names)"])
                locked = lock_target(config.project, target, (locks or {})[target.lock])
            except LockError as exc:
                lock_problems += [p for p in exc.problems if p not in lock_problems]
                hints += [exc.hint] if exc.hint and exc.hint not in hints else []
        images = {"builder": target.builder_base, "runtime": target.runtime_base}
        if pins is not None and target.dockerfile is None:
            found = check_pins(images.values(), pins, platforms=target.platforms,
                               path=pins_path)
            pin_problems += [p for p in found if p not in pin_problems]
            if not found:
                images = {k: pinned(v, pins, platforms=target.platforms, path=pins_path)
                          for k, v in images.items()}
        own = target.dockerfile is not None
        # Lowercase: BuildKit lowercases stage names, but not the named contexts that share
        # the prefix (FROM <context> reads an uppercase one as an image reference).
        prefix = "" if single else f"{target.name.lower()}-"
        extras = f"[{','.join(target.extras)}]" if target.extras else ""
        contexts = wheel_contexts(target.wheels_from, prefix)
        targets.append(TargetBlueprint(
            config=target,
            dockerfile=target.dockerfile if target.dockerfile is not None else dockerfile,
            stages=() if own else blueprint_stages(prefix, fast=target.fast_wheels,
                                                   contexts=contexts, platforms=target.platforms,
                                                   cross=target.cross.enabled),
            platforms=target.platforms,
            labels=oci_labels(config.project, target),
            dependencies=dependencies(config.project, target.extras),
            install=f"{config.project.distribution}{extras}",
            build_requires=config.project.build_requires,
            contexts=contexts,
            shim_dir=None if own else f"{config.output_dir}/{SHIM_DIR}",
            locked=tuple(sorted(locked.items())),
            builder_image=images["builder"],
            runtime_image=images["runtime"],
        ))
    if lock_problems:
        raise LockError(lock_problems, hint="; ".join(hints) or None)
    if pin_problems:
        raise PinError(pin_problems)
    return Blueprint(project=config.project, output_dir=config.output_dir, targets=tuple(targets))


def lock_target(project: ProjectMeta, target: TargetConfig, lock: Lock
                ) -> dict[str, PlatformLock]:
    """What each platform of `target` installs from `lock`, checked against pyproject.toml
    (stale) and against every platform (incomplete): a LockError naming all of it."""
    environments = [TargetEnvironment(platform=p, python=target.python, debian=target.debian)
                    for p in target.platforms]
    return check_lock(lock, environments, project=project.distribution,
                      dependencies=project.dependencies,
                      optional=project.optional_dependencies, extras=target.extras,
                      wanted=dependencies(project, target.extras) or ())


def wheel_contexts(
    sources: Sequence[tuple[str, str]], prefix: str
) -> tuple[tuple[str, str], ...]:
    """Named contexts for wheels-from: images through docker-image://, directories as paths."""
    return tuple(
        (f"{prefix}wheels-from-{index}", f"docker-image://{value}" if kind == "image" else value)
        for index, (kind, value) in enumerate(sources)
    )


def oci_labels(project: ProjectMeta, target: TargetConfig) -> tuple[tuple[str, str], ...]:
    labels = {"org.opencontainers.image.title": project.name}
    if project.description:
        # One line, whatever the summary held (newlines, tabs, other control characters).
        labels["org.opencontainers.image.description"] = " ".join(
            re.sub(r"[\x00-\x1f\x7f]", " ", project.description).split())
    if project.version:
        labels["org.opencontainers.image.version"] = project.version
    if project.license:
        labels["org.opencontainers.image.licenses"] = project.license
    labels.update(dict(project.url_labels))  # [project.urls]: source, homepage
    labels.update(dict(target.labels))  # the user's labels win
    return tuple(sorted(labels.items()))


def dependencies(project: ProjectMeta, extras: Sequence[str]) -> tuple[str, ...] | None:
    """The project's requirements with the chosen extras, minus references to itself."""
    if project.dependencies is None:
        return None
    optional = dict(project.optional_dependencies)
    out: list[str] = []
    pending, done = list(extras), set()
    requirements = list(project.dependencies)
    while pending:
        extra = pending.pop()
        if extra not in done:
            done.add(extra)
            requirements.extend(optional.get(extra, ()))
    for text in requirements:
        req = Requirement(text)
        if canonicalize_name(req.name) == project.distribution:
            # `proj[a]` inside an extra: pull in that extra's requirements instead.
            extra_reqs = [r for e in sorted(req.extras) for r in optional.get(
                str(canonicalize_name(e)), ()) if e not in done]
            done.update(req.extras)
            requirements.extend(extra_reqs)
            continue
        if text not in out:
            out.append(text)
    return tuple(sorted(out, key=str.lower))


def select(blueprint: Blueprint, targets: Sequence[str], platforms: Sequence[str]) -> Blueprint:
    """Narrow the blueprint to the named targets and platforms, or say what would be valid."""
    names = [t.name for t in blueprint.targets]
    for name in targets:
        if name not in names:
            raise UsageError(f"target {name!r} is not defined" + suggest(name, names)
                             + f" (targets: {', '.join(names)})")
    chosen = [t for t in blueprint.targets if not targets or t.name in targets]
    if platforms:
        narrowed = []
        for target in chosen:
            for platform in platforms:
                if platform not in target.platforms:
                    raise UsageError(
                        f"--platform: {platform!r} is not a platform of target {target.name!r}"
                        # A real platform this target lacks is no typo: offer nothing.
                        + ("" if platform in PLATFORMS
                           else suggest_platform(platform, target.platforms))
                        + f" (platforms: {', '.join(target.platforms)})")
            keep = tuple(p for p in target.platforms if p in platforms)
            narrowed.append(replace(target, platforms=keep))
        chosen = narrowed
    return replace(blueprint, targets=tuple(chosen))
