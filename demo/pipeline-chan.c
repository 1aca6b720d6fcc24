/*
 * pipeline-chan - producers, workers and a consumer joined by channels.
 *
 *   3 producers --> work (buffered) --> 2 workers --> results (buffered)
 *                                                      --> 1 consumer
 *
 * Producers number work items; workers compute each item's Collatz step
 * count; the consumer checks that every item arrives exactly once and
 * sums the results.  Each stage runs in a task group owned by the
 * pipeline task, which shuts the pipeline down in order: when the
 * producers' group is empty it closes `work`, so the workers drain it and
 * their receives then fail with -EPIPE; when the workers' group is empty
 * it closes `results`, and the consumer drains it and ends the same way.
 *
 * SIGINT (Ctrl-C) or SIGTERM is a wait too: a task waiting for them in
 * uco_signal_wait cancels the pipeline task, which cancels the groups it
 * owns, so every member's pending send or receive returns -ECANCELED.
 * The program then says how many items got through.  A second signal
 * meanwhile kills the process.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS 3
#define WORKERS 2
#define CAPACITY 8

struct item {
    uint64_t id;       /* 0, 1, 2, ...: producer p makes p, p+3, p+6, ... */
    uint32_t producer; /* 0 .. PRODUCERS-1 */
    uint32_t worker;   /* 0 .. WORKERS-1, set by the worker */
    uint32_t steps;    /* the result: Collatz steps from id + 1 down to 1 */
};

struct pipeline {
    uint64_t n;              /* items to make; 0: forever */
    uco_chan *work, *results;
    uint64_t produced[PRODUCERS], transformed[WORKERS];
    uint64_t consumed, from[PRODUCERS], sum_steps;
    uint32_t max_steps;
    uint64_t max_at;         /* the n with the most steps */
    unsigned char *seen;     /* seen[id]: fixed runs check each item once */
    uint64_t duplicates;
    int64_t start;
    int err;                 /* the first unexpected error */
};

static struct pipeline pl;

static void fail(int rc)
{
    if (rc != -ECANCELED && pl.err == 0)
        pl.err = rc;
}

static uint32_t collatz_steps(uint64_t n)
{
    uint32_t s = 0;
    while (n != 1) {
        n = (n & 1) ? 3 * n + 1 : n / 2;
        s++;
    }
    return s;
}

/* ---------------------------------------------------------------- stages */

static void *producer(void *arg)
{
    uint32_t p = (uint32_t)(uintptr_t)arg;
    struct item it = { .producer = p };
    uint64_t id;
    int rc;

    for (id = p; pl.n == 0 || id < pl.n; id += PRODUCERS) {
        it.id = id;
        rc = uco_chan_send(pl.work, &it, UCO_NEVER);
        if (rc < 0) {
            fail(rc);
            break;
        }
        pl.produced[p]++;
    }
    return NULL;
}

static void *worker(void *arg)
{
    uint32_t w = (uint32_t)(uintptr_t)arg;
    struct item it;
    int rc;

    for (;;) {
        rc = uco_chan_recv(pl.work, &it, UCO_NEVER);
        if (rc == -EPIPE)
            break; /* closed and drained: the producers are done */
        if (rc < 0) {
            fail(rc);
            break;
        }
        it.worker = w;
        it.steps = collatz_steps(it.id + 1);
        rc = uco_chan_send(pl.results, &it, UCO_NEVER);
        if (rc < 0) {
            fail(rc);
            break;
        }
        pl.transformed[w]++;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int64_t next_report = uco_now() + UCO_SEC(1);
    uint64_t last = 0;
    struct item it;
    int rc;

    (void)arg;
    for (;;) {
        rc = uco_chan_recv(pl.results, &it, UCO_NEVER);
        if (rc == -EPIPE)
            break; /* closed and drained: the workers are done */
        if (rc < 0) {
            fail(rc);
            break;
        }
        if (pl.seen) {
            if (it.id >= pl.n || pl.seen[it.id])
                pl.duplicates++;
            else
                pl.seen[it.id] = 1;
        }
        pl.consumed++;
        pl.from[it.producer]++;
        pl.sum_steps += it.steps;
        if (it.steps > pl.max_steps) {
            pl.max_steps = it.steps;
            pl.max_at = it.id + 1;
        }
        if (pl.n == 0 && (pl.consumed & 1023) == 0 && uco_now() >= next_report) {
            double t = (double)(uco_now() - pl.start) / 1e9;
            printf("  %6.1f s  %12llu items through  (%.0f/s in the last second)\n", t,
                   (unsigned long long)pl.consumed, (double)(pl.consumed - last));
            fflush(stdout);
            last = pl.consumed;
            next_report += UCO_SEC(1);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- the pipeline */

static uint64_t sum64(const uint64_t *v, int n)
{
    uint64_t s = 0;
    while (n-- > 0)
        s += *v++;
    return s;
}

/* Spawn count members of a new group running fn(i).  0 or an error. */
static int stage(uco_group **g, uco_fn *fn, int count, const char *name)
{
    uco_attr a = { .name = name };
    int i, rc;

    rc = uco_group_create(g, 0);
    for (i = 0; rc == 0 && i < count; i++)
        rc = uco_group_spawn(*g, NULL, fn, (void *)(uintptr_t)i, &a);
    return rc;
}

/* Returns 0, -ECANCELED (interrupted) or an error. */
static void *pipeline_task(void *arg)
{
    int *status = arg;
    uco_group *gp = NULL, *gw = NULL, *gc = NULL;
    int rc;

    rc = uco_chan_create(&pl.work, sizeof(struct item), CAPACITY);
    if (rc == 0)
        rc = uco_chan_create(&pl.results, sizeof(struct item), CAPACITY);
    if (rc < 0)
        goto out;
    pl.start = uco_now();
    if ((rc = stage(&gp, producer, PRODUCERS, "producer")) < 0 ||
        (rc = stage(&gw, worker, WORKERS, "worker")) < 0 ||
        (rc = stage(&gc, consumer, 1, "consumer")) < 0)
        goto out;

    /* Shut down in order, each stage after the one before it. */
    rc = uco_group_wait(gp, UCO_NEVER);
    if (rc < 0)
        goto out;
    printf("  producers done: %llu items sent; closing 'work'\n",
           (unsigned long long)sum64(pl.produced, PRODUCERS));
    uco_chan_close(pl.work);
    rc = uco_group_wait(gw, UCO_NEVER);
    if (rc < 0)
        goto out;
    printf("  workers done: %llu items transformed (", (unsigned long long)sum64(pl.transformed, WORKERS));
    for (int w = 0; w < WORKERS; w++)
        printf("%sworker %d: %llu", w ? ", " : "", w + 1, (unsigned long long)pl.transformed[w]);
    printf("); closing 'results'\n");
    uco_chan_close(pl.results);
    rc = uco_group_wait(gc, UCO_NEVER);
out:
    /* Cancel what is left (everything, when interrupted) and wait until
     * it has unwound; only then may the channels go. */
    if (gc)
        uco_group_destroy(gc);
    if (gw)
        uco_group_destroy(gw);
    if (gp)
        uco_group_destroy(gp);
    if (pl.results)
        uco_chan_destroy(pl.results);
    if (pl.work)
        uco_chan_destroy(pl.work);
    *status = rc;
    return NULL;
}

/* ---------------------------------------------------------------- signals */

struct watcher {
    uco_task *target;
    int sig;
};

/* Wait for SIGINT or SIGTERM, then cancel the pipeline.  From the first
 * wait on them the library handles both for the process; a second one,
 * while the pipeline unwinds, gets the default action back and kills the
 * process.  main_task cancels this task once the pipeline has ended. */
static void *watch_signals(void *arg)
{
    struct watcher *w = arg;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (uco_signal_wait(&set, &sig, UCO_NEVER) < 0)
        return NULL; /* cancelled: the pipeline has ended */
    w->sig = sig;
    printf("\npipeline-chan: %s: cancelling the pipeline\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    uco_cancel(w->target);
    if (uco_signal_wait(&set, &sig, UCO_NEVER) == 0) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return NULL;
}

struct outcome {
    int status; /* the pipeline task's */
    int sig;    /* the signal that stopped it, or 0 */
};

static void *main_task(void *arg)
{
    struct outcome *o = arg;
    struct watcher w = { 0 };
    uco_attr pa = { .name = "pipeline" }, wa = { .name = "signals" };
    uco_task *pt, *wt;
    int rc;

    rc = uco_spawn(&pt, pipeline_task, &o->status, &pa);
    if (rc < 0) {
        o->status = rc;
        return NULL;
    }
    w.target = pt;
    if (uco_spawn(&wt, watch_signals, &w, &wa) < 0)
        wt = NULL;
    uco_join(pt, NULL, UCO_NEVER);
    if (wt) {
        uco_cancel(wt);
        uco_join(wt, NULL, UCO_NEVER);
    }
    o->sig = w.sig;
    return NULL;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fputs("usage: pipeline-chan [-n ITEMS | --forever]\n"
          "\n"
          "A pipeline of tasks joined by channels, as with asyncio.Queue or\n"
          "Go channels:\n"
          "\n"
          "  3 producers -> work (capacity 8) -> 2 workers -> results\n"
          "  (capacity 8) -> 1 consumer\n"
          "\n"
          "Producers number ITEMS work items (default 1000); workers compute\n"
          "each one's Collatz step count; the consumer checks that every\n"
          "item arrives exactly once and sums the results.  A full channel\n"
          "suspends its senders, an empty one its receivers.  Shutdown goes\n"
          "in order: when the producers are done the pipeline closes 'work';\n"
          "the workers drain it, see it closed (-EPIPE) and end; then it\n"
          "closes 'results' and the consumer drains it and ends.\n"
          "\n"
          "--forever makes the producers go on, and the consumer report once\n"
          "a second, until Ctrl-C.  Ctrl-C (SIGINT) or SIGTERM, at any time:\n"
          "a task waiting for them (uco_signal_wait) cancels the pipeline\n"
          "task, which cancels every stage (their pending sends and receives\n"
          "return -ECANCELED); the program then says how many items got\n"
          "through.  A second signal meanwhile kills the process.\n",
          f);
}

int main(int argc, char **argv)
{
    struct outcome o = { 0 };
    uint64_t n = 1000, i, expect_sum = 0;
    uint32_t expect_max = 0;
    bool ok;
    int rc;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[a], "--forever") == 0) {
            n = 0;
        } else if (strcmp(argv[a], "-n") == 0 && a + 1 < argc) {
            char *end;
            errno = 0;
            n = strtoull(argv[++a], &end, 10);
            if (errno || *end || end == argv[a] || argv[a][0] == '-' || n == 0 ||
                n > ((uint64_t)1 << 32)) {
                fprintf(stderr, "pipeline-chan: -n wants 1 .. 2^32 items\n");
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    pl.n = n;
    if (n) {
        pl.seen = calloc(n, 1);
        if (!pl.seen) {
            fprintf(stderr, "pipeline-chan: %s\n", uco_strerror(-ENOMEM));
            return 1;
        }
    }

    printf("pipeline-chan: %d producers -> work (cap %d) -> %d workers -> results "
           "(cap %d) -> 1 consumer; ", PRODUCERS, CAPACITY, WORKERS, CAPACITY);
    if (n)
        printf("%llu items\n", (unsigned long long)n);
    else
        printf("until Ctrl-C\n");
    fflush(stdout);

    rc = uco_run(main_task, &o, NULL);
    if (rc == 0)
        rc = o.status;
    double t = (double)(uco_now() - pl.start) / 1e9;

    if (rc == -ECANCELED) {
        uint64_t made = sum64(pl.produced, PRODUCERS), done = sum64(pl.transformed, WORKERS);
        printf("  stopped after %.3f s: %llu items produced, %llu transformed, "
               "%llu got through to the consumer",
               t, (unsigned long long)made, (unsigned long long)done,
               (unsigned long long)pl.consumed);
        if (made > pl.consumed)
            printf(" (%llu were in the channels or in a worker's hands)",
                   (unsigned long long)(made - pl.consumed));
        printf("\n");
    } else if (rc == 0) {
        printf("  consumer done: %llu items received", (unsigned long long)pl.consumed);
        for (int p = 0; p < PRODUCERS; p++)
            printf("%s%llu", p ? "/" : ", from the producers: ", (unsigned long long)pl.from[p]);
        printf("\n  Collatz steps of 1..%llu: total %llu, most %u (from %llu); %.1f ms\n",
               (unsigned long long)n, (unsigned long long)pl.sum_steps, pl.max_steps,
               (unsigned long long)pl.max_at, t * 1e3);
    }
    fflush(stdout);
    free(pl.seen);
    if (pl.err) {
        fprintf(stderr, "pipeline-chan: %s\n", uco_strerror(pl.err));
        return 1;
    }
    if (rc == -ECANCELED)
        return n == 0 && o.sig ? 0 : 1; /* --forever ends this way */
    if (rc < 0) {
        fprintf(stderr, "pipeline-chan: %s\n", uco_strerror(rc));
        return 1;
    }

    /* Every item exactly once, and the same figures computed directly. */
    for (i = 0; i < n; i++) {
        uint32_t s = collatz_steps(i + 1);
        expect_sum += s;
        if (s > expect_max)
            expect_max = s;
    }
    ok = pl.consumed == n && pl.duplicates == 0 && pl.sum_steps == expect_sum &&
         pl.max_steps == expect_max;
    if (!ok) {
        fprintf(stderr, "pipeline-chan: wrong: %llu items received (%llu duplicates), "
                "total %llu (expected %llu)\n", (unsigned long long)pl.consumed,
                (unsigned long long)pl.duplicates, (unsigned long long)pl.sum_steps,
                (unsigned long long)expect_sum);
        return 1;
    }
    printf("  every item arrived exactly once; the sums match a direct computation\n");
    return 0;
}
