#!/bin/bash
# The suite under musl, natively: cmocka built with musl-gcc from
# Debian's source package (a static library, cached), then a fresh tree
# from the source tarball built and checked the README's way with
# CC=musl-gcc.  musl has no makecontext: configure must choose the
# library's own switch by itself, and a test program must report it.
#
#   test/musl.sh          (make check-musl does the same from a built tree)
#
# Needs (Debian 12): musl-tools, cmake, and a deb-src line for bookworm
# (as the cross matrix).  UCO_MUSL_DIR: where to build (default:
# ./musl); UCO_MUSL_TARBALL: the sources (default: `make dist` here);
# UCO_CMOCKA_SRC: a directory holding cmocka_1.1.5.orig.tar.xz or its
# unpacked tree (shared with the cross matrix).  Ends with one line:
# "musl: N passed, N failed".
set -euo pipefail
shopt -s inherit_errexit
src=$(cd "$(dirname "$0")/.." && pwd)
work=${UCO_MUSL_DIR:-$src/musl}
cmsrc=${UCO_CMOCKA_SRC:-$work/cmocka-src}
CC=${UCO_MUSL_CC:-musl-gcc}
mkdir -p "$work" "$cmsrc"
command -v "$CC" >/dev/null || { echo "musl.sh: $CC not found (Debian: apt-get install musl-tools)"; exit 1; }
start=$(date +%s)

# cmocka for musl, static, in $work/cmocka (the build is kept).
pre=$work/cmocka
if [ ! -f "$pre/lib/pkgconfig/cmocka.pc" ]; then
    if [ ! -d "$cmsrc/cmocka-1.1.5" ]; then
        (cd "$cmsrc" && { [ -f cmocka_1.1.5.orig.tar.xz ] ||
            apt-get source --download-only cmocka >/dev/null 2>&1; } &&
            tar xf cmocka_1.1.5.orig.tar.xz) ||
            { echo "musl.sh: no cmocka source (a deb-src line for bookworm is needed)"; exit 1; }
    fi
    rm -rf "$work/cmocka-build"
    cmake -S "$cmsrc/cmocka-1.1.5" -B "$work/cmocka-build" \
        -DCMAKE_C_COMPILER="$CC" -DCMAKE_INSTALL_PREFIX="$pre" \
        -DCMAKE_BUILD_TYPE=Release -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF \
        -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >"$work/cmocka.log" 2>&1 ||
        { tail -n 30 "$work/cmocka.log"; exit 1; }
    make -C "$work/cmocka-build" -j2 install >>"$work/cmocka.log" 2>&1 ||
        { tail -n 30 "$work/cmocka.log"; exit 1; }
    # only the static library: the tests carry cmocka inside them
    if [ -f "$pre/lib/libcmocka-static.a" ]; then
        rm -f "$pre"/lib/libcmocka.so*
        ln -sf libcmocka-static.a "$pre/lib/libcmocka.a"
    fi
fi

tar=${UCO_MUSL_TARBALL:-}
if [ -z "$tar" ]; then
    tar=$(ls "$src"/ucoro-*.tar.gz 2>/dev/null | head -n 1 || true)
    if [ -z "$tar" ] && [ -f "$src/Makefile" ]; then
        make -C "$src" dist >/dev/null
        tar=$(ls "$src"/ucoro-*.tar.gz | head -n 1)
    fi
fi
[ -n "$tar" ] || { echo "musl.sh: no source tarball and no configured tree"; exit 1; }
b=$work/build
rm -rf "$b" && mkdir -p "$b"
tar xf "$tar" -C "$b" --strip-components=1

# pkg-config answers for glibc's builds: only musl's cmocka is seen
export PKG_CONFIG_LIBDIR=$pre/lib/pkgconfig PKG_CONFIG_PATH=
(cd "$b" && ./configure CC="$CC" >configure.out 2>&1) || { tail -n 30 "$b/configure.out"; exit 1; }
sed -n '/^ucoro .* configured$/,$p' "$b/configure.out"
grep -q 'context switch:    fast (the C library has no makecontext)' "$b/configure.out" ||
    { echo "musl.sh: configure did not choose the library's own switch"; exit 1; }
make -C "$b" -j2 >"$b/build.out" 2>&1 || { tail -n 40 "$b/build.out"; exit 1; }
# what was built links musl, not glibc
file -L "$b/.libs/libucoro.so" "$b/test/.libs/test_api" 2>/dev/null | sed "s|$b/||"
if readelf -d "$b/.libs/libucoro.so" | grep -q 'libc.so.6'; then
    echo "musl.sh: libucoro.so needs glibc"; exit 1
fi
status=0
make -C "$b" -j2 check >"$b/check.out" 2>&1 || status=$?
for f in "$b"/test/*.log; do
    [ "$(basename "$f")" = test-suite.log ] && continue
    echo "---- ${f#"$b"/}"
    cat "$f"
done
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS|# )' "$b/check.out" || true
# cmocka's cases, over every binary
ok=$(cat "$b"/test/*.log | grep -cE '^\[ +OK +\]' || true)
bad=$(cat "$b"/test/*.log | { grep -E '^\[  FAILED  \] [a-z_]' || true; } | sort -u | wc -l)
echo "musl: uco_backend() = $(grep -ho 'uco_backend: [a-z/]*' "$b/test/test_api.log" | head -n 1 | cut -d' ' -f2)"
echo "musl: $(( $(date +%s) - start ))s"
echo "musl: $ok passed, $bad failed"
exit $status
