/*
 * test_group - task groups: waiting for all (with and without a deadline),
 * cancelling all, the first failure, fail-fast, the owner's cancellation
 * and end, destroy, the rules of members' handles, bad input, several
 * waiters.
 *
 * Every test starts a fresh scheduler with uco_run.  The tasks only record
 * what they saw; the assertions run after uco_run has returned.  `bad`
 * counts set-up steps inside tasks that failed and is checked by every test.
 */
#include "testutil.h"
#include "child.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct trace tr;
static int bad;
static int finish_seq;

/* What one member does, and what it saw. */
struct member {
    int64_t ns;        /* how long it sleeps */
    bool shielded;     /* sleeps shielded */
    bool self_cancel;  /* cancels itself once awake: it fails */
    const char *name;  /* trace word when it finishes, or NULL */
    uint64_t id;
    int sleep_rc;
    int64_t woke;
    int finished;      /* 1 + order among the members that finished */
    int handler;       /* runs of its deferred handler */
};

#define NMEM 4
static struct member m[NMEM];

static int reset(void **state)
{
    (void)state;
    memset(&tr, 0, sizeof tr);
    memset(m, 0, sizeof m);
    bad = 0;
    finish_seq = 0;
    return 0;
}

static void count(void *counter)
{
    ++*(int *)counter;
}

static void *member(void *arg)
{
    struct member *me = arg;
    me->id = uco_task_id(uco_self());
    if (uco_defer(count, &me->handler) < 0)
        bad++;
    if (me->shielded)
        uco_shield(true);
    me->sleep_rc = uco_sleep(me->ns);
    me->woke = uco_now();
    if (me->self_cancel)
        uco_cancel(uco_self());
    me->finished = ++finish_seq;
    if (me->name)
        trace_add(&tr, me->name);
    return NULL;
}

/* Spawn m[i] into g, or count the failure. */
static uco_task *gspawn(uco_group *g, int i)
{
    uco_task *t = NULL;
    if (uco_group_spawn(g, &t, member, &m[i], NULL) < 0)
        bad++;
    return t;
}

static uco_group *create(unsigned flags)
{
    uco_group *g = NULL;
    if (uco_group_create(&g, flags) < 0)
        bad++;
    return g;
}

/*
 * Run fn as uco_run's main in a forked child and bring back what it saw:
 * uco_run's result, `bad`, the members m[] and len bytes at out.  In the
 * child SIGSEGV and SIGBUS start at their default action (cmocka puts its
 * own handler there around every test, which would replace the library's),
 * and an alarm turns a hang into a failure.  Asserts that the child exited
 * normally; returns uco_run's result.
 */
static uco_fn *child_fn;
static void *child_out;
static size_t child_len;

/* In the child: run, then hand back the outcome, the fixture's state and
 * the test's results through the shared region. */
static void in_child_body(void *shared)
{
    char *p = shared;
    int rc = run_main(child_fn, NULL);

    memcpy(p, &rc, sizeof rc);
    memcpy(p += sizeof rc, &bad, sizeof bad);
    memcpy(p += sizeof bad, m, sizeof m);
    memcpy(p + sizeof m, child_out, child_len);
}

static int in_child(uco_fn *fn, void *out, size_t len)
{
    struct child c;
    char *shared, *p;
    int rc;

    child_fn = fn;
    child_out = out;
    child_len = len;
    p = shared = run_child(in_child_body, &c);
    assert_exit_code(&c, 0);
    memcpy(&rc, p, sizeof rc);
    memcpy(&bad, p += sizeof rc, sizeof bad);
    memcpy(m, p += sizeof bad, sizeof m);
    memcpy(out, p + sizeof m, len);
    release_shared(shared);
    return rc;
}

/* ------------------------------------------------------------------ */
/* waiting                                                            */
/* ------------------------------------------------------------------ */

static struct {
    int wait_rc, again_rc, status, destroy_rc;
    uint64_t id;
    int64_t waited, again_waited;
} wa;

static void *wait_all_main(void *arg)
{
    uco_group *g;
    int64_t t;
    int i;
    (void)arg;
    m[0].ns = UCO_MSEC(30);
    m[1].ns = UCO_MSEC(10);
    m[2].ns = UCO_MSEC(20);
    g = create(0);
    for (i = 0; i < 3; i++)
        gspawn(g, i);
    t = uco_now();
    wa.wait_rc = uco_group_wait(g, UCO_NEVER);
    wa.waited = uco_now() - t;
    t = uco_now();
    wa.again_rc = uco_group_wait(g, UCO_NEVER); /* nobody left: at once */
    wa.again_waited = uco_now() - t;
    wa.id = 99;
    wa.status = uco_group_status(g, &wa.id);
    wa.destroy_rc = uco_group_destroy(g);
    return NULL;
}

static void test_group_wait_all(void **state)
{
    int i;
    (void)state;
    memset(&wa, 0, sizeof wa);
    assert_int_equal(run_main(wait_all_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(wa.wait_rc, 0);
    assert_on_time(wa.waited, UCO_MSEC(30), UCO_MSEC(15));
    for (i = 0; i < 3; i++) {
        assert_int_equal(m[i].sleep_rc, 0);
        assert_int_equal(m[i].handler, 1);
        assert_true(m[i].finished > 0);
    }
    assert_int_equal(wa.again_rc, 0);
    assert_on_time(wa.again_waited, 0, UCO_MSEC(5));
    assert_int_equal(wa.status, 0);
    assert_int_equal(wa.id, 0);
    assert_int_equal(wa.destroy_rc, 0);
}

static struct {
    int timed_rc, past_rc, all_rc;
    int64_t timed_waited, past_waited, all_waited;
    int finished_at_timeout;
} wd;

static void *wait_deadline_main(void *arg)
{
    uco_group *g;
    int64_t t, t0;
    (void)arg;
    m[0].ns = m[1].ns = UCO_MSEC(50);
    g = create(0);
    gspawn(g, 0);
    gspawn(g, 1);
    t = t0 = uco_now(); /* the members start sleeping after this */
    wd.timed_rc = uco_group_wait(g, t + UCO_MSEC(10));
    wd.timed_waited = uco_now() - t;
    wd.finished_at_timeout = finish_seq;
    t = uco_now();
    wd.past_rc = uco_group_wait(g, t - 1);
    wd.past_waited = uco_now() - t;
    wd.all_rc = uco_group_wait(g, uco_now() + UCO_SEC(5));
    wd.all_waited = uco_now() - t0;
    if (uco_group_destroy(g) != 0)
        bad++;
    return NULL;
}

static void test_group_wait_deadline(void **state)
{
    (void)state;
    memset(&wd, 0, sizeof wd);
    assert_int_equal(run_main(wait_deadline_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(wd.timed_rc, -ETIMEDOUT);
    assert_on_time(wd.timed_waited, UCO_MSEC(10), UCO_MSEC(15));
    assert_int_equal(wd.finished_at_timeout, 0);
    assert_int_equal(wd.past_rc, -ETIMEDOUT);
    assert_on_time(wd.past_waited, 0, UCO_MSEC(5));
    /* the members ran on, undisturbed */
    assert_int_equal(wd.all_rc, 0);
    assert_on_time(wd.all_waited, UCO_MSEC(50), UCO_MSEC(15));
    assert_int_equal(m[0].sleep_rc, 0);
    assert_int_equal(m[1].sleep_rc, 0);
}

/* A waiter that is cancelled leaves at once; the members go on. */
static struct {
    int wait_rc, owner_rc;
    int64_t woke, cancelled_at;
} wc;

static void *group_waiter(void *arg)
{
    wc.wait_rc = uco_group_wait(arg, UCO_NEVER);
    wc.woke = uco_now();
    return NULL;
}

static void *wait_cancelled_main(void *arg)
{
    uco_group *g;
    uco_task *w;
    (void)arg;
    m[0].ns = UCO_MSEC(40);
    g = create(0);
    gspawn(g, 0);
    if (uco_spawn(&w, group_waiter, g, NULL) < 0)
        bad++;
    uco_sleep(UCO_MSEC(5));
    wc.cancelled_at = uco_now();
    uco_cancel(w);
    if (uco_join(w, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    wc.owner_rc = uco_group_wait(g, UCO_NEVER);
    uco_group_destroy(g);
    return NULL;
}

static void test_group_wait_cancelled(void **state)
{
    (void)state;
    memset(&wc, 0, sizeof wc);
    assert_int_equal(run_main(wait_cancelled_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(wc.wait_rc, -ECANCELED);
    assert_on_time(wc.woke - wc.cancelled_at, 0, UCO_MSEC(5));
    assert_int_equal(wc.owner_rc, 0);
    assert_int_equal(m[0].sleep_rc, 0);
}

/* Several tasks wait on one group at once: all wake. */
static struct {
    int rc[3];
    int64_t waited[3]; /* since main started the members */
    int main_rc;
    int64_t t0;
} mw;

static uco_group *mw_group;

static void *one_of_waiters(void *arg)
{
    int i = (int)(intptr_t)arg;
    mw.rc[i] = uco_group_wait(mw_group, UCO_NEVER);
    mw.waited[i] = uco_now() - mw.t0;
    trace_addf(&tr, "w%d", i);
    return NULL;
}

static void *many_waiters_main(void *arg)
{
    uco_task *w[3];
    int i;
    (void)arg;
    m[0].ns = UCO_MSEC(20);
    m[1].ns = UCO_MSEC(10);
    m[0].name = "m0";
    m[1].name = "m1";
    mw_group = create(0);
    mw.t0 = uco_now();
    gspawn(mw_group, 0);
    gspawn(mw_group, 1);
    for (i = 0; i < 3; i++)
        if (uco_spawn(&w[i], one_of_waiters, (void *)(intptr_t)i, NULL) < 0)
            bad++;
    mw.main_rc = uco_group_wait(mw_group, UCO_NEVER);
    trace_add(&tr, "main");
    for (i = 0; i < 3; i++)
        if (uco_join(w[i], NULL, UCO_NEVER) != 0)
            bad++;
    uco_group_destroy(mw_group);
    return NULL;
}

static void test_group_many_waiters(void **state)
{
    int i;
    (void)state;
    memset(&mw, 0, sizeof mw);
    assert_int_equal(run_main(many_waiters_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(mw.main_rc, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(mw.rc[i], 0);
        assert_on_time(mw.waited[i], UCO_MSEC(20), UCO_MSEC(15));
    }
    /* they slept in the order main, w0, w1, w2 and wake in that order */
    assert_string_equal(tr.buf, "m1 m0 main w0 w1 w2");
}

/* ------------------------------------------------------------------ */
/* cancel, status, fail-fast                                          */
/* ------------------------------------------------------------------ */

static struct {
    int cancel_rc, wait_rc, status;
    uint64_t id;
    int64_t waited;
} gc;

static void *cancel_all_main(void *arg)
{
    uco_group *g;
    int64_t t;
    int i;
    (void)arg;
    g = create(0);
    for (i = 0; i < 3; i++) {
        m[i].ns = UCO_SEC(10);
        gspawn(g, i);
    }
    uco_sleep(UCO_MSEC(2));
    t = uco_now();
    gc.cancel_rc = uco_group_cancel(g);
    gc.wait_rc = uco_group_wait(g, UCO_NEVER);
    gc.waited = uco_now() - t;
    gc.status = uco_group_status(g, &gc.id);
    uco_group_destroy(g);
    return NULL;
}

static void test_group_cancel(void **state)
{
    int i, first = -1;
    (void)state;
    memset(&gc, 0, sizeof gc);
    assert_int_equal(run_main(cancel_all_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(gc.cancel_rc, 0);
    assert_int_equal(gc.wait_rc, 0);
    assert_on_time(gc.waited, 0, UCO_MSEC(5));
    for (i = 0; i < 3; i++) {
        assert_int_equal(m[i].sleep_rc, -ECANCELED);
        assert_int_equal(m[i].handler, 1);
        if (m[i].finished == 1)
            first = i;
    }
    /* the members ended cancelled: the first of them is the failure */
    assert_int_equal(gc.status, -ECANCELED);
    assert_true(first >= 0);
    assert_int_equal(gc.id, m[first].id);
}

static struct {
    int before, between, after, ok_status;
    uint64_t id_before, id_between, id_after, ok_id;
    int null_id_status;
} st;

static void *status_main(void *arg)
{
    uco_group *g, *ok;
    (void)arg;
    m[0].ns = UCO_MSEC(1);   /* fine */
    m[1].ns = UCO_MSEC(10);  /* fails first */
    m[1].self_cancel = true;
    m[2].ns = UCO_MSEC(20);  /* fails later */
    m[2].self_cancel = true;
    m[3].ns = UCO_MSEC(1);
    g = create(0);
    gspawn(g, 0);
    gspawn(g, 1);
    gspawn(g, 2);
    st.id_before = 99;
    st.before = uco_group_status(g, &st.id_before);
    uco_sleep(UCO_MSEC(15));
    st.between = uco_group_status(g, &st.id_between);
    uco_group_wait(g, UCO_NEVER);
    st.after = uco_group_status(g, &st.id_after);
    st.null_id_status = uco_group_status(g, NULL);
    uco_group_destroy(g);
    /* a group where nothing fails */
    ok = create(0);
    gspawn(ok, 3);
    uco_group_wait(ok, UCO_NEVER);
    st.ok_id = 99;
    st.ok_status = uco_group_status(ok, &st.ok_id);
    uco_group_destroy(ok);
    return NULL;
}

static void test_group_status(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    assert_int_equal(run_main(status_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(st.before, 0);
    assert_int_equal(st.id_before, 0);
    assert_int_equal(st.between, -ECANCELED);
    assert_int_equal(st.id_between, m[1].id);
    /* still the first failure, not the latest */
    assert_int_equal(st.after, -ECANCELED);
    assert_int_equal(st.id_after, m[1].id);
    assert_int_equal(st.null_id_status, -ECANCELED);
    assert_true(m[1].id != m[2].id);
    assert_int_equal(m[2].sleep_rc, 0); /* not fail-fast: it went on */
    assert_int_equal(st.ok_status, 0);
    assert_int_equal(st.ok_id, 0);
}

static struct {
    int wait_rc, status, wait2_rc, status2;
    uint64_t id, id2;
    int64_t waited, waited2;
    uint64_t victim_id;
} ff;

static void *fail_fast_main(void *arg)
{
    uco_group *g;
    uco_task *victim;
    int64_t t;
    (void)arg;
    /* a member that ends cancelled by itself */
    m[0].ns = m[1].ns = UCO_SEC(10);
    m[2].ns = UCO_MSEC(5);
    m[2].self_cancel = true;
    g = create(UCO_GROUP_FAIL_FAST);
    gspawn(g, 0);
    gspawn(g, 1);
    gspawn(g, 2);
    t = uco_now();
    ff.wait_rc = uco_group_wait(g, UCO_NEVER);
    ff.waited = uco_now() - t;
    ff.status = uco_group_status(g, &ff.id);
    uco_group_destroy(g);
    /* a member cancelled by another task, through its handle */
    m[3].ns = UCO_SEC(10);
    g = create(UCO_GROUP_FAIL_FAST);
    {
        static struct member rest[2];
        memset(rest, 0, sizeof rest);
        rest[0].ns = rest[1].ns = UCO_SEC(10);
        if (uco_group_spawn(g, NULL, member, &rest[0], NULL) < 0 ||
            uco_group_spawn(g, NULL, member, &rest[1], NULL) < 0)
            bad++;
        victim = gspawn(g, 3);
        uco_sleep(UCO_MSEC(2));
        ff.victim_id = uco_task_id(victim);
        t = uco_now();
        uco_cancel(victim);
        ff.wait2_rc = uco_group_wait(g, UCO_NEVER);
        ff.waited2 = uco_now() - t;
        ff.status2 = uco_group_status(g, &ff.id2);
        if (rest[0].sleep_rc != -ECANCELED || rest[1].sleep_rc != -ECANCELED)
            bad++;
    }
    uco_group_destroy(g);
    return NULL;
}

static void test_group_fail_fast(void **state)
{
    (void)state;
    memset(&ff, 0, sizeof ff);
    assert_int_equal(run_main(fail_fast_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ff.wait_rc, 0);
    assert_on_time(ff.waited, UCO_MSEC(5), UCO_MSEC(10));
    assert_int_equal(m[2].sleep_rc, 0);
    assert_int_equal(m[0].sleep_rc, -ECANCELED);
    assert_int_equal(m[1].sleep_rc, -ECANCELED);
    assert_int_equal(m[0].handler, 1);
    assert_int_equal(m[1].handler, 1);
    assert_int_equal(ff.status, -ECANCELED);
    assert_int_equal(ff.id, m[2].id);
    assert_int_equal(ff.wait2_rc, 0);
    assert_on_time(ff.waited2, 0, UCO_MSEC(5));
    assert_int_equal(ff.status2, -ECANCELED);
    assert_int_equal(ff.id2, ff.victim_id);
    assert_int_equal(m[3].id, ff.victim_id);
}

static struct {
    int wait_rc, status;
    uint64_t id;
    int64_t waited;
} nf;

static void *no_fail_fast_main(void *arg)
{
    uco_group *g;
    int64_t t;
    (void)arg;
    m[0].ns = m[1].ns = UCO_MSEC(25);
    m[2].ns = UCO_MSEC(5);
    m[2].self_cancel = true;
    g = create(0);
    gspawn(g, 0);
    gspawn(g, 1);
    gspawn(g, 2);
    t = uco_now();
    nf.wait_rc = uco_group_wait(g, UCO_NEVER);
    nf.waited = uco_now() - t;
    nf.status = uco_group_status(g, &nf.id);
    uco_group_destroy(g);
    return NULL;
}

static void test_group_no_fail_fast(void **state)
{
    (void)state;
    memset(&nf, 0, sizeof nf);
    assert_int_equal(run_main(no_fail_fast_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(nf.wait_rc, 0);
    assert_on_time(nf.waited, UCO_MSEC(25), UCO_MSEC(15));
    assert_int_equal(m[0].sleep_rc, 0);
    assert_int_equal(m[1].sleep_rc, 0);
    assert_int_equal(nf.status, -ECANCELED);
    assert_int_equal(nf.id, m[2].id);
}

/* ------------------------------------------------------------------ */
/* the owner                                                          */
/* ------------------------------------------------------------------ */

static struct {
    int wait_rc, shielded_rc, destroy_rc, outcome;
    int64_t cancelled_at, waited;
    int nested_sleep_rc, nested_handler;
} ow;

/* A member that owns a group of its own with one sleeper in it. */
static void *nested_owner(void *arg)
{
    uco_group *g2 = create(0);
    (void)arg;
    if (uco_group_spawn(g2, NULL, member, &m[2], NULL) < 0)
        bad++;
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *owner(void *arg)
{
    uco_group *g = create(0);
    int64_t t;
    (void)arg;
    gspawn(g, 0);
    gspawn(g, 1);
    if (uco_group_spawn(g, NULL, nested_owner, NULL, NULL) < 0)
        bad++;
    ow.wait_rc = uco_group_wait(g, UCO_NEVER); /* main cancels us here */
    uco_shield(true);
    t = uco_now();
    ow.shielded_rc = uco_group_wait(g, UCO_NEVER); /* they are unwinding */
    ow.waited = uco_now() - t;
    ow.destroy_rc = uco_group_destroy(g);
    return NULL;
}

static void *owner_cancel_main(void *arg)
{
    uco_task *o;
    (void)arg;
    m[0].ns = m[1].ns = m[2].ns = UCO_SEC(10);
    if (uco_spawn(&o, owner, NULL, NULL) < 0)
        bad++;
    uco_sleep(UCO_MSEC(5));
    ow.cancelled_at = uco_now();
    uco_cancel(o);
    ow.outcome = uco_join(o, NULL, UCO_NEVER);
    return NULL;
}

static void test_group_owner_cancelled(void **state)
{
    int i;
    (void)state;
    memset(&ow, 0, sizeof ow);
    assert_int_equal(run_main(owner_cancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ow.wait_rc, -ECANCELED);
    /* the members (and the members of a member's group) were cancelled
     * with the owner: they all unwound at once */
    assert_int_equal(ow.shielded_rc, 0);
    assert_on_time(ow.waited, 0, UCO_MSEC(5));
    for (i = 0; i < 3; i++) {
        assert_int_equal(m[i].sleep_rc, -ECANCELED);
        assert_on_time(m[i].woke - ow.cancelled_at, 0, UCO_MSEC(5));
        assert_int_equal(m[i].handler, 1);
    }
    assert_int_equal(ow.destroy_rc, -ECANCELED);
    assert_int_equal(ow.outcome, -ECANCELED);
}

/* A group its owner leaves behind is destroyed when the owner ends. */
static struct {
    int outcome;
    int handlers_at_join[3];
    int shielded_rc;
} lb;

static void *leaves_group(void *arg)
{
    uco_group *g = create(0);
    (void)arg;
    gspawn(g, 0);
    gspawn(g, 1);
    gspawn(g, 2);
    uco_sleep(UCO_MSEC(2));
    return (void *)1;
}

static void *left_behind_main(void *arg)
{
    uco_task *o;
    uco_group *mine;
    void *r = NULL;
    int i;
    (void)arg;
    m[0].ns = m[1].ns = UCO_SEC(10);
    m[2].ns = UCO_MSEC(20); /* finishes its sleep although cancelled */
    m[2].shielded = true;
    if (uco_spawn(&o, leaves_group, NULL, NULL) < 0)
        bad++;
    lb.outcome = uco_join(o, &r, UCO_NEVER);
    if (r != (void *)1)
        bad++;
    for (i = 0; i < 3; i++)
        lb.handlers_at_join[i] = m[i].handler;
    /* main leaves one behind too: uco_run's end destroys it */
    mine = create(0);
    m[3].ns = UCO_SEC(10);
    gspawn(mine, 3);
    uco_yield(); /* it is asleep */
    return NULL;
}

static void test_group_left_behind(void **state)
{
    int i;
    int64_t start = uco_now();
    (void)state;
    memset(&lb, 0, sizeof lb);
    assert_int_equal(run_main(left_behind_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_on_time(uco_now() - start, UCO_MSEC(20), UCO_MSEC(50));
    /* the owner finished normally: its outcome is its own */
    assert_int_equal(lb.outcome, 0);
    /* by the time the owner could be joined, its members had all ended */
    for (i = 0; i < 3; i++)
        assert_int_equal(lb.handlers_at_join[i], 1);
    assert_int_equal(m[0].sleep_rc, -ECANCELED);
    assert_int_equal(m[1].sleep_rc, -ECANCELED);
    assert_int_equal(m[2].sleep_rc, 0);
    assert_on_time(m[2].woke - start, UCO_MSEC(20), UCO_MSEC(15));
    assert_int_equal(m[3].sleep_rc, -ECANCELED);
    assert_int_equal(m[3].handler, 1);
}

/* ------------------------------------------------------------------ */
/* destroy                                                            */
/* ------------------------------------------------------------------ */

static struct {
    int done_rc, live_rc, failed_rc, slow_rc;
    int handlers_after_live[2];
    int64_t slow_took;
    int slow_sleep_rc;
} de;

static void *destroy_main(void *arg)
{
    uco_group *g;
    int64_t t;
    (void)arg;
    /* everything finished well: 0 */
    m[0].ns = UCO_MSEC(1);
    g = create(0);
    gspawn(g, 0);
    uco_group_wait(g, UCO_NEVER);
    de.done_rc = uco_group_destroy(g);
    /* live members are cancelled and joined before destroy returns */
    m[1].ns = m[2].ns = UCO_SEC(10);
    g = create(0);
    gspawn(g, 1);
    gspawn(g, 2);
    uco_yield();
    de.live_rc = uco_group_destroy(g);
    de.handlers_after_live[0] = m[1].handler;
    de.handlers_after_live[1] = m[2].handler;
    /* a member that must finish a shielded sleep is waited for */
    m[3].ns = UCO_MSEC(20);
    m[3].shielded = true;
    g = create(0);
    t = uco_now(); /* the member starts sleeping after this */
    gspawn(g, 3);
    uco_yield();
    de.slow_rc = uco_group_destroy(g);
    de.slow_took = uco_now() - t;
    de.slow_sleep_rc = m[3].sleep_rc;
    return NULL;
}

static void test_group_destroy(void **state)
{
    (void)state;
    memset(&de, 0, sizeof de);
    assert_int_equal(run_main(destroy_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(de.done_rc, 0);
    /* cancelled members ended cancelled: that is the status */
    assert_int_equal(de.live_rc, -ECANCELED);
    assert_int_equal(de.handlers_after_live[0], 1);
    assert_int_equal(de.handlers_after_live[1], 1);
    assert_int_equal(m[1].sleep_rc, -ECANCELED);
    assert_int_equal(m[2].sleep_rc, -ECANCELED);
    assert_int_equal(de.slow_rc, -ECANCELED);
    assert_int_equal(de.slow_sleep_rc, 0);
    assert_on_time(de.slow_took, UCO_MSEC(20), UCO_MSEC(15));
}

/* A destroy by another task while the owner ends: the owner must wait
 * for it, not spin.  Run in a child so that a hang fails the test instead
 * of the suite. */
static uco_group *shared_group;

static struct {
    int destroy_rc, outcome;
    bool destroyer_done;
} dx;



static void *destroyer(void *arg)
{
    (void)arg;
    dx.destroy_rc = uco_group_destroy(shared_group);
    dx.destroyer_done = true;
    return NULL;
}

/* arg: where to put the destroyer's handle. */
static void *owner_leaving(void *arg)
{
    shared_group = create(0);
    gspawn(shared_group, 0); /* shielded: destroy takes a while */
    if (uco_spawn(arg, destroyer, NULL, NULL) < 0)
        bad++;
    uco_yield(); /* the destroyer waits in uco_group_destroy */
    return NULL; /* and the owner ends, leaving the group to it */
}

static void *destroy_race_main(void *arg)
{
    uco_task *o, *d = NULL;
    (void)arg;
    m[0].ns = UCO_MSEC(20);
    m[0].shielded = true;
    if (uco_spawn(&o, owner_leaving, &d, NULL) < 0)
        bad++;
    dx.outcome = uco_join(o, NULL, UCO_NEVER);
    if (!d || uco_join(d, NULL, UCO_NEVER) != 0)
        bad++;
    return NULL;
}

static void test_group_destroy_while_owner_ends(void **state)
{
    (void)state;
    memset(&dx, 0, sizeof dx);
    assert_int_equal(in_child(destroy_race_main, &dx, sizeof dx), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dx.outcome, 0);
    assert_true(dx.destroyer_done);
    /* the destroyer cancelled the member, which finished its shielded
     * sleep and ended cancelled */
    assert_int_equal(dx.destroy_rc, -ECANCELED);
    assert_int_equal(m[0].sleep_rc, 0);
    assert_int_equal(m[0].handler, 1);
}

/* A member spawned into a cancelled group, or into the group of a
 * cancelled owner, starts cancelled: it never enters its function. */
static struct {
    int spawn_rc[2], wait_rc[2], status[2];
    uint64_t id[2], spawned_id[2];
    int64_t waited;
} sp;

static void *cancelled_owner(void *arg)
{
    uco_group *g = create(0);
    uco_task *t = NULL;
    int64_t t0;
    (void)arg;
    uco_cancel(uco_self());
    m[1].ns = UCO_SEC(10);
    sp.spawn_rc[1] = uco_group_spawn(g, &t, member, &m[1], NULL);
    sp.spawned_id[1] = uco_task_id(t);
    uco_shield(true);
    t0 = uco_now();
    sp.wait_rc[1] = uco_group_wait(g, UCO_NEVER);
    sp.waited = uco_now() - t0;
    sp.status[1] = uco_group_status(g, &sp.id[1]);
    return NULL;
}

static void *spawn_cancelled_main(void *arg)
{
    uco_group *g = create(0);
    uco_task *t = NULL, *o;
    (void)arg;
    m[0].ns = UCO_SEC(10);
    uco_group_cancel(g); /* empty, but cancelled from now on */
    sp.spawn_rc[0] = uco_group_spawn(g, &t, member, &m[0], NULL);
    sp.spawned_id[0] = uco_task_id(t);
    sp.wait_rc[0] = uco_group_wait(g, uco_now() + UCO_SEC(1));
    sp.status[0] = uco_group_status(g, &sp.id[0]);
    uco_group_destroy(g);
    if (uco_spawn(&o, cancelled_owner, NULL, NULL) < 0)
        bad++;
    if (uco_join(o, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_group_spawn_into_cancelled(void **state)
{
    int i;
    (void)state;
    memset(&sp, 0, sizeof sp);
    assert_int_equal(run_main(spawn_cancelled_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(sp.spawn_rc[i], 0);
        assert_int_equal(m[i].finished, 0); /* never entered */
        assert_int_equal(m[i].handler, 0);
        assert_int_equal(sp.wait_rc[i], 0);
        /* it ended cancelled: a failure, with its id */
        assert_int_equal(sp.status[i], -ECANCELED);
        assert_true(sp.spawned_id[i] != 0);
        assert_int_equal(sp.id[i], sp.spawned_id[i]);
    }
    assert_on_time(sp.waited, 0, UCO_MSEC(5));
}

/* A sandboxed member that overflows its stack is a failure: UCO_ESTACK,
 * its handlers ran, and with fail-fast the rest are cancelled.  In a
 * child (see in_child), and before any other test (see main). */
static volatile int no_bottom = -1;

static int dig(int n)
{
    volatile char pad[512];
    pad[n % 512] = (char)n;
    if (n == no_bottom)
        return 0;
    return dig(n + 1) + pad[n % 512];
}

static struct {
    int handler, wait_rc, status;
    uint64_t id, overflow_id;
    int64_t waited;
} ov;

static void *overflows(void *arg)
{
    (void)arg;
    ov.overflow_id = uco_task_id(uco_self());
    uco_defer(count, &ov.handler);
    uco_sleep(UCO_MSEC(5));
    return (void *)(intptr_t)dig(0);
}

static void *overflow_main(void *arg)
{
    uco_attr sandbox = { .stack_size = 32 * 1024, .flags = UCO_SANDBOX };
    uco_group *g;
    int64_t t;
    (void)arg;
    m[0].ns = m[1].ns = UCO_SEC(10);
    g = create(UCO_GROUP_FAIL_FAST);
    gspawn(g, 0);
    if (uco_group_spawn(g, NULL, overflows, NULL, &sandbox) < 0)
        bad++;
    gspawn(g, 1);
    t = uco_now();
    ov.wait_rc = uco_group_wait(g, UCO_NEVER);
    ov.waited = uco_now() - t;
    ov.status = uco_group_status(g, &ov.id);
    uco_group_destroy(g);
    return NULL;
}

static void test_group_overflow_status(void **state)
{
    (void)state;
    memset(&ov, 0, sizeof ov);
    assert_int_equal(in_child(overflow_main, &ov, sizeof ov), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ov.handler, 1);
    assert_int_equal(ov.wait_rc, 0);
    assert_on_time(ov.waited, UCO_MSEC(5), UCO_MSEC(20));
    assert_int_equal(ov.status, UCO_ESTACK);
    assert_int_equal(ov.id, ov.overflow_id);
    assert_int_equal(m[0].sleep_rc, -ECANCELED);
    assert_int_equal(m[1].sleep_rc, -ECANCELED);
}

/* ------------------------------------------------------------------ */
/* rules and bad input                                                */
/* ------------------------------------------------------------------ */

static struct {
    int own_wait, own_wait_deadline;
    int detached_rc, fn_ran, null_task_rc, empty_wait;
    int join_member, cancel_member, member_outcome_status;
    const char *member_name;
    char name_copy[32];
} ru;

static uco_group *rule_group;

static void *waits_on_own_group(void *arg)
{
    (void)arg;
    ru.own_wait = uco_group_wait(rule_group, UCO_NEVER);
    ru.own_wait_deadline = uco_group_wait(rule_group, uco_now() + UCO_SEC(1));
    return NULL;
}

static void *just_runs(void *arg)
{
    (void)arg;
    ru.fn_ran++;
    return NULL;
}

static void *rules_main(void *arg)
{
    uco_attr detached = { .flags = UCO_DETACHED };
    uco_attr named = { .name = "member-x" };
    uco_task *t = NULL;
    (void)arg;
    rule_group = create(0);
    if (uco_group_spawn(rule_group, NULL, waits_on_own_group, NULL, NULL) < 0)
        bad++;
    uco_group_wait(rule_group, UCO_NEVER);
    /* detached members are refused, and nothing runs */
    ru.detached_rc = uco_group_spawn(rule_group, &t, just_runs, NULL,
                                     &detached);
    uco_sleep(UCO_MSEC(1));
    ru.empty_wait = uco_group_wait(rule_group, uco_now());
    /* the handle is optional */
    ru.null_task_rc = uco_group_spawn(rule_group, NULL, just_runs, NULL, NULL);
    uco_group_wait(rule_group, UCO_NEVER);
    /* a member's handle: named and cancelled while it lives, never joined */
    m[0].ns = UCO_SEC(10);
    if (uco_group_spawn(rule_group, &t, member, &m[0], &named) < 0)
        bad++;
    ru.member_name = uco_task_name(t);
    if (ru.member_name)
        snprintf(ru.name_copy, sizeof ru.name_copy, "%s", ru.member_name);
    ru.join_member = uco_join(t, NULL, UCO_NEVER);
    uco_yield();
    ru.cancel_member = uco_cancel(t);
    uco_group_wait(rule_group, UCO_NEVER);
    ru.member_outcome_status = uco_group_status(rule_group, NULL);
    uco_group_destroy(rule_group);
    return NULL;
}

static void test_group_rules(void **state)
{
    (void)state;
    memset(&ru, 0, sizeof ru);
    assert_int_equal(run_main(rules_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ru.own_wait, -EDEADLK);
    assert_int_equal(ru.own_wait_deadline, -EDEADLK);
    assert_int_equal(ru.detached_rc, -EINVAL);
    assert_int_equal(ru.empty_wait, 0);
    assert_int_equal(ru.null_task_rc, 0);
    assert_int_equal(ru.fn_ran, 1); /* the refused one never ran */
    assert_string_equal(ru.name_copy, "member-x");
    assert_int_equal(ru.join_member, -EINVAL);
    assert_int_equal(ru.cancel_member, 0);
    assert_int_equal(m[0].sleep_rc, -ECANCELED);
    assert_int_equal(ru.member_outcome_status, -ECANCELED);
}

static struct {
    int create_null, create_flags, spawn_null, spawn_fn, spawn_flags,
        wait_null, wait_bad_deadline, cancel_null, status_null,
        destroy_null;
    uint64_t id;
} bi;

static void *bad_input_main(void *arg)
{
    uco_attr weird = { .flags = 1u << 9 };
    uco_group *g = NULL;
    uco_task *t;
    (void)arg;
    bi.create_null = uco_group_create(NULL, 0);
    bi.create_flags = uco_group_create(&g, 1u << 7);
    g = create(0);
    bi.spawn_null = uco_group_spawn(NULL, &t, member, &m[0], NULL);
    bi.spawn_fn = uco_group_spawn(g, &t, NULL, NULL, NULL);
    bi.spawn_flags = uco_group_spawn(g, &t, member, &m[0], &weird);
    bi.wait_null = uco_group_wait(NULL, UCO_NEVER);
    bi.wait_bad_deadline = uco_group_wait(g, -7);
    bi.cancel_null = uco_group_cancel(NULL);
    bi.id = 5;
    bi.status_null = uco_group_status(NULL, &bi.id);
    bi.destroy_null = uco_group_destroy(NULL);
    if (uco_group_destroy(g) != 0)
        bad++;
    return NULL;
}

static void test_group_bad_input(void **state)
{
    (void)state;
    memset(&bi, 0, sizeof bi);
    assert_int_equal(run_main(bad_input_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(bi.create_null, -EINVAL);
    assert_int_equal(bi.create_flags, -EINVAL);
    assert_int_equal(bi.spawn_null, -EINVAL);
    assert_int_equal(bi.spawn_fn, -EINVAL);
    assert_int_equal(bi.spawn_flags, -EINVAL);
    assert_int_equal(bi.wait_null, -EINVAL);
    assert_int_equal(bi.wait_bad_deadline, -EINVAL);
    assert_int_equal(bi.cancel_null, -EINVAL);
    assert_int_equal(bi.status_null, -EINVAL);
    assert_int_equal(bi.destroy_null, -EINVAL);
    assert_int_equal(m[0].finished, 0); /* no refused spawn ran */
}

/* Destroy: a member can't, a second destroyer is told to wait, nothing
 * joins a group being destroyed, and the handle is refused afterwards. */
static struct {
    int member_destroy, second_destroy, spawn_during, first_destroy;
    int after[5];
} dr;

static uco_group *dr_group;

static void *destroys_own_group(void *arg)
{
    (void)arg;
    dr.member_destroy = uco_group_destroy(dr_group);
    return NULL;
}

static void *second_destroyer(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(5)); /* main is destroying by then */
    dr.second_destroy = uco_group_destroy(dr_group);
    dr.spawn_during = uco_group_spawn(dr_group, NULL, member, &m[3], NULL);
    return NULL;
}

static void *destroy_rules_main(void *arg)
{
    uco_task *t;
    (void)arg;
    dr_group = create(0);
    if (uco_group_spawn(dr_group, NULL, destroys_own_group, NULL, NULL) < 0)
        bad++;
    uco_group_wait(dr_group, UCO_NEVER);
    m[0].ns = UCO_MSEC(20);
    m[0].shielded = true; /* the destroy takes 20 ms */
    gspawn(dr_group, 0);
    if (uco_spawn(&t, second_destroyer, NULL, NULL) < 0)
        bad++;
    uco_yield(); /* the member sleeps, t sleeps */
    dr.first_destroy = uco_group_destroy(dr_group); /* t wakes meanwhile */
    if (uco_join(t, NULL, UCO_NEVER) != 0)
        bad++;
    dr.after[0] = uco_group_wait(dr_group, UCO_NEVER);
    dr.after[1] = uco_group_cancel(dr_group);
    dr.after[2] = uco_group_status(dr_group, NULL);
    dr.after[3] = uco_group_spawn(dr_group, NULL, member, &m[3], NULL);
    dr.after[4] = uco_group_destroy(dr_group);
    return NULL;
}

/* X, a member of g2, which M owns, M a member of g: X lives inside g (M
 * counts as alive until g2 is finished), so waiting for g or destroying
 * it would wait for X itself. */
static uco_group *outer;
static int nested_wait = 1, nested_destroy = 1;

static void *inner_member(void *arg)
{
    (void)arg;
    nested_wait = uco_group_wait(outer, UCO_NEVER);
    nested_destroy = uco_group_destroy(outer);
    return NULL;
}

static void *outer_member(void *arg)
{
    uco_group *g2 = create(0);
    (void)arg;
    if (uco_group_spawn(g2, NULL, inner_member, NULL, NULL) < 0)
        bad++;
    if (uco_group_wait(g2, UCO_NEVER) != 0)
        bad++;
    return NULL;
}

static void *nested_main(void *arg)
{
    (void)arg;
    outer = create(0);
    if (uco_group_spawn(outer, NULL, outer_member, NULL, NULL) < 0)
        bad++;
    if (uco_group_wait(outer, UCO_NEVER) != 0)
        bad++;
    return (void *)(intptr_t)uco_group_destroy(outer);
}

static void test_group_nested_member_deadlk(void **state)
{
    void *res = (void *)1;
    (void)state;
    assert_int_equal(uco_run(nested_main, NULL, &res), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(nested_wait, -EDEADLK);
    assert_int_equal(nested_destroy, -EDEADLK);
    assert_int_equal((intptr_t)res, 0);
}

static void test_group_destroy_rules(void **state)
{
    int i;
    (void)state;
    memset(&dr, 0, sizeof dr);
    assert_int_equal(run_main(destroy_rules_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dr.member_destroy, -EDEADLK);
    assert_int_equal(dr.second_destroy, -EBUSY);
    assert_int_equal(dr.spawn_during, -EBUSY);
    assert_int_equal(dr.first_destroy, -ECANCELED);
    assert_int_equal(m[0].sleep_rc, 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(dr.after[i], -EINVAL);
    assert_int_equal(m[3].finished, 0);
}

/* Outside a task every call that needs one is refused. */
static void test_group_outside_task(void **state)
{
    /* never dereferenced: the calls must refuse before looking at it */
    static long not_a_group[32];
    uco_group *g = (uco_group *)(void *)not_a_group;
    uco_group *out = NULL;
    uco_task *t = NULL;
    (void)state;
    assert_int_equal(uco_group_create(&out, 0), -EPERM);
    assert_null(out);
    assert_int_equal(uco_group_spawn(g, &t, member, &m[0], NULL), -EPERM);
    assert_null(t);
    assert_int_equal(uco_group_wait(g, UCO_NEVER), -EPERM);
    assert_int_equal(uco_group_cancel(g), -EPERM);
    assert_int_equal(uco_group_destroy(g), -EPERM);
    assert_int_equal(uco_group_status(NULL, NULL), -EINVAL);
    assert_int_equal(m[0].finished, 0);
}

#define T(f) cmocka_unit_test_setup(f, reset)

/* ---- a deep nest of groups, cancelled from a small stack: the walk
 * over owned groups takes no stack per level (it recursed: about 64
 * bytes a level, so 2,000 levels overflowed a 16 KiB stack and killed
 * the process) */

#define NEST 2000

struct nest {
    uco_task *root;
    int leaf_rc;          /* the leaf's sleep */
    int ended;            /* levels whose body returned */
    int root_rc;          /* the root's join */
    int64_t took;         /* from the cancel to the root's end */
};

static struct nest *nest;

static void *nest_level(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    uco_attr small = { 16 * 1024, 0, NULL, 0 };
    uco_group *g;

    if (depth == NEST) {
        nest->leaf_rc = uco_sleep(UCO_SEC(30));
    } else if (uco_group_create(&g, 0) == 0 &&
               uco_group_spawn(g, NULL, nest_level, (void *)(depth + 1), &small) == 0) {
        uco_group_wait(g, UCO_NEVER); /* -ECANCELED; the group is destroyed
                                         when this level ends */
    }
    nest->ended++;
    return NULL;
}

static void *nest_canceller(void *arg)
{
    (void)arg;
    uco_cancel(nest->root);
    return NULL;
}

static void *nest_main(void *arg)
{
    uco_attr small = { 16 * 1024, 0, "canceller", 0 };
    uco_task *c;
    int64_t t0;
    int i;

    (void)arg;
    if (uco_spawn(&nest->root, nest_level, (void *)0, &small) != 0)
        return NULL;
    for (i = 0; i < 4 * NEST && nest->ended == 0 && uco_task_state(nest->root) >= 0; i++)
        uco_yield(); /* every level built, the leaf asleep */
    t0 = uco_now();
    if (uco_spawn(&c, nest_canceller, NULL, &small) != 0)
        return NULL;
    uco_join(c, NULL, UCO_NEVER);
    nest->root_rc = uco_join(nest->root, NULL, UCO_NEVER);
    nest->took = uco_now() - t0;
    return NULL;
}

static void nest_child(void *shared)
{
    nest = shared;
    nest->leaf_rc = 1;
    if (run_main(nest_main, NULL) != 0)
        _exit(3);
}

static void test_group_deep_nest_cancel(void **state)
{
    struct child c;
    struct nest *n;

    (void)state;
    n = run_child(nest_child, &c);
    assert_exit_code(&c, 0);
    assert_int_equal(n->leaf_rc, -ECANCELED);
    assert_int_equal(n->ended, NEST + 1);
    assert_int_equal(n->root_rc, -ECANCELED);
    assert_true(n->took < UCO_SEC(10)); /* not the leaf's full sleep */
    release_shared(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_group_wait_all),
        T(test_group_wait_deadline),
        T(test_group_wait_cancelled),
        T(test_group_many_waiters),
        T(test_group_cancel),
        T(test_group_status),
        T(test_group_fail_fast),
        T(test_group_no_fail_fast),
        T(test_group_owner_cancelled),
        T(test_group_left_behind),
        T(test_group_destroy),
        T(test_group_destroy_while_owner_ends),
        T(test_group_destroy_rules),
        T(test_group_spawn_into_cancelled),
        T(test_group_rules),
        T(test_group_nested_member_deadlk),
        T(test_group_bad_input),
        T(test_group_outside_task),
        T(test_group_deep_nest_cancel),
    };
    /* The library installs its SIGSEGV handler once, when the process
     * first starts a scheduler, and cmocka replaces it around every test:
     * a sandbox overflow is contained only in a child of a process that
     * has not started a scheduler yet.  So that test runs first. */
    const struct CMUnitTest first[] = {
        T(test_group_overflow_status),
    };
    int failed = cmocka_run_group_tests(first, NULL, NULL);
    return failed + cmocka_run_group_tests(tests, NULL, NULL);
}
