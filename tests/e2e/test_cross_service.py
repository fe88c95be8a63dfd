"""A service's worth of C dependencies cross-compiled for arm/v7 (issue #18): httptools,
msgpack, PyYAML with libyaml, markupsafe from its sdist, uvloop (libuv bundled, configured
for the target's host) and cymem (a Cython build requirement). Each version is pinned to one
with no armv7l wheel for CPython 3.13 on PyPI (checked 2026-12-06 with `pip download
--only-binary=:all: --platform manylinux_2_31_armv7l ... --python-version 3.13`: markupsafe
3.0.4 has one, 3.0.3 does not), so every one of them is built from its sdist: cross-compiled
on the build platform, gated, proven on the target, then each C path exercised on arm/v7 in
the image. Real builds on the real engine and QEMU, on the official layout."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import bslim, docker, make_project

IMAGE = "127.0.0.1:5000/bslim-e2e/cross-service"
# distribution, version, the extension modules the gate's proof imports (as it prints them)
SERVICE = (
    ("httptools", "0.9.0"),
    ("msgpack", "1.2.4"),
    ("pyyaml", "6.0.4"),
    ("markupsafe", "3.0.3"),
    ("uvloop", "0.23.0"),
    ("cymem", "2.0.16"),
)
# Each C path, used on arm/v7: every line prints what only the compiled module gives.
EXERCISE = """
import asyncio, importlib.machinery as m, sys
import yaml, msgpack, msgpack._cmsgpack, markupsafe, markupsafe._speedups, httptools, uvloop
from cymem.cymem import Address, Pool
def ext(module):
    return isinstance(module.__spec__.loader, m.ExtensionFileLoader)
print("yaml", yaml.__with_libyaml__, yaml.load("a: [1, 2]", Loader=yaml.CLoader))
print("msgpack", msgpack.Packer is msgpack._cmsgpack.Packer, ext(msgpack._cmsgpack),
      msgpack.unpackb(msgpack.packb({"a": [1, 2]})))
print("markupsafe", markupsafe._escape_inner is markupsafe._speedups._escape_inner,
      ext(markupsafe._speedups), str(markupsafe.escape("<a>")))
class Proto:
    def __init__(self): self.url = None
    def on_url(self, url): self.url = url
proto = Proto()
parser = httptools.HttpRequestParser(proto)
parser.feed_data(b"GET /arm?v=7 HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
print("httptools", ext(sys.modules[type(parser).__module__]), parser.get_method(), proto.url)
async def main():
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__
print("uvloop", uvloop.run(main()))
print("cymem", ext(sys.modules["cymem.cymem"]), Address(8, 4).addr != 0, Pool().size)
"""


def test_a_service_cross_built_for_arm_v7_passes_every_gate_and_runs(
        engine: None, tmp_path: Path, ca_bundle: tuple[Path, str]) -> None:
    project = make_project(tmp_path / "e2eapp", packages=(), dependencies=[
        f"{name}=={version}" for name, version in SERVICE])
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'image = "127.0.0.1:5000/bslim-e2e/e2eapp"',
        f'image = "{IMAGE}"\nplatforms = ["linux/arm/v7"]\napt-build = ["libyaml-dev"]\n'
        'apt-runtime = ["libyaml-0-2"]'))
    # --no-cache: the log is what is read, and a step the build cache answers prints nothing.
    result = bslim("bake", "--project", str(project), "--push", "--tag", "e2e",
                   "--ca-bundle", str(ca_bundle[0]), "--no-cache")
    log = result.stderr
    assert result.returncode == 0, log[-5000:]
    for name, version in SERVICE:
        assert re.search(rf"bslim: {name}=={re.escape(version)}: cross-compiled for "
                         r"linux/arm/v7 in [0-9.]+ s", log), (name, log[-8000:])
        assert re.search(rf"bslim: {name} {re.escape(version)}: cross-compiled wheel proven "
                         r"on linux/arm/v7 \(imported [^)]+\)", log), (name, log[-8000:])
        # nothing of it compiled under emulation (the compile stage names each build)
        assert not re.search(rf"bslim: compiling {name}[^\n]* for linux/arm/v7", log), name
    assert "cross-built wheel failed" not in log
    assert "nothing was cross-built" not in log
    assert "its cross build failed" not in log
    run = docker("run", "--rm", "--pull", "always", "--platform", "linux/arm/v7",
                 "--entrypoint", "python3", f"{IMAGE}:e2e", "-c", EXERCISE)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "yaml True {'a': [1, 2]}",
        "msgpack True True {'a': [1, 2]}",
        "markupsafe True True &lt;a&gt;",
        "httptools True b'GET' b'/arm?v=7'",
        "uvloop uvloop",
        "cymem True True 0",
    ], run.stdout
