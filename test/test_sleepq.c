/*
 * test_sleepq - the sleep queue: a min-heap by (deadline, sequence).
 * Links the library's internals directly.
 */
#include "testutil.h"

#include "core.h"

#define N 2000

static struct uco_task tasks[N];

/* Pop the earliest entry. */
static struct uco_task *pop(struct uco_sleepq *q)
{
    struct uco_task *t = uco__sleepq_top(q);
    if (t)
        uco__sleepq_remove(q, t);
    return t;
}

/* Every entry sits at its recorded index and under its parent. */
static void check_heap(const struct uco_sleepq *q)
{
    size_t i;
    for (i = 0; i < q->n; i++) {
        struct uco_task *t = q->heap[i].t, *p;
        assert_int_equal(t->heap_idx, i);
        if (i == 0)
            continue;
        p = q->heap[(i - 1) / 4].t;
        assert_true(p->deadline < t->deadline ||
                    (p->deadline == t->deadline && p->seq < t->seq));
    }
}

static void fill(struct uco_sleepq *q, unsigned seed, int64_t range)
{
    size_t i;
    srand(seed);
    assert_int_equal(uco__sleepq_reserve(q, N), 0);
    for (i = 0; i < N; i++) {
        tasks[i].deadline = rand() % range;
        tasks[i].seq = i;
        tasks[i].heap_idx = UCO_NO_HEAP;
        uco__sleepq_push(q, &tasks[i]);
    }
    check_heap(q);
}

static void test_order(void **state)
{
    struct uco_sleepq q;
    struct uco_task *t, *prev = NULL;
    size_t n = 0;

    (void)state;
    uco__sleepq_init(&q);
    fill(&q, 1, 1000000);
    while ((t = pop(&q))) {
        assert_int_equal(t->heap_idx, UCO_NO_HEAP);
        if (prev)
            assert_true(prev->deadline <= t->deadline);
        prev = t;
        n++;
    }
    assert_int_equal(n, N);
    uco__sleepq_free(&q);
}

/* Equal deadlines come out in the order they went in. */
static void test_ties_fifo(void **state)
{
    struct uco_sleepq q;
    struct uco_task *t, *prev = NULL;

    (void)state;
    uco__sleepq_init(&q);
    fill(&q, 2, 10); /* 2000 entries over 10 deadlines: many ties */
    while ((t = pop(&q))) {
        if (prev && prev->deadline == t->deadline)
            assert_true(prev->seq < t->seq);
        prev = t;
    }
    uco__sleepq_free(&q);
}

/* Removing from the middle keeps the heap whole. */
static void test_remove_middle(void **state)
{
    struct uco_sleepq q;
    size_t i, removed = 0;

    (void)state;
    uco__sleepq_init(&q);
    fill(&q, 3, 5000);
    for (i = 0; i < N; i += 3) {
        uco__sleepq_remove(&q, &tasks[i]);
        assert_int_equal(tasks[i].heap_idx, UCO_NO_HEAP);
        removed++;
        if (i % 99 == 0)
            check_heap(&q);
    }
    check_heap(&q);
    assert_int_equal(q.n, N - removed);
    for (i = 0; i < N; i++)
        assert_true((i % 3 == 0) == (tasks[i].heap_idx == UCO_NO_HEAP));
    uco__sleepq_free(&q);
}

static void test_reserve_grows(void **state)
{
    struct uco_sleepq q;

    (void)state;
    uco__sleepq_init(&q);
    assert_null(uco__sleepq_top(&q));
    assert_int_equal(uco__sleepq_reserve(&q, 1), 0);
    assert_true(q.cap >= 1);
    assert_int_equal(uco__sleepq_reserve(&q, 1000), 0);
    assert_true(q.cap >= 1000);
    uco__sleepq_free(&q);
    assert_int_equal(q.cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_ties_fifo),
        cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_reserve_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
