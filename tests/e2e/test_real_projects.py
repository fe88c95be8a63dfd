"""fast-wheels on projects as users have them: a setuptools project with a C extension of its
own, a dependency that PyPI publishes as an armv7l binary wheel (fetched through the CA
secret, the way a TLS-intercepting proxy needs it), on each Python/Debian pair of the official
images. Built with `--no-cache`, so nothing of an earlier build can hide a broken step.

The default path must hold without any fallback: no build requirement left for pip's build
isolation under emulation, no pip building the project.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    DEFAULT_LAYOUT,
    FIXTURES,
    MACHINES,
    PLATFORMS,
    bslim,
    docker,
    make_project,
    make_sdist,
    use_layout,
)

IMAGE = "127.0.0.1:5000/bslim-e2e/extproj"
FALLBACKS = (
    "build isolation will install them under emulation",  # a build env not prepared
    "pip builds the project",  # the backend asked for more than was prepared
    "not importable",  # the backend could not be imported from the prepared requirements
    "Traceback",
)


def extproj(root: Path, *, python: str, debian: str, image: str,
            extra: str = "", layout: str = DEFAULT_LAYOUT) -> Path:
    shutil.copytree(FIXTURES / "extproj", root)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        f'image = "{IMAGE}"',
        f'image = "{image}"\npython = "{python}"\ndebian = "{debian}"\n{extra}'))
    use_layout(pyproject, layout)
    return root


def run_everywhere(ref: str) -> dict[str, dict[str, object]]:
    out = {}
    for platform in PLATFORMS:
        run = docker("run", "--rm", "--pull", "always", "--platform", platform, ref)
        assert run.returncode == 0, run.stderr
        out[platform] = json.loads(run.stdout)
    return out


# Each Python/Debian pair of the stand-ins, and 3.13 again on Debian's python3 packages (the
# second layout: the compile stage then builds against Debian's multiarch headers).
@pytest.mark.parametrize(("python", "debian", "layout"), [
    ("3.11", "bookworm", DEFAULT_LAYOUT), ("3.13", "trixie", DEFAULT_LAYOUT),
    ("3.13", "trixie", "debian" if DEFAULT_LAYOUT == "official" else "official")])
def test_a_c_extension_project_builds_cold_on_the_default_path(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str], python: str, debian: str,
    layout: str
) -> None:
    image = f"{IMAGE}-{debian}" + ("" if layout == DEFAULT_LAYOUT else f"-{layout}")
    project = extproj(tmp_path / "extproj", python=python, debian=debian, image=image,
                      layout=layout)
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e", "--no-cache",
                   "--progress", "plain", "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    for fallback in FALLBACKS:
        assert fallback not in result.stderr, fallback
    verdicts = set(re.findall(r"bslim: (\S+) (\S+): (pure|wheel|native|compile)",
                              result.stderr))
    # arm/v7: PyPI's armv7l wheel, fetched natively; the project compiled on the target.
    assert ("markupsafe", "3.0.4", "wheel") in verdicts, verdicts
    assert ("extproj", "0.1.0", "compile") in verdicts, verdicts
    assert "bslim: compiling /src for linux/arm/v7" in result.stderr
    ran = run_everywhere(f"{image}:e2e")
    for platform, report in ran.items():
        assert report == {"machine": MACHINES[platform], "python": python, "cube": 343,
                          "flavour": "plain", "escaped": "&lt;a&gt;",
                          "speedups": report["speedups"]}
        assert str(report["speedups"]).startswith("_speedups.cpython-")
        assert ("arm-linux-gnueabihf" in str(report["speedups"])) == (platform != PLATFORMS[0])


def flavours(ref: str) -> dict[str, str]:
    out = {}
    for platform in PLATFORMS:
        run = docker("run", "--rm", "--pull", "always", "--platform", platform, "--entrypoint",
                     "python3", ref, "-c", "import tinyext; print(tinyext.flavour())")
        assert run.returncode == 0, run.stderr
        out[platform] = run.stdout.strip()
    return out


def test_projects_with_other_build_args_never_share_a_compiled_wheel(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    """The same sdist (tinyext), compiled natively for amd64 and under QEMU for arm/v7, for two
    projects on one builder: the second sets CFLAGS. pip's wheel cache and the compile cache
    would hand it the first one's wheels if their keys left the build args out."""
    refs: dict[str, str] = {}
    for flavour, args in (("plain", ""), ("mint", 'args = { CFLAGS = "-DFLAVOUR=mint" }\n')):
        project = make_project(tmp_path / flavour)
        if refs:  # byte for byte the first one's sdists (gzip headers hold a time)
            shutil.rmtree(project / "wheelhouse")
            shutil.copytree(tmp_path / "plain" / "wheelhouse", project / "wheelhouse")
        pyproject = project / "pyproject.toml"
        image = f"127.0.0.1:5000/bslim-e2e/flavour-{flavour}"
        pyproject.write_text(pyproject.read_text().replace(
            'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{image}"\n{args}'))
        result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                       "--ca-bundle", str(ca_bundle[0]))
        assert result.returncode == 0, result.stderr[-3000:]
        refs[flavour] = f"{image}:e2e"
    assert flavours(refs["plain"]) == dict.fromkeys(PLATFORMS, "plain")
    assert flavours(refs["mint"]) == dict.fromkeys(PLATFORMS, "mint")


def test_two_c_extensions_compile_side_by_side_under_emulation(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    """Two dependencies with no armv7l wheel, cross-compiling off: compiled on the target one
    per core, each log shown whole, both in the image."""
    project = make_project(tmp_path / "pair", dependencies=[
        "extproj==0.1.0", "tinyext==0.1.0", "tinypure==0.1.0"])
    make_sdist(FIXTURES / "extproj", project / "wheelhouse")
    image = "127.0.0.1:5000/bslim-e2e/pair"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"',
        f'image = "{image}"\ncross = {{ enabled = false }}'))
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e", "--no-cache",
                   "--progress", "plain", "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cross-compiled" not in result.stderr
    for name in ("extproj==0.1.0", "tinyext==0.1.0"):
        assert f"bslim: compiling {name} for linux/arm/v7" in result.stderr
    run = docker("run", "--rm", "--pull", "always", "--platform", "linux/arm/v7",
                 "--entrypoint", "python3", f"{image}:e2e", "-c",
                 "import platform, tinyext, extproj._fast as f; "
                 "print(platform.machine(), tinyext.triangle(4), f.cube(3))")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["armv7l", "10", "27"]
