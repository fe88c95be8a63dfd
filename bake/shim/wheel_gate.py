"""Prove a cross-built wheel before anything uses it; say once, loudly, when one fails.

bslim ships this file beside pip_for_target.py in the named context bslim-shim; the standard
library only (and platforms.py beside it): it runs in the builder images, on the build platform
and, under emulation, on the target.

  wheel_gate.py facts OUT --platform P --sysroot DIR
      on the target, once: ask this interpreter what a cross build needs and write it to OUT:
      facts.json (ABI facts), include/ (its headers, Debian's multiarch pyconfig.h wrapper
      resolved) and sysconfig/<its _sysconfigdata module>.py, whose include dirs name that
      copy and library dirs the target's root, both as the build platform mounts it at DIR.

The checks (`check_wheel`, natively; `import_check`, on the target) are called by
cross_build.py: the tag; the extension modules against the build platform's wheel of the same
sdist; each shared object's ELF class, machine, ARM EABI version and float ABI; the GLIBC_
versions it needs against the target's glibc; then each extension module imported in a fresh
interpreter and seen to be the wheel's own, really loaded. A failing wheel is said in one line
(`failed`) and compiled under emulation instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

try:  # bslim's own module; in a build, its copy beside this file
    from buildkit_slim.platforms import MACHINES, running_as
except ImportError:  # in bslim's tree, one up
    sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]
    from platforms import MACHINES, running_as  # type: ignore[import-not-found,no-redef]
    del sys.path[:2]

# ELF e_machine per wheel machine; 32 or 64 bits; little (1) or big (2) endian.
ELF_MACHINE = {
    "x86_64": (62, 64, 1), "i686": (3, 32, 1), "aarch64": (183, 64, 1),
    "armv7l": (40, 32, 1), "armv6l": (40, 32, 1), "ppc64le": (21, 64, 1),
    "s390x": (22, 64, 2), "riscv64": (243, 64, 1),
}
EF_ARM_EABIMASK = 0xFF000000
EF_ARM_EABI_VER5 = 0x05000000
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
SHT_ARM_ATTRIBUTES = 0x70000003
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_DYNAMIC = 6
DT_NEEDED = 1
TAG_CPU_ARCH = 6
TAG_ABI_VFP_ARGS = 28
ARM_ARCH_V7 = 10  # Tag_CPU_arch values: 10 = v7, 14 = v8-A, ...
CONFIG_INCLUDES = ("INCLUDEPY", "CONFINCLUDEPY")
CONFIG_LIBS = ("LIBDIR", "LIBPL")
MODULE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"(?:\.(?P<tag>cpython-[^.]+|abi3|pypy[^.]*))?\.so$")
WRAPPER = re.compile(r"^\s*#\s*include\s*<([^>]+/pyconfig\.h)>", re.MULTILINE)


class Rejected(Exception):
    """A check failed: `check` names it, the message says what was found."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check


# Checks failed before anything was built: no wheel exists to have failed them.
NOTHING_BUILT = {
    "facts": "the target interpreter gave no facts, so nothing was cross-built",
    "toolchain": "no cross compiler, so nothing was cross-built",
}


def failed(name: str, version: str, check: str, detail: str) -> str:
    """The one line a distribution whose cross-built wheel is not used gets: the check its
    wheel failed, or (NOTHING_BUILT) why there is no wheel."""
    if check in NOTHING_BUILT:
        return (f"bslim: {name} {version}: {NOTHING_BUILT[check]} ({detail}); compiled under "
                "emulation instead")
    return (f"bslim: {name} {version}: cross-built wheel failed the {check} check ({detail}); "
            "compiling it under emulation")


# ----------------------------------------------------------------------------- target facts

def glibc_version() -> str | None:
    try:
        found = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError):
        return None
    return found.split()[-1] if found and found.startswith("glibc") else None


def sysconfigdata_name() -> str:
    get = getattr(sysconfig, "_get_sysconfigdata_name", None)
    if get is not None:
        return str(get())
    multiarch = getattr(sys.implementation, "_multiarch", "")
    return f"_sysconfigdata_{sys.abiflags}_{sys.platform}_{multiarch}"


def facts(platform: str) -> dict[str, object]:
    """What a cross build for this interpreter needs to know, asked of it once."""
    import platform as platform_module

    config = sysconfig.get_config_vars()
    bits = struct.calcsize("P") * 8
    machine = running_as(platform_module.machine(), bits)
    wanted = MACHINES.get(platform)
    if wanted is None:
        raise SystemExit(f"bslim: --platform {platform!r}: expected one of "
                         f"{', '.join(sorted(MACHINES))}")
    if machine != wanted:
        raise SystemExit(f"bslim: this interpreter runs on {machine} ({bits}-bit), not on "
                         f"{platform} ({wanted})")
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    return {
        "platform": platform,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "python_full": platform_module.python_version(),
        "interpreter": f"cp{version}",
        "abi": f"cp{version}{getattr(sys, 'abiflags', '')}",
        "platform_tag": f"linux_{wanted}",
        "machine": wanted,
        "uname": platform_module.machine(),
        "pointer_bits": bits,
        "byteorder": sys.byteorder,
        "ext_suffix": config.get("EXT_SUFFIX"),
        "soabi": config.get("SOABI"),
        "multiarch": config.get("MULTIARCH") or getattr(sys.implementation, "_multiarch", ""),
        "host_gnu_type": config.get("HOST_GNU_TYPE"),
        "glibc": glibc_version(),
        "sysconfigdata": sysconfigdata_name(),
        "config": {key: config.get(key) for key in (*CONFIG_INCLUDES, "INCLUDEDIR", *CONFIG_LIBS,
                                                    "CC", "CFLAGS", "LDSHARED")},
        "executable": sys.executable,
    }


def real_pyconfig(include: Path, multiarch: str, search: list[Path]) -> Path:
    """Debian's pythonX.Y/pyconfig.h only includes <MULTIARCH/pythonX.Y/pyconfig.h>, chosen by
    the compiler's own macros: resolve it for this interpreter's MULTIARCH."""
    wrapper = include / "pyconfig.h"
    text = wrapper.read_text(errors="replace")
    wanted = [str(name) for name in WRAPPER.findall(text) if name.startswith(f"{multiarch}/")]
    for name in wanted:
        for root in search:
            if (root / name).is_file():
                return root / name
    return wrapper


def export_facts(out: Path, platform: str, sysroot: str) -> dict[str, object]:
    """facts.json, include/ and sysconfig/<name>.py under `out` (see the module's doc)."""
    found = facts(platform)
    config = sysconfig.get_config_vars()
    include, at = Path(str(config["INCLUDEPY"])), sysroot.rstrip("/") + str(out.resolve())
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "include", ignore_errors=True)
    shutil.copytree(include, out / "include", symlinks=False)
    search = [Path(str(config.get("INCLUDEDIR") or "/usr/include")), Path("/usr/include")]
    pyconfig = real_pyconfig(include, str(found["multiarch"]), search)
    shutil.copyfile(pyconfig, out / "include" / "pyconfig.h")
    found["pyconfig"] = str(pyconfig)
    name = str(found["sysconfigdata"])
    build_vars = dict(__import__(name, globals(), locals(), ["build_time_vars"]).build_time_vars)
    for key in CONFIG_INCLUDES:
        build_vars[key] = f"{at}/include"
    for key in CONFIG_LIBS:
        value = build_vars.get(key)
        if isinstance(value, str) and value.startswith("/"):
            build_vars[key] = sysroot.rstrip("/") + value
    (out / "sysconfig").mkdir(exist_ok=True)
    (out / "sysconfig" / f"{name}.py").write_text(
        "# bslim: the target interpreter's build_time_vars; include and library dirs\n"
        "# rewritten to where the cross stage finds them.\n"
        f"build_time_vars = {build_vars!r}\n")
    (out / "facts.json").write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    return found


# ----------------------------------------------------------------------------- ELF

def _uleb(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _ntbs(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode("ascii", "replace"), end + 1


def arm_attributes(section: bytes) -> dict[int, int | str]:
    """The file-scope attributes of an ARM .ARM.attributes section ("aeabi" vendor)."""
    found: dict[int, int | str] = {}
    if not section or section[0:1] != b"A":
        return found
    at = 1
    while at + 4 <= len(section):
        (length,) = struct.unpack_from("<I", section, at)
        if length < 5:
            break
        end = at + length
        vendor, inner = _ntbs(section, at + 4)
        while vendor == "aeabi" and inner + 5 <= end:
            tag = section[inner]
            (size,) = struct.unpack_from("<I", section, inner + 1)
            if size < 5:
                break
            if tag == 1:  # Tag_File: the attributes of the whole file
                pos, stop = inner + 5, inner + size
                while pos < stop:
                    key, pos = _uleb(section, pos)
                    if key in (4, 5, 67) or (key > 32 and key % 2):
                        found[key], pos = _ntbs(section, pos)
                    elif key == 32:  # Tag_compatibility: a flag, then a name
                        found[key], pos = _uleb(section, pos)
                        _, pos = _ntbs(section, pos)
                    else:
                        found[key], pos = _uleb(section, pos)
            inner += size
        at = end
    return found


def elf_info(data: bytes) -> dict[str, object]:
    """Class, byte order, machine, flags, ARM attributes and needed symbol versions."""
    if data[:4] != b"\x7fELF":
        raise Rejected("elf", "not an ELF file")
    bits = {1: 32, 2: 64}.get(data[4])
    order = {1: "<", 2: ">"}.get(data[5])
    if bits is None or order is None:
        raise Rejected("elf", "unknown ELF class or byte order")
    if bits == 32:
        head = struct.unpack_from(order + "HHIIIIIHHHHHH", data, 16)
        section_format = order + "IIIIIIIIII"
    else:
        head = struct.unpack_from(order + "HHIQQQIHHHHHH", data, 16)
        section_format = order + "IIQQQQIIQQ"
    machine, flags = head[1], head[6]
    shoff, shentsize, shnum = head[5], head[10], head[11]
    sections = [struct.unpack_from(section_format, data, shoff + i * shentsize)
                for i in range(shnum)] if shoff else []

    def body(index: int) -> bytes:
        section = sections[index]
        return data[section[4]:section[4] + section[5]]

    attributes: dict[int, int | str] = {}
    versions: list[tuple[str, str]] = []  # (library, version name)
    needed: list[str] = []  # DT_NEEDED: the libraries the runtime image must have
    for section in sections:
        kind = section[1]
        if kind == SHT_DYNAMIC:
            strings = body(section[6])
            raw = data[section[4]:section[4] + section[5]]
            entry = order + ("iI" if bits == 32 else "qQ")
            for at in range(0, len(raw) - struct.calcsize(entry) + 1, struct.calcsize(entry)):
                tag, value = struct.unpack_from(entry, raw, at)
                if tag == 0:
                    break
                if tag == DT_NEEDED:
                    needed.append(strings[value:strings.index(b"\0", value)].decode())
        elif kind == SHT_ARM_ATTRIBUTES:
            attributes.update(arm_attributes(data[section[4]:section[4] + section[5]]))
        elif kind == SHT_GNU_VERNEED:
            strings = body(section[6])
            raw = data[section[4]:section[4] + section[5]]
            at, count = 0, section[7]
            for _ in range(count):
                _, cnt, file_off, aux, nxt = struct.unpack_from(order + "HHIII", raw, at)
                library = strings[file_off:strings.index(b"\0", file_off)].decode()
                pos = at + aux
                for _ in range(cnt):
                    _, _, _, name_off, aux_next = struct.unpack_from(order + "IHHII", raw, pos)
                    versions.append(
                        (library, strings[name_off:strings.index(b"\0", name_off)].decode()))
                    if not aux_next:
                        break
                    pos += aux_next
                if not nxt:
                    break
                at += nxt
    return {"bits": bits, "order": order, "machine": machine, "flags": flags,
            "attributes": attributes, "versions": versions, "needed": needed}


def check_elf(info: dict[str, object], facts_: dict[str, object]) -> None:
    machine = str(facts_["machine"])
    want_machine, want_bits, want_order = ELF_MACHINE.get(machine, (None, None, None))
    got = f"ELF {info['bits']}-bit, e_machine {info['machine']}"
    if want_machine is not None and (info["machine"], info["bits"]) != (want_machine, want_bits):
        raise Rejected("elf", f"{got}, not {want_bits}-bit {machine}")
    if want_order is not None and info["order"] != {1: "<", 2: ">"}[want_order]:
        raise Rejected("elf", f"{got}, wrong byte order")
    if want_machine != 40:  # ARM only below
        return
    flags = int(str(info["flags"]))
    attributes = info["attributes"]
    assert isinstance(attributes, dict)
    if flags & EF_ARM_EABIMASK != EF_ARM_EABI_VER5:
        raise Rejected("elf", f"ARM EABI version {(flags & EF_ARM_EABIMASK) >> 24}, not 5")
    vfp_args = attributes.get(TAG_ABI_VFP_ARGS)
    hard = flags & EF_ARM_ABI_FLOAT_HARD or vfp_args == 1
    if not hard or flags & EF_ARM_ABI_FLOAT_SOFT or vfp_args not in (None, 1):
        raise Rejected("elf", f"not hard-float (e_flags {flags:#x}, Tag_ABI_VFP_args {vfp_args})")
    arch = attributes.get(TAG_CPU_ARCH)
    if machine == "armv7l" and isinstance(arch, int) and arch > ARM_ARCH_V7 and arch != 13:
        # 13 is v7E-M (microcontrollers): not what an armv7l userland runs either
        raise Rejected("elf", f"Tag_CPU_arch {arch}: newer than ARMv7")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def check_glibc(info: dict[str, object], facts_: dict[str, object]) -> str | None:
    """The newest GLIBC_ version needed, refused when newer than the target's glibc."""
    versions = info["versions"]
    assert isinstance(versions, list)
    needed = [str(name)[len("GLIBC_"):] for _, name in versions
              if name.startswith("GLIBC_") and re.fullmatch(r"GLIBC_\d+(\.\d+)*", name)]
    if not needed:
        return None
    newest = max(needed, key=_version)
    target = facts_.get("glibc")
    if target and _version(newest) > _version(str(target)):
        raise Rejected("glibc", f"needs GLIBC_{newest}, the target has glibc {target}")
    return newest


# ----------------------------------------------------------------------------- wheels

def wheel_name(path: Path) -> tuple[str, str, set[str]]:
    """(normalized name, version, tags) from a wheel's file name (PEP 427)."""
    parts = path.name[:-len(".whl")].split("-")
    if not path.name.endswith(".whl") or len(parts) not in (5, 6):
        raise Rejected("tag", f"{path.name} is not a wheel file name")
    name, version = re.sub(r"[-_.]+", "_", parts[0]).lower(), parts[1]
    interpreters, abis, platforms = parts[-3:]
    return name, version, {f"{i}-{a}-{p}" for i in interpreters.split(".")
                           for a in abis.split(".") for p in platforms.split(".")}


def _member_module(member: str) -> str | None:
    """`yaml/_yaml.cpython-311-arm-linux-gnueabihf.so` -> `yaml._yaml`; None: no module."""
    parts = member.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("platlib", "purelib"):
        parts = parts[2:]
    if any(p.endswith(".libs") or p.endswith(".data") or p.endswith(".dist-info")
           for p in parts[:-1]):
        return None  # libraries bundled by auditwheel, data, metadata: not importable
    match = MODULE.match(parts[-1])
    if match is None or not all(p.isidentifier() for p in parts[:-1]):
        return None
    return ".".join([*parts[:-1], match.group("name")])


def extension_modules(wheel: Path) -> dict[str, str]:
    """Module name -> member, for every extension module in the wheel."""
    with zipfile.ZipFile(wheel) as zipped:
        found = {}
        for member in zipped.namelist():
            module = _member_module(member)
            if module is not None:
                found[module] = member
        return dict(sorted(found.items()))


def check_tag(tags: set[str], facts_: dict[str, object]) -> None:
    plat = str(facts_["platform_tag"])
    wanted = {f"{facts_['interpreter']}-{facts_['abi']}-{plat}",
              f"{facts_['interpreter']}-abi3-{plat}"}  # a limited-API build: fine too
    if not tags & wanted:
        raise Rejected("tag", f"tagged {', '.join(sorted(tags))}, not "
                       f"{facts_['interpreter']}-{facts_['abi']}-{plat}")


def check_wheel(wheel: Path, facts_: dict[str, object],
                reference: Path | None) -> dict[str, object]:
    """Every static check of one wheel; raises Rejected naming the first that fails."""
    _, _, tags = wheel_name(wheel)
    check_tag(tags, facts_)
    modules = extension_modules(wheel)
    if reference is not None:
        missing = sorted(set(extension_modules(reference)) - set(modules))
        if missing:
            raise Rejected("modules", f"no {', '.join(missing)}, which the build platform's "
                           f"{reference.name} has")
    if not modules and (reference is None or extension_modules(reference)):
        raise Rejected("modules", "no extension module at all")
    newest: str | None = None
    libraries: set[str] = set()
    suffix = str(facts_.get("ext_suffix") or "")
    with zipfile.ZipFile(wheel) as zipped:
        for member in sorted(n for n in zipped.namelist() if re.search(r"\.so(\.|$)", n)):
            name = member.rsplit("/", 1)[-1]
            tag = MODULE.match(name)
            if (member in modules.values() and tag and tag.group("tag")
                    and tag.group("tag") != "abi3" and not name.endswith(suffix)):
                raise Rejected("elf", f"{member}: suffix is not the target's {suffix}")
            info = elf_info(zipped.read(member))
            try:
                check_elf(info, facts_)
            except Rejected as error:
                raise Rejected(error.check, f"{member}: {error}") from None
            found = check_glibc(info, facts_)
            if found and (newest is None or _version(found) > _version(newest)):
                newest = found
            libraries.update(str(n) for n in info["needed"])  # type: ignore[attr-defined]
    # What the runtime image must provide: a wheel compiled from an sdist links the target's
    # libraries (libyaml-0.so.2) where the build platform's manylinux wheel bundles them.
    return {"modules": list(modules), "glibc": newest, "needed": sorted(libraries)}


# ----------------------------------------------------------------------------- import

IMPORT_PROBE = """
import importlib, importlib.machinery, os, sys
root, modules = sys.argv[1], sys.argv[2:]
sys.path.insert(0, root)
for name in modules:
    module = importlib.import_module(name)
    spec = getattr(module, "__spec__", None)
    origin = os.path.realpath(getattr(spec, "origin", None) or "")
    if not isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader):
        raise SystemExit(f"{name} was not loaded as an extension module ({origin})")
    if not origin.startswith(os.path.realpath(root) + os.sep):
        raise SystemExit(f"{name} came from {origin}, not from the wheel")
"""


def unpack(wheel: Path, into: Path) -> None:
    """A wheel's importable files into `into` (its .data/purelib and platlib too)."""
    with zipfile.ZipFile(wheel) as zipped:
        for member in zipped.namelist():
            parts = member.split("/")
            if len(parts) > 2 and parts[0].endswith(".data"):
                if parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            if member.endswith("/") or ".." in parts or member.startswith("/"):
                continue
            dest = into.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zipped.read(member))


def import_check(wheel: Path, others: list[Path]) -> None:
    """On the target: import each extension module of `wheel` in a fresh interpreter that sees
    the standard library, the wheel and `others` (its dependencies), nothing else; each must be
    loaded from the wheel as an extension module. Raises Rejected("import", why) if not."""
    with tempfile.TemporaryDirectory(prefix="bslim-gate-") as tmp:
        root = Path(tmp) / "site"
        root.mkdir()
        for each in [*others, wheel]:
            unpack(each, root)
        probe = subprocess.run([sys.executable, "-I", "-S", "-c", IMPORT_PROBE, str(root),
                                *extension_modules(wheel)], capture_output=True, text=True,
                               cwd=tmp, timeout=600, check=False)
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).replace(f"{root}/", "").strip().splitlines()
        raise Rejected("import", lines[-1] if lines else f"exit status {probe.returncode}")


def main(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wheel_gate.py")
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("facts", help="on the target: what a cross build needs")
    ask.add_argument("out")
    ask.add_argument("--platform", required=True)
    ask.add_argument("--sysroot", required=True)
    ns = parser.parse_args(args)
    export_facts(Path(ns.out), ns.platform, ns.sysroot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
