/*
 * run.c - the top: a scheduler's life.  uco_run takes the thread over:
 * create, then rounds (run the ready tasks) and blocks in the kernel
 * until the earliest deadline, fd event or message, then destroy.  A
 * program with a loop of its own drives the same rounds one step at a
 * time (uco_sched_create, uco_sched_step, uco_sched_destroy), watching
 * uco_sched_fd and the deadline each step reports.
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
#ifdef HAVE_CLOCK_NANOSLEEP
    struct timespec ts = { (time_t)(deadline / 1000000000),
                           (long)(deadline % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
#else
    int64_t left; /* relative sleeps, until the clock says it is time */

    while ((left = deadline - uco_now()) > 0) {
        struct timespec ts = { (time_t)(left / 1000000000),
                               (long)(left % 1000000000) };
        nanosleep(&ts, NULL);
    }
#endif
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

    uco__stack_pool_cool(); /* idle: pooled stacks give their pages back */
    if (s->retry_stalled) { /* posts wait for memory: look again soon */
        int64_t soon = uco_now() + 10000000;
        if (deadline == UCO_NEVER || deadline > soon)
            deadline = soon;
    }

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

/* One round, from the scheduler's context: the messages of other
 * threads, then ready tasks, at most budget of them (SIZE_MAX: until none
 * is ready).  Switches. */
static void round_of(struct uco_sched *s, size_t budget)
{
    s->budget = budget;
    uco__sched_run(s);
    s->budget = SIZE_MAX;
    if (!uco__list_empty(&s->retry))
        s->retry_stalled = !uco__post_retry(s);
}

/* Something is to run now: a task is ready, a message waits, or posts
 * wait to become tasks. */
static bool busy(struct uco_sched *s)
{
    return !uco__list_empty(&s->runq) ||
           (!uco__list_empty(&s->retry) && !s->retry_stalled) ||
           __atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE) != NULL;
}

/* No task is alive and nothing is owed from another thread (messages in
 * the inbox, answers to offloads and submits, posts to retry). */
static bool over(struct uco_sched *s)
{
    return s->alive == 0 && s->remote == 0 && uco__list_empty(&s->retry) &&
           !busy(s);
}

/* The scheduler's context: runs tasks until it is over. */
static void loop(struct uco_sched *s)
{
    for (;;) {
        round_of(s, SIZE_MAX);
        if (busy(s))
            continue;
        if (over(s))
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
            uco__post_free(s);
    }
    if (rc < 0) {
        free(s);
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

/* A scheduler on this thread with fn(arg) as its main task, not run. */
static int create(struct uco_sched **out, uco_fn *fn, void *arg)
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
    if (rc < 0) {
        stop(s);
        return rc;
    }
    s->main = m;
    *out = s;
    return 0;
}

/* Run s to its end (cancelling what is left if main has not finished),
 * then end it: main's outcome and result.  Blocks.  Switches. */
static int finish(struct uco_sched *s, void **result)
{
    int rc;

    if (!s->main_done)
        uco__cancel_all(s);
    do
        loop(s);
    while (!uco__post_seal(s)); /* a message came as it ended: run it */
    rc = s->deadlock ? -EDEADLK : s->main_outcome;
    if (result)
        *result = s->main_result;
    stop(s);
    return rc;
}

int uco_run(uco_fn *fn, void *arg, void **result)
{
    struct uco_sched *s;
    int rc = create(&s, fn, arg);

    if (rc < 0)
        return rc;
    loop(s);
    return finish(s, result);
}

int uco_sched_create(uco_sched **out, uco_fn *fn, void *arg)
{
    struct uco_sched *s;
    int rc;

    if (!out)
        return -EINVAL;
    rc = create(&s, fn, arg);
    if (rc < 0)
        return rc;
    rc = uco__post_ready(s); /* the host watches it, and posts wake it */
    if (rc < 0) {
        finish(s, NULL);
        return rc;
    }
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); /* the host's */
    *out = s;
    return 0;
}

/* The calling thread drives s, from outside its tasks: 0, -EINVAL,
 * -EPERM (another thread's, or ended), -EBUSY (from one of its tasks). */
static int driving(const struct uco_sched *s)
{
    if (!s)
        return -EINVAL;
    if (uco__cur != s)
        return -EPERM;
    return s->current ? -EBUSY : 0;
}

int uco_sched_fd(uco_sched *s)
{
    int rc = driving(s);

    if (rc < 0)
        return rc;
    return uco__io_host_fd(s);
}

/* The tasks on the run queue. */
static size_t ready_count(const struct uco_sched *s)
{
    const struct uco_list *n;
    size_t k = 0;

    for (n = s->runq.next; n != &s->runq; n = n->next)
        k++;
    return k;
}

int uco_sched_step(uco_sched *s, int64_t *deadline)
{
    struct uco_task *t;
    int64_t when = UCO_NEVER;
    int rc = driving(s);

    if (rc < 0)
        return rc;
    if (!deadline)
        return -EINVAL;
    uco__post_woke(s);
    uco__io_poll(s, 0);                 /* fds and the wake fd, not waiting */
    if (s->sleepq.n)
        uco__wait_expire(s, uco_now());
    if (__atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE))
        s->take(s);                     /* posts: their tasks are ready now */
    round_of(s, ready_count(s));
    t = uco__sleepq_top(&s->sleepq);
    if (t)
        when = t->deadline;
    when = uco__io_host_deadline(s, when);
    if (busy(s) || !uco__post_sleep(s))
        when = uco_now();
    else
        uco__stack_pool_cool(); /* idle till the host steps again */
    *deadline = when;
    return !s->main_done;
}

int uco_sched_destroy(uco_sched *s, void **result)
{
    int rc = driving(s);

    if (rc < 0)
        return rc;
    uco__post_woke(s);
    rc = finish(s, result);
    uco_sched_put(s); /* the host's */
    return rc;
}
