"""fast-wheels (the default) against the plain strategy: same distributions, less emulation."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import PLATFORMS, Pushed, bslim, make_project, pip_freeze

PLAIN_IMAGE = "127.0.0.1:5000/bslim-e2e/e2eapp-plain"


@pytest.fixture(scope="module")
def plain_ref(engine: None, tmp_path_factory: pytest.TempPathFactory,
              ca_bundle: tuple[Path, str]) -> str:
    project = make_project(tmp_path_factory.mktemp("plain") / "e2eapp")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"',
        f'image = "{PLAIN_IMAGE}"\nfast-wheels = false'))
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    return f"{PLAIN_IMAGE}:e2e"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fast_and_plain_images_hold_the_same_distributions(
    pushed: Pushed, plain_ref: str, platform: str
) -> None:
    fast = pip_freeze(pushed.ref, platform)
    assert "e2eapp==0.3.0" in fast and "tinyext==0.1.0" in fast and "tinypure==0.1.0" in fast
    assert fast == pip_freeze(plain_ref, platform)


def test_only_the_c_extension_is_compiled_for_the_target(pushed: Pushed) -> None:
    # The fetch stage sorts natively for each target; its verdicts are in the build log.
    verdicts = set(re.findall(r"bslim: (\S+) (\S+): (pure|wheel|native|compile)", pushed.log))
    assert ("tinyext", "0.1.0", "compile") in verdicts  # arm/v7: no wheel (test_cross.py)
    assert ("tinyext", "0.1.0", "native") in verdicts  # amd64: compiled natively
    assert ("tinypure", "0.1.0", "pure") in verdicts
    assert ("e2eapp", "0.3.0", "pure") in verdicts
    assert not any(v[2] == "compile" and v[0] != "tinyext" for v in verdicts), verdicts


def test_plan_reports_what_each_platform_compiles(
    engine: None, app_project: Path, ca_bundle: tuple[Path, str], tmp_path: Path
) -> None:
    # A copy without bake/: `bslim plan` builds from a private copy of the generation and writes
    # nothing into the project (the copy's content is the same, so the cache still serves).
    project = tmp_path / "app"
    shutil.copytree(app_project, project, ignore=shutil.ignore_patterns("bake"))
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    result = bslim("plan", "--project", str(project), "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    out = result.stdout
    arm = out.split("e2eapp linux/arm/v7 (emulated):", 1)[1]
    amd = out.split("e2eapp linux/amd64 (native):", 1)[1].split("e2eapp linux/arm/v7", 1)[0]
    assert re.search(r"tinyext +0\.1\.0 +cross-compiled on the build platform \(proven on "
                     r"the target before use; if it fails, compiled under emulation\)", arm), out
    assert re.search(r"tinypure +0\.1\.0 +pure Python wheel", arm), out
    assert "1 cross-compiled, 0 compiled under emulation" in arm
    assert re.search(r"tinyext +0\.1\.0 +compiled natively", amd), out
    assert "0 compiled" in amd
