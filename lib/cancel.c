/*
 * cancel.c - the unwinding flag, shields, and the deferred handlers of
 * whatever coroutine runs.
 *
 * Cancelling a task cancels the members of the groups it owns, and the
 * members of the groups those own, and so on: a tree the program builds,
 * as deep as it likes.  It is walked with a work list through the tasks
 * themselves (uco_task.cnode), breadth first, in constant stack.  A task
 * whose flag is already set is not walked again: its subtree was
 * cancelled when the flag was set (a group made later by a cancelled
 * owner starts its members cancelled).
 */
#include "task.h"

#include "frame.h"

#include <stdlib.h>

/* Set t's flag if it is not yet set, and queue it on work for its
 * groups.  No switch. */
static void flag(struct uco_task *t, struct uco_list *work)
{
    if (t->state == UCO_TASK_DONE || t->cancelled)
        return;
    t->cancelled = true;
    uco__list_push(work, &t->cnode);
}

/* Flag every live member of g.  No switch. */
static void flag_members(struct uco_group *g, struct uco_list *work)
{
    struct uco_list *n;

    g->cancelled = true;
    for (n = g->members.next; n != &g->members; n = n->next)
        flag(uco__container(n, struct uco_task, gnode), work);
}

/* Walk work until it is empty: each task's groups' members are flagged
 * in turn, and the task woken if it waits unshielded.  No switch. */
static void walk(struct uco_sched *s, struct uco_list *work)
{
    struct uco_list *n, *g;

    while ((n = uco__list_pop(work))) {
        struct uco_task *t = uco__container(n, struct uco_task, cnode);
        for (g = t->groups.next; g != &t->groups; g = g->next)
            flag_members(uco__container(g, struct uco_group, onode), work);
        if (t->state == UCO_TASK_WAITING && !t->shielded)
            uco__wake(s, t, -ECANCELED);
    }
}

void uco__cancel(struct uco_sched *s, struct uco_task *t)
{
    struct uco_list work;

    uco__list_init(&work);
    if (t->state == UCO_TASK_DONE)
        return;
    if (t->cancelled) { /* its subtree was done then */
        if (t->state == UCO_TASK_WAITING && !t->shielded)
            uco__wake(s, t, -ECANCELED);
        return;
    }
    flag(t, &work);
    walk(s, &work);
}

void uco__cancel_group(struct uco_sched *s, struct uco_group *g)
{
    struct uco_list work;

    uco__list_init(&work);
    flag_members(g, &work);
    walk(s, &work);
}

void uco__cancel_all(struct uco_sched *s)
{
    struct uco_list *n;

    for (n = s->tasks.next; n != &s->tasks; n = n->next)
        uco__cancel(s, uco__container(n, struct uco_task, all));
}

int uco_cancel(uco_task *t)
{
    struct uco_sched *s = uco__cur;

    if (!s)
        return -EPERM;
    if (!uco__task_valid(s, t))
        return -EINVAL;
    uco__enter_change();
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

/* ---- deadline scopes */

/* The earliest of t's pushed deadlines. */
static void scope_min(struct uco_task *t)
{
    unsigned i;

    t->scope_min = INT64_MAX;
    for (i = 0; i < t->nscopes; i++)
        if (t->scopes[i] < t->scope_min)
            t->scope_min = t->scopes[i];
}

int uco_deadline_push(int64_t deadline)
{
    struct uco_task *self = uco__self();

    if (!self)
        return -EPERM;
    if (deadline < 0 && deadline != UCO_NEVER)
        return -EINVAL;
    if (!self->scopes) {
        self->scopes = malloc(UCO_SCOPES * sizeof *self->scopes);
        if (!self->scopes)
            return -ENOMEM;
    }
    if (self->nscopes == UCO_SCOPES)
        return -ENOMEM;
    self->scopes[self->nscopes++] = deadline == UCO_NEVER ? INT64_MAX : deadline;
    scope_min(self);
    return 0;
}

int uco_deadline_pop(void)
{
    struct uco_task *self = uco__self();
    int64_t d;

    if (!self)
        return -EPERM;
    if (self->nscopes == 0)
        return -EINVAL;
    d = self->scopes[--self->nscopes];
    scope_min(self);
    return d <= uco_now();
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
    uco__enter_change();
    return uco__defers_push(d, fn, arg);
}

int uco_undefer(bool run)
{
    struct uco_defers *d = running_defers();
    struct uco_defer_fn h;

    if (!d)
        return -EPERM;
    if (uco__defers_pop(d, &h) < 0)
        return -ENOENT;
    if (run)
        h.fn(h.arg);
    return 0;
}
