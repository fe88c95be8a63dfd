#!/usr/bin/env bash
# The main job (run as root on a fresh machine): bring up the engine if none is usable, build
# the hello example for linux/amd64 and linux/arm/v7, push it to the local registry, run it
# once per platform, and print each image's compressed size.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
# shellcheck source=tests/setup.sh
source tests/setup.sh
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
