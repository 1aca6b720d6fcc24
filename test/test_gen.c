/*
 * test_gen - generators: locals that persist between uco_gen_next calls,
 * the end of the sequence, use without a scheduler and inside a task,
 * early destruction (pending and later yields return -ECANCELED, deferred
 * handlers run once), a body that sleeps or yields for its driving task,
 * the misuse rules (-EPERM, -EBUSY, -EINVAL), a sandboxed overflow and
 * uco_exit inside the body.
 *
 * Tests that need a scheduler start a fresh one with uco_run; tasks and
 * generator bodies only record what they saw, and the assertions run after
 * uco_run (or the generator) has returned.  `bad` counts set-up steps that
 * failed inside tasks and is checked by every such test.
 */
#include "fixture.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>




static void count(void *counter)
{
    ++*(int *)counter;
}

static void note(void *word)
{
    trace_add(&tr, word);
}

/* ------------------------------------------------------------------ */
/* Fibonacci: locals persist, then 0 at the end and 0 again            */
/* ------------------------------------------------------------------ */

static void fib_body(uco_gen *g, void *arg)
{
    uintptr_t a = 0, b = 1, limit = N(arg), i;

    for (i = 0; i < limit; i++) {
        uintptr_t t = a + b;
        if (uco_gen_yield(g, V(a)) < 0)
            return;
        a = b;
        b = t;
    }
}

static void test_fib_no_scheduler(void **state)
{
    static const uintptr_t want[] = { 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89 };
    uco_gen *g = NULL;
    void *v;
    size_t i;

    (void)state;
    assert_null(uco_self());
    assert_int_equal(uco_gen_create(&g, fib_body, V(12), NULL), 0);
    assert_non_null(g);
    for (i = 0; i < 12; i++) {
        v = V(999);
        assert_int_equal(uco_gen_next(g, &v), 1);
        assert_int_equal(N(v), want[i]);
    }
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(uco_gen_next(g, NULL), 0);
    uco_gen_destroy(g);
}

/* Two generators of the same body keep separate states. */
static void test_interleaved_generators(void **state)
{
    uco_gen *a = NULL, *b = NULL;
    void *va, *vb;
    int i;

    (void)state;
    assert_int_equal(uco_gen_create(&a, fib_body, V(8), NULL), 0);
    assert_int_equal(uco_gen_create(&b, fib_body, V(4), NULL), 0);
    /* advance a by two first */
    assert_int_equal(uco_gen_next(a, &va), 1);
    assert_int_equal(uco_gen_next(a, &va), 1);
    for (i = 0; i < 4; i++) {
        assert_int_equal(uco_gen_next(a, &va), 1);
        assert_int_equal(uco_gen_next(b, &vb), 1);
        trace_addf(&tr, "%lu/%lu", (unsigned long)N(va), (unsigned long)N(vb));
    }
    assert_int_equal(uco_gen_next(b, &vb), 0);
    assert_int_equal(uco_gen_next(a, &va), 1);
    assert_int_equal(N(va), 8);
    assert_string_equal(tr.buf, "1/0 2/1 3/1 5/2");
    uco_gen_destroy(a);
    uco_gen_destroy(b);
}

/* ------------------------------------------------------------------ */
/* A recursive tree walk: the recursion itself persists                */
/* ------------------------------------------------------------------ */

struct node {
    int key;
    struct node *left, *right;
};

static struct node *insert(struct node *pool, size_t *used, struct node *root,
                           int key)
{
    struct node *n;

    if (!root) {
        n = &pool[(*used)++];
        n->key = key;
        n->left = n->right = NULL;
        return n;
    }
    if (key < root->key)
        root->left = insert(pool, used, root->left, key);
    else
        root->right = insert(pool, used, root->right, key);
    return root;
}

/* In order; 0 to go on, <0 when the consumer is gone. */
static int walk(uco_gen *g, const struct node *n)
{
    int rc;

    if (!n)
        return 0;
    if ((rc = walk(g, n->left)) < 0)
        return rc;
    if ((rc = uco_gen_yield(g, (void *)n)) < 0)
        return rc;
    return walk(g, n->right);
}

static void tree_body(uco_gen *g, void *root)
{
    walk(g, root);
}

static void test_tree_iterator(void **state)
{
    static const int keys[] = { 50, 20, 80, 10, 30, 70, 90, 25, 35, 5, 95, 60 };
    struct node pool[16];
    struct node *root = NULL;
    size_t used = 0, i;
    uco_gen *g = NULL;
    void *v;
    int prev = -1, seen = 0;

    (void)state;
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        root = insert(pool, &used, root, keys[i]);
    assert_int_equal(uco_gen_create(&g, tree_body, root, NULL), 0);
    while (uco_gen_next(g, &v) == 1) {
        const struct node *n = v;
        assert_true(n->key > prev);
        prev = n->key;
        seen++;
    }
    assert_int_equal(seen, (int)(sizeof keys / sizeof keys[0]));
    assert_int_equal(prev, 95);
    assert_int_equal(uco_gen_next(g, &v), 0);
    uco_gen_destroy(g);
}

/* ------------------------------------------------------------------ */
/* Inside a task                                                       */
/* ------------------------------------------------------------------ */

static struct {
    uco_task *driver, *seen_in_body;
    uintptr_t sum;
    int count, end1, end2;
} in_task;

static void whoami_body(uco_gen *g, void *arg)
{
    (void)arg;
    in_task.seen_in_body = uco_self();
    fib_body(g, V(10));
}

static void *in_task_main(void *arg)
{
    uco_gen *g = NULL;
    void *v;

    (void)arg;
    in_task.driver = uco_self();
    if (uco_gen_create(&g, whoami_body, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    while (uco_gen_next(g, &v) == 1) {
        in_task.sum += N(v);
        in_task.count++;
    }
    in_task.end1 = uco_gen_next(g, &v);
    in_task.end2 = uco_gen_next(g, &v);
    uco_gen_destroy(g);
    return NULL;
}

static void test_in_task(void **state)
{
    (void)state;
    memset(&in_task, 0, sizeof in_task);
    assert_int_equal(run_main(in_task_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(in_task.count, 10);
    assert_int_equal(in_task.sum, 88); /* 0+1+1+2+3+5+8+13+21+34 */
    assert_int_equal(in_task.end1, 0);
    assert_int_equal(in_task.end2, 0);
    assert_non_null(in_task.driver);
    assert_ptr_equal(in_task.seen_in_body, in_task.driver);
}

/* ------------------------------------------------------------------ */
/* Early destruction                                                   */
/* ------------------------------------------------------------------ */

static struct {
    int rc[8];
    int nrc;
    int handler;
    bool reached_end;
    bool entered;
} ds;

static void stubborn_body(uco_gen *g, void *arg)
{
    int i, rc;

    (void)arg;
    ds.entered = true;
    if (uco_defer(count, &ds.handler) < 0 || uco_defer(note, "d1") < 0 ||
        uco_defer(note, "d2") < 0)
        bad++;
    for (i = 0; i < 5; i++) {
        /* keeps yielding even after the cancellation: none of these may
         * suspend, or destroy would never come back */
        rc = uco_gen_yield(g, V(i));
        ds.rc[ds.nrc++] = rc;
        trace_addf(&tr, "y%d:%s", i, rc == 0 ? "ok" : rc == -ECANCELED
                                                          ? "canceled"
                                                          : "other");
    }
    ds.reached_end = true;
    trace_add(&tr, "end");
}

static void test_destroy_unfinished(void **state)
{
    uco_gen *g = NULL;
    void *v;

    (void)state;
    memset(&ds, 0, sizeof ds);
    assert_int_equal(uco_gen_create(&g, stubborn_body, NULL, NULL), 0);
    assert_int_equal(uco_gen_next(g, &v), 1);
    assert_int_equal(N(v), 0);
    assert_int_equal(uco_gen_next(g, &v), 1);
    assert_int_equal(N(v), 1);
    trace_add(&tr, "destroy");
    uco_gen_destroy(g);
    trace_add(&tr, "back");
    assert_int_equal(bad, 0);
    assert_int_equal(ds.nrc, 5);
    assert_int_equal(ds.rc[0], 0);
    assert_int_equal(ds.rc[1], -ECANCELED);
    assert_int_equal(ds.rc[2], -ECANCELED);
    assert_int_equal(ds.rc[3], -ECANCELED);
    assert_int_equal(ds.rc[4], -ECANCELED);
    assert_true(ds.reached_end);
    assert_int_equal(ds.handler, 1);
    assert_string_equal(tr.buf, "y0:ok destroy y1:canceled y2:canceled "
                                "y3:canceled y4:canceled end d2 d1 back");
}

/* The same, driven from a task: destroy there too. */
static void *destroy_in_task_main(void *arg)
{
    uco_gen *g = NULL;
    void *v;

    (void)arg;
    if (uco_gen_create(&g, stubborn_body, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    if (uco_gen_next(g, &v) != 1)
        bad++;
    uco_gen_destroy(g);
    trace_add(&tr, "back");
    return NULL;
}

static void test_destroy_unfinished_in_task(void **state)
{
    (void)state;
    memset(&ds, 0, sizeof ds);
    assert_int_equal(run_main(destroy_in_task_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ds.handler, 1);
    assert_int_equal(ds.nrc, 5);
    assert_int_equal(ds.rc[0], -ECANCELED);
    assert_int_equal(ds.rc[4], -ECANCELED);
    assert_string_equal(tr.buf, "y0:canceled y1:canceled y2:canceled "
                                "y3:canceled y4:canceled end d2 d1 back");
}

static void test_destroy_never_started(void **state)
{
    uco_gen *g = NULL;

    (void)state;
    memset(&ds, 0, sizeof ds);
    assert_int_equal(uco_gen_create(&g, stubborn_body, NULL, NULL), 0);
    uco_gen_destroy(g);
    assert_false(ds.entered);
    assert_int_equal(ds.nrc, 0);
    assert_int_equal(ds.handler, 0);
    assert_string_equal(tr.buf, "");
}

static void short_body(uco_gen *g, void *arg)
{
    (void)arg;
    if (uco_defer(count, &ds.handler) < 0)
        bad++;
    ds.rc[ds.nrc++] = uco_gen_yield(g, V(7));
}

static void test_destroy_finished(void **state)
{
    uco_gen *g = NULL;
    void *v;

    (void)state;
    memset(&ds, 0, sizeof ds);
    assert_int_equal(uco_gen_create(&g, short_body, NULL, NULL), 0);
    assert_int_equal(uco_gen_next(g, &v), 1);
    assert_int_equal(N(v), 7);
    assert_int_equal(ds.handler, 0);
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(ds.handler, 1); /* ran at the end of the body */
    uco_gen_destroy(g);
    assert_int_equal(ds.handler, 1); /* and not again */
    assert_int_equal(ds.nrc, 1);
    assert_int_equal(ds.rc[0], 0);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* The body sleeps and yields for its driving task                     */
/* ------------------------------------------------------------------ */

static struct {
    volatile bool stop;
    int ticks;              /* the other task's progress */
    int ticks_before, ticks_after;
    int sleep_rc, yield_rc;
    int64_t slept_from, slept_to;
    int next_busy;          /* uco_gen_next by another task meanwhile */
    int last;
} sl;

static void *ticker(void *arg)
{
    (void)arg;
    while (!sl.stop) {
        sl.ticks++;
        if (uco_sleep(UCO_MSEC(1)) < 0)
            break;
    }
    return NULL;
}

static uco_gen *sl_gen;

static void *intruder(void *arg)
{
    void *v;
    (void)arg;
    /* The generator's body is suspended in a uco_yield of its driver. */
    sl.next_busy = uco_gen_next(sl_gen, &v);
    return NULL;
}

static void sleepy_body(uco_gen *g, void *arg)
{
    (void)arg;
    if (uco_gen_yield(g, V(1)) < 0)
        return;
    trace_add(&tr, "body-yield");
    sl.yield_rc = uco_yield();
    trace_add(&tr, "body-back");
    sl.ticks_before = sl.ticks;
    sl.slept_from = uco_now();
    sl.sleep_rc = uco_sleep(UCO_MSEC(30));
    sl.slept_to = uco_now();
    sl.ticks_after = sl.ticks;
    uco_gen_yield(g, V(2));
}

static void *yielder_once(void *arg)
{
    (void)arg;
    trace_add(&tr, "other");
    return NULL;
}

static void *sleepy_main(void *arg)
{
    uco_task *t = NULL, *y = NULL, *in = NULL;
    void *v;

    (void)arg;
    if (uco_gen_create(&sl_gen, sleepy_body, NULL, NULL) < 0 ||
        uco_spawn(&t, ticker, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    if (uco_gen_next(sl_gen, &v) != 1 || N(v) != 1)
        bad++;
    /* spawned now: the body's uco_yield lets it run once */
    if (uco_spawn(&y, yielder_once, NULL, NULL) < 0 ||
        uco_spawn(&in, intruder, NULL, NULL) < 0)
        bad++;
    if (uco_gen_next(sl_gen, &v) != 1 || N(v) != 2)
        bad++;
    sl.last = uco_gen_next(sl_gen, &v);
    uco_gen_destroy(sl_gen);
    sl.stop = true;
    uco_join(t, NULL, UCO_NEVER);
    uco_join(y, NULL, UCO_NEVER);
    uco_join(in, NULL, UCO_NEVER);
    return NULL;
}

static void test_body_sleeps_for_driver(void **state)
{
    (void)state;
    memset(&sl, 0, sizeof sl);
    assert_int_equal(run_main(sleepy_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(sl.yield_rc, 0);
    assert_int_equal(sl.sleep_rc, 0);
    assert_string_equal(tr.buf, "body-yield other body-back");
    assert_on_time(sl.slept_to - sl.slept_from, UCO_MSEC(30), UCO_MSEC(20));
    /* the other task advanced while the body slept */
    assert_true(sl.ticks_after - sl.ticks_before >= 5);
    /* and could not drive the generator meanwhile */
    assert_int_equal(sl.next_busy, -EBUSY);
    assert_int_equal(sl.last, 0);
}

/* The driving task is cancelled while the body sleeps. */
static struct {
    int sleep_rc, again_rc, next_rc;
    bool flag_in_body;
    int64_t main_slept_at, woke_at; /* the cancel comes 10 ms after the
                                       first, whenever the body started */
} cs;

static void cancel_me_body(uco_gen *g, void *arg)
{
    (void)g;
    (void)arg;
    cs.sleep_rc = uco_sleep(UCO_SEC(10));
    cs.woke_at = uco_now();
    cs.flag_in_body = uco_cancelled();
    cs.again_rc = uco_sleep(UCO_SEC(10)); /* level-triggered: at once */
}

static void *cancel_driver(void *arg)
{
    uco_gen *g = NULL;
    void *v;

    (void)arg;
    if (uco_gen_create(&g, cancel_me_body, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    cs.next_rc = uco_gen_next(g, &v);
    uco_gen_destroy(g);
    return NULL;
}

static void *cancel_gen_main(void *arg)
{
    uco_task *t = NULL;

    (void)arg;
    if (uco_spawn(&t, cancel_driver, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    cs.main_slept_at = uco_now();
    uco_sleep(UCO_MSEC(10));
    uco_cancel(t);
    if (uco_join(t, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_driver_cancelled_while_body_sleeps(void **state)
{
    (void)state;
    memset(&cs, 0, sizeof cs);
    assert_int_equal(run_main(cancel_gen_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cs.sleep_rc, -ECANCELED);
    assert_on_time(cs.woke_at - cs.main_slept_at, UCO_MSEC(10), UCO_MSEC(50));
    assert_true(cs.flag_in_body);
    assert_int_equal(cs.again_rc, -ECANCELED);
    assert_int_equal(cs.next_rc, 0); /* the body returned */
}

/* ------------------------------------------------------------------ */
/* Misuse: yield outside the body, next inside it, bad input           */
/* ------------------------------------------------------------------ */

static struct {
    int yield_other, next_self, yield_from_call, yield_own;
    uco_gen *other;
    void *next_self_value;
} mu;

static void *call_body(void *g)
{
    mu.yield_from_call = uco_gen_yield(g, V(5));
    return NULL;
}

static void misuse_body(uco_gen *g, void *arg)
{
    void *v = V(9);

    (void)arg;
    mu.next_self = uco_gen_next(g, &v);
    mu.next_self_value = v;
    mu.yield_other = uco_gen_yield(mu.other, V(3)); /* another generator */
    if (uco_call(call_body, g, NULL, NULL) != 0)
        bad++;
    mu.yield_own = uco_gen_yield(g, V(4));
}

static void idle_body(uco_gen *g, void *arg)
{
    (void)arg;
    uco_gen_yield(g, NULL);
}

static void test_misuse(void **state)
{
    uco_gen *g = NULL;
    void *v;

    (void)state;
    memset(&mu, 0, sizeof mu);
    mu.yield_other = mu.next_self = mu.yield_from_call = 12345;
    assert_int_equal(uco_gen_create(&mu.other, idle_body, NULL, NULL), 0);
    assert_int_equal(uco_gen_create(&g, misuse_body, NULL, NULL), 0);
    /* outside any body, before and while suspended */
    assert_int_equal(uco_gen_yield(g, NULL), -EPERM);
    assert_int_equal(uco_gen_next(mu.other, &v), 1);
    assert_int_equal(uco_gen_yield(mu.other, NULL), -EPERM);
    assert_int_equal(uco_gen_next(g, &v), 1);
    assert_int_equal(N(v), 4);
    assert_int_equal(mu.next_self, -EBUSY);
    assert_null(mu.next_self_value); /* *value is NULL on an error too */
    assert_int_equal(mu.yield_other, -EPERM);
    assert_int_equal(mu.yield_from_call, -EPERM); /* a uco_call inside it */
    assert_int_equal(uco_gen_yield(g, NULL), -EPERM);
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(mu.yield_own, 0);
    assert_int_equal(uco_gen_yield(g, NULL), -EPERM); /* finished */
    assert_int_equal(bad, 0);
    uco_gen_destroy(g);
    uco_gen_destroy(mu.other);
}

static void *misuse_in_task(void *arg)
{
    uco_gen *g = arg;
    return V(uco_gen_yield(g, NULL) == -EPERM);
}

static void test_yield_from_task_eperm(void **state)
{
    uco_gen *g = NULL;
    void *res = NULL;

    (void)state;
    assert_int_equal(uco_gen_create(&g, idle_body, NULL, NULL), 0);
    assert_int_equal(uco_run(misuse_in_task, g, &res), 0);
    assert_int_equal(N(res), 1);
    uco_gen_destroy(g);
}

static void test_bad_input(void **state)
{
    uco_gen *g = (uco_gen *)V(1);
    uco_attr a;
    void *v;

    (void)state;
    assert_int_equal(uco_gen_create(NULL, idle_body, NULL, NULL), -EINVAL);
    assert_int_equal(uco_gen_create(&g, NULL, NULL, NULL), -EINVAL);
    assert_ptr_equal(g, V(1)); /* left alone on failure */
    memset(&a, 0, sizeof a);
    a.flags = UCO_DETACHED;
    assert_int_equal(uco_gen_create(&g, idle_body, NULL, &a), -EINVAL);
    a.flags = 1u << 7;
    assert_int_equal(uco_gen_create(&g, idle_body, NULL, &a), -EINVAL);
    a.flags = 0;
    a.stack_size = SIZE_MAX;
    assert_int_equal(uco_gen_create(&g, idle_body, NULL, &a), -EINVAL);
    assert_int_equal(uco_gen_next(NULL, NULL), -EINVAL);
    v = V(2);
    assert_int_equal(uco_gen_next(NULL, &v), -EINVAL);
    assert_null(v);
    assert_int_equal(uco_gen_yield(NULL, NULL), -EINVAL);
    uco_gen_destroy(NULL); /* a no-op */
    /* a good one still works afterwards */
    a.stack_size = 0;
    a.flags = UCO_SANDBOX;
    a.name = "good";
    assert_int_equal(uco_gen_create(&g, fib_body, V(3), &a), 0);
    assert_int_equal(uco_gen_next(g, NULL), 1);
    uco_gen_destroy(g);
}

/* ------------------------------------------------------------------ */
/* A sandboxed body that overflows its stack                           */
/* ------------------------------------------------------------------ */

/*
 * cmocka puts its own SIGSEGV/SIGBUS handlers in place around every test
 * with signal(), which replaces the library's (and puts back, after the
 * test, what was there before it).  main() therefore lets the library
 * install its handler once before cmocka starts and keeps a copy; each
 * overflow test runs in a forked child that puts that handler back, as a
 * program that never replaced it would have it.  The child records what
 * it saw in a shared page; the parent asserts.
 */
static struct sigaction lib_segv, lib_bus;

static void capture_library_handler(void)
{
    uco_gen *g = NULL;

    if (uco_gen_create(&g, idle_body, NULL, NULL) == 0)
        uco_gen_destroy(g); /* never started: installs, runs nothing */
    sigaction(SIGSEGV, NULL, &lib_segv);
    sigaction(SIGBUS, NULL, &lib_bus);
}

struct ov_seen {
    int first_next, first_value, overflow_next, after_next;
    int handler, yields, other_ran, run_rc;
    int second_next;   /* a second overflow in the same process */
    int later_gen;     /* a generator made afterwards still works */
    bool unreachable, done;
};

static struct ov_seen *ov;

/* Run body in a forked child with the library's fault handler; the
 * child's record comes back in *seen.  Asserts the child exited 0. */
static void in_child(void (*body)(void), struct ov_seen *seen)
{
    struct ov_seen *shared;
    int status;
    pid_t pid;

    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(shared != MAP_FAILED);
    memset(shared, 0, sizeof *shared);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sigaction(SIGSEGV, &lib_segv, NULL);
        sigaction(SIGBUS, &lib_bus, NULL);
        alarm((unsigned)(30 * test_slack()));
        ov = shared;
        body();
        shared->done = true;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *seen = *shared;
    munmap(shared, sizeof *shared);
    if (!WIFEXITED(status))
        printf("child killed by signal %d\n", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(seen->done);
}

/* Far deeper than 32 KiB allows: 512 bytes a level. */
static int deep(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    frame[511] = (char)n;
    if (n > 1000000)
        return frame[0];
    return deep(n + 1) + frame[0] + frame[511];
}

static void overflow_body(uco_gen *g, void *arg)
{
    (void)arg;
    if (uco_defer(count, &ov->handler) < 0)
        bad++;
    if (uco_gen_yield(g, V(1)) == 0)
        ov->yields++;
    deep(0);
    ov->unreachable = true;
}

static const uco_attr small_sandbox = { .stack_size = 32 * 1024,
                                        .flags = UCO_SANDBOX,
                                        .name = "deep" };

/* One generator that overflows on its second next: that next's code. */
static int one_overflow(int *first_next, int *first_value)
{
    uco_gen *g = NULL;
    void *v = V(77);
    int rc;

    if (uco_gen_create(&g, overflow_body, NULL, &small_sandbox) < 0)
        return -1000;
    *first_next = uco_gen_next(g, &v);
    *first_value = (int)N(v);
    rc = uco_gen_next(g, &v);
    uco_gen_destroy(g);
    return rc;
}

static void overflow_plain_child(void)
{
    uco_gen *g = NULL;
    int dummy1, dummy2;

    ov->overflow_next = one_overflow(&ov->first_next, &ov->first_value);
    /* again: the fault signal was not left blocked */
    ov->second_next = one_overflow(&dummy1, &dummy2);
    if (uco_gen_create(&g, fib_body, V(5), NULL) == 0) {
        void *v;
        while (uco_gen_next(g, &v) == 1)
            ov->later_gen++;
        uco_gen_destroy(g);
    }
}

static void test_sandbox_overflow(void **state)
{
    struct ov_seen seen;

    (void)state;
    in_child(overflow_plain_child, &seen);
    assert_int_equal(seen.first_next, 1);
    assert_int_equal(seen.first_value, 1);
    assert_int_equal(seen.overflow_next, UCO_ESTACK);
    assert_int_equal(seen.second_next, UCO_ESTACK);
    assert_int_equal(seen.handler, 2); /* once each */
    assert_int_equal(seen.yields, 2);
    assert_false(seen.unreachable);
    assert_int_equal(seen.later_gen, 5);
}

static void *overflow_other(void *arg)
{
    (void)arg;
    ov->other_ran++;
    return NULL;
}

static void *overflow_main(void *arg)
{
    uco_task *t = NULL;

    (void)arg;
    if (uco_spawn(&t, overflow_other, NULL, NULL) < 0)
        return NULL;
    ov->overflow_next = one_overflow(&ov->first_next, &ov->first_value);
    ov->after_next = uco_join(t, NULL, UCO_NEVER);
    return V(2);
}

static void overflow_task_child(void)
{
    void *res = NULL;

    ov->run_rc = uco_run(overflow_main, NULL, &res);
    if (N(res) != 2)
        ov->run_rc = -1000;
}

static void test_sandbox_overflow_in_task(void **state)
{
    struct ov_seen seen;

    (void)state;
    in_child(overflow_task_child, &seen);
    assert_int_equal(seen.run_rc, 0);
    assert_int_equal(seen.first_next, 1);
    assert_int_equal(seen.overflow_next, UCO_ESTACK);
    assert_int_equal(seen.handler, 1);
    assert_int_equal(seen.other_ran, 1);  /* the scheduler went on */
    assert_int_equal(seen.after_next, 0); /* and joined it */
    assert_false(seen.unreachable);
}

/* ------------------------------------------------------------------ */
/* uco_exit inside the body ends the generator, not the task           */
/* ------------------------------------------------------------------ */

static int exit_handler;

static void leave_deep(int depth)
{
    if (depth < 0)
        return;
    if (depth == 0)
        uco_exit(V(42));
    leave_deep(depth - 1);
    trace_add(&tr, "unreachable");
}

static void exit_body(uco_gen *g, void *arg)
{
    (void)arg;
    if (uco_defer(count, &exit_handler) < 0)
        bad++;
    if (uco_gen_yield(g, V(1)) < 0)
        return;
    leave_deep(5);
    trace_add(&tr, "after-exit");
    uco_gen_yield(g, V(2));
}

static void test_exit_in_body(void **state)
{
    uco_gen *g = NULL;
    void *v;

    (void)state;
    exit_handler = 0;
    assert_int_equal(uco_gen_create(&g, exit_body, NULL, NULL), 0);
    assert_int_equal(uco_gen_next(g, &v), 1);
    assert_int_equal(N(v), 1);
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(uco_gen_next(g, &v), 0);
    assert_int_equal(exit_handler, 1);
    assert_string_equal(tr.buf, "");
    uco_gen_destroy(g);
    assert_int_equal(exit_handler, 1);
}

static struct {
    int rc1, rc2, rc3;
    bool went_on;
} ex;

static void *exit_main(void *arg)
{
    uco_gen *g = NULL;
    void *v;

    (void)arg;
    if (uco_gen_create(&g, exit_body, NULL, NULL) < 0) {
        bad++;
        return NULL;
    }
    ex.rc1 = uco_gen_next(g, &v);
    ex.rc2 = uco_gen_next(g, &v);
    ex.rc3 = uco_gen_next(g, &v);
    uco_gen_destroy(g);
    ex.went_on = true; /* the task was not ended by the body's uco_exit */
    return V(9);
}

static void test_exit_in_body_in_task(void **state)
{
    void *res = NULL;

    (void)state;
    exit_handler = 0;
    memset(&ex, 0, sizeof ex);
    assert_int_equal(uco_run(exit_main, NULL, &res), 0);
    assert_int_equal(N(res), 9);
    assert_true(ex.went_on);
    assert_int_equal(ex.rc1, 1);
    assert_int_equal(ex.rc2, 0);
    assert_int_equal(ex.rc3, 0);
    assert_int_equal(exit_handler, 1);
    assert_string_equal(tr.buf, "");
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ */
/* A deferred handler that yields once the body has ended: -EPERM,     */
/* without suspending, and the handlers below it still run             */
/* ------------------------------------------------------------------ */

static uco_gen *late_gen;
static int late_rc = 1, late_handler;

static void yield_late(void *arg)
{
    (void)arg;
    late_rc = uco_gen_yield(late_gen, V(7));
    trace_add(&tr, "late");
}

static void one_yield_body(uco_gen *g, void *arg)
{
    int rc;

    (void)arg;
    if (uco_defer(count, &late_handler) < 0 || uco_defer(yield_late, NULL) < 0)
        bad++;
    rc = uco_gen_yield(g, V(1)); /* -ECANCELED when destroyed here */
    if (rc != 0 && rc != -ECANCELED)
        bad++;
}

static void test_yield_from_handler_after_end(void **state)
{
    void *v = V(999);
    int i;

    (void)state;
    /* ended by returning, and by destroy while it waits in a yield */
    for (i = 0; i < 2; i++) {
        late_rc = 1;
        late_handler = 0;
        memset(&tr, 0, sizeof tr);
        assert_int_equal(uco_gen_create(&late_gen, one_yield_body, NULL, NULL), 0);
        assert_int_equal(uco_gen_next(late_gen, &v), 1);
        assert_int_equal(N(v), 1);
        if (i == 0) {
            assert_int_equal(uco_gen_next(late_gen, &v), 0);
            assert_null(v);
            assert_int_equal(uco_gen_next(late_gen, &v), 0);
        }
        uco_gen_destroy(late_gen);
        assert_int_equal(late_rc, -EPERM);
        assert_int_equal(late_handler, 1);
        assert_string_equal(tr.buf, "late");
    }
    assert_int_equal(bad, 0);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fib_no_scheduler),
        T(test_interleaved_generators),
        T(test_tree_iterator),
        T(test_in_task),
        T(test_destroy_unfinished),
        T(test_destroy_unfinished_in_task),
        T(test_destroy_never_started),
        T(test_destroy_finished),
        T(test_body_sleeps_for_driver),
        T(test_driver_cancelled_while_body_sleeps),
        T(test_misuse),
        T(test_yield_from_task_eperm),
        T(test_bad_input),
        T(test_sandbox_overflow),
        T(test_sandbox_overflow_in_task),
        T(test_exit_in_body),
        T(test_exit_in_body_in_task),
        T(test_yield_from_handler_after_end),
    };

    capture_library_handler();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
