"""Locks read, per platform, from real lock files: uv.lock, pylock.toml, requirements files.

tests/lockapp/locks/ holds what uv and pip wrote for tests/lockapp (`python -m
tests.make_locks`); tests/test_locks_fresh.py writes them anew on every run and checks them
against what uv installs. Hand-made locks below are for what no tool writes (damage).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildkit_slim import locks
from buildkit_slim._compat import tomllib
from buildkit_slim.locks import Lock, LockError, PlatformLock, TargetEnvironment

LOCKAPP = Path(__file__).resolve().parent.parent / "lockapp"
FIXTURES = LOCKAPP / "locks"
UNIVERSAL = ("uv.lock", "pylock.toml", "requirements.txt", "requirements.export.txt")
GENERATED = json.loads((FIXTURES / "generated.json").read_text())
PROJECT = tomllib.loads((LOCKAPP / "pyproject.toml").read_text())["project"]
DEPENDENCIES: list[str] = PROJECT["dependencies"]
OPTIONAL = sorted(PROJECT["optional-dependencies"].items())


def env(platform: str, python: str = "3.13") -> TargetEnvironment:
    return TargetEnvironment(platform=platform, python=python, debian="trixie")


AMD, ARM = env("linux/amd64"), env("linux/arm/v7")


def read(name: str) -> Lock:
    return locks.parse((FIXTURES / name).read_text(encoding="utf-8"), name)


def check(lock: Lock, *envs: TargetEnvironment, dependencies: list[str] | None = None,
          optional: list[tuple[str, list[str]]] | None = None,
          extras: tuple[str, ...] = ("tz",)) -> dict[str, PlatformLock]:
    deps = DEPENDENCIES if dependencies is None else dependencies
    opt = OPTIONAL if optional is None else optional
    wanted = [*deps, *(t for e, texts in opt if e in extras for t in texts)]
    return locks.check_lock(lock, envs or (AMD, ARM), project="lockapp", dependencies=deps,
                            optional=opt, extras=extras, wanted=wanted)


def versions(platform_lock: PlatformLock) -> dict[str, str | None]:
    return {p.name: p.version for p in platform_lock.packages}


# --- what each platform gets ----------------------------------------------------------------

@pytest.mark.parametrize("name", UNIVERSAL)
def test_each_platform_gets_its_own_packages(name: str) -> None:
    chosen = check(read(name))
    amd, arm = versions(chosen["linux/amd64"]), versions(chosen["linux/arm/v7"])
    # The pins of pyproject.toml, though newer releases exist (six 1.17, tzdata 2025.x)...
    assert amd["six"] == arm["six"] == "1.16.0"
    assert amd["tzdata"] == arm["tzdata"] == "2024.1"  # the extra
    assert amd["msgpack"] == arm["msgpack"] == "1.0.8"
    # ...the fork on the Python version (3.6 below 3.13)...
    assert amd["idna"] == arm["idna"] == "3.7"
    # ...markers on the machine: pyyaml is for x86_64 only, colorama for Windows only...
    assert amd["pyyaml"] == "6.0.2"
    assert "pyyaml" not in arm
    assert "colorama" not in amd and "colorama" not in arm
    # ...and what requests brings, the project itself not among them.
    assert {"requests", "urllib3", "certifi", "charset-normalizer"} <= set(arm)
    assert "lockapp" not in amd and "lockapp" not in arm
    assert set(amd) == set(arm) | {"pyyaml"}


def test_every_universal_format_agrees_on_every_platform_and_python() -> None:
    for python in ("3.11", "3.12", "3.13"):
        for platform in ("linux/amd64", "linux/arm/v7", "linux/arm64"):
            target = env(platform, python)
            seen = {name: versions(check(read(name), target)[platform]) for name in UNIVERSAL}
            assert len({json.dumps(v, sort_keys=True) for v in seen.values()}) == 1, seen
            expected_idna = "3.7" if python == "3.13" else "3.6"
            assert seen["uv.lock"]["idna"] == expected_idna


def test_files_that_install_on_each_platform() -> None:
    chosen = check(read("uv.lock"))
    amd = {p.name: p for p in chosen["linux/amd64"].packages}
    arm = {p.name: p for p in chosen["linux/arm/v7"].packages}
    # charset-normalizer publishes a manylinux armv7l wheel: downloaded, not compiled.
    wheel = arm["charset-normalizer"].wheel
    assert wheel is not None and "manylinux_2_31_armv7l" in wheel.filename
    assert arm["charset-normalizer"].how == "wheel"
    assert "musllinux" not in " ".join(a.filename for a in arm["charset-normalizer"].artefacts)
    # markupsafe 3.0.3: a cp313 wheel for x86_64, none for armv7l: its sdist compiles there.
    assert amd["markupsafe"].how == "wheel" and arm["markupsafe"].how == "sdist"
    # msgpack 1.0.8 predates Python 3.13: it compiles on both.
    assert amd["msgpack"].how == arm["msgpack"].how == "sdist"
    assert amd["six"].how == "pure"
    # Only what installs there is offered: no Windows, macOS, musl or free-threaded wheels.
    offered = [a.filename for p in arm.values() for a in p.artefacts if a.kind == "wheel"]
    assert offered and all("armv7l" in f or f.endswith("-any.whl") for f in offered)
    assert all("cp313t" not in f and "musllinux" not in f for f in offered)


def test_requirements_text_is_what_pip_checks_hashes_against() -> None:
    chosen = check(read("uv.lock"))
    text = chosen["linux/arm/v7"].requirements_text()
    blocks = text.strip().split("\n")
    heads = [line for line in blocks if not line.startswith("    --hash=")]
    assert heads == sorted(heads) and all(re.fullmatch(r"[a-z0-9-]+==[0-9.]+ \\", h)
                                          for h in heads)
    assert "pyyaml" not in text and "lockapp" not in text
    msgpack = text.split("msgpack==1.0.8 \\\n", 1)[1].split("\n")[0]
    sdist = next(p for p in read("uv.lock").named("msgpack")).artefacts[0]
    assert sdist.kind == "sdist" and msgpack == f"    --hash=sha256:{sdist.sha256}"
    for name in ("uv.lock", "pylock.toml"):
        # The universal formats offer the same files' hashes, byte for byte.
        assert check(read(name))["linux/arm/v7"].requirements_text() == text


def test_a_requirements_file_passes_every_hash_on_to_pip() -> None:
    """A requirements file names no files: every hash of a package goes to pip, which picks
    the file at build time (so `how` is pip's to find out)."""
    chosen = check(read("requirements.txt"))
    charset = next(p for p in chosen["linux/arm/v7"].packages if p.name == "charset-normalizer")
    assert charset.how == "pip" and len(charset.artefacts) > 40
    assert charset.requirement.count("--hash=sha256:") == len(charset.artefacts)


def test_pip_lock_is_for_the_machine_it_ran_on() -> None:
    """`pip lock` records only the wheels of the environment it ran in: fine there, and a
    named error everywhere else, package by package, before any build."""
    python = GENERATED["pip-lock-python"]
    ran_on = env("linux/amd64", python)
    assert GENERATED["pip-lock-machine"] == "x86_64"
    chosen = check(read("pylock.pip.toml"), ran_on)
    assert versions(chosen["linux/amd64"]) == versions(check(read("uv.lock"), ran_on)[
        "linux/amd64"])
    with pytest.raises(LockError) as caught:
        check(read("pylock.pip.toml"), env("linux/arm/v7", python))
    problems = caught.value.problems
    binary = {"charset-normalizer", "markupsafe", "msgpack"}
    for name in binary:
        assert any(f"linux/arm/v7: {name} " in p and "no file installs here" in p
                   and "no sdist" in p for p in problems), problems
    assert not any(name in p for p in problems for name in ("six", "idna", "certifi"))
    assert "pip lock" in (caught.value.hint or "")


# --- stale locks --------------------------------------------------------------------------

def test_the_fixtures_are_not_stale() -> None:
    for name in UNIVERSAL:
        check(read(name))


def _changed(old: str, new: str) -> list[str]:
    assert old in DEPENDENCIES
    return [new if d == old else d for d in DEPENDENCIES]


@pytest.mark.parametrize("name", UNIVERSAL)
def test_a_changed_pin_is_stale_everywhere(name: str) -> None:
    with pytest.raises(LockError) as caught:
        check(read(name), dependencies=_changed("msgpack==1.0.8", "msgpack==1.0.9"))
    text = caught.value.message
    assert "linux/arm/v7 needs `msgpack==1.0.9`, the lock has msgpack 1.0.8" in text
    assert "linux/amd64 needs `msgpack==1.0.9`" in text
    assert caught.value.hint is not None and caught.value.hint.startswith("refresh it with")
    assert caught.value.exit_code == 2


def test_uv_lock_says_which_requirements_differ() -> None:
    with pytest.raises(LockError) as caught:
        check(read("uv.lock"), dependencies=_changed("msgpack==1.0.8", "msgpack==1.0.9"))
    problems = caught.value.problems
    assert "uv.lock: stale: pyproject.toml requires `msgpack==1.0.9`, which the lock was not " \
           "made with" in problems
    assert "uv.lock: stale: the lock was made with `msgpack==1.0.8`, which pyproject.toml no " \
           "longer requires" in problems
    assert caught.value.hint == "refresh it with `uv lock`"


@pytest.mark.parametrize("name", UNIVERSAL)
def test_a_new_dependency_is_stale(name: str) -> None:
    with pytest.raises(LockError) as caught:
        check(read(name), dependencies=[*DEPENDENCIES, "attrs>=23"])
    assert "needs `attrs>=23` and the lock installs no attrs there" in caught.value.message


def test_a_new_dependency_for_one_platform_only() -> None:
    deps = [*DEPENDENCIES, "attrs>=23; platform_machine == 'armv7l'"]
    with pytest.raises(LockError) as caught:
        check(read("pylock.toml"), dependencies=deps)
    assert "linux/arm/v7 needs" in caught.value.message
    assert "linux/amd64 needs" not in caught.value.message


def test_a_removed_dependency_is_stale_where_the_lock_records_it() -> None:
    deps = [d for d in DEPENDENCIES if not d.startswith("six")]
    with pytest.raises(LockError) as caught:
        check(read("uv.lock"), dependencies=deps)
    assert "the lock was made with `six==1.16.0`" in caught.value.message
    # pip-compile's `# via lockapp (pyproject.toml)` says the project asked for it.
    with pytest.raises(LockError) as caught:
        check(read("requirements.txt"), dependencies=deps)
    assert caught.value.problems == (
        "requirements.txt: stale: six is there because lockapp required it, and pyproject.toml "
        "no longer does",)
    # pylock.toml records no reason for a package: it installs one more than needed.
    check(read("pylock.toml"), dependencies=deps)


def test_markers_written_differently_are_the_same_requirement() -> None:
    """uv rewrites `python_version < '3.13'` as `python_full_version < '3.13'`."""
    deps = _changed("idna==3.6; python_version < '3.13'",
                    'idna == 3.6 ; python_full_version < "3.13.0"')
    check(read("uv.lock"), dependencies=deps)
    moved = _changed("idna==3.6; python_version < '3.13'", "idna==3.6; python_version < '3.12'")
    with pytest.raises(LockError, match="was not made with"):
        check(read("uv.lock"), dependencies=moved)


def test_an_extra_the_lock_lacks() -> None:
    optional = [*OPTIONAL, ("fast", ["orjson==3.10.0"])]
    with pytest.raises(LockError) as caught:
        check(read("uv.lock"), optional=optional, extras=("fast",))
    text = caught.value.message
    assert "pyproject.toml requires `orjson==3.10.0; extra == \"fast\"`" in text
    assert "the lock has no extra 'fast' of lockapp" in text


def test_dynamic_dependencies_are_checked_per_platform_only() -> None:
    check(read("uv.lock"), dependencies=None)  # nothing to compare requires-dist with


def test_the_lock_of_another_project() -> None:
    lock = read("uv.lock")
    with pytest.raises(LockError, match="has no entry for the project 'other'"):
        locks.check_lock(lock, (AMD,), project="other", dependencies=[], optional=[])


def test_every_problem_at_once() -> None:
    deps = [*_changed("six==1.16.0", "six==1.17.0"), "attrs"]
    with pytest.raises(LockError) as caught:
        check(read("pylock.toml"), dependencies=deps)
    assert len(caught.value.problems) == 4  # six and attrs, on two platforms
    assert caught.value.message.startswith("4 lock problems:\n")


# --- finding and reading ------------------------------------------------------------------

def test_found_beside_pyproject(tmp_path: Path) -> None:
    assert locks.find(tmp_path, None) is None
    (tmp_path / "uv.lock").write_text((FIXTURES / "uv.lock").read_text())
    assert locks.find(tmp_path, None) == "uv.lock"
    assert locks.find(tmp_path, False) is None
    (tmp_path / "pylock.toml").write_text((FIXTURES / "pylock.toml").read_text())
    with pytest.raises(LockError) as caught:
        locks.find(tmp_path, None)
    assert "both uv.lock and pylock.toml are beside pyproject.toml" in caught.value.message
    assert 'lock = "uv.lock"' in (caught.value.hint or "")
    assert locks.find(tmp_path, "pylock.toml") == "pylock.toml"
    lock = locks.load(tmp_path, "pylock.toml")
    assert lock is not None and lock.format == "pylock.toml" and lock.created_by == "uv"


def test_load_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(LockError, match=r"tool.slim.lock: locks/r.txt does not exist"):
        locks.load(tmp_path, "locks/r.txt")
    (tmp_path / "pylock.toml").write_bytes(b"lock-version = '1.0'\n\xff")
    with pytest.raises(LockError, match=r"pylock.toml: not valid UTF-8"):
        locks.load(tmp_path, None)


@pytest.mark.parametrize(("path", "fmt"), [
    ("uv.lock", "uv.lock"), ("pylock.toml", "pylock.toml"), ("sub/pylock.web.toml", "pylock.toml"),
    ("requirements.txt", "requirements"), ("pylock.a.b.toml", "requirements"),
    ("locks/prod.lock", "requirements")])
def test_format_from_the_name(path: str, fmt: str) -> None:
    assert locks.format_of(path) == fmt


def test_what_each_reader_keeps() -> None:
    uv = read("uv.lock")
    assert uv.requires_python == ">=3.10" and uv.created_by == "uv"
    assert [p.version for p in uv.named("idna")] == ["3.6", "3.7"]
    (root,) = uv.named("lockapp")
    assert root.source_kind == "editable" and root.source == "."
    assert root.requires_dist is not None and 'tzdata==2024.1 ; extra == \'tz\'' in \
        root.requires_dist
    assert root.provides_extras == ("tz",)
    pylock = read("pylock.toml")
    (yaml,) = pylock.named("pyyaml")
    assert yaml.marker == "platform_machine == 'x86_64'" and yaml.source == \
        "https://pypi.org/simple"
    assert all(a.sha256 and len(a.sha256) == 64 for a in yaml.artefacts)
    req = read("requirements.txt")
    assert req.created_by == "uv pip compile"
    assert next(iter(req.named("urllib3"))).via == ("requests",)
    assert set(next(iter(req.named("idna"))).via) == {"lockapp", "requests"}
    assert read("requirements.export.txt").created_by == "uv export"
    assert read("pylock.pip.toml").created_by == "pip"
