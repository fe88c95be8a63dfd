"""What `bslim` runs: signal handling first, then the command line (imported only then: Ctrl-C
while Typer is still being imported is one line and exit 130 as well), and every failure turned
into its `error:` lines and exit code, in this one place.

Exit codes: 0 ok, 1 a build or check failed, 2 usage or configuration, 3 environment,
130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import signal
import sys

from buildkit_slim import interrupts

TYPE_CHECKING = False  # typing is not imported before the handlers are installed
if TYPE_CHECKING:
    from typing import NoReturn

    from buildkit_slim.errors import BslimError

# What Typer returns for a KeyboardInterrupt it caught (SIGINT that came in before the handler
# was installed, or from a caller's own code): an interrupt all the same.
_TYPER_INTERRUPTED = 130


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def fail(exc: BslimError) -> NoReturn:
    from buildkit_slim.errors import ConfigError

    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            _err(f"error: {problem}")
    else:
        _err(f"error: {exc.message}")
    if exc.detail:
        _err(exc.detail)
    if exc.hint:
        _err(f"hint: {exc.hint}")
    raise SystemExit(exc.exit_code)


def _run(argv: list[str] | None) -> None:
    import os

    if not (sys.argv[1:] if argv is None else argv) and \
            os.environ.get("BUILDKIT_SCAN_SOURCE") and os.environ.get("BUILDKIT_SCAN_DESTINATION"):
        # Bare `bslim` run by BuildKit as an SBOM generator (`bslim bake --sbom`).
        from buildkit_slim import sbom_scan

        raise SystemExit(sbom_scan.protocol(os.environ))
    import typer

    from buildkit_slim.cli import app
    from buildkit_slim.errors import BslimError, UsageError

    try:
        code = app(args=argv, prog_name="bslim", standalone_mode=False)
    except BslimError as exc:
        fail(exc)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except OSError as exc:
        # A path the user named that cannot be used (too long, a file where a directory
        # belongs, no permission): what and why, not a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        fail(UsageError(f"{where}{exc.strerror or exc}"))
    except RecursionError:
        fail(UsageError("the input is nested too deeply to process"))
    except typer.Abort:
        _err("error: aborted")
        raise SystemExit(130) from None
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `bslim`: the help is the message
            _err(exc.format_message())
            raise SystemExit(2) from None
        # Usage errors: one line naming the argument, then where to look.
        _err(f"error: {exc.format_message()}")
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "bslim"
        _err(f"hint: see `{command} --help`")
        raise SystemExit(2) from None
    # Outside standalone mode Typer returns exit codes instead of exiting.
    if code == _TYPER_INTERRUPTED:
        raise interrupts.Interrupted(signal.SIGINT)
    if isinstance(code, int) and code:
        raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """The command line (argv: the arguments, default the process's)."""
    try:
        with interrupts.handled():
            try:
                _run(argv)
            finally:
                interrupts.settle()
    except interrupts.Interrupted as exc:
        interrupts.report(exc)
    except KeyboardInterrupt:  # a SIGINT the handlers did not see (not the main thread)
        interrupts.report(interrupts.Interrupted(signal.SIGINT))
    except Exception as exc:
        # An interrupt that came while a class was being created is wrapped by CPython 3.11
        # ("RuntimeError: Error calling __set_name__ ...", the Interrupted as its cause): a
        # signal during an import (Typer imports pydantic as it parses) is an interrupt still.
        cause = interrupts.within(exc)
        if cause is None:
            raise
        interrupts.report(cause)


def console() -> None:
    """The `bslim` console script: the handlers stay until the process ends, so that a signal
    after the command is done does not end in a traceback."""
    interrupts.install()
    try:
        main()
    finally:
        # The interpreter puts the default handlers back while it shuts down: from here on a
        # signal would kill it with the command already done. Blocked, it is dropped at exit.
        interrupts.block()
