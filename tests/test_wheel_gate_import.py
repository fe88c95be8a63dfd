"""wheel_gate.py's import check, run for real with this interpreter standing in for the
target (a fresh process per wheel, as under emulation; no docker). Outside tests/unit/, whose
tripwire forbids processes."""

from __future__ import annotations

import platform
import struct
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from buildkit_slim.resources import wheel_gate


def _wheel(folder: Path, name: str, members: dict[str, bytes]) -> Path:
    version = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    file = folder / f"{name}-1.0-{version}-{version}-linux_{platform.machine()}.whl"
    with zipfile.ZipFile(file, "w") as zipped:
        for member, data in members.items():
            zipped.writestr(member, data)
    return file


def test_import_loads_each_extension_module_or_says_why_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import _json

    source = Path(str(_json.__file__))
    if not source.name.endswith(".so"):
        pytest.skip("this interpreter has _json built in")
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    good = _wheel(tmp_path, "good", {"good/__init__.py": b"",
                                     f"good/_json{suffix}": source.read_bytes()})
    # the package falls back to pure Python when its extension does not load: the check
    # must notice all the same
    fallback = _wheel(tmp_path, "fallback", {
        "fallback/__init__.py": b"try:\n    from . import _fast\nexcept ImportError:\n    pass\n",
        f"fallback/_fast{suffix}": b"\x7fELF garbage"})
    machine = wheel_gate.wheel_machine(platform.machine(), struct.calcsize("P") * 8)
    facts = wheel_gate.facts(next(k for k, v in wheel_gate.MACHINES.items() if v == machine))
    report = wheel_gate.import_all([good, fallback], [], facts)
    assert report[good.name] == {"ok": True, "imported": ["good._json"]}
    assert report[fallback.name]["ok"] is False
    assert report[fallback.name]["check"] == "import"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("bslim: fallback 1.0: cross-built wheel failed the import check (")
    assert lines[0].endswith("); compiling it under emulation")
