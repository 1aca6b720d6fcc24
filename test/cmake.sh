#!/bin/bash
# The CMake package, as a CMake user meets it: install the built tree
# under a DESTDIR, move nothing else, and build test/cmake/ (a project
# with find_package(ucoro 0.2 CONFIG REQUIRED) and
# target_link_libraries(app PRIVATE ucoro::ucoro)) against it; run what
# it built.  Then the version file: 0.1 is met, 1.0 and 0.99 are not.
#
#   test/cmake.sh BUILDDIR WORKDIR      (BUILDDIR: a configured, built tree)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
work=$2
rm -rf "$work" && mkdir -p "$work"
make -C "$build" install DESTDIR="$work/dest" >"$work/install.log" 2>&1 ||
    { tail -n 30 "$work/install.log"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$build/ucoro.pc")
root=$work/dest$prefix
cfg=$(ls -d "$root"/lib*/cmake/ucoro | head -n 1)
ls "$cfg"
cmake -S "$src/test/cmake" -B "$work/app" -DCMAKE_PREFIX_PATH="$root" \
    >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
grep 'ucoro 0' "$work/cmake.log"
make -C "$work/app" >"$work/app.log" 2>&1 || { cat "$work/app.log"; exit 1; }
libdir=$(dirname "$(dirname "$cfg")")
LD_LIBRARY_PATH=$libdir "$work/app/app" | tee "$work/out"
grep -q '^pong 2$' "$work/out"
# linked the shared library it found, by its soname
readelf -d "$work/app/app" | grep -q 'NEEDED.*libucoro\.so' ||
    { echo "app does not link libucoro.so"; exit 1; }
if [ -x "$work/app/app_static" ]; then
    "$work/app/app_static" >"$work/out-static"
    cmp "$work/out" "$work/out-static"
    if readelf -d "$work/app/app_static" | grep -q 'NEEDED.*libucoro'; then
        echo "app_static links libucoro dynamically"; exit 1
    fi
    echo "ucoro::ucoro_static: the same output"
fi
# the version file: the same major version up to this one, no more
mkdir -p "$work/ver"
cat >"$work/ver/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.13)
project(ucoro_version_check C)
find_package(ucoro ${WANT} CONFIG)
message(STATUS "found: ${ucoro_FOUND}")
CM
for want in 0.1 0.2 0.2.0 1.0 0.99; do
    rm -rf "$work/ver/b"
    got=$(cmake -S "$work/ver" -B "$work/ver/b" -DCMAKE_PREFIX_PATH="$root" -DWANT="$want" 2>&1 |
        sed -n 's/^-- found: //p')
    echo "find_package(ucoro $want): ${got:-?}"
    case $want:$got in 0.1:1|0.2:1|0.2.0:1|1.0:0|0.99:0) ;; *) echo "wrong answer"; exit 1 ;; esac
done
echo "cmake: 1 passed, 0 failed"
