/*
 * test_introspect - uco_task_state, uco_dump and the watchdog.
 */
#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *states_main(void *arg)
{
    uco_task *t;
    int *seen = arg;
    seen[0] = uco_task_state(uco_self());
    uco_spawn(&t, sleeper, NULL, NULL);
    seen[1] = uco_task_state(t);      /* ready: not run yet */
    uco_yield();
    seen[2] = uco_task_state(t);      /* waiting: asleep */
    uco_cancel(t);
    seen[3] = uco_task_state(t);      /* ready again: woken */
    uco_yield();
    seen[4] = uco_task_state(t);      /* done, not joined */
    uco_join(t, NULL, UCO_NEVER);
    seen[5] = uco_task_state(t);      /* released */
    seen[6] = uco_task_state(NULL);
    return NULL;
}

static void test_task_state(void **state)
{
    int seen[7];
    (void)state;
    assert_int_equal(run_main(states_main, seen), 0);
    assert_int_equal(seen[0], UCO_TASK_RUNNING);
    assert_int_equal(seen[1], UCO_TASK_READY);
    assert_int_equal(seen[2], UCO_TASK_WAITING);
    assert_int_equal(seen[3], UCO_TASK_READY);
    assert_int_equal(seen[4], UCO_TASK_DONE);
    assert_int_equal(seen[5], -EINVAL);
    assert_int_equal(seen[6], -EINVAL);
    assert_int_equal(uco_task_state(NULL), -EINVAL);
}

static void *reader(void *arg)
{
    int *fd = arg;
    char c;
    uco_read(fd[0], &c, 1, UCO_NEVER);
    return NULL;
}

struct dumped {
    char text[8192];
    int count;
};

static void *dump_main(void *arg)
{
    struct dumped *d = arg;
    uco_attr a = { .name = "napper", .flags = UCO_SANDBOX };
    uco_task *t1, *t2, *t3;
    int fd[2];
    FILE *f;

    assert_int_equal(pipe(fd), 0);
    fcntl(fd[0], F_SETFL, O_NONBLOCK);
    uco_spawn(&t1, sleeper, NULL, &a);
    uco_spawn(&t2, reader, fd, NULL);
    uco_spawn(&t3, sleeper, NULL, NULL);
    uco_yield();
    uco_cancel(t3); /* ready, cancelled */
    f = fmemopen(d->text, sizeof d->text - 1, "w");
    d->count = uco_dump(f);
    fclose(f);
    uco_cancel(t1);
    uco_cancel(t2);
    uco_join(t1, NULL, UCO_NEVER);
    uco_join(t2, NULL, UCO_NEVER);
    uco_join(t3, NULL, UCO_NEVER);
    close(fd[0]);
    close(fd[1]);
    return NULL;
}

static void test_dump(void **state)
{
    static struct dumped d;
    (void)state;
    memset(&d, 0, sizeof d);
    assert_int_equal(run_main(dump_main, &d), 0);
    printf("%s", d.text);
    assert_int_equal(d.count, 4);
    assert_non_null(strstr(d.text, "napper"));
    assert_non_null(strstr(d.text, "sleep"));
    assert_non_null(strstr(d.text, "fd read"));
    assert_non_null(strstr(d.text, "sandbox"));
    assert_non_null(strstr(d.text, "cancelled"));
    assert_non_null(strstr(d.text, "running"));
    assert_non_null(strstr(d.text, "4 task(s), 1 sleeping, 1 waiting on fds"));
    assert_int_equal(uco_dump(stdout), -EPERM);
}

static void *dump_null_main(void *arg)
{
    *(int *)arg = uco_dump(NULL);
    return NULL;
}

static void test_dump_bad(void **state)
{
    int rc = 0;
    (void)state;
    assert_int_equal(run_main(dump_null_main, &rc), 0);
    assert_int_equal(rc, -EINVAL);
}

/* The watchdog reports a task that hogs the CPU, on stderr, naming it. */
static void *hog(void *arg)
{
    int64_t until = uco_now() + UCO_MSEC(30);
    (void)arg;
    while (uco_now() < until)
        ;
    uco_yield();
    return NULL;
}

static void *polite(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 5; i++)
        uco_yield();
    return NULL;
}

static void *watchdog_main(void *arg)
{
    uco_attr a = { .name = "hog" };
    uco_task *t, *p;
    int *rc = arg;
    rc[0] = uco_watchdog(-1);
    rc[1] = uco_watchdog(UCO_MSEC(10));
    uco_spawn(&t, hog, NULL, &a);
    uco_spawn(&p, polite, NULL, NULL);
    uco_join(t, NULL, UCO_NEVER);
    uco_join(p, NULL, UCO_NEVER);
    rc[2] = uco_watchdog(0);
    return NULL;
}

static void test_watchdog(void **state)
{
    int rc[3] = { 1, 1, 1 }, fds[2], saved;
    char buf[1024] = { 0 };
    ssize_t n;
    (void)state;
    assert_int_equal(uco_watchdog(UCO_MSEC(1)), -EPERM);
    assert_int_equal(pipe(fds), 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fds[1], 2);
    assert_int_equal(run_main(watchdog_main, rc), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    printf("%s", buf);
    assert_int_equal(rc[0], -EINVAL);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], 0);
    assert_non_null(strstr(buf, "watchdog: task \"hog\""));
    assert_non_null(strstr(buf, "without yielding"));
    /* only the hog: the polite task and main never ran 10 ms at a stretch */
    assert_null(strstr(buf, "task-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_state),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_dump_bad),
        cmocka_unit_test(test_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
