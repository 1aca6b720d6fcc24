/*
 * wait.c - the one suspend/resume primitive under every wait, and the
 * sleeps built on it.
 */
#include "ucoro-int.h"

/* A wait that begins with its deadline past times out only once the
 * tasks ready at that moment have run (one of them may complete it): t
 * is held, and the run queue's barrier goes behind those tasks, at its
 * tail.  A barrier already there stays where it is (moving it would let
 * a stream of such waits put off the earlier ones for good): t then
 * joins the next generation, whose barrier goes to the tail when this
 * one is reached.  Each held wait so lets every task ready at its start
 * run once, and ends within two rounds.  No switch. */
static void hold(struct uco_sched *s, struct uco_task *t)
{
    t->heap_idx = UCO_HELD;
    if (s->barrier.next != &s->barrier) {
        uco__list_push(&s->held_next, &t->hnode);
    } else {
        uco__list_push(&s->held, &t->hnode);
        uco__list_push(&s->runq, &s->barrier);
    }
}

void uco__wait_release_held(struct uco_sched *s)
{
    struct uco_list *n;

    /* the barrier stays first in the run queue until this is done: the
     * woken go behind it, and an overflow half-way leaves the rest held
     * with the barrier still where it is found again */
    while (!uco__list_empty(&s->held))
        uco__wake(s, uco__container(s->held.next, struct uco_task, hnode),
                  -ETIMEDOUT);
    uco__list_remove(&s->barrier);
    if (!uco__list_empty(&s->held_next)) {
        while ((n = uco__list_pop(&s->held_next)))
            uco__list_push(&s->held, n);
        uco__list_push(&s->runq, &s->barrier);
    }
}

int uco__wait(struct uco_sched *s, struct uco_task *self, int64_t deadline,
              const char *what)
{
    uco__stack_ensure(self, false);
    if (uco__cancel_pending(self)) {
        uco__unpark(s, self);
        return -ECANCELED;
    }
    self->state = UCO_S_WAITING;
    self->wake = 0;
    self->waits_on = what;
    if (deadline != UCO_NEVER) {
        self->deadline = deadline;
        if (UCO_UNLIKELY(deadline <= uco_now())) {
            hold(s, self);
        } else {
            self->seq = s->next_seq++;
            uco__sleepq_push(&s->sleepq, self);
        }
    }
    uco__sched_switch(s);
    if (uco__cancel_pending(self))
        return -ECANCELED;
    return self->wake;
}

void uco__unpark(struct uco_sched *s, struct uco_task *t)
{
    if (t->heap_idx == UCO_HELD) {
        uco__list_remove(&t->hnode);
        t->heap_idx = UCO_NO_HEAP;
        if (uco__list_empty(&s->held) && uco__list_empty(&s->held_next))
            uco__list_remove(&s->barrier);
    } else if (t->heap_idx != UCO_NO_HEAP) {
        uco__sleepq_remove(&s->sleepq, t);
    }
    uco__list_remove(&t->qnode);
    if (t->unwait) {
        void (*fn)(struct uco_task *) = t->unwait;
        t->unwait = NULL;
        fn(t);
    }
}

void uco__wake(struct uco_sched *s, struct uco_task *t, int reason)
{
    uco__unpark(s, t);
    t->wake = reason;
    uco__ready(s, t);
}

void uco__wait_expire(struct uco_sched *s, int64_t now)
{
    struct uco_task *t;
    /* a task in uco_yield has queued itself before the clock was read:
     * the sleepers that came due before that go ahead of it */
    struct uco_task *y = s->current && s->current->state == UCO_S_READY
                             ? s->current
                             : NULL;

    while ((t = uco__sleepq_top(&s->sleepq)) && t->deadline <= now) {
        if (t == s->current) {
            /* its wait has just begun (the deadline passed in between):
             * the tasks ready now run first, as in uco__wait */
            uco__sleepq_remove(&s->sleepq, t);
            hold(s, t);
            continue;
        }
        uco__wake(s, t, -ETIMEDOUT);
        if (y) {
            uco__list_remove(&t->qnode);
            uco__list_push(&y->qnode, &t->qnode); /* (just before y) */
        }
    }
}

int uco_sleep_until(int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();
    int rc;

    if (!self)
        return -EPERM;
    if (deadline < 0 && deadline != UCO_NEVER)
        return -EINVAL;
    if (deadline != UCO_NEVER && deadline <= uco_now())
        return uco_yield();
    rc = uco__wait(s, self, deadline, "sleep");
    return rc == -ETIMEDOUT ? 0 : rc;
}

int uco_sleep(int64_t ns)
{
    int64_t now;

    if (!uco__self())
        return -EPERM;
    if (ns < 0)
        return -EINVAL;
    if (ns == 0)
        return uco_yield();
    now = uco_now();
    /* beyond the end of time: sleep until cancelled */
    return uco_sleep_until(ns > INT64_MAX - now ? UCO_NEVER : now + ns);
}

#if UCO_YIELD_ASM
/* (used: its one caller that link-time optimization cannot see is the
 * assembly) */
__attribute__((used, visibility("hidden"))) int uco__yield_end(void)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = s->current;

    uco__sched_resumed(s);
    return uco__cancel_pending(self) ? -ECANCELED : 0;
}
#endif

int uco_yield(void)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();

    if (!self)
        return -EPERM;
    if (uco__cancel_pending(self))
        return -ECANCELED;
    uco__stack_ensure(self, false);
    uco__ready(s, self);
#if UCO_YIELD_ASM
    {
        /* uco__sched_switch, but ending in a tail call where the compiler
         * makes one (-O1 and up): next is never NULL, self is queued */
        struct uco_task *next;

        s->leaving = self;
        next = uco__next_ready(s);
        if (next != self)
            return uco__yield_switch(&self->ctx, &next->ctx);
        return uco__yield_end();
    }
#else
    uco__sched_switch(s);
    return uco__cancel_pending(self) ? -ECANCELED : 0;
#endif
}
