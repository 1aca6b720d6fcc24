/*
 * test_post - reaching schedulers from other threads: handles, uco_post,
 * uco_submit, and the worker pool (uco_offload, uco_getaddrinfo).
 *
 * Tasks record what they saw; the assertions run after uco_run (and the
 * threads) have returned.  `bad` counts set-up steps that failed.  The
 * pool's cap is 2 threads here (UCO_THREADS, set before the first
 * offload), so that queued jobs can be seen.
 */
#include "fixture.h"

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- handles */

static int hrc[4];
static uco_sched *kept;

static void *handle_main(void *arg)
{
    uco_sched *b;

    (void)arg;
    hrc[0] = uco_sched_get(NULL);
    hrc[1] = uco_sched_get(&kept); /* kept past the run */
    hrc[2] = uco_sched_get(&b);
    hrc[3] = kept == b;
    uco_sched_put(b);
    return NULL;
}

static void test_handles(void **state)
{
    uco_sched *s = NULL;

    (void)state;
    assert_int_equal(uco_sched_get(&s), -EPERM);
    assert_int_equal(run_main(handle_main, NULL), 0);
    assert_int_equal(hrc[0], -EINVAL);
    assert_int_equal(hrc[1], 0);
    assert_int_equal(hrc[2], 0);
    assert_int_equal(hrc[3], 1);
    s = kept;
    /* the run has ended: the handle is still valid, and refuses */
    assert_int_equal(uco_post(s, handle_main, NULL), -ESRCH);
    assert_int_equal(uco_submit(s, handle_main, NULL, NULL, UCO_NEVER), -ESRCH);
    uco_sched_put(s);
    uco_sched_put(NULL);
    assert_int_equal(uco_post(NULL, handle_main, NULL), -EINVAL);
}

/* ---- posts from a plain thread, in order, waking a sleeping scheduler */

#define NPOSTS 2000

static struct {
    uco_sched *s;
    int got[NPOSTS];
    int n;
    int rc;                  /* the producer's first failure */
    uco_event *all;          /* set by the last post */
    int64_t posted_at;
} pp;

static void *record(void *arg)
{
    pp.got[pp.n++] = (int)(intptr_t)arg;
    if (pp.n == NPOSTS)
        uco_event_set(pp.all);
    return NULL;
}

static void *producer(void *arg)
{
    int i, rc;

    (void)arg;
    usleep(20000); /* the scheduler is asleep by now */
    for (i = 0; i < NPOSTS; i++)
        if ((rc = uco_post(pp.s, record, (void *)(intptr_t)i)) != 0 && !pp.rc)
            pp.rc = rc;
    return NULL;
}

static void *posts_main(void *arg)
{
    pthread_t t;

    (void)arg;
    OK(uco_event_create(&pp.all));
    OK(uco_sched_get(&pp.s));
    OK(pthread_create(&t, NULL, producer, NULL));
    /* nothing sleeps and no fd is waited on: only the posts can wake it */
    OK(uco_event_wait(pp.all, UCO_NEVER));
    pthread_join(t, NULL);
    uco_sched_put(pp.s);
    uco_event_destroy(pp.all);
    return NULL;
}

static void test_post_fifo_wakes(void **state)
{
    int i;

    (void)state;
    memset(&pp, 0, sizeof pp);
    assert_int_equal(run_main(posts_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(pp.rc, 0);
    assert_int_equal(pp.n, NPOSTS);
    for (i = 0; i < NPOSTS; i++)
        assert_int_equal(pp.got[i], i);
}

/* ---- accepted posts always run, even when main ends at once */

static int entered, entered_cancelled;

static void *count_entry(void *arg)
{
    (void)arg;
    entered++;
    if (uco_sleep(UCO_SEC(10)) == -ECANCELED)
        entered_cancelled++;
    return NULL;
}

static void *post_then_end(void *arg)
{
    uco_sched *s;
    int i;

    (void)arg;
    OK(uco_sched_get(&s));
    for (i = 0; i < 100; i++)
        OK(uco_post(s, count_entry, NULL));
    uco_sched_put(s);
    return NULL; /* before any of them ran */
}

static void test_post_always_runs(void **state)
{
    (void)state;
    entered = entered_cancelled = 0;
    assert_int_equal(run_main(post_then_end, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(entered, 100);
    assert_int_equal(entered_cancelled, 100);
}

/* ---- two schedulers: submit from a task of one to the other */

static struct {
    uco_sched *b;            /* the second scheduler */
    int rc_ok, rc_timeout, rc_cancel;
    void *res;
    int remote_unwound;      /* the remote task's handler ran ... */
    int unwound_before;      /* ... before the submit returned */
} ss;

static void *square(void *arg)
{
    intptr_t v = (intptr_t)arg;
    return (void *)(v * v);
}

static void note_unwound(void *arg)
{
    (void)arg;
    __atomic_store_n(&ss.remote_unwound, 1, __ATOMIC_RELEASE);
}

static void *sleep_long(void *arg)
{
    (void)arg;
    uco_defer(note_unwound, NULL);
    uco_sleep(UCO_SEC(30));
    return NULL;
}

static void *end_b_main(void *arg)
{
    uco_task *m = arg;
    uco_cancel(m);
    return NULL;
}

static void *canceller(void *arg)
{
    uco_sleep(UCO_MSEC(30));
    uco_cancel(arg);
    return NULL;
}

static void *submitter(void *arg)
{
    (void)arg;
    ss.rc_cancel = uco_submit(ss.b, sleep_long, NULL, NULL, UCO_NEVER);
    ss.unwound_before = __atomic_load_n(&ss.remote_unwound, __ATOMIC_ACQUIRE);
    return NULL;
}

static void *a_main(void *arg)
{
    uco_task *t, *c;

    (void)arg;
    ss.rc_ok = uco_submit(ss.b, square, (void *)7, &ss.res, UCO_NEVER);
    ss.rc_timeout = uco_submit(ss.b, sleep_long, NULL, NULL,
                               uco_now() + UCO_MSEC(30));
    if (!__atomic_load_n(&ss.remote_unwound, __ATOMIC_ACQUIRE))
        bad++; /* returned before the remote task ended */
    __atomic_store_n(&ss.remote_unwound, 0, __ATOMIC_RELEASE);
    OK(uco_spawn(&t, submitter, NULL, NULL));
    OK(uco_spawn(&c, canceller, t, NULL));
    uco_join(t, NULL, UCO_NEVER);
    uco_join(c, NULL, UCO_NEVER);
    return NULL;
}

static void *b_main_of(void *arg);
static void *plain_thread(void *arg);

static void test_submit_between_schedulers(void **state)
{
    pthread_t tb;
    void *bm = NULL;

    (void)state;
    memset(&ss, 0, sizeof ss);
    assert_int_equal(pthread_create(&tb, NULL, plain_thread, NULL), 0);
    while (!__atomic_load_n(&ss.b, __ATOMIC_ACQUIRE))
        usleep(1000);
    assert_int_equal(run_main(a_main, NULL), 0);
    /* end b: cancel its main from one of its own tasks */
    assert_int_equal(uco_submit(ss.b, b_main_of, NULL, &bm, UCO_NEVER), 0);
    assert_int_equal(uco_post(ss.b, end_b_main, bm), 0);
    pthread_join(tb, NULL);
    uco_sched_put(ss.b);
    assert_int_equal(bad, 0);
    assert_int_equal(ss.rc_ok, 0);
    assert_ptr_equal(ss.res, (void *)49);
    assert_int_equal(ss.rc_timeout, -ETIMEDOUT);
    assert_int_equal(ss.rc_cancel, -ECANCELED);
    assert_int_equal(ss.unwound_before, 1);
}

/* The second scheduler's main, registered by itself; returned by a task
 * submitted there, so that a post can cancel it there. */
static uco_task *b_main_task;
static void *b_main_of(void *arg)
{
    (void)arg;
    return b_main_task;
}

/* ---- submit from a plain thread, with a deadline */

static void *plain_main(void *arg)
{
    uco_sched *b;

    (void)arg;
    b_main_task = uco_self();
    OK(uco_sched_get(&b));
    __atomic_store_n(&ss.b, b, __ATOMIC_RELEASE);
    uco_sleep(UCO_SEC(30));
    return NULL;
}

static void *plain_thread(void *arg)
{
    (void)arg;
    if (uco_run(plain_main, NULL, NULL) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_submit_from_plain_thread(void **state)
{
    pthread_t tb;
    void *r = NULL, *bm = NULL;
    int64_t t0;

    (void)state;
    memset(&ss, 0, sizeof ss);
    assert_int_equal(pthread_create(&tb, NULL, plain_thread, NULL), 0);
    while (!__atomic_load_n(&ss.b, __ATOMIC_ACQUIRE))
        usleep(1000);
    assert_int_equal(uco_submit(ss.b, square, (void *)9, &r, UCO_NEVER), 0);
    assert_ptr_equal(r, (void *)81);
    t0 = uco_now();
    assert_int_equal(uco_submit(ss.b, sleep_long, NULL, NULL, t0 + UCO_MSEC(30)),
                     -ETIMEDOUT);
    assert_true(uco_now() - t0 < UCO_SEC(5));
    assert_int_equal(__atomic_load_n(&ss.remote_unwound, __ATOMIC_ACQUIRE), 1);
    assert_int_equal(uco_submit(ss.b, NULL, NULL, NULL, UCO_NEVER), -EINVAL);
    assert_int_equal(uco_submit(ss.b, square, NULL, NULL, -5), -EINVAL);
    assert_int_equal(uco_submit(ss.b, b_main_of, NULL, &bm, UCO_NEVER), 0);
    assert_int_equal(uco_post(ss.b, end_b_main, bm), 0);
    pthread_join(tb, NULL);
    assert_int_equal(uco_submit(ss.b, square, NULL, NULL, UCO_NEVER), -ESRCH);
    uco_sched_put(ss.b);
    assert_int_equal(bad, 0);
}

/* ---- the worker pool */

static struct {
    int ticks;               /* a ticker's turns while a job blocked */
    int rc[8];
    void *res[8];
    int ran[8];              /* jobs whose fn ran */
    int dropped;             /* drop calls */
    void *dropped_result;
    uco_event *release;      /* lets blocked jobs go */
    int release_flag;
} po;

static void *blocking(void *arg)
{
    intptr_t i = (intptr_t)arg;
    __atomic_add_fetch(&po.ran[i], 1, __ATOMIC_RELAXED);
    while (!__atomic_load_n(&po.release_flag, __ATOMIC_ACQUIRE))
        usleep(1000);
    return (void *)(i + 100);
}

static void *quick(void *arg)
{
    intptr_t i = (intptr_t)arg;
    __atomic_add_fetch(&po.ran[i], 1, __ATOMIC_RELAXED);
    usleep(20000);
    return (void *)(i + 100);
}

static void drop(void *arg, void *result)
{
    (void)arg;
    po.dropped_result = result;
    __atomic_add_fetch(&po.dropped, 1, __ATOMIC_RELEASE);
}

static void *ticker(void *arg)
{
    (void)arg;
    while (uco_sleep(UCO_MSEC(1)) == 0)
        po.ticks++;
    return NULL;
}

static void *offload_task(void *arg)
{
    intptr_t i = (intptr_t)arg;
    po.rc[i] = uco_offload(i < 2 ? blocking : quick, (void *)i, NULL, &po.res[i],
                           UCO_NEVER);
    return NULL;
}

static void *pool_main(void *arg)
{
    uco_task *t[4], *tk;
    int i;

    (void)arg;
    OK(uco_spawn(&tk, ticker, NULL, NULL));
    /* 0 and 1 take both workers; 2 waits in the queue and is withdrawn;
     * 3 waits and runs once one is free */
    for (i = 0; i < 4; i++)
        OK(uco_spawn(&t[i], offload_task, (void *)(intptr_t)i, NULL));
    uco_sleep(UCO_MSEC(50));
    uco_cancel(t[2]);
    uco_join(t[2], NULL, UCO_NEVER);
    /* a cancelled caller of a running job without drop waits for it */
    uco_cancel(t[0]);
    uco_sleep(UCO_MSEC(20));
    if (uco_task_state(t[0]) == UCO_TASK_DONE)
        bad++;
    __atomic_store_n(&po.release_flag, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 4; i++)
        if (i != 2)
            uco_join(t[i], NULL, UCO_NEVER);
    /* with drop: the deadline passes while it runs */
    __atomic_store_n(&po.release_flag, 0, __ATOMIC_RELEASE);
    po.rc[4] = uco_offload(blocking, (void *)4, drop, &po.res[4],
                           uco_now() + UCO_MSEC(20));
    __atomic_store_n(&po.release_flag, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&po.dropped, __ATOMIC_ACQUIRE))
        uco_sleep(UCO_MSEC(1));
    po.rc[5] = uco_offload(quick, (void *)5, NULL, NULL, uco_now() + UCO_SEC(1));
    po.rc[6] = uco_offload(NULL, NULL, NULL, NULL, UCO_NEVER);
    uco_cancel(tk);
    uco_join(tk, NULL, UCO_NEVER);
    return NULL;
}

static void test_offload(void **state)
{
    (void)state;
    memset(&po, 0, sizeof po);
    assert_int_equal(run_main(pool_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_true(po.ticks > 20); /* tasks ran while the jobs blocked */
    assert_int_equal(po.rc[0], -ECANCELED);
    assert_ptr_equal(po.res[0], (void *)100); /* set all the same */
    assert_int_equal(po.rc[1], 0);
    assert_ptr_equal(po.res[1], (void *)101);
    assert_int_equal(po.rc[2], -ECANCELED);
    assert_int_equal(po.ran[2], 0); /* withdrawn: never ran */
    assert_int_equal(po.rc[3], 0);
    assert_ptr_equal(po.res[3], (void *)103);
    assert_int_equal(po.rc[4], -ETIMEDOUT);
    assert_int_equal(po.ran[4], 1);
    assert_int_equal(po.dropped, 1);
    assert_ptr_equal(po.dropped_result, (void *)104);
    assert_int_equal(po.rc[5], -EINVAL); /* a deadline needs a drop */
    assert_int_equal(po.rc[6], -EINVAL);
    assert_int_equal(uco_offload(quick, NULL, NULL, NULL, UCO_NEVER), -EPERM);
}

/* ---- name resolution */

static struct {
    int rc_local, rc_bad, rc_args, rc_cancel;
    int family;
} gi;

static void *lookup_main(void *arg)
{
    struct addrinfo hints, *res = NULL;

    (void)arg;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_flags = AI_NUMERICSERV;
    gi.rc_local = uco_getaddrinfo("127.0.0.1", "80", &hints, &res, UCO_NEVER);
    if (gi.rc_local == 0) {
        gi.family = res->ai_family;
        freeaddrinfo(res);
    }
    hints.ai_flags = AI_NUMERICHOST; /* no network needed to fail */
    gi.rc_bad = uco_getaddrinfo("not an address", NULL, &hints, &res, UCO_NEVER);
    gi.rc_args = uco_getaddrinfo(NULL, NULL, NULL, &res, UCO_NEVER);
    uco_cancel(uco_self());
    gi.rc_cancel = uco_getaddrinfo("127.0.0.1", NULL, NULL, &res, UCO_NEVER);
    return NULL;
}

static void test_getaddrinfo(void **state)
{
    (void)state;
    assert_int_equal(run_main(lookup_main, NULL), -ECANCELED);
    assert_int_equal(gi.rc_local, 0);
    assert_int_equal(gi.family, AF_INET);
    assert_int_equal(gi.rc_bad, UCO_EAI(EAI_NONAME));
    assert_string_equal(uco_strerror(gi.rc_bad), gai_strerror(EAI_NONAME));
    assert_int_equal(gi.rc_args, -EINVAL);
    assert_int_equal(gi.rc_cancel, -ECANCELED);
}

/* ---- races found by review: each hung, lost work or read freed memory */

static uco_sched *race_s;
static int race_stop; /* atomic */

static void *one(void *arg)
{
    (void)arg;
    return (void *)1;
}

/* submits whose deadline has passed as they are made: the remote task is
 * cancelled before it runs, and must still answer */
static void *expired_submitter(void *arg)
{
    int i, rc;

    (void)arg;
    for (i = 0; i < 2000; i++) {
        rc = uco_submit(race_s, one, NULL, NULL, uco_now());
        if (rc != 0 && rc != -ETIMEDOUT && rc != -ECANCELED)
            __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&race_stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *race_main(void *arg)
{
    pthread_t t;

    (void)arg;
    OK(uco_sched_get(&race_s));
    __atomic_store_n(&race_stop, 0, __ATOMIC_RELEASE);
    OK(pthread_create(&t, NULL, expired_submitter, NULL));
    while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE))
        uco_sleep(UCO_MSEC(1));
    pthread_join(t, NULL);
    uco_sched_put(race_s);
    return NULL;
}

/* submits racing the end of their target's run: answered, or -ESRCH */
static void *ending_submitter(void *arg)
{
    uco_sched *s = arg;
    int rc;

    while ((rc = uco_submit(s, one, NULL, NULL, UCO_NEVER)) == 0)
        ;
    /* refused once the target ended, or cancelled by its end */
    if (rc != -ESRCH && rc != -ECANCELED)
        __atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
    uco_sched_put(s);
    return NULL;
}

static void *short_main(void *arg)
{
    uco_sched *s;

    OK(uco_sched_get(&s));
    OK(pthread_create(arg, NULL, ending_submitter, s));
    uco_sleep(UCO_USEC(200));
    return NULL;
}

static void test_submit_races(void **state)
{
    int i;

    (void)state;
    assert_int_equal(run_main(race_main, NULL), 0);
    for (i = 0; i < 200; i++) {
        pthread_t t;
        assert_int_equal(run_main(short_main, &t), 0);
        pthread_join(t, NULL);
    }
    assert_int_equal(bad, 0);
}

/* a caller woken by a cancellation while its job's end is on its way */
static struct {
    int flag;
    uco_task *a;
    int rc;
    void *r;
} od;

static void *slow_job(void *arg)
{
    (void)arg;
    usleep(20000);
    __atomic_store_n(&od.flag, 1, __ATOMIC_RELEASE);
    return (void *)42;
}

static void *od_caller(void *arg)
{
    (void)arg;
    od.rc = uco_offload(slow_job, NULL, NULL, &od.r, UCO_NEVER);
    return NULL;
}

static void *od_canceller(void *arg)
{
    int64_t until;

    (void)arg;
    while (!__atomic_load_n(&od.flag, __ATOMIC_ACQUIRE))
        uco_yield();
    until = uco_now() + UCO_MSEC(10);
    while (uco_now() < until)
        ; /* the worker pushes the end meanwhile */
    uco_cancel(od.a);
    uco_yield();
    return NULL;
}

static void *od_main(void *arg)
{
    uco_task *b;

    (void)arg;
    OK(uco_spawn(&od.a, od_caller, NULL, NULL));
    OK(uco_spawn(&b, od_canceller, NULL, NULL));
    uco_join(b, NULL, UCO_NEVER);
    uco_join(od.a, NULL, UCO_NEVER);
    return NULL;
}

static void test_offload_end_races_cancel(void **state)
{
    (void)state;
    memset(&od, 0, sizeof od);
    assert_int_equal(run_main(od_main, NULL), 0);
    assert_int_equal(bad, 0);
    /* it ended first: as a join after the end, its result stands */
    assert_true(od.rc == 0 || od.rc == -ECANCELED);
    assert_ptr_equal(od.r, (void *)42);
}

/* a burst of jobs with one worker idle still gets a worker each (up to
 * the cap: 2 here) */
static void *nap(void *arg)
{
    (void)arg;
    usleep(50000);
    return NULL;
}

static void *burst_one(void *arg)
{
    (void)arg;
    OK(uco_offload(nap, NULL, NULL, NULL, UCO_NEVER));
    return NULL;
}

static void *burst_main(void *arg)
{
    uco_task *t[2];
    int64_t *took = arg, t0;
    int i;

    OK(uco_offload(one, NULL, NULL, NULL, UCO_NEVER)); /* a worker idles */
    t0 = uco_now();
    for (i = 0; i < 2; i++)
        OK(uco_spawn(&t[i], burst_one, NULL, NULL));
    for (i = 0; i < 2; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    *took = uco_now() - t0;
    return NULL;
}

static void test_pool_burst(void **state)
{
    int64_t took = 0;

    (void)state;
    assert_int_equal(run_main(burst_main, &took), 0);
    assert_int_equal(bad, 0);
    printf("2 jobs of 50 ms, one worker idle: %.1f ms\n", (double)took / 1e6);
    assert_true(took < UCO_MSEC(95) * test_slack()); /* side by side */
}

/* ---- found by an audit */

/* an abandoned offload holds a reference on its scheduler while its job
 * runs; when that goes, a deadlock is reported all the same */
static int dl_offload, dl_wait;

static void *slow100(void *arg)
{
    usleep(100000);
    return arg;
}

static void no_drop(void *arg, void *result)
{
    (void)arg;
    (void)result;
}

static void *deadlock_main(void *arg)
{
    uco_event *ev;

    (void)arg;
    OK(uco_event_create(&ev));
    dl_offload = uco_offload(slow100, NULL, no_drop, NULL, uco_now() + UCO_MSEC(10));
    dl_wait = uco_event_wait(ev, UCO_NEVER); /* nobody will set it */
    uco_event_destroy(ev);
    return NULL;
}

static void test_deadlock_after_abandoned_offload(void **state)
{
    (void)state;
    assert_int_equal(run_main(deadlock_main, NULL), -EDEADLK);
    assert_int_equal(dl_offload, -ETIMEDOUT);
    assert_int_equal(dl_wait, -ECANCELED);
}

/* offloads in a child forked right after the parent's: the child's pool
 * starts afresh */
static void *offload_once(void *arg)
{
    void *r = NULL;
    int *rc = arg;

    *rc = uco_offload(one, NULL, NULL, &r, UCO_NEVER);
    if (r != (void *)1)
        *rc = -1;
    return NULL;
}

static void test_offload_after_fork(void **state)
{
    int rc = -1, status = 0;
    pid_t pid;

    (void)state;
    if (UCO_TEST_TSAN) {
        /* ThreadSanitizer refuses threads in a child forked after threads
         * ran ("not supported"); every other build runs this */
        printf("# SKIP: ThreadSanitizer does not follow a multi-threaded fork\n");
        skip();
    }
    if (getenv("UCO_TEST_EMULATED")) {
        /* qemu-user 7.2 fails its own assertions (cpu_exec) in a child
         * forked after the parent started threads, whatever the program */
        printf("# SKIP: this emulator aborts in a child forked after "
               "threads ran\n");
        skip();
    }
    assert_int_equal(run_main(offload_once, &rc), 0);
    assert_int_equal(rc, 0);
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        rc = -1;
        _exit(run_main(offload_once, &rc) == 0 && rc == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* a post runs while the poster keeps yielding (it waited for the
 * scheduler to have nothing ready, which never came) */
static int yp_ran;

static void *yp_post(void *arg)
{
    (void)arg;
    yp_ran = 1;
    return NULL;
}

static void *yield_main(void *arg)
{
    uco_sched *s;
    long *yields = arg;

    OK(uco_sched_get(&s));
    OK(uco_post(s, yp_post, NULL));
    while (!yp_ran && *yields < 1000000) {
        uco_yield();
        ++*yields;
    }
    uco_sched_put(s);
    return NULL;
}

static void test_post_runs_among_yielders(void **state)
{
    long yields = 0;

    (void)state;
    yp_ran = 0;
    assert_int_equal(run_main(yield_main, &yields), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(yp_ran, 1);
    assert_true(yields < 10);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_handles),
        T(test_post_fifo_wakes),
        T(test_post_always_runs),
        T(test_submit_between_schedulers),
        T(test_submit_from_plain_thread),
        T(test_offload),
        T(test_getaddrinfo),
        T(test_submit_races),
        T(test_offload_end_races_cancel),
        T(test_pool_burst),
        T(test_deadlock_after_abandoned_offload),
        T(test_post_runs_among_yielders),
        T(test_offload_after_fork),
    };

    setenv("UCO_THREADS", "2", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
