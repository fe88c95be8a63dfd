"""A target platform's markers and wheel tags, as the lock readers see it."""

from __future__ import annotations

import platform
import re
import sys

import pytest
from packaging.tags import sys_tags

from buildkit_slim.locks.environment import AmbiguousMarker, TargetEnvironment, equivalent
from buildkit_slim.platforms import platform_tags

ARM = TargetEnvironment(platform="linux/arm/v7", python="3.13", debian="trixie")
AMD = TargetEnvironment(platform="linux/amd64", python="3.13", debian="trixie")


@pytest.mark.skipif(sys.platform != "linux" or platform.machine() != "x86_64"
                    or platform.libc_ver()[0] != "glibc", reason="needs an x86-64 glibc host")
def test_tags_are_the_ones_pip_computes_for_this_very_machine() -> None:
    """The host is a target like any other: bslim's list must be packaging's sys_tags()
    (what pip installs by) for the host's Python and glibc, tag for tag, in order."""
    real = [str(t) for t in sys_tags()]
    glibc = max(int(m.group(1)) for t in real
                if (m := re.search(r"manylinux_2_(\d+)_x86_64", t)))
    host = TargetEnvironment(platform="linux/amd64",
                             python=f"{sys.version_info[0]}.{sys.version_info[1]}")
    assert host.tags and host.tags[0].startswith(f"cp{sys.version_info[0]}")
    from buildkit_slim.locks.environment import _tags

    assert list(_tags("x86_64", host.python, (2, glibc))) == real


def test_arm_v7_takes_glibc_manylinux_armv7l_wheels_of_its_python_only() -> None:
    tags = set(ARM.tags)
    assert {"cp313-cp313-manylinux_2_31_armv7l", "cp313-cp313-manylinux2014_armv7l",
            "cp313-cp313-manylinux_2_17_armv7l", "cp313-cp313-linux_armv7l",
            "cp313-abi3-manylinux_2_17_armv7l", "py3-none-any"} <= tags
    assert not any("musllinux" in t or "x86_64" in t or "cp313t" in t for t in tags)
    assert "cp313-cp313-manylinux_2_42_armv7l" not in tags  # trixie has glibc 2.41
    assert "cp313-cp313-manylinux_2_16_armv7l" not in tags  # armv7l starts at 2.17
    assert "cp312-cp312-manylinux_2_17_armv7l" not in tags
    bookworm = TargetEnvironment(platform="linux/arm/v7", python="3.11", debian="bookworm")
    assert "cp311-cp311-manylinux_2_36_armv7l" in bookworm.tags
    assert "cp311-cp311-manylinux_2_37_armv7l" not in bookworm.tags


def test_platform_tags_legacy_aliases_only_where_they_exist() -> None:
    assert platform_tags("x86_64", (2, 17))[:3] == [
        "linux_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert "manylinux1_x86_64" in platform_tags("x86_64", (2, 17))
    assert "manylinux2010_armv7l" not in platform_tags("armv7l", (2, 41))
    assert platform_tags("armv6l", (2, 41)) == ["linux_armv6l"]  # no manylinux for armv6


@pytest.mark.parametrize(("filename", "arm", "amd"), [
    ("charset_normalizer-3.4.4-cp313-cp313-manylinux2014_armv7l.manylinux_2_17_armv7l"
     ".manylinux_2_31_armv7l.whl", True, False),
    ("charset_normalizer-3.4.4-cp313-cp313-musllinux_1_2_armv7l.whl", False, False),
    ("markupsafe-3.0.3-cp313-cp313-manylinux2014_x86_64.manylinux_2_17_x86_64"
     ".manylinux_2_28_x86_64.whl", False, True),
    ("markupsafe-3.0.3-cp313-cp313t-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
     False, False),
    ("six-1.16.0-py2.py3-none-any.whl", True, True),
    ("msgpack-1.0.8-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False, False),
    ("not-a-wheel.whl", False, False),
])
def test_wheel_rank_says_what_installs(filename: str, arm: bool, amd: bool) -> None:
    assert (ARM.wheel_rank(filename) is not None) is arm
    assert (AMD.wheel_rank(filename) is not None) is amd


def test_a_binary_wheel_ranks_before_a_pure_one() -> None:
    binary = AMD.wheel_rank("x-1-cp313-cp313-manylinux_2_17_x86_64.whl")
    pure = AMD.wheel_rank("x-1-py3-none-any.whl")
    assert binary is not None and pure is not None and binary < pure


@pytest.mark.parametrize(("marker", "arm", "amd"), [
    (None, True, True),
    ("platform_machine == 'armv7l'", True, False),
    ("platform_machine == 'x86_64'", False, True),
    ("sys_platform == 'win32'", False, False),
    ("python_version >= '3.13'", True, True),
    ("python_full_version < '3.13'", False, False),
    ("python_full_version >= '3.13'", True, True),
    ("implementation_name == 'cpython' and os_name == 'posix'", True, True),
    ("platform_system == 'Linux' and platform_python_implementation == 'CPython'", True, True),
])
def test_markers_are_evaluated_for_the_target_not_the_host(
        marker: str | None, arm: bool, amd: bool) -> None:
    assert ARM.evaluate(marker) is arm
    assert AMD.evaluate(marker) is amd


@pytest.mark.parametrize("marker", [
    "python_full_version >= '3.13.1'",
    "platform_release >= '6.0'",
    "platform_version == '#1 SMP'",
])
def test_what_is_unknown_before_the_build_is_an_error_not_a_guess(marker: str) -> None:
    with pytest.raises(AmbiguousMarker):
        ARM.evaluate(marker)


def test_pylock_markers_see_extras_and_groups() -> None:
    assert ARM.evaluate("'tz' in extras", extras={"tz"}, groups=set())
    assert not ARM.evaluate("'tz' in extras", extras=set(), groups=set())
    assert ARM.evaluate("'default' in dependency_groups", extras=set(), groups={"default"})


def test_requires_python() -> None:
    assert ARM.python_in(">=3.10")
    assert not ARM.python_in("<3.13")
    with pytest.raises(AmbiguousMarker):
        ARM.python_in(">=3.13.2")


@pytest.mark.parametrize(("first", "second", "same"), [
    ('python_version < "3.10"', "python_full_version < '3.10'", True),
    ('python_version >= "3.13"', "python_full_version >= '3.13'", True),
    ('python_version < "3.10"', "python_full_version < '3.10.1'", False),
    ('platform_machine != "armv7l" and extra == "fast"',
     "extra == 'fast' and platform_machine != 'armv7l'", True),
    ("python_version >= '3.8' and sys_platform == 'linux' or platform_machine=='armv7l'",
     "(python_full_version >= '3.8' and sys_platform == 'linux') or platform_machine == "
     "'armv7l'", True),
    ("sys_platform == 'linux' and (python_version < '3.12' or platform_machine == 'x86_64')",
     "(sys_platform == 'linux' and python_version < '3.12') or (sys_platform == 'linux' and "
     "platform_machine == 'x86_64')", True),
    ("sys_platform == 'linux'", "sys_platform == 'win32'", False),
    ("sys_platform == 'linux'", None, False),
    (None, None, True),
    ('extra == "tz"', "extra == 'tz'", True),
    ('extra == "tz"', 'extra == "other"', False),
])
def test_markers_that_mean_the_same(first: str | None, second: str | None, same: bool) -> None:
    assert equivalent(first, second) is same
    assert equivalent(second, first) is same


@pytest.mark.parametrize(("spec", "ok"), [
    ("", True), (">=3.10,<4", True), ("==3.13.*", True), ("~=3.12", True), ("!=3.13.*", False),
    ("<3.13", False), (">=3.14", False)])
def test_requires_python_of_every_patch_release(spec: str, ok: bool) -> None:
    assert ARM.python_in(spec) is ok


@pytest.mark.parametrize("spec", [">=3.13.2", "==3.13.5", "<3.13.1", "!=3.13.0"])
def test_requires_python_that_a_patch_release_decides(spec: str) -> None:
    with pytest.raises(AmbiguousMarker):
        ARM.python_in(spec)
