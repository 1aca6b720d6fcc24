/*
 * submit.c - uco_submit: run a function as a task on another scheduler
 * (or this one) and wait for its end.
 *
 * Three messages go between the two sides, all in the submit record,
 * which lives on the caller's stack until the caller has `done`:
 * `start` (caller -> target: spawn the task), `cancel` (caller -> target:
 * the caller gave up), `done` (target -> caller's scheduler: the task
 * ended; a plain thread is signalled instead).  The remote task's last
 * deferred handler reports its outcome, however it ends (a task cancelled
 * before it ran still enters that much, but not fn).
 *
 * `done` must be the last message of the exchange, so that the record is
 * not read after the caller returns: `cancel_state` settles who sends it.
 * The caller moves it NONE -> SENT before it pushes `cancel`; the
 * target's end moves it NONE -> ENDED and sends `done` at once, or,
 * finding SENT, leaves `done` to the cancel's processing (which moves it
 * to SEEN and sends `done` if the task has ended, or cancels the task,
 * whose end then finds SEEN and sends it).
 */
#include "post.h"
#include "task.h"

#include <pthread.h>
#include <time.h>

enum { NONE, SENT, ENDED, SEEN };

struct submit {
    struct uco_msg start, cancel, done;
    int cancel_state;         /* atomic: NONE, SENT, ENDED, SEEN (above) */
    bool remote_ended;        /* target's: the outcome is set */
    uco_fn *fn;
    void *arg;
    void *result;             /* the remote task's, once ended */
    int outcome;              /* its join outcome, or -ESRCH / an error
                                 when it never started */
    int ended;                /* atomic: 1 once outcome is valid */
    struct uco_sched *target;
    struct uco_task *remote;  /* the remote task while it lives; target's */
    /* the caller: a task of home, or a plain thread (home NULL) */
    struct uco_sched *home;
    struct uco_task *waiter;  /* home's: registered while it waits */
    pthread_mutex_t mu;       /* plain thread: ended under it, and cv */
    pthread_cond_t cv;
};

/* ---- on the target */

/* Hand the outcome to the caller (its scheduler, or its thread). */
static void send_done(struct submit *sb)
{
    if (sb->home) {
        uco__post_push(sb->home, &sb->done, false);
        return;
    }
    pthread_mutex_lock(&sb->mu);
    __atomic_store_n(&sb->ended, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&sb->cv);
    pthread_mutex_unlock(&sb->mu);
}

/* The remote side is over with outcome and result: send `done` now,
 * unless a cancel is on its way (its processing sends it). */
static void end_remote(struct submit *sb, int outcome, void *result)
{
    int st = NONE;

    sb->remote = NULL;
    sb->outcome = outcome;
    sb->result = result;
    sb->remote_ended = true;
    if (__atomic_compare_exchange_n(&sb->cancel_state, &st, ENDED, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
        st == SEEN)
        send_done(sb);
}

/* The remote task's last handler. */
static void remote_end(void *p)
{
    struct uco_task *self = uco__self();

    end_remote(p, self->outcome, self->result);
}

static void *remote_body(void *p)
{
    struct submit *sb = p;

    if (uco_defer(remote_end, sb) < 0) {
        end_remote(sb, -ENOMEM, NULL); /* fn never ran */
        return NULL;
    }
    if (uco_cancelled())
        return NULL; /* cancelled before it ran: fn never does */
    return sb->fn(sb->arg);
}

static void run_start(struct uco_sched *s, struct uco_msg *m)
{
    struct submit *sb = uco__container(m, struct submit, start);
    uco_attr a = { 0, 0, NULL, UCO_DETACHED };
    uco_task *t;
    int rc;

    if (s->main_done) { /* ended before the task started */
        end_remote(sb, -ESRCH, NULL);
        return;
    }
    rc = uco__spawn(s, &t, remote_body, sb, &a);
    if (rc < 0) {
        end_remote(sb, rc, NULL);
        return;
    }
    t->must_enter = true; /* its handler reports, even if cancelled */
    sb->remote = t;
}

static void run_cancel(struct uco_sched *s, struct uco_msg *m)
{
    struct submit *sb = uco__container(m, struct submit, cancel);

    __atomic_store_n(&sb->cancel_state, SEEN, __ATOMIC_RELEASE);
    if (sb->remote_ended)
        send_done(sb); /* its end left `done` to this */
    else if (sb->remote)
        uco__cancel(s, sb->remote);
}

/* The caller gives up: send `cancel` unless the task has ended.  False
 * when the target refused it: it has ended its run, so the task has
 * ended too (its outcome is set, seen through the target's lock) and
 * `done` will never come: the caller takes the end itself. */
static bool give_up(struct submit *sb)
{
    int st = NONE;

    if (__atomic_compare_exchange_n(&sb->cancel_state, &st, SENT, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return uco__post_push(sb->target, &sb->cancel, false) == 0;
    return true;
}

/* ---- on the caller's scheduler */

static void run_done(struct uco_sched *s, struct uco_msg *m)
{
    struct submit *sb = uco__container(m, struct submit, done);

    __atomic_store_n(&sb->ended, 1, __ATOMIC_RELEASE);
    s->remote--;
    if (sb->waiter)
        uco__wake(s, sb->waiter, 0);
}

/* unwait of a task in uco_submit. */
static void forget_waiter(struct uco_task *t)
{
    ((struct submit *)t->wait_obj)->waiter = NULL;
}

/* Wait in a task until the remote task has ended; on the deadline or a
 * cancellation first, cancel it and wait for that, shielded.  Switches. */
static int wait_task(struct uco_task *self, struct submit *sb, int64_t deadline)
{
    struct uco_sched *s = self->sched;
    int rc = 0;
    bool was;

    while (!__atomic_load_n(&sb->ended, __ATOMIC_ACQUIRE) && rc == 0) {
        sb->waiter = self;
        self->unwait = forget_waiter;
        self->wait_obj = sb;
        rc = uco__wait(s, self, deadline, "submit");
    }
    if (__atomic_load_n(&sb->ended, __ATOMIC_ACQUIRE))
        return rc;
    if (!give_up(sb)) {
        __atomic_store_n(&sb->ended, 1, __ATOMIC_RELEASE);
        s->remote--;
        return rc;
    }
    was = self->shielded;
    self->shielded = true;
    while (!__atomic_load_n(&sb->ended, __ATOMIC_ACQUIRE)) {
        sb->waiter = self;
        self->unwait = forget_waiter;
        self->wait_obj = sb;
        uco__wait(s, self, UCO_NEVER, "submit");
    }
    self->shielded = was;
    return rc;
}

/* Wait in a thread that runs no scheduler.  No switch. */
static int wait_thread(struct submit *sb, int64_t deadline)
{
    struct timespec ts;
    int rc = 0;

    uco__cond_deadline(deadline, &ts); /* (unused for UCO_NEVER) */
    pthread_mutex_lock(&sb->mu);
    while (!sb->ended && rc != ETIMEDOUT)
        rc = deadline == UCO_NEVER ? pthread_cond_wait(&sb->cv, &sb->mu)
                                   : pthread_cond_timedwait(&sb->cv, &sb->mu, &ts);
    if (!sb->ended) {
        pthread_mutex_unlock(&sb->mu);
        if (!give_up(sb))
            return -ETIMEDOUT; /* (refused: the target has ended) */
        pthread_mutex_lock(&sb->mu);
        while (!sb->ended)
            pthread_cond_wait(&sb->cv, &sb->mu);
        pthread_mutex_unlock(&sb->mu);
        return -ETIMEDOUT;
    }
    pthread_mutex_unlock(&sb->mu);
    return 0;
}

int uco_submit(uco_sched *target, uco_fn *fn, void *arg, void **result,
               int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();
    struct submit sb = { 0 };
    int rc;

    if (s && !self)
        return -EDEADLK; /* the thread of a scheduler, outside its tasks */
    if (!target || !fn || (deadline < 0 && deadline != UCO_NEVER))
        return -EINVAL;
    if (self && uco__cancel_pending(self))
        return -ECANCELED;
    if (self && uco__scope_expired(self))
        return -ETIMEDOUT;
    if (self)
        uco__enter_change();
    sb.start.run = run_start;
    sb.cancel.run = run_cancel;
    sb.done.run = run_done;
    sb.fn = fn;
    sb.arg = arg;
    sb.target = target;
    sb.home = s;
    if (s) {
        rc = uco__post_ready(s);
        if (rc < 0)
            return rc;
    } else {
        pthread_mutex_init(&sb.mu, NULL);
        uco__cond_init(&sb.cv);
    }
    rc = uco__post_push(target, &sb.start, false);
    if (rc == 0) {
        if (s)
            s->remote++;
        rc = s ? wait_task(self, &sb, deadline) : wait_thread(&sb, deadline);
    }
    if (!s) {
        pthread_cond_destroy(&sb.cv);
        pthread_mutex_destroy(&sb.mu);
    }
    if (rc < 0)
        return rc;
    if (result)
        *result = sb.result;
    return sb.outcome;
}
