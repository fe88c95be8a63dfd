"""Prove a cross-compiled wheel before anything uses it; say once, loudly, when one fails.

bslim ships this file beside pip_for_target.py. Standard library only: it runs inside the
builder images, on the build platform and under emulation on the target.

  wheel_gate.py facts OUT --platform P [--sysroot DIR] [--at DIR]
      on the target (emulated): ask this interpreter once for what a cross build needs and
      write it to OUT: facts.json (ABI facts), include/ (the headers, pyconfig.h resolved
      when it is Debian's multiarch wrapper) and sysconfig/<its _sysconfigdata module>.py,
      rewritten so that its include dirs name OUT's copy as seen at --at, and its library
      dirs the target's root as mounted at --sysroot.
  wheel_gate.py check --facts F [--reference DIR] [--passed DIR] [--report FILE] WHEEL...
      natively: tag, extension modules (against the build platform's wheel of the same
      distribution in DIR), ELF class/machine/EABI/float ABI, GLIBC_ symbol versions.
  wheel_gate.py import --facts F [--with DIR]... [--report FILE] WHEEL...
      on the target: unpack the wheels (and those in --with, for their dependencies), import
      every extension module of each in a fresh interpreter and check it really is the one
      from the wheel.
Each failing wheel gives one line: `bslim: <name> <version>: cross-built wheel failed the
<check> check (<detail>); compiling it under emulation`. Exit status 0 when the checks ran
(whatever they found: the report says which failed), 2 on bad usage.
"""

from __future__ import annotations

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

# Wheel platform machine for each target platform (PEP 425 platform tags).
MACHINES = {
    "linux/amd64": "x86_64",
    "linux/386": "i686",
    "linux/arm64": "aarch64",
    "linux/arm/v7": "armv7l",
    "linux/arm/v6": "armv6l",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
}
# What a 64-bit kernel reports to a 32-bit process (uname), and what that process runs as:
# an arm64 machine running an arm/v7 container says aarch64, or armv8l under linux32.
THIRTY_TWO_BIT = {"x86_64": "i686", "aarch64": "armv7l", "armv8l": "armv7l"}
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


class Rejected(Exception):
    """A check failed: `check` names it, the message says what was found."""

    def __init__(self, check: str, detail: str) -> None:
        super().__init__(detail)
        self.check = check


# ----------------------------------------------------------------------------- target facts

def wheel_machine(machine: str, pointer_bits: int) -> str:
    """The wheel platform machine of an interpreter: a 32-bit one on a 64-bit kernel is
    armv7l/i686, whatever uname says."""
    machine = machine.lower()
    if pointer_bits == 32:
        return THIRTY_TWO_BIT.get(machine, machine)
    return machine


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
    machine = wheel_machine(platform_module.machine(), bits)
    wanted = MACHINES.get(platform)
    if wanted is None:
        raise SystemExit(f"bslim: --platform {platform!r}: expected one of "
                         f"{', '.join(sorted(MACHINES))}")
    if machine != wanted:
        raise SystemExit(f"bslim: this interpreter runs on {machine} ({bits}-bit), not on "
                         f"{platform} ({wanted})")
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    abiflags = getattr(sys, "abiflags", "")
    return {
        "platform": platform,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "python_full": platform_module.python_version(),
        "interpreter": f"cp{version}",
        "abi": f"cp{version}{abiflags}",
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


WRAPPER = re.compile(r"^\s*#\s*include\s*<([^>]+/pyconfig\.h)>", re.MULTILINE)


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


def export_facts(out: Path, platform: str, sysroot: str, at: str) -> dict[str, object]:
    """facts.json, include/ and sysconfig/<name>.py under out (see the module's doc)."""
    found = facts(platform)
    config = sysconfig.get_config_vars()
    include = Path(str(config["INCLUDEPY"]))
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "include", ignore_errors=True)
    shutil.copytree(include, out / "include", symlinks=False)
    search = [Path(str(config.get("INCLUDEDIR") or "/usr/include")), Path("/usr/include")]
    pyconfig = real_pyconfig(include, str(found["multiarch"]), search)
    shutil.copyfile(pyconfig, out / "include" / "pyconfig.h")
    found["pyconfig"] = str(pyconfig)
    name = str(found["sysconfigdata"])
    module = __import__(name, globals(), locals(), ["build_time_vars"], 0)
    build_vars = dict(module.build_time_vars)
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
    if not modules:
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


def references(directory: Path | None) -> dict[str, Path]:
    """The build platform's wheels (index wheels, or built natively from the same sdists),
    by distribution name."""
    if directory is None or not directory.is_dir():
        return {}
    found = {}
    for wheel in sorted(directory.glob("*.whl")):
        try:
            found[wheel_name(wheel)[0]] = wheel
        except Rejected:
            continue
    return found


def say_failed(wheel: Path, error: Rejected) -> str:
    try:
        name, version, _ = wheel_name(wheel)
    except Rejected:
        name, version = wheel.name, "?"
    return (f"bslim: {name} {version}: cross-built wheel failed the {error.check} check "
            f"({error}); compiling it under emulation")


def check_all(wheels: list[Path], facts_: dict[str, object], reference_dir: Path | None,
              passed: Path | None) -> dict[str, dict[str, object]]:
    refs = references(reference_dir)
    report: dict[str, dict[str, object]] = {}
    for wheel in wheels:
        try:
            name = wheel_name(wheel)[0]
            result = check_wheel(wheel, facts_, refs.get(name))
            report[wheel.name] = {"ok": True, **result}
            if passed is not None:
                passed.mkdir(parents=True, exist_ok=True)
                shutil.copy2(wheel, passed / wheel.name)
        except Rejected as error:
            report[wheel.name] = {"ok": False, "check": error.check, "detail": str(error)}
            print(say_failed(wheel, error), file=sys.stderr, flush=True)
        except (OSError, zipfile.BadZipFile, struct.error, ValueError, IndexError) as error:
            failed = Rejected("elf", f"unreadable: {error}")
            report[wheel.name] = {"ok": False, "check": "elf", "detail": str(failed)}
            print(say_failed(wheel, failed), file=sys.stderr, flush=True)
    return report


# ----------------------------------------------------------------------------- import

IMPORT_PROBE = """
import importlib, importlib.machinery, json, os, sys
root, modules = sys.argv[1], sys.argv[2:]
for name in modules:
    module = importlib.import_module(name)
    spec = getattr(module, "__spec__", None)
    origin = os.path.realpath(getattr(spec, "origin", None) or "")
    if not isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader):
        raise SystemExit(f"{name} was not loaded as an extension module ({origin})")
    if not origin.startswith(os.path.realpath(root) + os.sep):
        raise SystemExit(f"{name} came from {origin}, not from the wheel")
print(json.dumps(modules))
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


def import_all(wheels: list[Path], others: list[Path],
               facts_: dict[str, object]) -> dict[str, dict[str, object]]:
    """Under the target: import each wheel's extension modules in a fresh interpreter that
    sees the standard library, the wheels under test and `others` (their dependencies)."""
    report: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bslim-gate-") as tmp:
        root = Path(tmp) / "site"
        root.mkdir()
        for wheel in [*others, *wheels]:
            unpack(wheel, root)
        for wheel in wheels:
            modules = list(extension_modules(wheel))
            probe = subprocess.run(
                [sys.executable, "-I", "-S", "-c",
                 f"import sys; sys.path.insert(0, {str(root)!r})\n" + IMPORT_PROBE,
                 str(root), *modules],
                capture_output=True, text=True, cwd=tmp, timeout=600, check=False)
            if probe.returncode == 0:
                report[wheel.name] = {"ok": True, "imported": modules}
                continue
            lines = (probe.stderr or probe.stdout).strip().splitlines()
            error = Rejected("import", lines[-1] if lines else f"exit {probe.returncode}")
            report[wheel.name] = {"ok": False, "check": "import", "detail": str(error)}
            print(say_failed(wheel, error), file=sys.stderr, flush=True)
    return report


# ----------------------------------------------------------------------------- command line

def _options(args: list[str], known: tuple[str, ...]) -> tuple[dict[str, list[str]], list[str]]:
    options: dict[str, list[str]] = {}
    rest: list[str] = []
    items = iter(args)
    for item in items:
        if item in known:
            value = next(items, None)
            if value is None:
                raise SystemExit(f"bslim: {item} needs a value")
            options.setdefault(item, []).append(value)
        elif item.startswith("--"):
            raise SystemExit(f"bslim: unknown option {item} (expected one of "
                             f"{', '.join(known)})")
        else:
            rest.append(item)
    return options, rest


def _write(report: dict[str, dict[str, object]], path: list[str] | None) -> None:
    if path:
        Path(path[0]).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def main(argv: list[str]) -> int:
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "facts":
            options, rest = _options(args, ("--platform", "--sysroot", "--at"))
            if len(rest) != 1 or "--platform" not in options:
                raise SystemExit("bslim: usage: wheel_gate.py facts OUT --platform P")
            out = Path(rest[0])
            export_facts(out, options["--platform"][0], options.get("--sysroot", [""])[0],
                         options.get("--at", [str(out)])[0])
            return 0
        if command in ("check", "import"):
            known = (("--facts", "--reference", "--passed", "--report") if command == "check"
                     else ("--facts", "--with", "--report"))
            options, rest = _options(args, known)
            if "--facts" not in options:
                raise SystemExit(f"bslim: usage: wheel_gate.py {command} --facts F WHEEL...")
            facts_ = json.loads(Path(options["--facts"][0]).read_text())
            wheels = [Path(w) for w in rest]
            if command == "check":
                ref = options.get("--reference")
                passed = options.get("--passed")
                report = check_all(wheels, facts_, Path(ref[0]) if ref else None,
                                   Path(passed[0]) if passed else None)
            else:
                others = sorted(w for d in options.get("--with", [])
                                for w in Path(d).glob("*.whl"))
                report = import_all(wheels, others, facts_)
            _write(report, options.get("--report"))
            return 0
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
