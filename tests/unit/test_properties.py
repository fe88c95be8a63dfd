"""Properties of the real CLI (and the merge planner) over random input (#10, #17).

Every command that takes input is driven here: `render` (and `config`, `matrix` on what
renders), `init`, `tags`, and `merge`'s staging records and `--tag` values, through the pure
planner `merge` runs before it touches the registry. The [tool.slim] strategies are derived
from the key declarations (`keys_of`): every key, sub-table keys included, is drawn with
hostile values of its TOML type and, three times in four, a valid one (the declared default,
or a richer one from VALID); a key added later is fuzzed without touching this file.

For any input: the exit code is 0 or 2 (1 for a stale `--check`), no traceback, nothing
written when it is 2; no secret of a URL with credentials anywhere in what bslim prints or
writes; no file a key names is changed by `render`; every line of a generated Dockerfile
(outside heredocs and continuation lines) starts with a known instruction, its stage names
pass BuildKit's rule and are distinct once lowercased, nothing it copies from the context and
nothing .dockerignore brings back (`!path`) is a path the defaults leave out, the local cache
directories are left out; every string in the bake file has its `${`/`%{` escaped (bar the one
`${TAG}` bslim puts in tags) and its target names pass buildx's rule.

Derandomized (a fixed seed) with a bounded number of examples (1,450 in all), so CI runs the same
cases: about 40 s of CPU for the whole module on this 2-core machine (`--durations=0` shows each
test's share, `--hypothesis-show-statistics` how many examples ran and how many rendered).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import tomlkit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from buildkit_slim import merge as merging
from buildkit_slim import publish, refs, staging
from buildkit_slim.blueprint import make_blueprint
from buildkit_slim.cli import main
from buildkit_slim.config import KEY_TABLE, load
from buildkit_slim.config.checks import excluded_by_default
from buildkit_slim.errors import BslimError
from buildkit_slim.keys import Key, keys_of

EXAMPLES = 250


def budget(examples: int) -> settings:
    return settings(derandomize=True, max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


SETTINGS = budget(EXAMPLES)

INSTRUCTIONS = {"FROM", "RUN", "COPY", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "ENTRYPOINT",
                "CMD", "LABEL"}
HEREDOC_RE = re.compile(r"<<-?'?\"?([A-Za-z_][A-Za-z0-9_]*)")
# BuildKit: a stage name, lowercased, must match this (frontend/dockerfile/instructions/
# parse.go); buildx: a bake target name this.
STAGE_NAME_RE = re.compile(r"[a-z][a-z0-9-_.]*")
# ... and, as BuildKit looks every stage up as a named context, an image name
# (distribution/reference: one path component).
IMAGE_NAME_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
BAKE_TARGET_RE = re.compile(r"[a-zA-Z0-9_-]+")

# The secret of every URL with credentials below: it must never be printed or written.
SECRET = "hunter2-t0ken"
CREDENTIAL_URLS = [
    f"https://user:{SECRET}@pypi.example.org/simple", f"https://{SECRET}@github.com/a/b",
    f"postgres://app:{SECRET}@db/app", f"--extra-index-url https://u:{SECRET}@h.org/simple",
    f"pkg @ https://u:{SECRET}@h.org/x.whl", f"u:{SECRET}@ghcr.io/acme/x",
]
# Tag rule patterns (metadata-action's vocabulary), good and bad.
PATTERNS = ["{{version}}", "{{major}}.{{minor}}", "{{raw}}", "v{{patch}}", "{{majr}}", "{{",
            "(.+)", "publish", "a{4294967296}"]
# Values a hostile or careless user tries, next to random text.
HOSTILE = [
    "", "\n", "app\n", "trixie\n", "/app;touch>/PWN", "/app && x", "/", "/etc", "${HOME}",
    "%{ for x in y }", "$${x}", "--from=x", "*", "**", ".", "..", "../x", "src", "bake",
    "hello", "a" * 300, "\ufeff", "`id`", "#x", "!x", "a b", "é", "\x00", "\r", "app",
    "ghcr.io/acme/hello", "python:3.13-trixie", "3.13", "linux/amd64", "linux/arm/v7",
    "https://pypi.org/simple", "requests>=2", "req.txt", "wheels", "c", "8080", "80/udp",
    "x" * 70, ".env", ".git", ".venv/lib", "src/__pycache__", "bake/Dockerfile", "bake/shim",
    "bake/docker-bake.json", ".cache/bk", "dist/wheels", "git+ssh://git@github.com/a/b",
    *CREDENTIAL_URLS, *PATTERNS,
]
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
STRING = st.one_of(st.sampled_from(HOSTILE), TEXT)
SCALAR = st.one_of(STRING, st.integers(-3, 70000), st.booleans())
# Target names (and other table keys): BuildKit's and buildx's edges, case twins, derived names.
NAME = st.one_of(st.sampled_from(["A", "a.b", "app", "hello", "api", "API", "Api", "x\n",
                                  "${X}", "1X", "1api", "_api", "-api", "api-wheels",
                                  "api-plan", "default", "z-", "a_b-c", "c--_9", "d__e",
                                  "b_"]), TEXT)


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any],
           ) -> st.SearchStrategy[Any]:
    """`valid` three times in four (one_of would not weight repeated strategies)."""
    return st.integers(0, 3).flatmap(lambda i: other if i == 0 else valid)


# Values that pass, so that many examples render: table values are free text (env, labels
# and args must be escaped, whatever they hold). Keys without an entry get their declared
# default as the valid value; sub-table keys are dotted.
FREE = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "image": st.sampled_from(["ghcr.io/acme/hello", "localhost:5000/a/b", "x"]),
    "python": st.sampled_from(["3.12", "3.13"]),
    "debian": st.sampled_from(["bookworm", "trixie"]),
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
    "extras": st.lists(st.sampled_from(["redis", "x"]), max_size=2),
    "requirements": st.sampled_from(["req.txt", "dist/constraints.txt"]),
    "apt-build": st.lists(st.sampled_from(["gcc", "libffi-dev"]), max_size=2),
    "apt-runtime": st.lists(st.sampled_from(["libpq5", "curl=8.0-1"]), max_size=2),
    "index-url": st.just("https://pypi.org/simple"),
    "extra-index-urls": st.just(["https://example.org/simple"]),
    "platform-index-urls": st.just({"linux/arm/v7": ["https://www.piwheels.org/simple"]}),
    "runners": st.just({"linux/arm/v7": "ubuntu-24.04-arm", "linux/amd64": ["self-hosted"]}),
    "find-links": st.lists(st.sampled_from(["wheels", "dist/wheels"]), max_size=2,
                           unique=True),
    "output-dir": st.sampled_from(["bake", "out", "gen/bake", "%{x}", "a~b+c"]),
    "cache.registry": st.just("ghcr.io/acme/cache"),
    "cache.local": st.sampled_from([".cache/bk", "caches"]),
    "cache.gha": st.booleans(),
    "fast-wheels": st.booleans(),
    "publish-wheels": st.booleans(),
    "wheels-from": st.lists(st.sampled_from(["wheels", "ghcr.io/a/base-wheels:1"]),
                            max_size=2),
    "dockerfile": st.sampled_from(["ops/Dockerfile", "Dockerfile"]),
    "tags.prefix": st.sampled_from(["", "py3.13-"]),
    "tags.edge": st.sampled_from(["edge", ""]),
    "tags.sha-length": st.integers(7, 40),
}


def hostile_for(decl: Key) -> st.SearchStrategy[Any]:
    """Any value a careless or hostile user writes for a key of this TOML type."""
    if decl.kind == "str":
        return st.one_of(STRING, SCALAR)
    if decl.kind == "list":
        return st.one_of(st.lists(st.one_of(STRING, SCALAR), max_size=3), STRING)
    if decl.kind in ("bool", "int"):
        return SCALAR
    return st.one_of(  # a table
        st.dictionaries(NAME, st.one_of(STRING, st.lists(STRING, max_size=2)), max_size=3),
        STRING)


def strategy_for(decl: Key, prefix: str = "") -> st.SearchStrategy[Any]:
    """A key's values, from its declaration: a sub-table's keys each by their own."""
    name = prefix + decl.name
    if decl.table is not None:
        subs = {sub.name: strategy_for(sub, f"{name}.") for sub in keys_of(decl.table)}
        # Its keys one by one (an unknown one now and then), or anything at all.
        return mostly(st.fixed_dictionaries({}, optional={**subs, "bogus": SCALAR}),
                      hostile_for(decl))
    valid = VALID.get(name)
    if valid is None and decl.toml_default() is not None:
        valid = st.just(decl.toml_default())
    return mostly(valid, hostile_for(decl)) if valid is not None else hostile_for(decl)


def declared_names(keys: tuple[Key, ...], prefix: str = "") -> set[str]:
    return {n for k in keys for n in ({prefix + k.name} | (
        declared_names(keys_of(k.table), f"{prefix}{k.name}.") if k.table else set()))}


SLIM_VALUES = {k.name: strategy_for(k) for k in KEY_TABLE.keys}
TARGET_VALUES = {k.name: SLIM_VALUES[k.name] for k in KEY_TABLE.per_target}


@st.composite
def slim_tables(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from([*SLIM_VALUES, *SLIM_VALUES, "targets", "unknown"]),
                         max_size=7, unique=True))
    table: dict[str, Any] = {}
    for key in keys:
        if key == "targets":
            table[key] = draw(st.one_of(st.dictionaries(NAME, st.fixed_dictionaries(
                {}, optional={**TARGET_VALUES, "output-dir": SCALAR, "tags": SCALAR}),
                max_size=3), STRING))
        elif key == "unknown":
            table[draw(NAME)] = draw(SCALAR)
        else:
            table[key] = draw(SLIM_VALUES[key])
    return table


URLS = st.dictionaries(
    st.sampled_from(["Source", "Homepage", "repository", "Tracker", "x\n"]),
    mostly(st.one_of(FREE, st.sampled_from(["https://github.com/acme/hello",
                                            "git+ssh://git@github.com/a/b"])),
           st.one_of(STRING, st.sampled_from(CREDENTIAL_URLS))), max_size=3)


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
        "optional-dependencies": mostly(st.just({"redis": ["redis>=5"]}), st.dictionaries(
            NAME, st.lists(STRING, max_size=2), max_size=2)),
        "scripts": mostly(st.just({"hello": "hello:main", "hi": "hello:hi"}),
                          st.dictionaries(NAME, STRING, max_size=3)),
        "urls": URLS,
        "license": mostly(st.just("MIT"), STRING),
    }
    for key in draw(st.lists(st.sampled_from(list(optional)), unique=True)):
        project[key] = draw(optional[key])
    data: dict[str, Any] = {"project": project, "tool": {"slim": draw(slim_tables())}}
    if draw(st.integers(0, 3)) == 0:
        data["build-system"] = {"requires": draw(st.lists(STRING, max_size=2))}
    return data


# Files a configuration may name: some always exist, so that paths pass the existence checks;
# the others (secrets, VCS, a user's file in the output directory) now and then.
FILES = {"req.txt": "requests\n", "wheels/.keep": "", "hello/__main__.py": "",
         "c/hello/__init__.py": "code\n", "src/hello/__init__.py": ""}
SOMETIMES = {".env": "TOKEN=x\n", ".git/config": "[core]\n", ".venv/lib/x.whl": "",
             "src/__pycache__/x.pyc": "", "bake/Dockerfile": "FROM scratch\n# mine\n",
             "bake/shim/pip_for_target.py": "# mine\n", "dist/wheels/a.whl": "",
             "dist/constraints.txt": "a==1\n", "ops/Dockerfile": "FROM scratch\n",
             "Dockerfile": "FROM scratch\n", ".cache/bk/hello/photo.png": "png"}


@contextlib.contextmanager
def project_dir(data: dict[str, Any], extra: frozenset[str] = frozenset()) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bslim-prop-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
        for name, text in {**FILES, **{n: SOMETIMES[n] for n in extra}}.items():
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
    assert SECRET not in out + err, err
    if code != 0:
        assert err.startswith(("error: ", "Usage:")), err


def check_dockerfile(text: str) -> None:
    heredoc: str | None = None
    continued = False
    stages: list[str] = []
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
        if instruction == "FROM" and " AS " in line:
            stages.append(line.rsplit(" AS ", 1)[1])
        words = line.split()
        if instruction == "COPY" and not words[1].startswith(("--", "<<")) and words[1] != ".":
            # From the build context: never what the defaults leave out of it.
            assert excluded_by_default(words[1]) is None, line
    assert heredoc is None, "an unterminated heredoc"
    for stage in stages:
        assert STAGE_NAME_RE.fullmatch(stage), stage  # as written: --from and mounts too
        assert IMAGE_NAME_RE.fullmatch(stage), stage
    assert len({s.lower() for s in stages}) == len(stages), stages


def check_dockerignore(text: str, output_dir: str, caches: set[str]) -> None:
    lines = text.splitlines()
    assert not any(line in ("*", "**", "src", "hello", ".") for line in lines), text
    for line in lines:
        if line.startswith("!"):
            path = line[1:]
            assert PurePosixPath(path).parts, text  # never `!.`
            assert excluded_by_default(path) is None, text
            assert not _inside(path, output_dir), text
    assert caches <= set(lines), (caches, text)


def _inside(path: str, directory: str) -> bool:
    parts = PurePosixPath(directory).parts
    return PurePosixPath(path).parts[:len(parts)] == parts


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
    data = json.loads(text)
    for path, value in strings(data):
        rest = value.replace("$${", "").replace("%%{", "")
        if re.search(r"\.tags\[\d+\]$", path):
            rest = rest.removesuffix(":${TAG}")
        assert "${" not in rest and "%{" not in rest, (path, value)
        assert not re.search(r"[\x00-\x1f\x7f]", value), (path, value)
    for name, body in data["target"].items():
        assert BAKE_TARGET_RE.fullmatch(name), name
        for context in body.get("contexts", {}):
            assert STAGE_NAME_RE.fullmatch(context), context
            assert IMAGE_NAME_RE.fullmatch(context), context


def named_paths(data: dict[str, Any]) -> set[str]:
    """What the path keys (but output-dir, which bslim writes) of [tool.slim] name."""
    path_keys = {k.name for k in KEY_TABLE.keys if k.path and k.name != "output-dir"}
    slim = data.get("tool", {}).get("slim")
    tables = [slim] if isinstance(slim, dict) else []
    targets = tables[0].get("targets") if tables else None
    tables += [t for t in targets.values() if isinstance(t, dict)] \
        if isinstance(targets, dict) else []
    out: set[str] = set()
    for table in tables:
        for key in path_keys & set(table):
            value = table[key]
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item not in ("", "."):
                    out.add(PurePosixPath(item).as_posix())
    return out


@budget(450)  # about one in five renders: the Dockerfile and bake checks run on those
@given(projects(), st.frozensets(st.sampled_from(sorted(SOMETIMES)), max_size=4))
def test_render_any_pyproject(data: dict[str, Any], extra: frozenset[str]) -> None:
    with project_dir(data, extra) as root:
        before = snapshot(root)
        code, out, err = cli("render", "--project", str(root))
        event(f"render exit {code}")
        check_no_traceback(code, out, err, {0, 2})
        if code == 2:
            assert snapshot(root) == before, err
            return
        after = snapshot(root)
        for name in before:  # a file a key names is the user's: never rewritten
            if any(_inside(name, path) for path in named_paths(data)):
                assert after[name] == before[name], name
        the_blueprint = make_blueprint(load(root))
        caches = {f"{t.config.cache.local}/{t.name}" for t in the_blueprint.targets
                  if t.config.cache.local}
        for name, content in after.items():
            text = content.decode("utf-8")
            assert SECRET not in text, name
            if before.get(name) == content:
                continue
            if name == the_blueprint.dockerfile:
                check_dockerfile(text)
            elif name == the_blueprint.bake_file:
                check_bake(text)
            elif name == f"{the_blueprint.dockerfile}.dockerignore":
                check_dockerignore(text, the_blueprint.output_dir, caches)
        assert not [p for p in after if p.endswith(".tmp")]
        # Rendering twice is stable and the check agrees; what reads the same input agrees.
        code, out, err = cli("render", "--project", str(root), "--check")
        check_no_traceback(code, out, err, {0})
        for command in ("config", "matrix"):
            code, out, err = cli(command, "--project", str(root))
            check_no_traceback(code, out, err, {0})


# Paths at the edges of what the path keys may name, each existing now and then (SOMETIMES):
# the project itself, what .dockerignore leaves out, what bslim writes, wheelhouses under dist/.
PATH_EDGES = [".", ".env", ".git", ".venv/lib", "src/__pycache__", "bake", "bake/Dockerfile",
              "bake/shim", "bake/shim/pip_for_target.py", "dist/wheels", "dist/constraints.txt",
              "ops/Dockerfile", "Dockerfile", "req.txt", "wheels", ".cache/bk", "src", "hello"]
PATH_KEYS = [(k, f"{k.name}.{s.name}" if s is not k else k.name)
             for k in KEY_TABLE.keys for s in ([k] if k.table is None else keys_of(k.table))
             if s.path]


@st.composite
def edge_projects(draw: st.DrawFn) -> dict[str, Any]:
    """A project that renders but for its path keys and target names, drawn at their edges."""
    slim: dict[str, Any] = {"image": "ghcr.io/acme/hello"}
    for decl, dotted in draw(st.lists(st.sampled_from(PATH_KEYS), max_size=2, unique=True)):
        sub = next(s for s in ([decl] if decl.table is None else keys_of(decl.table))
                   if dotted.endswith(s.name))
        one = st.sampled_from(PATH_EDGES)
        value = draw(st.lists(one, min_size=1, max_size=2) if sub.kind == "list" else one)
        if sub is decl:
            slim[decl.name] = value
        else:
            slim[decl.name] = {sub.name: value}
    valid = st.sampled_from(["a", "Z", "Api", "web", "x_y-z", "b-", "default", "api-wheels",
                             "c--9", "d__e"])
    names = draw(st.lists(mostly(valid, NAME), max_size=3, unique=True))
    if names:
        slim["targets"] = {name: {"image": f"ghcr.io/acme/t{index}"}
                           for index, name in enumerate(names)}
    return {"project": {"name": "hello", "version": "1.0.0", "dependencies": [],
                        "scripts": {"hello": "hello:main"}}, "tool": {"slim": slim}}


@SETTINGS
@given(edge_projects(), st.frozensets(st.sampled_from(sorted(SOMETIMES)), max_size=6))
def test_render_paths_and_target_names_at_their_edges(data: dict[str, Any],
                                                      extra: frozenset[str]) -> None:
    test_render_any_pyproject.hypothesis.inner_test(data, extra)  # type: ignore[attr-defined]


@SETTINGS
@given(projects(), st.booleans(), st.one_of(st.none(), STRING))
def test_init_any_pyproject(data: dict[str, Any], force: bool, image: str | None) -> None:
    with project_dir(data) as root:
        before = snapshot(root)
        argv = ["init", "--project", str(root), *(["--force"] if force else [])]
        code, out, err = cli(*argv, *([f"--image={image}"] if image is not None else []))
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
TAG_RULES = strategy_for(next(k for k in KEY_TABLE.keys if k.name == "tags"))


@SETTINGS
@given(st.one_of(st.none(), VERSIONS), st.one_of(st.none(), REFS),
       st.one_of(st.none(), st.text("0123456789abcdef", min_size=7, max_size=40),
                 st.text("0123456789abcdef", max_size=45), STRING),
       st.sampled_from([[], ["--json"], ["--images"], ["--no-version"]]), TAG_RULES)
def test_tags_any_input(version: str | None, ref: str | None, sha: str | None,
                        flags: list[str], rules: Any) -> None:
    data = {"project": {"name": "hello", "version": "1.0.0", "scripts": {"hello": "h:m"}},
            "tool": {"slim": {"image": "ghcr.io/acme/hello", "tags": rules}}}
    argv = ["tags", *flags]
    for option, value in (("--version", version), ("--ref", ref), ("--sha", sha)):
        if value is not None:
            argv += [f"{option}={value}"]
    with project_dir(data) as root:
        code, out, err = cli(*argv, "--project", str(root))
    event(f"tags exit {code}")
    check_no_traceback(code, out, err, {0, 2})


# --- merge: the staging records a CI job downloads, and the final tags -------------------------

IMAGE = "ghcr.io/acme/hello"
PLATFORMS = ("linux/amd64", "linux/arm/v7")
DIGESTS = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
RECORDS = st.fixed_dictionaries(
    {"format": mostly(st.just(staging.RECORD_FORMAT), SCALAR),
     "image": mostly(st.sampled_from([IMAGE, "ghcr.io/acme/other"]), STRING),
     "target": mostly(st.sampled_from(["hello", "api"]), STRING),
     "platform": mostly(st.sampled_from([*PLATFORMS, "linux/arm64"]), STRING),
     "digest": mostly(DIGESTS, STRING),
     "ref": mostly(st.just(f"{IMAGE}:stage"), STRING),
     "mode": mostly(st.sampled_from(staging.MODES), STRING)},
    optional={"extra": SCALAR})
RECORD_TEXT = st.one_of(
    RECORDS.map(json.dumps),
    st.lists(st.one_of(STRING, SCALAR), max_size=3).map(json.dumps),
    TEXT, st.sampled_from(["", "{", "null", "[]", '{"format": 1}']))
RECORD_NAMES = st.one_of(
    st.sampled_from(["hello-linux-amd64.json", "hello-linux-arm-v7.json", "a/x.json",
                     "b/c/y.json", "notes.txt", "z.json"]),
    st.from_regex(r"[a-z0-9_-]{1,8}\.json", fullmatch=True))


@SETTINGS
@given(st.dictionaries(RECORD_NAMES, RECORD_TEXT, max_size=4),
       st.lists(st.one_of(STRING, st.sampled_from(["1.4.2", f"{IMAGE}:x", "other/img:1",
                                                   f"{IMAGE}@sha256:" + "0" * 64])),
                max_size=3))
def test_merge_any_stage_records_and_tags(records: dict[str, str], tags: list[str]) -> None:
    data = {"project": {"name": "hello", "version": "1.0.0", "scripts": {"hello": "h:m"}},
            "tool": {"slim": {"image": IMAGE, "platforms": list(PLATFORMS)}}}
    with project_dir(data) as root:
        target = make_blueprint(load(root)).targets[0]
        stage = root / "stage"
        for name, text in records.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text(text, encoding="utf-8")
        stage.mkdir(exist_ok=True)
        try:
            final = refs.final_tags(IMAGE, tags, "dev")
            merge = merging.merge_steps(target, publish.read_staging_dir(stage), tags=final,
                                        annotations={}, staging_dir=str(stage))
        except BslimError as exc:
            event(f"merge refused ({type(exc).__name__})")
            assert exc.message.strip(), exc
            return
    event("merge planned")
    # What imagetools would get: this image's digests, one per platform, and its own tags.
    assert merge.platforms == PLATFORMS
    assert len(merge.sources) == len(PLATFORMS)
    assert all(re.fullmatch(rf"{re.escape(IMAGE)}@sha256:[0-9a-f]{{64}}", s)
               for s in merge.sources), merge.sources
    assert merge.tags and all(t.startswith(f"{IMAGE}:") and
                              re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                                           t.removeprefix(f"{IMAGE}:")) for t in merge.tags)


def test_every_key_is_drawn() -> None:
    # Derived from the declarations: a key added later is in the strategies without an edit.
    drawn = set(SLIM_VALUES) | {f"{k.name}.{s.name}" for k in KEY_TABLE.keys if k.table
                                for s in keys_of(k.table)}
    assert drawn == declared_names(KEY_TABLE.keys)
    assert set(VALID) <= drawn, set(VALID) - drawn  # no stale entry for a renamed key
