"""Prototype (issue #18): under emulation, use each C path of the gated wheels.

    python3 exercise.py DIR...   (the wheels: dependencies and the ones under test)
"""

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, "/bslim/shim")
import wheel_gate

root = Path(tempfile.mkdtemp(prefix="exercise-"))
present = set()
for folder in sys.argv[1:]:
    for wheel in sorted(Path(folder).glob("*.whl")):
        wheel_gate.unpack(wheel, root)
        present.add(wheel_gate.wheel_name(wheel)[0])
sys.path.insert(0, str(root))


def yaml_() -> str:
    import yaml

    assert yaml.__with_libyaml__, "PyYAML without libyaml"
    data = yaml.load("a: [1, 2, {b: c}]\n", Loader=yaml.CSafeLoader)
    assert data == {"a": [1, 2, {"b": "c"}]}, data
    assert yaml.dump(data, Dumper=yaml.CSafeDumper).startswith("a:")
    return "CSafeLoader/CSafeDumper round trip"


def msgpack_() -> str:
    import msgpack
    from msgpack import _cmsgpack

    assert msgpack.Packer is _cmsgpack.Packer, msgpack.Packer
    value = {"k": [1, 2.5, b"x", None]}
    assert msgpack.unpackb(msgpack.packb(value)) == value
    return "C Packer/Unpacker round trip"


def httptools_() -> str:
    import httptools

    seen = {}

    class Proto:
        def on_url(self, url: bytes) -> None:
            seen["url"] = url

        def on_header(self, name: bytes, value: bytes) -> None:
            seen[name.lower()] = value

    parser = httptools.HttpRequestParser(Proto())
    parser.feed_data(b"GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    assert seen == {"url": b"/x?y=1", b"host": b"a"}, seen
    assert httptools.parse_url(b"http://h:8/p?q").port == 8
    return "request parsed, URL parsed"


def markupsafe_() -> str:
    import markupsafe

    assert markupsafe._escape_inner.__module__ == "markupsafe._speedups"
    assert str(markupsafe.escape("<a>")) == "&lt;a&gt;"
    return "escape() through _speedups"


def uvloop_() -> str:
    import uvloop

    async def echo() -> bytes:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        got = await reader.read(5)
        writer.close()
        server.close()
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        return got

    assert uvloop.run(echo()) == b"hello"
    return "TCP echo on the uvloop loop"


failed = 0
for name, check in (("pyyaml", yaml_), ("msgpack", msgpack_), ("httptools", httptools_),
                    ("markupsafe", markupsafe_), ("uvloop", uvloop_)):
    if name not in present:
        print(f"{name}: not present")
        continue
    try:
        print(f"{name}: ok ({check()})")
    except Exception as error:  # report every package
        failed += 1
        print(f"{name}: FAILED {error!r}")
sys.exit(1 if failed else 0)
