"""`bslim init`: add a [tool.slim] table to pyproject.toml, keeping comments and formatting."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from buildkit_slim import config
from buildkit_slim.errors import UsageError


def build_table(source: config.ProjectSource, image: str | None) -> tomlkit.items.Table:
    """The values worth writing down: the image, and an entrypoint when none can be derived."""
    meta = config.parse_project(source.pyproject, config.Problems())
    table = tomlkit.table()
    table.add("image", image or str(meta.distribution))
    table.add("python", config.KEY_SPECS["python"].default)
    table.add("debian", config.KEY_SPECS["debian"].default)
    table.add("platforms", list(config.DEFAULT_PLATFORMS))
    problems = config.Problems()
    derived = config.default_entrypoint(meta, source, "entrypoint", problems)
    if derived is None:
        module = meta.name.replace("-", "_").lower()
        table.add("entrypoint", ["python", "-m", module])
        table["entrypoint"].comment("no [project.scripts] entry or __main__.py found: check this")
    return table


def add_table(project: Path, *, image: str | None, force: bool) -> str:
    path = project / "pyproject.toml"
    source = config.read_project(project)
    if image is not None and not config.REPOSITORY_RE.fullmatch(image):
        raise UsageError(f"--image: {image!r} is not a valid image repository without tag "
                         "(e.g. ghcr.io/acme/spark)")
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except TOMLKitError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    tool = doc.get("tool")
    if tool is not None and "slim" in tool and not force:
        raise UsageError(f"{path} already has [tool.slim]",
                         hint="pass --force to replace it")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        doc["tool"] = tool
    table = build_table(source, image)
    tool["slim"] = table
    text = tomlkit.dumps(doc)
    fd, tmp = tempfile.mkstemp(dir=project, prefix=".pyproject.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        Path(tmp).chmod(path.stat().st_mode & 0o777)
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return tomlkit.dumps(table)
