/*
 * io-poll.c - the poll(2) poller: portable, and chosen at run time by
 * UCO_IO=poll where epoll exists.  It keeps the armed directions per fd
 * and gives the kernel a fresh array at every wait (ppoll: nanosecond
 * deadlines).
 */
#include "poller.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef HAVE_PPOLL
#define poll_ts(f, n, tp) ppoll(f, n, tp, NULL)
#else
/* poll(2) where the system lacks ppoll: the timeout in milliseconds,
 * rounded up, so that no wait ends before its deadline. */
static int poll_ts(struct pollfd *f, nfds_t n, const struct timespec *tp)
{
    int64_t ms = -1;

    if (tp) {
        ms = (int64_t)tp->tv_sec * 1000 + (tp->tv_nsec + 999999) / 1000000;
        if (ms > INT32_MAX)
            ms = INT32_MAX;
    }
    return poll(f, n, (int)ms);
}
#endif

struct uco_poller {
    unsigned char *want; /* [0, nwant): armed directions of each fd */
    size_t nwant;
    size_t top;          /* fds >= top want nothing */
    struct pollfd *pfd;  /* the array given to the kernel; cap npfd */
    size_t npfd;
};

struct timespec *uco__poller_timeout(int64_t deadline, struct timespec *ts)
{
    int64_t left;

    if (deadline == UCO_NEVER)
        return NULL;
    left = deadline - uco_now();
    if (left < 0)
        left = 0;
    ts->tv_sec = (time_t)(left / 1000000000);
    ts->tv_nsec = (long)(left % 1000000000);
    return ts;
}

static int pl_create(struct uco_poller **out)
{
    struct uco_poller *p = calloc(1, sizeof *p);

    if (!p)
        return -ENOMEM;
    *out = p;
    return 0;
}

static void pl_destroy(struct uco_poller *p, bool close_fd)
{
    (void)close_fd; /* it has none */
    free(p->want);
    free(p->pfd);
    free(p);
}

static int pl_fd(const struct uco_poller *p)
{
    (void)p;
    return -1;
}

static int pl_arm(struct uco_poller *p, int fd, unsigned events)
{
    void *v;
    int rc;

    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    v = p->want;
    rc = uco__array_fit(&v, &p->nwant, (size_t)fd, 1);
    p->want = v;
    if (rc < 0)
        return -ENOMEM;
    p->want[fd] = (unsigned char)events;
    if ((size_t)fd >= p->top)
        p->top = (size_t)fd + 1;
    return 0;
}

static void pl_forget(struct uco_poller *p, int fd)
{
    if ((size_t)fd < p->nwant)
        p->want[fd] = 0;
}

/* Fill p->pfd with the armed fds: their count, or -ENOMEM. */
static int gather(struct uco_poller *p)
{
    size_t fd, n = 0, top = 0;

    for (fd = 0; fd < p->top; fd++) {
        if (!p->want[fd])
            continue;
        if (n == p->npfd) {
            size_t cap = p->npfd ? p->npfd * 2 : 64;
            struct pollfd *v = realloc(p->pfd, cap * sizeof *v);
            if (!v)
                return -ENOMEM;
            p->pfd = v;
            p->npfd = cap;
        }
        p->pfd[n].fd = (int)fd;
        p->pfd[n].events = (short)(((p->want[fd] & UCO_READ) ? POLLIN : 0) |
                                   ((p->want[fd] & UCO_WRITE) ? POLLOUT : 0));
        p->pfd[n].revents = 0;
        n++;
        top = fd + 1;
    }
    p->top = top;
    return (int)n;
}

/* Report the ready ones of pfd[0, n) in out[k, max): the new k. */
static int collect(struct uco_poller *p, const struct pollfd *pfd, int n,
                   struct uco_ioev *out, int k, int max)
{
    int i;

    for (i = 0; i < n && k < max; i++) {
        short e = pfd[i].revents;
        if (!e)
            continue;
        if (e & POLLNVAL) /* closed behind our back */
            e |= POLLERR;
        out[k].fd = pfd[i].fd;
        out[k].events = ((e & (POLLIN | POLLHUP | POLLERR)) ? UCO_READ : 0) |
                        ((e & (POLLOUT | POLLHUP | POLLERR)) ? UCO_WRITE : 0);
        p->want[out[k].fd] = 0; /* one-shot, as epoll's */
        k++;
    }
    return k;
}

/* While a program keeps RLIMIT_NOFILE below the number of fds waited on,
 * ppoll refuses them all (EINVAL).  Then they are polled in slices that
 * fit, without waiting, and when none is ready the first slice is waited
 * on for at most this long before the others are looked at again. */
#define SLICE_WAIT_NS 10000000

/* pl_wait over n fds in slices of at most lim. */
static int sliced(struct uco_poller *p, int n, int lim, int64_t deadline,
                  struct uco_ioev *out, int max)
{
    static const struct timespec zero = { 0, 0 };
    struct timespec ts, *tp;
    int off, k = 0, rc;
    int64_t cap = uco_now() + SLICE_WAIT_NS;

    for (off = 0; off < n && k < max; off += lim) {
        int len = n - off < lim ? n - off : lim;
        rc = poll_ts(p->pfd + off, (nfds_t)len, &zero);
        if (rc < 0)
            return -errno;
        if (rc > 0)
            k = collect(p, p->pfd + off, len, out, k, max);
    }
    if (k > 0)
        return k;
    tp = uco__poller_timeout(deadline == UCO_NEVER || deadline > cap ? cap : deadline, &ts);
    rc = poll_ts(p->pfd, (nfds_t)lim, tp);
    if (rc < 0)
        return -errno;
    return rc > 0 ? collect(p, p->pfd, lim, out, 0, max) : 0;
}

static int pl_wait(struct uco_poller *p, int64_t deadline,
                   struct uco_ioev *out, int max)
{
    struct timespec ts, *tp = uco__poller_timeout(deadline, &ts);
    struct rlimit rl;
    int n = gather(p), rc;

    if (n < 0)
        return n;
    rc = poll_ts(p->pfd, (nfds_t)n, tp);
    if (rc >= 0)
        return rc > 0 ? collect(p, p->pfd, n, out, 0, max) : 0;
    rc = -errno;
    if (rc == -EINVAL && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur > 0 && rl.rlim_cur < (rlim_t)n)
        return sliced(p, n, rl.rlim_cur > 1024 ? 1024 : (int)rl.rlim_cur,
                      deadline, out, max);
    return rc;
}

const struct uco_poller_ops uco__poller_poll = {
    "poll", pl_create, pl_destroy, pl_fd, pl_arm, pl_forget, pl_wait,
};
