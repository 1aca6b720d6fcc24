/*
 * io.c - waiting on file descriptors.
 *
 * A task waiting on an fd sits in the fd's slot (one reader, one writer)
 * and in the sleep heap when it has a deadline.  When nothing is ready the
 * scheduler blocks in one kernel call that covers both the earliest
 * deadline and the fds: epoll_pwait2 (nanosecond timeout) on Linux, ppoll
 * elsewhere or when UCO_IO=poll asks for it.  While tasks keep running,
 * the fds are also polled without blocking every UCO_IO_TICK switches.
 *
 * epoll registrations are one-shot and stay in place between waits: each
 * wait arms its fd with one EPOLL_CTL_MOD, and the event that wakes the
 * waiter disarms it, so that an fd nobody waits on is never reported.  A
 * wait that ends otherwise (deadline, cancellation) with nobody else on
 * the fd removes the registration, still armed, while the number names
 * the file (see leave_slot).
 * Arming at every wait is what keeps an fd closed with close(2) right:
 * the kernel dropped its registration then, so the MOD fails, with ENOENT
 * when the number was reused (the new file is added) and EBADF when it is
 * not open (the wait returns -EBADF); a registration kept without asking
 * would leave a wait on the reused number waiting for good.
 * uco_fd_close wakes the fd's waiters with -EBADF before closing.
 */
#include "ucoro-int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef UCO_HAVE_EPOLL
#include <sys/epoll.h>
#endif

enum { IO_EPOLL, IO_POLL };

struct fdslot {
    struct uco_task *reader, *writer; /* waiting tasks, or NULL */
    bool in_epoll;                    /* registered (armed or not) */
};

struct uco_io {
    int backend;
    int epfd;
    struct fdslot *firing;   /* while ready() wakes its waiters */
    struct fdslot *fds;
    size_t nfds;
    struct pollfd *pfd;
    size_t npfd;
};

static int default_backend(void)
{
    const char *e = getenv("UCO_IO");
#ifdef UCO_HAVE_EPOLL
    if (e && strcmp(e, "poll") == 0)
        return IO_POLL;
    return IO_EPOLL;
#else
    (void)e;
    return IO_POLL;
#endif
}

/* This scheduler's io state, made on first use.  NULL: no memory or no
 * epoll instance (errno-style code in *err). */
static struct uco_io *get_io(struct uco_sched *s, int *err)
{
    struct uco_io *io = s->io;

    if (io)
        return io;
    io = calloc(1, sizeof *io);
    if (!io) {
        *err = -ENOMEM;
        return NULL;
    }
    io->backend = default_backend();
    io->epfd = -1;
#ifdef UCO_HAVE_EPOLL
    if (io->backend == IO_EPOLL) {
        io->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (io->epfd < 0) {
            *err = -errno;
            free(io);
            return NULL;
        }
    }
#endif
    s->io = io;
    return io;
}

void uco__io_free(struct uco_sched *s)
{
    struct uco_io *io = s->io;

    if (!io)
        return;
    if (io->epfd >= 0)
        close(io->epfd);
    free(io->fds);
    free(io->pfd);
    free(io);
    s->io = NULL;
}

const char *uco__io_backend(void)
{
    return default_backend() == IO_EPOLL ? "epoll" : "poll";
}

static struct fdslot *slot_of(struct uco_io *io, int fd)
{
    if ((size_t)fd >= io->nfds) {
        size_t n = io->nfds ? io->nfds : 64;
        struct fdslot *v;
        while (n <= (size_t)fd)
            n *= 2;
        v = realloc(io->fds, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + io->nfds, 0, (n - io->nfds) * sizeof *v);
        io->fds = v;
        io->nfds = n;
    }
    return &io->fds[fd];
}

/* Arm fd's one-shot registration with the interest of its waiters (none:
 * leave it disarmed).  0 or a negative errno. */
static int arm(struct uco_io *io, int fd, struct fdslot *sl)
{
#ifdef UCO_HAVE_EPOLL
    struct epoll_event ev;
    uint32_t want = (sl->reader ? EPOLLIN : 0) | (sl->writer ? EPOLLOUT : 0);
    int op = sl->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (io->backend != IO_EPOLL || !want)
        return 0;
    memset(&ev, 0, sizeof ev);
    ev.events = want | EPOLLONESHOT;
    ev.data.fd = fd;
    if (epoll_ctl(io->epfd, op, fd, &ev) != 0) {
        if (errno != ENOENT && errno != EEXIST)
            return -errno;
        /* closed with close(2) and the number reused (or the other way
         * round: registered unknown to us) */
        op = errno == ENOENT ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(io->epfd, op, fd, &ev) != 0)
            return -errno;
    }
    sl->in_epoll = true;
#else
    (void)io;
    (void)fd;
    (void)sl;
#endif
    return 0;
}

/* Wake fd's waiters whose direction is ready (EPOLLIN/POLLIN bits etc.). */
static void ready(struct uco_sched *s, struct fdslot *sl, bool rd, bool wr)
{
    struct uco_task *r = sl->reader, *w = sl->writer;
    int both = (rd ? UCO_READ : 0) | (wr ? UCO_WRITE : 0);

    s->io->firing = sl;
    if (r && rd && r->state == UCO_S_WAITING)
        uco__wake(s, r, r == w ? both : UCO_READ);
    if (w && wr && w->state == UCO_S_WAITING)
        uco__wake(s, w, r == w ? both : UCO_WRITE);
    s->io->firing = NULL;
}

/* Wake fd's waiters with the error rc. */
static void fail(struct uco_sched *s, struct fdslot *sl, int rc)
{
    if (sl->reader && sl->reader->state == UCO_S_WAITING)
        uco__wake(s, sl->reader, rc);
    if (sl->writer && sl->writer->state == UCO_S_WAITING)
        uco__wake(s, sl->writer, rc);
}

/* Time left until deadline as a timespec; NULL for no limit. */
static struct timespec *timeout(int64_t deadline, struct timespec *ts)
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

#ifdef UCO_HAVE_EPOLL
static void poll_epoll(struct uco_sched *s, struct uco_io *io, int64_t deadline)
{
    struct epoll_event ev[64];
    struct timespec ts, *tp = timeout(deadline, &ts);
    int i, n;

    n = -1;
#ifdef UCO_HAVE_EPOLL_PWAIT2
    static bool no_pwait2; /* the kernel predates it (before 5.11) */
    if (!no_pwait2) {
        n = epoll_pwait2(io->epfd, ev, 64, tp, NULL);
        no_pwait2 = n < 0 && errno == ENOSYS;
    }
    if (no_pwait2)
#endif
        /* milliseconds, rounded up: never wake before the deadline */
        n = epoll_wait(io->epfd, ev, 64,
                       !tp ? -1
                       : tp->tv_sec >= INT_MAX / 1000 - 1 ? INT_MAX
                       : (int)(tp->tv_sec * 1000 +
                               (tp->tv_nsec + 999999) / 1000000));
    for (i = 0; i < n; i++) {
        uint32_t e = ev[i].events;
        int fd = ev[i].data.fd;
        struct fdslot *sl = &io->fds[fd];
        bool rd = e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP);
        bool wr = e & (EPOLLOUT | EPOLLHUP | EPOLLERR);
        int rc;

        ready(s, sl, rd, wr);
        /* the event disarmed the fd: arm it again for a waiter in the
         * other direction */
        rc = arm(io, fd, sl);
        if (rc < 0)
            fail(s, sl, rc);
    }
}
#endif

static void poll_poll(struct uco_sched *s, struct uco_io *io, int64_t deadline)
{
    struct timespec ts, *tp = timeout(deadline, &ts);
    size_t fd, n = 0;
    int rc;

    for (fd = 0; fd < io->nfds; fd++) {
        struct fdslot *sl = &io->fds[fd];
        if (!sl->reader && !sl->writer)
            continue;
        if (n == io->npfd) {
            size_t cap = io->npfd ? io->npfd * 2 : 64;
            struct pollfd *v = realloc(io->pfd, cap * sizeof *v);
            if (!v)
                return; /* try again next time */
            io->pfd = v;
            io->npfd = cap;
        }
        io->pfd[n].fd = (int)fd;
        io->pfd[n].events = (short)((sl->reader ? POLLIN : 0) |
                                    (sl->writer ? POLLOUT : 0));
        io->pfd[n].revents = 0;
        n++;
    }
    rc = ppoll(io->pfd, n, tp, NULL);
    for (fd = 0; rc > 0 && fd < n; fd++) {
        short e = io->pfd[fd].revents;
        if (!e)
            continue;
        if (e & POLLNVAL) /* closed without uco_fd_close */
            e |= POLLERR;
        ready(s, &io->fds[io->pfd[fd].fd], e & (POLLIN | POLLHUP | POLLERR),
              e & (POLLOUT | POLLHUP | POLLERR));
    }
}

void uco__io_poll(struct uco_sched *s, int64_t deadline)
{
    struct uco_io *io = s->io;

#ifdef UCO_HAVE_EPOLL
    if (io->backend == IO_EPOLL) {
        poll_epoll(s, io, deadline);
        return;
    }
#endif
    poll_poll(s, io, deadline);
}

/* A waiting task's unwait: leave the fd's slot at once, so that the fd
 * is free for another waiter (or forgotten, after uco_fd_close). */
static void leave_slot(struct uco_task *t)
{
    struct uco_io *io = t->sched->io;
    struct fdslot *sl = &io->fds[t->wait_fd];

    if (sl->reader == t)
        sl->reader = NULL;
    if (sl->writer == t)
        sl->writer = NULL;
    /* Woken by its event, the registration stays (disarmed by it): the
     * task will likely wait here again.  Left otherwise (deadline,
     * cancellation) with nobody else waiting, it is still armed, and the
     * file may outlive a close(2) of the number (a dup, a child): its
     * event would then wake whoever waits on the number reused.  Removed
     * now, while the number still names that file. */
#ifdef UCO_HAVE_EPOLL
    if (io->backend == IO_EPOLL && sl->in_epoll && io->firing != sl &&
        !sl->reader && !sl->writer) {
        epoll_ctl(io->epfd, EPOLL_CTL_DEL, t->wait_fd, NULL);
        sl->in_epoll = false;
    }
#endif
}

int uco_fd_wait(int fd, unsigned events, int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();
    struct uco_io *io;
    struct fdslot *sl;
    int rc = 0;

    if (!self)
        return -EPERM;
    if (fd < 0 || !events || (events & ~(unsigned)(UCO_READ | UCO_WRITE)) ||
        (deadline < 0 && deadline != UCO_NEVER))
        return -EINVAL;
    if (uco__cancel_pending(self))
        return -ECANCELED;
    /* before the io state, the table and the slot and the count change */
    uco__stack_ensure(self, true);
    if (s->io && fd == s->io->epfd)
        return -EBADF; /* the library's own, not the caller's */
    if (s->io && (size_t)fd < s->io->nfds &&
        (((events & UCO_READ) && s->io->fds[fd].reader) ||
         ((events & UCO_WRITE) && s->io->fds[fd].writer)))
        return -EBUSY; /* (a look without waiting too: what is ready is
                          the waiter's) */
    if (deadline != UCO_NEVER && deadline <= uco_now()) {
        /* nothing to wait for: say what is ready now, or time out */
        struct pollfd p = { fd, (short)(((events & UCO_READ) ? POLLIN : 0) |
                                        ((events & UCO_WRITE) ? POLLOUT : 0)), 0 };
        if (poll(&p, 1, 0) < 0)
            return -errno;
        if (p.revents & POLLNVAL)
            return -EBADF;
        rc = ((p.revents & (POLLIN | POLLHUP | POLLERR)) && (events & UCO_READ) ? UCO_READ : 0) |
             ((p.revents & (POLLOUT | POLLHUP | POLLERR)) && (events & UCO_WRITE) ? UCO_WRITE : 0);
        return rc ? rc : -ETIMEDOUT;
    }
    if (!s->io && fcntl(fd, F_GETFD) < 0)
        return -EBADF; /* before the epoll fd takes a free number */
    io = get_io(s, &rc);
    if (!io)
        return rc;
    if (fd == io->epfd ||
        ((io->backend == IO_POLL || (size_t)fd >= io->nfds) &&
         fcntl(fd, F_GETFD) < 0))
        return -EBADF; /* (epoll_ctl says so for the other backend, but
                          the table grows to the fd's number first; the
                          library's own epoll fd is not the caller's) */
    sl = slot_of(io, fd);
    if (!sl)
        return -ENOMEM;
    if (((events & UCO_READ) && sl->reader) || ((events & UCO_WRITE) && sl->writer))
        return -EBUSY;
    if (events & UCO_READ)
        sl->reader = self;
    if (events & UCO_WRITE)
        sl->writer = self;
    rc = arm(io, fd, sl);
    if (rc == -EPERM) {
        /* a regular file or the like: always ready, as poll says */
        rc = (int)events;
    } else if (rc == 0) {
        s->io_waiters++;
        self->wait_fd = fd;
        self->unwait = leave_slot;
        rc = uco__wait(s, self, deadline,
                       events == UCO_READ    ? "fd read"
                       : events == UCO_WRITE ? "fd write"
                                             : "fd read/write");
        s->io_waiters--;
        sl = &io->fds[fd]; /* the table may have moved */
    }
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
    uco__stack_ensure_entry();
    if (io && (size_t)fd < io->nfds) {
        struct fdslot *sl = &io->fds[fd];
        fail(s, sl, -EBADF);
#ifdef UCO_HAVE_EPOLL
        if (sl->in_epoll)
            epoll_ctl(io->epfd, EPOLL_CTL_DEL, fd, NULL);
#endif
        sl->in_epoll = false;
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

int uco_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
    RETRY(accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC), UCO_READ);
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
