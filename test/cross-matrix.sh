#!/bin/bash
# The cross matrix: build the library, the demos and the cmocka suite for
# other architectures with Debian's cross toolchains, `./configure
# --host=...` the autotools way, and run them under qemu-user.
#
#   test/cross-matrix.sh [x86_64] [aarch64] [riscv64] [i686]   (default: all)
#   (x86_64-fast, aarch64-fast: the same with --enable-fast-switch)
#   make check-cross [CROSS_ARCHS="aarch64 i686"]
#
# Needs (Debian 12): gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu
# gcc-i686-linux-gnu, their libc6-dev-*-cross, qemu-user, cmake, and a
# deb-src line for bookworm (cmocka is built from Debian's source package
# for each target).  Prints one line per architecture: tests, time, result.
set -euo pipefail
shopt -s inherit_errexit # failures inside $(...) too (cmocka_for)
src=$(cd "$(dirname "$0")/.." && pwd)
work=${UCO_CROSS_DIR:-$src/cross}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 aarch64 riscv64 i686)
mkdir -p "$work"
summary=()

triplet() {
    case ${1%-fast} in
    x86_64) echo x86_64-linux-gnu ;;
    aarch64) echo aarch64-linux-gnu ;;
    riscv64) echo riscv64-linux-gnu ;;
    i686) echo i686-linux-gnu ;;
    esac
}
qemu_of() {
    case ${1%-fast} in
    x86_64) echo "" ;;
    aarch64) echo qemu-aarch64 ;;
    riscv64) echo qemu-riscv64 ;;
    i686) echo qemu-i386 ;;
    esac
}

# A tarball of the sources: `make dist` where the tree is configured, else
# git's files.
tarball() {
    local t
    t=$(ls "$src"/ucoro-*.tar.gz 2>/dev/null | head -n 1 || true)
    if [ -z "$t" ] && [ -f "$src/Makefile" ]; then
        make -C "$src" dist >/dev/null
        t=$(ls "$src"/ucoro-*.tar.gz | head -n 1)
    fi
    echo "$t"
}

# cmocka for a target, from Debian's source package, static, cached.
cmocka_for() {
    local tr=$1 pre=$work/$1/cmocka
    [ -f "$pre/lib/pkgconfig/cmocka.pc" ] && { echo "$pre"; return; }
    mkdir -p "$work/cmocka-src"
    if [ ! -d "$work/cmocka-src/cmocka-1.1.5" ]; then
        (cd "$work/cmocka-src" && apt-get source --download-only cmocka >/dev/null 2>&1 &&
            tar xf cmocka_1.1.5.orig.tar.xz) >&2
    fi
    mkdir -p "$work/$tr"
    rm -rf "$work/$tr/cmocka-build"
    cmake -S "$work/cmocka-src/cmocka-1.1.5" -B "$work/$tr/cmocka-build" \
        -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_C_COMPILER="$tr-gcc" \
        -DCMAKE_INSTALL_PREFIX="$pre" -DCMAKE_BUILD_TYPE=Release \
        -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF -DWITH_EXAMPLES=OFF \
        -DUNIT_TESTING=OFF >"$work/$tr/cmocka.log" 2>&1
    make -C "$work/$tr/cmocka-build" -j2 install >>"$work/$tr/cmocka.log" 2>&1
    # link the static library: the emulated tests then need no cmocka .so
    if [ -f "$pre/lib/libcmocka-static.a" ]; then
        rm -f "$pre"/lib/libcmocka.so*
        ln -sf libcmocka-static.a "$pre/lib/libcmocka.a"
    fi
    echo "$pre"
}

tar=${UCO_CROSS_TARBALL:-$(tarball)}
[ -n "$tar" ] || { echo "cross-matrix: no source tarball and no configured tree"; exit 1; }

for a in "${archs[@]}"; do
    tr=$(triplet "$a")
    q=$(qemu_of "$a")
    start=$(date +%s)
    echo "==== $a ($tr)"
    pre=$(cmocka_for "$tr")
    b=$work/$tr/build$([ "$a" = "${a%-fast}" ] || echo -fast)
    rm -rf "$b" && mkdir -p "$b"
    tar xf "$tar" -C "$b" --strip-components=1
    host=()
    [ "${a%-fast}" = x86_64 ] || host=(--host="$tr")
    [ "$a" = "${a%-fast}" ] || host+=(--enable-fast-switch)
    export QEMU_LD_PREFIX=/usr/$tr
    # what the emulator cannot do, shown with a minimal program each
    unset UCO_TEST_NO_FATAL_SIGNAL UCO_TEST_MAPS_HIDE_NONE UCO_TEST_EMULATED
    [ -z "$q" ] || export UCO_TEST_EMULATED=1
    link=()
    "$tr-gcc" -O2 "$b/test/emu-probe.c" -o "$b/emu-probe"
    if ! timeout 20 $q "$b/emu-probe" fork; then
        echo "emu-probe: on $a the child of fork() hangs in a dynamically linked program"
        echo "           (a static one works): everything is linked statically there"
        # libtool's word, at make time only; the stress test's malloc
        # wrappers cannot link statically, and leave the heap count out
        link=(LDFLAGS=-all-static CPPFLAGS=-DUCO_TEST_STATIC)
        "$tr-gcc" -O2 -static "$b/test/emu-probe.c" -o "$b/emu-probe"
        timeout 20 $q "$b/emu-probe" fork || { echo "emu-probe: fork hangs even static on $a"; exit 1; }
    fi
    if ! timeout 20 $q "$b/emu-probe" fatal; then
        echo "emu-probe: on $a a forked child that dies by a signal hangs the emulator:"
        echo "           the tests that need one are skipped there"
        export UCO_TEST_NO_FATAL_SIGNAL=1
    fi
    if ! $q "$b/emu-probe" maps; then
        echo "emu-probe: on $a the emulator hides PROT_NONE mappings from /proc/self/maps:"
        echo "           the checks that read the guard there are skipped"
        export UCO_TEST_MAPS_HIDE_NONE=1
    fi
    (cd "$b" && PKG_CONFIG_LIBDIR="$pre/lib/pkgconfig" PKG_CONFIG_PATH= \
        ./configure "${host[@]}" --disable-shared --enable-werror \
        --disable-valgrind CFLAGS="-g -O2" >"$b/configure.out" 2>&1) ||
        { tail -n 30 "$b/configure.out"; exit 1; }
    if [ "$a" != "${a%-fast}" ] && ! grep -q 'context switch:    fast' "$b/configure.out"; then
        echo "configure kept ucontext for $a"; exit 1
    fi
    make -C "$b" -j2 "${link[@]}" >/dev/null
    # the demos, under the emulator
    for d in example pipeline roundrobin counter sandbox generator pipeline-chan; do
        [ -x "$b/demo/$d" ] || continue
        echo "-- demo/$d"
        $q "$b/demo/$d" >"$b/demo-$d.out" 2>&1 || { cat "$b/demo-$d.out"; echo "demo/$d failed on $a"; exit 1; }
        tail -n 3 "$b/demo-$d.out"
    done
    # the unit suite and the variants that rerun it with other settings
    status=0
    make -C "$b" -j2 check "${link[@]}" \
        TESTS="\$(UNIT_TESTS) test/stack-mprotect.sh test/task-mprotect.sh test/guard-mprotect.sh test/io-poll.sh" \
        LOG_COMPILER="$q" UCO_TEST_RUNNER="$q" UCO_TEST_SLACK="${UCO_TEST_SLACK:-10}" \
        >"$b/check.out" 2>&1 || status=$?
    grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS|# )' "$b/check.out" || true
    # cases passed (a FAILED case shows twice: when it runs, and listed)
    cmocka_tests=$(cat "$b"/test/*.log 2>/dev/null | grep -cE '^\[ +OK +\]' || true)
    skipped=$(cat "$b"/test/*.log 2>/dev/null | grep -cE '^# SKIP' || true)
    if [ $status != 0 ]; then
        for f in "$b"/test/*.log; do grep -q 'FAIL\|ERROR' "$f" && { echo "---- $f"; tail -n 40 "$f"; }; done
    fi
    secs=$(( $(date +%s) - start ))
    res=$([ $status = 0 ] && echo pass || echo FAIL)
    summary+=("$(printf '%-13s %-18s %4s cmocka cases passed, %2s skipped (emulator)  %4ss  %s' "$a" "$tr" "$cmocka_tests" "$skipped" "$secs" "$res")")
    [ $status = 0 ] || { printf '%s\n' "${summary[@]}"; exit 1; }
done
echo "==== matrix"
printf '%s\n' "${summary[@]}"
