"""Options for the whole suite: end-to-end tests (tests/e2e/) run only with --run-e2e.

They build for real on a Docker Engine and take minutes; `tests/run.sh` (the README's test
command, and so CI) always passes --run-e2e, together with BSLIM_REQUIRE_ENGINE=1 so that a
missing engine fails the run instead of skipping it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-e2e", action="store_true", default=False,
                     help="run the end-to-end tests in tests/e2e (a Docker Engine with arm/v7 "
                          "emulation and a registry on 127.0.0.1:5000; see tests/engine)")
