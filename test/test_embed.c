/*
 * test_embed - a scheduler driven by another loop: uco_sched_create,
 * uco_sched_fd, uco_sched_step, uco_sched_destroy, from a plain poll()
 * loop and from libuv (where configure found it).
 *
 * The host loops count their turns: a loop that watches the fd and
 * honours the deadline must neither spin (few turns for what the tasks
 * do) nor miss a wake-up (the work finishes on time).
 */
#include "fixture.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#ifdef UCO_TEST_LIBUV
#include <uv.h>
#endif

static struct {
    int slept, read_rc, posted, yields[3];
    int fds[2];
    int step_inside, submit_own, run_inside;
    uco_sched *self;
} em;

static void *em_sleeper(void *arg)
{
    (void)arg;
    if (uco_sleep(UCO_MSEC(30)) == 0)
        em.slept = 1;
    return NULL;
}

static void *em_reader(void *arg)
{
    char c;
    (void)arg;
    em.read_rc = (int)uco_read(em.fds[0], &c, 1, uco_now() + UCO_SEC(5));
    return NULL;
}

static void *em_posted(void *arg)
{
    (void)arg;
    em.posted++;
    return NULL;
}

static void *writer_thread(void *arg)
{
    (void)arg;
    usleep(40000);
    if (write(em.fds[1], "x", 1) != 1)
        bad++;
    usleep(20000);
    if (uco_post(em.self, em_posted, NULL) != 0)
        bad++;
    return NULL;
}

static void *em_main(void *arg)
{
    uco_task *a, *b;
    int64_t d;

    (void)arg;
    em.step_inside = uco_sched_step(em.self, &d);
    em.run_inside = uco_run(em_posted, NULL, NULL);
    OK(uco_spawn(&a, em_sleeper, NULL, NULL));
    OK(uco_spawn(&b, em_reader, NULL, NULL));
    uco_join(a, NULL, UCO_NEVER);
    uco_join(b, NULL, UCO_NEVER);
    while (!em.posted)
        if (uco_sleep(UCO_MSEC(100)) < 0)
            break;
    return (void *)42;
}

/* Step s from a poll() loop until main has finished: the loop's turns. */
static int poll_loop(uco_sched *s)
{
    int turns = 0, rc;
    int64_t d;

    while ((rc = uco_sched_step(s, &d)) == 1) {
        struct pollfd p = { uco_sched_fd(s), POLLIN, 0 };
        int64_t left = d == UCO_NEVER ? -1 : d - uco_now();
        int ms = left < 0 && d != UCO_NEVER ? 0
                 : d == UCO_NEVER            ? -1
                                             : (int)((left + 999999) / 1000000);
        turns++;
        if (poll(&p, 1, ms) < 0)
            bad++;
    }
    if (rc != 0)
        bad++;
    return turns;
}

static void test_poll_loop(void **state)
{
    pthread_t w;
    void *r = NULL;
    int turns, rc;
    uco_sched *other;

    (void)state;
    memset(&em, 0, sizeof em);
    assert_int_equal(pipe(em.fds), 0);
    assert_int_equal(uco_sched_create(&em.self, em_main, NULL), 0);
    assert_int_equal(uco_sched_create(&other, em_main, NULL), -EBUSY);
    assert_int_equal(uco_run(em_main, NULL, NULL), -EBUSY);
    assert_true(uco_sched_fd(em.self) >= 0);
    /* from the host's own code, a submit to its own scheduler would block
     * the thread that must run it */
    assert_int_equal(uco_submit(em.self, em_posted, NULL, NULL, UCO_NEVER), -EDEADLK);
    assert_int_equal(pthread_create(&w, NULL, writer_thread, NULL), 0);
    turns = poll_loop(em.self);
    pthread_join(w, NULL);
    rc = uco_sched_destroy(em.self, &r);
    printf("host loop turns: %d\n", turns);
    assert_int_equal(rc, 0);
    assert_ptr_equal(r, (void *)42);
    assert_int_equal(bad, 0);
    assert_int_equal(em.slept, 1);
    assert_int_equal(em.read_rc, 1);
    assert_int_equal(em.posted, 1);
    assert_int_equal(em.step_inside, -EBUSY);
    assert_int_equal(em.run_inside, -EBUSY);
    /* a few turns per event, not a spin: the sleeper, the byte, the post */
    assert_true(turns < 40);
    close(em.fds[0]);
    close(em.fds[1]);
}

/* ---- a step runs each task ready at its start once */

static void *yielder(void *arg)
{
    intptr_t i = (intptr_t)arg;
    for (;;) {
        em.yields[i]++;
        if (uco_yield() < 0)
            return NULL;
    }
}

static void *round_main(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 3; i++)
        OK(uco_spawn(NULL, yielder, (void *)(intptr_t)i,
                     &(uco_attr){ 0, 0, NULL, UCO_DETACHED }));
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *step_from_thread(void *arg)
{
    int64_t d;
    return (void *)(intptr_t)uco_sched_step(arg, &d);
}

static void test_step_rounds(void **state)
{
    uco_sched *s;
    int64_t d;
    pthread_t t;
    void *rc;
    int i;

    (void)state;
    memset(&em, 0, sizeof em);
    assert_int_equal(uco_sched_create(&s, round_main, NULL), 0);
    assert_int_equal(uco_sched_step(s, &d), 1); /* main: spawns, sleeps */
    assert_true(d <= uco_now());                /* three are ready */
    for (i = 1; i <= 5; i++) {
        assert_int_equal(uco_sched_step(s, &d), 1);
        assert_int_equal(em.yields[0], i);
        assert_int_equal(em.yields[1], i);
        assert_int_equal(em.yields[2], i);
    }
    assert_int_equal(pthread_create(&t, NULL, step_from_thread, s), 0);
    pthread_join(t, &rc);
    assert_int_equal((int)(intptr_t)rc, -EPERM);
    assert_int_equal(uco_sched_step(s, NULL), -EINVAL);
    assert_int_equal(uco_sched_step(NULL, &d), -EINVAL);
    /* main still sleeps: destroy cancels it and the yielders */
    assert_int_equal(uco_sched_destroy(s, NULL), -ECANCELED);
    assert_int_equal(bad, 0);
    assert_int_equal(uco_sched_create(NULL, round_main, NULL), -EINVAL);
    assert_int_equal(uco_sched_create(&s, NULL, NULL), -EINVAL);
}

#ifdef UCO_TEST_LIBUV
/* ---- driven from libuv: a poll handle on the fd, a timer for the
 * deadline, and a libuv timer of the host's own that keeps working */

static struct {
    uco_sched *s;
    uv_poll_t poll;
    uv_timer_t timer, host_timer;
    int host_ticks, steps, done;
} lu;

static void lu_step(void);

static void lu_on_timer(uv_timer_t *t)
{
    (void)t;
    lu_step();
}

static void lu_on_poll(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    lu_step();
}

static void lu_on_host_timer(uv_timer_t *t)
{
    (void)t;
    lu.host_ticks++;
}

static void lu_step(void)
{
    int64_t d, left;

    lu.steps++;
    if (uco_sched_step(lu.s, &d) != 1) {
        lu.done = 1;
        uv_poll_stop(&lu.poll);
        uv_timer_stop(&lu.timer);
        uv_timer_stop(&lu.host_timer);
        return;
    }
    if (d == UCO_NEVER) {
        uv_timer_stop(&lu.timer);
        return;
    }
    left = d - uco_now();
    uv_timer_start(&lu.timer, lu_on_timer,
                   left <= 0 ? 0 : (uint64_t)((left + 999999) / 1000000), 0);
}

static void test_libuv_loop(void **state)
{
    uv_loop_t loop;
    pthread_t w;
    void *r = NULL;

    (void)state;
    memset(&em, 0, sizeof em);
    memset(&lu, 0, sizeof lu);
    assert_int_equal(pipe(em.fds), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uco_sched_create(&lu.s, em_main, NULL), 0);
    em.self = lu.s;
    uv_poll_init(&loop, &lu.poll, uco_sched_fd(lu.s));
    uv_poll_start(&lu.poll, UV_READABLE, lu_on_poll);
    uv_timer_init(&loop, &lu.timer);
    uv_timer_init(&loop, &lu.host_timer);
    uv_timer_start(&lu.host_timer, lu_on_host_timer, 5, 5);
    assert_int_equal(pthread_create(&w, NULL, writer_thread, NULL), 0);
    lu_step();
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(w, NULL);
    uv_close((uv_handle_t *)&lu.poll, NULL);
    uv_close((uv_handle_t *)&lu.timer, NULL);
    uv_close((uv_handle_t *)&lu.host_timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(uco_sched_destroy(lu.s, &r), 0);
    printf("libuv: %d steps, %d host timer ticks\n", lu.steps, lu.host_ticks);
    assert_ptr_equal(r, (void *)42);
    assert_int_equal(lu.done, 1);
    assert_int_equal(em.slept, 1);
    assert_int_equal(em.read_rc, 1);
    assert_int_equal(em.posted, 1);
    assert_true(lu.host_ticks >= 5);  /* the host's own timer kept working */
    assert_true(lu.steps < 40);       /* no spin */
    assert_int_equal(bad, 0);
    close(em.fds[0]);
    close(em.fds[1]);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_poll_loop, reset),
        cmocka_unit_test_setup(test_step_rounds, reset),
#ifdef UCO_TEST_LIBUV
        cmocka_unit_test_setup(test_libuv_loop, reset),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
