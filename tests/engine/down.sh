#!/usr/bin/env bash
# Stop what tests/engine/up.sh started (registry, dockerd, the containerd that dockerd spawned),
# found by the pid files up.sh recorded. Never touches processes it did not start.
# Idempotent: fine when nothing runs. Keeps caches, images and the registry's storage.
set -euo pipefail

STATE=${BSLIM_ENGINE_STATE:-/var/lib/bslim-engine}
say() { printf 'engine: %s\n' "$*"; }

# shellcheck source=tests/engine/procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
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

rc=0
stop registry "$STATE/registry.pid" docker-registry "$STATE/registry.yml" 15 || rc=1
# dockerd stops its containers and its containerd on TERM; give it time
stop dockerd "$STATE/dockerd.pid" dockerd "$STATE/daemon.json" 60 || rc=1
# a containerd our dockerd spawned and left behind (e.g. dockerd was killed)
stop containerd "$STATE/containerd.pid" containerd /var/run/docker/containerd/ 20 || rc=1
[ $rc = 0 ] && say "down"
exit $rc
