"""wheel_gate.py: the checks a cross-built wheel must pass, on ELF files and wheels made here.

The ELF files are built byte by byte (header, sections, ARM attributes, symbol versions) the way
the toolchains write them, so every check is seen both passing and failing.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from buildkit_slim.platforms import MACHINES, running_as
from buildkit_slim.resources import wheel_gate
from buildkit_slim.resources.wheel_gate import Rejected

FACTS: dict[str, object] = {
    "platform": "linux/arm/v7", "interpreter": "cp311", "abi": "cp311",
    "platform_tag": "linux_armv7l", "machine": "armv7l", "glibc": "2.36",
    "ext_suffix": ".cpython-311-arm-linux-gnueabihf.so",
}
HARD_V7 = 0x05000400  # Version5 EABI, hard-float ABI: what `readelf -h` shows for armhf
SUFFIX = ".cpython-311-arm-linux-gnueabihf.so"


def uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def attributes(pairs: list[tuple[int, int | str]]) -> bytes:
    """An .ARM.attributes section: 'A', one "aeabi" subsection, one Tag_File list."""
    body = b"".join(uleb(tag) + (value.encode() + b"\0" if isinstance(value, str)
                                 else uleb(value)) for tag, value in pairs)
    file_part = b"\x01" + struct.pack("<I", 5 + len(body)) + body
    vendor = b"aeabi\0"
    return b"A" + struct.pack("<I", 4 + len(vendor) + len(file_part)) + vendor + file_part


def verneed(needs: dict[str, list[str]]) -> tuple[bytes, bytes, int]:
    """(.gnu.version_r, .dynstr, entries): what each library's versions are."""
    strings = bytearray(b"\0")

    def add(text: str) -> int:
        at = len(strings)
        strings.extend(text.encode() + b"\0")
        return at

    out = bytearray()
    libraries = list(needs.items())
    for index, (library, versions) in enumerate(libraries):
        last = index == len(libraries) - 1
        out += struct.pack("<HHIII", 1, len(versions), add(library), 16,
                           0 if last else 16 + 16 * len(versions))
        for number, version in enumerate(versions):
            out += struct.pack("<IHHII", 0, 0, number + 2, add(version),
                               0 if number == len(versions) - 1 else 16)
    return bytes(out), bytes(strings), len(libraries)


def elf(*, bits: int = 32, machine: int = 40, flags: int = HARD_V7,
        arm: list[tuple[int, int | str]] | None = None,
        needs: dict[str, list[str]] | None = None, needed: list[str] | None = None) -> bytes:
    """A shared object's ELF header and sections (no code: the gate reads no code)."""
    if arm is None:
        arm = [(5, "7-A"), (6, 10), (28, 1)] if machine == 40 else []
    sections: list[tuple[str, int, bytes, int, int]] = []  # name, type, body, link, info
    if needs is not None:
        version_r, dynstr, count = verneed(needs)
        libraries = [*needs, *(needed or [])]
        offsets = [dynstr.index(name.encode() + b"\0") if name.encode() + b"\0" in dynstr
                   else -1 for name in libraries]
        extra = bytearray(dynstr)
        for index, name in enumerate(libraries):
            if offsets[index] < 0:
                offsets[index] = len(extra)
                extra.extend(name.encode() + b"\0")
        dynamic = b"".join(struct.pack("<iI" if bits == 32 else "<qQ", 1, at) for at in offsets)
        dynamic += struct.pack("<iI" if bits == 32 else "<qQ", 0, 0)
        sections.append((".dynstr", 3, bytes(extra), 0, 0))
        sections.append((".gnu.version_r", 0x6FFFFFFE, version_r, 1, count))
        sections.append((".dynamic", 6, dynamic, 1, 0))
    if arm:
        sections.append((".ARM.attributes", 0x70000003, attributes(arm), 0, 0))
    names = bytearray(b"\0")
    name_at = []
    for name in [*(section[0] for section in sections), ".shstrtab"]:
        name_at.append(len(names))
        names.extend(name.encode() + b"\0")
    sections.append((".shstrtab", 3, bytes(names), 0, 0))
    header_size, entry = (52, 40) if bits == 32 else (64, 64)
    bodies, offsets = bytearray(), []
    for _, _, body, _, _ in sections:
        offsets.append(header_size + len(bodies))
        bodies.extend(body)
    shoff = header_size + len(bodies)
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1, 1]) + bytes(9)
    fmt = "<HHIIIIIHHHHHH" if bits == 32 else "<HHIQQQIHHHHHH"
    head = struct.pack(fmt, 3, machine, 1, 0, 0, shoff, flags, header_size, 0, 0, entry,
                       len(sections) + 1, len(sections))
    table = bytes(entry)  # section 0: SHN_UNDEF
    for index, (_, kind, body, link, info) in enumerate(sections):
        values = (name_at[index], kind, 0, 0, offsets[index], len(body), link, info, 1, 0)
        table += struct.pack("<IIIIIIIIII" if bits == 32 else "<IIQQQQIIQQ", *values)
    return ident + head + bytes(bodies) + table


def wheel(path: Path, members: dict[str, bytes], tag: str = "cp311-cp311-linux_armv7l",
          name: str = "demo", version: str = "1.0") -> Path:
    file = path / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(file, "w") as zipped:
        for member, data in members.items():
            zipped.writestr(member, data)
        zipped.writestr(f"{name}-{version}.dist-info/WHEEL", f"Tag: {tag}\n")
    return file


ARM_SO = elf(needs={"libc.so.6": ["GLIBC_2.4", "GLIBC_2.34"]})


# ------------------------------------------------------------------------------ target facts

@pytest.mark.parametrize("uname", ["armv7l", "armv8l", "aarch64"])
def test_facts_on_an_arm_kernel_of_any_width(monkeypatch: pytest.MonkeyPatch,
                                             uname: str) -> None:
    import platform

    monkeypatch.setattr(platform, "machine", lambda: uname)
    real_calcsize = struct.calcsize
    monkeypatch.setattr(struct, "calcsize",
                        lambda fmt: 4 if fmt == "P" else real_calcsize(fmt))
    found = wheel_gate.facts("linux/arm/v7")
    assert found["platform_tag"] == "linux_armv7l"
    assert found["machine"] == "armv7l"
    assert found["uname"] == uname
    assert found["pointer_bits"] == 32


def test_facts_refuse_an_interpreter_of_another_machine(monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    with pytest.raises(SystemExit, match=r"runs on x86_64 \(64-bit\), not on linux/arm/v7"):
        wheel_gate.facts("linux/arm/v7")
    with pytest.raises(SystemExit, match="expected one of"):
        wheel_gate.facts("linux/armv7")


def this_platform() -> str:
    import platform

    machine = running_as(platform.machine(), struct.calcsize("P") * 8)
    return next(k for k, v in MACHINES.items() if v == machine)


def test_facts_of_this_interpreter() -> None:
    found = wheel_gate.facts(this_platform())
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    assert found["interpreter"] == f"cp{version}"
    assert found["ext_suffix"] == sysconfig.get_config_var("EXT_SUFFIX")
    assert found["sysconfigdata"] == sysconfig._get_sysconfigdata_name()  # type: ignore[attr-defined]
    glibc = found["glibc"]
    assert isinstance(glibc, str)
    assert all(part.isdigit() for part in glibc.split("."))


def test_export_facts_rewrites_the_sysconfigdata(tmp_path: Path) -> None:
    out = tmp_path / "target"
    found = wheel_gate.export_facts(out, this_platform(), "/sysroot")
    assert (out / "include" / "Python.h").is_file()
    assert (out / "include" / "pyconfig.h").read_text().count("#define") > 100  # the real one
    assert json.loads((out / "facts.json").read_text()) == found
    module = out / "sysconfig" / f"{found['sysconfigdata']}.py"
    spec = importlib.util.spec_from_file_location("rewritten", module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    build_vars = loaded.build_time_vars
    # as the cross stage sees them: the target's root mounted at /sysroot
    assert build_vars["INCLUDEPY"] == build_vars["CONFINCLUDEPY"] == f"/sysroot{out}/include"
    assert build_vars["LIBDIR"] == "/sysroot" + str(sysconfig.get_config_var("LIBDIR"))
    assert build_vars["EXT_SUFFIX"] == sysconfig.get_config_var("EXT_SUFFIX")


def test_debians_pyconfig_wrapper_is_resolved(tmp_path: Path) -> None:
    include = tmp_path / "usr/include/python3.11"
    include.mkdir(parents=True)
    (include / "pyconfig.h").write_text(
        "#if defined(__linux__)\n"
        "# if defined(__x86_64__) && defined(__LP64__)\n"
        "#  include <x86_64-linux-gnu/python3.11/pyconfig.h>\n"
        "# elif defined(__ARM_EABI__) && defined(__ARM_PCS_VFP)\n"
        "#  include <arm-linux-gnueabihf/python3.11/pyconfig.h>\n"
        "# endif\n#endif\n")
    real = tmp_path / "usr/include/arm-linux-gnueabihf/python3.11/pyconfig.h"
    real.parent.mkdir(parents=True)
    real.write_text("#define SIZEOF_LONG 4\n")
    search = [tmp_path / "usr/include"]
    assert wheel_gate.real_pyconfig(include, "arm-linux-gnueabihf", search) == real
    # the official layout: pyconfig.h is the real file, kept as it is
    (include / "pyconfig.h").write_text("#define SIZEOF_LONG 4\n")
    assert wheel_gate.real_pyconfig(include, "arm-linux-gnueabihf", search) == (
        include / "pyconfig.h")


# ------------------------------------------------------------------------------ ELF

def test_arm_attributes_of_every_value_kind() -> None:
    section = attributes([(4, "cortex-a7"), (5, "7-A"), (6, 10), (28, 1), (65, "x"),
                          (66, 1), (67, "2.09"), (300, 7)])
    assert wheel_gate.arm_attributes(section) == {
        4: "cortex-a7", 5: "7-A", 6: 10, 28: 1, 65: "x", 66: 1, 67: "2.09", 300: 7}
    assert wheel_gate.arm_attributes(b"") == {}
    assert wheel_gate.arm_attributes(b"B1234") == {}


def test_elf_info_reads_the_needed_symbol_versions() -> None:
    info = wheel_gate.elf_info(elf(needs={"libc.so.6": ["GLIBC_2.4", "GLIBC_2.34"],
                                          "libm.so.6": ["GLIBC_2.29"]}))
    assert info["bits"] == 32 and info["machine"] == 40 and info["flags"] == HARD_V7
    assert info["versions"] == [("libc.so.6", "GLIBC_2.4"), ("libc.so.6", "GLIBC_2.34"),
                                ("libm.so.6", "GLIBC_2.29")]
    assert info["attributes"] == {5: "7-A", 6: 10, 28: 1}
    assert info["needed"] == ["libc.so.6", "libm.so.6"]
    info = wheel_gate.elf_info(elf(needs={"libc.so.6": ["GLIBC_2.4"]}, needed=["libyaml-0.so.2"]))
    assert info["needed"] == ["libc.so.6", "libyaml-0.so.2"]


def test_an_armhf_object_passes() -> None:
    info = wheel_gate.elf_info(ARM_SO)
    wheel_gate.check_elf(info, FACTS)
    assert wheel_gate.check_glibc(info, FACTS) == "2.34"
    # hard-float said by the attribute alone (e_flags without the bit) is hard-float too
    wheel_gate.check_elf(wheel_gate.elf_info(elf(flags=0x05000000)), FACTS)


@pytest.mark.parametrize(("data", "message"), [
    (elf(bits=64, machine=62), r"ELF 64-bit, e_machine 62, not 32-bit armv7l"),
    (elf(machine=3), r"e_machine 3, not 32-bit armv7l"),
    (elf(flags=0x04000400), r"ARM EABI version 4, not 5"),
    (elf(flags=0x05000200, arm=[(6, 10), (28, 0)]), r"not hard-float"),
    (elf(flags=0x05000000, arm=[(6, 10)]), r"not hard-float"),
    (elf(arm=[(6, 14), (28, 1)]), r"Tag_CPU_arch 14: newer than ARMv7"),
    (b"not an elf at all", r"not an ELF file"),
])
def test_what_is_not_armhf_is_rejected(data: bytes, message: str) -> None:
    with pytest.raises(Rejected, match=message) as caught:
        wheel_gate.check_elf(wheel_gate.elf_info(data), FACTS)
    assert caught.value.check == "elf"


def test_a_glibc_symbol_newer_than_the_targets_is_rejected() -> None:
    info = wheel_gate.elf_info(elf(needs={"libc.so.6": ["GLIBC_2.4", "GLIBC_2.38",
                                                        "GLIBC_PRIVATE"]}))
    with pytest.raises(Rejected, match=r"needs GLIBC_2.38, the target has glibc 2.36") as caught:
        wheel_gate.check_glibc(info, FACTS)
    assert caught.value.check == "glibc"
    assert wheel_gate.check_glibc(wheel_gate.elf_info(elf(needs={})), FACTS) is None


# ------------------------------------------------------------------------------ wheels

def test_a_good_cross_built_wheel_passes(tmp_path: Path) -> None:
    good = wheel(tmp_path, {"demo/__init__.py": b"", f"demo/_speed{SUFFIX}": ARM_SO,
                            "demo/sub/_more.abi3.so": ARM_SO})
    assert wheel_gate.check_wheel(good, FACTS, None) == {
        "modules": ["demo._speed", "demo.sub._more"], "glibc": "2.34", "needed": ["libc.so.6"]}


def test_extension_modules_are_named_as_python_imports_them(tmp_path: Path) -> None:
    found = wheel(tmp_path, {
        f"demo/_a{SUFFIX}": b"", "demo/_b.so": b"", "demo/_c.abi3.so": b"",
        f"demo-1.0.data/platlib/top{SUFFIX}": b"",
        "demo.libs/libyaml-0a1b2c.so.2.0.9": b"",  # bundled by auditwheel: no module
        "demo.libs/libz.so": b"",
        "not-a-package/_x.so": b"",
        "demo/data.txt": b""})
    assert list(wheel_gate.extension_modules(found)) == ["demo._a", "demo._b", "demo._c",
                                                         "top"]


@pytest.mark.parametrize("tag", ["py3-none-any", "cp311-cp311-linux_x86_64",
                                 "cp311-cp311-linux_armv8l", "cp312-cp312-linux_armv7l",
                                 "cp311-cp311-manylinux_2_17_armv7l"])
def test_a_wheel_tagged_for_anything_else_is_rejected(tmp_path: Path, tag: str) -> None:
    bad = wheel(tmp_path, {f"demo/_speed{SUFFIX}": ARM_SO}, tag=tag)
    with pytest.raises(Rejected, match=f"tagged {tag}, not cp311-cp311-linux_armv7l"):
        wheel_gate.check_wheel(bad, FACTS, None)


def test_a_limited_api_wheel_passes(tmp_path: Path) -> None:
    abi3 = wheel(tmp_path, {"demo/_speed.abi3.so": ARM_SO}, tag="cp311-abi3-linux_armv7l")
    assert wheel_gate.check_wheel(abi3, FACTS, None)["modules"] == ["demo._speed"]


def test_a_silent_pure_python_fallback_is_caught(tmp_path: Path) -> None:
    """PyYAML without the target's libyaml headers: right tag, no extension module."""
    native = tmp_path / "native"
    native.mkdir()
    reference = wheel(native, {"yaml/__init__.py": b"",
                               "yaml/_yaml.cpython-311-x86_64-linux-gnu.so": b""},
                      tag="cp311-cp311-linux_x86_64", name="PyYAML", version="6.0.4")
    cross = tmp_path / "cross"
    cross.mkdir()
    fallback = wheel(cross, {"yaml/__init__.py": b""}, name="PyYAML", version="6.0.4")
    with pytest.raises(Rejected, match=r"no yaml._yaml, which the build platform's "
                       rf"{reference.name} has") as caught:
        wheel_gate.check_wheel(fallback, FACTS, reference)
    assert caught.value.check == "modules"
    with pytest.raises(Rejected, match="no extension module at all"):
        wheel_gate.check_wheel(fallback, FACTS, None)


def test_a_platform_wheel_without_modules_passes_when_the_reference_has_none(
        tmp_path: Path) -> None:
    """A distribution whose binary is no extension module (a helper executable, a library
    loaded through ctypes): the same in both; its ELF files are checked all the same."""
    native = tmp_path / "native"
    native.mkdir()
    reference = wheel(native, {"tool/__init__.py": b"", "tool/bin/helper.so.1": b""},
                      tag="cp311-cp311-linux_x86_64", name="tool")
    good = wheel(tmp_path, {"tool/__init__.py": b"", "tool/bin/helper.so.1": ARM_SO},
                 name="tool")
    assert wheel_gate.check_wheel(good, FACTS, reference)["modules"] == []
    bad = wheel(tmp_path / "native", {"tool/bin/helper.so.1": elf(bits=64, machine=62)},
                name="tool", version="2.0")
    with pytest.raises(Rejected, match="not 32-bit armv7l"):
        wheel_gate.check_wheel(bad, FACTS, reference)


def test_a_module_with_the_build_platforms_suffix_is_rejected(tmp_path: Path) -> None:
    host = wheel(tmp_path, {"demo/_speed.cpython-311-x86_64-linux-gnu.so": ARM_SO})
    with pytest.raises(Rejected, match=r"suffix is not the target's"):
        wheel_gate.check_wheel(host, FACTS, None)


def test_unpack_takes_the_importable_files_only(tmp_path: Path) -> None:
    file = wheel(tmp_path, {"demo/__init__.py": b"x = 1\n",
                            "demo-1.0.data/platlib/top.py": b"",
                            "demo-1.0.data/scripts/tool": b"",
                            "../evil.py": b""})
    into = tmp_path / "site"
    wheel_gate.unpack(file, into)
    assert sorted(str(p.relative_to(into)) for p in into.rglob("*") if p.is_file()) == [
        "demo-1.0.dist-info/WHEEL", "demo/__init__.py", "top.py"]


def test_the_import_probe_loads_the_wheels_extension(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str],
                                                     ) -> None:
    """The probe the target runs, here in-process with a real extension module of this
    interpreter (its _json) packed as demo._json."""
    import _json

    source = Path(str(_json.__file__))
    if not source.name.endswith(".so"):
        pytest.skip("this interpreter has _json built in")
    root = tmp_path / "site"
    (root / "demo").mkdir(parents=True)
    (root / "demo/__init__.py").write_text("")
    (root / "demo" / source.name).write_bytes(source.read_bytes())
    (root / "pure").mkdir()
    (root / "pure/__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    for name in ("demo", "demo._json", "pure"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "argv", ["probe", str(root), "demo._json"])
    exec(compile(wheel_gate.IMPORT_PROBE, "probe", "exec"), {})  # no SystemExit: it loaded
    monkeypatch.setattr(sys, "argv", ["probe", str(root), "pure"])
    with pytest.raises(SystemExit, match="pure was not loaded as an extension module"):
        exec(compile(wheel_gate.IMPORT_PROBE, "probe", "exec"), {})


# ------------------------------------------------------------------------------ command line

def test_facts_from_the_command_line(tmp_path: Path) -> None:
    assert wheel_gate.main(["facts", str(tmp_path / "t"), "--platform", this_platform(),
                            "--sysroot", "/sysroot"]) == 0
    assert json.loads((tmp_path / "t/facts.json").read_text())["platform"] == this_platform()


@pytest.mark.parametrize("argv", [[], ["facts", "out"], ["facts", "out", "--platform", "p"],
                                  ["check", "x.whl"]])
def test_bad_usage_is_an_argparse_error(argv: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        wheel_gate.main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_one_line_names_the_wheel_and_the_check() -> None:
    assert wheel_gate.failed("pyyaml", "6.0.2", "modules", "no yaml._yaml") == (
        "bslim: pyyaml 6.0.2: cross-built wheel failed the modules check (no yaml._yaml); "
        "compiling it under emulation")
