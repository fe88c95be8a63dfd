"""Every `bslim ...` command line the README shows names a real command and only flags it accepts.

Command lines are taken from the README's fenced code blocks (the part of a line from `bslim`
on, comments included, since they show alternatives) and from its inline code spans that start
with `bslim ` (the command table and the prose). A flag is accepted when the command's own
`--help` lists it: a flag that is misspelled, renamed or gone fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from buildkit_slim.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
FLAG = re.compile(r"(?<![\w./-])(--?[A-Za-z][A-Za-z0-9-]*)")
SPAN = re.compile(r"`(bslim [^`]+)`")


@dataclass(frozen=True)
class Shown:
    line: int
    text: str  # from `bslim` on

    @property
    def command(self) -> str | None:
        """The subcommand, or None for `bslim --version` and the like."""
        first = self.text.split()[1]
        return None if first.startswith("-") else first

    @property
    def flags(self) -> list[str]:
        # `[--load\|--push]` in a table cell is `--load|--push`.
        return FLAG.findall(self.text.replace("\\|", "|"))


def shown_commands(text: str) -> list[Shown]:
    """Every `bslim ...` command line of a README text."""
    found: list[Shown] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            # `bslim bake ...   # or BSLIM_NETRC=FILE; bslim plan takes it too`: each `bslim`
            # starts a command line of its own; a comment's prose carries no flags.
            for part in re.split(r"(?=(?<![\w/.-])bslim )", line)[1:]:
                words = part.split("#")[0] if " #" in part else part
                found.append(Shown(number, words.strip()))
        else:
            found += [Shown(number, span) for span in SPAN.findall(line)]
    return [shown for shown in found if len(shown.text.split()) > 1]


@cache
def accepted(command: str | None) -> frozenset[str]:
    """The flags `bslim [command] --help` lists; empty when there is no such command."""
    argv = ["--help"] if command is None else [command, "--help"]
    result = CliRunner().invoke(app, argv, env={"COLUMNS": "300", "NO_COLOR": "1"})
    if result.exit_code != 0:
        return frozenset()
    return frozenset(FLAG.findall(result.output))


def problems(shown: list[Shown]) -> list[str]:
    out = []
    for item in shown:
        flags = accepted(item.command)
        if not flags:
            out.append(f"README.md:{item.line}: `{item.text}`: no command {item.command!r}")
            continue
        out += [f"README.md:{item.line}: `{item.text}`: {flag} is not an option of "
                f"`bslim {item.command or ''}`"
                for flag in item.flags if flag not in flags]
    return out


def test_every_readme_command_line_shows_only_flags_its_command_accepts() -> None:
    shown = shown_commands(README.read_text(encoding="utf-8"))
    # The check can only be as good as what it finds: the command table, the fenced examples
    # and the workflow's steps are all there.
    commands = {item.command for item in shown}
    assert {"init", "render", "config", "bake", "plan", "doctor", "size", "matrix", "merge",
            "tags", "release", None} <= commands, commands
    assert sum(len(item.flags) for item in shown) > 50
    assert problems(shown) == []


@pytest.mark.parametrize(("line", "wrong"), [
    ("```sh\nbslim bake --netcr ~/.config/acme.netrc   # or BSLIM_NETRC=FILE\n```", "--netcr"),
    ("| `bslim bake [TARGET...] [--load\\|--psuh]` | builds |", "--psuh"),
    ("`bslim release 1.4.2 --form edge`", "--form"),
    ("```\nbslim size IMAGE --project .\n```", "--project"),
    ("```\nbslim merge --staging d   # or: bslim merge t --stgaing d\n```", "--stgaing"),
])
def test_a_misspelled_or_missing_flag_is_found(line: str, wrong: str) -> None:
    found = problems(shown_commands(line))
    assert len(found) == 1 and f"{wrong} is not an option" in found[0], found


def test_a_command_that_does_not_exist_is_found() -> None:
    assert problems(shown_commands("`bslim biuld --push`")) == [
        "README.md:1: `bslim biuld --push`: no command 'biuld'"]


def test_the_readme_lines_are_found_where_they_are() -> None:
    text = "x\n```sh\nexport A=1\nbslim bake --set 'a=b'   # or: bslim plan --platform p\n```\n"
    assert [(s.line, s.text, s.command, s.flags) for s in shown_commands(text)] == [
        (4, "bslim bake --set 'a=b'", "bake", ["--set"]),
        (4, "bslim plan --platform p", "plan", ["--platform"]),
    ]
