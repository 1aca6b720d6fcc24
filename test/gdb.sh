#!/bin/sh
# The gdb extension: run demo/counter under gdb, stop it when every task
# sleeps (the scheduler blocks in clock_nanosleep), list the tasks and
# check that the backtrace of the sleeping counter task shows the function
# that called uco_sleep.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
if ! command -v gdb >/dev/null 2>&1; then
    echo "FAIL: gdb is not installed (apt-get install gdb)"
    exit 1
fi
out=$("$b/libtool" --mode=execute gdb -nx -batch \
    -ex "set debuginfod enabled off" \
    -ex "set breakpoint pending on" \
    -ex "break clock_nanosleep" \
    -ex "run" \
    -ex "source $s/gdb/ucoro-gdb.py" \
    -ex "ucoro tasks" \
    -ex "ucoro bt 2" \
    -ex "kill" \
    --args "$b/demo/counter" 2>&1)
echo "$out"
fail=0
echo "$out" | grep -Eq '^ +2 +task-2 +waiting +sleep' || { echo "FAIL: task 2 not listed as sleeping"; fail=1; }
echo "$out" | grep -Eq ' (in )?uco_sleep(_until)? \(' || { echo "FAIL: no uco_sleep frame"; fail=1; }
echo "$out" | grep -Eq 'in counter \(.*demo/counter\.c' || { echo "FAIL: no counter frame"; fail=1; }
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
