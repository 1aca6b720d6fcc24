/*
 * sched.c - one scheduler per thread: FIFO round robin, direct switches
 * from task to task, and the scheduler's own loop that runs only when
 * nothing is ready and then blocks in the kernel until the earliest
 * deadline.
 */
#include "ucoro-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

UCO_TLS struct uco_sched *uco__cur;

void uco__sched_reap(struct uco_sched *s)
{
    struct uco_task *t = s->zombie;

    s->zombie = NULL;
    uco__ctx_free(&t->ctx);
    uco__stack_put(&t->stack);
    if (t->detached)
        uco__task_release(s, t);
}

uco_ctx *uco__sched_leave(struct uco_sched *s)
{
    struct uco_task *next = uco__next_ready(s);

    if (next)
        return &next->ctx;
    s->current = NULL;
    return &s->ctx;
}

void uco__sched_cancel_all(struct uco_sched *s)
{
    struct uco_list *n;

    for (n = s->tasks.next; n != &s->tasks; n = n->next)
        uco__cancel(s, uco__container(n, struct uco_task, all));
}

/* Sleep in the kernel until the deadline (never returns early). */
static void block_until(int64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000),
                           (long)(deadline % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Nothing is ready and nothing sleeps, yet tasks are alive: they wait on
 * each other.  First cancel them all so that they unwind; if even that
 * leaves them stuck (shielded waits), stop with a message naming them. */
static void deadlocked(struct uco_sched *s)
{
    struct uco_list *n;

    if (!s->deadlock) {
        s->deadlock = true;
        uco__sched_cancel_all(s);
        if (!uco__list_empty(&s->runq))
            return;
    }
    fputs("ucoro: deadlock: every task waits and nothing can wake one:", stderr);
    for (n = s->tasks.next; n != &s->tasks; n = n->next) {
        struct uco_task *t = uco__container(n, struct uco_task, all);
        fprintf(stderr, " %s (id %llu)", uco_task_name(t),
                (unsigned long long)t->id);
    }
    fputc('\n', stderr);
    abort();
}

/* The scheduler context: runs tasks until none is alive. */
static void loop(struct uco_sched *s)
{
    for (;;) {
        struct uco_task *t;

        if (s->zombie)
            uco__sched_reap(s);
        t = uco__next_ready(s);
        if (t) {
            uco__ctx_switch(&s->ctx, &t->ctx);
            s->current = NULL;
            continue;
        }
        if (s->alive == 0)
            return;
        t = uco__sleepq_top(&s->sleepq);
        if (s->io_waiters)
            uco__io_poll(s, t ? t->deadline : UCO_NEVER);
        else if (t)
            block_until(t->deadline);
        else
            deadlocked(s);
    }
}


int uco_run(uco_fn *fn, void *arg, void **result)
{
    struct uco_sched *s;
    struct uco_task *m;
    int rc;

    if (!fn)
        return -EINVAL;
    if (uco__cur)
        return -EBUSY;
    /* on a frame's stack (a uco_call body), the loop runs there too */
    uco__stack_ensure_running(true);
    s = calloc(1, sizeof *s); /* (calloc also clears s->ctx's tool state) */
    if (!s)
        return -ENOMEM;
    rc = uco__guard_enter();
    if (rc < 0) {
        free(s);
        return rc;
    }
    uco__list_init(&s->runq);
    uco__list_init(&s->held);
    uco__list_init(&s->held_next);
    uco__list_init(&s->barrier);
    uco__list_init(&s->tasks);
    uco__list_init(&s->free_tcbs);
    uco__list_init(&s->dead_groups);
    uco__sleepq_init(&s->sleepq);
    s->next_id = 1;
    uco__ctx_template_refresh();
    uco__cur = s;
    rc = uco__spawn(s, &m, fn, arg, NULL, NULL);
    if (rc == 0) {
        s->main = m;
        loop(s);
        rc = s->deadlock ? -EDEADLK : s->main_outcome;
        if (result)
            *result = s->main_result;
    }
    uco__tcb_free_all(s);
    uco__group_free_all(s);
    uco__sleepq_free(&s->sleepq);
    uco__io_free(s);
    uco__stack_pool_drain();
    uco__cur = NULL;
    uco__guard_leave();
    free(s);
    return rc;
}
