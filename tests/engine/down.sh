#!/usr/bin/env bash
# Stop what tests/engine/up.sh started for the engine BSLIM_ENGINE names (26, the default, or
# 28): its dockerd and the containerd that dockerd spawned, found by the pid files up.sh
# recorded; engine 28's bridge and NAT rules; the registry, shared by both engines, only when
# the other engine is not running. Never touches processes it did not start.
# Idempotent: fine when nothing runs. Keeps caches, images and the registry's storage.
set -euo pipefail

say() { printf 'engine: %s\n' "$*"; }

# shellcheck source=tests/engine/procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
# shellcheck source=tests/engine/choice.sh
source "$(dirname "${BASH_SOURCE[0]}")/choice.sh"
# stop NAME PIDFILE COMM NEEDLE SECONDS: TERM, wait up to SECONDS, then KILL; remove the pid file.
stop() {
    local name=$1 pf=$2 pid n=0
    if pid=$(ours_pid "$pf" "$3" "$4"); then
        kill -TERM "$pid" 2>/dev/null || true
        while alive "$pid" && [ $n -lt $(($5 * 5)) ]; do sleep 0.2; n=$((n + 1)); done
        if alive "$pid"; then
            say "$name (pid $pid) still runs after $5 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            n=0
            while alive "$pid" && [ $n -lt 25 ]; do sleep 0.2; n=$((n + 1)); done
        fi
        alive "$pid" && { say "ERROR: $name (pid $pid) does not exit"; return 1; }
        say "stopped $name (pid $pid)"
    elif [ -e "$pf" ]; then
        say "$name already gone"
    fi
    rm -f "$pf"
}

[ -d "$STATE" ] || { say "nothing to stop ($STATE does not exist)"; exit 0; }
if [ -e "$STATE/up.lock" ] && command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE/up.lock"
    flock -w 600 9 || { say "ERROR: up.sh still holds $STATE/up.lock"; exit 1; }
fi

# the other engine, if up.sh started it and it still runs, keeps using the registry
other=26
[ "$BSLIM_ENGINE" != 26 ] || other=28
other_runs() (engine_vars "$other" && ours "$ENGINE_STATE/dockerd.pid" "$DOCKERD_COMM" "$ENGINE_STATE/daemon.json")

rc=0
if other_runs; then
    [ ! -e "$STATE/registry.pid" ] || say "registry left running: engine $other uses it"
else
    stop registry "$STATE/registry.pid" docker-registry "$STATE/registry.yml" 15 || rc=1
fi
# dockerd stops its containers and its containerd on TERM; give it time
stop "dockerd (engine $BSLIM_ENGINE)" "$ENGINE_STATE/dockerd.pid" "$DOCKERD_COMM" "$ENGINE_STATE/daemon.json" 60 || rc=1
# a containerd our dockerd spawned and left behind (e.g. dockerd was killed)
stop containerd "$ENGINE_STATE/containerd.pid" containerd "$MANAGED_CONTAINERD_DIR/" 20 || rc=1
if [ "$BSLIM_ENGINE" = 28 ] && [ $rc = 0 ]; then
    # the NAT rules up.sh added (each carries its comment) and the bridge it created
    export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
    for table in nat filter; do
        if command -v iptables >/dev/null 2>&1; then
            iptables -t "$table" -S 2>/dev/null | grep -e '--comment "\?bslim-engine-28"\?' |
                sed 's/^-A /-D /' | while read -ra rule; do
                iptables -t "$table" "${rule[@]}"
            done
        fi
    done
    if ip link show "$ENGINE_BRIDGE" >/dev/null 2>&1; then ip link delete "$ENGINE_BRIDGE" || rc=1; fi
fi
[ $rc = 0 ] && say "engine $BSLIM_ENGINE down"
exit $rc
