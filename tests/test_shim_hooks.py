"""The shim's PEP 517 hooks, run for real in the fresh interpreter `hook` starts (no docker).

Outside tests/unit/, whose tripwire forbids processes. A hook must see the standard library
and its build environment with that environment's .pth files processed (setuptools' distutils
shim lives in one), and nothing of the interpreter's own site-packages: a Debian setuptools
there, mixed with the newer one prepared for the build, is what broke 3.11/bookworm builds.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import zipfile
from pathlib import Path

import pytest

from buildkit_slim.resources import pip_for_target

PROBE_BACKEND = """\
import os, sys
def get_requires_for_build_wheel(config_settings=None):
    return [json_of_what_i_see()]
def json_of_what_i_see():
    import json
    try:
        import pytest  # in the test interpreter's site-packages only
        seen = "pytest"
    except ImportError:
        seen = ""
    return json.dumps({"site": [p for p in sys.path if "-packages" in p and "env" not in p],
                       "pth": os.environ.get("BSLIM_PTH_RAN", ""), "seen": seen,
                       "helper": __import__("helper").WHO})
"""


@pytest.fixture
def probe(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    (src / "be").mkdir(parents=True)
    (src / "be" / "probe_backend.py").write_text(PROBE_BACKEND)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "probe_backend"\n'
        'backend-path = ["be"]\n')
    env = tmp_path / "env"
    env.mkdir()
    (env / "helper.py").write_text('WHO = "the build env"\n')
    (env / "probe.pth").write_text("import os; os.environ['BSLIM_PTH_RAN'] = 'yes'\n")
    return src, env


def test_a_hook_sees_its_build_env_and_not_the_interpreters_site_packages(
        probe: tuple[Path, Path], tmp_path: Path) -> None:
    src, env = probe
    asked = tmp_path / "asked.json"
    assert pip_for_target.hook("requires", src, asked, [env]) == 0
    (seen,) = json.loads(asked.read_text())
    assert json.loads(seen) == {"site": [], "pth": "yes", "seen": "", "helper": "the build env"}


def test_a_hook_whose_backend_is_missing_says_so(probe: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    src, _ = probe
    (src / "pyproject.toml").write_text('[build-system]\nbuild-backend = "pytest"\n')
    # pytest is importable in this interpreter, not in the hook's: the hook is isolated.
    assert pip_for_target.hook("wheel", src, tmp_path / "out", []) == pip_for_target.NO_BACKEND


def _setuptools_env(into: Path) -> Path:
    """This interpreter's setuptools, copied as `pip install --target` would lay it out."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    names = ["setuptools", "_distutils_hack", "distutils-precedence.pth",
             *(p.name for p in purelib.glob("setuptools-*.dist-info"))]
    into.mkdir()
    for name in names:  # the dev extras install setuptools: a missing piece is a failure
        found = purelib / name
        if found.is_dir():
            shutil.copytree(found, into / name)
        else:
            shutil.copy2(found, into / name)
    return into


def test_setuptools_builds_a_c_extension_in_a_hook(tmp_path: Path) -> None:
    env = _setuptools_env(tmp_path / "env")
    src = tmp_path / "cext-1.0"
    (src / "cext").mkdir(parents=True)
    (src / "cext" / "__init__.py").write_text("")
    (src / "cext" / "_c.c").write_text(
        "#include <Python.h>\n"
        "static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"cext._c\", NULL, -1, NULL};\n"
        "PyMODINIT_FUNC PyInit__c(void) { return PyModule_Create(&m); }\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "cext"\nversion = "1.0"\n')
    (src / "setup.py").write_text(
        'from setuptools import Extension, setup\n'
        'setup(packages=["cext"], ext_modules=[Extension("cext._c", ["cext/_c.c"])])\n')
    out = tmp_path / "out"
    assert pip_for_target.hook("wheel", src, out, [env]) == 0
    (wheel,) = out.glob("*.whl")
    assert wheel.name.startswith("cext-1.0-cp3")
    assert any(n.startswith("cext/_c.") and n.endswith(".so")
               for n in zipfile.ZipFile(wheel).namelist())
