"""Exported wheels, wheel images inherited by a derived project, and the registry cache.

The registry cache test empties the local build cache (`docker builder prune -af`): it runs
last in this file, and this file runs after the other build tests.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.e2e import engine as engines
from tests.e2e.conftest import PLATFORMS, bslim, docker, make_project, prune_build_cache

REG = "127.0.0.1:5000/bslim-e2e"


def built_wheels(log: str) -> list[str]:
    """Distributions built from source in this build, by pip, by the shim's compile step or
    by its cross stage (cached steps print nothing)."""
    found = re.findall(r"Building wheel for ([A-Za-z0-9_.-]+)|bslim: compiling (\S+) for"
                       r"|bslim: (\S+): cross-compiled for \S+ in [0-9.]+ s;", log)
    return [(by_pip or by_shim or crossed).split("==")[0] for by_pip, by_shim, crossed in found]


def ran_steps(log: str) -> list[str]:
    """Headers of the build steps that ran in this build: neither CACHED nor loaded from the
    registry cache. BuildKit 0.2x prints a step whose result it pulls from a registry cache
    with that result's layers (`#N sha256:...`, `#N extracting sha256:...`) and no CACHED line
    (docker/build-push-action#885: those lines are the remote cache being downloaded); a step
    that ran has neither."""
    headers: dict[str, str] = {}
    done: set[str] = set()
    for line in log.splitlines():
        if match := re.match(r"^#(\d+) (\[[^\]]+\] (?:RUN|COPY) .*)$", line):
            headers.setdefault(match.group(1), match.group(2))
        elif match := re.match(r"^#(\d+) (?:CACHED$|sha256:|extracting )", line):
            done.add(match.group(1))
    return [header for step, header in headers.items() if step not in done]


def stage_of(header: str) -> str:
    """`compile-project` of `[linux/arm/v7 compile-project 1/1] RUN ...`."""
    match = re.match(r"^\[(?:\S+ )?([a-z0-9_-]+) [0-9]+/[0-9]+\]", header)
    assert match, header
    return match.group(1)


def set_slim(project: Path, table: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.split("[tool.slim]")[0] + "[tool.slim]\n" + table)


def test_export_wheels_writes_each_platform_and_a_manifest(
    engine: None, app_project: Path, ca_bundle: tuple[Path, str], tmp_path: Path
) -> None:
    out = tmp_path / "wheels"
    result = bslim("bake", "--project", str(app_project), "--export-wheels", str(out),
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["platforms"]) == sorted(PLATFORMS)
    for platform in PLATFORMS:
        entry = manifest["platforms"][platform]
        folder = out / entry["directory"]
        assert folder.name == platform.replace("/", "-")
        names = {w["name"] for w in entry["wheels"]}
        assert names == {"e2eapp", "tinyext", "tinypure"}
        for wheel in entry["wheels"]:
            data = (folder / wheel["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == wheel["sha256"]
        ext = next(w for w in entry["wheels"] if w["name"] == "tinyext")
        machine = "armv7l" if platform == "linux/arm/v7" else "x86_64"
        assert all(tag.endswith(machine) for tag in ext["tags"]), ext["tags"]
        # Beside the manifest, the platform's SBOM lists exactly these wheels, by sha256.
        doc = json.loads((out / f"{entry['directory']}.spdx.json").read_text())
        assert doc["spdxVersion"] == "SPDX-2.3"
        assert sorted((p["packageFileName"], p["checksums"][0]["checksumValue"])
                      for p in doc["packages"] if "versionInfo" in p) == \
            sorted((w["file"], w["sha256"]) for w in entry["wheels"])
    assert not list(out.glob(".bslim-export-*")), "the raw export was not cleaned up"


def test_derived_project_compiles_none_of_its_parents_wheels(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    parent = make_project(tmp_path / "parent")
    set_slim(parent, f'image = "{REG}/parent"\nfind-links = ["wheelhouse"]\n'
                     "publish-wheels = true\n")
    result = bslim("bake", "--project", str(parent), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]

    derived = make_project(tmp_path / "derived", packages=("tinyext", "tinypure", "tinyadd"),
                           dependencies=["tinyext==0.1.0", "tinypure==0.1.0", "tinyadd==0.1.0"])
    set_slim(derived, f'image = "{REG}/derived"\nfind-links = ["wheelhouse"]\n'
                      f'wheels-from = ["{REG}/parent-wheels:e2e"]\n')
    result = bslim("bake", "--project", str(derived), "--push", "--tag", "e2e", "--no-cache",
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 0, result.stderr[-3000:]
    built = built_wheels(result.stderr)
    assert "tinyext" not in built, built  # the parent's wheels served both platforms
    assert "tinyadd" in built  # the check can fail: what is new is built (--no-cache)
    for platform in PLATFORMS:
        run = docker("run", "--rm", "--pull", "always", "--platform", platform,
                     f"{REG}/derived:e2e")
        assert run.returncode == 0, run.stderr
        assert "tinyext.triangle(100)=5050" in run.stdout


def test_a_fresh_builder_rebuilds_no_wheel_from_the_registry_cache(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    project = make_project(tmp_path / "cached")
    set_slim(project, f'image = "{REG}/cached"\nfind-links = ["wheelhouse"]\n'
                      f'[tool.slim.cache]\nregistry = "{REG}/cached-cache"\n')
    first = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                  "--ca-bundle", str(ca_bundle[0]))
    assert first.returncode == 0, first.stderr[-3000:]
    prune_build_cache()
    second = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]))
    assert second.returncode == 0, second.stderr[-3000:]
    # <cache repo>:<target>: the target is named after the project (e2eapp).
    assert f"importing cache manifest from {REG}/cached-cache:e2eapp" in second.stderr
    assert built_wheels(second.stderr) == [], built_wheels(second.stderr)
    ran = ran_steps(second.stderr)
    if engines.chosen() == "28":
        # Docker 28.5 (BuildKit 0.2x, buildx 0.29): after a prune, one platform's
        # compile-project step (it compiles nothing here) is not matched from the registry
        # cache and runs again, and at times the steps reading its output: 7 of 7 post-prune
        # builds. A minimal Dockerfile of the same shape (a stage built once for both
        # platforms, per-platform steps bind-mounting it read-write, two platforms) misses one
        # such step the same way; why is not established (docs/performance.md, case (e)). The
        # compile step has that shape too (it bind-mounts the fetch stage read-write) and was
        # seen to run again the same way (arm/v7, 2026-12-06). What must hold on every engine:
        # nothing resolved, fetched or compiled again (built_wheels above).
        assert {stage_of(header) for header in ran} <= {"compile", "compile-project", "wheels",
                                                        "install", "runtime"}, ran
        return
    # Docker 26.1 (BuildKit 0.12): every step came from the cache, none ran again.
    assert ran == [], ran
