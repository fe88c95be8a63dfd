"""The exact SBOM (#19): bslim's own image as BuildKit's SBOM generator, the attestation read
back from the registry and checked against `pip list` in each platform's image."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from tests.e2e.conftest import PLATFORMS, REGISTRY, bslim, docker, make_project

REPO = Path(__file__).resolve().parents[2]
GENERATOR = f"{REGISTRY}/bslim-e2e/bslim:sbom-generator"
IMAGE = f"{REGISTRY}/bslim-e2e/sbomapp"
# six 1.17.0's one wheel on PyPI (https://pypi.org/project/six/1.17.0/#files): the wheel the
# image installs as it was downloaded, byte for byte.
SIX_WHEEL = "six-1.17.0-py2.py3-none-any.whl"
SIX_SHA256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"


@pytest.fixture(scope="module")
def generator(engine: None, tmp_path_factory: pytest.TempPathFactory,
              ca_bundle: tuple[Path, str]) -> str:
    """bslim's own image (this tree), built by bslim for the build platform and pushed where
    the engine can pull it: the SBOM generator."""
    tree = tmp_path_factory.mktemp("bslim") / "buildkit-slim"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in files:
        if name and not name.startswith("tests/") and (REPO / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    result = bslim("bake", "--project", str(tree), "--platform", "linux/amd64", "--push",
                   "--set", f"buildkit-slim.tags={GENERATOR}", "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    return GENERATOR


def pip_list(ref: str, platform: str) -> set[tuple[str, str]]:
    run = docker("run", "--rm", "--pull", "always", "--platform", platform, "--entrypoint",
                 "python3", ref, "-m", "pip", "list", "--format", "json",
                 "--disable-pip-version-check")
    assert run.returncode == 0, run.stderr
    return {(canonicalize_name(d["name"]), d["version"]) for d in json.loads(run.stdout)}


def sbom_of(ref: str) -> dict[str, Any]:
    """platform -> the SPDX document BuildKit attached, as the registry serves it."""
    run = docker("buildx", "imagetools", "inspect", ref, "--format", "{{ json .SBOM }}")
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    return {platform: entry["SPDX"] for platform, entry in found.items()}


def test_the_sbom_attestation_is_exactly_pip_list_on_each_platform(
        generator: str, tmp_path: Path, ca_bundle: tuple[Path, str]) -> None:
    project = make_project(tmp_path / "sbomapp", packages=("tinyext",),
                           dependencies=["tinyext==0.1.0", "six==1.17.0"])
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{IMAGE}"'))
    started = time.monotonic()
    result = bslim("bake", "--project", str(project), "--push", "--tag", "sbom",
                   "--ca-bundle", str(ca_bundle[0]), "--sbom", generator)
    print(f"bake --sbom took {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    ref = f"{IMAGE}:sbom"
    documents = sbom_of(ref)
    assert sorted(documents) == sorted(PLATFORMS)
    for platform in PLATFORMS:
        doc = documents[platform]
        packages = [p for p in doc["packages"] if isinstance(p, dict) and "versionInfo" in p]
        listed = {(canonicalize_name(str(p["name"])), str(p["versionInfo"])) for p in packages}
        assert listed == pip_list(ref, platform), platform
        assert len(listed) == len(packages), "a distribution listed twice"
        by_name = {str(canonicalize_name(str(p["name"]))): p for p in packages}
        six = by_name["six"]
        assert six["packageFileName"] == SIX_WHEEL
        assert six["checksums"] == [{"algorithm": "SHA256", "checksumValue": SIX_SHA256}]
        assert str(six["sourceInfo"]).startswith("downloaded: ")
        assert {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                "referenceLocator": f"pkg:pypi/six@1.17.0?file_name={SIX_WHEEL}"} in \
            six["externalRefs"]
        tinyext = by_name["tinyext"]
        machine = {"linux/amd64": "x86_64", "linux/arm/v7": "armv7l"}[platform]
        assert str(tinyext["packageFileName"]).endswith(f"-linux_{machine}.whl")
        assert str(tinyext["sourceInfo"]).startswith("compiled: ")
        if platform == "linux/arm/v7":  # tinyext passes the gate: cross-compiled
            assert "cross-compiled on the build platform (linux/amd64) for linux/arm/v7 from " \
                "its sdist sha256:" in str(tinyext["sourceInfo"]), tinyext["sourceInfo"]
        else:  # the fetch built it natively
            assert "built on the build platform (linux/amd64)" in str(tinyext["sourceInfo"])
        app = by_name["e2eapp"]
        assert str(app["sourceInfo"]).startswith("project: ")
        assert app["licenseDeclared"] == "MIT"
        assert str(by_name["pip"]["sourceInfo"]).startswith("base: ")
        for package in packages:  # what bslim installed has its wheel's sha256
            if not str(package["sourceInfo"]).startswith("base: "):
                checksum = package["checksums"]
                assert isinstance(checksum, list) and len(checksum[0]["checksumValue"]) == 64
