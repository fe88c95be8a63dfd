"""The named build context `bslim-shim`: the shim and what it imports, what it pins, and each
target's lists (files, not heredocs in the Dockerfile: a code change leaves the dependency
layers alone, and hadolint can parse the Dockerfile)."""

from __future__ import annotations

from importlib import resources

from buildkit_slim.blueprint import TargetBlueprint
from buildkit_slim.resources import PINS_FILE, SHIM_FILE, SHIM_MODULES
from buildkit_slim.resources.pip_for_target import PINS

# Beside the shim: buildkit_slim/platforms.py, which it imports; its compile side (PEP 517);
# locked installs and reproducible wheels; cross builds on the build platform; the checks every
# cross-built wheel passes; each installed wheel's origin, for the SBOM.
PLATFORMS_FILE, BUILD_FILE, PINNING_FILE, CROSS_FILE, GATE_FILE, ORIGINS_FILE = SHIM_MODULES[1:]
# `bslim bake --reproducible` sets it (a build arg, so the committed files stay as they are):
# the shim then compiles in fixed directories and normalizes the wheels it builds.
REPRODUCIBLE_ARG = "ARG BSLIM_REPRODUCIBLE"


def shim_files(target: TargetBlueprint) -> dict[str, str]:
    """What the named context bslim-shim holds for `target` (file name -> text): the shim and
    its modules, what it pins (by hash), the dependencies and build requirements, and with a
    lock each platform's locked requirements (one file each: a platform's files and hashes)."""
    package = resources.files("buildkit_slim")
    files = {SHIM_FILE: (package / "resources" / SHIM_FILE).read_text(encoding="utf-8"),
             PLATFORMS_FILE: (package / PLATFORMS_FILE).read_text(encoding="utf-8"),
             **{name: (package / "resources" / name).read_text(encoding="utf-8")
                for name in (BUILD_FILE, PINNING_FILE, CROSS_FILE, GATE_FILE, ORIGINS_FILE)},
             PINS_FILE: "".join(f"{n}=={v} --hash=sha256:{h}\n" for n, v, h in PINS)}
    for platform, locked in target.locked:
        files[target.lock_file(platform)] = locked.pinned_text()
    if target.requirements_file:
        files[target.requirements_file] = "".join(f"{r}\n" for r in target.dependencies or ())
    if target.build_requires_file:
        files[target.build_requires_file] = "".join(f"{r}\n" for r in target.build_requires)
    return files
