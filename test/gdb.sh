#!/bin/sh
# The gdb extension: run demo/counter under gdb.  First stop it when main
# calls uco_sleep, before the counter task has ever run: its backtrace
# must start where a made context starts.  Then stop it when every task
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
    -ex "break uco_sleep" \
    -ex "run" \
    -ex "source $s/gdb/ucoro-gdb.py" \
    -ex "ucoro bt 2" \
    -ex "delete" \
    -ex "echo ==asleep==\\n" \
    -ex "break clock_nanosleep" \
    -ex "continue" \
    -ex "ucoro tasks" \
    -ex "ucoro bt 2" \
    -ex "kill" \
    --args "$b/demo/counter" 2>&1)
echo "$out"
# gdb reads thread-locals through the C library's libthread_db: musl has
# none (doc/porting.md)
if echo "$out" | grep -q 'Cannot find thread-local variables on this target'; then
    echo "SKIP: gdb cannot read this C library's thread-locals (no libthread_db: musl)"
    exit 77
fi
fail=0
# a made context: the fast switch's uco__fs_start, or the ucontext
# backend's trampoline
fresh=$(echo "$out" | sed '/^==asleep==/,$d')
echo "$fresh" | grep -Eq '^task 2 ' || { echo "FAIL: no backtrace of the new task"; fail=1; }
echo "$fresh" | grep -Eq '^#0 .*(fs_start|trampoline)' || { echo "FAIL: the new task's backtrace does not start where a made context starts"; fail=1; }
out=$(echo "$out" | sed -n '/^==asleep==/,$p')
echo "$out" | grep -Eq '^ +2 +task-2 +waiting +sleep' || { echo "FAIL: task 2 not listed as sleeping"; fail=1; }
echo "$out" | grep -Eq ' (in )?uco_sleep(_until)? \(' || { echo "FAIL: no uco_sleep frame"; fail=1; }
echo "$out" | grep -Eq 'in counter \(.*demo/counter\.c' || { echo "FAIL: no counter frame"; fail=1; }
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
