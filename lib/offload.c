/*
 * offload.c - the worker pool, shared by the whole process: uco_offload
 * runs a blocking call on one of its threads while only the calling task
 * waits; uco_getaddrinfo runs name resolution there, in a lane of its own.
 *
 * Jobs wait in FIFO order (two queues: the general one, and the
 * resolver's lane, of which at most a quarter of the workers run at
 * once).  Threads start when a job finds none idle, up to the cap
 * (UCO_THREADS, default 4 per CPU, at least 8, at most 64: the jobs block
 * rather than compute, and an idle thread costs only its stack), and
 * leave after IDLE_NS without work, so a program that offloaded once has
 * none left soon after.  A job's end goes back to its task's scheduler as
 * a message (post.c), through the same wake-up as posts.
 *
 * A job is on the heap, and belongs to whoever is last: the caller
 * withdraws a job still queued (it never runs; with a drop, which owns
 * arg, drop(arg, NULL) runs in the caller instead); a worker that ends a job
 * its caller abandoned runs drop and frees it; otherwise the message that
 * reports the end frees it on the caller's scheduler, after waking the
 * caller if it still waits.
 */
#include "post.h"

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IDLE_NS ((int64_t)5 * 1000000000)

enum { QUEUED, RUNNING, DONE };

struct job {
    struct uco_msg done;      /* to home: the job has ended */
    struct uco_list node;     /* on a pool queue while QUEUED */
    uco_fn *fn;
    void *arg;
    uco_drop_fn *drop;
    void *result;             /* fn's, once DONE */
    int state;                /* under the pool's lock */
    bool abandoned;           /* under the pool's lock: the caller left */
    bool resolve;             /* the resolver's lane */
    bool delivered;           /* home's: the `done` message was run */
    bool caller_gone;         /* home's: the caller left first; `done`
                                 frees the job */
    struct uco_sched *home;   /* the caller's scheduler, a reference held */
    struct uco_task *waiter;  /* home's: the caller while it waits */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a job was queued */
    struct uco_list jobs;     /* general FIFO */
    struct uco_list lane;     /* resolver FIFO */
    unsigned threads, idle, resolving, cap;
    unsigned queued;          /* jobs on the two queues */
    bool init;
    bool quit;                /* the process is ending: idle ones leave */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
           { NULL, NULL }, { NULL, NULL }, 0, 0, 0, 0, 0, false, false };

/* The cap: UCO_THREADS, or the default.  Under the lock. */
static unsigned cap_of(void)
{
    const char *e = getenv("UCO_THREADS");
    long n = e ? strtol(e, NULL, 10) : 0, cpus;

    if (n > 0)
        return n > 1024 ? 1024 : (unsigned)n;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? 4 * cpus : 8;
    return n < 8 ? 8 : n > 64 ? 64 : (unsigned)n;
}

/* In a child after fork(2): no worker came along.  Queued jobs are taken
 * by new ones; a job that was running in the parent never ends here. */
static void child_after_fork(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    uco__cond_init(&pool.cv);
    pool.threads = pool.idle = pool.resolving = 0;
}

/* Under the lock: the pool's lists and cap, made once. */
static void pool_init(void)
{
    if (pool.init)
        return;
    uco__list_init(&pool.jobs);
    uco__list_init(&pool.lane);
    pool.cap = cap_of();
    pthread_cond_destroy(&pool.cv);
    uco__cond_init(&pool.cv);
    pthread_atfork(NULL, NULL, child_after_fork);
    pool.init = true;
}

/* Under the lock: the next job a worker may take, or NULL. */
static struct job *next_job(void)
{
    struct uco_list *n = uco__list_pop(&pool.jobs);

    if (!n && pool.resolving < (pool.cap + 3) / 4)
        n = uco__list_pop(&pool.lane);
    if (!n)
        return NULL;
    pool.queued--;
    return uco__container(n, struct job, node);
}

/* Run the job j that the worker took. */
static void work(struct job *j)
{
    void *r = j->fn(j->arg);
    bool abandoned;

    pthread_mutex_lock(&pool.mu);
    j->result = r;
    j->state = DONE;
    if (j->resolve)
        pool.resolving--;
    abandoned = j->abandoned;
    pthread_mutex_unlock(&pool.mu);
    if (abandoned) {
        j->drop(j->arg, r);
        uco_sched_put(j->home);
        free(j);
    } else if (uco__post_push(j->home, &j->done, false) < 0) {
        uco_sched_put(j->home); /* (cannot happen: its caller waits) */
        free(j);
    }
}

static void *worker(void *unused)
{
    struct timespec ts;
    struct job *j;

    (void)unused;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (!(j = next_job())) {
            int rc;
            uco__cond_deadline(uco_now() + IDLE_NS, &ts);
            pool.idle++;
            rc = pool.quit ? ETIMEDOUT
                           : pthread_cond_timedwait(&pool.cv, &pool.mu, &ts);
            pool.idle--;
            if ((rc == ETIMEDOUT || pool.quit) && !(j = next_job())) {
                pool.threads--;
                pthread_mutex_unlock(&pool.mu);
                return NULL;
            }
            if (j)
                break;
        }
        j->state = RUNNING;
        if (j->resolve)
            pool.resolving++;
        pthread_mutex_unlock(&pool.mu);
        work(j);
        pthread_mutex_lock(&pool.mu);
    }
}

/* When the process ends (or the library is unloaded): the idle workers
 * leave now rather than at their time-out, so that none is left behind
 * to tools that look at what a program leaves (a worker in a job goes on
 * until it returns).  Waits 100 ms at most. */
__attribute__((destructor)) static void pool_end(void)
{
    int64_t until = uco_now() + 100000000;

    pthread_mutex_lock(&pool.mu);
    pool.quit = true;
    pthread_cond_broadcast(&pool.cv);
    while (pool.idle > 0 && uco_now() < until) {
        pthread_mutex_unlock(&pool.mu);
        usleep(1000);
        pthread_mutex_lock(&pool.mu);
    }
    pthread_mutex_unlock(&pool.mu);
}

/* Under the lock: queue j and see that a worker will take it.  0, or
 * -EAGAIN when no thread could be started and none runs. */
static int queue(struct job *j)
{
    pthread_attr_t a;
    pthread_t t;
    int rc;

    pool_init();
    uco__list_push(j->resolve ? &pool.lane : &pool.jobs, &j->node);
    j->state = QUEUED;
    pool.queued++;
    if (pool.idle > 0)
        pthread_cond_signal(&pool.cv);
    if (pool.idle >= pool.queued)
        return 0; /* an idle worker for every queued job */
    if (pool.threads >= pool.cap ||
        (j->resolve && pool.resolving >= (pool.cap + 3) / 4))
        return 0; /* a busy worker takes it when it is done */
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &a, worker, NULL);
    pthread_attr_destroy(&a);
    if (rc == 0) {
        pool.threads++;
        return 0;
    }
    if (pool.threads > 0)
        return 0;
    uco__list_remove(&j->node);
    pool.queued--;
    return -EAGAIN;
}

/* ---- the caller's side, on its scheduler */

/* Free j and its reference on home. */
static void free_job(struct job *j)
{
    uco_sched_put(j->home);
    free(j);
}

/* The job's end reached home: the caller frees it, unless it has left
 * already (it saw the job DONE and took the result). */
static void run_done(struct uco_sched *s, struct uco_msg *m)
{
    struct job *j = uco__container(m, struct job, done);

    s->remote--;
    j->delivered = true;
    if (j->waiter)
        uco__wake(s, j->waiter, 0);
    else if (j->caller_gone)
        free_job(j);
}

/* unwait of a task in uco_offload. */
static void forget_waiter(struct uco_task *t)
{
    ((struct job *)t->wait_obj)->waiter = NULL;
}

/* Wait for j's end.  Switches. */
static int wait_job(struct uco_task *self, struct job *j, int64_t deadline)
{
    j->waiter = self;
    self->unwait = forget_waiter;
    self->wait_obj = j;
    return uco__wait(self->sched, self, deadline, "offload");
}

/* The caller's wait for j ended with rc < 0 (deadline, cancellation).
 * Withdraw j if still queued (fn never runs; with a drop, arg is dropped
 * here), abandon it if it runs and has a drop (the worker drops and frees
 * it), or wait for its end shielded; a job already DONE keeps its result.
 * 0 when fn's result stands, rc when the call fails with it; *gone when
 * j is not the caller's any more (freed, or the worker's).  Switches. */
static int give_up(struct uco_task *self, struct job *j, int rc, bool *gone)
{
    struct uco_sched *s = self->sched;
    int state;
    bool was;

    bool abandon;

    pthread_mutex_lock(&pool.mu);
    state = j->state;
    abandon = state == RUNNING && j->drop;
    if (state == QUEUED) {
        uco__list_remove(&j->node);
        pool.queued--;
    } else if (abandon) {
        j->abandoned = true; /* from here on j is the worker's: not read */
    }
    pthread_mutex_unlock(&pool.mu);
    if (state == QUEUED) {
        s->remote--;
        if (j->drop)
            j->drop(j->arg, NULL);
        free_job(j);
        *gone = true;
        return rc;
    }
    if (abandon) {
        s->remote--;
        *gone = true;
        return rc;
    }
    if (state == RUNNING) { /* no drop: fn's end is waited for */
        was = self->shielded;
        self->shielded = true;
        while (!j->delivered)
            wait_job(self, j, UCO_NEVER);
        self->shielded = was;
        return rc;
    }
    return 0; /* DONE: it ended first */
}

/* What a call with a drop does on a failure before its job runs: arg is
 * the job's, and goes to drop. */
static int dropped(uco_drop_fn *drop, void *arg, int rc)
{
    if (drop)
        drop(arg, NULL);
    return rc;
}

/* uco_offload's work for a job j made by the caller: fn's result in
 * *result when the call returns 0, or as give_up says.  Switches. */
static int offload(struct uco_task *self, struct job *j, void **result,
                   int64_t deadline)
{
    struct uco_sched *s = self->sched;
    bool gone = false;
    int rc = uco__post_ready(s);

    if (rc == 0) {
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
        j->home = s;
        j->done.run = run_done;
        pthread_mutex_lock(&pool.mu);
        rc = queue(j);
        pthread_mutex_unlock(&pool.mu);
        if (rc < 0)
            uco_sched_put(s);
    }
    if (rc < 0) { /* never queued */
        uco_drop_fn *drop = j->drop;
        void *arg = j->arg;
        free(j);
        return dropped(drop, arg, rc);
    }
    s->remote++;
    rc = wait_job(self, j, deadline);
    if (rc < 0) {
        rc = give_up(self, j, rc, &gone);
        if (gone)
            return rc; /* withdrawn or abandoned */
    }
    if (result)
        *result = j->result;
    if (j->delivered)
        free_job(j);
    else
        j->caller_gone = true; /* its end, on the way, frees it */
    return rc;
}

int uco_offload(uco_fn *fn, void *arg, uco_drop_fn *drop, void **result,
                int64_t deadline)
{
    struct uco_task *self;
    struct job *j;
    int rc = uco__enter_wait(&self, fn && (drop || deadline == UCO_NEVER),
                             deadline);

    if (rc == -EPERM || rc == -EINVAL)
        return rc;
    if (rc < 0)
        return dropped(drop, arg, rc);
    j = calloc(1, sizeof *j);
    if (!j)
        return dropped(drop, arg, -ENOMEM);
    j->fn = fn;
    j->arg = arg;
    j->drop = drop;
    return offload(self, j, result, deadline);
}

/* ---- name resolution */

struct lookup {
    char *node, *service;     /* copies, or NULL */
    struct addrinfo hints;
    bool has_hints;
    struct addrinfo *res;
    int rc;                   /* getaddrinfo's, and errno for EAI_SYSTEM */
    int err;
};

static void free_lookup(struct lookup *l)
{
    if (l->res)
        freeaddrinfo(l->res);
    free(l->node);
    free(l->service);
    free(l);
}

static void *resolve(void *p)
{
    struct lookup *l = p;

    l->rc = getaddrinfo(l->node, l->service, l->has_hints ? &l->hints : NULL,
                        &l->res);
    l->err = errno;
    return NULL;
}

/* The drop of an abandoned lookup: free it all. */
static void drop_lookup(void *p, void *result)
{
    (void)result;
    free_lookup(p);
}

/* A copy of s, or NULL (s NULL, or no memory: *bad set). */
static char *copy(const char *s, bool *bad)
{
    char *c;

    if (!s)
        return NULL;
    c = strdup(s);
    if (!c)
        *bad = true;
    return c;
}

int uco_getaddrinfo(const char *node, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res,
                    int64_t deadline)
{
    struct uco_task *self;
    struct lookup *l;
    struct job *j;
    bool bad = false;
    int rc = uco__enter_wait(&self, res && (node || service), deadline);

    if (rc < 0)
        return rc;
    l = calloc(1, sizeof *l);
    j = calloc(1, sizeof *j);
    if (l) {
        l->node = copy(node, &bad);
        l->service = copy(service, &bad);
    }
    if (!l || !j || bad) {
        if (l)
            free_lookup(l);
        free(j);
        return -ENOMEM;
    }
    if (hints) {
        l->hints.ai_flags = hints->ai_flags;
        l->hints.ai_family = hints->ai_family;
        l->hints.ai_socktype = hints->ai_socktype;
        l->hints.ai_protocol = hints->ai_protocol;
        l->has_hints = true;
    }
    j->fn = resolve;
    j->arg = l;
    j->drop = drop_lookup;
    j->resolve = true;
    rc = offload(self, j, NULL, deadline);
    if (rc < 0)
        return rc; /* withdrawn or abandoned: drop_lookup frees it */
    if (l->rc == 0) {
        *res = l->res;
        l->res = NULL;
    } else {
        rc = l->rc == EAI_SYSTEM ? -(l->err ? l->err : EIO) : UCO_EAI(l->rc);
    }
    free_lookup(l);
    return rc;
}
