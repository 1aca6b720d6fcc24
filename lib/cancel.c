/*
 * cancel.c - the unwinding flag, shields and deferred handlers.
 */
#include "ucoro-int.h"

#include <stdlib.h>
#include <string.h>

void uco__cancel(struct uco_sched *s, struct uco_task *t)
{
    if (t->state == UCO_S_DONE)
        return;
    if (!t->cancelled) {
        t->cancelled = true;
        uco__group_cancel_owned(s, t);
    }
    if (t->state == UCO_S_WAITING && !t->shielded)
        uco__wake(s, t, -ECANCELED);
}

int uco_cancel(uco_task *t)
{
    struct uco_sched *s = uco__cur;

    if (!s)
        return -EPERM;
    if (!uco__task_valid(s, t))
        return -EINVAL;
    uco__stack_ensure_entry();
    uco__cancel(s, t);
    return 0;
}

bool uco_cancelled(void)
{
    struct uco_task *self = uco__self();
    return self && self->cancelled;
}

int uco_shield(bool on)
{
    struct uco_task *self = uco__self();
    bool was;

    if (!self)
        return -EPERM;
    was = self->shielded;
    self->shielded = on;
    return was;
}

void uco__defers_init(struct uco_defers *d)
{
    d->v = d->inl;
    d->n = 0;
    d->cap = UCO_DEFER_INLINE;
}

void uco__defers_run(struct uco_defers *d)
{
    while (d->n > 0) {
        struct uco_defer_fn h = d->v[--d->n];
        h.fn(h.arg);
    }
    if (d->v != d->inl)
        free(d->v);
    uco__defers_init(d);
}

/* The handlers of the coroutine that is running (the innermost frame, or
 * the task), or NULL outside any. */
static struct uco_defers *running_defers(void)
{
    struct uco_task *self = uco__self();
    struct uco_frame *f = *uco__frame_slot();

    if (f)
        return &f->defers;
    return self ? &self->defers : NULL;
}

int uco_defer(void (*fn)(void *arg), void *arg)
{
    struct uco_defers *d = running_defers();

    if (!d)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    uco__stack_ensure_entry();
    if (d->n == d->cap) {
        unsigned cap = d->cap * 2;
        struct uco_defer_fn *v;
        if (d->v == d->inl) {
            v = malloc(cap * sizeof *v);
            if (v)
                memcpy(v, d->inl, sizeof d->inl);
        } else {
            v = realloc(d->v, cap * sizeof *v);
        }
        if (!v)
            return -ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n].fn = fn;
    d->v[d->n].arg = arg;
    d->n++;
    return 0;
}

int uco_undefer(bool run)
{
    struct uco_defers *d = running_defers();
    struct uco_defer_fn h;

    if (!d)
        return -EPERM;
    if (d->n == 0)
        return -ENOENT;
    h = d->v[--d->n];
    if (run)
        h.fn(h.arg);
    return 0;
}
