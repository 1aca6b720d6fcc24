/*
 * sched.c - the scheduler of a thread: control blocks, FIFO round robin
 * with direct switches from task to task, and leaving a finished task.
 * The scheduler's own context runs only when nothing is ready (run.c
 * then blocks in the kernel).
 *
 * Control blocks come from per-scheduler chunks and go back on a FIFO
 * free list when released, marked UCO_TASK_FREE: a stale handle (joined,
 * or detached and finished) is then refused with -EINVAL until its block
 * is reused, which FIFO order puts off as long as possible.  They are
 * freed when the scheduler ends.
 */
#include "core-inl.h"

#include <stdlib.h>
#include <string.h>

UCO_TLS struct uco_sched *uco__cur;

#define TCB_CHUNK 64

struct uco_tcb_chunk {
    struct uco_tcb_chunk *next; /* the chunk allocated before, or NULL */
    struct uco_task tcb[TCB_CHUNK];
};

void uco__sched_init(struct uco_sched *s)
{
    uco__list_init(&s->runq);
    uco__list_init(&s->tasks);
    uco__list_init(&s->free_tcbs);
    uco__list_init(&s->dead_groups);
    uco__list_init(&s->retry);
    uco__sleepq_init(&s->sleepq);
    s->wake_r = s->wake_w = -1;
    s->budget = SIZE_MAX;
    s->next_id = 1;
}

void uco__sched_free(struct uco_sched *s)
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
    uco__sleepq_free(&s->sleepq);
}

struct uco_task *uco__tcb_alloc(struct uco_sched *s)
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
    for (i = 0; i < TCB_CHUNK; i++) {
        uco__ctx_init(&c->tcb[i].ctx);
        c->tcb[i].magic = UCO_TASK_FREE;
        c->tcb[i].name = NULL;
    }
    for (i = 1; i < TCB_CHUNK; i++)
        uco__list_push(&s->free_tcbs, &c->tcb[i].qnode);
    return &c->tcb[0];
}

void uco__tcb_release(struct uco_sched *s, struct uco_task *t)
{
    t->magic = UCO_TASK_FREE;
    if (t->name != t->namebuf)
        free(t->name);
    t->name = NULL;
    uco__list_push(&s->free_tcbs, &t->qnode);
}

void uco__sched_reap(struct uco_sched *s)
{
    struct uco_task *t = s->zombie;

    s->zombie = NULL;
    uco__ctx_free(&t->ctx);
    uco__stack_put(&t->stack);
    if (t->detached)
        uco__tcb_release(s, t);
}

uco_ctx *uco__sched_leave(struct uco_sched *s)
{
    struct uco_task *next = uco__next_ready(s);

    if (next)
        return &next->ctx;
    s->current = NULL;
    return &s->ctx;
}

void uco__sched_run(struct uco_sched *s)
{
    for (;;) {
        struct uco_task *t;

        if (s->zombie)
            uco__sched_reap(s);
        if (UCO_UNLIKELY(s->remake != NULL)) { /* uco_exit in a handler */
            t = s->remake;
            s->remake = NULL;
            uco__ctx_make(&t->ctx, &t->stack, t->ctx.entry, t->ctx.arg);
            s->current = t;
            uco__ctx_switch(&s->ctx, &t->ctx);
            s->current = NULL;
            continue;
        }
        if (UCO_UNLIKELY(uco__sched_attention(s)))
            s->take(s); /* (an acquire: the exchange in take) */
        t = uco__next_ready(s);
        if (!t)
            return;
        uco__ctx_switch(&s->ctx, &t->ctx);
        s->current = NULL;
    }
}

size_t uco__put_task(char *buf, size_t at, size_t cap, const struct uco_task *t)
{
    at = uco__put_str(buf, at, cap, "\"");
    if (t->name) {
        at = uco__put_name(buf, at, cap, t->name);
    } else { /* uco_task_name's form, without its snprintf */
        at = uco__put_str(buf, at, cap, "task-");
        at = uco__put_num(buf, at, cap, t->id, 10);
    }
    at = uco__put_str(buf, at, cap, "\" (id ");
    at = uco__put_num(buf, at, cap, t->id, 10);
    return uco__put_str(buf, at, cap, ")");
}
