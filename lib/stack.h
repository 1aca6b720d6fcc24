/*
 * stack.h - guarded stacks, this thread's pool of them, and the reserve
 * the library's own code keeps on whatever stack it runs on (stack.c).
 *
 *   map                 map + guard                         map + len
 *   |  guard region     |  usable stack (grows down)   <-- sp starts |
 *   |  PROT_NONE or     |                                            |
 *   |  MADV_GUARD       |                                            |
 *
 * The task control block never lives in the mapping: an overflow runs
 * into the guard and nothing of the library's.
 */
#ifndef UCO_STACK_H
#define UCO_STACK_H

#include "util.h"

struct uco_stack {
    char *map;      /* start of the mapping (the guard's first byte); NULL:
                       none (never mapped, or given back) */
    size_t len;     /* length of the whole mapping: guard + size */
    size_t guard;   /* bytes of guard at map, a multiple of the page */
    size_t size;    /* usable bytes at map + guard, a multiple of the page */
    unsigned vg_id; /* Valgrind's id for the stack, when built for it */
    bool cold;      /* pooled: its pages were given back */
};

/* The lowest usable byte of st, above its guard. */
static inline uintptr_t uco__stack_lo(const struct uco_stack *st)
{
    return (uintptr_t)(st->map + st->guard);
}

/* Page size, cached.  No switch. */
size_t uco__page_size(void);
/* Default usable size of a stack on this platform. */
size_t uco__stack_default_size(void);
/* Normalise attr's sizes: rounded to pages, defaults applied.  0, or
 * -EINVAL when absurd.  No switch. */
int uco__stack_sizes(const uco_attr *attr, size_t *size, size_t *guard);
/* Take a stack of exactly these (normalised) sizes from this thread's
 * pool or map a new one.  0, -ENOMEM, -EAGAIN (vm.max_map_count).  No
 * switch. */
int uco__stack_get(struct uco_stack *st, size_t size, size_t guard);
/* Give a stack back to the pool (or unmap it past the bound); st->map
 * becomes NULL.  The caller must not be running on it.  No switch. */
void uco__stack_put(struct uco_stack *st);
/* Give back the pages of the pooled stacks beyond the few kept hot: when
 * the scheduler goes idle.  No switch. */
void uco__stack_pool_cool(void);
/* Unmap every pooled stack of this thread.  No switch. */
void uco__stack_pool_drain(void);
/* True when guards are made with mprotect (two mappings a stack). */
bool uco__stack_guard_is_mprotect(void);
/* The low end of the calling thread's own stack (cached), or 0 when the
 * system cannot tell.  No switch. */
uintptr_t uco__stack_thread_low(void);
/* The calling thread's own stack as the thread library reports it (its
 * low end and size; not cached): 0, or -ENOSYS where the system has no
 * call for it (doc/porting.md).  No switch. */
int uco__stack_thread_bounds(uintptr_t *lo, size_t *size);

/*
 * The reserve.  The library's own code below a call (the switch, the
 * sleep queue, wake-ups, the fd poll every few switches: about 1.4 KiB at
 * -O0) must never be the code that overflows a stack half-way through a
 * change of state.  So every public call that changes state, before it
 * changes anything, makes sure the stack it runs on has the room it
 * needs: when less is left, it touches that room, which faults in the
 * guard now, where a rescue has nothing half-done to undo.  With room
 * enough it touches nothing (a yield stays on the cache lines it uses).
 *
 *   UCO_LIB_STACK        a suspension (uco__wait and what it calls)
 *   UCO_LIB_STACK_ENTRY  an entry point: its own work, then maybe a
 *                        suspension
 *   UCO_LIB_STACK_RUN    a scheduler's loop started on a frame's stack
 *                        (uco_run inside a uco_call body)
 *
 * With AddressSanitizer the same code needs about four times the stack
 * (its memcpy alone takes 2 KiB).
 */
#if UCO_ASAN
#define UCO_LIB_STACK 8192
#define UCO_LIB_STACK_ENTRY 12288
#else
#define UCO_LIB_STACK 2048
#define UCO_LIB_STACK_ENTRY 3072
#endif
#define UCO_LIB_STACK_RUN ((size_t)2 * UCO_LIB_STACK_ENTRY)

/* Touch n bytes of stack below the caller's frame, a page at a time from
 * the top (no step can jump a guard).  No switch. */
void uco__stack_reserve(size_t n);

/* The reserve of n bytes on a stack whose lowest usable byte is lo: a
 * compare when there is room.  No switch. */
static inline __attribute__((always_inline)) void
uco__stack_ensure(uintptr_t lo, size_t n)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

    if (UCO_UNLIKELY(sp - lo < n + 512))
        uco__stack_reserve(n);
}

#endif /* UCO_STACK_H */
