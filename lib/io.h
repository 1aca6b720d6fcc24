/*
 * io.h - waiting on file descriptors (io.c): what the scheduler's loop
 * (run.c) needs of it.
 */
#ifndef UCO_IO_H
#define UCO_IO_H

#include "core.h"

/* Give s its fd waiting state and poller (UCO_IO, or the build's
 * default).  0, or a negative errno.  No switch. */
int uco__io_start(struct uco_sched *s);
/* Free it.  No switch. */
void uco__io_stop(struct uco_sched *s);
/* Wait for fds until one is ready or the deadline (UCO_NEVER: no limit;
 * past: not at all), and wake their waiters.  No switch. */
void uco__io_poll(struct uco_sched *s, int64_t deadline);

/* For a scheduler driven by another loop: the fd that loop watches (the
 * epoll instance, with the wake fd armed in it; with the poll backend,
 * the wake fd alone), and the deadline it must step by at the latest
 * given when: with the poll backend, while tasks wait on fds, 10 ms (the
 * host cannot see their fds).  No switch. */
int uco__io_host_fd(struct uco_sched *s);
int64_t uco__io_host_deadline(struct uco_sched *s, int64_t when);

/* The name of the poller a scheduler starts with ("epoll", "poll"): the
 * build's default, or UCO_IO's choice.  No switch. */
const char *uco__io_default_name(void);

#endif /* UCO_IO_H */
