"""`buildkit_slim.platforms`: every name of a platform, and a file the shim can import alone."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from buildkit_slim import platforms
from buildkit_slim.platforms import (
    PLATFORMS,
    alias,
    arg_pair,
    debian_arch,
    export_dir,
    machine,
    native,
    pair,
)

SOURCE = Path(platforms.__file__)


@pytest.mark.parametrize(("platform", "spellings"), [
    ("linux/arm/v7", ("linux-arm-v7", "linux-armv7", "linux_arm_v7", "armv7l", "armhf")),
    ("linux/amd64", ("linux-amd64", "linux-amd64", "linux_amd64", "x86_64", "amd64")),
    ("linux/arm64", ("linux-arm64", "linux-arm64", "linux_arm64", "aarch64", "arm64")),
    ("linux/386", ("linux-386", "linux-386", "linux_386", "i686", "i386")),
    ("linux/arm/v6", ("linux-arm-v6", "linux-armv6", "linux_arm_v6", "armv6l", "armel")),
    ("linux/ppc64le", ("linux-ppc64le", "linux-ppc64le", "linux_ppc64le", "ppc64le",
                       "ppc64el")),
])
def test_each_spelling_has_one_function(platform: str, spellings: tuple[str, ...]) -> None:
    assert (pair(platform), arg_pair(platform), export_dir(platform), machine(platform),
            debian_arch(platform)) == spellings


def test_every_platform_has_every_name() -> None:
    assert len(set(PLATFORMS)) == len(PLATFORMS) == 8
    for platform in PLATFORMS:
        assert machine(platform) and debian_arch(platform)
        assert native(str(machine(platform))) == platform
        assert alias(str(machine(platform))) == alias(f"linux/{machine(platform)}") == platform
        assert alias(str(debian_arch(platform))) == platform


@pytest.mark.parametrize(("host", "platform"), [
    ("x86_64", "linux/amd64"), ("AMD64", "linux/amd64"), ("arm64", "linux/arm64"),
    ("aarch64", "linux/arm64"), ("armv7l", "linux/arm/v7"), ("sparc64", None),
])
def test_native_platform_of_a_host(host: str, platform: str | None) -> None:
    assert native(host) == platform


def test_unknown_names() -> None:
    assert (machine("plan9/mips"), debian_arch("plan9/mips"), alias("linux/mips")) == (
        None, None, None)


def test_it_imports_nothing_but_the_standard_library() -> None:
    """The shim imports this file in the build, beside nothing else of bslim."""
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {str(node.module).split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_it_loads_on_its_own_and_on_older_pythons() -> None:
    # The builder image's Python may be older than bslim's: 3.8 syntax at most.
    ast.parse(SOURCE.read_text(encoding="utf-8"), feature_version=(3, 8))
    spec = importlib.util.spec_from_file_location("platforms_alone", SOURCE)
    assert spec is not None and spec.loader is not None
    alone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(alone)
    assert alone.arg_pair("linux/arm/v7") == "linux-armv7"


@pytest.mark.parametrize(("uname", "bits", "expected"), [
    ("armv8l", 32, "armv7l"), ("aarch64", 32, "armv7l"), ("armv7l", 32, "armv7l"),
    ("aarch64", 64, "aarch64"), ("x86_64", 64, "x86_64"), ("x86_64", 32, "i686"),
    ("AARCH64", 32, "armv7l"),
])
def test_running_as_what_a_64_bit_kernel_tells_a_32_bit_process(uname: str, bits: int,
                                                                 expected: str) -> None:
    assert platforms.running_as(uname, bits) == expected
