/*
 * ucoro.h - a portable coroutine scheduler built on ucontext.
 *
 * The only public header of libucoro.  Every function that can fail returns
 * a negative error code (-EINVAL, -ENOMEM, -ECANCELED, ... or UCO_ESTACK);
 * none reports through errno.  Times are int64_t nanoseconds on
 * CLOCK_MONOTONIC; a deadline is an absolute uco_now() value and UCO_NEVER
 * means no limit.  One scheduler per thread; tasks never move between
 * threads.  See ucoro(3) for the model and each function's man page.
 */
#ifndef UCORO_H
#define UCORO_H

#include <errno.h> /* the error codes the functions return */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>     /* sigset_t, for uco_signal_wait */
#include <sys/select.h> /* sigset_t too, where strict C hides it above */
#include <stdio.h>      /* FILE, for uco_dump */
#include <sys/socket.h> /* struct sockaddr, socklen_t */
#include <sys/types.h>  /* ssize_t */

#ifdef __cplusplus
extern "C" {
#endif

#define UCO_VERSION_MAJOR 0
#define UCO_VERSION_MINOR 2
#define UCO_VERSION_PATCH 0

#if defined(UCO_BUILDING_LIBRARY) && defined(__GNUC__)
#define UCO_API __attribute__((visibility("default")))
#else
#define UCO_API
#endif

/* A function that never returns, in the words of the language compiling
 * this header: C11's _Noreturn, C++11's [[noreturn]], or GNU C's. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define UCO_NORETURN [[noreturn]]
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && \
    __STDC_VERSION__ >= 201112L
#define UCO_NORETURN _Noreturn
#elif defined(__GNUC__)
#define UCO_NORETURN __attribute__((noreturn))
#else
#define UCO_NORETURN
#endif

/* ------------------------------------------------------------------ */
/* Errors, time, version                                              */
/* ------------------------------------------------------------------ */

/* The task overflowed its stack (a sandbox).  Outside the errno range. */
#define UCO_ESTACK (-4097)

/* No deadline. */
#define UCO_NEVER ((int64_t)-1)

#define UCO_USEC(n) ((int64_t)(n) * 1000)
#define UCO_MSEC(n) ((int64_t)(n) * 1000000)
#define UCO_SEC(n)  ((int64_t)(n) * 1000000000)

/* Nanoseconds on CLOCK_MONOTONIC. */
UCO_API int64_t uco_now(void);

/* A static string naming an error code (negative) of this library. */
UCO_API const char *uco_strerror(int err);

/* "MAJOR.MINOR.PATCH" of the library in use. */
UCO_API const char *uco_version(void);

/* How the library in use runs tasks, as "SWITCH/POLLER": the context
 * switch it was built with ("fast": its own assembly; "ucontext":
 * swapcontext) and the fd poller a scheduler started now takes ("epoll",
 * "poll"; UCO_IO=poll picks poll).  A static string. */
UCO_API const char *uco_backend(void);

/* ------------------------------------------------------------------ */
/* Running and tasks                                                  */
/* ------------------------------------------------------------------ */

typedef void *uco_fn(void *arg);
typedef struct uco_task uco_task;

enum {
    UCO_SANDBOX = 1u << 0,  /* survive a stack overflow */
    UCO_DETACHED = 1u << 1  /* nobody will join it */
};

typedef struct uco_attr {
    size_t stack_size;  /* usable bytes, rounded up to pages; 0: default */
    size_t guard_size;  /* PROT_NONE bytes below the stack; 0: one page */
    const char *name;   /* copied; NULL: "task-<id>" */
    unsigned flags;     /* UCO_SANDBOX | UCO_DETACHED */
} uco_attr;

/*
 * Start a scheduler on this thread, run main(arg) as its first task, return
 * when main has finished and every other task has been cancelled and has
 * unwound.  Returns main's outcome (as uco_join), -EBUSY if this thread
 * already runs a scheduler, -EINVAL for a NULL main, -ENOMEM, -EAGAIN
 * (main's stack could not be mapped), or -EDEADLK when every task waited
 * with nothing left that could wake one (they are all cancelled then).
 */
UCO_API int uco_run(uco_fn *main, void *arg, void **result);

/* ------------------------------------------------------------------ */
/* Threads: schedulers as handles, posting work, offloading calls      */
/* ------------------------------------------------------------------ */

typedef struct uco_sched uco_sched;        /* opaque, counted */

/* A counted handle on this thread's scheduler (from a task or the
 * thread's own code): 0, -EPERM when the thread runs none.  Valid on any
 * thread until uco_sched_put, also after the scheduler ended (calls
 * through it then return -ESRCH). */
UCO_API int uco_sched_get(uco_sched **sched);
/* Drop a handle, from any thread (NULL: nothing). */
UCO_API void uco_sched_put(uco_sched *sched);
/* From any thread: run fn(arg) on sched as a new detached task; never
 * blocks.  0 (accepted: fn is entered exactly once), -ESRCH (sched's main
 * has finished), -ENOMEM, -EINVAL. */
UCO_API int uco_post(uco_sched *sched, uco_fn *fn, void *arg);
/* Run fn(arg) as a task on sched and wait for it to end (only the calling
 * task waits; a thread with no scheduler blocks).  What uco_join would
 * return for it, and its result.  On the deadline or a cancellation the
 * remote task is cancelled, and -ETIMEDOUT / -ECANCELED come back only
 * after it has ended.  -ESRCH (sched ended; fn never ran), -EDEADLK (the
 * caller would block sched's own thread), -EINVAL, -ENOMEM. */
UCO_API int uco_submit(uco_sched *sched, uco_fn *fn, void *arg,
                       void **result, int64_t deadline);

/* ---- a scheduler inside another event loop */

/* Make a scheduler on this thread with main(arg) as its first task, not
 * yet run; one reference in *sched, dropped by uco_sched_destroy.
 * -EBUSY (the thread has one), -EINVAL, -ENOMEM, -EAGAIN, -EMFILE. */
UCO_API int uco_sched_create(uco_sched **sched, uco_fn *main, void *arg);
/* An fd that becomes readable when the scheduler has new work (an fd a
 * task waits on is ready, a post arrived): the host loop watches it. */
UCO_API int uco_sched_fd(uco_sched *sched);
/* One round, never blocking: the tasks ready at its start run until they
 * next suspend, due sleepers are woken, fds are polled.  *deadline: when
 * to step again even if the fd stays quiet (now or earlier: at once;
 * UCO_NEVER).  1 while main runs, 0 once it has finished; -EPERM (another
 * thread), -EBUSY (from one of its own tasks), -EINVAL. */
UCO_API int uco_sched_step(uco_sched *sched, int64_t *deadline);
/* End it as uco_run ends (what is left is cancelled and run until it has
 * unwound; this may block): main's outcome and result. */
UCO_API int uco_sched_destroy(uco_sched *sched, void **result);

/* ---- signals as waits */

/* Wait until one of the signals in set arrives, suspending only the
 * calling task; its number in *sig.  From the first wait on a signal the
 * library handles it for the whole process, for good: a delivery while
 * no task waits is kept for the next wait; each delivery wakes one waiter
 * (first come, any thread).  0, -ETIMEDOUT, -ECANCELED, -EINVAL (NULL, an
 * empty set, SIGSEGV, SIGBUS, SIGKILL, SIGSTOP), -EPERM (not a task). */
UCO_API int uco_signal_wait(const sigset_t *set, int *sig, int64_t deadline);

typedef void uco_drop_fn(void *arg, void *result);
/* Run fn(arg) on a thread of the library's worker pool, suspending only
 * the calling task until it returns.  drop NULL: once started, the wait
 * lasts until fn returns (deadline must be UCO_NEVER); a cancellation
 * meanwhile is reported afterwards (-ECANCELED, *result set).  drop set:
 * on the deadline or a cancellation the call returns at once and the job
 * is abandoned: fn runs on, then drop(arg, result) on the worker.  A job
 * still queued when its caller gives up never runs.  0, -ECANCELED,
 * -ETIMEDOUT, -EINVAL, -ENOMEM, -EAGAIN (no thread), -EPERM (not a task).
 * UCO_THREADS=n caps the pool (uco_offload(3)). */
UCO_API int uco_offload(uco_fn *fn, void *arg, uco_drop_fn *drop,
                        void **result, int64_t deadline);

/* The library's code for getaddrinfo's error e (EAI_NONAME, ...): outside
 * the errno range; uco_strerror names it as gai_strerror does. */
#define UCO_EAI(e) (-6000 + (e))
struct addrinfo;
/* getaddrinfo on the worker pool, in a lane of its own (slow lookups never
 * take every worker); the arguments are copied.  0 and *res (free it with
 * freeaddrinfo), UCO_EAI(e), -errno for EAI_SYSTEM, -ETIMEDOUT and
 * -ECANCELED (the lookup is abandoned, its result freed when it ends),
 * -EINVAL, -ENOMEM, -EPERM. */
UCO_API int uco_getaddrinfo(const char *node, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res, int64_t deadline);

/*
 * Create a task running fn(arg) at the tail of the run queue; the caller
 * goes on.  0, -EPERM outside a task, -EINVAL (NULL fn, NULL task without
 * UCO_DETACHED, unknown flags, absurd sizes), -ENOMEM, -EAGAIN (the
 * process reached vm.max_map_count).
 */
UCO_API int uco_spawn(uco_task **task, uco_fn *fn, void *arg,
                      const uco_attr *attr);

/* Let every other ready task run once.  0, -ECANCELED, -EPERM. */
UCO_API int uco_yield(void);

/* Suspend for ns nanoseconds / until a deadline.  0, -ECANCELED, -EPERM,
 * -EINVAL (negative ns).  Never wakes early. */
UCO_API int uco_sleep(int64_t ns);
UCO_API int uco_sleep_until(int64_t deadline);

/*
 * Wait until task finishes, then release it.  0, -ECANCELED (it finished
 * cancelled, or the caller was cancelled while it still runs), UCO_ESTACK,
 * -ETIMEDOUT (it runs on; join again later), -EDEADLK (itself), -EBUSY
 * (another task joins it), -EINVAL (NULL, detached, already joined, group
 * member, other thread's, a negative deadline other than UCO_NEVER),
 * -EPERM (outside a task).  A task already finished is released even when
 * the caller is cancelled.
 */
UCO_API int uco_join(uco_task *task, void **result, int64_t deadline);

/* Release task when it finishes; its handle must not be used afterwards.
 * 0, -EINVAL, -EBUSY (a task joins it), -EPERM. */
UCO_API int uco_detach(uco_task *task);

/* End the calling task from any depth: its deferred handlers run and
 * result is its return value.  Outside a task: a message, then abort(). */
UCO_NORETURN UCO_API void uco_exit(void *result);

UCO_API uco_task *uco_self(void);                    /* NULL outside */
UCO_API uint64_t uco_task_id(const uco_task *task);  /* 0 for NULL */
UCO_API const char *uco_task_name(const uco_task *task); /* NULL for NULL */

/* ------------------------------------------------------------------ */
/* Stack overflow: guard regions and sandboxes                        */
/* ------------------------------------------------------------------ */

/*
 * Run fn(arg) to completion on a fresh guarded stack, synchronously, in a
 * task or outside any scheduler, as a sandbox.  0 and fn's result in
 * *result, UCO_ESTACK if it overflowed (*result NULL), -EINVAL (NULL fn,
 * flags other than UCO_SANDBOX, absurd sizes), -ENOMEM, -EAGAIN.
 * Inside fn, uco_exit ends fn's body and uco_defer pushes on it.
 */
UCO_API int uco_call(uco_fn *fn, void *arg, const uco_attr *attr,
                     void **result);

/* Bytes left between the stack pointer and the guard of the running
 * stack (a task's, a uco_call body's, or the thread's own). */
UCO_API size_t uco_stack_remaining(void);

/* ------------------------------------------------------------------ */
/* Generators                                                         */
/* ------------------------------------------------------------------ */

typedef struct uco_gen uco_gen;
typedef void uco_gen_fn(uco_gen *gen, void *arg);

/* A generator running fn(gen, arg) on its own guarded stack (attr: sizes,
 * name, UCO_SANDBOX).  It needs no scheduler.  0, -EINVAL, -ENOMEM,
 * -EAGAIN. */
UCO_API int uco_gen_create(uco_gen **gen, uco_gen_fn *fn, void *arg,
                           const uco_attr *attr);
/* Run the body until its next uco_gen_yield.  1: *value holds the value
 * (NULL in every other case); 0: the body has ended; UCO_ESTACK: a
 * sandboxed body overflowed (either again on every later call); -EBUSY:
 * called from inside the generator; -EINVAL. */
UCO_API int uco_gen_next(uco_gen *gen, void **value);
/* Inside fn: hand value to uco_gen_next and suspend.  0, -ECANCELED (the
 * generator is being destroyed: unwind), -EPERM (not from gen's own
 * body, or from its deferred handlers once it has ended), -EINVAL. */
UCO_API int uco_gen_yield(uco_gen *gen, void *value);
/* Free the generator; an unfinished body first unwinds (its pending yield
 * returns -ECANCELED) and its deferred handlers run.  NULL is a no-op. */
UCO_API void uco_gen_destroy(uco_gen *gen);

/* ------------------------------------------------------------------ */
/* Channels                                                           */
/* ------------------------------------------------------------------ */

typedef struct uco_chan uco_chan;

/* A channel of elements of elem_size bytes; capacity 0 makes every send
 * wait for its receiver (rendezvous).  0, -EINVAL, -ENOMEM. */
UCO_API int uco_chan_create(uco_chan **chan, size_t elem_size,
                            size_t capacity);
/* Copy elem in.  0, -EPIPE (closed), -ETIMEDOUT, -ECANCELED, -EPERM
 * (outside a task), -EINVAL. */
UCO_API int uco_chan_send(uco_chan *chan, const void *elem, int64_t deadline);
/* Copy the next element out.  0, -EPIPE (closed and drained),
 * -ETIMEDOUT, -ECANCELED, -EPERM, -EINVAL. */
UCO_API int uco_chan_recv(uco_chan *chan, void *elem, int64_t deadline);
/* No more sends: blocked senders get -EPIPE; receivers drain what is
 * buffered, then get -EPIPE.  0, -EPIPE (already closed), -EINVAL. */
UCO_API int uco_chan_close(uco_chan *chan);
/* Free a channel nobody waits on.  0, -EBUSY (tasks wait on it), -EINVAL. */
UCO_API int uco_chan_destroy(uco_chan *chan);

enum { UCO_CHAN_SEND = 1, UCO_CHAN_RECV = 2 };

typedef struct uco_chan_op {
    uco_chan *chan;
    int op;      /* UCO_CHAN_SEND or UCO_CHAN_RECV */
    void *elem;  /* element to send, or where to receive */
    int rc;      /* out: 0, or -EPIPE (closed) for the operation done */
} uco_chan_op;

/* Wait until one of n (1..16) operations can be done, do it, return its
 * index (the first ready one in array order when several are); its rc
 * says 0 or -EPIPE.  -ETIMEDOUT, -ECANCELED, -EPERM, -EINVAL. */
UCO_API int uco_chan_choose(uco_chan_op *ops, size_t n, int64_t deadline);

/* ------------------------------------------------------------------ */
/* Synchronisation: event, mutex, condition variable, semaphore, wait   */
/* group.  Waits are FIFO, take a deadline, and return -ECANCELED at     */
/* once in a cancelled task; -EPERM outside a task, -EINVAL for bad      */
/* input.  *_destroy returns -EBUSY while tasks wait (or it is locked).  */
/* ------------------------------------------------------------------ */

typedef struct uco_event uco_event;
typedef struct uco_mutex uco_mutex;
typedef struct uco_cond uco_cond;
typedef struct uco_sem uco_sem;
typedef struct uco_waitgroup uco_waitgroup;

UCO_API int uco_event_create(uco_event **ev);            /* starts clear */
UCO_API int uco_event_set(uco_event *ev);                /* wakes all */
UCO_API int uco_event_clear(uco_event *ev);
UCO_API int uco_event_is_set(const uco_event *ev);       /* 1, 0, -EINVAL */
UCO_API int uco_event_wait(uco_event *ev, int64_t deadline);
UCO_API int uco_event_destroy(uco_event *ev);

UCO_API int uco_mutex_create(uco_mutex **m);
/* -EDEADLK when the caller holds it already. */
UCO_API int uco_mutex_lock(uco_mutex *m, int64_t deadline);
/* -EPERM unless the caller holds it; hands it to the first waiter. */
UCO_API int uco_mutex_unlock(uco_mutex *m);
UCO_API int uco_mutex_destroy(uco_mutex *m);

UCO_API int uco_cond_create(uco_cond **c);
/* Unlock m, wait for a signal, lock m again: m is held on return however
 * the wait ended (0, -ETIMEDOUT, -ECANCELED); -EPERM unless m is held. */
UCO_API int uco_cond_wait(uco_cond *c, uco_mutex *m, int64_t deadline);
UCO_API int uco_cond_signal(uco_cond *c);
UCO_API int uco_cond_broadcast(uco_cond *c);
UCO_API int uco_cond_destroy(uco_cond *c);

UCO_API int uco_sem_create(uco_sem **s, unsigned value);
UCO_API int uco_sem_acquire(uco_sem *s, int64_t deadline);
/* -EOVERFLOW past UINT_MAX. */
UCO_API int uco_sem_release(uco_sem *s);
UCO_API int uco_sem_value(const uco_sem *s);
UCO_API int uco_sem_destroy(uco_sem *s);

UCO_API int uco_waitgroup_create(uco_waitgroup **wg);
/* -EINVAL if the count would go below zero; at zero, waiters wake. */
UCO_API int uco_waitgroup_add(uco_waitgroup *wg, int delta);
UCO_API int uco_waitgroup_done(uco_waitgroup *wg);
UCO_API int uco_waitgroup_wait(uco_waitgroup *wg, int64_t deadline);
UCO_API int uco_waitgroup_destroy(uco_waitgroup *wg);

/* ------------------------------------------------------------------ */
/* File descriptors                                                   */
/* ------------------------------------------------------------------ */

enum { UCO_READ = 1u << 0, UCO_WRITE = 1u << 1 };

/* Suspend until fd is readable and/or writable (events: UCO_READ |
 * UCO_WRITE).  Returns the ready events (> 0), -ETIMEDOUT, -ECANCELED,
 * -EBADF (not open, or closed by uco_fd_close meanwhile), -EBUSY (another
 * task waits on fd in that direction), -EINVAL, -EPERM, -ENOMEM. */
UCO_API int uco_fd_wait(int fd, unsigned events, int64_t deadline);
/* Wake fd's waiters with -EBADF, forget fd, close it.  0 or -errno. */
UCO_API int uco_fd_close(int fd);
/* As read(2), write(2), accept4(2), connect(2) on a blocking fd, but only
 * the task waits.  fd must be non-blocking (O_NONBLOCK, set by the caller:
 * on a blocking fd the whole thread blocks): bytes (or the new fd, or 0),
 * else a negative errno, -ETIMEDOUT, -ECANCELED, -EPERM.  uco_accept's fd
 * is non-blocking and close-on-exec. */
UCO_API ssize_t uco_read(int fd, void *buf, size_t n, int64_t deadline);
UCO_API ssize_t uco_write(int fd, const void *buf, size_t n,
                          int64_t deadline);
UCO_API int uco_accept(int fd, struct sockaddr *addr, socklen_t *len,
                       int64_t deadline);
UCO_API int uco_connect(int fd, const struct sockaddr *addr, socklen_t len,
                        int64_t deadline);

/* ------------------------------------------------------------------ */
/* Introspection                                                      */
/* ------------------------------------------------------------------ */

enum {
    UCO_TASK_READY = 0,   /* in the run queue */
    UCO_TASK_RUNNING = 1, /* the caller itself */
    UCO_TASK_WAITING = 2, /* sleeping, joining, on a channel, an fd, ... */
    UCO_TASK_DONE = 3     /* finished, not yet joined */
};

/* task's state (UCO_TASK_*), or -EINVAL (NULL, released, other thread's,
 * or outside a scheduler). */
UCO_API int uco_task_state(const uco_task *task);
/* Write a table of every unfinished task of this thread's scheduler to
 * out: id, name, state, what it waits on and until when, stack size and
 * resident stack, flags.  The number of tasks, -EINVAL, -EPERM. */
UCO_API int uco_dump(FILE *out);
/* Report (on stderr, when it next switches) a task that ran longer than
 * limit ns without yielding; 0 turns it off.  0, -EINVAL, -EPERM. */
UCO_API int uco_watchdog(int64_t limit);

/* ------------------------------------------------------------------ */
/* Cancellation: the unwinding flag                                   */
/* ------------------------------------------------------------------ */

/* Set task's cancel flag; a suspended task is woken with -ECANCELED.
 * 0, -EINVAL, -EPERM (outside a scheduler). */
UCO_API int uco_cancel(uco_task *task);
/* The calling task's flag (false outside a task). */
UCO_API bool uco_cancelled(void);
/* Block normally despite the flag (on) or not; returns the previous state
 * (0 or 1), -EPERM outside a task. */
UCO_API int uco_shield(bool on);
/* A deadline for a block of code, nestable (at least 32 levels): while
 * pushed, every suspension point of the task waits at most until the
 * earliest pushed deadline, and once one has passed returns -ETIMEDOUT at
 * once, until it is popped (a shield holds them off; cancellation wins).
 * 0, -EINVAL, -ENOMEM (too deep), -EPERM (not a task). */
UCO_API int uco_deadline_push(int64_t deadline);
/* Pop the innermost: 1 if it had passed, 0 if not, -EINVAL (none pushed),
 * -EPERM. */
UCO_API int uco_deadline_pop(void);
/* Push a cleanup handler on the running coroutine; 0, -EINVAL, -ENOMEM,
 * -EPERM. */
UCO_API int uco_defer(void (*fn)(void *arg), void *arg);
/* Pop the last handler, running it if run.  0, -ENOENT (none), -EPERM. */
UCO_API int uco_undefer(bool run);

/* ------------------------------------------------------------------ */
/* Task groups: structured concurrency                                */
/* ------------------------------------------------------------------ */

typedef struct uco_group uco_group;

enum {
    UCO_GROUP_FAIL_FAST = 1u << 0  /* a failing member cancels the rest */
};

/* A group owned by the calling task: cancelling the owner cancels the
 * members; when the owner ends, groups it left are destroyed.
 * 0, -EINVAL, -ENOMEM, -EPERM. */
UCO_API int uco_group_create(uco_group **group, unsigned flags);
/* Spawn a member (as uco_spawn; UCO_DETACHED is refused with -EINVAL).
 * *task, if not NULL, may be cancelled and named while the member lives;
 * the group releases members itself, so it can't be joined.  -EBUSY while
 * the group is being destroyed.  A member spawned into a cancelled group
 * (or one whose owner is cancelled) starts cancelled. */
UCO_API int uco_group_spawn(uco_group *group, uco_task **task, uco_fn *fn,
                            void *arg, const uco_attr *attr);
/* Wait until no member is alive.  0, -ETIMEDOUT, -ECANCELED (the caller),
 * -EDEADLK (the caller is a member, or inside one: a member of a group a
 * member owns, ...), -EINVAL, -EPERM. */
UCO_API int uco_group_wait(uco_group *group, int64_t deadline);
/* Cancel every live member.  0, -EINVAL, -EPERM. */
UCO_API int uco_group_cancel(uco_group *group);
/* The first failure: 0 (none yet), -ECANCELED or UCO_ESTACK; the failed
 * member's id in *task_id when not NULL.  -EINVAL for NULL. */
UCO_API int uco_group_status(const uco_group *group, uint64_t *task_id);
/* Cancel and join what is left (shielded), free the group; returns its
 * status, or -EDEADLK (the caller is a member, or inside one), -EBUSY
 * (another task is destroying it), -EINVAL, -EPERM. */
UCO_API int uco_group_destroy(uco_group *group);

#ifdef __cplusplus
}
#endif

#endif /* UCORO_H */
