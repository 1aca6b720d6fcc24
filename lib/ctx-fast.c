/*
 * ctx-fast.c - the library's own context backend (configure
 * --enable-fast-switch; x86-64 and aarch64): making a context is writing
 * the frame that switch-<arch>.S pops when it first loads it.  That file
 * draws the frame; the offsets here follow it.
 */
#include "ctx.h"

#if UCO_FAST_SWITCH /* (built in every configuration; empty unless chosen) */

#include <stdint.h>
#include <string.h>

/* The FP control state new contexts start with: the thread's as it was
 * at the template's capture, as the ucontext backend's template gives
 * them.  x86-64: MXCSR, then the x87 control word; aarch64: FPCR. */
#if defined(__x86_64__)
static UCO_TLS uint32_t tmpl_fp[2];
#elif defined(__aarch64__)
static UCO_TLS uint64_t tmpl_fp;
#else
#error "--enable-fast-switch: no fast switch for this architecture"
#endif
static UCO_TLS bool have_tmpl;

void uco__ctx_template(void)
{
    if (have_tmpl)
        return;
#if defined(__x86_64__)
    __asm__ volatile("stmxcsr %0" : "=m"(tmpl_fp[0]));
    __asm__ volatile("fnstcw %0" : "=m"(tmpl_fp[1]));
#else
    __asm__ volatile("mrs %0, fpcr" : "=r"(tmpl_fp));
#endif
    have_tmpl = true;
}

void uco__ctx_template_refresh(void)
{
    have_tmpl = false;
    uco__ctx_template();
}

/* In switch-<arch>.S. */
void uco__fs_start(void);
_Noreturn void uco__fs_jump(void *to_sp);

void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg)
{
    uintptr_t top = (uintptr_t)(st->map + st->len) & ~(uintptr_t)15;
    uintptr_t *f;

    c->entry = entry;
    c->arg = arg;
    uco__ctx_template();
    uco__ctx_tools_make(c, st);
#if defined(__x86_64__)
    /* 8 words; after they are popped, rsp = top - 16: aligned for the
     * call in uco__fs_start */
    f = (uintptr_t *)(top - 16) - 8;
    memset(f, 0, 8 * sizeof *f);
    memcpy(&f[0], tmpl_fp, sizeof tmpl_fp); /* MXCSR, x87 CW */
    f[3] = (uintptr_t)uco__ctx_entry;       /* r13 */
    f[4] = (uintptr_t)c;                    /* r12 */
    f[7] = (uintptr_t)uco__fs_start;        /* return address */
#else
    /* 176 bytes */
    f = (uintptr_t *)(top - 176);
    memset(f, 0, 176);
    f[0] = (uintptr_t)c;                    /* x19 */
    f[1] = (uintptr_t)uco__ctx_entry;       /* x20 */
    f[11] = (uintptr_t)uco__fs_start;       /* x30 */
    f[20] = tmpl_fp;                        /* FPCR */
#endif
    c->sp = (char *)f + 1; /* not entered yet: entered by a jump */
}

_Noreturn void uco__ctx_raw_jump(uco_ctx *to)
{
    uco__fs_jump(to->sp);
}

#endif
