/*
 * call.c - uco_call: a body run to completion on a guarded stack of its
 * own, as a sandbox, in the caller; and uco_stack_remaining.
 */
#include "frame.h"

#include <signal.h>

int uco_call(uco_fn *fn, void *arg, const uco_attr *attr, void **result)
{
    struct uco_frame f;
    int rc;

    if (!fn || (attr && (attr->flags & ~(unsigned)UCO_SANDBOX)))
        return -EINVAL;
    uco__enter_change();
    rc = uco__frame_start(&f, fn, arg, attr, "uco_call");
    if (rc < 0)
        return rc;
    f.sandbox = true;
    uco__frame_resume(&f);
    uco__frame_stop(&f);
    if (result)
        *result = f.result;
    return f.outcome;
}

size_t uco_stack_remaining(void)
{
    volatile char here;
    uintptr_t sp = (uintptr_t)&here, lo;
    const struct uco_stack *st = uco__running_stack();
    stack_t ss;

    if (st && sp >= uco__stack_lo(st) && sp < (uintptr_t)st->map + st->len)
        return sp - uco__stack_lo(st);
    /* not on the running coroutine's stack: a signal handler on the
     * alternate signal stack, or the thread's own stack */
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) &&
        sp >= (uintptr_t)ss.ss_sp && sp < (uintptr_t)ss.ss_sp + ss.ss_size)
        return sp - (uintptr_t)ss.ss_sp;
    lo = uco__stack_thread_low();
    if (!lo)
        return SIZE_MAX; /* the system cannot tell (doc/porting.md) */
    return sp > lo ? sp - lo : 0;
}
