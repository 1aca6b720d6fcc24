/*
 * million.c - a million live tasks in one process.
 *
 *   million [COUNT]           (default 1,000,000)
 *
 * 1. With default attributes (256 KiB stacks, guard regions made with
 *    MADV_GUARD_INSTALL where the kernel has it), spawn COUNT tasks that
 *    each go to sleep with no deadline, let every one of them run to that
 *    point, and measure VmRSS before and after: resident KiB per idle task
 *    (page tables, VmPTE, are not part of VmRSS and are shown apart).
 *    Then cancel all of them and join all of them, timed.
 * 2. In a child process with UCO_GUARD=mprotect (two mappings a stack):
 *    spawn until uco_spawn refuses, which must happen cleanly at the
 *    vm.max_map_count ceiling: -EAGAIN, and uco_strerror naming the limit.
 *    Then one task is cancelled and joined, and a spawn must succeed again.
 *
 * Figures are printed as "R key value" lines (bench.h), comments as "#".
 */
#include "bench.h"

#include <sys/wait.h>
#include <ucoro.h>

static long count = 1000000;

static void *idle(void *arg)
{
    uco_sleep_until(UCO_NEVER); /* until cancelled */
    return arg;
}

static void *million_main(void *arg)
{
    uco_task **t = malloc((size_t)count * sizeof *t);
    long i, held = 0, rss0, rss1, pte0, pte1;
    int64_t t0, t1, t2, t3;
    int rc = 0;

    (void)arg;
    if (!t)
        return NULL;
    memset(t, 0, (size_t)count * sizeof *t); /* resident before rss0 */
    rss0 = bench_status_kib("VmRSS");
    pte0 = bench_status_kib("VmPTE");
    t0 = bench_now();
    for (i = 0; i < count; i++) {
        rc = uco_spawn(&t[i], idle, NULL, NULL);
        if (rc < 0)
            break;
        held++;
    }
    t1 = bench_now();
    uco_yield(); /* each task runs once, to its sleep */
    t2 = bench_now();
    rss1 = bench_status_kib("VmRSS");
    pte1 = bench_status_kib("VmPTE");
    if (rc < 0)
        printf("# uco_spawn refused task %ld: %s\n", held, uco_strerror(rc));
    bench_put("million.held", (double)held);
    bench_put("million.kib_per_task", (double)(rss1 - rss0) / (double)held);
    bench_put("million.pte_kib_per_task", (double)(pte1 - pte0) / (double)held);
    bench_put("million.spawn_s", (double)(t1 - t0) / 1e9);
    bench_put("million.firstrun_s", (double)(t2 - t1) / 1e9);
    printf("# %ld tasks idle: VmRSS %ld -> %ld KiB, VmPTE %ld -> %ld KiB\n",
           held, rss0, rss1, pte0, pte1);
    for (i = 0; i < held; i++)
        uco_cancel(t[i]);
    for (i = 0; i < held; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != -ECANCELED)
            printf("# task %ld did not end cancelled\n", i);
    t3 = bench_now();
    bench_put("million.cancel_join_s", (double)(t3 - t2) / 1e9);
    free(t);
    return NULL;
}

/* Spawn until refused, with mprotect guards.  Runs in a child. */
static void *ceiling_main(void *arg)
{
    size_t cap = 1 << 16, held = 0;
    uco_task **t = malloc(cap * sizeof *t);
    int rc;
    int64_t t0 = bench_now();

    (void)arg;
    for (;;) {
        if (held == cap)
            t = realloc(t, (cap *= 2) * sizeof *t);
        rc = uco_spawn(&t[held], idle, NULL, NULL);
        if (rc < 0)
            break;
        held++;
        if ((long)held >= count)
            break;
    }
    uco_yield();
    bench_put("mprotect.held", (double)held);
    bench_put("mprotect.spawn_s", (double)(bench_now() - t0) / 1e9);
    bench_put("mprotect.eagain", rc == -EAGAIN);
    bench_put("mprotect.names_limit",
              rc < 0 && strstr(uco_strerror(rc), "vm.max_map_count") != NULL);
    printf("# mprotect guards: refused after %zu tasks: %d, \"%s\"\n", held,
           rc, rc < 0 ? uco_strerror(rc) : "(not refused)");
    if (rc < 0 && held > 0) { /* still usable: one ends, one more starts */
        uco_cancel(t[held - 1]);
        uco_join(t[held - 1], NULL, UCO_NEVER);
        rc = uco_spawn(&t[held - 1], idle, NULL, NULL);
        bench_put("mprotect.respawn_ok", rc == 0);
    }
    t0 = bench_now();
    free(t);
    return (void *)(intptr_t)t0; /* the rest are cancelled by uco_run */
}

static int ceiling(void)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        void *r = NULL;
        int rc;
        setenv("UCO_GUARD", "mprotect", 1);
        rc = uco_run(ceiling_main, NULL, &r);
        bench_put("mprotect.teardown_s",
                  (double)(bench_now() - (int64_t)(intptr_t)r) / 1e9);
        bench_put("mprotect.run_rc", rc);
        exit(rc == 0 ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        printf("# the mprotect child failed (status %d)\n", status);
        bench_put("mprotect.clean", 0);
        return 1;
    }
    bench_put("mprotect.clean", 1);
    return 0;
}

int main(int argc, char **argv)
{
    int rc, bad;

    if (argc > 1 && (count = atol(argv[1])) < 1) {
        fputs("usage: million [COUNT]\n", stderr);
        return 2;
    }
    bad = ceiling(); /* first: the child must start with no guard mode set */
    rc = uco_run(million_main, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "million: uco_run: %s\n", uco_strerror(rc));
        return 1;
    }
    return bad;
}
