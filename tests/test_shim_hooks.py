"""The shim's PEP 517 hooks and pip processes, run for real (no docker, no index).

Outside tests/unit/, whose tripwire forbids processes. A hook must see the standard library
and its build environment with that environment's .pth files processed (setuptools' distutils
shim lives in one), and nothing of the interpreter's own site-packages: a Debian setuptools
there, mixed with the newer one prepared for the build, is what broke 3.11/bookworm builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from buildkit_slim.resources import pip_for_target, wheel_build

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
    assert wheel_build.hook("requires", src, asked, [env]) == 0
    (seen,) = json.loads(asked.read_text())
    assert json.loads(seen) == {"site": [], "pth": "yes", "seen": "", "helper": "the build env"}


def test_a_hook_whose_backend_is_missing_says_so(probe: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    src, _ = probe
    (src / "pyproject.toml").write_text('[build-system]\nbuild-backend = "pytest"\n')
    # pytest is importable in this interpreter, not in the hook's: the hook is isolated.
    assert wheel_build.hook("wheel", src, tmp_path / "out", []) == wheel_build.NO_BACKEND


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
    assert wheel_build.hook("wheel", src, out, [env]) == 0
    (wheel,) = out.glob("*.whl")
    assert wheel.name.startswith("cext-1.0-cp3")
    assert any(n.startswith("cext/_c.") and n.endswith(".so")
               for n in zipfile.ZipFile(wheel).namelist())


def _cext(src: Path) -> Path:
    (src / "cext").mkdir(parents=True)
    (src / "cext" / "__init__.py").write_text("")
    (src / "cext" / "_c.c").write_text(
        "#include <Python.h>\n"
        "static const char *where = __FILE__;\n"
        "static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, \"cext._c\", NULL, -1, NULL};\n"
        "PyMODINIT_FUNC PyInit__c(void) { (void)where; return PyModule_Create(&m); }\n")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "cext"\nversion = "1.0"\n')
    (src / "setup.py").write_text(
        'from setuptools import Extension, setup\n'
        'setup(packages=["cext"], ext_modules=[Extension("cext._c", ["cext/_c.c"])])\n')
    return src


@pytest.mark.parametrize("reproducible", [True, False])
def test_a_reproducible_build_of_a_c_extension_does_not_depend_on_where_or_when(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reproducible: bool) -> None:
    """--reproducible's build arg: the same sdist built in two directories, a second apart,
    with debug information and __FILE__ in the object: one wheel, byte for byte. Without it
    the wheels differ (the source directory is in the .so), so the test can tell."""
    import time

    env = _setuptools_env(tmp_path / "env")
    monkeypatch.setattr(wheel_build, "REPRODUCIBLE", reproducible)
    monkeypatch.setenv("CFLAGS", "-g")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    wheels = []
    for name in ("one", "two"):
        src = _cext(tmp_path / name / "cext-1.0")
        out = tmp_path / name / "out"
        assert wheel_build.hook("wheel", src, out, [env]) == 0
        (wheel,) = out.glob("*.whl")
        wheels.append(wheel.read_bytes())
        time.sleep(2)  # zip times have a two-second resolution
    assert (wheels[0] == wheels[1]) is reproducible


# --- PEP 517 through pyproject_hooks: the backend path, config_settings ---------------------

IN_TREE = """\
import json, os, pathlib, platform
def get_requires_for_build_wheel(config_settings=None):
    return ["wheel-helper>=1", json.dumps(config_settings)]
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = f"demo-1.0-py3-none-linux_{platform.machine()}.whl"
    (pathlib.Path(wheel_directory) / name).write_text(json.dumps(
        [pathlib.Path("where").read_text(), config_settings]))
    return name
"""


@pytest.fixture
def in_tree(tmp_path: Path) -> Path:
    """A source tree whose backend lives in it (backend-path)."""
    src = tmp_path / "demo-1.0"
    (src / "backend").mkdir(parents=True)
    (src / "backend" / "demo_backend.py").write_text(IN_TREE)
    (src / "where").write_text("built in the source tree")
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "demo_backend"\n'
        'backend-path = ["backend"]\n')
    return src


def test_an_in_tree_backend_builds_with_pips_config_settings(
        in_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """config_settings as pip hands them to a backend (PIP_CONFIG_SETTINGS, a repeated key a
    list), the same to both hooks; the wheel built in the source tree."""
    monkeypatch.setenv("PIP_CONFIG_SETTINGS", "--build-option=--x mode=fast --build-option=--y")
    settings = {"--build-option": ["--x", "--y"], "mode": "fast"}
    asked = tmp_path / "asked.json"
    assert wheel_build.hook("requires", in_tree, asked, []) == 0
    assert json.loads(asked.read_text()) == ["wheel-helper>=1", json.dumps(settings)]
    out = tmp_path / "out"
    assert wheel_build.hook("wheel", in_tree, out, []) == 0
    (wheel,) = out.iterdir()
    assert json.loads(wheel.read_text()) == ["built in the source tree", settings]
    assert f"bslim: built {wheel.name}\n" in capsys.readouterr().out


def test_without_config_settings_the_backend_gets_none(in_tree: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIP_CONFIG_SETTINGS", raising=False)
    asked = tmp_path / "asked.json"
    assert wheel_build.hook("requires", in_tree, asked, []) == 0
    assert json.loads(asked.read_text()) == ["wheel-helper>=1", "null"]


@pytest.mark.parametrize("backend_path", ['["../elsewhere"]', '["/tmp"]', '["escape"]',
                                          '"backend"'])
def test_a_backend_path_outside_the_source_is_refused(
        in_tree: Path, tmp_path: Path, backend_path: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "demo_backend.py").write_text(IN_TREE)
    (in_tree / "escape").symlink_to(tmp_path / "elsewhere")  # inside by name, not in fact
    (in_tree / "pyproject.toml").write_text(
        f'[build-system]\nbuild-backend = "demo_backend"\nbackend-path = {backend_path}\n')
    assert wheel_build.hook("wheel", in_tree, tmp_path / "out", []) == 1
    assert "is not inside the source" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_failing_build_is_not_taken_for_a_missing_backend(in_tree: Path,
                                                            tmp_path: Path) -> None:
    (in_tree / "where").unlink()  # the build itself fails
    assert wheel_build.hook("wheel", in_tree, tmp_path / "out", []) == 1


# --- pip itself, pretending: the shim's own processes, offline ----------------------------------

SHIM = Path(pip_for_target.__file__)


def make_wheel(into: Path, name: str, tag: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal wheel: enough for pip to resolve, download and save it."""
    into.mkdir(parents=True, exist_ok=True)
    wheel = into / f"{name}-1.0-{tag}.whl"
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: {}\nVersion: 1.0\n{}".format(
            name, "".join(f"Requires-Dist: {r}\n" for r in requires)))
        zf.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\n"
                    f"Root-Is-Purelib: {'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n")
        zf.writestr(f"{info}/RECORD", "")
    return wheel


def shim(*args: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SHIM), *args], capture_output=True, text=True,
                          env={**os.environ, "TARGETPLATFORM": target, "PIP_NO_INDEX": "1",
                               "PIP_CONFIG_FILE": os.devnull}, check=False)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    found = tmp_path / "wheelhouse"
    cp = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    make_wheel(found, "fast", f"{cp}-{cp}-manylinux_2_17_armv7l.manylinux2014_armv7l")
    make_wheel(found, "fast", f"{cp}-{cp}-manylinux_2_17_x86_64.manylinux2014_x86_64")
    make_wheel(found, "armonly", "py3-none-any")
    make_wheel(found, "app", "py3-none-any", ("fast", "armonly; platform_machine == 'armv7l'"))
    return found


ARM = "linux/arm/v7"


def test_a_pass_resolves_and_fetches_for_the_target(wheelhouse: Path, tmp_path: Path) -> None:
    """pip, pretending in a fresh process: the target's markers (armonly comes along) and
    manylinux tags (the armv7l wheel of `fast`), offline from a wheelhouse."""
    if platform.machine() in ("armv7l", "armv8l"):
        pytest.skip("needs a host that is not arm/v7")
    out, requirements = tmp_path / "out", tmp_path / "req.txt"
    requirements.write_text("app\n")
    result = shim(*pip_for_target.argv("pass", str(out), requirement=str(requirements)), "--",
                  "--find-links", str(wheelhouse), target=ARM)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "wheels").iterdir()) == sorted([
        "app-1.0-py3-none-any.whl", "armonly-1.0-py3-none-any.whl",
        next(p.name for p in wheelhouse.glob("fast-*armv7l*"))])
    assert "bslim: fast 1.0: wheel" in result.stdout


def test_the_pip_command_takes_the_targets_markers_and_public_platform_options(
        wheelhouse: Path, tmp_path: Path) -> None:
    """Build requirements: pip's public options say the target's tags, the shim its markers."""
    if platform.machine() in ("armv7l", "armv8l"):
        pytest.skip("needs a host that is not arm/v7")
    options = pip_for_target.target_options(ARM)
    result = shim(*pip_for_target.argv("pip"), "--", "download", "--dest", str(tmp_path / "d"),
                  *options, "--find-links", str(wheelhouse), "app", target=ARM)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted([
        "app-1.0-py3-none-any.whl", "armonly-1.0-py3-none-any.whl",
        next(p.name for p in wheelhouse.glob("fast-*armv7l*"))])


# --- a foreign pass takes each sdist's reference from the index instead of building it ----------

SDIST_BACKEND = '''\
import os, zipfile
TAG = "cp{0}{1}-cp{0}{1}-linux_x86_64"
META = "Metadata-Version: 2.1\\nName: slow\\nVersion: 1.0\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, "slow-1.0.dist-info"))
    with open(os.path.join(directory, "slow-1.0.dist-info", "METADATA"), "w") as f:
        f.write(META)
    return "slow-1.0.dist-info"
def build_wheel(directory, config_settings=None, metadata_directory=None):
    open(os.environ["BSLIM_TEST_BUILT"], "a").write("built\\n")
    name = "slow-1.0-" + TAG + ".whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as zf:
        zf.writestr("slow/_speedups.cpython-{0}{1}-x86_64-linux-gnu.so", b"")
        zf.writestr("slow-1.0.dist-info/METADATA", META)
        zf.writestr("slow-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: t\\n"
                    "Root-Is-Purelib: false\\nTag: " + TAG + "\\n")
        zf.writestr("slow-1.0.dist-info/RECORD", "")
    return name
'''.format(*sys.version_info[:2])


def make_sdist(into: Path) -> Path:
    """slow 1.0: an sdist whose in-tree backend needs nothing installed (offline) and notes
    each wheel it builds in $BSLIM_TEST_BUILT."""
    import tarfile

    into.mkdir(parents=True, exist_ok=True)
    sdist = into / "slow-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for name, text in (("pyproject.toml", '[build-system]\nrequires = []\n'
                            'build-backend = "slow_backend"\nbackend-path = ["."]\n'),
                           ("slow_backend.py", SDIST_BACKEND),
                           ("PKG-INFO", "Metadata-Version: 2.1\nName: slow\nVersion: 1.0\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"slow-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
    return sdist


@pytest.mark.parametrize("on_index", [True, False], ids=["binary-on-index", "sdist-only"])
def test_a_foreign_pass_takes_the_reference_from_the_index_when_it_can(
        tmp_path: Path, on_index: bool) -> None:
    """Cross-compiling for arm/v7, `slow` has only an sdist for the target. With the build
    platform's binary wheel of the same version beside it, that wheel is the gate's reference
    and the sdist is not built here (it is kept for the cross build); without one, the sdist
    is built here as before and its wheel is the reference."""
    if platform.machine() != "x86_64":
        pytest.skip("the stand-in binary wheel is tagged for x86-64")
    wheelhouse, built = tmp_path / "wheelhouse", tmp_path / "built.txt"
    make_sdist(wheelhouse)
    cp = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    binary = f"slow-1.0-{cp}-{cp}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    if on_index:
        make_wheel(wheelhouse, "slow", f"{cp}-{cp}-manylinux_2_17_x86_64.manylinux2014_x86_64")
    out, requirements = tmp_path / "out", tmp_path / "req.txt"
    requirements.write_text("slow==1.0\n")
    result = subprocess.run(
        [sys.executable, str(SHIM), *pip_for_target.argv(
            "pass", str(out), requirement=str(requirements), cross=True), "--",
         "--find-links", str(wheelhouse)], capture_output=True, text=True, check=False,
        env={**os.environ, "TARGETPLATFORM": ARM, "PIP_NO_INDEX": "1",
             "PIP_CONFIG_FILE": os.devnull, "BSLIM_TEST_BUILT": str(built)})
    assert result.returncode == 0, result.stderr
    assert (out / "cross.txt").read_text() == "slow==1.0\n"
    reference = [p.name for p in (out / "reference").iterdir()]
    if on_index:
        assert reference == [binary]
        assert not built.exists()  # not built on the build platform
        assert "the build platform's slow-1.0-" in result.stderr
    else:
        assert reference == [f"slow-1.0-{cp}-{cp}-linux_x86_64.whl"]
        assert built.read_text() == "built\n"
        assert "ERROR" not in result.stderr  # no binary wheel on the index is not an error
    # Either way the sdist pip resolved is the one prepared for the cross build.
    assert [p.name for p in (out / "sdists" / "slow").iterdir()] == ["slow-1.0.tar.gz"]
    assert (out / "sdists" / "slow.sha256").read_text() == hashlib.sha256(
        (wheelhouse / "slow-1.0.tar.gz").read_bytes()).hexdigest()
    assert not (out / ".index-wheels").exists()
