/*
 * task.h - what the public calls about tasks share among themselves:
 * spawning and ending a task (task.c), cancelling (cancel.c), groups
 * (group.c).  Above the core (core.h); below the scheduler's loop
 * (run.c).
 */
#ifndef UCO_TASK_H
#define UCO_TASK_H

#include "core.h"

/* A group of tasks (group.c): members are released by the group when
 * they finish; the first failure is kept. */
struct uco_group {
    uint32_t magic;           /* UCO_GROUP_MAGIC until destroyed */
    unsigned flags;           /* UCO_GROUP_FAIL_FAST */
    bool destroying;          /* in uco_group_destroy: no new members */
    bool cancelled;           /* cancelled (by uco_group_cancel, fail-fast,
                                 its owner, destroy): new members start so */
    struct uco_sched *sched;
    struct uco_task *owner;   /* the task that created it */
    struct uco_list onode;    /* on owner->groups; once destroyed, on
                                 sched->dead_groups */
    struct uco_list members;  /* live members (uco_task.gnode) */
    size_t nlive;             /* how many */
    struct uco_list waiters;  /* records of tasks in uco_group_wait/destroy */
    int status;               /* first failure, 0 until one */
    uint64_t failed_id;       /* its task's id */
};

#define UCO_GROUP_MAGIC 0x75636770u

/* task.c */
/* Create a task and queue it (uco_spawn's work, after its checks).  0,
 * -EINVAL, -ENOMEM, -EAGAIN.  No switch. */
int uco__spawn(struct uco_sched *s, struct uco_task **task, uco_fn *fn,
               void *arg, const uco_attr *attr);
/* End s->current with result: deferred handlers, owned groups, joiner,
 * then leave: returns the context to resume for good (uco__sched_leave).
 * May switch while handlers block. */
uco_ctx *uco__task_end(struct uco_task *t, void *result);

/* cancel.c */
/* Set t's flag and every member's of the groups it owns, and so on down
 * (constant stack); wake those that wait unshielded.  No switch. */
void uco__cancel(struct uco_sched *s, struct uco_task *t);
/* The same for every live member of g; g starts its later members
 * cancelled.  No switch. */
void uco__cancel_group(struct uco_sched *s, struct uco_group *g);
/* Cancel every unfinished task.  No switch. */
void uco__cancel_all(struct uco_sched *s);

/* group.c */
/* A member finished: record a failure, wake the group's waiters.  No
 * switch. */
void uco__group_member_done(struct uco_task *t);
/* Destroy the groups t still owns (t is finishing).  Switches. */
void uco__group_destroy_owned(struct uco_task *t);
/* Free the destroyed groups (the scheduler's end).  No switch. */
void uco__group_free_all(struct uco_sched *s);

#endif /* UCO_TASK_H */
