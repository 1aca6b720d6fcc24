/*
 * signal.c - uco_signal_wait: signals as waits, for tasks on any thread.
 *
 * From the first wait on a signal number the library handles it for the
 * whole process, for good.  The handler only counts the delivery and
 * writes a wake fd (async-signal-safe); a dispatcher thread, started with
 * the first wait, reads that fd and hands each counted delivery to the
 * first task waiting on that number (FIFO, over every thread), through
 * its scheduler's inbox (post.c).  A delivery that finds no waiter is
 * kept for the next wait on its number (one at most, as the kernel keeps
 * a pending signal).
 *
 * A waiter's record lives on its stack and is WAITING on the global list,
 * then TAKEN by the dispatcher (off the list, a message on its way), then
 * DELIVERED by that message on the waiter's own scheduler.  A wait that
 * ends otherwise (deadline, cancellation) while its record is TAKEN still
 * gets the signal: it waits, shielded, for the message, so that no
 * delivery is lost.
 */
#include "post.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef UCO_VALGRIND
#include <valgrind/valgrind.h>
#endif

#ifndef NSIG
#define NSIG 65
#endif

enum { WAITING, TAKEN, DELIVERED, GONE };

struct sigwaiter {
    struct uco_msg msg;       /* TAKEN: to the waiter's scheduler */
    struct uco_list node;     /* on sg.waiters while WAITING */
    sigset_t set;
    int sig;                  /* TAKEN: the signal handed over */
    int state;                /* under sg.mu (DELIVERED: the waiter's only) */
    struct uco_task *task;
    struct uco_sched *sched;
    bool parked;              /* the task waits in uco__wait (its thread) */
};

static struct {
    pthread_mutex_t mu;
    struct uco_list waiters;  /* WAITING records, in arrival order */
    bool handled[NSIG];       /* under mu: the library's handler is in */
    int pending[NSIG];        /* atomic: deliveries not handed over */
    int wake_r, wake_w;       /* the handler writes, the dispatcher reads */
    bool started;             /* under mu: the dispatcher runs */
} sg = { PTHREAD_MUTEX_INITIALIZER, { NULL, NULL }, { false }, { 0 }, -1, -1,
         false };

/* The handler: count, wake the dispatcher.  Async-signal-safe. */
static void on_signal(int sig)
{
    int saved = errno;
    char one = 1;

    __atomic_add_fetch(&sg.pending[sig], 1, __ATOMIC_RELEASE);
    if (write(sg.wake_w, &one, 1) < 0) {
        /* full: it is readable, which is all the dispatcher needs */
    }
    errno = saved;
}

/* On the waiter's scheduler: the signal is its. */
static void run_delivery(struct uco_sched *s, struct uco_msg *m)
{
    struct sigwaiter *w = (struct sigwaiter *)m;

    w->state = DELIVERED;
    if (w->parked)
        uco__wake(s, w->task, 0);
}

/* Under mu: hand the counted deliveries of sig to its waiters; keep one
 * for the next wait when none waits. */
static void dispatch(int sig)
{
    struct uco_list *n;

    while (__atomic_load_n(&sg.pending[sig], __ATOMIC_ACQUIRE) > 0) {
        struct sigwaiter *w = NULL;
        for (n = sg.waiters.next; n != &sg.waiters; n = n->next) {
            struct sigwaiter *c = uco__container(n, struct sigwaiter, node);
            if (sigismember(&c->set, sig)) {
                w = c;
                break;
            }
        }
        if (!w) {
            if (__atomic_load_n(&sg.pending[sig], __ATOMIC_ACQUIRE) > 1)
                __atomic_store_n(&sg.pending[sig], 1, __ATOMIC_RELEASE);
            return;
        }
        __atomic_sub_fetch(&sg.pending[sig], 1, __ATOMIC_ACQ_REL);
        uco__list_remove(&w->node);
        w->state = TAKEN;
        w->sig = sig;
        uco__post_push(w->sched, &w->msg, false);
    }
}

static void *dispatcher(void *unused)
{
    char buf[64];
    sigset_t all;
    int sig;

    (void)unused;
    sigfillset(&all); /* the signals are the handler's, on other threads */
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        if (read(sg.wake_r, buf, sizeof buf) < 0 && errno != EINTR)
            return NULL;
        pthread_mutex_lock(&sg.mu);
        for (sig = 1; sig < NSIG; sig++)
            if (sg.handled[sig])
                dispatch(sig);
        pthread_mutex_unlock(&sg.mu);
    }
}

/* In a child after fork(2): the dispatcher did not come along; the next
 * wait starts one of the child's own (with a pipe of its own). */
static void child_after_fork(void)
{
    pthread_mutex_init(&sg.mu, NULL);
    if (sg.started) {
        close(sg.wake_r);
        close(sg.wake_w);
    }
    sg.wake_r = sg.wake_w = -1;
    sg.started = false;
}

/* Under mu: the dispatcher and its fd, once.  0 or a negative errno. */
static int start(void)
{
    static bool forks; /* the fork handler is in */
    pthread_attr_t a;
    pthread_t t;
    int fds[2], rc;

    if (sg.started)
        return 0;
    if (pipe(fds) != 0)
        return -errno;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    sg.wake_r = fds[0];
    sg.wake_w = fds[1];
    if (!forks) {
        uco__list_init(&sg.waiters);
        forks = pthread_atfork(NULL, NULL, child_after_fork) == 0;
    }
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &a, dispatcher, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        return -rc;
    }
    sg.started = true;
    return 0;
}

/* Under mu: the library's handler for every signal of set. */
static int handle(const sigset_t *set)
{
    struct sigaction sa;
    int sig;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* on the alternate stack where the thread has one (a scheduler's
     * has): a task near the end of its stack has no room for a signal
     * frame, and the kernel would make that a fault */
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
#ifdef UCO_VALGRIND
    /* memcheck (3.19) delivers on a thread's alternate stack after it was
     * disabled and unmapped, and kills the process: not on Valgrind */
    if (RUNNING_ON_VALGRIND)
        sa.sa_flags &= ~SA_ONSTACK;
#endif
    sigemptyset(&sa.sa_mask);
    for (sig = 1; sig < NSIG; sig++)
        if (sigismember(set, sig) == 1 && !sg.handled[sig]) {
            if (sigaction(sig, &sa, NULL) != 0)
                return -errno;
            sg.handled[sig] = true;
        }
    return 0;
}

/* A set uco_signal_wait takes: not empty, none that cannot be caught or
 * that the library's guards own. */
static bool set_ok(const sigset_t *set)
{
    int sig;
    bool any = false;

    if (!set)
        return false;
    for (sig = 1; sig < NSIG; sig++) {
        if (sigismember(set, sig) != 1)
            continue;
        if (sig == SIGSEGV || sig == SIGBUS || sig == SIGKILL || sig == SIGSTOP)
            return false;
        any = true;
    }
    return any;
}

/* Under mu: take a kept delivery of set, or 0. */
static int take_pending(const sigset_t *set)
{
    int sig, n;

    for (sig = 1; sig < NSIG; sig++) {
        if (sigismember(set, sig) != 1)
            continue;
        n = __atomic_load_n(&sg.pending[sig], __ATOMIC_ACQUIRE);
        while (n > 0)
            if (__atomic_compare_exchange_n(&sg.pending[sig], &n, n - 1, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return sig;
    }
    return 0;
}

/* unwait: off the list unless the dispatcher took it. */
static void leave(struct uco_task *t)
{
    struct sigwaiter *w = t->wait_obj;

    w->parked = false;
    pthread_mutex_lock(&sg.mu);
    if (w->state == WAITING) {
        uco__list_remove(&w->node);
        w->state = GONE;
    }
    pthread_mutex_unlock(&sg.mu);
}

/* Suspend until w's record is delivered, the deadline, or a cancellation.
 * Switches. */
static int park(struct uco_task *self, struct sigwaiter *w, int64_t deadline)
{
    w->parked = true;
    self->unwait = leave;
    self->wait_obj = w;
    return uco__wait(self->sched, self, deadline, "signal");
}

int uco_signal_wait(const sigset_t *set, int *sig, int64_t deadline)
{
    struct uco_task *self;
    struct sigwaiter w;
    struct uco_sched *s;
    bool was;
    int rc = uco__enter_wait(&self, sig && set_ok(set), deadline);

    if (rc < 0)
        return rc;
    s = self->sched;
    rc = uco__post_ready(s);
    if (rc < 0)
        return rc;
    memset(&w, 0, sizeof w);
    w.msg.run = run_delivery;
    w.set = *set;
    w.task = self;
    w.sched = s;
    pthread_mutex_lock(&sg.mu);
    rc = start();
    if (rc == 0)
        rc = handle(set);
    if (rc == 0 && (w.sig = take_pending(set)) == 0) {
        uco__list_push(&sg.waiters, &w.node);
        w.state = WAITING;
    }
    pthread_mutex_unlock(&sg.mu);
    if (rc < 0)
        return rc;
    if (w.sig) { /* one kept for this wait */
        *sig = w.sig;
        return 0;
    }
    s->remote++; /* a signal may come: no deadlock */
    rc = park(self, &w, deadline);
    if (w.state == TAKEN) {
        /* handed over as the wait ended otherwise: it is this task's */
        was = self->shielded;
        self->shielded = true;
        while (w.state != DELIVERED)
            park(self, &w, UCO_NEVER);
        self->shielded = was;
    }
    s->remote--;
    if (w.state != DELIVERED)
        return rc < 0 ? rc : -ETIMEDOUT;
    *sig = w.sig;
    return 0;
}
