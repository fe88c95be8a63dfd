#!/usr/bin/env bash
# The main job (run as root on a fresh machine): bring up the engine if none is usable, build
# the hello example for linux/amd64 and linux/arm/v7, push it to the local registry, run it
# once per platform, and print each image's compressed size.
# hello builds on python:3.13-trixie and python:3.13-slim-trixie, so the engine gets only those
# stand-ins (official layout; tests/engine/README.md), unless BSLIM_STANDIN_RELEASES or
# BSLIM_STANDIN_LAYOUTS say otherwise. The engine comes up while the virtualenv installs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
export BSLIM_STANDIN_RELEASES=${BSLIM_STANDIN_RELEASES-trixie}
export BSLIM_STANDIN_LAYOUTS=${BSLIM_STANDIN_LAYOUTS-official}
# shellcheck source=tests/engine/choice.sh
source tests/engine/choice.sh
engine_client_env
bash tests/engine/up.sh &
engine_pid=$!
trap 'kill "$engine_pid" 2>/dev/null || true' EXIT
BSLIM_VENV=${BSLIM_VENV:-$repo/.venv}
if [ ! -x "$BSLIM_VENV/bin/python" ]; then
    echo "setup: creating virtualenv $BSLIM_VENV"
    python3 -m venv "$BSLIM_VENV"
fi
echo "setup: installing bslim with its dev dependencies"
"$BSLIM_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "${repo}[dev]" \
    2> >(grep -v "^WARNING: Location" >&2)
echo "setup: bslim installed; waiting for the engine"
wait "$engine_pid" || { echo "setup: tests/engine/up.sh failed" >&2; exit 1; }
trap - EXIT
bslim=$BSLIM_VENV/bin/bslim
ca_args=()
# pip inside build steps needs the host's CA bundle behind a TLS-intercepting proxy.
host_ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$host_ca" ] && ca_args=(--ca-bundle "$host_ca")
"$bslim" bake --project examples/hello --push --tag dev "${ca_args[@]}"
image=127.0.0.1:5000/bslim-examples/hello:dev
for platform in linux/amd64 linux/arm/v7; do
    docker run --rm --pull always --platform "$platform" "$image" 2>/dev/null
done
"$bslim" size "$image"
