"""Errors with fixed exit codes, caught in one place (entry.main).

0 ok, 1 build or check failed, 2 usage or configuration error, 3 environment problem
(130 / 143: interrupted, see interrupts.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from buildkit_slim.credentials import redact


class BslimError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, detail: str | None = None) -> None:
        # What the user gave is quoted in messages: never a URL's credentials it holds.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = hint and redact(hint)
        # Extra lines (e.g. the tail of a build log) printed after the error line.
        self.detail = detail and redact(detail)


class BuildFailed(BslimError):
    exit_code = 1


class CheckFailed(BslimError):
    exit_code = 1


class UsageError(BslimError):
    exit_code = 2


class ConfigError(UsageError):
    """Every configuration problem at once, each naming its full dotted key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(redact(p) for p in problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} configuration {noun}:\n" + "\n".join(self.problems))


class EnvironmentProblem(BslimError):
    exit_code = 3
