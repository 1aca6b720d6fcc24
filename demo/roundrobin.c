/*
 * roundrobin - a few named tasks interleaving: three workers yield after
 * every step and run in strict turn; a fourth sleeps between steps and
 * wakes on time, however busy the others are.
 */
#include <ucoro.h>

#include <stdio.h>
#include <string.h>

static int64_t start;

static double elapsed(void)
{
    return (double)(uco_now() - start) / 1e9;
}

static void *worker(void *arg)
{
    int steps = *(int *)arg, i;
    for (i = 0; i < steps; i++) {
        printf("%6.3f s  %-8s step %d\n", elapsed(), uco_task_name(uco_self()), i);
        if (uco_yield() < 0)
            break;
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 3; i++) {
        if (uco_sleep(UCO_MSEC(100)) < 0)
            break;
        printf("%6.3f s  %-8s woke after 100 ms\n", elapsed(), uco_task_name(uco_self()));
    }
    return NULL;
}

static void *main_task(void *arg)
{
    static const char *names[] = { "alpha", "beta", "gamma" };
    static int steps = 3;
    uco_task *t[4];
    uco_attr a = { 0 };
    int i, n = 0;

    (void)arg;
    for (i = 0; i < 3; i++) {
        a.name = names[i];
        if (uco_spawn(&t[n], worker, &steps, &a) == 0)
            n++;
    }
    a.name = "sleeper";
    if (uco_spawn(&t[n], sleeper, NULL, &a) == 0)
        n++;
    for (i = 0; i < n; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    return NULL;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: roundrobin\n"
             "Three tasks (alpha, beta, gamma) print a step and yield: they\n"
             "take turns in the order they became ready.  A fourth task\n"
             "sleeps 100 ms three times and wakes on time meanwhile.");
        return 0;
    }
    start = uco_now();
    rc = uco_run(main_task, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "roundrobin: %s\n", uco_strerror(rc));
        return 1;
    }
    return 0;
}
