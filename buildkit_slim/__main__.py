"""The `bslim` console script and `python -m buildkit_slim`.

Its first statements catch SIGINT and SIGTERM: everything after them (the command line, Typer)
is imported with a handler in place, so a Ctrl-C at any moment is the one line and exit 130,
not a traceback. entry.console then installs the handlers the commands run with.
"""

import _signal  # type: ignore[import-not-found]  # CPython's own: no signal.py, enum to import
import sys


def _before_bslim(signum: int, frame: object) -> None:
    """Until entry.console has installed the real handlers: nothing to stop or clean yet."""
    try:
        name = "SIGINT" if signum == _signal.SIGINT else "SIGTERM"
        sys.stderr.write(f"error: interrupted ({name})\n")
        sys.stderr.flush()
    finally:
        raise SystemExit(128 + signum)


for _signum in (_signal.SIGINT, _signal.SIGTERM):
    if _signal.getsignal(_signum) != _signal.SIG_IGN:
        _signal.signal(_signum, _before_bslim)

from buildkit_slim.entry import console  # noqa: E402 - after the handlers, on purpose


def main() -> None:
    console()


if __name__ == "__main__":
    console()
