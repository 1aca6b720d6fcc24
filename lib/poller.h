/*
 * poller.h - the kernel's readiness interface, behind a few functions:
 * one implementation a file (io-epoll.c, io-poll.c), chosen when a
 * scheduler starts (io.c).  A poller knows fds and directions, never
 * tasks: it reports which fds are ready, and io.c wakes their waiters.
 *
 * Registrations are one-shot: an fd is reported once per arm, and must
 * be armed again for the next event.
 */
#ifndef UCO_POLLER_H
#define UCO_POLLER_H

#include "util.h"

struct uco_poller;

/* One ready fd: UCO_READ and/or UCO_WRITE (both on an error or hang-up,
 * and when the fd was closed behind the poller's back). */
struct uco_ioev {
    int fd;
    unsigned events;
};

struct uco_poller_ops {
    const char *name;  /* "epoll", "poll" */
    /* A new poller: 0, or a negative errno (-EMFILE, -ENOMEM). */
    int (*create)(struct uco_poller **p);
    /* Free p; close_fd false: its fd is not its own any more (the program
     * closed it behind the library's back), leave that number alone. */
    void (*destroy)(struct uco_poller *p, bool close_fd);
    /* The poller's own fd, which no task may wait on, or -1. */
    int (*fd)(const struct uco_poller *p);
    /* Report fd once when one of events (UCO_READ | UCO_WRITE; not 0)
     * is ready.  0; -EPERM: fd cannot be polled (a regular file: always
     * ready); -EBADF: not open; or another negative errno. */
    int (*arm)(struct uco_poller *p, int fd, unsigned events);
    /* Drop fd, armed or not, while its number still names the file:
     * nothing of it is reported again. */
    void (*forget)(struct uco_poller *p, int fd);
    /* Wait until an armed fd is ready or the deadline (UCO_NEVER: no
     * limit; past: do not wait); store up to max of them in ev (each
     * then disarmed).  The count, or a negative errno (-EINTR included). */
    int (*wait)(struct uco_poller *p, int64_t deadline, struct uco_ioev *ev,
                int max);
};

#ifdef UCO_HAVE_EPOLL
extern const struct uco_poller_ops uco__poller_epoll;
#endif
extern const struct uco_poller_ops uco__poller_poll;

/* Time left until deadline as a timespec for the kernel; NULL for no
 * limit (io-poll.c). */
struct timespec;
struct timespec *uco__poller_timeout(int64_t deadline, struct timespec *ts);

#endif /* UCO_POLLER_H */
