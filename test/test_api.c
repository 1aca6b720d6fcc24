/*
 * test_api - bad input and calls from the wrong place: every function
 * answers with the code the contract gives, and nothing crashes.
 */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void dummy(void *arg)
{
    (void)arg;
}

static void *noop(void *arg)
{
    return arg;
}

/* Outside any scheduler. */
static void test_outside_a_task(void **state)
{
    uco_task *t = NULL;
    uco_group *g = NULL;
    (void)state;
    assert_int_equal(uco_spawn(&t, noop, NULL, NULL), -EPERM);
    assert_null(t);
    assert_int_equal(uco_yield(), -EPERM);
    assert_int_equal(uco_sleep(0), -EPERM);
    assert_int_equal(uco_sleep(UCO_MSEC(1)), -EPERM);
    assert_int_equal(uco_sleep_until(uco_now()), -EPERM);
    assert_int_equal(uco_join(NULL, NULL, UCO_NEVER), -EPERM);
    assert_int_equal(uco_detach(NULL), -EPERM);
    assert_int_equal(uco_cancel(NULL), -EPERM);
    assert_int_equal(uco_shield(true), -EPERM);
    assert_int_equal(uco_defer(dummy, NULL), -EPERM);
    assert_int_equal(uco_undefer(true), -EPERM);
    assert_false(uco_cancelled());
    assert_null(uco_self());
    assert_int_equal(uco_task_id(NULL), 0);
    assert_null(uco_task_name(NULL));
    assert_int_equal(uco_group_create(&g, 0), -EPERM);
    assert_int_equal(uco_group_spawn(NULL, NULL, noop, NULL, NULL), -EPERM);
    assert_int_equal(uco_group_wait(NULL, UCO_NEVER), -EPERM);
    assert_int_equal(uco_group_cancel(NULL), -EPERM);
    assert_int_equal(uco_group_destroy(NULL), -EPERM);
    assert_int_equal(uco_group_status(NULL, NULL), -EINVAL);
}

static void test_run_bad(void **state)
{
    (void)state;
    assert_int_equal(uco_run(NULL, NULL, NULL), -EINVAL);
}

static void *bad_spawn_main(void *arg)
{
    uco_attr a = { 0 };
    uco_task *t = (uco_task *)&a;
    (void)arg;
    assert_int_equal(uco_spawn(&t, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(uco_spawn(NULL, noop, NULL, NULL), -EINVAL);
    a.flags = 1u << 7;
    assert_int_equal(uco_spawn(&t, noop, NULL, &a), -EINVAL);
    a.flags = 0;
    a.stack_size = SIZE_MAX;
    assert_int_equal(uco_spawn(&t, noop, NULL, &a), -EINVAL);
    a.stack_size = 0;
    a.guard_size = SIZE_MAX;
    assert_int_equal(uco_spawn(&t, noop, NULL, &a), -EINVAL);
    /* nothing was created: only main is alive, ids go on from 2 */
    assert_int_equal(uco_spawn(&t, noop, NULL, NULL), 0);
    assert_int_equal(uco_task_id(t), 2);
    assert_int_equal(uco_join(t, NULL, UCO_NEVER), 0);
    return NULL;
}

static void test_spawn_bad(void **state)
{
    (void)state;
    assert_int_equal(run_main(bad_spawn_main, NULL), 0);
}

static void *bad_calls_main(void *arg)
{
    /* not a task: garbage where a block would be, at an address aligned
     * as one (refused for its contents) and at one that is not (refused
     * for the address alone) */
    static _Alignas(64) long junk[1024];
    uco_task *fake = (uco_task *)junk;
    uco_task *skewed = (uco_task *)(junk + 1);
    uco_group *g = NULL;
    (void)arg;
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(uco_join(skewed, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_detach(skewed), -EINVAL);
    assert_int_equal(uco_cancel(skewed), -EINVAL);
    assert_int_equal(uco_task_state(skewed), -EINVAL);
    assert_int_equal(uco_task_state(fake), -EINVAL);
    assert_int_equal(uco_sleep(-1), -EINVAL);
    assert_int_equal(uco_sleep_until(-7), -EINVAL);
    assert_int_equal(uco_join(NULL, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_join(fake, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_detach(NULL), -EINVAL);
    assert_int_equal(uco_detach(fake), -EINVAL);
    assert_int_equal(uco_cancel(NULL), -EINVAL);
    assert_int_equal(uco_cancel(fake), -EINVAL);
    assert_int_equal(uco_defer(NULL, NULL), -EINVAL);
    assert_int_equal(uco_undefer(false), -ENOENT);
    assert_int_equal(uco_group_create(NULL, 0), -EINVAL);
    assert_int_equal(uco_group_create(&g, 1u << 9), -EINVAL);
    assert_int_equal(uco_group_spawn(NULL, NULL, noop, NULL, NULL), -EINVAL);
    assert_int_equal(uco_group_wait(NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_group_cancel(NULL), -EINVAL);
    assert_int_equal(uco_group_destroy(NULL), -EINVAL);
    assert_int_equal(uco_group_create(&g, 0), 0);
    assert_int_equal(uco_group_spawn(g, NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(uco_group_wait(g, -3), -EINVAL);
    assert_int_equal(uco_group_destroy(g), 0);
    return NULL;
}

static void test_calls_bad(void **state)
{
    (void)state;
    assert_int_equal(run_main(bad_calls_main, NULL), 0);
}

/* A handle of another thread's scheduler is refused. */
static uco_task *foreign;

static void *park(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(200));
    return NULL;
}

static int foreign_used;

static void *foreign_main(void *arg)
{
    uco_task *t;
    (void)arg;
    uco_spawn(&t, park, NULL, NULL);
    __atomic_store_n(&foreign, t, __ATOMIC_SEQ_CST);
    /* stay alive until the other thread has tried the handle */
    while (!__atomic_load_n(&foreign_used, __ATOMIC_SEQ_CST))
        uco_sleep(UCO_MSEC(1));
    return NULL; /* uco_run cancels and ends the parked task */
}

#include <pthread.h>
static void *other_thread(void *arg)
{
    int *rc = arg;
    rc[0] = uco_run(foreign_main, NULL, NULL);
    return NULL;
}

static void *use_foreign_main(void *arg)
{
    int *rc = arg;
    rc[1] = uco_cancel(foreign);
    rc[2] = uco_join(foreign, NULL, 0);
    __atomic_store_n(&foreign_used, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_other_schedulers_handle(void **state)
{
    int rc[3] = { 1, 1, 1 };
    pthread_t th;
    (void)state;
    /* keep the other scheduler alive while this one uses its handle */
    foreign = NULL;
    foreign_used = 0;
    assert_int_equal(pthread_create(&th, NULL, other_thread, rc), 0);
    while (!__atomic_load_n(&foreign, __ATOMIC_SEQ_CST))
        usleep(100);
    assert_int_equal(run_main(use_foreign_main, rc), 0);
    pthread_join(th, NULL);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], -EINVAL);
    assert_int_equal(rc[2], -EINVAL);
}

static void test_strerror(void **state)
{
    static const int codes[] = { -EINVAL, -ENOMEM, -EAGAIN, -ECANCELED,
                                 -ETIMEDOUT, -EPERM, -EDEADLK, -EBUSY,
                                 -EPIPE, -ENOENT };
    size_t i;
    (void)state;
    assert_string_equal(uco_strerror(UCO_ESTACK), "stack overflow");
    assert_true(UCO_ESTACK < -4000);
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(uco_strerror(codes[i]));
        assert_string_not_equal(uco_strerror(codes[i]), "unknown error");
    }
    assert_non_null(strstr(uco_strerror(-EAGAIN), "vm.max_map_count"));
    assert_string_equal(uco_strerror(-99999), "unknown error");
    assert_string_equal(uco_strerror(12345), "unknown error");
}

static void test_version_and_time(void **state)
{
    char want[32];
    int64_t a, b;
    (void)state;
    snprintf(want, sizeof want, "%d.%d.%d", UCO_VERSION_MAJOR,
             UCO_VERSION_MINOR, UCO_VERSION_PATCH);
    assert_string_equal(uco_version(), want);
    assert_int_equal(UCO_USEC(3), 3000);
    assert_int_equal(UCO_MSEC(3), 3000000);
    assert_int_equal(UCO_SEC(3), 3000000000LL);
    assert_int_equal(UCO_NEVER, -1);
    a = uco_now();
    b = uco_now();
    assert_true(a > 0 && b >= a);
}

/* uco_backend names the switch this build chose (config.h says which)
 * and the poller a scheduler takes now (epoll unless UCO_IO=poll or a
 * build without it). */
static void test_backend(void **state)
{
    const char *io = getenv("UCO_IO"), *want_io = "poll";
    char want[32];

    (void)state;
#ifdef UCO_HAVE_EPOLL
    if (!io || strcmp(io, "poll") != 0)
        want_io = "epoll";
#endif
    (void)io;
    snprintf(want, sizeof want, "%s/%s",
#ifdef UCO_FAST_SWITCH
             "fast",
#else
             "ucontext",
#endif
             want_io);
    printf("uco_backend: %s\n", uco_backend());
    assert_string_equal(uco_backend(), want);
    assert_ptr_equal(uco_backend(), uco_backend()); /* static */
}

/* uco_exit outside a task cannot return an error: it says so and aborts. */
static void test_exit_outside_aborts(void **state)
{
    int fds[2], status;
    char buf[256] = { 0 };
    pid_t pid;
    (void)state;
    SKIP_UNLESS_FATAL_SIGNALS();
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        signal(SIGABRT, SIG_DFL);
        uco_exit(NULL);
    }
    close(fds[1]);
    assert_true(read(fds[0], buf, sizeof buf - 1) > 0);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(buf, "uco_exit"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_a_task),
        cmocka_unit_test(test_run_bad),
        cmocka_unit_test(test_spawn_bad),
        cmocka_unit_test(test_calls_bad),
        cmocka_unit_test(test_other_schedulers_handle),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_version_and_time),
        cmocka_unit_test(test_backend),
        cmocka_unit_test(test_exit_outside_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
