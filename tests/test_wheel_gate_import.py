"""wheel_gate.py's import check, run for real with this interpreter standing in for the
target (a fresh process per wheel, as under emulation; no docker). Outside tests/unit/, whose
tripwire forbids processes."""

from __future__ import annotations

import platform
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


def test_import_loads_each_extension_module_or_says_why_not(tmp_path: Path) -> None:
    import _json

    source = Path(str(_json.__file__))
    if not source.name.endswith(".so"):
        pytest.skip("this interpreter has _json built in")
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    good = _wheel(tmp_path, "good", {"good/__init__.py": b"",
                                     f"good/_json{suffix}": source.read_bytes()})
    wheel_gate.import_check(good, [])
    # the package falls back to pure Python when its extension does not load: the check
    # must notice all the same
    fallback = _wheel(tmp_path, "fallback", {
        "fallback/__init__.py": b"try:\n    from . import _fast\nexcept ImportError:\n    pass\n",
        f"fallback/_fast{suffix}": b"\x7fELF garbage"})
    with pytest.raises(wheel_gate.Rejected) as caught:
        wheel_gate.import_check(fallback, [])
    assert caught.value.check == "import"
    assert str(caught.value).startswith("ImportError: fallback/_fast"), caught.value
    # a dependency the extension's package imports comes from `others`
    needs = _wheel(tmp_path, "needs", {"needs/__init__.py": b"import good\n",
                                       f"needs/_json{suffix}": source.read_bytes()})
    with pytest.raises(wheel_gate.Rejected, match="No module named 'good'"):
        wheel_gate.import_check(needs, [])
    wheel_gate.import_check(needs, [good])
