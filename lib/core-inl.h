/*
 * core-inl.h - the switch path, inlined into its callers in the core
 * (sched.c, wait.c) and nowhere else: with the ucontext backend a resumed
 * task then returns through two frames fewer after the switch's system
 * call (doc/performance.md).
 */
#ifndef UCO_CORE_INL_H
#define UCO_CORE_INL_H

#include "core.h"

/* The next ready task made current, or NULL (current unchanged; also
 * when messages wait in the inbox, or posts to become tasks, and a task
 * is running: the scheduler's context deals with them first; and when a
 * step's round is over).  First
 * the hooks: the watchdog looks at the task leaving, due sleepers are
 * woken (one clock read serves both), and every UCO_POLL_TICK switches
 * fds are polled without blocking.  No switch. */
static inline __attribute__((always_inline)) struct uco_task *
uco__next_ready(struct uco_sched *s)
{
    struct uco_list *n;
    struct uco_task *t;
    bool watch = UCO_UNLIKELY(s->watch != NULL);
    int64_t now = 0;

    if (watch || s->sleepq.n)
        now = uco_now();
    if (watch && s->current)
        s->watch(s, s->current, now);
    if (s->sleepq.n)
        uco__wait_expire(s, now);
    if (UCO_UNLIKELY(s->poll != NULL) && (++s->ticks & (UCO_POLL_TICK - 1)) == 0)
        s->poll(s);
    /* messages from other threads: to the scheduler's context, which
     * takes them (a task's stack has no room for spawning) */
    if (UCO_UNLIKELY(uco__sched_attention(s)) && s->current)
        return NULL;
    if (UCO_UNLIKELY(s->budget != SIZE_MAX)) { /* a step's round */
        if (s->budget == 0)
            return NULL;
        s->budget--;
    }
    n = uco__list_pop(&s->runq);
    if (!n)
        return NULL;
    t = uco__container(n, struct uco_task, qnode);
    if (!uco__list_empty(&s->runq)) /* the one after it */
        uco__ctx_prefetch(&uco__container(s->runq.next, struct uco_task, qnode)->ctx);
    t->state = UCO_TASK_RUNNING;
    s->current = t;
    if (watch)
        t->run_start = now;
    return t;
}

/* After a switch, in the context resumed (or the task that stayed):
 * nothing runs on the stack it left any more, and a task that ended
 * gives its stack back.  No switch. */
static inline __attribute__((always_inline)) void
uco__sched_resumed(struct uco_sched *s)
{
    s->leaving = NULL;
    if (s->zombie)
        uco__sched_reap(s);
}

/* Run the next ready task (or the scheduler's context when none); the
 * caller has already queued or parked s->current.  Switches; returns
 * when the caller is resumed. */
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

#endif /* UCO_CORE_INL_H */
