"""The fetch stage's helper: which downloaded wheels fit the target (classify, sort, check), and
pip pretending to run on the target (markers and wheel tags)."""

from __future__ import annotations

import json
import platform
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from pip._vendor.packaging import _manylinux, markers, tags

from buildkit_slim.resources import pip_for_target
from buildkit_slim.resources.pip_for_target import (
    COMPILE_LIST,
    REPORT,
    check,
    classify,
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
    fetched(tmp_path, FETCHED)
    (tmp_path / "notes.txt").write_text("left alone", encoding="utf-8")
    sort(tmp_path, "spark", "/src")
    # What must be compiled on the target is deleted here and listed for the wheel stage.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        COMPILE_LIST, REPORT, "notes.txt", FETCHED[1], FETCHED[3], FETCHED[4]]
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
    fetched(tmp_path, FETCHED)
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
    fetched(tmp_path / "wheels-from-0", FETCHED[:2])
    fetched(tmp_path / "wheels-from-1/sub", FETCHED[2:])
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
def test_build_requirements_are_read_from_the_sdist(tmp_path: Path, kind: str) -> None:
    archive = _sdist(tmp_path, "ext-1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68", "cython"]\n',
        "sub/pyproject.toml": '[build-system]\nrequires = ["not-this"]\n',
    }, kind)
    text = pip_for_target.sdist_pyproject(archive)
    assert pip_for_target.build_requires(text) == ["setuptools>=68", "cython"]


def test_an_sdist_without_build_system_gets_the_setuptools_default(tmp_path: Path) -> None:
    archive = _sdist(tmp_path, "legacy-1.0", {"setup.py": "from setuptools import setup\n"})
    assert pip_for_target.sdist_pyproject(archive) == ""
    assert pip_for_target.build_requires("") == ["setuptools>=40.8.0"]
    assert pip_for_target.build_requires('[project]\nname = "x"\n') == ["setuptools>=40.8.0"]
