/*
 * task.c - what a task is: control blocks, spawn, finish, join, detach.
 *
 * Control blocks come from per-scheduler chunks and go back on a FIFO free
 * list when released, marked UCO_TASK_FREE: a stale handle (joined, or
 * detached and finished) is then refused with -EINVAL until its block is
 * reused, which FIFO order puts off as long as possible.  They are freed
 * when uco_run returns.
 */
#include "ucoro-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCB_CHUNK 64

struct uco_tcb_chunk {
    struct uco_tcb_chunk *next;
    struct uco_task tcb[TCB_CHUNK];
};

/* A fresh control block, or NULL.  No switch. */
static struct uco_task *tcb_alloc(struct uco_sched *s)
{
    struct uco_list *n = uco__list_pop(&s->free_tcbs);
    struct uco_tcb_chunk *c;
    size_t i;

    if (n)
        return uco__container(n, struct uco_task, qnode);
    c = aligned_alloc(_Alignof(struct uco_tcb_chunk), sizeof *c);
    if (!c)
        return NULL;
    c->next = s->chunks;
    s->chunks = c;
    for (i = 0; i < TCB_CHUNK; i++)
        uco__ctx_init(&c->tcb[i].ctx);
    for (i = 1; i < TCB_CHUNK; i++) {
        c->tcb[i].magic = UCO_TASK_FREE;
        c->tcb[i].name = NULL;
        uco__list_push(&s->free_tcbs, &c->tcb[i].qnode);
    }
    return &c->tcb[0];
}

void uco__task_release(struct uco_sched *s, struct uco_task *t)
{
    t->magic = UCO_TASK_FREE;
    if (t->name != t->namebuf)
        free(t->name);
    t->name = NULL;
    uco__list_push(&s->free_tcbs, &t->qnode);
}

void uco__tcb_free_all(struct uco_sched *s)
{
    while (s->chunks) {
        struct uco_tcb_chunk *c = s->chunks;
        size_t i;
        for (i = 0; i < TCB_CHUNK; i++)
            if (c->tcb[i].magic == UCO_TASK_MAGIC &&
                c->tcb[i].name != c->tcb[i].namebuf)
                free(c->tcb[i].name);
        s->chunks = c->next;
        free(c);
    }
}

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

/* First code of every task. */
static uco_ctx *task_entry(void *p)
{
    struct uco_task *t = p;
    void *r = NULL;

    if (t->sched->zombie)
        uco__sched_reap(t->sched);
    if (!t->cancelled)
        r = t->fn(t->arg);
    return uco__task_end(t, r);
}

int uco__spawn(struct uco_sched *s, struct uco_task **task, uco_fn *fn,
               void *arg, const uco_attr *attr, struct uco_group *g)
{
    unsigned flags = attr ? attr->flags : 0;
    size_t size, guard;
    struct uco_task *t;
    int rc;

    if (!fn || (flags & ~(unsigned)(UCO_SANDBOX | UCO_DETACHED)))
        return -EINVAL;
    if (g ? (flags & UCO_DETACHED) != 0 : (!task && !(flags & UCO_DETACHED)))
        return -EINVAL;
    rc = uco__stack_sizes(attr, &size, &guard);
    if (rc < 0)
        return rc;
    /* the allocator below must not overflow a task's stack half-way,
     * holding its lock: fault now, if at all, before anything changes */
    if (s->current)
        uco__stack_ensure(s->current, true);
    if (uco__sleepq_reserve(&s->sleepq, s->alive + 1) < 0)
        return -ENOMEM;
    t = tcb_alloc(s);
    if (!t)
        return -ENOMEM;
    rc = set_name(t, attr ? attr->name : NULL);
    if (rc == 0)
        rc = uco__stack_get(&t->stack, size, guard);
    if (rc < 0) {
        t->magic = UCO_TASK_MAGIC; /* so that release frees the name */
        uco__task_release(s, t);
        return rc;
    }
    t->magic = UCO_TASK_MAGIC;
    t->stack_lo = uco__stack_lo(&t->stack);
    t->shielded = t->finishing = false;
    /* born cancelled: after main ended, or into a group being cancelled */
    t->cancelled = s->main_done || (g && (g->cancelled || g->owner->cancelled));
    t->detached = g || (flags & UCO_DETACHED);
    t->flags = flags;
    t->outcome = 0;
    t->sched = s;
    t->id = s->next_id++;
    t->fn = fn;
    t->arg = arg;
    t->result = NULL;
    t->heap_idx = UCO_NO_HEAP;
    t->joiner = NULL;
    t->group = g;
    t->frame = NULL;
    t->unwait = NULL;
    uco__list_init(&t->gnode);
    uco__list_init(&t->groups);
    uco__defers_init(&t->defers);
    uco__ctx_make(&t->ctx, &t->stack, task_entry, t);
    uco__list_push(&s->tasks, &t->all);
    s->alive++;
    if (g) {
        uco__list_push(&g->members, &t->gnode);
        g->nlive++;
    }
    uco__ready(s, t); /* links qnode */
    if (task)
        *task = t;
    return 0;
}

int uco_spawn(uco_task **task, uco_fn *fn, void *arg, const uco_attr *attr)
{
    if (!uco__self())
        return -EPERM;
    return uco__spawn(uco__cur, task, fn, arg, attr, NULL);
}

uco_ctx *uco__task_end(struct uco_task *t, void *result)
{
    struct uco_sched *s = t->sched;

    /* an overflow below must not strike half-way through the end */
    uco__stack_ensure(t, false);
    if (!t->finishing) {
        /* First time here: fix the outcome, then clean up shielded.  A
         * handler that calls uco_exit comes back here and only goes on
         * with the handlers still pushed. */
        t->finishing = true;
        t->result = result;
        if (t->outcome == 0 && t->cancelled)
            t->outcome = -ECANCELED;
    }
    t->shielded = true;
    if (t->defers.n || t->defers.v != t->defers.inl)
        uco__defers_run(&t->defers);
    if (!uco__list_empty(&t->groups))
        uco__group_destroy_owned(t);
    t->state = UCO_S_DONE;
    uco__list_remove(&t->all);
    s->alive--;
    if (t->group)
        uco__group_member_done(t);
    if (t->joiner && t->joiner->state == UCO_S_WAITING)
        uco__wake(s, t->joiner, 0);
    if (t == s->main && !s->main_done) {
        /* kept here: main may be joined or detached, and released */
        s->main_outcome = t->outcome;
        s->main_result = t->result;
        s->main_done = true;
        uco__sched_cancel_all(s);
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
    uco__ctx_jump(uco__task_end(self, result));
}

int uco_join(uco_task *t, void **result, int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();
    int rc;

    if (!self)
        return -EPERM;
    if (!uco__task_valid(s, t) || t->detached ||
        (deadline < 0 && deadline != UCO_NEVER))
        return -EINVAL;
    if (t == self)
        return -EDEADLK;
    if (t->joiner)
        return -EBUSY;
    uco__stack_ensure(self, true); /* before joiner is set or t freed */
    if (t->state != UCO_S_DONE) {
        t->joiner = self;
        rc = uco__wait(s, self, deadline, "join");
        t->joiner = NULL;
        if (rc < 0 && t->state != UCO_S_DONE)
            return rc; /* a finished task is released all the same */
    }
    rc = t->outcome;
    if (result)
        *result = t->result;
    uco__task_release(s, t);
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
    uco__stack_ensure_entry();
    t->detached = true;
    if (t->state == UCO_S_DONE && s->zombie != t)
        uco__task_release(s, t);
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
