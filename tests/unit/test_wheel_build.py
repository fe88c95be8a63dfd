"""The shim's compile side (wheel_build.py): sdists unpacked with every member checked, their
[build-system] read, and the compile on the target (the prepared backend, else pip's build
isolation; side by side; the compile cache). Its hooks run for real in tests/test_shim_hooks.py."""

from __future__ import annotations

import io
import sys
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.resources import wheel_build
from buildkit_slim.resources.wheel_build import COMPILE_LIST, NO_BACKEND, compile_listed


def no_pip(args: list[str], log: Any = None) -> int:
    pytest.fail(f"ran pip {args}")


# --- sdists: unpacked with no member outside ---------------------------------------------------

def make_sdist(tmp_path: Path, name: str, files: dict[str, str], kind: str = "tar") -> Path:
    if kind == "zip":
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for member, text in files.items():
                zf.writestr(f"{name}/{member}", text)
        return path
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{member}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_build_requirements_are_read_from_the_unpacked_sdist(tmp_path: Path, kind: str) -> None:
    archive = make_sdist(tmp_path, "ext-1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68", "cython"]\n',
        "sub/pyproject.toml": '[build-system]\nrequires = ["not-this"]\n',
    }, kind)
    src = wheel_build.unpack(archive, tmp_path / "src")
    assert src == tmp_path / "src" / "ext-1.0"  # the sdist's top directory
    assert wheel_build.build_system(src) == {
        "requires": ["setuptools>=68", "cython"], "backend-path": [],
        "build-backend": "setuptools.build_meta:__legacy__"}


def test_an_archive_that_is_no_sdist_is_not_unpacked(tmp_path: Path) -> None:
    (tmp_path / "broken.tar.gz").write_bytes(b"not gzip")
    assert wheel_build.unpack(tmp_path / "broken.tar.gz", tmp_path / "src") is None


def _hostile_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        top = tarfile.TarInfo("evil-1.0/PKG-INFO")
        top.size = 1
        tf.addfile(top, io.BytesIO(b"x"))
        member.size = len(data) if member.isfile() else 0
        tf.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("member", [
    pytest.param(_member("../escaped"), id="dot-dot"),
    pytest.param(_member("evil-1.0/../../escaped"), id="dot-dot-inside"),
    pytest.param(_member("/tmp/escaped"), id="absolute"),
    pytest.param(_member("evil-1.0/link", tarfile.SYMTYPE, "/etc/passwd"), id="symlink-abs"),
    pytest.param(_member("evil-1.0/link", tarfile.SYMTYPE, "../../x"), id="symlink-out"),
    pytest.param(_member("evil-1.0/hard", tarfile.LNKTYPE, "../x"), id="hardlink-out"),
    pytest.param(_member("evil-1.0/dev", tarfile.CHRTYPE), id="device"),
])
def test_an_sdist_member_outside_its_directory_is_refused(
        tmp_path: Path, member: tarfile.TarInfo, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _hostile_tar(tmp_path / "evil-1.0.tar.gz", member)
    assert wheel_build.unpack(archive, tmp_path / "deep" / "src") is None
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()
    assert "refused, a member would land outside" in capsys.readouterr().err


def test_an_sdist_with_a_link_inside_is_unpacked(tmp_path: Path) -> None:
    archive = _hostile_tar(tmp_path / "ok-1.0.tar.gz",
                           _member("evil-1.0/link", tarfile.SYMTYPE, "PKG-INFO"))
    src = wheel_build.unpack(archive, tmp_path / "src")
    assert src is not None and (src / "link").read_text() == "x"


def test_a_zip_sdist_member_outside_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil-1.0/PKG-INFO", "x")
        zf.writestr("../escaped", "x")
    assert wheel_build.unpack(archive, tmp_path / "src") is None
    assert not (tmp_path / "escaped").exists()


def test_an_sdist_without_build_system_gets_pep_517s_default(tmp_path: Path) -> None:
    src = wheel_build.unpack(
        make_sdist(tmp_path, "legacy-1.0", {"setup.py": "from setuptools import setup\n"}),
        tmp_path / "src")
    assert src is not None and not (src / "pyproject.toml").exists()
    for text in (None, '[project]\nname = "x"\n'):
        if text is not None:
            (src / "pyproject.toml").write_text(text)
        assert wheel_build.build_system(src) == {
            "requires": ["setuptools>=40.8.0"], "backend-path": [],
            "build-backend": "setuptools.build_meta:__legacy__"}



# --- the emulated compile: the prepared backend, else pip's isolation ------------------------

def _listed(tmp_path: Path, requirements: list[str], prepared: list[str]) -> Path:
    directory = tmp_path / "fetched"
    directory.mkdir()
    (directory / COMPILE_LIST).write_text("".join(f"{r}\n" for r in requirements))
    for key in prepared:
        (directory / "buildenv" / key).mkdir(parents=True)
        (directory / "src" / key / f"{key}-1.0").mkdir(parents=True)
    return directory


def test_compile_uses_the_prepared_build_and_falls_back_to_pip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _listed(tmp_path, ["tinyext==0.1.0", "legacy==2.0", "odd==1.0"],
                        ["tinyext", "odd"])
    calls: list[list[str]] = []

    def fake_pip(args: list[str], log: Any = None) -> int:
        calls.append(args)
        return 0

    def fake_hook(action: str, src: Path, out: Path, paths: list[Path],
                  env: Any = None, log: Any = None) -> int:
        calls.append(["hook", action, str(src), str(out), *map(str, paths)])
        return NO_BACKEND if src.name == "odd-1.0" else 0

    monkeypatch.setattr(wheel_build, "hook", fake_hook)
    out = tmp_path / "out"
    assert compile_listed(directory, out, ["--find-links", "/src/wheelhouse"], jobs=1,
                          pip=fake_pip) == 0
    assert out.is_dir() and list(out.iterdir()) == []  # each build's own directory is gone
    assert calls == [
        # prepared: the backend's hook, with the prepared requirements; no pip
        ["hook", "wheel", str(directory / "src/tinyext/tinyext-1.0"), str(out / ".tinyext.build"),
         str(directory / "buildenv/tinyext")],
        # not prepared: pip, with its build isolation
        ["wheel", "--no-deps", "--wheel-dir", str(out / ".legacy.build"),
         "--find-links", "/src/wheelhouse", "--find-links", str(directory / "sdists/legacy"),
         "legacy==2.0"],
        # prepared, but its backend is not importable after all: pip
        ["hook", "wheel", str(directory / "src/odd/odd-1.0"), str(out / ".odd.build"),
         str(directory / "buildenv/odd")],
        ["wheel", "--no-deps", "--wheel-dir", str(out / ".odd.build"),
         "--find-links", "/src/wheelhouse", "--find-links", str(directory / "sdists/odd"),
         "odd==1.0"],
    ]


def test_compile_builds_side_by_side_and_shows_each_log_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    directory = _listed(tmp_path, ["alpha==1.0", "beta==1.0", "gamma==1.0"],
                        ["alpha", "beta", "gamma"])
    running: set[str] = set()
    overlapped = threading.Event()
    lock = threading.Lock()

    def fake_hook(action: str, src: Path, out: Path, paths: list[Path],
                  env: Any = None, log: Any = None) -> int:
        name = src.name.split("-")[0]
        with lock:
            running.add(name)
            if len(running) > 1:
                overlapped.set()
        overlapped.wait(timeout=5)  # the first waits (briefly) for a second to start
        assert log is not None  # side by side, the output goes to the build's own log
        log.write(f"{name}: line 1\n{name}: line 2\n")
        (out / f"{name}-1.0-cp313-cp313-linux_armv7l.whl").write_text(name)
        with lock:
            running.discard(name)
        return 1 if name == "beta" else 0

    monkeypatch.setattr(wheel_build, "hook", fake_hook)
    out = tmp_path / "out"
    assert compile_listed(directory, out, [], jobs=2, pip=no_pip) == 1  # beta failed: it fails
    assert overlapped.is_set(), "the builds did not run side by side"
    assert sorted(p.name for p in out.iterdir()) == [
        f"{n}-1.0-cp313-cp313-linux_armv7l.whl" for n in ("alpha", "beta", "gamma")]
    err = capsys.readouterr().err
    # Each log whole, in the listed order, whatever order the builds ended in.
    assert err.index("alpha: line 2") < err.index("bslim: compiling beta==1.0")
    assert err.index("beta: line 2") < err.index("bslim: compiling gamma==1.0")
    for name in ("alpha", "beta", "gamma"):
        assert f"{name}: line 1\n{name}: line 2\n" in err


def test_compile_stops_at_the_first_failed_build(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _listed(tmp_path, ["broken==1.0", "tinyext==0.1.0"], ["broken", "tinyext"])
    calls: list[list[str]] = []

    def failing(action: str, src: Path, *args: Any, **kwargs: Any) -> int:
        calls.append([action, src.name])
        return 1

    monkeypatch.setattr(wheel_build, "hook", failing)
    # A compile error is reported once: no second attempt through pip's isolation.
    assert compile_listed(directory, tmp_path / "out", [], jobs=1, pip=no_pip) == 1
    assert calls == [["wheel", "broken-1.0"]]


def test_compile_with_nothing_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _listed(tmp_path, [], [])
    monkeypatch.setattr(wheel_build, "hook", lambda *a, **k: pytest.fail("ran something"))
    assert compile_listed(directory, tmp_path / "out", [], pip=no_pip) == 0
    assert list((tmp_path / "out").iterdir()) == []


def test_compile_keeps_what_it_built_and_takes_it_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    directory = _listed(tmp_path, ["tinyext==0.1.0", "/src"], ["tinyext", "src"])
    (directory / "sdists").mkdir()
    (directory / "sdists" / "tinyext.sha256").write_text("ab12\n")  # written by prepare
    built: list[str] = []

    def build(action: str, src: Path, out: Path, paths: list[Path],
              env: Any = None, log: Any = None) -> int:
        built.append(str(src))
        name = "spark-1.0" if str(src) == "/src" else "tinyext-0.1.0"
        (out / f"{name}-cp313-cp313-linux_armv7l.whl").write_text(name)
        return 0

    monkeypatch.setattr(wheel_build, "hook", build)
    cache = tmp_path / "cache"
    assert compile_listed(directory, tmp_path / "out1", [], cache, jobs=1, pip=no_pip) == 0
    assert built == [str(directory / "src/tinyext/tinyext-1.0"), "/src"]
    # Kept by sdist digest and Python; the project's own source is never kept.
    kept = cache / f"ab12-{sys.implementation.cache_tag}"
    assert [p.name for p in cache.rglob("*.whl")] == [
        "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl"]
    assert kept.is_dir()

    built.clear()
    capsys.readouterr()
    assert compile_listed(directory, tmp_path / "out2", [], cache, jobs=1, pip=no_pip) == 0
    assert built == ["/src"]  # tinyext came from the cache
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == [
        "spark-1.0-cp313-cp313-linux_armv7l.whl", "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl"]
    assert "bslim: tinyext==0.1.0: compiled earlier for" in capsys.readouterr().err
