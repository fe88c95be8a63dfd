"""One declaration per key: parsing, the schema, `bslim config` and the README tables all follow
the models' `key(...)` fields, and the committed README is what they say.

The proof: models with throwaway keys (one per kind of place a key can live: every target, a
path in the project, the cache sub-table, the tags sub-table) and nothing else changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

import buildkit_slim
from buildkit_slim import schema
from buildkit_slim._compat import tomllib
from buildkit_slim.config import (
    KEY_TABLE,
    CacheConfig,
    Config,
    KeyTable,
    TargetConfig,
    checks,
    load,
    reference,
    tag_checks,
)
from buildkit_slim.errors import ConfigError
from buildkit_slim.keys import KINDS, key, keys_of
from buildkit_slim.tags import TagError, TagRules
from tests.unit.conftest import WriteProject

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


# --- the throwaway keys: declarations, and nothing else -------------------------------------

@dataclass(frozen=True, kw_only=True)
class LouderCache(CacheConfig):
    days: int = key(7, "Days a cache entry is kept.")


@dataclass(frozen=True, kw_only=True)
class LouderTags(TagRules):
    shout_tag: bool = key(False, "Also tag `LOUD`.")
    # A tag rule's validator, declared once: parsing and the model itself both use it.
    shout_suffix: str = key("", "Put after `LOUD`.", check=tag_checks.suffix)


@dataclass(frozen=True, kw_only=True)
class LouderTarget(TargetConfig):
    shout: bool = key(False, "Print the greeting in capitals.")
    motd: str | None = key(None, "File in the project shown at start.", kind="str",
                           check=checks.project_file, path=True)
    cache: CacheConfig = key(LouderCache(), "Build cache.")


@dataclass(frozen=True, kw_only=True)
class LouderConfig(Config):
    tags: TagRules = key(LouderTags(), "Rules of `bslim tags`.", top_only=True)


LOUDER = KeyTable(config=LouderConfig, target=LouderTarget)
PROJECT = """\
    [project]
    name = "spark"
    version = "1.4.2"

    [project.scripts]
    spark = "spark.cli:main"
"""


def test_a_new_key_is_parsed(write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
        [tool.slim]
        shout = true
        motd = "motd.txt"
        cache = { days = 3 }
        tags = { shout-tag = true }

        [tool.slim.targets.api]
        [tool.slim.targets.quiet]
        image = "ghcr.io/acme/quiet"
        shout = false
    """, {"motd.txt": "hi\n"})
    cfg = load(root, LOUDER)
    api, quiet = cfg.targets
    assert isinstance(api, LouderTarget) and isinstance(quiet, LouderTarget)
    assert (api.shout, quiet.shout, api.motd, api.cache) == (
        True, False, "motd.txt", LouderCache(days=3))
    assert (dict(api.sources)["shout"], dict(quiet.sources)["shout"]) == (
        "tool.slim", "tool.slim.targets.quiet")
    assert cfg.tags == LouderTags(shout_tag=True)
    # Not set: its default.
    plain = load(write_project(PROJECT + "[tool.slim]\n"), LOUDER)
    target = plain.targets[0]
    assert isinstance(target, LouderTarget)
    assert (target.shout, target.motd, target.cache, plain.tags) == (
        False, None, LouderCache(), LouderTags())


def test_a_new_key_is_validated(write_project: WriteProject) -> None:
    root = write_project(PROJECT + """
        [tool.slim]
        shuot = true
        motd = "missing.txt"
        cache = { days = "3" }
        tags = { shout-tag = 1, shout-suffix = "+x" }

        [tool.slim.targets.api]
        shout = "yes"
    """)
    with pytest.raises(ConfigError) as info:
        load(root, LOUDER)
    assert info.value.problems == (
        "tool.slim.shuot: unknown key; did you mean 'shout'?",
        "tool.slim.tags.shout-tag: must be a boolean, got an integer",
        "tool.slim.tags.shout-suffix: '+x' cannot end an OCI tag (only letters, digits, '_', "
        "'.', '-')",
        "tool.slim.cache.days: must be an integer, got a string",
        "tool.slim.targets.api.shout: must be a boolean, got a string",
        "tool.slim.motd: file 'missing.txt' does not exist in the project",
    )


def test_a_new_tag_rule_is_validated_by_the_model_too() -> None:
    assert LouderTags(shout_suffix="-x").shout_suffix == "-x"
    with pytest.raises(TagError, match=r"^tool\.slim\.tags\.shout-suffix: '\+x' cannot end"):
        LouderTags(shout_suffix="+x")


def test_the_schema_knows_a_new_key() -> None:
    properties = schema.schema(LOUDER)["properties"]
    assert properties["shout"] == {"type": "boolean", "default": False,
                                   "description": "Print the greeting in capitals."}
    per_target = properties["targets"]["additionalProperties"]["properties"]
    assert per_target["shout"] == properties["shout"]
    assert properties["cache"]["properties"]["days"]["type"] == "integer"
    assert "shout-tag" in properties["tags"]["properties"]
    jsonschema.validate({"shout": True, "cache": {"days": 3}}, schema.schema(LOUDER))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"shout": "yes"}, schema.schema(LOUDER))
    assert "shout" not in schema.schema()["properties"]


def test_bslim_config_lists_a_new_key(write_project: WriteProject) -> None:
    root = write_project(PROJECT + '[tool.slim]\nshout = true\ncache = { days = 3 }\n')
    lines = reference.listing(load(root, LOUDER))
    assert f"{'shout':<19} = true  # tool.slim" in lines
    assert f"{'motd':<19} = null  # default" in lines
    assert f"{'cache':<19} = " + '{"days": 3}  # tool.slim' in lines


def test_the_readme_tables_know_a_new_key() -> None:
    tables = reference.tables(LOUDER)
    assert "| `shout` | `false` | Print the greeting in capitals. |" in tables["tool.slim"]
    assert "| `days` | `7` | Days a cache entry is kept. |" in tables["tool.slim.cache"]
    assert "| `shout-tag` | `false` | Also tag `LOUD`. |" in tables["tool.slim.tags"]
    assert "| `shout-suffix` | `\"\"` | Put after `LOUD`. |" in tables["tool.slim.tags"]
    assert "`motd`" in tables["paths"]
    # ...so the committed README, which does not, fails its drift test below.
    text = README.read_text(encoding="utf-8")
    assert reference.update(text, LOUDER) != text


# --- drift: the committed artefacts are what the declarations say ---------------------------

def test_the_readme_key_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert reference.update(text) == text, (
        f"README.md's key tables are stale: run `{reference.REGENERATE}`")


def test_a_readme_without_its_regions_is_refused() -> None:
    with pytest.raises(ValueError, match="regions"):
        reference.update("no tables here\n")


def test_every_declaration_is_complete() -> None:
    for model in (KEY_TABLE.config, KEY_TABLE.target, CacheConfig, TagRules):
        for decl in keys_of(model):
            assert decl.kind in KINDS and decl.doc.endswith((".", ")")), decl
            assert decl.name == decl.attr.replace("_", "-")
    assert [k.name for k in KEY_TABLE.top_only] == ["output-dir", "tags"]


def test_a_declaration_without_a_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="say its kind"):
        key(None, "No way to tell its type.")


def test_the_version_is_written_once() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    version = pyproject["project"]["version"]
    assert buildkit_slim.__version__ == version
    assert version not in (REPO / "buildkit_slim" / "__init__.py").read_text(encoding="utf-8")
