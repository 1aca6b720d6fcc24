#!/bin/sh
# run.sh - run every benchmark, print one table.  make bench runs it from
# the build directory after building the programs.
#
#   bench/run.sh [--full]
#
# Each figure is measured several times, the systems taking turns within a
# round so that drift on a noisy machine hits them alike; the table shows
# the median with [min-max] and, beside each peer, ucoro's figure divided
# by the peer's (the median of the ratios within each round; below 1:
# ucoro is faster or smaller).  --full runs the
# million-task program (and the peers' idle tasks) with 1,000,000 tasks
# instead of 100,000.
set -u

B=${BENCH_DIR:-./bench}
FULL=0
[ "${1:-}" = --full ] && FULL=1
ROUNDS=${BENCH_ROUNDS:-7}      # switch and spawn figures
SLOW=${BENCH_SLOW_ROUNDS:-3}   # sleepers, cancellation, memory
SLEEPERS=100000
CANCEL_K=2000
if [ $FULL = 1 ]; then IDLE=1000000; IDLE_ROUNDS=1; else IDLE=100000; IDLE_ROUNDS=$SLOW; fi

for p in ucoro-ctx peers million; do
    if [ ! -x "$B/$p" ]; then
        echo "run.sh: $B/$p is missing: run make bench" >&2
        exit 1
    fi
done
# The fast switch is built where the CPU has one (x86-64, aarch64).
FAST=0
[ -x "$B/ucoro-fast" ] && [ -x "$B/million-fast" ] && FAST=1

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
RES=$(mktemp)
NOTES=$(mktemp)
trap 'rm -f "$RES" "$NOTES"' EXIT
trap 'exit 130' INT TERM # and stop: the EXIT trap cleans up

have() { "$B/peers" list | grep -q "^$1 yes"; }

# run TAG PROGRAM ARGS...: keep the program's "R key value" lines as
# "TAG.key value", its "#" lines as notes.
run() {
    tag=$1
    shift
    "$@" >"$RES.one" 2>"$RES.err" || {
        echo "run.sh: '$*' failed:" >&2
        cat "$RES.err" >&2
    }
    awk -v t="$tag" -v r="$r" '$1 == "R" { print t "." $2, $3, r }' "$RES.one" >>"$RES"
    grep '^#' "$RES.one" | sed "s/^# */$tag: /" >>"$NOTES"
    rm -f "$RES.one" "$RES.err"
}

progress() { printf '%s\n' "$*" >&2; }

# ------------------------------------------------------------ measuring
PEERS_SWITCH=""
for p in floor floorj floorfp raw boost pcl st; do have $p && PEERS_SWITCH="$PEERS_SWITCH $p"; done

progress "bench: switches and spawns ($ROUNDS rounds)"
r=1
while [ $r -le "$ROUNDS" ]; do
    for n in 2 100 10000; do
        run ctx "$B/ucoro-ctx" yield $n
        [ $FAST = 1 ] && run fast "$B/ucoro-fast" yield $n
        for p in $PEERS_SWITCH; do run $p "$B/peers" $p yield $n; done
    done
    # the reference for the 2-task yield only (bench/peers.c)
    have floorq && run floorq "$B/peers" floorq yield 2
    run ctx "$B/ucoro-ctx" spawn
    [ $FAST = 1 ] && run fast "$B/ucoro-fast" spawn
    for p in raw boost pcl st; do have $p && run $p "$B/peers" $p spawn; done
    r=$((r + 1))
done

progress "bench: $SLEEPERS sleepers, cancellation ($SLOW rounds)"
LOAD_SLEEP=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
r=1
while [ $r -le "$SLOW" ]; do
    run ctx "$B/ucoro-ctx" sleep $SLEEPERS
    [ $FAST = 1 ] && run fast "$B/ucoro-fast" sleep $SLEEPERS
    have uv && run uv "$B/peers" uv sleep $SLEEPERS
    run ctx "$B/ucoro-ctx" cancel $SLEEPERS $CANCEL_K
    [ $FAST = 1 ] && run fast "$B/ucoro-fast" cancel $SLEEPERS $CANCEL_K
    have st && run st "$B/peers" st cancel $SLEEPERS $CANCEL_K
    r=$((r + 1))
done

progress "bench: $IDLE idle tasks ($IDLE_ROUNDS rounds)"
r=1
while [ $r -le "$IDLE_ROUNDS" ]; do
    run ctx "$B/million" $IDLE
    [ $FAST = 1 ] && run fast "$B/million-fast" $IDLE
    have pcl && run pcl "$B/peers" pcl idle $IDLE
    have st && run st "$B/peers" st idle $IDLE
    r=$((r + 1))
done

# ------------------------------------------------------------ threads
# bench/threads (bench/threads-fast with the fast switch): posts between
# schedulers, posts from plain threads, the worker pool, beside libuv.
THR=0
[ -x "$B/threads" ] && THR=1
THR_ROUNDS=${BENCH_THREAD_ROUNDS:-5}
RTT_N=4000
THR_SYS=ctx
[ $THR = 1 ] && [ $FAST = 1 ] && [ -x "$B/threads-fast" ] && THR_SYS="ctx fast"
tprog() { if [ "$1" = fast ]; then echo "$B/threads-fast"; else echo "$B/threads"; fi; }
tname() { if [ "$1" = fast ]; then echo "ucoro, fast switch"; else echo "ucoro, $("$B/ucoro-ctx" backend)"; fi; }
SC_HOW=""
if [ $THR = 1 ]; then
    progress "bench: threads: post round trips, posts, offloads ($THR_ROUNDS rounds)"
    r=1
    while [ $r -le "$THR_ROUNDS" ]; do
        for pl in cross free; do
            for s in $THR_SYS; do run $s "$(tprog $s)" post-rtt $RTT_N $pl; done
            have uv && run uv "$B/threads" uv-rtt $RTT_N $pl
            run efd "$B/threads" floor-rtt $RTT_N $pl
        done
        for s in $THR_SYS; do
            run $s "$(tprog $s)" posts 1 200000 256
            run $s "$(tprog $s)" posts 2 50000 256
            run $s "$(tprog $s)" offload 5000
            run $s "$(tprog $s)" offload-par 1 3000
            run $s "$(tprog $s)" offload-par 8 3000
        done
        if have uv; then
            run uv "$B/threads" uv-offload 5000
            run uv "$B/threads" uv-offload-par 1 3000
            run uv "$B/threads" uv-offload-par 8 3000
        fi
        r=$((r + 1))
    done
    # once: every post at once, no window
    for s in $THR_SYS; do
        run $s "$(tprog $s)" posts 1 100000 0
        run $s "$(tprog $s)" posts 2 50000 0
    done

    # System calls per post to a busy scheduler: the posts case with N
    # posts and with 1 under perf stat (every system call, and by kind), or
    # under strace (read and write only); the difference over N - 1 (the
    # start, the warm-up and the end are the same in both).
    SC_N=200000
    SC_EV="raw_syscalls:sys_enter"
    for c in read write madvise mmap munmap rt_sigprocmask futex sched_yield; do
        SC_EV="$SC_EV,syscalls:sys_enter_$c"
    done
    if command -v perf >/dev/null 2>&1 &&
        perf stat -x, -o "$RES.sc" -e "$SC_EV" true >/dev/null 2>&1 &&
        awk -F, '$3 == "raw_syscalls:sys_enter" && $1 ~ /^[0-9]+$/ { ok = 1 } END { exit !ok }' "$RES.sc"; then
        SC_HOW=perf
    elif command -v strace >/dev/null 2>&1 &&
        strace -f -c -e trace=read,write -o "$RES.sc" true >/dev/null 2>&1; then
        SC_HOW=strace
    fi
    # sc_one COUNT PROGRAM: "kind calls" lines for COUNT posts
    sc_one() {
        n=$1
        shift
        case $SC_HOW in
        perf)
            perf stat -x, -o "$RES.sc" -e "$SC_EV" -- "$@" posts 1 "$n" 256 >/dev/null 2>&1
            awk -F, '$3 ~ /sys_enter/ { k = $3; sub(/.*sys_enter_?/, "", k); if (k == "") k = "all"; print k, $1 + 0 }' "$RES.sc"
            ;;
        strace)
            strace -f -c -e trace=read,write -o "$RES.sc" "$@" posts 1 "$n" 256 >/dev/null 2>&1
            awk '$NF == "read" || $NF == "write" { print $NF, $(NF - 1) + 0 }' "$RES.sc"
            ;;
        esac
    }
    if [ -n "$SC_HOW" ]; then
        progress "bench: threads: system calls per post ($SC_HOW)"
        for s in $THR_SYS; do
            sc_one 1 "$(tprog $s)" >"$RES.sc1"
            sc_one $SC_N "$(tprog $s)" >"$RES.sc2"
            awk -v t="$s" -v n=$((SC_N - 1)) '
                FNR == NR { a[$1] = $2; next }
                { print t ".sc." $1, ($2 - a[$1]) / n, 1 }' "$RES.sc1" "$RES.sc2" >>"$RES"
        done
        rm -f "$RES.sc" "$RES.sc1" "$RES.sc2"
    fi
fi

# ------------------------------------------------------------ embedding
# bench/embed: the same tasks under uco_run and driven a step at a time
# from a libuv loop (a uv_poll_t on uco_sched_fd, a uv_timer_t for each
# step's deadline); signals to a task in uco_signal_wait.
EMB=0
[ -x "$B/embed" ] && EMB=1
EMB_ROUNDS=${BENCH_EMBED_ROUNDS:-3}
EMB_UV=0
EMB_TFD=0
EMB_C=32        # echo clients (and 1, beside it)
EMB_SLEEPERS=1000
EMB_SIGNALS=2000
if [ $EMB = 1 ]; then
    "$B/embed" list | grep -q '^uv yes' && EMB_UV=1
    "$B/embed" list | grep -q '^timerfd yes' && EMB_TFD=1
    progress "bench: a scheduler inside libuv: echo, idle, sleepers; signals ($EMB_ROUNDS rounds)"
    r=1
    while [ $r -le "$EMB_ROUNDS" ]; do
        # uco_run first in odd rounds, libuv first in even ones
        if [ $((r % 2)) = 1 ]; then ds="run uv"; else ds="uv run"; fi
        for c in $EMB_C 1; do
            for d in $ds; do
                [ $d = uv ] && [ $EMB_UV = 0 ] && continue
                run emb "$B/embed" echo $d $c 1
            done
        done
        [ $EMB_UV = 1 ] && run emb "$B/embed" idle uv 2
        run emb "$B/embed" sleep run $EMB_SLEEPERS
        [ $EMB_UV = 1 ] && run emb "$B/embed" sleep uv $EMB_SLEEPERS
        [ $EMB_TFD = 1 ] && run emb "$B/embed" sleep uvtfd $EMB_SLEEPERS
        for m in kill thread floor; do run emb "$B/embed" signal $m $EMB_SIGNALS; done
        r=$((r + 1))
    done
fi

# ------------------------------------------------------------ reporting
# stat KEY: "median min max count" of the values of KEY, or nothing.
stat() {
    awk -v k="$1" '
        $1 == k { v[n++] = $2 + 0 }
        END {
            if (!n) exit
            for (i = 1; i < n; i++) {
                x = v[i]
                for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]
                v[j + 1] = x
            }
            m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            print m, v[0], v[n - 1], n
        }' "$RES"
}

med() { stat "$1" | awk '{ print $1 }'; }
mf() { stat "$1" | awk '{ printf($1 >= 100 ? "%.0f" : "%.3g", $1) }'; }
maxof() { stat "$1" | awk '{ print $3 }'; }

# cell KEY FMT: "median [min-max]"
cell() {
    s=$(stat "$1")
    if [ -z "$s" ]; then
        printf '%s' "n/a"
    else
        echo "$s" | awk -v f="$2" '{ printf f " [" f "-" f "]", $1, $2, $3 }'
    fi
}

# ratio A B: the median over the rounds of A / B measured in the same
# round (paired, so that drift between rounds cancels out), or "-"
ratio() {
    awk -v a="$1" -v b="$2" '
        $1 == a { x[$3] = $2 + 0 }
        $1 == b { y[$3] = $2 + 0 }
        END {
            for (r in x)
                if ((r in y) && y[r] != 0) v[n++] = x[r] / y[r]
            if (!n) { printf "-"; exit }
            for (i = 1; i < n; i++) {
                t = v[i]
                for (j = i - 1; j >= 0 && v[j] > t; j--) v[j + 1] = v[j]
                v[j + 1] = t
            }
            printf "%.2f", n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
        }' "$RES"
}

name() {
    case $1 in
    ctx) echo "ucoro, $("$B/ucoro-ctx" backend) (configured)" ;;
    fast) echo "ucoro, fast switch" ;;
    floor) echo "floor: bare register switch" ;;
    floorj) echo "floor, entered by jump (no return)" ;;
    floorfp) echo "floor + FP control (MXCSR, x87 CW)" ;;
    floorq) echo "floor + FP control + a bare run queue" ;;
    raw) echo "raw swapcontext" ;;
    boost) echo "Boost.Context fcontext" ;;
    pcl) echo "PCL" ;;
    st) echo "State Threads" ;;
    uv) echo "libuv" ;;
    esac
}

pkg() {
    case $1 in
    boost) echo libboost-context-dev ;;
    pcl) echo libpcl1-dev ;;
    st) echo libst-dev ;;
    uv) echo libuv1-dev ;;
    esac
}

# line LABEL KEY FMT [UCORO_KEY]: a row; for a peer, ucoro's figure
# (ctx.UCORO_KEY, fast.UCORO_KEY; by default the peer's key) divided by it
line() {
    sys=${2%%.*}
    u=${4:-${2#*.}}
    c=$(cell "$2" "$3")
    case $sys in
    ctx | fast) r1="" r2="" ;;
    *) r1=$(ratio "ctx.$u" "$2") r2=$(ratio "fast.$u" "$2") ;;
    esac
    printf '  %-40s %-30s %8s %8s\n' "$1" "$c" "$r1" "$r2"
}

missing() {
    printf '  %-40s %s\n' "$(name "$1")" "not measured: apt-get install $(pkg "$1"), then configure again"
}

hr() { printf '%s\n' "-------------------------------------------------------------------------------------------"; }

echo
hr
printf 'ucoro benchmarks: %s, %s CPU(s), kernel %s; medians of %s runs [min-max]\n' \
    "$(date '+%Y-%m-%d %H:%M')" "$(nproc 2>/dev/null || echo '?')" "$(uname -r)" "$ROUNDS"
printf 'load average at the start %s, at the end %s (other work on the machine adds noise)\n' \
    "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
printf 'ctx/it and fast/it: ucoro (configured backend, fast switch) divided by the row,\n'
printf 'the median of the ratios within each round\n'
hr

printf '\n%-42s %-30s %8s %8s\n' "Switch: ns per task turn (a yield)" "median [min-max]" "ctx/it" "fast/it"
for n in 2 100 10000; do
    printf ' %s tasks, each on its own 256 KiB stack\n' "$n"
    for s in ctx fast floor floorj floorfp floorq raw boost pcl st; do
        case $s in
        floor | floorj | floorfp) have $s || continue ;;
        floorq) { have $s && [ "$n" = 2 ]; } || continue ;;
        raw | ctx | fast) ;;
        *) have $s || { missing $s; continue; } ;;
        esac
        lbl=$(name $s)
        [ $s = pcl ] && lbl="PCL: co_call + co_resume"
        [ $s = st ] && lbl="State Threads: cond signal + wait"
        line "$lbl" "$s.yield.$n" "%.1f"
    done
done

printf '\n%-42s %-30s %8s %8s\n' "Spawn + run + join: ns" "median [min-max]" "ctx/it" "fast/it"
line "ucoro: uco_spawn, run, uco_join" ctx.spawn "%.1f"
line "ucoro fast: the same" fast.spawn "%.1f"
line "raw: getcontext+makecontext+2 swaps" raw.spawn "%.1f"
if have boost; then line "Boost: make_fcontext + 2 jumps" boost.spawn "%.1f"; else missing boost; fi
if have pcl; then line "PCL: co_create+co_call+co_delete" pcl.spawn "%.1f"; else missing pcl; fi
if have st; then line "State Threads: create + join" st.spawn "%.1f"; else missing st; fi

printf '\n%-42s %-30s %8s %8s\n' "Memory: $IDLE idle tasks, KiB each (VmRSS)" "median [min-max]" "ctx/it" "fast/it"
line "ucoro (default attributes)" ctx.million.kib_per_task "%.2f"
line "ucoro fast" fast.million.kib_per_task "%.2f"
if have pcl; then line "PCL (256 KiB malloc'd stacks)" pcl.idle.kib "%.2f" million.kib_per_task; else missing pcl; fi
if have st; then line "State Threads (256 KiB stacks)" st.idle.kib "%.2f" million.kib_per_task; else missing st; fi
printf ' page tables (VmPTE, not in VmRSS), KiB per ucoro task: %s\n' "$(cell ctx.million.pte_kib_per_task %.2f)"
printf ' live tasks held (limit asked: %s)\n' "$IDLE"
for s in ctx fast pcl st; do
    case $s in
    ctx | fast) k=$s.million.held; f="" ;;
    *) have $s || continue; k=$s.idle.count; f=$(maxof $s.idle.failed) ;;
    esac
    h=$(med $k)
    [ "$f" = 1 ] && h="$h (refused there)"
    printf '  %-40s %s\n' "$(name $s)" "$h"
done
printf '  %-40s %s, -EAGAIN %s, message names vm.max_map_count %s\n' \
    "ucoro, UCO_GUARD=mprotect" "$(med ctx.mprotect.held) then refused" \
    "$(med ctx.mprotect.eagain | sed 's/1/yes/;s/0/NO/')" \
    "$(med ctx.mprotect.names_limit | sed 's/1/yes/;s/0/NO/')"
printf ' seconds for ucoro with %s tasks\n' "$IDLE"
printf '  %-40s %s\n' "spawn all" "$(cell ctx.million.spawn_s %.2f)"
printf '  %-40s %s\n' "first run of all, to their sleep" "$(cell ctx.million.firstrun_s %.2f)"
printf '  %-40s %s\n' "cancel all + join all" "$(cell ctx.million.cancel_join_s %.2f)"
printf '  %-40s %s\n' "the same, fast switch" "$(cell fast.million.cancel_join_s %.2f)"

printf '\n%s\n' "Sleep: $SLEEPERS sleepers, random 0-1000 ms from a common start (all asleep by then;"
printf '%s\n' "       ms steps; libuv: the same timers); medians of $SLOW runs [min-max]"
printf '  %-34s %-28s %-28s %-28s\n' "" "$(name ctx | sed 's/ (configured)//')" "ucoro, fast switch" "libuv"
sleeprow() {
    u="n/a"
    have uv && u=$(cell "uv.sleep.$2" "$3")
    printf '  %-34s %-28s %-28s %-28s\n' "$1" "$(cell "ctx.sleep.$2" "$3")" "$(cell "fast.sleep.$2" "$3")" "$u"
}
sleeprow "spawning, until all asleep, ms" spawn_ms "%.0f"
sleeprow "wall time from the start, ms" wall_ms "%.1f"
sleeprow "ideal (the last deadline), ms" ideal_ms "%.1f"
sleeprow "CPU time from the start, ms" cpu_ms "%.1f"
sleeprow "lateness p50, us" late_p50_us "%.0f"
sleeprow "lateness p99, us" late_p99_us "%.0f"
sleeprow "lateness max, us" late_max_us "%.0f"
sleeprow "  wake-up from the kernel p99, us" wake_p99_us "%.0f"
sleeprow "  queueing behind others p99, us" queue_p99_us "%.0f"
sleeprow "woke early (of $SLEEPERS)" early "%.0f"
sleeprow "out of deadline order" order_bad "%.0f"
printf '  %-34s %-28s %-28s\n' "CPU time / libuv's" "$(ratio ctx.sleep.cpu_ms uv.sleep.cpu_ms)" "$(ratio fast.sleep.cpu_ms uv.sleep.cpu_ms)"
printf '  %s\n' "(lateness = the wake-up: the first sleeper of each deadline, late by the timer slack and"
printf '  %s\n' " however long the process waits for a CPU, load average $LOAD_SLEEP; + the queueing: the"
printf '  %s\n' " sleepers after the first one, waiting for the ones before them to run)"

printf '\n%-42s %-30s %8s %8s\n' "Cancel to wake among $SLEEPERS sleepers, ns" "median [min-max]" "ctx/it" "fast/it"
for s in ctx fast st; do
    case $s in st) have st || { missing st; continue; } ;; esac
    line "$(name $s): p50" $s.cancel.p50_ns "%.0f"
    line "$(name $s): p99" $s.cancel.p99_ns "%.0f"
done

if [ $THR = 1 ]; then
    printf '\n%-42s %-30s %8s %8s\n' "Threads: post round trip A -> B -> A, us" "median [min-max]" "ctx/it" "fast/it"
    printf ' %s\n' "(a task on A posts to B a function that posts back to A one that sets"
    printf ' %s\n' " the event the task waits on; libuv: uv_async_send to B, whose callback"
    printf ' %s\n' " sends to A; floor: two threads, each blocked in read(2) of an eventfd"
    printf ' %s\n' " the other writes: what waking a sleeping thread costs here)"
    for pl in cross free; do
        case $pl in
        cross) printf ' %s\n' "the two threads pinned to CPUs 0 and 1" ;;
        free) printf ' %s\n' "the two threads where the kernel puts them (it tends to keep them on one CPU)" ;;
        esac
        for s in $THR_SYS uv efd; do
            case $s in
            uv) have uv || { missing uv; continue; }; lbl="libuv: uv_async_send both ways" ;;
            efd) lbl="floor: eventfd read/write" ;;
            *) lbl=$(tname $s) ;;
            esac
            line "$lbl: p50" "$s.rtt.$pl.p50_us" "%.1f"
            line "$lbl: p99" "$s.rtt.$pl.p99_us" "%.1f"
        done
    done

    printf '\n%-42s %-30s %8s %8s\n' "Posts per second to a busy scheduler" "median [min-max]" "" ""
    printf ' %s\n' "(plain threads post a function that counts; a task yields in a loop, so"
    printf ' %s\n' " the scheduler never sleeps; posted and run, at most 256 waiting)"
    for s in $THR_SYS; do
        line "$(tname $s): 1 producer" "$s.posts.1.run_per_s" "%.0f"
        line "$(tname $s): 2 producers" "$s.posts.2.run_per_s" "%.0f"
    done
    printf ' %s\n' "a flood, one run: 100,000 posts from 1 producer, 2 x 50,000 from 2, no limit"
    for s in $THR_SYS; do
        for pr in 1 2; do
            printf '  %-40s %s posted/s (the producers), %s run/s\n' "$(tname $s): $pr producer(s)" \
                "$(mf $s.flood.$pr.posted_per_s)" "$(mf $s.flood.$pr.run_per_s)"
        done
    done

    printf '\n%-42s %-30s %8s %8s\n' "Offload of an empty job: round trip, us" "median [min-max]" "ctx/it" "fast/it"
    for s in $THR_SYS uv; do
        case $s in
        uv) have uv || { missing uv; continue; }; lbl="libuv: uv_queue_work" ;;
        *) lbl="$(tname $s): offload" ;;
        esac
        line "$lbl: p50" "$s.offload.p50_us" "%.1f"
        line "$lbl: p99" "$s.offload.p99_us" "%.1f"
        line "$lbl: mean" "$s.offload.mean_us" "%.1f"
    done
    printf ' %s\n' "K tasks offloading at once (libuv: K chains of uv_queue_work, 4 threads):"
    printf ' %s\n' "each one's time per call (wall time over calls per task), us"
    for s in $THR_SYS uv; do
        case $s in uv) have uv || continue; lbl="libuv" ;; *) lbl=$(tname $s) ;; esac
        line "$lbl: 1 at a time" "$s.offpar.1.per_call_us" "%.1f"
        line "$lbl: 8 at once" "$s.offpar.8.per_call_us" "%.1f"
    done

    if [ -n "$SC_HOW" ]; then
        printf '\n%s\n' "System calls per post to a busy scheduler ($SC_HOW; 1 producer, at most 256 waiting:"
        printf '%s\n' "the calls with $SC_N posts less those with 1, over $((SC_N - 1)))"
        printf '  %-40s' ""
        for s in $THR_SYS; do printf ' %-14s' "$s"; done
        printf '\n'
        for k in all read write madvise mmap munmap rt_sigprocmask futex sched_yield; do
            [ -n "$(med ctx.sc.$k)" ] || continue
            case $k in
            all) lbl="every system call" ;;
            sched_yield) lbl="sched_yield (the producer's own wait)" ;;
            *) lbl=$k ;;
            esac
            printf '  %-40s' "$lbl"
            for s in $THR_SYS; do printf ' %-14s' "$(med $s.sc.$k | awk '{ printf "%.4f", $1 }')"; done
            printf '\n'
        done
    fi
fi

if [ $EMB = 1 ]; then
    # erow LABEL KEY FMT [NUM DEN]: a row, and NUM / DEN paired by round
    erow() {
        x=""
        [ $# -ge 5 ] && x=$(ratio "$4" "$5")
        printf '  %-50s %-30s %8s\n' "$1" "$(cell "$2" "$3")" "$x"
    }
    printf '\n%-52s %-30s %8s\n' "Inside another loop (bench/embed, $("$B/embed" list | awk '$1 == "backend" { print $2 }'))" "median [min-max]" "uv/run"
    printf ' %s\n' "(the same tasks under uco_run and driven from a libuv loop: a uv_poll_t on"
    printf ' %s\n' " uco_sched_fd, a uv_timer_t for the deadline each uco_sched_step reports;"
    printf ' %s\n' " uv/run: the libuv-driven figure over uco_run's, the median of the ratios"
    printf ' %s\n' " within each round; medians of $EMB_ROUNDS runs)"
    printf ' %s\n' "echo on 127.0.0.1: a task per connection (uco_read, uco_write); the clients,"
    printf ' %s\n' "tasks on another thread, send 64 bytes and wait for the echo, for 1 s"
    for c in $EMB_C 1; do
        [ $c = 1 ] && w="1 client" || w="$c clients"
        erow "$w, uco_run: requests/s" emb.echo.$c.run.req_per_s "%.0f"
        if [ $EMB_UV = 1 ]; then
            erow "$w, libuv-driven: requests/s" emb.echo.$c.uv.req_per_s "%.0f" emb.echo.$c.uv.req_per_s emb.echo.$c.run.req_per_s
        fi
        erow "$w, uco_run: server CPU per request, ns" emb.echo.$c.run.srv_cpu_ns_per_req "%.0f"
        if [ $EMB_UV = 1 ]; then
            erow "$w, libuv-driven: the same, ns" emb.echo.$c.uv.srv_cpu_ns_per_req "%.0f" emb.echo.$c.uv.srv_cpu_ns_per_req emb.echo.$c.run.srv_cpu_ns_per_req
            erow "$w, libuv-driven: requests per step" emb.echo.$c.uv.req_per_step "%.1f"
        fi
    done
    if [ $EMB_UV = 1 ]; then
        printf ' %s\n' "idle: a libuv loop driving a scheduler whose task sleeps 1 s at a time"
        printf ' %s\n' "(another waits on a pipe nobody writes), 2 s"
        erow "CPU time of the process per second, us" emb.idle.uv.cpu_us_per_s "%.0f"
        erow "steps per second" emb.idle.uv.steps_per_s "%.2f"
    fi
    printf ' %s\n' "$EMB_SLEEPERS sleepers, deadlines random over 1 s (ns) from a common start: lateness, us"
    for d in run uv uvtfd; do
        case $d in
        run) lbl="uco_run" ;;
        uv) [ $EMB_UV = 1 ] || continue; lbl="libuv-driven (uv_timer_t, whole ms)" ;;
        uvtfd) [ $EMB_TFD = 1 ] || continue; lbl="libuv-driven, a timerfd for the deadline" ;;
        esac
        erow "$lbl: p50" emb.sleep.$d.late_p50_us "%.0f"
        if [ $d = run ]; then
            erow "$lbl: p99" emb.sleep.$d.late_p99_us "%.0f"
        else
            erow "$lbl: p99" emb.sleep.$d.late_p99_us "%.0f" emb.sleep.$d.late_p99_us emb.sleep.run.late_p99_us
        fi
        erow "$lbl: max" emb.sleep.$d.late_max_us "%.0f"
        erow "$lbl: woke early" emb.sleep.$d.early "%.0f"
    done
    printf ' %s\n' "a signal to a task in uco_signal_wait: SIGUSR1 sent $EMB_SIGNALS times from another"
    printf ' %s\n' "thread, 100-400 us apart; from the send to the wait's return, us"
    for m in kill thread floor; do
        case $m in
        kill) lbl="kill() to the process" ;;
        thread) lbl="pthread_kill() to a thread with no scheduler" ;;
        floor) lbl="floor: kill(), a thread in sigwaitinfo" ;;
        esac
        erow "$lbl: p50" emb.signal.$m.p50_us "%.1f"
        erow "$lbl: p99" emb.signal.$m.p99_us "%.1f"
        erow "$lbl: max" emb.signal.$m.max_us "%.0f"
    done
fi

if [ -s "$NOTES" ]; then
    printf '\nNotes from the programs (last round):\n'
    sort -u "$NOTES" | grep -v 'tasks idle: VmRSS' | sed 's/^/  /'
    grep 'tasks idle: VmRSS' "$NOTES" | tail -4 | sed 's/^/  /'
fi

# ------------------------------------------------------------ targets
echo
hr
echo "Targets (figures: medians; ratios: median of the ratios within each round)"
hr
# verdict OK TEXT
verdict() {
    if [ "$1" = 1 ]; then printf 'PASS  %s\n' "$2"; else printf 'MISS  %s\n' "$2"; fi
}
# le A LIMIT: 1 if A <= LIMIT
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && b != "" && a + 0 <= b + 0) ? 1 : 0 }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && b != "" && a + 0 < b + 0) ? 1 : 0 }'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print ""; else print a * b }'; }

be=$("$B/ucoro-ctx" backend)
[ "$be" = ucontext ] || echo "note: configure chose the $be switch; the default-backend targets below use it"

x=$(ratio ctx.yield.2 raw.yield.2)
verdict "$(le "$x" 1.10)" "yield, 2 tasks ($be) <= 1.10x raw swapcontext: $(mf ctx.yield.2) vs $(mf raw.yield.2) ns: ${x}x"
x=$(ratio ctx.yield.10000 raw.yield.10000)
verdict "$(le "$x" 1.20)" "yield, 10,000 tasks ($be) <= 1.20x a raw swapcontext ring of 10,000: $(mf ctx.yield.10000) vs $(mf raw.yield.10000) ns: ${x}x"
if have pcl; then
    x=$(ratio ctx.spawn pcl.spawn)
    verdict "$(le "$x" 0.75)" "spawn+run+join ($be) <= 0.75x PCL create+call+delete: $(mf ctx.spawn) vs $(mf pcl.spawn) ns: ${x}x"
else
    echo "n/a   spawn+run+join vs PCL: apt-get install libpcl1-dev"
fi
if [ $FAST = 0 ]; then
    echo "n/a   fast switch targets: no fast switch on this CPU"
else
    # the target: a full scheduler yield against a raw switch that keeps
    # the same floating-point control state (MXCSR, x87 CW) ucoro keeps
    if have boost; then
        x=$(ratio fast.yield.2 boost.yield.2)
        verdict "$(le "$x" 1.5)" "fast: yield, 2 tasks <= 1.5x Boost.Context's jump_fcontext (same FP control state kept): $(mf fast.yield.2) vs $(mf boost.yield.2) ns: ${x}x"
    else
        echo "n/a   fast: yield, 2 tasks <= 1.5x Boost.Context's jump_fcontext: apt-get install -y $(pkg boost), then run configure again"
    fi
    # the floors (bench/peers.c, x86-64 only): what a switch costs at the
    # least, with and without the FP control state, and behind a bare run
    # queue; information, not targets
    if have floor; then
        x=$(ratio fast.yield.2 floor.yield.2)
        echo "info  fast: yield, 2 tasks vs the bare register switch (keeps no FP control state): $(mf fast.yield.2) vs $(mf floor.yield.2) ns: ${x}x"
    fi
    if have floorfp; then
        x=$(ratio fast.yield.2 floorfp.yield.2)
        y=$(ratio floorfp.yield.2 floor.yield.2)
        echo "info  fast: yield, 2 tasks vs the floor that also keeps the FP control state per task (as ucoro does): $(mf fast.yield.2) vs $(mf floorfp.yield.2) ns: ${x}x; that floor alone is ${y}x the bare one"
    fi
    # and what a scheduler adds at the least: a yield that queues the
    # caller and takes the head of a run queue, nothing else
    if have floorq; then
        x=$(ratio fast.yield.2 floorq.yield.2)
        y=$(ratio floorq.yield.2 floor.yield.2)
        echo "info  fast: yield, 2 tasks vs that floor behind a bare run queue (a yield with no cancellation, timers or checks): $(mf fast.yield.2) vs $(mf floorq.yield.2) ns: ${x}x; that floor alone is ${y}x the bare one"
    fi
fi
if [ $FAST = 0 ]; then
    :
elif have st; then
    x=$(ratio fast.yield.2 st.yield.2)
    verdict "$(le "$x" 0.5)" "fast: yield, 2 tasks <= 0.5x State Threads' cheapest switch: $(mf fast.yield.2) vs $(mf st.yield.2) ns: ${x}x"
    x=$(ratio fast.spawn st.spawn)
    verdict "$(lt "$x" 1)" "fast: spawn+run+join < State Threads create+join: $(mf fast.spawn) vs $(mf st.spawn) ns: ${x}x"
else
    echo "n/a   fast vs State Threads: apt-get install libst-dev"
fi

held=$(med ctx.million.held)
kib=$(med ctx.million.kib_per_task)
ok=$(awk -v h="$held" -v n="$IDLE" -v k="$kib" 'BEGIN { print (h == n && k <= 5.5) ? 1 : 0 }')
verdict "$ok" "$held live tasks with guarded stacks (asked $IDLE), <= ~5.5 KiB each: $(mf ctx.million.kib_per_task) KiB"
cj=$(med ctx.million.cancel_join_s)
verdict "$(le "$cj" 60)" "cancel + join all $held: $(mf ctx.million.cancel_join_s) s"
ok=$(awk -v a="$(med ctx.mprotect.eagain)" -v b="$(med ctx.mprotect.names_limit)" \
    -v c="$(med ctx.mprotect.clean)" -v d="$(med ctx.mprotect.respawn_ok)" \
    'BEGIN { print (a == 1 && b == 1 && c == 1 && d == 1) ? 1 : 0 }')
verdict "$ok" "UCO_GUARD=mprotect: refused cleanly after $(med ctx.mprotect.held) tasks with -EAGAIN naming vm.max_map_count, and spawns again once one ends"
[ $FULL = 1 ] || echo "      (the million-task figures above are for $IDLE tasks: make bench BENCH_FLAGS=--full for 1,000,000)"

for s in ctx fast; do
    [ $s = fast ] && [ $FAST = 0 ] && continue
    lbl=$be
    [ $s = fast ] && lbl=fast
    e=$(maxof $s.sleep.early)
    o=$(maxof $s.sleep.order_bad)
    ok=$(awk -v e="$e" -v o="$o" 'BEGIN { print (e == 0 && o == 0) ? 1 : 0 }')
    verdict "$ok" "sleepers ($lbl): deadline order, none early: worst run $o out of order, $e early"
    p=$(med $s.sleep.late_p99_us)
    st=$(stat $s.sleep.settled | awk '{ print $2 }')
    [ "$st" = 1 ] || echo "note: in a run the sleepers were not all asleep at the start: lateness counts it"
    verdict "$(lt "$p" 1000)" "sleepers ($lbl): p99 lateness < 1 ms once spawning is over: $(mf $s.sleep.late_p99_us) us (wake-up p99 $(mf $s.sleep.wake_p99_us), queueing p99 $(mf $s.sleep.queue_p99_us))"
    if have uv; then
        x=$(ratio $s.sleep.cpu_ms uv.sleep.cpu_ms)
        verdict "$(le "$x" 1.5)" "sleepers ($lbl): CPU time <= 1.5x libuv's: $(mf $s.sleep.cpu_ms) vs $(mf uv.sleep.cpu_ms) ms: ${x}x"
    else
        echo "n/a   sleepers: CPU time vs libuv: apt-get install libuv1-dev"
    fi
done

if [ $THR = 1 ]; then
    for s in $THR_SYS; do
        lbl=$be
        [ $s = fast ] && lbl=fast
        for pl in cross free; do
            case $pl in cross) w="pinned to 2 CPUs" ;; free) w="placed by the kernel" ;; esac
            if have uv; then
                x=$(ratio $s.rtt.$pl.p50_us uv.rtt.$pl.p50_us)
                verdict "$(le "$x" 0.5)" "post round trip ($lbl, $w): p50 <= 0.5x libuv's uv_async_send round trip: $(mf $s.rtt.$pl.p50_us) vs $(mf uv.rtt.$pl.p50_us) us: ${x}x (the eventfd floor: $(mf efd.rtt.$pl.p50_us) us)"
            fi
            verdict "$(le "$(med $s.rtt.$pl.p99_us)" 50)" "post round trip ($lbl, $w): p99 <= 50 us: $(mf $s.rtt.$pl.p99_us) us (the eventfd floor: $(mf efd.rtt.$pl.p99_us) us)"
        done
        verdict "$(awk -v a="$(med $s.posts.1.run_per_s)" 'BEGIN { print (a != "" && a >= 2000000) ? 1 : 0 }')" \
            "posts to a busy scheduler ($lbl): >= 2 million/s from one producer, posted and run: $(mf $s.posts.1.run_per_s)/s (posting alone, in a flood: $(mf $s.flood.1.posted_per_s)/s)"
        if [ -n "$SC_HOW" ]; then
            rw=$(awk -v a="$(med $s.sc.read)" -v b="$(med $s.sc.write)" 'BEGIN { printf "%.4f", a + b }')
            verdict "$(le "$rw" 0.0001)" "posts to a busy scheduler ($lbl): no wake-up (read, write) per post: $rw calls per post ($SC_HOW)"
            if [ $SC_HOW = perf ]; then
                al=$(awk -v a="$(med $s.sc.all)" -v y="$(med $s.sc.sched_yield)" 'BEGIN { printf "%.4f", a - y }')
                verdict "$(le "$al" 0.0001)" "posts to a busy scheduler ($lbl): no system call of any kind per post (the benchmark's sched_yield left out): $al per post (madvise $(med $s.sc.madvise | awk '{ printf "%.3f", $1 }'), mmap $(med $s.sc.mmap | awk '{ printf "%.3f", $1 }'), rt_sigprocmask $(med $s.sc.rt_sigprocmask | awk '{ printf "%.3f", $1 }'), futex $(med $s.sc.futex | awk '{ printf "%.3f", $1 }'))"
            fi
        else
            rw=$(awk -v a="$(med $s.posts.1.producer_rw_per_post)" -v b="$(med $s.posts.1.sched_rw_per_post)" 'BEGIN { printf "%.4f", a + b }')
            verdict "$(le "$rw" 0.0001)" "posts to a busy scheduler ($lbl): no wake-up (read, write) per post: $rw per post (/proc/thread-self/io: neither perf nor strace works here)"
        fi
        if have uv; then
            x=$(ratio $s.offload.p50_us uv.offload.p50_us)
            verdict "$(le "$x" 1)" "offload of an empty job ($lbl): round trip p50 <= libuv's uv_queue_work: $(mf $s.offload.p50_us) vs $(mf uv.offload.p50_us) us: ${x}x"
        fi
        x=$(ratio $s.offpar.8.per_call_us $s.offpar.1.per_call_us)
        verdict "$(le "$x" 2)" "offload ($lbl): 8 tasks at once cost each <= 2x one task alone: $(mf $s.offpar.8.per_call_us) vs $(mf $s.offpar.1.per_call_us) us per call: ${x}x"
    done
fi

if [ $EMB = 1 ]; then
    # ge / rle A LIMIT: 1 if A >= LIMIT / A <= LIMIT, 0 when A is missing
    ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && a != "-" && b != "" && a + 0 >= b + 0) ? 1 : 0 }'; }
    rle() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "" && a != "-" && b != "" && a + 0 <= b + 0) ? 1 : 0 }'; }
    if [ $EMB_UV = 1 ]; then
        x=$(ratio emb.echo.$EMB_C.uv.req_per_s emb.echo.$EMB_C.run.req_per_s)
        verdict "$(ge "$x" 0.9)" "echo server driven from libuv ($EMB_C clients): >= 0.9x the requests/s under uco_run: $(mf emb.echo.$EMB_C.uv.req_per_s) vs $(mf emb.echo.$EMB_C.run.req_per_s)/s: ${x}x"
        x=$(ratio emb.echo.1.uv.req_per_s emb.echo.1.run.req_per_s)
        echo "info  echo server driven from libuv, 1 client (each round trip pays the host loop's round): $(mf emb.echo.1.uv.req_per_s) vs $(mf emb.echo.1.run.req_per_s)/s: ${x}x"
        x=$(med emb.idle.uv.cpu_us_per_s)
        verdict "$(lt "$x" 1000)" "idle libuv loop driving a scheduler (a task sleeping 1 s, one waiting on a pipe): < 1 ms of CPU per second: $(mf emb.idle.uv.cpu_us_per_s) us/s (worst run $(maxof emb.idle.uv.cpu_us_per_s | awk '{ printf "%.0f", $1 }')), $(mf emb.idle.uv.steps_per_s) steps/s"
        x=$(ratio emb.sleep.uv.late_p99_us emb.sleep.run.late_p99_us)
        verdict "$(rle "$x" 1.2)" "sleeper lateness p99 driven from libuv <= 1.2x uco_run's: $(mf emb.sleep.uv.late_p99_us) vs $(mf emb.sleep.run.late_p99_us) us: ${x}x"
        if [ $EMB_TFD = 1 ]; then
            x=$(ratio emb.sleep.uvtfd.late_p99_us emb.sleep.run.late_p99_us)
            echo "info  the same host with a timerfd for the deadline (uv_timer_t counts whole ms): p99 $(mf emb.sleep.uvtfd.late_p99_us) vs $(mf emb.sleep.run.late_p99_us) us: ${x}x"
        fi
    else
        echo "n/a   echo, idle loop and sleepers driven from libuv: apt-get install -y $(pkg uv), then run configure again"
    fi
    verdict "$(lt "$(med emb.signal.kill.p99_us)" 100)" "a signal to a waiting task, kill() to the process: p99 < 100 us: $(mf emb.signal.kill.p99_us) us (p50 $(mf emb.signal.kill.p50_us); the sigwaitinfo floor: p99 $(mf emb.signal.floor.p99_us))"
    verdict "$(lt "$(med emb.signal.thread.p99_us)" 100)" "a signal to a waiting task, pthread_kill() to a thread with no scheduler: p99 < 100 us: $(mf emb.signal.thread.p99_us) us (p50 $(mf emb.signal.thread.p50_us))"
fi

for p in boost pcl st uv; do
    have $p || echo "missing peer: $(pkg $p): apt-get install -y $(pkg $p), then run configure again"
done
exit 0
