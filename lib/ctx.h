/*
 * ctx.h - execution contexts: make one on a stack, switch between them.
 *
 * Two backends behind these few functions, chosen by configure:
 *   ctx-ucontext.c  getcontext/makecontext/swapcontext (portable; glibc
 *                   makes one rt_sigprocmask system call per switch);
 *   ctx-fast.c      the library's own switch (x86-64, aarch64), in
 *                   switch-<arch>.S: callee-saved registers and the FP
 *                   control state on the stack, no system call.  Its one
 *                   difference: the signal mask is the thread's, not
 *                   saved per context.
 * context.c tells the tools that follow stacks (AddressSanitizer,
 * ThreadSanitizer) about every switch, once for both backends.
 */
#ifndef UCO_CTX_H
#define UCO_CTX_H

#include "stack.h"

#if !UCO_FAST_SWITCH
#include <ucontext.h>
#endif

typedef struct uco_ctx {
#if UCO_FAST_SWITCH
    void *sp;                 /* saved stack pointer, registers on it (see
                                 switch-<arch>.S); bit 0 set: made, not
                                 entered yet */
#else
    ucontext_t uc;            /* the saved context */
#endif
    /* runs first on a made context; returns the context to resume for
     * good (the made one has ended) */
    struct uco_ctx *(*entry)(void *arg);
    void *arg;
#if UCO_ASAN
    void *asan_fake;          /* its fake stack while it is switched out */
    const void *stack_lo;     /* its stack, for the switch into it */
    size_t stack_size;
#endif
#if UCO_TSAN
    void *tsan_fiber;         /* the fiber to switch to on resuming it:
                                 the one running when it was saved (a task
                                 suspended in a generator's body is on the
                                 generator's fiber) */
    void *tsan_own;           /* made contexts: the fiber created at make,
                                 destroyed by uco__ctx_free */
#endif
} uco_ctx;

/* Clear the tools' state of a context never made before.  No switch. */
void uco__ctx_init(uco_ctx *c);
/* Release what the tools hold for a made context that has ended. */
void uco__ctx_free(uco_ctx *c);

/* Capture this thread's template (signal mask, FP control state) unless
 * it has one, so that making a context needs no system call. */
void uco__ctx_template(void);
/* Capture it again: at each scheduler's start, and at a uco_call or
 * generator made outside a scheduler, so that new contexts get the
 * thread's signal mask as it is now. */
void uco__ctx_template_refresh(void);
/* Prepare c to run entry(arg) on st.  No switch. */
void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg);

/* The backends' own switch (ctx-fast.c, ctx-ucontext.c): save the running
 * context in from and load to, with no tool told. */
#if UCO_FAST_SWITCH
void uco__fs_switch(void **from_sp, void *to_sp);
#define uco__ctx_raw_switch(from, to) uco__fs_switch(&(from)->sp, (to)->sp)
#else
/* (swapcontext fails only for a context it cannot load: never here) */
#define uco__ctx_raw_switch(from, to) swapcontext(&(from)->uc, &(to)->uc)
#endif

/* Save the running context in from and resume to.  Returns when
 * something switches back to from.  With no tool to tell, the switch
 * alone, inlined (a resumed task then returns through two frames fewer
 * after the switch: doc/performance.md). */
#if !UCO_ASAN && !UCO_TSAN
static inline void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
    uco__ctx_raw_switch(from, to);
}
#else
void uco__ctx_switch(uco_ctx *from, uco_ctx *to);
#endif
/* Resume to, abandoning the running context. */
_Noreturn void uco__ctx_jump(uco_ctx *to);
/* The backend's half of that: load to, with no tool told. */
_Noreturn void uco__ctx_raw_jump(uco_ctx *to);

/* Start loading into the cache what resuming c will read first (c is to
 * run soon): a hint, no effect on behaviour.  A ucontext_t spreads what a
 * switch reads over several cache lines; the fast backend's context is
 * one word and gains nothing (doc/performance.md). */
static inline void uco__ctx_prefetch(const uco_ctx *c)
{
#if UCO_FAST_SWITCH
    (void)c;
#else
    const char *p = (const char *)&c->uc;
    const char *end = (const char *)(&c->uc.uc_sigmask + 1);

    for (; p < end; p += 64)
        __builtin_prefetch(p);
#if defined(__GLIBC__) && defined(__x86_64__)
    __builtin_prefetch(&c->uc.__fpregs_mem); /* x87 environment, MXCSR */
#endif
#endif
}

/* For the backends: the first code of every made context, whatever the
 * backend (context.c): tells the tools, runs c->entry(c->arg) and
 * resumes for good the context it returns.  With the fast backend and no
 * tools it returns that context's saved sp instead, for the assembly to
 * load (an ended context leaves by returning: doc/internals.md). */
#if UCO_FAST_SWITCH && !UCO_ASAN && !UCO_TSAN
#define UCO_CTX_END_BY_RETURN 1
void *uco__ctx_entry(uco_ctx *c);
#else
#define UCO_CTX_END_BY_RETURN 0
_Noreturn void uco__ctx_entry(uco_ctx *c);
#endif
/* For the backends' make: what the tools need of a context made on st. */
void uco__ctx_tools_make(uco_ctx *c, const struct uco_stack *st);

#endif /* UCO_CTX_H */
