"""Locks made fresh by uv and pip from PyPI, read by bslim, checked against real installs.

Outside tests/unit/ (it runs uv, pip and reaches PyPI). For the machine this runs on, what
bslim selects from each lock must be exactly what uv installs from it into a fresh
environment; bslim's hash-pinned requirements for that platform must install with
`pip --require-hashes --no-deps`, and one wrong hash must fail pip naming the package.
tests/lockapp/locks/ (what the unit tests read) must be what the tools write today.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from buildkit_slim import locks
from buildkit_slim.locks import TargetEnvironment
from buildkit_slim.platforms import native
from tests import make_locks

HOST = native(platform.machine())
PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
pytestmark = pytest.mark.skipif(sys.platform != "linux" or HOST is None,
                                reason="a Linux machine bslim knows")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_locks.generate(tmp_path_factory.mktemp("locks"))


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=make_locks.tool_env(), capture_output=True, text=True,
                          timeout=900, check=False, cwd=cwd)


def test_the_committed_fixtures_are_what_the_tools_write(fresh: dict[str, Path]) -> None:
    for name, path in fresh.items():
        assert path.read_text() == (make_locks.LOCKS / name).read_text(), (
            f"tests/lockapp/locks/{name} is stale: run `python -m tests.make_locks`")


def installed_by_uv(tmp: Path, lock_name: str, lock: Path) -> dict[str, str]:
    """Install the lock for this machine with uv into a fresh environment, from a copy of
    the project (the locks name it as `.`); what is installed there, the project aside."""
    project = tmp / "project"
    shutil.copytree(make_locks.PROJECT, project, ignore=shutil.ignore_patterns("locks"))
    (project / lock_name).write_text(lock.read_text())
    target = project / ".venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = str(target / "bin" / "python")
    if lock_name == "uv.lock":
        command = ["sync", "--frozen", "--all-extras", "--no-install-project"]
    else:
        # (uv export's file also holds `-e .`, which has no hash: uv checks the others)
        hashes = ["--require-hashes"] if lock_name == "requirements.txt" else []
        command = ["pip", "install", "--python", python, *hashes, "-r", lock_name]
    result = _run([make_locks.uv(), *command], cwd=project)
    assert result.returncode == 0, result.stderr
    listed = _run([make_locks.uv(), "pip", "list", "--format", "json", "--python", python])
    assert listed.returncode == 0, listed.stderr
    return {item["name"].lower(): item["version"] for item in json.loads(listed.stdout)
            if item["name"].lower() != "lockapp"}


@pytest.mark.parametrize("name", ["uv.lock", "pylock.toml", "pylock.pip.toml",
                                  "requirements.txt", "requirements.export.txt"])
def test_bslim_selects_what_uv_installs_here(fresh: dict[str, Path], name: str,
                                            tmp_path: Path) -> None:
    assert HOST is not None
    lock = locks.parse(fresh[name].read_text(), name)
    here = TargetEnvironment(platform=HOST, python=PYTHON)
    project = make_locks.PROJECT / "pyproject.toml"
    from buildkit_slim._compat import tomllib

    meta = tomllib.loads(project.read_text())["project"]
    optional = sorted(meta["optional-dependencies"].items())
    chosen = locks.check_lock(
        lock, [here], project="lockapp", dependencies=meta["dependencies"],
        optional=optional, extras=("tz",),
        wanted=[*meta["dependencies"], *meta["optional-dependencies"]["tz"]])[HOST]
    ours = {p.name: p.version for p in chosen.packages}
    assert ours == installed_by_uv(tmp_path, name, fresh[name])
    assert ours["six"] == "1.16.0" and ours["tzdata"] == "2024.1"


def test_pip_installs_the_hash_pinned_selection_and_refuses_a_wrong_hash(
        fresh: dict[str, Path], tmp_path: Path) -> None:
    """What the build steps will run: pip --require-hashes --no-deps over the requirements
    bslim writes for one platform."""
    assert HOST is not None
    lock = locks.parse(fresh["uv.lock"].read_text(), "uv.lock")
    here = TargetEnvironment(platform=HOST, python=PYTHON)
    chosen, problems = locks.select(lock, here, project="lockapp", extras=("tz",))
    assert problems == []
    requirements = tmp_path / "locked.txt"
    requirements.write_text(chosen.requirements_text())
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--require-hashes",
           "--index-url", "https://pypi.org/simple"]
    target = tmp_path / "site"
    result = _run([*pip, "--target", str(target), "-r", str(requirements)])
    assert result.returncode == 0, result.stderr
    got = sorted(f"{canonicalize_name(d.metadata['Name'])}=={d.version}"
                 for d in importlib.metadata.distributions(path=[str(target)]))
    assert got == sorted(f"{p.name}=={p.version}" for p in chosen.packages)

    # One file's hash wrong: pip takes only files whose index hash the lock allows, so it
    # installs six from its other file (the sdist): still verified, still 1.16.0.
    six = next(p for p in chosen.packages if p.name == "six")
    assert six.wheel is not None and six.wheel.sha256 is not None
    assert six.sdist is not None and six.sdist.sha256 is not None
    text = chosen.requirements_text()
    one = tmp_path / "one-wrong.txt"
    one.write_text(text.replace(six.wheel.sha256, "0" * 64))
    result = _run([*pip, "--target", str(tmp_path / "one"), "-r", str(one)])
    assert result.returncode == 0, result.stderr
    assert [d.version for d in importlib.metadata.distributions(path=[str(tmp_path / "one")])
            if d.metadata["Name"] == "six"] == ["1.16.0"]
    # Every file's hash wrong: pip refuses and names the package and the file.
    tampered = tmp_path / "tampered.txt"
    tampered.write_text(text.replace(six.wheel.sha256, "0" * 64).replace(
        six.sdist.sha256, "1" * 64))
    result = _run([*pip, "--target", str(tmp_path / "other"), "-r", str(tampered)])
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr
    assert "six==1.16.0 from https://files.pythonhosted.org/" in result.stderr


def test_latest_tools_and_releases_still_read(tmp_path: Path) -> None:
    """No cut-off: what uv and pip write today from what PyPI has today."""
    made = make_locks.generate(tmp_path, exclude_newer=None)
    for name in ("uv.lock", "pylock.toml", "requirements.txt"):
        lock = locks.parse(made[name].read_text(), name)
        for target in ("linux/amd64", "linux/arm/v7"):
            chosen, problems = locks.select(
                lock, TargetEnvironment(platform=target, python="3.13"), project="lockapp",
                extras=("tz",))
            assert problems == [], problems
            versions = {p.name: p.version for p in chosen.packages}
            assert versions["six"] == "1.16.0" and versions["idna"] == "3.7"
            assert ("pyyaml" in versions) is (target == "linux/amd64")


def test_no_tool_saw_this_machines_pip_configuration() -> None:
    env = make_locks.tool_env()
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert not any(k in env for k in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"))
    for name in make_locks.NAMES:
        assert "file://" not in (make_locks.LOCKS / name).read_text()
