/*
 * threads.c - work crossing threads: posts between schedulers, posts from
 * plain threads, the worker pool; beside libuv's uv_async_send and
 * uv_queue_work where libuv has an equivalent.
 *
 *   threads post-rtt N        two schedulers on two threads: a task on A
 *                             posts to B a function that posts back to A
 *                             a function that sets an event the task waits
 *                             on; N round trips, p50/p99/mean in us
 *   threads uv-rtt N          libuv: two loops on two threads, an async
 *                             handle each; A's uv_async_send wakes B, whose
 *                             callback sends to A; N round trips
 *   threads posts P N         P plain threads post N trivial functions
 *                             each to a busy scheduler (a task yields in a
 *                             loop, so it never sleeps in the kernel):
 *                             posts per second, posted and run; the read
 *                             and write calls each side made meanwhile
 *                             (/proc/thread-self/io), per post
 *   threads offload N         a task offloads an empty job N times in a
 *                             row: round trip p50/p99/mean in us
 *   threads uv-offload N      libuv: uv_queue_work of an empty job, the
 *                             next queued from the after-work callback
 *   threads offload-par K N   K tasks offload N empty jobs each, all at
 *                             once: each submitter's time per call (the
 *                             wall time over N), and calls per second
 *   threads uv-offload-par K N  libuv: K uv_queue_work chains at once
 *   threads list              "uv yes|no"
 *
 * Every figure is one "R key value" line (bench/bench.h); bench/run.sh
 * runs the modes in turns and tabulates them.
 */
#include "bench.h"

#include <ucoro.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#ifdef HAVE_LIBUV
#include <uv.h>
#endif

#define WARM 1000

/* Where the two threads of a round trip run: CPU 0 and CPU 1 (cross), both
 * on CPU 0 (same), or where the kernel puts them (free). */
enum { PIN_CROSS, PIN_SAME, PIN_FREE };
static int pin_mode = PIN_CROSS;
static const char *const pin_names[] = { "cross", "same", "free" };

/* "rtt.<placement>" */
static const char *rtt_key(void)
{
    static char k[32];
    snprintf(k, sizeof k, "rtt.%s", pin_names[pin_mode]);
    return k;
}

/* Pin the calling thread to cpu (for the thread 'which', 0 or 1) as
 * pin_mode says; ignored where it fails. */
static void pin(int which)
{
    cpu_set_t set;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    if (pin_mode == PIN_FREE)
        return;
    CPU_ZERO(&set);
    CPU_SET(pin_mode == PIN_CROSS && ncpu > 1 ? which : 0, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "threads: %s: %s\n", what,
            rc < 0 && rc > -4096 && rc != UCO_ESTACK ? strerror(-rc)
                                                     : uco_strerror(rc));
    exit(1);
}

static int64_t *lat_alloc(long n)
{
    int64_t *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        perror("malloc");
        exit(1);
    }
    return v;
}

/* p50, p99 and mean of v[0..n) ns, as "R <prefix>.p50_us" ... */
static void put_lat(const char *prefix, int64_t *v, long n)
{
    char k[96];
    double sum = 0;
    long i;

    for (i = 0; i < n; i++)
        sum += (double)v[i];
    snprintf(k, sizeof k, "%s.mean_us", prefix);
    bench_put(k, sum / (double)n / 1e3);
    snprintf(k, sizeof k, "%s.p50_us", prefix);
    bench_put(k, (double)bench_pct(v, (size_t)n, 50) / 1e3);
    snprintf(k, sizeof k, "%s.p99_us", prefix);
    bench_put(k, (double)bench_pct(v, (size_t)n, 99) / 1e3);
}

/* read(2)-like and write(2)-like calls this thread has made so far, from
 * /proc/thread-self/io (syscr, syscw); -1 when the kernel keeps none.  The
 * reading itself costs an open, a read and a close: none of them a
 * write, and the read is counted in the next reading only. */
static void thread_rw1(long *r, long *w)
{
    char line[128];
    FILE *f = fopen("/proc/thread-self/io", "r");

    *r = *w = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "syscr:", 6) == 0)
            *r = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "syscw:", 6) == 0)
            *w = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

/* Counting from rw_start to rw_end, less what the readings themselves
 * cost (two readings in a row tell). */
struct rw {
    long r0, w0, ovr, ovw;
};

static void rw_start(struct rw *c)
{
    long a, b, x, y;

    thread_rw1(&a, &b);
    thread_rw1(&x, &y);
    c->ovr = x - a;
    c->ovw = y - b;
    thread_rw1(&c->r0, &c->w0);
    if (a < 0)
        c->r0 = -1;
}

static void rw_end(const struct rw *c, long *r, long *w)
{
    long x, y;

    *r = *w = -1;
    if (c->r0 < 0)
        return;
    thread_rw1(&x, &y);
    *r = x - c->r0 - c->ovr;
    *w = y - c->w0 - c->ovw;
}

/* ------------------------------------------------------------------ */
/* Post round trip between two schedulers                              */
/* ------------------------------------------------------------------ */

struct rtt {
    uco_sched *a, *b;
    uco_event *ev;        /* A's: the answer came back */
    uco_event *ready;     /* A's: B has published its handle */
    uco_event *b_stop;    /* B's: A is done */
    long n;
};

static void *rtt_back(void *arg) /* on A */
{
    struct rtt *r = arg;
    uco_event_set(r->ev);
    return NULL;
}

static void *rtt_there(void *arg) /* on B */
{
    struct rtt *r = arg;
    int rc = uco_post(r->a, rtt_back, r);
    if (rc < 0)
        die("uco_post to A", rc);
    return NULL;
}

static void *rtt_b_ready(void *arg) /* on A */
{
    struct rtt *r = arg;
    uco_event_set(r->ready);
    return NULL;
}

static void *rtt_b_stop(void *arg) /* on B */
{
    struct rtt *r = arg;
    uco_event_set(r->b_stop);
    return NULL;
}

static void *rtt_b_main(void *arg)
{
    struct rtt *r = arg;
    int rc;

    if ((rc = uco_event_create(&r->b_stop)) < 0 ||
        (rc = uco_sched_get(&r->b)) < 0)
        die("B's start", rc);
    if ((rc = uco_post(r->a, rtt_b_ready, r)) < 0)
        die("uco_post to A", rc);
    uco_event_wait(r->b_stop, UCO_NEVER);
    uco_event_destroy(r->b_stop);
    return NULL;
}

static void *rtt_b_thread(void *arg)
{
    int rc;

    pin(1);
    rc = uco_run(rtt_b_main, arg, NULL);
    if (rc < 0)
        die("uco_run on B", rc);
    return NULL;
}

static void *rtt_a_main(void *arg)
{
    struct rtt *r = arg;
    pthread_t tb;
    int64_t *lat = lat_alloc(r->n);
    long i;
    int rc;

    if ((rc = uco_event_create(&r->ev)) < 0 ||
        (rc = uco_event_create(&r->ready)) < 0 ||
        (rc = uco_sched_get(&r->a)) < 0)
        die("A's start", rc);
    if (pthread_create(&tb, NULL, rtt_b_thread, r) != 0)
        die("pthread_create", -errno);
    if ((rc = uco_event_wait(r->ready, uco_now() + UCO_SEC(10))) < 0)
        die("waiting for B", rc);
    for (i = -WARM; i < r->n; i++) {
        int64_t t0, t1;
        uco_event_clear(r->ev);
        t0 = bench_now();
        if ((rc = uco_post(r->b, rtt_there, r)) < 0)
            die("uco_post to B", rc);
        if ((rc = uco_event_wait(r->ev, uco_now() + UCO_SEC(10))) < 0)
            die("waiting for the answer", rc);
        t1 = bench_now();
        if (i >= 0)
            lat[i] = t1 - t0;
    }
    if ((rc = uco_post(r->b, rtt_b_stop, r)) < 0)
        die("uco_post to B", rc);
    pthread_join(tb, NULL);
    uco_sched_put(r->b);
    uco_sched_put(r->a);
    uco_event_destroy(r->ev);
    uco_event_destroy(r->ready);
    put_lat(rtt_key(), lat, r->n);
    free(lat);
    return NULL;
}

static void post_rtt(long n)
{
    struct rtt r;
    int rc;

    memset(&r, 0, sizeof r);
    r.n = n;
    pin(0);
    if ((rc = uco_run(rtt_a_main, &r, NULL)) < 0)
        die("uco_run on A", rc);
}

/* ------------------------------------------------------------------ */
/* The floor: two threads waking each other through eventfds           */
/* ------------------------------------------------------------------ */

#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>

static int floor_fd[2]; /* [0] wakes A, [1] wakes B */
static long floor_n;

static void *floor_b(void *arg)
{
    uint64_t v;
    long i;

    (void)arg;
    pin(1);
    for (i = -WARM; i < floor_n; i++) {
        if (read(floor_fd[1], &v, sizeof v) != sizeof v ||
            write(floor_fd[0], &v, sizeof v) != sizeof v)
            die("eventfd", -errno);
    }
    return NULL;
}

/* What any loop that sleeps in the kernel pays at the least: a blocking
 * read of an eventfd, woken by a write from the other thread, twice. */
static void floor_rtt(long n)
{
    int64_t *lat = lat_alloc(n);
    pthread_t tb;
    uint64_t v = 1;
    long i;

    floor_n = n;
    floor_fd[0] = eventfd(0, EFD_CLOEXEC);
    floor_fd[1] = eventfd(0, EFD_CLOEXEC);
    if (floor_fd[0] < 0 || floor_fd[1] < 0)
        die("eventfd", -errno);
    pin(0);
    if (pthread_create(&tb, NULL, floor_b, NULL) != 0)
        die("pthread_create", -errno);
    for (i = -WARM; i < n; i++) {
        int64_t t0 = bench_now();
        if (write(floor_fd[1], &v, sizeof v) != sizeof v ||
            read(floor_fd[0], &v, sizeof v) != sizeof v)
            die("eventfd", -errno);
        if (i >= 0)
            lat[i] = bench_now() - t0;
    }
    pthread_join(tb, NULL);
    close(floor_fd[0]);
    close(floor_fd[1]);
    put_lat(rtt_key(), lat, n);
    free(lat);
}
#endif

/* ------------------------------------------------------------------ */
/* Posts per second to a busy scheduler                                */
/* ------------------------------------------------------------------ */

struct flood {
    uco_sched *s;
    long per;            /* posts per producer */
    long window;         /* posts a producer may have waiting; 0: no limit */
    long total;          /* per * producers */
    long ran;            /* on the scheduler's thread only */
    int go;              /* atomic: the producers start */
    int64_t t0, t_end;   /* the start, the last post run */
    long cons_r, cons_w; /* the scheduler thread's reads, writes meanwhile */
};

struct producer {
    pthread_t th;
    struct flood *f;
    long ran;            /* atomic: its posts that have run */
    long yields;         /* sched_yield calls while its window was full */
    int64_t elapsed;
    long r, w;           /* its read and write calls meanwhile */
};

static void *flood_one(void *arg)
{
    struct producer *p = arg;
    __atomic_store_n(&p->ran, p->ran + 1, __ATOMIC_RELAXED);
    p->f->ran++;
    return NULL;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void *producer_thread(void *arg)
{
    struct producer *p = arg;
    struct flood *f = p->f;
    struct rw c;
    long i;
    int64_t t0;
    int rc;

    rw_start(&c);
    while (!__atomic_load_n(&f->go, __ATOMIC_ACQUIRE))
        ;
    t0 = bench_now();
    for (i = 0; i < f->per; i++) {
        if (f->window) {
            int spins = 0;
            while (i - __atomic_load_n(&p->ran, __ATOMIC_RELAXED) >= f->window) {
                /* on a machine with fewer CPUs than busy threads, give
                 * the scheduler the CPU rather than spin a whole slice */
                if (++spins < 100) {
                    cpu_relax();
                } else {
                    sched_yield();
                    p->yields++;
                    spins = 0;
                }
            }
        }
        if ((rc = uco_post(f->s, flood_one, p)) < 0)
            die("uco_post", rc);
    }
    p->elapsed = bench_now() - t0;
    rw_end(&c, &p->r, &p->w);
    return NULL;
}

static void *spinner(void *arg)
{
    struct flood *f = arg;
    struct rw c;

    rw_start(&c);
    __atomic_store_n(&f->go, 1, __ATOMIC_RELEASE);
    f->t0 = bench_now();
    while (f->ran < f->total)
        uco_yield();
    f->t_end = bench_now();
    rw_end(&c, &f->cons_r, &f->cons_w);
    return NULL;
}

struct flood_args {
    int producers;
    long per, window;
};

static void *flood_main(void *arg)
{
    struct flood_args *a = arg;
    struct flood f;
    struct producer *p = calloc((size_t)a->producers, sizeof *p);
    uco_task *spin;
    int64_t prod_ns = 0;
    long pr = 0, pw = 0, yields = 0;
    const char *kind;
    double rate_posted = 0;
    char k[64];
    int i, rc;

    memset(&f, 0, sizeof f);
    f.per = a->per;
    f.window = a->window ? (a->window + a->producers - 1) / a->producers : 0;
    f.total = a->per * a->producers;
    if ((rc = uco_sched_get(&f.s)) < 0)
        die("uco_sched_get", rc);
    for (i = 0; i < a->producers; i++)
        p[i].f = &f;
    /* warm the scheduler's stack cache and the allocator */
    for (i = 0; i < 1000; i++)
        uco_post(f.s, flood_one, &p[0]);
    while (f.ran < 1000)
        uco_yield();
    f.ran = 0;
    p[0].ran = 0;
    for (i = 0; i < a->producers; i++) {
        if (pthread_create(&p[i].th, NULL, producer_thread, &p[i]) != 0)
            die("pthread_create", -errno);
    }
    if ((rc = uco_spawn(&spin, spinner, &f, NULL)) < 0)
        die("uco_spawn", rc);
    if ((rc = uco_join(spin, NULL, UCO_NEVER)) < 0)
        die("uco_join", rc);
    for (i = 0; i < a->producers; i++) {
        pthread_join(p[i].th, NULL);
        prod_ns = p[i].elapsed > prod_ns ? p[i].elapsed : prod_ns;
        yields += p[i].yields;
        rate_posted += (double)f.per / ((double)p[i].elapsed / 1e9);
        if (p[i].r < 0 || pr < 0)
            pr = -1;
        else
            pr += p[i].r;
        if (p[i].w < 0 || pw < 0)
            pw = -1;
        else
            pw += p[i].w;
    }
    kind = a->window ? "posts" : "flood";
    snprintf(k, sizeof k, "%s.%d.run_per_s", kind, a->producers);
    bench_put(k, (double)f.total / ((double)(f.t_end - f.t0) / 1e9));
    snprintf(k, sizeof k, "%s.%d.posted_per_s", kind, a->producers);
    bench_put(k, rate_posted);
    if (pr >= 0 && pw >= 0 && f.cons_r >= 0) {
        snprintf(k, sizeof k, "%s.%d.producer_rw_per_post", kind, a->producers);
        bench_put(k, (double)(pr + pw) / (double)f.total);
        snprintf(k, sizeof k, "%s.%d.sched_rw_per_post", kind, a->producers);
        bench_put(k, (double)(f.cons_r + f.cons_w) / (double)f.total);
    }
    printf("# %s: %d producer(s) x %ld posts, window %ld: posted in %.1f ms, "
           "all run %.1f ms after the start; read+write calls meanwhile: "
           "producers %ld, scheduler %ld; producers' sched_yield %ld\n",
           kind, a->producers, f.per, a->window, (double)prod_ns / 1e6,
           (double)(f.t_end - f.t0) / 1e6, pr + pw, f.cons_r + f.cons_w,
           yields);
    uco_sched_put(f.s);
    free(p);
    return NULL;
}

static void posts(int producers, long per, long window)
{
    struct flood_args a = { producers, per, window };
    int rc = uco_run(flood_main, &a, NULL);
    if (rc < 0)
        die("uco_run", rc);
}

/* ------------------------------------------------------------------ */
/* The worker pool                                                     */
/* ------------------------------------------------------------------ */

static void *empty_job(void *arg)
{
    return arg;
}

static void *offload_main(void *arg)
{
    long n = *(long *)arg, i;
    int64_t *lat = lat_alloc(n);
    void *res;
    int rc;

    for (i = -WARM; i < n; i++) {
        int64_t t0 = bench_now();
        if ((rc = uco_offload(empty_job, &n, NULL, &res, UCO_NEVER)) < 0)
            die("uco_offload", rc);
        if (i >= 0)
            lat[i] = bench_now() - t0;
    }
    put_lat("offload", lat, n);
    free(lat);
    return NULL;
}

struct par {
    long n;
    int k;
    uco_event *start;
    int64_t *lat;  /* k * n */
    long next;     /* index into lat */
};

static void *par_task(void *arg)
{
    struct par *p = arg;
    void *res;
    long i;
    int rc;

    uco_event_wait(p->start, UCO_NEVER);
    for (i = 0; i < p->n; i++) {
        int64_t t0 = bench_now();
        if ((rc = uco_offload(empty_job, p, NULL, &res, UCO_NEVER)) < 0)
            die("uco_offload", rc);
        p->lat[p->next++] = bench_now() - t0;
    }
    return NULL;
}

static void *offload_par_main(void *arg)
{
    struct par *p = arg;
    uco_task **t = calloc((size_t)p->k, sizeof *t);
    int64_t t0, wall;
    void *res;
    char k[64];
    int i, rc;

    /* warm: as many threads in the pool as the run will use */
    for (i = 0; i < WARM; i++)
        uco_offload(empty_job, p, NULL, &res, UCO_NEVER);
    if ((rc = uco_event_create(&p->start)) < 0)
        die("uco_event_create", rc);
    p->lat = lat_alloc(p->n * p->k);
    for (i = 0; i < p->k; i++)
        if ((rc = uco_spawn(&t[i], par_task, p, NULL)) < 0)
            die("uco_spawn", rc);
    uco_yield(); /* all of them wait on the event */
    t0 = bench_now();
    uco_event_set(p->start);
    for (i = 0; i < p->k; i++)
        if ((rc = uco_join(t[i], NULL, UCO_NEVER)) < 0)
            die("uco_join", rc);
    wall = bench_now() - t0;
    snprintf(k, sizeof k, "offpar.%d.per_call_us", p->k);
    bench_put(k, (double)wall / (double)p->n / 1e3);
    snprintf(k, sizeof k, "offpar.%d.calls_per_s", p->k);
    bench_put(k, (double)(p->n * p->k) / ((double)wall / 1e9));
    snprintf(k, sizeof k, "offpar.%d", p->k);
    put_lat(k, p->lat, p->n * p->k);
    uco_event_destroy(p->start);
    free(p->lat);
    free(t);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* libuv                                                               */
/* ------------------------------------------------------------------ */

#ifdef HAVE_LIBUV
static struct {
    uv_loop_t a, b;
    uv_async_t to_a, to_b;
    int stop; /* atomic: B closes its handle */
    int64_t t0;
    int64_t *lat;
    long i, n;
} uvr;

static void uvr_on_b(uv_async_t *h)
{
    (void)h;
    if (__atomic_load_n(&uvr.stop, __ATOMIC_ACQUIRE)) {
        uv_close((uv_handle_t *)&uvr.to_b, NULL);
        return;
    }
    uv_async_send(&uvr.to_a);
}

static void uvr_on_a(uv_async_t *h)
{
    int64_t t1 = bench_now();
    (void)h;
    if (uvr.i >= 0)
        uvr.lat[uvr.i] = t1 - uvr.t0;
    if (++uvr.i == uvr.n) {
        __atomic_store_n(&uvr.stop, 1, __ATOMIC_RELEASE);
        uv_async_send(&uvr.to_b);
        uv_close((uv_handle_t *)&uvr.to_a, NULL);
        return;
    }
    uvr.t0 = bench_now();
    uv_async_send(&uvr.to_b);
}

static void *uvr_b_thread(void *arg)
{
    (void)arg;
    pin(1);
    uv_run(&uvr.b, UV_RUN_DEFAULT);
    return NULL;
}

static void uv_rtt(long n)
{
    pthread_t tb;

    uvr.n = n;
    uvr.i = -WARM;
    uvr.lat = lat_alloc(n);
    pin(0);
    uv_loop_init(&uvr.a);
    uv_loop_init(&uvr.b);
    uv_async_init(&uvr.a, &uvr.to_a, uvr_on_a);
    uv_async_init(&uvr.b, &uvr.to_b, uvr_on_b);
    if (pthread_create(&tb, NULL, uvr_b_thread, NULL) != 0)
        die("pthread_create", -errno);
    uvr.t0 = bench_now();
    uv_async_send(&uvr.to_b);
    uv_run(&uvr.a, UV_RUN_DEFAULT);
    pthread_join(tb, NULL);
    uv_loop_close(&uvr.a);
    uv_loop_close(&uvr.b);
    put_lat(rtt_key(), uvr.lat, n);
    free(uvr.lat);
}

struct uvw {
    uv_work_t req;
    int64_t t0;
    long left;
};

static struct {
    uv_loop_t *loop;
    int64_t *lat;
    long next, warm;
} uvq;

static void uvq_work(uv_work_t *req)
{
    (void)req;
}

static void uvq_after(uv_work_t *req, int status)
{
    struct uvw *w = (struct uvw *)req;
    int64_t t1 = bench_now();

    (void)status;
    if (uvq.warm > 0)
        uvq.warm--;
    else {
        uvq.lat[uvq.next++] = t1 - w->t0;
        w->left--;
    }
    if (w->left > 0) {
        w->t0 = bench_now();
        uv_queue_work(uvq.loop, &w->req, uvq_work, uvq_after);
    }
}

/* k chains of n round trips each (after WARM for the first of them) */
static void uv_offload(int k, long n, const char *prefix)
{
    struct uvw *w = calloc((size_t)k, sizeof *w);
    int64_t t0, wall;
    char key[64];
    int i;

    uvq.loop = uv_default_loop();
    uvq.lat = lat_alloc(n * k);
    uvq.next = 0;
    /* warm the pool first, one chain */
    uvq.warm = WARM;
    w[0].left = 1;
    w[0].t0 = bench_now();
    uv_queue_work(uvq.loop, &w[0].req, uvq_work, uvq_after);
    uv_run(uvq.loop, UV_RUN_DEFAULT);
    uvq.next = 0;
    t0 = bench_now();
    for (i = 0; i < k; i++) {
        w[i].left = n;
        w[i].t0 = bench_now();
        uv_queue_work(uvq.loop, &w[i].req, uvq_work, uvq_after);
    }
    uv_run(uvq.loop, UV_RUN_DEFAULT);
    wall = bench_now() - t0;
    snprintf(key, sizeof key, "%s.per_call_us", prefix);
    bench_put(key, (double)wall / (double)n / 1e3);
    snprintf(key, sizeof key, "%s.calls_per_s", prefix);
    bench_put(key, (double)(n * k) / ((double)wall / 1e9));
    put_lat(prefix, uvq.lat, n * k);
    free(uvq.lat);
    free(w);
}
#endif

/* ------------------------------------------------------------------ */

static long arg_long(char **argv, int argc, int i, long dflt)
{
    return i < argc ? strtol(argv[i], NULL, 10) : dflt;
}

static void usage(void)
{
    fputs("usage: threads post-rtt N [cross|same|free] | uv-rtt N [cross|same|free] |\n"
          "               floor-rtt N [cross|same|free] | posts P N [WINDOW] |\n"
          "               offload N |\n"
          "               uv-offload N | offload-par K N | uv-offload-par K N |"
          " list\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    int rc;

    if (strcmp(m, "list") == 0) {
#ifdef HAVE_LIBUV
        puts("uv yes");
#else
        puts("uv no");
#endif
        return 0;
    }
    if ((strcmp(m, "post-rtt") == 0 || strcmp(m, "uv-rtt") == 0 ||
         strcmp(m, "floor-rtt") == 0) && argc > 3) {
        if (strcmp(argv[3], "same") == 0)
            pin_mode = PIN_SAME;
        else if (strcmp(argv[3], "free") == 0)
            pin_mode = PIN_FREE;
        else if (strcmp(argv[3], "cross") != 0)
            usage();
    }
    if (strcmp(m, "post-rtt") == 0) {
        post_rtt(arg_long(argv, argc, 2, 20000));
#ifdef HAVE_SYS_EVENTFD_H
    } else if (strcmp(m, "floor-rtt") == 0) {
        floor_rtt(arg_long(argv, argc, 2, 20000));
#endif
    } else if (strcmp(m, "posts") == 0) {
        int p = (int)arg_long(argv, argc, 2, 1);
        if (p < 1 || p > 64)
            usage();
        posts(p, arg_long(argv, argc, 3, 500000), arg_long(argv, argc, 4, 0));
    } else if (strcmp(m, "offload") == 0) {
        long n = arg_long(argv, argc, 2, 20000);
        if ((rc = uco_run(offload_main, &n, NULL)) < 0)
            die("uco_run", rc);
    } else if (strcmp(m, "offload-par") == 0) {
        struct par p;
        memset(&p, 0, sizeof p);
        p.k = (int)arg_long(argv, argc, 2, 8);
        p.n = arg_long(argv, argc, 3, 5000);
        if (p.k < 1 || p.n < 1)
            usage();
        if ((rc = uco_run(offload_par_main, &p, NULL)) < 0)
            die("uco_run", rc);
#ifdef HAVE_LIBUV
    } else if (strcmp(m, "uv-rtt") == 0) {
        uv_rtt(arg_long(argv, argc, 2, 20000));
    } else if (strcmp(m, "uv-offload") == 0) {
        uv_offload(1, arg_long(argv, argc, 2, 20000), "offload");
    } else if (strcmp(m, "uv-offload-par") == 0) {
        int k = (int)arg_long(argv, argc, 2, 8);
        char prefix[32];
        if (k < 1)
            usage();
        snprintf(prefix, sizeof prefix, "offpar.%d", k);
        uv_offload(k, arg_long(argv, argc, 3, 5000), prefix);
#else
    } else if (strncmp(m, "uv-", 3) == 0) {
        fputs("threads: built without libuv\n", stderr);
        return 1;
#endif
    } else {
        usage();
    }
    return 0;
}
