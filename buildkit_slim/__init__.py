"""bslim: small multi-architecture container images for Python projects."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up when first asked for, not at import: importlib.metadata costs ~30 ms, and the
    # console script imports this package before it can install its signal handlers (a Ctrl-C
    # in that window is Python's traceback, not bslim's one line).
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        # The version is written once, in pyproject.toml; the installed metadata carries it.
        found = version("buildkit-slim")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
