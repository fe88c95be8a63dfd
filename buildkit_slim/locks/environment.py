"""A target platform as a lock sees it: its environment markers and the wheel tags it takes.

bslim's images are CPython on Debian (glibc) for one machine, so both are known before any
build: `linux/arm/v7` with Python 3.13 on trixie is `platform_machine == "armv7l"`,
`python_version == "3.13"`, and manylinux_2_41_armv7l down to manylinux2014_armv7l wheels
(plus linux_armv7l, which pip also takes). What is not known before the build — the patch
release of Python, the kernel — must not decide a marker: one that it would decide is an
error, not a guess.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from buildkit_slim.platforms import MACHINES, platform_tags

# glibc of each Debian release the python images are built on: the newest manylinux tag a
# wheel may carry there (bullseye 2.31, bookworm 2.36, trixie 2.41; forky as trixie until it
# is released). Another release: only what every glibc-based image takes (2.17).
DEBIAN_GLIBC = {"bullseye": (2, 31), "bookworm": (2, 36), "trixie": (2, 41), "forky": (2, 41)}
OLDEST_GLIBC = (2, 17)


class AmbiguousMarker(ValueError):
    """The marker's value depends on what is unknown before the build."""


def _environment(machine: str, python: str, *, full: str | None = None, release: str = "",
                 version: str = "") -> dict[str, str]:
    """Marker variables of the target; `full`, `release`, `version`: one guess at what is
    unknown before the build (the patch release of Python, the kernel)."""
    full = full or f"{python}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": release,
        "platform_system": "Linux",
        "platform_version": version,
        "python_full_version": full,
        "python_version": python,
        "sys_platform": "linux",
        "extra": "",
    }


def _unknowns(marker: Marker, python: str) -> list[dict[str, str]]:
    """Every guess at the unknowns that could change the marker's value: patch releases on
    and around those it names, and the kernel strings it names (or others)."""
    literals: dict[str, set[str]] = {}
    for left, value, value_first, right in _ATOM.findall(str(marker)):
        name, literal = (left, value) if left else (right, value_first)
        literals.setdefault(name, set()).add(literal)
    fulls = {f"{python}.0", f"{python}.99"}
    for name in ("python_full_version", "implementation_version"):
        fulls |= {v for v in _python_candidates(literals.get(name, set()))
                  if v.startswith(f"{python}.")}
    releases = sorted(literals.get("platform_release", set()) | {"", "\x01other"})
    versions = sorted(literals.get("platform_version", set()) | {"", "\x01other"})
    return [{"full": f, "release": r, "version": v}
            for f, r, v in itertools.product(sorted(fulls), releases, versions)]


@dataclass(frozen=True, kw_only=True)
class TargetEnvironment:
    platform: str  # "linux/arm/v7"
    python: str  # "3.13"
    debian: str = "trixie"

    @property
    def machine(self) -> str:
        return MACHINES[self.platform]

    @property
    def glibc(self) -> tuple[int, int]:
        return DEBIAN_GLIBC.get(self.debian, OLDEST_GLIBC)

    @property
    def label(self) -> str:
        return f"{self.platform} (CPython {self.python}, {self.debian})"

    def evaluate(self, marker: str | Marker | None, *, extra: str = "",
                 extras: AbstractSet[str] | None = None,
                 groups: AbstractSet[str] | None = None) -> bool:
        """Whether `marker` holds on this target. `extras`/`groups` given: a pylock.toml
        marker (PEP 751's `extras` and `dependency_groups` sets); else package metadata's
        (`extra`). Raises AmbiguousMarker when the patch release or the kernel decides."""
        if marker is None:
            return True
        parsed = Marker(marker) if isinstance(marker, str) else marker
        results = set()
        for guess in _unknowns(parsed, self.python):
            env: dict[str, str | AbstractSet[str]] = {
                **_environment(self.machine, self.python, **guess), "extra": extra}
            if extras is not None or groups is not None:
                env["extras"] = frozenset(extras or ())
                env["dependency_groups"] = frozenset(groups or ())
                results.add(parsed.evaluate(env, context="lock_file"))
            else:
                results.add(parsed.evaluate(env))
        if len(results) != 1:
            raise AmbiguousMarker(str(parsed))
        return results.pop()

    def python_in(self, specifier: str) -> bool:
        """Whether this Python X.Y satisfies a requires-python specifier, for every patch
        release (AmbiguousMarker when only some do)."""
        from packaging.specifiers import SpecifierSet

        clauses = [f"python_full_version {s.operator} '{s.version}'"
                   for s in SpecifierSet(specifier)]
        return self.evaluate(" and ".join(clauses) if clauses else None)

    @property
    def tags(self) -> tuple[str, ...]:
        """The wheel tags this target takes, best first (pip's order)."""
        return _tags(self.machine, self.python, self.glibc)

    def wheel_rank(self, filename: str) -> int | None:
        """Position of the wheel's best tag in `tags` (lower is better); None: it does not
        install here."""
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return None
        ranks = _ranks(self.machine, self.python, self.glibc)
        found = [ranks[str(tag)] for tag in tags if str(tag) in ranks]
        return min(found) if found else None


@functools.lru_cache(maxsize=64)
def _tags(machine: str, python: str, glibc: tuple[int, int]) -> tuple[str, ...]:
    version = tuple(int(part) for part in python.split("."))
    platforms = platform_tags(machine, glibc)
    abi = f"cp{version[0]}{version[1]}"
    tags = [*cpython_tags(version, abis=[abi], platforms=platforms),
            *compatible_tags(version, interpreter=abi, platforms=platforms)]
    return tuple(dict.fromkeys(str(tag) for tag in tags))


@functools.lru_cache(maxsize=64)
def _ranks(machine: str, python: str, glibc: tuple[int, int]) -> Mapping[str, int]:
    return {tag: index for index, tag in enumerate(_tags(machine, python, glibc))}


# --- markers that mean the same -------------------------------------------------------------

_OPS = r"(?:===|==|!=|<=|>=|~=|<|>|not in|in)"
_ATOM = re.compile(rf'(\w+)\s*{_OPS}\s*"([^"]*)"|"([^"]*)"\s*{_OPS}\s*(\w+)')
_PYTHON_VARS = ("python_version", "python_full_version", "implementation_version")
_MAX_CASES = 20_000


def _python_candidates(literals: set[str]) -> set[str]:
    """Full Python versions on and around every version a marker compares with."""
    out = {"3.13.0", "2.7.18"}
    for literal in literals:
        try:
            release = Version(literal.removesuffix(".*")).release
        except InvalidVersion:
            continue
        major, minor, micro = (*release, 0, 0)[:3]
        out |= {f"{major}.{minor}.{micro}", f"{major}.{minor}.{micro + 1}",
                f"{major}.{minor + 1}.0", f"{major}.{minor}.99"}
        out.add(f"{major}.{minor}.{micro - 1}" if micro else f"{major}.{max(minor - 1, 0)}.99")
    return out


def _cases(markers: list[Marker]) -> Iterator[dict[str, str]] | None:
    literals: dict[str, set[str]] = {}
    for marker in markers:
        for left, value, value_first, right in _ATOM.findall(str(marker)):
            name, literal = (left, value) if left else (right, value_first)
            literals.setdefault(name, set()).add(literal)
    python = {lit for name in _PYTHON_VARS for lit in literals.pop(name, set())}
    axes: list[tuple[str, list[str]]] = [
        ("python", sorted(_python_candidates(python))) if python else ("python", ["3.13.0"])]
    for name, found in sorted(literals.items()):
        axes.append((name, sorted(found | {"", "\x01other"})))
    count = 1
    for _, candidates in axes:
        count *= len(candidates)
    if count > _MAX_CASES:
        return None
    base = _environment("x86_64", "3.13")

    def generate() -> Iterator[dict[str, str]]:
        for combo in itertools.product(*(candidates for _, candidates in axes)):
            env = dict(base)
            for (name, _), value in zip(axes, combo, strict=True):
                if name == "python":
                    major_minor = ".".join(value.split(".")[:2])
                    env.update(python_version=major_minor, python_full_version=value,
                               implementation_version=value)
                else:
                    env[name] = value
            yield env
    return generate()


def equivalent(first: str | None, second: str | None) -> bool:
    """Whether two PEP 508 markers (None: always) hold in the same environments. uv rewrites
    the markers it locks (`python_version < "3.10"` becomes `python_full_version < '3.10'`,
    `and extra == 'x'` is appended, parentheses added), so text alone cannot tell; every
    combination of the values the markers compare against (and values around them) can."""
    try:
        pair = [None if m is None else Marker(m) for m in (first, second)]
    except InvalidMarker:
        return first == second
    texts = [None if m is None else str(m) for m in pair]
    if texts[0] == texts[1]:
        return True
    cases = _cases([m for m in pair if m is not None])
    if cases is None:  # too many variables to enumerate: only the same text is the same
        return False
    return all(len({True if m is None else m.evaluate(env) for m in pair}) == 1
               for env in cases)
