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
#include <time.h>

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

static void pl_destroy(struct uco_poller *p)
{
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

static int pl_wait(struct uco_poller *p, int64_t deadline,
                   struct uco_ioev *out, int max)
{
    struct timespec ts, *tp = uco__poller_timeout(deadline, &ts);
    int n = gather(p), rc, i, k = 0;

    if (n < 0)
        return n;
    rc = ppoll(p->pfd, (nfds_t)n, tp, NULL);
    if (rc < 0)
        return -errno;
    for (i = 0; rc > 0 && i < n && k < max; i++) {
        short e = p->pfd[i].revents;
        if (!e)
            continue;
        if (e & POLLNVAL) /* closed behind our back */
            e |= POLLERR;
        out[k].fd = p->pfd[i].fd;
        out[k].events = ((e & (POLLIN | POLLHUP | POLLERR)) ? UCO_READ : 0) |
                        ((e & (POLLOUT | POLLHUP | POLLERR)) ? UCO_WRITE : 0);
        p->want[out[k].fd] = 0; /* one-shot, as epoll's */
        k++;
    }
    return k;
}

const struct uco_poller_ops uco__poller_poll = {
    "poll", pl_create, pl_destroy, pl_fd, pl_arm, pl_forget, pl_wait,
};
