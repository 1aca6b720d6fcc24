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

#endif /* UCO_IO_H */
