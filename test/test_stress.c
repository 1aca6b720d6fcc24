/*
 * test_stress - a randomized stress test.  A seeded generator drives well
 * over 100,000 operations (spawn, yield, sleep, cancel, join, detach,
 * defer/undefer, shields, group create/spawn/wait/cancel/destroy, exit)
 * across a changing population of tasks.  Each operation checks its own
 * return code against a model of what the contract allows; when uco_run
 * returns, the invariants over the whole run are checked:
 *
 *   - every task's function either ran and ended exactly once, or never
 *     started (and then it was cancelled before it ran: a task never enters
 *     its function with its flag already set);
 *   - every deferred handler pushed ran exactly once, in reverse order, or
 *     was popped with uco_undefer(false) and never ran;
 *   - every cancelled sleeper was woken by the cancel: long sleeps (30 s)
 *     end with -ECANCELED before their deadline, and every sleep cancelled
 *     by uco_cancel returns -ECANCELED within a bounded latency;
 *   - every task the contract says is cancelled (uco_cancel, its owner's
 *     or its group's cancel, a group destroy, spawned into a cancelled
 *     group, main's end) ends with its flag set if it had not ended yet;
 *   - every handle is accounted for: joined, detached, a group member's, or
 *     left for uco_run's end, and the heap and the mappings are back to what
 *     they were before uco_run;
 *   - uco_run returned 0.
 *
 * The seed comes from UCO_STRESS_SEED, else from the clock, and is printed
 * first; UCO_STRESS_OPS sets the number of operations (default 300,000,
 * at least 100,000) for longer soaks.  To replay a failing run:
 *
 *     UCO_STRESS_SEED=N ./test/test_stress
 *
 * The choices follow the seed; only where the clock decides (which sleeper
 * wakes first) can a replay take another path.
 */
#include "testutil.h"

#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

enum {
    DEFAULT_OPS = 300000, /* UCO_STRESS_OPS=N overrides (at least 100000) */
    MAX_LIVE = 150,     /* busy tasks: spawns give way above this */
    MIN_LIVE = 40,      /* main tops the busy tasks up to this */
    MAX_ALIVE = 2000,   /* busy and in long sleeps */
    MAX_OWNED = 2,      /* live groups a task owns at once */
    WINDOW = 400,       /* targets are picked among the latest tasks */
    STACK = 64 * 1024,
};

#define SHORT_SLEEP_US 2000
#define LONG_SLEEP UCO_SEC(30)
#define MAX_LATENCY UCO_MSEC(250) /* cancel -> woken, scaled by slack */

/* ---- the generator: xorshift64* seeded through splitmix64 */

static uint64_t rng;

static void seed_rng(uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    rng = (z ^ (z >> 31)) | 1;
}

static unsigned rnd(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* ---- the model */

struct rec {
    uco_task *h;          /* handle: see can_cancel / can_join for when */
    uint64_t tid;
    int group;            /* group it is a member of, or -1 */
    int gnext;            /* next member of that group, or -1 */
    int owned;            /* first group it created, or -1 */
    int nowned;           /* of them not yet destroyed */
    bool detached;        /* at spawn or later (not as a member) */
    bool joined;          /* released by a join */
    bool abandoned;       /* a join left its state unknown: never used */
    bool joining;         /* some task is in uco_join on it now */
    bool started;         /* its function was entered */
    bool fn_done;         /* its function returned or called uco_exit */
    bool flag_at_end;     /* uco_cancelled() at that moment */
    bool shielded;        /* what uco_shield was last told */
    bool sleeping;        /* in a sleep op now ... */
    bool sleep_shielded;  /* ... shielded */
    int64_t cancel_at;    /* when uco_cancel hit that sleep, or 0 */
    int lpos;             /* index in long_sleepers[] while in one, or -1 */
    bool mcancel;         /* the contract says its flag is set by now */
    bool must_cancel;     /* ... and that was before its function ended */
    int ended;            /* runs of its first handler (the end marker) */
    int htop;             /* last pushed handler still pending, or -1 */
};

struct grec {
    uco_group *g;
    int owner;
    int first;            /* first member, or -1 */
    int onext;            /* next group of the same owner, or -1 */
    bool closing;         /* owner ended or destroying: no more use */
    bool mcancelled;      /* cancelled: members start cancelled */
    bool destroyed;
};

struct hrec {
    int task;
    int prev;             /* the handler below it, or -1 */
    int ran;
    bool dropped;         /* popped by uco_undefer(false) */
};

/* The run's size: operations, and room for what they create. */
static long target_ops;
static int max_tasks, max_groups, max_handlers;

static struct rec *recs;
static int nrec;
static struct grec *groups;
static int ngroups;
static struct hrec *handlers;
static int nhandlers;
static int64_t *tid_map; /* task id -> record, -1 */
static size_t tid_cap;

static long ops, violations, active;

/* Tasks in a long sleep: cancels aim at them often enough that they do
 * not pile up (they are not counted as busy). */
static int long_sleepers[MAX_ALIVE];
static int nlong;

static long busy(void)
{
    return active - nlong;
}
static volatile bool exit_ok = true;

/* statistics, printed at the end */
static struct {
    long spawned, spawn_detached, spawn_member, spawn_cancelled;
    long joined, join_timeout, join_busy, abandoned, detached_later;
    long cancels, self_cancels, long_sleeps, cancelled_sleeps;
    long cancelled_before_deadline, woke_before_deadline;
    long defers, undefers, groups, group_destroys, group_waits, exits;
    long cleanups;
    int64_t max_latency;
} st;

static void violation(int line, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void violation(int line, const char *fmt, ...)
{
    va_list ap;
    if (++violations > 20)
        return;
    fprintf(stderr, "stress: line %d: ", line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond))                                                        \
            violation(__LINE__, __VA_ARGS__);                               \
    } while (0)

static void *result_of(int i)
{
    return (void *)(intptr_t)(i + 1);
}

/* The suspension points of task `me` must report the flag. */
static bool pending(int me)
{
    return uco_cancelled() && !recs[me].shielded;
}

/* The handle of record i may be passed to uco_cancel now. */
static bool can_cancel(int i)
{
    const struct rec *c = &recs[i];
    if (c->joined || c->abandoned)
        return false;
    if (!c->detached && c->group < 0)
        return true; /* valid until joined */
    return c->started && !c->ended; /* alive, so still valid */
}

/* Record i may be joined (or detached) through its handle. */
static bool can_join(int i)
{
    const struct rec *c = &recs[i];
    return !c->detached && c->group < 0 && !c->joined && !c->abandoned;
}

/* A random record among the latest ones that fits, or -1. */
static int pick(int me, bool (*fits)(int))
{
    int tries, lo = nrec > WINDOW ? nrec - WINDOW : 0;
    for (tries = 0; tries < 6 && nrec > lo; tries++) {
        int i = lo + (int)rnd((unsigned)(nrec - lo));
        if (i != me && fits(i))
            return i;
    }
    return -1;
}

/* A random usable group, or -1. */
static int pick_group(void)
{
    int tries, lo = ngroups > 64 ? ngroups - 64 : 0;
    for (tries = 0; tries < 4 && ngroups > lo; tries++) {
        int i = lo + (int)rnd((unsigned)(ngroups - lo));
        if (!groups[i].closing && !groups[i].destroyed)
            return i;
    }
    return -1;
}

/* The member of group gi that failed (never started, or ended with its
 * flag set), or -1. */
static int failed_member(int gi)
{
    int i;
    for (i = groups[gi].first; i >= 0; i = recs[i].gnext)
        if (!recs[i].started || recs[i].flag_at_end)
            return i;
    return -1;
}

/* Every member of group gi has ended. */
static void check_members_ended(int gi, const char *when)
{
    int i;
    for (i = groups[gi].first; i >= 0; i = recs[i].gnext)
        CHECK(recs[i].ended == (recs[i].started ? 1 : 0),
              "%s: member %d of group %d has not ended", when, i, gi);
}

/* The contract says record i's flag is set now (and, the first time, its
 * groups' members'). */
static void mark_group(int gi);

static void mark_cancel(int i)
{
    struct rec *c = &recs[i];
    int gi;

    if (!c->fn_done)
        c->must_cancel = true;
    if (c->mcancel)
        return;
    c->mcancel = true;
    for (gi = c->owned; gi >= 0; gi = groups[gi].onext)
        if (!groups[gi].destroyed)
            mark_group(gi);
}

static void mark_group(int gi)
{
    int i;

    groups[gi].mcancelled = true;
    for (i = groups[gi].first; i >= 0; i = recs[i].gnext)
        mark_cancel(i);
}

/* ---- handlers */

static void handler(void *arg)
{
    int idx = (int)(intptr_t)arg;
    struct hrec *h = &handlers[idx];
    struct rec *r = &recs[h->task];
    CHECK(!h->dropped, "handler %d ran after uco_undefer(false)", idx);
    CHECK(r->htop == idx, "handler %d of task %d out of order (top %d)", idx,
          h->task, r->htop);
    if (r->htop == idx)
        r->htop = h->prev;
    h->ran++;
    /* at the task's end, handlers run shielded: they may block */
    if (r->fn_done && rnd(4) == 0) {
        int rc = uco_yield();
        CHECK(rc == 0, "yield in an end handler of task %d: %d", h->task, rc);
    }
}

/* The first handler every task pushes: runs last, at its very end. */
static void end_marker(void *arg)
{
    int me = (int)(intptr_t)arg;
    struct rec *r = &recs[me];
    CHECK(r->fn_done, "task %d: end handler ran before the end", me);
    CHECK(r->htop == -1, "task %d: handler %d left when the end came", me,
          r->htop);
    r->ended++;
    active--;
}

/* ---- operations */

static void mark_done(int me)
{
    struct rec *r = &recs[me];
    int gi;
    r->flag_at_end = uco_cancelled();
    r->fn_done = true;
    for (gi = r->owned; gi >= 0; gi = groups[gi].onext)
        groups[gi].closing = true; /* destroyed at its end */
}

static void op_yield(int me)
{
    bool pend = pending(me);
    int rc = uco_yield();
    if (rc == 0)
        CHECK(!pend && !pending(me), "task %d: yield 0 with its flag set",
              me);
    else
        CHECK(rc == -ECANCELED && pending(me), "task %d: yield %d", me, rc);
}

/* Note a wake-up from a sleep that uco_cancel hit. */
static void note_cancelled_sleep(struct rec *r, int64_t deadline, int64_t now)
{
    int64_t lat;
    if (!r->cancel_at)
        return;
    st.cancelled_sleeps++;
    lat = now - r->cancel_at;
    if (lat > st.max_latency)
        st.max_latency = lat;
    CHECK(lat <= (int64_t)(MAX_LATENCY * test_slack()),
          "cancelled sleeper woke %lld ns after the cancel", (long long)lat);
    if (r->cancel_at < deadline) {
        st.cancelled_before_deadline++;
        if (now < deadline)
            st.woke_before_deadline++;
    }
}

static void op_sleep(int me)
{
    struct rec *r = &recs[me];
    int64_t ns = UCO_USEC(rnd(SHORT_SLEEP_US + 1));
    int64_t deadline = uco_now() + ns, now;
    bool pend = pending(me), until = rnd(4) == 0;
    int rc;

    r->sleeping = true;
    r->sleep_shielded = r->shielded;
    r->cancel_at = 0;
    rc = until ? uco_sleep_until(deadline) : uco_sleep(ns);
    now = uco_now();
    r->sleeping = false;
    if (r->shielded) {
        CHECK(rc == 0 && now >= deadline, "task %d: shielded sleep %d", me,
              rc);
    } else if (rc == 0) {
        CHECK(!pend && !uco_cancelled(), "task %d: sleep 0 although "
              "cancelled (cancellation must win)", me);
        CHECK(now >= deadline, "task %d: woke %lld ns early", me,
              (long long)(deadline - now));
        CHECK(r->cancel_at == 0, "task %d: cancelled sleep returned 0", me);
    } else {
        CHECK(rc == -ECANCELED && uco_cancelled(), "task %d: sleep %d", me,
              rc);
        note_cancelled_sleep(r, deadline, now);
    }
}

/* A sleep only a cancel can end. */
static void op_sleep_long(int me)
{
    struct rec *r = &recs[me];
    int64_t deadline, now;
    int rc;

    if (r->shielded) {
        op_sleep(me);
        return;
    }
    st.long_sleeps++;
    r->lpos = nlong;
    long_sleepers[nlong++] = me;
    deadline = uco_now() + LONG_SLEEP;
    r->sleeping = true;
    r->sleep_shielded = false;
    r->cancel_at = 0;
    rc = uco_sleep_until(deadline);
    now = uco_now();
    r->sleeping = false;
    long_sleepers[r->lpos] = long_sleepers[--nlong];
    recs[long_sleepers[r->lpos]].lpos = r->lpos;
    r->lpos = -1;
    CHECK(rc == -ECANCELED, "task %d: long sleep %d", me, rc);
    CHECK(now < deadline, "task %d: cancelled long sleep reached its "
          "deadline", me);
    note_cancelled_sleep(r, deadline, now);
}

static void *worker(void *arg);

/* Spawn a worker (into group gi unless -1); cancel it at once if asked. */
static void spawn_task(int gi, bool cancel_now)
{
    uco_attr a = { .stack_size = STACK };
    struct rec *c;
    int i = nrec, rc;

    if (nrec >= max_tasks || busy() >= MAX_LIVE || active >= MAX_ALIVE)
        return;
    c = &recs[i];
    memset(c, 0, sizeof *c);
    c->group = gi;
    c->gnext = c->owned = c->htop = c->lpos = -1;
    if (gi < 0 && rnd(4) == 0)
        a.flags = UCO_DETACHED;
    rc = gi >= 0 ? uco_group_spawn(groups[gi].g, &c->h, worker,
                                   (void *)(intptr_t)i, &a)
                 : uco_spawn(&c->h, worker, (void *)(intptr_t)i, &a);
    CHECK(rc == 0, "spawn: %d", rc);
    if (rc < 0)
        return;
    nrec++;
    st.spawned++;
    c->tid = uco_task_id(c->h);
    if (c->tid < tid_cap)
        tid_map[c->tid] = i;
    c->detached = a.flags & UCO_DETACHED;
    st.spawn_detached += c->detached;
    if (gi >= 0) {
        st.spawn_member++;
        c->gnext = groups[gi].first;
        groups[gi].first = i;
        if (groups[gi].mcancelled || recs[groups[gi].owner].mcancel)
            mark_cancel(i); /* starts cancelled */
    }
    if (cancel_now) {
        st.spawn_cancelled++;
        rc = uco_cancel(c->h);
        CHECK(rc == 0, "cancel of a new task: %d", rc);
        mark_cancel(i);
    }
}

static void op_cancel(int me)
{
    int i = nlong > 0 && rnd(2) ? long_sleepers[rnd((unsigned)nlong)]
                                : pick(me, can_cancel);
    int rc;
    struct rec *c;
    bool hits_sleep;

    if (i < 0)
        return;
    c = &recs[i];
    hits_sleep = c->sleeping && !c->sleep_shielded;
    st.cancels++;
    rc = uco_cancel(c->h);
    CHECK(rc == 0, "cancel task %d: %d", i, rc);
    mark_cancel(i);
    if (hits_sleep && !c->cancel_at)
        c->cancel_at = uco_now();
}

static void op_cancel_self(int me)
{
    int rc = uco_cancel(uco_self());
    st.self_cancels++;
    mark_cancel(me);
    CHECK(rc == 0 && uco_cancelled(), "task %d: self cancel %d", me, rc);
}

/* Task i was released by a join that reported rc and res. */
static void joined(int i, int rc, void *res)
{
    struct rec *c = &recs[i];
    int gi;

    c->joined = true;
    st.joined++;
    if (c->started) {
        CHECK(c->ended == 1 && c->fn_done, "joined task %d had not ended", i);
        CHECK(rc == (c->flag_at_end ? -ECANCELED : 0),
              "join of task %d: %d, its flag at the end was %d", i, rc,
              c->flag_at_end);
        CHECK(res == result_of(i), "join of task %d: wrong result", i);
    } else {
        CHECK(rc == -ECANCELED, "join of unstarted task %d: %d", i, rc);
        CHECK(res == NULL, "join of unstarted task %d: a result", i);
    }
    /* the groups it left behind were destroyed when it ended */
    for (gi = c->owned; gi >= 0; gi = groups[gi].onext)
        if (!groups[gi].destroyed) {
            check_members_ended(gi, "owner joined");
            groups[gi].destroyed = true;
        }
}

static void op_join(int me)
{
    struct rec *r = &recs[me], *c;
    int i = pick(me, can_join), rc;
    bool busy, shielded = r->shielded;
    int64_t deadline, now;
    void *res = (void *)-1;

    if (i < 0 || pending(me))
        return;
    c = &recs[i];
    deadline = rnd(8) == 0 ? 0 : uco_now() + UCO_USEC(rnd(SHORT_SLEEP_US));
    busy = c->joining;
    c->joining = true;
    rc = uco_join(c->h, &res, deadline);
    now = uco_now();
    if (busy) {
        st.join_busy++;
        CHECK(rc == -EBUSY, "second joiner of task %d: %d", i, rc);
        return;
    }
    c->joining = false;
    if (rc == -ETIMEDOUT) {
        st.join_timeout++;
        CHECK(now >= deadline, "join timed out early");
    } else if (rc == -ECANCELED && !shielded && uco_cancelled()) {
        /* the joiner was cancelled: the target may or may not be done;
         * it is surely not if it has not ended */
        if (!(c->started && !c->ended)) {
            c->abandoned = true;
            st.abandoned++;
        }
    } else if (rc == 0 || rc == -ECANCELED) {
        joined(i, rc, res); /* its outcome */
    } else {
        CHECK(false, "join of task %d: %d", i, rc);
    }
}

static void op_detach(int me)
{
    int i = pick(me, can_join), rc;
    if (i < 0)
        return;
    rc = uco_detach(recs[i].h);
    if (recs[i].joining) {
        CHECK(rc == -EBUSY, "detach of a task being joined: %d", rc);
        return;
    }
    CHECK(rc == 0, "detach of task %d: %d", i, rc);
    recs[i].detached = true;
    st.detached_later++;
}

static bool alive_unjoinable(int i)
{
    const struct rec *c = &recs[i];
    return (c->detached || c->group >= 0) && c->started && !c->ended;
}

/* Handles that must be refused. */
static void op_bad_join(int me)
{
    int i = pick(me, alive_unjoinable), rc;
    if (i >= 0) {
        rc = uco_join(recs[i].h, NULL, uco_now() + UCO_MSEC(1));
        CHECK(rc == -EINVAL, "join of a detached or member task: %d", rc);
    }
    if (!recs[me].detached && recs[me].group < 0) {
        rc = uco_join(uco_self(), NULL, uco_now() + UCO_MSEC(1));
        CHECK(rc == -EDEADLK, "join of itself: %d", rc);
    }
}

static void op_defer(int me)
{
    struct rec *r = &recs[me];
    struct hrec *h;
    int rc;

    if (nhandlers >= max_handlers)
        return;
    h = &handlers[nhandlers];
    h->task = me;
    h->prev = r->htop;
    rc = uco_defer(handler, (void *)(intptr_t)nhandlers);
    CHECK(rc == 0, "defer: %d", rc);
    if (rc < 0) {
        h->dropped = true;
    } else {
        r->htop = nhandlers;
        st.defers++;
    }
    nhandlers++;
}

static void op_undefer(int me)
{
    struct rec *r = &recs[me];
    bool run = rnd(2);
    int idx = r->htop, before, rc;

    if (idx < 0) {
        op_defer(me);
        return;
    }
    st.undefers++;
    before = handlers[idx].ran;
    if (!run) {
        handlers[idx].dropped = true;
        r->htop = handlers[idx].prev;
    }
    rc = uco_undefer(run);
    CHECK(rc == 0, "undefer: %d", rc);
    CHECK(handlers[idx].ran == before + run, "undefer(%d) ran %d", run,
          handlers[idx].ran - before);
}

static void op_shield(int me)
{
    struct rec *r = &recs[me];
    bool on = rnd(2);
    int prev = uco_shield(on);
    CHECK(prev == r->shielded, "task %d: shield was %d, said %d", me,
          r->shielded, prev);
    r->shielded = on;
}

static void op_group_create(int me)
{
    struct rec *r = &recs[me];
    struct grec *g;
    int rc;

    if (r->nowned >= MAX_OWNED || ngroups >= max_groups)
        return;
    g = &groups[ngroups];
    memset(g, 0, sizeof *g);
    rc = uco_group_create(&g->g, rnd(2) ? UCO_GROUP_FAIL_FAST : 0);
    CHECK(rc == 0, "group create: %d", rc);
    if (rc < 0)
        return;
    g->owner = me;
    g->first = -1;
    g->onext = r->owned;
    r->owned = ngroups++;
    r->nowned++;
    st.groups++;
}

static void op_group_spawn(int me)
{
    int gi = pick_group();
    (void)me;
    spawn_task(gi, rnd(8) == 0);
}

static void op_group_cancel(int me)
{
    int gi = pick_group(), rc;
    (void)me;
    if (gi < 0)
        return;
    rc = uco_group_cancel(groups[gi].g);
    CHECK(rc == 0, "group cancel: %d", rc);
    mark_group(gi);
}

/* A group's status names a member that failed, or is 0. */
static void check_status(int gi)
{
    uint64_t id = 0;
    int rc, i;

    if (groups[gi].closing || groups[gi].destroyed)
        return; /* it may be gone */
    rc = uco_group_status(groups[gi].g, &id);
    if (rc == 0) {
        CHECK(id == 0, "status 0 with a task id");
        return;
    }
    CHECK(rc == -ECANCELED, "group status %d", rc);
    i = id < tid_cap ? (int)tid_map[id] : -1;
    CHECK(i >= 0 && recs[i].group == gi &&
              (!recs[i].started || recs[i].flag_at_end),
          "group %d status names task id %llu (record %d), not a failed "
          "member", gi, (unsigned long long)id, i);
}

/* me is a member of gi, or of a group owned by a member, and so on:
 * waiting for gi would wait for me. */
static bool inside_group(int me, int gi)
{
    int g;
    for (g = recs[me].group; g >= 0; g = recs[groups[g].owner].group)
        if (g == gi)
            return true;
    return false;
}

static void op_group_wait(int me)
{
    int gi = pick_group(), rc;
    bool shielded = recs[me].shielded;
    int64_t deadline, now;

    if (gi < 0 || pending(me))
        return;
    st.group_waits++;
    deadline = uco_now() + UCO_USEC(rnd(SHORT_SLEEP_US));
    rc = uco_group_wait(groups[gi].g, deadline);
    now = uco_now();
    if (inside_group(me, gi)) {
        CHECK(rc == -EDEADLK, "member waiting on its group: %d", rc);
        return;
    }
    switch (rc) {
    case 0:
        CHECK(shielded || !uco_cancelled(), "group wait 0 while cancelled");
        check_status(gi);
        break;
    case -ETIMEDOUT:
        CHECK(now >= deadline, "group wait timed out early");
        break;
    case -ECANCELED:
        CHECK(!shielded && uco_cancelled(), "group wait -ECANCELED");
        break;
    default:
        CHECK(false, "group wait: %d", rc);
    }
}

/* Only the owner destroys: waits then always go from older tasks to
 * younger ones and can never form a cycle. */
static void op_group_destroy(int me)
{
    int gi, rc, failed;

    for (gi = recs[me].owned; gi >= 0; gi = groups[gi].onext)
        if (!groups[gi].closing && !groups[gi].destroyed)
            break;
    if (gi < 0)
        return;
    st.group_destroys++;
    groups[gi].closing = true;
    mark_group(gi); /* what is left is cancelled */
    rc = uco_group_destroy(groups[gi].g);
    groups[gi].destroyed = true;
    recs[me].nowned--;
    check_members_ended(gi, "destroy returned");
    failed = failed_member(gi);
    CHECK(rc == (failed >= 0 ? -ECANCELED : 0),
          "group destroy: %d, a failed member: %d", rc, failed);
}

static void exit_from(int me, int depth)
{
    if (depth > 0)
        exit_from(me, depth - 1);
    else if (exit_ok) {
        st.exits++;
        mark_done(me);
        uco_exit(result_of(me));
    }
    CHECK(false, "uco_exit returned");
}

enum op {
    OP_YIELD, OP_SLEEP, OP_SLEEP_LONG, OP_SPAWN, OP_SPAWN_CANCEL,
    OP_GROUP_SPAWN, OP_CANCEL, OP_CANCEL_SELF, OP_JOIN, OP_DETACH,
    OP_BAD_JOIN, OP_DEFER, OP_UNDEFER, OP_SHIELD, OP_GROUP_CREATE,
    OP_GROUP_CANCEL, OP_GROUP_DESTROY, OP_GROUP_WAIT, OP_EXIT, OP_COUNT
};

/* Relative frequencies, in per mille. */
static const unsigned weight[OP_COUNT] = {
    [OP_YIELD] = 170, [OP_SLEEP] = 140, [OP_SLEEP_LONG] = 8,
    [OP_SPAWN] = 70, [OP_SPAWN_CANCEL] = 10, [OP_GROUP_SPAWN] = 40,
    [OP_CANCEL] = 50, [OP_CANCEL_SELF] = 5, [OP_JOIN] = 80,
    [OP_DETACH] = 15, [OP_BAD_JOIN] = 10, [OP_DEFER] = 90,
    [OP_UNDEFER] = 45, [OP_SHIELD] = 50, [OP_GROUP_CREATE] = 25,
    [OP_GROUP_CANCEL] = 10, [OP_GROUP_DESTROY] = 25, [OP_GROUP_WAIT] = 30,
    [OP_EXIT] = 10,
};

static enum op choose(void)
{
    unsigned total = 0, x, i;
    for (i = 0; i < OP_COUNT; i++)
        total += weight[i];
    x = rnd(total);
    for (i = 0; x >= weight[i]; i++)
        x -= weight[i];
    return (enum op)i;
}

static void do_op(int me, enum op op)
{
    ops++;
    switch (op) {
    case OP_YIELD: op_yield(me); break;
    case OP_SLEEP: op_sleep(me); break;
    case OP_SLEEP_LONG: op_sleep_long(me); break;
    case OP_SPAWN: spawn_task(-1, false); break;
    case OP_SPAWN_CANCEL:
        spawn_task(rnd(2) ? pick_group() : -1, true);
        break;
    case OP_GROUP_SPAWN: op_group_spawn(me); break;
    case OP_CANCEL: op_cancel(me); break;
    case OP_CANCEL_SELF: op_cancel_self(me); break;
    case OP_JOIN: op_join(me); break;
    case OP_DETACH: op_detach(me); break;
    case OP_BAD_JOIN: op_bad_join(me); break;
    case OP_DEFER: op_defer(me); break;
    case OP_UNDEFER: op_undefer(me); break;
    case OP_SHIELD: op_shield(me); break;
    case OP_GROUP_CREATE: op_group_create(me); break;
    case OP_GROUP_CANCEL: op_group_cancel(me); break;
    case OP_GROUP_DESTROY: op_group_destroy(me); break;
    case OP_GROUP_WAIT: op_group_wait(me); break;
    case OP_EXIT: exit_from(me, (int)rnd(8)); break;
    case OP_COUNT: break;
    }
}

/* Cancelled: some tasks clean up shielded before they return. */
static void cleanup(int me)
{
    static const enum op safe[] = { OP_YIELD, OP_SLEEP, OP_JOIN, OP_DEFER,
                                    OP_UNDEFER, OP_GROUP_WAIT };
    struct rec *r = &recs[me];
    int prev = uco_shield(true), n;

    st.cleanups++;
    CHECK(prev == r->shielded, "task %d: shield was %d, said %d", me,
          r->shielded, prev);
    r->shielded = true;
    for (n = 1 + (int)rnd(3); n > 0; n--)
        do_op(me, safe[rnd(sizeof safe / sizeof safe[0])]);
    if (rnd(2)) {
        uco_shield(false);
        r->shielded = false;
        op_yield(me); /* -ECANCELED at once */
    }
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg, n;
    struct rec *r = &recs[me];

    CHECK(!uco_cancelled(), "task %d entered its function cancelled", me);
    CHECK(!r->started, "task %d entered twice", me);
    r->started = true;
    active++;
    CHECK(uco_defer(end_marker, arg) == 0, "defer of the end marker");
    for (n = 1 + (int)rnd(48); n > 0 && !uco_cancelled(); n--)
        do_op(me, choose());
    if (uco_cancelled() && rnd(3) == 0)
        cleanup(me);
    mark_done(me);
    return result_of(me);
}

static void *stress_main(void *arg)
{
    long seen = -1;
    int64_t progress = uco_now();
    int n;
    (void)arg;
    while (ops < target_ops) {
        n = MIN_LIVE - (int)busy();
        while (n-- > 0)
            spawn_task(-1, false);
        uco_sleep(UCO_MSEC(1));
        if (ops != seen) {
            seen = ops;
            progress = uco_now();
        } else if (uco_now() - progress > UCO_SEC(2) * test_slack()) {
            CHECK(false, "no operation for 2 s: everything waits");
            break;
        }
    }
    for (n = 0; n < nrec; n++)
        mark_cancel(n); /* uco_run cancels whatever is left */
    return (void *)0x5;
}

/* ---- a count of live heap blocks: malloc and friends are replaced by
 * thin wrappers around glibc's own (ELF interposition, as the glibc manual
 * describes for replacement allocators), so that a leak inside uco_run
 * shows as a difference.  mallinfo2 can't tell: the thread cache keeps
 * freed blocks counted as in use.  Under a sanitizer its own allocator
 * must stay in place (and checks leaks itself), and it maps memory as it
 * goes: neither count is made then.  Nor in a static link (the cross
 * matrix makes one where the emulator needs it, and says so with
 * UCO_TEST_STATIC): there glibc's malloc.o defines these names too. */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||  \
    __has_feature(memory_sanitizer)
#define STRESS_SANITIZED 1
#endif
#endif
#ifndef STRESS_SANITIZED
#define STRESS_SANITIZED 0
#endif

#if defined(__GLIBC__) && !STRESS_SANITIZED && !defined(UCO_TEST_STATIC)
#define COUNT_BLOCKS 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static long live_blocks;

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    live_blocks += p != NULL;
    return p;
}

void *calloc(size_t n, size_t m)
{
    void *p = __libc_calloc(n, m);
    live_blocks += p != NULL;
    return p;
}

void *realloc(void *p, size_t n)
{
    void *q = __libc_realloc(p, n);
    if (!p)
        live_blocks += q != NULL;
    else if (n == 0)
        live_blocks -= q == NULL; /* p was freed */
    return q;
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    live_blocks += p != NULL;
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p)
{
    live_blocks -= p != NULL;
    __libc_free(p);
}
#else
#define COUNT_BLOCKS 0
static long live_blocks;
#endif

/* Under Valgrind, /proc/self/maps shows its own mappings too, and they
 * grow as it goes. */
static bool under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND)
        return true;
#endif
    return pre && strstr(pre, "vgpreload");
}

/* Lines of /proc/self/maps: the mappings of this process. */
static long count_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_stress(void **state)
{
    const char *env = getenv("UCO_STRESS_SEED");
    const char *nops = getenv("UCO_STRESS_OPS");
    uint64_t seed = env ? strtoull(env, NULL, 10)
                        : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    long blocks_before, blocks_after;
    long maps_before, maps_after;
    long left = 0, members = 0, detached = 0, unstarted = 0;
    bool count_maps = !STRESS_SANITIZED && !under_valgrind();
    int64_t start, took;
    void *result = NULL;
    int rc, i;
    (void)state;

    printf("stress seed: %llu (replay: UCO_STRESS_SEED=%llu "
           "./test/test_stress)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    seed_rng(seed);
    target_ops = nops ? atol(nops) : DEFAULT_OPS;
    if (target_ops < 100000)
        target_ops = 100000;
    /* measured: about a task per 9 operations, a group per 40, a handler
     * per 8; twice that */
    max_tasks = (int)(target_ops / 4);
    max_groups = (int)(target_ops / 16);
    max_handlers = (int)(target_ops / 3);
    tid_cap = (size_t)max_tasks + 16;
    recs = calloc((size_t)max_tasks, sizeof *recs);
    groups = calloc((size_t)max_groups, sizeof *groups);
    handlers = calloc((size_t)max_handlers, sizeof *handlers);
    tid_map = malloc(tid_cap * sizeof *tid_map);
    assert_non_null(recs);
    assert_non_null(groups);
    assert_non_null(handlers);
    assert_non_null(tid_map);
    for (i = 0; i < (int)tid_cap; i++)
        tid_map[i] = -1;

    maps_before = count_mappings();
    blocks_before = live_blocks;
    start = uco_now();
    rc = uco_run(stress_main, NULL, &result);
    took = uco_now() - start;
    blocks_after = live_blocks;
    maps_after = count_mappings();

    printf("stress: %ld operations, %d tasks, %d groups, %d handlers in "
           "%.2f s\n", ops, nrec, ngroups, nhandlers, (double)took / 1e9);
    printf("stress: spawned %ld (detached %ld, members %ld, cancelled at "
           "once %ld); joined %ld, timed out %ld, busy %ld, unknown %ld, "
           "detached later %ld\n",
           st.spawned, st.spawn_detached, st.spawn_member, st.spawn_cancelled,
           st.joined, st.join_timeout, st.join_busy, st.abandoned,
           st.detached_later);
    printf("stress: cancels %ld (self %ld), long sleeps %ld, cancelled "
           "sleeps %ld (%ld cancelled before the deadline, %ld woke before "
           "it), max cancel latency %.3f ms\n",
           st.cancels, st.self_cancels, st.long_sleeps, st.cancelled_sleeps,
           st.cancelled_before_deadline, st.woke_before_deadline,
           (double)st.max_latency / 1e6);
    printf("stress: defers %ld, undefers %ld, groups %ld, destroyed %ld, "
           "group waits %ld, exits %ld, shielded clean-ups %ld\n",
           st.defers, st.undefers, st.groups, st.group_destroys,
           st.group_waits, st.exits, st.cleanups);

    assert_int_equal(rc, 0);
    assert_ptr_equal(result, (void *)0x5);
    assert_true(ops >= target_ops);
    /* the room was enough: nothing was skipped for lack of it */
    assert_true(nrec < max_tasks && ngroups < max_groups &&
                nhandlers < max_handlers);
    assert_int_equal(violations, 0);

    /* every function ended exactly once, or never started */
    for (i = 0; i < nrec; i++) {
        const struct rec *c = &recs[i];
        if (!c->started) {
            unstarted++;
            assert_int_equal(c->ended, 0);
        } else {
            if (c->ended != 1 || !c->fn_done)
                print_error("task %d: ended %d times\n", i, c->ended);
            assert_int_equal(c->ended, 1);
            assert_true(c->fn_done);
        }
        if (c->started && c->must_cancel && !c->flag_at_end)
            print_error("task %d should have ended cancelled\n", i);
        assert_true(!c->started || !c->must_cancel || c->flag_at_end);
        if (c->group >= 0)
            members++;
        else if (c->detached)
            detached++;
        else if (!c->joined)
            left++; /* joinable, released by uco_run */
    }
    assert_int_equal(active, 0);
    /* every handler pushed ran exactly once, unless popped unrun */
    for (i = 0; i < nhandlers; i++) {
        if (handlers[i].ran != (handlers[i].dropped ? 0 : 1))
            print_error("handler %d of task %d ran %d times\n", i,
                        handlers[i].task, handlers[i].ran);
        assert_int_equal(handlers[i].ran, handlers[i].dropped ? 0 : 1);
    }
    /* every group was destroyed, by its owner or at its owner's end, and
     * its members ended */
    for (i = 0; i < ngroups; i++)
        check_members_ended(i, "end of run");
    assert_int_equal(violations, 0);
    /* handles: every one accounted for */
    printf("stress: handles: %ld joined, %ld left to uco_run (%ld of them "
           "unknown after a cancelled join), %ld detached, %ld members; "
           "%ld never started\n",
           st.joined, left, st.abandoned, detached, members, unstarted);
    assert_int_equal(st.joined + left + detached + members, nrec);
    assert_int_equal(st.spawned, nrec);
    /* uco_run gave back every heap block and mapping it took */
    if (COUNT_BLOCKS)
        printf("stress: heap blocks %ld -> %ld\n", blocks_before,
               blocks_after);
    else
        printf("stress: heap blocks not counted (a sanitizer's allocator, or "
               "a static link)\n");
    if (count_maps)
        printf("stress: mappings %ld -> %ld\n", maps_before, maps_after);
    assert_int_equal(blocks_after, blocks_before);
    if (count_maps)
        assert_int_equal(maps_after, maps_before);
    /* 10 s for the default size, more for a longer soak */
    assert_on_time(took, 0, UCO_SEC(10) * (target_ops + DEFAULT_OPS - 1) /
                                DEFAULT_OPS);

    free(recs);
    free(groups);
    free(handlers);
    free(tid_map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
