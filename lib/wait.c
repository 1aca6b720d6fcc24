/*
 * wait.c - the one suspend/resume mechanism under every wait, and the
 * sleeps and the yield built on it.
 */
#include "core-inl.h"

int uco__wait(struct uco_sched *s, struct uco_task *self, int64_t deadline,
              const char *what)
{
    int rc;

    uco__stack_ensure(self->stack_lo, UCO_LIB_STACK);
    if (uco__cancel_pending(self)) {
        uco__unpark(s, self);
        return -ECANCELED;
    }
    if (UCO_UNLIKELY(self->nscopes) && !self->shielded) {
        if (self->scope_min <= uco_now()) {
            uco__unpark(s, self);
            return -ETIMEDOUT;
        }
        if (deadline == UCO_NEVER || self->scope_min < deadline)
            deadline = self->scope_min == INT64_MAX ? UCO_NEVER : self->scope_min;
    }
    self->wake = 0;
    self->waits_on = what;
    if (deadline == UCO_NEVER) {
        self->state = UCO_TASK_WAITING;
    } else if (UCO_UNLIKELY(deadline <= uco_now())) {
        /* timed out, but only once the tasks ready now have run: one of
         * them may still complete the wait */
        self->wake = -ETIMEDOUT;
        uco__ready(s, self);
    } else {
        self->state = UCO_TASK_WAITING;
        self->deadline = deadline;
        self->seq = s->next_seq++;
        uco__sleepq_push(&s->sleepq, self);
    }
    uco__sched_switch(s);
    uco__unpark(s, self); /* a registration that outlived its deadline */
    rc = self->wake;
    return uco__cancel_pending(self) ? -ECANCELED : rc;
}

/* unwait of a task registered by uco__wait_on: off the object's list. */
static void unlink_waiter(struct uco_task *t)
{
    uco__list_remove(&((struct uco_waiter *)t->wait_obj)->node);
}

int uco__wait_on(struct uco_list *q, struct uco_waiter *w,
                 struct uco_task *self, int64_t deadline, const char *what)
{
    w->task = self;
    uco__list_push(q, &w->node);
    self->unwait = unlink_waiter;
    self->wait_obj = w;
    return uco__wait(self->sched, self, deadline, what);
}

void uco__unpark(struct uco_sched *s, struct uco_task *t)
{
    if (t->heap_idx != UCO_NO_HEAP)
        uco__sleepq_remove(&s->sleepq, t);
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
    if (t->state == UCO_TASK_WAITING)
        uco__ready(s, t);
}

void uco__wait_expire(struct uco_sched *s, int64_t now)
{
    struct uco_task *t;
    /* a task in uco_yield has queued itself before the clock was read:
     * the sleepers that came due before that go ahead of it */
    struct uco_task *y = s->current && s->current->state == UCO_TASK_READY
                             ? s->current
                             : NULL;

    while ((t = uco__sleepq_top(&s->sleepq)) && t->deadline <= now) {
        uco__wake(s, t, -ETIMEDOUT);
        if (y) {
            uco__list_remove(&t->qnode);
            uco__list_push(&y->qnode, &t->qnode); /* (just before y) */
        }
    }
}

int uco_sleep_until(int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, true, deadline);

    if (rc < 0)
        return rc;
    if (deadline != UCO_NEVER && deadline <= uco_now())
        return uco_yield();
    rc = uco__wait(self->sched, self, deadline, "sleep");
    /* its own deadline came: done; a pushed one came first: -ETIMEDOUT */
    return rc == -ETIMEDOUT && deadline != UCO_NEVER && uco_now() >= deadline ? 0 : rc;
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

int uco_yield(void)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();

    if (!self)
        return -EPERM;
    if (uco__cancel_pending(self))
        return -ECANCELED;
    if (uco__scope_expired(self))
        return -ETIMEDOUT;
    uco__stack_ensure(self->stack_lo, UCO_LIB_STACK);
    uco__ready(s, self);
    uco__sched_switch(s);
    if (uco__cancel_pending(self))
        return -ECANCELED;
    return uco__scope_expired(self) ? -ETIMEDOUT : 0;
}
