"""Issue #17: a URL with credentials reaches no output, through any key, and no error echoes it.

Every string of [tool.slim] (and of [project], whose values become labels, index annotations
and the installed wheel's metadata) ends up in the committed bake file, the Dockerfile or the
image, so a `user:password@` or `token@` in a URL anywhere is refused, naming the key and never
showing the secret. The cases for [tool.slim] are derived from the key declarations: a key
added later is covered without a new test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from buildkit_slim.config import KEY_TABLE, has_credentials
from buildkit_slim.keys import Key, keys_of
from tests.unit.conftest import WriteProject
from tests.unit.test_cli import run

SECRET = "s3cr3t-t0ken"
URL = f"https://user:{SECRET}@git.example.org/acme/hello"
TOKEN_URL = f"https://{SECRET}@github.com/acme/hello"
PROJECT: dict[str, Any] = {"name": "hello", "version": "1.0.0", "dependencies": [],
                           "scripts": {"hello": "hello:main"}}


def holding(decl: Key, secret: str) -> Any:
    """A value of the key's TOML type with the secret in it (None: this kind holds no text)."""
    if decl.kind == "str":
        return secret
    if decl.kind == "list":
        return [secret]
    if decl.kind == "table":
        return {"X": secret}
    return None


def key_cases() -> list[Any]:
    """(dotted key under [tool.slim], value) for every key that can hold a string."""
    cases = []
    for decl in KEY_TABLE.keys:
        tables = [decl] if decl.table is None else [
            (sub, f"{decl.name}.{sub.name}") for sub in keys_of(decl.table)]
        for item in tables:
            sub, dotted = (item, decl.name) if isinstance(item, Key) else item
            value = holding(sub, URL)
            if value is None:
                continue
            if sub is not decl:
                value = {sub.name: value}
            cases.append(pytest.param(dotted, value, id=dotted))
    return cases


def write(root: Path, data: dict[str, Any]) -> Path:
    (root / "pyproject.toml").write_text(tomlkit.dumps(data), encoding="utf-8")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def refused(capsys: pytest.CaptureFixture[str], root: Path, key: str) -> str:
    """Render: exit 2, nothing written, the key named, the secret nowhere in the output."""
    before = tree(root)
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2, (result.out, result.err)
    assert tree(root) == before
    assert SECRET not in result.out + result.err, result.err
    lines = [e for e in result.err_lines if e.startswith(f"error: {key}")]
    assert lines, result.err
    assert any("credentials" in line for line in lines), result.err
    return lines[0]


@pytest.mark.parametrize(("key", "value"), key_cases())
def test_every_key_refuses_credentials_without_echoing_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any) -> None:
    top = key.partition(".")[0]
    root = write(tmp_path, {"project": PROJECT, "tool": {"slim": {top: value}}})
    refused(capsys, root, f"tool.slim.{top}")


@pytest.mark.parametrize(("key", "value"), [
    pytest.param("env", {"PIP_INDEX_URL": URL}, id="env"),
    pytest.param("labels", {"org.example.repo": TOKEN_URL}, id="labels-token"),
    pytest.param("args", {"EXTRA": f"--extra-index-url {URL}"}, id="args-inside-text"),
    pytest.param("cmd", ["--db", f"postgres://app:{SECRET}@db/app"], id="cmd-dsn"),
    pytest.param("entrypoint", ["hello", f"redis://:{SECRET}@cache:6379"], id="entrypoint"),
    pytest.param("platform-index-urls", {"linux/arm/v7": [URL]}, id="platform-index-urls"),
])
def test_credentials_inside_values_are_refused_per_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: Any) -> None:
    root = write(tmp_path, {"project": PROJECT,
                            "tool": {"slim": {"targets": {"api": {key: value}}}}})
    refused(capsys, root, f"tool.slim.targets.api.{key}")


@pytest.mark.parametrize(("key", "project"), [
    pytest.param("project.urls.Source", {"urls": {"Source": URL}}, id="urls-source"),
    pytest.param("project.urls.Homepage", {"urls": {"Homepage": TOKEN_URL}}, id="urls-home"),
    pytest.param("project.urls.Tracker", {"urls": {"Tracker": URL}}, id="urls-other"),
    pytest.param("project.description", {"description": f"Mirror of {URL}"}, id="description"),
    pytest.param("project.license", {"license": URL}, id="license"),
    pytest.param("project.version", {"version": URL}, id="version"),
    pytest.param("project.optional-dependencies.x[0]",
                 {"optional-dependencies": {"x": [f"pkg @ {URL}.whl"]}}, id="extra-url"),
])
def test_project_values_that_reach_an_output_refuse_credentials(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str,
        project: dict[str, Any]) -> None:
    root = write(tmp_path, {"project": {**PROJECT, **project},
                            "tool": {"slim": {"image": "ghcr.io/acme/hello"}}})
    refused(capsys, root, key)


def test_the_bake_file_never_gets_the_source_url_with_its_token(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The report: Source reached org.opencontainers.image.source in the bake file.
    root = write(tmp_path, {"project": {**PROJECT, "urls": {"Source": URL}},
                            "tool": {"slim": {"image": "ghcr.io/acme/hello"}}})
    line = refused(capsys, root, "project.urls.Source")
    assert "org.opencontainers.image.source" in line, line
    assert not (root / "bake").exists()


@pytest.mark.parametrize("value", [
    "git+ssh://git@github.com/acme/hello",  # a user name, no secret
    "https://github.com/acme/hello@v1",  # '@' in the path
    "ops@example.org",  # an e-mail address
    "https://example.org/?to=a@b.c",  # '@' in the query
])
def test_what_is_not_a_credential_passes(write_project: WriteProject, value: str) -> None:
    from buildkit_slim.config import load

    root = write_project(f"""\
        [project]
        name = "hello"
        dependencies = []
        urls = {{ Source = {json.dumps(value)} }}
        scripts = {{ hello = "hello:main" }}

        [tool.slim]
        labels = {{ "org.example.contact" = {json.dumps(value)} }}
        env = {{ HOME_URL = {json.dumps(value)} }}
    """)
    target = load(root).targets[0]
    assert dict(target.labels)["org.example.contact"] == value
    assert not has_credentials(value)


@pytest.mark.parametrize("key", ["image", "cache", "tags", "builder-base"])
def test_an_invalid_value_with_credentials_is_not_echoed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str) -> None:
    # Values refused for their grammar name themselves in the message: never the secret.
    value: Any = {"image": f"user:{SECRET}@ghcr.io/acme/x",
                  "cache": {"registry": f"user:{SECRET}@ghcr.io/acme/c"},
                  "tags": {"prefix": f"u:{SECRET}@"},
                  "builder-base": f"user:{SECRET}@ghcr.io/python:3"}[key]
    root = write(tmp_path, {"project": PROJECT, "tool": {"slim": {key: value}}})
    result = run(capsys, "render", "--project", str(root))
    assert result.code == 2, result.err
    assert SECRET not in result.err, result.err
    assert result.err.startswith(f"error: tool.slim.{key}"), result.err


@pytest.mark.parametrize("argv", [
    ["init", f"--image={URL}"],
    ["tags", f"--ref=refs/tags/{URL}"],
    ["tags", f"--version={URL}"],
    ["merge", "--staging", "stage", f"--tag={TOKEN_URL}"],
    ["merge", "--staging", "stage", f"--tag=u:{SECRET}@ghcr.io/acme/hello:1"],
], ids=["init-image", "tags-ref", "tags-version", "merge-tag", "merge-tag-ref"])
def test_a_command_line_value_with_credentials_is_not_echoed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    root = write(tmp_path, {"project": PROJECT, **({} if argv[0] == "init" else {
        "tool": {"slim": {"image": "ghcr.io/acme/hello"}}})})
    (root / "stage").mkdir()
    argv = [a.replace("stage", str(root / "stage")) if a == "stage" else a for a in argv]
    result = run(capsys, *argv, "--project", str(root))
    assert result.code == 2, result.err
    assert result.err.startswith("error: "), result.err
    assert SECRET not in result.out + result.err, result.err
