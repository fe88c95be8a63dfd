"""`bslim plan` and `bslim lock-bases`: what a build will take, looked at (and pinned) before
anything is built. Thin Typer commands on the `bslim` app (cli.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from buildkit_slim import plan
from buildkit_slim.cli import ProjectOpt, _check_paths, _load, app


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
    which will be compiled (under emulation or not). From uv.lock or pylock.toml without a
    build; else runs only the native fetch stage."""
    import platform as host
    import tempfile

    from buildkit_slim import apply, wheels
    from buildkit_slim.platforms import native as native_platform

    _check_paths(ca_bundle, netrc)
    cfg, the_plan = _load(project)
    chosen = plan.select(the_plan, targets or [], platform or [])
    native = native_platform(host.machine()) or ""
    from_lock = [t for t in chosen.targets if t.locked and wheels.lock_tells(t)]
    for target in from_lock:
        for line in wheels.locked_plan_lines(target, native, cfg.project.version):
            print(line)
    fetched = replace(chosen, targets=tuple(t for t in chosen.targets if t not in from_lock))
    if not fetched.targets:
        return
    with tempfile.TemporaryDirectory(prefix="bslim-plan-") as tmp:
        options = apply.BakeOptions(project_root=project, platforms=tuple(platform or ()),
                                    builder=builder, ca_bundle=ca_bundle, netrc=netrc,
                                    report_dir=Path(tmp), inputs=Path(tmp) / "inputs",
                                    progress="plain")
        request = apply.bake_request(the_plan, fetched, options)
        apply.render_files(project, the_plan, options.inputs)
        apply.run_bake(request, quiet=True)
        for target in fetched.targets:
            exported = apply.export_dir(Path(tmp).resolve(), target.name)
            for line in wheels.plan_lines(exported, target.platforms, native, target.name):
                print(line)


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
    from buildkit_slim import bases, config, docker, files, render
    from buildkit_slim.errors import UsageError
    from buildkit_slim.load import load
    from buildkit_slim.render import GeneratedFile

    cfg = config.load(project)
    refs = sorted({ref for t in cfg.targets if t.dockerfile is None
                   for ref in (t.builder_base, t.runtime_base) if not bases.has_digest(ref)})
    if not refs:
        raise UsageError("no base image to pin: every target names its bases by digest or "
                         "brings its own Dockerfile")
    if mirror is None and any(bases.docker_hub_path(r) is not None for r in refs):
        mirror = next(iter(docker.registry_mirrors()), None)
    new = []
    for ref in refs:
        asked = bases.where_to_ask(ref, mirror)
        manifest = docker.inspect_manifest(asked)
        if manifest is None:
            raise UsageError(f"{ref}: not found in the registry (asked {asked})")
        single = None if "manifests" in manifest else docker.image_platform(asked)
        new.append(bases.pin_from_descriptor(ref, manifest, single))
        via = f" (asked {asked})" if asked != ref else ""
        print(f"pinned {ref}@{new[-1].digest}: {', '.join(dict(new[-1].platforms))}{via}")
    path = f"{cfg.output_dir}/{bases.PINS_FILE}"
    pins = bases.updated(bases.read_pins(project, cfg.output_dir) or bases.BasePins(), new,
                         keep=refs)
    # Every platform of every target must have its pin before anything is written.
    _, the_plan = load(project, cfg, pins)
    generated = [GeneratedFile(path=path, text=bases.render_pins(pins)),
                 *render.render_all(the_plan)]
    for name in files.write_generated(project, cfg.output_dir, generated):
        print(f"wrote {name}")
