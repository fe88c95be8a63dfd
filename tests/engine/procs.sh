# Sourced by up.sh and down.sh: how they recognise the processes they started.
# shellcheck shell=bash

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    [[ ${1-} =~ ^[0-9]+$ ]] || return 1
    st=$(sed -n 's/^.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ]
}

# ours_pid PIDFILE COMM NEEDLE: prints the pid when the pid file names a live process called
# COMM whose command line contains NEEDLE (never trust a bare pid: pids are reused).
ours_pid() {
    local pid cmd
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" 2>/dev/null) || return 1
    alive "$pid" || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$3"* ]] || return 1
    echo "$pid"
}

# ours PIDFILE COMM NEEDLE: the same, as a test.
ours() { ours_pid "$@" >/dev/null; }
