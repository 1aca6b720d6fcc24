/*
 * run.c - the top: uco_run, and the scheduler's own loop, which runs
 * only when no task is ready and then blocks in the kernel until the
 * earliest deadline or fd event.
 */
#include "frame.h"
#include "io.h"
#include "post.h"
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

/* Nothing is ready: block in the kernel until the earliest deadline, an
 * fd event, or (where other threads can reach the scheduler) a message;
 * or, when nothing at all could wake a task, the deadlock.  No switch. */
static void block(struct uco_sched *s)
{
    struct uco_task *t = uco__sleepq_top(&s->sleepq);
    int64_t deadline = t ? t->deadline : UCO_NEVER;

    if (s->wake_r >= 0) {
        if (s->alive && !t && !s->io_waiters && !uco__post_may_come(s)) {
            deadlocked(s);
        } else if (uco__post_sleep(s)) {
            uco__io_poll(s, deadline);
            uco__post_woke(s);
        }
    } else if (s->io_waiters) {
        uco__io_poll(s, deadline);
    } else if (t) {
        block_until(deadline);
    } else {
        deadlocked(s);
    }
}

/* The scheduler's context: runs tasks until none is alive and nothing is
 * owed from another thread (messages in the inbox, answers to offloads
 * and submits, posts to retry). */
static void loop(struct uco_sched *s)
{
    for (;;) {
        uco__sched_run(s);
        if (!uco__list_empty(&s->retry))
            uco__post_retry(s);
        if (!uco__list_empty(&s->runq) ||
            __atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE))
            continue;
        if (s->alive == 0 && s->remote == 0 && uco__list_empty(&s->retry))
            return;
        block(s);
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
    rc = uco__post_start(s);
    if (rc == 0) {
        rc = uco__io_start(s);
        if (rc < 0)
            uco__post_end(s); /* frees s */
    } else {
        free(s);
    }
    if (rc < 0) {
        uco__coro_leave();
        return rc;
    }
    uco__ctx_template_refresh();
    uco__cur = s;
    *out = s;
    return 0;
}

/* End s, the thread's scheduler: free what it holds; the structure
 * itself goes with its last handle.  No switch. */
static void stop(struct uco_sched *s)
{
    uco__sched_free(s);
    uco__group_free_all(s);
    uco__io_stop(s);
    uco__stack_pool_drain();
    uco__cur = NULL;
    uco__coro_leave();
    uco__post_end(s);
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
