"""`bslim init`: add a [tool.slim] table to pyproject.toml, keeping comments and formatting."""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import MutableMapping
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from buildkit_slim import config, files
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


def _writable(path: Path, shown: Path) -> None:
    """A read-only pyproject.toml is the user's decision: bslim does not replace it (root
    could; the write bit says what the user meant)."""
    mode = path.stat().st_mode
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise UsageError(f"{shown}: is read-only; bslim does not replace it",
                         hint="make it writable (chmod u+w) and run init again")


def _lines(text: str) -> list[str]:
    return [line for line in re.split(r"(?<=\n)", text) if line]


def keep_line_ends(original: str, text: str) -> str:
    """The lines the user wrote keep their own line ends; the lines bslim adds (tomlkit writes
    LF) get the file's usual one, CRLF where most lines end so."""
    crlf = original.count("\r\n")
    if crlf <= original.count("\n") - crlf:
        return text
    old, new = _lines(original), _lines(text)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, _, _, start, end in matcher.get_opcodes():
        for line in new[start:end]:
            bare = tag != "equal" and line.endswith("\n") and not line.endswith("\r\n")
            out.append(line[:-1] + "\r\n" if bare else line)
    return "".join(out)


def add_table(project: Path, *, image: str | None, force: bool) -> str:
    path = project / "pyproject.toml"
    source = config.read_project(project)  # refuses what cannot be read, with the reason
    if image is not None and not config.REPOSITORY_RE.fullmatch(image):
        raise UsageError(f"--image: {image!r} is not a valid image repository without tag "
                         "(e.g. ghcr.io/acme/spark)")
    # Through a symlink to the file it names: the link stays a link.
    real = path.resolve()
    _writable(real, path)
    # The bytes as they are: read_text would turn CRLF into LF.
    original = real.read_bytes().decode("utf-8")
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
    if isinstance(tool, tomlkit.items.InlineTable):
        raise UsageError(f"{path}: tool is an inline table (tool = {{...}}); bslim adds "
                         "[tool.slim] as a table of its own, which TOML does not allow inside "
                         "one", hint="write it as [tool.<name>] sections first")
    table = build_table(source, image)
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        doc["tool"] = tool
    tool["slim"] = table
    text = keep_line_ends(original, tomlkit.dumps(doc))
    files.write_file(real, text.encode("utf-8"))
    return tomlkit.dumps(table)
