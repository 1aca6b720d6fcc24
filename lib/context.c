/*
 * context.c - the only file that touches ucontext.
 *
 * The portable backend: getcontext once per scheduler for a template, then
 * makecontext on a copy of it for each task (no system call at spawn), and
 * swapcontext / setcontext to switch (glibc makes one rt_sigprocmask
 * system call in each).  The entry trampoline never returns: uc_link is
 * not relied on.
 *
 * The fast backend (configure --enable-fast-switch, x86-64 and aarch64)
 * switches by saving the callee-saved registers on the running stack and
 * swapping stack pointers, in a few lines of assembly below: no system
 * call.  Its one difference: the signal mask is the thread's, not saved
 * per task.
 *
 * The tools that follow stacks are told about every switch when the
 * library is built for them: AddressSanitizer (start/finish_switch_fiber,
 * paired on every switch, at a context's first entry and at its end) and
 * ThreadSanitizer (one fiber per made context).  Valgrind learns the
 * stacks in stack.c.
 */
#include "ucoro-int.h"

#include <stddef.h>
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

#if !UCO_FAST_SWITCH
static UCO_TLS ucontext_t tmpl;
#elif defined(__x86_64__)
static UCO_TLS uint32_t tmpl_csr[2]; /* MXCSR, x87 control word */
#endif
static UCO_TLS bool have_tmpl;

#if UCO_ASAN
/* The bounds of the stack running now (for the context saved next). */
static UCO_TLS const void *cur_lo;
static UCO_TLS size_t cur_size;
#endif

void uco__ctx_template_refresh(void)
{
    have_tmpl = false;
    uco__ctx_template();
}

void uco__ctx_template(void)
{
    if (have_tmpl)
        return;
#if !UCO_FAST_SWITCH
    if (getcontext(&tmpl) != 0) {
        fputs("ucoro: getcontext failed\n", stderr);
        abort();
    }
#elif defined(__x86_64__)
    /* new contexts get the FP control state of the thread as it was here,
     * as the ucontext backend's template gives them */
    __asm__ volatile("stmxcsr %0" : "=m"(tmpl_csr[0]));
    __asm__ volatile("fnstcw %0" : "=m"(tmpl_csr[1]));
#endif
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

/* Before leaving the running context for to; save: where the leaving
 * context's fake stack goes (NULL when it ends for good).
 *
 * Always inlined: __tsan_switch_to_fiber must come right before the
 * switch, with no instrumented return in between.  Out of line (as
 * uco__ctx_jump had it), this function's own __tsan_func_exit ran after
 * the switch and popped a frame off the shadow stack of the fiber
 * switched to: the thread's own, once per uco_run, until TSan wrote
 * below its shadow stack and crashed. */
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

/* The fast backend without the tools leaves an ended context by
 * returning from ctx_entry into uco__fs_start, which loads the next one.
 * Every call made on the ended context has returned by then, so the
 * CPU's predictor of returns holds what the context resumed expects: its
 * return from the switch that saved it, and the calls that led there.
 * (The tools want to be told right before the switch, in C.) */
#if UCO_FAST_SWITCH && !UCO_ASAN && !UCO_TSAN
#define FS_END_BY_RETURN 1
#endif

/* First code of a made context, for both backends: tell the tools, run
 * the entry, resume for good the context it returns (fast backend: the
 * saved sp of that context, for uco__fs_start to load). */
#if UCO_FAST_SWITCH
static void *ctx_entry(uco_ctx *c)
#else
static _Noreturn void ctx_entry(uco_ctx *c)
#endif
{
    uco_ctx *to;

    tools_arrive(NULL);
#if UCO_ASAN
    cur_lo = c->stack_lo;
    cur_size = c->stack_size;
#endif
    to = c->entry(c->arg);
#if FS_END_BY_RETURN
    return to->sp;
#else
    uco__ctx_jump(to);
#endif
}

#if UCO_FAST_SWITCH
/* ------------------------------------------------------------------ */
/* The fast backend                                                   */
/* ------------------------------------------------------------------ */

/* uco__fs_switch(&from->sp, to->sp): push the callee-saved registers,
 * store sp in *from, load to, pop, return into the other context.
 *
 * A made context that has not run yet has its saved sp tagged with bit 0
 * (uco__ctx_make): it is entered with a direct jump to uco__fs_start
 * instead of a return, which the CPU would predict to go back to the
 * switch's caller and so get wrong.  uco__fs_start calls ctx_entry(c),
 * with the context in a callee-saved register, and loads the context
 * ctx_entry returns (its end: see FS_END_BY_RETURN). */
void uco__fs_switch(void **from_sp, void *to_sp);
void uco__fs_start(void);
/* uco__fs_jump(to->sp): the second half of a switch only, for a context
 * that ends for good (nothing of it is saved). */
_Noreturn void uco__fs_jump(void *to_sp);

#if defined(__x86_64__)
/* Frame, from the saved sp up: mxcsr (4) and x87 control word (4), r15,
 * r14, r13, r12, rbx, rbp, return address. */
__asm__(".text\n"
        ".globl uco__fs_switch\n"
        ".hidden uco__fs_switch\n"
        ".type uco__fs_switch,@function\n"
        "uco__fs_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        ".Lfs_load:\n"
        "    testb $1, %sil\n"
        "    jnz .Lfs_fresh\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".Lfs_fresh:\n"
        "    leaq -1(%rsi), %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    movq 0x18(%rsp), %r13\n"
        "    movq 0x20(%rsp), %r12\n"
        "    leaq 0x40(%rsp), %rsp\n"
        "    jmp uco__fs_start\n"
        ".size uco__fs_switch, .-uco__fs_switch\n"
        ".globl uco__fs_jump\n"
        ".hidden uco__fs_jump\n"
        ".type uco__fs_jump,@function\n"
        "uco__fs_jump:\n"
        "    movq %rdi, %rsi\n"
        "    jmp .Lfs_load\n"
        ".size uco__fs_jump, .-uco__fs_jump\n"
        ".globl uco__fs_start\n"
        ".hidden uco__fs_start\n"
        ".type uco__fs_start,@function\n"
        "uco__fs_start:\n"
        "    xorl %ebp, %ebp\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    movq %rax, %rsi\n"
        "    jmp .Lfs_load\n"
        ".size uco__fs_start, .-uco__fs_start\n");
#define FS_WORDS 8 /* words in a saved frame */
#elif defined(__aarch64__)
/* Frame, 176 bytes from the saved sp: x19..x28, x29 (fp), x30 (lr),
 * d8..d15, fpcr. */
__asm__(".text\n"
        ".globl uco__fs_switch\n"
        ".hidden uco__fs_switch\n"
        ".type uco__fs_switch,%function\n"
        "uco__fs_switch:\n"
        "    sub sp, sp, #176\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mrs x9, fpcr\n"
        "    str x9, [sp, #160]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        ".Lfs_load:\n"
        "    tbnz x1, #0, .Lfs_fresh\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldr x9, [sp, #160]\n"
        "    msr fpcr, x9\n"
        "    add sp, sp, #176\n"
        "    ret\n"
        ".Lfs_fresh:\n"
        "    sub x1, x1, #1\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldr x9, [sp, #160]\n"
        "    msr fpcr, x9\n"
        "    add sp, sp, #176\n"
        "    b uco__fs_start\n"
        ".size uco__fs_switch, .-uco__fs_switch\n"
        ".globl uco__fs_jump\n"
        ".hidden uco__fs_jump\n"
        ".type uco__fs_jump,%function\n"
        "uco__fs_jump:\n"
        "    mov x1, x0\n"
        "    b .Lfs_load\n"
        ".size uco__fs_jump, .-uco__fs_jump\n"
        ".globl uco__fs_start\n"
        ".hidden uco__fs_start\n"
        ".type uco__fs_start,%function\n"
        "uco__fs_start:\n"
        "    mov x29, #0\n"
        "    mov x30, #0\n"
        "    mov x0, x19\n"
        "    blr x20\n"
        "    mov x1, x0\n"
        "    b .Lfs_load\n"
        ".size uco__fs_start, .-uco__fs_start\n");
#define FS_WORDS 22 /* 176 bytes */
#else
#error "--enable-fast-switch: no fast switch for this architecture"
#endif


void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg)
{
    uintptr_t top = (uintptr_t)(st->map + st->len) & ~(uintptr_t)15;
    uintptr_t *f;

    c->entry = entry;
    c->arg = arg;
    uco__ctx_template();
#if UCO_ASAN
    c->stack_lo = st->map + st->guard;
    c->stack_size = st->size;
    ASAN_UNPOISON_MEMORY_REGION(st->map + st->guard, st->size);
#endif
#if UCO_TSAN
    if (!c->tsan_own)
        c->tsan_own = __tsan_create_fiber(0);
    c->tsan_fiber = c->tsan_own;
#endif
#if defined(__x86_64__)
    /* after the frame is popped, rsp = top - 16: aligned for the call in
     * uco__fs_start */
    f = (uintptr_t *)(top - 16) - FS_WORDS;
    memset(f, 0, FS_WORDS * sizeof *f);
    memcpy(&f[0], tmpl_csr, sizeof tmpl_csr);
    f[4] = (uintptr_t)c;                    /* r12 */
    f[3] = (uintptr_t)ctx_entry;            /* r13 */
    f[7] = (uintptr_t)uco__fs_start;        /* return address */
#elif defined(__aarch64__)
    f = (uintptr_t *)(top - 176);
    memset(f, 0, 176);
    f[0] = (uintptr_t)c;                    /* x19 */
    f[1] = (uintptr_t)ctx_entry;            /* x20 */
    f[11] = (uintptr_t)uco__fs_start;       /* x30 */
    {
        uint64_t fpcr;
        __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
        f[20] = fpcr;
    }
#endif
    c->sp = (char *)f + 1; /* not run yet: entered by a jump */
}

#ifndef UCO_CTX_SWITCH_INLINE
void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
    tools_leave(from, to);
    uco__fs_switch(&from->sp, to->sp);
    tools_arrive(from);
}
#endif

_Noreturn void uco__ctx_jump(uco_ctx *to)
{
    tools_leave(NULL, to);
    uco__fs_jump(to->sp);
}

#else /* the ucontext backend */

/* makecontext passes int arguments only: the context's address travels as
 * two 32-bit halves, which works the same on 32- and 64-bit targets. */
static void trampoline(unsigned hi, unsigned lo)
{
    uintptr_t p = (uintptr_t)(((uint64_t)hi << 32) | (uint64_t)lo);

    ctx_entry((uco_ctx *)p);
}

void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg)
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
    if (!c->tsan_own)
        c->tsan_own = __tsan_create_fiber(0);
    c->tsan_fiber = c->tsan_own;
#endif
    makecontext(&c->uc, (void (*)(void))trampoline, 2,
                (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}

#ifndef UCO_CTX_SWITCH_INLINE
void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
    tools_leave(from, to);
    swapcontext(&from->uc, &to->uc);
    tools_arrive(from);
}
#endif

#if UCO_YIELD_ASM
/* uco__yield_switch(from, to): ucoro-int.h says what and why. */
_Static_assert(offsetof(uco_ctx, uc) == 0, "a uco_ctx is passed as its ucontext_t");
__asm__(".text\n"
        ".p2align 4\n"
        ".globl uco__yield_switch\n"
        ".hidden uco__yield_switch\n"
        ".type uco__yield_switch,@function\n"
        "uco__yield_switch:\n"
        "    .cfi_startproc\n"
        "    subq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset 8\n"
        "    call swapcontext@PLT\n"
        "    call uco__yield_end\n"
        "    addq $8, %rsp\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    popq %rcx\n"
        "    .cfi_adjust_cfa_offset -8\n"
        "    .cfi_register %rip, %rcx\n"
        "    jmp *%rcx\n"
        "    .cfi_endproc\n"
        ".size uco__yield_switch, .-uco__yield_switch\n");
#endif

_Noreturn void uco__ctx_jump(uco_ctx *to)
{
    tools_leave(NULL, to);
    setcontext(&to->uc);
    fputs("ucoro: setcontext failed\n", stderr);
    abort();
}

#endif
