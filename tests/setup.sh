#!/usr/bin/env bash
# Shared set-up for the README's two commands: a virtualenv with bslim and its dev tools,
# then a usable Docker Engine (tests/engine/up.sh brings one up on a fresh machine).
# Sourced, not run: it exports BSLIM_VENV and ENGINE_STARTED_HERE for the caller.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BSLIM_VENV=${BSLIM_VENV:-$repo/.venv}
if [ ! -x "$BSLIM_VENV/bin/python" ]; then
    echo "setup: creating virtualenv $BSLIM_VENV"
    python3 -m venv "$BSLIM_VENV"
fi
echo "setup: installing bslim with its dev dependencies"
"$BSLIM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$repo[dev]" \
    2> >(grep -v "^WARNING: Location" >&2)
ENGINE_STARTED_HERE=0
if ! docker info >/dev/null 2>&1; then
    ENGINE_STARTED_HERE=1
fi
bash "$repo/tests/engine/up.sh"
export BSLIM_VENV ENGINE_STARTED_HERE
