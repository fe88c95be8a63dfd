#!/usr/bin/env bash
# Bring up a real BuildKit engine for bslim's engine tests on a Debian 12/13 machine (as root):
# dockerd (containerd image store) + buildx + QEMU binfmt + a local registry on 127.0.0.1:5000
# acting as Docker Hub mirror, holding stand-ins for the official python images.
# BSLIM_ENGINE=26 (default) or 28 picks the engine; both can run side by side (choice.sh).
# Idempotent; a second run only checks and takes seconds. See tests/engine/README.md.
set -euo pipefail
set -E

# Bump when the stand-in recipe changes in a way the recipe text below does not show.
RECIPE_VERSION=2

CACHE=${BSLIM_ENGINE_CACHE:-/var/cache/bslim-engine}
RELEASES=${BSLIM_STANDIN_RELEASES-trixie bookworm}
REGISTRY=127.0.0.1:5000
DEBIAN_MIRROR=http://deb.debian.org/debian
PLATFORMS=linux/amd64,linux/arm/v7
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS

say() { printf 'engine: %s\n' "$*"; }
# die MESSAGE [LOGFILE]: print the message (and the log's tail), exit non-zero.
die() {
    printf 'engine: ERROR: %s\n' "$1" >&2
    if [ -n "${2-}" ] && [ -s "$2" ]; then
        printf 'engine: --- last lines of %s ---\n' "$2" >&2
        tail -n 40 "$2" >&2
        printf 'engine: ---\n' >&2
    fi
    exit 1
}
on_err() { printf 'engine: ERROR: line %s: "%s" exited %s\n' "$2" "$3" "$1" >&2; }
trap 'on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# shellcheck source=tests/engine/procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
# shellcheck source=tests/engine/choice.sh
source "$(dirname "${BASH_SOURCE[0]}")/choice.sh"
LOGS="$STATE/logs"
# the chosen engine's own: daemon.json, pid files, env, dockerd.log (the default engine's are
# $STATE's, where they always were)
ELOGS="$ENGINE_STATE/logs"
dockerd_ours() { ours "$ENGINE_STATE/dockerd.pid" "$DOCKERD_COMM" "$ENGINE_STATE/daemon.json"; }
registry_ours() { ours "$STATE/registry.pid" docker-registry "$STATE/registry.yml"; }
docker_answers() { command -v docker >/dev/null 2>&1 && timeout 15 docker info >/dev/null 2>&1; }
# write_file PATH CONTENT: write only when different; returns 0 when it changed.
write_file() {
    if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
    mkdir -p "$(dirname "$1")"
    printf '%s\n' "$2" >"$1.tmp.$$"
    mv -f "$1.tmp.$$" "$1"
}

# --- 0. someone else's engine? ---------------------------------------------------------------
engine_client_env
if [ "$BSLIM_ENGINE" = 26 ] && docker_answers && ! dockerd_ours; then
    say "a docker engine not started by bslim already answers ($(docker context show 2>/dev/null || echo default) context); changing nothing"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts dockerd)"
# shellcheck disable=SC1091
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
case $CODENAME in
    bookworm | trixie) ;;
    *) die "Debian 12 (bookworm) or 13 (trixie) expected, found '${CODENAME:-unknown}'" ;;
esac
mkdir -p "$STATE" "$LOGS" "$CACHE" "$ENGINE_STATE" "$ELOGS"
exec 9>"$STATE/up.lock"
flock -w 3600 9 || die "another up.sh holds $STATE/up.lock"

# --- 1. packages -----------------------------------------------------------------------------
pkg_version() { { dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$1 == "installed" {print $2}'; }

POLICY_RC_CREATED=
cleanup() {
    if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; fi
    local j
    for j in $(jobs -pr); do kill "$j" 2>/dev/null || true; done
}
trap cleanup EXIT

ensure_packages() {
    local want=(runc tini iptables qemu-user-static binfmt-support
        docker-registry mmdebstrap arch-test curl jq ca-certificates util-linux
        python3 gpgv xz-utils) # the stand-ins: foreign_rootfs.py, the CPython signature, .tar.xz
    if [ "$BSLIM_ENGINE" = 26 ]; then
        want+=(containerd docker.io docker-buildx)
        command -v docker >/dev/null 2>&1 || want+=(docker-cli)
    else
        want+=(iproute2 xz-utils) # its bridge; dpkg -x of forky's .debs (xz/zstd data)
    fi
    local missing=() p v
    for p in "${want[@]}"; do
        v=$(pkg_version "$p")
        if [ -z "$v" ]; then
            missing+=("$p")
        elif [ "$p" = docker.io ] && dpkg --compare-versions "$v" lt 26; then
            missing+=("$p") # bookworm's 20.10 cannot build several platforms per target
        fi
    done
    [ ${#missing[@]} -gt 0 ] || return 0

    local t=$SECONDS log="$LOGS/apt.log"
    say "installing ${missing[*]} (about 20-40 s with apt-get update) (log: $log)"
    if [ "$CODENAME" = bookworm ]; then
        # docker.io 26, containerd 1.7, buildx and docker-cli come from trixie; nothing else may.
        write_file /etc/apt/sources.list.d/bslim-engine-trixie.sources "# Written by bslim tests/engine/up.sh; see /etc/apt/preferences.d/bslim-engine-trixie
Types: deb
URIs: $DEBIAN_MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" || true
        write_file /etc/apt/preferences.d/bslim-engine-trixie "# Written by bslim tests/engine/up.sh: only these packages may come from trixie.
Package: docker.io docker-cli containerd docker-buildx
Pin: release n=trixie
Pin-Priority: 500

Package: *
Pin: release n=trixie
Pin-Priority: -1" || true
    fi
    # No systemd here, but sysv init scripts would start docker/docker-registry on install: deny.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt-get -o DPkg::Lock::Timeout=600 update >"$log" 2>&1 || die "apt-get update failed" "$log"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
        die "apt-get install failed" "$log"
    if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d && POLICY_RC_CREATED=; fi
    say "installed in $(elapsed "$t")"
}
ensure_packages

# Engine 28: forky's docker.io, docker-cli, docker-buildx and containerd, downloaded with an apt
# configuration of their own (the machine's sources, pins and package database are not read or
# changed) and unpacked with dpkg -x into $ENGINE_PREFIX: nothing from forky is installed, so
# nothing else (libc6!) can come from it. They need only libc6 >= 2.34; runc, iptables and
# tini stay the release's own (forky's runc needs libc6 2.38).
ENGINE_28_PACKAGES=${BSLIM_ENGINE_28_PACKAGES:-"docker.io=28.5.* docker-cli=28.5.* docker-buildx=0.29.* containerd=2.1.*"}
ensure_engine_28() {
    local want stamp="$ENGINE_PREFIX/.bslim-packages" t=$SECONDS log="$ELOGS/packages.log"
    want=$(printf '%s\n' "$ENGINE_28_PACKAGES")
    if [ "$(head -n1 "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$ENGINE_PREFIX/usr/sbin/dockerd" ]; then
        return 0
    fi
    local apt="$CACHE/apt-forky" spec name pattern version debs=() opts
    mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/debs"
    printf 'deb %s forky main\ndeb %s sid main\n' "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >"$apt/sources.list"
    opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o Dir::State::status=/dev/null
        -o APT::Sandbox::User=root -o Acquire::Languages=none)
    say "downloading the engine 28 packages from forky: $ENGINE_28_PACKAGES (log: $log)"
    apt-get "${opts[@]}" update >"$log" 2>&1 || die "apt-get update (forky, private lists) failed" "$log"
    rm -f "$apt/debs/"*.deb
    for spec in $ENGINE_28_PACKAGES; do
        name=${spec%%=*}
        pattern=${spec#*=}
        # the newest version the suites offer that matches the pattern
        version=$(apt-cache "${opts[@]}" madison "$name" | awk -F' [|] ' '{print $2}' |
            while read -r v; do
                # shellcheck disable=SC2254
                case $v in $pattern) echo "$v" ;; esac
            done | sort -V | tail -n1)
        [ -n "$version" ] || die "forky/sid offer no $name matching $pattern ($(apt-cache "${opts[@]}" madison "$name" | awk -F' [|] ' '{print $2}' | sort -u | tr '\n' ' '))"
        (cd "$apt/debs" && apt-get "${opts[@]}" download "$name=$version") >>"$log" 2>&1 ||
            die "apt-get download $name=$version failed" "$log"
        debs+=("$name $version")
    done
    rm -rf "$ENGINE_PREFIX.new"
    mkdir -p "$ENGINE_PREFIX.new"
    local deb
    for deb in "$apt/debs/"*.deb; do dpkg -x "$deb" "$ENGINE_PREFIX.new" >>"$log" 2>&1 || die "dpkg -x $deb failed" "$log"; done
    "$ENGINE_PREFIX.new/usr/sbin/dockerd" --version >>"$log" 2>&1 ||
        die "the unpacked dockerd does not run on this machine" "$log"
    printf '%s\n' "$want" "${debs[@]}" >"$ENGINE_PREFIX.new/.bslim-packages"
    rm -rf "$ENGINE_PREFIX"
    mv "$ENGINE_PREFIX.new" "$ENGINE_PREFIX"
    say "engine 28 packages in $ENGINE_PREFIX: $(tail -n +2 "$ENGINE_PREFIX/.bslim-packages" | tr '\n' ' ')($(elapsed "$t"))"
}
if [ "$BSLIM_ENGINE" = 28 ]; then
    ensure_engine_28
    # the CLI 28.5 first on PATH, dockerd under a name of its own, buildx 0.29 in a DOCKER_CONFIG
    # of its own (the CLI looks in $DOCKER_CONFIG/cli-plugins before the system's plugin dirs)
    mkdir -p "$ENGINE_STATE/bin" "$ENGINE_STATE/docker-config/cli-plugins"
    ln -sfn "$ENGINE_PREFIX/usr/bin/docker" "$ENGINE_STATE/bin/docker"
    ln -sfn "$ENGINE_PREFIX/usr/sbin/dockerd" "$ENGINE_STATE/bin/$DOCKERD_COMM"
    ln -sfn "$ENGINE_PREFIX/usr/libexec/docker/cli-plugins/docker-buildx" \
        "$ENGINE_STATE/docker-config/cli-plugins/docker-buildx"
fi

DOCKER_BIN=$(command -v docker) || die "no docker CLI on PATH"
BUILDX_VERSION=$(docker buildx version 2>&1) ||
    die "'$DOCKER_BIN buildx version' fails: the CLI does not find the plugin in ${DOCKER_CONFIG:-~/.docker}/cli-plugins or /usr/libexec/docker/cli-plugins ($BUILDX_VERSION)"
if [ "$BSLIM_ENGINE" = 28 ] && [[ $BUILDX_VERSION != *" 0.29."* ]]; then
    die "engine 28 expects buildx 0.29 from $ENGINE_STATE/docker-config/cli-plugins, got: $BUILDX_VERSION"
fi

# --- 2. QEMU binfmt --------------------------------------------------------------------------
ensure_binfmt() {
    local f=/proc/sys/fs/binfmt_misc/qemu-arm
    if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
        grep -qw binfmt_misc /proc/filesystems || modprobe binfmt_misc 2>/dev/null || true
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
            die "cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc (kernel without CONFIG_BINFMT_MISC?)"
    fi
    if ! grep -qx enabled "$f" 2>/dev/null; then
        update-binfmts --enable >"$LOGS/binfmt.log" 2>&1 || true
    fi
    if [ ! -e "$f" ]; then
        # trixie's qemu-user-binfmt ships only a systemd-binfmt file, and no systemd runs here:
        # register it the way systemd-binfmt would
        local c
        for c in /etc/binfmt.d/qemu-arm.conf /usr/lib/binfmt.d/qemu-arm.conf; do
            [ -r "$c" ] || continue
            grep -v '^[#;]' "$c" | grep -m1 . >/proc/sys/fs/binfmt_misc/register 2>>"$LOGS/binfmt.log" || true
            break
        done
    fi
    if [ -e "$f" ] && ! grep -qx enabled "$f"; then echo 1 >"$f" 2>>"$LOGS/binfmt.log" || true; fi
    grep -qx enabled "$f" 2>/dev/null || die "$f is not enabled after update-binfmts --enable" "$LOGS/binfmt.log"
    grep -q '^flags:.*F' "$f" ||
        die "$f lacks flag F ($(grep '^flags' "$f")): emulation would not work inside containers"
}
ensure_binfmt

# --- 3. dockerd --------------------------------------------------------------------------------
DAEMON_JSON="{
  \"features\": {\"containerd-snapshotter\": true},
  \"registry-mirrors\": [\"http://$REGISTRY\"],
  \"pidfile\": \"$ENGINE_STATE/dockerd.pid\"
}"
if [ "$BSLIM_ENGINE" = 28 ]; then
    # Everything a second daemon must not share with the default one (socket, exec root with
    # its managed containerd, data root, pid file, bridge); no iptables of its own (see below).
    DAEMON_JSON="{
  \"features\": {\"containerd-snapshotter\": true},
  \"registry-mirrors\": [\"http://$REGISTRY\"],
  \"pidfile\": \"$ENGINE_STATE/dockerd.pid\",
  \"hosts\": [\"unix://$ENGINE_SOCKET\"],
  \"exec-root\": \"$ENGINE_EXEC_ROOT\",
  \"data-root\": \"$ENGINE_DATA_ROOT\",
  \"bridge\": \"$ENGINE_BRIDGE\",
  \"iptables\": false,
  \"ip6tables\": false
}"
fi

# Engine 28's network: its own bridge and the two rules that give build steps a way out.
# dockerd 28 keeps its hands off iptables: it restructures the FORWARD and DOCKER-* chains that a
# dockerd 26 on the same machine relies on. Every rule carries the comment NAT_TAG (down.sh
# deletes exactly those).
NAT_TAG=bslim-engine-28
ensure_network_28() {
    local net=${ENGINE_BRIDGE_CIDR%.*}.0/${ENGINE_BRIDGE_CIDR#*/}
    if ! ip link show "$ENGINE_BRIDGE" >/dev/null 2>&1; then
        ip link add "$ENGINE_BRIDGE" type bridge || die "cannot create bridge $ENGINE_BRIDGE"
    fi
    ip addr show dev "$ENGINE_BRIDGE" | grep -qF "inet $ENGINE_BRIDGE_CIDR " ||
        ip addr add "$ENGINE_BRIDGE_CIDR" dev "$ENGINE_BRIDGE"
    ip link set "$ENGINE_BRIDGE" up
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || echo 1 >/proc/sys/net/ipv4/ip_forward
    iptables -t nat -C POSTROUTING -s "$net" ! -o "$ENGINE_BRIDGE" -m comment --comment "$NAT_TAG" -j MASQUERADE 2>/dev/null ||
        iptables -t nat -A POSTROUTING -s "$net" ! -o "$ENGINE_BRIDGE" -m comment --comment "$NAT_TAG" -j MASQUERADE
    # dockerd 26 sets the FORWARD policy to DROP: let this bridge's traffic through, first
    iptables -C FORWARD -i "$ENGINE_BRIDGE" -m comment --comment "$NAT_TAG" -j ACCEPT 2>/dev/null ||
        iptables -I FORWARD 1 -i "$ENGINE_BRIDGE" -m comment --comment "$NAT_TAG" -j ACCEPT
    iptables -C FORWARD -o "$ENGINE_BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "$NAT_TAG" -j ACCEPT 2>/dev/null ||
        iptables -I FORWARD 1 -o "$ENGINE_BRIDGE" -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "$NAT_TAG" -j ACCEPT
}
[ "$BSLIM_ENGINE" != 28 ] || ensure_network_28

# daemon CMD...: CMD in a session of its own, holding no file descriptor of ours but 0-2. A daemon
# inherits every open descriptor: up.sh's own lock (fd 9) and, under `flock LOCK up.sh`, the
# descriptor flock(1) locked, which would keep that lock held for as long as the daemon lives.
daemon() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid "$@"
}

# stop_pid PID SECONDS: TERM, wait, then KILL. Only ever called on processes we recognised as ours.
stop_pid() {
    local pid=$1 n=0
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [ $n -lt $(($2 * 5)) ]; do sleep 0.2; n=$((n + 1)); done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
}

clear_stale_docker_state() {
    local pid
    # our pid file naming something else (dead, or a reused pid): dockerd would refuse to start
    if [ -e "$ENGINE_STATE/dockerd.pid" ] && ! dockerd_ours; then rm -f "$ENGINE_STATE/dockerd.pid"; fi
    # a containerd our dockerd spawned, orphaned when that dockerd was killed
    if ours "$ENGINE_STATE/containerd.pid" containerd "$MANAGED_CONTAINERD_DIR/"; then
        pid=$(head -n1 "$ENGINE_STATE/containerd.pid")
        say "stopping containerd $pid left behind by our previous dockerd"
        stop_pid "$pid" 20
    fi
    rm -f "$ENGINE_STATE/containerd.pid"
    # the default pid files naming a dead process block a new dockerd/containerd
    local stale=("$MANAGED_CONTAINERD_DIR/containerd.pid")
    [ "$BSLIM_ENGINE" != 26 ] || stale+=(/var/run/docker.pid)
    for f in "${stale[@]}"; do
        if [ -s "$f" ] && ! alive "$(head -n1 "$f")"; then rm -f "$f"; fi
    done
    if [ ! -e "$MANAGED_CONTAINERD_DIR/containerd.pid" ]; then
        rm -f "$MANAGED_CONTAINERD_DIR/containerd.sock" "$MANAGED_CONTAINERD_DIR/containerd.sock.ttrpc" \
            "$MANAGED_CONTAINERD_DIR/containerd-debug.sock"
    fi
}

start_dockerd() {
    local t=$SECONDS log="$ELOGS/dockerd.log" pid other p started= path=$PATH
    if write_file "$ENGINE_STATE/daemon.json" "$DAEMON_JSON" && dockerd_ours; then
        say "daemon.json changed: restarting our dockerd"
        stop_pid "$(head -n1 "$ENGINE_STATE/dockerd.pid")" 60
    fi
    if dockerd_ours; then
        pid=$(head -n1 "$ENGINE_STATE/dockerd.pid")
    else
        clear_stale_docker_state
        other=
        for p in $(pgrep -x "$DOCKERD_COMM" || true); do alive "$p" && other=$p; done # zombies do not count
        [ -z "$other" ] || die "a dockerd not started by bslim runs (pid $other) but 'docker info' does not answer; not touching it"
        [ -f "$log" ] && mv -f "$log" "$log.1"
        # engine 28 finds its containerd 2.1 and containerd-shim-runc-v2 first on its PATH
        [ -z "$ENGINE_PREFIX" ] || path="$ENGINE_PREFIX/usr/bin:$ENGINE_PREFIX/usr/sbin:$PATH"
        say "starting dockerd (log: $log)"
        daemon env PATH="$path" "$DOCKERD_COMM" --config-file "$ENGINE_STATE/daemon.json" >"$log" 2>&1 </dev/null &
        pid=$!
        started=started
        disown "$pid" # it must outlive this script (and not count as one of the build jobs below)
    fi
    local n=0
    until timeout 10 docker info >/dev/null 2>&1; do
        alive "$pid" || die "dockerd exited during start-up" "$log"
        [ $n -lt 60 ] || die "dockerd did not answer 'docker info' within 60 s" "$log"
        sleep 1
        n=$((n + 1))
    done
    dockerd_ours || die "dockerd answers but $ENGINE_STATE/dockerd.pid does not name it" "$log"
    pid=$(head -n1 "$ENGINE_STATE/dockerd.pid")
    # remember the containerd it spawned, so down.sh (or the next start) can stop an orphan
    local cpid
    cpid=$(head -n1 "$MANAGED_CONTAINERD_DIR/containerd.pid" 2>/dev/null || true)
    if alive "$cpid" && [ "$(awk '/^PPid:/ {print $2}' "/proc/$cpid/status")" = "$pid" ]; then
        printf '%s\n' "$cpid" >"$ENGINE_STATE/containerd.pid"
    fi
    local driver
    driver=$(docker info --format '{{.Driver}} {{json .DriverStatus}}')
    case $driver in
        *io.containerd.snapshotter.v1*) ;;
        *) die "storage driver is '$driver', not the containerd snapshotter" "$log" ;;
    esac
    say "dockerd $(docker version --format '{{.Server.Version}}') ${started:-already running} (pid $pid, ${driver%% *} with the containerd snapshotter, $(elapsed "$t"))"
}
start_dockerd

# --- 4. registry ---------------------------------------------------------------------------------
registry_answers() { curl -sf -o /dev/null --max-time 5 "http://$REGISTRY/v2/"; }
start_registry() {
    local log="$LOGS/registry.log" pid n=0
    write_file "$STATE/registry.yml" "# written by bslim tests/engine/up.sh
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY" || true
    mkdir -p "$STATE/registry"
    if registry_ours && registry_answers; then return 0; fi
    if ! registry_ours && registry_answers; then
        say "WARNING: a registry not started by bslim answers on $REGISTRY; using it"
        return 0
    fi
    if registry_ours; then stop_pid "$(head -n1 "$STATE/registry.pid")" 10; fi
    rm -f "$STATE/registry.pid"
    [ -f "$log" ] && mv -f "$log" "$log.1"
    daemon docker-registry serve "$STATE/registry.yml" >"$log" 2>&1 </dev/null &
    pid=$!
    disown "$pid"
    printf '%s\n' "$pid" >"$STATE/registry.pid"
    until registry_answers; do
        alive "$pid" || { rm -f "$STATE/registry.pid"; die "docker-registry exited during start-up" "$log"; }
        [ $n -lt 150 ] || die "registry did not answer http://$REGISTRY/v2/ within 30 s" "$log"
        sleep 0.2
        n=$((n + 1))
    done
    registry_ours || die "the registry answers but $STATE/registry.pid does not name it" "$log"
    say "registry up on $REGISTRY (pid $pid, storage $STATE/registry)"
}
start_registry

# --- 5. stand-ins for the official python images ---------------------------------------------------
# tests/engine/standins.sh: CPython built from the upstream release into /usr/local (official
# layout, library/python) and Debian's python3 packages (debian layout, bslim-debian/python)
# shellcheck source=tests/engine/standins.sh
source "$(dirname "${BASH_SOURCE[0]}")/standins.sh"
standins_up

# --- 6. summary ------------------------------------------------------------------------------------
ENV_EXTRA=
if [ "$BSLIM_ENGINE" != 26 ]; then
    ENV_EXTRA="
DOCKER_CONFIG=$DOCKER_CONFIG
BSLIM_ENGINE_BIN=$ENGINE_STATE/bin"
fi
# tests/e2e and the benchmark read this file when BSLIM_ENGINE names this engine; a shell can
# source it (put BSLIM_ENGINE_BIN first on PATH for the engine's own docker CLI)
write_file "$ENGINE_STATE/env" "# written by bslim tests/engine/up.sh (nothing secret)
BSLIM_ENGINE=$BSLIM_ENGINE
BSLIM_ENGINE_REGISTRY=$REGISTRY
BSLIM_ENGINE_MIRROR=http://$REGISTRY
BSLIM_ENGINE_PLATFORMS=$PLATFORMS
BSLIM_ENGINE_STANDIN_RELEASES=\"$RELEASES\"
BSLIM_ENGINE_STANDIN_LAYOUTS=\"$LAYOUTS\"
DOCKER_HOST=unix://$ENGINE_SOCKET$ENV_EXTRA" || true
CONTAINERD_BIN=containerd
[ -z "$ENGINE_PREFIX" ] || CONTAINERD_BIN=$ENGINE_PREFIX/usr/bin/containerd
BUILDKIT_VERSION=$(docker buildx inspect default 2>/dev/null | awk -F': *' 'tolower($1) ~ /^buildkit( version)?$/ {print $2; exit}')
say "engine $BSLIM_ENGINE ready in $(elapsed "$T0"): dockerd $(docker version --format '{{.Server.Version}}'), containerd $("$CONTAINERD_BIN" --version | awk '{print $3}'), buildx $(awk '{print $2}' <<<"$BUILDX_VERSION"), BuildKit ${BUILDKIT_VERSION:-?}, $("$(command -v qemu-arm-static || command -v qemu-arm)" --version | awk 'NR == 1 {print $1, $3}'), registry $(docker-registry --version | awk '{print $3}') on $REGISTRY; CLI $DOCKER_BIN, DOCKER_HOST=${DOCKER_HOST:-unix://$ENGINE_SOCKET}"
