#!/bin/sh
# The shared library exports uco_* functions and nothing else, and every
# function the header declares is exported.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
lib=$(ls "$b"/.libs/libucoro.so.* 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then
    echo "no shared library under $b/.libs (configured --disable-shared?)"
    exit 77
fi
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
# (_init and _fini: the C runtime's own, which musl's crti.o exports)
bad=$(echo "$syms" | grep -v '^uco_' | grep -vx '_init\|_fini')
n=$(echo "$syms" | grep -c '^uco_')
echo "exported: $n uco_* symbols from $lib"
fail=0
if [ -n "$bad" ]; then
    echo "FAIL: exported outside the uco_ namespace:"
    echo "$bad" | sed 's/^/  /'
    fail=1
fi
for f in $(grep -oE '\buco_[a-z0-9_]+[[:space:]]*\(' "$s/include/ucoro.h" | tr -d ' (' | sort -u); do
    case "$f" in uco_fn|uco_gen_fn|uco_drop_fn) continue ;; esac
    if ! echo "$syms" | grep -qx "$f"; then
        echo "FAIL: $f is declared in ucoro.h but not exported"
        fail=1
    fi
done
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
