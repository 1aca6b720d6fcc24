/*
 * group.c - task groups: structured concurrency.  A group belongs to the
 * task that created it; its members are released by the group when they
 * finish; the first failure is kept; cancelling the owner cancels the
 * members (cancel.c); a group its owner left behind is destroyed when the
 * owner ends.
 */
#include "task.h"

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

/* A usable group of this thread's scheduler. */
static bool group_valid(const struct uco_sched *s, const struct uco_group *g)
{
    return g && s && g->magic == UCO_GROUP_MAGIC && g->sched == s;
}

int uco_group_create(uco_group **out, unsigned flags)
{
    struct uco_task *self;
    struct uco_sched *s;
    struct uco_group *g;
    int rc = uco__enter_task(&self, out && !(flags & ~(unsigned)UCO_GROUP_FAIL_FAST));

    if (rc < 0)
        return rc;
    s = self->sched;
    if (!uco__list_empty(&s->dead_groups)) {
        /* reuse the oldest destroyed one (FIFO: stale handles stay
         * refused as long as possible) */
        g = uco__container(uco__list_pop(&s->dead_groups), struct uco_group,
                           onode);
        memset(g, 0, sizeof *g);
    } else {
        g = calloc(1, sizeof *g);
        if (!g)
            return -ENOMEM;
    }
    g->magic = UCO_GROUP_MAGIC;
    g->flags = flags;
    g->sched = s;
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
    struct uco_task *self, *t;
    int rc = uco__enter_task(&self, group_valid(uco__cur, g) &&
                                        !(attr && (attr->flags & UCO_DETACHED)));

    if (rc < 0)
        return rc;
    if (g->destroying)
        return -EBUSY;
    rc = uco__spawn(self->sched, &t, fn, arg, attr);
    if (rc < 0)
        return rc;
    /* not run yet: a member of a group being cancelled starts cancelled,
     * and never enters its function */
    t->detached = true;
    t->group = g;
    t->cancelled |= g->cancelled || g->owner->cancelled;
    uco__list_push(&g->members, &t->gnode);
    g->nlive++;
    if (task)
        *task = t;
    return 0;
}

int uco_group_cancel(uco_group *g)
{
    struct uco_task *self;
    int rc = uco__enter_task(&self, group_valid(uco__cur, g));

    if (rc < 0)
        return rc;
    uco__cancel_group(self->sched, g);
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
static int wait_members(struct uco_task *self, struct uco_group *g,
                        int64_t deadline)
{
    struct uco_waiter w;

    if (inside(self, g))
        return -EDEADLK;
    if (g->nlive == 0)
        return 0;
    return uco__wait_on(&g->waiters, &w, self, deadline, "group");
}

int uco_group_wait(uco_group *g, int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, group_valid(uco__cur, g), deadline);

    if (rc < 0)
        return rc;
    return wait_members(self, g, deadline);
}

int uco_group_destroy(uco_group *g)
{
    struct uco_task *self;
    bool was;
    int rc = uco__enter_task(&self, group_valid(uco__cur, g));

    if (rc < 0)
        return rc;
    if (inside(self, g))
        return -EDEADLK;
    if (g->destroying)
        return -EBUSY;
    g->destroying = true;
    uco__cancel_group(self->sched, g);
    was = self->shielded;
    self->shielded = true;
    while (g->nlive > 0)
        wait_members(self, g, UCO_NEVER);
    self->shielded = was;
    rc = g->status;
    uco__list_remove(&g->onode);
    g->magic = 0; /* kept until the scheduler ends: a stale handle gets -EINVAL */
    uco__list_push(&self->sched->dead_groups, &g->onode);
    return rc;
}

void uco__group_member_done(struct uco_task *t)
{
    struct uco_group *g = t->group;
    struct uco_task *w;

    uco__list_remove(&t->gnode);
    g->nlive--;
    if (t->outcome != 0 && g->status == 0) {
        g->status = t->outcome;
        g->failed_id = t->id;
        if (g->flags & UCO_GROUP_FAIL_FAST)
            uco__cancel_group(t->sched, g);
    }
    if (g->nlive == 0)
        while ((w = uco__waiter_first(&g->waiters)))
            uco__wake(t->sched, w, 0);
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
                wait_members(t, g, UCO_NEVER);
        } else {
            uco_group_destroy(g);
        }
    }
}
