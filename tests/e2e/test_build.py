"""Real builds: both platforms under a real BuildKit, run, pushed, and read layer by layer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e import registry
from tests.e2e.conftest import (
    FIXTURES,
    IMAGE,
    LAYOUTS,
    MACHINES,
    PLATFORMS,
    Pushed,
    bslim,
    docker,
    make_project,
)

COMPILERS = re.compile(r"(^|/)(gcc|g\+\+|cc1|cc1plus|[a-z0-9_]+-linux-gnu[a-z]*-gcc(-[0-9]+)?|"
                       r"cc|c\+\+|as|ld|ld\.bfd)$")
# Installed payload: what pip put into site-packages plus its console script.
PAYLOAD = re.compile(r"^(usr/local/lib/python3\.[0-9]+/(site|dist)-packages/|usr/local/bin/)")


def test_index_lists_both_platforms(pushed: Pushed) -> None:
    assert sorted(pushed.images) == sorted(PLATFORMS)


def test_oci_labels_carry_the_project_version(pushed: Pushed) -> None:
    for image in pushed.images.values():
        labels = image.config["config"]["Labels"]
        assert labels["org.opencontainers.image.version"] == "0.3.0"
        assert labels["org.opencontainers.image.title"] == "e2eapp"
        assert labels["org.opencontainers.image.source"] == "https://example.invalid/e2eapp"


# These three run on both layouts of the stand-ins (tests/e2e/conftest.py): where the wheels
# land, how the image is layered and what it runs differ between them.
@pytest.mark.parametrize("pushed", LAYOUTS, indirect=True)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_image_runs_compiled_code_as_non_root(pushed: Pushed, platform: str) -> None:
    run = docker("run", "--rm", "--pull", "always", "--platform", platform, pushed.ref)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert f"machine={MACHINES[platform]}" in lines
    assert "tinyext.triangle(100)=5050" in lines
    assert "tinypure=pure ok" in lines
    assert "uid=10001" in lines
    assert pushed.images[platform].config["config"]["User"] == "10001:10001"


@pytest.mark.parametrize("pushed", LAYOUTS, indirect=True)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_compiler_wheel_pip_cache_or_ca_bundle_in_any_layer(
    pushed: Pushed, platform: str, ca_bundle: tuple[Path, str]
) -> None:
    repo, _ = registry.split_ref(pushed.ref)
    marker = ca_bundle[1].encode()
    # The slim base may ship wheels of its own (Debian's python3-pip-whl, ensurepip's bundle):
    # those are the base image's, not ours. Everything else is checked in every layer.
    base = {layer["digest"]
            for layer in registry.platform_images(pushed.runtime_base)[platform].layers}
    found: list[str] = []
    names: set[str] = set()
    for layer in pushed.images[platform].layers:
        for member, content in registry.layer_members(repo, layer["digest"]):
            name = member.name.removeprefix("./")
            names.add(name)
            if name.endswith(".whl") and layer["digest"] not in base:
                found.append(f"wheel {name}")
            if COMPILERS.search(name) and (member.isfile() or member.issym()):
                found.append(f"compiler {name}")
            if "/.cache/pip" in f"/{name}":
                found.append(f"pip cache {name}")
            if "run/secrets" in name or (content is not None and marker in content):
                found.append(f"CA bundle {name}")
    assert not found, found
    # The scan saw the image for real: the extension and its package are in a layer.
    assert any(re.search(r"(site|dist)-packages/tinyext\..*\.so$", n) for n in names), "no tinyext"
    assert any(re.search(r"(site|dist)-packages/e2eapp/__init__.py$", n) for n in names)


@pytest.mark.parametrize("pushed", LAYOUTS, indirect=True)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_size_is_slim_base_plus_payload(pushed: Pushed, platform: str) -> None:
    base = registry.platform_images(pushed.runtime_base)[platform]
    image = pushed.images[platform]
    base_digests = [layer["digest"] for layer in base.layers]
    digests = [layer["digest"] for layer in image.layers]
    assert digests[: len(base_digests)] == base_digests, "image does not start with the slim base"
    repo, _ = registry.split_ref(pushed.ref)
    added = payload = 0
    for digest in digests[len(base_digests):]:
        for member, _ in registry.layer_members(repo, digest):
            if member.isfile():
                added += member.size
                if PAYLOAD.match(member.name.removeprefix("./")):
                    payload += member.size
    margin = added - payload
    extra_compressed = image.compressed_size - base.compressed_size
    print(f"{platform}: base {base.compressed_size} B compressed, +{extra_compressed} B "
          f"compressed; payload {payload} B, other added files {margin} B")
    assert payload > 0
    # Everything that is not the installed payload: the user entry (passwd, group, shadow,
    # lastlog...) and directories. Measured ~10 KiB; 64 KiB leaves room for Debian's tools.
    assert margin < 64 * 1024, margin


def test_doctor_is_all_ok_on_the_engine(engine: None, app_project: Path) -> None:
    result = bslim("doctor", "--project", str(app_project))
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = [line.split()[0] for line in result.stdout.splitlines()
                if line and not line.startswith(" ")]
    assert statuses and set(statuses) == {"ok"}, result.stdout
    assert "base python:3.13-slim-trixie linux/arm/v7" in result.stdout
    assert "platform.machine() = armv7l" in result.stdout


def test_doctor_fails_with_exit_3_on_a_dead_daemon(tmp_path: Path) -> None:
    socket = tmp_path / "nothing-here.sock"
    result = bslim("doctor", "--project", str(FIXTURES / "app"),
                   env={"DOCKER_HOST": f"unix://{socket}"})
    assert result.returncode == 3, result.stdout + result.stderr
    first = result.stderr.splitlines()[0]
    assert first == f"error: the Docker daemon is not reachable at unix://{socket}"


def test_a_dependency_that_fails_to_compile_names_the_step(
    engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]
) -> None:
    project = make_project(tmp_path / "broken", dependencies=["brokenext==0.1.0"],
                           packages=("brokenext",))
    result = bslim("bake", "--project", str(project), "--platform", "linux/amd64",
                   "--ca-bundle", str(ca_bundle[0]))
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, errors
    # With fast-wheels an amd64 build compiles natively, in the fetch stage.
    assert re.match(r"error: build step \[(linux/amd64 )?(fetch|wheels) [0-9]+/[0-9]+\] RUN "
                    r".*pip.* failed: ", errors[0]), errors[0]
    tail = result.stderr.split(errors[0], 1)[1]
    assert "bslim_e2e_undeclared_symbol" in tail
    assert "hint: " in tail


def test_bake_print_resolves_the_generated_file(engine: None, app_project: Path) -> None:
    result = bslim("bake", "--project", str(app_project), "--print", "--platform",
                   "linux/arm/v7", "--tag", "x")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    target = resolved["target"]["e2eapp"]
    assert target["platforms"] == ["linux/arm/v7"]
    assert target["tags"] == [f"{IMAGE}:x"]
