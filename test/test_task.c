/*
 * test_task - spawn, join, detach, exit, names and ids, stacks of tasks,
 * and what happens when the kernel refuses a stack.
 */
#include "testutil.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- spawn and join */

static void *double_it(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

static void *join_main(void *arg)
{
    uco_task *t;
    void *r = NULL;
    (void)arg;
    assert_int_equal(uco_spawn(&t, double_it, (void *)21, NULL), 0);
    assert_int_equal(uco_join(t, &r, UCO_NEVER), 0);
    assert_int_equal((intptr_t)r, 42);
    /* joining a task that already finished */
    assert_int_equal(uco_spawn(&t, double_it, (void *)5, NULL), 0);
    uco_yield();
    assert_int_equal(uco_join(t, &r, UCO_NEVER), 0);
    assert_int_equal((intptr_t)r, 10);
    return NULL;
}

static void test_spawn_join(void **state)
{
    (void)state;
    assert_int_equal(run_main(join_main, NULL), 0);
}

/* uco_exit from deep in the stack ends the task with its result. */
static volatile bool exit_at_bottom = true;

static void deep(int n)
{
    if (n > 0)
        deep(n - 1);
    else if (exit_at_bottom)
        uco_exit((void *)7);
    fail_msg("uco_exit returned");
}

static void *exits_deep(void *arg)
{
    (void)arg;
    deep(50);
    return NULL;
}

static void *exit_main(void *arg)
{
    uco_task *t;
    void *r = NULL;
    (void)arg;
    assert_int_equal(uco_spawn(&t, exits_deep, NULL, NULL), 0);
    assert_int_equal(uco_join(t, &r, UCO_NEVER), 0);
    assert_ptr_equal(r, (void *)7);
    uco_exit((void *)9); /* main itself */
}

static void test_exit(void **state)
{
    void *r = NULL;
    (void)state;
    assert_int_equal(uco_run(exit_main, NULL, &r), 0);
    assert_ptr_equal(r, (void *)9);
}

/* ---- join's deadline, and the handles' rules */

static void *naps(void *arg)
{
    uco_sleep(UCO_MSEC(60));
    return arg;
}

static void *timeout_main(void *arg)
{
    uco_task *t;
    void *r = NULL;
    int64_t start;
    (void)arg;
    assert_int_equal(uco_spawn(&t, naps, (void *)3, NULL), 0);
    start = uco_now();
    assert_int_equal(uco_join(t, &r, start + UCO_MSEC(20)), -ETIMEDOUT);
    assert_on_time(uco_now() - start, UCO_MSEC(20), UCO_MSEC(15));
    assert_null(r);
    /* a past deadline on a running task times out at once */
    assert_int_equal(uco_join(t, &r, 0), -ETIMEDOUT);
    /* the task runs on and may be joined again */
    assert_int_equal(uco_join(t, &r, UCO_NEVER), 0);
    assert_ptr_equal(r, (void *)3);
    return NULL;
}

static void test_join_timeout(void **state)
{
    (void)state;
    assert_int_equal(run_main(timeout_main, NULL), 0);
}

static uco_task *target;
static int second_join_rc;

static void *second_joiner(void *arg)
{
    (void)arg;
    second_join_rc = uco_join(target, NULL, UCO_NEVER);
    return NULL;
}

static void *self_join(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)uco_join(uco_self(), NULL, UCO_NEVER);
}

static void *rules_main(void *arg)
{
    uco_task *t, *j;
    void *r;
    (void)arg;
    /* joining itself */
    assert_int_equal(uco_spawn(&t, self_join, NULL, NULL), 0);
    assert_int_equal(uco_join(t, &r, UCO_NEVER), 0);
    assert_int_equal((intptr_t)r, -EDEADLK);
    /* two joiners */
    assert_int_equal(uco_spawn(&target, naps, NULL, NULL), 0);
    assert_int_equal(uco_spawn(&j, second_joiner, NULL, NULL), 0);
    uco_yield(); /* j is now joining target */
    assert_int_equal(uco_join(target, NULL, UCO_NEVER), -EBUSY);
    assert_int_equal(uco_detach(target), -EBUSY);
    assert_int_equal(uco_join(j, NULL, UCO_NEVER), 0);
    assert_int_equal(second_join_rc, 0);
    /* a joined handle is stale */
    assert_int_equal(uco_join(target, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_detach(target), -EINVAL);
    /* bad deadlines */
    assert_int_equal(uco_spawn(&t, naps, NULL, NULL), 0);
    assert_int_equal(uco_join(t, NULL, -5), -EINVAL);
    assert_int_equal(uco_join(t, NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_join_rules(void **state)
{
    (void)state;
    assert_int_equal(run_main(rules_main, NULL), 0);
}

/* ---- detach */

static int detached_ran;

static void *count_run(void *arg)
{
    (void)arg;
    uco_yield();
    detached_ran++;
    return NULL;
}

static void *detach_main(void *arg)
{
    uco_attr a = { .flags = UCO_DETACHED };
    uco_task *t, *u;
    (void)arg;
    detached_ran = 0;
    /* detached at spawn */
    assert_int_equal(uco_spawn(&t, count_run, NULL, &a), 0);
    assert_int_equal(uco_join(t, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_detach(t), -EINVAL);
    assert_int_equal(uco_spawn(NULL, count_run, NULL, &a), 0);
    /* detached later, while running */
    assert_int_equal(uco_spawn(&u, count_run, NULL, NULL), 0);
    assert_int_equal(uco_detach(u), 0);
    assert_int_equal(uco_join(u, NULL, UCO_NEVER), -EINVAL);
    uco_sleep(UCO_MSEC(5));
    assert_int_equal(detached_ran, 3);
    /* released once finished: its handle is refused */
    assert_int_equal(uco_join(t, NULL, UCO_NEVER), -EINVAL);
    /* detaching a finished, unjoined task releases it */
    assert_int_equal(uco_spawn(&u, double_it, NULL, NULL), 0);
    uco_sleep(UCO_MSEC(1));
    assert_int_equal(uco_detach(u), 0);
    assert_int_equal(uco_join(u, NULL, UCO_NEVER), -EINVAL);
    return NULL;
}

static void test_detach(void **state)
{
    (void)state;
    assert_int_equal(run_main(detach_main, NULL), 0);
}

/* ---- names and ids */

static void *names_main(void *arg)
{
    static const char longname[] =
        "a-task-name-much-longer-than-the-inline-buffer-of-the-block";
    char buf[80];
    uco_attr a = { 0 };
    uco_task *t1, *t2, *t3;
    (void)arg;
    assert_int_equal(uco_task_id(uco_self()), 1);
    assert_string_equal(uco_task_name(uco_self()), "task-1");
    strcpy(buf, "worker");
    a.name = buf;
    assert_int_equal(uco_spawn(&t1, double_it, NULL, &a), 0);
    strcpy(buf, "changed"); /* the name was copied */
    assert_string_equal(uco_task_name(t1), "worker");
    a.name = longname;
    assert_int_equal(uco_spawn(&t2, double_it, NULL, &a), 0);
    assert_string_equal(uco_task_name(t2), longname);
    assert_int_equal(uco_spawn(&t3, double_it, NULL, NULL), 0);
    assert_true(uco_task_id(t1) < uco_task_id(t2));
    assert_true(uco_task_id(t2) < uco_task_id(t3));
    snprintf(buf, sizeof buf, "task-%llu", (unsigned long long)uco_task_id(t3));
    assert_string_equal(uco_task_name(t3), buf);
    uco_join(t1, NULL, UCO_NEVER);
    uco_join(t2, NULL, UCO_NEVER);
    uco_join(t3, NULL, UCO_NEVER);
    return NULL;
}

static void test_names_ids(void **state)
{
    (void)state;
    assert_int_equal(run_main(names_main, NULL), 0);
    assert_int_equal(uco_task_id(NULL), 0);
    assert_null(uco_task_name(NULL));
}

/* ---- stacks */

/* A task can use nearly all of the stack it asked for. */
static void *use_stack(void *arg)
{
    size_t n = *(size_t *)arg;
    volatile char *big = __builtin_alloca(n);
    size_t i;
    for (i = 0; i < n; i += 512)
        big[i] = (char)i;
    return (void *)(uintptr_t)big[n - 512];
}

static void *stack_main(void *arg)
{
    uco_attr a = { .stack_size = 1024 * 1024 };
    size_t n = 1000 * 1024;
    uco_task *t;
    (void)arg;
    assert_int_equal(uco_spawn(&t, use_stack, &n, &a), 0);
    assert_int_equal(uco_join(t, NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_stack_size_honoured(void **state)
{
    (void)state;
    assert_int_equal(run_main(stack_main, NULL), 0);
}

/* Without a sandbox, running into the guard kills the process by SIGSEGV. */
static volatile int depth_limit = -1; /* never reached: overflow first */

static int recurse(int n)
{
    volatile char pad[256];
    pad[0] = (char)n;
    if (n == depth_limit)
        return 0;
    return recurse(n + 1) + pad[0];
}

static void *overflows(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)recurse(0);
}

static void *overflow_main(void *arg)
{
    uco_attr a = { .stack_size = 32 * 1024, .name = "deep" };
    uco_task *t;
    (void)arg;
    uco_spawn(&t, overflows, NULL, &a);
    uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_overflow_kills(void **state)
{
    int status;
    pid_t pid;
    (void)state;
    SKIP_UNLESS_FATAL_SIGNALS();
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL);
        uco_run(overflow_main, NULL, NULL);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* ---- the kernel refuses a stack: spawn fails cleanly, the rest goes on */

static void *sleepy(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(1));
    return (void *)1;
}

struct refusal {
    long spawned;
    int rc;
    long joined;
};

/* Running under Valgrind (its preload shows in our mappings), built with
 * AddressSanitizer or ThreadSanitizer, or under an emulator (the cross
 * matrix says so): the first three need more address space than the cap
 * (ThreadSanitizer's shadow is terabytes), and an emulator takes
 * minutes to map 200,000 stacks. */
static bool under_valgrind(void)
{
    if (getenv("UCO_TEST_EMULATED"))
        return true;
    if (UCO_TEST_ASAN || UCO_TEST_TSAN)
        return true;
    char line[512];
    bool found = false;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, "vgpreload") != NULL;
    if (f)
        fclose(f);
    return found;
}

static bool guard_mprotect(void)
{
    const char *e = getenv("UCO_GUARD");
    return e && strcmp(e, "mprotect") == 0;
}

static void *refusal_main(void *arg)
{
    struct refusal *f = arg;
    uco_task **t = calloc(200000, sizeof *t);
    /* small stacks with mprotect guards reach vm.max_map_count first */
    uco_attr a = { .stack_size = guard_mprotect() ? 16 * 1024 : 0 };
    long i;
    if (!t)
        return NULL;
    long max = under_valgrind() ? 3000 : 200000;
    for (i = 0; i < max; i++) {
        f->rc = uco_spawn(&t[i], sleepy, NULL, &a);
        if (f->rc < 0)
            break;
        f->spawned++;
    }
    for (i = 0; i < f->spawned; i++) {
        void *r = NULL;
        if (uco_join(t[i], &r, UCO_NEVER) == 0 && r == (void *)1)
            f->joined++;
    }
    /* and spawning works again */
    if (uco_spawn(&t[0], sleepy, NULL, NULL) == 0 &&
        uco_join(t[0], NULL, UCO_NEVER) == 0)
        f->joined++;
    free(t);
    return NULL;
}

/* In a child whose address space is capped, spawn runs out: -ENOMEM, or
 * with mprotect guards and small stacks -EAGAIN at vm.max_map_count (run
 * by test/task-mprotect.sh).  Every spawned task still runs and is joined,
 * and spawning works again afterwards. */
static void test_spawn_refused(void **state)
{
    int fds[2], status;
    pid_t pid;
    struct refusal f;
    (void)state;
    memset(&f, 0, sizeof f); /* padding too: it goes through a pipe */
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit as = { 2UL << 30, 2UL << 30 }; /* 2 GiB */
        if (!under_valgrind()) /* it needs more room than that itself */
            setrlimit(RLIMIT_AS, &as);
        uco_run(refusal_main, &f, NULL);
        if (write(fds[1], &f, sizeof f) != sizeof f)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &f, sizeof f), sizeof f);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(f.spawned > 1000);
    if (under_valgrind()) {
        /* Valgrind needs more address space than the cap: it runs
         * uncapped, 3,000 tasks, and only the bookkeeping is checked. */
        assert_int_equal(f.rc, 0);
    } else {
        assert_true(refusal_matches(f.rc, guard_mprotect() ? -EAGAIN : -ENOMEM));
    }
    assert_int_equal(f.joined, f.spawned + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_join),
        cmocka_unit_test(test_exit),
        cmocka_unit_test(test_join_timeout),
        cmocka_unit_test(test_join_rules),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_names_ids),
        cmocka_unit_test(test_stack_size_honoured),
        cmocka_unit_test(test_overflow_kills),
        cmocka_unit_test(test_spawn_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
