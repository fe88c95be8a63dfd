"""Regenerate the golden files: `python tests/unit/regen_golden.py` (from the repo root or not).

Each directory under golden/ is a project: its pyproject.toml (and whatever files it names)
is the input, expected/ holds what `bslim render` writes, at the same project-relative paths.
Review the diff before committing: a golden change is a change of bslim's output.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from buildkit_slim.config import SHIM_FILE
from buildkit_slim.load import load
from buildkit_slim.render import render_all
from buildkit_slim.render.shim import shim_files
from buildkit_slim.resources import SHIM_MODULES

GOLDEN = Path(__file__).resolve().parent / "golden"
EXPECTED = "expected"
REGENERATE = "python tests/unit/regen_golden.py"
SHIM_STANDIN = "# buildkit_slim/resources/pip_for_target.py, byte for byte\n"
PLATFORMS_STANDIN = "# buildkit_slim/platforms.py, byte for byte\n"
MODULE_STANDIN = "# buildkit_slim/resources/{}, byte for byte\n"


def cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "pyproject.toml").is_file())


def render_case(case: Path) -> dict[str, str]:
    """What bslim renders for this case: project-relative path -> text. The shim and the
    modules it imports, when byte for byte bslim's own, stand as one line each (not hundreds
    of lines again in every case)."""
    own = shim_files(load(case)[1].targets[0])
    standins = {own[SHIM_FILE]: SHIM_STANDIN, own["platforms.py"]: PLATFORMS_STANDIN,
                **{own[name]: MODULE_STANDIN.format(name) for name in SHIM_MODULES
                   if name not in (SHIM_FILE, "platforms.py")}}
    return {f.path: standins.get(f.text, f.text)
            for f in render_all(load(case)[1])}


def expected_files(case: Path) -> dict[str, str]:
    root = case / EXPECTED
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def write_expected(case: Path) -> list[str]:
    """Replace expected/ with the current rendering; returns the paths written."""
    root = case / EXPECTED
    shutil.rmtree(root, ignore_errors=True)
    rendered = render_case(case)
    for path, text in rendered.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return sorted(rendered)


def main() -> int:
    for case in cases():
        for path in write_expected(case):
            print(f"wrote {(case / EXPECTED / path).relative_to(GOLDEN.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
