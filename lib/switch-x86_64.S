/*
 * switch-x86_64.S - the fast context switch for x86-64 (System V ABI).
 *
 * uco__fs_switch(void **from_sp, void *to_sp): push the callee-saved
 * registers and the FP control state on the running stack, store rsp in
 * *from_sp, load to_sp, pop, return into the other context.
 *
 *   saved frame, from the saved sp up (8 words)
 *
 *        +0x00  MXCSR (4 bytes) | x87 control word (4 bytes)
 *        +0x08  r15
 *        +0x10  r14
 *        +0x18  r13
 *        +0x20  r12
 *        +0x28  rbx
 *        +0x30  rbp
 *        +0x38  return address
 *
 * A context made by uco__ctx_make (ctx-fast.c) has that frame written
 * with r12 = the context and r13 = uco__ctx_entry, and its saved sp
 * tagged with bit 0: it is entered by a direct jump to uco__fs_start,
 * not by a return, which the CPU would predict to go back to the caller
 * of the switch and so get wrong.  uco__fs_start calls uco__ctx_entry(c)
 * and loads the context whose saved sp it returns (an ended context
 * leaves by returning, so the return predictor holds what the context
 * resumed expects).
 *
 * uco__fs_jump(void *to_sp): the second half only, for a context that
 * ends for good.
 *
 * CET: indirect branch tracking is kept (every entry starts with endbr64
 * when the build asks for it); shadow stacks are not, since a switch
 * returns on another stack than it was called on, so the object file
 * claims IBT alone.
 */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

        .text
        .p2align 4
        .globl  uco__fs_switch
        .hidden uco__fs_switch
        .type   uco__fs_switch, @function
uco__fs_switch:
        ENDBR
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
.Lload:
        testb   $1, %sil
        jnz     .Lfresh
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
.Lfresh:
        leaq    -1(%rsi), %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        movq    0x18(%rsp), %r13
        movq    0x20(%rsp), %r12
        leaq    0x40(%rsp), %rsp
        jmp     uco__fs_start
        .size   uco__fs_switch, .-uco__fs_switch

        .globl  uco__fs_jump
        .hidden uco__fs_jump
        .type   uco__fs_jump, @function
uco__fs_jump:
        ENDBR
        movq    %rdi, %rsi
        jmp     .Lload
        .size   uco__fs_jump, .-uco__fs_jump

        .globl  uco__fs_start
        .hidden uco__fs_start
        .type   uco__fs_start, @function
uco__fs_start:
        ENDBR
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        callq   *%r13
        movq    %rax, %rsi
        jmp     .Lload
        .size   uco__fs_start, .-uco__fs_start

#if defined(__CET__) && (__CET__ & 1)
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4               /* name size */
        .long   16              /* descriptor size */
        .long   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002      /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4
        .long   1               /* IBT only */
        .p2align 3
        .popsection
#endif
        .section .note.GNU-stack, "", @progbits
