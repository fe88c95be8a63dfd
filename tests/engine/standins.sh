# Sourced by up.sh (section 5): stand-ins for the official python images, which Docker Hub would
# serve if it were reachable. Two layouts, each for python:3.13[-slim][-trixie] and
# python:3.11[-slim][-bookworm], linux/amd64 + linux/arm/v7:
#   official  CPython from the upstream release (the tarball Debian's source package carries,
#             verified), built like docker-library/python's Dockerfiles into /usr/local on a
#             Debian base of the same release; arm/v7 cross-compiled. Pushed as
#             127.0.0.1:5000/library/python:<tag>: what `FROM python:<tag>` resolves to.
#   debian    Debian's own python3 packages (/usr/bin/python3, dist-packages): the layout the
#             stand-ins had before, kept as 127.0.0.1:5000/bslim-debian/python:<tag> for the
#             tests that run on both.
# No program of the foreign architecture runs while the trees are made, except one ldconfig:
# armhf trees are the amd64 ones with every architecture-dependent package swapped for its
# armhf build, unpacked (foreign_rootfs.py); armhf CPython is cross-compiled.
# Uses up.sh's say, die, elapsed, write_file and CACHE, STATE, LOGS, REGISTRY, PLATFORMS,
# DEBIAN_MIRROR, RECIPE_VERSION, RELEASES. See tests/engine/README.md.
# shellcheck shell=bash

ENGINE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAYOUTS=${BSLIM_STANDIN_LAYOUTS-official debian}
for l in $LAYOUTS; do
    case $l in official | debian) ;; *) die "BSLIM_STANDIN_LAYOUTS: unknown layout '$l' (official, debian)" ;; esac
done

py_version() { case $1 in trixie) echo 3.13 ;; bookworm) echo 3.11 ;; *) return 1 ;; esac; }
for r in $RELEASES; do py_version "$r" >/dev/null || die "BSLIM_STANDIN_RELEASES: unknown release '$r' (trixie, bookworm)"; done
repo_of() { case $1 in official) echo library/python ;; debian) echo bslim-debian/python ;; esac; }

# --- CPython sources ---------------------------------------------------------------------------
# What Debian's source package of each release's CPython carries, pinned: upstream version, the
# orig tarball (byte for byte upstream's release file), its sha256, and the release manager's key
# (the fingerprint docker-library/python's Dockerfiles name as GPG_KEY).
# trixie:   python3.13 3.13.5-2+deb13u5 carries Python-3.13.5.tar.xz and its .asc: checked with
#           gpgv against debian/upstream/signing-key.asc, the signature must be by 7169605F...
# bookworm: python3.11 3.11.2-6+deb12u8 carries Python-3.11.2.tgz WITHOUT its .asc (and has no
#           signing key): checked against Debian's signed archive (apt verifies InRelease ->
#           Sources -> .dsc -> tarball) and the sha256 upstream's Python-3.11.2.tgz has in
#           independent recipes (spack's python package, Homebrew's python-tk@3.11).
cpython_spec() { # RELEASE -> "VERSION FILE SHA256 FINGERPRINT|-"
    case $1 in
        trixie) echo "3.13.5 python3.13_3.13.5.orig.tar.xz 93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640 7169605F62C751356D054A26A821E680E5FA6305" ;;
        bookworm) echo "3.11.2 python3.11_3.11.2.orig.tar.gz 2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849 -" ;;
    esac
}
# The 3.11 recipes install these after ensurepip ('setuptools==79.0.1' 'wheel<0.46'), from PyPI.
PIP_EXTRAS_311="https://files.pythonhosted.org/packages/0d/6d/b4752b044bf94cb802d88a888dc7d288baaf77d7910b7dedda74b5ceea0c/setuptools-79.0.1-py3-none-any.whl e147c0549f27767ba362f9da434eab9c5dc0045d5304feb602a0af001089fc51
https://files.pythonhosted.org/packages/0b/2c/87f3254fd8ffd29e4c02732eee68a83a1d3c346ae39bc6822dcbcb697f2b/wheel-0.45.1-py3-none-any.whl 708e7481cc80179af0e556bbf0cc00b8444c7321e2700b8d8580231d13017248"

# dearmor FILE: an ASCII-armored OpenPGP key as the binary keyring gpgv reads
dearmor() {
    awk '/^-----BEGIN PGP PUBLIC KEY BLOCK-----/ {b = 1; h = 1; next} /^-----END/ {b = 0}
        b && h { if ($0 == "") h = 0; next } b && /^=/ {next} b {print}' "$1" | base64 -d
}

# fetch_cpython_source RELEASE: downloads Debian's source package with apt (a configuration of
# its own: deb-src of the release's main suite), verifies, prints the tarball's path.
fetch_cpython_source() {
    local rel=$1 version file sha fpr pkg dir="$CACHE/cpython-src" apt="$CACHE/apt-src" log="$LOGS/cpython-src-$1.log"
    read -r version file sha fpr <<<"$(cpython_spec "$rel")"
    pkg=python$(py_version "$rel")
    if [ -s "$dir/$file" ] && [ "$(cat "$dir/$file.verified" 2>/dev/null)" = "$sha" ]; then
        echo "$dir/$file"
        return 0
    fi
    mkdir -p "$dir" "$apt/lists/partial" "$apt/archives/partial"
    printf 'deb-src %s %s main\n' "$DEBIAN_MIRROR" "$rel" >"$apt/sources.list.$rel"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list.$rel" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o Dir::State::status=/dev/null
        -o APT::Sandbox::User=root -o Acquire::Languages=none)
    {
        apt-get "${opts[@]}" update &&
            (cd "$dir" && rm -f "${pkg}_"* && apt-get "${opts[@]}" source --download-only "$pkg/$rel")
    } >"$log" 2>&1 || die "downloading Debian's source package $pkg ($rel) failed" "$log"
    [ -s "$dir/$file" ] || die "Debian's $pkg ($rel) does not carry $file (CPython $version): $(cd "$dir" && ls "${pkg}_"* | tr '\n' ' ')- update cpython_spec in $ENGINE_DIR/standins.sh" "$log"
    [ "$(sha256sum "$dir/$file" | cut -d' ' -f1)" = "$sha" ] || die "$dir/$file: sha256 differs from the pinned $sha" "$log"
    if [ "$fpr" != - ]; then
        local debian_tar key status
        debian_tar=$(ls "$dir/${pkg}_"*.debian.tar.xz)
        key=$(mktemp -d)
        tar -xJOf "$debian_tar" debian/upstream/signing-key.asc >"$key/key.asc" ||
            die "$debian_tar has no debian/upstream/signing-key.asc" "$log"
        dearmor "$key/key.asc" >"$key/key.gpg"
        status=$(gpgv --status-fd 1 --keyring "$key/key.gpg" "$dir/$file.asc" "$dir/$file" 2>>"$log") ||
            { rm -rf "$key"; die "gpgv: bad signature on $file" "$log"; }
        rm -rf "$key"
        grep -q "^\[GNUPG:\] VALIDSIG $fpr " <<<"$status" ||
            die "$file.asc is not a valid signature by $fpr: $status" "$log"
        echo "signature: $(grep -E 'VALIDSIG|EXPKEYSIG|GOODSIG' <<<"$status" | tr '\n' ' ')" >>"$log"
    fi
    echo "$sha" >"$dir/$file.verified"
    echo "$dir/$file"
}

# --- CPython, built once per release and architecture ------------------------------------------
# Two build roots, made and used side by side: native (the release's buildd set and the recipe's
# build dependencies, tk-dev left out: no tkinter) and cross (the buildd set, the cross compiler,
# the build dependencies for armhf and Debian's own pythonX.Y as build interpreter). armhf
# packages are installed there as a second dpkg architecture: their maintainer scripts run with
# the root's own amd64 shell.
CPYTHON_BUILD_DEPS="libbluetooth-dev libbz2-dev libffi-dev libgdbm-dev liblzma-dev libncursesw5-dev libreadline-dev libsqlite3-dev libssl-dev uuid-dev zlib1g-dev"
cpython_build_packages() { # native|cross RELEASE
    local p out="build-essential dpkg-dev pkgconf"
    if [ "$1" = native ]; then
        echo "$out libdb-dev $CPYTHON_BUILD_DEPS"
        return 0
    fi
    out+=" python$(py_version "$2") gcc-arm-linux-gnueabihf libc6-dev:armhf libdb-dev:armhf"
    for p in $CPYTHON_BUILD_DEPS; do out+=" $p:armhf"; done
    echo "$out"
}
# What the slim recipe keeps (apt-mark manual of the packages whose libraries CPython's
# binaries link, found with ldd + dpkg-query): pinned so the slim trees need not wait for the
# build; cpython-build.sh computes the list again and a difference fails the build.
cpython_runtime_packages() {
    case $1 in
        trixie) echo "libbz2-1.0 libc6 libdb5.3t64 libffi8 libgdbm6t64 liblzma5 libncursesw6 libreadline8t64 libsqlite3-0 libssl3t64 libtinfo6 libuuid1 libzstd1 zlib1g" ;;
        # 3.11 still has the nis module: libnsl2, libtirpc3 and Kerberos come along
        bookworm) echo "libbz2-1.0 libc6 libcom-err2 libcrypt1 libdb5.3 libffi8 libgdbm6 libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0 liblzma5 libncursesw6 libnsl2 libreadline8 libsqlite3-0 libssl3 libtinfo6 libtirpc3 libuuid1 zlib1g" ;;
    esac
}
cpython_recipe() { # RELEASE
    printf 'recipe-version %s\nrelease %s\ncpython %s\nbuild-packages %s\n' "$RECIPE_VERSION" "$1" \
        "$(cpython_spec "$1")" "$(cpython_build_packages native "$1") / $(cpython_build_packages cross "$1")"
    [ "$1" != bookworm ] || printf 'pip-extras %s\n' "$PIP_EXTRAS_311"
    cat "$ENGINE_DIR/cpython-build.sh" "$ENGINE_DIR/config.site.arm-linux-gnueabihf"
}
cpython_dir() { printf '%s/cpython/cpython-%s-%s' "$CACHE" "$(cpython_spec "$1" | cut -d' ' -f1)" "$(cpython_recipe "$1" | hash16)"; }

# check_runtime RELEASE: the slim trees get what the build found CPython links
check_runtime() {
    local want got
    want=$(cpython_runtime_packages "$1" | tr ' ' '\n' | sort)
    got=$(sort "$(cpython_dir "$1")/runtime-packages")
    [ "$want" = "$got" ] || die "CPython $(cpython_spec "$1" | cut -d' ' -f1) links the libraries of: $(echo $got); the slim recipe pins: $(echo $want) (cpython_runtime_packages in $ENGINE_DIR/standins.sh; the build is kept)"
}

# build_cpython RELEASE: $(cpython_dir RELEASE)/{amd64,armhf}.tar (usr/local), gdb-*/, runtime-packages
build_cpython() {
    local rel=$1 out t=$SECONDS log="$LOGS/cpython-$1.log" src version extras=() plog="$LOGS/cpython-$1.steps.log"
    out=$(cpython_dir "$rel")
    if [ -s "$out/armhf.tar" ] && [ -s "$out/amd64.tar" ]; then
        check_runtime "$rel"
        return 0
    fi
    src=$(fetch_cpython_source "$rel") || exit 1
    version=$(cpython_spec "$rel" | cut -d' ' -f1)
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp/wheels" "$CACHE/tmp"
    if [ "$rel" = bookworm ]; then
        local url sum
        while read -r url sum; do
            curl -sfL --retry 3 -o "$out.tmp/wheels/${url##*/}" "$url" || die "downloading $url failed"
            [ "$(sha256sum "$out.tmp/wheels/${url##*/}" | cut -d' ' -f1)" = "$sum" ] || die "${url##*/}: sha256 differs from the pinned $sum"
            extras+=("/build/wheels/${url##*/}")
        done <<<"$PIP_EXTRAS_311"
    fi
    cp "$src" "$out.tmp/"
    cp "$ENGINE_DIR/cpython-build.sh" "$ENGINE_DIR/config.site.arm-linux-gnueabihf" "$out.tmp/"
    say "CPython $version ($rel): two build roots side by side, amd64 native and armhf cross (Debian's python$(py_version "$rel") as build interpreter); about 3.5-4 min on 2 idle cores (5-8 min measured at load average 5-6), the longest step of a cold start (logs: $log, $plog)"
    local step mm=() rc=0 arches
    : >"$plog"
    for step in native cross; do
        arches=amd64
        [ "$step" = native ] || arches=amd64,armhf
        # each root its own output directory: the two hooks copy out at different times
        mkdir -p "$out.tmp/$step"
        BSLIM_CPY_IN="$out.tmp" BSLIM_CPY_OUT="$out.tmp/$step" BSLIM_CPY_LOG="$plog" BSLIM_CPY_STEP=$step \
            BSLIM_CPY_ARGS="$version /build/${src##*/}" BSLIM_CPY_SRC="$out.tmp/${src##*/}" BSLIM_CPY_SHARE=2 \
            BSLIM_CPY_EXTRAS="$([ "$step" = native ] && echo "${extras[*]}")" TMPDIR="$CACHE/tmp" \
            mmdebstrap --mode=root --variant=buildd --architectures="$arches" \
            --include="$(cpython_build_packages "$step" "$rel" | tr ' ' ,)" --dpkgopt=force-unsafe-io \
            --format=null --skip=check/qemu \
            --customize-hook='mkdir -p "$1/build" && cp -a "$BSLIM_CPY_IN/cpython-build.sh" "$BSLIM_CPY_IN/config.site.arm-linux-gnueabihf" "$BSLIM_CPY_SRC" "$BSLIM_CPY_IN/wheels" "$1/build/"' \
            --customize-hook='chroot "$1" env BSLIM_CPY_SHARE=$BSLIM_CPY_SHARE sh /build/cpython-build.sh $BSLIM_CPY_STEP $BSLIM_CPY_ARGS $BSLIM_CPY_EXTRAS >>"$BSLIM_CPY_LOG" 2>&1' \
            --customize-hook='cp -a "$1/build/out/." "$BSLIM_CPY_OUT/"' \
            "$rel" /dev/null "deb $DEBIAN_MIRROR $rel main" >"$log.$step" 2>&1 &
        mm+=($!)
    done
    say "CPython $version: making the two build roots (about 30 s-1 min)"
    # the build script's steps, as they come, until both roots are done
    (while kill -0 "${mm[0]}" 2>/dev/null || kill -0 "${mm[1]}" 2>/dev/null; do sleep 1; done) &
    local watcher=$!
    tail -n +1 -F --pid="$watcher" "$plog" 2>/dev/null | grep --line-buffered '^cpython-build: ' |
        sed -u "s/^cpython-build: /engine:   CPython $version: /" &
    local tailer=$! i failed=
    for i in 0 1; do
        step=$([ "$i" = 0 ] && echo native || echo cross)
        if ! wait "${mm[$i]}"; then
            rc=1
            # the build script's own log when it got that far, mmdebstrap's otherwise
            if [ -z "$failed" ]; then
                failed=$log.$step
                grep -q "^cpython-build: $([ "$step" = native ] && echo amd64 || echo armhf): configuring" "$plog" && failed=$plog
            fi
        fi
    done
    wait "$watcher" "$tailer" 2>/dev/null || true
    if [ "$rc" = 0 ]; then
        say "CPython $version: merging pip into the armhf tree"
        { mv "$out.tmp/native/"* "$out.tmp/" && mv "$out.tmp/cross/"* "$out.tmp/" &&
            rmdir "$out.tmp/native" "$out.tmp/cross" &&
            sh "$ENGINE_DIR/cpython-build.sh" merge "$version" "$out.tmp" >>"$plog" 2>&1; } || { rc=1; failed=$plog; }
    fi
    if [ "$rc" != 0 ]; then
        rm -rf "$out.tmp"
        die "building CPython $version ($rel) failed" "$failed"
    fi
    rm -rf "$out.tmp/wheels" "$out.tmp/${src##*/}" "$out.tmp/cpython-build.sh" "$out.tmp/config.site.arm-linux-gnueabihf"
    find "$CACHE/cpython" -maxdepth 1 -name "cpython-$version-*" ! -name "${out##*/}" ! -name "${out##*/}.tmp" -exec rm -rf {} +
    mv "$out.tmp" "$out"
    check_runtime "$rel"
    say "CPython $version ($rel) built in $(elapsed "$t"): $(du -m "$out/amd64.tar" | cut -f1) MB amd64, $(du -m "$out/armhf.tar" | cut -f1) MB armhf"
}

# --- root filesystems ----------------------------------------------------------------------------
# Official layout. slim: debian:<release>-slim + the recipe's runtime packages (ca-certificates,
# netbase, tzdata) + what CPython links. full: build-essential and the -dev libraries of
# buildpack-deps:<release> that wheels commonly build against, the recipe's libbluetooth-dev
# uuid-dev, git, curl, wget, mercurial (which brings Debian's own python3 along, as it does in
# buildpack-deps); no imagemagick, mysql, glib, subversion, tk (see README).
FULL_PACKAGES="autoconf automake bzip2 ca-certificates curl dpkg-dev file g++ gcc git libbz2-dev libc6-dev libcurl4-openssl-dev libdb-dev libevent-dev libffi-dev libgdbm-dev libgmp-dev libjpeg-dev libkrb5-dev liblzma-dev libmaxminddb-dev libncurses-dev libncursesw5-dev libpng-dev libpq-dev libreadline-dev libsqlite3-dev libssl-dev libtool libwebp-dev libxml2-dev libxslt1-dev libyaml-dev make mercurial netbase openssh-client patch procps unzip wget xz-utils zlib1g-dev libbluetooth-dev uuid-dev"
packages() { # LAYOUT RELEASE VARIANT
    local p=()
    if [ "$1" = official ]; then
        if [ "$3" = slim ]; then
            p=(ca-certificates netbase tzdata $(cpython_runtime_packages "$2"))
        else
            p=($FULL_PACKAGES)
        fi
    else
        p=(python3 python3-pip python3-venv ca-certificates)
        [ "$3" = full ] && p+=(python3-dev build-essential)
        # Official python:3.11 images ship setuptools+wheel; python:3.12+ ship neither
        # (docker-library/python#954). Trixie's pip still pulls python3-wheel.
        [ "$2" = bookworm ] && p+=(python3-setuptools python3-wheel)
    fi
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
HOOK_DEBIAN_PYTHON=$(
    cat <<'HOOK'
set -eu
r="$1"
rm -f "$r"/usr/lib/python3*/EXTERNALLY-MANAGED
[ -e "$r/usr/bin/python" ] || ln -s python3 "$r/usr/bin/python"
[ -e "$r/usr/bin/pip" ] || ln -s pip3 "$r/usr/bin/pip"
for b in python python3 pip pip3; do [ -e "$r/usr/local/bin/$b" ] || ln -s "/usr/bin/$b" "$r/usr/local/bin/$b"; done
HOOK
)
HOOK_CLEAN=$(
    cat <<'HOOK'
set -eu
r="$1"
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
hooks() { # LAYOUT
    [ "$1" != debian ] || printf '%s\n' "$HOOK_DEBIAN_PYTHON"
    printf '%s\n' "$HOOK_CLEAN"
}
base_recipe() { # LAYOUT RELEASE VARIANT: everything that determines the amd64 tree (the armhf
    # one is derived from it)
    printf 'recipe-version %s\nlayout %s\nrelease %s\nvariant %s\nmmdebstrap-variant minbase\npackages %s\n' \
        "$RECIPE_VERSION" "$1" "$2" "$3" "$(packages "$1" "$2" "$3")"
    dpkg_opts "$3" | sed 's/^/dpkgopt /'
    sources "$2" | sed 's/^/source /'
    printf 'hook\n%s\n' "$(hooks "$1")"
    cat "$ENGINE_DIR/foreign_rootfs.py"
}
hash16() { sha256sum | cut -c1-16; }
rootfs_key() { # LAYOUT RELEASE VARIANT ARCH
    { base_recipe "$1" "$2" "$3"; echo "arch $4"; [ "$1" != official ] || cpython_recipe "$2"; } | hash16
}
rootfs_name() { printf 'python-%s-%s-%s-%s-%s.tar' "$1" "$2" "$3" "$4" "$(rootfs_key "$@")"; }

# build_rootfs LAYOUT RELEASE VARIANT: the amd64 tree with mmdebstrap (maintainer scripts run
# natively), the armhf tree from it (foreign_rootfs.py: unpacked, nothing emulated), then for the
# official layout the CPython trees (when build_cpython has made them) and ldconfig.
# Writes the two tarballs into $CACHE/rootfs.
build_base() { # LAYOUT RELEASE VARIANT -> $CACHE/tmp/<slot>-{amd64,armhf}/
    local lay=$1 rel=$2 var=$3 t=$SECONDS slot="$1-$2-$3" log="$LOGS/rootfs-$1-$2-$3.log" opts=() o srcs=()
    local dir="$CACHE/tmp/$slot"
    while read -r o; do opts+=("--dpkgopt=$o"); done < <(dpkg_opts "$var")
    while read -r o; do srcs+=("$o"); done < <(sources "$rel")
    rm -rf "$dir-amd64" "$dir-armhf"
    : >"$log"
    if ! TMPDIR="$CACHE/tmp" nice -n 5 mmdebstrap --mode=root --variant=minbase --architectures=amd64 --format=directory \
        --include="$(packages "$lay" "$rel" "$var" | tr ' ' ,)" "${opts[@]}" --customize-hook="$(hooks "$lay")" \
        "$rel" "$dir-amd64" "${srcs[@]}" >>"$log" 2>&1; then
        echo "engine: rootfs $slot amd64 FAILED (log: $log)"
        return 1
    fi
    echo "engine:   rootfs $slot amd64: mmdebstrap in $(elapsed "$t")"
    local t2=$SECONDS
    if ! nice -n 5 python3 "$ENGINE_DIR/foreign_rootfs.py" --native "$dir-amd64" --out "$dir-armhf" --arch armhf \
        --apt "$CACHE/apt-$rel-armhf" >>"$log" 2>&1; then
        echo "engine: rootfs $slot armhf FAILED (log: $log)"
        return 1
    fi
    echo "engine:   rootfs $slot armhf: unpacked beside the amd64 tree in $(elapsed "$t2") ($(grep -o '[0-9]* swapped out, [0-9]* armhf packages unpacked' "$log" | tail -n1))"
}

# finish_rootfs LAYOUT RELEASE VARIANT ARCH: CPython in (official), ldconfig, tar
finish_rootfs() {
    local lay=$1 rel=$2 var=$3 arch=$4 dir="$CACHE/tmp/$1-$2-$3-$4" name out log="$LOGS/rootfs-$1-$2-$3.log" cpy
    name=$(rootfs_name "$lay" "$rel" "$var" "$arch")
    out="$CACHE/rootfs/$name"
    local meta="PYTHON_VERSION=$(debian_python_version "$dir" "$rel")"
    if [ "$lay" = official ]; then
        cpy=$(cpython_dir "$rel")
        tar -C "$dir" -xf "$cpy/$arch.tar" --keep-directory-symlink || return 1
        [ "$var" = slim ] || cp -a "$cpy/gdb-$arch/." "$dir/" || return 1
        meta="PYTHON_VERSION=$(cpython_spec "$rel" | cut -d' ' -f1)"
    fi
    # the recipe runs ldconfig after installing libpython into /usr/local/lib; on armhf this is
    # the one program of the target architecture that runs (under QEMU, about a second)
    chroot "$dir" /sbin/ldconfig >>"$log" 2>&1 || { echo "engine: ldconfig in $dir failed (log: $log)"; return 1; }
    tar -C "$dir" --numeric-owner --exclude='./dev/*' -cf "$out.tmp" . || return 1
    printf '%s\n' "$meta" >"$out.meta"
    mv -f "$out.tmp" "$out"
    rm -rf "$dir"
    find "$CACHE/rootfs" -maxdepth 1 -name "python-$lay-$rel-$var-$arch-*" ! -name "$name" ! -name "$name.meta" -delete
}

# the upstream version of Debian's python3.X in a tree of the debian layout
debian_python_version() { # DIR RELEASE
    local v
    v=$(awk -v p="python$(py_version "$2")" '$0 == "Package: " p {f = 1} f && !v && /^Version:/ {v = $2} /^$/ {f = 0} END {print v}' "$1/var/lib/dpkg/status")
    v=${v#*:}
    echo "${v%%-*}"
}

build_all_rootfs() {
    mkdir -p "$CACHE/rootfs" "$CACHE/tmp" "$CACHE/cpython"
    local todo=() lay rel var spec t=$SECONDS cpy_jobs=() failed= need_cpython=
    for rel in $RELEASES; do for lay in $LAYOUTS; do for var in full slim; do
        if [ ! -s "$CACHE/rootfs/$(rootfs_name "$lay" "$rel" "$var" amd64)" ] ||
            [ ! -s "$CACHE/rootfs/$(rootfs_name "$lay" "$rel" "$var" armhf)" ]; then
            todo+=("$lay $rel $var")
            [ "$lay" != official ] || need_cpython+=" $rel"
        fi
    done; done; done
    [ ${#todo[@]} -gt 0 ] || return 0
    say "building ${#todo[@]} x 2 root filesystems (amd64 with mmdebstrap, armhf unpacked beside it; 1-2 min each pair on idle cores, up to 5 min when busy) (logs: $LOGS/rootfs-*.log)"
    # CPython builds run one at a time (each uses every core); the trees beside them
    local rels
    rels=$(tr ' ' '\n' <<<"$need_cpython" | awk 'NF && !s[$0]++' | tr '\n' ' ')
    if [ -n "${rels// /}" ]; then
        (for rel in $rels; do build_cpython "$rel" || exit 1; done) &
        cpy_jobs+=($!)
    fi
    local pids=() slots=()
    for spec in "${todo[@]}"; do
        # two trees at a time: mmdebstrap and unpacking wait on the network and the disk
        while [ "$(jobs -pr | wc -l)" -ge $((2 + ${#cpy_jobs[@]})) ]; do wait -n || true; done
        # shellcheck disable=SC2086
        build_base $spec &
        pids+=($!)
        slots+=("$spec")
    done
    local i
    for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed="$LOGS/rootfs-${slots[$i]// /-}.log"; done
    for i in "${cpy_jobs[@]}"; do wait "$i" || failed="$LOGS/cpython-*.log"; done
    [ -z "$failed" ] || die "building a root filesystem failed" "$(ls $failed 2>/dev/null | head -n1)"
    for spec in "${todo[@]}"; do
        read -r lay rel var <<<"$spec"
        finish_rootfs "$lay" "$rel" "$var" amd64 || die "finishing $spec amd64 failed" "$LOGS/rootfs-$lay-$rel-$var.log"
        finish_rootfs "$lay" "$rel" "$var" armhf || die "finishing $spec armhf failed" "$LOGS/rootfs-$lay-$rel-$var.log"
        say "rootfs $lay $rel $var: amd64 $(du -m "$CACHE/rootfs/$(rootfs_name "$lay" "$rel" "$var" amd64)" | cut -f1) MB, armhf $(du -m "$CACHE/rootfs/$(rootfs_name "$lay" "$rel" "$var" armhf)" | cut -f1) MB"
    done
    say "root filesystems built in $(elapsed "$t")"
}

# --- images ----------------------------------------------------------------------------------------
tags() { # RELEASE VARIANT
    local v
    v=$(py_version "$1")
    if [ "$2" = full ]; then echo "$v $v-$1"; else echo "$v-slim $v-slim-$1"; fi
}
ACCEPT_INDEX='application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json'
ACCEPT_MANIFEST='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
registry_digest() { # REPO TAG -> digest of REPO:TAG in our registry, empty when absent
    { curl -sfI --max-time 10 -H "Accept: $ACCEPT_INDEX,$ACCEPT_MANIFEST" \
        "http://$REGISTRY/v2/$1/manifests/$2" || true; } |
        tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}'
}
compressed_sizes() { # REPO TAG -> "amd64 91 MB, armv7 84 MB"
    local idx d p out=()
    idx=$(curl -sf --max-time 10 -H "Accept: $ACCEPT_INDEX" "http://$REGISTRY/v2/$1/manifests/$2") || return 0
    while read -r d p; do
        out+=("$p $(curl -sf --max-time 10 -H "Accept: $ACCEPT_MANIFEST" "http://$REGISTRY/v2/$1/manifests/$d" |
            jq '[.layers[].size] | add / 1000000 | floor') MB")
    done < <(jq -r '.manifests[] | "\(.digest) \(.platform.architecture)\(.platform.variant // "")"' <<<"$idx")
    local joined
    joined=$(printf '%s, ' "${out[@]}")
    echo "${joined%, }"
}

image_env() { # LAYOUT RELEASE ROOTFS-NAME: the ENV lines of the official recipe (or as before)
    local path=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    if [ "$1" = official ]; then
        local version file sha fpr
        read -r version file sha fpr <<<"$(cpython_spec "$2")"
        printf 'ENV PATH=%s\n' "$path"
        [ "$2" != bookworm ] || printf 'ENV LANG=C.UTF-8\n'
        printf 'ENV GPG_KEY=%s\nENV PYTHON_VERSION=%s\nENV PYTHON_SHA256=%s\n' \
            "$([ "$fpr" != - ] && echo "$fpr" || echo A035C8C19219BA821ECEA86B64E628F8D684696D)" "$version" "$sha"
    else
        printf 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 %s\n' "$(cat "$CACHE/rootfs/$3.meta")"
    fi
}

push_standin() { # LAYOUT RELEASE VARIANT
    local lay=$1 rel=$2 var=$3 amd arm key tag t=$SECONDS log="$LOGS/push-$1-$2-$3.log" df meta digest n args=() repo desc
    repo=$(repo_of "$lay")
    amd=$(rootfs_name "$lay" "$rel" "$var" amd64)
    arm=$(rootfs_name "$lay" "$rel" "$var" armhf)
    if [ "$lay" = official ]; then
        desc="CPython $(cpython_spec "$rel" | cut -d' ' -f1) built from the upstream release into /usr/local on Debian $rel, laid out like the official python image"
    else
        desc="Debian $rel python3 from Debian packages, standing in for the official python image"
    fi
    df="# generated by bslim tests/engine/up.sh ($lay layout): standing in for python:$(tags "$rel" "$var" | tr ' ' /)
# TARGETARCH/TARGETVARIANT are not declared: with dockerd 26's BuildKit a global
# 'ARG TARGETARCH' without default shadows the automatic value with an empty one.
FROM scratch AS tree-amd64
ADD $amd /
$(image_env "$lay" "$rel" "$amd")
LABEL org.bslim.engine.rootfs=$amd
FROM scratch AS tree-armv7
ADD $arm /
$(image_env "$lay" "$rel" "$arm")
LABEL org.bslim.engine.rootfs=$arm
FROM tree-\${TARGETARCH}\${TARGETVARIANT}
LABEL org.bslim.engine.recipe=KEY org.bslim.engine.layout=$lay org.opencontainers.image.description=\"$desc\"
CMD [\"python3\"]"
    key=$(printf '%s\n' "$df" | hash16)
    df=${df/KEY/$key}

    local stale=
    for tag in $(tags "$rel" "$var"); do
        digest=$(registry_digest "$repo" "$tag")
        if [ -z "$digest" ] || [ "$(cat "$STATE/pushed/$lay/$tag" 2>/dev/null)" != "$key $digest" ]; then stale=1; fi
    done
    if [ -z "$stale" ]; then
        say "$repo:$(tags "$rel" "$var" | tr ' ' /) up to date ($(compressed_sizes "$repo" "$(tags "$rel" "$var" | cut -d' ' -f1)"))"
        return 0
    fi

    mkdir -p "$STATE/build" "$STATE/pushed/$lay"
    write_file "$STATE/build/python-$lay-$rel-$var.Dockerfile" "$df" || true
    say "pushing $repo:$(tags "$rel" "$var" | tr ' ' /) ($(du -cm "$CACHE/rootfs/$amd" "$CACHE/rootfs/$arm" | tail -n1 | cut -f1) MB to compress; about $([ "$var" = full ] && echo 1 min || echo 15 s) on 2 idle cores)"
    for tag in $(tags "$rel" "$var"); do args+=(-t "$REGISTRY/$repo:$tag"); done
    meta="$STATE/build/python-$lay-$rel-$var.metadata.json"
    : >"$log"
    for n in 1 2 3 4 5; do
        rm -f "$meta"
        if docker buildx build --builder default --platform "$PLATFORMS" --provenance=false --sbom=false \
            --progress plain -f "$STATE/build/python-$lay-$rel-$var.Dockerfile" --metadata-file "$meta" \
            "${args[@]}" --push "$CACHE/rootfs" >"$log.try" 2>&1; then
            cat "$log.try" >>"$log"
            break
        fi
        cat "$log.try" >>"$log"
        # registry 2.8 sometimes answers "500 invalid checksum digest format" when several
        # manifests reach one tag at once: retry what looks like a registry hiccup, nothing else
        grep -qiE 'invalid checksum digest|500 Internal Server Error|unexpected status|connection reset|unexpected EOF' "$log.try" ||
            die "pushing $repo:$(tags "$rel" "$var") failed" "$log"
        [ $n -lt 5 ] || die "pushing $repo:$(tags "$rel" "$var") failed 5 times" "$log"
        echo "engine: push attempt $n failed on the registry, retrying" | tee -a "$log"
        sleep $((n * 3))
    done
    rm -f "$log.try"
    digest=$(jq -r '."containerimage.digest" // empty' "$meta")
    [ -n "$digest" ] || die "no digest in $meta after pushing" "$log"
    for tag in $(tags "$rel" "$var"); do
        [ "$(registry_digest "$repo" "$tag")" = "$digest" ] || die "registry does not serve $digest for $repo:$tag after the push" "$log"
        printf '%s %s\n' "$key" "$digest" >"$STATE/pushed/$lay/$tag"
        # Transition: an up.sh from before the two layouts (RECIPE_VERSION 1, on a branch not
        # merged yet) keeps "<its key> <digest>" in $STATE/pushed/<tag> and pushes its Debian
        # stand-ins back over library/python when the digest differs: tell it the registry
        # serves what it recorded, so the two do not take turns on the shared registry.
        if [ "$lay" = official ] && [ -s "$STATE/pushed/$tag" ]; then
            printf '%s %s\n' "$(cut -d' ' -f1 "$STATE/pushed/$tag")" "$digest" >"$STATE/pushed/$tag"
        fi
        # a stale copy in the local image store would shadow the new one in FROM python:$tag
        docker image rm -f "python:$tag" "$REGISTRY/$repo:$tag" >/dev/null 2>&1 || true
    done
    say "pushed $repo:$(tags "$rel" "$var" | tr ' ' /) in $(elapsed "$t") ($(compressed_sizes "$repo" "$(tags "$rel" "$var" | cut -d' ' -f1)"))"
}

# What a verify proved: the running dockerd (pid and start time: a restarted engine verifies
# again) and the digest of every slim stand-in it ran. A warm up.sh with the same key skips it.
verify_key() {
    local lay rel pid
    pid=$(cat "$ENGINE_STATE/dockerd.pid" 2>/dev/null) || return 0
    printf 'dockerd %s %s\n' "$pid" "$(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null)"
    for lay in $LAYOUTS; do for rel in $RELEASES; do
        printf '%s %s %s\n' "$lay" "$rel" "$(registry_digest "$(repo_of "$lay")" "$(tags "$rel" slim | cut -d' ' -f2)")"
    done; done
}
# One build FROM every slim stand-in, both platforms: the official ones through the Docker Hub
# mirror by their unchanged names. Each prints its machine, version and layout; apt's and dpkg's
# view of the (unpacked) armhf trees must be consistent.
verify_standins() {
    local lay rel tag ref plat log="$LOGS/verify.log" dest="$STATE/verify" df="" stages="" i=0 t=$SECONDS
    local key
    key=$(verify_key)
    if [ -n "$key" ] && [ "$(cat "$ENGINE_STATE/verified" 2>/dev/null)" = "$key" ]; then
        say "stand-ins verified before on this engine (same dockerd, same digests: $ENGINE_STATE/verified)"
        return 0
    fi
    rm -f "$ENGINE_STATE/verified"
    local probe="import platform, sys, sysconfig; print('probe', sys.argv[1], platform.machine(), sys.version.split()[0], sys.prefix, sysconfig.get_config_var('EXT_SUFFIX'))"
    for lay in $LAYOUTS; do for rel in $RELEASES; do
        tag=$(tags "$rel" slim | cut -d' ' -f1)
        ref="$REGISTRY/$(repo_of "$lay"):$tag"
        plat=$(docker buildx imagetools inspect "$ref" 2>&1) || die "docker buildx imagetools inspect $ref failed: $plat"
        if ! grep -q 'linux/amd64' <<<"$plat" || ! grep -q 'linux/arm/v7' <<<"$plat"; then
            die "$ref does not list linux/amd64 and linux/arm/v7: $plat"
        fi
        tag=$(tags "$rel" slim | cut -d' ' -f2)
        ref="python:$tag"
        [ "$lay" = official ] || ref="$REGISTRY/$(repo_of "$lay"):$tag"
        df+="FROM $ref AS s$i
RUN python3 -c \"$probe\" $lay-$tag | tee /probe.txt && dpkg --audit && apt-get check -qq
"
        stages+="COPY --from=s$i /probe.txt /$lay-$tag.txt
"
        i=$((i + 1))
    done; done
    [ $i -gt 0 ] || return 0
    rm -rf "$dest"
    say "verifying the stand-ins: one build FROM the $i slim one(s), both platforms (about $((5 + 10 * i)) s)"
    if ! printf '%sFROM scratch\n%s' "$df" "$stages" | timeout 600 docker buildx build --builder default \
        --platform "$PLATFORMS" --pull --no-cache --progress plain --output "type=local,dest=$dest" - >"$log" 2>&1; then
        die "a build FROM the stand-ins failed" "$log"
    fi
    local f p m summary=() prefix
    for lay in $LAYOUTS; do for rel in $RELEASES; do
        tag=$(tags "$rel" slim | cut -d' ' -f2)
        prefix=/usr/local
        [ "$lay" = official ] || prefix=/usr
        for p in linux_amd64:x86_64:x86_64-linux-gnu linux_arm_v7:armv7l:arm-linux-gnueabihf; do
            IFS=: read -r plat m triplet <<<"$p"
            f="$dest/$plat/$lay-$tag.txt"
            got=$(cat "$f" 2>/dev/null || true)
            [[ $got == "probe $lay-$tag $m $(py_version "$rel")."*" $prefix .cpython-$(py_version "$rel" | tr -d .)-$triplet.so" ]] ||
                die "$lay python:$tag on $plat printed '$got', expected $m, python $(py_version "$rel"), prefix $prefix, EXT_SUFFIX for $triplet" "$log"
            grep -qF -- "$got" "$log" || die "probe output '$got' missing from the build log" "$log"
        done
        summary+=("$lay:$tag")
    done; done
    [ -z "$key" ] || printf '%s\n' "$key" >"$ENGINE_STATE/verified"
    say "verified: ${summary[*]} run on amd64 (x86_64) and arm/v7 (armv7l) with the expected prefix and EXT_SUFFIX, dpkg/apt consistent ($(elapsed "$t"))"
}

standins_up() {
    [ -n "${RELEASES// /}" ] && [ -n "${LAYOUTS// /}" ] || return 0
    build_all_rootfs
    local lay rel var
    for lay in $LAYOUTS; do for rel in $RELEASES; do for var in full slim; do
        push_standin "$lay" "$rel" "$var"
    done; done; done
    verify_standins
}
