"""The one module that talks to docker, through python-on-whales.

python_on_whales is imported inside the functions: it costs ~0.4 s, and commands that never
talk to docker (render, config, init, tags, matrix) must start fast.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildkit_slim import interrupts
from buildkit_slim.errors import BuildFailed, EnvironmentProblem

TAIL_LINES = 25
_STEP_RE = re.compile(r"^#(\d+) \[([^\]]+)\] (.*)$")
_STEP_ERROR_RE = re.compile(r"^#(\d+) ERROR: (.*)$")
_STEP_LOG_RE = re.compile(r"^#(\d+) [0-9]+\.[0-9]+ (.*)$")
# How the docker CLI says it cannot reach the daemon (docker/cli, the moby client), matched on
# its own lines only: a build step's log (`#12 3.2 ...`) can say "connection refused" about an
# index, and buildx says "no such file or directory" about a missing secret file.
_CANNOT_CONNECT = re.compile(r"Cannot connect to the Docker daemon at (\S+?)\.? Is the docker "
                             r"daemon running\?")
_DURING_CONNECT = re.compile(r"^(?:ERROR: )?error during connect: (.*)$")
_SOCKET_DENIED = re.compile(r"permission denied while trying to connect to the Docker daemon "
                            r"socket at (\S+?):")
_DAEMON_HINT = ("start Docker (on these test machines: tests/engine/up.sh), or check "
                "DOCKER_HOST / `docker context`")


def environment_problem(stderr: str) -> EnvironmentProblem | None:
    """The daemon is not reachable (or not ours to use): an environment problem, exit 3.
    Anything else docker says is not classified here."""
    host = os.environ.get("DOCKER_HOST", "the default socket")
    for line in stderr.splitlines():
        if _STEP_RE.match(line) or _STEP_LOG_RE.match(line) or _STEP_ERROR_RE.match(line):
            continue
        if match := _CANNOT_CONNECT.search(line):
            return EnvironmentProblem(f"the Docker daemon is not reachable at {match.group(1)}",
                                      hint=_DAEMON_HINT)
        if match := _SOCKET_DENIED.search(line):
            return EnvironmentProblem(
                f"permission denied on the Docker daemon socket at {match.group(1)}",
                hint="add your user to the docker group (then log in again), or use a "
                     "context whose socket you may use")
        if match := _DURING_CONNECT.match(line):
            reason = match.group(1).rsplit(": ", 1)[-1]
            return EnvironmentProblem(f"the Docker daemon is not reachable at {host} "
                                      f"({reason})", hint=_DAEMON_HINT)
    return None


@contextlib.contextmanager
def _bake_files(request: BakeRequest) -> Iterator[list[str]]:
    """cd to the project (bake resolves local contexts from the current directory, not the
    bake file's) and yield the `-f` files, the override written to a temporary file."""
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bslim-bake-") as tmp:
        files = list(request.files)
        if request.override:
            path = Path(tmp) / "override.json"
            path.write_text(json.dumps(request.override, indent=2, sort_keys=True) + "\n",
                            encoding="utf-8")
            files.append(str(path))
        os.chdir(request.project_root)
        try:
            yield files
        finally:
            os.chdir(old)


def _env_problem(exc: Exception) -> EnvironmentProblem | None:
    stderr = getattr(exc, "stderr", None)
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    return environment_problem(str(stderr or exc))


def _client_missing(exc: BaseException) -> EnvironmentProblem:
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else " on PATH"
    return EnvironmentProblem(
        f"docker CLI not found{where}",
        hint="install Docker (https://docs.docker.com/engine/install/) and the buildx plugin",
    )


@contextlib.contextmanager
def _client() -> Iterator[None]:
    """No docker CLI: python-on-whales raises ClientNotFoundError before running anything,
    the exec a FileNotFoundError naming the program. Orphans of the docker processes come to
    this one from the first on (see interrupts.adopt_orphans)."""
    from python_on_whales import ClientNotFoundError

    interrupts.adopt_orphans()

    try:
        yield
    except ClientNotFoundError as exc:
        raise _client_missing(exc) from None
    except FileNotFoundError as exc:
        if exc.filename is None or Path(str(exc.filename)).name.startswith("docker"):
            raise _client_missing(exc) from None
        raise


@dataclass(frozen=True, kw_only=True)
class BakeRequest:
    project_root: Path
    files: tuple[str, ...]
    # A bake definition merged after `files` (written to a temporary file for the run).
    override: Mapping[str, Any] | None = None
    targets: tuple[str, ...] = ()
    overrides: Mapping[str, str] | None = None  # --set pattern.key=value
    variables: Mapping[str, str] | None = None  # bake variables, passed as environment
    push: bool = False
    load: bool = False
    builder: str | None = None
    progress: str = "plain"
    metadata_file: Path | None = None
    cache: bool = True


def bake_print(request: BakeRequest) -> dict[str, Any]:
    """`docker buildx bake --print`: what buildx resolves, without building."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        with _client(), _bake_files(request) as files:
            result = docker.buildx.bake(
                targets=list(request.targets), files=files, print=True,
                set=dict(request.overrides or {}), variables=dict(request.variables or {}),
                builder=request.builder, push=request.push, load=request.load,
            )
    except ValueError as exc:  # python-on-whales parses what buildx printed
        doc = getattr(exc, "doc", "")
        shown = f": {doc.strip()[:120]!r}" if doc.strip() else ""
        raise EnvironmentProblem(f"docker buildx bake --print printed no JSON{shown}",
                                 hint="check `docker buildx version`: bslim needs the buildx "
                                      "plugin (0.13 or newer)") from None
    except DockerException as exc:
        problem = _env_problem(exc)
        if problem:
            raise problem from None
        raise BuildFailed(
            f"docker buildx bake --print failed (exit {exc.return_code})",
            detail=_tail((exc.stderr or "").splitlines()),
        ) from None
    if not isinstance(result, dict):
        raise EnvironmentProblem("docker buildx bake --print printed no JSON object",
                                 hint="check `docker buildx version`")
    return result


# A registry's own failure while pushing (seen here: registry 2.8 answers 500 when Docker's
# pusher writes one tag from several requests at once). Worth one more push, not a failure.
_TRANSIENT_PUSH_RE = re.compile(
    r"^(?:#\d+ )?ERROR: unexpected status from (?:HEAD|PUT|GET|POST|PATCH) request to "
    r"(\S+): (5\d\d [^\n]*)$")


def transient_push_error(lines: Sequence[str]) -> str | None:
    """'<url>: <status>' when the build failed only because the registry answered 5xx."""
    for line in lines:
        if match := _TRANSIENT_PUSH_RE.match(line):
            return f"{match.group(1)}: {match.group(2)}"
    return None


def bake(request: BakeRequest, emit: Callable[[str], None] | None = None) -> None:
    """Run the build, streaming buildx progress as it comes; on failure name the failing step.
    A push the registry failed with a 5xx is tried once more (the build itself is cached by
    then: only the push is redone)."""
    write = emit or (lambda line: print(line, file=sys.stderr, flush=True))
    for attempt in (1, 2):
        lines: collections.deque[str] = collections.deque(maxlen=4000)
        try:
            _bake_once(request, write, lines)
            return
        except BuildFailed:
            transient = request.push and attempt == 1 and transient_push_error(list(lines))
            if not transient:
                raise
            write(f"bslim: the registry failed the push ({transient}); pushing once more")


def _bake_once(request: BakeRequest, write: Callable[[str], None],
               lines: collections.deque[str]) -> None:
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        with _client(), _bake_files(request) as files:
            stream = docker.buildx.bake(
                targets=list(request.targets), files=files,
                set=dict(request.overrides or {}), variables=dict(request.variables or {}),
                builder=request.builder, push=request.push, load=request.load,
                progress=request.progress,
                metadata_file=request.metadata_file, cache=request.cache, stream_logs=True,
            )
            for raw in stream:
                line = raw.rstrip("\n")
                lines.append(line)
                write(line)
    except DockerException as exc:
        problem = _env_problem(exc)
        if problem and not any(_STEP_RE.match(line) for line in lines):
            raise problem from None
        raise build_failure(list(lines), exc.return_code) from None


def build_failure(lines: Sequence[str], return_code: int) -> BuildFailed:
    """The failing step and the tail of its own log, from buildx plain progress output."""
    steps: dict[str, str] = {}
    failed: str | None = None
    reason = ""
    for line in lines:
        if match := _STEP_RE.match(line):
            steps.setdefault(match.group(1), f"[{match.group(2)}] {match.group(3)}")
        elif match := _STEP_ERROR_RE.match(line):
            failed, reason = match.group(1), match.group(2)
    if failed is None:
        final = [line for line in lines if line.startswith("ERROR:")]
        message = final[-1].removeprefix("ERROR: ") if final else "see the output above"
        return BuildFailed(f"docker buildx bake failed (exit {return_code}): {message}",
                           detail=_tail(lines))
    step = " ".join(steps.get(failed, f"step #{failed}").split())
    if len(step) > 160:
        step = step[:157] + "..."
    log = [m.group(2) for line in lines if (m := _STEP_LOG_RE.match(line)) and m.group(1) == failed]
    return BuildFailed(
        f"build step {step} failed: {reason}",
        detail=_tail(log or list(lines)),
        hint="the lines above are the end of that step's log; run with --progress plain for all",
    )


def _tail(lines: Sequence[str]) -> str:
    return "\n".join(f"  | {line}" for line in list(lines)[-TAIL_LINES:])


# --- probes used by `bslim doctor` -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class EngineFacts:
    server_version: str
    storage_driver: str
    containerd_store: bool
    os_arch: str


@dataclass(frozen=True, kw_only=True)
class BuilderFacts:
    name: str
    driver: str
    platforms: tuple[str, ...]
    buildkit: str | None = None  # as the builder reports it (`docker buildx inspect`)


def engine_facts() -> EngineFacts:
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        with _client():
            info = docker.system.info()
    except DockerException as exc:
        raise _env_problem(exc) or EnvironmentProblem(
            f"`docker info` failed (exit {exc.return_code}): "
            f"{(exc.stderr or '').strip().splitlines()[-1:] or ''}") from None
    status = [tuple(map(str, pair)) for pair in (info.driver_status or [])]
    containerd = any("io.containerd.snapshotter" in value for _, value in status) or \
        "containerd" in str(getattr(info, "storage_driver", "") or "")
    return EngineFacts(
        server_version=str(info.server_version or "?"),
        storage_driver=str(info.driver or "?"),
        containerd_store=containerd,
        os_arch=str(info.architecture or "?"),
    )


def buildx_version() -> str | None:
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        with _client():
            text = docker.buildx.version()
    except DockerException:
        return None
    raw = str(text.get("version") if isinstance(text, dict) else text)
    # "github.com/docker/buildx v0.13.1 abc123" or Debian's "... 0.13.1+ds1 0.13.1+ds1-3"
    match = re.search(r"\bv?([0-9]+\.[0-9]+(?:\.[0-9]+)?)", raw)
    return match.group(1) if match else raw


def builder_facts(name: str | None) -> BuilderFacts:
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        with _client():
            builder = docker.buildx.inspect(name)
    except DockerException as exc:
        problem = _env_problem(exc)
        if problem:
            raise problem from None
        raise EnvironmentProblem(
            f"builder {name or '(active)'} cannot be inspected: "
            f"{(exc.stderr or '').strip()[-200:]}",
            hint="list builders with `docker buildx ls`",
        ) from None
    platforms: list[str] = []
    for node in builder.nodes or []:
        for platform in node.platforms or []:
            if str(platform) not in platforms:
                platforms.append(str(platform))
    versions = [str(node.version) for node in builder.nodes or [] if node.version]
    return BuilderFacts(name=str(builder.name), driver=str(builder.driver),
                        platforms=tuple(platforms), buildkit=versions[0] if versions else None)


def probe_platform(image: str, platform: str, builder: str | None) -> str:
    """Build a one-step image FROM `image` for `platform`; returns what platform.machine() says.

    This proves at once that the base resolves for that platform and that it can run there
    (emulation included) - the builder's platform list alone is not reliable.
    """
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    script = "import platform; print('bslim-probe', platform.machine())"
    with tempfile.TemporaryDirectory(prefix="bslim-probe-") as tmp:
        dockerfile = Path(tmp) / "Dockerfile"
        dockerfile.write_text(f'FROM {image}\nRUN python3 -c "{script}"\n', encoding="utf-8")
        try:
            with _client():
                logs = docker.buildx.build(
                    tmp, platforms=[platform], builder=builder, cache=False,
                    progress="plain", stream_logs=True, output={"type": "cacheonly"},
                )
                output = [str(line) for line in logs]
        except DockerException as exc:
            text = (exc.stderr or "").strip().splitlines()
            raise BuildFailed(text[-1] if text else f"exit {exc.return_code}") from None
    for line in output:
        if "bslim-probe " in line and "print(" not in line:
            return line.split("bslim-probe ", 1)[1].strip()
    return "?"


def image_sizes(ref: str) -> list[tuple[str, int]]:
    """(platform, compressed bytes: config + layers) for each platform of a pushed image."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    def inspect(name: str) -> Any:
        try:
            with _client():
                return docker.buildx.imagetools.inspect(name)
        except DockerException as exc:
            raise _env_problem(exc) or BuildFailed(
                f"cannot inspect {name}: {(exc.stderr or '').strip()[-300:]}") from None

    top = inspect(ref)
    repo = ref.split("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    entries = [(None, top)] if top.layers else [
        (m.platform, inspect(f"{repo}@{m.digest}")) for m in top.manifests or []
        if m.platform is not None and m.platform.os != "unknown"  # attestations
    ]
    sizes = []
    for plat, manifest in entries:
        name = "/".join(p for p in (plat.os, plat.architecture, plat.variant) if p) if plat \
            else "single-platform"
        total = sum(layer.size or 0 for layer in manifest.layers or [])
        total += manifest.config.size or 0 if manifest.config else 0
        sizes.append((name, total))
    return sizes


# --- registry reads and index writes (`bslim merge`, `bslim release`) --------------------------

_NOT_FOUND = (": not found", "manifest unknown", "name unknown", "404 not found")
# registry 2.8 has answered 500 once while several manifests were pushed at the same time.
_TRANSIENT = ("500 internal server error", "invalid checksum digest format", "502 bad gateway",
              "503 service unavailable")


def inspect_manifest(ref: str) -> dict[str, Any] | None:
    """The top-level manifest or index of `ref` with its digest, or None when it does not exist.

    `--format '{{json .Manifest}}'` gives the descriptor (digest, media type) and, for an index,
    the platforms; `--raw` would need the exact bytes to compute a digest.
    """
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException
    from python_on_whales.utils import run

    try:
        with _client():
            cmd = [*docker.buildx.imagetools.docker_cmd, "buildx", "imagetools", "inspect",
                   "--format", "{{json .Manifest}}", ref]
            text = run(cmd)
    except DockerException as exc:
        stderr = str(exc.stderr or "")
        if any(marker in stderr.lower() for marker in _NOT_FOUND):
            return None
        raise _env_problem(exc) or BuildFailed(
            f"cannot inspect {ref} (exit {exc.return_code}): {_last_line(stderr)}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BuildFailed(f"cannot inspect {ref}: unexpected answer {text[:200]!r}")
    return data


def registry_mirrors() -> list[str]:
    """The engine's mirrors of Docker Hub (`registry-mirrors` in daemon.json), as hosts: where
    its builds (the docker driver's) pull docker.io images from."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    try:
        info = docker.system.info()
    except FileNotFoundError as exc:
        raise _client_missing(exc) from None
    except DockerException as exc:
        raise _env_problem(exc) or EnvironmentProblem(
            f"`docker info` failed (exit {exc.return_code})") from None
    config = getattr(info, "registry_config", None)  # docker info's RegistryConfig, as is
    found = config.get("Mirrors") if isinstance(config, dict) else getattr(config, "mirrors", None)
    mirrors = [str(m) for m in found or []]
    return [re.sub(r"^https?://", "", m).rstrip("/") for m in mirrors]


def image_platform(ref: str) -> str | None:
    """The platform of a single-platform image (its config's os/architecture/variant)."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException
    from python_on_whales.utils import run

    cmd = [*docker.buildx.imagetools.docker_cmd, "buildx", "imagetools", "inspect",
           "--format", "{{json .Image}}", ref]
    try:
        data = json.loads(run(cmd))
    except (DockerException, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("os"):
        return None
    return "/".join(str(p) for p in (data["os"], data.get("architecture"), data.get("variant"))
                    if p)


def imagetools_create(
    sources: Sequence[str], tags: Sequence[str], annotations: Mapping[str, str] | None = None
) -> None:
    """`docker buildx imagetools create -t TAG... SOURCE...` (a carbon copy for one source
    without annotations); retried once when the registry fails transiently."""
    from python_on_whales import docker
    from python_on_whales.exceptions import DockerException

    for attempt in (1, 2):
        try:
            with _client():
                docker.buildx.imagetools.create(sources=list(sources), tags=list(tags),
                                                annotations=dict(annotations or {}))
            return
        except DockerException as exc:
            stderr = str(exc.stderr or "")
            if attempt == 1 and any(m in stderr.lower() for m in _TRANSIENT):
                continue
            raise _env_problem(exc) or BuildFailed(
                f"docker buildx imagetools create failed (exit {exc.return_code}): "
                f"{_last_line(stderr)}",
                detail=_tail(stderr.splitlines())) from None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
