/*
 * ucoro.c - ucoro's side of the benchmarks.  Built twice: bench/ucoro-ctx
 * (the backend configure chose: ucontext unless --enable-fast-switch) and
 * bench/ucoro-fast (the library compiled again with the fast switch).
 *
 *   ucoro-X yield N        ns per uco_yield among N tasks in round robin
 *   ucoro-X spawn          ns per uco_spawn + the task runs + uco_join
 *   ucoro-X sleep N        N tasks sleep until random deadlines 0-1000 ms
 *                          (ms granularity, the same ones bench/peers gives
 *                          libuv) after a common start, by which all are
 *                          asleep: wall time against the last deadline,
 *                          CPU time from the start, lateness, order
 *   ucoro-X cancel N K     N tasks sleep; cancel K of them one at a time:
 *                          ns from uco_cancel to the task running again
 *
 * One measurement per run, printed as "R key value" lines (bench.h);
 * bench/run.sh repeats them and takes medians.
 */
#include "bench.h"

#include <ucoro.h>

#if defined(UCO_FAST_SWITCH) && UCO_FAST_SWITCH
#define BACKEND "fast"
#else
#define BACKEND "ucontext"
#endif

static void die(const char *what, int rc)
{
    fprintf(stderr, "ucoro bench: %s: %s\n", what, uco_strerror(rc));
    exit(1);
}

/* ------------------------------------------------------------------ */
/* yield among N tasks                                                */
/* ------------------------------------------------------------------ */

static long ntasks;
static volatile int stop;
static double per_switch;

/* In strict round robin, between two turns of task 0 every one of the N
 * tasks yields once: a round is N switches. */
static void *ring(void *arg)
{
    long me = (long)(intptr_t)arg;

    for (;;) {
        uco_yield();
        if (stop)
            break;
        if (me == 0 && bench_ring_tick(ntasks, &per_switch))
            stop = 1;
    }
    return NULL;
}

static void *yield_main(void *arg)
{
    uco_task **t = calloc((size_t)ntasks, sizeof *t);
    long i;
    int rc;

    (void)arg;
    for (i = 0; i < ntasks; i++) {
        rc = uco_spawn(&t[i], ring, (void *)(intptr_t)i, NULL);
        if (rc < 0)
            die("uco_spawn", rc);
    }
    for (i = 0; i < ntasks; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    free(t);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* spawn + run + join                                                 */
/* ------------------------------------------------------------------ */

static void *nothing(void *arg)
{
    return arg;
}

static double per_spawn;

static void *spawn_main(void *arg)
{
    long i;
    int64_t t0, t1 = 0;
    uco_task *t;

    (void)arg;
    for (i = 0; i < 2000; i++) { /* warm: the stack pool is filled */
        uco_spawn(&t, nothing, NULL, NULL);
        uco_join(t, NULL, UCO_NEVER);
    }
    t0 = uco_now();
    for (i = 1;; i++) {
        int rc = uco_spawn(&t, nothing, NULL, NULL);
        if (rc < 0)
            die("uco_spawn", rc);
        uco_join(t, NULL, UCO_NEVER);
        if (i % 256 == 0 && (t1 = uco_now()) - t0 >= BENCH_TARGET_NS)
            break;
    }
    per_spawn = (double)(t1 - t0) / (double)i;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* sleepers                                                           */
/* ------------------------------------------------------------------ */

/* Every sleeper is asleep by base = (release time) + SETTLE; the
 * deadlines are base + 0..1000 ms. */
#define SETTLE UCO_MSEC(300)

static int64_t *deadline, *woke, base, asleep_at;
static long *order, nwoke, nasleep;
static uco_waitgroup *wg;
static uco_event *go, *release;

static void *sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;

    uco_event_wait(go, UCO_NEVER);
    deadline[i] += base;
    if (++nasleep == ntasks)
        asleep_at = uco_now();
    uco_sleep_until(deadline[i]);
    woke[i] = uco_now();
    order[nwoke++] = i;
    uco_waitgroup_done(wg);
    uco_event_wait(release, UCO_NEVER); /* parked: no teardown measured */
    return NULL;
}

static void *sleep_main(void *arg)
{
    long i, n = ntasks;
    uint64_t seed = 12345;
    int64_t start, end, cpu0, cpu1;
    uco_attr a = { 0, 0, NULL, UCO_DETACHED };
    int rc;

    (void)arg;
    uco_waitgroup_create(&wg);
    uco_event_create(&go);
    uco_event_create(&release);
    uco_waitgroup_add(wg, (int)n);
    for (i = 0; i < n; i++)
        deadline[i] = UCO_MSEC((int64_t)(bench_rand(&seed) % 1001));
    start = uco_now();
    for (i = 0; i < n; i++) {
        rc = uco_spawn(NULL, sleeper, (void *)(intptr_t)i, &a);
        if (rc < 0)
            die("uco_spawn", rc);
    }
    uco_yield(); /* every task has run once and waits for go */
    base = uco_now() + SETTLE;
    uco_event_set(go);
    uco_sleep_until(base); /* first in line at base: slept before them */
    cpu0 = bench_cpu();
    uco_waitgroup_wait(wg, UCO_NEVER);
    end = uco_now();
    cpu1 = bench_cpu();
    bench_put("sleep.spawn_ms", (double)(asleep_at - start) / 1e6);
    bench_put("sleep.settled", asleep_at <= base);
    bench_put("sleep.wall_ms", (double)(end - base) / 1e6);
    bench_put("sleep.cpu_ms", (double)(cpu1 - cpu0) / 1e6);
    bench_sleep_report(deadline, woke, order, n, base);
    uco_event_set(release);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* cancel-to-wake among sleepers                                      */
/* ------------------------------------------------------------------ */

static int64_t woke_at;

static void *long_sleeper(void *arg)
{
    int64_t d = *(int64_t *)arg;
    if (uco_sleep_until(d) == -ECANCELED)
        woke_at = uco_now();
    return NULL;
}

static long ncancel;

static void *cancel_main(void *arg)
{
    long i, n = ntasks, k = ncancel;
    uint64_t seed = 777;
    int64_t *d = malloc((size_t)n * sizeof *d);
    int64_t *lat = malloc((size_t)k * sizeof *lat);
    long *idx = malloc((size_t)n * sizeof *idx);
    uco_task **t = malloc((size_t)n * sizeof *t);
    int64_t base = uco_now();
    int rc;

    (void)arg;
    for (i = 0; i < n; i++) {
        d[i] = base + UCO_SEC(100) + (int64_t)(bench_rand(&seed) % 1000000000);
        idx[i] = i;
        rc = uco_spawn(&t[i], long_sleeper, &d[i], NULL);
        if (rc < 0)
            die("uco_spawn", rc);
    }
    uco_yield(); /* all asleep */
    for (i = 0; i < k; i++) { /* k distinct victims, random order */
        long j = i + (long)(bench_rand(&seed) % (uint64_t)(n - i)), v;
        int64_t t0;
        v = idx[j];
        idx[j] = idx[i];
        idx[i] = v;
        woke_at = 0;
        t0 = uco_now();
        uco_cancel(t[v]);
        uco_yield();
        lat[i] = woke_at - t0;
        uco_join(t[v], NULL, UCO_NEVER);
    }
    bench_put("cancel.p50_ns", (double)bench_pct(lat, (size_t)k, 50));
    bench_put("cancel.p99_ns", (double)bench_pct(lat, (size_t)k, 99));
    free(d);
    free(lat);
    free(idx);
    free(t); /* the rest are cancelled when main returns */
    return NULL;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    int rc;

    ntasks = argc > 2 ? atol(argv[2]) : 2;
    if (strcmp(what, "yield") == 0 && ntasks >= 1) {
        rc = uco_run(yield_main, NULL, NULL);
        if (rc < 0)
            die("uco_run", rc);
        printf("R yield.%ld %.3f\n", ntasks, per_switch);
    } else if (strcmp(what, "spawn") == 0) {
        rc = uco_run(spawn_main, NULL, NULL);
        if (rc < 0)
            die("uco_run", rc);
        bench_put("spawn", per_spawn);
    } else if (strcmp(what, "sleep") == 0 && ntasks >= 1) {
        deadline = malloc((size_t)ntasks * sizeof *deadline);
        woke = calloc((size_t)ntasks, sizeof *woke);
        order = malloc((size_t)ntasks * sizeof *order);
        rc = uco_run(sleep_main, NULL, NULL);
        if (rc < 0)
            die("uco_run", rc);
    } else if (strcmp(what, "cancel") == 0 && ntasks >= 1) {
        ncancel = argc > 3 ? atol(argv[3]) : 1000;
        if (ncancel > ntasks)
            ncancel = ntasks;
        rc = uco_run(cancel_main, NULL, NULL);
        if (rc < 0)
            die("uco_run", rc);
    } else if (strcmp(what, "backend") == 0) {
        puts(BACKEND);
    } else {
        fputs("usage: ucoro-ctx|ucoro-fast yield N | spawn | sleep N |"
              " cancel N K | backend\n", stderr);
        return 2;
    }
    return 0;
}
