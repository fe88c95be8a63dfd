"""Reproducible images: one commit built twice from an emptied build cache gives one digest.

`SOURCE_DATE_EPOCH` fixes the image's created times and the `created` label; the output's
`rewrite-timestamp=true` clamps every file's mtime in the layers to it; no default provenance
attestation (it records when the build ran). The images are exported as OCI tarballs: an image
output needs `store=false` on the docker driver (its store unpacks, which rewrite-timestamp
refuses), and buildx 0.13 then fails the push ("tag does not exist"); the index digest is the
same either way. The test empties the build cache between the builds (`docker builder prune
-af`): it runs only on an engine tests/engine/up.sh started (tests/e2e/engine.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import engine as engines
from tests.e2e.conftest import bslim, make_project, prune_build_cache

EPOCH = "1767225600"  # 2026-01-01T00:00:00Z: a commit's time, as CI takes it from git
ENV = {"SOURCE_DATE_EPOCH": EPOCH, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1",
       "GITHUB_SHA": "", "GITHUB_REF": ""}


def rewrites_timestamps(tmp: Path) -> bool:
    """Whether this engine's BuildKit honours rewrite-timestamp (an older one ignores the
    option): a one-file image exported as an OCI tarball, its file's mtime read back."""
    (tmp / "f").write_text("x\n")
    (tmp / "Dockerfile").write_text("FROM scratch\nCOPY f /f\n")
    out = tmp / "probe.tar"
    build = subprocess.run(
        ["docker", "buildx", "build", "--no-cache", "--quiet", "--output",
         f"type=oci,dest={out},rewrite-timestamp=true", str(tmp)],
        env={**os.environ, **ENV, "SOURCE_DATE_EPOCH": "1000000000"},
        capture_output=True, text=True, timeout=300, check=False)
    if build.returncode != 0:
        return False
    with tarfile.open(out) as oci:
        for member in oci.getmembers():
            handle = oci.extractfile(member) if member.name.startswith("blobs/") else None
            if handle is None:
                continue
            try:
                with tarfile.open(fileobj=handle, mode="r:*") as layer:
                    files = [m for m in layer.getmembers() if m.name in ("f", "./f")]
            except tarfile.TarError:
                continue  # a manifest or config blob
            if files:
                return files[0].mtime == 1_000_000_000
    return False


def build(project: Path, name: str, ca: Path) -> tuple[str, dict[str, Any]]:
    """The OCI index digest and each platform's image config. The tarball goes under dist/,
    which the generated .dockerignore keeps out of the next build's context (and newer buildx
    allow writes inside the working directory without --allow)."""
    out = project / "dist" / f"{name}.tar"
    out.parent.mkdir(exist_ok=True)
    result = bslim("bake", "--project", str(project), "--tag", "repro", "--set",
                   f"*.output=type=oci,dest={out},rewrite-timestamp=true",
                   "--ca-bundle", str(ca), env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    with tarfile.open(out) as oci:
        def read(digest: str) -> Any:
            handle = oci.extractfile(f"blobs/sha256/{digest.split(':')[1]}")
            assert handle is not None, digest
            return json.loads(handle.read())

        handle = oci.extractfile("index.json")
        assert handle is not None
        (top,) = json.loads(handle.read())["manifests"]
        configs = {entry["digest"]: read(read(entry["digest"])["config"]["digest"])
                   for entry in read(top["digest"])["manifests"]}
    return str(top["digest"]), configs


def test_two_builds_of_one_commit_from_an_emptied_cache_give_one_digest(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    if not engines.engine_is_ours():
        pytest.skip(f"needs an engine started by tests/engine/up.sh (BSLIM_ENGINE="
                    f"{engines.chosen()}): the test empties its build cache")
    with tempfile.TemporaryDirectory(prefix="bslim-probe-") as probe:
        if not rewrites_timestamps(Path(probe)):
            pytest.skip("this engine's BuildKit ignores the image output's rewrite-timestamp "
                        "option: layers keep the time of the build")
    # Pure dependencies: an sdist pip compiles natively keeps pip's random build directory
    # (/tmp/pip-wheel-<random>/<name>_<uuid>) in its debug info, so its .so differs per build.
    project = make_project(tmp_path / "e2eapp", dependencies=["tinypure==0.1.0"],
                           packages=("tinypure",))
    prune_build_cache()
    first, configs_first = build(project, "first", ca_bundle[0])
    prune_build_cache()
    second, configs_second = build(project, "second", ca_bundle[0])
    differing = sorted(set(configs_first) ^ set(configs_second))
    assert first == second, f"index {first} then {second}; platform manifests: {differing}"
    created = {config.get("created") for config in configs_second.values()}
    assert created == {"2026-01-01T00:00:00Z"}, created
    assert len(configs_second) == 2  # both platforms


def oci_index_digest(tarball: Path) -> tuple[str, int]:
    """The OCI tarball's index digest and how many platform manifests it holds."""
    with tarfile.open(tarball) as oci:
        handle = oci.extractfile("index.json")
        assert handle is not None
        (top,) = json.loads(handle.read())["manifests"]
        inner = oci.extractfile(f"blobs/sha256/{top['digest'].split(':')[1]}")
        assert inner is not None
        return str(top["digest"]), len(json.loads(inner.read())["manifests"])


def test_bake_reproducible_gives_one_digest_with_compiled_extensions(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    """`bslim bake --reproducible --oci DIR` on tests/lockapp under its uv.lock: msgpack is
    compiled from its sdist on both platforms (natively on amd64, under emulation on arm/v7),
    markupsafe on arm/v7; SOURCE_DATE_EPOCH comes from the last commit. Two builds from an
    emptied build cache give one index digest."""
    from tests.e2e.test_locked import locked_project

    if not engines.engine_is_ours():
        pytest.skip(f"needs an engine started by tests/engine/up.sh (BSLIM_ENGINE="
                    f"{engines.chosen()}): the test empties its build cache")
    with tempfile.TemporaryDirectory(prefix="bslim-probe-") as probe:
        if not rewrites_timestamps(Path(probe)):
            pytest.skip("this engine's BuildKit ignores rewrite-timestamp")
    project = locked_project(tmp_path / "lockapp")
    (project / ".gitignore").write_text("dist/\n")
    git = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "lockapp"]):
        subprocess.run(["git", "-C", str(project), *args], check=True, env={**os.environ, **git})
    digests = []
    for name in ("first", "second"):
        prune_build_cache()
        out = project / "dist" / name
        result = bslim("bake", "--project", str(project), "--reproducible", "--oci", str(out),
                       "--ca-bundle", str(ca_bundle[0]),
                       env={"SOURCE_DATE_EPOCH": "", "GITHUB_SHA": "", "GITHUB_REF": ""})
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"reproducibly (SOURCE_DATE_EPOCH {EPOCH}, git commit" in result.stdout
        digests.append(oci_index_digest(out / "lockapp.oci.tar"))
    assert digests[0] == digests[1], digests
    assert digests[0][1] == 2  # both platforms
