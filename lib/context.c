/*
 * context.c - the only file that touches ucontext.
 *
 * The portable backend: getcontext once per scheduler for a template, then
 * makecontext on a copy of it for each task (no system call at spawn), and
 * swapcontext / setcontext to switch (glibc makes one rt_sigprocmask
 * system call in each).  The entry trampoline never returns: uc_link is
 * not relied on.
 *
 * The tools that follow stacks are told about every switch when the
 * library is built for them: AddressSanitizer (start/finish_switch_fiber,
 * paired on every switch, at a context's first entry and at its end) and
 * ThreadSanitizer (one fiber per made context).  Valgrind learns the
 * stacks in stack.c.
 */
#include "ucoro-int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if UCO_ASAN
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if UCO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static UCO_TLS ucontext_t tmpl;
static UCO_TLS bool have_tmpl;

#if UCO_ASAN
/* The bounds of the stack running now (for the context saved next). */
static UCO_TLS const void *cur_lo;
static UCO_TLS size_t cur_size;
#endif

void uco__ctx_template(void)
{
    if (have_tmpl)
        return;
    if (getcontext(&tmpl) != 0) {
        fputs("ucoro: getcontext failed\n", stderr);
        abort();
    }
    have_tmpl = true;
#if UCO_ASAN
    {
        /* the thread's own stack, for switches back to it */
        pthread_attr_t a;
        void *lo;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &lo, &cur_size) == 0)
                cur_lo = lo;
            pthread_attr_destroy(&a);
        }
    }
#endif
}

void uco__ctx_init(uco_ctx *c)
{
#if UCO_ASAN
    c->asan_fake = NULL;
    c->stack_lo = NULL;
    c->stack_size = 0;
#endif
#if UCO_TSAN
    c->tsan_fiber = NULL;
#endif
    (void)c;
}

void uco__ctx_free(uco_ctx *c)
{
#if UCO_TSAN
    if (c->tsan_fiber)
        __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
#endif
    (void)c;
}

/* Before leaving the running context for to; save: where the leaving
 * context's fake stack goes (NULL when it ends for good). */
static inline void tools_leave(uco_ctx *from, uco_ctx *to)
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

/* Back in context c (NULL: its first entry). */
static inline void tools_arrive(uco_ctx *c)
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

/* makecontext passes int arguments only: the context's address travels as
 * two 32-bit halves, which works the same on 32- and 64-bit targets. */
static void trampoline(unsigned hi, unsigned lo)
{
    uintptr_t p = (uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);
    uco_ctx *c = (uco_ctx *)p;

    tools_arrive(NULL);
#if UCO_ASAN
    cur_lo = c->stack_lo;
    cur_size = c->stack_size;
#endif
    c->entry(c->arg);
    fputs("ucoro: a context entry returned\n", stderr);
    abort();
}

void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   void (*entry)(void *), void *arg)
{
    uint64_t p = (uint64_t)(uintptr_t)c;

    uco__ctx_template();
    memcpy(&c->uc, &tmpl, sizeof c->uc);
#if defined(__x86_64__) || defined(__i386__)
    /* glibc keeps a pointer to the FP save area inside the structure. */
    c->uc.uc_mcontext.fpregs = &c->uc.__fpregs_mem;
#endif
    c->uc.uc_link = NULL;
    c->uc.uc_stack.ss_sp = st->map + st->guard;
    c->uc.uc_stack.ss_size = st->size;
    c->uc.uc_stack.ss_flags = 0;
    c->entry = entry;
    c->arg = arg;
#if UCO_ASAN
    c->stack_lo = st->map + st->guard;
    c->stack_size = st->size;
    /* frames that never returned (a finished task's last ones, an
     * overflowed sandbox's) left their redzones poisoned */
    ASAN_UNPOISON_MEMORY_REGION(st->map + st->guard, st->size);
#endif
#if UCO_TSAN
    if (!c->tsan_fiber)
        c->tsan_fiber = __tsan_create_fiber(0);
#endif
    makecontext(&c->uc, (void (*)(void))trampoline, 2,
                (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
    tools_leave(from, to);
    swapcontext(&from->uc, &to->uc);
    tools_arrive(from);
}

_Noreturn void uco__ctx_jump(uco_ctx *to)
{
    tools_leave(NULL, to);
    setcontext(&to->uc);
    fputs("ucoro: setcontext failed\n", stderr);
    abort();
}
