/*
 * frame.h - frames: bodies that run to completion on a guarded stack of
 * their own, inside the task (or the thread) that started them: uco_call's
 * sandbox, and generators.  And the rescue of every sandbox, frame or
 * task, that overflows (frame.c).
 *
 * Frames nest: the innermost one running on top of a task is task->frame
 * (outside any task: the thread's frame), and each points to the one it
 * runs inside.
 */
#ifndef UCO_FRAME_H
#define UCO_FRAME_H

#include "core.h"

struct uco_frame {
    uco_ctx ctx;              /* the body's context while it is not running */
    uco_ctx back;             /* the context that resumed the body */
    struct uco_stack stack;   /* the body's own stack */
    struct uco_defers defers; /* handlers pushed while the body ran */
    struct uco_frame *parent; /* frame it runs inside while it runs, or NULL */
    uco_fn *fn;
    void *arg;
    void *result;             /* fn's return value, or uco_exit's */
    int outcome;              /* 0, or UCO_ESTACK after an overflow */
    bool sandbox;             /* an overflow ends the body, not the process */
    bool done;                /* the body has ended */
    bool overflowed;          /* rescued: its context was made anew to end it */
    bool remake;              /* uco_exit in a handler: the resumer makes
                                 its context anew and resumes it */
    const char *name;         /* for diagnostics */
};

/* Where the innermost frame of the running task (or thread) is kept. */
struct uco_frame **uco__frame_slot(void);
/* The stack the caller runs on (frame, task), or NULL on a thread's. */
const struct uco_stack *uco__running_stack(void);
/* The thread starts (enter) or stops (leave) running coroutines: the
 * fault handler, with the core's rescue as its hook (guard.h).  0 or
 * -ENOMEM.  No switch. */
int uco__coro_enter(void);
void uco__coro_leave(void);
/* Prepare f to run fn(arg) on a stack of its own (attr's sizes; name
 * for diagnostics unless attr names it).  0, -EINVAL, -ENOMEM, -EAGAIN.
 * f->sandbox is left to the caller.  No switch. */
int uco__frame_start(struct uco_frame *f, uco_fn *fn, void *arg,
                     const uco_attr *attr, const char *name);
/* Run f's body until it ends or suspends itself (generators): makes it
 * the innermost frame meanwhile.  Switches. */
void uco__frame_resume(struct uco_frame *f);
/* Release f's stack (its body has ended or will never run).  No switch. */
void uco__frame_stop(struct uco_frame *f);
/* End the innermost frame's body with result (uco_exit inside a frame). */
_Noreturn void uco__frame_exit(struct uco_frame *f, void *result);

#endif /* UCO_FRAME_H */
