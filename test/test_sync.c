/*
 * test_sync - the event, mutex, condition variable, semaphore and wait
 * group: what each wait waits for, FIFO order among waiters, deadlines,
 * cancellation, the mutex held on every return of uco_cond_wait, destroy
 * while in use, bad input and calls outside a task.
 *
 * Every test starts a fresh scheduler with uco_run.  The tasks only record
 * what they saw (in the trace and in per-test variables); the assertions
 * run after uco_run has returned.  `bad` counts set-up steps inside tasks
 * that failed and is checked by every test.
 */
#include "fixture.h"

#include <limits.h>







/* What one waiter saw. */
struct seen {
    int rc;
    int unlock_rc;   /* uco_mutex_unlock right after (cond waits) */
    int64_t woke;    /* when its wait returned */
};

static struct seen sn[8];
static int64_t mark[8];

static void clear_seen(void)
{
    memset(sn, 0, sizeof sn);
    memset(mark, 0, sizeof mark);
}

/* ------------------------------------------------------------------ */
/* Event                                                              */
/* ------------------------------------------------------------------ */

static uco_event *ev;

static void *event_waiter(void *arg)
{
    int i = (int)N(arg);
    sn[i].rc = uco_event_wait(ev, UCO_NEVER);
    sn[i].woke = uco_now();
    trace_addf(&tr, "w%d", i);
    return NULL;
}

static struct {
    int is_set[4], set_rc, clear_rc, again_rc, timeout_rc;
    int64_t again_took, timeout_took;
} es;

static void *event_main(void *arg)
{
    uco_task *t[3];
    int i;
    int64_t s;
    (void)arg;
    OK(uco_event_create(&ev));
    es.is_set[0] = uco_event_is_set(ev);
    for (i = 0; i < 3; i++)
        t[i] = spawn(event_waiter, V(i));
    uco_sleep(UCO_MSEC(20));
    trace_add(&tr, "set");
    mark[0] = uco_now();
    es.set_rc = uco_event_set(ev);
    es.is_set[1] = uco_event_is_set(ev);
    for (i = 0; i < 3; i++)
        OK(join(t[i]));
    /* set: a wait returns at once */
    s = uco_now();
    es.again_rc = uco_event_wait(ev, UCO_NEVER);
    es.again_took = uco_now() - s;
    es.clear_rc = uco_event_clear(ev);
    es.is_set[2] = uco_event_is_set(ev);
    s = uco_now();
    es.timeout_rc = uco_event_wait(ev, s + UCO_MSEC(20));
    es.timeout_took = uco_now() - s;
    es.is_set[3] = uco_event_is_set(ev);
    OK(uco_event_destroy(ev));
    return NULL;
}

static void test_event(void **state)
{
    int i;
    (void)state;
    clear_seen();
    memset(&es, 0, sizeof es);
    assert_int_equal(run_main(event_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(es.is_set[0], 0);
    assert_int_equal(es.set_rc, 0);
    assert_int_equal(es.is_set[1], 1);
    assert_string_equal(tr.buf, "set w0 w1 w2"); /* all, in order */
    for (i = 0; i < 3; i++) {
        assert_int_equal(sn[i].rc, 0);
        assert_on_time(sn[i].woke, mark[0], UCO_MSEC(10));
    }
    assert_int_equal(es.again_rc, 0);
    assert_true(es.again_took < UCO_MSEC(5) * test_slack());
    assert_int_equal(es.clear_rc, 0);
    assert_int_equal(es.is_set[2], 0);
    assert_int_equal(es.timeout_rc, -ETIMEDOUT);
    assert_on_time(es.timeout_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(es.is_set[3], 0);
}

/* ------------------------------------------------------------------ */
/* Mutex                                                              */
/* ------------------------------------------------------------------ */

static uco_mutex *mx;
static int inside;      /* tasks between lock and unlock */
static int max_inside;

static void *mutex_worker(void *arg)
{
    int i = (int)N(arg), k;
    sn[i].rc = uco_mutex_lock(mx, UCO_NEVER);
    sn[i].woke = uco_now();
    if (++inside > max_inside)
        max_inside = inside;
    trace_addf(&tr, "L%d", i);
    for (k = 0; k < 3; k++)
        uco_yield(); /* holding it: nobody else gets in */
    inside--;
    trace_addf(&tr, "U%d", i);
    sn[i].unlock_rc = uco_mutex_unlock(mx);
    return NULL;
}

static struct {
    int handed_rc, deadlk_rc, relock_rc;
} ms;

static void *mutex_fifo_main(void *arg)
{
    uco_task *t[3];
    int i;
    (void)arg;
    OK(uco_mutex_create(&mx));
    OK(uco_mutex_lock(mx, UCO_NEVER));
    ms.deadlk_rc = uco_mutex_lock(mx, UCO_NEVER);
    for (i = 0; i < 3; i++)
        t[i] = spawn(mutex_worker, V(i));
    uco_sleep(UCO_MSEC(10)); /* they queue in order 0 1 2 */
    trace_add(&tr, "unlock");
    OK(uco_mutex_unlock(mx));
    /* handed over to worker 0: not free for the one that let it go */
    ms.handed_rc = uco_mutex_lock(mx, 0);
    for (i = 0; i < 3; i++)
        OK(join(t[i]));
    ms.relock_rc = uco_mutex_lock(mx, 0); /* free now */
    OK(uco_mutex_unlock(mx));
    OK(uco_mutex_destroy(mx));
    return NULL;
}

static void test_mutex_fifo(void **state)
{
    int i;
    (void)state;
    clear_seen();
    memset(&ms, 0, sizeof ms);
    inside = max_inside = 0;
    assert_int_equal(run_main(mutex_fifo_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ms.deadlk_rc, -EDEADLK);
    assert_string_equal(tr.buf, "unlock L0 U0 L1 U1 L2 U2");
    assert_int_equal(max_inside, 1);
    for (i = 0; i < 3; i++) {
        assert_int_equal(sn[i].rc, 0);
        assert_int_equal(sn[i].unlock_rc, 0);
    }
    assert_int_equal(ms.handed_rc, -ETIMEDOUT);
    assert_int_equal(ms.relock_rc, 0);
}

static struct {
    int other_unlock, free_unlock, timeout_rc, destroy_locked, destroy_waited;
    int cancel_rc, after_cancel_rc, destroy_free, third_rc;
    int64_t timeout_took, cancelled_at, cancel_woke;
} me;

static void *try_unlock(void *arg)
{
    (void)arg;
    me.other_unlock = uco_mutex_unlock(mx); /* main holds it */
    return NULL;
}

static void *timed_lock(void *arg)
{
    int64_t s = uco_now();
    (void)arg;
    me.timeout_rc = uco_mutex_lock(mx, s + UCO_MSEC(20));
    me.timeout_took = uco_now() - s;
    return NULL;
}

static void *cancelled_lock(void *arg)
{
    (void)arg;
    me.cancel_rc = uco_mutex_lock(mx, UCO_NEVER);
    me.cancel_woke = uco_now();
    return NULL;
}

static void *third_lock(void *arg)
{
    (void)arg;
    me.third_rc = uco_mutex_lock(mx, UCO_NEVER);
    if (me.third_rc == 0)
        OK(uco_mutex_unlock(mx));
    return NULL;
}

static void *mutex_errors_main(void *arg)
{
    uco_task *t, *c, *d;
    (void)arg;
    OK(uco_mutex_create(&mx));
    me.free_unlock = uco_mutex_unlock(mx); /* nobody holds it */
    OK(uco_mutex_lock(mx, UCO_NEVER));
    OK(join(spawn(try_unlock, NULL)));
    OK(join(spawn(timed_lock, NULL)));
    me.destroy_locked = uco_mutex_destroy(mx);
    /* a cancelled waiter leaves the queue; the next one gets the lock */
    c = spawn(cancelled_lock, NULL);
    d = spawn(third_lock, NULL);
    uco_sleep(UCO_MSEC(10));
    me.cancelled_at = uco_now();
    OK(uco_cancel(c));
    if (join(c) != -ECANCELED)
        bad++;
    OK(uco_mutex_unlock(mx));
    OK(join(d));
    /* waiters only: -EBUSY too */
    OK(uco_mutex_lock(mx, UCO_NEVER));
    t = spawn(third_lock, NULL);
    uco_sleep(UCO_MSEC(2));
    OK(uco_mutex_unlock(mx)); /* handed to t, which has not run yet */
    me.destroy_waited = uco_mutex_destroy(mx);
    OK(join(t));
    me.destroy_free = uco_mutex_destroy(mx);
    return NULL;
}

static void test_mutex_errors(void **state)
{
    (void)state;
    memset(&me, 0, sizeof me);
    assert_int_equal(run_main(mutex_errors_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(me.free_unlock, -EPERM);
    assert_int_equal(me.other_unlock, -EPERM);
    assert_int_equal(me.timeout_rc, -ETIMEDOUT);
    assert_on_time(me.timeout_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(me.destroy_locked, -EBUSY);
    assert_int_equal(me.cancel_rc, -ECANCELED);
    assert_on_time(me.cancel_woke, me.cancelled_at, UCO_MSEC(10));
    assert_int_equal(me.third_rc, 0);
    assert_int_equal(me.destroy_waited, -EBUSY);
    assert_int_equal(me.destroy_free, 0);
}

/* ------------------------------------------------------------------ */
/* Condition variable                                                 */
/* ------------------------------------------------------------------ */

static uco_cond *cv;

static void *cond_waiter(void *arg)
{
    int i = (int)N(arg);
    OK(uco_mutex_lock(mx, UCO_NEVER));
    trace_addf(&tr, "w%d", i);
    sn[i].rc = uco_cond_wait(cv, mx, UCO_NEVER);
    sn[i].woke = uco_now();
    trace_addf(&tr, "r%d", i);
    sn[i].unlock_rc = uco_mutex_unlock(mx); /* 0: it was held */
    return NULL;
}

static void *cond_signal_main(void *arg)
{
    uco_task *t[4];
    int i;
    (void)arg;
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    for (i = 0; i < 4; i++)
        t[i] = spawn(cond_waiter, V(i));
    uco_sleep(UCO_MSEC(5));
    trace_add(&tr, "sig");
    OK(uco_cond_signal(cv));
    uco_sleep(UCO_MSEC(5));
    trace_add(&tr, "sig");
    OK(uco_cond_signal(cv));
    uco_sleep(UCO_MSEC(5));
    /* signalled while holding the mutex: the waiter gets it afterwards */
    OK(uco_mutex_lock(mx, UCO_NEVER));
    trace_add(&tr, "bcast");
    OK(uco_cond_broadcast(cv));
    uco_sleep(UCO_MSEC(5));
    trace_add(&tr, "unlock");
    mark[0] = uco_now();
    OK(uco_mutex_unlock(mx));
    for (i = 0; i < 4; i++)
        OK(join(t[i]));
    OK(uco_cond_destroy(cv));
    OK(uco_mutex_destroy(mx));
    return NULL;
}

static void test_cond_signal_broadcast(void **state)
{
    int i;
    (void)state;
    clear_seen();
    assert_int_equal(run_main(cond_signal_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf,
                        "w0 w1 w2 w3 sig r0 sig r1 bcast unlock r2 r3");
    for (i = 0; i < 4; i++) {
        assert_int_equal(sn[i].rc, 0);
        assert_int_equal(sn[i].unlock_rc, 0);
    }
    assert_true(sn[2].woke >= mark[0]);
    assert_true(sn[3].woke >= mark[0]);
}

/* Two waiters; the first is signalled and then cancelled before it runs:
 * it returns -ECANCELED and the signal wakes the second instead of being
 * lost (which would leave it waiting until its deadline).  Until the
 * first has returned, the condition variable cannot be destroyed. */
static struct {
    int rc[2], destroy_rc, late_rc;
    int64_t woke[2];
} cp;

static void *cond_pass_waiter(void *arg)
{
    int i = (int)N(arg);
    OK(uco_mutex_lock(mx, UCO_NEVER));
    cp.rc[i] = uco_cond_wait(cv, mx, uco_now() + UCO_SEC(2));
    cp.woke[i] = uco_now();
    OK(uco_mutex_unlock(mx));
    return NULL;
}

static void *cond_pass_main(void *arg)
{
    uco_task *a, *b;
    int64_t start;
    (void)arg;
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    a = spawn(cond_pass_waiter, V(0));
    b = spawn(cond_pass_waiter, V(1));
    uco_sleep(UCO_MSEC(5)); /* both wait */
    start = uco_now();
    OK(uco_cond_signal(cv)); /* wakes a ... */
    OK(uco_cancel(a));       /* ... which is cancelled before it runs */
    cp.destroy_rc = uco_cond_destroy(cv); /* a will pass the signal on */
    if (join(a) != -ECANCELED)
        bad++;
    OK(join(b));
    mark[0] = start;
    OK(uco_cond_destroy(cv));
    OK(uco_mutex_destroy(mx));
    return NULL;
}

/* After a broadcast nothing is passed on: a task that begins to wait
 * after it, while a woken one is cancelled, waits until its deadline. */
static void *cond_late_waiter(void *arg)
{
    (void)arg;
    OK(uco_mutex_lock(mx, UCO_NEVER));
    cp.late_rc = uco_cond_wait(cv, mx, uco_now() + UCO_MSEC(50));
    OK(uco_mutex_unlock(mx));
    return NULL;
}

static void *cond_bcast_main(void *arg)
{
    uco_task *a, *b, *late;
    (void)arg;
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    a = spawn(cond_pass_waiter, V(0));
    b = spawn(cond_pass_waiter, V(1));
    uco_sleep(UCO_MSEC(5));
    OK(uco_cond_broadcast(cv));
    OK(uco_cancel(a));
    late = spawn(cond_late_waiter, NULL); /* runs after a and b */
    if (join(a) != -ECANCELED)
        bad++;
    OK(join(b));
    OK(join(late));
    OK(uco_cond_destroy(cv));
    OK(uco_mutex_destroy(mx));
    return NULL;
}

static void test_cond_signal_passed_on(void **state)
{
    (void)state;
    memset(&cp, 0, sizeof cp);
    assert_int_equal(run_main(cond_pass_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cp.rc[0], -ECANCELED);
    assert_int_equal(cp.rc[1], 0);
    assert_true(cp.woke[1] - mark[0] < UCO_SEC(1)); /* not the deadline */
    assert_int_equal(cp.destroy_rc, -EBUSY);

    memset(&cp, 0, sizeof cp);
    assert_int_equal(run_main(cond_bcast_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cp.rc[0], -ECANCELED);
    assert_int_equal(cp.rc[1], 0);
    assert_int_equal(cp.late_rc, -ETIMEDOUT);
}

static struct {
    int lost_rc, lost_unlock, not_held_rc;
    int to_rc, to_unlock, cn_rc, cn_unlock, pre_rc, pre_unlock;
    int64_t lost_took, to_woke, cn_woke, released_at, released2_at;
    int64_t cancelled_at;
} cs;

static void *cond_timeout_waiter(void *arg)
{
    (void)arg;
    OK(uco_mutex_lock(mx, UCO_NEVER));
    cs.to_rc = uco_cond_wait(cv, mx, uco_now() + UCO_MSEC(10));
    cs.to_woke = uco_now();
    cs.to_unlock = uco_mutex_unlock(mx);
    return NULL;
}

static void *cond_cancel_waiter(void *arg)
{
    (void)arg;
    OK(uco_mutex_lock(mx, UCO_NEVER));
    cs.cn_rc = uco_cond_wait(cv, mx, UCO_NEVER);
    cs.cn_woke = uco_now();
    cs.cn_unlock = uco_mutex_unlock(mx);
    return NULL;
}

static void *cond_precancelled(void *arg)
{
    (void)arg;
    OK(uco_mutex_lock(mx, UCO_NEVER));
    uco_cancel(uco_self());
    cs.pre_rc = uco_cond_wait(cv, mx, UCO_NEVER);
    cs.pre_unlock = uco_mutex_unlock(mx);
    return NULL;
}

static void *cond_edge_main(void *arg)
{
    uco_task *t;
    int64_t s;
    (void)arg;
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    /* waiting without holding the mutex */
    cs.not_held_rc = uco_cond_wait(cv, mx, UCO_NEVER);
    /* a signal nobody waits for is not kept */
    OK(uco_cond_signal(cv));
    OK(uco_mutex_lock(mx, UCO_NEVER));
    s = uco_now();
    cs.lost_rc = uco_cond_wait(cv, mx, s + UCO_MSEC(15));
    cs.lost_took = uco_now() - s;
    cs.lost_unlock = uco_mutex_unlock(mx);

    /* the deadline passes while main holds the mutex: the waiter returns
     * -ETIMEDOUT only once it has the mutex again */
    t = spawn(cond_timeout_waiter, NULL);
    uco_yield(); /* it waits now, the mutex is free */
    OK(uco_mutex_lock(mx, UCO_NEVER));
    uco_sleep(UCO_MSEC(30));
    cs.released_at = uco_now();
    OK(uco_mutex_unlock(mx));
    OK(join(t));

    /* cancelled while main holds the mutex: the same */
    t = spawn(cond_cancel_waiter, NULL);
    uco_yield();
    OK(uco_mutex_lock(mx, UCO_NEVER));
    cs.cancelled_at = uco_now();
    OK(uco_cancel(t));
    uco_sleep(UCO_MSEC(20));
    cs.released2_at = uco_now();
    OK(uco_mutex_unlock(mx));
    if (join(t) != -ECANCELED)
        bad++;

    /* cancelled before the wait: -ECANCELED, the mutex still held */
    if (join(spawn(cond_precancelled, NULL)) != -ECANCELED)
        bad++;
    OK(uco_cond_destroy(cv));
    OK(uco_mutex_destroy(mx));
    return NULL;
}

static void test_cond_mutex_always_held(void **state)
{
    (void)state;
    memset(&cs, 0, sizeof cs);
    assert_int_equal(run_main(cond_edge_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cs.not_held_rc, -EPERM);
    assert_int_equal(cs.lost_rc, -ETIMEDOUT);
    assert_on_time(cs.lost_took, UCO_MSEC(15), UCO_MSEC(20));
    assert_int_equal(cs.lost_unlock, 0);
    assert_int_equal(cs.to_rc, -ETIMEDOUT);
    assert_int_equal(cs.to_unlock, 0);
    assert_true(cs.to_woke >= cs.released_at);
    assert_int_equal(cs.cn_rc, -ECANCELED);
    assert_int_equal(cs.cn_unlock, 0);
    assert_true(cs.cn_woke >= cs.released2_at);
    assert_on_time(cs.cn_woke, cs.cancelled_at + UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(cs.pre_rc, -ECANCELED);
    assert_int_equal(cs.pre_unlock, 0);
}

/* ------------------------------------------------------------------ */
/* Semaphore                                                          */
/* ------------------------------------------------------------------ */

static uco_sem *sm;

static void *sem_waiter(void *arg)
{
    int i = (int)N(arg);
    trace_addf(&tr, "a%d", i);
    sn[i].rc = uco_sem_acquire(sm, UCO_NEVER);
    sn[i].woke = uco_now();
    trace_addf(&tr, "g%d", i);
    return NULL;
}

static struct {
    int v[8], fast[2], steal_rc, timeout_rc, overflow_rc, big_value;
    int64_t fast_took, timeout_took;
} ss;

static void *sem_main(void *arg)
{
    uco_task *t[3];
    uco_sem *big;
    int i;
    int64_t s;
    (void)arg;
    OK(uco_sem_create(&sm, 2));
    ss.v[0] = uco_sem_value(sm);
    s = uco_now();
    ss.fast[0] = uco_sem_acquire(sm, UCO_NEVER);
    ss.fast[1] = uco_sem_acquire(sm, UCO_NEVER);
    ss.fast_took = uco_now() - s;
    ss.v[1] = uco_sem_value(sm);
    for (i = 0; i < 3; i++)
        t[i] = spawn(sem_waiter, V(i));
    uco_sleep(UCO_MSEC(10)); /* all three block at 0 */
    trace_add(&tr, "rel");
    mark[0] = uco_now();
    OK(uco_sem_release(sm));
    ss.v[2] = uco_sem_value(sm); /* handed to waiter 0, not counted */
    ss.steal_rc = uco_sem_acquire(sm, 0);
    uco_sleep(UCO_MSEC(5));
    trace_add(&tr, "rel");
    OK(uco_sem_release(sm));
    OK(uco_sem_release(sm));
    OK(join(t[0]));
    OK(join(t[1]));
    OK(join(t[2]));
    ss.v[3] = uco_sem_value(sm);
    OK(uco_sem_release(sm));
    OK(uco_sem_release(sm));
    ss.v[4] = uco_sem_value(sm);
    OK(uco_sem_acquire(sm, UCO_NEVER));
    OK(uco_sem_acquire(sm, UCO_NEVER));
    s = uco_now();
    ss.timeout_rc = uco_sem_acquire(sm, s + UCO_MSEC(20));
    ss.timeout_took = uco_now() - s;
    ss.v[5] = uco_sem_value(sm);
    OK(uco_sem_destroy(sm));
    OK(uco_sem_create(&big, UINT_MAX));
    ss.overflow_rc = uco_sem_release(big);
    ss.big_value = uco_sem_value(big);
    OK(uco_sem_destroy(big));
    return NULL;
}

static void test_semaphore(void **state)
{
    int i;
    (void)state;
    clear_seen();
    memset(&ss, 0, sizeof ss);
    assert_int_equal(run_main(sem_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ss.v[0], 2);
    assert_int_equal(ss.fast[0], 0);
    assert_int_equal(ss.fast[1], 0);
    assert_true(ss.fast_took < UCO_MSEC(5) * test_slack());
    assert_int_equal(ss.v[1], 0);
    assert_int_equal(ss.v[2], 0);
    assert_int_equal(ss.steal_rc, -ETIMEDOUT);
    assert_string_equal(tr.buf, "a0 a1 a2 rel g0 rel g1 g2");
    for (i = 0; i < 3; i++)
        assert_int_equal(sn[i].rc, 0);
    assert_on_time(sn[0].woke, mark[0], UCO_MSEC(10));
    assert_int_equal(ss.v[3], 0);
    assert_int_equal(ss.v[4], 2);
    assert_int_equal(ss.timeout_rc, -ETIMEDOUT);
    assert_on_time(ss.timeout_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(ss.v[5], 0);
    assert_int_equal(ss.overflow_rc, -EOVERFLOW);
    assert_true(ss.big_value > 0);
}

/* ------------------------------------------------------------------ */
/* Wait group                                                         */
/* ------------------------------------------------------------------ */

static uco_waitgroup *wg;

static void *wg_worker(void *arg)
{
    uco_sleep(UCO_MSEC(10) * (int64_t)N(arg));
    trace_addf(&tr, "d%d", (int)N(arg));
    OK(uco_waitgroup_done(wg));
    return NULL;
}

static void *wg_waiter(void *arg)
{
    int i = (int)N(arg);
    sn[i].rc = uco_waitgroup_wait(wg, UCO_NEVER);
    sn[i].woke = uco_now();
    trace_addf(&tr, "W%d", i);
    return NULL;
}

static struct {
    int zero_rc, neg_rc, neg2_rc, timeout_rc, still_rc, done_rc, after_rc;
    int64_t zero_took, timeout_took, start;
} ws;

static void *wg_main(void *arg)
{
    uco_task *w[3], *x[2];
    int i;
    int64_t s;
    (void)arg;
    OK(uco_waitgroup_create(&wg));
    s = uco_now();
    ws.zero_rc = uco_waitgroup_wait(wg, UCO_NEVER); /* at zero: at once */
    ws.zero_took = uco_now() - s;
    ws.neg_rc = uco_waitgroup_add(wg, -1);
    ws.done_rc = uco_waitgroup_done(wg);
    ws.after_rc = uco_waitgroup_wait(wg, 0); /* still zero */
    OK(uco_waitgroup_add(wg, 3));
    ws.start = uco_now();
    for (i = 0; i < 3; i++)
        w[i] = spawn(wg_worker, V(i + 1));
    for (i = 0; i < 2; i++)
        x[i] = spawn(wg_waiter, V(i));
    ws.neg2_rc = uco_waitgroup_add(wg, -4); /* 3 - 4 < 0 */
    sn[2].rc = uco_waitgroup_wait(wg, UCO_NEVER);
    sn[2].woke = uco_now();
    trace_add(&tr, "main");
    for (i = 0; i < 3; i++)
        OK(join(w[i]));
    for (i = 0; i < 2; i++)
        OK(join(x[i]));
    OK(uco_waitgroup_add(wg, 1));
    s = uco_now();
    ws.timeout_rc = uco_waitgroup_wait(wg, s + UCO_MSEC(20));
    ws.timeout_took = uco_now() - s;
    OK(uco_waitgroup_done(wg));
    ws.still_rc = uco_waitgroup_wait(wg, 0);
    OK(uco_waitgroup_destroy(wg));
    return NULL;
}

static void test_waitgroup(void **state)
{
    int i;
    (void)state;
    clear_seen();
    memset(&ws, 0, sizeof ws);
    assert_int_equal(run_main(wg_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ws.zero_rc, 0);
    assert_true(ws.zero_took < UCO_MSEC(5) * test_slack());
    assert_int_equal(ws.neg_rc, -EINVAL);
    assert_int_equal(ws.done_rc, -EINVAL);
    assert_int_equal(ws.after_rc, 0);
    assert_int_equal(ws.neg2_rc, -EINVAL);
    /* the count stayed 3: nobody woke before the third done */
    assert_string_equal(tr.buf, "d1 d2 d3 main W0 W1"); /* FIFO */
    for (i = 0; i < 3; i++) {
        assert_int_equal(sn[i].rc, 0);
        assert_on_time(sn[i].woke - ws.start, UCO_MSEC(30), UCO_MSEC(20));
    }
    assert_int_equal(ws.timeout_rc, -ETIMEDOUT);
    assert_on_time(ws.timeout_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(ws.still_rc, 0);
}

/* ------------------------------------------------------------------ */
/* Cancellation of every wait                                          */
/* ------------------------------------------------------------------ */

enum { K_EVENT, K_MUTEX, K_COND, K_SEM, K_WG, K_N };

static struct {
    int rc[K_N], pre[K_N], cond_unlock, pre_cond_unlock;
    int64_t woke[K_N], cancelled_at, pre_took;
} ca;

static int wait_kind(int k)
{
    switch (k) {
    case K_EVENT:
        return uco_event_wait(ev, UCO_NEVER);
    case K_MUTEX: {
        int rc = uco_mutex_lock(mx, UCO_NEVER);
        if (rc == 0)
            OK(uco_mutex_unlock(mx));
        return rc;
    }
    case K_COND: {
        uco_mutex *own = NULL;
        int rc;
        OK(uco_mutex_create(&own));
        OK(uco_mutex_lock(own, UCO_NEVER));
        rc = uco_cond_wait(cv, own, UCO_NEVER);
        ca.cond_unlock = uco_mutex_unlock(own);
        OK(uco_mutex_destroy(own));
        return rc;
    }
    case K_SEM:
        return uco_sem_acquire(sm, UCO_NEVER);
    default:
        return uco_waitgroup_wait(wg, UCO_NEVER);
    }
}

static void *cancel_waiter(void *arg)
{
    int k = (int)N(arg);
    ca.rc[k] = wait_kind(k);
    ca.woke[k] = uco_now();
    return NULL;
}

/* Flag set first: every wait returns -ECANCELED at once, even those that
 * would not have to wait. */
static void *precancelled(void *arg)
{
    uco_mutex *held = NULL;
    int64_t s;
    (void)arg;
    uco_cancel(uco_self());
    s = uco_now();
    ca.pre[K_EVENT] = uco_event_wait(ev, UCO_NEVER);
    ca.pre[K_MUTEX] = uco_mutex_lock(mx, UCO_NEVER);
    OK(uco_mutex_create(&held));
    uco_shield(true);
    OK(uco_mutex_lock(held, UCO_NEVER));
    uco_shield(false);
    ca.pre[K_COND] = uco_cond_wait(cv, held, UCO_NEVER);
    ca.pre_cond_unlock = uco_mutex_unlock(held);
    OK(uco_mutex_destroy(held));
    ca.pre[K_SEM] = uco_sem_acquire(sm, UCO_NEVER);
    ca.pre[K_WG] = uco_waitgroup_wait(wg, UCO_NEVER);
    ca.pre_took = uco_now() - s;
    return NULL;
}

static void *cancel_main(void *arg)
{
    uco_task *t[K_N];
    int k;
    (void)arg;
    OK(uco_event_create(&ev));
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    OK(uco_sem_create(&sm, 0));
    OK(uco_waitgroup_create(&wg));
    OK(uco_waitgroup_add(wg, 1));
    OK(uco_mutex_lock(mx, UCO_NEVER));
    for (k = 0; k < K_N; k++)
        t[k] = spawn(cancel_waiter, V(k));
    uco_sleep(UCO_MSEC(20));
    ca.cancelled_at = uco_now();
    for (k = 0; k < K_N; k++)
        OK(uco_cancel(t[k]));
    for (k = 0; k < K_N; k++)
        if (join(t[k]) != -ECANCELED)
            bad++;
    /* nothing was taken by the cancelled waiters: all free to destroy,
     * and the mutex is still main's */
    OK(uco_mutex_unlock(mx));
    /* now make every wait one that would succeed at once */
    OK(uco_event_set(ev));
    OK(uco_sem_release(sm));
    OK(uco_waitgroup_done(wg));
    if (join(spawn(precancelled, NULL)) != -ECANCELED)
        bad++;
    OK(uco_sem_value(sm) == 1 ? 0 : -1); /* the permit is still there */
    OK(uco_mutex_lock(mx, 0));           /* and the mutex free */
    OK(uco_mutex_unlock(mx));
    OK(uco_event_destroy(ev));
    OK(uco_mutex_destroy(mx));
    OK(uco_cond_destroy(cv));
    OK(uco_sem_destroy(sm));
    OK(uco_waitgroup_destroy(wg));
    return NULL;
}

static void test_cancel_each_wait(void **state)
{
    int k;
    (void)state;
    memset(&ca, 0, sizeof ca);
    assert_int_equal(run_main(cancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (k = 0; k < K_N; k++) {
        assert_int_equal(ca.rc[k], -ECANCELED);
        assert_on_time(ca.woke[k], ca.cancelled_at, UCO_MSEC(10));
        assert_int_equal(ca.pre[k], -ECANCELED);
    }
    assert_int_equal(ca.cond_unlock, 0);
    assert_int_equal(ca.pre_cond_unlock, 0);
    assert_true(ca.pre_took < UCO_MSEC(5) * test_slack());
}

/* ------------------------------------------------------------------ */
/* Destroy while in use                                               */
/* ------------------------------------------------------------------ */

static struct {
    int busy[K_N], after[K_N];
} dz;

static void *destroy_main(void *arg)
{
    uco_task *t[K_N];
    int k;
    (void)arg;
    memset(&ca, 0, sizeof ca);
    OK(uco_event_create(&ev));
    OK(uco_mutex_create(&mx));
    OK(uco_cond_create(&cv));
    OK(uco_sem_create(&sm, 0));
    OK(uco_waitgroup_create(&wg));
    OK(uco_waitgroup_add(wg, 1));
    OK(uco_mutex_lock(mx, UCO_NEVER));
    for (k = 0; k < K_N; k++)
        t[k] = spawn(cancel_waiter, V(k));
    uco_sleep(UCO_MSEC(5));
    dz.busy[K_EVENT] = uco_event_destroy(ev);
    dz.busy[K_MUTEX] = uco_mutex_destroy(mx);
    dz.busy[K_COND] = uco_cond_destroy(cv);
    dz.busy[K_SEM] = uco_sem_destroy(sm);
    dz.busy[K_WG] = uco_waitgroup_destroy(wg);
    /* let them all through */
    OK(uco_event_set(ev));
    OK(uco_mutex_unlock(mx));
    OK(uco_cond_signal(cv));
    OK(uco_sem_release(sm));
    OK(uco_waitgroup_done(wg));
    for (k = 0; k < K_N; k++)
        OK(join(t[k]));
    for (k = 0; k < K_N; k++)
        OK(ca.rc[k]);
    dz.after[K_EVENT] = uco_event_destroy(ev);
    dz.after[K_COND] = uco_cond_destroy(cv);
    dz.after[K_SEM] = uco_sem_destroy(sm);
    dz.after[K_WG] = uco_waitgroup_destroy(wg);
    dz.after[K_MUTEX] = uco_mutex_destroy(mx);
    return NULL;
}

static void test_destroy_busy(void **state)
{
    int k;
    (void)state;
    memset(&dz, 0, sizeof dz);
    assert_int_equal(run_main(destroy_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (k = 0; k < K_N; k++)
        assert_int_equal(dz.busy[k], -EBUSY);
    assert_int_equal(dz.after[K_EVENT], 0);
    assert_int_equal(dz.after[K_COND], 0);
    assert_int_equal(dz.after[K_SEM], 0);
    assert_int_equal(dz.after[K_WG], 0);
    assert_int_equal(dz.after[K_MUTEX], 0);
}

/* ------------------------------------------------------------------ */
/* Bad input and calls outside a task                                  */
/* ------------------------------------------------------------------ */

static int bi[64];
static int nbi;

static void *bad_input_main(void *arg)
{
    uco_event *e = NULL;
    uco_mutex *m = NULL;
    uco_cond *c = NULL;
    uco_sem *s = NULL;
    uco_waitgroup *w = NULL;
    (void)arg;
    nbi = 0;
    OK(uco_event_create(&e));
    OK(uco_mutex_create(&m));
    OK(uco_cond_create(&c));
    OK(uco_sem_create(&s, 1));
    OK(uco_waitgroup_create(&w));

    bi[nbi++] = uco_event_create(NULL);
    bi[nbi++] = uco_event_set(NULL);
    bi[nbi++] = uco_event_clear(NULL);
    bi[nbi++] = uco_event_is_set(NULL);
    bi[nbi++] = uco_event_wait(NULL, UCO_NEVER);
    bi[nbi++] = uco_event_wait(e, -7);
    bi[nbi++] = uco_event_destroy(NULL);
    bi[nbi++] = uco_mutex_create(NULL);
    bi[nbi++] = uco_mutex_lock(NULL, UCO_NEVER);
    bi[nbi++] = uco_mutex_lock(m, -7);
    bi[nbi++] = uco_mutex_unlock(NULL);
    bi[nbi++] = uco_mutex_destroy(NULL);
    bi[nbi++] = uco_cond_create(NULL);
    bi[nbi++] = uco_cond_wait(NULL, m, UCO_NEVER);
    bi[nbi++] = uco_cond_wait(c, NULL, UCO_NEVER);
    OK(uco_mutex_lock(m, UCO_NEVER));
    bi[nbi++] = uco_cond_wait(c, m, -7);
    OK(uco_mutex_unlock(m));
    bi[nbi++] = uco_cond_signal(NULL);
    bi[nbi++] = uco_cond_broadcast(NULL);
    bi[nbi++] = uco_cond_destroy(NULL);
    bi[nbi++] = uco_sem_create(NULL, 1);
    bi[nbi++] = uco_sem_acquire(NULL, UCO_NEVER);
    bi[nbi++] = uco_sem_acquire(s, -7);
    bi[nbi++] = uco_sem_release(NULL);
    bi[nbi++] = uco_sem_value(NULL);
    bi[nbi++] = uco_sem_destroy(NULL);
    bi[nbi++] = uco_waitgroup_create(NULL);
    bi[nbi++] = uco_waitgroup_add(NULL, 1);
    bi[nbi++] = uco_waitgroup_done(NULL);
    bi[nbi++] = uco_waitgroup_wait(NULL, UCO_NEVER);
    bi[nbi++] = uco_waitgroup_wait(w, -7);
    bi[nbi++] = uco_waitgroup_destroy(NULL);
    /* one kind of object passed for another */
    bi[nbi++] = uco_mutex_lock((uco_mutex *)(void *)e, UCO_NEVER);
    bi[nbi++] = uco_event_set((uco_event *)(void *)s);
    bi[nbi++] = uco_sem_release((uco_sem *)(void *)w);
    bi[nbi++] = uco_waitgroup_add((uco_waitgroup *)(void *)c, 1);
    bi[nbi++] = uco_cond_signal((uco_cond *)(void *)m);
    /* none of that changed anything */
    OK(uco_event_is_set(e));
    OK(uco_sem_value(s) == 1 ? 0 : -1);
    OK(uco_waitgroup_wait(w, 0));
    OK(uco_mutex_lock(m, 0));
    OK(uco_mutex_unlock(m));
    OK(uco_event_destroy(e));
    OK(uco_mutex_destroy(m));
    OK(uco_cond_destroy(c));
    OK(uco_sem_destroy(s));
    OK(uco_waitgroup_destroy(w));
    return NULL;
}

static void test_bad_input(void **state)
{
    int i;
    (void)state;
    memset(bi, 0, sizeof bi);
    assert_int_equal(run_main(bad_input_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(nbi, 36);
    for (i = 0; i < nbi; i++) {
        if (bi[i] != -EINVAL)
            printf("case %d: %d\n", i, bi[i]);
        assert_int_equal(bi[i], -EINVAL);
    }
}

static void test_outside_task(void **state)
{
    uco_event *e = NULL;
    uco_mutex *m = NULL;
    uco_cond *c = NULL;
    uco_sem *s = NULL;
    uco_waitgroup *w = NULL;

    (void)state;
    assert_int_equal(uco_event_create(&e), 0);
    assert_int_equal(uco_mutex_create(&m), 0);
    assert_int_equal(uco_cond_create(&c), 0);
    assert_int_equal(uco_sem_create(&s, 1), 0);
    assert_int_equal(uco_waitgroup_create(&w), 0);
    assert_int_equal(uco_event_wait(e, UCO_NEVER), -EPERM);
    assert_int_equal(uco_mutex_lock(m, UCO_NEVER), -EPERM);
    assert_int_equal(uco_mutex_unlock(m), -EPERM);
    assert_int_equal(uco_cond_wait(c, m, UCO_NEVER), -EPERM);
    assert_int_equal(uco_sem_acquire(s, UCO_NEVER), -EPERM);
    assert_int_equal(uco_waitgroup_wait(w, UCO_NEVER), -EPERM);
    /* and they did nothing */
    assert_int_equal(uco_sem_value(s), 1);
    assert_int_equal(uco_mutex_destroy(m), 0);
    assert_int_equal(uco_event_destroy(e), 0);
    assert_int_equal(uco_cond_destroy(c), 0);
    assert_int_equal(uco_sem_destroy(s), 0);
    assert_int_equal(uco_waitgroup_destroy(w), 0);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_event),
        T(test_mutex_fifo),
        T(test_mutex_errors),
        T(test_cond_signal_broadcast),
        T(test_cond_signal_passed_on),
        T(test_cond_mutex_always_held),
        T(test_semaphore),
        T(test_waitgroup),
        T(test_cancel_each_wait),
        T(test_destroy_busy),
        T(test_bad_input),
        T(test_outside_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
