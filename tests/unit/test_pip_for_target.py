"""The fetch stage's helper: which downloaded wheels fit the target (classify, sort, check), and
pip pretending to run on the target (markers and wheel tags)."""

from __future__ import annotations

import io
import json
import os
import platform
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pip._vendor.packaging import _manylinux, markers, tags

from buildkit_slim.resources import pip_for_target
from buildkit_slim.resources.pip_for_target import (
    COMPILE_LIST,
    NO_BACKEND,
    REPORT,
    WHEELS,
    backend,
    capture,
    check,
    classify,
    compile_listed,
    pretend,
    sort,
)

# What an arm/v7 CPython 3.13 on glibc 2.36 supports (a slice of it: enough for these names).
ARM_TAGS = {
    "cp313-cp313-manylinux_2_36_armv7l",
    "cp313-cp313-manylinux_2_17_armv7l",
    "cp313-cp313-manylinux2014_armv7l",
    "cp313-cp313-linux_armv7l",
    "cp313-abi3-manylinux_2_17_armv7l",
    "cp39-abi3-manylinux_2_17_armv7l",
    "cp313-none-any",
    "py3-none-manylinux_2_17_armv7l",
    "py3-none-any",
}
AMD_TAGS = {
    "cp313-cp313-manylinux_2_17_x86_64",
    "cp313-cp313-manylinux2014_x86_64",
    "cp313-cp313-linux_x86_64",
    "py3-none-any",
}

X86, ARMV7 = "x86_64", "armv7l"
# (wheel file name, the target's tags, the machine the fetch stage runs on, kind)
CLASSIFY = [
    pytest.param("tinypure-1.0-py3-none-any.whl", ARM_TAGS, X86, "pure", id="pure"),
    pytest.param("tinypure-1.0-py2.py3-none-any.whl", ARM_TAGS, X86, "pure", id="pure-py2.py3"),
    pytest.param("six-1.0-py2-none-any.whl", ARM_TAGS, X86, "compile", id="pure-py2-only"),
    pytest.param("numpy-2.1.0-cp313-cp313-manylinux_2_17_armv7l.manylinux2014_armv7l.whl",
                 ARM_TAGS, X86, "wheel", id="manylinux"),
    pytest.param("numpy-2.1.0-cp313-cp313-manylinux_2_36_armv7l.whl", ARM_TAGS, X86, "wheel",
                 id="manylinux-new-glibc"),
    pytest.param("abi-1.0-cp39-abi3-manylinux_2_17_armv7l.whl", ARM_TAGS, X86, "wheel",
                 id="abi3"),
    pytest.param("tool-1.0-py3-none-manylinux_2_17_armv7l.whl", ARM_TAGS, X86, "wheel",
                 id="binary-without-abi"),
    # A plain linux_<machine> wheel was built here by pip from an sdist, when that machine is
    # the one this runs on; otherwise it came from an index that serves such wheels (piwheels).
    pytest.param("tinyext-0.1.0-cp313-cp313-linux_armv7l.whl", ARM_TAGS, ARMV7, "native",
                 id="plain-built-on-arm"),
    pytest.param("tinyext-0.1.0-cp313-cp313-linux_x86_64.whl", AMD_TAGS, X86, "native",
                 id="plain-built-on-amd"),
    pytest.param("tinyext-0.1.0-cp313-cp313-linux_armv7l.whl", ARM_TAGS, X86, "wheel",
                 id="plain-from-piwheels"),
    # One manylinux tag among plain ones: a published wheel.
    pytest.param("mixed-1.0-cp313-cp313-manylinux_2_17_armv7l.linux_armv7l.whl", ARM_TAGS,
                 ARMV7, "wheel", id="manylinux-and-plain"),
    # Nothing that fits the target: compiled on it.
    pytest.param("tinyext-0.1.0-cp313-cp313-linux_x86_64.whl", ARM_TAGS, X86, "compile",
                 id="built-for-the-build-platform"),
    pytest.param("numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.whl", ARM_TAGS, X86, "compile",
                 id="other-machine"),
    pytest.param("numpy-2.1.0-cp312-cp312-manylinux_2_17_armv7l.whl", ARM_TAGS, X86, "compile",
                 id="other-python"),
    pytest.param("numpy-2.1.0-cp313-cp313-manylinux_2_39_armv7l.whl", ARM_TAGS, X86, "compile",
                 id="newer-glibc"),
    pytest.param("numpy-2.1.0-cp313-cp313-musllinux_1_2_armv7l.whl", ARM_TAGS, X86, "compile",
                 id="musl"),
    pytest.param("tinypure-1.0-py3-none-any.whl", set(), X86, "compile", id="nothing-supported"),
]


@pytest.mark.parametrize(("filename", "supported", "build_machine", "kind"), CLASSIFY)
def test_classify(monkeypatch: pytest.MonkeyPatch, filename: str, supported: set[str],
                  build_machine: str, kind: str) -> None:
    monkeypatch.setattr(pip_for_target, "BUILD_MACHINE", build_machine)
    assert classify(filename, supported) == kind


# --- sort ---------------------------------------------------------------------------------------

# In the order `sort` reads them (by file name: upper case first).
FETCHED = [
    "Spark-1.0-cp313-cp313-linux_x86_64.whl",  # the project itself, built natively
    "numpy-2.1.0-cp313-cp313-manylinux_2_17_armv7l.whl",
    "tinyext-0.1.0-cp313-cp313-linux_x86_64.whl",
    "tinypure-1.0-py3-none-any.whl",
    "wrapt-1.17.0-cp313-cp313-linux_armv7l.whl",  # from piwheels
]


@pytest.fixture
def arm_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """The target's tags without asking this interpreter (whose tags are the host's), on an
    x86-64 build platform."""
    monkeypatch.setattr(pip_for_target, "target_tags", lambda: set(ARM_TAGS))
    monkeypatch.setattr(pip_for_target, "BUILD_MACHINE", X86)
    monkeypatch.setattr(pip_for_target, "TARGET", "linux/arm/v7")


def fetched(directory: Path, names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"fake wheel")


@pytest.mark.usefixtures("arm_target")
def test_sort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fetched(tmp_path / WHEELS, FETCHED)
    (tmp_path / WHEELS / "notes.txt").write_text("left alone", encoding="utf-8")
    sort(tmp_path, "spark", "/src")
    # What must be compiled on the target is deleted here and listed for the compile stage;
    # the list and the report stay out of the wheel directory the image's stages copy.
    assert sorted(p.name for p in (tmp_path / WHEELS).iterdir()) == [
        "notes.txt", FETCHED[1], FETCHED[3], FETCHED[4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [COMPILE_LIST, REPORT, WHEELS]
    assert (tmp_path / COMPILE_LIST).read_text(encoding="utf-8") == "/src\ntinyext==0.1.0\n"
    report = (tmp_path / REPORT).read_text(encoding="utf-8")
    assert json.loads(report) == [
        {"file": FETCHED[0], "kind": "compile", "name": "spark", "version": "1.0"},
        {"file": FETCHED[1], "kind": "wheel", "name": "numpy", "version": "2.1.0"},
        {"file": FETCHED[2], "kind": "compile", "name": "tinyext", "version": "0.1.0"},
        {"file": FETCHED[3], "kind": "pure", "name": "tinypure", "version": "1.0"},
        {"file": FETCHED[4], "kind": "wheel", "name": "wrapt", "version": "1.17.0"},
    ]
    assert report.startswith('[\n  {\n    "file": ')
    assert report.endswith("]\n")
    assert capsys.readouterr().out.splitlines() == [
        "bslim: spark 1.0: compile",
        "bslim: numpy 2.1.0: wheel",
        "bslim: tinyext 0.1.0: compile",
        "bslim: tinypure 1.0: pure",
        "bslim: wrapt 1.17.0: wheel",
    ]


@pytest.mark.usefixtures("arm_target")
@pytest.mark.parametrize(("project", "compile_list"), [
    pytest.param("spark", "/app/src\ntinyext==0.1.0\n", id="project"),
    pytest.param("SPARK", "/app/src\ntinyext==0.1.0\n", id="other-spelling"),
    pytest.param("spark-app", "spark==1.0\ntinyext==0.1.0\n", id="near-miss"),
    pytest.param(None, "spark==1.0\ntinyext==0.1.0\n", id="no-project"),
])
def test_sort_names_the_project_by_its_source(tmp_path: Path, project: str | None,
                                              compile_list: str) -> None:
    fetched(tmp_path / WHEELS, FETCHED)
    sort(tmp_path, project, "/app/src")
    assert (tmp_path / COMPILE_LIST).read_text(encoding="utf-8") == compile_list


@pytest.mark.usefixtures("arm_target")
def test_sort_of_an_empty_directory(tmp_path: Path) -> None:
    sort(tmp_path, "spark", "/src")
    assert (tmp_path / COMPILE_LIST).read_text(encoding="utf-8") == ""
    assert (tmp_path / REPORT).read_text(encoding="utf-8") == "[]\n"


@pytest.mark.usefixtures("arm_target")
def test_check_names_the_inherited_wheels_that_do_not_fit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fetched(tmp_path / "0", FETCHED[:2])  # a flat directory
    fetched(tmp_path / "1/linux-arm-v7/sub", FETCHED[2:])  # this platform's
    # another platform's, next to it (the fetch stage holds every platform's): not this one's
    fetched(tmp_path / "1/linux-amd64", ["numpy-2.1.0-cp313-cp313-manylinux_2_17_x86_64.whl"])
    check(tmp_path)
    tag = sys.implementation.cache_tag
    assert capsys.readouterr() == ("", "".join(
        f"bslim: inherited wheel {name} does not fit linux/arm/v7 ({tag}); {dist} will be "
        "built here\n" for name, dist in ((FETCHED[0], "spark 1.0"),
                                          (FETCHED[2], "tinyext 0.1.0"))))


# --- pretend ------------------------------------------------------------------------------------

def record_what_pretend_patches(patch: pytest.MonkeyPatch) -> None:
    """`pretend` patches process-wide functions. Setting each to itself records the original,
    which `patch` puts back when it is undone, whatever `pretend` did in between."""
    patch.setattr(platform, "machine", platform.machine)
    patch.setattr(sysconfig, "get_platform", sysconfig.get_platform)
    patch.setattr(_manylinux, "_have_compatible_abi", _manylinux._have_compatible_abi)


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    record_what_pretend_patches(monkeypatch)
    yield
    markers._cached_default_environment.cache_clear()  # computed while pretending


def _glibc() -> tuple[int, int]:
    version = _manylinux._get_glibc_version()
    if version < (2, 17):
        pytest.skip(f"needs a glibc >= 2.17 host (this one: {version})")
    return version


@pytest.mark.parametrize(("target", "machine"), [
    ("linux/arm/v7", "armv7l"),
    ("linux/arm64", "aarch64"),
])
def test_pretend(restored: None, target: str, machine: str) -> None:
    major, minor = _glibc()
    interpreter = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert pretend(target) == machine
    found = {str(tag) for tag in tags.sys_tags()}
    assert f"{interpreter}-{interpreter}-manylinux_2_17_{machine}" in found
    assert f"{interpreter}-{interpreter}-manylinux_{major}_{minor}_{machine}" in found
    assert f"{interpreter}-{interpreter}-linux_{machine}" in found
    assert "py3-none-any" in found
    platforms = {str(tag).rsplit("-", 1)[1] for tag in tags.sys_tags()}
    # Only the target's machine: no tag of the host's leaks through.
    assert {p for p in platforms if p != "any" and not p.endswith(f"_{machine}")} == set()
    assert markers.default_environment()["platform_machine"] == machine
    assert pip_for_target.target_tags() == found


def test_pretend_leaves_the_host_alone_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    host = platform.machine()
    get_platform, abi = sysconfig.get_platform, _manylinux._have_compatible_abi
    target = "linux/arm/v7" if host != "armv7l" else "linux/amd64"
    with monkeypatch.context() as patch:
        record_what_pretend_patches(patch)
        pretend(target)
        assert platform.machine() != host
    assert platform.machine() == host
    assert sysconfig.get_platform is get_platform
    assert _manylinux._have_compatible_abi is abi
    assert markers.default_environment()["platform_machine"] == host


def test_pretend_on_the_target_itself_changes_nothing(restored: None) -> None:
    machine = platform.machine()
    if machine not in pip_for_target.MACHINES.values():
        pytest.skip(f"host machine {machine} is not a platform bslim builds for")
    target = next(k for k, v in pip_for_target.MACHINES.items() if v == machine)
    get_platform, abi = sysconfig.get_platform, _manylinux._have_compatible_abi
    assert pretend(target) == machine
    assert platform.machine() == machine
    assert sysconfig.get_platform is get_platform
    assert _manylinux._have_compatible_abi is abi


@pytest.mark.parametrize(("uname", "bits", "expected"), [
    ("armv8l", 32, "armv7l"), ("aarch64", 32, "armv7l"), ("armv7l", 32, "armv7l"),
    ("aarch64", 64, "aarch64"), ("x86_64", 64, "x86_64"), ("x86_64", 32, "i686"),
])
def test_running_as(monkeypatch: pytest.MonkeyPatch, uname: str, bits: int,
                    expected: str) -> None:
    monkeypatch.setattr(pip_for_target, "pointer_bits", lambda: bits)
    assert pip_for_target.running_as(uname) == expected


@pytest.fixture
def no_host_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """_PYTHON_HOST_PLATFORM as it was after the test, whatever pretend set."""
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", "recorded")
    monkeypatch.delenv("_PYTHON_HOST_PLATFORM")


@pytest.mark.parametrize("uname", ["armv8l", "aarch64"])
@pytest.mark.parametrize("with_tags", [True, False])
def test_pretend_in_an_arm_v7_container_on_a_64_bit_arm_kernel(
        restored: None, no_host_platform: None, monkeypatch: pytest.MonkeyPatch,
        uname: str, with_tags: bool) -> None:
    """An arm64 runner runs arm/v7 containers natively; its kernel tells the 32-bit
    interpreter `aarch64` (or `armv8l` under linux32). The compile stage there must still
    resolve, tag and build for armv7l, in this process and in every Python it starts."""
    _glibc()
    monkeypatch.setattr(platform, "machine", lambda: uname)  # the faked uname
    monkeypatch.setattr(pip_for_target, "pointer_bits", lambda: 32)
    unpatched_get_platform = sysconfig.get_platform  # what a child interpreter calls
    assert pretend("linux/arm/v7", tags=with_tags) == "armv7l"
    assert platform.machine() == "armv7l"
    assert sysconfig.get_platform() == "linux-armv7l"
    # a child (pip's build isolation, a backend's subprocess) reads it from the environment
    assert os.environ["_PYTHON_HOST_PLATFORM"] == "linux-armv7l"
    assert unpatched_get_platform() == "linux-armv7l"
    if with_tags:
        assert markers.default_environment()["platform_machine"] == "armv7l"
        platforms = {str(tag).rsplit("-", 1)[1] for tag in tags.sys_tags()}
        assert "linux_armv7l" in platforms
        assert "manylinux_2_17_armv7l" in platforms
        assert {p for p in platforms if p != "any" and not p.endswith("_armv7l")} == set()


def test_pretend_for_another_machine_leaves_children_alone(
        restored: None, no_host_platform: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch stage (x86-64, pretending arm/v7) builds sdists natively through pip's
    build isolation: those children must keep tagging their wheels for the build machine."""
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(pip_for_target, "pointer_bits", lambda: 64)
    pretend("linux/arm/v7", tags=False)
    assert platform.machine() == "armv7l"
    assert "_PYTHON_HOST_PLATFORM" not in os.environ


def _sdist(tmp_path: Path, name: str, files: dict[str, str], kind: str = "tar") -> Path:
    import io
    import tarfile
    import zipfile

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
    archive = _sdist(tmp_path, "ext-1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68", "cython"]\n',
        "sub/pyproject.toml": '[build-system]\nrequires = ["not-this"]\n',
    }, kind)
    src = pip_for_target._unpack(archive, tmp_path / "src")
    assert src == tmp_path / "src" / "ext-1.0"  # the sdist's top directory
    text = (src / "pyproject.toml").read_text(encoding="utf-8")
    assert pip_for_target.build_requires(text) == ["setuptools>=68", "cython"]


def test_an_archive_that_is_no_sdist_is_not_unpacked(tmp_path: Path) -> None:
    (tmp_path / "broken.tar.gz").write_bytes(b"not gzip")
    assert pip_for_target._unpack(tmp_path / "broken.tar.gz", tmp_path / "src") is None


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
    assert pip_for_target._unpack(archive, tmp_path / "deep" / "src") is None
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()
    assert "refused, a member would land outside" in capsys.readouterr().err


def test_an_sdist_with_a_link_inside_is_unpacked(tmp_path: Path) -> None:
    archive = _hostile_tar(tmp_path / "ok-1.0.tar.gz",
                           _member("evil-1.0/link", tarfile.SYMTYPE, "PKG-INFO"))
    src = pip_for_target._unpack(archive, tmp_path / "src")
    assert src is not None and (src / "link").read_text() == "x"


def test_a_zip_sdist_member_outside_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("evil-1.0/PKG-INFO", "x")
        zf.writestr("../escaped", "x")
    assert pip_for_target._unpack(archive, tmp_path / "src") is None
    assert not (tmp_path / "escaped").exists()


def test_an_sdist_without_build_system_gets_the_setuptools_default(tmp_path: Path) -> None:
    src = pip_for_target._unpack(
        _sdist(tmp_path, "legacy-1.0", {"setup.py": "from setuptools import setup\n"}),
        tmp_path / "src")
    assert src is not None and not (src / "pyproject.toml").exists()
    assert pip_for_target.build_requires("") == ["setuptools>=40.8.0"]
    assert pip_for_target.build_requires('[project]\nname = "x"\n') == ["setuptools>=40.8.0"]


# --- the emulated compile: a PEP 517 backend called directly ------------------------------------

BACKEND = """\
import pathlib, platform
def get_requires_for_build_wheel(config_settings=None):
    return ["wheel-helper>=1"]
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"demo-1.0-cp313-cp313-linux_{platform.machine()}.whl"
    (pathlib.Path(wheel_directory) / name).write_text(pathlib.Path("where").read_text())
    return name
"""


@pytest.fixture
def in_tree_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An sdist source tree whose backend lives in the tree (backend-path), like a prepared
    one: importable without installing anything. Working directory and sys.path restored."""
    src = tmp_path / "src" / "demo" / "demo-1.0"
    (src / "backend").mkdir(parents=True)
    (src / "backend" / "demo_backend.py").write_text(BACKEND, encoding="utf-8")
    (src / "where").write_text("built in the source tree", encoding="utf-8")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "demo_backend"\n'
        'backend-path = ["backend"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "demo_backend", raising=False)
    return src


def _spec(src: Path) -> tuple[str, tuple[str, ...]]:
    """What `hook` passes to the hook's process: the backend and backend-path of the tree."""
    spec, paths = pip_for_target.backend_of(src)
    return spec, tuple(paths)


def test_backend_of_reads_the_build_system(in_tree_backend: Path) -> None:
    assert pip_for_target.backend_of(in_tree_backend) == ("demo_backend", ["backend"])
    (in_tree_backend / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert pip_for_target.backend_of(in_tree_backend) == (
        "setuptools.build_meta:__legacy__", [])


def test_backend_builds_in_the_source_tree(in_tree_backend: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert backend("wheel", in_tree_backend, out, *_spec(in_tree_backend)) == 0
    (wheel,) = out.iterdir()
    assert wheel.name == f"demo-1.0-cp313-cp313-linux_{platform.machine()}.whl"
    assert wheel.read_text(encoding="utf-8") == "built in the source tree"
    assert capsys.readouterr().out == f"bslim: built {wheel.name}\n"


def test_backend_reports_its_own_build_requirements(in_tree_backend: Path,
                                                    tmp_path: Path) -> None:
    asked = tmp_path / "asked.json"
    assert backend("requires", in_tree_backend, asked, *_spec(in_tree_backend)) == 0
    assert json.loads(asked.read_text(encoding="utf-8")) == ["wheel-helper>=1"]


def test_backend_that_cannot_be_imported_is_told_apart(
        in_tree_backend: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tree_backend / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core"]\nbuild-backend = "no_such_backend.api"\n',
        encoding="utf-8")
    assert backend("wheel", in_tree_backend, tmp_path / "out",
                   *_spec(in_tree_backend)) == NO_BACKEND
    assert "bslim: build backend no_such_backend.api not importable" in capsys.readouterr().err


def test_a_failing_build_is_not_taken_for_a_missing_backend(in_tree_backend: Path,
                                                            tmp_path: Path) -> None:
    (in_tree_backend / "where").unlink()  # the build itself fails
    with pytest.raises(FileNotFoundError):
        backend("wheel", in_tree_backend, tmp_path / "out", *_spec(in_tree_backend))


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

    def fake_self(args: list[str], env: dict[str, str] | None = None,
                  cwd: Path | None = None, log: Any = None) -> int:
        calls.append(args)
        return 0

    def fake_hook(action: str, src: Path, out: Path, paths: list[Path],
                  env: dict[str, str] | None = None, log: Any = None) -> int:
        calls.append(["hook", action, str(src), str(out), *map(str, paths)])
        return NO_BACKEND if src.name == "odd-1.0" else 0

    monkeypatch.setattr(pip_for_target, "_self", fake_self)
    monkeypatch.setattr(pip_for_target, "hook", fake_hook)
    out = tmp_path / "out"
    assert compile_listed(directory, out, ["--find-links", "/src/wheelhouse"], jobs=1) == 0
    assert out.is_dir() and list(out.iterdir()) == []  # each build's own directory is gone
    assert calls == [
        # prepared: the backend's hook, with the prepared requirements; no pip
        ["hook", "wheel", str(directory / "src/tinyext/tinyext-1.0"), str(out / ".tinyext.build"),
         str(directory / "buildenv/tinyext")],
        # not prepared: pip, with its build isolation
        ["pip", "wheel", "--no-deps", "--wheel-dir", str(out / ".legacy.build"), "--find-links",
         "/src/wheelhouse", "--find-links", str(directory / "sdists/legacy"), "legacy==2.0"],
        # prepared, but its backend is not importable after all: pip
        ["hook", "wheel", str(directory / "src/odd/odd-1.0"), str(out / ".odd.build"),
         str(directory / "buildenv/odd")],
        ["pip", "wheel", "--no-deps", "--wheel-dir", str(out / ".odd.build"), "--find-links",
         "/src/wheelhouse", "--find-links", str(directory / "sdists/odd"), "odd==1.0"],
    ]


def test_compile_builds_side_by_side_and_shows_each_log_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    directory = _listed(tmp_path, ["alpha==1.0", "beta==1.0", "gamma==1.0"],
                        ["alpha", "beta", "gamma"])
    running: set[str] = set()
    overlapped = threading.Event()
    lock = threading.Lock()

    def fake_hook(action: str, src: Path, out: Path, paths: list[Path],
                  env: dict[str, str] | None = None, log: Any = None) -> int:
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

    monkeypatch.setattr(pip_for_target, "hook", fake_hook)
    monkeypatch.setattr(pip_for_target, "_self", lambda *a, **k: pytest.fail("ran pip"))
    out = tmp_path / "out"
    assert compile_listed(directory, out, [], jobs=2) == 1  # beta failed: the build fails
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

    monkeypatch.setattr(pip_for_target, "hook", failing)
    monkeypatch.setattr(pip_for_target, "_self", lambda *a, **k: pytest.fail("ran pip"))
    # A compile error is reported once: no second attempt through pip's isolation.
    assert compile_listed(directory, tmp_path / "out", [], jobs=1) == 1
    assert calls == [["wheel", "broken-1.0"]]


def test_compile_with_nothing_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _listed(tmp_path, [], [])
    monkeypatch.setattr(pip_for_target, "_self", lambda *a, **k: pytest.fail("ran something"))
    monkeypatch.setattr(pip_for_target, "hook", lambda *a, **k: pytest.fail("ran something"))
    assert compile_listed(directory, tmp_path / "out", []) == 0
    assert list((tmp_path / "out").iterdir()) == []


# --- the native install: what pip wrote, copied out; what it deleted, listed ---------------------

def test_capture_copies_what_changed_and_lists_what_went(tmp_path: Path) -> None:
    root = tmp_path / "usr" / "local"
    site = root / "lib" / "site-packages"
    (site / "old-1.0.dist-info").mkdir(parents=True)
    (site / "old-1.0.dist-info" / "RECORD").write_text("old", encoding="utf-8")
    (site / "kept.py").write_text("kept", encoding="utf-8")
    (root / "bin").mkdir()
    out, removed = tmp_path / "installed", tmp_path / "removed.txt"

    def pip() -> int:  # what pip does: new package, upgrade of `old`, a script, a symlink
        (site / "new").mkdir(mode=0o750)
        (site / "new" / "__init__.py").write_text("new", encoding="utf-8")
        (site / "new" / "native.so").write_bytes(b"\x7fELF")
        (site / "new" / "native.so").chmod(0o755)
        (site / "old-1.0.dist-info" / "RECORD").unlink()
        (site / "old-1.0.dist-info").rmdir()
        (site / "old-2.0.dist-info").mkdir()
        (site / "kept.py").write_text("changed", encoding="utf-8")
        (root / "bin" / "tool").write_text("#!/usr/local/bin/python3\n", encoding="utf-8")
        (root / "bin" / "tool-link").symlink_to("tool")
        return 0

    assert capture([root], out, removed, pip) == 0
    copied = sorted(str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir())
    prefix = str(root).lstrip("/")
    assert copied == [f"{prefix}/{rel}" for rel in (
        "bin/tool", "bin/tool-link", "lib/site-packages/kept.py",
        "lib/site-packages/new/__init__.py", "lib/site-packages/new/native.so")]
    mirror = out / prefix
    assert (mirror / "lib/site-packages/kept.py").read_text(encoding="utf-8") == "changed"
    assert (mirror / "bin/tool-link").readlink() == Path("tool")
    assert (mirror / "lib/site-packages/new/native.so").stat().st_mode & 0o777 == 0o755
    assert (mirror / "lib/site-packages/new").stat().st_mode & 0o777 == 0o750
    assert (mirror / "lib/site-packages/old-2.0.dist-info").is_dir()
    assert (mirror / "lib/site-packages/new/__init__.py").stat().st_mtime_ns == (
        site / "new" / "__init__.py").stat().st_mtime_ns
    assert removed.read_text(encoding="utf-8") == "".join(
        f"{site}/{rel}\n" for rel in ("old-1.0.dist-info", "old-1.0.dist-info/RECORD"))


def test_capture_of_a_failed_install_copies_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    out, removed = tmp_path / "installed", tmp_path / "removed.txt"

    def pip() -> int:
        (root / "half").write_text("half", encoding="utf-8")
        return 1

    assert capture([root], out, removed, pip) == 1
    assert not out.exists()
    assert not removed.exists()


# --- sdists pip unpacked in the fetch: kept, so that prepare downloads nothing again ------------

class _Link:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.is_wheel = filename.endswith(".whl")


class _File:
    def __init__(self, path: Path) -> None:
        self.path = str(path)


def test_capture_keeps_the_sdists_pip_unpacks(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pip._internal.operations import prepare as pip_prepare

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for name in ("Tiny_Ext-0.1.0.tar.gz", "tinypure-1.0-py3-none-any.whl", "odd.tar.bz2x"):
        (downloads / name).write_bytes(name.encode())
    monkeypatch.setattr(pip_prepare, "unpack_url",
                        lambda link, *a, **k: _File(downloads / link.filename))
    pip_for_target.capture_sdists(tmp_path / "sdists")
    hooked: Any = pip_prepare.unpack_url  # pip's signature; the hook passes everything on
    for name in ("Tiny_Ext-0.1.0.tar.gz", "tinypure-1.0-py3-none-any.whl", "odd.tar.bz2x"):
        assert hooked(_Link(name), "/tmp/x").path == str(downloads / name)
    sdists = tmp_path / "sdists"
    kept = sorted(str(p.relative_to(sdists)) for p in sdists.rglob("*.*"))
    assert kept == ["tiny-ext/Tiny_Ext-0.1.0.tar.gz"]  # no wheel, no odd name


@pytest.mark.parametrize(("requirement", "found"), [
    ("tiny-ext==0.1.0", "tiny_ext-0.1.0.tar.gz"),
    ("tiny-ext==0.2.0", "tiny-ext-0.2.0.zip"),
    ("tiny-ext==0.3.0", None),  # another version than pip unpacked: prepare downloads it
])
def test_captured_picks_the_listed_version(tmp_path: Path, requirement: str,
                                           found: str | None) -> None:
    for name in ("tiny_ext-0.1.0.tar.gz", "tiny-ext-0.2.0.zip", "README"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    archive = pip_for_target._captured(requirement, tmp_path)
    assert (archive.name if archive else None) == found


# --- one fetch for the platform set ------------------------------------------------------------

@pytest.mark.parametrize(("target", "expected"), [
    ("linux/arm/v7", "linux-armv7"), ("linux/amd64", "linux-amd64"),
    ("linux/arm64", "linux-arm64"), ("linux/arm/v6", "linux-armv6"), ("linux/386", "linux-386"),
])
def test_pair_is_what_the_dockerfile_spells_from_the_target_args(target: str,
                                                                 expected: str) -> None:
    # ${TARGETOS}-${TARGETARCH}${TARGETVARIANT}
    assert pip_for_target.pair(target) == expected


def _passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            kinds: dict[str, str]) -> list[tuple[list[str], dict[str, str] | None]]:
    """Run fetch_all with each pass faked: it writes the project's wheel and a report saying
    `kinds[platform]` for it."""
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def fake_self(args: list[str], env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> int:
        calls.append((args, env))
        target = (env or {})["TARGETPLATFORM"]
        directory = Path(args[1])
        tags = "py3-none-any" if kinds[target] == "pure" else "cp313-cp313-linux_x86_64"
        wheel = f"spark-1.0-{tags}.whl"
        fetched(directory / WHEELS, [wheel])
        (directory / REPORT).write_text(json.dumps(
            [{"name": "spark", "version": "1.0", "kind": kinds[target], "file": wheel}]))
        return 0

    monkeypatch.setattr(pip_for_target, "_self", fake_self)
    monkeypatch.setattr(pip_for_target, "BUILD_MACHINE", X86)
    return calls


def test_fetch_all_builds_a_pure_project_once(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _passes(tmp_path, monkeypatch, {"linux/amd64": "pure", "linux/arm/v7": "pure"})
    template = str(tmp_path / "{pair}" / "project")
    status = pip_for_target.fetch_all(
        template, ["linux/amd64", "linux/arm/v7"], "spark", ["--no-deps", "/src"],
        ["--find-links", "/src/wheelhouse"], [("linux/arm/v7", "https://www.piwheels.org/simple")],
        ["/bslim/wheels-from"])
    assert status == 0
    arm, amd = str(tmp_path / "linux-armv7/project"), str(tmp_path / "linux-amd64/project")
    inherited = ["--inherited", "/bslim/wheels-from"]
    assert calls == [
        # the foreign platform first, with its own extra index
        (["fetch", arm, "--project", "spark", *inherited, "--no-deps", "/src", "--",
          "--find-links", "/src/wheelhouse", "--extra-index-url",
          "https://www.piwheels.org/simple"], {"TARGETPLATFORM": "linux/arm/v7"}),
        # the pure wheel is copied, not built again: the pass only sorts (and prepares)
        (["fetch", amd, "--project", "spark", *inherited, "--", "--find-links",
          "/src/wheelhouse"], {"TARGETPLATFORM": "linux/amd64"}),
    ]
    assert [p.name for p in (tmp_path / "linux-amd64/project/wheels").iterdir()] == [
        "spark-1.0-py3-none-any.whl"]


def test_fetch_all_builds_a_platform_specific_project_for_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _passes(tmp_path, monkeypatch, {"linux/amd64": "native", "linux/arm/v7": "compile"})
    assert pip_for_target.fetch_all(
        str(tmp_path / "{pair}"), ["linux/amd64", "linux/arm/v7"], "spark",
        ["--no-deps", "/src"], [], [], []) == 0
    assert [(args[-3:], env) for args, env in calls] == [
        (["--no-deps", "/src", "--"], {"TARGETPLATFORM": "linux/arm/v7"}),
        (["--no-deps", "/src", "--"], {"TARGETPLATFORM": "linux/amd64"}),
    ]


def test_fetch_all_stops_at_a_failed_pass(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def failing(args: list[str], env: dict[str, str] | None = None,
                cwd: Path | None = None) -> int:
        calls.append(args)
        return 1

    monkeypatch.setattr(pip_for_target, "_self", failing)
    assert pip_for_target.fetch_all(str(tmp_path / "{pair}"), ["linux/amd64", "linux/arm/v7"],
                                    None, ["--requirement", "r.txt"], [], [], []) == 1
    assert len(calls) == 1


def test_flags_are_taken_out_of_the_arguments() -> None:
    rest, flags = pip_for_target._flags([
        "/fetched/{pair}/deps", "--platforms", "linux/amd64,linux/arm/v7", "--index-for",
        "linux/arm/v7", "https://www.piwheels.org/simple", "--project", "spark", "--inherited",
        "/bslim/wheels-from", "--no-deps", "/src"])
    assert rest == ["/fetched/{pair}/deps", "--no-deps", "/src"]
    assert flags == {"--platforms": ["linux/amd64,linux/arm/v7"],
                     "--index-for": ["linux/arm/v7 https://www.piwheels.org/simple"],
                     "--project": ["spark"], "--inherited": ["/bslim/wheels-from"]}


def test_compile_keeps_what_it_built_and_takes_it_next_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    directory = _listed(tmp_path, ["tinyext==0.1.0", "/src"], ["tinyext", "src"])
    (directory / "sdists").mkdir()
    (directory / "sdists" / "tinyext.sha256").write_text("ab12\n")  # written by prepare
    built: list[str] = []

    def build(action: str, src: Path, out: Path, paths: list[Path],
              env: dict[str, str] | None = None, log: Any = None) -> int:
        built.append(str(src))
        name = "spark-1.0" if str(src) == "/src" else "tinyext-0.1.0"
        (out / f"{name}-cp313-cp313-linux_armv7l.whl").write_text(name)
        return 0

    monkeypatch.setattr(pip_for_target, "hook", build)
    monkeypatch.setattr(pip_for_target, "source_dir",
                        lambda d, r: Path(r) if r.startswith("/") else d / "src" / r)
    cache = tmp_path / "cache"
    assert compile_listed(directory, tmp_path / "out1", [], cache, jobs=1) == 0
    assert built == [str(directory / "src/tinyext==0.1.0"), "/src"]
    # Kept by sdist digest and Python; the project's own source is never kept.
    kept = cache / f"ab12-{sys.implementation.cache_tag}"
    assert [p.name for p in cache.rglob("*.whl")] == [
        "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl"]
    assert kept.is_dir()

    built.clear()
    capsys.readouterr()
    assert compile_listed(directory, tmp_path / "out2", [], cache, jobs=1) == 0
    assert built == ["/src"]  # tinyext came from the cache
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == [
        "spark-1.0-cp313-cp313-linux_armv7l.whl", "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl"]
    assert "bslim: tinyext==0.1.0: compiled earlier for" in capsys.readouterr().err


def test_a_failure_preparing_the_project_in_the_background_fails_the_fetch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _passes(tmp_path, monkeypatch, {"linux/amd64": "pure", "linux/arm/v7": "pure"})

    def broken(*args: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(pip_for_target, "project_env", broken)
    monkeypatch.setattr("threading.excepthook", lambda args: None)  # the thread's own report
    requires = tmp_path / "requires.txt"
    requires.write_text("setuptools>=68\n")
    status = pip_for_target.fetch_all(
        str(tmp_path / "{pair}" / "deps"), ["linux/amd64", "linux/arm/v7"], None,
        ["--requirement", "r.txt"], [], [], [], str(tmp_path / "env"), str(requires))
    assert status == 1
    assert "bslim: preparing the project's build requirements failed: OSError('No space left" \
        in capsys.readouterr().err


def test_the_shim_is_tested_with_the_pip_it_pins() -> None:
    """The images run the shim with pip_for_target.PIP_VERSION (installed by hash); these
    tests must run it with the same pip (the dev extras pin it)."""
    import pip

    assert pip.__version__ == pip_for_target.PIP_VERSION


def test_pretending_without_manylinux_tags_fails_loudly(
        restored: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pip whose tags for the target lack manylinux would skip every published binary wheel
    and compile them all under emulation: the shim refuses to go on instead."""
    monkeypatch.setattr(pip_for_target, "_platforms", lambda: {"linux_armv7l", "any"})
    target = "linux/arm/v7" if platform.machine() != "armv7l" else "linux/amd64"
    with pytest.raises(SystemExit, match=r"does not offer manylinux tags for (armv7l|x86_64)"):
        pretend(target)
