"""Locked builds: tests/lockapp with its uv.lock beside pyproject.toml (found without
configuration) builds for both platforms from exactly the lock, every file checked by hash.

The lock was written by uv from PyPI (tests/make_locks.py); the platforms differ in it: pyyaml
is locked for x86_64 only, markupsafe has a cp313 wheel for x86_64 but compiles from its sdist
for armv7l, msgpack compiles from its sdist everywhere. The image's `pip freeze` must be the
lock's selection for that platform plus the project, nothing else; a hash in the lock that is
not the file's fails the build in the step that downloads it, naming the package.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from buildkit_slim.load import load
from tests.e2e.conftest import PLATFORMS, bslim, pip_freeze

LOCKAPP = Path(__file__).resolve().parent.parent / "lockapp"
IMAGE = "127.0.0.1:5000/bslim-e2e/lockapp"
# What the runtime base image brings itself (python:3.13-slim has pip only).
BASE_DISTRIBUTIONS = {"pip"}


def locked_project(root: Path, *, slim: str = "") -> Path:
    shutil.copytree(LOCKAPP / "lockapp", root / "lockapp")
    shutil.copy(LOCKAPP / "locks" / "uv.lock", root / "uv.lock")
    text = (LOCKAPP / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        f'{text}\n[tool.slim]\nimage = "{IMAGE}"\n'
        f'entrypoint = ["python3", "-c", "import lockapp"]\n{slim}')
    return root


def expected(root: Path) -> dict[str, set[str]]:
    """Per platform, `name==version` of what bslim selected from the lock, and the project."""
    _, the_blueprint = load(root)
    (target,) = the_blueprint.targets
    return {platform: {f"{p.name}=={p.version}" for p in locked.packages} | {"lockapp==0.1.0"}
            for platform, locked in target.locked}


def installed(ref: str, platform: str) -> set[str]:
    found = set()
    for line in pip_freeze(ref, platform):
        name, _, version = line.partition("==")
        if re.sub(r"[-_.]+", "-", name).lower() not in BASE_DISTRIBUTIONS:
            found.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return found


@pytest.mark.parametrize("strategy", ["fast", "plain"])
def test_each_platform_installs_exactly_the_lock(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str], strategy: str
) -> None:
    root = locked_project(tmp_path / "lockapp", slim="fast-wheels = false\n"
                          if strategy == "plain" else "")
    want = expected(root)
    assert set(want) == set(PLATFORMS)
    assert want["linux/amd64"] != want["linux/arm/v7"]  # pyyaml: x86_64 only
    result = bslim("bake", "--project", str(root), "--push", "--tag", strategy,
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "--require-hashes" in log
    for platform in PLATFORMS:
        assert installed(f"{IMAGE}:{strategy}", platform) == want[platform], platform


def test_a_hash_the_file_does_not_have_fails_the_build_naming_the_package(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    root = locked_project(tmp_path / "lockapp")
    lock = root / "uv.lock"
    text = lock.read_text()
    # six's wheel: a pure wheel, the same file on both platforms.
    good = re.search(r'six-1\.16\.0-py2\.py3-none-any\.whl", hash = "sha256:([0-9a-f]{64})"',
                     text)
    assert good is not None
    bad = "0" * 64
    lock.write_text(text.replace(good.group(1), bad))
    result = bslim("bake", "--project", str(root), "--platform", "linux/amd64",
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "DO NOT MATCH THE HASHES" in log, log[-3000:]
    assert re.search(rf"six==1\.16\.0[^\n]*\n[^\n]*Expected sha256 {bad}", log), log[-3000:]
