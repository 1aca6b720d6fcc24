/*
 * post.h - a scheduler's inbox, for messages from any thread (post.c):
 * what submits, offloads and the scheduler's loop (run.c) need of it.
 */
#ifndef UCO_POST_H
#define UCO_POST_H

#include "core.h"

/* Push m to s's inbox, from any thread; user: a post, refused once s's
 * main has finished (others only once the run has ended).  0 or -ESRCH.
 * Wakes s when it sleeps in the kernel.  No switch. */
int uco__post_push(struct uco_sched *s, struct uco_msg *m, bool user);
/* Give s its wake fd unless it has one (it is on s's thread).  0 or a
 * negative errno.  No switch. */
int uco__post_ready(struct uco_sched *s);

/* True when s's wake fd is still the one it made; if the program closed
 * it behind the library's back (maybe reusing the number), s gets a new
 * one and the answer is false.  On s's thread.  No switch. */
bool uco__post_wake_ours(struct uco_sched *s);

/* For run.c, on s's thread. */
/* Set up s's inbox and its count (one reference, the run's).  0 or
 * -ENOMEM. */
int uco__post_start(struct uco_sched *s);
/* The run is over: everything is refused, the wake fd closed, and the
 * run's reference dropped (s may be freed). */
void uco__post_end(struct uco_sched *s);
/* About to block in the kernel: false when a message came meanwhile
 * (then don't).  Then uco__post_woke once awake. */
bool uco__post_sleep(struct uco_sched *s);
void uco__post_woke(struct uco_sched *s);
/* Something may still come from another thread: handles other than the
 * run's, answers that tasks wait for, posts to retry. */
bool uco__post_may_come(const struct uco_sched *s);
/* Make tasks of the posts taken (a batch at a time; those whose task
 * could not be made are tried again later, in order): false when one
 * could not be made. */
bool uco__post_retry(struct uco_sched *s);
/* The run is about to end: refuse every message from now on, unless one
 * is in the inbox (false: run it first).  No switch. */
bool uco__post_seal(struct uco_sched *s);
/* Free what uco__post_start made (a start that failed after it). */
void uco__post_free(struct uco_sched *s);
/* Free s (the last reference went). */
void uco__sched_release(struct uco_sched *s);

#endif /* UCO_POST_H */
