"""What `bslim bake --sbom` costs, in ONE invocation, on the local engine:

    .venv/bin/python -m tests.bench.sbom_cost [--cold]

The fixture of tests/e2e/test_sbom.py (tinyext from its sdist + six from the index, both
platforms, pushed). Builds it once to warm the cache, then the same push without and with
`--sbom` (the generator: bslim's own image, built and pushed first when missing); with
--cold, both with --no-cache instead. Prints the wall times and the difference. A script, not
a test: one machine, side by side, nothing asserted about time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.conftest import HOST_CA, make_project
from tests.e2e.test_sbom import GENERATOR, IMAGE, REPO

# The engine's builds reach the index through a TLS-intercepting proxy here: the host's CAs.
CA = ("--ca-bundle", str(HOST_CA))


def bake(*args: str) -> float:
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "buildkit_slim", "bake", *args],
                         capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"bake {' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true")
    cold = parser.parse_args().cold
    with tempfile.TemporaryDirectory() as tmp:
        if subprocess.run(["docker", "buildx", "imagetools", "inspect", GENERATOR],
                          capture_output=True, check=False).returncode != 0:
            tree = Path(tmp) / "buildkit-slim"
            files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True,
                                   text=True, check=True).stdout.split()
            for name in files:
                if not name.startswith("tests/") and (REPO / name).is_file():
                    (tree / name).parent.mkdir(parents=True, exist_ok=True)
                    (tree / name).write_bytes((REPO / name).read_bytes())
            took = bake("--project", str(tree), "--platform", "linux/amd64", "--push",
                        "--set", f"buildkit-slim.tags={GENERATOR}", *CA)
            print(f"generator: {took:.1f} s")
        project = make_project(Path(tmp) / "sbomapp", packages=("tinyext",),
                               dependencies=["tinyext==0.1.0", "six==1.17.0"])
        pyproject = project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace(
            'image = "127.0.0.1:5000/bslim-e2e/e2eapp"', f'image = "{IMAGE}"'))
        common = ["--project", str(project), "--push", "--tag", "sbom-bench", *CA,
                  *(["--no-cache"] if cold else [])]
        if not cold:
            print(f"warm-up: {bake(*common):.1f} s")
        without = bake(*common)
        with_sbom = bake(*common, "--sbom", GENERATOR)
    kind = "cold (--no-cache)" if cold else "warm (cache from the warm-up)"
    print(f"{kind}: without --sbom {without:.1f} s, with --sbom {with_sbom:.1f} s, "
          f"difference {with_sbom - without:+.1f} s (ratio {with_sbom / without:.2f})")


if __name__ == "__main__":
    main()
