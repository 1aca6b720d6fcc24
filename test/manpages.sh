#!/bin/sh
# Every function of include/ucoro.h has a section-3 page (a page of its own
# or a .so link to the page that documents it, which must name it), and
# every page renders without warnings.
set -u
s=${top_srcdir:-.}
fail=0 n=0
for f in $(grep -oE '\buco_[a-z0-9_]+[[:space:]]*\(' "$s/include/ucoro.h" | tr -d ' (' | sort -u); do
    case "$f" in uco_fn|uco_gen_fn|uco_drop_fn) continue ;; esac
    n=$((n + 1))
    page="$s/man/$f.3"
    if [ ! -f "$page" ]; then
        echo "FAIL: no man page for $f"
        fail=1
        continue
    fi
    target=$(sed -n 's/^\.so man3\/\(.*\)$/\1/p' "$page")
    [ -n "$target" ] && page="$s/man/$target"
    if ! grep -q "$f" "$page" 2>/dev/null; then
        echo "FAIL: $page does not document $f"
        fail=1
    fi
    if ! grep -q '^\.SH RETURN VALUE' "$page" && [ "$f" != uco_exit ]; then
        echo "FAIL: $page has no RETURN VALUE section (for $f)"
        fail=1
    fi
done
if command -v groff >/dev/null 2>&1; then
    for p in "$s"/man/*.3; do
        grep -q '^\.so ' "$p" && continue
        w=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
        if [ -n "$w" ]; then
            echo "FAIL: $p renders with warnings:"
            echo "$w" | sed 's/^/  /'
            fail=1
        fi
    done
fi
echo "checked $n functions"
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
