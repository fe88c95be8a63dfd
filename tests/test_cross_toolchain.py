"""cross_build.py's toolchain wrappers, run for real with a stand-in cross compiler (a shell
script) on PATH: what a cross build's CC is, and that it reaches the real compiler with the
target's root as its sysroot. Outside tests/unit/, whose tripwire forbids processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildkit_slim.resources import cross_build, wheel_gate

GNU = "arm-linux-gnueabihf"


def test_the_wrappers_call_debians_cross_tools_with_the_sysroot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "usr-bin"
    real.mkdir()
    for tool in ("gcc", "ar"):
        script = real / f"{GNU}-{tool}"
        script.write_text(f'#!/bin/sh\n[ "$1" = --version ] && echo "{GNU}-{tool} (Debian) 12"'
                          ' && exit 0\necho "$0 $*"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{real}:{os.environ['PATH']}")
    env, version = cross_build.toolchain(GNU, Path("/bslim/sysroot"), tmp_path / "bin")
    assert version == f"{GNU}-gcc (Debian) 12"
    assert (env["CC"], env["CXX"], env["AR"]) == (f"{GNU}-gcc", f"{GNU}-g++", f"{GNU}-ar")
    assert env["PATH"].startswith(f"{tmp_path / 'bin'}:")
    assert env["PKG_CONFIG_SYSROOT_DIR"] == "/bslim/sysroot"
    called = subprocess.run([env["CC"], "-c", "x.c"], env={**os.environ, **env},
                            capture_output=True, text=True, check=True).stdout
    assert called == f"{real}/{GNU}-gcc --sysroot=/bslim/sysroot -c x.c\n"
    archived = subprocess.run([env["AR"], "rcs", "a.a"], env={**os.environ, **env},
                              capture_output=True, text=True, check=True).stdout
    assert archived == f"{real}/{GNU}-ar rcs a.a\n"  # no --sysroot for the binutils
    assert not (tmp_path / "bin" / f"{GNU}-g++").exists()  # only what is installed


def test_the_compilers_take_the_targets_python_headers_for_the_build_platforms(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A setup.py naming sysconfig.get_path("include") (cymem's) names the build platform's
    Python headers: the compiler wrappers swap that -I for the target's, and nothing else."""
    real = tmp_path / "usr-bin"
    real.mkdir()
    for tool in ("gcc", "g++"):
        script = real / f"{GNU}-{tool}"
        script.write_text('#!/bin/sh\n[ "$1" = --version ] && echo v && exit 0\n'
                          'for a do echo "[$a]"; done\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{real}:{os.environ['PATH']}")
    env, _ = cross_build.toolchain(GNU, Path("/bslim/sysroot"), tmp_path / "bin", {
        "/usr/local/include/python3.13": "/bslim/sysroot/bslim/target/include"})
    for compiler in (env["CC"], env["CXX"]):
        called = subprocess.run(
            [compiler, "-I/usr/local/include/python3.13", "-I/usr/local/include/python3.13/",
             "-I/usr/local/include/python3.13x", "-DX=a b", "-I", "/usr/local/include/x", "c.c"],
            env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
        assert called.splitlines() == [
            "[--sysroot=/bslim/sysroot]", "[-I/bslim/sysroot/bslim/target/include]",
            "[-I/bslim/sysroot/bslim/target/include]", "[-I/usr/local/include/python3.13x]",
            "[-DX=a b]", "[-I]", "[/usr/local/include/x]", "[c.c]"]


def test_no_cross_compiler_is_the_toolchain_check(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(wheel_gate.Rejected, match=f"no {GNU}-gcc on the build platform"):
        cross_build.toolchain(GNU, Path("/s"), tmp_path / "bin")


def test_the_targets_multiarch_libraries_are_the_sysroots(tmp_path: Path) -> None:
    cross_build.link_multiarch(Path("/bslim/sysroot"), GNU, tmp_path)
    assert (tmp_path / "usr/lib" / GNU).readlink() == Path(f"/bslim/sysroot/usr/lib/{GNU}")
    cross_build.link_multiarch(Path("/elsewhere"), GNU, tmp_path)  # there already: kept
    assert (tmp_path / "usr/lib" / GNU).readlink() == Path(f"/bslim/sysroot/usr/lib/{GNU}")
