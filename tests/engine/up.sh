#!/usr/bin/env bash
# Bring up a real BuildKit engine for bslim's engine tests on a Debian 12/13 machine (as root):
# dockerd (containerd image store) + buildx + QEMU binfmt + a local registry on 127.0.0.1:5000
# acting as Docker Hub mirror, holding stand-ins for the official python images.
# BSLIM_ENGINE=26 (default) or 28 picks the engine; both can run side by side (choice.sh).
# Idempotent; a second run only checks and takes seconds. See tests/engine/README.md.
set -euo pipefail
set -E

# Bump when the stand-in recipe changes in a way the recipe text below does not show.
RECIPE_VERSION=1

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
        docker-registry mmdebstrap arch-test curl jq ca-certificates util-linux)
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
    say "installing ${missing[*]} (log: $log)"
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
py_version() { case $1 in trixie) echo 3.13 ;; bookworm) echo 3.11 ;; *) return 1 ;; esac; }
for r in $RELEASES; do py_version "$r" >/dev/null || die "BSLIM_STANDIN_RELEASES: unknown release '$r' (trixie, bookworm)"; done

packages() { # RELEASE VARIANT
    local p=(python3 python3-pip python3-venv ca-certificates)
    [ "$2" = full ] && p+=(python3-dev build-essential)
    # Official python:3.11 images ship setuptools+wheel (Debian's pip depends on them anyway);
    # python:3.12+ ship neither (docker-library/python#954). Trixie's pip still pulls python3-wheel.
    [ "$1" = bookworm ] && p+=(python3-setuptools python3-wheel)
    echo "${p[*]}"
}
dpkg_opts() { # VARIANT: slim drops docs like debian:*-slim (the base of python:*-slim)
    echo force-unsafe-io
    if [ "$1" = slim ]; then
        printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
            'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' 'path-exclude=/usr/share/groff/*' \
            'path-exclude=/usr/share/lintian/*' 'path-exclude=/usr/share/linda/*' \
            'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias'
    fi
}
sources() { # RELEASE: lines that become the image's /etc/apt/sources.list
    # Only the release's main suite: the package mirror reachable here serves stale armhf indexes
    # for -updates and -security (size mismatch against InRelease), so apt fails on them, both
    # in mmdebstrap and in any `apt-get update` run later inside an arm/v7 build.
    printf '%s\n' "deb $DEBIAN_MIRROR $1 main"
}
# Runs on the host after all packages are installed; $1 is the root of the tree.
HOOK=$(
    cat <<'HOOK'
set -eu
r="$1"
rm -f "$r"/usr/lib/python3*/EXTERNALLY-MANAGED
[ -e "$r/usr/bin/python" ] || ln -s python3 "$r/usr/bin/python"
[ -e "$r/usr/bin/pip" ] || ln -s pip3 "$r/usr/bin/pip"
for b in python python3 pip pip3; do [ -e "$r/usr/local/bin/$b" ] || ln -s "/usr/bin/$b" "$r/usr/local/bin/$b"; done
cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/cache/apt/archives/partial/* "$r"/var/log/apt/* "$r"/var/cache/debconf/*-old
rm -f "$r/var/log/dpkg.log" "$r/var/log/alternatives.log" "$r/etc/resolv.conf"
echo localhost >"$r/etc/hostname"
HOOK
)
recipe() { # RELEASE VARIANT ARCH: everything that determines the tree
    printf 'recipe-version %s\nrelease %s\nvariant %s\narch %s\nmmdebstrap-variant minbase\npackages %s\n' \
        "$RECIPE_VERSION" "$1" "$2" "$3" "$(packages "$1" "$2")"
    dpkg_opts "$2" | sed 's/^/dpkgopt /'
    sources "$1" | sed 's/^/source /'
    printf 'hook\n%s\n' "$HOOK"
}
hash16() { sha256sum | cut -c1-16; }
rootfs_name() { printf 'python-%s-%s-%s-%s.tar' "$1" "$2" "$3" "$(recipe "$1" "$2" "$3" | hash16)"; }

build_rootfs() { # RELEASE VARIANT ARCH
    local rel=$1 var=$2 arch=$3 t=$SECONDS name out log opts=() o pyv want
    name=$(rootfs_name "$rel" "$var" "$arch")
    out="$CACHE/rootfs/$name"
    log="$LOGS/rootfs-$rel-$var-$arch.log"
    while read -r o; do opts+=("--dpkgopt=$o"); done < <(dpkg_opts "$var")
    local srcs=()
    while read -r o; do srcs+=("$o"); done < <(sources "$rel")
    rm -f "$out.tmp"
    if ! TMPDIR="$CACHE/tmp" mmdebstrap --mode=root --variant=minbase --architectures="$arch" --format=tar \
        --include="$(packages "$rel" "$var" | tr ' ' ,)" "${opts[@]}" --customize-hook="$HOOK" \
        --skip=output/dev "$rel" "$out.tmp" "${srcs[@]}" >"$log" 2>&1; then
        rm -f "$out.tmp"
        echo "engine: rootfs $rel $var $arch FAILED (log: $log)"
        return 1
    fi
    want=$(py_version "$rel")
    pyv=$(tar -xOf "$out.tmp" ./var/lib/dpkg/status |
        awk -v p="python$want" '$0 == "Package: " p {f = 1} f && !v && /^Version:/ {v = $2} /^$/ {f = 0} END {print v}')
    pyv=${pyv#*:}
    pyv=${pyv%%-*}
    case $pyv in
        "$want".*) ;;
        *) rm -f "$out.tmp"; echo "engine: rootfs $rel $arch has python '$pyv', expected $want.x" >>"$log"; return 1 ;;
    esac
    printf 'PYTHON_VERSION=%s\n' "$pyv" >"$out.meta"
    mv -f "$out.tmp" "$out"
    # drop trees of older recipes for the same slot
    find "$CACHE/rootfs" -maxdepth 1 -name "python-$rel-$var-$arch-*" ! -name "$name" ! -name "$name.meta" -delete
    echo "engine: rootfs $rel $var $arch built: python $pyv, $(du -m "$out" | cut -f1) MB, $(elapsed "$t")"
}

build_all_rootfs() {
    mkdir -p "$CACHE/rootfs" "$CACHE/tmp"
    local todo=() rel var arch spec max
    # slowest first (armhf runs dpkg under QEMU; bookworm's full tree is the biggest)
    for arch in armhf amd64; do for rel in bookworm trixie; do for var in full slim; do
        [[ " $RELEASES " == *" $rel "* ]] || continue
        [ -s "$CACHE/rootfs/$(rootfs_name "$rel" "$var" "$arch")" ] || todo+=("$rel $var $arch")
    done; done; done
    [ ${#todo[@]} -gt 0 ] || return 0
    local t=$SECONDS
    max=$(nproc)
    [ "$max" -ge 2 ] || max=2
    say "building ${#todo[@]} root filesystems with mmdebstrap, $max at a time (logs: $LOGS/rootfs-*.log)"
    for spec in "${todo[@]}"; do
        while [ "$(jobs -pr | wc -l)" -ge "$max" ]; do wait -n || true; done
        # shellcheck disable=SC2086
        build_rootfs $spec &
    done
    wait || true
    local failed=
    for spec in "${todo[@]}"; do
        read -r rel var arch <<<"$spec"
        [ -s "$CACHE/rootfs/$(rootfs_name "$rel" "$var" "$arch")" ] || failed="$LOGS/rootfs-$rel-$var-$arch.log"
    done
    [ -z "$failed" ] || die "building a root filesystem failed" "$failed"
    say "root filesystems built in $(elapsed "$t")"
}

tags() { # RELEASE VARIANT
    local v
    v=$(py_version "$1")
    if [ "$2" = full ]; then echo "$v $v-$1"; else echo "$v-slim $v-slim-$1"; fi
}
ACCEPT_INDEX='application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json'
ACCEPT_MANIFEST='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
registry_digest() { # TAG -> digest of library/python:TAG in our registry, empty when absent
    { curl -sfI --max-time 10 -H "Accept: $ACCEPT_INDEX,$ACCEPT_MANIFEST" \
        "http://$REGISTRY/v2/library/python/manifests/$1" || true; } |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}'
}
compressed_sizes() { # TAG -> "amd64 91 MB, armv7 84 MB"
    local idx d p out=()
    idx=$(curl -sf --max-time 10 -H "Accept: $ACCEPT_INDEX" "http://$REGISTRY/v2/library/python/manifests/$1") || return 0
    while read -r d p; do
        out+=("$p $(curl -sf --max-time 10 -H "Accept: $ACCEPT_MANIFEST" "http://$REGISTRY/v2/library/python/manifests/$d" |
            jq '[.layers[].size] | add / 1000000 | floor') MB")
    done < <(jq -r '.manifests[] | "\(.digest) \(.platform.architecture)\(.platform.variant // "")"' <<<"$idx")
    local joined
    joined=$(printf '%s, ' "${out[@]}")
    echo "${joined%, }"
}

push_standin() { # RELEASE VARIANT
    local rel=$1 var=$2 amd arm key tag t=$SECONDS log="$LOGS/push-$1-$2.log" df meta digest n args=()
    amd=$(rootfs_name "$rel" "$var" amd64)
    arm=$(rootfs_name "$rel" "$var" armhf)
    df="# generated by bslim tests/engine/up.sh: Debian $rel packages standing in for python:$(tags "$rel" "$var" | tr ' ' /)
# TARGETARCH/TARGETVARIANT are not declared: with dockerd 26's BuildKit a global
# 'ARG TARGETARCH' without default shadows the automatic value with an empty one.
FROM scratch AS tree-amd64
ADD $amd /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 $(cat "$CACHE/rootfs/$amd.meta")
LABEL org.bslim.engine.rootfs=$amd
FROM scratch AS tree-armv7
ADD $arm /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 $(cat "$CACHE/rootfs/$arm.meta")
LABEL org.bslim.engine.rootfs=$arm
FROM tree-\${TARGETARCH}\${TARGETVARIANT}
LABEL org.bslim.engine.recipe=KEY org.opencontainers.image.description=\"Debian $rel python3 from Debian packages, standing in for the official python image\"
CMD [\"python3\"]"
    key=$(printf '%s\n' "$df" | hash16)
    df=${df/KEY/$key}

    local stale=
    for tag in $(tags "$rel" "$var"); do
        digest=$(registry_digest "$tag")
        if [ -z "$digest" ] || [ "$(cat "$STATE/pushed/$tag" 2>/dev/null)" != "$key $digest" ]; then stale=1; fi
    done
    if [ -z "$stale" ]; then
        say "python:$(tags "$rel" "$var" | tr ' ' /) up to date ($(compressed_sizes "$(tags "$rel" "$var" | cut -d' ' -f1)"))"
        return 0
    fi

    mkdir -p "$STATE/build" "$STATE/pushed"
    write_file "$STATE/build/python-$rel-$var.Dockerfile" "$df" || true
    for tag in $(tags "$rel" "$var"); do args+=(-t "$REGISTRY/library/python:$tag"); done
    meta="$STATE/build/python-$rel-$var.metadata.json"
    : >"$log"
    for n in 1 2 3 4 5; do
        rm -f "$meta"
        if docker buildx build --builder default --platform "$PLATFORMS" --provenance=false --sbom=false \
            --progress plain -f "$STATE/build/python-$rel-$var.Dockerfile" --metadata-file "$meta" \
            "${args[@]}" --push "$CACHE/rootfs" >"$log.try" 2>&1; then
            cat "$log.try" >>"$log"
            break
        fi
        cat "$log.try" >>"$log"
        # registry 2.8 sometimes answers "500 invalid checksum digest format" when several
        # manifests reach one tag at once: retry what looks like a registry hiccup, nothing else
        grep -qiE 'invalid checksum digest|500 Internal Server Error|unexpected status|connection reset|unexpected EOF' "$log.try" ||
            die "pushing python:$(tags "$rel" "$var") failed" "$log"
        [ $n -lt 5 ] || die "pushing python:$(tags "$rel" "$var") failed 5 times" "$log"
        echo "engine: push attempt $n failed on the registry, retrying" | tee -a "$log"
        sleep $((n * 3))
    done
    rm -f "$log.try"
    digest=$(jq -r '."containerimage.digest" // empty' "$meta")
    [ -n "$digest" ] || die "no digest in $meta after pushing" "$log"
    for tag in $(tags "$rel" "$var"); do
        [ "$(registry_digest "$tag")" = "$digest" ] || die "registry does not serve $digest for python:$tag after the push" "$log"
        printf '%s %s\n' "$key" "$digest" >"$STATE/pushed/$tag"
        # a stale copy in the local image store would shadow the new one in FROM python:$tag
        docker image rm -f "python:$tag" >/dev/null 2>&1 || true
    done
    say "pushed python:$(tags "$rel" "$var" | tr ' ' /) in $(elapsed "$t") ($(compressed_sizes "$(tags "$rel" "$var" | cut -d' ' -f1)"))"
}

verify_standins() {
    local rel tag plat log="$LOGS/verify.log" dest="$STATE/verify" df="" stages="" i=0 t=$SECONDS
    for rel in $RELEASES; do
        tag=$(tags "$rel" slim | cut -d' ' -f1)
        plat=$(docker buildx imagetools inspect "$REGISTRY/library/python:$tag" 2>&1) ||
            die "docker buildx imagetools inspect $REGISTRY/library/python:$tag failed: $plat"
        if ! grep -q 'linux/amd64' <<<"$plat" || ! grep -q 'linux/arm/v7' <<<"$plat"; then
            die "$REGISTRY/library/python:$tag does not list linux/amd64 and linux/arm/v7: $plat"
        fi
        # the unchanged Docker Hub name must resolve through the mirror
        tag=$(tags "$rel" slim | cut -d' ' -f2)
        df+="FROM python:$tag AS s$i
RUN python3 -c 'import platform, sys; print(\"probe\", \"$tag\", platform.machine(), sys.version.split()[0])' | tee /probe.txt
"
        stages+="COPY --from=s$i /probe.txt /$tag.txt
"
        i=$((i + 1))
    done
    [ $i -gt 0 ] || return 0
    rm -rf "$dest"
    if ! printf '%sFROM scratch\n%s' "$df" "$stages" | timeout 600 docker buildx build --builder default \
        --platform "$PLATFORMS" --pull --no-cache --progress plain --output "type=local,dest=$dest" - >"$log" 2>&1; then
        die "a build FROM the stand-ins (via the Docker Hub mirror) failed" "$log"
    fi
    local f p m summary=()
    for rel in $RELEASES; do
        tag=$(tags "$rel" slim | cut -d' ' -f2)
        for p in linux_amd64:x86_64 linux_arm_v7:armv7l; do
            f="$dest/${p%%:*}/$tag.txt"
            m=$(cat "$f" 2>/dev/null || true)
            [[ $m == "probe $tag ${p#*:} $(py_version "$rel")."* ]] ||
                die "FROM python:$tag on ${p%%:*} printed '$m', expected '${p#*:}' and python $(py_version "$rel")" "$log"
            grep -qF -- "$m" "$log" || die "probe output '$m' missing from the build log" "$log"
        done
        summary+=("python:$tag")
    done
    say "verified: FROM ${summary[*]} resolve through the mirror and run on amd64 (x86_64) and arm/v7 (armv7l) ($(elapsed "$t"))"
}

if [ -n "${RELEASES// /}" ]; then
    build_all_rootfs
    for rel in $RELEASES; do for var in full slim; do push_standin "$rel" "$var"; done; done
    verify_standins
fi

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
DOCKER_HOST=unix://$ENGINE_SOCKET$ENV_EXTRA" || true
CONTAINERD_BIN=containerd
[ -z "$ENGINE_PREFIX" ] || CONTAINERD_BIN=$ENGINE_PREFIX/usr/bin/containerd
BUILDKIT_VERSION=$(docker buildx inspect default 2>/dev/null | awk -F': *' 'tolower($1) ~ /^buildkit( version)?$/ {print $2; exit}')
say "engine $BSLIM_ENGINE ready in $(elapsed "$T0"): dockerd $(docker version --format '{{.Server.Version}}'), containerd $("$CONTAINERD_BIN" --version | awk '{print $3}'), buildx $(awk '{print $2}' <<<"$BUILDX_VERSION"), BuildKit ${BUILDKIT_VERSION:-?}, $("$(command -v qemu-arm-static || command -v qemu-arm)" --version | awk 'NR == 1 {print $1, $3}'), registry $(docker-registry --version | awk '{print $3}') on $REGISTRY; CLI $DOCKER_BIN, DOCKER_HOST=${DOCKER_HOST:-unix://$ENGINE_SOCKET}"
