# Sourced by up.sh, down.sh and tests/setup.sh: which engine BSLIM_ENGINE names and where its
# pieces live. Two engines can run side by side on one machine:
#   26 (default): Debian's docker.io 26.1 + containerd 1.7 + docker-buildx 0.13, installed with
#       apt, on the machine's default socket; the `docker` on PATH and its plugins as they are.
#   28: docker.io 28.5 + containerd 2.1 + docker-buildx 0.29 + docker-cli 28.5 from Debian forky,
#       unpacked (never installed) into $ENGINE_PREFIX, with a socket, exec root, data root,
#       bridge and CLI configuration (DOCKER_CONFIG, which holds its buildx) of its own.
# shellcheck shell=bash

BSLIM_ENGINE=${BSLIM_ENGINE:-26}
STATE=${BSLIM_ENGINE_STATE:-/var/lib/bslim-engine}

# engine_vars ENGINE: set the ENGINE_* variables for that engine (also used for the other one,
# in a subshell, to see whether it still runs).
engine_vars() {
    case $1 in
        26)
            ENGINE_STATE=$STATE
            ENGINE_SOCKET=/var/run/docker.sock
            ENGINE_EXEC_ROOT=/var/run/docker
            DOCKERD_COMM=dockerd
            ENGINE_PREFIX=
            ;;
        28)
            ENGINE_STATE=$STATE/engine-28
            ENGINE_SOCKET=/var/run/bslim-engine-28/docker.sock
            ENGINE_EXEC_ROOT=/var/run/bslim-engine-28
            ENGINE_DATA_ROOT=/var/lib/bslim-engine-28
            ENGINE_PREFIX=${BSLIM_ENGINE_PREFIX:-/opt/bslim-engine/28}
            # Its own bridge, so it never touches docker0; NAT for it is two rules up.sh adds
            # (iptables=false: dockerd 28 rewrites FORWARD/DOCKER-* chains dockerd 26 relies on).
            ENGINE_BRIDGE=bslim28
            ENGINE_BRIDGE_CIDR=172.31.228.1/24
            # dockerd started through a symlink of this name: `pgrep -x dockerd` (an older up.sh
            # guarding the default engine) does not mistake it for a stranger's dockerd.
            DOCKERD_COMM=bslim28-dockerd
            ;;
        *)
            printf 'engine: ERROR: BSLIM_ENGINE=%s: expected 26 (default) or 28\n' "$1" >&2
            return 1
            ;;
    esac
    MANAGED_CONTAINERD_DIR=$ENGINE_EXEC_ROOT/containerd
}
engine_vars "$BSLIM_ENGINE" || exit 1

# engine_client_env: point `docker` (and python-on-whales, which runs it) at the chosen engine.
# The default engine keeps the caller's environment exactly as it is.
engine_client_env() {
    [ "$BSLIM_ENGINE" != 26 ] || return 0
    export DOCKER_HOST="unix://$ENGINE_SOCKET"
    export DOCKER_CONFIG="$ENGINE_STATE/docker-config" # cli-plugins/docker-buildx: buildx 0.29
    case ":$PATH:" in
        *":$ENGINE_STATE/bin:"*) ;;
        *) export PATH="$ENGINE_STATE/bin:$PATH" ;; # docker CLI 28.5
    esac
}
