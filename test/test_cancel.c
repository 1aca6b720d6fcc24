/*
 * test_cancel - the cancellation contract: the unwinding flag, shields,
 * deferred handlers, join outcomes, what uco_run does with the tasks main
 * leaves behind, stale handles and deadlock.
 *
 * Every test starts a fresh scheduler with uco_run.  The tasks only record
 * what they saw (in a per-test struct and in the trace); the assertions run
 * after uco_run has returned.  `bad` counts set-up steps inside tasks that
 * failed (a spawn refused, ...) and is checked by every test.
 */
#define FIXTURE_OWN_SPAWN
#include "fixture.h"
#include "child.h"



/* Spawn or count the failure. */
static uco_task *spawn(uco_fn *fn, void *arg, unsigned flags)
{
    uco_attr a = { .flags = flags };
    uco_task *t = NULL;
    if (uco_spawn(flags & UCO_DETACHED ? NULL : &t, fn, arg, &a) < 0)
        bad++;
    return t;
}

/* Handlers: append the word to the trace / count a run. */
static void note(void *word)
{
    trace_add(&tr, word);
}

static void count(void *counter)
{
    ++*(int *)counter;
}

/* Let a whole millisecond of the clock go by without suspending. */
static void spin_until(int64_t t)
{
    while (uco_now() < t)
        ;
}

/* A task that sleeps for 10 s, and what it saw. */
struct sleeper {
    int rc;          /* uco_sleep's return */
    int64_t woke;    /* when it returned */
    bool flag;       /* uco_cancelled() then */
    int handler;     /* runs of its deferred handler */
};

static void *sleep_10s(void *arg)
{
    struct sleeper *s = arg;
    if (uco_defer(count, &s->handler) < 0)
        bad++;
    s->rc = uco_sleep(UCO_SEC(10));
    s->woke = uco_now();
    s->flag = uco_cancelled();
    trace_add(&tr, "woke");
    return arg;
}

/* ------------------------------------------------------------------ */
/* cancel sets the flag, returns at once, and wakes what is suspended  */
/* ------------------------------------------------------------------ */

static struct {
    struct sleeper s;
    int cancel_rc, join_rc;
    int64_t cancelled_at;
    void *result;
} wk;

static void *wake_sleeper_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(sleep_10s, &wk.s, 0);
    uco_sleep(UCO_MSEC(5)); /* t is asleep now */
    wk.cancelled_at = uco_now();
    wk.cancel_rc = uco_cancel(t);
    trace_add(&tr, "cancel-returned");
    wk.join_rc = uco_join(t, &wk.result, UCO_NEVER);
    trace_add(&tr, "joined");
    return NULL;
}

static void test_cancel_wakes_sleeper(void **state)
{
    int64_t start = uco_now();
    (void)state;
    memset(&wk, 0, sizeof wk);
    assert_int_equal(run_main(wake_sleeper_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(wk.cancel_rc, 0);
    /* uco_cancel did not wait for the task: it ran only after main joined */
    assert_string_equal(tr.buf, "cancel-returned woke joined");
    assert_int_equal(wk.s.rc, -ECANCELED);
    assert_true(wk.s.flag);
    assert_on_time(wk.s.woke - wk.cancelled_at, 0, UCO_MSEC(5));
    assert_on_time(uco_now() - start, UCO_MSEC(5), UCO_MSEC(50));
    assert_int_equal(wk.join_rc, -ECANCELED);
    assert_ptr_equal(wk.result, &wk.s);
    assert_int_equal(wk.s.handler, 1);
}

/* A joiner blocked in uco_join is woken; the target runs on, joinable. */
static struct {
    int target_sleep_rc;
    bool target_done;
    int join_rc;          /* the cancelled joiner's uco_join */
    int64_t woke;
    bool target_done_then;
    int64_t cancelled_at;
    int joiner_outcome, target_outcome;
    void *target_result;
} jw;

static void *nap_50ms(void *arg)
{
    jw.target_sleep_rc = uco_sleep(UCO_MSEC(50));
    jw.target_done = true;
    return arg;
}

static void *joiner(void *arg)
{
    jw.join_rc = uco_join(arg, NULL, UCO_NEVER);
    jw.woke = uco_now();
    jw.target_done_then = jw.target_done;
    return NULL;
}

static void *wake_joiner_main(void *arg)
{
    uco_task *t, *j;
    (void)arg;
    t = spawn(nap_50ms, (void *)7, 0);
    j = spawn(joiner, t, 0);
    uco_sleep(UCO_MSEC(5)); /* j is blocked joining t */
    jw.cancelled_at = uco_now();
    if (uco_cancel(j) < 0)
        bad++;
    jw.joiner_outcome = uco_join(j, NULL, UCO_NEVER);
    jw.target_outcome = uco_join(t, &jw.target_result, UCO_NEVER);
    return NULL;
}

static void test_cancel_wakes_joiner(void **state)
{
    (void)state;
    memset(&jw, 0, sizeof jw);
    assert_int_equal(run_main(wake_joiner_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(jw.join_rc, -ECANCELED);
    assert_on_time(jw.woke - jw.cancelled_at, 0, UCO_MSEC(5));
    assert_false(jw.target_done_then);
    assert_int_equal(jw.joiner_outcome, -ECANCELED);
    /* the target was not disturbed and is still joinable */
    assert_int_equal(jw.target_outcome, 0);
    assert_int_equal(jw.target_sleep_rc, 0);
    assert_ptr_equal(jw.target_result, (void *)7);
}

/* ------------------------------------------------------------------ */
/* level-triggered: every suspension point returns -ECANCELED at once  */
/* ------------------------------------------------------------------ */

enum { LV_ROUNDS = 3, LV_CALLS = 8 };

static struct {
    struct sleeper other; /* a running join target */
    uco_task *other_task;
    int first;
    int rc[LV_ROUNDS][LV_CALLS];
    int64_t elapsed;
    long ticks, ticks_during;
    int ticker_rc;
    bool flag;
    int other_outcome;
} lv;

/* Counts how often it gets the processor; stops when cancelled. */
static void *ticker(void *arg)
{
    int rc;
    (void)arg;
    while ((rc = uco_yield()) == 0)
        lv.ticks++;
    lv.ticker_rc = rc;
    return NULL;
}

static void *level_task(void *arg)
{
    int64_t t0;
    long ticks0;
    int i;
    (void)arg;
    lv.first = uco_sleep(UCO_SEC(10));
    t0 = uco_now();
    ticks0 = lv.ticks;
    for (i = 0; i < LV_ROUNDS; i++) {
        int *rc = lv.rc[i];
        rc[0] = uco_yield();
        rc[1] = uco_sleep(UCO_SEC(1));
        rc[2] = uco_sleep_until(uco_now() + UCO_SEC(1));
        rc[3] = uco_sleep_until(UCO_NEVER);
        rc[4] = uco_sleep(0);
        rc[5] = uco_join(lv.other_task, NULL, UCO_NEVER);
        rc[6] = uco_join(lv.other_task, NULL, uco_now() + UCO_SEC(1));
        rc[7] = uco_sleep_until(uco_now() - 1); /* already past */
    }
    lv.elapsed = uco_now() - t0;
    lv.ticks_during = lv.ticks - ticks0;
    lv.flag = uco_cancelled();
    return NULL;
}

static void *level_main(void *arg)
{
    uco_task *l;
    (void)arg;
    lv.other_task = spawn(sleep_10s, &lv.other, 0);
    l = spawn(level_task, NULL, 0);
    spawn(ticker, NULL, UCO_DETACHED);
    uco_sleep(UCO_MSEC(5));
    if (uco_cancel(l) < 0)
        bad++;
    if (uco_join(l, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    /* the level task's joins left the target alone */
    uco_cancel(lv.other_task);
    lv.other_outcome = uco_join(lv.other_task, NULL, UCO_NEVER);
    return NULL; /* the ticker is cancelled by uco_run */
}

static void test_level_triggered(void **state)
{
    int i, j;
    (void)state;
    memset(&lv, 0, sizeof lv);
    assert_int_equal(run_main(level_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(lv.first, -ECANCELED);
    for (i = 0; i < LV_ROUNDS; i++)
        for (j = 0; j < LV_CALLS; j++) {
            if (lv.rc[i][j] != -ECANCELED)
                print_error("round %d call %d: %d\n", i, j, lv.rc[i][j]);
            assert_int_equal(lv.rc[i][j], -ECANCELED);
        }
    assert_true(lv.flag);
    /* nothing suspended: no other task ran, no time went by */
    assert_int_equal(lv.ticks_during, 0);
    assert_on_time(lv.elapsed, 0, UCO_MSEC(5));
    assert_true(lv.ticks > 0);
    assert_int_equal(lv.ticker_rc, -ECANCELED);
    assert_int_equal(lv.other.rc, -ECANCELED);
    assert_int_equal(lv.other_outcome, -ECANCELED);
}

/* ------------------------------------------------------------------ */
/* shields                                                            */
/* ------------------------------------------------------------------ */

static struct {
    struct sleeper other;
    uco_task *other_task;
    int woken_rc;
    int prev_on, prev_on_again, prev_off, prev_off_again;
    bool flag_shielded;
    int sleep_rc, yield_rc, join_rc;
    int64_t slept, join_waited;
    int after_yield, after_sleep, after_join;
    int64_t after_elapsed;
    int main_prev;
} sh;

static void *shield_task(void *arg)
{
    int64_t t;
    (void)arg;
    sh.woken_rc = uco_sleep(UCO_SEC(10));
    sh.prev_on = uco_shield(true);
    sh.prev_on_again = uco_shield(true);
    sh.flag_shielded = uco_cancelled();
    t = uco_now();
    sh.sleep_rc = uco_sleep(UCO_MSEC(30));
    sh.slept = uco_now() - t;
    sh.yield_rc = uco_yield();
    t = uco_now();
    sh.join_rc = uco_join(sh.other_task, NULL, t + UCO_MSEC(20));
    sh.join_waited = uco_now() - t;
    sh.prev_off = uco_shield(false);
    sh.prev_off_again = uco_shield(false);
    t = uco_now();
    sh.after_yield = uco_yield();
    sh.after_sleep = uco_sleep(UCO_SEC(1));
    sh.after_join = uco_join(sh.other_task, NULL, UCO_NEVER);
    sh.after_elapsed = uco_now() - t;
    return NULL;
}

static void *shield_main(void *arg)
{
    uco_task *s;
    (void)arg;
    sh.other_task = spawn(sleep_10s, &sh.other, 0);
    s = spawn(shield_task, NULL, 0);
    uco_sleep(UCO_MSEC(5));
    if (uco_cancel(s) < 0)
        bad++;
    uco_sleep(UCO_MSEC(5)); /* s is in its shielded sleep */
    sh.main_prev = uco_shield(false); /* shields are per task */
    if (uco_join(s, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    uco_cancel(sh.other_task);
    uco_join(sh.other_task, NULL, UCO_NEVER);
    return NULL;
}

static void test_shield(void **state)
{
    (void)state;
    memset(&sh, 0, sizeof sh);
    assert_int_equal(run_main(shield_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(sh.woken_rc, -ECANCELED);
    /* uco_shield returns the previous state */
    assert_int_equal(sh.prev_on, 0);
    assert_int_equal(sh.prev_on_again, 1);
    assert_int_equal(sh.prev_off, 1);
    assert_int_equal(sh.prev_off_again, 0);
    assert_int_equal(sh.main_prev, 0);
    /* shielded, the flag stays set but every call blocks normally */
    assert_true(sh.flag_shielded);
    assert_int_equal(sh.sleep_rc, 0);
    assert_on_time(sh.slept, UCO_MSEC(30), UCO_MSEC(15));
    assert_int_equal(sh.yield_rc, 0);
    assert_int_equal(sh.join_rc, -ETIMEDOUT);
    assert_on_time(sh.join_waited, UCO_MSEC(20), UCO_MSEC(15));
    /* lowered: the flag is seen again, at once */
    assert_int_equal(sh.after_yield, -ECANCELED);
    assert_int_equal(sh.after_sleep, -ECANCELED);
    assert_int_equal(sh.after_join, -ECANCELED);
    assert_on_time(sh.after_elapsed, 0, UCO_MSEC(5));
    assert_int_equal(sh.other.rc, -ECANCELED);
}

/* A task cancelled while it sleeps shielded sleeps its full time. */
static struct {
    int sleep_rc, prev_off, after;
    int64_t started, woke, cancelled_at;
    bool flag_before, flag_after;
} sb;

static void *shielded_sleeper(void *arg)
{
    (void)arg;
    if (uco_shield(true) != 0)
        bad++;
    sb.started = uco_now();
    sb.flag_before = uco_cancelled();
    sb.sleep_rc = uco_sleep(UCO_MSEC(40));
    sb.woke = uco_now();
    sb.flag_after = uco_cancelled();
    sb.prev_off = uco_shield(false);
    sb.after = uco_yield();
    return NULL;
}

static void *shield_before_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(shielded_sleeper, NULL, 0);
    uco_sleep(UCO_MSEC(5));
    sb.cancelled_at = uco_now();
    if (uco_cancel(t) < 0)
        bad++;
    if (uco_join(t, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_shield_sleeps_full_time(void **state)
{
    (void)state;
    memset(&sb, 0, sizeof sb);
    assert_int_equal(run_main(shield_before_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_false(sb.flag_before);
    assert_true(sb.cancelled_at < sb.started + UCO_MSEC(40));
    assert_int_equal(sb.sleep_rc, 0);
    assert_on_time(sb.woke - sb.started, UCO_MSEC(40), UCO_MSEC(15));
    assert_true(sb.flag_after);
    assert_int_equal(sb.prev_off, 1);
    assert_int_equal(sb.after, -ECANCELED);
}

/* uco_cancelled reports the calling task's flag; false outside a task. */
static struct {
    bool main_before, t_before, t_after, main_after;
    int t_yield;
} fl;

static void *flag_task(void *arg)
{
    (void)arg;
    fl.t_before = uco_cancelled();
    fl.t_yield = uco_yield(); /* main cancels it while it is ready */
    fl.t_after = uco_cancelled();
    return NULL;
}

static void *flag_main(void *arg)
{
    uco_task *t;
    (void)arg;
    fl.main_before = uco_cancelled();
    t = spawn(flag_task, NULL, 0);
    uco_yield(); /* t runs and yields back */
    if (uco_cancel(t) < 0)
        bad++;
    fl.main_after = uco_cancelled();
    uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_cancelled_flag(void **state)
{
    (void)state;
    memset(&fl, 0, sizeof fl);
    assert_false(uco_cancelled());
    assert_int_equal(uco_shield(true), -EPERM);
    assert_int_equal(uco_shield(false), -EPERM);
    assert_int_equal(run_main(flag_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_false(uco_cancelled());
    assert_false(fl.main_before);
    assert_false(fl.t_before);
    /* cancelled while ready, not suspended: the resumed yield reports it */
    assert_int_equal(fl.t_yield, -ECANCELED);
    assert_true(fl.t_after);
    assert_false(fl.main_after);
}

/* ------------------------------------------------------------------ */
/* harmless cases: before it ran, twice, finished, itself              */
/* ------------------------------------------------------------------ */

static struct {
    int entered, handler;
    int cancel_rc, join_rc, late_join_rc;
    void *result;
} br;

static void *never_enters(void *arg)
{
    (void)arg;
    br.entered++;
    uco_defer(count, &br.handler);
    trace_add(&tr, "entered");
    return (void *)1;
}

static void *before_run_main(void *arg)
{
    uco_task *t, *u;
    (void)arg;
    t = spawn(never_enters, NULL, 0);
    br.cancel_rc = uco_cancel(t);
    br.result = (void *)99;
    br.join_rc = uco_join(t, &br.result, UCO_NEVER);
    /* the same when the scheduler gets to it before anyone joins */
    u = spawn(never_enters, NULL, 0);
    uco_cancel(u);
    uco_sleep(UCO_MSEC(2));
    br.late_join_rc = uco_join(u, NULL, UCO_NEVER);
    return NULL;
}

static void test_cancel_before_run(void **state)
{
    (void)state;
    memset(&br, 0, sizeof br);
    assert_int_equal(run_main(before_run_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(br.cancel_rc, 0);
    assert_int_equal(br.entered, 0);
    assert_int_equal(br.handler, 0);
    assert_string_equal(tr.buf, "");
    assert_int_equal(br.join_rc, -ECANCELED);
    assert_null(br.result);
    assert_int_equal(br.late_join_rc, -ECANCELED);
}

static struct {
    struct sleeper s;
    int rc1, rc2, rc3, join_rc;
} tw;

static void *twice_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(sleep_10s, &tw.s, 0);
    uco_sleep(UCO_MSEC(2));
    tw.rc1 = uco_cancel(t);
    tw.rc2 = uco_cancel(t);
    uco_yield(); /* it unwinds meanwhile */
    tw.rc3 = uco_cancel(t);
    tw.join_rc = uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_cancel_twice(void **state)
{
    (void)state;
    memset(&tw, 0, sizeof tw);
    assert_int_equal(run_main(twice_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(tw.rc1, 0);
    assert_int_equal(tw.rc2, 0);
    assert_int_equal(tw.rc3, 0);
    assert_int_equal(tw.s.rc, -ECANCELED);
    assert_string_equal(tr.buf, "woke"); /* woken once */
    assert_int_equal(tw.s.handler, 1);
    assert_int_equal(tw.join_rc, -ECANCELED);
}

static struct {
    bool done;
    int rc1, rc2, join_rc;
    void *result;
} fin;

static void *finishes(void *arg)
{
    fin.done = true;
    return arg;
}

static void *finished_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(finishes, (void *)5, 0);
    uco_sleep(UCO_MSEC(1));
    if (!fin.done)
        bad++;
    fin.rc1 = uco_cancel(t);
    fin.rc2 = uco_cancel(t);
    fin.join_rc = uco_join(t, &fin.result, UCO_NEVER);
    return NULL;
}

static void test_cancel_finished(void **state)
{
    (void)state;
    memset(&fin, 0, sizeof fin);
    assert_int_equal(run_main(finished_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fin.rc1, 0);
    assert_int_equal(fin.rc2, 0);
    /* the outcome was fixed when it finished */
    assert_int_equal(fin.join_rc, 0);
    assert_ptr_equal(fin.result, (void *)5);
}

static struct {
    int cancel_rc, yield1, yield2, sleep_rc, join_rc;
    bool flag;
    void *result;
} sc;

static void *cancels_itself(void *arg)
{
    sc.cancel_rc = uco_cancel(uco_self());
    sc.flag = uco_cancelled();
    trace_add(&tr, "self-cancelled");
    sc.yield1 = uco_yield();
    sc.yield2 = uco_yield();
    sc.sleep_rc = uco_sleep(UCO_SEC(5));
    trace_add(&tr, "unwound");
    return arg;
}

static void *self_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(cancels_itself, (void *)3, 0);
    sc.join_rc = uco_join(t, &sc.result, UCO_NEVER);
    trace_add(&tr, "joined");
    return NULL;
}

static void test_self_cancel(void **state)
{
    (void)state;
    memset(&sc, 0, sizeof sc);
    assert_int_equal(run_main(self_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(sc.cancel_rc, 0);
    assert_true(sc.flag);
    assert_int_equal(sc.yield1, -ECANCELED);
    assert_int_equal(sc.yield2, -ECANCELED);
    assert_int_equal(sc.sleep_rc, -ECANCELED);
    assert_string_equal(tr.buf, "self-cancelled unwound joined");
    assert_int_equal(sc.join_rc, -ECANCELED);
    assert_ptr_equal(sc.result, (void *)3);
}

/* ------------------------------------------------------------------ */
/* deferred handlers                                                  */
/* ------------------------------------------------------------------ */

static struct {
    int rc[8];
    int join_rc;
    void *result;
    int count[4];
} df;

static void *defers_and_returns(void *arg)
{
    df.rc[0] = uco_defer(note, "h1");
    df.rc[1] = uco_defer(note, "h2");
    df.rc[2] = uco_defer(note, "h3");
    trace_add(&tr, "return");
    return arg;
}

static void *defer_return_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(defers_and_returns, (void *)11, 0);
    df.join_rc = uco_join(t, &df.result, UCO_NEVER);
    trace_add(&tr, "joined");
    return NULL;
}

static void test_defer_on_return(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(defer_return_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(df.rc[0], 0);
    assert_int_equal(df.rc[1], 0);
    assert_int_equal(df.rc[2], 0);
    assert_string_equal(tr.buf, "return h3 h2 h1 joined");
    assert_int_equal(df.join_rc, 0);
    assert_ptr_equal(df.result, (void *)11);
}

static volatile int exit_depth = 20;
static volatile bool exit_at_bottom = true; /* keeps a way back: no warning */

/* Calls uco_exit((void *)9) n frames deep. */
static void nested_exit(int n)
{
    if (n > 0)
        nested_exit(n - 1);
    else if (exit_at_bottom)
        uco_exit((void *)9);
    trace_add(&tr, "after-exit"); /* never */
}

static void *defers_and_exits(void *arg)
{
    (void)arg;
    uco_defer(note, "h1");
    uco_defer(note, "h2");
    trace_add(&tr, "exit");
    nested_exit(exit_depth);
    trace_add(&tr, "after-exit"); /* never */
    return NULL;
}

static void *defer_exit_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(defers_and_exits, NULL, 0);
    df.join_rc = uco_join(t, &df.result, UCO_NEVER);
    return NULL;
}

static void test_defer_on_exit(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(defer_exit_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "exit h2 h1");
    assert_int_equal(df.join_rc, 0);
    assert_ptr_equal(df.result, (void *)9);
}

static void *defers_and_sleeps(void *arg)
{
    (void)arg;
    uco_defer(note, "h1");
    uco_defer(note, "h2");
    df.rc[0] = uco_sleep(UCO_SEC(10));
    trace_add(&tr, "woke");
    return (void *)12;
}

static void *defer_cancel_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(defers_and_sleeps, NULL, 0);
    uco_sleep(UCO_MSEC(2));
    trace_add(&tr, "cancel");
    uco_cancel(t);
    df.join_rc = uco_join(t, &df.result, UCO_NEVER);
    return NULL;
}

static void test_defer_on_cancel(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(defer_cancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(df.rc[0], -ECANCELED);
    assert_string_equal(tr.buf, "cancel woke h2 h1");
    assert_int_equal(df.join_rc, -ECANCELED);
    assert_ptr_equal(df.result, (void *)12);
}

/* The function never ran: it pushed nothing, and nothing runs. */
static void *would_defer(void *arg)
{
    (void)arg;
    uco_defer(count, &df.count[0]);
    df.count[1]++;
    return NULL;
}

static void *defer_before_run_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(would_defer, NULL, 0);
    uco_cancel(t);
    df.join_rc = uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_defer_cancel_before_run(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(defer_before_run_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(df.join_rc, -ECANCELED);
    assert_int_equal(df.count[1], 0);
    assert_int_equal(df.count[0], 0);
}

/* Handlers run shielded: in a cancelled task they can still block. */
static struct {
    int sleep_rc, yield_rc;
    bool flag;
    int64_t slept;
    int done;
} hs;

static void blocking_handler(void *arg)
{
    int64_t t = uco_now();
    (void)arg;
    hs.flag = uco_cancelled();
    hs.sleep_rc = uco_sleep(UCO_MSEC(20));
    hs.slept = uco_now() - t;
    hs.yield_rc = uco_yield();
    hs.done++;
}

static void *cancelled_with_blocking_handler(void *arg)
{
    (void)arg;
    uco_defer(blocking_handler, NULL);
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *shielded_handler_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(cancelled_with_blocking_handler, NULL, 0);
    uco_sleep(UCO_MSEC(2));
    uco_cancel(t);
    if (uco_join(t, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_defer_handlers_shielded(void **state)
{
    (void)state;
    memset(&hs, 0, sizeof hs);
    assert_int_equal(run_main(shielded_handler_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(hs.done, 1);
    assert_true(hs.flag);
    assert_int_equal(hs.sleep_rc, 0);
    assert_on_time(hs.slept, UCO_MSEC(20), UCO_MSEC(15));
    assert_int_equal(hs.yield_rc, 0);
}

/* uco_undefer(true) runs and pops, (false) pops only, -ENOENT when empty. */
static void *undefers(void *arg)
{
    (void)arg;
    df.rc[0] = uco_undefer(true); /* nothing yet */
    df.rc[1] = uco_undefer(false);
    uco_defer(note, "h1");
    uco_defer(note, "h2");
    uco_defer(note, "h3");
    df.rc[2] = uco_undefer(true); /* h3 runs now */
    trace_add(&tr, "a");
    df.rc[3] = uco_undefer(false); /* h2 never runs */
    trace_add(&tr, "b");
    df.rc[4] = uco_undefer(true); /* h1 */
    df.rc[5] = uco_undefer(true); /* empty again */
    df.rc[6] = uco_defer(note, "h4"); /* still usable */
    trace_add(&tr, "return");
    return NULL;
}

static void *undefer_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(undefers, NULL, 0);
    df.join_rc = uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_undefer(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(undefer_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(df.rc[0], -ENOENT);
    assert_int_equal(df.rc[1], -ENOENT);
    assert_int_equal(df.rc[2], 0);
    assert_int_equal(df.rc[3], 0);
    assert_int_equal(df.rc[4], 0);
    assert_int_equal(df.rc[5], -ENOENT);
    assert_int_equal(df.rc[6], 0);
    assert_string_equal(tr.buf, "h3 a b h1 return h4");
    assert_int_equal(df.join_rc, 0);
}

/* Far more than the inline storage holds. */
enum { MANY = 100 };

static struct {
    int ran[MANY];
    int order[MANY];
    int n;
    int push_fail;
    int undefer_rc[5];
} mh;

static void record_index(void *arg)
{
    int i = (int)(intptr_t)arg;
    mh.ran[i]++;
    if (mh.n < MANY)
        mh.order[mh.n++] = i;
}

static void *many_handlers(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < MANY; i++)
        if (uco_defer(record_index, (void *)(intptr_t)i) != 0)
            mh.push_fail++;
    mh.undefer_rc[0] = uco_undefer(true);  /* 99 */
    mh.undefer_rc[1] = uco_undefer(true);  /* 98 */
    mh.undefer_rc[2] = uco_undefer(false); /* 97: dropped */
    mh.undefer_rc[3] = uco_undefer(false); /* 96: dropped */
    mh.undefer_rc[4] = uco_undefer(true);  /* 95 */
    return NULL;                           /* 94 .. 0 */
}

static void *many_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(many_handlers, NULL, 0);
    if (uco_join(t, NULL, UCO_NEVER) != 0)
        bad++;
    return NULL;
}

static void test_defer_many(void **state)
{
    int i;
    (void)state;
    memset(&mh, 0, sizeof mh);
    assert_int_equal(run_main(many_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(mh.push_fail, 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(mh.undefer_rc[i], 0);
    assert_int_equal(mh.n, MANY - 2);
    assert_int_equal(mh.order[0], 99);
    assert_int_equal(mh.order[1], 98);
    assert_int_equal(mh.order[2], 95);
    for (i = 3; i < MANY - 2; i++)
        assert_int_equal(mh.order[i], MANY - 3 - i);
    for (i = 0; i < MANY; i++)
        assert_int_equal(mh.ran[i], i == 97 || i == 96 ? 0 : 1);
}

/* Outside a task: -EPERM; a NULL handler: -EINVAL and nothing pushed. */
static void *null_handler(void *arg)
{
    (void)arg;
    df.rc[0] = uco_defer(NULL, &df);
    df.rc[1] = uco_undefer(false);
    return NULL;
}

static void *null_handler_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(null_handler, NULL, 0);
    df.join_rc = uco_join(t, NULL, UCO_NEVER);
    df.rc[2] = uco_defer(NULL, NULL); /* main is a task too */
    return NULL;
}

static void test_defer_bad_calls(void **state)
{
    int c = 0;
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(uco_defer(count, &c), -EPERM);
    assert_int_equal(uco_undefer(true), -EPERM);
    assert_int_equal(uco_undefer(false), -EPERM);
    assert_int_equal(run_main(null_handler_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(df.rc[0], -EINVAL);
    assert_int_equal(df.rc[1], -ENOENT);
    assert_int_equal(df.rc[2], -EINVAL);
    assert_int_equal(df.join_rc, 0);
    /* and again once the scheduler is gone */
    assert_int_equal(uco_defer(count, &c), -EPERM);
    assert_int_equal(uco_undefer(true), -EPERM);
    assert_int_equal(c, 0);
}

/* A handler that calls uco_exit ends itself; the others run once each. */
static void exiting_handler(void *arg)
{
    df.count[1]++;
    trace_add(&tr, arg);
    uco_exit((void *)77);
}

static void counting_note(void *arg)
{
    const char *w = arg;
    df.count[w[1] - '0']++;
    trace_add(&tr, w);
}

static void *handler_exits(void *arg)
{
    (void)arg;
    uco_defer(counting_note, "h0");
    uco_defer(exiting_handler, "h1");
    uco_defer(counting_note, "h2");
    trace_add(&tr, "return");
    return (void *)5;
}

static void *handler_exit_main(void *arg)
{
    uco_task *t;
    (void)arg;
    t = spawn(handler_exits, NULL, 0);
    df.join_rc = uco_join(t, NULL, UCO_NEVER);
    return NULL;
}

static void test_defer_handler_exits(void **state)
{
    (void)state;
    memset(&df, 0, sizeof df);
    assert_int_equal(run_main(handler_exit_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "return h2 h1 h0");
    assert_int_equal(df.count[0], 1);
    assert_int_equal(df.count[1], 1);
    assert_int_equal(df.count[2], 1);
    assert_int_equal(df.join_rc, 0);
}

/* ------------------------------------------------------------------ */
/* join outcomes; cancellation wins over a passed deadline             */
/* ------------------------------------------------------------------ */

static struct {
    int rc[4];
    void *result[4];
    int handler_sleep;
} jo;

static void *cancelled_exits(void *arg)
{
    (void)arg;
    uco_sleep(UCO_SEC(10));
    nested_exit(3); /* result 9 */
    return NULL;
}

static void slow_handler(void *arg)
{
    (void)arg;
    jo.handler_sleep = uco_sleep(UCO_MSEC(10));
}

static void *returns_with_slow_handler(void *arg)
{
    uco_defer(slow_handler, NULL);
    return arg;
}

static void *join_outcome_main(void *arg)
{
    struct sleeper s = { 0, 0, false, 0 };
    uco_task *t[3];
    int i;
    (void)arg;
    t[0] = spawn(sleep_10s, &s, 0);            /* returns &s */
    t[1] = spawn(cancelled_exits, NULL, 0);    /* uco_exit(9) */
    t[2] = spawn(returns_with_slow_handler, (void *)44, 0);
    uco_sleep(UCO_MSEC(2)); /* t[2] is in its handler */
    for (i = 0; i < 3; i++)
        uco_cancel(t[i]); /* t[2] has finished: its outcome is fixed */
    for (i = 0; i < 3; i++)
        jo.rc[i] = uco_join(t[i], &jo.result[i], UCO_NEVER);
    if (jo.result[0] != &s)
        bad++;
    return NULL;
}

static void test_join_outcome(void **state)
{
    (void)state;
    memset(&jo, 0, sizeof jo);
    assert_int_equal(run_main(join_outcome_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(jo.rc[0], -ECANCELED);
    assert_int_equal(jo.rc[1], -ECANCELED);
    assert_ptr_equal(jo.result[1], (void *)9);
    assert_int_equal(jo.rc[2], 0);
    assert_ptr_equal(jo.result[2], (void *)44);
    assert_int_equal(jo.handler_sleep, 0);
}

static struct {
    int64_t deadline[3];
    int rc[3];
    int64_t cancelled_at;
} dl;

static void *sleeps_5ms(void *arg)
{
    int i = (int)(intptr_t)arg;
    dl.deadline[i] = uco_now() + UCO_MSEC(5);
    dl.rc[i] = i == 0 ? uco_sleep_until(dl.deadline[i])
                      : uco_sleep(UCO_MSEC(5));
    return NULL;
}

static void *joins_5ms(void *arg)
{
    dl.deadline[2] = uco_now() + UCO_MSEC(5);
    dl.rc[2] = uco_join(arg, NULL, dl.deadline[2]);
    return NULL;
}

static void *deadline_main(void *arg)
{
    struct sleeper s = { 0, 0, false, 0 };
    uco_task *t[3], *long_one;
    int i;
    (void)arg;
    long_one = spawn(sleep_10s, &s, 0);
    t[0] = spawn(sleeps_5ms, (void *)0, 0);
    t[1] = spawn(sleeps_5ms, (void *)1, 0);
    t[2] = spawn(joins_5ms, long_one, 0);
    uco_yield(); /* all of them are waiting */
    /* every deadline passes while main keeps the processor */
    spin_until(uco_now() + UCO_MSEC(8));
    dl.cancelled_at = uco_now();
    for (i = 0; i < 3; i++)
        uco_cancel(t[i]);
    for (i = 0; i < 3; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != -ECANCELED)
            bad++;
    uco_cancel(long_one);
    uco_join(long_one, NULL, UCO_NEVER);
    return NULL;
}

static void test_cancel_wins_over_deadline(void **state)
{
    int i;
    (void)state;
    memset(&dl, 0, sizeof dl);
    assert_int_equal(run_main(deadline_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 3; i++) {
        assert_true(dl.deadline[i] > 0);
        assert_true(dl.deadline[i] < dl.cancelled_at);
        assert_int_equal(dl.rc[i], -ECANCELED);
    }
}

/* The same when the timer already made the sleeper ready: D became ready
 * before A's deadline passed, so it runs before A does, and cancels it. */
static struct {
    int64_t deadline, cancelled_at;
    int rc;
    bool go, a_ran_first;
} ex;

static uco_task *ex_a;

static void *expires(void *arg)
{
    (void)arg;
    ex.deadline = uco_now() + UCO_MSEC(3);
    ex.rc = uco_sleep_until(ex.deadline);
    return NULL;
}

static void *cancels_when_told(void *arg)
{
    (void)arg;
    while (!ex.go)
        uco_yield();
    ex.a_ran_first = ex.rc != 0;
    ex.cancelled_at = uco_now();
    uco_cancel(ex_a);
    return NULL;
}

static void *spins_past(void *arg)
{
    (void)arg;
    spin_until(ex.deadline + UCO_MSEC(2)); /* nobody else runs meanwhile */
    ex.go = true;
    uco_yield(); /* D was ready before A's deadline passed: D runs first */
    return NULL;
}

static void *expired_main(void *arg)
{
    uco_task *d, *c;
    (void)arg;
    ex_a = spawn(expires, NULL, 0);
    d = spawn(cancels_when_told, NULL, 0);
    c = spawn(spins_past, NULL, 0);
    if (uco_join(ex_a, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    uco_join(d, NULL, UCO_NEVER);
    uco_join(c, NULL, UCO_NEVER);
    return NULL;
}

static void test_cancel_wins_after_expiry(void **state)
{
    (void)state;
    memset(&ex, 0, sizeof ex);
    assert_int_equal(run_main(expired_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_false(ex.a_ran_first);
    assert_true(ex.deadline < ex.cancelled_at);
    assert_int_equal(ex.rc, -ECANCELED);
}

/* ------------------------------------------------------------------ */
/* main returns: whatever is left is cancelled and unwinds             */
/* ------------------------------------------------------------------ */

static struct {
    int sleep_rc[2], loop_rc;
    long loops;
    int handler[5];
    int late_entered;
    int slow_handler_rc;
    int64_t slow_handler_slept;
} me;

static void *detached_sleeper(void *arg)
{
    (void)arg;
    uco_defer(count, &me.handler[0]);
    me.sleep_rc[0] = uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *forever_sleeper(void *arg)
{
    (void)arg;
    uco_defer(count, &me.handler[1]);
    me.sleep_rc[1] = uco_sleep_until(UCO_NEVER);
    return NULL;
}

static void *yields_forever(void *arg)
{
    int rc;
    (void)arg;
    uco_defer(count, &me.handler[2]);
    while ((rc = uco_yield()) == 0)
        me.loops++;
    me.loop_rc = rc;
    return NULL;
}

static void slow_end_handler(void *arg)
{
    int64_t t = uco_now();
    me.slow_handler_rc = uco_sleep(UCO_MSEC(20));
    me.slow_handler_slept = uco_now() - t;
    count(arg);
}

static void *with_slow_end(void *arg)
{
    (void)arg;
    uco_defer(slow_end_handler, &me.handler[3]);
    uco_defer(count, &me.handler[4]);
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *late(void *arg)
{
    (void)arg;
    me.late_entered++;
    return NULL;
}

static void *leaves_tasks_main(void *arg)
{
    uco_task *t;
    (void)arg;
    spawn(detached_sleeper, NULL, UCO_DETACHED);
    spawn(forever_sleeper, NULL, 0);
    t = spawn(yields_forever, NULL, 0);
    if (uco_detach(t) < 0)
        bad++;
    spawn(with_slow_end, NULL, 0);
    uco_sleep(UCO_MSEC(5));
    spawn(late, NULL, 0); /* main ends before it runs */
    return (void *)1;
}

static void test_main_end_cancels_rest(void **state)
{
    void *r = NULL;
    int64_t start = uco_now(), took;
    int i;
    (void)state;
    memset(&me, 0, sizeof me);
    assert_int_equal(uco_run(leaves_tasks_main, NULL, &r), 0);
    took = uco_now() - start;
    assert_int_equal(bad, 0);
    assert_ptr_equal(r, (void *)1);
    assert_int_equal(me.sleep_rc[0], -ECANCELED);
    assert_int_equal(me.sleep_rc[1], -ECANCELED);
    assert_int_equal(me.loop_rc, -ECANCELED);
    assert_true(me.loops > 0);
    assert_int_equal(me.late_entered, 0);
    /* every handler ran once, the blocking one to its end */
    for (i = 0; i < 5; i++)
        assert_int_equal(me.handler[i], 1);
    assert_int_equal(me.slow_handler_rc, 0);
    assert_on_time(me.slow_handler_slept, UCO_MSEC(20), UCO_MSEC(15));
    /* 5 ms of main, then the 20 ms handler: not the 10 s sleeps */
    assert_on_time(took, UCO_MSEC(25), UCO_MSEC(50));
}

/* A task spawned after main ended starts cancelled: it never enters. */
static struct {
    int spawn_rc, join_rc, sleep_rc, entered;
    void *result;
} am;

static void *after_main(void *arg)
{
    (void)arg;
    am.entered++;
    return (void *)1;
}

static void spawns_while_unwinding(void *arg)
{
    uco_task *t = NULL;
    (void)arg;
    am.spawn_rc = uco_spawn(&t, after_main, NULL, NULL);
    am.result = (void *)2;
    if (am.spawn_rc == 0)
        am.join_rc = uco_join(t, &am.result, UCO_NEVER); /* shielded */
}

static void *unwinder(void *arg)
{
    (void)arg;
    uco_defer(spawns_while_unwinding, NULL);
    am.sleep_rc = uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *spawn_after_main(void *arg)
{
    (void)arg;
    spawn(unwinder, NULL, UCO_DETACHED);
    uco_yield();
    return NULL;
}

static void test_spawn_after_main_end(void **state)
{
    (void)state;
    memset(&am, 0, sizeof am);
    assert_int_equal(run_main(spawn_after_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(am.sleep_rc, -ECANCELED);
    assert_int_equal(am.spawn_rc, 0);
    assert_int_equal(am.entered, 0);
    assert_int_equal(am.join_rc, -ECANCELED);
    assert_null(am.result);
}

/* A cancelled task still releases a task that has already finished. */
static struct {
    int join_done, join_again, join_running;
    void *result;
} jf;

static void *joins_when_cancelled(void *arg)
{
    uco_task **t = arg;
    uco_cancel(uco_self());
    jf.join_running = uco_join(t[1], NULL, UCO_NEVER); /* not finished */
    jf.join_done = uco_join(t[0], &jf.result, UCO_NEVER);
    jf.join_again = uco_join(t[0], NULL, UCO_NEVER);
    return NULL;
}

static void *join_finished_main(void *arg)
{
    struct sleeper s = { 0, 0, false, 0 };
    uco_task *t[2], *j;
    (void)arg;
    t[0] = spawn(finishes, (void *)8, 0);
    t[1] = spawn(sleep_10s, &s, 0);
    uco_sleep(UCO_MSEC(1)); /* t[0] has finished */
    j = spawn(joins_when_cancelled, t, 0);
    if (uco_join(j, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    uco_cancel(t[1]);
    if (uco_join(t[1], NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    return NULL;
}

static void test_join_finished_while_cancelled(void **state)
{
    (void)state;
    memset(&jf, 0, sizeof jf);
    assert_int_equal(run_main(join_finished_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(jf.join_running, -ECANCELED);
    assert_int_equal(jf.join_done, 0);
    assert_ptr_equal(jf.result, (void *)8);
    assert_int_equal(jf.join_again, -EINVAL); /* it was released */
}

/* ------------------------------------------------------------------ */
/* handles                                                            */
/* ------------------------------------------------------------------ */

static struct {
    int join1, join2, cancel_joined, cancel_null, join_detached[2],
        cancel_detached, detach_rc;
    struct sleeper d;
    int e_handler;
} hd;

static void *e_task(void *arg)
{
    (void)arg;
    uco_defer(count, &hd.e_handler);
    uco_sleep(UCO_SEC(10));
    return NULL;
}

static void *handles_main(void *arg)
{
    uco_task *t, *d, *e;
    (void)arg;
    t = spawn(finishes, NULL, 0);
    hd.join1 = uco_join(t, NULL, UCO_NEVER);
    hd.join2 = uco_join(t, NULL, UCO_NEVER);
    hd.cancel_joined = uco_cancel(t);
    hd.cancel_null = uco_cancel(NULL);
    /* detached at spawn, and detached later: alive, not joinable */
    {
        uco_attr a = { .flags = UCO_DETACHED };
        if (uco_spawn(&d, sleep_10s, &hd.d, &a) < 0)
            bad++;
    }
    e = spawn(e_task, NULL, 0);
    hd.detach_rc = uco_detach(e);
    uco_sleep(UCO_MSEC(2));
    hd.join_detached[0] = uco_join(d, NULL, UCO_NEVER);
    hd.join_detached[1] = uco_join(e, NULL, UCO_NEVER);
    hd.cancel_detached = uco_cancel(d); /* alive: allowed */
    uco_sleep(UCO_MSEC(2));
    return NULL; /* e is cancelled by uco_run */
}

static void test_handles(void **state)
{
    (void)state;
    memset(&hd, 0, sizeof hd);
    assert_int_equal(uco_cancel(NULL), -EPERM);
    assert_int_equal(run_main(handles_main, NULL), 0);
    assert_int_equal(uco_cancel(NULL), -EPERM);
    assert_int_equal(bad, 0);
    assert_int_equal(hd.join1, 0);
    assert_int_equal(hd.join2, -EINVAL);
    assert_int_equal(hd.cancel_joined, -EINVAL);
    assert_int_equal(hd.cancel_null, -EINVAL);
    assert_int_equal(hd.detach_rc, 0);
    assert_int_equal(hd.join_detached[0], -EINVAL);
    assert_int_equal(hd.join_detached[1], -EINVAL);
    assert_int_equal(hd.cancel_detached, 0);
    assert_int_equal(hd.d.rc, -ECANCELED);
    assert_int_equal(hd.d.handler, 1);
    assert_int_equal(hd.e_handler, 1);
}

/* ------------------------------------------------------------------ */
/* deadlock: nothing can wake anyone                                   */
/* ------------------------------------------------------------------ */

static struct {
    int sleep_rc, join_rc, handler, main_handler;
    bool reached_end;
} dk;

static void *sleeps_forever(void *arg)
{
    (void)arg;
    uco_defer(count, &dk.handler);
    dk.sleep_rc = uco_sleep_until(UCO_NEVER);
    return NULL;
}

static void *deadlock_main(void *arg)
{
    uco_task *t;
    (void)arg;
    uco_defer(count, &dk.main_handler);
    t = spawn(sleeps_forever, NULL, 0);
    dk.join_rc = uco_join(t, NULL, UCO_NEVER);
    dk.reached_end = true;
    return NULL;
}

static void test_deadlock(void **state)
{
    int64_t start = uco_now();
    (void)state;
    memset(&dk, 0, sizeof dk);
    assert_int_equal(run_main(deadlock_main, NULL), -EDEADLK);
    assert_int_equal(bad, 0);
    assert_on_time(uco_now() - start, 0, UCO_MSEC(100));
    assert_int_equal(dk.sleep_rc, -ECANCELED);
    assert_int_equal(dk.join_rc, -ECANCELED);
    assert_true(dk.reached_end);
    assert_int_equal(dk.handler, 1);
    assert_int_equal(dk.main_handler, 1);
}

#define T(f) cmocka_unit_test_setup(f, reset)

/* ---- many handlers that each call uco_exit: each one's end continues
 * from a fresh context, not below its frames (they piled up: 128 bytes
 * each, so 5,000 overflowed the default stack and killed the process) */

#define EXITERS 5000

struct exiters {
    int ran;          /* handlers that ran */
    int join_rc;
    void *result;
    int call_rc;
    void *call_result;
};

static struct exiters *exs;

static void exiter(void *arg)
{
    (void)arg;
    exs->ran++;
    uco_exit((void *)99);
}

static void *push_exiters(void *arg)
{
    int i;

    for (i = 0; i < EXITERS; i++)
        if (uco_defer(exiter, NULL) != 0)
            return NULL;
    return arg;
}

static void *exiters_main(void *arg)
{
    uco_task *t;

    (void)arg;
    if (uco_spawn(&t, push_exiters, (void *)5, NULL) != 0)
        return NULL;
    exs->join_rc = uco_join(t, &exs->result, UCO_NEVER);
    /* the same in a uco_call body */
    exs->call_rc = uco_call(push_exiters, (void *)6, NULL, &exs->call_result);
    return NULL;
}

static void exiters_child(void *shared)
{
    exs = shared;
    if (run_main(exiters_main, NULL) != 0)
        _exit(3);
}

static void test_defer_many_handlers_exit(void **state)
{
    struct child c;
    struct exiters *e;

    (void)state;
    e = run_child(exiters_child, &c);
    assert_exit_code(&c, 0);
    assert_int_equal(e->ran, 2 * EXITERS);
    assert_int_equal(e->join_rc, 0);
    assert_ptr_equal(e->result, (void *)5); /* fixed when the body returned */
    assert_int_equal(e->call_rc, 0);
    assert_ptr_equal(e->call_result, (void *)6);
    release_shared(e);
}

/* ---- deadline scopes */

static struct {
    int rc[32];
    int64_t took[4];
} dsc;

static void *sc_sleeper(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(200));
    return NULL;
}

static void *scopes_main(void *arg)
{
    int64_t t0 = uco_now();
    uco_sem *sem;
    uco_chan *ch;
    uco_task *t;
    int v, i, n = 0;

    (void)arg;
    /* one scope: a long sleep ends at it, and every suspension point
     * after it returns -ETIMEDOUT at once until it is popped */
    OK(uco_deadline_push(t0 + UCO_MSEC(30)));
    dsc.rc[n++] = uco_sleep(UCO_SEC(2));              /* -ETIMEDOUT */
    dsc.took[0] = uco_now() - t0;
    dsc.rc[n++] = uco_yield();                          /* -ETIMEDOUT */
    OK(uco_sem_create(&sem, 1));
    dsc.rc[n++] = uco_sem_acquire(sem, UCO_NEVER);      /* -ETIMEDOUT */
    OK(uco_chan_create(&ch, sizeof v, 1));
    dsc.rc[n++] = uco_chan_send(ch, &v, UCO_NEVER);     /* -ETIMEDOUT */
    dsc.rc[n++] = uco_deadline_pop();                   /* 1: it passed */
    dsc.rc[n++] = uco_sem_acquire(sem, UCO_NEVER);      /* 0 */
    /* nested, the inner later than the outer: the outer counts */
    t0 = uco_now();
    OK(uco_deadline_push(t0 + UCO_MSEC(30)));
    OK(uco_deadline_push(t0 + UCO_SEC(5)));
    dsc.rc[n++] = uco_chan_recv(ch, &v, UCO_NEVER);     /* -ETIMEDOUT */
    dsc.took[1] = uco_now() - t0;
    dsc.rc[n++] = uco_deadline_pop();                   /* 0: inner not */
    OK(uco_spawn(&t, sc_sleeper, NULL, NULL));
    dsc.rc[n++] = uco_join(t, NULL, UCO_NEVER);         /* -ETIMEDOUT */
    {
        int p[2];
        uco_group *g = NULL;
        if (pipe(p) != 0 || uco_group_create(&g, 0) != 0 ||
            uco_group_spawn(g, NULL, sc_sleeper, NULL, NULL) != 0)
            bad++;
        dsc.rc[n++] = uco_fd_wait(p[0], UCO_READ, UCO_NEVER); /* -ETIMEDOUT */
        dsc.rc[n++] = uco_group_wait(g, UCO_NEVER);          /* -ETIMEDOUT */
        dsc.rc[n++] = uco_deadline_pop();                   /* 1 */
        dsc.rc[n++] = uco_join(t, NULL, UCO_NEVER);         /* 0: no scope */
        dsc.rc[n++] = uco_group_destroy(g);                 /* 0 */
        close(p[0]);
        close(p[1]);
    }
    /* a shield holds it off */
    OK(uco_deadline_push(uco_now() - 1));
    uco_shield(true);
    dsc.rc[n++] = uco_sleep(UCO_MSEC(5));               /* 0 */
    uco_shield(false);
    dsc.rc[n++] = uco_sleep(UCO_MSEC(5));               /* -ETIMEDOUT */
    dsc.rc[n++] = uco_deadline_pop();                   /* 1 */
    /* its own deadline before the scope's: as without one */
    OK(uco_deadline_push(uco_now() + UCO_SEC(5)));
    dsc.rc[n++] = uco_sleep(UCO_MSEC(5));               /* 0 */
    dsc.rc[n++] = uco_sem_acquire(sem, uco_now() + UCO_MSEC(5)); /* -ETIMEDOUT: its own */
    dsc.rc[n++] = uco_deadline_pop();                   /* 0 */
    /* depth, and errors */
    for (i = 0; i < 32; i++)
        if (uco_deadline_push(UCO_NEVER) != 0)
            bad++;
    dsc.rc[n++] = uco_deadline_push(UCO_NEVER);         /* -ENOMEM */
    for (i = 0; i < 32; i++)
        if (uco_deadline_pop() != 0)
            bad++;
    dsc.rc[n++] = uco_deadline_pop();                   /* -EINVAL */
    dsc.rc[n++] = uco_deadline_push(-5);                /* -EINVAL */
    /* cancellation wins */
    OK(uco_deadline_push(uco_now() - 1));
    uco_cancel(uco_self());
    dsc.rc[n++] = uco_sleep(UCO_MSEC(5));               /* -ECANCELED */
    uco_chan_destroy(ch);
    uco_sem_destroy(sem);
    return NULL; /* (a scope left pushed is freed with the task) */
}

static void test_deadline_scopes(void **state)
{
    static const int want[] = {
        -ETIMEDOUT, -ETIMEDOUT, -ETIMEDOUT, -ETIMEDOUT, 1, 0,
        -ETIMEDOUT, 0, -ETIMEDOUT, -ETIMEDOUT, -ETIMEDOUT, 1, 0, 0,
        0, -ETIMEDOUT, 1,
        0, -ETIMEDOUT, 0,
        -ENOMEM, -EINVAL, -EINVAL,
        -ECANCELED,
    };
    size_t i;

    (void)state;
    memset(&dsc, 0, sizeof dsc);
    assert_int_equal(run_main(scopes_main, NULL), -ECANCELED);
    assert_int_equal(bad, 0);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (dsc.rc[i] != want[i])
            printf("step %zu: %d, not %d\n", i, dsc.rc[i], want[i]);
        assert_int_equal(dsc.rc[i], want[i]);
    }
    assert_on_time(dsc.took[0], UCO_MSEC(30), UCO_MSEC(20));
    assert_on_time(dsc.took[1], UCO_MSEC(30), UCO_MSEC(20));
    assert_int_equal(uco_deadline_push(UCO_NEVER), -EPERM);
    assert_int_equal(uco_deadline_pop(), -EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_cancel_wakes_sleeper),
        T(test_cancel_wakes_joiner),
        T(test_level_triggered),
        T(test_shield),
        T(test_shield_sleeps_full_time),
        T(test_cancelled_flag),
        T(test_cancel_before_run),
        T(test_cancel_twice),
        T(test_cancel_finished),
        T(test_self_cancel),
        T(test_defer_on_return),
        T(test_defer_on_exit),
        T(test_defer_on_cancel),
        T(test_defer_cancel_before_run),
        T(test_defer_handlers_shielded),
        T(test_undefer),
        T(test_defer_many),
        T(test_defer_bad_calls),
        T(test_defer_handler_exits),
        T(test_join_outcome),
        T(test_cancel_wins_over_deadline),
        T(test_cancel_wins_after_expiry),
        T(test_main_end_cancels_rest),
        T(test_spawn_after_main_end),
        T(test_join_finished_while_cancelled),
        T(test_handles),
        T(test_deadlock),
        T(test_defer_many_handlers_exit),
        T(test_deadline_scopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
