/*
 * ucoro-int.h - the library's private structures and internal calls.
 *
 * Internal non-static names start with uco__.  Every internal function says
 * what it does, what it returns, and whether it may switch context.
 */
#ifndef UCORO_INT_H
#define UCORO_INT_H

#ifdef HAVE_CONFIG_H
#include <config.h> /* _GNU_SOURCE and friends, before any system header */
#endif

#include "ucoro.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#define UCO_TLS __thread __attribute__((tls_model("initial-exec")))
#define UCO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The tools the library is built for (switches are told to them, some
 * reserves are larger): set by the compiler's flags. */
#if defined(__SANITIZE_ADDRESS__)
#define UCO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UCO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UCO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UCO_TSAN 1
#endif
#endif
#ifndef UCO_ASAN
#define UCO_ASAN 0
#endif
#ifndef UCO_FAST_SWITCH
#define UCO_FAST_SWITCH 0
#endif
#ifndef UCO_TSAN
#define UCO_TSAN 0
#endif

/* ------------------------------------------------------------------ */
/* Intrusive circular doubly linked list.  An unlinked node points to  */
/* itself, so removing a node twice is harmless.                       */
/* ------------------------------------------------------------------ */

struct uco_list {
    struct uco_list *next, *prev;
};

#define uco__container(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void uco__list_init(struct uco_list *l) { l->next = l->prev = l; }

static inline bool uco__list_empty(const struct uco_list *l)
{
    return l->next == l;
}

/* Append n at the tail of the list headed by head. */
static inline void uco__list_push(struct uco_list *head, struct uco_list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Unlink n from whatever list it is on (no-op when unlinked). */
static inline void uco__list_remove(struct uco_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* Unlink and return the head's first node, or NULL when empty.  (The
 * empty asm keeps n a plain word read: gcc's vectorizer otherwise may
 * read the head's two words at once, right after a push stored one of
 * them, and that read waits for the store to reach the cache, behind
 * every older store: with the expiry of sleepers moved before the yield's
 * push, a yield among 10,000 tasks took 2.3x the time without it, 1.4x
 * with it.) */
static inline struct uco_list *uco__list_pop(struct uco_list *head)
{
    struct uco_list *n = head->next;
    __asm__("" : "+r"(n));
    if (n == head)
        return NULL;
    uco__list_remove(n);
    return n;
}

/* ------------------------------------------------------------------ */
/* Stacks (stack.c)                                                   */
/*                                                                    */
/*   map                 map + guard                       map + len  */
/*   |  guard region     |  usable stack (grows down)  <-- sp starts |  */
/*   |  PROT_NONE or     |                                         |  */
/*   |  MADV_GUARD       |                                         |  */
/*                                                                    */
/* The task control block never lives in the mapping: an overflow     */
/* runs into the guard and nothing of the library's.                  */
/* ------------------------------------------------------------------ */

struct uco_stack {
    char *map;    /* start of the mapping (the guard's first byte); NULL: none */
    size_t len;   /* length of the whole mapping: guard + size */
    size_t guard; /* bytes of guard at map */
    size_t size;  /* usable bytes at map + guard */
    unsigned vg_id; /* Valgrind's id for the stack, when built for it */
};

/* The lowest usable byte of st, above its guard. */
static inline uintptr_t uco__stack_lo(const struct uco_stack *st)
{
    return (uintptr_t)(st->map + st->guard);
}

/* Page size, cached. */
size_t uco__page_size(void);
/* Default usable size of a stack on this platform. */
size_t uco__stack_default_size(void);
/* Touch the stack the library's own code may use below a suspension
 * point (the switch, the sleep queue, wake-ups, the fd poll every few
 * switches: about 1.4 KiB at -O0), before that code changes any state: a
 * task that is about to run out of stack then faults here, where its
 * rescue has nothing half-done to undo.  The entry points that change
 * state of their own before they reach uco__wait (join, fd waits) reserve
 * deeper, so that the reserve in uco__wait cannot fault after them.  The
 * touch goes down a page at a time, so that it cannot skip a guard.  With
 * AddressSanitizer the same code needs about four times the stack (its
 * memcpy alone takes 2 KiB). */
#if UCO_ASAN
#define UCO_LIB_STACK 8192
#define UCO_LIB_STACK_ENTRY 12288
#else
#define UCO_LIB_STACK 2048
#define UCO_LIB_STACK_ENTRY 3072
#endif
/* A scheduler started on a frame's stack (uco_run inside a uco_call body
 * or a generator) runs its loop there: wake-ups, polls, reaping. */
#define UCO_LIB_STACK_RUN (2 * UCO_LIB_STACK_ENTRY)
void uco__stack_reserve(void);
void uco__stack_reserve_entry(void);
void uco__stack_reserve_run(void);
/* Normalise attr sizes: rounded to pages, defaults applied.  -EINVAL when
 * absurd.  Does not switch. */
int uco__stack_sizes(const uco_attr *attr, size_t *size, size_t *guard);
/* Take a stack of exactly these (normalised) sizes from this thread's pool
 * or map a new one.  0, -ENOMEM, -EAGAIN (vm.max_map_count).  No switch. */
int uco__stack_get(struct uco_stack *st, size_t size, size_t guard);
/* Give a stack back to the pool (or unmap it past the bound).  The caller
 * must not be running on it.  No switch. */
void uco__stack_put(struct uco_stack *st);
/* Unmap every pooled stack of this thread.  No switch. */
void uco__stack_pool_drain(void);
/* True when the guard is made with mprotect (two mappings a stack). */
bool uco__stack_guard_is_mprotect(void);

/* ------------------------------------------------------------------ */
/* Contexts (context.c): the only file that touches ucontext           */
/* ------------------------------------------------------------------ */

typedef struct uco_ctx {
#if UCO_FAST_SWITCH
    void *sp;                 /* saved stack pointer: registers are on it */
#else
    ucontext_t uc;
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

/* Clear the tools' state of a context never made before. */
void uco__ctx_init(uco_ctx *c);
/* Release what the tools hold for a made context that has ended. */
void uco__ctx_free(uco_ctx *c);

/* Capture this thread's template context (signal mask, FP state) unless
 * it has one, so that making a context needs no system call. */
void uco__ctx_template(void);
/* Capture it again: at each uco_run, and at a uco_call or generator made
 * outside a scheduler, so that new contexts get the thread's signal mask
 * as it is now. */
void uco__ctx_template_refresh(void);
/* Prepare c to run entry(arg) on st.  No switch. */
void uco__ctx_make(uco_ctx *c, const struct uco_stack *st,
                   uco_ctx *(*entry)(void *), void *arg);
/* Save the running context in from and resume to.  Returns when something
 * switches back to from. */
#if !UCO_ASAN && !UCO_TSAN /* no tool to tell: the switch alone, inline */
#if UCO_FAST_SWITCH
void uco__fs_switch(void **from_sp, void *to_sp);
#endif
static inline void uco__ctx_switch(uco_ctx *from, uco_ctx *to)
{
#if UCO_FAST_SWITCH
    uco__fs_switch(&from->sp, to->sp);
#else
    /* (it fails only for a context it cannot load: never here) */
    swapcontext(&from->uc, &to->uc);
#endif
}
#define UCO_CTX_SWITCH_INLINE 1
#else
void uco__ctx_switch(uco_ctx *from, uco_ctx *to);
#endif
/* Resume to, abandoning the running context. */
_Noreturn void uco__ctx_jump(uco_ctx *to);
/* A yield returns to its caller by a jump, not a return, with the
 * ucontext backend on x86-64 (no tools; no CET, whose shadow stack
 * forbids it).  The system call in swapcontext leaves the CPU's return
 * predictions empty, so each return after it from a frame entered before
 * it is mispredicted, ~6 ns apiece on the machine of the README; an
 * indirect jump to the same place is predicted.
 * uco__yield_switch(from, to), which uco_yield calls last (a tail call),
 * is swapcontext(&from->uc, &to->uc), then uco__yield_end(), whose
 * result it returns by popping the return address and jumping to it. */
#if defined(__x86_64__) && !UCO_FAST_SWITCH && !UCO_ASAN && !UCO_TSAN && \
    !defined(__CET__)
#define UCO_YIELD_ASM 1
int uco__yield_switch(uco_ctx *from, uco_ctx *to);
#else
#define UCO_YIELD_ASM 0
#endif
/* Start loading into the cache what resuming c will read first (c is to
 * run soon): a hint, no effect on behaviour.  A context idle for long is
 * out of the cache, and a ucontext_t spreads what a switch reads over
 * several cache lines; asking for them while the task before it runs
 * hides those misses.  The fast switch's context is one word, and asking
 * for it ahead made its yield slower, not faster (alternating runs: 5 %
 * slower among 10,000 tasks, 3 % among 2): nothing for it. */
static inline void uco__ctx_prefetch(const uco_ctx *c)
{
#if UCO_FAST_SWITCH
    (void)c;
#else
    const char *p = (const char *)&c->uc;
    const char *end = (const char *)(&c->uc.uc_sigmask + 1);

    for (; p < end; p += 64)
        __builtin_prefetch(p);
#if defined(__x86_64__)
    __builtin_prefetch(&c->uc.__fpregs_mem); /* x87 environment, MXCSR */
#endif
#endif
}

/* ------------------------------------------------------------------ */
/* Deferred handlers (cancel.c)                                       */
/* ------------------------------------------------------------------ */

struct uco_defer_fn {
    void (*fn)(void *arg);
    void *arg;
};

#define UCO_DEFER_INLINE 4

struct uco_defers {
    struct uco_defer_fn *v; /* inl, or malloc'd when more were pushed */
    unsigned n, cap;
    struct uco_defer_fn inl[UCO_DEFER_INLINE];
};

void uco__defers_init(struct uco_defers *d);
/* Pop and run the handlers in reverse order, each exactly once (a handler
 * may push more; they run too), then free the storage.  May switch (a
 * handler may block). */
void uco__defers_run(struct uco_defers *d);

/* ------------------------------------------------------------------ */
/* Tasks and the scheduler                                            */
/* ------------------------------------------------------------------ */

enum uco_state {
    UCO_S_READY,   /* on sched->runq */
    UCO_S_RUNNING, /* sched->current; on no queue */
    UCO_S_WAITING, /* suspended in uco__wait: maybe in the sleep heap or
                      held (sched->held, held_next), maybe on the wait
                      list of what it waits for */
    UCO_S_DONE     /* finished; outcome and result valid until released */
};

#define UCO_TASK_MAGIC 0x7563746bu /* "uctk": a live handle */
#define UCO_TASK_FREE 0x66726565u  /* "free": released; using it is a bug */
#define UCO_NO_HEAP ((size_t)-1)
/* heap_idx of a task whose wait began after its deadline: on
 * sched->held, not in the heap (see uco__wait) */
#define UCO_HELD ((size_t)-2)
#define UCO_NAME_INLINE 24

struct uco_sched;
struct uco_group;
struct uco_task;

/*
 * A frame: a body that runs to completion on a guarded stack of its own,
 * inside the task (or the thread) that started it: uco_call's sandbox, and
 * generators.  Frames nest: the innermost one running on top of a task is
 * task->frame (outside any task: the thread's frame), and each points to
 * the one it runs inside.
 */
struct uco_frame {
    uco_ctx ctx;              /* the body's context while it is not running */
    uco_ctx back;             /* the context that resumed the body */
    struct uco_stack stack;   /* the body's own stack */
    struct uco_defers defers; /* handlers pushed while the body ran */
    struct uco_frame *parent; /* frame it runs inside, or NULL */
    uco_fn *fn;
    void *arg;
    void *result;             /* fn's return value, or uco_exit's */
    int outcome;              /* 0, or UCO_ESTACK after an overflow */
    bool sandbox;             /* an overflow ends the body, not the process */
    bool done;                /* the body has ended */
    const char *name;         /* for diagnostics */
};

/* Control blocks are aligned to a cache line, and what a yield reads and
 * writes of one comes first, on that line: the queue node, the stack
 * bound, state and flags, and with the fast switch the saved sp, which
 * follows them (a ucontext_t spans several lines whatever its place).
 * Before, those fields lay on four lines of a block at any offset.  The
 * fast yield then measured 0.96x the time among 2 tasks, 0.94x among 100
 * and 0.91x among 10,000, the ucontext one 0.99x among 2, the same among
 * 100 and 0.94x among 10,000 (alternating runs on one CPU). */
struct uco_task {
    /* READY: on sched->runq; WAITING: on the wait list of what it waits
     * for, or unlinked; released: on sched->free_tcbs */
    _Alignas(64) struct uco_list qnode;
    uintptr_t stack_lo;      /* lowest usable byte of the stack it runs on:
                                its own, or its innermost frame's (kept by
                                uco__frame_resume, read by uco__stack_ensure
                                at every suspension point) */
    uint32_t magic;          /* UCO_TASK_MAGIC from spawn to release */
    uint8_t state;           /* enum uco_state */
    bool cancelled;          /* the unwinding flag; never cleared */
    bool shielded;           /* suspension points ignore the flag */
    bool detached;           /* released by the library when done */
    bool finishing;          /* ended: outcome fixed, handlers running */
    unsigned flags;          /* attr flags (UCO_SANDBOX, UCO_DETACHED) */
    int wake;                /* why uco__wait returned: 0, -ETIMEDOUT,
                                -ECANCELED; valid after a wake-up */
    int outcome;             /* 0, -ECANCELED, UCO_ESTACK; fixed when the
                                task ends (finishing), valid when DONE */
    uco_ctx ctx;             /* saved context while not running */
    struct uco_sched *sched; /* owner; never changes */
    uint64_t id;             /* unique within the scheduler, from 1 */
    uco_fn *fn;
    void *arg;
    void *result;            /* fn's return value; valid when DONE */
    struct uco_stack stack;  /* mapping; given back when DONE (reaped) */
    struct uco_list all;     /* on sched->tasks from spawn to finish */
    size_t heap_idx;         /* index in the sleep heap, UCO_NO_HEAP, or
                                UCO_HELD (then on sched->held by hnode) */
    struct uco_list hnode;   /* on sched->held while heap_idx is UCO_HELD */
    int64_t deadline;        /* sleep heap key, valid while in the heap
                                or held */
    uint64_t seq;            /* tie-breaker: order in which they slept */
    struct uco_task *joiner; /* the task blocked in uco_join on this one */
    struct uco_group *group; /* group it is a member of, or NULL */
    struct uco_list gnode;   /* on group->members while alive */
    struct uco_list groups;  /* groups this task owns (uco_group.onode) */
    struct uco_defers defers;
    struct uco_frame *frame;  /* innermost frame running on top of it */
    const char *waits_on;     /* WAITING: what for ("sleep", "join", ...) */
    void (*unwait)(struct uco_task *t); /* WAITING: undoes the registrations
                                 that qnode alone does not (channel records,
                                 fd slots); run once by uco__wake, so that a
                                 woken task is nobody's waiter any more */
    void *wait_obj;           /* for unwait */
    int wait_fd;              /* WAITING on an fd: which */
    int64_t run_start;        /* when it last got the CPU (watchdog on) */
    char *name;              /* NULL: "task-<id>" made on demand in namebuf */
    char namebuf[UCO_NAME_INLINE];
};

/* A heap entry carries its key: sifting reads the heap array only, never
 * the control blocks of the tasks it compares. */
struct uco_sleepq_ent {
    int64_t deadline;
    uint64_t seq;
    struct uco_task *t;
};

struct uco_sleepq {
    struct uco_sleepq_ent *heap; /* 4-ary min-heap by (deadline, seq) */
    size_t n, cap;
};

struct uco_group {
    uint32_t magic;           /* UCO_GROUP_MAGIC until destroyed */
    unsigned flags;           /* UCO_GROUP_FAIL_FAST */
    bool destroying;          /* in uco_group_destroy: no new members */
    bool cancelled;           /* cancelled (by uco_group_cancel, fail-fast,
                                 its owner, destroy): new members start so */
    struct uco_sched *sched;
    struct uco_task *owner;   /* the task that created it */
    struct uco_list onode;    /* on owner->groups */
    struct uco_list members;  /* live members (uco_task.gnode) */
    size_t nlive;
    struct uco_list waiters;  /* tasks in uco_group_wait/destroy (qnode) */
    int status;               /* first failure, 0 until one */
    uint64_t failed_id;
};

#define UCO_GROUP_MAGIC 0x75636770u

struct uco_tcb_chunk;

struct uco_sched {
    uco_ctx ctx;             /* the scheduler's own context (uco_run's
                                stack): runs only when nothing is ready */
    struct uco_task *current;/* running task; NULL in the scheduler context */
    struct uco_task *leaving;/* the task switching away, from the choice of
                                the next one until the switch (its stack
                                is still in use): for the fault handler */
    struct uco_list runq;    /* READY tasks, FIFO; and barrier */
    struct uco_list held;    /* tasks whose wait began with its deadline
                                past (uco_task.hnode), in that order: they
                                time out when the barrier is reached */
    struct uco_list held_next; /* the same, begun while the barrier was
                                on runq: the next generation */
    struct uco_list barrier; /* on runq, behind the tasks that were ready
                                when the first of held began to wait, while
                                held or held_next is not empty; otherwise
                                unlinked (see uco__wait) */
    struct uco_list tasks;   /* every unfinished task (uco_task.all) */
    size_t alive;            /* tasks spawned and not yet finished */
    struct uco_sleepq sleepq;
    struct uco_task *main;
    struct uco_task *zombie; /* finished; its stack awaits release by the
                                next context that runs */
    uint64_t next_id, next_seq;
    struct uco_list free_tcbs;      /* released control blocks, FIFO */
    struct uco_tcb_chunk *chunks;   /* every control block allocated */
    struct uco_list dead_groups; /* destroyed groups (uco_group.onode),
                                    freed when uco_run returns */
    struct uco_io *io;       /* fd waiting state, made on first use */
    size_t io_waiters;       /* tasks in uco_fd_wait */
    unsigned ticks;          /* switches, to poll fds now and then */
    int64_t watchdog;        /* report runs longer than this; 0: off */
    bool main_done;          /* main finished: the rest are being cancelled,
                                and tasks spawned from now on start so */
    int main_outcome;        /* main's outcome and result, valid when */
    void *main_result;       /* main_done */
    bool deadlock;           /* everything waited with nothing to wake it */
};

/* The calling thread's scheduler, or NULL. */
extern UCO_TLS struct uco_sched *uco__cur;

/* The running task, or NULL (no scheduler, or in its own context). */
static inline struct uco_task *uco__self(void)
{
    struct uco_sched *s = uco__cur;
    return s ? s->current : NULL;
}

/* A handle that may be used in this thread's scheduler.  A pointer not
 * aligned as a control block is not one, and is refused before anything
 * is read through it. */
static inline bool uco__task_valid(const struct uco_sched *s,
                                   const struct uco_task *t)
{
    return t && s && ((uintptr_t)t & (_Alignof(struct uco_task) - 1)) == 0 &&
           t->magic == UCO_TASK_MAGIC && t->sched == s;
}

/* True when a suspension point of t must return -ECANCELED. */
static inline bool uco__cancel_pending(const struct uco_task *t)
{
    return UCO_UNLIKELY(t->cancelled && !t->shielded);
}

/* Make sure the library's code below has the stack it needs
 * (UCO_LIB_STACK, or UCO_LIB_STACK_ENTRY for entry points that change
 * state before they wait): when the running stack has less left than that
 * and a margin for the caller's frame, touch it, which faults in the
 * guard now, before anything changes.  Otherwise it touches no memory of
 * the stack (a task's yield stays on the cache lines it already uses). */
static inline __attribute__((always_inline)) void
uco__stack_ensure(const struct uco_task *self, bool entry)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

    if (UCO_UNLIKELY(sp - self->stack_lo <
                     (entry ? UCO_LIB_STACK_ENTRY : UCO_LIB_STACK) + 512)) {
        if (entry)
            uco__stack_reserve_entry();
        else
            uco__stack_reserve();
    }
}

/* The caller is not a task: the entry reserve (see uco__stack_ensure) on
 * the innermost frame's stack (uco_call, a generator), or nothing on a
 * thread's own stack, which no sandbox guards.  run: the reserve for a
 * scheduler's own loop (UCO_LIB_STACK_RUN) instead, for uco_run.  In a
 * task, uco__stack_ensure_entry below does the same.  No switch. */
void uco__stack_ensure_running(bool run);

/* For the entry points that change shared state without suspending
 * (wake a task, hand over a mutex or a permit, allocate, edit lists):
 * the entry reserve first, on whatever the caller runs on, so that an
 * overflow strikes before anything has changed.  No switch. */
static inline __attribute__((always_inline)) void uco__stack_ensure_entry(void)
{
    struct uco_task *self = uco__self();

    if (self)
        uco__stack_ensure(self, true);
    else
        uco__stack_ensure_running(false);
}

/* util.c: text for stderr that needs little stack and no stdio (the
 * fault handler, the watchdog): append s, or v in base 10 or 16 (0x...),
 * to buf at at, within cap; the new length. */
size_t uco__put_str(char *buf, size_t at, size_t cap, const char *s);
/* The same for a name, of which at most UCO_NAME_SHOWN bytes are shown
 * (then "..."): what follows it in a message stays. */
#define UCO_NAME_SHOWN 200
size_t uco__put_name(char *buf, size_t at, size_t cap, const char *s);
size_t uco__put_num(char *buf, size_t at, size_t cap, uint64_t v, int base);
/* Append '"name" (id N)' for t. */
size_t uco__put_task(char *buf, size_t at, size_t cap, const struct uco_task *t);

/* sched.c */
/* Make t ready: append to the run queue.  No switch. */
static inline void uco__ready(struct uco_sched *s, struct uco_task *t)
{
    t->state = UCO_S_READY;
    uco__list_push(&s->runq, &t->qnode);
}
/* uco__next_ready, uco__sched_switch: near the end of this file. */
/* Leave the finished s->current for good: make the next ready task (or
 * the scheduler context) current and return its context, for the caller
 * to resume with uco__ctx_jump or by returning it from a context's entry.
 * The stack is released by whoever runs next.  No switch. */
uco_ctx *uco__sched_leave(struct uco_sched *s);
/* Release the zombie's stack (and control block if nobody will join it). */
void uco__sched_reap(struct uco_sched *s);
/* Cancel every unfinished task.  No switch. */
void uco__sched_cancel_all(struct uco_sched *s);

/* sleepq.c: no function switches. */
void uco__sleepq_init(struct uco_sleepq *q);
void uco__sleepq_free(struct uco_sleepq *q);
/* Make room for n entries so that pushing never fails: 0 or -ENOMEM.
 * (grow: the slow part, when the heap must be reallocated.) */
int uco__sleepq_grow(struct uco_sleepq *q, size_t n);
static inline int uco__sleepq_reserve(struct uco_sleepq *q, size_t n)
{
    return n <= q->cap ? 0 : uco__sleepq_grow(q, n);
}
/* Insert t keyed by (t->deadline, t->seq); room must be reserved. */
void uco__sleepq_push(struct uco_sleepq *q, struct uco_task *t);
/* Remove t (which must be in the heap) in O(log n). */
void uco__sleepq_remove(struct uco_sleepq *q, struct uco_task *t);
/* The earliest entry, or NULL. */
static inline struct uco_task *uco__sleepq_top(const struct uco_sleepq *q)
{
    return q->n ? q->heap[0].t : NULL;
}

/* wait.c */
/* Suspend the running task self until uco__wake or the deadline.  The
 * caller has registered self on what it waits for (what names it, for
 * introspection: "sleep", "join", ...).  Returns the wake-up
 * reason: 0 (woken), -ETIMEDOUT, -ECANCELED (flag set and not shielded,
 * checked before suspending and after resuming).  Switches. */
int uco__wait(struct uco_sched *s, struct uco_task *self, int64_t deadline,
              const char *what);
/* Take t out of every wait: the sleep heap, its wait list, and its
 * unwait hook (run once).  Waking, cancelling before the wait and the
 * sandbox rescue all leave a wait this way.  No switch. */
void uco__unpark(struct uco_sched *s, struct uco_task *t);
/* Wake the WAITING task t with reason: unparked, onto the run queue.  No
 * switch. */
void uco__wake(struct uco_sched *s, struct uco_task *t, int reason);
/* Wake every sleeper whose deadline is <= now with -ETIMEDOUT. */
void uco__wait_expire(struct uco_sched *s, int64_t now);
/* The barrier is first in the run queue: wake every task held in its
 * generation with -ETIMEDOUT (onto the run queue, behind it), then take
 * it off, or put it at the tail for the next generation.  No switch. */
void uco__wait_release_held(struct uco_sched *s);
#if UCO_YIELD_ASM
/* The end of uco_yield in the task resumed, for uco__yield_switch: its
 * result. */
int uco__yield_end(void);
#endif

/* io.c */
struct uco_io;
/* Poll the fds, blocking until one is ready or the deadline (UCO_NEVER:
 * no limit; a past deadline: not at all), and wake their waiters. */
void uco__io_poll(struct uco_sched *s, int64_t deadline);
void uco__io_free(struct uco_sched *s);
/* "epoll" or "poll": the backend a new scheduler uses. */
const char *uco__io_backend(void);

/* introspect.c */
/* Report t if it ran longer than s->watchdog since it got the CPU. */
void uco__watchdog_check(struct uco_sched *s, struct uco_task *t, int64_t now);

/* ------------------------------------------------------------------ */
/* The switch path, inlined into its callers (sched.c, wait.c): with  */
/* the ucontext backend a resumed task then returns through two       */
/* frames fewer after the switch's system call, which makes a yield   */
/* 2-3 ns faster (of ~240 ns; alternating runs on one CPU).           */
/* ------------------------------------------------------------------ */

/* While tasks keep running, fds are polled once every UCO_IO_TICK
 * switches. */
#define UCO_IO_TICK 64

/* The next ready task, made current, or NULL. */
static inline __attribute__((always_inline)) struct uco_task *
uco__next_ready(struct uco_sched *s)
{
    struct uco_list *n;
    struct uco_task *t;
    bool watch = UCO_UNLIKELY(s->watchdog != 0);
    int64_t now = 0; /* one clock read serves the watchdog and the timers */

    if (watch || s->sleepq.n)
        now = uco_now();
    if (watch && s->current)
        uco__watchdog_check(s, s->current, now);
    if (s->sleepq.n)
        uco__wait_expire(s, now);
    if (UCO_UNLIKELY(s->io_waiters) && (++s->ticks & (UCO_IO_TICK - 1)) == 0)
        uco__io_poll(s, 0);
    while (UCO_UNLIKELY(s->runq.next == &s->barrier))
        uco__wait_release_held(s);
    n = uco__list_pop(&s->runq);
    if (!n)
        return NULL;
    t = uco__container(n, struct uco_task, qnode);
    if (!uco__list_empty(&s->runq) && s->runq.next != &s->barrier)
        /* the one after it */
        uco__ctx_prefetch(&uco__container(s->runq.next, struct uco_task, qnode)->ctx);
    t->state = UCO_S_RUNNING;
    s->current = t;
    if (watch)
        t->run_start = now;
    return t;
}

/* After a switch, in the task resumed (or the one that stayed): nothing
 * runs on the stack it left any more, and a task that ended gives its
 * stack back.  No switch. */
static inline __attribute__((always_inline)) void
uco__sched_resumed(struct uco_sched *s)
{
    s->leaving = NULL;
    if (s->zombie)
        uco__sched_reap(s);
}

/* Run the next ready task (or the scheduler context when none); the caller
 * has already queued or parked s->current.  Switches; returns when the
 * caller is resumed. */
static inline __attribute__((always_inline)) void
uco__sched_switch(struct uco_sched *s)
{
    struct uco_task *cur = s->current;
    struct uco_task *next;

    s->leaving = cur;
    next = uco__next_ready(s);

    if (next == cur)
        return;
    if (next)
        uco__ctx_switch(&cur->ctx, &next->ctx);
    else {
        s->current = NULL;
        uco__ctx_switch(&cur->ctx, &s->ctx);
    }
    uco__sched_resumed(s);
}

/* task.c */
/* Create a task (uco_spawn's work) in group g (may be NULL).  No switch. */
int uco__spawn(struct uco_sched *s, struct uco_task **task, uco_fn *fn,
               void *arg, const uco_attr *attr, struct uco_group *g);
/* End s->current with result: deferred handlers, owned groups, joiner,
 * then leave: returns the context to resume for good (uco__sched_leave).
 * May switch while handlers block. */
uco_ctx *uco__task_end(struct uco_task *t, void *result);
/* Give the control block back; the handle becomes invalid.  No switch. */
void uco__task_release(struct uco_sched *s, struct uco_task *t);
/* Free every control block (end of uco_run).  No switch. */
void uco__tcb_free_all(struct uco_sched *s);

/* guard.c */
/* This thread starts (enter) or stops (leave) running coroutines: the
 * first enter installs the fault handler (once per process, keeping the
 * one it found) and this thread's alternate signal stack; the last leave
 * removes the stack.  0 or -ENOMEM.  No switch. */
int uco__guard_enter(void);
void uco__guard_leave(void);
/* First thing in a rescue, which left the fault handler without
 * sigreturn: unblock SIGSEGV and SIGBUS, and arm again a program's own
 * alternate stack that the kernel disarmed for the handler
 * (SS_AUTODISARM).  No switch. */
void uco__guard_rescued(void);

/* call.c */
/* Where the innermost frame of the running task (or thread) is kept. */
struct uco_frame **uco__frame_slot(void);
/* The stack the caller runs on (frame, task), or NULL on a thread's. */
const struct uco_stack *uco__running_stack(void);
/* Rescue an overflowed sandbox frame from the fault handler: run its
 * handlers on its own stack, made new, and go back to its caller. */
_Noreturn void uco__frame_overflowed(struct uco_frame *f);
/* Prepare f to run fn(arg) on a stack of its own (attr's sizes; name
 * for diagnostics unless attr names it).  0, -EINVAL, -ENOMEM, -EAGAIN.
 * f->sandbox is left to the caller.  No switch. */
int uco__frame_start(struct uco_frame *f, uco_fn *fn, void *arg,
                     const uco_attr *attr, const char *name);
/* Run f's body until it ends or suspends itself (generators): makes it
 * the innermost frame meanwhile.  Switches. */
void uco__frame_resume(struct uco_frame *f);
/* Release f's stack (its body has ended or will never run).  No switch. */
void uco__frame_stop(struct uco_frame *f);
/* End the innermost frame's body with result (uco_exit inside a frame). */
_Noreturn void uco__frame_exit(struct uco_frame *f, void *result);
/* Rescue an overflowed sandboxed task: end it with UCO_ESTACK. */
_Noreturn void uco__task_overflowed(struct uco_task *t);

/* cancel.c */
/* Set t's flag, cancel its groups' members, wake it if it waits
 * unshielded.  No switch. */
void uco__cancel(struct uco_sched *s, struct uco_task *t);

/* group.c */
/* A member finished: record a failure, wake the group's waiter. */
void uco__group_member_done(struct uco_task *t);
/* Cancel the members of every group t owns.  No switch. */
void uco__group_cancel_owned(struct uco_sched *s, struct uco_task *t);
/* Free the destroyed groups (end of uco_run).  No switch. */
void uco__group_free_all(struct uco_sched *s);
/* Destroy the groups t still owns (t is finishing).  Switches. */
void uco__group_destroy_owned(struct uco_task *t);

#endif /* UCORO_INT_H */
