/*
 * sleepq.h - the sleep queue: a 4-ary min-heap of tasks keyed by
 * (deadline, sequence number) (sleepq.c).  No function switches.
 */
#ifndef UCO_SLEEPQ_H
#define UCO_SLEEPQ_H

#include "util.h"

struct uco_task;

/* A heap entry carries its key: sifting reads the heap array only, never
 * the control blocks of the tasks it compares. */
struct uco_sleepq_ent {
    int64_t deadline;
    uint64_t seq;            /* tie-breaker: the order in which they slept */
    struct uco_task *t;      /* whose heap_idx is this entry's index */
};

struct uco_sleepq {
    struct uco_sleepq_ent *heap; /* [0, n): the heap; NULL while cap is 0 */
    size_t n, cap;
};

/* heap_idx of a task in no heap */
#define UCO_NO_HEAP ((size_t)-1)

void uco__sleepq_init(struct uco_sleepq *q);
void uco__sleepq_free(struct uco_sleepq *q);
/* Make room for n entries so that pushing never fails: 0 or -ENOMEM.
 * (grow: the slow part, when the heap must be reallocated.) */
int uco__sleepq_grow(struct uco_sleepq *q, size_t n);
static inline int uco__sleepq_reserve(struct uco_sleepq *q, size_t n)
{
    return n <= q->cap ? 0 : uco__sleepq_grow(q, n);
}
/* Insert t keyed by (t->deadline, t->seq), recording its index in
 * t->heap_idx; room must be reserved. */
void uco__sleepq_push(struct uco_sleepq *q, struct uco_task *t);
/* Remove t (which must be in the heap) in O(log n). */
void uco__sleepq_remove(struct uco_sleepq *q, struct uco_task *t);
/* The earliest entry, or NULL. */
static inline struct uco_task *uco__sleepq_top(const struct uco_sleepq *q)
{
    return q->n ? q->heap[0].t : NULL;
}
#endif /* UCO_SLEEPQ_H */
