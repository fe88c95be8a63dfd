"""Issue #17, in-process: interrupts, the one writer, foreign cache directories, secret paths,
docker error classes, the bake tag rule and the tracebacks left.

The test names start with the class they belong to (interrupt, write, cache, secret, docker,
tag, traceback, minor), so that `-k` counts them per class. What needs real processes (signals
from outside, concurrent renders, a PATH without docker) is in tests/test_interrupts.py and
tests/test_concurrency.py; what needs the engine is in tests/e2e/test_interrupts.py.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from buildkit_slim import apply, config, files, interrupts, local_cache, publish, staging
from buildkit_slim.blueprint import make_blueprint, select
from buildkit_slim.config import CACHE_MARKER, load
from buildkit_slim.errors import UsageError
from buildkit_slim.local_cache import clear_stale_local_caches, rotate_local_caches
from buildkit_slim.render import GeneratedFile, render_all
from buildkit_slim.request import BakeOptions, bake_request
from buildkit_slim.resources import SHIM_MODULES
from tests.unit.conftest import Tripwire, WriteProject
from tests.unit.test_cli import Result, run

PROJECT = """\
    [project]
    name = "hello"
    version = "1.0.0"
    dependencies = []

    [project.scripts]
    hello = "hello:main"

"""
SLIM = PROJECT + '    [tool.slim]\n    image = "ghcr.io/acme/hello"\n'


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err + result.out, result.err
    assert "╭" not in result.err, result.err


def errors(result: Result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("error:")]


@pytest.fixture
def hello(write_project: WriteProject) -> Path:
    return write_project(SLIM)


# --- interrupt: Ctrl-C is exit 130 with one line, for every command ----------------------------

def _interrupted(*args: object, **kwargs: object) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize("argv", [
    ["render"], ["render", "--check"], ["config"], ["init", "--force"], ["bake"], ["plan"],
    ["doctor", "--no-probe"], ["matrix"], ["tags"], ["merge", "--staging", "."],
    ["release", "1.0.0"], ["size", "ghcr.io/acme/hello:1"],
])
def test_interrupt_ctrl_c_exits_130_with_one_line(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch,
        argv: list[str]) -> None:
    monkeypatch.chdir(hello)
    # Where each command starts its work: reading the project (size reads no project).
    monkeypatch.setattr(config, "read_project", _interrupted)
    monkeypatch.setattr("buildkit_slim.docker.image_sizes", _interrupted)
    result = run(capsys, *argv, *([] if argv[0] == "size" else ["--project", str(hello)]))
    no_traceback(result)
    assert result.code == 130, (result.code, result.err)
    assert result.err.splitlines() == ["error: interrupted (SIGINT)"], result.err


class _Named:
    """A descriptor whose __set_name__ meets the signal: CPython 3.11 wraps what it raises."""

    def __set_name__(self, owner: type, name: str) -> None:
        raise interrupts.Interrupted(signal.SIGTERM)


def _class_created_when_the_signal_came(*args: object, **kwargs: object) -> Any:
    type("Late", (), {"value": _Named()})  # an import that defines a class, interrupted
    raise AssertionError("not reached")


def test_interrupt_inside_a_class_being_created_exits_143_with_one_line(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signal that comes while an import creates a class (Typer imports pydantic as it
    parses the command line) is the interrupt still, whatever wraps it."""
    monkeypatch.setattr(config, "read_project", _class_created_when_the_signal_came)
    result = run(capsys, "render", "--project", str(hello))
    no_traceback(result)
    assert result.code == 143, (result.code, result.err)
    assert result.err.splitlines() == ["error: interrupted (SIGTERM)"], result.err


def test_the_signal_handlers_work_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """stop_children runs inside the signal handler, which can interrupt any import: one of
    its own (ctypes, for the subreaper) then met the interrupted module half made, and bslim
    ended in an ImportError traceback ('partially initialized module struct'), exit 1."""
    imported: list[str] = []
    real = __import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        imported.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(interrupts, "_processes", dict)  # no children: nothing is signalled
    monkeypatch.setattr(interrupts._Adopting, "done", False)
    monkeypatch.setattr("builtins.__import__", spy)
    interrupts.stop_children(signal.SIGTERM, grace=0)
    assert imported == []


def test_interrupt_within_finds_the_cause_and_nothing_else() -> None:
    cause = interrupts.Interrupted(signal.SIGINT)
    try:
        try:
            raise cause
        except interrupts.Interrupted as exc:
            raise RuntimeError("Error calling __set_name__") from exc
    except RuntimeError as wrapped:
        assert interrupts.within(wrapped) is cause
    assert interrupts.within(RuntimeError("no interrupt")) is None


def test_interrupt_while_writing_leaves_the_old_generation(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(capsys, "render", "--project", str(hello)).code == 0
    before = {p.relative_to(hello).as_posix(): p.read_bytes() for p in hello.rglob("*")
              if p.is_file()}
    (hello / "pyproject.toml").write_text(SLIM.replace("    ", "") + 'args = {A = "1"}\n',
                                          encoding="utf-8")
    real = os.fdopen
    calls = []

    def fdopen(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second file of the new generation
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
    result = run(capsys, "render", "--project", str(hello))
    assert result.code == 130
    after = {p.relative_to(hello).as_posix(): p.read_bytes() for p in hello.rglob("*")
             if p.is_file() and p.name != "pyproject.toml"}
    assert after == {k: v for k, v in before.items() if k != "pyproject.toml"}
    assert sorted(p.name for p in hello.iterdir()) == ["bake", "pyproject.toml"]


# --- write: one writer, the file set changes as a whole, bytes compared -------------------------

@pytest.mark.parametrize("convert", [
    pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="crlf"),
    pytest.param(lambda b: b.replace(b"\n", b"\r"), id="cr-only"),
])
def test_write_stale_detection_compares_bytes(
        capsys: pytest.CaptureFixture[str], hello: Path, convert: Any) -> None:
    assert run(capsys, "render", "--project", str(hello)).code == 0
    for name in ("bake/Dockerfile", "bake/shim/pip_for_target.py"):
        path = hello / name
        path.write_bytes(convert(path.read_bytes()))
    result = run(capsys, "render", "--check", "--project", str(hello))
    assert result.code == 1, result.out
    assert "bake/Dockerfile" in result.err and "bake/shim/pip_for_target.py" in result.err
    result = run(capsys, "render", "--project", str(hello))
    assert "wrote bake/Dockerfile" in result.out
    assert run(capsys, "render", "--check", "--project", str(hello)).code == 0
    assert b"\r" not in (hello / "bake/Dockerfile").read_bytes()


def test_write_a_full_disk_leaves_no_empty_directories(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = real(fd, *args, **kwargs)

        def write(data: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write
        return handle

    monkeypatch.setattr(os, "fdopen", fdopen)
    result = run(capsys, "render", "--project", str(hello))
    no_traceback(result)
    assert result.code == 2
    assert "No space left on device" in result.err
    assert sorted(p.name for p in hello.iterdir()) == ["pyproject.toml"]


def test_write_a_full_disk_in_a_nested_output_dir_removes_what_it_created(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject,
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_project(SLIM + '    output-dir = "ci/gen/bake"\n')

    def fdopen(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", fdopen)
    assert run(capsys, "render", "--project", str(root)).code == 2
    assert sorted(p.name for p in root.iterdir()) == ["pyproject.toml"]


def test_write_one_writer_for_generated_files_init_and_stage_records(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject,
        monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    written: list[str] = []
    real = files.write_file

    def recording(path: Path, data: bytes, **kwargs: Any) -> None:
        written.append(path.name)
        real(path, data, **kwargs)

    monkeypatch.setattr(files, "write_file", recording)
    root = write_project(PROJECT)
    assert run(capsys, "init", "--project", str(root)).code == 0
    assert written == ["pyproject.toml"]
    assert run(capsys, "render", "--project", str(root)).code == 0
    assert sorted(written[1:]) == ["Dockerfile", "Dockerfile.dockerignore", "cross_build.py",
                                   "docker-bake.json",
                                   "hello.build-requires.txt", "origins.py", "pinning.py",
                                   "pins.txt",
                                   "pip_for_target.py", "platforms.py", "wheel_build.py",
                                   "wheel_gate.py"]
    stage = tmp_path_factory.mktemp("stage")
    record = staging.StagingRecord(image="ghcr.io/acme/hello", target="hello",
                                   platform="linux/amd64", digest="sha256:" + "a" * 64,
                                   ref="ghcr.io/acme/hello@sha256:" + "a" * 64, mode="digest")
    old = os.umask(0o022)
    try:
        # What publish.run_staging does with a record once the push succeeded.
        path = stage / "hello.linux-amd64.json"
        files.write_file(path, staging.render_record(record).encode("utf-8"))
    finally:
        os.umask(old)
    assert written[-1] == "hello.linux-amd64.json"
    # A record is no secret: it gets a file's usual mode, not mkstemp's 0600.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert staging.parse_record(path.name, path.read_text(encoding="utf-8")) == record


def test_write_a_file_in_the_output_dir_appearing_during_render_survives(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generation is swapped in as a whole; what is not bslim's is carried over, and no
    file that bslim did not write is ever deleted."""
    assert run(capsys, "render", "--project", str(hello)).code == 0
    (hello / "pyproject.toml").write_text(SLIM.replace("    ", "") + 'args = {A = "1"}\n',
                                          encoding="utf-8")
    real = files.stale_files

    def stale(*args: Any, **kwargs: Any) -> list[str]:
        (hello / "bake" / "notes.txt").write_text("mine\n", encoding="utf-8")
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "stale_files", stale)
    assert run(capsys, "render", "--project", str(hello)).code == 0
    assert (hello / "bake" / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert 'ARG A' in (hello / "bake" / "Dockerfile").read_text(encoding="utf-8")


# --- cache: directories bslim does not own ------------------------------------------------------

CACHED = SLIM + '    cache = { local = "c" }\n'
HEX = "0123456789abcdef" * 4


def buildkit_cache(path: Path) -> None:
    """What BuildKit's local cache exporter writes (names as on the engines tested)."""
    (path / "blobs" / "sha256").mkdir(parents=True)
    (path / "blobs" / "sha256" / HEX).write_bytes(b"{}")
    (path / "index.json").write_text('{"schemaVersion": 2, "manifests": []}', encoding="utf-8")
    (path / "ingest").mkdir()


def look_alike(path: Path) -> Path:
    """A user's directory that merely looks like a BuildKit cache from its top level."""
    photo = path / "blobs" / "photo.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\x89PNG my holiday")
    return photo


@pytest.mark.parametrize("content", ["empty", "look-alike"])
def test_cache_a_user_directory_at_the_cache_path_is_refused_before_building(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject, tripwire: Tripwire,
        content: str) -> None:
    root = write_project(CACHED)
    user = root / "c" / "hello-linux-amd64"
    user.mkdir(parents=True)
    if content == "look-alike":
        look_alike(user)
    full = make_blueprint(load(root))
    chosen = select(full, [], ["linux/amd64"])
    with pytest.raises(UsageError, match="c/hello-linux-amd64"):
        bake_request(full, chosen, BakeOptions(project_root=root,
                                                     platforms=("linux/amd64",)))
    result = run(capsys, "bake", "--platform", "linux/amd64", "--project", str(root))
    assert result.code == 2, result.err
    assert "c/hello-linux-amd64" in errors(result)[0]
    assert tripwire.trips == []


def test_cache_a_cache_bslim_wrote_is_still_read(write_project: WriteProject) -> None:
    root = write_project(CACHED)
    buildkit_cache(root / "c" / "hello")
    (root / "c" / "hello" / CACHE_MARKER).write_text("x\n", encoding="utf-8")
    full = make_blueprint(load(root))
    request = bake_request(full, full, BakeOptions(project_root=root))
    assert request.override is not None
    assert request.override["target"]["hello"]["cache-from"] == ["type=local,src=c/hello"]


def test_cache_rotation_called_directly_never_deletes_a_look_alike(
        write_project: WriteProject) -> None:
    root = write_project(CACHED)
    the_blueprint = make_blueprint(load(root))
    photo = look_alike(root / "c" / "hello")
    buildkit_cache(root / "c" / "hello.new")
    with pytest.raises(UsageError, match="not a build cache bslim wrote"):
        rotate_local_caches(the_blueprint, root)
    assert photo.read_bytes() == b"\x89PNG my holiday"


def test_cache_clean_up_called_directly_never_deletes_a_look_alike(
        write_project: WriteProject) -> None:
    root = write_project(CACHED)
    the_blueprint = make_blueprint(load(root))
    photo = look_alike(root / "c" / "hello.new")
    with pytest.raises(UsageError, match="not a build cache bslim wrote"):
        clear_stale_local_caches(the_blueprint, root)
    assert photo.read_bytes() == b"\x89PNG my holiday"


def test_cache_rotation_never_marks_a_look_alike_as_its_own(
        write_project: WriteProject) -> None:
    root = write_project(CACHED)
    the_blueprint = make_blueprint(load(root))
    photo = look_alike(root / "c" / "hello.new")
    with pytest.raises(UsageError, match="not a build cache bslim wrote"):
        rotate_local_caches(the_blueprint, root)
    assert photo.read_bytes() == b"\x89PNG my holiday"
    assert not (root / "c" / "hello.new" / CACHE_MARKER).exists()
    assert not (root / "c" / "hello").exists()


def test_cache_a_buildkit_cache_without_the_mark_still_rotates(
        write_project: WriteProject) -> None:
    """Caches of older bslim versions (BuildKit's layout, nothing else) stay replaceable."""
    root = write_project(CACHED)
    the_blueprint = make_blueprint(load(root))
    buildkit_cache(root / "c" / "hello")
    buildkit_cache(root / "c" / "hello.new")
    (root / "c" / "hello.new" / "index.json").write_text('{"new": 1}', encoding="utf-8")
    rotate_local_caches(the_blueprint, root)
    assert (root / "c" / "hello" / "index.json").read_text(encoding="utf-8") == '{"new": 1}'
    assert (root / "c" / "hello" / CACHE_MARKER).is_file()


# --- secret: paths buildx would split; docker errors by what they are ---------------------------

@pytest.mark.parametrize("option", ["--netrc", "--ca-bundle"])
@pytest.mark.parametrize("name", ["a,id=evil", "a\nid=evil", 'a"b'])
@pytest.mark.parametrize("command", ["bake", "plan"])
def test_secret_a_path_buildx_would_split_is_refused(
        capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire,
        monkeypatch: pytest.MonkeyPatch, option: str, name: str, command: str) -> None:
    (hello / "creds").mkdir()
    (hello / "creds" / name).write_text("machine x login y password z\n", encoding="utf-8")
    monkeypatch.chdir(hello)
    result = run(capsys, command, option, f"creds/{name}", "--project", str(hello))
    no_traceback(result)
    assert result.code == 2, result.err
    [line] = errors(result)
    assert line.startswith(f"error: {option}: "), line
    assert tripwire.trips == []


def test_secret_an_export_dir_buildx_would_split_is_refused(
        capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire) -> None:
    result = run(capsys, "bake", "--export-wheels", str(hello / "out,type=tar"),
                 "--project", str(hello))
    assert result.code == 2, result.err
    assert errors(result)[0].startswith("error: --export-wheels: ")
    assert tripwire.trips == []


class _Failed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__("docker failed")
        self.stderr = stderr


@pytest.mark.parametrize("stderr", [
    # buildx after splitting `src=/p/creds/a,id=evil`: the file is missing, the daemon is fine
    "ERROR: failed to stat /p/creds/a: no such file or directory\n",
    "ERROR: open /p/creds/a: no such file or directory\n",
    # a build step that could not reach an index
    "#12 3.21 ERROR: Could not connect: [Errno 111] Connection refused\n"
    "ERROR: failed to solve: process did not complete successfully: exit code: 1\n",
    "ERROR: failed to solve: failed to compute cache key: \"/x\": not found\n",
])
def test_docker_errors_that_are_not_the_daemon_are_not_called_so(stderr: str) -> None:
    from buildkit_slim import docker

    assert docker._env_problem(_Failed(stderr)) is None


@pytest.mark.parametrize(("stderr", "says"), [
    ("Cannot connect to the Docker daemon at unix:///run/x.sock. Is the docker daemon "
     "running?\n", "unix:///run/x.sock"),
    ("ERROR: error during connect: Get \"http://%2Fvar%2Frun%2Fdocker.sock/_ping\": dial unix "
     "/var/run/docker.sock: connect: no such file or directory\n", "not reachable"),
    ("permission denied while trying to connect to the Docker daemon socket at "
     "unix:///var/run/docker.sock: Get ...: dial unix /var/run/docker.sock: connect: "
     "permission denied\n", "permission denied"),
])
def test_docker_errors_of_the_daemon_are_environment_problems(stderr: str, says: str) -> None:
    from buildkit_slim import docker

    problem = docker._env_problem(_Failed(stderr))
    assert problem is not None
    assert problem.exit_code == 3
    assert says in problem.message, problem.message


# --- tag: one rule for every command -----------------------------------------------------------

@pytest.mark.parametrize("tag", ["x,y", "a b", "", "a\nb", "-x", "x" * 129, "a:b", "a/b",
                                 "${X}"])
def test_tag_bake_refuses_what_merge_refuses(
        capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire,
        tmp_path_factory: pytest.TempPathFactory, tag: str) -> None:
    result = run(capsys, "bake", "--tag", tag, "--project", str(hello))
    no_traceback(result)
    assert result.code == 2, result.err
    [line] = errors(result)
    assert line.startswith("error: --tag: "), line
    assert tripwire.trips == []
    stage = tmp_path_factory.mktemp("stage")
    merged = run(capsys, "merge", "--staging", str(stage), "--tag", tag, "--project", str(hello))
    assert merged.code == 2, merged.err


def test_tag_bake_refuses_a_bad_tag_from_the_environment(
        capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG", "a b")
    result = run(capsys, "bake", "--project", str(hello))
    assert result.code == 2, result.err
    assert errors(result)[0].startswith("error: TAG: ")
    assert tripwire.trips == []


# --- traceback: what still ended in one ------------------------------------------------------

@pytest.mark.parametrize(("first", "force"), [
    ("tool = {other = 1}", False), ("tool = {other = 1}", True), ("tool = {slim = 1}", True),
    ('tool = {slim = {image = "a/b"}}', True),
])
def test_traceback_init_on_an_inline_tool_table(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject, first: str,
        force: bool) -> None:
    root = write_project(first + "\n" + PROJECT)
    before = (root / "pyproject.toml").read_bytes()
    result = run(capsys, "init", *(["--force"] if force else []), "--project", str(root))
    no_traceback(result)
    assert result.code == 2, result.err
    [line] = errors(result)
    assert "inline table" in line, line
    assert (root / "pyproject.toml").read_bytes() == before


def test_traceback_merge_with_a_record_that_is_not_utf8(
        capsys: pytest.CaptureFixture[str], hello: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    stage = tmp_path_factory.mktemp("stage")
    (stage / "hello.linux-amd64.json").write_bytes(b"\xff\xfe{}")
    result = run(capsys, "merge", "--staging", str(stage), "--project", str(hello))
    no_traceback(result)
    assert result.code == 1, result.err
    assert "hello.linux-amd64.json" in errors(result)[0]
    assert "UTF-8" in errors(result)[0]


# --- minor --------------------------------------------------------------------------------------

def test_minor_a_fifo_pyproject_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pyproject.toml")
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            config.read_project(tmp_path)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # release the blocked open() so the thread ends
        fd = os.open(tmp_path / "pyproject.toml", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        reader.join(5)
        pytest.fail("reading a FIFO pyproject.toml blocked")
    [error] = outcome
    assert isinstance(error, UsageError), error
    assert "not a regular file" in error.message


@pytest.fixture
def mixed(write_project: WriteProject) -> Iterator[Path]:
    root = write_project("")
    text = PROJECT.replace("    ", "")
    lines = text.splitlines(keepends=True)
    # CRLF mostly, two LF lines kept as the user wrote them.
    body = "".join(line if i in (1, 4) else line.replace("\n", "\r\n")
                   for i, line in enumerate(lines))
    (root / "pyproject.toml").write_bytes(body.encode())
    yield root


def test_minor_init_keeps_mixed_line_endings(
        capsys: pytest.CaptureFixture[str], mixed: Path) -> None:
    before = (mixed / "pyproject.toml").read_bytes()
    assert run(capsys, "init", "--project", str(mixed)).code == 0
    after = (mixed / "pyproject.toml").read_bytes()
    assert after.startswith(before)  # every line the user wrote, byte for byte
    added = after[len(before):]
    assert b"[tool.slim]" in added
    assert added.count(b"\n") == added.count(b"\r\n")  # new lines: the file's usual CRLF


def test_minor_init_refuses_a_read_only_pyproject(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(PROJECT)
    path = root / "pyproject.toml"
    before = path.read_bytes()
    inode = path.stat().st_ino
    path.chmod(0o444)
    result = run(capsys, "init", "--project", str(root))
    no_traceback(result)
    assert result.code == 2, result.err
    assert "read-only" in errors(result)[0]
    assert path.read_bytes() == before
    assert path.stat().st_ino == inode


def test_minor_init_on_dotted_tool_keys_keeps_them(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project("tool.other = 1\n" + PROJECT)
    assert run(capsys, "init", "--project", str(root)).code == 0
    data = config.read_project(root).pyproject
    assert data["tool"]["other"] == 1
    assert data["tool"]["slim"]["image"] == "hello"


def test_minor_stage_directory_records_round_trip(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text(json.dumps({"k": 1}), encoding="utf-8")
    assert publish.read_staging_dir(tmp_path) == [("a/x.json", '{"k": 1}')]


def test_minor_generated_files_are_written_with_lf(tmp_path: Path) -> None:
    files.write_generated(tmp_path, "bake", [GeneratedFile(path="bake/x", text="a\nb\n")])
    assert (tmp_path / "bake" / "x").read_bytes() == b"a\nb\n"


def test_minor_render_all_paths_are_inside_the_output_dir(hello: Path) -> None:
    the_blueprint = make_blueprint(load(hello))
    assert all(f.path.startswith(the_blueprint.output_dir + "/") for f in render_all(the_blueprint))


# --- write: what a bake reads ---------------------------------------------------------------------

def test_write_bake_reads_a_private_copy_of_its_generation(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A render while bake builds cannot hand buildx half of another generation: the bake
    file, the Dockerfile (and its .dockerignore beside it) and the shim come from a copy."""
    root = write_project(SLIM + '    publish-wheels = true\n')
    inputs = tmp_path_factory.mktemp("inputs")
    full = make_blueprint(load(root))
    request = bake_request(full, full, BakeOptions(project_root=root, inputs=inputs),
                                 exists=lambda path: False)
    apply.render_files(root, full, inputs)
    assert request.files == (str(inputs / "docker-bake.json"),)
    assert request.override is not None
    for name in ("hello", "hello-wheels"):
        body = request.override["target"][name]
        assert body["dockerfile"] == str(inputs / "Dockerfile")
        assert body["contexts"] == {"bslim-shim": str(inputs / "shim")}
    on_disk = {p.relative_to(root / "bake").as_posix(): p.read_bytes()
               for p in (root / "bake").rglob("*") if p.is_file()}
    copied = {p.relative_to(inputs).as_posix(): p.read_bytes()
              for p in inputs.rglob("*") if p.is_file()}
    assert copied == on_disk
    assert sorted(copied) == ["Dockerfile", "Dockerfile.dockerignore", "docker-bake.json",
                              "shim/cross_build.py", "shim/hello.build-requires.txt",
                              "shim/origins.py", "shim/pinning.py", "shim/pins.txt",
                              "shim/pip_for_target.py",
                              "shim/platforms.py", "shim/wheel_build.py", "shim/wheel_gate.py"]


def test_cache_an_interrupted_build_leaves_no_unfinished_cache(
        write_project: WriteProject) -> None:
    root = write_project(CACHED)
    the_blueprint = make_blueprint(load(root))
    with pytest.raises(KeyboardInterrupt), local_cache.local_cache_rotation(the_blueprint, root):
        # What BuildKit had written when the build was stopped.
        (root / "c" / "hello.new" / "ingest").mkdir(parents=True)
        raise KeyboardInterrupt
    assert not (root / "c" / "hello.new").exists()


def test_write_where_directories_cannot_be_exchanged(
        capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback (two renames, signals held back) gives the same result, and what a
    writer killed between its two renames left is put back by the next one."""
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    assert run(capsys, "render", "--project", str(hello)).code == 0
    (hello / "pyproject.toml").write_text(SLIM.replace("    ", "") + 'args = {A = "1"}\n',
                                          encoding="utf-8")
    assert run(capsys, "render", "--project", str(hello)).code == 0
    assert "ARG A" in (hello / "bake" / "Dockerfile").read_text(encoding="utf-8")
    assert sorted(p.name for p in hello.iterdir()) == ["bake", "pyproject.toml"]
    # Killed between the renames: the old generation aside, no output directory.
    (hello / "bake").rename(hello / ".bake.bslim-old-0badcafe")
    assert run(capsys, "render", "--check", "--project", str(hello)).code == 1
    assert run(capsys, "render", "--project", str(hello)).code == 0
    assert sorted(p.name for p in hello.iterdir()) == ["bake", "pyproject.toml"]
    assert run(capsys, "render", "--check", "--project", str(hello)).code == 0


def test_write_a_killed_writers_stage_directory_is_cleaned_up(
        capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    assert run(capsys, "render", "--project", str(hello)).code == 0
    stage = hello / ".bake.bslim-new-0badcafe"
    (stage / "shim").mkdir(parents=True)
    (stage / "Dockerfile").write_text("half", encoding="utf-8")
    (stage / "shim" / ".pip_for_target.py.1234.tmp").write_text("half", encoding="utf-8")
    # Killed after writing the whole shim context (each module, the lists, a temporary file):
    # every name of it is bslim's (a leftover seen in tests/test_concurrency.py)
    for name in (*SHIM_MODULES, "pins.txt", "hello.build-requires.txt",
                 "hello.linux-armv7.lock.txt"):
        (stage / "shim" / name).write_text("whole", encoding="utf-8")
        (stage / "shim" / f".{name}.5678.tmp").write_text("half", encoding="utf-8")
    # A link of something carried over from the output directory.
    (stage / "docker-bake.json").hardlink_to(hello / "bake" / "docker-bake.json")
    (hello / "pyproject.toml").write_text(SLIM.replace("    ", "") + 'args = {A = "1"}\n',
                                          encoding="utf-8")
    assert run(capsys, "render", "--project", str(hello)).code == 0
    assert sorted(p.name for p in hello.iterdir()) == ["bake", "pyproject.toml"]


def test_write_a_stage_directory_holding_a_users_file_is_kept(
        capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    stage = hello / ".bake.bslim-new-0badcafe"
    stage.mkdir()
    (stage / "diary.txt").write_text("not bslim's\n", encoding="utf-8")
    assert run(capsys, "render", "--project", str(hello)).code == 0
    assert (stage / "diary.txt").read_text(encoding="utf-8") == "not bslim's\n"
