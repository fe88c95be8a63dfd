"""Phase B of locks: the lock found beside pyproject.toml drives the blueprint and the rendered
wheel stage; what the shim's pinning module does with it; `--reproducible` and `--oci`
options. Pure: no docker, no network (the tripwire would fail them)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from buildkit_slim import reproducible as repro
from buildkit_slim.blueprint import select
from buildkit_slim.errors import UsageError
from buildkit_slim.load import load
from buildkit_slim.locks import LockError
from buildkit_slim.render import render_all
from buildkit_slim.request import BakeOptions, bake_request
from buildkit_slim.resources import pinning
from tests.unit.conftest import WriteProject
from tests.unit.test_cli import run

LOCKAPP = Path(__file__).resolve().parent.parent / "lockapp"
UV_LOCK = (LOCKAPP / "locks" / "uv.lock").read_text(encoding="utf-8")
PYLOCK = (LOCKAPP / "locks" / "pylock.toml").read_text(encoding="utf-8")
SLIM = '\n[tool.slim]\nimage = "ghcr.io/acme/lockapp"\nentrypoint = ["python3"]\n'


def lockapp(write_project: WriteProject, slim: str = "", **files: str) -> Path:
    pyproject = (LOCKAPP / "pyproject.toml").read_text(encoding="utf-8") + SLIM + slim
    return write_project(pyproject, {"lockapp/__init__.py": "", **files})


# --- the lock beside pyproject.toml -----------------------------------------------------------

def test_a_uv_lock_beside_pyproject_is_the_lock(write_project: WriteProject) -> None:
    cfg, the_blueprint = load(lockapp(write_project, **{"uv.lock": UV_LOCK}))
    (target,) = cfg.targets
    assert target.lock == "uv.lock"
    assert dict(target.sources)["lock"] == "derived"
    locked = dict(the_blueprint.targets[0].locked)
    amd = {p.name: p.version for p in locked["linux/amd64"].packages}
    arm = {p.name: p.version for p in locked["linux/arm/v7"].packages}
    assert amd["pyyaml"] == "6.0.2" and "pyyaml" not in arm
    assert amd["msgpack"] == arm["msgpack"] == "1.0.8"


def test_lock_false_builds_as_without_a_lock(write_project: WriteProject) -> None:
    root = lockapp(write_project, "lock = false\n", **{"uv.lock": UV_LOCK})
    cfg, the_blueprint = load(root)
    assert cfg.targets[0].lock is None and the_blueprint.targets[0].locked == ()
    dockerfile = next(f.text for f in render_all(the_blueprint) if f.path == "bake/Dockerfile")
    assert "--locked" not in dockerfile and "--require-hashes --requirement" not in dockerfile


def test_no_lock_renders_what_it_rendered_before(write_project: WriteProject) -> None:
    """A project without a lock: no lock file in the shim context, no --locked anywhere."""
    files = {f.path: f.text for f in render_all(load(lockapp(write_project))[1])}
    assert not [p for p in files if p.endswith(".lock.txt")]
    assert "--locked" not in files["bake/Dockerfile"]
    assert "bake/shim/lockapp.requirements.txt" in files


def test_two_locks_beside_pyproject_are_not_guessed_between(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str]) -> None:
    root = lockapp(write_project, **{"uv.lock": UV_LOCK, "pylock.toml": PYLOCK})
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2
    assert "error: tool.slim.lock: not set, and both uv.lock and pylock.toml" in result.err
    assert not (root / "bake").exists()


@pytest.mark.parametrize(("slim", "key"), [
    ('requirements = "constraints.txt"\n', "tool.slim.requirements"),
    ('wheels-from = ["wheels"]\n', "tool.slim.wheels-from"),
])
def test_what_would_change_locked_pins_is_refused(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str], slim: str,
        key: str) -> None:
    root = lockapp(write_project, slim, **{"uv.lock": UV_LOCK, "constraints.txt": "six\n",
                                           "wheels/.keep": ""})
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2
    assert f"error: {key}: " in result.err and "lock = false" in result.err


def test_a_stale_lock_fails_before_anything_is_built(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str]) -> None:
    """pyproject.toml asks for six 1.17 (the lock has 1.16): every command that would build
    refuses with exit 2, naming the lock and the package; nothing is written."""
    root = lockapp(write_project, **{"uv.lock": UV_LOCK})
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six==1.16.0"', '"six==1.17.0"'))
    for command in (["render"], ["bake", "--print"], ["plan"]):
        result = run(capsys, *command, "--project", str(root))
        assert result.code == 2, (command, result)
        assert "uv.lock" in result.err and "six" in result.err, result.err
        assert not (root / "bake").exists()
    with pytest.raises(LockError):
        load(root)


def test_the_blueprint_lists_exact_versions_per_platform_from_the_lock(
        write_project: WriteProject, capsys: pytest.CaptureFixture[str]) -> None:
    root = lockapp(write_project, **{"uv.lock": UV_LOCK})
    result = run(capsys, "plan", "--project", str(root))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    amd = lines.index("lockapp linux/amd64 (native), from uv.lock:")
    arm = lines.index("lockapp linux/arm/v7 (emulated), from uv.lock:")
    amd_part, arm_part = lines[amd:arm], lines[arm:]
    assert any(line.split()[:2] == ["pyyaml", "6.0.2"] for line in amd_part)
    assert not any(line.split()[:1] == ["pyyaml"] for line in arm_part)
    assert any(line.split()[:3] == ["markupsafe", "3.0.3", "COMPILED"] for line in arm_part)
    assert any(line.split()[:3] == ["markupsafe", "3.0.3", "binary"] for line in amd_part)


def test_each_platform_gets_a_file_of_the_one_file_it_installs(
        write_project: WriteProject) -> None:
    files = {f.path: f.text for f in render_all(load(lockapp(
        write_project, **{"uv.lock": UV_LOCK}))[1])}
    amd = files["bake/shim/lockapp.linux-amd64.lock.txt"]
    arm = files["bake/shim/lockapp.linux-armv7.lock.txt"]
    assert "pyyaml==6.0.2 --hash=sha256:" in amd and "pyyaml" not in arm
    assert "# sdist: markupsafe-3.0.3.tar.gz" in arm
    assert "# wheel: markupsafe-3.0.3-cp313-cp313-manylinux2014_x86_64" in amd
    for text in (amd, arm):  # one hash per package: pip cannot fall back to another file
        for line in text.splitlines()[1:]:
            assert line.count("--hash=") == 1, line
    dockerfile = files["bake/Dockerfile"]
    assert "--locked '/bslim/shim/lockapp.{pair}.lock.txt'" in dockerfile


# --- the shim's pinning module ----------------------------------------------------------------

def _wheel(path: Path, members: list[tuple[str, str, tuple[int, ...]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as out:
        for name, text, when in members:
            out.writestr(zipfile.ZipInfo(name, date_time=when), text)  # type: ignore[arg-type]
    return path


def test_a_normalized_wheel_depends_on_its_content_only(tmp_path: Path) -> None:
    one = _wheel(tmp_path / "a" / "p-1-py3-none-any.whl", [
        ("p-1.dist-info/RECORD", "r", (2024, 5, 1, 1, 2, 4)), ("p/__init__.py", "x", (
            2024, 5, 1, 1, 2, 4)), ("p-1.dist-info/METADATA", "m", (2024, 5, 1, 1, 2, 4))])
    two = _wheel(tmp_path / "b" / "p-1-py3-none-any.whl", [
        ("p/__init__.py", "x", (2025, 1, 1, 0, 0, 0)), ("p-1.dist-info/METADATA", "m", (
            2025, 1, 1, 0, 0, 0)), ("p-1.dist-info/RECORD", "r", (2025, 1, 1, 0, 0, 0))])
    assert one.read_bytes() != two.read_bytes()
    pinning.normalize_wheel(one)
    pinning.normalize_wheel(two)
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(io.BytesIO(one.read_bytes())) as read:
        assert read.namelist() == ["p/__init__.py", "p-1.dist-info/METADATA",
                                   "p-1.dist-info/RECORD"]
        assert {i.date_time for i in read.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_pin_names_each_wheel_by_its_hash_and_refuses_what_is_missing(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    when = (1980, 1, 1, 0, 0, 0)
    six = _wheel(wheels / "six-1.16.0-py2.py3-none-any.whl", [("six.py", "", when)])
    _wheel(wheels / "app-0.1.0-py3-none-any.whl", [("app.py", "", when)])
    digest = pinning.sha256_of(six)
    locked_file = tmp_path / "locked.txt"
    locked_file.write_text(f"# header\nsix==1.16.0 --hash=sha256:{digest}  # pure: six\n"
                           "msgpack==1.0.8 --hash=sha256:" + "0" * 64 + "  # sdist\n")
    locked = pinning.read_locked(locked_file, str.lower)
    assert set(locked) == {"six", "msgpack"}

    def parse(name: str) -> tuple[str, str]:
        name, version, _ = name.split("-", 2)
        return name, version

    text, problems = pinning.pin(wheels, locked, "app", parse, str.__eq__)
    assert f"six==1.16.0 --hash=sha256:{digest}  # downloaded" in text
    assert "app==0.1.0 --hash=sha256:" in text
    assert problems == [f"bslim: msgpack 1.0.8: no wheels of it in {wheels}, one expected"]


def test_write_pinned_compares_names_and_versions_as_pip_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shim's `pin` and locked `install`: names canonical and versions equal as pip's own
    packaging says (Six 1.16 locked, six-1.16.0 built; my_app the project's my-app)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    when = (1980, 1, 1, 0, 0, 0)
    six = _wheel(wheels / "six-1.16.0-py2.py3-none-any.whl", [("six.py", "", when)])
    _wheel(wheels / "my_app-0.1.0-py3-none-any.whl", [("my_app.py", "", when)])
    lock = tmp_path / "app.linux-amd64.lock.txt"
    lock.write_text(f"Six==1.16 --hash=sha256:{pinning.sha256_of(six)}  # pure: six\n")
    locked = pinning.locked_entries(lock)
    assert set(locked) == {"six"} and pinning.locked_entries(None) == {}
    out = tmp_path / "out" / "pinned.txt"
    assert pinning.write_pinned(wheels, locked, "My.App", out) == 0
    assert out.read_text().splitlines() == [
        f"six==1.16.0 --hash=sha256:{pinning.sha256_of(six)}  # downloaded: {six.name}",
        f"my-app==0.1.0 --hash=sha256:{pinning.sha256_of(wheels / 'my_app-0.1.0-py3-none-any.whl')}"
        "  # the project: my_app-0.1.0-py3-none-any.whl"]
    six.unlink()
    assert pinning.write_pinned(wheels, locked, "My.App", out) == 1
    assert capsys.readouterr().err == (
        f"bslim: six 1.16: no wheels of it in {wheels}, one expected\n")


def test_sdist_requirement_downloads_by_the_locks_hash(tmp_path: Path) -> None:
    sdists = tmp_path / "sdists" / "msgpack"
    assert pinning.sdist_requirement("msgpack==1.0.8", None, sdists) == ["msgpack==1.0.8"]
    entry = pinning.Locked(name="msgpack", version="1.0.8", hashes=("sha256:ab",),
                           line="msgpack==1.0.8 --hash=sha256:ab")
    assert pinning.sdist_requirement("msgpack==1.0.8", entry, sdists) == [
        "--require-hashes", "--requirement", str(tmp_path / "sdists" / "msgpack.lock.txt")]
    assert (tmp_path / "sdists" / "msgpack.lock.txt").read_text() == f"{entry.line}\n"


# --- --reproducible and --oci -------------------------------------------------------------------

def test_source_date_epoch_from_the_environment_is_checked(tmp_path: Path) -> None:
    assert repro.source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": "1767225600"}) == \
        repro.Epoch(seconds="1767225600", source="SOURCE_DATE_EPOCH")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH: 'yesterday'"):
        repro.source_date_epoch(tmp_path, {"SOURCE_DATE_EPOCH": "yesterday"})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"load": True}, "--reproducible --load"),
    ({}, "--reproducible needs somewhere to put the image"),
    ({"oci": Path("dist"), "push": True}, "--oci writes the images to tarballs"),
])
def test_reproducible_refuses_outputs_that_cannot_keep_it(kwargs: dict[str, object],
                                                          message: str) -> None:
    options: dict[str, object] = {"reproducible": True, "push": False, "load": False,
                                  "oci": None, "export_wheels": False, **kwargs}
    with pytest.raises(UsageError, match=message):
        repro.check_outputs(**options)  # type: ignore[arg-type]


def test_engine_26_cannot_push_with_rewrite_timestamp_on_the_docker_driver() -> None:
    assert repro.push_problem("docker", "26.1.5+dfsg1") is not None
    assert repro.push_problem("docker", "28.5.2") is None
    assert repro.push_problem("docker-container", "26.1.5") is None


def test_a_reproducible_oci_bake_sets_the_epoch_the_output_and_the_build_arg(
        write_project: WriteProject, tmp_path: Path) -> None:
    root = lockapp(write_project, **{"uv.lock": UV_LOCK})
    _, the_blueprint = load(root)
    options = BakeOptions(project_root=root, reproducible=True, epoch="1767225600",
                          oci=root / "dist")
    request = bake_request(the_blueprint, select(the_blueprint, [], []), options)
    assert request.variables is not None
    assert request.variables["SOURCE_DATE_EPOCH"] == "1767225600"
    assert request.variables[repro.NO_DEFAULT_ATTESTATIONS] == "1"
    assert request.override is not None
    body = request.override["target"]["lockapp"]
    assert body["output"] == [f"type=oci,dest={(root / 'dist').resolve()}/lockapp.oci.tar,"
                              "rewrite-timestamp=true"]
    assert body["args"] == {repro.BUILD_ARG: "1"}
    json.dumps(request.override)  # what buildx reads: plain JSON
