"""`bslim init`: add a [tool.slim] table to pyproject.toml, keeping comments and formatting."""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from buildkit_slim import config
from buildkit_slim.errors import ConfigError, UsageError


def build_table(source: config.ProjectSource, image: str | None) -> tomlkit.items.Table:
    """The values worth writing down: the image, and an entrypoint when none can be derived."""
    problems = config.Problems()
    meta = config.parse_project(source.pyproject, problems)
    if not isinstance(source.pyproject.get("project"), dict):
        raise UsageError(f"{source.root / 'pyproject.toml'}: no [project] table; bslim reads "
                         "the project's name and dependencies there (PEP 621)",
                         hint="Poetry before 2.0 and other tools keep them elsewhere: add a "
                              "[project] table first")
    if problems.items:  # render would refuse them too; and they are no comment material
        raise ConfigError(problems.items)
    table = tomlkit.table()
    table.add("image", image or str(meta.distribution))
    table.add("python", config.KEY_SPECS["python"].default)
    table.add("debian", config.KEY_SPECS["debian"].default)
    table.add("platforms", list(config.DEFAULT_PLATFORMS))
    derived = config.default_entrypoint(meta, source, "entrypoint", config.Problems())
    if derived is None and len(meta.scripts) > 1:
        # Any of them runs; which one the image should run is the user's call.
        table.add("entrypoint", [meta.scripts[0]])
        table["entrypoint"].comment(f"[project.scripts] has {len(meta.scripts)} entries "
                                    f"({', '.join(meta.scripts)}): pick the image's")
    elif derived is None:
        module = meta.name.replace("-", "_").lower()
        table.add("entrypoint", ["python", "-m", module])
        table["entrypoint"].comment("no [project.scripts] entry or __main__.py found: check this")
    return table


def add_table(project: Path, *, image: str | None, force: bool) -> str:
    path = project / "pyproject.toml"
    source = config.read_project(project)  # refuses what cannot be read, with the reason
    if image is not None and not config.REPOSITORY_RE.fullmatch(image):
        raise UsageError(f"--image: {image!r} is not a valid image repository without tag "
                         "(e.g. ghcr.io/acme/spark)")
    # The bytes as they are: read_text would turn CRLF into LF.
    original = path.read_bytes().decode("utf-8")
    try:
        doc = tomlkit.parse(original)
    except TOMLKitError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: arrays or tables nested too deeply to read") from None
    tool = doc.get("tool")
    if tool is not None and not isinstance(tool, MutableMapping):
        raise UsageError(f"{path}: tool must be a table, not {type(tool).__name__}; bslim adds "
                         "[tool.slim] there")
    if tool is not None and "slim" in tool and not force:
        raise UsageError(f"{path} already has [tool.slim]",
                         hint="pass --force to replace it")
    table = build_table(source, image)
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        doc["tool"] = tool
    tool["slim"] = table
    text = tomlkit.dumps(doc)
    if "\r\n" in original:  # what tomlkit adds ends lines with LF: keep the file's CRLF
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    # Through a symlink to the file it names: the link stays a link.
    real = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=".pyproject.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        Path(tmp).chmod(real.stat().st_mode & 0o777)
        Path(tmp).replace(real)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return tomlkit.dumps(table)
