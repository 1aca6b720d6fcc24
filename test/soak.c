/*
 * soak - random operations on two schedulers in two threads for a while
 * (SOAK_SECONDS, default 60), checking that resident memory (within
 * SOAK_RSS_MARGIN_KIB, default 8 MiB) and the number of open fds stay
 * flat.  Not part of make check: make soak runs
 * it, and CI does.
 *
 * Each scheduler keeps a changing population of tasks that spawn, yield,
 * sleep, cancel and join each other, pass bytes through pipes with
 * uco_read/uco_write under deadlines, send on channels, offload small
 * jobs, post to the other scheduler and submit to it.  After a warm-up
 * the figures are taken; at the end the run must be back at them, within
 * a margin for the allocator (RSS) and exactly (fds).
 */
#define _GNU_SOURCE
#include <ucoro.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int64_t end_at, warm_at;
static uco_sched *scheds[2];
static long ops[2], posts_run, errors;

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) % n;
}

static void *noop_job(void *arg)
{
    return arg;
}

static void *posted(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&posts_run, 1, __ATOMIC_RELAXED);
    uco_yield();
    return NULL;
}

static void *sleeper(void *arg)
{
    uco_sleep((int64_t)(uintptr_t)arg);
    return NULL;
}

/* A pipe passed through by a writer and a reader task. */
static void *piper(void *arg)
{
    int p[2], i;
    char buf[256];
    unsigned seed = (unsigned)(uintptr_t)arg;

    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
        __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (i = 0; i < 20; i++) {
        size_t n = 1 + rnd(&seed, sizeof buf);
        ssize_t w = uco_write(p[1], buf, n, uco_now() + UCO_MSEC(100));
        ssize_t r = w > 0 ? uco_read(p[0], buf, sizeof buf, uco_now() + UCO_MSEC(100)) : w;
        if (r < 0 && r != -ECANCELED)
            __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        if (r < 0)
            break;
    }
    uco_fd_close(p[0]);
    uco_fd_close(p[1]);
    return NULL;
}

static void *chatter(void *arg)
{
    uco_chan *c = arg;
    int v = 0, i;

    for (i = 0; i < 10; i++)
        if (uco_chan_recv(c, &v, uco_now() + UCO_MSEC(50)) < 0)
            break;
    return NULL;
}

static void one_op(int me, unsigned *seed)
{
    uco_task *t = NULL;
    uco_chan *c;
    void *r;
    int i, v = 1;

    switch (rnd(seed, 8)) {
    case 0:
        if (uco_spawn(&t, sleeper, (void *)(uintptr_t)(rnd(seed, 3000) * 1000), NULL) == 0) {
            if (rnd(seed, 2))
                uco_cancel(t);
            uco_join(t, NULL, UCO_NEVER);
        }
        break;
    case 1:
        if (uco_spawn(&t, piper, (void *)(uintptr_t)rnd(seed, 1000), NULL) == 0)
            uco_join(t, NULL, UCO_NEVER);
        break;
    case 2:
        if (uco_chan_create(&c, sizeof(int), rnd(seed, 3)) == 0) {
            if (uco_spawn(&t, chatter, c, NULL) == 0) {
                for (i = 0; i < 10; i++)
                    uco_chan_send(c, &v, uco_now() + UCO_MSEC(50));
                uco_join(t, NULL, UCO_NEVER);
            }
            uco_chan_destroy(c);
        }
        break;
    case 3:
        if (uco_offload(noop_job, &v, NULL, &r, UCO_NEVER) != 0 || r != &v)
            __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        break;
    case 4:
        if (uco_post(__atomic_load_n(&scheds[!me], __ATOMIC_ACQUIRE), posted, NULL) != 0)
            __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        break;
    case 5:
        if (uco_submit(__atomic_load_n(&scheds[!me], __ATOMIC_ACQUIRE), noop_job, &v,
                       &r, uco_now() + UCO_SEC(5)) != 0 ||
            r != &v)
            __atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
        break;
    default:
        uco_yield();
    }
}

static void *worker(void *arg)
{
    int me = (int)(uintptr_t)arg & 1;
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;

    while (uco_now() < end_at && !uco_cancelled()) {
        one_op(me, &seed);
        __atomic_add_fetch(&ops[me], 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *sched_main(void *arg)
{
    int me = (int)(uintptr_t)arg, i;
    uco_task *w[8];
    uco_sched *self;

    uco_sched_get(&self);
    __atomic_store_n(&scheds[me], self, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&scheds[!me], __ATOMIC_ACQUIRE))
        uco_sleep(UCO_MSEC(1));
    for (i = 0; i < 8; i++)
        uco_spawn(&w[i], worker, (void *)(uintptr_t)(i * 2 + me + 1), NULL);
    for (i = 0; i < 8; i++)
        uco_join(w[i], NULL, UCO_NEVER);
    uco_sleep(UCO_MSEC(200)); /* the other side's last posts and submits */
    return NULL;
}

static void *thread_main(void *arg)
{
    int rc = uco_run(sched_main, arg, NULL);
    if (rc != 0)
        fprintf(stderr, "soak: uco_run on thread %d: %s\n", (int)(uintptr_t)arg,
                uco_strerror(rc));
    return NULL;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* One round of the two schedulers for the given time. */
static void round_for(int64_t ns)
{
    pthread_t t[2];
    int i;

    scheds[0] = scheds[1] = NULL;
    end_at = uco_now() + ns;
    for (i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)i);
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (i = 0; i < 2; i++)
        uco_sched_put(scheds[i]);
}

int main(void)
{
    const char *e = getenv("SOAK_SECONDS"), *m = getenv("SOAK_RSS_MARGIN_KIB");
    int64_t secs = e ? atoll(e) : 60, rounds = 0;
    long margin = m ? atol(m) : 8 * 1024; /* a sanitizer's shadow grows */
    long rss0, rss1;
    int fd0, fd1;

    round_for(UCO_SEC(2)); /* warm-up: pools, the allocator's arenas */
    sleep(6);              /* idle workers leave */
    rss0 = rss_kib();
    fd0 = open_fds();
    warm_at = uco_now();
    while (uco_now() - warm_at < UCO_SEC(secs)) {
        round_for(UCO_SEC(secs < 10 ? secs : 10));
        rounds++;
    }
    sleep(6);
    rss1 = rss_kib();
    fd1 = open_fds();
    printf("soak: %lld s in %lld rounds, %ld + %ld operations, %ld posts run, "
           "%ld errors; VmRSS %ld -> %ld KiB, fds %d -> %d\n",
           (long long)secs, (long long)rounds, ops[0], ops[1], posts_run,
           errors, rss0, rss1, fd0, fd1);
    if (errors || fd1 != fd0 || rss1 - rss0 > margin) {
        printf("soak: FAILED (errors, fds not flat, or RSS grew by more than %ld KiB)\n",
               margin);
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
