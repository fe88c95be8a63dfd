#!/usr/bin/env bash
# Times the CPython build of the official stand-ins (standins.sh's build_cpython: the step on the
# critical path of a cold tests/engine/up.sh) the way a git revision did it (default: main) and
# the way this checkout does it, in one invocation, into a private cache: nothing of the shared
# engine, registry or /var/cache/bslim-engine is written (the verified source tarball is copied
# from there when present, to spare the download). Then compares the two builds' trees file by
# file (paths, modes, link targets, contents). Needs root (mmdebstrap --mode=root, chroot).
#   sudo bash tests/engine/bench_cpython.sh [RELEASE]      (default trixie)
#   BENCH_BASE=<rev>  the revision to compare with (default main); BENCH_BASE= skips it
#   BENCH_DIR=<dir>   the private cache (default /tmp/bslim-bench-cpython.<pid>; kept)
# The base build runs first, then this checkout's. Prints one line per build (wall, CPU user+sys, load average before/after) and the ratios.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
rel=${1:-trixie}
base=${BENCH_BASE-main}
dir=${BENCH_DIR:-/tmp/bslim-bench-cpython.$$}
mkdir -p "$dir/logs"
[ "$(id -u)" = 0 ] || { echo "bench: needs root (mmdebstrap --mode=root)" >&2; exit 2; }
shared=/var/cache/bslim-engine/cpython-src

# build ENGINE-DIR NAME: build_cpython REL with the standins.sh in ENGINE-DIR, timed
build() {
    local engine=$1 name=$2 la0 out
    # a cache of its own: build_cpython deletes the other builds of the same version
    mkdir -p "$dir/cache-$name/cpython-src"
    [ ! -d "$shared" ] || cp -an "$shared/." "$dir/cache-$name/cpython-src/"
    la0=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "bench: $name: building CPython ($rel) with $engine/standins.sh"
    local TIMEFORMAT="%R %U %S"
    # shellcheck disable=SC2016
    out=$({ time (
        set -euo pipefail
        CACHE=$dir/cache-$name LOGS=$dir/logs/$name STATE=$dir/state RELEASES=$rel BSLIM_STANDIN_LAYOUTS=official
        DEBIAN_MIRROR=http://deb.debian.org/debian
        RECIPE_VERSION=$(sed -n 's/^RECIPE_VERSION=//p' "$engine/up.sh")
        mkdir -p "$LOGS"
        say() { printf 'engine: %s\n' "$*"; }
        die() { printf 'engine: ERROR: %s\n' "$1" >&2; [ -z "${2-}" ] || tail -n 40 "$2" >&2; exit 1; }
        elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
        # shellcheck source=tests/engine/standins.sh
        source "$engine/standins.sh"
        build_cpython "$rel" >&2
        cpython_dir "$rel"
    ); } 2>&1 >"$dir/$name.out" | tee "$dir/$name.err" | tail -n 1)
    # (the build's progress is shown once it is done: tee /dev/stderr would reopen, and so
    # truncate, a log file this script's stderr goes to)
    head -n -1 "$dir/$name.err" >&2
    read -r wall user sys <<<"$out"
    printf '%s %s %s %s %s %s\n' "$name" "$wall" "$user" "$sys" "$la0" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir/results"
}

: >"$dir/results"
if [ -n "$base" ]; then
    rm -rf "$dir/base-engine"
    mkdir -p "$dir/base-engine"
    git -C "$repo" archive "$base" tests/engine | tar -x -C "$dir/base-engine" --strip-components=2
    build "$dir/base-engine" "base-$base"
fi
build "$here" new

echo
echo "bench: CPython ($rel) build, private caches $dir/cache-*"
awk '{printf "bench: %-12s wall %7.1f s  CPU %7.1f s (user %.1f + sys %.1f)  load %s %s %s -> %s %s %s\n", $1, $2, $3 + $4, $3, $4, $5, $6, $7, $8, $9, $10}' "$dir/results"
if [ -n "$base" ]; then
    awk 'NR == 1 {w = $2; c = $3 + $4} NR == 2 {printf "bench: new / base: wall %.2f, CPU %.2f\n", $2 / w, ($3 + $4) / c}' "$dir/results"
    # the trees, file by file: path, type, mode, owner, link target, sha256 of the content
    listing() { # TAR -> sorted listing
        python3 - "$1" <<'EOF'
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    rows = []
    for m in t.getmembers():
        h = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16] if m.isfile() else ""
        rows.append(f"{m.name.rstrip('/')} {m.type!r} {m.mode:o} {m.uid}:{m.gid} {m.linkname} {h}")
for r in sorted(rows):
    print(r)
EOF
    }
    newdir=$(cat "$dir/new.out") basedir=$(cat "$dir/base-$base.out")
    for arch in amd64 armhf; do
        listing "$newdir/$arch.tar" >"$dir/new-$arch.list"
        listing "$basedir/$arch.tar" >"$dir/base-$arch.list"
        n=$(wc -l <"$dir/new-$arch.list")
        d=$(comm -13 "$dir/base-$arch.list" "$dir/new-$arch.list" | wc -l)
        paths=$(diff <(cut -d' ' -f1 "$dir/base-$arch.list") <(cut -d' ' -f1 "$dir/new-$arch.list") | grep -c '^[<>]' || true)
        echo "bench: $arch tree: $n entries; $paths paths differ; $d entries of the new tree differ in type/mode/owner/target/content (diff $dir/base-$arch.list $dir/new-$arch.list)"
    done
fi
