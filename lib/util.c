/*
 * util.c - time, error names, version.
 */
#include "util.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STR2(x) #x
#define STR(x) STR2(x)

int64_t uco_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int uco__cond_init(pthread_cond_t *cv)
{
#ifdef HAVE_PTHREAD_CONDATTR_SETCLOCK
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);

    if (rc != 0)
        return rc;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
#else
    return pthread_cond_init(cv, NULL);
#endif
}

void uco__cond_deadline(int64_t deadline, struct timespec *ts)
{
#ifndef HAVE_PTHREAD_CONDATTR_SETCLOCK
    /* the wall clock's now, plus what is left */
    struct timespec wall;
    int64_t left = deadline - uco_now();

    clock_gettime(CLOCK_REALTIME, &wall);
    if (left < 0)
        left = 0;
    if (left > INT64_MAX / 2)
        left = INT64_MAX / 2; /* far enough, and no overflow below */
    deadline = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec + left;
#endif
    ts->tv_sec = (time_t)(deadline / 1000000000);
    ts->tv_nsec = (long)(deadline % 1000000000);
}

const char *uco_version(void)
{
    return STR(UCO_VERSION_MAJOR) "." STR(UCO_VERSION_MINOR) "." STR(
        UCO_VERSION_PATCH);
}

const char *uco_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case UCO_ESTACK: return "stack overflow";
    case -EINVAL: return "invalid argument";
    case -ENOMEM: return "out of memory";
    case -EAGAIN:
        return "resource temporarily unavailable (for stacks: the process "
               "reached vm.max_map_count)";
    case -ECANCELED: return "cancelled";
    case -ETIMEDOUT: return "deadline passed (from a socket: timed out)";
    case -EPERM:
        return "not allowed here (outside a task?), or operation not permitted";
    case -EDEADLK: return "would wait for itself (deadlock)";
    case -EBUSY: return "busy";
    case -EPIPE: return "closed (a channel, or a pipe's or socket's other end)";
    case -ENOENT: return "nothing to pop (or no such file or directory)";
    case -EOVERFLOW: return "value too large";
    case -EBADF: return "bad file descriptor (or closed while waited on)";
    case -ESRCH: return "no such scheduler (it has ended, or its main task has)";
    default:
        if (err <= UCO_EAI(0) - 1000 || err >= UCO_EAI(0) + 1000)
            ; /* not a resolver's */
        else if (err != UCO_EAI(0))
            return gai_strerror(err - UCO_EAI(0));
#ifdef HAVE_STRERRORDESC_NP
        if (err < 0 && err > -4096 && strerrordesc_np(-err))
            return strerrordesc_np(-err); /* passed on from the system */
#endif
        return "unknown error";
    }
}

/* ---- output that needs little stack and no stdio (async-signal-safe):
 * append to buf[at..cap), always leaving room for a final NUL */

size_t uco__put_str(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        buf[at++] = *s++;
    return at;
}

size_t uco__put_name(char *buf, size_t at, size_t cap, const char *s)
{
    size_t lim = cap - at > UCO_NAME_SHOWN + 1 ? at + UCO_NAME_SHOWN + 1 : cap;
    size_t end = uco__put_str(buf, at, lim, s);

    if (s[end - at])
        end = uco__put_str(buf, end, cap, "...");
    return end;
}

size_t uco__put_num(char *buf, size_t at, size_t cap, uint64_t v, int base)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % (unsigned)base];
        v /= (unsigned)base;
    } while (v);
    if (base == 16)
        at = uco__put_str(buf, at, cap, "0x");
    while (n && at + 1 < cap)
        buf[at++] = tmp[--n];
    return at;
}

int uco__array_fit(void **v, size_t *n, size_t i, size_t elem)
{
    size_t cap = *n ? *n : 64;
    char *p;

    if (i < *n)
        return 0;
    while (cap <= i)
        cap *= 2;
    p = realloc(*v, cap * elem);
    if (!p)
        return -ENOMEM;
    memset(p + *n * elem, 0, (cap - *n) * elem);
    *v = p;
    *n = cap;
    return 0;
}
