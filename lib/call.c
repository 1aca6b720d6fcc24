/*
 * call.c - frames: bodies that run to completion on a guarded stack of
 * their own, inside the task or thread that started them (uco_call), the
 * rescue of overflowed sandboxes, and uco_stack_remaining.
 */
#include "ucoro-int.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

static UCO_TLS struct uco_frame *thread_frame; /* outside any task */
static UCO_TLS uintptr_t thread_stack_lo;      /* cached thread stack end */

struct uco_frame **uco__frame_slot(void)
{
    struct uco_task *self = uco__self();
    return self ? &self->frame : &thread_frame;
}

const struct uco_stack *uco__running_stack(void)
{
    struct uco_task *self = uco__self();
    struct uco_frame *f = self ? self->frame : thread_frame;

    if (f)
        return &f->stack;
    return self ? &self->stack : NULL;
}

void uco__stack_ensure_running(bool run)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), lo;

    if (!thread_frame)
        return;
    lo = uco__stack_lo(&thread_frame->stack);
    if (run && sp - lo < UCO_LIB_STACK_RUN + 512)
        uco__stack_reserve_run();
    else if (sp - lo < UCO_LIB_STACK_ENTRY + 512)
        uco__stack_reserve_entry();
}

/* The body's end, however it came: handlers; then the context to go back
 * to, the caller's. */
static uco_ctx *frame_end(struct uco_frame *f)
{
    f->done = true;
    uco__defers_run(&f->defers);
    return &f->back;
}

static uco_ctx *frame_entry(void *p)
{
    struct uco_frame *f = p;
    f->result = f->fn(f->arg);
    return frame_end(f);
}

static uco_ctx *frame_rescue(void *p)
{
    struct uco_frame *f = p;
    uco__guard_rescued();
    if (!f->done) { /* an overflow in a handler keeps the body's outcome */
        f->outcome = UCO_ESTACK;
        f->result = NULL;
    }
    return frame_end(f);
}

/* The overflow may have struck half-way through a suspension (in the
 * scheduler's own code, which runs on the task's stack): undo what was
 * done of it, so that the task is on no queue when it ends. */
static void unsuspend(struct uco_task *t)
{
    struct uco_sched *s = t->sched;

    uco__unpark(s, t);
    t->state = UCO_S_RUNNING;
    s->current = t;
}

_Noreturn void uco__frame_overflowed(struct uco_frame *f)
{
    struct uco_task *t = uco__self();

    if (t)
        unsuspend(t);
    /* Called on the alternate signal stack: the overflowed stack is
     * abandoned from its top, so the rescue has all of it again. */
    uco__ctx_make(&f->ctx, &f->stack, frame_rescue, f);
    uco__ctx_jump(&f->ctx);
}

static uco_ctx *task_rescue(void *p)
{
    struct uco_task *t = p;
    uco__guard_rescued();
    if (!t->finishing) /* an outcome fixed already stays */
        t->outcome = UCO_ESTACK;
    return uco__task_end(t, NULL);
}

_Noreturn void uco__task_overflowed(struct uco_task *t)
{
    unsuspend(t);
    uco__ctx_make(&t->ctx, &t->stack, task_rescue, t);
    uco__ctx_jump(&t->ctx);
}

/* uco_exit inside a frame ends the frame's body, as a return would. */
_Noreturn void uco__frame_exit(struct uco_frame *f, void *result)
{
    if (!f->done) /* from a deferred handler: the body already ended */
        f->result = result;
    uco__ctx_jump(frame_end(f));
}

int uco__frame_start(struct uco_frame *f, uco_fn *fn, void *arg,
                     const uco_attr *attr, const char *name)
{
    size_t size, guard;
    int rc;

    rc = uco__stack_sizes(attr, &size, &guard);
    if (rc < 0)
        return rc;
    rc = uco__guard_enter();
    if (rc < 0)
        return rc;
    rc = uco__stack_get(&f->stack, size, guard);
    if (rc < 0) {
        uco__guard_leave();
        return rc;
    }
    if (!uco__cur)
        uco__ctx_template_refresh(); /* the thread's mask as it is now */
    uco__defers_init(&f->defers);
    uco__ctx_init(&f->ctx);
    uco__ctx_init(&f->back);
    f->fn = fn;
    f->arg = arg;
    f->result = NULL;
    f->outcome = 0;
    f->done = false;
    f->name = attr && attr->name ? attr->name : name;
    f->parent = NULL;
    uco__ctx_make(&f->ctx, &f->stack, frame_entry, f);
    return 0;
}

void uco__frame_resume(struct uco_frame *f)
{
    struct uco_task *self = uco__self();
    struct uco_frame **slot = uco__frame_slot();
    uintptr_t lo = self ? self->stack_lo : 0;

    f->parent = *slot;
    *slot = f;
    if (self)
        self->stack_lo = uco__stack_lo(&f->stack);
    uco__ctx_switch(&f->back, &f->ctx);
    *slot = f->parent;
    if (self)
        self->stack_lo = lo;
}

void uco__frame_stop(struct uco_frame *f)
{
    uco__ctx_free(&f->ctx);
    uco__stack_put(&f->stack);
    uco__guard_leave();
}

int uco_call(uco_fn *fn, void *arg, const uco_attr *attr, void **result)
{
    struct uco_frame f;
    int rc;

    if (!fn || (attr && (attr->flags & ~(unsigned)UCO_SANDBOX)))
        return -EINVAL;
    uco__stack_ensure_entry();
    rc = uco__frame_start(&f, fn, arg, attr, "uco_call");
    if (rc < 0)
        return rc;
    f.sandbox = true;
    uco__frame_resume(&f);
    uco__frame_stop(&f);
    if (result)
        *result = f.result;
    return f.outcome;
}

/* The low end of the calling thread's own stack (cached). */
static uintptr_t thread_stack_low(void)
{
    pthread_attr_t a;
    void *addr;
    size_t size;

    if (thread_stack_lo)
        return thread_stack_lo;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return 0;
    if (pthread_attr_getstack(&a, &addr, &size) == 0)
        thread_stack_lo = (uintptr_t)addr;
    pthread_attr_destroy(&a);
    return thread_stack_lo;
}

size_t uco_stack_remaining(void)
{
    volatile char here;
    uintptr_t sp = (uintptr_t)&here, lo;
    const struct uco_stack *st = uco__running_stack();

    lo = st ? uco__stack_lo(st) : thread_stack_low();
    return sp > lo ? sp - lo : 0;
}
