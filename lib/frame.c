/*
 * frame.c - frames (frame.h), and the rescue of overflowed sandboxes.
 *
 * The fault handler (guard.c) asks uco__fault_rescue whether a fault lies
 * in a guard of what runs on this thread: the innermost frame's, or the
 * running task's (or the task leaving, between the choice of the next
 * task and the switch to it).  A sandbox is rescued: taken out of any
 * wait it had half begun, its context made anew on its own stack (the
 * overflowed stack is abandoned from its top, so the rescue has all of it
 * again), and resumed; its entry sees `overflowed` and ends it with
 * UCO_ESTACK.  uco_exit from a deferred handler goes the same way, so
 * that the handlers left never run below the frames of the one that
 * exited.  Anything else is reported, naming the task, and the
 * default action follows.
 */
#include "frame.h"

#include "guard.h"

#include <unistd.h>

static UCO_TLS struct uco_frame *thread_frame; /* outside any task */

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

void uco__enter_off_task(size_t n)
{
    if (thread_frame)
        uco__stack_ensure(uco__stack_lo(&thread_frame->stack), n);
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

    if (UCO_UNLIKELY(f->overflowed)) {
        uco__guard_rescued();
        f->overflowed = false;
        if (!f->done) { /* an overflow in a handler keeps the outcome */
            f->outcome = UCO_ESTACK;
            f->result = NULL;
        }
        return frame_end(f);
    }
    if (UCO_UNLIKELY(f->done)) /* uco_exit from a deferred handler */
        return frame_end(f);
    f->result = f->fn(f->arg);
    return frame_end(f);
}

_Noreturn void uco__frame_exit(struct uco_frame *f, void *result)
{
    if (f->done) {
        /* from a deferred handler (the body already ended): the handlers
         * left run from a fresh context on the same stack, the frames of
         * this one left behind; the resumer makes it (a context cannot be
         * made on the stack it runs on) */
        f->remake = true;
        uco__ctx_switch(&f->ctx, &f->back);
    }
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
    rc = uco__coro_enter();
    if (rc < 0)
        return rc;
    rc = uco__stack_get(&f->stack, size, guard);
    if (rc < 0) {
        uco__coro_leave();
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
    f->overflowed = false;
    f->remake = false;
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
    while (UCO_UNLIKELY(f->remake)) { /* uco_exit in a handler */
        f->remake = false;
        uco__ctx_make(&f->ctx, &f->stack, frame_entry, f);
        uco__ctx_switch(&f->back, &f->ctx);
    }
    *slot = f->parent;
    if (self)
        self->stack_lo = lo;
}

void uco__frame_stop(struct uco_frame *f)
{
    uco__ctx_free(&f->ctx);
    uco__stack_put(&f->stack);
    uco__coro_leave();
}

/* ---- the rescue */

static bool in_guard(const struct uco_stack *st, uintptr_t a)
{
    return st->map && a >= (uintptr_t)st->map &&
           a < (uintptr_t)st->map + st->guard;
}

/* Name the overflowed coroutine on stderr: no stdio, one write. */
static void report(const struct uco_task *t, const struct uco_frame *f,
                   const struct uco_stack *st, uintptr_t addr)
{
    char b[512];
    size_t n = 0, cap = sizeof b;

    n = uco__put_str(b, n, cap, "ucoro: stack overflow: task ");
    if (t)
        n = uco__put_task(b, n, cap, t);
    else
        n = uco__put_str(b, n, cap, "(none: outside a scheduler)");
    if (f) {
        n = uco__put_str(b, n, cap, " in ");
        n = uco__put_name(b, n, cap, f->name ? f->name : "a frame");
    }
    n = uco__put_str(b, n, cap, " ran into its guard region: stack size ");
    n = uco__put_num(b, n, cap, st->size, 10);
    n = uco__put_str(b, n, cap, " bytes, guard size ");
    n = uco__put_num(b, n, cap, st->guard, 10);
    n = uco__put_str(b, n, cap, " bytes, fault address ");
    n = uco__put_num(b, n, cap, addr, 16);
    n = uco__put_str(b, n, cap, "\n");
    if (write(2, b, n) < 0) {
        /* nothing more can be done from here */
    }
}

/* The overflow may have struck half-way through a suspension (in the
 * library's own code, which runs on the task's stack): undo what was done
 * of it, so that the task is current again and registered nowhere. */
static void unsuspend(struct uco_task *t)
{
    struct uco_sched *s = t->sched;

    uco__unpark(s, t);
    uco__list_remove(&t->qnode);
    t->state = UCO_TASK_RUNNING;
    s->current = t;
}

/* Resume c, made anew on st with its own entry, which sees the flag the
 * caller set.  Called on the alternate signal stack. */
static _Noreturn void rescue(uco_ctx *c, const struct uco_stack *st,
                             void *uctx)
{
    uco__guard_leave_handler(uctx);
    uco__ctx_make(c, st, c->entry, c->arg);
    uco__ctx_jump(c);
}

/* The task whose guard addr may be in: the running one, or the one
 * leaving (between the choice of the next task and the switch, the code
 * still runs on the leaving one's stack: the one chosen goes back first
 * in line, and the leaving one is current again). */
static struct uco_task *faulting_task(struct uco_sched *s, uintptr_t addr)
{
    struct uco_task *t = s->current, *l = s->leaving;

    if (l && l != t &&
        (in_guard(&l->stack, addr) || (l->frame && in_guard(&l->frame->stack, addr)))) {
        if (t) {
            t->state = UCO_TASK_READY;
            uco__list_push(s->runq.next, &t->qnode);
        }
        s->current = t = l;
    }
    return t;
}

static bool fault_rescue(uintptr_t addr, void *uctx)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *t = s ? faulting_task(s, addr) : NULL;
    struct uco_frame *f = t ? t->frame : thread_frame;

    if (f && in_guard(&f->stack, addr)) {
        if (f->sandbox) {
            if (t)
                unsuspend(t);
            f->overflowed = true;
            rescue(&f->ctx, &f->stack, uctx);
        }
        report(t, f, &f->stack, addr);
        return true;
    }
    if (t && in_guard(&t->stack, addr)) {
        if (t->flags & UCO_SANDBOX) {
            unsuspend(t);
            t->overflowed = true;
            rescue(&t->ctx, &t->stack, uctx);
        }
        report(t, NULL, &t->stack, addr);
        return true;
    }
    return false;
}

int uco__coro_enter(void)
{
    return uco__guard_enter(fault_rescue);
}

void uco__coro_leave(void)
{
    uco__guard_leave();
}
