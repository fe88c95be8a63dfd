"""Dockerfile instructions, whatever the stage: RUN with its mounts, apt-get, shell words."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

__all__ = ["Shell", "_apt", "_run", "_shell"]


class Shell(str):
    """An argument written as the shell must see it (it expands a build argument)."""

    __slots__ = ()


def _run(mounts: Iterable[str], commands: list[str]) -> list[str]:
    """A RUN instruction, one mount or command per line, commands chained with &&."""
    head = ["RUN " + " \\\n    ".join(mounts)] if mounts else []
    body = " \\\n && ".join(commands)
    if head:
        return [head[0] + " \\\n    " + body]
    return ["RUN " + body]


def _apt(packages: tuple[str, ...]) -> list[str]:
    if not packages:
        return []
    unpinned = ["# Versions as [tool.slim] gives them (`name=version` pins one):",
                "# hadolint ignore=DL3008"] if any("=" not in p for p in packages) else []
    return [*unpinned, *_run([], [
        "apt-get update",
        "apt-get install -y --no-install-recommends " + " ".join(map(shlex.quote, packages)),
        "rm -rf /var/lib/apt/lists/*",
    ])]


def _shell(args: Iterable[str]) -> str:
    return " ".join(a if isinstance(a, Shell) else shlex.quote(a) for a in args)
