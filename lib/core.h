/*
 * core.h - the core: tasks, the scheduler of a thread, and the one wait
 * mechanism under every call that suspends (sched.c, wait.c).
 *
 * A task is READY (on the run queue), RUNNING (sched->current), WAITING
 * (suspended in uco__wait) or DONE.  A task that waits registers itself
 * with what it waits for (a waiter record on the object's list, or a
 * hook of its own: channels, fds), maybe with a deadline in the sleep
 * heap, and switches away; whoever completes the wait, the deadline or a
 * cancellation wakes it with a reason, which unregisters it everywhere
 * and queues it.  A wait whose deadline has already passed registers too,
 * but queues itself at once with -ETIMEDOUT behind the tasks ready then:
 * until it runs again its registration stands, and an operation one of
 * them completes meanwhile is what it reports.
 *
 * The core calls down only (stack, context, sleep queue); io polling and
 * the watchdog reach it through the hooks in struct uco_sched, set by
 * io.c and introspect.c while they are in use.
 */
#ifndef UCO_CORE_H
#define UCO_CORE_H

#include "ctx.h"
#include "defer.h"
#include "list.h"
#include "sleepq.h"
#include "stack.h"

struct uco_sched;
struct uco_frame;
struct uco_group;

/* Task states are the public ones (uco_task_state):
 *   UCO_TASK_READY    on sched->runq
 *   UCO_TASK_RUNNING  sched->current; on no queue
 *   UCO_TASK_WAITING  suspended in uco__wait: registered with what it
 *                     waits for, maybe in the sleep heap
 *   UCO_TASK_DONE     finished; outcome and result valid until released */

#define UCO_TASK_MAGIC 0x7563746bu /* "uctk": a live handle */
#define UCO_TASK_FREE 0x66726565u  /* "free": released; using it is a bug */
#define UCO_NAME_INLINE 24

/* Control blocks are aligned to a cache line, and what a yield reads and
 * writes of one comes first, on that line: the queue node, the stack
 * bound, state and flags, and with the fast switch the saved sp, which
 * follows them (doc/performance.md). */
struct uco_task {
    /* READY: on sched->runq; released: on sched->free_tcbs; otherwise
     * unlinked */
    _Alignas(64) struct uco_list qnode;
    uintptr_t stack_lo;      /* lowest usable byte of the stack it runs on:
                                its own, or its innermost frame's (kept by
                                uco__frame_resume, read by the reserve at
                                every suspension point) */
    uint32_t magic;          /* UCO_TASK_MAGIC from spawn to release */
    uint8_t state;           /* UCO_TASK_READY ... UCO_TASK_DONE */
    bool cancelled;          /* the unwinding flag; never cleared */
    bool shielded;           /* suspension points ignore the flag */
    bool detached;           /* released by the library when done */
    bool finishing;          /* ended: outcome fixed, handlers running */
    bool overflowed;         /* a sandbox rescued: its context was made
                                anew to end it (task.c) */
    bool must_enter;         /* fn is entered even if cancelled before it
                                ran (a post: post.c) */
    unsigned flags;          /* attr flags (UCO_SANDBOX, UCO_DETACHED) */
    int wake;                /* why the wait ended: 0 or the reason given to
                                uco__wake, -ETIMEDOUT, -ECANCELED; valid
                                once woken */
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
    size_t heap_idx;         /* index in the sleep heap, or UCO_NO_HEAP */
    int64_t deadline;        /* sleep heap key, valid while in the heap */
    uint64_t seq;            /* tie-breaker: the order in which they slept */
    struct uco_task *joiner; /* the task in uco_join on this one, from its
                                start to its return, or NULL */
    struct uco_list joiners; /* its waiter record while it waits */
    struct uco_group *group; /* group it is a member of, or NULL */
    struct uco_list gnode;   /* on group->members while alive */
    struct uco_list groups;  /* groups this task owns (uco_group.onode) */
    struct uco_list cnode;   /* on a cancellation's work list while that
                                runs (cancel.c); otherwise unlinked */
    struct uco_defers defers;
    int64_t *scopes;         /* deadlines pushed (uco_deadline_push), as
                                times, UCO_NEVER as INT64_MAX: [0, nscopes)
                                of UCO_SCOPES; NULL until the first push */
    int64_t scope_min;       /* the earliest of them; INT64_MAX when none */
    unsigned nscopes;
    struct uco_frame *frame; /* innermost frame running on top of it */
    const char *waits_on;    /* WAITING: what for ("sleep", "join", ...) */
    void (*unwait)(struct uco_task *t); /* while registered: undoes the
                                registration (run once, by uco__unpark),
                                so that a woken task is nobody's waiter */
    void *wait_obj;          /* for unwait: the record(s) */
    int wait_fd;             /* WAITING on an fd: which */
    int64_t run_start;       /* when it last got the CPU (watchdog on) */
    char *name;              /* NULL: "task-<id>" made on demand in namebuf */
    char namebuf[UCO_NAME_INLINE];
};

/* A task's registration with one thing it waits for, on the waiting
 * task's stack for the length of the wait (uco__wait_on). */
struct uco_waiter {
    struct uco_list node;    /* on the object's list of waiters, FIFO, while
                                registered; unlinked once woken */
    struct uco_task *task;   /* who waits */
};

struct uco_tcb_chunk;
struct uco_io;

struct uco_sched {
    uco_ctx ctx;             /* the scheduler's own context (uco_run's
                                stack): runs only when nothing is ready */
    struct uco_task *current;/* running task; NULL in the scheduler context */
    struct uco_task *leaving;/* the task switching away, from the choice of
                                the next one until the switch (its stack
                                is still in use): for the fault handler */
    struct uco_list runq;    /* READY tasks, FIFO (uco_task.qnode) */
    struct uco_list tasks;   /* every unfinished task (uco_task.all) */
    size_t alive;            /* tasks spawned and not yet finished */
    struct uco_sleepq sleepq;/* tasks waiting with a deadline */
    struct uco_task *main;
    struct uco_task *zombie; /* finished; its stack awaits release by the
                                next context that runs */
    struct uco_task *remake; /* ending, its context to be made anew at its
                                stack's top by the scheduler's context,
                                then resumed (uco_exit in a handler) */
    uint64_t next_id, next_seq;
    struct uco_list free_tcbs;    /* released control blocks, FIFO */
    struct uco_tcb_chunk *chunks; /* every control block allocated */
    struct uco_list dead_groups;  /* destroyed groups (uco_group.onode),
                                     freed when the scheduler ends */
    /* Hooks of the layers above, called from the switch path while set. */
    void (*poll)(struct uco_sched *s); /* io.c, while fds are waited on:
                                          poll them without blocking, once
                                          every UCO_POLL_TICK switches */
    void (*watch)(struct uco_sched *s, struct uco_task *t, int64_t now);
                                       /* introspect.c, while the watchdog
                                          is on: t ran until now */
    unsigned ticks;          /* switches, for poll */
    size_t budget;           /* tasks this round may still start (a step of
                                uco_sched_step); SIZE_MAX: no limit */
    struct uco_io *io;       /* fd waiting state (io.c), from start to end */
    size_t io_waiters;       /* tasks in uco_fd_wait */
    int64_t watchdog;        /* report runs longer than this; 0: off */
    bool main_done;          /* main finished: the rest are being cancelled,
                                and tasks spawned from now on start so;
                                read by other threads (atomic): posts are
                                refused */
    int main_outcome;        /* main's outcome and result, valid when */
    void *main_result;       /* main_done */
    bool deadlock;           /* everything waited with nothing to wake it */

    /* Reached from other threads (post.c). */
    struct uco_msg *inbox;   /* atomic: messages pushed by any thread, the
                                last first; taken whole by the scheduler */
    int sleeping;            /* atomic: the scheduler blocks in the kernel
                                (or is about to): a push that makes the
                                inbox non-empty writes wake_w */
    unsigned refs;           /* atomic: handles, and one for the run; the
                                structure is freed when it reaches 0 */
    int wake_r, wake_w;      /* eventfd (one fd, both) or pipe, made at the
                                first handle, offload or submit; -1: none */
    bool wake_armed;         /* wake_r is armed with the poller */
    uint64_t wake_id[2];     /* wake_r's device and inode, to tell it from
                                a file the program put on its number */
    size_t remote;           /* tasks that wait for another thread's answer
                                (offloads, submits): no deadlock then */
    struct uco_list retry;   /* posts taken, whose tasks are not made yet
                                (a batch a round; memory), in order */
    bool retry_stalled;      /* the last try failed (memory): try again in
                                10 ms, not at once */
    void (*take)(struct uco_sched *s); /* post.c: run the inbox's messages;
                                          from the scheduler's context */
    void *lock;              /* pthread_mutex_t *, of the producers: taken
                                to push, to close and to end */
    bool ended;              /* under lock: the run ended, all refused */
};

/* A message from any thread to a scheduler (post.c): run on the
 * scheduler's own context, in the order pushed by each thread. */
struct uco_msg {
    struct uco_msg *next;    /* in the inbox; then in the taken batch */
    void (*run)(struct uco_sched *s, struct uco_msg *m);
};

#define UCO_POLL_TICK 64

/* Work for the scheduler's own context: messages in the inbox (from any
 * thread), or posts taken that wait to become tasks (and memory for
 * them).  No switch. */
static inline bool uco__sched_attention(struct uco_sched *s)
{
    return __atomic_load_n(&s->inbox, __ATOMIC_RELAXED) != NULL ||
           (s->retry.next != &s->retry && !s->retry_stalled);
}

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

#define UCO_SCOPES 32

/* True when a deadline pushed by t has passed and no shield holds it off:
 * every suspension point of t returns -ETIMEDOUT. */
static inline bool uco__scope_expired(const struct uco_task *t)
{
    return UCO_UNLIKELY(t->nscopes != 0) && !t->shielded &&
           t->scope_min <= uco_now();
}

/* ---- the entry rule ------------------------------------------------
 * Every public call checks, in this order: the caller (-EPERM where it
 * must be a task), its arguments (-EINVAL), the cancel flag where it may
 * suspend (-ECANCELED); then, before it changes anything, the reserve
 * (stack.h) on whatever stack it runs on.  These three say it once. */

/* The reserve of n bytes for a caller outside any task: on the thread's
 * innermost frame (uco_call, a generator), or nothing on the thread's own
 * stack, which no sandbox guards (frame.c).  No switch. */
void uco__enter_off_task(size_t n);
static inline __attribute__((always_inline)) void uco__enter_change(void)
{
    struct uco_task *self = uco__self();

    if (self)
        uco__stack_ensure(self->stack_lo, UCO_LIB_STACK_ENTRY);
    else
        uco__enter_off_task(UCO_LIB_STACK_ENTRY);
}

/* A call that must run in a task and changes state: 0 and the task in
 * *self, -EPERM, or -EINVAL when !args_ok.  No switch. */
static inline __attribute__((always_inline)) int
uco__enter_task(struct uco_task **self, bool args_ok)
{
    struct uco_task *t = uco__self();

    if (!t)
        return -EPERM;
    if (!args_ok)
        return -EINVAL;
    uco__stack_ensure(t->stack_lo, UCO_LIB_STACK_ENTRY);
    *self = t;
    return 0;
}

/* A call that may suspend until deadline: as uco__enter_task, and
 * -EINVAL for a deadline that is neither UCO_NEVER nor a time,
 * -ECANCELED when the flag is up, -ETIMEDOUT when a pushed deadline has
 * passed.  No switch. */
static inline __attribute__((always_inline)) int
uco__enter_wait(struct uco_task **self, bool args_ok, int64_t deadline)
{
    struct uco_task *t = uco__self();

    if (!t)
        return -EPERM;
    if (!args_ok || (deadline < 0 && deadline != UCO_NEVER))
        return -EINVAL;
    if (uco__cancel_pending(t))
        return -ECANCELED;
    if (uco__scope_expired(t))
        return -ETIMEDOUT;
    uco__stack_ensure(t->stack_lo, UCO_LIB_STACK_ENTRY);
    *self = t;
    return 0;
}

/* ---- sched.c: control blocks, the run queue, leaving a task --------- */

/* Set up s (lists, heap; s is zeroed).  No switch. */
void uco__sched_init(struct uco_sched *s);
/* Free what the core holds of s: control blocks, the sleep heap. */
void uco__sched_free(struct uco_sched *s);
/* A fresh control block, its magic UCO_TASK_FREE, or NULL.  No switch. */
struct uco_task *uco__tcb_alloc(struct uco_sched *s);
/* Give the control block back; the handle becomes invalid.  No switch. */
void uco__tcb_release(struct uco_sched *s, struct uco_task *t);
/* Make t ready: append to the run queue.  No switch. */
static inline void uco__ready(struct uco_sched *s, struct uco_task *t)
{
    t->state = UCO_TASK_READY;
    uco__list_push(&s->runq, &t->qnode);
}
/* (The switch path, uco__next_ready and uco__sched_switch, is inlined
 * into the core's own files from core-inl.h.) */
/* Leave the finished s->current for good: make the next ready task (or
 * the scheduler's context) current and return its context, for the
 * caller to resume with uco__ctx_jump or by returning it from a
 * context's entry.  Its stack is released by whoever runs next.  No
 * switch. */
uco_ctx *uco__sched_leave(struct uco_sched *s);
/* From the scheduler's own context: run ready tasks, switching from task
 * to task, until none is ready.  Switches. */
void uco__sched_run(struct uco_sched *s);
/* Release the zombie's stack, and its control block if nobody will join
 * it.  No switch. */
void uco__sched_reap(struct uco_sched *s);
/* Append '"name" (id N)' for t (util.h's rules).  No switch. */
size_t uco__put_task(char *buf, size_t at, size_t cap, const struct uco_task *t);

/* ---- wait.c: the one wait mechanism -------------------------------- */

/* Suspend the running task self until uco__wake or the deadline.  The
 * caller has registered self with what it waits for (unwait set), or
 * waits for time alone; what names it for introspection ("sleep",
 * "join", ...).  A deadline already past queues self at once, as a
 * timeout, behind the tasks ready now, its registration standing until
 * it runs.  The deadlines the task pushed (uco_deadline_push) count too:
 * the earliest is waited until, and one already past returns -ETIMEDOUT
 * at once.  Returns the reason it was woken with: 0 (or what the waker
 * gave), -ETIMEDOUT, -ECANCELED (flag set and not shielded, checked
 * before suspending and after resuming); registered nowhere afterwards.
 * Switches. */
int uco__wait(struct uco_sched *s, struct uco_task *self, int64_t deadline,
              const char *what);
/* Register self with the waiter record w at the tail of q, then
 * uco__wait.  Switches. */
int uco__wait_on(struct uco_list *q, struct uco_waiter *w,
                 struct uco_task *self, int64_t deadline, const char *what);
/* The task of the first waiter record on q, or NULL. */
static inline struct uco_task *uco__waiter_first(const struct uco_list *q)
{
    return q->next == q ? NULL
                        : uco__container(q->next, struct uco_waiter, node)->task;
}
/* Take t out of every registration: the sleep heap, and its unwait
 * hook (run once).  No switch. */
void uco__unpark(struct uco_sched *s, struct uco_task *t);
/* End t's wait with reason: unregistered, and queued unless it already
 * is (a wait begun past its deadline).  t must be registered.  No
 * switch. */
void uco__wake(struct uco_sched *s, struct uco_task *t, int reason);
/* Wake every sleeper whose deadline is <= now with -ETIMEDOUT.  No
 * switch. */
void uco__wait_expire(struct uco_sched *s, int64_t now);

#endif /* UCO_CORE_H */
