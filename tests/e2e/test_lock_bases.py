"""`bslim lock-bases`: the base images pinned by digest, asked of the registry the engine pulls
Docker Hub images from (its registry mirror, the local registry here), and a real build from the
pinned Dockerfile."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.e2e import registry
from tests.e2e.conftest import bslim, make_project

BASES = ("python:3.13-trixie", "python:3.13-slim-trixie")


def test_lock_bases_pins_what_the_mirror_serves_and_the_build_uses_it(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    project = make_project(tmp_path / "e2eapp")
    result = bslim("lock-bases", "--project", str(project))
    assert result.returncode == 0, result.stderr[-3000:]
    pins = json.loads((project / "bake" / "bases.lock.json").read_text())
    text = json.dumps(pins)
    dockerfile = (project / "bake" / "Dockerfile").read_text()
    for base in BASES:
        body, _ = registry._get(f"library/{base.replace(':', '/manifests/')}",
                                registry.INDEX_TYPES + registry.MANIFEST_TYPES)
        digest = f"sha256:{hashlib.sha256(body).hexdigest()}"
        assert digest in text, (base, digest, text)
        assert f"FROM {base}@{digest} AS" in dockerfile or \
            f"{base}@{digest} AS" in dockerfile, dockerfile
    check = bslim("render", "--check", "--project", str(project))
    assert check.returncode == 0, check.stdout + check.stderr
    build = bslim("bake", "--project", str(project), "--platform", "linux/amd64",
                  "--ca-bundle", str(ca_bundle[0]))
    assert build.returncode == 0, build.stderr[-3000:]
    for base in BASES:
        assert f"{base}@sha256:" in build.stderr, base
