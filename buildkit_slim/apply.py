"""Apply a blueprint: the orchestration of `render`, `bake` (build, staging, export) and `plan`'s
report, each one function the command line calls.

The flow goes one way: config -> blueprint -> render -> apply -> docker (publish.py for a staging
push). This module turns the command line's choices into a bake request, writes the generated
files, and runs the build; the local build cache around it is local_cache.py's.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from buildkit_slim import config, files, labels, render, staging
from buildkit_slim import reproducible as repro
from buildkit_slim.blueprint import Blueprint, TargetBlueprint, select
from buildkit_slim.docker import BakeRequest
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.load import load as load_project
from buildkit_slim.local_cache import local_cache_rotation
from buildkit_slim.oci import check_tag
from buildkit_slim.render.bake import DEFAULT_TAG
from buildkit_slim.request import BakeOptions, bake_request, export_dir, parse_overrides, warnings


def render_files(project_root: Path, blueprint: Blueprint, inputs: Path | None = None) -> list[str]:
    """Write the generation into the output directory; with `inputs`, also the private copy
    the build reads (BakeOptions.inputs)."""
    generated = render.render_all(blueprint)
    if inputs is not None:
        _write_inputs(blueprint, generated, inputs)
    return files.write_generated(project_root, blueprint.output_dir, generated)


def _write_inputs(blueprint: Blueprint, generated: Sequence[render.GeneratedFile],
                  inputs: Path) -> None:
    """The private copy of a generation a build reads (BakeOptions.inputs)."""
    for f in generated:
        path = inputs / f.path.removeprefix(blueprint.output_dir + "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_file(path, f.text.encode(), mode=files.GENERATED_MODE)


def run_bake(request: BakeRequest, *, quiet: bool = False) -> None:
    """quiet: keep buildx's progress to show it only when the build fails."""
    from buildkit_slim import docker

    docker.bake(request, emit=(lambda line: None) if quiet else None)


# --- the commands' orchestration ---------------------------------------------------------------

def load_blueprint(project: Path) -> Blueprint:
    return load_project(project)[1]


def configuration(project: Path) -> list[str]:
    """`bslim config`: the resolved configuration per target, each value with its origin."""
    from buildkit_slim.config.reference import listing

    cfg, _ = load_project(project)  # what the blueprint (and the lock) refuses is refused here too
    return listing(cfg)


def doctor(project: Path, *, builder: str | None, probe_bases: bool,
           say: Callable[[str], None]) -> None:
    """`bslim doctor`: each check's line to `say`; then CheckFailed when one failed."""
    from buildkit_slim import doctor as doctor_mod

    try:
        the_blueprint: Blueprint | None = load_blueprint(project)
    except UsageError:
        the_blueprint = None  # no project here: check the machine only
    checks = doctor_mod.run_checks(the_blueprint, builder=builder, probe_bases=probe_bases)
    for line in doctor_mod.format_checks(checks):
        say(line)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        raise CheckFailed(f"{len(failed)} check(s) failed: {', '.join(failed)}")


def render_project(project: Path, *, check: bool = False, stdout: bool = False) -> list[str]:
    """`bslim render`: write the generation (or, with `check`, compare it; with `stdout`, give
    the bake JSON); the lines to print."""
    the_blueprint = load_blueprint(project)
    generated = render.render_all(the_blueprint)
    if stdout:
        return next(f.text for f in generated if f.path == the_blueprint.bake_file).splitlines()
    if check:
        stale = files.read_generated(project, the_blueprint.output_dir, generated)
        if stale:
            raise CheckFailed(f"generated files are stale: {', '.join(stale)}",
                              hint=f"run `bslim render --project {project}` and commit them")
        return [f"up to date: {', '.join(f.path for f in generated)}"]
    written = files.write_generated(project, the_blueprint.output_dir, generated)
    return [f"{'wrote' if f.path in written else 'unchanged'} {f.path}" for f in generated]


@dataclass(frozen=True, kw_only=True)
class BuildChoices:
    """What `bslim bake` was asked, as the command line gave it; `bake` checks it."""

    project: Path
    load: bool = False
    push: bool = False
    print_: bool = False
    sets: tuple[str, ...] = ()  # --set pattern.key=value
    tag: str | None = None
    builder: str | None = None
    progress: str = "plain"
    metadata_file: Path | None = None
    ca_bundle: Path | None = None
    netrc: Path | None = None
    cache: bool = True
    export_cache: bool = True
    export_wheels: Path | None = None
    staging_dir: Path | None = None  # push one platform for a later merge (--staging)
    revision: str | None = None
    reproducible: bool | None = None  # None: [tool.slim] reproducible
    oci: Path | None = None  # images as OCI tarballs: DIR/<target>.oci.tar
    sbom: str | None = None  # an SBOM generator image: an SBOM attestation per platform


# buildx reads `id=ca,src=PATH` and `type=local,dest=PATH` as comma-separated fields.
_SPLITS_SPEC = re.compile(r'[,"\x00-\x1f\x7f]')


def check_paths(ca_bundle: Path | None, netrc: Path | None,
                export_wheels: Path | None = None, oci: Path | None = None) -> None:
    """Secret files must be files, and every path that goes into a buildx spec must reach it
    whole: a comma, quote or line break would make the rest another field (`id=evil`)."""
    for option, path in (("--ca-bundle", ca_bundle), ("--netrc", netrc),
                         ("--export-wheels", export_wheels), ("--oci", oci)):
        if path is None:
            continue
        if option in ("--ca-bundle", "--netrc") and not path.is_file():
            raise UsageError(f"{option}: {path} is not a file")
        resolved = str(path.resolve())
        if found := _SPLITS_SPEC.search(resolved):
            raise UsageError(f"{option}: {resolved!r} holds {found.group()!r}, which would split "
                             "it in the spec buildx reads it from",
                             hint="rename it, or pass a link to it from a path without one")


def _checked_tag(choices: BuildChoices, env: Mapping[str, str]) -> str | None:
    """One tag rule for every command (merge's): --tag, else a non-empty $TAG (an empty one is
    unset, as for merge: CI templates leave empty variables)."""
    if choices.tag is not None:
        return check_tag(choices.tag, "--tag")
    if env.get("TAG"):
        check_tag(env["TAG"], "TAG")
        return None
    return DEFAULT_TAG if "TAG" in env else None


def _check_choices(choices: BuildChoices) -> None:
    if choices.load and choices.push:
        raise UsageError("--load and --push: choose one")
    if choices.export_wheels is not None and (choices.load or choices.push):
        raise UsageError("--export-wheels writes wheels to a directory; it cannot be combined "
                         "with --load or --push")
    if choices.progress not in ("plain", "tty", "auto"):
        raise UsageError(f"--progress: {choices.progress!r} is not valid; use plain, tty or auto")
    check_paths(choices.ca_bundle, choices.netrc, choices.export_wheels, choices.oci)
    if choices.sbom is not None:
        if choices.export_wheels is not None:
            raise UsageError("--sbom attaches an SBOM to images; --export-wheels builds none "
                             "(it writes each platform's SBOM beside its manifest.json)")
        if not choices.sbom or _SPLITS_SPEC.search(choices.sbom) or \
                any(c.isspace() for c in choices.sbom):
            raise UsageError(f"--sbom: {choices.sbom!r} is not an image reference buildx can "
                             "take as `generator=` (no commas, quotes or spaces)",
                             hint="e.g. --sbom ghcr.io/bslim-dev/bslim:0.1.0 (bslim's own image "
                                  "is an SBOM generator)")


def build(targets: Sequence[str], platforms: Sequence[str], choices: BuildChoices, *,
          env: Mapping[str, str], warn: Callable[[str], None]) -> list[str]:
    """`bslim bake`: check the choices, render, build (or push one platform for a later merge,
    or export the wheels, or print what buildx resolves) the chosen targets for the chosen
    platforms (default all of each); the lines to print. `warn` gets warning lines as soon as
    they are known, before the build. Everything that can be refused is, before any write."""
    from buildkit_slim import docker, publish, wheels

    _check_choices(choices)
    tag = _checked_tag(choices, env)
    cfg, the_blueprint = load_project(choices.project)
    epoch = reproducible_epoch(
        choices.project, cfg.reproducible if choices.reproducible is None
        else choices.reproducible, env, push=choices.push, load=choices.load, oci=choices.oci,
        export_wheels=choices.export_wheels is not None, warn=warn)
    if epoch is not None and choices.push and not choices.print_:
        check_rewrite_push(choices.builder, choices.staging_dir is not None)
    chosen = select(the_blueprint, targets, platforms)
    if choices.sbom is not None and (plain := [t.name for t in chosen.targets
                                               if t.fetch_stage is None]):
        raise UsageError(f"--sbom: {', '.join(plain)} installs with pip on the target "
                         "(fast-wheels = false, or its own Dockerfile): that install records no "
                         "wheel or origin for the SBOM to list",
                         hint="use fast-wheels = true (the default) for an exact SBOM")
    staged = None if choices.staging_dir is None else staging.prepare(
        chosen, push=choices.push, export_wheels=choices.export_wheels is not None,
        print_=choices.print_, tag=tag or env.get("TAG") or DEFAULT_TAG,
        reproducible=epoch is not None)
    overrides = parse_overrides(choices.sets)
    # Per-build labels go in as --set, never into the committed bake file; --set wins.
    revision = labels.check_revision(choices.revision or env.get("GITHUB_SHA"))
    created = labels.created_from_epoch(epoch.seconds if epoch else
                                        env.get("SOURCE_DATE_EPOCH"))
    for target in chosen.targets:
        for key, value in labels.build_labels(target.name, revision=revision,
                                              created=created).items():
            overrides.setdefault(key, value)
        if choices.sbom is not None:  # BuildKit's SBOM generator protocol (bslim.sbom_scan)
            overrides.setdefault(f"{target.name}.attest", f"type=sbom,generator={choices.sbom}")
    with tempfile.TemporaryDirectory(prefix="bslim-inputs-") as tmp:
        # The build reads a private copy of the generation it rendered (gone when it is done).
        options = BakeOptions(
            project_root=choices.project, platforms=tuple(platforms), overrides=overrides,
            tag=tag, push=choices.push, load=choices.load, builder=choices.builder,
            progress=choices.progress, metadata_file=choices.metadata_file,
            ca_bundle=choices.ca_bundle, netrc=choices.netrc, cache=choices.cache,
            export_cache=choices.export_cache, export_wheels=choices.export_wheels,
            inputs=None if choices.print_ else Path(tmp), reproducible=epoch is not None,
            epoch=epoch.seconds if epoch else None, oci=choices.oci,
            sbom=choices.sbom is not None)
        for warning in warnings(chosen, env):
            warn(f"warning: {warning}")
        request = bake_request(the_blueprint, chosen, options)
        render_files(choices.project, the_blueprint, options.inputs)
        if choices.print_:
            return json.dumps(docker.bake_print(request), indent=2, sort_keys=True).splitlines()
        if choices.oci is not None:  # buildx 0.13 does not create an OCI tarball's directory
            choices.oci.mkdir(parents=True, exist_ok=True)
        with local_cache_rotation(chosen, choices.project, export_cache=choices.export_cache):
            if staged is not None and choices.staging_dir is not None:
                record, path = publish.run_staging(request, staged, choices.staging_dir,
                                                   choices.builder)
                how = "by digest" if record.mode == "digest" else f"as {record.ref}"
                return [f"staged {record.target} {record.platform} {record.digest} ({how}) "
                        f"in {path}"]
            run_bake(request)
    if choices.export_wheels is not None:
        out = choices.export_wheels
        single = len(chosen.targets) == 1
        lines = []
        for target in chosen.targets:
            manifest = wheels.collect(export_dir(out.resolve(), target.name),
                                      out if single else out / target.name, target.platforms)
            lines.append(f"wrote {manifest}")
        return lines
    names = ", ".join(f"{t.name} ({', '.join(t.platforms)})" for t in chosen.targets)
    return [f"built {names}" + (" and pushed" if choices.push else "") + (
        f" into {choices.oci}/<target>{repro.OCI_SUFFIX}" if choices.oci is not None else "")
        + (f", reproducibly (SOURCE_DATE_EPOCH {epoch.seconds}, {epoch.source})"
           if epoch else "")]


def reproducible_epoch(root: Path, reproducible: bool, env: Mapping[str, str], *, push: bool,
                       load: bool, oci: Path | None, export_wheels: bool,
                       warn: Callable[[str], None]) -> repro.Epoch | None:
    """--reproducible (or the key): what it may be combined with, and its SOURCE_DATE_EPOCH
    (the environment's, else the last commit's); None: not reproducible."""
    repro.check_outputs(reproducible=reproducible, push=push, load=load, oci=oci,
                        export_wheels=export_wheels)
    if not reproducible:
        return None
    epoch = repro.source_date_epoch(root, env)
    if epoch.dirty:
        warn(f"warning: --reproducible: the working tree differs from {epoch.source}: the "
             "image is this tree's, not that commit's")
    return epoch


def check_rewrite_push(builder: str | None, staged: bool) -> None:
    """--reproducible --push on a builder that cannot push with rewrite-timestamp: refused
    before anything is built, with the way around (exit 2)."""
    from buildkit_slim import docker

    facts = docker.builder_facts(builder)
    if staged and facts.driver != "docker":
        return  # pushed by digest: no image store in the way
    problem = repro.push_problem(facts.driver, docker.engine_facts().server_version)
    if problem is not None:
        raise UsageError(problem, hint=repro.PUSH_HINT)


def plan_report(project: Path, *, targets: Sequence[str] = (), platforms: Sequence[str] = (),
                builder: str | None = None, ca_bundle: Path | None = None,
                netrc: Path | None = None) -> list[str]:
    """`bslim plan`: say, per platform, what comes as a wheel and what will be compiled: from
    uv.lock or pylock.toml without a build, else by running the native fetch stage alone.
    Writes nothing in the project: the build reads a private copy of the generation, so the
    output directory stays as it was."""
    import platform as host

    from buildkit_slim import wheels
    from buildkit_slim.platforms import native as native_platform

    check_paths(ca_bundle, netrc)
    cfg, the_blueprint = load_project(project)
    chosen = select(the_blueprint, list(targets), list(platforms))
    native = native_platform(host.machine()) or ""
    from_lock = [t for t in chosen.targets if t.locked and wheels.lock_tells(t)]
    lines = [line for target in from_lock
             for line in wheels.locked_plan_lines(target, native, cfg.project.version)]
    fetched = replace(chosen, targets=tuple(t for t in chosen.targets if t not in from_lock))
    if not fetched.targets:
        return lines
    with tempfile.TemporaryDirectory(prefix="bslim-plan-") as tmp:
        options = BakeOptions(project_root=project, platforms=tuple(platforms),
                              builder=builder, ca_bundle=ca_bundle, netrc=netrc,
                              report_dir=Path(tmp), inputs=Path(tmp) / "inputs",
                              progress="plain")
        request = bake_request(the_blueprint, fetched, options)
        _write_inputs(the_blueprint, render.render_all(the_blueprint), Path(tmp) / "inputs")
        run_bake(request, quiet=True)
        return lines + [line for target in fetched.targets
                        for line in wheels.plan_lines(export_dir(Path(tmp).resolve(),
                                                                 target.name),
                                                      target.platforms, native, target.name)]


def lock_bases(project: Path, *, mirror: str | None) -> list[str]:
    """`bslim lock-bases`: ask the registry what each base image tag points at now, write
    <output-dir>/bases.lock.json and render with `tag@digest`; the lines to print."""
    from buildkit_slim import bases, docker

    cfg = config.load(project)
    refs = sorted({ref for t in cfg.targets if t.dockerfile is None
                   for ref in (t.builder_base, t.runtime_base) if not bases.has_digest(ref)})
    if not refs:
        raise UsageError("no base image to pin: every target names its bases by digest or "
                         "brings its own Dockerfile")
    if mirror is None and any(bases.docker_hub_path(r) is not None for r in refs):
        mirror = next(iter(docker.registry_mirrors()), None)
    new, lines = [], []
    for ref in refs:
        asked = bases.where_to_ask(ref, mirror)
        manifest = docker.inspect_manifest(asked)
        if manifest is None:
            raise UsageError(f"{ref}: not found in the registry (asked {asked})")
        single = None if "manifests" in manifest else docker.image_platform(asked)
        new.append(bases.pin_from_descriptor(ref, manifest, single))
        via = f" (asked {asked})" if asked != ref else ""
        lines.append(f"pinned {ref}@{new[-1].digest}: {', '.join(dict(new[-1].platforms))}{via}")
    pins = bases.updated(bases.read_pins(project, cfg.output_dir) or bases.BasePins(), new,
                         keep=refs)
    # Every platform of every target must have its pin before anything is written.
    _, the_blueprint = load_project(project, cfg, pins)
    generated = [render.GeneratedFile(path=f"{cfg.output_dir}/{bases.PINS_FILE}",
                                      text=bases.render_pins(pins)),
                 *render.render_all(the_blueprint)]
    return lines + [f"wrote {name}" for name in
                    files.write_generated(project, cfg.output_dir, generated)]


# --- after the builds: tags, merge, release ----------------------------------------------------

def one_target(the_blueprint: Blueprint, name: str | None) -> TargetBlueprint:
    if name is None and len(the_blueprint.targets) > 1:
        raise UsageError("this project has several targets; name one ("
                         + ", ".join(t.name for t in the_blueprint.targets) + ")")
    return select(the_blueprint, [name] if name else [], []).targets[0]


def _env(env: Mapping[str, str], name: str) -> str | None:
    """An environment value, empty meaning unset (CI templates leave empty variables)."""
    return env.get(name) or None


def tag_lines(project: Path, target: str | None, *, version: str | None, ref: str | None,
              sha: str | None, images: bool, no_version: bool, env: Mapping[str, str],
              warn: Callable[[str], None]) -> list[str]:
    """`bslim tags`: the tags (or `<image>:<tag>` references) for a version, ref and commit."""
    from buildkit_slim.tags import TagError, build_tags

    cfg, the_blueprint = load_project(project)
    try:
        result, found = build_tags(
            project_version=cfg.project.version, version=version,
            ref=ref if ref is not None else _env(env, "GITHUB_REF"),
            sha=sha if sha is not None else _env(env, "GITHUB_SHA"),
            rules=cfg.tags, no_version=no_version)
    except TagError as exc:
        raise UsageError(str(exc)) from None
    for warning in found:
        warn(f"warning: {warning}")
    if images:
        image = one_target(the_blueprint, target).config.image
        return [f"{image}:{tag}" for tag in result]
    if target is not None:
        one_target(the_blueprint, target)  # a typo in the name is still an error
    return list(result)


def merge(project: Path, target: str | None, staging_dir: Path, *, tags: Sequence[str],
          revision: str | None, env: Mapping[str, str], warn: Callable[[str], None]) -> list[str]:
    """`bslim merge`: every staging record of a target, checked, joined into one index."""
    from buildkit_slim import merge as merging
    from buildkit_slim import publish, refs

    chosen = one_target(load_blueprint(project), target)
    final = refs.final_tags(chosen.config.image, tags, _env(env, "TAG") or DEFAULT_TAG)
    annotations = labels.index_annotations(
        chosen, revision=labels.check_revision(revision or _env(env, "GITHUB_SHA")),
        created=labels.created_from_epoch(_env(env, "SOURCE_DATE_EPOCH")))
    merge_steps = merging.merge_steps(chosen, publish.read_staging_dir(staging_dir), tags=final,
                                      annotations=annotations, staging_dir=str(staging_dir))
    merged = publish.run_merge(merge_steps)
    if merged.annotations_skipped:
        warn("warning: this buildx is older than 0.12: the index has no annotations")
    for name in merge_steps.ignored:
        warn(f"note: ignored {name} (another target)")
    return [*(f"{ref}@{merged.digest}" for ref in merge_steps.tags),
            f"merged {chosen.name} ({', '.join(merge_steps.platforms)})"]


def release(project: Path, version: str, target: str | None, *, from_: str | None, force: bool,
            warn: Callable[[str], None]) -> list[str]:
    """`bslim release`: copy a pushed index to the version's tags, every check first."""
    from buildkit_slim import publish
    from buildkit_slim.tags import TagError, release_tags

    cfg, the_blueprint = load_project(project)
    chosen = one_target(the_blueprint, target)
    try:
        released = release_tags(version, cfg.tags).version  # p1/v2.0.0 is 2.0.0
        done = publish.run_release(chosen, version=version, rules=cfg.tags, from_=from_,
                                   force=force)
    except TagError as exc:
        # compute_tags names its input --version; here it is the VERSION argument.
        raise UsageError(re.sub(r"^--version\b", "VERSION", str(exc))) from None
    for tag, old in done.moved:
        warn(f"note: {tag} moved from {old}")
    lines = [f"{'tagged' if tag in done.to_write else 'already'} {tag}@{done.digest}"
             for tag in done.tags]
    given = f" (given as {version})" if version != released else ""
    return [*lines, f"released {released} of {chosen.name}{given}"
            + (" (forced)" if done.forced else "")]
