/*
 * sleepq.c - the sleep queue: a binary min-heap of tasks keyed by
 * (deadline, sequence number).  Each task holds its index in the heap, so
 * a cancelled sleeper leaves in O(log n); equal deadlines wake in the order
 * they slept.  Room is reserved at spawn, so inserting never fails.
 */
#include "ucoro-int.h"

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

int uco__sleepq_reserve(struct uco_sleepq *q, size_t n)
{
    size_t cap;
    struct uco_task **h;

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

static bool before(const struct uco_task *a, const struct uco_task *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void put(struct uco_sleepq *q, size_t i, struct uco_task *t)
{
    q->heap[i] = t;
    t->heap_idx = i;
}

/* Move t up from index i to its place. */
static void sift_up(struct uco_sleepq *q, size_t i, struct uco_task *t)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, q->heap[parent]))
            break;
        put(q, i, q->heap[parent]);
        i = parent;
    }
    put(q, i, t);
}

/* Move t down from index i to its place. */
static void sift_down(struct uco_sleepq *q, size_t i, struct uco_task *t)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c]))
            c++;
        if (!before(q->heap[c], t))
            break;
        put(q, i, q->heap[c]);
        i = c;
    }
    put(q, i, t);
}

void uco__sleepq_push(struct uco_sleepq *q, struct uco_task *t)
{
    sift_up(q, q->n++, t);
}

void uco__sleepq_remove(struct uco_sleepq *q, struct uco_task *t)
{
    size_t i = t->heap_idx;
    struct uco_task *last = q->heap[--q->n];

    t->heap_idx = UCO_NO_HEAP;
    if (last == t)
        return;
    if (i > 0 && before(last, q->heap[(i - 1) / 2]))
        sift_up(q, i, last);
    else
        sift_down(q, i, last);
}
