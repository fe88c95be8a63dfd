"""Helpers for tests that run `bslim` as a process and signal it (tests/test_interrupts.py,
tests/test_concurrency.py, tests/e2e/test_interrupts.py).

`launch` starts the console script the way the installed `bslim` script does: it loads the
`bslim` console_scripts entry point from the installed metadata and calls it. A `hook` (Python
source) runs before that, to make the process wait at a chosen point and say `ready` on stdout.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LAUNCH = """\
import sys
from importlib.metadata import entry_points
{hook}
[point] = [e for e in entry_points(group="console_scripts") if e.name == "bslim"]
sys.argv = ["bslim", *sys.argv[1:]]
sys.exit(point.load()())
"""
# Waits (forever) when `typer` is first imported: the import of bslim's command line.
HOOK_IMPORT = """\
import importlib.abc, time
class _Wait(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            print("ready", flush=True)
            time.sleep(600)
        return None
sys.meta_path.insert(0, _Wait())
"""
# Waits once the project has been read.
HOOK_LOAD = """\
import time
import buildkit_slim.config as _config
_read = _config.read_project
def _waiting(*args, **kwargs):
    source = _read(*args, **kwargs)
    print("ready", flush=True)
    time.sleep(600)
    return source
_config.read_project = _waiting
"""
# Waits after the first file of a new generation is written.
HOOK_WRITE = """\
import time
import buildkit_slim.files as _files
_write = _files.write_file
_calls = []
def _waiting(*args, **kwargs):
    _write(*args, **kwargs)
    _calls.append(1)
    if len(_calls) == 1:
        print("ready", flush=True)
        time.sleep(600)
_files.write_file = _waiting
"""


def bslim_script() -> Path:
    """The installed console script next to this interpreter (what users run)."""
    script = Path(sys.executable).parent / "bslim"
    assert script.is_file(), f"no bslim console script next to {sys.executable}"
    return script


def launch(argv: Sequence[str], *, hook: str = "", env: Mapping[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.Popen[str]:
    code = LAUNCH.format(hook=textwrap.dedent(hook))
    return subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(env or os.environ),
                            cwd=cwd)


def wait_ready(process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Until the hook says `ready` (the process killed and the test failed after `timeout`)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if line != "ready\n":
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"not ready after {timeout}s: {line!r}\n{err[-2000:]}")


def kill_children() -> list[int]:
    """Kill what the tests started and did not wait for (a failed assertion in between), and
    what those started; returns their pids."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    below = {os.getpid()}
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in below} - below
        below |= more
        grew = bool(more)
    below.discard(os.getpid())
    for pid in below:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return sorted(below)


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def finish(process: subprocess.Popen[str], timeout: float = 60) -> Outcome:
    """Its exit; one that does not come within `timeout` is a failure, and the process is
    killed rather than left behind."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Outcome(process.returncode, out, err)


EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
LINE = {signal.SIGINT: "error: interrupted (SIGINT)", signal.SIGTERM:
        "error: interrupted (SIGTERM)"}


def handled(outcome: Outcome, sig: signal.Signals) -> bool:
    """Exit 128+n with exactly one line on stderr and no traceback."""
    return outcome.code == EXIT[sig] and outcome.err.splitlines() == [LINE[sig]]


def tree(root: Path) -> dict[str, bytes]:
    """Every file below root (symlinks as their target), by relative posix path."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def entries(root: Path) -> set[str]:
    """Every name below root, directories included (what a leftover would add)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def pid_alive(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/stat").open(encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


PROJECT = """\
[project]
name = "hello"
version = "1.0.0"
dependencies = []

[project.scripts]
hello = "hello:main"

[tool.slim]
image = "127.0.0.1:5000/bslim-e2e/hello"
"""
# Two configurations whose generations differ in the Dockerfile and in the bake file (an
# argument is declared in one and set in the other): a mix of the two is visible.
VARIANTS = {"a": PROJECT + 'args = { ALPHA = "1" }\n', "b": PROJECT + 'args = { BETA = "1" }\n'}


def generation(variant: str, scratch: Path) -> dict[str, bytes]:
    """What `bslim render` writes for a variant, rendered in this process."""
    from buildkit_slim.blueprint import make_blueprint
    from buildkit_slim.config import load
    from buildkit_slim.render import render_all

    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "pyproject.toml").write_text(VARIANTS[variant], encoding="utf-8")
    return {f.path: f.text.encode() for f in render_all(make_blueprint(load(scratch)))}


def set_variant(root: Path, variant: str) -> None:
    """Replace pyproject.toml at once (a reader sees one variant or the other)."""
    temp = root / ".pyproject.toml.next"
    temp.write_text(VARIANTS[variant], encoding="utf-8")
    temp.replace(root / "pyproject.toml")
