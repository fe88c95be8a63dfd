#!/usr/bin/env bash
# Stop what tests/engine/up.sh started (registry, dockerd, the containerd that dockerd spawned),
# found by the pid files up.sh recorded. Never touches processes it did not start.
# Idempotent: fine when nothing runs. Keeps caches, images and the registry's storage.
set -euo pipefail

STATE=${BSLIM_ENGINE_STATE:-/var/lib/bslim-engine}
say() { printf 'engine: %s\n' "$*"; }

alive() {
    local st
    [[ ${1-} =~ ^[0-9]+$ ]] || return 1
    st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}
# ours PIDFILE COMM NEEDLE: prints the pid when the file names a live COMM whose command line
# contains NEEDLE (same test as up.sh).
ours() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" 2>/dev/null) || return 1
    alive "$pid" || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    local cmd
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$3"* ]] || return 1
    echo "$pid"
}
# stop NAME PIDFILE COMM NEEDLE SECONDS: TERM, wait up to SECONDS, then KILL; remove the pid file.
stop() {
    local name=$1 pf=$2 pid n=0
    if pid=$(ours "$pf" "$3" "$4"); then
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
