#!/usr/bin/env bash
# The full test suite on a fresh machine (run as root): virtualenv, engine, lint, types,
# unit tests and the end-to-end tests, which are REQUIRED here (a missing engine fails).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=tests/setup.sh
source tests/setup.sh
stop_engine() {
    if [ "$ENGINE_STARTED_HERE" = 1 ] && [ "${BSLIM_KEEP_ENGINE:-0}" != 1 ]; then
        bash tests/engine/down.sh
    fi
}
trap stop_engine EXIT
echo "run: ruff"
"$BSLIM_VENV/bin/ruff" check .
echo "run: mypy"
"$BSLIM_VENV/bin/mypy"
echo "run: pytest (unit + end-to-end)"
# --durations: where CI's time goes (its budget is 90 minutes), printed before the summary.
BSLIM_REQUIRE_ENGINE=1 "$BSLIM_VENV/bin/pytest" --run-e2e --durations=20 "$@"
