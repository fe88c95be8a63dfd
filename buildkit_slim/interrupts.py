"""Ctrl-C and SIGTERM: exit 130 / 143 with one line, whenever they come; no docker process
left running and no half-written file.

`handled()` turns both signals into `Interrupted`, a BaseException: no `except Exception`
swallows it, and Typer does not see a KeyboardInterrupt (it turns that into an exit code the
caller has to notice). Before it is raised, every process bslim started (the docker CLI, and the
buildx plugin below it, also when it starts after the signal) gets the same signal and a few
seconds to stop — buildx cancels the build on the engine when it stops — then SIGKILL; so the
`finally` blocks that clean up run after the build has stopped writing. Only the first signal
raises: one that comes while the cleanup runs is remembered, not raised, so that the cleanup
completes. `deferred()` holds signals back for a few statements that must happen together
(renaming a new generation in).

The console script (buildkit_slim/__main__.py) catches both signals in its first statements and
installs these handlers before it imports the command line; this module imports only what the
interpreter has loaded already (os, signal, sys, time), to keep that early stretch short.
"""
# No pathlib or contextlib here, for that reason.
# ruff: noqa: PTH112, PTH123, PTH208, SIM105

from __future__ import annotations

import os
import signal
import sys
import time

TYPE_CHECKING = False  # not typing's: importing typing would widen the window before install
if TYPE_CHECKING:
    from types import FrameType, TracebackType
    from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long the docker CLI and buildx get to cancel the build before they are killed.
GRACE_SECONDS = 10.0


class Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted ({self.name})")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    installed = False
    raised = False  # the one Interrupted of this process has been raised
    deferring = 0
    pending: int | None = None


_STATE = _State()


def _raise(signum: int) -> None:
    _STATE.raised = True
    stop_children(signum)
    raise Interrupted(signum)


def _handler(signum: int, frame: FrameType | None) -> None:
    if _STATE.raised or _STATE.deferring:
        if _STATE.pending is None:
            _STATE.pending = signum
        return
    _raise(signum)


def _install() -> dict[signal.Signals, Any]:
    previous: dict[signal.Signals, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        if previous[sig] != signal.SIG_IGN:  # nohup, `&` in a script: stays ignored
            signal.signal(sig, _handler)
    _STATE.installed, _STATE.raised, _STATE.pending = True, False, None
    return previous


def install() -> None:
    """For the console script: the handlers stay until the process ends."""
    if not _STATE.installed:
        _install()


class handled:  # noqa: N801 - used as `with interrupts.handled():`
    """The handlers for the duration of a `with` (nothing when they are installed already,
    or off the main thread); the previous ones come back after it."""

    def __enter__(self) -> None:
        import threading

        self.previous: dict[signal.Signals, Any] | None = None
        if not _STATE.installed and threading.current_thread() is threading.main_thread():
            self.previous = _install()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.previous is not None:
            for sig, old in self.previous.items():
                signal.signal(sig, old)
            _STATE.installed = False


class deferred:  # noqa: N801 - used as `with interrupts.deferred():`
    """Statements that must happen together: a signal during them is raised after them."""

    def __enter__(self) -> None:
        _STATE.deferring += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _STATE.deferring -= 1
        if not _STATE.deferring and _STATE.pending is not None and not _STATE.raised:
            signum, _STATE.pending = _STATE.pending, None
            _raise(signum)


def settle() -> None:
    """The command is over: a signal from now on is remembered, not raised."""
    _STATE.raised = True


def block() -> None:
    """The process is exiting with its command's status: signals stay pending until then (the
    interpreter puts the default handlers back while it shuts down)."""
    _STATE.raised = True
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def within(exc: BaseException) -> Interrupted | None:
    """The Interrupted that `exc` was raised from or while handling, if any (an exception
    that wraps one: an interrupt all the same)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, Interrupted):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def report(exc: Interrupted) -> None:
    """The one line; then the exit code."""
    try:
        print(f"error: {exc}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
    raise SystemExit(exc.exit_code) from None


# --- the processes bslim started ---------------------------------------------------------------

def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, start time, command name) of every live process that can be seen.
    The start time tells a pid reused by another process; the name changes when the process
    runs another program (exec), e.g. the docker CLI's child becoming the buildx plugin."""
    out: dict[int, tuple[int, str, str]] = {}
    if os.path.isdir("/proc"):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                    head, _, tail = handle.read().rpartition(")")
            except OSError:
                continue
            fields = tail.split()
            if len(fields) > 19 and fields[0] != "Z":
                out[int(name)] = (int(fields[1]), fields[19], head.partition("(")[2])
        return out
    import subprocess  # no /proc (macOS): ps, without start times

    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat=",
                                  "-o", "comm="],
                                 capture_output=True, text=True, check=False, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return out
    for line in listing.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit() \
                and not parts[2].startswith("Z"):
            out[int(parts[0])] = (int(parts[1]), "", parts[3] if len(parts) > 3 else "")
    return out


def _below(table: dict[int, tuple[int, str, str]], root: int) -> dict[int, tuple[str, str]]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, tuple[str, str]] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = table[child][1:]
                todo.append(child)
    return found


def descendants(root: int | None = None) -> dict[int, str]:
    """The live processes below `root` (default: this one): pid -> start time."""
    below = _below(_processes(), os.getpid() if root is None else root)
    return {pid: started for pid, (started, _) in below.items()}


def _reap() -> None:
    """Collect exited children of this process (their Popen objects went with the call that
    was interrupted, and orphans adopted meanwhile have none)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class _Adopting:
    done = False


def adopt_orphans() -> None:
    """Linux: a process orphaned below this one comes to it, not to init (PR_SET_CHILD_SUBREAPER).
    Called before the first docker process starts: the docker CLI that dies of a signal just
    after starting the buildx plugin leaves buildx to this process, where `stop_children` finds
    and stops it; under init it would go on building. Elsewhere: nothing."""
    if _Adopting.done or not sys.platform.startswith("linux"):
        return
    _Adopting.done = True
    try:
        import ctypes

        pr_set_child_subreaper = 36
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def stop_children(signum: int, grace: float = GRACE_SECONDS) -> None:
    """Pass the signal to every process below this one (the docker CLI, the buildx plugin it
    started, what those started) and wait until all of them are gone; SIGKILL what is left
    after `grace` seconds.

    The tree is watched, not looked at once: a process that appears after the signal (buildx
    started by a docker CLI that had the signal already) gets it too, and so does one that ran
    another program since it got it (a signal between a fork and its exec reaches the copy of
    the parent, whose handler does nothing with it; the program exec'd never sees it). Only
    processes below this one are signalled: what bslim started, and their orphans, which come
    to it (`adopt_orphans`)."""
    me = os.getpid()
    signalled: dict[int, tuple[str, str]] = {}  # pid -> (start time, name) when signalled
    killing = False
    deadline = time.monotonic() + grace
    while True:
        _reap()
        below = _below(_processes(), me)
        if not below:
            return
        now = time.monotonic()
        if not killing and now >= deadline:
            killing, deadline, signalled = True, now + 5, {}
        elif killing and now >= deadline:
            return
        for pid, seen in below.items():
            if signalled.get(pid) != seen:
                signalled[pid] = seen
                _kill(pid, signal.SIGKILL if killing else signum)
        time.sleep(0.02)
