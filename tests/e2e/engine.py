"""Which engine the end-to-end tests and the benchmark talk to (tests/engine/choice.sh).

BSLIM_ENGINE=28 selects the second engine tests/engine/up.sh brings up: its env file names its
socket (DOCKER_HOST), the CLI configuration holding buildx 0.29 (DOCKER_CONFIG) and the
directory of its docker CLI. Unset or 26: the environment is left exactly as it is.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

DEFAULT = "26"
STATE = Path(os.environ.get("BSLIM_ENGINE_STATE", "/var/lib/bslim-engine"))


def state_dir(engine: str) -> Path:
    """Where up.sh keeps that engine's pid files, daemon.json and env file."""
    return STATE if engine == DEFAULT else STATE / f"engine-{engine}"


def chosen(env: MutableMapping[str, str] = os.environ) -> str:
    return env.get("BSLIM_ENGINE") or DEFAULT


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


def select(env: MutableMapping[str, str] = os.environ) -> str | None:
    """Point `env` at the chosen engine; returns a problem (the env file is missing) or None."""
    engine = chosen(env)
    if engine == DEFAULT:
        return None
    path = state_dir(engine) / "env"
    try:
        values = read_env_file(path)
    except OSError:
        return (f"BSLIM_ENGINE={engine}: {path} not found "
                f"(bring it up with BSLIM_ENGINE={engine} tests/engine/up.sh)")
    env["DOCKER_HOST"] = values["DOCKER_HOST"]
    env["DOCKER_CONFIG"] = values["DOCKER_CONFIG"]
    bin_dir = values.get("BSLIM_ENGINE_BIN", "")
    path_now = env.get("PATH", "")
    if bin_dir and bin_dir not in path_now.split(os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + path_now
    return None


def engine_is_ours(env: MutableMapping[str, str] = os.environ) -> bool:
    """Whether the engine `docker` talks to is the one tests/engine/up.sh started for the chosen
    engine (its pid file names a live dockerd with up.sh's config, and DOCKER_HOST is that
    engine's socket): only then may a test empty the engine's build cache. A developer's own
    engine (Docker Desktop, a system service) holds caches the tests did not create, and the
    docker driver has no builder of its own to prune instead."""
    engine = chosen(env)
    state = state_dir(engine)
    comm_wanted = "dockerd" if engine == DEFAULT else f"bslim{engine}-dockerd"
    try:
        pid = (state / "dockerd.pid").read_text().split()[0]
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        socket = read_env_file(state / "env").get("DOCKER_HOST", "unix:///var/run/docker.sock")
    except (OSError, IndexError, UnicodeDecodeError):
        return False
    host = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return comm == comm_wanted and str(state / "daemon.json") in cmdline and host == socket
