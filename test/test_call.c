/*
 * test_call - uco_call: a sandboxed body on a fresh guarded stack, run
 * synchronously outside any scheduler or inside a task; its results,
 * overflows, nesting, deferred handlers, uco_exit, suspension inside a
 * task, and bad input.
 *
 * cmocka replaces the SIGSEGV/SIGBUS dispositions around every test, so
 * the library runs only in forked children that start from the default
 * action (the parent never calls into it); the child leaves what it saw
 * in a shared region and the parent asserts.
 */
#include "testutil.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"

/* ------------------------------------------------------------------ */
/* Bodies                                                             */
/* ------------------------------------------------------------------ */


static void *overflows(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)dive(0);
}

static void *square(void *arg)
{
    intptr_t v = (intptr_t)arg;
    return (void *)(v * v);
}

static const uco_attr small = { .stack_size = 64 * 1024 };

/* uco_call of overflows; its outcome, or a distinct code when the result
 * was not set to NULL. */
static int overflow_call(void)
{
    void *r = (void *)1;
    int rc = uco_call(overflows, NULL, &small, &r);
    return r == NULL ? rc : -12345;
}

/* ------------------------------------------------------------------ */
/* Results, outside a scheduler and inside a task                     */
/* ------------------------------------------------------------------ */

struct results {
    int rc, rc_attr, rc_sandbox_flag;
    intptr_t r, r_attr, r_sandbox_flag;
    size_t remaining_default, remaining_small;
    int self_null;   /* uco_self() is NULL in a body outside a scheduler */
};

static struct results *res_of_body;

static void *observe(void *arg)
{
    res_of_body->remaining_small = uco_stack_remaining();
    res_of_body->self_null = uco_self() == NULL;
    return arg;
}

static void *observe_default(void *arg)
{
    res_of_body->remaining_default = uco_stack_remaining();
    return arg;
}

static void fill_results(struct results *s)
{
    void *r = NULL;
    uco_attr sb = { .flags = UCO_SANDBOX };

    res_of_body = s;
    s->rc = uco_call(square, (void *)12, NULL, &r);
    s->r = (intptr_t)r;
    r = NULL;
    s->rc_attr = uco_call(observe, (void *)33, &small, &r);
    s->r_attr = (intptr_t)r;
    r = NULL;
    s->rc_sandbox_flag = uco_call(observe_default, (void *)44, &sb, &r);
    s->r_sandbox_flag = (intptr_t)r;
}

static void outside_child(void *shared)
{
    fill_results(shared);
}

static void *in_task_main(void *arg)
{
    fill_results(arg);
    return NULL;
}

static void in_task_child(void *shared)
{
    uco_run(in_task_main, shared, NULL);
}

static void check_results(const struct results *s)
{
    assert_int_equal(s->rc, 0);
    assert_int_equal(s->r, 144);
    assert_int_equal(s->rc_attr, 0);
    assert_int_equal(s->r_attr, 33);
    assert_int_equal(s->rc_sandbox_flag, 0);
    assert_int_equal(s->r_sandbox_flag, 44);
    /* the body runs on a stack of the size asked for, or the default
     * (256 KiB on 64-bit targets, 64 KiB on 32-bit ones) */
    assert_true(s->remaining_small > 32 * 1024);
    assert_true(s->remaining_small < 64 * 1024);
    if (sizeof(void *) >= 8)
        assert_true(s->remaining_default > 192 * 1024);
    else
        assert_true(s->remaining_default > 48 * 1024 &&
                    s->remaining_default < 64 * 1024);
}

static void test_call_outside_scheduler(void **state)
{
    struct child c;
    struct results *s;
    (void)state;
    s = run_child(outside_child, &c);
    assert_exit_code(&c, 0);
    check_results(s);
    assert_true(s->self_null);
    release_shared(s);
}

static void test_call_in_task(void **state)
{
    struct child c;
    struct results *s;
    (void)state;
    s = run_child(in_task_child, &c);
    assert_exit_code(&c, 0);
    check_results(s);
    release_shared(s);
}

/* ------------------------------------------------------------------ */
/* Overflow: UCO_ESTACK, NULL result, and the process goes on          */
/* ------------------------------------------------------------------ */

#define REPEAT 1000

struct overflow {
    long estack;     /* calls that said UCO_ESTACK with a NULL result */
    int bad_rc;
    int after_rc;    /* a normal call afterwards */
    intptr_t after_r;
};

static void repeat_overflows(struct overflow *o)
{
    void *r = NULL;
    long i;
    for (i = 0; i < REPEAT; i++) {
        int rc = overflow_call();
        if (rc != UCO_ESTACK) {
            o->bad_rc = rc;
            break;
        }
        o->estack++;
    }
    o->after_rc = uco_call(square, (void *)9, &small, &r);
    o->after_r = (intptr_t)r;
}

static void *overflow_main(void *arg)
{
    repeat_overflows(arg);
    return NULL;
}

static void overflow_child(void *shared)
{
    struct overflow *o = shared;
    repeat_overflows(&o[0]);                  /* outside a scheduler */
    uco_run(overflow_main, &o[1], NULL);      /* inside a task */
    repeat_overflows(&o[2]);                  /* outside again */
}

static void test_call_overflow_repeated(void **state)
{
    struct child c;
    struct overflow *o;
    int i;
    (void)state;
    o = run_child(overflow_child, &c);
    assert_exit_code(&c, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(o[i].bad_rc, 0);
        assert_int_equal(o[i].estack, REPEAT);
        assert_int_equal(o[i].after_rc, 0);
        assert_int_equal(o[i].after_r, 81);
    }
    release_shared(o);
}

/* ------------------------------------------------------------------ */
/* Nested calls                                                       */
/* ------------------------------------------------------------------ */

struct nested {
    int rc_outer, rc_middle, rc_inner, rc_overflow;
    intptr_t r_outer;
    size_t remaining[3]; /* in each level's body */
};

static struct nested *nest;

static void *inner(void *arg)
{
    nest->remaining[2] = uco_stack_remaining();
    return (void *)((intptr_t)arg + 1);
}

static void *middle(void *arg)
{
    void *r = NULL;
    nest->remaining[1] = uco_stack_remaining();
    nest->rc_inner = uco_call(inner, arg, &small, &r);
    /* an inner overflow ends the inner body only */
    nest->rc_overflow = overflow_call();
    return (void *)((intptr_t)r * 10);
}

static void *outer(void *arg)
{
    void *r = NULL;
    nest->remaining[0] = uco_stack_remaining();
    nest->rc_middle = uco_call(middle, arg, &small, &r);
    return (void *)((intptr_t)r + 1000);
}

static void run_nested(struct nested *n)
{
    void *r = NULL;
    nest = n;
    n->rc_outer = uco_call(outer, (void *)4, &small, &r);
    n->r_outer = (intptr_t)r;
}

static void *nested_main(void *arg)
{
    run_nested(arg);
    return NULL;
}

static void nested_child(void *shared)
{
    struct nested *n = shared;
    run_nested(&n[0]);
    uco_run(nested_main, &n[1], NULL);
}

static void test_call_nested(void **state)
{
    struct child c;
    struct nested *n;
    int i, j;
    (void)state;
    n = run_child(nested_child, &c);
    assert_exit_code(&c, 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(n[i].rc_outer, 0);
        assert_int_equal(n[i].rc_middle, 0);
        assert_int_equal(n[i].rc_inner, 0);
        assert_int_equal(n[i].rc_overflow, UCO_ESTACK);
        assert_int_equal(n[i].r_outer, 1050); /* (4 + 1) * 10 + 1000 */
        /* each level has a fresh stack of its own, not the rest of its
         * caller's */
        for (j = 0; j < 3; j++) {
            assert_true(n[i].remaining[j] > 32 * 1024);
            assert_true(n[i].remaining[j] < 64 * 1024);
        }
    }
    release_shared(n);
}

/* ------------------------------------------------------------------ */
/* Deferred handlers belong to the body                                */
/* ------------------------------------------------------------------ */

struct defers {
    struct trace tr;
    int undefer_in_body;        /* no handler pushed by this body */
    int defer_outside, undefer_outside;
    int rc_overflow, rc_exit;
    intptr_t r_exit;
};

static struct defers *dfs;

static void note(void *word)
{
    trace_add(&dfs->tr, word);
}

static void *body_ab(void *arg)
{
    uco_defer(note, "A");
    uco_defer(note, "B");
    trace_add(&dfs->tr, "body1");
    return arg;
}

static void *body_c_overflows(void *arg)
{
    uco_defer(note, "C");
    trace_add(&dfs->tr, "body2");
    return overflows(arg);
}

static void *body_undefer(void *arg)
{
    dfs->undefer_in_body = uco_undefer(false);
    return arg;
}

static void *body_d_exits(void *arg)
{
    uco_defer(note, "D");
    trace_add(&dfs->tr, "body4");
    uco_exit(arg);
}

static void run_defer_bodies(void)
{
    void *r = NULL;
    uco_call(body_ab, NULL, &small, NULL);
    trace_add(&dfs->tr, "after1");
    dfs->rc_overflow = uco_call(body_c_overflows, NULL, &small, NULL);
    trace_add(&dfs->tr, "after2");
    uco_call(body_undefer, NULL, &small, NULL);
    dfs->rc_exit = uco_call(body_d_exits, (void *)8, &small, &r);
    dfs->r_exit = (intptr_t)r;
    trace_add(&dfs->tr, "after4");
}

static void *defers_main(void *arg)
{
    (void)arg;
    uco_defer(note, "T"); /* the task's own: runs when the task ends */
    run_defer_bodies();
    return NULL;
}

static void defers_child_task(void *shared)
{
    dfs = shared;
    uco_run(defers_main, NULL, NULL);
    trace_add(&dfs->tr, "end");
}

static void defers_child_outside(void *shared)
{
    dfs = shared;
    dfs->defer_outside = uco_defer(note, "X");
    dfs->undefer_outside = uco_undefer(false);
    run_defer_bodies();
}

static void test_call_defers(void **state)
{
    struct child c;
    struct defers *d;
    (void)state;

    d = run_child(defers_child_task, &c);
    assert_exit_code(&c, 0);
    assert_string_equal(d->tr.buf, "body1 B A after1 body2 C after2 body4 D "
                                   "after4 T end");
    assert_int_equal(d->undefer_in_body, -ENOENT);
    assert_int_equal(d->rc_overflow, UCO_ESTACK);
    assert_int_equal(d->rc_exit, 0);
    assert_int_equal(d->r_exit, 8);
    release_shared(d);

    d = run_child(defers_child_outside, &c);
    assert_exit_code(&c, 0);
    assert_int_equal(d->defer_outside, -EPERM);
    assert_int_equal(d->undefer_outside, -EPERM);
    assert_string_equal(d->tr.buf, "body1 B A after1 body2 C after2 body4 D "
                                   "after4");
    assert_int_equal(d->undefer_in_body, -ENOENT);
    assert_int_equal(d->rc_overflow, UCO_ESTACK);
    assert_int_equal(d->rc_exit, 0);
    assert_int_equal(d->r_exit, 8);
    release_shared(d);
}

/* ------------------------------------------------------------------ */
/* uco_exit in a body ends the body only                              */
/* ------------------------------------------------------------------ */

struct exits {
    int rc_task, rc_outside, rc_run;
    intptr_t r_task, r_outside, r_run;
    struct trace tr;
};

static struct exits *exs;

__attribute__((noinline)) static void exit_from_depth(int n, void *result)
{
    volatile char pad[128];
    pad[0] = (char)n;
    KEEP(pad);
    if (n == never)
        return;
    if (n == 0)
        uco_exit(result);
    exit_from_depth(n - 1, result);
    trace_add(&exs->tr, "not-reached");
}

static void *exits_deep(void *arg)
{
    trace_add(&exs->tr, "body");
    exit_from_depth(3, arg);
    trace_add(&exs->tr, "not-reached");
    return NULL;
}

static void *exit_main(void *arg)
{
    void *r = NULL;
    (void)arg;
    exs->rc_task = uco_call(exits_deep, (void *)77, &small, &r);
    exs->r_task = (intptr_t)r;
    trace_add(&exs->tr, "task-goes-on");
    return (void *)5;
}

static void exit_child(void *shared)
{
    void *r = NULL;
    exs = shared;
    exs->rc_run = uco_run(exit_main, NULL, &r);
    exs->r_run = (intptr_t)r;
    r = NULL;
    exs->rc_outside = uco_call(exits_deep, (void *)78, &small, &r);
    exs->r_outside = (intptr_t)r;
    trace_add(&exs->tr, "thread-goes-on");
}

static void test_call_exit(void **state)
{
    struct child c;
    struct exits *e;
    (void)state;
    e = run_child(exit_child, &c);
    assert_exit_code(&c, 0);
    assert_int_equal(e->rc_task, 0);
    assert_int_equal(e->r_task, 77);
    assert_int_equal(e->rc_run, 0);
    assert_int_equal(e->r_run, 5);
    assert_int_equal(e->rc_outside, 0);
    assert_int_equal(e->r_outside, 78);
    assert_string_equal(e->tr.buf, "body task-goes-on body thread-goes-on");
    release_shared(e);
}

/* ------------------------------------------------------------------ */
/* Inside a task the body may yield and sleep; others run meanwhile    */
/* ------------------------------------------------------------------ */

struct suspend {
    struct trace tr;
    int yield_rc[3];
    int sleep_rc;
    int64_t slept;
    long ticks_during;       /* ticker ticks while the body slept */
    int other_call_rc;       /* another task's overflowing call */
    int other_call_during;   /* ...happened while the body slept */
    int canary_ok;           /* the body's locals survived */
    int outside_yield, outside_sleep;
    volatile int body_sleeping, stop;
    long ticks;
};

static struct suspend *sus;

static void *other_yields(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 3; i++) {
        trace_addf(&sus->tr, "o%d", i);
        uco_yield();
    }
    return NULL;
}

static void *body_yields(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 3; i++) {
        trace_addf(&sus->tr, "b%d", i);
        sus->yield_rc[i] = uco_yield();
    }
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    while (!sus->stop) {
        sus->ticks++;
        if (uco_sleep(UCO_MSEC(2)) < 0)
            break;
    }
    return NULL;
}

static void *other_overflows(void *arg)
{
    (void)arg;
    /* queued before the body went to sleep: runs while it sleeps */
    sus->other_call_rc = overflow_call();
    sus->other_call_during = sus->body_sleeping;
    return NULL;
}

static void *body_sleeps(void *arg)
{
    volatile char canary[64];
    int64_t t0;
    long ticks0;
    (void)arg;
    memset((char *)canary, 0x5a, sizeof canary);
    KEEP(canary);
    ticks0 = sus->ticks;
    sus->body_sleeping = 1;
    t0 = uco_now();
    sus->sleep_rc = uco_sleep(UCO_MSEC(30));
    sus->slept = uco_now() - t0;
    sus->body_sleeping = 0;
    sus->ticks_during = sus->ticks - ticks0;
    sus->canary_ok = canary[0] == 0x5a && canary[63] == 0x5a;
    return NULL;
}

static void *suspend_main(void *arg)
{
    uco_task *o, *tk, *ov;
    (void)arg;
    uco_spawn(&o, other_yields, NULL, NULL);
    trace_add(&sus->tr, "call");
    uco_call(body_yields, NULL, &small, NULL);
    trace_add(&sus->tr, "ret");
    uco_join(o, NULL, UCO_NEVER);
    trace_add(&sus->tr, "end");

    uco_spawn(&tk, ticker, NULL, NULL);
    uco_spawn(&ov, other_overflows, NULL, NULL);
    uco_call(body_sleeps, NULL, &small, NULL);
    sus->stop = 1;
    uco_join(ov, NULL, UCO_NEVER);
    uco_join(tk, NULL, UCO_NEVER);
    return NULL;
}

static void *outside_suspends(void *arg)
{
    (void)arg;
    sus->outside_yield = uco_yield();
    sus->outside_sleep = uco_sleep(UCO_MSEC(1));
    return NULL;
}

static void suspend_child(void *shared)
{
    sus = shared;
    uco_run(suspend_main, NULL, NULL);
    uco_call(outside_suspends, NULL, &small, NULL);
}

static void test_call_suspends_in_task(void **state)
{
    struct child c;
    struct suspend *s;
    int i;
    (void)state;
    s = run_child(suspend_child, &c);
    assert_exit_code(&c, 0);
    /* round robin goes on around the body's yields */
    assert_string_equal(s->tr.buf, "call b0 o0 b1 o1 b2 o2 ret end");
    for (i = 0; i < 3; i++)
        assert_int_equal(s->yield_rc[i], 0);
    /* a sleeping body: on time, the others run, even an overflow */
    assert_int_equal(s->sleep_rc, 0);
    assert_on_time(s->slept, UCO_MSEC(30), UCO_MSEC(20));
    assert_true(s->ticks_during >= 5);
    assert_int_equal(s->other_call_rc, UCO_ESTACK);
    assert_true(s->other_call_during);
    assert_true(s->canary_ok);
    /* outside a scheduler the body cannot suspend */
    assert_int_equal(s->outside_yield, -EPERM);
    assert_int_equal(s->outside_sleep, -EPERM);
    release_shared(s);
}

/* ------------------------------------------------------------------ */
/* Bad input                                                          */
/* ------------------------------------------------------------------ */

struct bad {
    int null_fn, detached, unknown_flag, huge_stack, huge_guard;
    int body_ran;
    intptr_t r;
};

static struct bad *bad_seen;

static void *mark_ran(void *arg)
{
    bad_seen->body_ran++;
    return arg;
}

static void bad_input(struct bad *b)
{
    uco_attr det = { .flags = UCO_DETACHED };
    uco_attr sbdet = { .flags = UCO_SANDBOX | UCO_DETACHED };
    uco_attr unk = { .flags = 1u << 7 };
    uco_attr huge = { .stack_size = (size_t)-1 };
    uco_attr hguard = { .guard_size = (size_t)-1 / 2 };
    void *r = (void *)3;

    bad_seen = b;
    b->null_fn = uco_call(NULL, NULL, NULL, &r);
    b->detached = uco_call(mark_ran, NULL, &det, &r);
    if (b->detached == -EINVAL)
        b->detached = uco_call(mark_ran, NULL, &sbdet, &r);
    b->unknown_flag = uco_call(mark_ran, NULL, &unk, &r);
    b->huge_stack = uco_call(mark_ran, NULL, &huge, &r);
    b->huge_guard = uco_call(mark_ran, NULL, &hguard, &r);
    b->r = (intptr_t)r;
}

static void *bad_main(void *arg)
{
    bad_input(arg);
    return NULL;
}

static void bad_child(void *shared)
{
    struct bad *b = shared;
    bad_input(&b[0]);
    uco_run(bad_main, &b[1], NULL);
}

static void test_call_bad_input(void **state)
{
    struct child c;
    struct bad *b;
    int i;
    (void)state;
    b = run_child(bad_child, &c);
    assert_exit_code(&c, 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(b[i].null_fn, -EINVAL);
        assert_int_equal(b[i].detached, -EINVAL);
        assert_int_equal(b[i].unknown_flag, -EINVAL);
        assert_int_equal(b[i].huge_stack, -EINVAL);
        assert_int_equal(b[i].huge_guard, -EINVAL);
        assert_int_equal(b[i].body_ran, 0);
    }
    release_shared(b);
}

/* ------------------------------------------------------------------ */
/* A NULL dereference in a body is not an overflow                    */
/* ------------------------------------------------------------------ */

#define EXIT_SIGINFO_NULL 41
#define EXIT_WRONG 40
#define EXIT_SWALLOWED 7

static void on_segv_info(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    _exit(sig == SIGSEGV && si->si_addr == NULL ? EXIT_SIGINFO_NULL
                                                : EXIT_WRONG);
}

NO_SANITIZE_NULL static void *null_deref(void *arg)
{
    volatile int *volatile p = NULL;
    (void)arg;
    DELIBERATE_FAULT_AHEAD();
    *p = 7;
    return NULL;
}

static void null_child_handler(void *shared)
{
    struct sigaction sa;
    (void)shared;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_segv_info;
    sigaction(SIGSEGV, &sa, NULL);
    uco_call(null_deref, NULL, &small, NULL);
    _exit(EXIT_SWALLOWED);
}

static void *null_main(void *arg)
{
    (void)arg;
    uco_call(null_deref, NULL, &small, NULL);
    return NULL;
}

static void null_child_default(void *shared)
{
    (void)shared;
    uco_run(null_main, NULL, NULL);
    _exit(EXIT_SWALLOWED);
}

static void test_call_null_deref_not_swallowed(void **state)
{
    struct child c;
    (void)state;
    release_shared(run_child(null_child_handler, &c));
    assert_exit_code(&c, EXIT_SIGINFO_NULL);
    release_shared(run_child(null_child_default, &c));
    assert_true(WIFSIGNALED(c.status));
    assert_int_equal(WTERMSIG(c.status), SIGSEGV);
    assert_null(strstr(c.err, "stack overflow"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_outside_scheduler),
        cmocka_unit_test(test_call_in_task),
        cmocka_unit_test(test_call_overflow_repeated),
        cmocka_unit_test(test_call_nested),
        cmocka_unit_test(test_call_defers),
        cmocka_unit_test(test_call_exit),
        cmocka_unit_test(test_call_suspends_in_task),
        cmocka_unit_test(test_call_bad_input),
        cmocka_unit_test(test_call_null_deref_not_swallowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
