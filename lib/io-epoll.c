/*
 * io-epoll.c - the epoll poller (Linux).
 *
 * Registrations are EPOLLONESHOT and stay in place between arms: arming
 * is one EPOLL_CTL_MOD (ADD the first time), and the event disarms it, so
 * that an fd nobody waits on is never reported.  Arming each time is also
 * what keeps an fd closed with close(2) right: the kernel dropped its
 * registration then, so the MOD fails, with ENOENT when the number was
 * reused (the new file is added) and EBADF when it is not open.
 * The wait has nanosecond deadlines with epoll_pwait2 (Linux 5.11), and
 * falls back to epoll_wait in milliseconds, rounded up.
 */
#include "poller.h"

#ifdef UCO_HAVE_EPOLL /* (built in every configuration; empty unless chosen) */

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct uco_poller {
    int epfd;           /* the epoll instance */
    bool no_pwait2;     /* the kernel said ENOSYS to epoll_pwait2 */
    bool *added;        /* [0, nadded): fd registered (armed or not) */
    size_t nadded;
};

static int ep_create(struct uco_poller **out)
{
    struct uco_poller *p = calloc(1, sizeof *p);

    if (!p)
        return -ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int err = -errno;
        free(p);
        return err;
    }
    *out = p;
    return 0;
}

static void ep_destroy(struct uco_poller *p, bool close_fd)
{
    if (close_fd)
        close(p->epfd);
    free(p->added);
    free(p);
}

static int ep_fd(const struct uco_poller *p)
{
    return p->epfd;
}

/* The added flag of fd, the table grown to hold it; NULL: no memory. */
static bool *added(struct uco_poller *p, int fd)
{
    void *v = p->added;
    int rc = uco__array_fit(&v, &p->nadded, (size_t)fd, sizeof *p->added);

    p->added = v;
    return rc < 0 ? NULL : &p->added[fd];
}

static int ep_arm(struct uco_poller *p, int fd, unsigned events)
{
    struct epoll_event ev;
    bool *in = added(p, fd);
    int op;

    if (!in)
        return -ENOMEM;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLONESHOT | ((events & UCO_READ) ? EPOLLIN : 0) |
                ((events & UCO_WRITE) ? EPOLLOUT : 0);
    ev.data.fd = fd;
    op = *in ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->epfd, op, fd, &ev) != 0) {
        if (errno != ENOENT && errno != EEXIST)
            return -errno;
        /* closed with close(2) and the number reused (or the other way
         * round: registered unknown to us) */
        op = errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(p->epfd, op, fd, &ev) != 0)
            return -errno;
    }
    *in = true;
    return 0;
}

static void ep_forget(struct uco_poller *p, int fd)
{
    if ((size_t)fd < p->nadded && p->added[fd]) {
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
        p->added[fd] = false;
    }
}

static int ep_wait(struct uco_poller *p, int64_t deadline,
                   struct uco_ioev *out, int max)
{
    struct epoll_event ev[64];
    struct timespec ts, *tp = uco__poller_timeout(deadline, &ts);
    int i, n = -1;

    if (max > 64)
        max = 64;
#ifdef UCO_HAVE_EPOLL_PWAIT2
    if (!p->no_pwait2) {
        n = epoll_pwait2(p->epfd, ev, max, tp, NULL);
        p->no_pwait2 = n < 0 && errno == ENOSYS;
    }
    if (p->no_pwait2)
#endif
        n = epoll_wait(p->epfd, ev, max,
                       !tp ? -1
                       : tp->tv_sec >= INT_MAX / 1000 - 1 ? INT_MAX
                       : (int)(tp->tv_sec * 1000 +
                               (tp->tv_nsec + 999999) / 1000000));
    if (n < 0)
        return -errno;
    for (i = 0; i < n; i++) {
        uint32_t e = ev[i].events;
        out[i].fd = ev[i].data.fd;
        out[i].events =
            ((e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) ? UCO_READ : 0) |
            ((e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ? UCO_WRITE : 0);
    }
    return n;
}

const struct uco_poller_ops uco__poller_epoll = {
    "epoll", ep_create, ep_destroy, ep_fd, ep_arm, ep_forget, ep_wait,
};

#endif
