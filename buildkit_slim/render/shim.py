"""The named build context `bslim-shim`: the shim and what it imports, what it pins, and each
target's lists (files, not heredocs in the Dockerfile: a code change leaves the dependency
layers alone, and hadolint can parse the Dockerfile)."""

from __future__ import annotations

from importlib import resources

from buildkit_slim.config import SHIM_FILE
from buildkit_slim.plan import TargetPlan
from buildkit_slim.resources.pip_for_target import PINS

PINS_FILE = "pins.txt"  # beside the shim: PINS with their hashes
PLATFORMS_FILE = "platforms.py"  # beside the shim: buildkit_slim/platforms.py, which it imports
BUILD_FILE = "wheel_build.py"  # beside the shim: its compile side (PEP 517), which it imports
PINNING_FILE = "pinning.py"  # beside the shim: locked installs, reproducible wheels
CROSS_FILE = "cross_build.py"  # beside the shim: cross builds on the build platform
GATE_FILE = "wheel_gate.py"  # beside the shim: the checks every cross-built wheel passes
SHIM_MODULES = (SHIM_FILE, PLATFORMS_FILE, BUILD_FILE, PINNING_FILE, CROSS_FILE, GATE_FILE)
# `bslim bake --reproducible` sets it (a build arg, so the committed files stay as they are):
# the shim then compiles in fixed directories and normalizes the wheels it builds.
REPRODUCIBLE_ARG = "ARG BSLIM_REPRODUCIBLE"


def shim_files(target: TargetPlan) -> dict[str, str]:
    """What the named context bslim-shim holds for `target` (file name -> text): the shim and
    its modules, what it pins (by hash), the dependencies and build requirements, and with a
    lock each platform's locked requirements (one file each: a platform's files and hashes)."""
    package = resources.files("buildkit_slim")
    files = {SHIM_FILE: (package / "resources" / SHIM_FILE).read_text(encoding="utf-8"),
             PLATFORMS_FILE: (package / PLATFORMS_FILE).read_text(encoding="utf-8"),
             **{name: (package / "resources" / name).read_text(encoding="utf-8")
                for name in (BUILD_FILE, PINNING_FILE, CROSS_FILE, GATE_FILE)},
             PINS_FILE: "".join(f"{n}=={v} --hash=sha256:{h}\n" for n, v, h in PINS)}
    for platform, locked in target.locked:
        files[target.lock_file(platform)] = locked.pinned_text()
    if target.requirements_file:
        files[target.requirements_file] = "".join(f"{r}\n" for r in target.dependencies or ())
    if target.build_requires_file:
        files[target.build_requires_file] = "".join(f"{r}\n" for r in target.build_requires)
    return files
