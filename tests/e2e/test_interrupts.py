"""A real `bslim bake` stopped with SIGINT / SIGTERM at random points, and renders of the same
project while a real bake runs (issue #17).

Stopped: exit 130 / 143 with one `error:` line, the build on the engine cancelled (its RUN
step's process is gone within seconds), no docker or buildx process of it left, no partial
file (no hidden generation beside the output directory, no unfinished cache directory, no
private copy of the inputs in the temporary directory). Renders during a bake: the bake builds
the generation it rendered — the image's ENV (from the Dockerfile) and label (from the bake
file) name the same configuration — and the output directory is always one whole generation.
Fixed seeds, bounded runs.
"""

from __future__ import annotations

import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import IMAGE, docker, make_project
from tests.processes import EXIT, LINE, bslim_script, entries, kill_children


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    yield
    kill_children()


pytestmark = pytest.mark.usefixtures("engine")

SLEEPY_DOCKERFILE = """\
FROM 127.0.0.1:5000/library/python:3.13-slim-trixie
ARG TOKEN=1
RUN sleep "$TOKEN"
"""
SLEEPY = """\
[project]
name = "sleepy"
version = "1.0.0"
dependencies = []

[tool.slim]
image = "127.0.0.1:5000/bslim-e2e/sleepy"
dockerfile = "docker/Dockerfile"
platforms = ["linux/amd64"]
cache = { local = ".cache/bk" }
"""


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def running(word: str) -> list[str]:
    """Command lines of live processes holding `word`."""
    out = []
    for pid in (p.name for p in Path("/proc").iterdir() if p.name.isdigit()):
        line = _cmdline(pid)
        if word in line and "pytest" not in line:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                out.append(f"{pid}: {line}")
    return out


def working_in(root: Path) -> list[str]:
    """Live processes whose working directory is the project (buildx runs there)."""
    out = []
    for pid in (p.name for p in Path("/proc").iterdir() if p.name.isdigit()):
        try:
            if Path(f"/proc/{pid}/cwd").readlink() == root.resolve():
                out.append(f"{pid}: {_cmdline(pid)}")
        except OSError:
            continue
    return out


def gone(check: object, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    left: list[str] = check()  # type: ignore[operator]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = check()  # type: ignore[operator]
    return left


def inputs_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("bslim-inputs-*")}


@pytest.fixture
def sleepy(tmp_path: Path) -> Path:
    root = tmp_path / "sleepy"
    (root / "docker").mkdir(parents=True)
    (root / "docker" / "Dockerfile").write_text(SLEEPY_DOCKERFILE, encoding="utf-8")
    (root / "pyproject.toml").write_text(SLEEPY, encoding="utf-8")
    return root


def test_a_real_bake_stopped_at_random_points(sleepy: Path) -> None:
    rng = random.Random(1707)
    before_inputs = inputs_dirs()
    seen: list[str] = []
    for run in range(4):
        sig = (signal.SIGINT, signal.SIGTERM)[run % 2]
        # A token in the RUN step's command line: the step is new each time (no cache) and
        # its process can be found on the host (the docker driver runs steps there).
        token = f"600.{rng.randrange(10**6):06d}"
        process = subprocess.Popen(
            [bslim_script(), "bake", "--project", str(sleepy), "--set", f"*.args.TOKEN={token}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        if run < 2:  # anywhere from the start: rendering, buildx starting, the base resolved
            time.sleep(rng.uniform(0, 3))
            where = "early"
        else:  # while the engine runs the step
            deadline = started + 180
            while not running(f"sleep {token}") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert running(f"sleep {token}"), "the RUN step never started"
            time.sleep(rng.uniform(0, 2))
            where = "in the RUN step"
        step_ran = bool(running(f"sleep {token}"))
        process.send_signal(sig)
        stopped = time.monotonic()
        _, err = process.communicate(timeout=60)
        took = time.monotonic() - stopped
        seen.append(f"{sig.name} {where} (step running: {step_ran}): exit {process.returncode} "
                    f"after {took:.2f}s")
        assert process.returncode == EXIT[sig], err[-2000:]
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert errors == [LINE[sig]], err[-2000:]
        assert err.splitlines()[-1] == LINE[sig]
        # The build is cancelled on the engine, and nothing of it is left running here.
        assert gone(lambda t=token: running(f"sleep {t}"), 15) == []
        assert gone(lambda: working_in(sleepy), 15) == []
        # No partial file: the output directory is whole, nothing beside it, no unfinished
        # cache, no private copy of the inputs left.
        names = entries(sleepy)
        # buildx creates the cache's parent directory when it starts; the `.new` directory
        # it writes into is removed with the unfinished build.
        assert names <= {"pyproject.toml", "docker", "docker/Dockerfile", "bake",
                         "bake/docker-bake.json", ".cache", ".cache/bk"}, sorted(names)
        assert inputs_dirs() <= before_inputs
    print("real bake stopped:", *seen, sep="\n  ")


VARIANT = """
env = {{ VARIANT = "{0}" }}
labels = {{ "bslim.test.variant" = "{0}" }}
platforms = ["linux/amd64"]
"""


def test_renders_during_a_real_bake_never_mix_its_generation(
        tmp_path: Path, ca_bundle: tuple[Path, str]) -> None:
    """Renders of another configuration run (and some are killed) while bake builds: the
    image has the ENV of the Dockerfile and the label of the bake file of one configuration,
    and the output directory is one whole generation."""
    rng = random.Random(2024)
    root = make_project(tmp_path / "e2eapp")
    base = (root / "pyproject.toml").read_text(encoding="utf-8")

    def set_variant(name: str) -> None:
        temp = root / ".pyproject.next"
        temp.write_text(base + VARIANT.format(name), encoding="utf-8")
        temp.replace(root / "pyproject.toml")

    script = str(bslim_script())
    for round_ in range(2):
        tag = f"concurrency-{round_}"
        mine, other = ("a", "b") if round_ % 2 == 0 else ("b", "a")
        set_variant(mine)
        bake = subprocess.Popen([script, "bake", "--project", str(root), "--tag", tag,
                                 "--ca-bundle", str(ca_bundle[0])],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.2, 0.8))  # bake has read pyproject.toml (or is about to)
        renders = []
        for _ in range(5):
            set_variant(rng.choice((mine, other)))
            renders.append(subprocess.Popen([script, "render", "--project", str(root)],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True))
            time.sleep(rng.uniform(0, 0.5))
        victims = rng.sample(renders, 2)
        for victim in victims:
            victim.send_signal(rng.choice((signal.SIGINT, signal.SIGTERM, signal.SIGKILL)))
        for render in renders:
            _, render_err = render.communicate(timeout=120)
            if render not in victims:
                assert render.returncode == 0, render_err
        _, err = bake.communicate(timeout=1800)
        assert bake.returncode == 0, err[-3000:]
        inspect = docker("image", "inspect", f"{IMAGE}:{tag}", "--format",
                         '{{json .Config.Env}} {{index .Config.Labels "bslim.test.variant"}}')
        assert inspect.returncode == 0, inspect.stderr
        env, label = inspect.stdout.rsplit(" ", 1)
        variant = label.strip()
        assert variant in ("a", "b"), inspect.stdout
        assert f'"VARIANT={variant}"' in env, f"a mix: {inspect.stdout}"
        docker("image", "rm", f"{IMAGE}:{tag}")
        # On disk: one whole generation, whatever was killed.
        check = subprocess.run([script, "render", "--project", str(root)], capture_output=True,
                               text=True, check=False)
        assert check.returncode == 0, check.stderr
        hidden = [n for n in entries(root) if n.split("/")[-1].startswith(".bake.")]
        assert hidden == []


# --- the local cache on a real bake -------------------------------------------------------------

def test_a_real_bake_keeps_its_local_cache_and_refuses_a_users_directory(
        sleepy: Path) -> None:
    """After a build the cache is BuildKit's export with bslim's mark and nothing unfinished
    beside it; the next build reads it. A directory of the user's at that place is refused
    before building, by name, and left as it was."""
    script = str(bslim_script())
    for _ in range(2):
        result = subprocess.run([script, "bake", "--project", str(sleepy), "--set",
                                 "*.args.TOKEN=0.1"], capture_output=True, text=True,
                                check=False, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        cache = sleepy / ".cache" / "bk"
        assert sorted(p.name for p in cache.iterdir()) == ["sleepy"]
        assert (cache / "sleepy" / ".bslim-cache").is_file()
        assert (cache / "sleepy" / "index.json").is_file()
    assert "importing cache manifest from local:" in result.stderr \
        or "importing cache manifest" in result.stderr, result.stderr[-3000:]
    # A directory of the user's where the cache goes: refused before anything is built.
    (sleepy / ".cache" / "bk" / "sleepy").rename(sleepy / "kept-cache")
    photo = sleepy / ".cache" / "bk" / "sleepy" / "blobs" / "photo.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\x89PNG holiday")
    result = subprocess.run([script, "bake", "--project", str(sleepy)], capture_output=True,
                            text=True, check=False, timeout=600)
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ".cache/bk/sleepy" in errors[0], result.stderr
    assert "#1 " not in result.stderr  # buildx never started
    assert photo.read_bytes() == b"\x89PNG holiday"
