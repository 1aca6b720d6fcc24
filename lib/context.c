/*
 * context.c - what both context backends share: telling the tools that
 * follow stacks about every switch, and the first code of every made
 * context.
 *
 * AddressSanitizer: start/finish_switch_fiber, paired on every switch, at
 * a context's first entry and at its end.  ThreadSanitizer: one fiber per
 * made context.  Valgrind learns the stacks in stack.c.  Built without
 * the tools, this file is the entry trampoline alone.
 */
#include "ctx.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if UCO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if UCO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if UCO_ASAN
/* The bounds of the stack running now (for the context saved next); the
 * thread's own until a made context runs. */
static UCO_TLS const void *cur_lo;
static UCO_TLS size_t cur_size;
#endif

void uco__ctx_init(uco_ctx *c)
{
#if UCO_ASAN
    c->asan_fake = NULL;
    c->stack_lo = NULL;
    c->stack_size = 0;
#endif
#if UCO_TSAN
    c->tsan_fiber = NULL;
    c->tsan_own = NULL;
#endif
    (void)c;
}

void uco__ctx_free(uco_ctx *c)
{
#if UCO_TSAN
    /* the fiber made for c, not the one recorded when c was last saved:
     * that may be another context's (and destroyed with it) */
    if (c->tsan_own)
        __tsan_destroy_fiber(c->tsan_own);
    c->tsan_own = NULL;
    c->tsan_fiber = NULL;
#endif
    (void)c;
}

void uco__ctx_tools_make(uco_ctx *c, const struct uco_stack *st)
{
#if UCO_ASAN
    if (!cur_lo) { /* the thread's own stack, for switches back to it */
        uintptr_t lo;
        size_t size;
        if (uco__stack_thread_bounds(&lo, &size) == 0) {
            cur_lo = (const void *)lo;
            cur_size = size;
        }
    }
    c->stack_lo = st->map + st->guard;
    c->stack_size = st->size;
    /* frames that never returned (a finished task's last ones, an
     * overflowed sandbox's) left their redzones poisoned */
    ASAN_UNPOISON_MEMORY_REGION(st->map + st->guard, st->size);
#endif
#if UCO_TSAN
    if (!c->tsan_own)
        c->tsan_own = __tsan_create_fiber(0);
    c->tsan_fiber = c->tsan_own;
#endif
    (void)c;
    (void)st;
}

/* Before leaving the running context for to; from: where the leaving
 * context's state goes (NULL when it ends for good).
 *
 * Always inlined: __tsan_switch_to_fiber must come right before the
 * switch, with no instrumented return in between (out of line, this
 * function's own __tsan_func_exit ran after the switch and popped a frame
 * off the shadow stack of the fiber switched to). */
static inline __attribute__((always_inline)) void
tools_leave(uco_ctx *from, uco_ctx *to)
{
#if UCO_ASAN
    if (from) {
        from->stack_lo = cur_lo;
        from->stack_size = cur_size;
    }
    __sanitizer_start_switch_fiber(from ? &from->asan_fake : NULL,
                                   to->stack_lo, to->stack_size);
#endif
#if UCO_TSAN
    if (from)
        from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
}

/* Back in context c (NULL: its first entry).  (Unused with the fast
 * switch and no tools: a context then ends by returning.) */
static inline __attribute__((unused)) void tools_arrive(uco_ctx *c)
{
#if UCO_ASAN
    __sanitizer_finish_switch_fiber(c ? c->asan_fake : NULL, NULL, NULL);
    if (c) {
        cur_lo = c->stack_lo;
        cur_size = c->stack_size;
    }
#endif
    (void)c;
}

#if UCO_CTX_END_BY_RETURN
void *uco__ctx_entry(uco_ctx *c)
{
    return c->entry(c->arg)->sp;
}
#else
_Noreturn void uco__ctx_entry(uco_ctx *c)
{
    uco_ctx *to;

    tools_arrive(NULL);
#if UCO_ASAN
    cur_lo = c->stack_lo;
    cur_size = c->stack_size;
#endif
    to = c->entry(c->arg);
    uco__ctx_jump(to);
}
#endif

#if UCO_ASAN || UCO_TSAN
void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
    tools_leave(from, to);
    uco__ctx_raw_switch(from, to);
    tools_arrive(from);
}
#endif

_Noreturn void uco__ctx_jump(uco_ctx *to)
{
    tools_leave(NULL, to);
    uco__ctx_raw_jump(to);
}
