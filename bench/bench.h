/*
 * bench.h - what every benchmark program shares: clocks, resident memory,
 * random numbers, sorting and the output format.
 *
 * Each program prints one line per figure:
 *
 *     R <key> <value>
 *
 * (lines starting with '#' are comments for a human).  bench/run.sh runs
 * the programs several times, interleaved, collects the R lines and prints
 * the medians with min-max in one table.
 */
#ifndef BENCH_H
#define BENCH_H

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Nanoseconds on CLOCK_MONOTONIC (the clock ucoro's deadlines use). */
static inline int64_t bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of the whole process (user + system), nanoseconds. */
static inline int64_t bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmPTE"), or -1. */
static inline long bench_status_kib(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* A small, fast, seeded generator (xorshift64*), so that every system is
 * given the same random numbers. */
static inline uint64_t bench_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The p-th percentile (0..100) of v[0..n), which is sorted in place. */
static inline int64_t bench_pct(int64_t *v, size_t n, double p)
{
    size_t i;
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_i64);
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static inline void bench_put(const char *key, double value)
{
    printf("R %s %.10g\n", key, value);
    fflush(stdout);
}

/* A stack of usable bytes with a guard page below it, the way ucoro maps
 * them: one anonymous mapping, pages resident only once touched.  Returns
 * the usable base, or NULL. */
static inline void *bench_stack(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (madvise(m, page, MADV_GUARD_INSTALL) != 0 &&
        mprotect(m, page, PROT_NONE) != 0) {
        munmap(m, size + page);
        return NULL;
    }
    return m + page;
}

static inline void bench_stack_free(void *base, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap((char *)base - page, size + page);
}

/* The stack size every system is given: ucoro's default. */
#define BENCH_STACK ((size_t)256 * 1024)

/* Aim each timed loop at about this long. */
#define BENCH_TARGET_NS ((int64_t)60 * 1000 * 1000)

/*
 * The sleepers' figures, the same for every system.  deadline[i] and
 * woke[i] are absolute ns, deadline[i] = base + a whole number of ms;
 * order[k] is the k-th sleeper to wake; sleepers with equal deadlines
 * must wake in the order of their index (the order they slept in).
 * Lateness is split in two: the wake-up (the first of the sleepers with
 * the same deadline: how late the process got the CPU back from the
 * kernel) and the queueing (each sleeper after that first one).
 */
static inline void bench_sleep_report(const int64_t *deadline,
                                      const int64_t *woke, const long *order,
                                      long n, int64_t base)
{
    enum { MS = 1001 };
    int64_t *late = malloc((size_t)n * sizeof *late);
    int64_t *queue = malloc((size_t)n * sizeof *queue);
    int64_t first[MS], wake[MS], last = 0;
    long i, early = 0, bad = 0, nw = 0;

    for (i = 0; i < MS; i++)
        first[i] = INT64_MAX;
    for (i = 0; i < n; i++) {
        long ms = (long)((deadline[i] - base) / 1000000);
        if (woke[i] < deadline[i])
            early++;
        late[i] = woke[i] - deadline[i];
        if (deadline[i] > last)
            last = deadline[i];
        if (ms >= 0 && ms < MS && woke[i] < first[ms])
            first[ms] = woke[i];
    }
    for (i = 0; i < n; i++) {
        long ms = (long)((deadline[i] - base) / 1000000);
        queue[i] = ms >= 0 && ms < MS ? woke[i] - first[ms] : 0;
    }
    for (i = 0; i < MS; i++)
        if (first[i] != INT64_MAX)
            wake[nw++] = first[i] - (base + (int64_t)i * 1000000);
    for (i = 1; i < n; i++) {
        long j = order[i], p = order[i - 1];
        if (deadline[j] < deadline[p] || (deadline[j] == deadline[p] && j < p))
            bad++;
    }
    bench_put("sleep.ideal_ms", (double)(last - base) / 1e6);
    bench_put("sleep.early", (double)early);
    bench_put("sleep.order_bad", (double)bad);
    bench_put("sleep.late_p50_us", (double)bench_pct(late, (size_t)n, 50) / 1e3);
    bench_put("sleep.late_p99_us", (double)bench_pct(late, (size_t)n, 99) / 1e3);
    bench_put("sleep.late_max_us", (double)bench_pct(late, (size_t)n, 100) / 1e3);
    bench_put("sleep.wake_p99_us", (double)bench_pct(wake, (size_t)nw, 99) / 1e3);
    bench_put("sleep.queue_p99_us", (double)bench_pct(queue, (size_t)n, 99) / 1e3);
    free(late);
    free(queue);
}

/*
 * The rings: N contexts pass the turn round and round, every one of them
 * from the same place in the same loop (so that no system is helped or
 * hurt by where its switch returns to).  Context 0 calls this once per
 * round: it warms the ring first (every stack touched, caches full), then
 * reads the clock every few thousand switches, and returns true when the
 * time is up, with the ns per switch in *per_switch.
 */
static inline int bench_ring_tick(long n, double *per_switch)
{
    static long warm = -1, check, left, rounds;
    static int64_t t0;
    int64_t t;

    if (warm < 0) {
        warm = 20000 / n + 2;
        check = 4096 / n + 1;
    }
    if (warm > 0) {
        if (--warm == 0) {
            t0 = bench_now();
            left = check;
        }
        return 0;
    }
    rounds++;
    if (--left > 0)
        return 0;
    left = check;
    t = bench_now();
    if (t - t0 < BENCH_TARGET_NS)
        return 0;
    *per_switch = (double)(t - t0) / ((double)rounds * (double)n);
    return 1;
}

#endif /* BENCH_H */
