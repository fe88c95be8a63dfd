"""The `bslim` command line: thin Typer commands over config -> blueprint -> render -> apply."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from buildkit_slim import __version__
from buildkit_slim.entry import main
from buildkit_slim.errors import UsageError

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


def _say(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _staging_dir(staging: Path | None, stage: Path | None) -> Path | None:
    """--staging, or its old spelling --stage (hidden, kept so CI files keep working)."""
    if staging is not None and stage is not None and staging != stage:
        raise UsageError("--staging and --stage (its old spelling) name different directories; "
                         "give --staging once")
    return staging if staging is not None else stage


StagingOpt = Annotated[Path | None, typer.Option(
    "--staging", file_okay=False, show_default=False,
    help="Push one target's one platform to a staging location and write its staging record "
         "into DIR for `bslim merge` (needs --push).")]
# The old spelling: "stage" is a Dockerfile stage; the CI step is "staging".
OldStageOpt = Annotated[Path | None, typer.Option("--stage", file_okay=False, hidden=True)]


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


@app.command("render")
def render_cmd(
    project: ProjectOpt = Path(),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when the files "
                                        "on disk are not what would be rendered.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the bake JSON instead of "
                                         "writing files.")] = False,
) -> None:
    """Write the bake file, Dockerfile and .dockerignore into the output dir (atomically)."""
    from buildkit_slim import apply

    _say(apply.render_project(project, check=check, stdout=stdout))


@app.command("config")
def config_cmd(project: ProjectOpt = Path()) -> None:
    """Show the resolved configuration per target and where each value came from."""
    from buildkit_slim import apply

    _say(apply.configuration(project))


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
    staging: StagingOpt = None,
    stage: OldStageOpt = None,
    revision: Annotated[str | None, typer.Option(
        help="Commit sha for the org.opencontainers.image.revision label (default: "
             "$GITHUB_SHA). The created label comes from $SOURCE_DATE_EPOCH.")] = None,
    reproducible: Annotated[bool | None, typer.Option(
        "--reproducible/--no-reproducible", help="One commit, one image digest: "
        "SOURCE_DATE_EPOCH from the last commit, rewrite-timestamp, no time-stamped "
        "attestation, compiles in fixed directories (default: [tool.slim] reproducible).",
        show_default=False)] = None,
    oci: Annotated[Path | None, typer.Option(
        file_okay=False, help="Write each target's images as one OCI tarball, "
                              "DIR/<target>.oci.tar, instead of keeping or pushing them.")] =
    None,
    sbom: Annotated[str | None, typer.Option(
        metavar="GENERATOR", help="Attach an SPDX SBOM of the installed Python distributions "
        "to each platform's image, made by this generator image (bslim's own image is one); "
        "the engine must be able to pull it.")] = None,
) -> None:
    """Render, then build with `docker buildx bake`."""
    import os

    from buildkit_slim import apply

    choices = apply.BuildChoices(
        project=project, load=load, push=push, print_=print_, sets=tuple(set_ or ()), tag=tag,
        builder=builder, progress=progress, metadata_file=metadata_file, ca_bundle=ca_bundle,
        netrc=netrc, cache=not no_cache, export_cache=not no_cache_export,
        export_wheels=export_wheels, staging_dir=_staging_dir(staging, stage), revision=revision,
        reproducible=reproducible, oci=oci, sbom=sbom)
    _say(apply.build(targets or (), platform or (), choices, env=os.environ, warn=_err))


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
    which will be compiled (under emulation or not). Runs only the native fetch stage and
    writes nothing into the project."""
    from buildkit_slim import apply

    _say(apply.plan_report(project, targets=targets or (), platforms=platform or (),
                           builder=builder, ca_bundle=ca_bundle, netrc=netrc))


@app.command()
def doctor(
    project: ProjectOpt = Path(),
    builder: Annotated[str | None, typer.Option(help="buildx builder to check.")] = None,
    no_probe: Annotated[bool, typer.Option("--no-probe", help="Skip running the base images "
                                           "per platform.")] = False,
) -> None:
    """Check docker, buildx, the builder, arm/v7 emulation and the base images."""
    from buildkit_slim import apply

    apply.doctor(project, builder=builder, probe_bases=not no_probe, say=print)


@app.command()
def size(
    image: Annotated[str, typer.Argument(help="A pushed image, e.g. ghcr.io/acme/spark:1.2.")],
) -> None:
    """Print the compressed size of each platform of a pushed image."""
    from buildkit_slim import docker

    for platform, total in docker.image_sizes(image):
        print(f"{image} {platform}: {total / 1e6:.1f} MB compressed ({total} bytes)")


TargetArg = Annotated[str | None, typer.Argument(
    help="Target (default: the project's only target).", show_default=False)]


@app.command()
def matrix(
    targets: Annotated[list[str] | None, typer.Argument(
        help="Targets to include (default: all).", show_default=False)] = None,
    project: ProjectOpt = Path(),
) -> None:
    """Print the GitHub Actions matrix: one entry per target and platform, as one JSON line."""
    from buildkit_slim import apply
    from buildkit_slim.matrix import matrix_line

    print(matrix_line(apply.load_blueprint(project), targets or ()))


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
    import json
    import os

    from buildkit_slim import apply

    lines = apply.tag_lines(project, target, version=version, ref=ref, sha=sha, images=images,
                            no_version=no_version, env=os.environ, warn=_err)
    print(json.dumps(lines) if json_ else "\n".join(lines))


@app.command()
def merge(
    target: TargetArg = None,
    staging: Annotated[Path | None, typer.Option(
        "--staging", file_okay=False, show_default=False,
        help="Directory of staging records (from bake --staging); required.")] = None,
    stage: OldStageOpt = None,
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
    import os

    from buildkit_slim import apply

    directory = _staging_dir(staging, stage)
    if directory is None:
        raise UsageError("--staging: missing; name the directory of staging records "
                         "(from `bslim bake --staging`)")
    _say(apply.merge(project, target, directory, tags=tag or [], revision=revision,
                     env=os.environ, warn=_err))


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
    from buildkit_slim import apply

    _say(apply.release(project, version, target, from_=from_, force=force, warn=_err))


@app.command("lock-bases")
def lock_bases(
    project: ProjectOpt = Path(),
    mirror: Annotated[str | None, typer.Option(
        help="Ask this registry for Docker Hub images (host[:port]); default: the engine's "
             "first registry mirror, where its builds pull them from, else Docker Hub.",
        show_default=False)] = None,
) -> None:
    """Pin every base image by digest: ask the registry what each tag points at now, write
    <output-dir>/bases.lock.json and render with `tag@digest` FROM lines. The only command
    that moves them: commit the diff."""
    from buildkit_slim import apply

    _say(apply.lock_bases(project, mirror=mirror))
