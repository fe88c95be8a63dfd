"""The `bslim` command line: thin Typer commands over config -> plan -> render -> apply."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from buildkit_slim import __version__, config, plan, release, render
from buildkit_slim.entry import main
from buildkit_slim.errors import CheckFailed, UsageError
from buildkit_slim.oci import check_tag

# `main` is the command line as the console script runs it (buildkit_slim/entry.py).
__all__ = ["app", "main"]

app = typer.Typer(
    name="bslim",
    help="Small multi-architecture container images for Python projects, from [tool.slim].",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # tokens can sit in locals
    rich_markup_mode=None,
)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project directory (holds pyproject.toml).",
                       file_okay=False, resolve_path=True)
]


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _load(project: Path) -> tuple[config.Config, plan.Plan]:
    cfg = config.load(project)
    return cfg, plan.make_plan(cfg)


def _version_callback(value: bool) -> None:
    if value:
        print(f"bslim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Print the version.")] = False,
) -> None:
    """bslim: [tool.slim] in pyproject.toml -> docker buildx bake file + multi-stage Dockerfile."""


# buildx reads `id=ca,src=PATH` and `type=local,dest=PATH` as comma-separated fields.
_SPLITS_SPEC = re.compile(r'[,"\x00-\x1f\x7f]')


def _check_paths(ca_bundle: Path | None, netrc: Path | None,
                 export_wheels: Path | None = None) -> None:
    """Secret files must be files, and every path that goes into a buildx spec must reach it
    whole: a comma, quote or line break would make the rest another field (`id=evil`)."""
    for option, path in (("--ca-bundle", ca_bundle), ("--netrc", netrc),
                         ("--export-wheels", export_wheels)):
        if path is None:
            continue
        if option != "--export-wheels" and not path.is_file():
            raise UsageError(f"{option}: {path} is not a file")
        resolved = str(path.resolve())
        if found := _SPLITS_SPEC.search(resolved):
            raise UsageError(f"{option}: {resolved!r} holds {found.group()!r}, which would split "
                             "it in the spec buildx reads it from",
                             hint="rename it, or pass a link to it from a path without one")


@app.command()
def render_cmd(
    project: ProjectOpt = Path(),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when the files "
                                        "on disk are not what would be rendered.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the bake JSON instead of "
                                         "writing files.")] = False,
) -> None:
    """Write the bake file, Dockerfile and .dockerignore into the output dir (atomically)."""
    from buildkit_slim import files

    _, the_plan = _load(project)
    generated = render.render_all(the_plan)
    if stdout:
        sys.stdout.write(next(f.text for f in generated if f.path == the_plan.bake_file))
        return
    if check:
        stale = files.read_generated(project, the_plan.output_dir, generated)
        if stale:
            raise CheckFailed(f"generated files are stale: {', '.join(stale)}",
                              hint=f"run `bslim render --project {project}` and commit them")
        print(f"up to date: {', '.join(f.path for f in generated)}")
        return
    written = files.write_generated(project, the_plan.output_dir, generated)
    for f in generated:
        print(f"{'wrote' if f.path in written else 'unchanged'} {f.path}")


@app.command("config")
def config_cmd(project: ProjectOpt = Path()) -> None:
    """Show the resolved configuration per target and where each value came from."""
    from buildkit_slim.config.reference import listing

    cfg, _ = _load(project)
    print("\n".join(listing(cfg)))


@app.command()
def init(
    project: ProjectOpt = Path(),
    image: Annotated[str | None, typer.Option(help="Image repository, e.g. "
                                               "ghcr.io/acme/spark.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing [tool.slim].")] =
    False,
) -> None:
    """Add a [tool.slim] table with detected values, keeping the file's comments."""
    from buildkit_slim import init as init_mod

    text = init_mod.add_table(project, image=image, force=force)
    print(f"added [tool.slim] to {project / 'pyproject.toml'}:\n{text}", end="")


@app.command()
def bake(
    ctx: typer.Context,
    targets: Annotated[list[str] | None, typer.Argument(help="Targets to build (default: all).")]
    = None,
    project: ProjectOpt = Path(),
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", help="Build only these platforms (repeatable).")] = None,
    load: Annotated[bool, typer.Option("--load", help="Load the result into the local "
                                       "image store.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push the result to the registry.")] =
    False,
    print_: Annotated[bool, typer.Option("--print", help="Show what buildx resolves; build "
                                         "nothing.")] = False,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a bake value: pattern.key=value (repeatable).")] = None,
    tag: Annotated[str | None, typer.Option(help="Image tag (bake variable TAG; default: "
                                            "$TAG, else dev).")] = None,
    builder: Annotated[str | None, typer.Option(help="buildx builder to use.")] = None,
    progress: Annotated[str, typer.Option(help="buildx progress: plain, tty or auto.")] =
    "plain",
    metadata_file: Annotated[Path | None, typer.Option(help="Write buildx's build metadata "
                                                       "(digests) here.")] = None,
    ca_bundle: Annotated[Path | None, typer.Option(
        envvar="BSLIM_CA_BUNDLE", dir_okay=False,
        help="CA certificates for pip inside build steps (TLS-intercepting proxies); handed "
             "in as a BuildKit secret, never stored in a layer.")] = None,
    netrc: Annotated[Path | None, typer.Option(
        envvar="BSLIM_NETRC", dir_okay=False,
        help="A netrc file with credentials for private package indexes; handed in as a "
             "BuildKit secret on the steps that reach an index, never stored in a layer.")] =
    None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ignore the build cache.")] =
    False,
    no_cache_export: Annotated[bool, typer.Option(
        "--no-cache-export", help="Read the configured cache but write none (pull requests).")]
    = False,
    export_wheels: Annotated[Path | None, typer.Option(
        file_okay=False, help="Build only the wheels and write them to DIR/<platform>/ with a "
                              "manifest.json.")] = None,
    stage: Annotated[Path | None, typer.Option(
        file_okay=False, help="Push one target's one platform to a staging location and write "
                              "its record into DIR for `bslim merge` (needs --push).")] = None,
    revision: Annotated[str | None, typer.Option(
        help="Commit sha for the org.opencontainers.image.revision label (default: "
             "$GITHUB_SHA). The created label comes from $SOURCE_DATE_EPOCH.")] = None,
) -> None:
    """Render, then build with `docker buildx bake`."""
    import os
    import tempfile

    from buildkit_slim import apply, wheels

    if load and push:
        raise UsageError("--load and --push: choose one")
    if export_wheels is not None and (load or push):
        raise UsageError("--export-wheels writes wheels to a directory; it cannot be combined "
                         "with --load or --push")
    if progress not in ("plain", "tty", "auto"):
        raise UsageError(f"--progress: {progress!r} is not valid; use plain, tty or auto")
    _check_paths(ca_bundle, netrc, export_wheels)
    # One tag rule for every command (merge's): --tag, else a non-empty $TAG (an empty one is
    # unset, as for merge: CI templates leave empty variables).
    if tag is not None:
        check_tag(tag, "--tag")
    elif os.environ.get("TAG"):
        check_tag(os.environ["TAG"], "TAG")
    elif "TAG" in os.environ:
        from buildkit_slim.render.bake import DEFAULT_TAG

        tag = DEFAULT_TAG
    _, the_plan = _load(project)
    chosen = plan.select(the_plan, targets or [], platform or [])
    staged = release.stage_choice(chosen, push=push, export_wheels=export_wheels is not None,
                                  print_=print_) if stage is not None else None
    overrides = apply.parse_overrides(set_ or [])
    # Per-build labels go in as --set, never into the committed bake file; --set wins.
    rev = release.check_revision(revision or os.environ.get("GITHUB_SHA"))
    created = release.created_from_epoch(os.environ.get("SOURCE_DATE_EPOCH"))
    for target in chosen.targets:
        for key, value in release.build_labels(target.name, revision=rev,
                                               created=created).items():
            overrides.setdefault(key, value)
    # The build reads a private copy of the generation it rendered (removed when it is done).
    inputs = None if print_ else Path(ctx.with_resource(
        tempfile.TemporaryDirectory(prefix="bslim-inputs-")))
    options = apply.BakeOptions(
        project_root=project, platforms=tuple(platform or ()),
        overrides=overrides, tag=tag, push=push, load=load,
        builder=builder, progress=progress, metadata_file=metadata_file, ca_bundle=ca_bundle,
        netrc=netrc, cache=not no_cache, export_cache=not no_cache_export,
        export_wheels=export_wheels, inputs=inputs,
    )
    request = apply.bake_request(the_plan, chosen, options)
    for warning in apply.warnings(chosen, os.environ):
        _err(f"warning: {warning}")
    apply.render_files(project, the_plan, inputs)
    if print_:
        from buildkit_slim import docker

        print(json.dumps(docker.bake_print(request), indent=2, sort_keys=True))
        return
    if stage is not None and staged is not None:
        from buildkit_slim import publish

        stage_plan = release.plan_stage(
            staged[0], staged[1], tag=tag or os.environ.get("TAG") or "dev",
            by_digest=publish.push_by_digest(builder))
        with apply.local_cache_rotation(chosen, options):
            record, path = publish.run_stage(request, stage_plan, stage)
        how = "by digest" if record.mode == "digest" else f"as {record.ref}"
        print(f"staged {record.target} {record.platform} {record.digest} ({how}) in {path}")
        return
    with apply.local_cache_rotation(chosen, options):
        apply.run_bake(request)
    if export_wheels is not None:
        single = len(chosen.targets) == 1
        for target in chosen.targets:
            manifest = wheels.collect(
                apply.export_dir(export_wheels.resolve(), target.name),
                export_wheels if single else export_wheels / target.name, target.platforms)
            print(f"wrote {manifest}")
        return
    names = ", ".join(f"{t.name} ({', '.join(t.platforms)})" for t in chosen.targets)
    print(f"built {names}" + (" and pushed" if push else ""))


@app.command("plan")
def plan_cmd(
    targets: Annotated[list[str] | None, typer.Argument(help="Targets (default: all).")] = None,
    project: ProjectOpt = Path(),
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", help="Only these platforms (repeatable).")] = None,
    builder: Annotated[str | None, typer.Option(help="buildx builder to use.")] = None,
    ca_bundle: Annotated[Path | None, typer.Option(
        envvar="BSLIM_CA_BUNDLE", dir_okay=False,
        help="CA certificates for pip inside build steps (see bake).")] = None,
    netrc: Annotated[Path | None, typer.Option(
        envvar="BSLIM_NETRC", dir_okay=False,
        help="Credentials for private package indexes (see bake).")] = None,
) -> None:
    """Before building: per platform, which distributions come as wheels, which are pure, and
    which will be compiled (under emulation or not). Runs only the native fetch stage."""
    import platform as host
    import tempfile

    from buildkit_slim import apply, wheels
    from buildkit_slim.platforms import native as native_platform

    _check_paths(ca_bundle, netrc)
    _, the_plan = _load(project)
    chosen = plan.select(the_plan, targets or [], platform or [])
    with tempfile.TemporaryDirectory(prefix="bslim-plan-") as tmp:
        options = apply.BakeOptions(project_root=project, platforms=tuple(platform or ()),
                                    builder=builder, ca_bundle=ca_bundle, netrc=netrc,
                                    report_dir=Path(tmp), inputs=Path(tmp) / "inputs",
                                    progress="plain")
        request = apply.bake_request(the_plan, chosen, options)
        apply.render_files(project, the_plan, options.inputs)
        apply.run_bake(request, quiet=True)
        native = native_platform(host.machine()) or ""
        for target in chosen.targets:
            exported = apply.export_dir(Path(tmp).resolve(), target.name)
            for line in wheels.plan_lines(exported, target.platforms, native, target.name):
                print(line)


@app.command()
def doctor(
    project: ProjectOpt = Path(),
    builder: Annotated[str | None, typer.Option(help="buildx builder to check.")] = None,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Skip running the base images "
                                           "per platform.")] = False,
) -> None:
    """Check docker, buildx, the builder, arm/v7 emulation and the base images."""
    from buildkit_slim import doctor as doctor_mod

    try:
        _, the_plan = _load(project)
    except UsageError:
        the_plan = None  # no project here: check the machine only
    checks = doctor_mod.run_checks(the_plan, builder=builder, probe_bases=not no_probe)
    for line in doctor_mod.format_checks(checks):
        print(line)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        raise CheckFailed(f"{len(failed)} check(s) failed: {', '.join(failed)}")


@app.command()
def size(
    image: Annotated[str, typer.Argument(help="A pushed image, e.g. ghcr.io/acme/spark:1.2.")],
) -> None:
    """Print the compressed size of each platform of a pushed image."""
    from buildkit_slim import docker

    for platform, total in docker.image_sizes(image):
        print(f"{image} {platform}: {total / 1e6:.1f} MB compressed ({total} bytes)")


def _one_target(the_plan: plan.Plan, name: str | None) -> plan.TargetPlan:
    if name is None and len(the_plan.targets) > 1:
        raise UsageError("this project has several targets; name one ("
                         + ", ".join(t.name for t in the_plan.targets) + ")")
    return plan.select(the_plan, [name] if name else [], []).targets[0]


def _env(name: str) -> str | None:
    """An environment value, empty meaning unset (CI templates leave empty variables)."""
    import os

    return os.environ.get(name) or None


TargetArg = Annotated[str | None, typer.Argument(
    help="Target (default: the project's only target).", show_default=False)]


@app.command()
def matrix(
    targets: Annotated[list[str] | None, typer.Argument(
        help="Targets to include (default: all).", show_default=False)] = None,
    project: ProjectOpt = Path(),
) -> None:
    """Print the GitHub Actions matrix: one entry per target and platform, as one JSON line."""
    _, the_plan = _load(project)
    chosen = plan.select(the_plan, targets or [], [])
    print(json.dumps(release.matrix(chosen), separators=(",", ":")))


@app.command()
def tags(
    target: TargetArg = None,
    version: Annotated[str | None, typer.Option(
        "--version", help="PEP 440 version or its git tag (default: [project].version when "
                          "no --ref is known; a refs/tags/ ref gives its own).")] = None,
    ref: Annotated[str | None, typer.Option(
        help="Git ref, e.g. refs/heads/main or refs/tags/v1.4.2 (default: $GITHUB_REF).")] =
    None,
    sha: Annotated[str | None, typer.Option(help="Commit sha (default: $GITHUB_SHA).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    images: Annotated[bool, typer.Option(
        "--images", help="Print full references <image>:<tag> of the target.")] = False,
    no_version: Annotated[bool, typer.Option(
        "--no-version", help="Leave the version tags out (a tag push's image is merged under "
                             "its sha tag; `bslim release` adds the version tags).")] = False,
    project: ProjectOpt = Path(),
) -> None:
    """Print the image tags for a version, git ref and commit, one per line."""
    from buildkit_slim.tags import TagError, build_tags

    cfg, the_plan = _load(project)
    try:
        result, warnings = build_tags(
            project_version=cfg.project.version, version=version,
            ref=ref if ref is not None else _env("GITHUB_REF"),
            sha=sha if sha is not None else _env("GITHUB_SHA"),
            rules=cfg.tags, no_version=no_version)
    except TagError as exc:
        raise UsageError(str(exc)) from None
    for warning in warnings:
        _err(f"warning: {warning}")
    lines = list(result)
    if images:
        image = _one_target(the_plan, target).config.image
        lines = [f"{image}:{tag}" for tag in result]
    elif target is not None:
        _one_target(the_plan, target)  # a typo in the name is still an error
    print(json.dumps(lines) if json_ else "\n".join(lines))


@app.command()
def merge(
    stage: Annotated[Path, typer.Option(
        file_okay=False, help="Directory of stage records (from bake --stage).",
        show_default=False)],
    target: TargetArg = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", help="Final tag, repeatable; bare tags go onto the target's image (default: "
                      "$TAG, else dev).", show_default=False)] = None,
    revision: Annotated[str | None, typer.Option(
        help="Commit sha for the index annotation (default: $GITHUB_SHA).")] = None,
    project: ProjectOpt = Path(),
) -> None:
    """Join the staged platforms of a target into one multi-platform index with the final tags.

    Refuses, before pushing anything, when a platform is missing, two records of one platform
    disagree or a record belongs to another image.
    """
    from buildkit_slim import publish
    from buildkit_slim.render.bake import DEFAULT_TAG

    _, the_plan = _load(project)
    chosen = _one_target(the_plan, target)
    refs = release.final_tags(chosen.config.image, tag or [], _env("TAG") or DEFAULT_TAG)
    annotations = release.index_annotations(
        chosen, revision=release.check_revision(revision or _env("GITHUB_SHA")),
        created=release.created_from_epoch(_env("SOURCE_DATE_EPOCH")))
    merge_plan = release.plan_merge(chosen, publish.read_stage_dir(stage), tags=refs,
                                    annotations=annotations, stage_dir=str(stage))
    merged = publish.run_merge(merge_plan)
    if merged.annotations_skipped:
        _err("warning: this buildx is older than 0.12: the index has no annotations")
    for name in merge_plan.ignored:
        _err(f"note: ignored {name} (another target)")
    for ref in merge_plan.tags:
        print(f"{ref}@{merged.digest}")
    print(f"merged {chosen.name} ({', '.join(merge_plan.platforms)})")


@app.command("release")
def release_cmd(
    version: Annotated[str, typer.Argument(help="The version to release (1.4.2) or its git "
                                           "tag (v1.4.2, p1/v1.4.2).", show_default=False)],
    target: TargetArg = None,
    from_: Annotated[str | None, typer.Option(
        "--from", help="The pushed multi-platform image to release: a tag or digest of the "
                       "target's image (default: the edge tag).", show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Move the version tag even when it points at another image.")] = False,
    project: ProjectOpt = Path(),
) -> None:
    """Tag an already pushed image with a version's tags (1.4.2, 1.4, 1, latest), unbuilt.

    The index is copied byte for byte, so the digest stays; every check runs before the first
    tag is written.
    """
    import re

    from buildkit_slim import publish
    from buildkit_slim.tags import TagError, release_tags

    cfg, the_plan = _load(project)
    chosen = _one_target(the_plan, target)
    try:
        released = release_tags(version, cfg.tags).version  # p1/v2.0.0 is 2.0.0
        done = publish.run_release(chosen, version=version, rules=cfg.tags, from_=from_,
                                   force=force)
    except TagError as exc:
        # compute_tags names its input --version; here it is the VERSION argument.
        raise UsageError(re.sub(r"^--version\b", "VERSION", str(exc))) from None
    for tag, old in done.moved:
        _err(f"note: {tag} moved from {old}")
    for tag in done.tags:
        state = "tagged" if tag in done.to_write else "already"
        print(f"{state} {tag}@{done.digest}")
    given = f" (given as {version})" if version != released else ""
    print(f"released {released} of {chosen.name}{given}" + (" (forced)" if done.forced else ""))


# Typer derives command names from function names; `render` is clearer than render-cmd.
app.registered_commands[0].name = "render"
