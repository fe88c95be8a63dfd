#!/bin/sh
# Runs INSIDE a CPython build root that standins.sh makes with mmdebstrap (Debian <release>,
# amd64), never on the host, except `merge`. Builds CPython the way docker-library/python's
# Dockerfiles do (3.13/slim-trixie, 3.11/slim-bookworm: https://github.com/docker-library/python),
# from the tarball standins.sh verified, into /usr/local. Two build roots run side by side:
#   native (amd64 root, the recipe's build dependencies): configure, make, relink `python` with
#      rpath $ORIGIN/../lib, make install (ensurepip) into the root's own /usr/local, pip's
#      extras as the recipe installs them, the recipe's cleanup;
#   cross (amd64 root with the arm-linux-gnueabihf cross compiler, the :armhf -dev packages and
#      Debian's own pythonX.Y of the same upstream version as build interpreter, so it need not
#      wait for the native build): --build/--host, --with-build-python=/usr/bin/pythonX.Y,
#      CONFIG_SITE answering what configure cannot run on the target; make install
#      DESTDIR=/build/out/armhf;
#   merge (on the host, after both): pip & co. copied from the amd64 tree into the armhf one
#      (pure Python, same paths), the symlinks, armhf.tar.
# Left out on purpose (tests/engine/README.md says why): --enable-optimizations (PGO runs the
# test suite on the target), --with-lto, debug info (-g0: the slim recipe strips it anyway).
# Usage: cpython-build.sh native VERSION TARBALL [PIP-WHEEL...]
#        cpython-build.sh cross VERSION TARBALL
#        cpython-build.sh merge VERSION OUTDIR           (OUTDIR: amd64.tar and armhf/ -> armhf.tar)
# Writes /build/out/<arch>.tar (usr/local; armhf: by merge), /build/out/gdb-<arch>/ (the full
# images' GDB file) and, from native, /build/out/runtime-packages (what the slim recipe keeps:
# the packages of the libraries CPython's binaries link).
# BSLIM_CPY_SHARE: how many builds share the cores (for the time estimates it prints).
set -eu
STEP=$1
VERSION=$2
TARBALL=$3
shift 3
XY=${VERSION%.*}
JOBS=$(nproc)
SHARE=${BSLIM_CPY_SHARE:-1}
# CPU seconds one `make` takes (measured, tests/engine/README.md): for the estimates only
CPU_S=150
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1

log() { printf 'cpython-build: %s\n' "$*"; }

# The recipe's compiler flags for one Debian architecture (dpkg-buildflags answers for the host
# architecture named in DEB_HOST_ARCH), plus frame pointers as the 3.12+ recipes add them.
flags() { # ARCH -> sets EXTRA_CFLAGS and LDFLAGS
    EXTRA_CFLAGS=$(DEB_HOST_ARCH=$1 dpkg-buildflags --get CFLAGS)
    LDFLAGS=$(DEB_HOST_ARCH=$1 dpkg-buildflags --get LDFLAGS)
    LDFLAGS="${LDFLAGS:-} -Wl,--strip-all"
    case $XY in
        3.11) ;;
        *)
            case $1 in
                amd64 | arm64) EXTRA_CFLAGS="$EXTRA_CFLAGS -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer" ;;
                i386) ;;
                *) EXTRA_CFLAGS="$EXTRA_CFLAGS -fno-omit-frame-pointer" ;;
            esac
            ;;
    esac
    # No debug info for CPython itself: gcc's -g never changes the machine code and the
    # binaries are linked with --strip-all, as the slim recipe does; -g costs a quarter of the
    # compile time. Passed as CFLAGS_NODIST, which only CPython's own build uses: sysconfig's
    # CFLAGS, the flags extensions are compiled with later, stay the recipe's.
    NODIST="-g0"
}

# configure + make + relink + make install, in /usr/src/python as the recipe does (its path
# ends up in -ffile-prefix-map in sysconfig's CFLAGS)
build() { # ARCH DESTDIR INSTALL-ARG CONFIGURE-ARGS...
    arch=$1 destdir=$2 install_arg=$3
    shift 3
    rm -rf /usr/src/python
    mkdir -p /usr/src/python
    cd /usr/src/python
    tar --extract --strip-components=1 --file "$TARBALL"
    flags "$arch"
    t=$(date +%s)
    log "$arch: configuring (about 30-60 s)"
    ./configure \
        --build="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)" \
        --enable-loadable-sqlite-extensions \
        --enable-option-checking=fatal \
        --enable-shared \
        --with-ensurepip \
        "$@" >"/build/configure-$arch.log" 2>&1 || { tail -n 60 "/build/configure-$arch.log"; exit 1; }
    log "$arch: configured in $(($(date +%s) - t)) s; compiling with $JOBS jobs (about $((CPU_S * SHARE / JOBS / 60 + 1)) min on idle cores$([ "$SHARE" = 1 ] || echo ", shared with the other build"))"
    t=$(date +%s)
    make -j "$JOBS" "EXTRA_CFLAGS=$EXTRA_CFLAGS" "LDFLAGS=$LDFLAGS" "CFLAGS_NODIST=$NODIST" \
        >"/build/make-$arch.log" 2>&1 || { tail -n 60 "/build/make-$arch.log"; exit 1; }
    # docker-library/python#784: relink so a system libpython of the same version is never used
    rm python
    make -j "$JOBS" "EXTRA_CFLAGS=$EXTRA_CFLAGS" "LDFLAGS=$LDFLAGS -Wl,-rpath='\$\$ORIGIN/../lib'" \
        "CFLAGS_NODIST=$NODIST" python >>"/build/make-$arch.log" 2>&1 || { tail -n 60 "/build/make-$arch.log"; exit 1; }
    log "$arch: compiled in $(($(date +%s) - t)) s"
    t=$(date +%s)
    # The recipe deletes every .pyc right after `make install`: compile only the top level
    # (-r 0) instead of the whole library three times over; the result after the cleanup is
    # the same.
    make install DESTDIR="$destdir" "COMPILEALL_OPTS=-j0 -r 0" $install_arg >"/build/install-$arch.log" 2>&1 ||
        { tail -n 60 "/build/install-$arch.log"; exit 1; }
    # enable GDB to load debugging data (the full recipe; standins.sh puts it in full images only)
    bin=$(readlink -ve "$destdir/usr/local/bin/python3")
    mkdir -p "/build/gdb-$arch/usr/share/gdb/auto-load/usr/local/bin"
    cp -L Tools/gdb/libpython.py "/build/gdb-$arch/usr/share/gdb/auto-load/usr/local/bin/${bin##*/}-gdb.py"
    cd /
    rm -rf /usr/src/python
    log "$arch: installed in $(($(date +%s) - t)) s"
}

cleanup() { # ROOT: the recipe's cleanup of /usr/local
    find "$1/usr/local" -depth \
        \( \
        \( -type d -a \( -name test -o -name tests -o -name idle_test \) \) \
        -o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' -o -name 'libpython*.a' \) \) \
        \) -exec rm -rf '{}' +
}

links() { # ROOT: "make some useful symlinks that are expected to exist"
    for src in idle3 pip3 pydoc3 python3 python3-config; do
        dst=$(echo "$src" | tr -d 3)
        [ -s "$1/usr/local/bin/$src" ]
        [ ! -e "$1/usr/local/bin/$dst" ]
        ln -sT "$src" "$1/usr/local/bin/$dst"
    done
}

# 1. natively: the build root's own /usr/local is the amd64 tree
native() {
    build amd64 / ""
    cleanup ""
    ldconfig
    if [ "$XY" = 3.11 ]; then
        # 3.11 recipes: pip3 install --no-compile 'setuptools==79.0.1' 'wheel<0.46' (the wheels
        # were fetched and hash-checked by standins.sh: no index is reachable from here)
        pip3 install --disable-pip-version-check --no-cache-dir --no-compile --no-index "$@"
    fi
    links ""
    python3 --version
    pip3 --version
    mkdir -p /build/out
    tar -C / -cf /build/out/amd64.tar usr/local
    cp -a /build/gdb-amd64 /build/out/gdb-amd64
    # the slim recipe's apt-mark manual: packages of the libraries the binaries link
    find /usr/local -type f -executable -not \( -name '*tkinter*' \) -exec ldd '{}' ';' 2>/dev/null |
        awk '/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) { next }; gsub("^/(usr/)?", "", so); printf "*%s\n", so }' |
        sort -u | xargs -r dpkg-query --search | awk 'sub(":$", "", $1) { print $1 }' |
        sed 's/:.*//' | sort -u >/build/out/runtime-packages
    log "runtime packages: $(tr '\n' ' ' </build/out/runtime-packages)"
}

# 2. cross: armhf, in a build root of its own with Debian's pythonX.Y as build interpreter
cross() {
    HOST=arm-linux-gnueabihf
    # configure checks that it is the same X.Y; the frozen modules and the compileall at install
    # are made with it (the bytecode format is the same for every X.Y.z)
    python$XY -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$XY'.split('.')))"
    # the target's libraries through pkg-config, as Debian's <triplet>-pkg-config would
    export PKG_CONFIG=pkg-config
    export PKG_CONFIG_LIBDIR=/usr/lib/$HOST/pkgconfig:/usr/share/pkgconfig
    export CONFIG_SITE=/build/config.site.$HOST
    # no ensurepip here: pip comes from the native build (merge)
    build armhf /build/out/armhf ENSUREPIP=no --host="$HOST" --with-build-python="/usr/bin/python$XY"
    cleanup /build/out/armhf
    cp -a /build/gdb-armhf /build/out/gdb-armhf
}

# 3. merge (on the host): pip (ensurepip) and, on 3.11, setuptools and wheel are pure Python:
# the armhf tree gets exactly what the native build installed, not a second pip run
merge() { # OUTDIR
    d=$1
    site=usr/local/lib/python$XY/site-packages
    rm -rf "${d:?}/armhf/$site" "$d"/armhf/usr/local/bin/pip*
    tar -C "$d/armhf" -xf "$d/amd64.tar" "$site"
    tar -tf "$d/amd64.tar" usr/local/bin/ | grep -E '^usr/local/bin/(pip3[.0-9]*|wheel)$' |
        xargs tar -C "$d/armhf" -xf "$d/amd64.tar"
    links "$d/armhf"
    tar -C "$d/armhf" -cf "$d/armhf.tar.tmp" usr/local
    mv "$d/armhf.tar.tmp" "$d/armhf.tar"
    rm -rf "${d:?}/armhf"
}

case $STEP in
    native) native "$@" ;;
    cross) cross ;;
    merge) merge "$TARBALL" ;;
    *) echo "usage: $0 native|cross|merge VERSION TARBALL|OUTDIR [WHEEL...]" >&2; exit 2 ;;
esac
log "$STEP done"
