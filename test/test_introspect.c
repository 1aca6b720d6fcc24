/*
 * test_introspect - uco_task_state, uco_dump and the watchdog.
 */
#include "testutil.h"

#include <alloca.h>

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

/* The "used K" column: the pages a task touched, on a stack large
 * enough that they are looked at in several rounds (65,536 pages each)
 * and of a page count that is not a multiple of 8. */
#define BIG_STACK ((size_t)384 * 1024 * 1024 + 3 * 4096)
#define TOUCHED (200 * 1024)

static void *toucher(void *arg)
{
    volatile char *p = alloca(TOUCHED);
    size_t i;

    for (i = 0; i < TOUCHED; i += 512)
        p[i] = 1;
    uco_sleep_until(UCO_NEVER); /* until cancelled */
    return arg;
}

static long used_k(const char *text, const char *name, size_t stack_k)
{
    const char *row = strstr(text, name), *p;
    char want[32];

    if (!row)
        return -1;
    snprintf(want, sizeof want, " %zu ", stack_k);
    p = strstr(row, want);
    if (!p || memchr(row, '\n', (size_t)(p - row)))
        return -1; /* not on this row */
    return strtol(p + strlen(want), NULL, 10);
}

static void *dump_used_main(void *arg)
{
    struct dumped *d = arg;
    uco_attr big = { .name = "toucher", .stack_size = BIG_STACK };
    uco_attr idle = { .name = "idler", .stack_size = BIG_STACK };
    uco_task *t1, *t2;
    FILE *f;

    if (uco_spawn(&t1, toucher, NULL, &big) != 0)
        return NULL;
    uco_yield();
    /* ready, not run yet: only the top of its stack is touched */
    if (uco_spawn(&t2, toucher, NULL, &idle) != 0)
        return NULL;
    f = fmemopen(d->text, sizeof d->text - 1, "w");
    d->count = uco_dump(f);
    fclose(f);
    uco_cancel(t2); /* never enters toucher */
    uco_cancel(t1);
    uco_join(t1, NULL, UCO_NEVER);
    uco_join(t2, NULL, UCO_NEVER);
    return NULL;
}

static void test_dump_used(void **state)
{
    static struct dumped d;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t stack_k = (BIG_STACK + page - 1) / page * page / 1024;
    long used, idle;

    (void)state;
    memset(&d, 0, sizeof d);
    assert_int_equal(run_main(dump_used_main, &d), 0);
    printf("%s", d.text);
    assert_int_equal(d.count, 3);
    used = used_k(d.text, "toucher", stack_k);
    idle = used_k(d.text, "idler", stack_k);
#ifndef HAVE_MINCORE
    /* the system cannot tell resident pages: 0 (doc/porting.md) */
    assert_true(used == 0 && idle == 0);
    return;
#endif
    assert_true(used >= TOUCHED / 1024);
    assert_true(used <= TOUCHED / 1024 + 64);
    assert_true(idle >= 0);
    assert_true(idle <= 16);
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
        cmocka_unit_test(test_dump_used),
        cmocka_unit_test(test_watchdog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
