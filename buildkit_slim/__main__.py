"""The `bslim` console script and `python -m buildkit_slim`.

Its first statements catch SIGINT and SIGTERM: everything after them (the command line, Typer)
is imported with a handler in place, so a Ctrl-C at any moment is the one line and exit 130,
not a traceback. entry.console then installs the handlers the commands run with.
"""

import signal
import sys


def _before_bslim(signum: int, frame: object) -> None:
    """Until entry.console has installed the real handlers: nothing to stop or clean yet."""
    try:
        sys.stderr.write(f"error: interrupted ({signal.Signals(signum).name})\n")
        sys.stderr.flush()
    finally:
        raise SystemExit(128 + signum)


for _signal in (signal.SIGINT, signal.SIGTERM):
    if signal.getsignal(_signal) != signal.SIG_IGN:
        signal.signal(_signal, _before_bslim)

from buildkit_slim.entry import console  # noqa: E402 - after the handlers, on purpose


def main() -> None:
    console()


if __name__ == "__main__":
    console()
