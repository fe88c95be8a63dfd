"""The platforms bslim builds for, and every name one platform goes by.

The standard library only, and nothing from buildkit_slim: the fetch stage's shim imports this
very file inside the build (it is copied beside the shim into the build context), and runs it on
whatever Python the builder image has.

One platform, several spellings, each derived here by one function:

    linux/arm/v7    the OCI platform (buildx --platform, [tool.slim] platforms)
    linux-arm-v7    pair(): bslim's own, safe in tags, file and bake target names
    linux-armv7     arg_pair(): what ${TARGETOS}-${TARGETARCH}${TARGETVARIANT} gives in a
                    Dockerfile (ARG_PAIR), so a stage can name a per-platform directory
    linux_arm_v7    export_dir(): the directory buildx's local exporter puts each platform of a
                    multi-platform export in
    armv7l          machine(): what `uname -m` (and Python's platform.machine()) says in a
                    container of that platform; also the machine part of its wheel tags
    armhf           debian_arch(): Debian's name for it (dpkg --print-architecture)
    arm-linux-gnueabihf  gnu_type(): the GNU type its cross compiler goes by
"""

from __future__ import annotations

# (OCI platform, `uname -m` in a container of it, Debian architecture, whether PyPI wheels are
# published for it as manylinux, the GNU type Debian's cross compiler for it is named by:
# gcc-<type, '_' as '-'> installs <type>-gcc). Debian's armhf needs ARMv7; arm/v6 runs armel.
_TABLE = (
    ("linux/386", "i686", "i386", True, "i686-linux-gnu"),
    ("linux/amd64", "x86_64", "amd64", True, "x86_64-linux-gnu"),
    ("linux/arm/v6", "armv6l", "armel", False, "arm-linux-gnueabi"),
    ("linux/arm/v7", "armv7l", "armhf", True, "arm-linux-gnueabihf"),
    ("linux/arm64", "aarch64", "arm64", True, "aarch64-linux-gnu"),
    ("linux/ppc64le", "ppc64le", "ppc64el", True, "powerpc64le-linux-gnu"),
    ("linux/riscv64", "riscv64", "riscv64", False, "riscv64-linux-gnu"),
    ("linux/s390x", "s390x", "s390x", True, "s390x-linux-gnu"),
)

PLATFORMS = tuple(row[0] for row in _TABLE)
MACHINES = {row[0]: row[1] for row in _TABLE}
DEBIAN_ARCHES = {row[0]: row[2] for row in _TABLE}
GNU_TYPES = {row[0]: row[4] for row in _TABLE}
# Machines PyPI publishes manylinux wheels for: a platform pretending to be one must offer them.
MANYLINUX_MACHINES = tuple(row[1] for row in _TABLE if row[3])
# How a host's CPU is reported elsewhere than in a Linux container: macOS and Windows say arm64
# and AMD64 (lowercased here) where Linux says aarch64 and x86_64.
_HOST_MACHINES = {"amd64": "linux/amd64", "arm64": "linux/arm64"}
# Other names people write for a platform; a near miss ("linux/x86_64") can then be answered
# with the platform meant, where spelling distance alone would offer linux/386.
ALIASES = {
    **{row[1]: row[0] for row in _TABLE},
    **{row[2]: row[0] for row in _TABLE},
    "x86-64": "linux/amd64",
}
# What a 64-bit kernel tells a 32-bit process, and the machine that process really runs as: an
# arm64 machine running an arm/v7 container natively says aarch64 (armv8l under linux32).
THIRTY_TWO_BIT = {"x86_64": "i686", "aarch64": "armv7l", "armv8l": "armv7l"}
# Machines with manylinux wheels (PEP 599/600) and the oldest glibc their tags start from
# (packaging's _manylinux: x86 since manylinux1, the others since manylinux2014).
MANYLINUX_FROM = {"x86_64": 5, "i686": 5, "aarch64": 17, "armv7l": 17, "ppc64le": 17,
                  "s390x": 17, "riscv64": 17}
LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
# The Dockerfile spelling of arg_pair(), built from BuildKit's automatic platform arguments.
ARG_PAIR = "${TARGETOS}-${TARGETARCH}${TARGETVARIANT}"


def pair(platform: str) -> str:
    """linux/arm/v7 -> linux-arm-v7: safe for tags, artifact names and bake target names."""
    return platform.replace("/", "-")


def arg_pair(platform: str) -> str:
    """linux/arm/v7 -> linux-armv7: ARG_PAIR's value in a build for that platform."""
    os_name, arch, *variant = platform.split("/")
    return f"{os_name}-{arch}{''.join(variant)}"


def export_dir(platform: str) -> str:
    """linux/arm/v7 -> linux_arm_v7: where buildx's local exporter puts that platform when a
    build exports several."""
    return platform.replace("/", "_")


def machine(platform: str) -> str | None:
    """linux/arm/v7 -> armv7l (`uname -m` in a container of it); None for an unknown one."""
    return MACHINES.get(platform)


def debian_arch(platform: str) -> str | None:
    """linux/arm/v7 -> armhf; None for an unknown platform."""
    return DEBIAN_ARCHES.get(platform)


def gnu_type(platform: str) -> str | None:
    """linux/arm/v7 -> arm-linux-gnueabihf: what Debian's cross compiler for it is called by
    (arm-linux-gnueabihf-gcc); None for an unknown platform."""
    return GNU_TYPES.get(platform)


def cross_packages(platform: str) -> tuple[str, ...]:
    """Debian's cross C and C++ compilers for `platform` (installed on another machine)."""
    found = GNU_TYPES.get(platform)
    return () if found is None else tuple(
        f"{tool}-{found.replace('_', '-')}" for tool in ("gcc", "g++"))


def native(host_machine: str) -> str | None:
    """The platform a host runs natively, from its machine name (platform.machine(), any
    case): x86_64 or AMD64 -> linux/amd64. None when bslim knows no such platform."""
    name = host_machine.lower()
    found = next((p for p, m in MACHINES.items() if m == name), None)
    return found or _HOST_MACHINES.get(name)


def running_as(uname: str, pointer_bits: int) -> str:
    """The machine (wheel tags, platform_machine) a process with `pointer_bits`-wide pointers
    runs as, whatever its kernel's `uname -m` says: aarch64 in a 32-bit process -> armv7l."""
    name = uname.lower()
    return THIRTY_TWO_BIT.get(name, name) if pointer_bits == 32 else name


def alias(name: str) -> str | None:
    """The platform another name means: x86_64, linux/x86_64 or armhf -> its OCI platform."""
    name = name.lower()
    return ALIASES.get(name[len("linux/"):] if name.startswith("linux/") else name)


def platform_tags(machine: str, glibc: tuple[int, int]) -> list[str]:
    """pip's order: linux_<machine> (a wheel built on such a machine), then
    manylinux_2_<glibc>_<machine> down to the machine's oldest, each legacy alias right after
    the version it stands for."""
    out = [f"linux_{machine}"]
    oldest = MANYLINUX_FROM.get(machine)
    if oldest is not None and glibc[0] == 2:
        for minor in range(glibc[1], oldest - 1, -1):
            out.append(f"manylinux_2_{minor}_{machine}")
            if minor in LEGACY_MANYLINUX and (minor == 17 or machine in ("x86_64", "i686")):
                out.append(f"{LEGACY_MANYLINUX[minor]}_{machine}")
    return out
