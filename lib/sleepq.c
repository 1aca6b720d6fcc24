/*
 * sleepq.c - the sleep queue: a 4-ary min-heap of tasks keyed by
 * (deadline, sequence number).  The keys are kept in the heap's entries,
 * so sifting reads the heap array only, and four children share two
 * cache lines: half the levels of a binary heap.  Each task holds its
 * index in the heap, so a cancelled sleeper leaves in O(log n); equal
 * deadlines wake in the order they slept.  Room is reserved at spawn, so
 * inserting never fails.
 */
#include "sleepq.h"

#include "core.h" /* struct uco_task: heap_idx, deadline, seq */

#include <stdlib.h>

void uco__sleepq_init(struct uco_sleepq *q)
{
    q->heap = NULL;
    q->n = q->cap = 0;
}

void uco__sleepq_free(struct uco_sleepq *q)
{
    free(q->heap);
    uco__sleepq_init(q);
}

int uco__sleepq_grow(struct uco_sleepq *q, size_t n)
{
    size_t cap;
    struct uco_sleepq_ent *h;

    if (n <= q->cap)
        return 0;
    cap = q->cap ? q->cap : 64;
    while (cap < n)
        cap *= 2;
    h = realloc(q->heap, cap * sizeof *h); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    if (!h)
        return -ENOMEM;
    q->heap = h;
    q->cap = cap;
    return 0;
}

static bool before(const struct uco_sleepq_ent *a,
                   const struct uco_sleepq_ent *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void put(struct uco_sleepq *q, size_t i, struct uco_sleepq_ent e)
{
    q->heap[i] = e;
    e.t->heap_idx = i;
}

/* Move e up from index i to its place. */
static void sift_up(struct uco_sleepq *q, size_t i, struct uco_sleepq_ent e)
{
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&e, &q->heap[parent]))
            break;
        put(q, i, q->heap[parent]);
        i = parent;
    }
    put(q, i, e);
}

/* Move e down from index i to its place. */
static void sift_down(struct uco_sleepq *q, size_t i, struct uco_sleepq_ent e)
{
    for (;;) {
        size_t c = 4 * i + 1, k, end;
        if (c >= q->n)
            break;
        end = c + 4 < q->n ? c + 4 : q->n;
        for (k = c + 1; k < end; k++)
            if (before(&q->heap[k], &q->heap[c]))
                c = k;
        if (!before(&q->heap[c], &e))
            break;
        put(q, i, q->heap[c]);
        i = c;
    }
    put(q, i, e);
}

void uco__sleepq_push(struct uco_sleepq *q, struct uco_task *t)
{
    struct uco_sleepq_ent e = { t->deadline, t->seq, t };
    sift_up(q, q->n++, e);
}

void uco__sleepq_remove(struct uco_sleepq *q, struct uco_task *t)
{
    size_t i = t->heap_idx;
    struct uco_sleepq_ent last = q->heap[--q->n];

    t->heap_idx = UCO_NO_HEAP;
    if (last.t == t)
        return;
    if (i > 0 && before(&last, &q->heap[(i - 1) / 4]))
        sift_up(q, i, last);
    else
        sift_down(q, i, last);
}
