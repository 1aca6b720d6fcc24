/*
 * group.c - task groups: structured concurrency.  A group belongs to the
 * task that created it; its members are released by the group when they
 * finish; the first failure is kept; cancelling the owner cancels the
 * members; a group its owner left behind is destroyed when the owner ends.
 */
#include "ucoro-int.h"

#include <stdlib.h>
#include <string.h>

void uco__group_free_all(struct uco_sched *s)
{
    struct uco_list *n = s->dead_groups.next;

    while (n != &s->dead_groups) {
        struct uco_list *next = n->next;
        free(uco__container(n, struct uco_group, onode));
        n = next;
    }
    uco__list_init(&s->dead_groups);
}

/* A usable group of this thread's scheduler, or NULL. */
static bool group_valid(const struct uco_sched *s, const struct uco_group *g)
{
    return g && s && g->magic == UCO_GROUP_MAGIC && g->sched == s;
}

int uco_group_create(uco_group **out, unsigned flags)
{
    struct uco_task *self = uco__self();
    struct uco_group *g;

    if (!self)
        return -EPERM;
    if (!out || (flags & ~(unsigned)UCO_GROUP_FAIL_FAST))
        return -EINVAL;
    uco__stack_ensure_entry();
    if (!uco__list_empty(&uco__cur->dead_groups)) {
        /* reuse the oldest destroyed one (FIFO: stale handles stay
         * refused as long as possible) */
        g = uco__container(uco__list_pop(&uco__cur->dead_groups),
                           struct uco_group, onode);
        memset(g, 0, sizeof *g);
    } else {
        g = calloc(1, sizeof *g);
        if (!g)
            return -ENOMEM;
    }
    g->magic = UCO_GROUP_MAGIC;
    g->flags = flags;
    g->sched = uco__cur;
    g->owner = self;
    uco__list_init(&g->members);
    uco__list_init(&g->waiters);
    uco__list_push(&self->groups, &g->onode);
    *out = g;
    return 0;
}

int uco_group_spawn(uco_group *g, uco_task **task, uco_fn *fn, void *arg,
                    const uco_attr *attr)
{
    struct uco_sched *s = uco__cur;

    if (!uco__self())
        return -EPERM;
    if (!group_valid(s, g))
        return -EINVAL;
    if (g->destroying)
        return -EBUSY;
    return uco__spawn(s, task, fn, arg, attr, g);
}

/* Cancel every live member of g (and those spawned later).  No switch. */
static void cancel_members(struct uco_sched *s, struct uco_group *g)
{
    struct uco_list *n;

    g->cancelled = true;
    for (n = g->members.next; n != &g->members; n = n->next)
        uco__cancel(s, uco__container(n, struct uco_task, gnode));
}

int uco_group_cancel(uco_group *g)
{
    struct uco_sched *s = uco__cur;

    if (!uco__self())
        return -EPERM;
    if (!group_valid(s, g))
        return -EINVAL;
    uco__stack_ensure_entry();
    cancel_members(s, g);
    return 0;
}

int uco_group_status(const uco_group *g, uint64_t *task_id)
{
    if (!group_valid(uco__cur, g))
        return -EINVAL;
    if (task_id)
        *task_id = g->failed_id;
    return g->status;
}

/* t is a member of g, or lives inside one: a member of a group owned by
 * a member, and so on (a member counts as alive until its own groups are
 * finished, so waiting for g would wait for t itself). */
static bool inside(const struct uco_task *t, const struct uco_group *g)
{
    for (; t && t->group; t = t->group->owner)
        if (t->group == g)
            return true;
    return false;
}

/* Wait until g has no live member.  0, -ETIMEDOUT, -ECANCELED, -EDEADLK.
 * A wake-up with 0 means the last member finished: g is not read after it,
 * since the task that destroys g may run first.  Switches. */
static int wait_members(struct uco_sched *s, struct uco_task *self,
                        struct uco_group *g, int64_t deadline)
{
    if (inside(self, g))
        return -EDEADLK;
    if (g->nlive == 0)
        return 0;
    uco__list_push(&g->waiters, &self->qnode);
    return uco__wait(s, self, deadline, "group");
}

int uco_group_wait(uco_group *g, int64_t deadline)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();

    if (!self)
        return -EPERM;
    if (!group_valid(s, g) || (deadline < 0 && deadline != UCO_NEVER))
        return -EINVAL;
    if (uco__cancel_pending(self))
        return -ECANCELED;
    return wait_members(s, self, g, deadline);
}

int uco_group_destroy(uco_group *g)
{
    struct uco_sched *s = uco__cur;
    struct uco_task *self = uco__self();
    int rc;
    bool was;

    if (!self)
        return -EPERM;
    if (!group_valid(s, g))
        return -EINVAL;
    if (inside(self, g))
        return -EDEADLK;
    if (g->destroying)
        return -EBUSY;
    uco__stack_ensure_entry();
    g->destroying = true;
    cancel_members(s, g);
    was = self->shielded;
    self->shielded = true;
    while (g->nlive > 0)
        wait_members(s, self, g, UCO_NEVER);
    self->shielded = was;
    rc = g->status;
    uco__list_remove(&g->onode);
    g->magic = 0; /* kept until uco_run ends: a stale handle gets -EINVAL */
    uco__list_push(&s->dead_groups, &g->onode);
    return rc;
}

void uco__group_member_done(struct uco_task *t)
{
    struct uco_group *g = t->group;

    uco__list_remove(&t->gnode);
    g->nlive--;
    if (t->outcome != 0 && g->status == 0) {
        g->status = t->outcome;
        g->failed_id = t->id;
        if (g->flags & UCO_GROUP_FAIL_FAST)
            cancel_members(t->sched, g);
    }
    if (g->nlive == 0)
        while (!uco__list_empty(&g->waiters))
            uco__wake(t->sched,
                      uco__container(g->waiters.next, struct uco_task, qnode),
                      0);
}

void uco__group_cancel_owned(struct uco_sched *s, struct uco_task *t)
{
    struct uco_list *n;

    for (n = t->groups.next; n != &t->groups; n = n->next)
        cancel_members(s, uco__container(n, struct uco_group, onode));
}

void uco__group_destroy_owned(struct uco_task *t)
{
    struct uco_list *n;

    while ((n = t->groups.next) != &t->groups) {
        struct uco_group *g = uco__container(n, struct uco_group, onode);
        if (g->destroying) {
            /* another task destroys it and frees it when its members are
             * gone: let go of it, and wait for that much (shielded) */
            uco__list_remove(&g->onode);
            if (g->nlive > 0)
                wait_members(t->sched, t, g, UCO_NEVER);
        } else {
            uco_group_destroy(g);
        }
    }
}
