"""`[tool.slim]`: read `pyproject.toml` (I/O), parse it into frozen dataclasses (pure).

The flow, one module each: `read` (the only I/O) -> `parse` (by the key declarations of `model`,
with the validators of `checks`; `[project]` in `project`) -> Config. `reference` derives the
README's key tables and `bslim config`'s listing from the same declarations.
"""

from __future__ import annotations

from pathlib import Path

from buildkit_slim.config.checks import (
    DEBIAN_RELEASES,
    PATH_RULE,
    REPOSITORY_RE,
    safe_path,
    suggest_platform,
)
from buildkit_slim.config.model import (
    CACHE_MARKER,
    DEFAULT_PLATFORMS,
    KEY_TABLE,
    NO_CACHE,
    CacheConfig,
    Config,
    KeyTable,
    TargetConfig,
    is_cache_dir,
)
from buildkit_slim.config.parse import TARGET_NAME_RE, default_entrypoint, parse
from buildkit_slim.config.problems import Problems, dotted, suggest
from buildkit_slim.config.project import (
    CREDENTIALS_HINT,
    ProjectMeta,
    ProjectSource,
    parse_project,
)
from buildkit_slim.config.read import GENERATED_NAMES, SHIM_DIR, read_project
from buildkit_slim.credentials import has_credentials
from buildkit_slim.platforms import PLATFORMS
from buildkit_slim.resources import SHIM_FILE
from buildkit_slim.tag_grammar import TAG_RE

KEYS = KEY_TABLE.keys
KEY_SPECS = {k.name: k for k in KEYS}

__all__ = [
    "CACHE_MARKER",
    "CREDENTIALS_HINT",
    "DEBIAN_RELEASES",
    "DEFAULT_PLATFORMS",
    "GENERATED_NAMES",
    "KEYS",
    "KEY_SPECS",
    "KEY_TABLE",
    "NO_CACHE",
    "PATH_RULE",
    "PLATFORMS",
    "REPOSITORY_RE",
    "SHIM_DIR",
    "SHIM_FILE",
    "TAG_RE",
    "TARGET_NAME_RE",
    "CacheConfig",
    "Config",
    "KeyTable",
    "Problems",
    "ProjectMeta",
    "ProjectSource",
    "TargetConfig",
    "default_entrypoint",
    "dotted",
    "has_credentials",
    "is_cache_dir",
    "load",
    "parse",
    "parse_project",
    "read_project",
    "safe_path",
    "suggest",
    "suggest_platform",
]


def load(root: Path, table: KeyTable = KEY_TABLE) -> Config:
    """The configuration of the project in `root`."""
    return parse(read_project(root, table), table)
