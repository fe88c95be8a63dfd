"""cross_build.py: what is cross-compiled (and why the rest is not), each build's environment,
its cache key, the cross stage's report and the compile stage's proof, with the builds and the
import under emulation stood in for (they run for real in tests/e2e/test_cross.py)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim.resources import cross_build, wheel_build, wheel_gate
from buildkit_slim.resources.cross_build import (
    CROSS_LIST,
    REFERENCE,
    build_all,
    cache_entry,
    package_env,
    prove,
    why_emulated,
)
from tests.unit.test_wheel_gate import ARM_SO, SUFFIX

FACTS = {"platform": "linux/arm/v7", "interpreter": "cp311", "abi": "cp311",
         "platform_tag": "linux_armv7l", "machine": "armv7l", "glibc": "2.36",
         "ext_suffix": SUFFIX, "sysconfigdata": "_sysconfigdata__linux_arm-linux-gnueabihf",
         "multiarch": "arm-linux-gnueabihf", "python_full": "3.11.2", "soabi": "x"}


@pytest.mark.parametrize(("name", "mine", "enabled", "emulate", "target", "with_project",
                          "why"), [
    ("uvloop", False, True, (), "linux/arm/v7", False, None),
    ("uvloop", False, False, (), "linux/arm/v7", False,
     "cross-compiling is off ([tool.slim.cross] enabled = false)"),
    ("spark", True, True, (), "linux/arm/v7", True,
     "the project itself (cross-compiling covers its dependencies)"),
    ("numpy", False, True, ("numpy",), "linux/arm/v7", False,
     "[tool.slim.cross] emulate lists it"),
    ("uvloop", False, True, (), "linux/mips", False, "bslim knows no cross compiler for "
     "linux/mips"),
    ("tinyext", False, True, (), "linux/arm/v7", True,
     "resolved with the project's source (dynamic dependencies), built with it"),
])
def test_why_emulated(name: str, mine: bool, enabled: bool, emulate: tuple[str, ...],
                      target: str, with_project: bool, why: str | None) -> None:
    assert why_emulated(name, mine, enabled=enabled, emulate=emulate, target=target,
                        with_project=with_project) == why


def test_a_distributions_environment_is_bslims_then_the_users() -> None:
    gnu = "arm-linux-gnueabihf"
    assert package_env("uvloop", {}, gnu) == {"LIBUV_CONFIGURE_HOST": gnu}
    assert package_env("uvloop", {"uvloop": {"LIBUV_CONFIGURE_HOST": "{host}-x",
                                             "EXTRA": "1"}}, gnu) == {
        "EXTRA": "1", "LIBUV_CONFIGURE_HOST": f"{gnu}-x"}
    assert package_env("msgpack", {"uvloop": {"A": "b"}}, gnu) == {}


def test_the_cache_key_holds_the_sdist_the_toolchain_and_the_abi(tmp_path: Path) -> None:
    (tmp_path / "sdists").mkdir()
    (tmp_path / "sdists/tinyext.sha256").write_text("ab12\n")
    one = cache_entry(tmp_path / "c", tmp_path, "tinyext", ["gcc 12", FACTS, []])
    assert one is not None and one.name.startswith("ab12-")
    assert one == cache_entry(tmp_path / "c", tmp_path, "tinyext", ["gcc 12", FACTS, []])
    for other in (["gcc 14", FACTS, []], ["gcc 12", {**FACTS, "glibc": "2.41"}, []],
                  ["gcc 12", FACTS, [("CFLAGS", "-O0")]]):
        assert cache_entry(tmp_path / "c", tmp_path, "tinyext", other) != one
    assert cache_entry(tmp_path / "c", tmp_path, "other", []) is None  # no sdist digest


def _wheel(folder: Path, name: str, members: dict[str, bytes],
           tag: str = "cp311-cp311-linux_armv7l") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}-1.0-{tag}.whl"
    with zipfile.ZipFile(file, "w") as zipped:
        for member, data in members.items():
            zipped.writestr(member, data)
    return file


@pytest.fixture
def fetched(tmp_path: Path) -> Path:
    """A fetch pass's DIR as prepare and sort leave it: three listed for cross-compiling."""
    directory = tmp_path / "fetched"
    (directory / CROSS_LIST).parent.mkdir(parents=True)
    (directory / CROSS_LIST).write_text("good==1.0\npurefall==1.0\nbroken==1.0\n")
    for key in ("good", "purefall", "broken"):
        (directory / "src" / key / f"{key}-1.0").mkdir(parents=True)
        (directory / "buildenv-native" / key).mkdir(parents=True)
        (directory / "sdists").mkdir(exist_ok=True)
        (directory / "sdists" / f"{key}.sha256").write_text(f"{key}sha\n")
    _wheel(directory / REFERENCE, "purefall", {f"purefall/_speedups{SUFFIX}": b""},
           tag="cp311-cp311-linux_x86_64")
    sysroot = tmp_path / "sysroot"
    target = sysroot / cross_build.TARGET_DIR.lstrip("/")
    (target / "sysconfig").mkdir(parents=True)
    (target / "facts.json").write_text(json.dumps(FACTS))
    return directory


def fake_builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    """The toolchain and each backend stood in for: good builds an armhf module, purefall
    silently builds without its extension, broken fails."""
    built: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(cross_build, "toolchain", lambda gnu, sysroot, bin_dir, includes: (
        {"CC": f"{gnu}-gcc"}, "arm-linux-gnueabihf-gcc (Debian 12.2.0-14) 12.2.0"))
    monkeypatch.setattr(cross_build, "link_multiarch", lambda sysroot, multiarch: None)

    def hook(action: str, src: Path, out: Path, paths: list[Path], env: Any = None,
             log: Any = None) -> int:
        name = src.name.split("-")[0]
        built.append((name, dict(env)))
        if name == "broken":
            log.write("compiling...\nerror: arm-linux-gnueabihf-gcc failed with exit code 1\n")
            return 1
        members = {f"good/_speed{SUFFIX}": ARM_SO} if name == "good" else {
            "purefall/__init__.py": b""}
        _wheel(out, name, members)
        return 0

    monkeypatch.setattr(wheel_build, "hook", hook)
    return built


def test_the_cross_stage_builds_checks_and_reports_each(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    built = fake_builds(monkeypatch)
    out, cache = tmp_path / "cross", tmp_path / "cache"
    assert build_all(fetched, out, tmp_path / "sysroot", cache, [["good", "A=b"]], jobs=2) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["toolchain"].startswith("arm-linux-gnueabihf-gcc")
    entries = report["built"]
    assert {r: (e["ok"], e.get("check")) for r, e in entries.items()} == {
        "good==1.0": (True, None), "purefall==1.0": (False, "modules"),
        "broken==1.0": (False, "build")}
    assert entries["broken==1.0"]["detail"] == (
        "exit status 1: error: arm-linux-gnueabihf-gcc failed with exit code 1")
    assert "no purefall._speedups, which the build platform's" in entries[
        "purefall==1.0"]["detail"]
    assert [p.name for p in (out / "wheels").iterdir()] == [
        "good-1.0-cp311-cp311-linux_armv7l.whl"]
    env = dict(built)["good"]
    assert (env["TARGETPLATFORM"], env["_PYTHON_HOST_PLATFORM"], env["A"], env["CC"]) == (
        "linux/arm/v7", "linux-armv7l", "b", "arm-linux-gnueabihf-gcc")
    assert env["_PYTHON_SYSCONFIGDATA_NAME"] == FACTS["sysconfigdata"]
    err = capsys.readouterr().err
    assert "cross-compiled for linux/arm/v7" in err
    # A failed build's log is in the stage only: its end is printed, to see why.
    assert ("bslim: broken==1.0: its cross build failed; the end of its log:\n  compiling...\n"
            "  error: arm-linux-gnueabihf-gcc failed with exit code 1\n") in err
    # Again: the good one from the cache (still checked), the others built again.
    built.clear()
    assert build_all(fetched, tmp_path / "again", tmp_path / "sysroot", cache,
                     [["good", "A=b"]], jobs=1) == 0
    assert sorted(name for name, _ in built) == ["broken", "purefall"]
    again = json.loads((tmp_path / "again/report.json").read_text())["built"]
    assert again["good==1.0"]["cached"] is True
    # Another environment for it: another cache entry, built again.
    built.clear()
    build_all(fetched, tmp_path / "third", tmp_path / "sysroot", cache, [["good", "A=c"]])
    assert "good" in [name for name, _ in built]


def test_without_a_cross_compiler_every_one_is_said_and_none_built(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = fake_builds(monkeypatch)

    def no_gcc(gnu: str, sysroot: Path, bin_dir: Path, includes: Any) -> Any:
        raise wheel_gate.Rejected("toolchain", f"no {gnu}-gcc on the build platform")

    monkeypatch.setattr(cross_build, "toolchain", no_gcc)
    build_all(fetched, tmp_path / "cross", tmp_path / "sysroot", None, [])
    entries = json.loads((tmp_path / "cross/report.json").read_text())["built"]
    assert {e["check"] for e in entries.values()} == {"toolchain"}
    assert built == []


def test_without_the_targets_facts_every_one_is_said_and_none_built(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target-root stage could not ask the target's interpreter: the cross stage still
    succeeds, its report refuses each listed distribution (compiled under emulation)."""
    built = fake_builds(monkeypatch)
    assert build_all(fetched, tmp_path / "cross", tmp_path / "no-sysroot", None, []) == 0
    entries = json.loads((tmp_path / "cross/report.json").read_text())["built"]
    assert entries and {e["check"] for e in entries.values()} == {"facts"}
    assert not any(e["ok"] for e in entries.values())
    assert built == []


def test_without_the_targets_facts_the_compile_stage_says_nothing_was_cross_built(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No facts, no cross build: each listed distribution's line says so, not that a
    cross-built wheel failed a check (there is none)."""
    fake_builds(monkeypatch)
    build_all(fetched, tmp_path / "cross", tmp_path / "no-sysroot", None, [])
    listed = (fetched / CROSS_LIST).read_text().split()
    capsys.readouterr()
    assert prove(fetched, tmp_path / "cross", tmp_path / "out") == set()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"bslim: {name} {version}: the target interpreter gave no facts, so nothing was "
        "cross-built (see the target-root stage's log); compiled under emulation instead"
        for name, _, version in (r.partition("==") for r in listed)]
    assert not any("failed the" in line for line in lines)


def test_without_a_cross_compiler_the_compile_stage_says_nothing_was_cross_built(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_builds(monkeypatch)

    def no_gcc(gnu: str, sysroot: Path, bin_dir: Path, includes: Any) -> Any:
        raise wheel_gate.Rejected("toolchain", f"no {gnu}-gcc on the build platform")

    monkeypatch.setattr(cross_build, "toolchain", no_gcc)
    build_all(fetched, tmp_path / "cross", tmp_path / "sysroot", None, [])
    capsys.readouterr()
    assert prove(fetched, tmp_path / "cross", tmp_path / "out") == set()
    lines = capsys.readouterr().err.splitlines()
    assert lines and all("no cross compiler, so nothing was cross-built (no " in line
                         and line.endswith("; compiled under emulation instead")
                         for line in lines), lines


def test_the_compile_stage_proves_what_passed_and_says_one_line_for_each_other(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_builds(monkeypatch)
    cross = tmp_path / "cross"
    build_all(fetched, cross, tmp_path / "sysroot", None, [])
    (fetched / CROSS_LIST).write_text("good==1.0\npurefall==1.0\nbroken==1.0\nlate==2.0\n")
    dep = _wheel(fetched / "wheels", "dep", {"dep/__init__.py": b""}, tag="py3-none-any")
    capsys.readouterr()
    imported: list[tuple[str, list[str]]] = []

    def import_check(wheel: Path, others: list[Path]) -> None:
        imported.append((wheel.name, [o.name for o in others]))

    monkeypatch.setattr(wheel_gate, "import_check", import_check)
    out = tmp_path / "compiled"
    assert prove(fetched, cross, out) == {"good==1.0"}
    assert imported == [("good-1.0-cp311-cp311-linux_armv7l.whl", [dep.name])]
    assert [p.name for p in out.iterdir()] == ["good-1.0-cp311-cp311-linux_armv7l.whl"]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("bslim: good 1.0: cross-compiled wheel proven on "
                        f"{wheel_build.TARGET} (imported good._speed)")
    assert lines[1].startswith("bslim: purefall 1.0: cross-built wheel failed the modules "
                               "check (no purefall._speedups")
    assert lines[2:] == [
        "bslim: broken 1.0: cross-built wheel failed the build check (exit status 1: error: "
        "arm-linux-gnueabihf-gcc failed with exit code 1); compiling it under emulation",
        "bslim: late 2.0: cross-built wheel failed the build check (the cross stage did not "
        "build it); compiling it under emulation"]


def test_an_import_failure_under_emulation_is_one_line_too(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake_builds(monkeypatch)
    build_all(fetched, tmp_path / "cross", tmp_path / "sysroot", None, [])
    (fetched / CROSS_LIST).write_text("good==1.0\n")

    def import_check(wheel: Path, others: list[Path]) -> None:
        raise wheel_gate.Rejected("import", "ImportError: good/_speed.so: undefined symbol: x")

    monkeypatch.setattr(wheel_gate, "import_check", import_check)
    capsys.readouterr()
    assert prove(fetched, tmp_path / "cross", tmp_path / "out") == set()
    assert capsys.readouterr().err == (
        "bslim: good 1.0: cross-built wheel failed the import check (ImportError: "
        "good/_speed.so: undefined symbol: x); compiling it under emulation\n")


def test_nothing_cross_built_nothing_proven(tmp_path: Path) -> None:
    assert prove(tmp_path, tmp_path / "cross", tmp_path / "out") == set()


@pytest.mark.parametrize(("native_has", "ok", "reference"), [
    pytest.param(False, True, "native", id="the-index-wheel-had-more"),
    pytest.param(True, False, None, id="a-silent-fallback"),
    pytest.param(None, False, None, id="no-native-build"),
])
def test_a_reference_from_the_index_with_more_modules_is_checked_by_a_native_build(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        native_has: bool | None, ok: bool, reference: str | None) -> None:
    """The index's wheel of `purefall` has `_speedups`, the cross-built one has not. That
    may be the index's build having more than this builder (a library): the sdist is built
    natively here, and its wheel decides. It has the module too (a cross build that silently
    fell back): refused; a native build that fails leaves the index's wheel the reference."""
    built = fake_builds(monkeypatch)
    for old in (fetched / REFERENCE).iterdir():
        old.unlink()
    _wheel(fetched / REFERENCE, "purefall", {f"purefall/_speedups{SUFFIX}": b""},
           tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64")
    (fetched / CROSS_LIST).write_text("purefall==1.0\n")
    cross_hook = wheel_build.hook

    def hook(action: str, src: Path, out: Path, paths: list[Path], env: Any = None,
             log: Any = None) -> int:
        if env.get("CC"):  # the cross build
            return cross_hook(action, src, out, paths, env, log)
        built.append(("native", dict(env)))
        if native_has is None:
            return 1
        _wheel(out, "purefall", {f"purefall/_speedups{SUFFIX}": b""} if native_has else {
            "purefall/__init__.py": b""}, tag="cp311-cp311-linux_x86_64")
        return 0

    monkeypatch.setattr(wheel_build, "hook", hook)
    build_all(fetched, tmp_path / "cross", tmp_path / "sysroot", None, [])
    entry = json.loads((tmp_path / "cross/report.json").read_text())["built"]["purefall==1.0"]
    assert [name for name, _ in built] == ["purefall", "native"]
    assert entry["ok"] is ok
    if ok:
        assert entry["reference"] == "purefall-1.0-cp311-cp311-linux_x86_64.whl"
    else:
        assert entry["check"] == "modules"
        assert "no purefall._speedups, which the build platform's purefall-1.0-cp311-cp311-" \
            f"{'linux' if native_has else 'manylinux'}" in entry["detail"]


def test_a_reference_built_here_is_the_last_word(
        fetched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch built the reference (no binary wheel on the index): no second native build."""
    built = fake_builds(monkeypatch)
    (fetched / CROSS_LIST).write_text("purefall==1.0\n")
    build_all(fetched, tmp_path / "cross", tmp_path / "sysroot", None, [])
    entry = json.loads((tmp_path / "cross/report.json").read_text())["built"]["purefall==1.0"]
    assert (entry["ok"], entry["check"]) == (False, "modules")
    assert [name for name, _ in built] == ["purefall"]


def test_from_index_asks_the_sdists_own_index_and_builds_what_it_cannot_take(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """pip's wheel command, wrapped: an sdist from an index page is given the build platform's
    binary wheel of its version from that index; a find-links sdist from its directory; what
    has none there, only a pure one, a direct URL, or fails to say its version, is left to
    pip's own build."""
    from pip._internal.commands import wheel as command
    from pip._internal.models.link import Link

    built: list[str] = []
    monkeypatch.setattr(command, "build", lambda reqs, *args, **kwargs: (
        [built.append(r.name) or r for r in reqs], []))  # type: ignore[func-returns-value]
    asked: dict[str, list[str]] = {}

    def download(args: list[str], log: Any) -> int:
        name = args[-1].split("==")[0]
        asked[name] = args
        dest = Path(args[args.index("--dest") + 1])
        if name in ("fast", "local"):
            _wheel(dest, name, {}, tag="cp311-cp311-manylinux_2_17_x86_64")
        elif name == "pureish":
            _wheel(dest, name, {}, tag="py3-none-any")
        return 1 if name == "missing" else 0

    class Req:
        def __init__(self, name: str, url: str, comes_from: str | None = None,
                     broken: bool = False) -> None:
            self.name, self.editable, self.broken = name, False, broken
            self.link = Link(url, comes_from=comes_from)
            self.local_file_path = str(tmp_path / "dl" / f"{name}-1.0.tar.gz")
            Path(self.local_file_path).parent.mkdir(exist_ok=True)
            Path(self.local_file_path).write_bytes(name.encode())

        def get_dist(self) -> Any:
            if self.broken:
                raise AssertionError("no metadata directory")
            return type("Dist", (), {"version": "1.0"})()

    index = "https://pypi.example/simple/"
    wheelhouse = tmp_path / "wheelhouse"
    reqs = [Req("fast", "https://files.example/fast-1.0.tar.gz", index + "fast/"),
            Req("local", (wheelhouse / "local-1.0.tar.gz").as_uri()),
            Req("missing", "https://files.example/missing-1.0.tar.gz", index + "missing/"),
            Req("pureish", "https://files.example/pureish-1.0.tar.gz", index + "pureish/"),
            Req("direct", "https://elsewhere.example/direct-1.0.tar.gz"),
            Req("broken", "https://files.example/broken-1.0.tar.gz", index + "broken/",
                broken=True)]
    directory = tmp_path / "pass"
    monkeypatch.setenv("PIP_CERT", "/run/secrets/ca")
    cross_build.from_index(directory, download)
    done, failed = command.build(reqs, None, True, False)  # type: ignore[attr-defined,arg-type]
    assert built == ["missing", "pureish", "direct", "broken"] and failed == []
    assert [r.name for r in done] == ["fast", "local", "missing", "pureish", "direct", "broken"]
    assert asked["fast"][asked["fast"].index("--index-url") + 1] == index
    assert asked["local"][-4:-1] == ["--no-index", "--find-links", str(wheelhouse)]
    assert "--only-binary" in asked["fast"] and "direct" not in asked
    cert = asked["fast"].index("--cert")  # the step's CA bundle, with the index alone
    assert "--isolated" in asked["fast"] and asked["fast"][cert + 1] == "/run/secrets/ca"
    assert reqs[0].link.filename == "fast-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    assert reqs[0].local_file_path == str(
        directory / ".index-wheels" / "fast" / reqs[0].link.filename)
    assert reqs[1].link.is_wheel and not reqs[2].link.is_wheel and not reqs[3].link.is_wheel
    assert (directory / "sdists" / "fast" / "fast-1.0.tar.gz").read_bytes() == b"fast"
    assert not (directory / "sdists" / "missing").exists()
    err = capsys.readouterr().err
    assert "bslim: broken: no reference from the index (AssertionError(" in err
    assert "bslim: fast: the build platform's fast-1.0-cp311-cp311-manylinux_2_17_x86_64.whl" \
        in err
