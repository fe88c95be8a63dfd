"""Issue #10: what a hostile or careless user tried, each as a test.

No user value reaches a Dockerfile, bake file or .dockerignore unescaped; no command deletes
what bslim did not create; every failure is `error:` lines and an exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildkit_slim import files
from buildkit_slim.blueprint import Blueprint, make_blueprint
from buildkit_slim.config import CACHE_MARKER, load
from buildkit_slim.errors import ConfigError, UsageError
from buildkit_slim.local_cache import clear_stale_local_caches, rotate_local_caches
from buildkit_slim.render import GeneratedFile, render_all
from tests.unit.conftest import WriteProject
from tests.unit.test_cli import Result, run

PROJECT = """\
    [project]
    name = "hello"
    version = "1.0.0"
    dependencies = []

    [project.scripts]
    hello = "hello:main"

"""


def slim(*lines: str) -> str:
    return PROJECT + "    [tool.slim]\n" + "".join(f"    {line}\n" for line in lines)


def problems(root: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(root)
    return list(info.value.problems)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err + result.out, result.err
    assert "╭" not in result.err, result.err  # Typer's boxed traceback


def written(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.name != "pyproject.toml"}


# --- workdir --------------------------------------------------------------------------------

@pytest.mark.parametrize("workdir", [
    "/app;touch>/PWN", "/app&&touch /x", "/app|x", "/app>x", "/app`id`", "/app#x",
    "/app/../etc", "/app\n",
])
def test_workdir_with_shell_syntax_is_refused(write_project: WriteProject, workdir: str) -> None:
    root = write_project(slim(f"workdir = {json.dumps(workdir)}"))
    [line] = problems(root)
    assert line.startswith("tool.slim.workdir: "), line


@pytest.mark.parametrize("workdir", [
    "/", "/etc", "/usr/local", "/bin", "/root", "/var", "/etc/app"])
def test_workdir_a_system_directory_is_refused(write_project: WriteProject, workdir: str) -> None:
    root = write_project(slim(f"workdir = {json.dumps(workdir)}"))
    [line] = problems(root)
    assert line.startswith("tool.slim.workdir: "), line
    assert "system directory" in line


def test_a_plain_workdir_still_renders(write_project: WriteProject) -> None:
    root = write_project(slim('workdir = "/srv/my-app_1.0"'))
    dockerfile = next(f.text for f in render_all(make_blueprint(load(root)))
                      if f.path == "bake/Dockerfile")
    assert "mkdir -p /srv/my-app_1.0" in dockerfile


# --- trailing newlines ($ matches before a final newline) -----------------------------------

@pytest.mark.parametrize(("line", "key"), [
    ('user = "app\\n"', "tool.slim.user"),
    ('debian = "trixie\\n"', "tool.slim.debian"),
    ('python = "3.13\\n"', "tool.slim.python"),
    ('builder-base = "python:3.13-trixie\\n"', "tool.slim.builder-base"),
    ('runtime-base = "python:3.13-slim-trixie\\n"', "tool.slim.runtime-base"),
    ('image = "ghcr.io/acme/hello\\n"', "tool.slim.image"),
    ('env = { "A\\n" = "1" }', 'tool.slim.env."A\\n"'),
    ('args = { "A\\n" = "1" }', 'tool.slim.args."A\\n"'),
    ('labels = { "a\\n" = "1" }', 'tool.slim.labels."a\\n"'),
    ('cache = { registry = "ghcr.io/acme/cache\\n" }', "tool.slim.cache.registry"),
    ('apt-build = ["gcc\\n"]', "tool.slim.apt-build[0]"),
    ('expose = ["80\\n"]', "tool.slim.expose[0]"),
    ('wheels-from = ["ghcr.io/a/b:1\\n"]', "tool.slim.wheels-from[0]"),
    ('index-url = "https://x.org/simple\\n"', "tool.slim.index-url"),
])
def test_a_trailing_newline_is_refused(write_project: WriteProject, line: str, key: str) -> None:
    root = write_project(slim(line))
    found = problems(root)
    assert any(p.startswith(f"{key}: ") for p in found), found


def test_a_target_name_with_a_trailing_newline_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim('targets = { "api\\n" = { image = "ghcr.io/a/api" } }'))
    assert any(p.startswith('tool.slim.targets."api\\n": ') for p in problems(root))


def test_a_project_name_with_a_trailing_newline_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim().replace('name = "hello"', 'name = "hello\\n"'))
    assert any(p.startswith("project.name: ") for p in problems(root))


def test_no_generated_line_carries_a_control_character(write_project: WriteProject) -> None:
    root = write_project(slim('env = { A = "x" }', 'labels = { a = "b" }'))
    for f in render_all(make_blueprint(load(root))):
        assert not any(ch in f.text for ch in "\r\x00\x0b\x0c"), f.path


# --- bake strings -----------------------------------------------------------------------------

def test_wheels_from_directories_are_escaped_in_bake_contexts(
        write_project: WriteProject) -> None:
    root = write_project(slim('wheels-from = ["w%{x}"]'), {"w%{x}/a.txt": ""})
    try:
        the_blueprint = make_blueprint(load(root))
    except ConfigError:
        return  # refused as a path: also fine
    bake = json.loads(next(f.text for f in render_all(the_blueprint)
                           if f.path.endswith("docker-bake.json")))
    assert bake["target"]["hello"]["contexts"]["wheels-from-0"] == "w%%{x}"


# --- credentials ------------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "key"), [
    ('dependencies = ["pkg @ https://user:tok@host.org/x.whl"]', "project.dependencies[0]"),
    ('dependencies = ["pkg @ git+https://tok@github.com/a/b"]', "project.dependencies[0]"),
])
def test_credentials_in_a_dependency_are_refused(
        write_project: WriteProject, table: str, key: str) -> None:
    root = write_project(slim().replace("dependencies = []", table))
    found = problems(root)
    assert any(p.startswith(f"{key}: ") and "credentials" in p for p in found), found


def test_credentials_in_build_requires_and_extras_are_refused(
        write_project: WriteProject) -> None:
    text = slim().replace("dependencies = []", (
        'dependencies = []\n'
        '    optional-dependencies = { x = ["p @ https://u:p@h.org/p.whl"] }'))
    text = ('[build-system]\nrequires = ["setuptools @ https://u:p@h.org/s.whl"]\n'
            + text.replace("\n    ", "\n"))
    root = write_project(text)
    found = problems(root)
    assert any(p.startswith("build-system.requires[0]: ") and "credentials" in p
               for p in found), found
    assert any(p.startswith("project.optional-dependencies.x[0]: ") and "credentials" in p
               for p in found), found
    assert all("u:p" not in p for p in found), found  # the secret is not echoed either


# --- paths ------------------------------------------------------------------------------------

def test_a_symlinked_output_dir_outside_the_project_is_refused(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    root = write_project(slim())
    (root / "bake").symlink_to(outside, target_is_directory=True)
    assert any(p.startswith("tool.slim.output-dir: ") for p in problems(root))
    assert list(outside.iterdir()) == []


def test_writing_never_follows_a_directory_out_of_the_project(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (tmp_path / "bake").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UsageError):
        files.write_generated(tmp_path, "bake", [GeneratedFile(path="bake/x", text="x\n")])
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("key", ["requirements", "dockerfile"])
def test_a_symlink_out_of_the_project_is_refused(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory,
        key: str) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("x\n", encoding="utf-8")
    root = write_project(slim(f'{key} = "link.txt"'))
    (root / "link.txt").symlink_to(outside)
    found = problems(root)
    assert any(p.startswith(f"tool.slim.{key}: ") and "outside the project" in p
               for p in found), found


@pytest.mark.parametrize("key", ["find-links", "wheels-from"])
def test_a_symlinked_directory_out_of_the_project_is_refused(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory,
        key: str) -> None:
    outside = tmp_path_factory.mktemp("outside")
    root = write_project(slim(f'{key} = ["wheels"]'))
    (root / "wheels").symlink_to(outside, target_is_directory=True)
    found = problems(root)
    assert any(p.startswith(f"tool.slim.{key}[0]: ") and "outside the project" in p
               for p in found), found


@pytest.mark.parametrize("name", ["--from=x", "req*.txt", "r[e]q.txt", "r?q.txt", "a/-x"])
def test_a_path_that_changes_copy_is_refused(write_project: WriteProject, name: str) -> None:
    root = write_project(slim(f"requirements = {json.dumps(name)}"), {name: "x\n"})
    found = problems(root)
    assert any(p.startswith("tool.slim.requirements: ") for p in found), found


@pytest.mark.parametrize("output_dir", ["src", "*", "**", "!x", "#x", "hello"])
def test_an_output_dir_that_would_drop_the_code_is_refused(
        write_project: WriteProject, output_dir: str) -> None:
    root = write_project(slim(f"output-dir = {json.dumps(output_dir)}"),
                         {"src/hello/__init__.py": "", "hello/__init__.py": ""})
    found = problems(root)
    assert any(p.startswith("tool.slim.output-dir: ") for p in found), found


# --- data loss: the local cache ----------------------------------------------------------------

def test_cache_local_at_the_project_root_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim('cache = { local = "." }'), {"hello/__init__.py": ""})
    found = problems(root)
    assert any(p.startswith("tool.slim.cache.local: ") for p in found), found


def test_cache_local_overlapping_the_output_dir_is_refused(write_project: WriteProject) -> None:
    root = write_project(slim('cache = { local = "bake" }'))
    found = problems(root)
    assert any(p.startswith("tool.slim.cache.local: ") for p in found), found


# --- no tracebacks ----------------------------------------------------------------------------

def test_an_over_long_path_is_an_error_line(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim(f'requirements = "{"a" * 300}"'))
    result = run(capsys, "render", "--project", str(root))
    no_traceback(result)
    assert result.code == 2
    assert result.err_lines[0].startswith("error: tool.slim.requirements: ")


def test_an_over_long_output_dir_is_an_error_line(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim(f'output-dir = "{"a" * 300}"'))
    result = run(capsys, "render", "--project", str(root))
    no_traceback(result)
    assert result.code == 2


def test_an_output_dir_naming_a_file_is_an_error_line(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim('output-dir = "out"'), {"out": "a file\n"})
    result = run(capsys, "render", "--project", str(root))
    no_traceback(result)
    assert result.code == 2
    assert "tool.slim.output-dir" in result.err


def test_a_directory_where_the_dockerfile_goes_is_an_error_line(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim(), {"bake/Dockerfile/x": ""})
    result = run(capsys, "render", "--project", str(root))
    no_traceback(result)
    assert result.code == 2
    assert "bake/Dockerfile" in result.err
    assert not (root / "bake" / "docker-bake.json").exists()


def test_a_generated_file_in_another_encoding_is_rewritten(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim())
    (root / "bake").mkdir()
    (root / "bake" / "Dockerfile").write_bytes(b"\xff\xfe\x00junk")
    result = run(capsys, "render", "--project", str(root), "--check")
    no_traceback(result)
    assert result.code == 1
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 0, result.err
    assert (root / "bake" / "Dockerfile").read_text(encoding="utf-8").startswith("# Generated")


@pytest.mark.parametrize(("content", "says"), [
    (b"\xff[project]\n", "UTF-8"),
    (b"\xef\xbb\xbf[project]\nname = 'x'\n", "byte order mark"),
    (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested"),
    (b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n", "nested"),
])
def test_an_unreadable_pyproject_is_an_error_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, says: str) -> None:
    (tmp_path / "pyproject.toml").write_bytes(content)
    for command in ("render", "init", "config"):
        result = run(capsys, command, "--project", str(tmp_path))
        no_traceback(result)
        assert result.code == 2, (command, result.err)
        assert says in result.err_lines[0], result.err


def test_a_pyproject_directory_is_an_error_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    result = run(capsys, "render", "--project", str(tmp_path))
    no_traceback(result)
    assert result.code == 2
    assert "pyproject.toml" in result.err_lines[0]


@pytest.mark.parametrize("argv", [
    ["--version", "1." + "9" * 5000],
    ["--version", "9" * 5000],
    ["--ref", "refs/tags/v" + "9" * 5000],
    ["--ref", "refs/pull/" + "9" * 5000 + "/merge"],
    ["--ref", "refs/heads/" + "9" * 5000],
    ["--ref", "refs/heads/1." + "9" * 5000],
])
def test_tags_with_huge_numbers_is_an_error_line(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject,
        argv: list[str]) -> None:
    root = write_project(slim('image = "ghcr.io/acme/hello"'))
    result = run(capsys, "tags", "--project", str(root), *argv)
    no_traceback(result)
    assert result.code in (0, 2), result.err
    if result.code == 2:
        assert result.err_lines[0].startswith("error: --")


def test_init_on_a_tool_that_is_not_a_table(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project("    tool = 1\n" + PROJECT)
    before = (root / "pyproject.toml").read_text(encoding="utf-8")
    result = run(capsys, "init", "--project", str(root))
    no_traceback(result)
    assert result.code == 2
    assert result.err_lines[0].startswith("error: ") and "tool" in result.err_lines[0]
    assert (root / "pyproject.toml").read_text(encoding="utf-8") == before


# --- init -------------------------------------------------------------------------------------

def test_init_refuses_a_project_without_a_project_table(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project('[tool.poetry]\nname = "x"\n')
    before = (root / "pyproject.toml").read_text(encoding="utf-8")
    result = run(capsys, "init", "--project", str(root))
    no_traceback(result)
    assert result.code == 2
    assert "[project]" in result.err_lines[0]
    assert (root / "pyproject.toml").read_text(encoding="utf-8") == before


def test_init_with_two_scripts_writes_a_runnable_entrypoint(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(PROJECT.replace('hello = "hello:main"',
                                         'hello = "hello:main"\n    hi = "hello:hi"'))
    result = run(capsys, "init", "--project", str(root))
    assert result.code == 0, result.err
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "python" not in text.split("[tool.slim]")[1].split("entrypoint")[1].splitlines()[0]
    assert "no [project.scripts]" not in text
    assert "2 entries" in text
    load(root)  # the written table is valid


def test_init_keeps_crlf_and_comments(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = ("# top comment\r\n[project]\r\nname = \"hello\"  # keep\r\ndependencies = []\r\n"
            "[project.scripts]\r\nhello = \"hello:main\"\r\n")
    (tmp_path / "pyproject.toml").write_bytes(text.encode())
    result = run(capsys, "init", "--project", str(tmp_path))
    assert result.code == 0, result.err
    data = (tmp_path / "pyproject.toml").read_bytes()
    assert data.startswith(text.encode())
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_init_writes_through_a_symlinked_pyproject(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text('[project]\nname = "hello"\n[project.scripts]\nhello = "h:m"\n',
                    encoding="utf-8")
    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").symlink_to(real)
    result = run(capsys, "init", "--project", str(project))
    assert result.code == 0, result.err
    assert (project / "pyproject.toml").is_symlink()
    assert "[tool.slim]" in real.read_text(encoding="utf-8")


# --- interrupted writes -----------------------------------------------------------------------

def test_an_interrupted_write_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(os, "fdopen", interrupted)
        files.write_generated(tmp_path, "bake", [GeneratedFile(path="bake/x", text="x\n")])
    assert written(tmp_path) == set()


def test_render_removes_temp_files_an_earlier_crash_left(
        capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(slim(), {"bake/.Dockerfile.abc123.tmp": "half"})
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 0, result.err
    assert not (root / "bake" / ".Dockerfile.abc123.tmp").exists()


# --- data loss: local cache rotation deletes only what bslim wrote ------------------------------

CACHE_PROJECT = PROJECT + '    [tool.slim]\n    cache = { local = "c" }\n'


def cache_blueprint(write_project: WriteProject) -> tuple[Path, Blueprint]:
    root = write_project(CACHE_PROJECT)
    return root, make_blueprint(load(root))


def test_rotation_marks_the_cache_and_replaces_only_marked_dirs(
        write_project: WriteProject) -> None:
    root, the_blueprint = cache_blueprint(write_project)
    (root / "c/hello.new/blobs").mkdir(parents=True)
    (root / "c/hello.new/index.json").write_text("{}", encoding="utf-8")
    rotate_local_caches(the_blueprint, root)
    assert (root / "c/hello" / CACHE_MARKER).is_file()
    (root / "c/hello.new").mkdir()
    (root / "c/hello.new/index.json").write_text("{}", encoding="utf-8")
    rotate_local_caches(the_blueprint, root)
    assert (root / "c/hello/index.json").is_file()


def test_rotation_never_deletes_a_directory_of_the_users(write_project: WriteProject) -> None:
    root, the_blueprint = cache_blueprint(write_project)
    # Made after the config was read (the config check would refuse it already).
    (root / "c/hello").mkdir(parents=True)
    (root / "c/hello/__init__.py").write_text("code\n", encoding="utf-8")
    (root / "c/hello.new").mkdir()
    with pytest.raises(UsageError, match="not a build cache bslim wrote"):
        rotate_local_caches(the_blueprint, root)
    assert (root / "c/hello/__init__.py").read_text(encoding="utf-8") == "code\n"


def test_clearing_never_deletes_a_directory_of_the_users(write_project: WriteProject) -> None:
    root, the_blueprint = cache_blueprint(write_project)
    (root / "c/hello.new").mkdir(parents=True)
    (root / "c/hello.new/notes.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(UsageError, match="not a build cache bslim wrote"):
        clear_stale_local_caches(the_blueprint, root)
    assert (root / "c/hello.new/notes.txt").exists()


def test_rotation_never_follows_a_symlink(
        write_project: WriteProject, tmp_path_factory: pytest.TempPathFactory) -> None:
    root, the_blueprint = cache_blueprint(write_project)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "index.json").write_text("{}", encoding="utf-8")
    (root / "c").mkdir()
    (root / "c/hello").symlink_to(elsewhere, target_is_directory=True)
    (root / "c/hello.new").mkdir()
    with pytest.raises(UsageError):
        rotate_local_caches(the_blueprint, root)
    assert (elsewhere / "index.json").exists()


def test_the_config_refuses_a_cache_location_holding_code(write_project: WriteProject) -> None:
    root = write_project(CACHE_PROJECT, {"c/hello/__init__.py": "code\n"})
    found = problems(root)
    assert any(p.startswith("tool.slim.cache.local: ") and "'c/hello'" in p for p in found), found
