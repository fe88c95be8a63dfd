"""Cross-compiling (the default with fast-wheels): on the build platform, with Debian's cross gcc
and the target's own root, what has no wheel for arm/v7; each wheel gated, and imported under
emulation, before anything uses it. Real builds on the real engine and QEMU."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import LAYOUTS, PLATFORMS, Pushed, bslim, docker, make_project

FAILING_IMAGE = "127.0.0.1:5000/bslim-e2e/cross-gate-fails"
YAML_IMAGE = "127.0.0.1:5000/bslim-e2e/cross-pyyaml"
PROBE = ("import importlib.machinery as m, tinyext; "
         "print(tinyext.triangle(20), isinstance(tinyext.__spec__.loader, "
         "m.ExtensionFileLoader), tinyext.__file__.rsplit('/', 1)[-1])")


def tinyext_everywhere(ref: str) -> dict[str, str]:
    """What tinyext says on each platform of `ref`: its sum, whether it was loaded as an
    extension module, and its file."""
    out = {}
    for platform in PLATFORMS:
        run = docker("run", "--rm", "--pull", "always", "--platform", platform, "--entrypoint",
                     "python3", ref, "-c", PROBE)
        assert run.returncode == 0, run.stderr
        out[platform] = run.stdout.strip()
    return out


# Both layouts: Debian's python3 has a multiarch pyconfig.h and its sysconfigdata elsewhere.
@pytest.mark.parametrize("pushed", LAYOUTS, indirect=True)
def test_the_c_extension_is_cross_compiled_gated_and_proven_on_the_target(
        pushed: Pushed) -> None:
    log = pushed.log
    assert re.search(r"bslim: tinyext==0\.1\.0: cross-compiled for linux/arm/v7 in "
                     r"[0-9.]+ s", log), log[-5000:]
    assert "bslim: tinyext 0.1.0: cross-compiled wheel proven on linux/arm/v7 " \
           "(imported tinyext)" in log, log[-5000:]
    assert "cross-built wheel failed" not in log
    # Nothing compiled tinyext under emulation (the compile stage names each build).
    assert not re.search(r"bslim: compiling tinyext[^\n]* for linux/arm/v7", log), log[-5000:]
    assert "tinyext==0.1.0: compiled earlier" not in log
    ran = tinyext_everywhere(pushed.ref)
    assert ran["linux/amd64"] == "210 True tinyext.cpython-313-x86_64-linux-gnu.so", ran
    assert ran["linux/arm/v7"] == "210 True tinyext.cpython-313-arm-linux-gnueabihf.so", ran


def test_a_wheel_failing_the_gate_is_compiled_under_emulation_and_says_why(
        engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]) -> None:
    """tinyext's cross build told (through [tool.slim.cross] env) to name its extension module
    otherwise: the gate's module check refuses it, one line says so, and the wheel in the image
    is the one compiled under emulation."""
    project = make_project(tmp_path / "e2eapp")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{FAILING_IMAGE}"')
        + '\n[tool.slim.cross]\nenv = { tinyext = { TINYEXT_MODULE = "notthere" } }\n')
    # --no-cache: the log is what is read, and a step the build cache answers prints nothing.
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]), "--no-cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"bslim: tinyext 0\.1\.0: cross-built wheel failed the modules check "
                     r"\(no tinyext, which the build platform's tinyext-0\.1\.0-[^ ]+\.whl "
                     r"has\); compiling it under emulation", result.stderr), \
        result.stderr[-5000:]
    assert "cross-compiled wheel proven" not in result.stderr
    ran = tinyext_everywhere(f"{FAILING_IMAGE}:e2e")
    assert ran["linux/arm/v7"] == "210 True tinyext.cpython-313-arm-linux-gnueabihf.so", ran
    assert ran["linux/amd64"] == "210 True tinyext.cpython-313-x86_64-linux-gnu.so", ran


def test_pyyaml_with_libyaml_on_both_platforms(
        engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]) -> None:
    """PyYAML has no armv7l wheel on PyPI: cross-compiled against the target's libyaml-dev
    (apt-build, in the target's root), it must have yaml._yaml as the build platform's wheel
    does, and load it on arm/v7 with the runtime's libyaml."""
    project = make_project(tmp_path / "e2eapp", dependencies=["pyyaml==6.0.4"], packages=())
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"',
        f'image = "{YAML_IMAGE}"\napt-build = ["libyaml-dev"]\napt-runtime = ["libyaml-0-2"]'))
    # --no-cache: the log is what is read, and a step the build cache answers prints nothing.
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]), "--no-cache")
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    assert re.search(r"bslim: pyyaml==6\.0\.4: cross-compiled for linux/arm/v7 in", log), \
        log[-5000:]
    assert "bslim: pyyaml 6.0.4: cross-compiled wheel proven on linux/arm/v7 (imported " \
           "yaml._yaml)" in log, log[-5000:]
    assert "cross-built wheel failed" not in log
    for platform in PLATFORMS:
        run = docker("run", "--rm", "--pull", "always", "--platform", platform, "--entrypoint",
                     "python3", f"{YAML_IMAGE}:e2e", "-c",
                     "import yaml, yaml._yaml as c; print(yaml.__with_libyaml__, "
                     "yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader), "
                     "c.__file__.rsplit('/', 1)[-1])")
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("True {'a': [1, 2]} _yaml.cpython-313-"), run.stdout
