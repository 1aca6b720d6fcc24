/*
 * ctx-ucontext.c - the portable context backend: getcontext once per
 * scheduler for a template, then makecontext on a copy of it for each
 * context (no system call at spawn), swapcontext and setcontext to
 * switch.  The entry trampoline never returns: uc_link is not relied on.
 */
#include "ctx.h"

#if !UCO_FAST_SWITCH /* (built in every configuration; empty unless chosen) */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static UCO_TLS ucontext_t tmpl;  /* valid when have_tmpl */
static UCO_TLS bool have_tmpl;

void uco__ctx_template(void)
{
    if (have_tmpl)
        return;
    if (getcontext(&tmpl) != 0) {
        fputs("ucoro: getcontext failed\n", stderr);
        abort();
    }
    have_tmpl = true;
}

void uco__ctx_template_refresh(void)
{
    have_tmpl = false;
    uco__ctx_template();
}

/* makecontext passes int arguments only: the context's address travels as
 * two 32-bit halves, which works the same on 32- and 64-bit targets. */
static void trampoline(unsigned hi, unsigned lo)
{
    uintptr_t p = (uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);

    uco__ctx_entry((uco_ctx *)p);
}

void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg)
{
    uint64_t p = (uint64_t)(uintptr_t)c;

    uco__ctx_template();
    memcpy(&c->uc, &tmpl, sizeof c->uc);
#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__i386__))
    /* glibc keeps a pointer to the FP save area inside the structure. */
    c->uc.uc_mcontext.fpregs = &c->uc.__fpregs_mem;
#endif
    c->uc.uc_link = NULL;
    c->uc.uc_stack.ss_sp = st->map + st->guard;
    c->uc.uc_stack.ss_size = st->size;
    c->uc.uc_stack.ss_flags = 0;
    c->entry = entry;
    c->arg = arg;
    uco__ctx_tools_make(c, st);
    makecontext(&c->uc, (void (*)(void))trampoline, 2,
                (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

_Noreturn void uco__ctx_raw_jump(uco_ctx *to)
{
    setcontext(&to->uc);
    fputs("ucoro: setcontext failed\n", stderr);
    abort();
}

#endif
