"""End-to-end fixtures: a real Docker Engine, real QEMU arm/v7, the local registry.

Skipped when no engine is up, except where BSLIM_REQUIRE_ENGINE=1 (the test command and CI set
it): there a missing engine or missing emulation fails the run. BSLIM_ENGINE=28 runs them on the
second engine tests/engine/up.sh brings up (tests/e2e/engine.py).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import engine as engines
from tests.e2e import registry

FIXTURES = Path(__file__).parent / "fixtures"
IMAGE = "127.0.0.1:5000/bslim-e2e/e2eapp"
PLATFORMS = ("linux/amd64", "linux/arm/v7")
MACHINES = {"linux/amd64": "x86_64", "linux/arm/v7": "armv7l"}
REGISTRY = "127.0.0.1:5000"
HOST_CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
BINFMT_ARM = Path("/proc/sys/fs/binfmt_misc/qemu-arm")

# The stand-ins for the official python images the tests build on (tests/engine/README.md):
#   official  CPython compiled from the upstream release into /usr/local, as in the official
#             images: what an unchanged `FROM python:X` resolves to through the registry mirror.
#             The default, so the suite proves what users run.
#   debian    Debian's own python3 packages (/usr/bin/python3, dist-packages, Debian's pip and
#             multiarch pyconfig.h) at 127.0.0.1:5000/bslim-debian/python:X: a second layout for
#             the tests that run on both (parametrized over LAYOUTS), or for every test with
#             BSLIM_E2E_LAYOUT=debian.
LAYOUTS = ("official", "debian")
LAYOUT_REPOS = {"official": "library/python", "debian": "bslim-debian/python"}
DEFAULT_LAYOUT = os.environ.get("BSLIM_E2E_LAYOUT") or "official"
if DEFAULT_LAYOUT not in LAYOUTS:
    raise pytest.UsageError(f"BSLIM_E2E_LAYOUT={DEFAULT_LAYOUT!r}: expected one of {LAYOUTS}")


def base_image(layout: str, python: str = "3.13", debian: str = "trixie", *,
               slim: bool) -> str:
    """The registry reference of a stand-in (the local registry serves both layouts)."""
    tag = f"{python}-slim-{debian}" if slim else f"{python}-{debian}"
    return f"{REGISTRY}/{LAYOUT_REPOS[layout]}:{tag}"


def use_layout(pyproject: Path, layout: str) -> None:
    """Point a project's [tool.slim] at a layout's stand-ins: nothing for the official one (the
    defaults `python:{python}-{debian}` resolve to it), builder-base and runtime-base for the
    other."""
    if layout == "official":
        return
    keys = (f'builder-base = "{REGISTRY}/{LAYOUT_REPOS[layout]}:{{python}}-{{debian}}"\n'
            f'runtime-base = "{REGISTRY}/{LAYOUT_REPOS[layout]}:{{python}}-slim-{{debian}}"\n')
    text = pyproject.read_text()
    assert "\n[tool.slim]\n" in text, pyproject
    pyproject.write_text(text.replace("\n[tool.slim]\n", f"\n[tool.slim]\n{keys}", 1))


# Before anything runs docker: every docker call and every bslim process of this session then
# talks to the chosen engine (python-on-whales and the CLI both read DOCKER_HOST/DOCKER_CONFIG).
_SELECT_PROBLEM = engines.select()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


def _engine_problem() -> str | None:
    if _SELECT_PROBLEM:
        return _SELECT_PROBLEM
    if shutil.which("docker") is None:
        return "docker CLI not found"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"no Docker Engine reachable: {info.stderr.strip()[-200:]}"
    if subprocess.run(["docker", "buildx", "version"], capture_output=True,
                      check=False).returncode != 0:
        return "docker buildx is not installed"
    try:
        urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5).close()
    except OSError as exc:
        return f"no registry on {REGISTRY}: {exc}"
    try:
        text = BINFMT_ARM.read_text()
    except OSError:
        return f"no arm/v7 emulation: {BINFMT_ARM} missing"
    if not text.startswith("enabled") or "flags: " not in text or "F" not in text.split(
            "flags: ", 1)[1].split("\n", 1)[0]:
        return f"arm/v7 emulation not usable in containers: {BINFMT_ARM} not enabled with F"
    return None


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("--run-e2e"):
        if os.environ.get("BSLIM_REQUIRE_ENGINE") == "1":
            pytest.fail("BSLIM_REQUIRE_ENGINE=1 without --run-e2e: the end-to-end tests would "
                        "not run", pytrace=False)
        pytest.skip("end-to-end test: run with --run-e2e (tests/run.sh does)")
    problem = _engine_problem()
    if problem is None:
        return
    if os.environ.get("BSLIM_REQUIRE_ENGINE") == "1":
        pytest.fail(f"end-to-end tests require an engine here: {problem} "
                    "(bring it up with tests/engine/up.sh)", pytrace=False)
    pytest.skip(f"{problem}; run tests/engine/up.sh (as root) to enable end-to-end tests")


def prune_build_cache() -> None:
    """`docker builder prune -af`, on an engine these tests brought up, else a skip (also where
    the engine is required: CI always runs tests/engine/up.sh's engine)."""
    if not engines.engine_is_ours():
        pytest.skip(f"the engine at {os.environ.get('DOCKER_HOST') or 'the default socket'} was "
                    f"not started by tests/engine/up.sh for BSLIM_ENGINE={engines.chosen()}: "
                    "its build cache is not the tests' to prune")
    pruned = docker("builder", "prune", "-af")
    assert pruned.returncode == 0, pruned.stderr


def bslim(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
          timeout: float = 2400) -> subprocess.CompletedProcess[str]:
    """The real CLI in a real process; output is echoed so a failing CI log shows the build."""
    result = subprocess.run([sys.executable, "-m", "buildkit_slim", *args],
                            capture_output=True, text=True, env={**os.environ, **(env or {})},
                            cwd=cwd, timeout=timeout, check=False)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr[-20000:])
    return result


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def make_sdist(package_dir: Path, dest: Path) -> Path:
    """A plain sdist (name-version/ + PKG-INFO): pip builds it in the wheel stage."""
    from buildkit_slim._compat import tomllib

    meta = tomllib.loads((package_dir / "pyproject.toml").read_text())["project"]
    base = f"{meta['name']}-{meta['version']}"
    out = dest / f"{base}.tar.gz"
    pkg_info = (f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
                ).encode()
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(package_dir.rglob("*")):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            info = tar.gettarinfo(str(path), f"{base}/{path.relative_to(package_dir)}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return out


def make_project(root: Path, *, dependencies: Sequence[str] = (),
                 packages: Sequence[str] = ("tinyext", "tinypure"),
                 layout: str | None = None) -> Path:
    """The fixture app with its wheelhouse of sdists built from tests/e2e/fixtures/packages,
    on the stand-ins of `layout` (default: DEFAULT_LAYOUT)."""
    shutil.copytree(FIXTURES / "app", root)
    use_layout(root / "pyproject.toml", layout or DEFAULT_LAYOUT)
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir()
    for name in packages:
        make_sdist(FIXTURES / "packages" / name, wheelhouse)
    if dependencies:
        pyproject = root / "pyproject.toml"
        text = pyproject.read_text()
        deps = ", ".join(f'"{d}"' for d in dependencies)
        pyproject.write_text(text.replace('dependencies = ["tinyext==0.1.0", "tinypure==0.1.0"]',
                                          f"dependencies = [{deps}]"))
    return root


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The host's CA bundle plus a unique marker line: tests look for the marker in every layer."""
    marker = f"bslim-e2e-ca-marker-{uuid.uuid4().hex}"
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_text(f"# {marker}\n" + HOST_CA.read_text())
    return path, marker


@pytest.fixture(scope="session")
def app_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield make_project(tmp_path_factory.mktemp("app") / "e2eapp")


@dataclass(frozen=True)
class Pushed:
    ref: str
    images: dict[str, registry.PlatformImage]
    log: str
    layout: str
    runtime_base: str  # the slim stand-in it was built on, as a registry reference


@pytest.fixture(scope="session")
def pushed(request: pytest.FixtureRequest, engine: None, app_project: Path,
           tmp_path_factory: pytest.TempPathFactory, ca_bundle: tuple[Path, str]) -> Pushed:
    """The fixture app built for both platforms with the defaults (fast-wheels) and pushed, on
    DEFAULT_LAYOUT's stand-ins; a test parametrized indirectly (`pushed` in LAYOUTS) gets the
    one built on that layout (tagged e2e-<layout> unless it is the default)."""
    layout = getattr(request, "param", DEFAULT_LAYOUT)
    project, tag = app_project, "e2e"
    if layout != DEFAULT_LAYOUT:
        project = make_project(tmp_path_factory.mktemp(f"app-{layout}") / "e2eapp",
                               layout=layout)
        tag = f"e2e-{layout}"
    # --no-cache: tests read what each step decided from this log (what was cross-compiled,
    # what compiled under emulation), and a step the engine's build cache answers prints
    # nothing: an earlier run of the same fixture on this engine would leave them blind.
    result = bslim("bake", "--project", str(project), "--push", "--tag", tag,
                   "--ca-bundle", str(ca_bundle[0]), "--no-cache")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "built e2eapp (linux/amd64, linux/arm/v7) and pushed" in result.stdout
    ref = f"{IMAGE}:{tag}"
    return Pushed(ref=ref, images=registry.platform_images(ref), log=result.stderr,
                  layout=layout, runtime_base=base_image(layout, slim=True))


def pip_freeze(ref: str, platform: str) -> list[str]:
    run = docker("run", "--rm", "--pull", "always", "--platform", platform, "--entrypoint",
                 "python3", ref, "-m", "pip", "freeze", "--all")
    assert run.returncode == 0, run.stderr
    return sorted(line for line in run.stdout.splitlines() if line.strip())
