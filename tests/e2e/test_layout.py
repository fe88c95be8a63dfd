"""The base images the suite builds on are laid out as the tests claim: the official layout
(CPython in /usr/local, as in the official python images) is what an unchanged generated
Dockerfile resolves to, so the suite cannot drift back to Debian's python3 unnoticed; the
second layout (Debian's python3 packages) is what its tests name.

Each image a rendered Dockerfile names in FROM is run once per platform and reports its
interpreter's layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    LAYOUTS,
    MACHINES,
    PLATFORMS,
    base_image,
    bslim,
    docker,
    make_project,
)

TRIPLETS = {"linux/amd64": "x86_64-linux-gnu", "linux/arm/v7": "arm-linux-gnueabihf"}
PAIRS = [("3.13", "trixie"), ("3.11", "bookworm")]
PROBE = r"""
import importlib.util, json, os, platform, shutil, sys, sysconfig
include = sysconfig.get_path("include")
pyconfig = None
if os.path.exists(os.path.join(include, "pyconfig.h")):
    with open(os.path.join(include, "pyconfig.h")) as handle:
        pyconfig = handle.read()
print(json.dumps({
    "machine": platform.machine(), "version": platform.python_version(),
    "prefix": sys.prefix, "base_prefix": sys.base_prefix, "executable": sys.executable,
    "externally_managed": os.path.exists(
        os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")),
    "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
    "multiarch": sysconfig.get_config_var("MULTIARCH"),
    "shared": sysconfig.get_config_var("Py_ENABLE_SHARED"),
    "purelib": sysconfig.get_path("purelib"), "include": include,
    "sysconfigdata": os.path.exists(os.path.join(
        sysconfig.get_path("stdlib"), sysconfig._get_sysconfigdata_name() + ".py")),
    "pyconfig_is_real": None if pyconfig is None else "#define SIZEOF_VOID_P" in pyconfig,
    "pip": importlib.util.find_spec("pip").origin,
    "which": {c: shutil.which(c) for c in ("python", "python3", "pip", "pip3")},
    "path": os.environ["PATH"], "python_version_env": os.environ.get("PYTHON_VERSION"),
}))
"""


def used_images(project: Path) -> list[str]:
    """The images the rendered Dockerfile starts stages FROM (not stages, not scratch)."""
    result = bslim("render", "--project", str(project))
    assert result.returncode == 0, result.stderr
    stages, images = set(), []
    for line in (project / "bake" / "Dockerfile").read_text().splitlines():
        match = re.match(r"^FROM (?:--platform=\S+ )?(\S+)(?: AS (\S+))?$", line)
        if match:
            if match.group(1) not in stages and match.group(1) != "scratch":
                images.append(match.group(1))
            if match.group(2):
                stages.add(match.group(2))
    return sorted(set(images))


def probe(image: str, platform: str) -> dict[str, object]:
    run = docker("run", "--rm", "--pull", "always", "--platform", platform,
                 "--entrypoint", "python3", image, "-c", PROBE)
    assert run.returncode == 0, run.stderr
    report: dict[str, object] = json.loads(run.stdout)
    return report


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("python", "debian"), PAIRS)
def test_the_images_a_project_builds_on_have_the_layout_of_its_stand_ins(
    engine: None, tmp_path: Path, layout: str, python: str, debian: str
) -> None:
    project = make_project(tmp_path / "app", layout=layout)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        "\n[tool.slim]\n", f'\n[tool.slim]\npython = "{python}"\ndebian = "{debian}"\n', 1))
    images = used_images(project)
    if layout == "official":
        # unchanged Docker Hub names: the registry mirror serves the stand-ins for them
        assert images == sorted([f"python:{python}-{debian}", f"python:{python}-slim-{debian}"])
    else:
        assert images == sorted([base_image(layout, python, debian, slim=False),
                                 base_image(layout, python, debian, slim=True)])
    xy = python.replace(".", "")
    for image in images:
        for platform in PLATFORMS:
            report = probe(image, platform)
            where = f"{image} {platform}: {report}"
            triplet = TRIPLETS[platform]
            assert report["machine"] == MACHINES[platform], where
            assert str(report["version"]).startswith(f"{python}."), where
            assert report["ext_suffix"] == f".cpython-{xy}-{triplet}.so", where
            assert report["multiarch"] == triplet, where
            assert report["sysconfigdata"] is True, where
            assert report["externally_managed"] is False, where
            which = report["which"]
            assert isinstance(which, dict), where
            assert all(which.values()), where  # python, python3, pip, pip3 all on PATH
            if layout == "official":
                assert report["prefix"] == report["base_prefix"] == "/usr/local", where
                assert report["executable"] == "/usr/local/bin/python3", where
                assert report["purelib"] == f"/usr/local/lib/python{python}/site-packages", where
                assert str(report["pip"]).startswith(f"{report['purelib']}/pip/"), where
                assert report["include"] == f"/usr/local/include/python{python}", where
                assert report["pyconfig_is_real"] is True, where  # not Debian's wrapper
                assert report["shared"] == 1, where  # --enable-shared
                assert which == {c: f"/usr/local/bin/{c}"
                                 for c in ("python", "python3", "pip", "pip3")}, where
                assert str(report["path"]).startswith("/usr/local/bin:"), where
                assert report["python_version_env"] == report["version"], where
            else:
                assert report["prefix"] == report["base_prefix"] == "/usr", where
                assert str(report["purelib"]).endswith("dist-packages"), where
                assert str(report["pip"]).startswith("/usr/lib/python3/dist-packages/"), where
                assert report["include"] == f"/usr/include/python{python}", where
                # the full image has python3-dev: Debian's multiarch wrapper; slim has no headers
                assert report["pyconfig_is_real"] is (None if "-slim-" in image else False), where

