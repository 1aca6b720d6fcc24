/*
 * switch - what a switch and a spawn cost, beside raw swapcontext in the
 * same run (ratios matter; absolute times drift between runs).
 *
 *   yield, 2 tasks:   one uco_yield handing over to the other task
 *   raw swapcontext:  one swapcontext between two bare contexts
 *   spawn+join:       uco_spawn, the task runs and returns, uco_join
 *
 * Each figure is the median of 7 runs, with min and max.
 */
#include <ucoro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define RUNS 7

static long iters = 200000;

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct fig {
    double med, min, max;
};

static struct fig summarize(double *v)
{
    struct fig f;
    qsort(v, RUNS, sizeof *v, cmp);
    f.med = v[RUNS / 2];
    f.min = v[0];
    f.max = v[RUNS - 1];
    return f;
}

/* ---- ucoro yield between two tasks */
static void *yielder(void *arg)
{
    long i, n = *(long *)arg;
    for (i = 0; i < n; i++)
        uco_yield();
    return NULL;
}

static void *yield_main(void *arg)
{
    double *ns = arg;
    uco_task *a, *b;
    long n = iters;
    int64_t t0;

    uco_spawn(&a, yielder, &n, NULL);
    uco_spawn(&b, yielder, &n, NULL);
    t0 = uco_now();
    uco_join(a, NULL, UCO_NEVER);
    uco_join(b, NULL, UCO_NEVER);
    *ns = (double)(uco_now() - t0) / (2.0 * (double)n);
    return NULL;
}

/* ---- raw swapcontext ping-pong */
static ucontext_t uc_main, uc_a, uc_b;

static void raw_fn(void)
{
    for (;;)
        swapcontext(&uc_b, &uc_a);
}

static double raw_swap(void)
{
    static char stack[64 * 1024];
    long i;
    int64_t t0;

    getcontext(&uc_b);
    uc_b.uc_stack.ss_sp = stack;
    uc_b.uc_stack.ss_size = sizeof stack;
    uc_b.uc_link = &uc_main;
    makecontext(&uc_b, raw_fn, 0);
    t0 = uco_now();
    for (i = 0; i < iters; i++)
        swapcontext(&uc_a, &uc_b);
    return (double)(uco_now() - t0) / (2.0 * (double)iters);
}

/* ---- spawn + run + join */
static void *nothing(void *arg)
{
    return arg;
}

static void *spawn_main(void *arg)
{
    double *ns = arg;
    long i, n = iters / 4;
    int64_t t0 = uco_now();

    for (i = 0; i < n; i++) {
        uco_task *t;
        uco_spawn(&t, nothing, NULL, NULL);
        uco_join(t, NULL, UCO_NEVER);
    }
    *ns = (double)(uco_now() - t0) / (double)n;
    return NULL;
}

int main(int argc, char **argv)
{
    double y[RUNS], r[RUNS], s[RUNS];
    struct fig fy, fr, fs;
    int i;

    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("usage: switch [iterations]");
        return 0;
    }
    if (argc > 1)
        iters = atol(argv[1]);
    for (i = 0; i < RUNS; i++) {
        uco_run(yield_main, &y[i], NULL);
        r[i] = raw_swap();
        uco_run(spawn_main, &s[i], NULL);
    }
    fy = summarize(y);
    fr = summarize(r);
    fs = summarize(s);
    printf("%-26s %10s %10s %10s %8s\n", "", "median ns", "min", "max", "ratio");
    printf("%-26s %10.1f %10.1f %10.1f %8s\n", "raw swapcontext", fr.med, fr.min, fr.max, "1.00");
    printf("%-26s %10.1f %10.1f %10.1f %8.2f\n", "ucoro yield, 2 tasks", fy.med, fy.min, fy.max, fy.med / fr.med);
    printf("%-26s %10.1f %10.1f %10.1f %8.2f\n", "ucoro spawn+run+join", fs.med, fs.min, fs.max, fs.med / fr.med);
    return 0;
}
