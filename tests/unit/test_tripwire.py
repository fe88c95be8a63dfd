"""The tripwire itself: each way out of the process is closed, and a swallowed trip still fails."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.unit.conftest import Tripwire, TripwireError

pytest_plugins = ["pytester"]


def test_subprocess_run_is_blocked(tripwire: Tripwire) -> None:
    with pytest.raises(TripwireError, match=r"subprocess\.run"):
        subprocess.run(["docker", "version"], check=False)
    assert tripwire.reset() == ["subprocess.run(['docker', 'version'],)"]


def test_popen_and_what_uses_it_are_blocked(tripwire: Tripwire) -> None:
    with pytest.raises(TripwireError, match=r"subprocess\.Popen"):
        subprocess.Popen(["true"])
    with pytest.raises(TripwireError, match=r"subprocess\.(run|Popen)"):
        subprocess.check_output(["docker", "info"])
    assert len(tripwire.reset()) == 2


@pytest.mark.parametrize("name", ["system", "execv", "execvp", "spawnv", "posix_spawn", "fork"])
def test_os_process_calls_are_blocked(tripwire: Tripwire, name: str) -> None:
    with pytest.raises(TripwireError, match=rf"os\.{name}"):
        getattr(os, name)("docker")
    assert len(tripwire.reset()) == 1


def test_the_primitive_under_popen_is_blocked(tripwire: Tripwire) -> None:
    import _posixsubprocess

    with pytest.raises(TripwireError, match=r"_posixsubprocess\.fork_exec"):
        _posixsubprocess.fork_exec()  # type: ignore[call-arg]
    assert len(tripwire.reset()) == 1


def test_importing_python_on_whales_is_blocked(tripwire: Tripwire) -> None:
    with pytest.raises(TripwireError, match="import python_on_whales"):
        importlib.import_module("python_on_whales")
    assert tripwire.reset() == ["import python_on_whales"]


def test_a_swallowed_trip_is_still_recorded(tripwire: Tripwire) -> None:
    with contextlib.suppress(Exception):  # what a careless caller might do
        subprocess.run(["docker", "buildx", "bake"], check=False)
    # Without this reset the fixture's teardown fails the test.
    assert tripwire.reset() == ["subprocess.run(['docker', 'buildx', 'bake'],)"]


def test_a_swallowed_trip_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_careless="""
        import subprocess

        def test_swallows():
            try:
                subprocess.run(["docker", "info"], check=False)
            except Exception:
                pass
        """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*tripwire: a unit test reached for a process or docker*"])
