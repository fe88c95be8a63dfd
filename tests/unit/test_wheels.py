"""Exported wheels: sorting buildx's local export into DEST/<platform>/ with a manifest, and the
`bslim plan` lines from the fetch stage's reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.wheels import MANIFEST, collect, manifest, plan_lines, split_dir

AMD, ARM = "linux/amd64", "linux/arm/v7"
PURE = "tinypure-1.0-py3-none-any.whl"
EXT_ARM = "tinyext-0.1.0-cp313-cp313-linux_armv7l.whl"
EXT_AMD = "tinyext-0.1.0-cp313-cp313-linux_x86_64.whl"
NUMPY_ARM = "NumPy-2.1.0-cp313-cp313-manylinux_2_17_armv7l.manylinux2014_armv7l.whl"
# sha256 of the bytes each fake wheel holds (b"", b"abc", b"hello\n").
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC_SHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
HELLO_SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"


def write(base: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def listing(base: Path) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


@pytest.mark.parametrize(("platform", "platforms", "sub"), [
    (ARM, (ARM,), ""),
    (ARM, (AMD, ARM), "linux_arm_v7"),
    (AMD, (AMD, ARM), "linux_amd64"),
])
def test_split_dir(tmp_path: Path, platform: str, platforms: tuple[str, ...], sub: str) -> None:
    assert split_dir(tmp_path, platform, platforms) == tmp_path / sub


def test_collect_one_platform(tmp_path: Path) -> None:
    exported, dest = tmp_path / "dist/.bslim-export-spark", tmp_path / "dist"
    # A single-platform export is not split: the wheels sit at the top.
    write(exported, {EXT_ARM: b"abc", PURE: b"", "not-a-wheel.txt": b"x"})
    path = collect(exported, dest, [ARM])
    assert path == dest / MANIFEST
    assert listing(dest) == ["linux-arm-v7.spdx.json", f"linux-arm-v7/{EXT_ARM}",
                             f"linux-arm-v7/{PURE}", MANIFEST]
    assert not exported.exists()
    # Beside the manifest, the platform's SBOM: exactly these wheels, by sha256.
    doc = json.loads((dest / "linux-arm-v7.spdx.json").read_text(encoding="utf-8"))
    assert [(p["name"], p["versionInfo"], p["checksums"][0]["checksumValue"])
            for p in doc["packages"] if "versionInfo" in p] == [
        ("tinyext", "0.1.0", ABC_SHA), ("tinypure", "1.0", EMPTY_SHA)]
    assert doc["spdxVersion"] == "SPDX-2.3"
    expected = {"platforms": {ARM: {"directory": "linux-arm-v7", "wheels": [
        {"file": EXT_ARM, "name": "tinyext", "version": "0.1.0",
         "tags": ["cp313-cp313-linux_armv7l"], "sha256": ABC_SHA, "size": 3},
        {"file": PURE, "name": "tinypure", "version": "1.0",
         "tags": ["py3-none-any"], "sha256": EMPTY_SHA, "size": 0},
    ]}}}
    # Sorted keys, two-space indent, trailing newline: committed manifests diff cleanly.
    assert path.read_text(encoding="utf-8") == json.dumps(expected, indent=2,
                                                          sort_keys=True) + "\n"
    assert path.read_text(encoding="utf-8").startswith('{\n  "platforms": {\n    "linux/arm/v7"')


def test_collect_several_platforms(tmp_path: Path) -> None:
    exported, dest = tmp_path / "out/.bslim-export-api", tmp_path / "out/api"
    write(exported, {f"linux_amd64/{EXT_AMD}": b"abc", f"linux_amd64/{PURE}": b"",
                     f"linux_arm_v7/{NUMPY_ARM}": b"hello\n", f"linux_arm_v7/{PURE}": b""})
    collect(exported, dest, [ARM, AMD])
    assert listing(tmp_path / "out") == [
        "api/linux-amd64.spdx.json", f"api/linux-amd64/{EXT_AMD}", f"api/linux-amd64/{PURE}",
        "api/linux-arm-v7.spdx.json", f"api/linux-arm-v7/{NUMPY_ARM}",
        f"api/linux-arm-v7/{PURE}",
        f"api/{MANIFEST}",
    ]
    data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    assert list(data["platforms"]) == [AMD, ARM]
    assert data["platforms"][ARM] == {"directory": "linux-arm-v7", "wheels": [
        {"file": NUMPY_ARM, "name": "numpy", "version": "2.1.0",
         "tags": ["cp313-cp313-manylinux2014_armv7l", "cp313-cp313-manylinux_2_17_armv7l"],
         "sha256": HELLO_SHA, "size": 6},
        {"file": PURE, "name": "tinypure", "version": "1.0",
         "tags": ["py3-none-any"], "sha256": EMPTY_SHA, "size": 0},
    ]}
    assert [w["file"] for w in data["platforms"][AMD]["wheels"]] == [EXT_AMD, PURE]
    assert data["platforms"][AMD]["wheels"][0]["sha256"] == ABC_SHA


def test_collect_replaces_an_earlier_export(tmp_path: Path) -> None:
    exported, dest = tmp_path / "dist/.bslim-export-spark", tmp_path / "dist"
    write(dest, {"linux-arm-v7/tinyext-0.0.9-cp313-cp313-linux_armv7l.whl": b"old",
                 "linux-amd64/keep.txt": b"another platform"})
    write(exported, {EXT_ARM: b"abc"})
    collect(exported, dest, [ARM])
    assert listing(dest) == ["linux-amd64/keep.txt", "linux-arm-v7.spdx.json",
                             f"linux-arm-v7/{EXT_ARM}", MANIFEST]
    assert list(json.loads((dest / MANIFEST).read_text(encoding="utf-8"))["platforms"]) == [ARM]


def test_collect_a_platform_without_wheels(tmp_path: Path) -> None:
    exported, dest = tmp_path / "dist/.bslim-export-spark", tmp_path / "dist"
    write(exported, {f"linux_amd64/{PURE}": b""})
    (exported / "linux_arm_v7").mkdir()
    collect(exported, dest, [AMD, ARM])
    assert (dest / "linux-arm-v7").is_dir()
    assert manifest(dest, [AMD, ARM])["platforms"] == {
        AMD: {"directory": "linux-amd64", "wheels": [
            {"file": PURE, "name": "tinypure", "version": "1.0", "tags": ["py3-none-any"],
             "sha256": EMPTY_SHA, "size": 0}]},
        ARM: {"directory": "linux-arm-v7", "wheels": []},
    }


# --- bslim plan ---------------------------------------------------------------------------------

def entry(name: str, version: str, kind: str) -> dict[str, Any]:
    return {"name": name, "version": version, "kind": kind, "file": f"{name}-{version}.whl"}


DEPS = [entry("tinyext", "0.1.0", "compile"), entry("numpy", "2.1.0", "wheel"),
        entry("tinypure", "1.0", "pure")]
PROJECT = [entry("spark", "1.0", "native")]


def reports(base: Path, deps: list[dict[str, Any]], project: list[dict[str, Any]]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    (base / "deps.json").write_text(json.dumps(deps), encoding="utf-8")
    (base / "project.json").write_text(json.dumps(project), encoding="utf-8")


def test_plan_lines_emulated(tmp_path: Path) -> None:
    reports(tmp_path, DEPS, PROJECT)
    assert plan_lines(tmp_path, [ARM], AMD, "api") == [
        "api linux/arm/v7 (emulated):",
        "  numpy                    2.1.0        binary wheel from the index",
        "  spark                    1.0          compiled natively (the build platform)",
        "  tinyext                  0.1.0        COMPILED UNDER EMULATION",
        "  tinypure                 1.0          pure Python wheel (one for every platform)",
        "  4 distributions, 1 compiled under emulation",
    ]


def test_plan_lines_native_and_emulated(tmp_path: Path) -> None:
    reports(tmp_path / "linux_amd64", [entry("tinyext", "0.1.0", "native")], PROJECT)
    reports(tmp_path / "linux_arm_v7", DEPS[:1], [entry("spark", "1.0", "compile")])
    assert plan_lines(tmp_path, [AMD, ARM], AMD, "api") == [
        "api linux/amd64 (native):",
        "  spark                    1.0          compiled natively (the build platform)",
        "  tinyext                  0.1.0        compiled natively (the build platform)",
        "  2 distributions, 0 compiled",
        "api linux/arm/v7 (emulated):",
        "  spark                    1.0          COMPILED UNDER EMULATION",
        "  tinyext                  0.1.0        COMPILED UNDER EMULATION",
        "  2 distributions, 2 compiled under emulation",
    ]


def test_plan_lines_compile_on_a_native_target(tmp_path: Path) -> None:
    # On an arm host the arm/v7 build is native: what is compiled costs no emulation.
    reports(tmp_path, DEPS[:1], [])
    assert plan_lines(tmp_path, [ARM], ARM, "worker") == [
        "worker linux/arm/v7 (native):",
        "  tinyext                  0.1.0        compiled on the target (native)",
        "  1 distribution, 1 compiled",
    ]


def test_plan_lines_nothing_compiled_and_unknown_kinds(tmp_path: Path) -> None:
    reports(tmp_path, [entry("a-very-long-distribution-name", "2024.10.1.post3", "sdist")], [])
    assert plan_lines(tmp_path, [ARM], "", "api") == [
        "api linux/arm/v7 (emulated):",
        "  a-very-long-distribution-name 2024.10.1.post3 sdist",
        "  1 distribution, 0 compiled",
    ]


def test_manifest_lists_every_tag_of_a_compressed_tag_set_sorted(tmp_path: Path) -> None:
    # Six tags: their set has no order, the manifest has one.
    name = "multi-3.0-py2.py3-none-musllinux_1_1_armv7l.manylinux_2_17_armv7l.linux_armv7l.whl"
    write(tmp_path / "linux-arm-v7", {name: b""})
    wheels: Any = manifest(tmp_path, [ARM])["platforms"]
    assert wheels[ARM]["wheels"][0]["tags"] == [
        "py2-none-linux_armv7l", "py2-none-manylinux_2_17_armv7l", "py2-none-musllinux_1_1_armv7l",
        "py3-none-linux_armv7l", "py3-none-manylinux_2_17_armv7l", "py3-none-musllinux_1_1_armv7l",
    ]


def test_plan_lines_say_what_is_cross_compiled_and_why_the_rest_is_not(tmp_path: Path) -> None:
    reports(tmp_path, [
        {**entry("uvloop", "0.21.0", "compile"), "how": "cross"},
        {**entry("numpy", "2.1.0", "compile"), "how": "emulated",
         "why": "[tool.slim.cross] emulate lists it"}],
        [{**entry("spark", "1.0", "compile"), "how": "emulated",
          "why": "the project itself (cross-compiling covers its dependencies)"}])
    assert plan_lines(tmp_path, [ARM], AMD, "api") == [
        "api linux/arm/v7 (emulated):",
        "  numpy                    2.1.0        COMPILED UNDER EMULATION ([tool.slim.cross] "
        "emulate lists it)",
        "  spark                    1.0          COMPILED UNDER EMULATION (the project itself "
        "(cross-compiling covers its dependencies))",
        "  uvloop                   0.21.0       cross-compiled on the build platform (proven on "
        "the target before use; if it fails, compiled under emulation)",
        "  3 distributions, 1 cross-compiled, 2 compiled under emulation",
    ]
