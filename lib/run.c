/*
 * run.c - the top: uco_run, and the scheduler's own loop, which runs
 * only when no task is ready and then blocks in the kernel until the
 * earliest deadline or fd event.
 */
#include "frame.h"
#include "io.h"
#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
        uco__cancel_all(s);
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

/* The scheduler's context: runs tasks until none is alive. */
static void loop(struct uco_sched *s)
{
    for (;;) {
        struct uco_task *t;

        uco__sched_run(s);
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

/* A scheduler for this thread, current, with its io state: 0 or a
 * negative errno.  No switch. */
static int start(struct uco_sched **out)
{
    struct uco_sched *s = calloc(1, sizeof *s); /* (clears s->ctx's tool state) */
    int rc;

    if (!s)
        return -ENOMEM;
    rc = uco__coro_enter();
    if (rc < 0) {
        free(s);
        return rc;
    }
    uco__sched_init(s);
    rc = uco__io_start(s);
    if (rc < 0) {
        uco__sched_free(s);
        uco__coro_leave();
        free(s);
        return rc;
    }
    uco__ctx_template_refresh();
    uco__cur = s;
    *out = s;
    return 0;
}

/* Free s, the thread's scheduler.  No switch. */
static void stop(struct uco_sched *s)
{
    uco__sched_free(s);
    uco__group_free_all(s);
    uco__io_stop(s);
    uco__stack_pool_drain();
    uco__cur = NULL;
    uco__coro_leave();
    free(s);
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
    uco__enter_off_task(UCO_LIB_STACK_RUN);
    rc = start(&s);
    if (rc < 0)
        return rc;
    rc = uco__spawn(s, &m, fn, arg, NULL);
    if (rc == 0) {
        s->main = m;
        loop(s);
        rc = s->deadlock ? -EDEADLK : s->main_outcome;
        if (result)
            *result = s->main_result;
    }
    stop(s);
    return rc;
}
