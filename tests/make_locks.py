"""Lock tests/lockapp with the real tools, from PyPI: `python -m tests.make_locks`.

Writes tests/lockapp/locks/ (committed: the unit tests, which may run no process, read them):
- uv.lock                   `uv lock` (universal: every platform's files, markers on edges)
- pylock.toml               `uv export --format pylock.toml` (universal, PEP 751)
- pylock.pip.toml           `pip lock` (a single-environment lock: this machine's wheels only)
- requirements.txt          `uv pip compile --universal --generate-hashes` (pip-compile's format,
                            `# via` annotations included)
- requirements.export.txt   `uv export --format requirements-txt`
- generated.json            how: the tools' versions, the Python pip locked for, the cut-off

Every tool sees PyPI only (this machine's pip configuration, local wheelhouses and constraints
are switched off) and nothing uploaded after EXCLUDE_NEWER, so a rerun gives the same locks.
tests/test_locks_fresh.py runs `generate` into a temporary directory on every test run and
checks what bslim reads there against what uv installs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent / "lockapp"
LOCKS = PROJECT / "locks"
EXCLUDE_NEWER = "2026-01-01T00:00:00Z"
NAMES = ("uv.lock", "pylock.toml", "pylock.pip.toml", "requirements.txt",
         "requirements.export.txt")


def tool_env() -> dict[str, str]:
    """The environment without this machine's pip/uv settings: PyPI, nothing else."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "UV_")) or k in ("PIP_CERT",)}
    env.update(PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               UV_INDEX_URL="https://pypi.org/simple", UV_PYTHON=sys.executable)
    cert = "/etc/ssl/certs/ca-certificates.crt"
    if Path(cert).is_file():  # a TLS-intercepting proxy's CA is in the system bundle
        env.setdefault("SSL_CERT_FILE", cert)  # uv reads it
        env.setdefault("PIP_CERT", cert)
    return env


def uv() -> str:
    """The uv installed beside this interpreter (bslim's dev extras), else on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv is not installed: pip install -e '.[dev]'")
    return found


def run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def generate(dest: Path, *, exclude_newer: str | None = EXCLUDE_NEWER) -> dict[str, Path]:
    """Lock a copy of tests/lockapp into `dest` (name -> path of each lock)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bslim-lockapp-") as tmp:
        work = Path(tmp) / "lockapp"
        shutil.copytree(PROJECT, work, ignore=shutil.ignore_patterns("locks", "*.egg-info",
                                                                     "build", "__pycache__"))
        cutoff = ["--exclude-newer", exclude_newer] if exclude_newer else []
        run([uv(), "lock", *cutoff], work)
        run([uv(), "export", "--frozen", "--all-extras", "--format", "pylock.toml", "-o",
             "pylock.toml"], work)
        run([uv(), "export", "--frozen", "--all-extras", "--format", "requirements-txt", "-o",
             "requirements.export.txt"], work)
        run([uv(), "pip", "compile", "--universal", "--generate-hashes", "--all-extras",
             *cutoff, "pyproject.toml", "-o", "requirements.txt"], work)
        prior = ["--uploaded-prior-to", exclude_newer] if exclude_newer else []
        run([sys.executable, "-m", "pip", "lock", "--quiet", *prior, ".[tz]", "-o",
             "pylock.pip.toml"], work)
        out = {}
        for name in NAMES:
            text = (work / name).read_text(encoding="utf-8")
            # uv writes the command line it ran into the header: keep it free of temp paths.
            (dest / name).write_text(text.replace(str(work), "tests/lockapp"),
                                     encoding="utf-8")
            out[name] = dest / name
    versions = {
        "uv": run([uv(), "--version"], PROJECT).strip(),
        "pip": run([sys.executable, "-m", "pip", "--version"], PROJECT).split(" from ")[0],
    }
    info = {
        "exclude-newer": exclude_newer,
        "pip-lock-python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "pip-lock-machine": os.uname().machine,
        "tools": versions,
    }
    (dest / "generated.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n",
                                         encoding="utf-8")
    return out


if __name__ == "__main__":
    for name, path in generate(LOCKS).items():
        print(f"wrote {path.relative_to(PROJECT.parent.parent)} ({name})")
