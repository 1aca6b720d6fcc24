/*
 * task.c - what a task is to its user: spawn, finish, exit, join,
 * detach, its id and name.  A sandboxed task that overflowed is ended
 * here too: the core makes its context anew (frame.c) and its entry
 * finds it `overflowed`.
 */
#include "task.h"

#include "frame.h"
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a name: inline when short.  0 or -ENOMEM. */
static int set_name(struct uco_task *t, const char *name)
{
    size_t len;

    t->name = NULL;
    if (!name)
        return 0;
    len = strlen(name) + 1;
    t->name = len <= sizeof t->namebuf ? t->namebuf : malloc(len);
    if (!t->name)
        return -ENOMEM;
    memcpy(t->name, name, len);
    return 0;
}

/* First code of every task, and of a task whose context was made anew:
 * a rescued sandbox, or uco_exit from a deferred handler (the handlers
 * left then run from the stack's top, not below the one that exited). */
static uco_ctx *task_entry(void *p)
{
    struct uco_task *t = p;
    void *r = NULL;

    if (UCO_UNLIKELY(t->overflowed)) {
        uco__guard_rescued();
        t->overflowed = false;
        if (!t->finishing) /* an outcome fixed already stays */
            t->outcome = UCO_ESTACK;
        return uco__task_end(t, NULL);
    }
    if (UCO_UNLIKELY(t->finishing))
        return uco__task_end(t, NULL);
    if (t->sched->zombie)
        uco__sched_reap(t->sched);
    if (!t->cancelled || t->must_enter)
        r = t->fn(t->arg);
    return uco__task_end(t, r);
}

int uco__spawn(struct uco_sched *s, struct uco_task **task, uco_fn *fn,
               void *arg, const uco_attr *attr)
{
    unsigned flags = attr ? attr->flags : 0;
    size_t size, guard;
    struct uco_task *t;
    int rc;

    if (!fn || (flags & ~(unsigned)(UCO_SANDBOX | UCO_DETACHED)) ||
        (!task && !(flags & UCO_DETACHED)))
        return -EINVAL;
    rc = uco__stack_sizes(attr, &size, &guard);
    if (rc < 0)
        return rc;
    if (uco__sleepq_reserve(&s->sleepq, s->alive + 1) < 0)
        return -ENOMEM;
    t = uco__tcb_alloc(s);
    if (!t)
        return -ENOMEM;
    rc = set_name(t, attr ? attr->name : NULL);
    if (rc == 0)
        rc = uco__stack_get(&t->stack, size, guard);
    if (rc < 0) {
        t->magic = UCO_TASK_MAGIC; /* so that release frees the name */
        uco__tcb_release(s, t);
        return rc;
    }
    t->magic = UCO_TASK_MAGIC;
    t->stack_lo = uco__stack_lo(&t->stack);
    t->shielded = t->finishing = t->overflowed = t->must_enter = false;
    t->cancelled = s->main_done; /* born cancelled after main ended */
    t->detached = (flags & UCO_DETACHED) != 0;
    t->flags = flags;
    t->outcome = 0;
    t->sched = s;
    t->id = s->next_id++;
    t->fn = fn;
    t->arg = arg;
    t->result = NULL;
    t->heap_idx = UCO_NO_HEAP;
    t->scopes = NULL;
    t->nscopes = 0;
    t->scope_min = INT64_MAX;
    t->joiner = NULL;
    t->group = NULL;
    t->frame = NULL;
    t->unwait = NULL;
    uco__list_init(&t->joiners);
    uco__list_init(&t->gnode);
    uco__list_init(&t->groups);
    uco__list_init(&t->cnode);
    uco__defers_init(&t->defers);
    uco__ctx_make(&t->ctx, &t->stack, task_entry, t);
    uco__list_push(&s->tasks, &t->all);
    s->alive++;
    uco__ready(s, t);
    if (task)
        *task = t;
    return 0;
}

int uco_spawn(uco_task **task, uco_fn *fn, void *arg, const uco_attr *attr)
{
    struct uco_task *self;
    /* the allocator must not overflow a task's stack half-way, holding
     * its lock: the reserve first */
    int rc = uco__enter_task(&self, true);

    if (rc < 0)
        return rc;
    return uco__spawn(self->sched, task, fn, arg, attr);
}

uco_ctx *uco__task_end(struct uco_task *t, void *result)
{
    struct uco_sched *s = t->sched;
    struct uco_task *joiner;

    /* an overflow below must not strike half-way through the end */
    uco__stack_ensure(t->stack_lo, UCO_LIB_STACK);
    if (!t->finishing) {
        /* First time here: fix the outcome, then clean up shielded.  A
         * handler that calls uco_exit comes back here (through a fresh
         * context) and only goes on with the handlers still pushed. */
        t->finishing = true;
        t->result = result;
        if (t->outcome == 0 && t->cancelled)
            t->outcome = -ECANCELED;
    }
    t->shielded = true;
    if (!uco__defers_idle(&t->defers))
        uco__defers_run(&t->defers);
    if (!uco__list_empty(&t->groups))
        uco__group_destroy_owned(t);
    free(t->scopes); /* (its handlers may have pushed some) */
    t->scopes = NULL;
    t->nscopes = 0;
    t->state = UCO_TASK_DONE;
    uco__list_remove(&t->all);
    s->alive--;
    if (t->group)
        uco__group_member_done(t);
    joiner = uco__waiter_first(&t->joiners);
    if (joiner)
        uco__wake(s, joiner, 0);
    if (t == s->main && !s->main_done) {
        /* kept here: main may be joined or detached, and released */
        s->main_outcome = t->outcome;
        s->main_result = t->result;
        __atomic_store_n(&s->main_done, true, __ATOMIC_RELEASE);
        uco__cancel_all(s);
    }
    s->zombie = t;
    return uco__sched_leave(s);
}

_Noreturn void uco_exit(void *result)
{
    struct uco_task *self = uco__self();
    struct uco_frame *f = *uco__frame_slot();

    if (f)
        uco__frame_exit(f, result);
    if (!self) {
        fputs("ucoro: uco_exit called outside a task\n", stderr);
        abort();
    }
    if (self->finishing) {
        /* from a deferred handler: the end goes on from a fresh context
         * on the same stack, the frames of this one left behind; the
         * scheduler's context makes it (a context cannot be made on the
         * stack it runs on: its frame would overwrite the maker's) */
        self->sched->remake = self;
        uco__ctx_switch(&self->ctx, &self->sched->ctx);
    }
    uco__ctx_jump(uco__task_end(self, result));
}

int uco_join(uco_task *t, void **result, int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self;
    struct uco_waiter w;
    int rc = uco__enter_task(&self, uco__task_valid(s, t) && !t->detached &&
                                        (deadline >= 0 || deadline == UCO_NEVER));

    if (rc < 0)
        return rc;
    if (t == self)
        return -EDEADLK;
    if (t->joiner)
        return -EBUSY;
    if (t->state != UCO_TASK_DONE) {
        t->joiner = self; /* until it returns, woken or not */
        rc = uco__wait_on(&t->joiners, &w, self, deadline, "join");
        t->joiner = NULL;
        if (rc < 0 && t->state != UCO_TASK_DONE)
            return rc; /* a finished task is released all the same */
    }
    rc = t->outcome;
    if (result)
        *result = t->result;
    uco__tcb_release(s, t);
    return rc;
}

int uco_detach(uco_task *t)
{
    struct uco_sched *s = uco__cur;

    if (!s)
        return -EPERM;
    if (!uco__task_valid(s, t) || t->detached)
        return -EINVAL;
    if (t->joiner)
        return -EBUSY;
    uco__enter_change();
    t->detached = true;
    if (t->state == UCO_TASK_DONE && s->zombie != t)
        uco__tcb_release(s, t);
    return 0;
}

uco_task *uco_self(void)
{
    return uco__self();
}

uint64_t uco_task_id(const uco_task *t)
{
    return t ? t->id : 0;
}

const char *uco_task_name(const uco_task *t)
{
    struct uco_task *w = (struct uco_task *)t;

    if (!t)
        return NULL;
    if (!w->name) {
        snprintf(w->namebuf, sizeof w->namebuf, "task-%llu",
                 (unsigned long long)w->id);
        w->name = w->namebuf;
    }
    return w->name;
}
