#!/bin/sh
# Runs INSIDE the CPython build root that standins.sh makes with mmdebstrap (Debian <release>,
# amd64, plus the arm-linux-gnueabihf cross compiler and the :armhf -dev packages), never on the
# host. Builds CPython the way docker-library/python's Dockerfiles do (3.13/slim-trixie,
# 3.11/slim-bookworm: https://github.com/docker-library/python), from the tarball standins.sh
# verified, into /usr/local:
#   1. natively for amd64: configure, make, relink `python` with rpath $ORIGIN/../lib,
#      make install (ensurepip) into this build root's own /usr/local (it is the build
#      interpreter of step 2), pip's extras as the recipe installs them, the recipe's cleanup;
#   2. cross for armhf: --build/--host, --with-build-python=/usr/local/bin/pythonX.Y (step 1),
#      CONFIG_SITE answering what configure cannot run on the target; make install
#      DESTDIR=/build/out/armhf; pip & co. copied from step 1 (pure Python, same paths).
# Left out on purpose (tests/engine/README.md says why): --enable-optimizations (PGO runs the
# test suite on the target), --with-lto, debug info (-g0: the slim recipe strips it anyway).
# Usage: cpython-build.sh native VERSION TARBALL [PIP-WHEEL...]   (step 1)
#        cpython-build.sh cross VERSION TARBALL                    (step 2, after step 1)
# Writes /build/out/<arch>.tar (usr/local), /build/out/gdb-<arch>/ (the full images' GDB file)
# and, from step 1, /build/out/runtime-packages (what the slim recipe keeps: the packages of
# the libraries CPython's binaries link).
set -eu
STEP=$1
VERSION=$2
TARBALL=$3
shift 3
XY=${VERSION%.*}
JOBS=$(nproc)
BUILD=$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)
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
    log "$arch: configuring (about 30 s)"
    ./configure \
        --build="$BUILD" \
        --enable-loadable-sqlite-extensions \
        --enable-option-checking=fatal \
        --enable-shared \
        --with-ensurepip \
        "$@" >"/build/configure-$arch.log" 2>&1 || { tail -n 60 "/build/configure-$arch.log"; exit 1; }
    log "$arch: configured in $(($(date +%s) - t)) s; compiling with $JOBS jobs (about $((240 / JOBS))-$((360 / JOBS)) s when the cores are idle)"
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

# 2. cross: armhf
cross() {
    HOST=arm-linux-gnueabihf
    # libdb5.3-dev cannot be installed for two architectures at once (db.h differs): swap it
    apt-get install -y --no-install-recommends libdb-dev:armhf >/build/apt-cross.log 2>&1 ||
        { tail -n 30 /build/apt-cross.log; exit 1; }
    # the target's libraries through pkg-config, as Debian's <triplet>-pkg-config would
    export PKG_CONFIG=pkg-config
    export PKG_CONFIG_LIBDIR=/usr/lib/$HOST/pkgconfig:/usr/share/pkgconfig
    export CONFIG_SITE=/build/config.site.$HOST
    # no ensurepip here: pip comes from step 1 below
    build armhf /build/out/armhf ENSUREPIP=no --host="$HOST" --with-build-python="/usr/local/bin/python$XY"
    cleanup /build/out/armhf
    # pip (ensurepip) and, on 3.11, setuptools and wheel are pure Python: the target gets
    # exactly what step 1 installed, not a second pip run
    site=usr/local/lib/python$XY/site-packages
    rm -rf "/build/out/armhf/$site"
    cp -a "/$site" "/build/out/armhf/$site"
    rm -f /build/out/armhf/usr/local/bin/pip*
    for f in /usr/local/bin/pip3* /usr/local/bin/wheel; do
        [ ! -e "$f" ] || cp -a "$f" "/build/out/armhf$f"
    done
    links /build/out/armhf
    tar -C /build/out/armhf -cf /build/out/armhf.tar usr/local
    rm -rf /build/out/armhf
    cp -a /build/gdb-armhf /build/out/gdb-armhf
}

case $STEP in
    native) native "$@" ;;
    cross) cross ;;
    *) echo "usage: $0 native|cross VERSION TARBALL [WHEEL...]" >&2; exit 2 ;;
esac
log "$STEP done"
