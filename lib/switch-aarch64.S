/*
 * switch-aarch64.S - the fast context switch for aarch64 (AAPCS64).
 *
 * uco__fs_switch(void **from_sp, void *to_sp): store the callee-saved
 * registers and FPCR below the running sp, store sp in *from_sp, load
 * to_sp, restore, return into the other context.
 *
 *   saved frame, from the saved sp up (176 bytes)
 *
 *        +0    x19  x20
 *        +16   x21  x22
 *        +32   x23  x24
 *        +48   x25  x26
 *        +64   x27  x28
 *        +80   x29 (fp)  x30 (lr: where the switch returns)
 *        +96   d8   d9
 *        +112  d10  d11
 *        +128  d12  d13
 *        +144  d14  d15
 *        +160  FPCR
 *        +168  (padding: sp stays 16-byte aligned)
 *
 * A context made by uco__ctx_make (ctx-fast.c) has that frame written
 * with x19 = the context and x20 = uco__ctx_entry, and its saved sp
 * tagged with bit 0: it is entered by a direct branch to uco__fs_start,
 * which calls uco__ctx_entry(c) and loads the context whose saved sp it
 * returns (an ended context leaves by returning).
 *
 * uco__fs_jump(void *to_sp): the second half only, for a context that
 * ends for good.
 *
 * BTI: every entry starts with a landing pad when the build asks for
 * branch protection, and the object file says so.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C bti c
#else
#define BTI_C
#endif

        .text
        .p2align 4
        .globl  uco__fs_switch
        .hidden uco__fs_switch
        .type   uco__fs_switch, %function
uco__fs_switch:
        BTI_C
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
.Lload:
        tbnz    x1, #0, .Lfresh
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        add     sp, sp, #176
        ret
.Lfresh:
        sub     x1, x1, #1
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        add     sp, sp, #176
        b       uco__fs_start
        .size   uco__fs_switch, .-uco__fs_switch

        .globl  uco__fs_jump
        .hidden uco__fs_jump
        .type   uco__fs_jump, %function
uco__fs_jump:
        BTI_C
        mov     x1, x0
        b       .Lload
        .size   uco__fs_jump, .-uco__fs_jump

        .globl  uco__fs_start
        .hidden uco__fs_start
        .type   uco__fs_start, %function
uco__fs_start:
        BTI_C
        mov     x29, #0
        mov     x30, #0
        mov     x0, x19
        blr     x20
        mov     x1, x0
        b       .Lload
        .size   uco__fs_start, .-uco__fs_start

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4               /* name size */
        .long   16              /* descriptor size */
        .long   5               /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000      /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4
        .long   1               /* BTI */
        .p2align 3
        .popsection
#endif
        .section .note.GNU-stack, "", %progbits
