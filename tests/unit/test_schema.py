"""The committed JSON schema is what the key declarations say, and it accepts what bslim accepts."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from buildkit_slim import schema
from buildkit_slim._compat import tomllib
from buildkit_slim.config import KEYS, CacheConfig
from buildkit_slim.keys import keys_of
from buildkit_slim.tags import TagRules

COMMITTED = Path(schema.__file__).with_name("schema.json")
GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text() == schema.render(), (
        "buildkit_slim/schema.json is stale: run "
        "`python -m buildkit_slim.schema > buildkit_slim/schema.json`")


def test_every_key_is_in_the_schema() -> None:
    properties = schema.schema()["properties"]
    assert {spec.name for spec in KEYS} | {"targets"} == set(properties)
    assert set(properties["cache"]["properties"]) == {k.name for k in keys_of(CacheConfig)}
    assert set(properties["tags"]["properties"]) == {k.name for k in keys_of(TagRules)}


@pytest.mark.parametrize("pyproject", [
    *sorted(GOLDEN.glob("*/pyproject.toml")), REPO / "pyproject.toml",
    REPO / "examples" / "hello" / "pyproject.toml",
], ids=lambda p: p.parent.name)
def test_valid_configurations_pass(pyproject: Path) -> None:
    table = tomllib.loads(pyproject.read_text())["tool"]["slim"]
    jsonschema.validate(table, schema.schema())


@pytest.mark.parametrize(("table", "path"), [
    ({"platfroms": ["linux/amd64"]}, []),
    ({"platforms": ["linux/armv7"]}, ["platforms", 0]),
    ({"targets": {"api": {"output-dir": "x"}}}, ["targets", "api"]),
    ({"cache": {"registri": "r"}}, ["cache"]),
    ({"tags": {"sha-length": "7"}}, ["tags", "sha-length"]),
    ({"tags": {"sha-length": 6}}, ["tags", "sha-length"]),
    ({"tags": {"patterns": []}}, ["tags", "patterns"]),
    ({"tags": {"patterns": ["{{version}}", 1]}}, ["tags", "patterns", 1]),
    ({"tags": {"non-version": "skip"}}, ["tags", "non-version"]),
])
def test_invalid_configurations_fail(table: dict[str, object], path: list[object]) -> None:
    with pytest.raises(jsonschema.ValidationError) as caught:
        jsonschema.validate(table, schema.schema())
    assert list(caught.value.absolute_path) == path
