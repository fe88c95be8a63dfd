"""Properties of the real CLI over random [tool.slim]/[project] tables and tags input (#10).

For any input: the exit code is 0 or 2 (1 for a stale `--check`), no traceback, nothing
written when it is 2; every line of a generated Dockerfile (outside heredocs and
continuation lines) starts with a known instruction, and every string in the bake file has
its `${`/`%{` escaped (bar the one `${TAG}` bslim puts in tags).

Derandomized (a fixed seed) with a bounded number of examples, so CI runs the same cases in a
few seconds; `pytest --hypothesis-show-statistics` prints how many ran.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tomlkit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from buildkit_slim.cli import main
from buildkit_slim.config import KEYS

EXAMPLES = 250


def budget(examples: int) -> settings:
    return settings(derandomize=True, max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


SETTINGS = budget(EXAMPLES)

INSTRUCTIONS = {"FROM", "RUN", "COPY", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "ENTRYPOINT",
                "CMD", "LABEL"}
HEREDOC_RE = re.compile(r"<<-?'?\"?([A-Za-z_][A-Za-z0-9_]*)")

# Values a hostile or careless user tries, next to random text.
HOSTILE = [
    "", "\n", "app\n", "trixie\n", "/app;touch>/PWN", "/app && x", "/", "/etc", "${HOME}",
    "%{ for x in y }", "$${x}", "--from=x", "*", "**", ".", "..", "../x", "src", "bake",
    "hello", "a" * 300, "\ufeff", "`id`", "#x", "!x", "a b", "é", "\x00", "\r", "app",
    "ghcr.io/acme/hello", "python:3.13-trixie", "3.13", "linux/amd64", "linux/arm/v7",
    "https://pypi.org/simple", "https://u:tok@host.org/simple", "pkg @ https://u:p@h.org/x.whl",
    "requests>=2", "req.txt", "wheels", "c", "8080", "80/udp", "x" * 70,
]
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
PATTERNS = ["{{version}}", "{{major}}.{{minor}}", "{{raw}}", "v{{patch}}", "{{majr}}", "{{",
            "(.+)", "publish", "a{4294967296}"]
STRING = st.one_of(st.sampled_from(HOSTILE), TEXT)
SCALAR = st.one_of(STRING, st.integers(-3, 70000), st.booleans())
NAME = st.one_of(st.sampled_from(["A", "a.b", "app", "hello", "api", "x\n", "${X}", "1X"]), TEXT)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any],
           ) -> st.SearchStrategy[Any]:
    """`valid` three times in four (one_of would not weight repeated strategies)."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 0 else valid)


def value_for(kind: str) -> st.SearchStrategy[Any]:
    if kind == "str":
        return st.one_of(STRING, SCALAR)
    if kind == "list":
        return st.one_of(st.lists(st.one_of(STRING, SCALAR), max_size=3), STRING)
    if kind == "bool":
        return st.one_of(st.booleans(), STRING)
    return st.one_of(  # table
        st.dictionaries(NAME, st.one_of(STRING, st.lists(STRING, max_size=2)), max_size=3),
        st.fixed_dictionaries({}, optional={"local": STRING, "registry": STRING,
                                            "gha": SCALAR}),
        STRING)


# Values that pass, so that many examples render: table values are free text (env, labels
# and args must be escaped, whatever they hold).
FREE = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "image": st.sampled_from(["ghcr.io/acme/hello", "localhost:5000/a/b", "x"]),
    "python": st.sampled_from(["3.12", "3.13"]),
    "debian": st.sampled_from(["bookworm", "trixie"]),
    "builder-base": st.just("python:{python}-{debian}"),
    "runtime-base": st.just("python:{python}-slim-{debian}"),
    "platforms": st.lists(st.sampled_from(["linux/amd64", "linux/arm/v7", "linux/arm64"]),
                          min_size=1, max_size=3, unique=True),
    "entrypoint": st.lists(st.one_of(st.just("hello"), FREE), min_size=1, max_size=3),
    "cmd": st.lists(FREE, max_size=3),
    "workdir": st.sampled_from(["/app", "/srv/my-app", "/home/app/x", "/usr/src/app"]),
    "user": st.sampled_from(["app", "root", "svc-1"]),
    "env": st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), FREE,
                           max_size=3),
    "labels": st.dictionaries(st.from_regex(r"[a-z][a-z.]{0,6}", fullmatch=True), FREE,
                              max_size=3),
    "args": st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), FREE,
                            max_size=3),
    "expose": st.lists(st.sampled_from([8080, "53/udp", "443/tcp"]), max_size=2),
    "requirements": st.just("req.txt"),
    "apt-build": st.lists(st.sampled_from(["gcc", "libffi-dev"]), max_size=2),
    "apt-runtime": st.lists(st.sampled_from(["libpq5", "curl=8.0-1"]), max_size=2),
    "index-url": st.just("https://pypi.org/simple"),
    "extra-index-urls": st.just(["https://example.org/simple"]),
    "platform-index-urls": st.just({"linux/arm/v7": ["https://www.piwheels.org/simple"]}),
    "find-links": st.just(["wheels"]),
    "output-dir": st.sampled_from(["bake", "out", "gen/bake", "%{x}", "a~b+c"]),
    "cache": st.sampled_from([{"local": ".cache/bk"}, {"registry": "ghcr.io/acme/cache"},
                              {"gha": True}]),
    "fast-wheels": st.booleans(),
    "publish-wheels": st.booleans(),
    "wheels-from": st.lists(st.sampled_from(["wheels", "ghcr.io/a/base-wheels:1"]),
                            max_size=2),
}
# Three to one for a valid value: most examples render, every key is also tried hostile.
SLIM_VALUES = {spec.name: mostly(VALID[spec.name], value_for(spec.kind))
               if spec.name in VALID else value_for(spec.kind)
               for spec in KEYS if spec.name != "tags"}  # tags: below


@st.composite
def slim_tables(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from([*SLIM_VALUES, *SLIM_VALUES, "targets", "tags",
                                          "unknown"]), max_size=6, unique=True))
    table: dict[str, Any] = {}
    for key in keys:
        if key == "targets":
            table[key] = draw(st.dictionaries(NAME, st.fixed_dictionaries(
                {}, optional={k: SLIM_VALUES[k] for k in ("image", "workdir", "user",
                                                          "platforms", "cache")}), max_size=2))
        elif key == "tags":
            table[key] = draw(st.dictionaries(
                st.sampled_from(["prefix", "edge", "sha-length", "latest", "bogus", "patterns",
                                 "extra", "suffix", "git-tag-prefix", "git-tag-regex",
                                 "non-version", "major"]),
                st.one_of(SCALAR, st.lists(st.one_of(STRING, st.sampled_from(PATTERNS)),
                                           max_size=3)), max_size=3))
        elif key == "unknown":
            table[draw(NAME)] = draw(SCALAR)
        else:
            table[key] = draw(SLIM_VALUES[key])
    return table


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        return {"tool": {"slim": draw(slim_tables())}}  # no [project] at all
    project: dict[str, Any] = {"name": draw(mostly(st.just("hello"), STRING)),
                               "scripts": {"hello": "hello:main"}}
    optional = {
        "version": mostly(st.just("1.0.0"), STRING),
        "description": st.one_of(FREE, STRING),
        "dependencies": mostly(st.lists(st.sampled_from(
            ["requests>=2", "a[b]; python_version > '3'", "c @ https://h.org/c.whl"]),
            max_size=3), st.lists(STRING, max_size=3)),
        "optional-dependencies": st.dictionaries(NAME, st.lists(STRING, max_size=2),
                                                 max_size=2),
        "scripts": mostly(st.just({"hello": "hello:main", "hi": "hello:hi"}),
                          st.dictionaries(NAME, STRING, max_size=3)),
        "urls": st.dictionaries(NAME, mostly(FREE, STRING), max_size=2),
        "license": mostly(st.just("MIT"), STRING),
    }
    for key in draw(st.lists(st.sampled_from(list(optional)), unique=True)):
        project[key] = draw(optional[key])
    data: dict[str, Any] = {"project": project, "tool": {"slim": draw(slim_tables())}}
    if draw(st.integers(0, 3)) == 0:
        data["build-system"] = {"requires": draw(st.lists(STRING, max_size=2))}
    return data


# Files a configuration may name; some exist, so that paths pass the existence checks.
FILES = {"req.txt": "requests\n", "wheels/.keep": "", "hello/__main__.py": "",
         "c/hello/__init__.py": "code\n", "src/hello/__init__.py": ""}


@contextlib.contextmanager
def project_dir(data: dict[str, Any]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bslim-prop-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
        for name, text in FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        yield root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def check_no_traceback(code: int, out: str, err: str, allowed: set[int]) -> None:
    assert code in allowed, (code, err)
    assert "Traceback" not in out + err, err
    assert "╭" not in err, err  # Typer's boxed traceback
    if code != 0:
        assert err.startswith(("error: ", "Usage:")), err


def check_dockerfile(text: str) -> None:
    heredoc: str | None = None
    continued = False
    for line in text.splitlines():
        if heredoc is not None:
            if line == heredoc:
                heredoc = None
            continue
        is_continuation = continued
        continued = line.endswith("\\")
        if is_continuation or not line.strip() or line.startswith("#"):
            continue
        instruction = line.split(" ", 1)[0]
        assert instruction in INSTRUCTIONS, line
        if instruction in ("RUN", "COPY") and (match := HEREDOC_RE.search(line)):
            heredoc = match.group(1)
    assert heredoc is None, "an unterminated heredoc"


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, sub in value.items():
            yield path + "." + key, key
            yield from strings(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from strings(sub, f"{path}[{index}]")


def check_bake(text: str) -> None:
    for path, value in strings(json.loads(text)):
        rest = value.replace("$${", "").replace("%%{", "")
        if re.search(r"\.tags\[\d+\]$", path):
            rest = rest.removesuffix(":${TAG}")
        assert "${" not in rest and "%{" not in rest, (path, value)
        assert not re.search(r"[\x00-\x1f\x7f]", value), (path, value)


@budget(400)  # about one in five renders: the Dockerfile and bake checks run on those
@given(projects())
def test_render_any_pyproject(data: dict[str, Any]) -> None:
    with project_dir(data) as root:
        before = snapshot(root)
        code, out, err = cli("render", "--project", str(root))
        event(f"render exit {code}")
        check_no_traceback(code, out, err, {0, 2})
        if code == 2:
            assert snapshot(root) == before, err
            return
        after = snapshot(root)
        output_dirs = {p.rsplit("/", 1)[0] for p in after if p not in before}
        for name, content in after.items():
            text = content.decode("utf-8")
            if name.endswith("/Dockerfile") and name.rsplit("/", 1)[0] in output_dirs:
                check_dockerfile(text)
            elif name.endswith("docker-bake.json"):
                check_bake(text)
            elif name.endswith(".dockerignore"):
                assert not any(line in ("*", "**", "src", "hello", ".")
                               for line in text.splitlines()), text
        assert not [p for p in after if p.endswith(".tmp")]
        # Rendering twice is stable and the check agrees.
        code, out, err = cli("render", "--project", str(root), "--check")
        check_no_traceback(code, out, err, {0})


@SETTINGS
@given(projects(), st.booleans())
def test_init_any_pyproject(data: dict[str, Any], force: bool) -> None:
    with project_dir(data) as root:
        before = snapshot(root)
        code, out, err = cli("init", "--project", str(root), *(["--force"] if force else []))
        event(f"init exit {code}")
        check_no_traceback(code, out, err, {0, 2})
        if code == 2:
            assert snapshot(root) == before, err


NUMBERS = st.one_of(st.integers(0, 10**6).map(str), st.just("9" * 5000), st.just("0" * 50))
VERSIONS = st.one_of(
    st.builds(lambda a, b, c: f"{a}.{b}{c}", NUMBERS, NUMBERS,
              st.sampled_from(["", "rc1", ".dev3", ".post1", "+local", "+a" * 70])),
    STRING)
REFS = st.one_of(
    st.builds(lambda kind, name: f"refs/{kind}/{name}",
              st.sampled_from(["heads", "tags", "pull", "notes"]),
              st.one_of(VERSIONS, st.builds(lambda n: f"{n}/merge", NUMBERS), STRING)),
    STRING)


@SETTINGS
@given(st.one_of(st.none(), VERSIONS), st.one_of(st.none(), REFS),
       st.one_of(st.none(), st.text("0123456789abcdef", min_size=7, max_size=40),
                 st.text("0123456789abcdef", max_size=45), STRING),
       st.sampled_from([[], ["--json"], ["--images"], ["--no-version"]]))
def test_tags_any_input(version: str | None, ref: str | None, sha: str | None,
                        flags: list[str]) -> None:
    data = {"project": {"name": "hello", "version": "1.0.0", "scripts": {"hello": "h:m"}},
            "tool": {"slim": {"image": "ghcr.io/acme/hello"}}}
    argv = ["tags", *flags]
    for option, value in (("--version", version), ("--ref", ref), ("--sha", sha)):
        if value is not None:
            argv += [f"{option}={value}"]
    with project_dir(data) as root:
        code, out, err = cli(*argv, "--project", str(root))
    event(f"tags exit {code}")
    check_no_traceback(code, out, err, {0, 2})
