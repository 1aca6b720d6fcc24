/*
 * test_sched - the scheduler: round robin, sleeping, blocking without
 * spinning, uco_run's life cycle, one scheduler per thread.
 */
#include "testutil.h"

#include <fenv.h>
#include <pthread.h>
#include <time.h>

static struct trace tr;

/* ---- round robin */

static void *print_yield(void *arg)
{
    int i;
    for (i = 0; i < 3; i++) {
        trace_add(&tr, arg);
        assert_int_equal(uco_yield(), 0);
    }
    return NULL;
}

static void *abc_main(void *arg)
{
    uco_task *t[3];
    int i;
    (void)arg;
    assert_int_equal(uco_spawn(&t[0], print_yield, "A", NULL), 0);
    assert_int_equal(uco_spawn(&t[1], print_yield, "B", NULL), 0);
    assert_int_equal(uco_spawn(&t[2], print_yield, "C", NULL), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(uco_join(t[i], NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_round_robin(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(abc_main, NULL), 0);
    assert_string_equal(tr.buf, "A B C A B C A B C");
}

/* The spawner goes on running until it suspends: spawn queues at the tail. */
static void *note(void *arg)
{
    trace_add(&tr, arg);
    return NULL;
}

static void *spawn_order_main(void *arg)
{
    uco_task *a, *b;
    (void)arg;
    uco_spawn(&a, note, "a", NULL);
    uco_spawn(&b, note, "b", NULL);
    trace_add(&tr, "main");
    uco_yield();
    trace_add(&tr, "main2");
    uco_join(a, NULL, UCO_NEVER);
    uco_join(b, NULL, UCO_NEVER);
    return NULL;
}

static void test_spawn_runs_later(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(spawn_order_main, NULL), 0);
    assert_string_equal(tr.buf, "main a b main2");
}

/* ---- sleeping */

struct sleeper {
    int64_t ns;
    const char *name;
    int64_t woke;
};

static int64_t t0;

static void *sleep_note(void *arg)
{
    struct sleeper *s = arg;
    assert_int_equal(uco_sleep(s->ns), 0);
    s->woke = uco_now() - t0;
    trace_add(&tr, s->name);
    return NULL;
}

static void *sleep_order_main(void *arg)
{
    struct sleeper *s = arg;
    uco_task *t[5];
    int i;
    t0 = uco_now();
    for (i = 0; i < 5; i++)
        assert_int_equal(uco_spawn(&t[i], sleep_note, &s[i], NULL), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(uco_join(t[i], NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_sleep_order_and_time(void **state)
{
    struct sleeper s[5] = {
        { UCO_MSEC(150), "e", 0 }, { UCO_MSEC(30), "b", 0 },
        { UCO_MSEC(10), "a", 0 },  { UCO_MSEC(100), "d", 0 },
        { UCO_MSEC(60), "c", 0 },
    };
    int i;
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(sleep_order_main, s), 0);
    assert_string_equal(tr.buf, "a b c d e");
    for (i = 0; i < 5; i++)
        assert_on_time(s[i].woke, s[i].ns, UCO_MSEC(20));
}

/* Equal deadlines wake in the order the tasks went to sleep. */
static int64_t shared_deadline;

static void *sleep_until_note(void *arg)
{
    assert_int_equal(uco_sleep_until(shared_deadline), 0);
    assert_true(uco_now() >= shared_deadline);
    trace_add(&tr, arg);
    return NULL;
}

static void *ties_main(void *arg)
{
    static const char *names[] = { "0", "1", "2", "3", "4", "5", "6", "7" };
    uco_task *t[8];
    int i;
    (void)arg;
    shared_deadline = uco_now() + UCO_MSEC(30);
    for (i = 0; i < 8; i++)
        uco_spawn(&t[i], sleep_until_note, (void *)names[i], NULL);
    for (i = 0; i < 8; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    return NULL;
}

static void test_equal_deadlines_fifo(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(ties_main, NULL), 0);
    assert_string_equal(tr.buf, "0 1 2 3 4 5 6 7");
}

/* uco_sleep(0) and a past deadline let every other ready task run once. */
static void *zero_sleeper(void *arg)
{
    (void)arg;
    trace_add(&tr, "z1");
    assert_int_equal(uco_sleep(0), 0);
    trace_add(&tr, "z2");
    assert_int_equal(uco_sleep_until(uco_now() - UCO_SEC(1) > 0 ? uco_now() - UCO_SEC(1) : 0), 0);
    trace_add(&tr, "z3");
    return NULL;
}

static void *other(void *arg)
{
    int i;
    for (i = 0; i < 3; i++) {
        trace_add(&tr, arg);
        uco_yield();
    }
    return NULL;
}

static void *zero_main(void *arg)
{
    uco_task *z, *o1, *o2;
    (void)arg;
    uco_spawn(&z, zero_sleeper, NULL, NULL);
    uco_spawn(&o1, other, "x", NULL);
    uco_spawn(&o2, other, "y", NULL);
    uco_join(z, NULL, UCO_NEVER);
    uco_join(o1, NULL, UCO_NEVER);
    uco_join(o2, NULL, UCO_NEVER);
    return NULL;
}

static void test_sleep_zero_lets_others_run(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(zero_main, NULL), 0);
    assert_string_equal(tr.buf, "z1 x y z2 x y z3 x y");
}

/* A sleeper whose deadline passed while the caller ran without yielding
 * became ready before the caller's yield: it runs first, once per yield
 * (uco_yield and uco_sleep(0) alike). */
static void *due_sleeper(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(1));
    trace_add(&tr, "s");
    return NULL;
}

static void *due_main(void *arg)
{
    bool sleep0 = arg != NULL;
    uco_task *a, *b;
    int64_t until;

    assert_int_equal(uco_spawn(&a, due_sleeper, NULL, NULL), 0);
    assert_int_equal(uco_spawn(&b, due_sleeper, NULL, NULL), 0);
    assert_int_equal(uco_yield(), 0); /* both go to sleep */
    until = uco_now() + UCO_MSEC(5);
    while (uco_now() < until) /* busy: both deadlines pass meanwhile */
        ;
    trace_add(&tr, "m");
    assert_int_equal(sleep0 ? uco_sleep(0) : uco_yield(), 0);
    trace_add(&tr, "m");
    assert_int_equal(uco_join(a, NULL, UCO_NEVER), 0);
    assert_int_equal(uco_join(b, NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_yield_after_due_sleepers(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(due_main, NULL), 0);
    assert_string_equal(tr.buf, "m s s m");
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(due_main, "sleep 0"), 0);
    assert_string_equal(tr.buf, "m s s m");
}

/* A sleeper wakes on time even while other tasks yield without pause. */
static volatile bool stop_spinning;

static void *busy_yielder(void *arg)
{
    long *n = arg;
    while (!stop_spinning) {
        uco_yield();
        (*n)++;
    }
    return NULL;
}

static void *busy_main(void *arg)
{
    int64_t *late = arg, start;
    long n1 = 0, n2 = 0;
    uco_task *a, *b;
    stop_spinning = false;
    uco_spawn(&a, busy_yielder, &n1, NULL);
    uco_spawn(&b, busy_yielder, &n2, NULL);
    start = uco_now();
    assert_int_equal(uco_sleep(UCO_MSEC(50)), 0);
    *late = uco_now() - start;
    stop_spinning = true;
    uco_join(a, NULL, UCO_NEVER);
    uco_join(b, NULL, UCO_NEVER);
    assert_true(n1 > 10 && n2 > 10);
    return NULL;
}

static void test_sleep_among_busy_tasks(void **state)
{
    int64_t took = 0;
    (void)state;
    assert_int_equal(run_main(busy_main, &took), 0);
    assert_on_time(took, UCO_MSEC(50), UCO_MSEC(20));
}

/* Nothing ready: the scheduler blocks in the kernel, it does not spin. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *long_sleep_main(void *arg)
{
    (void)arg;
    assert_int_equal(uco_sleep(UCO_MSEC(300)), 0);
    return NULL;
}

static void test_idle_blocks(void **state)
{
    double cpu = cpu_seconds();
    int64_t wall = uco_now();
    (void)state;
    assert_int_equal(run_main(long_sleep_main, NULL), 0);
    wall = uco_now() - wall;
    cpu = cpu_seconds() - cpu;
    assert_true(wall >= UCO_MSEC(300));
    assert_true(cpu < 0.03); /* a spinning loop would burn ~0.3 s */
}

/* ---- uco_run's life cycle */

static void *return_arg(void *arg)
{
    return arg;
}

static void test_run_result(void **state)
{
    void *r = NULL;
    int x;
    (void)state;
    assert_int_equal(uco_run(return_arg, &x, &r), 0);
    assert_ptr_equal(r, &x);
    assert_int_equal(uco_run(return_arg, NULL, NULL), 0);
    /* runs back to back on one thread */
    assert_int_equal(uco_run(return_arg, &x, &r), 0);
    assert_null(uco_self());
}

static void *nested_main(void *arg)
{
    *(int *)arg = uco_run(return_arg, NULL, NULL);
    return NULL;
}

static void test_run_nested_busy(void **state)
{
    int rc = 0;
    (void)state;
    assert_int_equal(uco_run(nested_main, &rc, NULL), 0);
    assert_int_equal(rc, -EBUSY);
}

static void *self_cancel_main(void *arg)
{
    (void)arg;
    uco_cancel(uco_self());
    return (void *)1;
}

static void test_run_reports_outcome(void **state)
{
    void *r = NULL;
    (void)state;
    assert_int_equal(uco_run(self_cancel_main, NULL, &r), -ECANCELED);
    assert_ptr_equal(r, (void *)1);
}

/* Tasks still alive when main returns are cancelled and unwound. */
static int unwound;

static void *forever(void *arg)
{
    (void)arg;
    while (uco_sleep(UCO_SEC(10)) == 0)
        ;
    unwound++;
    return NULL;
}

static void *leave_tasks_main(void *arg)
{
    uco_attr a = { .flags = UCO_DETACHED };
    uco_task *t;
    int i;
    (void)arg;
    for (i = 0; i < 10; i++)
        uco_spawn(&t, forever, NULL, NULL);        /* never joined */
    for (i = 0; i < 10; i++)
        uco_spawn(NULL, forever, NULL, &a);        /* detached */
    uco_yield();                                   /* let them sleep */
    return NULL;
}

static void test_run_cancels_leftovers(void **state)
{
    int64_t start = uco_now();
    (void)state;
    unwound = 0;
    assert_int_equal(run_main(leave_tasks_main, NULL), 0);
    assert_int_equal(unwound, 20);
    assert_true(uco_now() - start < UCO_SEC(1));
}

/* Every task waits on another and nothing can wake them: -EDEADLK. */
static void *join_main_back(void *arg)
{
    return (void *)(intptr_t)uco_join(arg, NULL, UCO_NEVER);
}

static void *deadlock_main(void *arg)
{
    uco_task *t;
    int *rc = arg;
    uco_spawn(&t, join_main_back, uco_self(), NULL);
    *rc = uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_deadlock_detected(void **state)
{
    int rc = 0;
    (void)state;
    assert_int_equal(run_main(deadlock_main, &rc), -EDEADLK);
    assert_int_equal(rc, -ECANCELED);
}

/* ---- one scheduler per thread */

struct thread_run {
    int rc;
    long sum;
};

static void *add_id(void *arg)
{
    long *sum = arg;
    int i;
    for (i = 0; i < 10; i++) {
        uco_yield();
        uco_sleep(UCO_USEC(100));
    }
    *sum += 1;
    return NULL;
}

static void *hundred_main(void *arg)
{
    struct thread_run *r = arg;
    uco_task *t[100];
    int i;
    for (i = 0; i < 100; i++)
        assert_int_equal(uco_spawn(&t[i], add_id, &r->sum, NULL), 0);
    for (i = 0; i < 100; i++)
        assert_int_equal(uco_join(t[i], NULL, UCO_NEVER), 0);
    return NULL;
}

static void *thread_fn(void *arg)
{
    struct thread_run *r = arg;
    r->rc = uco_run(hundred_main, r, NULL);
    return NULL;
}

static void test_four_threads(void **state)
{
    pthread_t th[4];
    struct thread_run r[4];
    int i;
    (void)state;
    memset(r, 0, sizeof r);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_fn, &r[i]), 0);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].rc, 0);
        assert_int_equal(r[i].sum, 100);
    }
}

/* The floating-point control state (rounding mode: on x86-64 both the
 * SSE and the x87 control word) is kept per task across switches, with
 * either backend: one task rounds upward while the other rounds to
 * nearest, each sees its own after every yield. */
static int fp_seen_wrong;

static bool under_valgrind_fp(void)
{
#ifdef RUNNING_ON_VALGRIND
    return RUNNING_ON_VALGRIND;
#else
    return false;
#endif
}

static void *fp_task(void *arg)
{
    int mode = (int)(intptr_t)arg, i;
    /* all in memory as doubles: no excess precision of the x87 (i686) */
    volatile double one = 1.0, three = 3.0, third = 0x1.5555555555555p-2;
    volatile double up;

    if (fesetround(mode) != 0)
        return (void *)1;
    for (i = 0; i < 5; i++) {
        uco_yield();
        /* 1/3 rounded upward lies above 1/3 rounded to nearest (the
         * constant); Valgrind computes to nearest whatever the mode */
        up = one / three;
        if (fegetround() != mode)
            fp_seen_wrong++;
        if (!under_valgrind_fp() && (mode == FE_UPWARD) != (up > third))
            fp_seen_wrong++;
    }
    fesetround(FE_TONEAREST);
    return NULL;
}

static void *fp_main(void *arg)
{
    uco_task *a, *b;
    void *ra = (void *)2, *rb = (void *)2;
    (void)arg;
    assert_int_equal(uco_spawn(&a, fp_task, (void *)(intptr_t)FE_UPWARD, NULL), 0);
    assert_int_equal(uco_spawn(&b, fp_task, (void *)(intptr_t)FE_TONEAREST, NULL), 0);
    assert_int_equal(uco_join(a, &ra, UCO_NEVER), 0);
    assert_int_equal(uco_join(b, &rb, UCO_NEVER), 0);
    assert_null(ra);
    assert_null(rb);
    /* the main task never changed its own */
    assert_int_equal(fegetround(), FE_TONEAREST);
    return NULL;
}

static void test_fp_control_per_task(void **state)
{
    (void)state;
    fp_seen_wrong = 0;
    assert_int_equal(fegetround(), FE_TONEAREST);
    assert_int_equal(uco_run(fp_main, NULL, NULL), 0);
    assert_int_equal(fp_seen_wrong, 0);
    assert_int_equal(fegetround(), FE_TONEAREST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_spawn_runs_later),
        cmocka_unit_test(test_sleep_order_and_time),
        cmocka_unit_test(test_equal_deadlines_fifo),
        cmocka_unit_test(test_sleep_zero_lets_others_run),
        cmocka_unit_test(test_yield_after_due_sleepers),
        cmocka_unit_test(test_sleep_among_busy_tasks),
        cmocka_unit_test(test_idle_blocks),
        cmocka_unit_test(test_run_result),
        cmocka_unit_test(test_run_nested_busy),
        cmocka_unit_test(test_run_reports_outcome),
        cmocka_unit_test(test_run_cancels_leftovers),
        cmocka_unit_test(test_deadlock_detected),
        cmocka_unit_test(test_four_threads),
        cmocka_unit_test(test_fp_control_per_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
