/*
 * io.c - waiting on file descriptors: each fd's waiters (one reader, one
 * writer), armed with the scheduler's poller (poller.h) while they wait.
 *
 * A waiting task sits in its fd's slot, and in the sleep heap when it has
 * a deadline.  When nothing is ready the scheduler's loop blocks in the
 * poller, which covers both the earliest deadline and the fds; while
 * tasks keep running, the core polls without blocking every
 * UCO_POLL_TICK switches through s->poll, set while fds are waited on.
 * An event wakes the fd's waiters in its directions; a waiter left in the
 * other direction arms the fd again.  A wait that ends otherwise
 * (deadline, cancellation) with nobody else on the fd makes the poller
 * forget it, while the number still names the file: a registration left
 * behind would report a file that outlived a close(2) of the number (a
 * dup, a child) to whoever waits on the number reused.  uco_fd_close
 * wakes the fd's waiters with -EBADF and forgets the fd before closing.
 */
#include "io.h"

#include "poller.h"
#include "post.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct fdslot {
    struct uco_task *reader, *writer; /* waiting tasks, or NULL */
};

struct uco_io {
    const struct uco_poller_ops *ops;
    struct uco_poller *p;
    struct fdslot *fds;      /* [0, nfds): by fd number, grown on demand */
    size_t nfds;
    struct fdslot *firing;   /* while an event wakes this slot's waiters */
};

static const struct uco_poller_ops *default_ops(void)
{
#ifdef UCO_HAVE_EPOLL
    const char *e = getenv("UCO_IO");
    if (!e || strcmp(e, "poll") != 0)
        return &uco__poller_epoll;
#endif
    return &uco__poller_poll;
}

const char *uco__io_default_name(void)
{
    return default_ops()->name;
}

int uco__io_start(struct uco_sched *s)
{
    struct uco_io *io = calloc(1, sizeof *io);
    int rc;

    if (!io)
        return -ENOMEM;
    io->ops = default_ops();
    rc = io->ops->create(&io->p);
    if (rc < 0) {
        free(io);
        return rc;
    }
    s->io = io;
    return 0;
}

void uco__io_stop(struct uco_sched *s)
{
    struct uco_io *io = s->io;

    if (!io)
        return;
    io->ops->destroy(io->p, true);
    free(io->fds);
    free(io);
    s->io = NULL;
}

static struct fdslot *slot_of(struct uco_io *io, int fd)
{
    void *v = io->fds;
    int rc = uco__array_fit(&v, &io->nfds, (size_t)fd, sizeof *io->fds);

    io->fds = v;
    return rc < 0 ? NULL : &io->fds[fd];
}

/* The directions sl's waiters want. */
static unsigned interest(const struct fdslot *sl)
{
    return (sl->reader ? UCO_READ : 0) | (sl->writer ? UCO_WRITE : 0);
}

/* Wake sl's waiters with rc (a negative code), or those in the
 * directions of events (rc 0).  No switch. */
static void fire(struct uco_sched *s, struct fdslot *sl, unsigned events, int rc)
{
    struct uco_task *r = sl->reader, *w = sl->writer;

    s->io->firing = sl;
    if (r && (rc || (events & UCO_READ)))
        uco__wake(s, r, rc ? rc : r == w ? (int)(events & interest(sl)) : UCO_READ);
    if (w && w != r && (rc || (events & UCO_WRITE)))
        uco__wake(s, w, rc ? rc : UCO_WRITE);
    s->io->firing = NULL;
}

/* The poller failed with err (a program closed the epoll fd behind the
 * library's back, or reused its number; memory ran out): a new one, the
 * poll(2) one if the same kind cannot be had, with every waited fd armed
 * again; waiters whose fd cannot be armed, or all of them when no poller
 * can be had, are woken with the error.  Nobody is left waiting on a
 * poller that cannot wake them.  No switch. */
static void recover(struct uco_sched *s, int err)
{
    struct uco_io *io = s->io;
    struct uco_poller *p;
    size_t fd;
    int rc;

    if (io->ops->create(&p) < 0) {
        if (uco__poller_poll.create(&p) < 0) {
            for (fd = 0; fd < io->nfds; fd++)
                fire(s, &io->fds[fd], 0, err);
            return;
        }
        io->ops->destroy(io->p, false);
        io->ops = &uco__poller_poll;
    } else {
        io->ops->destroy(io->p, false);
    }
    io->p = p;
    s->wake_armed = false;
    if (s->wake_r >= 0)
        uco__post_wake_ours(s); /* closed with the poller's? a new one */
    for (fd = 0; fd < io->nfds; fd++) {
        struct fdslot *sl = &io->fds[fd];
        if (interest(sl) && (rc = io->ops->arm(p, (int)fd, interest(sl))) < 0)
            fire(s, sl, 0, rc);
    }
}

/* The wake fd armed with the poller, unless it is. */
static void arm_wake(struct uco_sched *s)
{
    struct uco_io *io = s->io;

    if (s->wake_r >= 0 && !s->wake_armed)
        s->wake_armed = io->ops->arm(io->p, s->wake_r, UCO_READ) == 0;
}

/* The wake fd (post.c) fired: empty it; it is armed again before the
 * next wait.  No switch. */
static void woken(struct uco_sched *s)
{
    uint64_t buf[8];

    s->wake_armed = false;
    while (read(s->wake_r, buf, sizeof buf) > 0 && s->wake_r != s->wake_w)
        ;
}

void uco__io_poll(struct uco_sched *s, int64_t deadline)
{
    struct uco_io *io = s->io;
    struct uco_ioev ev[64];
    int i, n;

    arm_wake(s);
    n = io->ops->wait(io->p, deadline, ev, 64);
    if (n < 0 && n != -EINTR)
        recover(s, n);
    for (i = 0; i < n; i++) {
        struct fdslot *sl;
        int rc;

        if (ev[i].fd == s->wake_r) {
            woken(s);
            continue;
        }
        sl = &io->fds[ev[i].fd];
        fire(s, sl, ev[i].events, 0);
        /* the event disarmed the fd: arm it again for a waiter in the
         * other direction */
        if (interest(sl)) {
            rc = io->ops->arm(io->p, ev[i].fd, interest(sl));
            if (rc < 0)
                fire(s, sl, 0, rc);
        }
    }
}

int uco__io_host_fd(struct uco_sched *s)
{
    struct uco_io *io = s->io;
    int fd = io->ops->fd(io->p);

    arm_wake(s);
    return fd >= 0 ? fd : s->wake_r;
}

int64_t uco__io_host_deadline(struct uco_sched *s, int64_t when)
{
    struct uco_io *io = s->io;
    int64_t soon;

    arm_wake(s);
    if (io->ops->fd(io->p) >= 0 || !s->io_waiters)
        return when;
    soon = uco_now() + 10000000;
    return when == UCO_NEVER || when > soon ? soon : when;
}

/* s->poll while fds are waited on. */
static void poll_now(struct uco_sched *s)
{
    uco__io_poll(s, 0);
}

/* A waiting task's unwait: leave the fd's slot at once, so that the fd
 * is free for another waiter (or forgotten, after uco_fd_close).  Woken
 * by its event, the registration stays (disarmed by it): the task will
 * likely wait here again.  Left otherwise, with nobody else waiting, it
 * is forgotten (see the top of this file). */
static void leave_slot(struct uco_task *t)
{
    struct uco_io *io = t->sched->io;
    struct fdslot *sl = &io->fds[t->wait_fd];

    if (sl->reader == t)
        sl->reader = NULL;
    if (sl->writer == t)
        sl->writer = NULL;
    if (io->firing != sl && !interest(sl))
        io->ops->forget(io->p, t->wait_fd);
}

/* fd is the number of the poller's own fd: true if it still holds it
 * (open, close-on-exec as it was made); otherwise the program closed it
 * behind the library's back, maybe reusing the number, and the poller is
 * made anew elsewhere.  No switch. */
static bool ours(struct uco_sched *s, int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0 && (flags & FD_CLOEXEC))
        return true;
    recover(s, -EBADF);
    return false;
}

/* What poll(2) says of fd now, in the directions of events: UCO_READ |
 * UCO_WRITE, -ETIMEDOUT when none is ready, or a negative errno. */
static int ready_now(int fd, unsigned events)
{
    struct pollfd p = { fd, (short)(((events & UCO_READ) ? POLLIN : 0) |
                                    ((events & UCO_WRITE) ? POLLOUT : 0)), 0 };
    int rc;

    if (poll(&p, 1, 0) < 0)
        return -errno;
    if (p.revents & POLLNVAL)
        return -EBADF;
    rc = ((p.revents & (POLLIN | POLLHUP | POLLERR)) && (events & UCO_READ) ? UCO_READ : 0) |
         ((p.revents & (POLLOUT | POLLHUP | POLLERR)) && (events & UCO_WRITE) ? UCO_WRITE : 0);
    return rc ? rc : -ETIMEDOUT;
}

/* Wait in sl, registered.  Switches. */
static int wait_in(struct uco_sched *s, struct uco_task *self, int fd,
                   unsigned events, int64_t deadline)
{
    int rc;

    if (s->io_waiters++ == 0)
        s->poll = poll_now;
    self->wait_fd = fd;
    self->unwait = leave_slot;
    rc = uco__wait(s, self, deadline,
                   events == UCO_READ    ? "fd read"
                   : events == UCO_WRITE ? "fd write"
                                         : "fd read/write");
    if (--s->io_waiters == 0)
        s->poll = NULL;
    return rc;
}

int uco_fd_wait(int fd, unsigned events, int64_t deadline)
{
    struct uco_task *self;
    struct uco_sched *s;
    struct uco_io *io;
    struct fdslot *sl;
    int rc = uco__enter_wait(&self, fd >= 0 && events &&
                                        !(events & ~(unsigned)(UCO_READ | UCO_WRITE)),
                             deadline);

    if (rc < 0)
        return rc;
    s = self->sched;
    io = s->io;
    if ((fd == io->ops->fd(io->p) && ours(s, fd)) ||
        ((fd == s->wake_r || fd == s->wake_w) && uco__post_wake_ours(s)))
        return -EBADF; /* the library's own, not the caller's */
    if ((size_t)fd < io->nfds && (events & interest(&io->fds[fd])))
        return -EBUSY; /* (a look without waiting too: what is ready is
                          the waiter's) */
    if (deadline != UCO_NEVER && deadline <= uco_now())
        return ready_now(fd, events); /* nothing to wait for */
    if ((size_t)fd >= io->nfds && fcntl(fd, F_GETFD) < 0)
        return -EBADF; /* before the table grows to the fd's number */
    sl = slot_of(io, fd);
    if (!sl)
        return -ENOMEM;
    if (events & UCO_READ)
        sl->reader = self;
    if (events & UCO_WRITE)
        sl->writer = self;
    rc = io->ops->arm(io->p, fd, interest(sl));
    if (rc == -EPERM)
        rc = (int)events; /* a regular file or the like: always ready */
    else if (rc == 0)
        rc = wait_in(s, self, fd, events, deadline);
    sl = &io->fds[fd]; /* the table may have moved */
    if (sl->reader == self) /* not waited: regular file, or an error */
        sl->reader = NULL;
    if (sl->writer == self)
        sl->writer = NULL;
    return rc;
}

int uco_fd_close(int fd)
{
    struct uco_sched *s = uco__cur;
    struct uco_io *io = s ? s->io : NULL;

    if (fd < 0)
        return -EBADF;
    if (io && ((fd == io->ops->fd(io->p) && ours(s, fd)) ||
               ((fd == s->wake_r || fd == s->wake_w) && uco__post_wake_ours(s))))
        return -EBADF; /* the library's own, not the caller's */
    uco__enter_change();
    if (io) {
        if ((size_t)fd < io->nfds)
            fire(s, &io->fds[fd], 0, -EBADF);
        io->ops->forget(io->p, fd);
    }
    return close(fd) == 0 ? 0 : -errno;
}

/* Run op until it stops saying "would block", waiting for events. */
#define RETRY(expr, events)                                                  \
    do {                                                                     \
        int w_;                                                              \
        if (!uco__self())                                                    \
            return -EPERM;                                                   \
        if (uco__cancel_pending(uco__self()))                                \
            return -ECANCELED;                                               \
        for (;;) {                                                           \
            ssize_t r_ = (expr);                                             \
            if (r_ >= 0)                                                     \
                return r_;                                                   \
            if (errno == EINTR)                                              \
                continue;                                                    \
            if (errno != EAGAIN && errno != EWOULDBLOCK)                     \
                return -errno;                                               \
            w_ = uco_fd_wait(fd, (events), deadline);                        \
            if (w_ < 0)                                                      \
                return w_;                                                   \
        }                                                                    \
    } while (0)

ssize_t uco_read(int fd, void *buf, size_t n, int64_t deadline)
{
    RETRY(read(fd, buf, n), UCO_READ);
}

ssize_t uco_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    RETRY(write(fd, buf, n), UCO_WRITE);
}

#ifdef HAVE_ACCEPT4
#define accept_nb(fd, addr, len)                                             \
    accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC)
#else
/* accept4's work where the system lacks it: accept, then the two flags by
 * fcntl (a fork(2) in another thread between the two can inherit the fd;
 * doc/porting.md).  The new fd, or -1 with errno set. */
static int accept_nb(int fd, struct sockaddr *addr, socklen_t *len)
{
    int c = accept(fd, addr, len), fl, err;

    if (c < 0)
        return -1;
    fl = fcntl(c, F_GETFL);
    if (fl >= 0 && fcntl(c, F_SETFL, fl | O_NONBLOCK) == 0 &&
        fcntl(c, F_SETFD, FD_CLOEXEC) == 0)
        return c;
    err = errno;
    close(c);
    errno = err;
    return -1;
}
#endif

int uco_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
    RETRY(accept_nb(fd, addr, len), UCO_READ);
}

int uco_connect(int fd, const struct sockaddr *addr, socklen_t len,
                int64_t deadline)
{
    int err = 0, rc;
    socklen_t elen = sizeof err;

    if (!uco__self())
        return -EPERM;
    if (uco__cancel_pending(uco__self()))
        return -ECANCELED;
    if (connect(fd, addr, len) == 0)
        return 0;
    /* interrupted, the connection goes on as if it were in progress */
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    rc = uco_fd_wait(fd, UCO_WRITE, deadline);
    if (rc < 0)
        return rc;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return -errno;
    return -err;
}
