"""The fetch stage's helper: which downloaded wheels fit the target (classify, sort, check), pip
pretending to run on the target (markers and wheel tags), and each pip behaviour the shim relies
on, checked with the pip it pins (the dev extras install exactly it): these fail when pip changes
one. Its real processes (pip, PEP 517 hooks) run in tests/test_shim_hooks.py."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pip
import pytest
from pip._vendor.packaging import _manylinux, markers, tags

from buildkit_slim.platforms import MACHINES, running_as
from buildkit_slim.resources import pip_for_target, wheel_build
from buildkit_slim.resources.pinning import capture
from buildkit_slim.resources.pip_for_target import (
    COMPILE_LIST,
    PINS,
    REPORT,
    WHEELS,
    argv,
    check,
    classify,
    parse,
    pretend,
    sort,
    target_platforms,
)
from tests.unit.test_wheel_build import make_sdist

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
def test_sort(tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path.parent / f"{tmp_path.name}-pip-cache"
    monkeypatch.setenv("PIP_CACHE_DIR", str(cache))
    fetched(cache / "wheels" / "ab" / "cd", [FETCHED[3]])  # pip built it
    fetched(tmp_path / WHEELS, FETCHED)
    (tmp_path / WHEELS / "notes.txt").write_text("left alone", encoding="utf-8")
    sort(tmp_path, "spark", "/src")
    # What must be compiled on the target is deleted here and listed for the compile stage;
    # the list and the report stay out of the wheel directory the image's stages copy.
    assert sorted(p.name for p in (tmp_path / WHEELS).iterdir()) == [
        "notes.txt", FETCHED[1], FETCHED[3], FETCHED[4]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [COMPILE_LIST, "cross.txt", REPORT,
                                                          WHEELS]
    assert (tmp_path / "cross.txt").read_text() == ""  # cross-compiling not asked for
    assert (tmp_path / COMPILE_LIST).read_text(encoding="utf-8") == "/src\ntinyext==0.1.0\n"
    report = (tmp_path / REPORT).read_text(encoding="utf-8")
    assert json.loads(report) == [
        {"file": FETCHED[0], "kind": "compile", "name": "spark", "version": "1.0",
         "built": True},
        {"file": FETCHED[1], "kind": "wheel", "name": "numpy", "version": "2.1.0",
         "built": False},
        {"file": FETCHED[2], "kind": "compile", "name": "tinyext", "version": "0.1.0",
         "built": True},
        # pip's wheel cache holds what pip built from an sdist: tinypure, not numpy
        {"file": FETCHED[3], "kind": "pure", "name": "tinypure", "version": "1.0",
         "built": True},
        {"file": FETCHED[4], "kind": "wheel", "name": "wrapt", "version": "1.17.0",
         "built": False},
    ]
    assert report.startswith('[\n  {\n    "built": ')
    assert report.endswith("]\n")
    assert capsys.readouterr().out.splitlines() == [
        "bslim: spark 1.0: compile",
        "bslim: numpy 2.1.0: wheel",
        "bslim: tinyext 0.1.0: compile",
        "bslim: tinypure 1.0: pure",
        "bslim: wrapt 1.17.0: wheel",
    ]


@pytest.mark.usefixtures("arm_target")
def test_sort_lists_what_is_cross_compiled_and_keeps_its_reference(tmp_path: Path) -> None:
    """With cross-compiling, what is listed goes to cross.txt too unless it must be compiled
    under emulation (the report says why); the wheel built here from the same sdist is kept
    for the gate (its extension modules are what the cross-built one must have)."""
    fetched(tmp_path / WHEELS, FETCHED)
    asked: list[tuple[str, bool]] = []

    def emulated(name: str, mine: bool) -> str | None:
        asked.append((name, mine))
        return "the project itself" if mine else None

    sort(tmp_path, "spark", "/src", emulated=emulated)
    assert asked == [("spark", True), ("tinyext", False)]
    assert (tmp_path / COMPILE_LIST).read_text() == "/src\ntinyext==0.1.0\n"
    assert (tmp_path / "cross.txt").read_text() == "tinyext==0.1.0\n"
    assert [p.name for p in (tmp_path / "reference").iterdir()] == [FETCHED[2]]
    assert not (tmp_path / WHEELS / FETCHED[0]).exists()  # the project's: nothing to compare
    entries = {e["name"]: e for e in json.loads((tmp_path / REPORT).read_text())}
    assert (entries["tinyext"]["how"], entries["spark"]["how"]) == ("cross", "emulated")
    assert entries["spark"]["why"] == "the project itself"
    assert "how" not in entries["numpy"]


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


# --- pretend, and the pip behaviours it relies on (the shim's docstring, 1 to 3) -------------

def record_what_pretend_patches(patch: pytest.MonkeyPatch) -> None:
    """`pretend` patches process-wide functions. Setting each to itself records the original,
    which `patch` puts back when it is undone, whatever `pretend` did in between."""
    patch.setattr(platform, "machine", platform.machine)
    patch.setattr(sysconfig, "get_platform", sysconfig.get_platform)
    patch.setattr(_manylinux, "_have_compatible_abi", _manylinux._have_compatible_abi)


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in the fresh process where the shim pretends: nothing has asked for markers yet."""
    record_what_pretend_patches(monkeypatch)
    markers._cached_default_environment.cache_clear()
    yield
    markers._cached_default_environment.cache_clear()  # computed while pretending


def _glibc() -> tuple[int, int]:
    version = _manylinux._get_glibc_version()
    if version < (2, 17):
        pytest.skip(f"needs a glibc >= 2.17 host (this one: {version})")
    return version


def foreign(*machines: str) -> str:
    """A platform whose machine is one of `machines` and not this host's."""
    return next(p for p, m in MACHINES.items() if m in machines and m != platform.machine())


@pytest.mark.parametrize("machines", [("armv7l", "aarch64"), ("aarch64", "x86_64")])
def test_pretend_gives_pip_the_targets_markers_and_tags(restored: None,
                                                        machines: tuple[str, ...]) -> None:
    major, minor = _glibc()
    target = foreign(*machines)
    machine, interpreter = MACHINES[target], f"cp{sys.version_info[0]}{sys.version_info[1]}"
    pretend(target, tags=True)
    found = {str(tag) for tag in tags.sys_tags()}
    assert f"{interpreter}-{interpreter}-manylinux_2_17_{machine}" in found
    assert f"{interpreter}-{interpreter}-manylinux_{major}_{minor}_{machine}" in found
    assert f"{interpreter}-{interpreter}-linux_{machine}" in found
    assert "py3-none-any" in found
    # Only the target's machine: no tag of the host's leaks through.
    assert {t.platform for t in tags.sys_tags()} - {"any"} == set(target_platforms(machine))
    assert markers.default_environment()["platform_machine"] == machine
    assert pip_for_target.target_tags() == found


def test_pip_takes_the_marker_environment_when_first_asked_and_keeps_it(
        restored: None) -> None:
    """Internal use 1: packaging computes platform_machine from platform.machine() when first
    asked, then caches it for the process. The shim pretends first, in a fresh process (a
    pass, `install`, `pip`): were packaging to compute it at import, this fails."""
    target = foreign("armv7l", "aarch64")
    pretend(target, tags=False)
    assert markers.Marker(f"platform_machine == '{MACHINES[target]}'").evaluate()
    markers._cached_default_environment.cache_clear()
    host = markers.default_environment()["platform_machine"]
    with pytest.MonkeyPatch.context() as later:
        later.setattr(platform, "machine", lambda: "s390x")
        assert markers.default_environment()["platform_machine"] == host  # cached: too late


def test_pip_reads_manylinux_support_from_the_interpreters_elf_header(restored: None) -> None:
    """Internal use 2: without the shim's replacement of _have_compatible_abi, pip offers no
    manylinux tag for armv7l on this (non-ARM) interpreter; its signature is what the shim
    replaces. Were pip to decide it otherwise, this fails."""
    if platform.machine() in ("armv7l", "armv8l", "aarch64"):
        pytest.skip("an ARM host reads an ARM header")
    assert list(inspect.signature(_manylinux._have_compatible_abi).parameters) == [
        "executable", "archs"]
    assert _manylinux._have_compatible_abi(sys.executable, ["armv7l"]) is False
    assert _manylinux._have_compatible_abi(sys.executable, ["aarch64"]) is True  # no patch
    sysconfig_platform = sysconfig.get_platform
    with pytest.MonkeyPatch.context() as only_the_platform:
        only_the_platform.setattr(sysconfig, "get_platform", lambda: "linux-armv7l")
        assert not any("manylinux" in str(t) for t in tags.sys_tags())
    assert sysconfig.get_platform is sysconfig_platform
    pretend("linux/arm/v7", tags=True)
    assert any(str(t).endswith("-manylinux_2_17_armv7l") for t in tags.sys_tags())


def test_pips_finder_uses_its_vendored_packagings_tags(restored: None) -> None:
    """Internal use 3: what the shim calls fitting (pip._vendor.packaging's sys_tags) is what
    pip's own finder takes; were pip to compute its tags elsewhere, this fails."""
    from pip._internal.models.target_python import TargetPython

    pretend(foreign("armv7l", "aarch64"), tags=True)
    assert [str(t) for t in TargetPython().get_sorted_tags()] == [
        str(t) for t in tags.sys_tags()]


def test_pips_own_toml_parser_is_there_for_python_3_10() -> None:
    """Internal use 3: on Python 3.10 (no tomllib) the shim reads pyproject.toml with pip's."""
    from pip._vendor import tomli

    assert tomli.loads('[build-system]\nrequires = ["x"]\n') == {
        "build-system": {"requires": ["x"]}}


@pytest.mark.parametrize("machine", sorted(set(MACHINES.values())))
def test_the_public_platform_options_are_the_tags_pip_computes_when_pretending(
        restored: None, machine: str) -> None:
    """Build requirements come through pip's public --platform: the same platform tags, in the
    same order, that pip computes for the target when the shim pretends (resolving)."""
    _glibc()
    target = next(p for p, m in MACHINES.items() if m == machine)
    pretend(target, tags=True)
    assert list(dict.fromkeys(t.platform for t in tags.sys_tags() if t.platform != "any")) == (
        target_platforms(machine))


def test_target_options_name_the_platform_python_and_binary_wheels_only() -> None:
    target = foreign("armv7l", "aarch64")
    options = pip_for_target.target_options(target)
    abi = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert options[:9] == ["--only-binary", ":all:", "--implementation", "cp", "--abi", abi,
                           "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
                           "--platform"]
    assert options[9::2] == target_platforms(MACHINES[target])
    assert pip_for_target.target_options(pip_for_target.NATIVE) == []


def test_pretend_leaves_the_host_alone_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    host = platform.machine()
    get_platform, abi = sysconfig.get_platform, _manylinux._have_compatible_abi
    with monkeypatch.context() as patch:
        record_what_pretend_patches(patch)
        pretend(foreign("armv7l", "x86_64"), tags=True)
        assert platform.machine() != host
    assert platform.machine() == host
    assert sysconfig.get_platform is get_platform
    assert _manylinux._have_compatible_abi is abi


def test_pretend_on_the_build_machine_itself_changes_nothing(restored: None) -> None:
    if pip_for_target.NATIVE is None:
        pytest.skip(f"host machine {platform.machine()} is not a platform bslim builds for")
    get_platform, abi = sysconfig.get_platform, _manylinux._have_compatible_abi
    pretend(pip_for_target.NATIVE, tags=True)
    pretend(None, tags=True)
    assert sysconfig.get_platform is get_platform
    assert _manylinux._have_compatible_abi is abi


@pytest.fixture
def no_host_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """_PYTHON_HOST_PLATFORM put back as it was after the test, whatever pretend set."""
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
    monkeypatch.setattr(pip_for_target, "BUILD_MACHINE", running_as(uname, 32))
    assert pip_for_target.BUILD_MACHINE == "armv7l"
    unpatched_get_platform = sysconfig.get_platform  # what a child interpreter calls
    pretend("linux/arm/v7", tags=with_tags)
    assert platform.machine() == "armv7l"
    assert sysconfig.get_platform() == "linux-armv7l"
    # a child (pip's build isolation, a backend's subprocess) reads it from the environment
    assert os.environ["_PYTHON_HOST_PLATFORM"] == "linux-armv7l"
    assert unpatched_get_platform() == "linux-armv7l"
    if with_tags:
        assert markers.default_environment()["platform_machine"] == "armv7l"
        platforms = {t.platform for t in tags.sys_tags()}
        assert {"linux_armv7l", "manylinux_2_17_armv7l"} <= platforms
        assert {p for p in platforms if p != "any" and not p.endswith("_armv7l")} == set()


def test_the_shim_runs_as_armv7l_on_a_64_bit_arm_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """BUILD_MACHINE and NATIVE, as the shim's modules compute them at import (wheel_build's,
    which the shim takes), in a 32-bit process whose kernel says aarch64: arm/v7, not arm64."""
    import importlib.util

    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(sys, "maxsize", 2**31 - 1)
    spec = importlib.util.spec_from_file_location("shim_on_arm64", wheel_build.__file__)
    assert spec is not None and spec.loader is not None
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    assert (shim.BUILD_MACHINE, shim.NATIVE) == ("armv7l", "linux/arm/v7")


def test_pretend_for_another_machine_leaves_children_alone(
        restored: None, no_host_platform: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch stage (x86-64, pretending arm/v7) builds sdists natively through pip's build
    isolation: those children keep tagging their wheels for the build machine."""
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(pip_for_target, "BUILD_MACHINE", "x86_64")
    pretend("linux/arm/v7", tags=False)
    assert platform.machine() == "armv7l"
    assert "_PYTHON_HOST_PLATFORM" not in os.environ


def test_pretend_refuses_an_unknown_platform() -> None:
    with pytest.raises(SystemExit, match="no machine known for linux/mips"):
        pretend("linux/mips", tags=True)


def test_pretending_without_manylinux_tags_fails_loudly(
        restored: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pip whose tags for the target lack manylinux would skip every published binary wheel
    and compile them all under emulation: the shim refuses to go on instead."""
    monkeypatch.setattr(pip_for_target, "target_tags", lambda: {"cp313-cp313-linux_armv7l"})
    with pytest.raises(SystemExit, match=r"offers no manylinux tags for (armv7l|x86_64)"):
        pretend(foreign("armv7l", "x86_64"), tags=True)


def test_the_shim_is_tested_with_what_it_pins() -> None:
    """The images run the shim with PINS (installed by hash); these tests run it with the
    same versions (the dev extras pin them)."""
    import importlib.metadata

    assert {name: importlib.metadata.version(name) for name, _, _ in PINS} == {
        name: version for name, version, _ in PINS}
    assert pip.__version__ == pip_for_target.PIP_VERSION


def test_pip_installs_under_the_data_path_of_the_preferred_scheme() -> None:
    """`install` copies what pip wrote under sysconfig's data path of the preferred scheme:
    every place pip's own scheme installs to is under it."""
    from pip._internal.locations import get_scheme

    root = Path(sysconfig.get_paths(sysconfig.get_preferred_scheme("prefix"))["data"])
    scheme = get_scheme("")
    for where in (scheme.purelib, scheme.platlib, scheme.scripts, scheme.data, scheme.headers):
        assert Path(where).is_relative_to(root), where


# --- the command line: declared once, parsed by argparse, spelled by argv -----------------------

def test_argv_spells_what_parse_reads() -> None:
    args = argv("fetch", "/fetched/{pair}/deps", platforms="linux/amd64,linux/arm/v7",
                index_for=[["linux/arm/v7", "https://www.piwheels.org/simple"]], project="spark",
                source="/src", no_deps=True, inherited=["/a", "/b"])
    assert args == ["fetch", "/fetched/{pair}/deps", "--platforms", "linux/amd64,linux/arm/v7",
                    "--index-for", "linux/arm/v7", "https://www.piwheels.org/simple",
                    "--project", "spark", "--source", "/src", "--no-deps", "--inherited", "/a",
                    "--inherited", "/b"]
    ns, rest = parse([*args, "--", "--find-links", "/w"])
    assert (ns.command, ns.template, ns.index_for, ns.inherited, ns.no_deps, ns.requirement,
            rest) == ("fetch", "/fetched/{pair}/deps",
                      [["linux/arm/v7", "https://www.piwheels.org/simple"]], ["/a", "/b"], True,
                      None, ["--find-links", "/w"])


def test_argv_refuses_what_is_not_declared() -> None:
    with pytest.raises(TypeError, match="no_such"):
        argv("compile", "a", "b", no_such="x")
    with pytest.raises(TypeError, match="1 positionals"):
        argv("compile", "a")


@pytest.mark.parametrize("args", [
    ["fetch", "/t", "--platforms"],  # a flag without its value
    ["compile", "/fetched"],  # a missing positional
    ["fetch", "/t"],  # --platforms is required
    ["install", "a", "b", "--bogus"],
    [],
])
def test_a_bad_command_line_is_an_argparse_error(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(args)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


# --- prepare: the listed distribution's source and build requirements, for the target ----------

class FakePip:
    """Stands in for the shim's pip processes (`_self`), recording their arguments (and the
    platform each pretends, `platforms`): a download writes the sdist into --dest, an
    install or a hook succeeds."""

    def __init__(self, sdist: Path | None) -> None:
        self.sdist = sdist
        self.calls: list[list[str]] = []
        self.platforms: list[str | None] = []

    def __call__(self, args: list[str], env: Any = None, log: Any = None) -> int:
        self.calls.append(args)
        self.platforms.append((env or {}).get("TARGETPLATFORM"))
        if "download" in args and self.sdist is not None:
            dest = Path(args[args.index("--dest") + 1])
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.sdist, dest / self.sdist.name)
        return 0


def test_prepare_downloads_unpacks_and_installs_the_targets_build_requirements(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_sdist(tmp_path, "tinyext-0.1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68"]\n'})
    pip_calls = FakePip(archive)
    hooks: list[tuple[str, str, list[str]]] = []

    def fake_hook(action: str, src: Path, out: Path, paths: list[Path], **kwargs: Any) -> int:
        hooks.append((action, src.name, [p.name for p in paths]))
        out.write_text('["wheel-helper"]')  # the backend asks for one more
        return 0

    monkeypatch.setattr(pip_for_target, "_self", pip_calls)
    monkeypatch.setattr(wheel_build, "hook", fake_hook)
    target = foreign("armv7l", "aarch64")
    monkeypatch.setattr(pip_for_target, "TARGET", target)
    directory = tmp_path / "fetched"
    assert pip_for_target.prepare(directory, "tinyext==0.1.0", ["--find-links", "/w"])
    assert (directory / "sdists/tinyext.sha256").read_text() == hashlib.sha256(
        archive.read_bytes()).hexdigest()
    assert (directory / "src/tinyext/tinyext-0.1.0/pyproject.toml").is_file()
    # The backend is asked natively, with its requirements installed for the build machine:
    # the target's (an armv7 Cython module) cannot be loaded here.
    assert hooks == [("requires", "tinyext-0.1.0", ["tinyext"])]
    public = pip_for_target.target_options(target)
    native = str(directory / "buildenv-native/tinyext")
    assert pip_calls.calls == [
        # the sdist pip built, from the same indexes (no binary: its source)
        ["pip", "--", "download", "--quiet", "--no-deps", "--no-binary", "tinyext", "--dest",
         str(directory / "sdists/tinyext"), "--find-links", "/w", "tinyext==0.1.0"],
        # its build requirements as the build machine's wheels (the cross build's too)...
        ["pip", "--", "install", "--quiet", "--target", native, "--only-binary", ":all:",
         "--find-links", "/w", "setuptools>=68"],
        ["pip", "--", "install", "--quiet", "--target", native, "--only-binary", ":all:",
         "--find-links", "/w", "setuptools>=68", "wheel-helper"],
        # ...and as the target's, through pip's public options
        ["pip", "--", "install", "--quiet", "--target", str(directory / "buildenv/tinyext"),
         "--only-binary", ":all:", *public, "--find-links", "/w", "setuptools>=68",
         "wheel-helper"],
    ]
    assert pip_calls.platforms[1:] == [pip_for_target.NATIVE or "", pip_for_target.NATIVE or "",
                                       target]
    assert "--platform" in public and not list(directory.glob("*/tinyext.requires.json"))


def test_prepare_fails_when_pip_has_no_sdist(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pip_for_target, "_self", FakePip(None))
    (tmp_path / "sdists/tinyext").mkdir(parents=True)
    assert not pip_for_target.prepare(tmp_path, "tinyext==0.1.0", [])


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


# --- one fetch for the platform set ------------------------------------------------------------

def _passes(monkeypatch: pytest.MonkeyPatch,
            kinds: dict[str, str]) -> list[tuple[list[str], dict[str, str] | None]]:
    """Each pass faked: it writes the project's wheel and a report saying `kinds[platform]`."""
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def fake_self(args: list[str], env: dict[str, str] | None = None, log: Any = None) -> int:
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
    monkeypatch.setattr(pip_for_target, "NATIVE", "linux/amd64")
    return calls


def fetch(*args: str, **flags: object) -> int:
    return pip_for_target.fetch(*parse(argv("fetch", *args, **flags)))


def test_fetch_builds_a_pure_project_once(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _passes(monkeypatch, {"linux/amd64": "pure", "linux/arm/v7": "pure"})
    options = ["--find-links", "/src/wheelhouse"]
    assert pip_for_target.fetch(*parse([*argv(
        "fetch", str(tmp_path / "{pair}" / "project"), platforms="linux/amd64,linux/arm/v7",
        index_for=[["linux/arm/v7", "https://www.piwheels.org/simple"]], project="spark",
        source="/src", no_deps=True, inherited=["/bslim/wheels-from"]), "--", *options])) == 0
    arm, amd = str(tmp_path / "linux-armv7/project"), str(tmp_path / "linux-amd64/project")
    named = ["--project", "spark", "--source", "/src", "--no-deps", "--inherited",
             "/bslim/wheels-from"]
    assert calls == [
        # the foreign platform first, with its own extra index
        (["pass", arm, *named, "--", *options, "--extra-index-url",
          "https://www.piwheels.org/simple"], {"TARGETPLATFORM": "linux/arm/v7"}),
        # the pure wheel is handed on, not built again: the pass only sorts (and prepares)
        (["pass", amd, "--wheel", f"{arm}/wheels/spark-1.0-py3-none-any.whl", *named, "--",
          *options], {"TARGETPLATFORM": "linux/amd64"}),
    ]


def test_fetch_builds_a_platform_specific_project_for_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _passes(monkeypatch, {"linux/amd64": "native", "linux/arm/v7": "compile"})
    assert fetch(str(tmp_path / "{pair}"), platforms="linux/amd64,linux/arm/v7",
                 project="spark", source="/src", no_deps=True) == 0
    assert [(args[2:], env) for args, env in calls] == [
        (["--project", "spark", "--source", "/src", "--no-deps", "--"],
         {"TARGETPLATFORM": "linux/arm/v7"}),
        (["--project", "spark", "--source", "/src", "--no-deps", "--"],
         {"TARGETPLATFORM": "linux/amd64"}),
    ]


def test_fetch_stops_at_a_failed_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def failing(args: list[str], env: Any = None, log: Any = None) -> int:
        calls.append(args)
        return 1

    monkeypatch.setattr(pip_for_target, "_self", failing)
    assert fetch(str(tmp_path / "{pair}"), platforms="linux/amd64,linux/arm/v7",
                 requirement="r.txt") == 1
    assert len(calls) == 1


def test_a_failure_preparing_the_project_in_the_background_fails_the_fetch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _passes(monkeypatch, {"linux/amd64": "pure", "linux/arm/v7": "pure"})

    def broken(*args: Any) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(pip_for_target, "project_env", broken)
    requires = tmp_path / "requires.txt"
    requires.write_text("setuptools>=68\n")
    assert fetch(str(tmp_path / "{pair}" / "deps"), platforms="linux/amd64,linux/arm/v7",
                 requirement="r.txt", project_env=str(tmp_path / "env"),
                 project_requires=str(requires)) == 1
    assert "bslim: preparing the project's build requirements failed: OSError('No space left" \
        in capsys.readouterr().err
