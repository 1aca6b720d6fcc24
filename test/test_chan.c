/*
 * test_chan - channels: rendezvous, buffering, element size, FIFO order
 * and fairness among waiting senders and receivers, deadlines, close,
 * uco_chan_choose, cancellation, destroy, bad input, and a stress run of
 * several producers and consumers.
 *
 * Every test starts a fresh scheduler with uco_run.  The tasks only record
 * what they saw (in the trace and in per-test variables); the assertions
 * run after uco_run has returned.  `bad` counts set-up steps inside tasks
 * that failed and is checked by every test.
 */
#define FIXTURE_OWN_RESET
#include "fixture.h"

#include <stdbool.h>

static int64_t t0;

static int reset(void **state)
{
    (void)state;
    fixture_clear();
    t0 = uco_now();
    return 0;
}



/* Join, or count the failure. */
static void join_ok(uco_task *t)
{
    if (join(t) < 0)
        bad++;
}

static uco_chan *make(size_t elem, size_t cap)
{
    uco_chan *c = NULL;
    if (uco_chan_create(&c, elem, cap) < 0)
        bad++;
    return c;
}

static void destroy(uco_chan *c)
{
    if (uco_chan_destroy(c) != 0)
        bad++;
}

/* Shared by the small tests: the channel, and when things happened. */
static uco_chan *ch;
static int64_t when[8];
static int rcs[8];
static int vals[8];

static void clear_shared(void)
{
    ch = NULL;
    memset(when, 0, sizeof when);
    memset(rcs, 0, sizeof rcs);
    memset(vals, 0, sizeof vals);
}

/* ------------------------------------------------------------------ */
/* Rendezvous                                                         */
/* ------------------------------------------------------------------ */

static void *send_one(void *arg)
{
    int v = (int)N(arg);
    trace_addf(&tr, "send%d", v);
    rcs[0] = uco_chan_send(ch, &v, UCO_NEVER);
    when[0] = uco_now();
    trace_addf(&tr, "sent%d", v);
    return NULL;
}

static void *recv_one(void *arg)
{
    int v = -1;
    (void)arg;
    trace_add(&tr, "recv");
    rcs[1] = uco_chan_recv(ch, &v, UCO_NEVER);
    when[1] = uco_now();
    trace_addf(&tr, "got%d", v);
    vals[1] = v;
    return NULL;
}

static void *rendezvous_send_first(void *arg)
{
    uco_task *s;
    (void)arg;
    ch = make(sizeof(int), 0);
    s = spawn(send_one, V(7));
    uco_sleep(UCO_MSEC(20)); /* the sender waits all that time */
    when[2] = uco_now();
    recv_one(NULL);
    join_ok(s);
    destroy(ch);
    return NULL;
}

static void test_rendezvous_send_first(void **state)
{
    (void)state;
    clear_shared();
    assert_int_equal(run_main(rendezvous_send_first, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rcs[0], 0);
    assert_int_equal(rcs[1], 0);
    assert_int_equal(vals[1], 7);
    /* the send completed only when the receiver took the element */
    assert_string_equal(tr.buf, "send7 recv got7 sent7");
    assert_true(when[0] >= when[2]);
    assert_on_time(when[0] - t0, UCO_MSEC(20), UCO_MSEC(30));
}

static void *rendezvous_recv_first(void *arg)
{
    uco_task *r;
    (void)arg;
    ch = make(sizeof(int), 0);
    r = spawn(recv_one, NULL);
    uco_sleep(UCO_MSEC(20));
    when[2] = uco_now();
    send_one(V(9)); /* a receiver waits: the send does not */
    join_ok(r);
    destroy(ch);
    return NULL;
}

static void test_rendezvous_recv_first(void **state)
{
    (void)state;
    clear_shared();
    assert_int_equal(run_main(rendezvous_recv_first, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rcs[0], 0);
    assert_int_equal(rcs[1], 0);
    assert_int_equal(vals[1], 9);
    assert_string_equal(tr.buf, "recv send9 sent9 got9");
    assert_true(when[1] >= when[2]);
    assert_on_time(when[1] - t0, UCO_MSEC(20), UCO_MSEC(30));
}

/* ------------------------------------------------------------------ */
/* Buffered: N sends do not block, the N+1st does                      */
/* ------------------------------------------------------------------ */

static void *fill_four(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 4; i++) {
        rcs[i] = uco_chan_send(ch, &i, UCO_NEVER);
        when[i] = uco_now();
        trace_addf(&tr, "sent%d", i);
    }
    return NULL;
}

static void *buffered_main(void *arg)
{
    uco_task *s;
    int i, v;
    (void)arg;
    ch = make(sizeof(int), 3);
    s = spawn(fill_four, NULL);
    uco_sleep(UCO_MSEC(20));
    when[5] = uco_now();
    trace_add(&tr, "recv");
    for (i = 0; i < 4; i++) {
        v = -1;
        if (uco_chan_recv(ch, &v, UCO_NEVER) != 0)
            bad++;
        vals[i] = v;
        trace_addf(&tr, "got%d", v);
        if (i == 0)
            uco_yield(); /* the sender, woken, finishes its fourth send */
    }
    join_ok(s);
    destroy(ch);
    return NULL;
}

static void test_buffered(void **state)
{
    int i;
    (void)state;
    clear_shared();
    assert_int_equal(run_main(buffered_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf,
                        "sent0 sent1 sent2 recv got0 sent3 got1 got2 got3");
    for (i = 0; i < 4; i++) {
        assert_int_equal(rcs[i], 0);
        assert_int_equal(vals[i], i);
    }
    /* the first three did not wait; the fourth waited for the receiver */
    assert_true(when[2] - t0 < UCO_MSEC(10) * test_slack());
    assert_true(when[3] >= when[5]);
    assert_on_time(when[3] - t0, UCO_MSEC(20), UCO_MSEC(30));
}

/* ------------------------------------------------------------------ */
/* Elements of any size: structs copied whole, nothing more            */
/* ------------------------------------------------------------------ */

struct rec {
    int id;
    double x;
    char name[21];
    unsigned char tail;
};

static struct {
    struct rec got[2][4]; /* per capacity; [k][3] is a canary */
    int rc[2][3];
} rs;

static void *rec_sender(void *arg)
{
    uco_chan *c = arg;
    struct rec r;
    int i;

    for (i = 0; i < 3; i++) {
        memset(&r, 0, sizeof r);
        r.id = 100 + i;
        r.x = 0.5 * i + 0.25;
        snprintf(r.name, sizeof r.name, "record-number-%d", i % 1000);
        r.tail = (unsigned char)(0xA0 + i);
        if (uco_chan_send(c, &r, UCO_NEVER) != 0)
            bad++;
    }
    return NULL;
}

static void *struct_main(void *arg)
{
    int k, i;
    (void)arg;
    for (k = 0; k < 2; k++) {
        uco_chan *c = make(sizeof(struct rec), k == 0 ? 0 : 2);
        uco_task *s = spawn(rec_sender, c);
        memset(rs.got[k], 0x5A, sizeof rs.got[k]);
        for (i = 0; i < 3; i++) {
            rs.rc[k][i] = uco_chan_recv(c, &rs.got[k][i], UCO_NEVER);
            uco_yield();
        }
        join_ok(s);
        destroy(c);
    }
    return NULL;
}

static void test_struct_elements(void **state)
{
    unsigned char canary[sizeof(struct rec)];
    int k, i;
    char name[32];

    (void)state;
    memset(&rs, 0, sizeof rs);
    memset(canary, 0x5A, sizeof canary);
    assert_int_equal(run_main(struct_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (k = 0; k < 2; k++) {
        for (i = 0; i < 3; i++) {
            assert_int_equal(rs.rc[k][i], 0);
            assert_int_equal(rs.got[k][i].id, 100 + i);
            assert_true(rs.got[k][i].x == 0.5 * i + 0.25);
            snprintf(name, sizeof name, "record-number-%d", i);
            assert_string_equal(rs.got[k][i].name, name);
            assert_int_equal(rs.got[k][i].tail, 0xA0 + i);
        }
        /* nothing was written past the element */
        assert_memory_equal(&rs.got[k][3], canary, sizeof canary);
    }
}

/* ------------------------------------------------------------------ */
/* FIFO order and fairness                                             */
/* ------------------------------------------------------------------ */

static int fifo_got[200];

static void *fifo_sender(void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 200; i++)
        if (uco_chan_send(ch, &i, UCO_NEVER) != 0)
            bad++;
    return NULL;
}

static void *fifo_main(void *arg)
{
    uco_task *s;
    int i;
    (void)arg;
    ch = make(sizeof(int), 7);
    s = spawn(fifo_sender, NULL);
    for (i = 0; i < 200; i++) {
        if (uco_chan_recv(ch, &fifo_got[i], UCO_NEVER) != 0)
            bad++;
        if (i % 13 == 0)
            uco_sleep(UCO_USEC(100)); /* let the buffer fill up */
    }
    join_ok(s);
    destroy(ch);
    return NULL;
}

static void test_fifo_order(void **state)
{
    int i;
    (void)state;
    memset(fifo_got, 0xff, sizeof fifo_got);
    assert_int_equal(run_main(fifo_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 200; i++)
        assert_int_equal(fifo_got[i], i);
}

/* Senders A, B, C each send their letter twice; they wait in turn. */
static void *letter_sender(void *arg)
{
    int v = (int)N(arg), i;
    for (i = 0; i < 2; i++)
        if (uco_chan_send(ch, &v, UCO_NEVER) != 0)
            bad++;
    return NULL;
}

static void *fair_senders_main(void *arg)
{
    uco_task *t[3];
    int i, v;
    (void)arg;
    ch = make(sizeof(int), (size_t)N(arg));
    for (i = 0; i < 3; i++)
        t[i] = spawn(letter_sender, V('A' + i));
    uco_sleep(UCO_MSEC(5)); /* all of them block */
    for (i = 0; i < 6; i++) {
        if (uco_chan_recv(ch, &v, UCO_NEVER) != 0)
            bad++;
        trace_addf(&tr, "%c", v);
    }
    for (i = 0; i < 3; i++)
        join_ok(t[i]);
    destroy(ch);
    return NULL;
}

static void test_fair_senders(void **state)
{
    (void)state;
    clear_shared();
    assert_int_equal(run_main(fair_senders_main, V(0)), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "A B C A B C");
    /* with a buffer of one: A's first fills it, the rest wait in order */
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(fair_senders_main, V(1)), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "A A B C B C");
}

static void *letter_receiver(void *arg)
{
    int v = -1;
    if (uco_chan_recv(ch, &v, UCO_NEVER) != 0)
        bad++;
    trace_addf(&tr, "%c%d", (int)N(arg), v);
    return NULL;
}

static void *fair_receivers_main(void *arg)
{
    uco_task *t[3];
    int i;
    (void)arg;
    ch = make(sizeof(int), (size_t)N(arg));
    for (i = 0; i < 3; i++)
        t[i] = spawn(letter_receiver, V('A' + i));
    uco_sleep(UCO_MSEC(5)); /* all of them block */
    for (i = 1; i <= 3; i++)
        if (uco_chan_send(ch, &i, UCO_NEVER) != 0)
            bad++;
    for (i = 0; i < 3; i++)
        join_ok(t[i]);
    destroy(ch);
    return NULL;
}

static void test_fair_receivers(void **state)
{
    (void)state;
    assert_int_equal(run_main(fair_receivers_main, V(0)), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "A1 B2 C3");
    memset(&tr, 0, sizeof tr);
    assert_int_equal(run_main(fair_receivers_main, V(4)), 0);
    assert_int_equal(bad, 0);
    assert_string_equal(tr.buf, "A1 B2 C3");
}

/* ------------------------------------------------------------------ */
/* Deadlines                                                          */
/* ------------------------------------------------------------------ */

/* A deadline already past: the other ready tasks run once first, and one
 * of them may complete the operation (reported as done), however many
 * such waits there are; otherwise -ETIMEDOUT, after them. */
static uco_chan *pch;
static uco_sem *psem;

static void *past_sender(void *arg)
{
    int v = (int)N(arg);
    trace_addf(&tr, "s%d", v);
    rcs[v] = uco_chan_send(pch, &v, uco_now() + UCO_SEC(5));
    return NULL;
}

static void *past_bystander(void *arg)
{
    (void)arg;
    trace_add(&tr, "b");
    return NULL;
}

static void *past_receiver(void *arg)
{
    int w = -1, rc = uco_chan_recv(pch, &w, 0);
    trace_addf(&tr, "r%d:%d", (int)N(arg), rc == 0 ? w : rc);
    return NULL;
}

static void *past_releaser(void *arg)
{
    (void)arg;
    trace_add(&tr, "rel");
    if (uco_sem_release(psem) != 0)
        bad++;
    return NULL;
}

static void *past_main(void *arg)
{
    uco_task *t[3];
    int w = -1, rc, i;
    (void)arg;

    pch = make(sizeof(int), 0);
    if (uco_sem_create(&psem, 0) != 0)
        bad++;
    /* a sender ready but not yet run completes the receive */
    uco_spawn(&t[0], past_bystander, NULL, NULL);
    uco_spawn(&t[1], past_sender, V(1), NULL);
    rc = uco_chan_recv(pch, &w, uco_now() - 1);
    trace_addf(&tr, "main:%d:%d", rc, w);
    /* nobody completes it: -ETIMEDOUT once the bystander has run */
    uco_spawn(&t[2], past_bystander, NULL, NULL);
    rc = uco_chan_recv(pch, &w, 0);
    trace_addf(&tr, "main:%d", rc);
    for (i = 0; i < 3; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != 0)
            bad++;
    /* two receivers waiting with past deadlines, one sender ready after
     * them: the first gets its element, the second times out */
    uco_spawn(&t[0], past_receiver, V(1), NULL);
    uco_spawn(&t[1], past_receiver, V(2), NULL);
    uco_spawn(&t[2], past_sender, V(3), NULL);
    for (i = 0; i < 3; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != 0)
            bad++;
    /* the same with a semaphore's permit */
    uco_spawn(&t[0], past_releaser, NULL, NULL);
    rc = uco_sem_acquire(psem, 0);
    trace_addf(&tr, "acq:%d:%d", rc, uco_sem_value(psem));
    uco_join(t[0], NULL, UCO_NEVER);
    uco_sem_destroy(psem);
    destroy(pch);
    return NULL;
}

/* A stream of such waits does not put off an earlier one: P and Q ping-
 * pong with deadlines of 0, each hand-over waking the other, while T
 * waits on a channel nobody uses.  T times out within a couple of their
 * rounds, not after all of them. */
#define PINGS 200
static uco_chan *pa, *pb, *pidle;
static int pongs, t_saw = -1, t_rc;

static void *pinger(void *arg)
{
    int v = 0, i;
    (void)arg;
    for (i = 0; i < PINGS; i++) {
        if (uco_chan_send(pa, &v, 0) != 0 || uco_chan_recv(pb, &v, 0) != 0)
            break;
        pongs++;
    }
    return NULL;
}

static void *ponger(void *arg)
{
    int v = 0, i;
    (void)arg;
    for (i = 0; i < PINGS; i++)
        if (uco_chan_recv(pa, &v, 0) != 0 || uco_chan_send(pb, &v, 0) != 0)
            break;
    return NULL;
}

static void *idle_waiter(void *arg)
{
    int v;
    (void)arg;
    t_rc = uco_chan_recv(pidle, &v, 0);
    t_saw = pongs;
    return NULL;
}

static void *stream_main(void *arg)
{
    uco_task *t[3];
    int i;
    (void)arg;
    pa = make(sizeof(int), 0);
    pb = make(sizeof(int), 0);
    pidle = make(sizeof(int), 0);
    uco_spawn(&t[0], idle_waiter, NULL, NULL);
    uco_spawn(&t[1], pinger, NULL, NULL);
    uco_spawn(&t[2], ponger, NULL, NULL);
    for (i = 0; i < 3; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != 0)
            bad++;
    destroy(pa);
    destroy(pb);
    destroy(pidle);
    return NULL;
}

static void test_past_deadline_not_put_off(void **state)
{
    (void)state;
    pongs = 0;
    assert_int_equal(run_main(stream_main, NULL), 0);
    assert_int_equal(bad, 0);
    printf("ping-pong rounds: %d; the idle wait timed out after %d\n",
           pongs, t_saw);
    assert_int_equal(t_rc, -ETIMEDOUT);
    assert_int_equal(pongs, PINGS); /* every hand-over made in time */
    assert_true(t_saw >= 0 && t_saw <= 2);
}

static void test_past_deadline_completed_by_ready_task(void **state)
{
    (void)state;
    memset(rcs, 0, sizeof rcs);
    assert_int_equal(run_main(past_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rcs[1], 0);
    assert_int_equal(rcs[3], 0);
    assert_string_equal(tr.buf, "b s1 main:0:1 b main:-110 s3 r1:3 r2:-110 "
                                "rel acq:0:0");
}

static struct {
    int send_rc, recv_rc, past_send_rc, past_recv_rc, ok_past_rc;
    int late_recv_rc, late_val, late_send_rc, destroy_rc;
    int64_t send_took, recv_took;
} dl;

static void *deadline_main(void *arg)
{
    uco_chan *c0 = make(sizeof(int), 0), *c1 = make(sizeof(int), 1);
    int v = 5, w = -1;
    int64_t t;
    (void)arg;

    t = uco_now();
    dl.recv_rc = uco_chan_recv(c0, &w, t + UCO_MSEC(20));
    dl.recv_took = uco_now() - t;
    if (uco_chan_send(c1, &v, UCO_NEVER) != 0) /* now full */
        bad++;
    t = uco_now();
    dl.send_rc = uco_chan_send(c1, &v, t + UCO_MSEC(20));
    dl.send_took = uco_now() - t;
    dl.past_send_rc = uco_chan_send(c0, &v, uco_now() - 1);
    dl.past_recv_rc = uco_chan_recv(c0, &w, 0);
    /* a ready operation succeeds whatever the deadline */
    dl.ok_past_rc = uco_chan_recv(c1, &w, 0);
    /* nothing was left registered by the timed-out operations */
    dl.late_recv_rc = uco_chan_recv(c1, &w, uco_now() + UCO_MSEC(1));
    dl.late_val = w;
    dl.destroy_rc = uco_chan_destroy(c0);
    destroy(c1);
    return NULL;
}

static void test_deadlines(void **state)
{
    (void)state;
    memset(&dl, 0, sizeof dl);
    assert_int_equal(run_main(deadline_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dl.recv_rc, -ETIMEDOUT);
    assert_on_time(dl.recv_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(dl.send_rc, -ETIMEDOUT);
    assert_on_time(dl.send_took, UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(dl.past_send_rc, -ETIMEDOUT);
    assert_int_equal(dl.past_recv_rc, -ETIMEDOUT);
    assert_int_equal(dl.ok_past_rc, 0);
    assert_int_equal(dl.late_recv_rc, -ETIMEDOUT); /* the 2nd 5 was not sent */
    assert_int_equal(dl.late_val, 5);
    assert_int_equal(dl.destroy_rc, 0);
}

/* ------------------------------------------------------------------ */
/* Close                                                              */
/* ------------------------------------------------------------------ */

static struct {
    int drained[4], drain_rc[5], send_after, close_again, close_first;
    int recv_waiter_rc, send_waiter_rc;
    int64_t closed_at, recv_woke, send_woke;
} cl;

static void *close_drain_main(void *arg)
{
    int i, v;
    (void)arg;
    ch = make(sizeof(int), 4);
    for (i = 0; i < 3; i++) {
        v = 10 + i;
        if (uco_chan_send(ch, &v, UCO_NEVER) != 0)
            bad++;
    }
    cl.close_first = uco_chan_close(ch);
    v = 99;
    cl.send_after = uco_chan_send(ch, &v, UCO_NEVER);
    cl.close_again = uco_chan_close(ch);
    for (i = 0; i < 5; i++) {
        v = -1;
        cl.drain_rc[i] = uco_chan_recv(ch, &v, UCO_NEVER);
        if (i < 4)
            cl.drained[i] = v;
    }
    destroy(ch);
    return NULL;
}

static void test_close_drain(void **state)
{
    (void)state;
    memset(&cl, 0, sizeof cl);
    assert_int_equal(run_main(close_drain_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cl.close_first, 0);
    assert_int_equal(cl.send_after, -EPIPE);
    assert_int_equal(cl.close_again, -EPIPE);
    assert_int_equal(cl.drain_rc[0], 0);
    assert_int_equal(cl.drain_rc[1], 0);
    assert_int_equal(cl.drain_rc[2], 0);
    assert_int_equal(cl.drained[0], 10);
    assert_int_equal(cl.drained[1], 11);
    assert_int_equal(cl.drained[2], 12);
    assert_int_equal(cl.drain_rc[3], -EPIPE);
    assert_int_equal(cl.drain_rc[4], -EPIPE);
}

static void *blocked_receiver(void *arg)
{
    uco_chan *c = arg;
    int v;
    cl.recv_waiter_rc = uco_chan_recv(c, &v, UCO_NEVER);
    cl.recv_woke = uco_now();
    return NULL;
}

static void *blocked_sender(void *arg)
{
    uco_chan *c = arg;
    int v = 1;
    cl.send_waiter_rc = uco_chan_send(c, &v, UCO_NEVER);
    cl.send_woke = uco_now();
    return NULL;
}

static void *close_wakes_main(void *arg)
{
    uco_chan *empty = make(sizeof(int), 0), *full = make(sizeof(int), 1);
    uco_task *r, *s;
    int v = 0;
    (void)arg;
    if (uco_chan_send(full, &v, UCO_NEVER) != 0)
        bad++;
    r = spawn(blocked_receiver, empty);
    s = spawn(blocked_sender, full);
    uco_sleep(UCO_MSEC(20));
    cl.closed_at = uco_now();
    if (uco_chan_close(empty) != 0 || uco_chan_close(full) != 0)
        bad++;
    join_ok(r);
    join_ok(s);
    /* the element buffered before the close is still there */
    v = -1;
    cl.drain_rc[0] = uco_chan_recv(full, &v, UCO_NEVER);
    cl.drained[0] = v;
    cl.drain_rc[1] = uco_chan_recv(full, &v, UCO_NEVER);
    destroy(empty);
    destroy(full);
    return NULL;
}

static void test_close_wakes_waiters(void **state)
{
    (void)state;
    memset(&cl, 0, sizeof cl);
    assert_int_equal(run_main(close_wakes_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cl.recv_waiter_rc, -EPIPE);
    assert_int_equal(cl.send_waiter_rc, -EPIPE);
    assert_on_time(cl.recv_woke, cl.closed_at, UCO_MSEC(10));
    assert_on_time(cl.send_woke, cl.closed_at, UCO_MSEC(10));
    assert_int_equal(cl.drain_rc[0], 0);
    assert_int_equal(cl.drained[0], 0);
    assert_int_equal(cl.drain_rc[1], -EPIPE);
}

/* ------------------------------------------------------------------ */
/* uco_chan_choose                                                    */
/* ------------------------------------------------------------------ */

static struct {
    int rc[8], opsrc[8], val[8], extra[8];
    int64_t took[8];
} chs;

static void *choose_ready_main(void *arg)
{
    uco_chan *c[4];
    int i, in[4] = { -1, -1, -1, -1 }, out = 42, v;
    uco_chan_op ops[4];
    (void)arg;

    c[0] = make(sizeof(int), 1); /* empty: recv not ready */
    c[1] = make(sizeof(int), 1); /* holds 11: recv ready */
    c[2] = make(sizeof(int), 1); /* holds 22: recv ready */
    c[3] = make(sizeof(int), 1); /* empty: send ready */
    v = 11;
    uco_chan_send(c[1], &v, UCO_NEVER);
    v = 22;
    uco_chan_send(c[2], &v, UCO_NEVER);
    for (i = 0; i < 3; i++) {
        ops[i].chan = c[i];
        ops[i].op = UCO_CHAN_RECV;
        ops[i].elem = &in[i];
        ops[i].rc = 77;
    }
    ops[3].chan = c[3];
    ops[3].op = UCO_CHAN_SEND;
    ops[3].elem = &out;
    ops[3].rc = 77;
    chs.rc[0] = uco_chan_choose(ops, 4, UCO_NEVER);
    chs.opsrc[0] = ops[1].rc;
    chs.val[0] = in[1];
    chs.extra[0] = in[2]; /* untouched */
    /* c[1] is empty now: the next ready one is c[2] */
    chs.rc[1] = uco_chan_choose(ops, 4, UCO_NEVER);
    chs.opsrc[1] = ops[2].rc;
    chs.val[1] = in[2];
    /* now only the send on c[3] is ready */
    chs.rc[2] = uco_chan_choose(ops, 4, UCO_NEVER);
    chs.opsrc[2] = ops[3].rc;
    v = -1;
    chs.extra[1] = uco_chan_recv(c[3], &v, 0);
    chs.val[2] = v;
    /* nothing more was done: c[0] is still empty */
    chs.extra[2] = uco_chan_recv(c[0], &v, 0);
    for (i = 0; i < 4; i++)
        destroy(c[i]);
    return NULL;
}

static void test_choose_first_ready(void **state)
{
    (void)state;
    memset(&chs, 0, sizeof chs);
    assert_int_equal(run_main(choose_ready_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(chs.rc[0], 1);
    assert_int_equal(chs.opsrc[0], 0);
    assert_int_equal(chs.val[0], 11);
    assert_int_equal(chs.extra[0], -1);
    assert_int_equal(chs.rc[1], 2);
    assert_int_equal(chs.opsrc[1], 0);
    assert_int_equal(chs.val[1], 22);
    assert_int_equal(chs.rc[2], 3);
    assert_int_equal(chs.opsrc[2], 0);
    assert_int_equal(chs.extra[1], 0);
    assert_int_equal(chs.val[2], 42);
    assert_int_equal(chs.extra[2], -ETIMEDOUT);
}

/* A sender that sends after a delay on the channel it is given. */
struct later {
    uco_chan *c;
    int64_t delay;
    int v;
    int rc;
    int64_t deadline; /* relative; 0: none */
};

static void *send_later(void *arg)
{
    struct later *l = arg;
    uco_sleep(l->delay);
    l->rc = uco_chan_send(l->c, &l->v,
                          l->deadline ? uco_now() + l->deadline : UCO_NEVER);
    return NULL;
}

static void *recv_later(void *arg)
{
    struct later *l = arg;
    uco_sleep(l->delay);
    l->rc = uco_chan_recv(l->c, &l->v,
                          l->deadline ? uco_now() + l->deadline : UCO_NEVER);
    return NULL;
}

static void *choose_block_main(void *arg)
{
    uco_chan *c[3];
    int in[3] = { -1, -1, -1 }, out = 5, i;
    uco_chan_op ops[3];
    struct later l1, l2, l3;
    uco_task *t1, *t2, *t3;
    int64_t t;
    (void)arg;

    for (i = 0; i < 3; i++)
        c[i] = make(sizeof(int), 0);
    for (i = 0; i < 2; i++) {
        ops[i].chan = c[i];
        ops[i].op = UCO_CHAN_RECV;
        ops[i].elem = &in[i];
    }
    ops[2].chan = c[2];
    ops[2].op = UCO_CHAN_SEND;
    ops[2].elem = &out;

    /* a sender on c[1] after 20 ms wakes the choice */
    l1 = (struct later){ c[1], UCO_MSEC(20), 61, 99, 0 };
    t1 = spawn(send_later, &l1);
    t = uco_now();
    chs.rc[0] = uco_chan_choose(ops, 3, UCO_NEVER);
    chs.took[0] = uco_now() - t;
    chs.opsrc[0] = ops[1].rc;
    chs.val[0] = in[1];
    join_ok(t1);

    /* the registrations on c[0] and c[2] are gone: a send on c[0] and a
     * receive on c[2] find nobody */
    l2 = (struct later){ c[0], 0, 62, 99, UCO_MSEC(10) };
    l3 = (struct later){ c[2], 0, -1, 99, UCO_MSEC(10) };
    t2 = spawn(send_later, &l2);
    t3 = spawn(recv_later, &l3);
    join_ok(t2);
    join_ok(t3);
    chs.extra[0] = l1.rc;
    chs.extra[1] = l2.rc;
    chs.extra[2] = l3.rc;
    chs.extra[3] = in[0];

    /* a receiver on c[2] after 20 ms takes the send op */
    l3 = (struct later){ c[2], UCO_MSEC(20), -1, 99, 0 };
    t3 = spawn(recv_later, &l3);
    t = uco_now();
    chs.rc[1] = uco_chan_choose(ops, 3, UCO_NEVER);
    chs.took[1] = uco_now() - t;
    chs.opsrc[1] = ops[2].rc;
    join_ok(t3);
    chs.val[1] = l3.v;
    chs.extra[4] = l3.rc;
    for (i = 0; i < 3; i++)
        chs.extra[5] += uco_chan_destroy(c[i]);
    return NULL;
}

static void test_choose_blocks(void **state)
{
    (void)state;
    memset(&chs, 0, sizeof chs);
    assert_int_equal(run_main(choose_block_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(chs.rc[0], 1);
    assert_int_equal(chs.opsrc[0], 0);
    assert_int_equal(chs.val[0], 61);
    assert_on_time(chs.took[0], UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(chs.extra[0], 0);
    assert_int_equal(chs.extra[1], -ETIMEDOUT); /* not consumed */
    assert_int_equal(chs.extra[2], -ETIMEDOUT); /* nothing offered */
    assert_int_equal(chs.extra[3], -1);
    assert_int_equal(chs.rc[1], 2);
    assert_int_equal(chs.opsrc[1], 0);
    assert_int_equal(chs.val[1], 5);
    assert_int_equal(chs.extra[4], 0);
    assert_on_time(chs.took[1], UCO_MSEC(20), UCO_MSEC(20));
    assert_int_equal(chs.extra[5], 0); /* nobody waits on any of them */
}

static void *close_later(void *arg)
{
    uco_sleep(UCO_MSEC(15));
    if (uco_chan_close(arg) != 0)
        bad++;
    return NULL;
}

static void *choose_closed_main(void *arg)
{
    uco_chan *open = make(sizeof(int), 0), *shut = make(sizeof(int), 2);
    int in[2], out = 3;
    uco_chan_op ops[2];
    uco_task *t;
    int64_t s;
    (void)arg;

    if (uco_chan_close(shut) != 0)
        bad++;
    ops[0] = (uco_chan_op){ open, UCO_CHAN_RECV, &in[0], 77 };
    ops[1] = (uco_chan_op){ shut, UCO_CHAN_RECV, &in[1], 77 };
    chs.rc[0] = uco_chan_choose(ops, 2, UCO_NEVER);
    chs.opsrc[0] = ops[1].rc;
    ops[1] = (uco_chan_op){ shut, UCO_CHAN_SEND, &out, 77 };
    chs.rc[1] = uco_chan_choose(ops, 2, UCO_NEVER);
    chs.opsrc[1] = ops[1].rc;
    /* blocking: the channel is closed meanwhile */
    {
        uco_chan *other = make(sizeof(int), 0);
        ops[0] = (uco_chan_op){ other, UCO_CHAN_RECV, &in[0], 77 };
        ops[1] = (uco_chan_op){ open, UCO_CHAN_SEND, &out, 77 };
        t = spawn(close_later, open);
        s = uco_now();
        chs.rc[2] = uco_chan_choose(ops, 2, UCO_NEVER);
        chs.took[2] = uco_now() - s;
        chs.opsrc[2] = ops[1].rc;
        join_ok(t);
        destroy(other);
    }
    destroy(open);
    destroy(shut);
    return NULL;
}

static void test_choose_closed(void **state)
{
    (void)state;
    memset(&chs, 0, sizeof chs);
    assert_int_equal(run_main(choose_closed_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(chs.rc[0], 1);
    assert_int_equal(chs.opsrc[0], -EPIPE);
    assert_int_equal(chs.rc[1], 1);
    assert_int_equal(chs.opsrc[1], -EPIPE);
    assert_int_equal(chs.rc[2], 1);
    assert_int_equal(chs.opsrc[2], -EPIPE);
    assert_on_time(chs.took[2], UCO_MSEC(15), UCO_MSEC(20));
}

static void *choose_deadline_main(void *arg)
{
    uco_chan *a = make(sizeof(int), 0), *b = make(sizeof(int), 0);
    int x, y = 1;
    uco_chan_op ops[2] = { { a, UCO_CHAN_RECV, &x, 0 },
                           { b, UCO_CHAN_SEND, &y, 0 } };
    int64_t s = uco_now();
    (void)arg;

    chs.rc[0] = uco_chan_choose(ops, 2, s + UCO_MSEC(25));
    chs.took[0] = uco_now() - s;
    chs.rc[1] = uco_chan_choose(ops, 2, 0); /* already past */
    chs.extra[0] = uco_chan_destroy(a);
    chs.extra[1] = uco_chan_destroy(b);
    return NULL;
}

static void test_choose_deadline(void **state)
{
    (void)state;
    memset(&chs, 0, sizeof chs);
    assert_int_equal(run_main(choose_deadline_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(chs.rc[0], -ETIMEDOUT);
    assert_on_time(chs.took[0], UCO_MSEC(25), UCO_MSEC(20));
    assert_int_equal(chs.rc[1], -ETIMEDOUT);
    assert_int_equal(chs.extra[0], 0);
    assert_int_equal(chs.extra[1], 0);
}

/* Sixteen operations are allowed; the last one is found. */
static void *choose_sixteen_main(void *arg)
{
    uco_chan *c[16];
    int in[16], i, v = 16;
    uco_chan_op ops[16];
    (void)arg;
    for (i = 0; i < 16; i++) {
        c[i] = make(sizeof(int), 1);
        ops[i] = (uco_chan_op){ c[i], UCO_CHAN_RECV, &in[i], 0 };
    }
    uco_chan_send(c[15], &v, UCO_NEVER);
    chs.rc[0] = uco_chan_choose(ops, 16, UCO_NEVER);
    chs.val[0] = in[15];
    for (i = 0; i < 16; i++)
        destroy(c[i]);
    return NULL;
}

static void test_choose_sixteen(void **state)
{
    (void)state;
    memset(&chs, 0, sizeof chs);
    assert_int_equal(run_main(choose_sixteen_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(chs.rc[0], 15);
    assert_int_equal(chs.val[0], 16);
}

/* ------------------------------------------------------------------ */
/* Cancellation                                                       */
/* ------------------------------------------------------------------ */

static struct {
    int rc[3];
    int64_t woke[3];
    int64_t cancelled_at;
    int self_rc[3];
    int left_rc, left_val, room_rc;
} cn;

static void *wait_recv(void *arg)
{
    int v;
    cn.rc[0] = uco_chan_recv(arg, &v, UCO_NEVER);
    cn.woke[0] = uco_now();
    return NULL;
}

static void *wait_send(void *arg)
{
    int v = 1;
    cn.rc[1] = uco_chan_send(arg, &v, UCO_NEVER);
    cn.woke[1] = uco_now();
    return NULL;
}

static void *wait_choose(void *arg)
{
    int v, w = 2;
    uco_chan_op ops[2] = { { arg, UCO_CHAN_RECV, &v, 0 },
                           { arg, UCO_CHAN_SEND, &w, 0 } };
    cn.rc[2] = uco_chan_choose(ops, 2, UCO_NEVER);
    cn.woke[2] = uco_now();
    return NULL;
}

static void *cancel_waiters_main(void *arg)
{
    uco_chan *empty = make(sizeof(int), 0), *full = make(sizeof(int), 1);
    uco_chan *other = make(sizeof(int), 0);
    uco_task *t[3];
    int v = 0, i;
    (void)arg;
    uco_chan_send(full, &v, UCO_NEVER);
    t[0] = spawn(wait_recv, empty);
    t[1] = spawn(wait_send, full);
    t[2] = spawn(wait_choose, other);
    uco_sleep(UCO_MSEC(20));
    cn.cancelled_at = uco_now();
    for (i = 0; i < 3; i++)
        if (uco_cancel(t[i]) != 0)
            bad++;
    for (i = 0; i < 3; i++)
        if (uco_join(t[i], NULL, UCO_NEVER) != -ECANCELED)
            bad++;
    /* the cancelled sender's element did not go in; the old one is there */
    v = -1;
    cn.left_rc = uco_chan_recv(full, &v, 0);
    cn.left_val = v;
    cn.room_rc = uco_chan_recv(full, &v, 0);
    destroy(empty);
    destroy(full);
    destroy(other);
    return NULL;
}

static void test_cancel_waiters(void **state)
{
    int i;
    (void)state;
    memset(&cn, 0, sizeof cn);
    assert_int_equal(run_main(cancel_waiters_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(cn.rc[i], -ECANCELED);
        assert_on_time(cn.woke[i], cn.cancelled_at, UCO_MSEC(10));
    }
    assert_int_equal(cn.left_rc, 0);
    assert_int_equal(cn.left_val, 0);
    assert_int_equal(cn.room_rc, -ETIMEDOUT);
}

/* A task whose flag is set gets -ECANCELED at once, even where the
 * operation would not have to wait, and nothing is done. */
static void *self_cancelled(void *arg)
{
    uco_chan *c = arg;
    int v = 8, w = -1;
    uco_chan_op op = { c, UCO_CHAN_RECV, &w, 0 };
    int64_t s;

    uco_cancel(uco_self());
    s = uco_now();
    cn.self_rc[0] = uco_chan_recv(c, &w, UCO_NEVER); /* one is buffered */
    cn.self_rc[1] = uco_chan_send(c, &v, UCO_NEVER); /* room for one more */
    cn.self_rc[2] = uco_chan_choose(&op, 1, UCO_NEVER);
    cn.woke[0] = uco_now() - s;
    return NULL;
}

static void *self_cancel_main(void *arg)
{
    uco_chan *c = make(sizeof(int), 2);
    uco_task *t;
    int v = 4;
    (void)arg;
    uco_chan_send(c, &v, UCO_NEVER);
    t = spawn(self_cancelled, c);
    if (uco_join(t, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    v = -1;
    cn.left_rc = uco_chan_recv(c, &v, 0);
    cn.left_val = v;
    cn.room_rc = uco_chan_recv(c, &v, 0);
    destroy(c);
    return NULL;
}

static void test_cancelled_task(void **state)
{
    (void)state;
    memset(&cn, 0, sizeof cn);
    assert_int_equal(run_main(self_cancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cn.self_rc[0], -ECANCELED);
    assert_int_equal(cn.self_rc[1], -ECANCELED);
    assert_int_equal(cn.self_rc[2], -ECANCELED);
    assert_true(cn.woke[0] < UCO_MSEC(5) * test_slack());
    assert_int_equal(cn.left_rc, 0); /* still there */
    assert_int_equal(cn.left_val, 4);
    assert_int_equal(cn.room_rc, -ETIMEDOUT); /* the 8 was not sent */
}

/* A receiver woken by cancellation takes nothing that is sent after the
 * cancel: its recv returns -ECANCELED, and the element is not lost. */
static struct {
    int recv_rc, recv_val, send_rc, choose_rc, choose_send_rc;
} cl2;

static void *cancel_then_recv(void *arg)
{
    int v = -1;
    cl2.recv_rc = uco_chan_recv(arg, &v, UCO_NEVER);
    cl2.recv_val = v;
    return NULL;
}

static void *cancel_then_choose(void *arg)
{
    int v = -1;
    uco_chan_op op = { arg, UCO_CHAN_RECV, &v, 0 };
    cl2.choose_rc = uco_chan_choose(&op, 1, UCO_NEVER);
    return NULL;
}

static void *cancel_then_send_main(void *arg)
{
    uco_chan *c = make(sizeof(int), 0);
    uco_task *r, *k;
    int v = 31;
    (void)arg;
    r = spawn(cancel_then_recv, c);
    uco_sleep(UCO_MSEC(5));
    uco_cancel(r);
    /* r is no longer waiting: this send has no receiver */
    cl2.send_rc = uco_chan_send(c, &v, uco_now() + UCO_MSEC(10));
    if (uco_join(r, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    k = spawn(cancel_then_choose, c);
    uco_sleep(UCO_MSEC(5));
    uco_cancel(k);
    cl2.choose_send_rc = uco_chan_send(c, &v, uco_now() + UCO_MSEC(10));
    if (uco_join(k, NULL, UCO_NEVER) != -ECANCELED)
        bad++;
    destroy(c);
    return NULL;
}

static void test_cancelled_receiver_takes_nothing(void **state)
{
    (void)state;
    memset(&cl2, 0, sizeof cl2);
    assert_int_equal(run_main(cancel_then_send_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(cl2.recv_rc, -ECANCELED);
    assert_int_equal(cl2.recv_val, -1);
    assert_int_equal(cl2.send_rc, -ETIMEDOUT);
    assert_int_equal(cl2.choose_rc, -ECANCELED);
    assert_int_equal(cl2.choose_send_rc, -ETIMEDOUT);
}

/* A receiver whose deadline has passed is woken with -ETIMEDOUT; an
 * element sent after that (by a task that woke at the same deadline, but
 * slept first and so runs first) is not taken by it. */
static struct {
    int recv_rc, recv_val, send_rc;
} to2;

static void *timed_recv(void *arg)
{
    int v = -1;
    uco_chan *c = arg;
    to2.recv_rc = uco_chan_recv(c, &v, when[0]);
    to2.recv_val = v;
    return NULL;
}

static void *timed_out_main(void *arg)
{
    uco_chan *c = make(sizeof(int), 0);
    uco_task *r;
    int v = 44;
    (void)arg;
    when[0] = uco_now() + UCO_MSEC(10); /* the shared deadline */
    r = spawn(timed_recv, c);
    uco_sleep_until(when[0]); /* sleeps before r does: wakes first */
    to2.send_rc = uco_chan_send(c, &v, 0);
    join_ok(r);
    destroy(c);
    return NULL;
}

static void test_timed_out_receiver_takes_nothing(void **state)
{
    (void)state;
    clear_shared();
    memset(&to2, 0, sizeof to2);
    assert_int_equal(run_main(timed_out_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(to2.recv_rc, -ETIMEDOUT);
    assert_int_equal(to2.recv_val, -1);
    assert_int_equal(to2.send_rc, -ETIMEDOUT);
}

/* ------------------------------------------------------------------ */
/* Destroy, bad input, outside a task                                  */
/* ------------------------------------------------------------------ */

static struct {
    int busy_recv, busy_choose, after, plain, buffered;
    int waiter_rc;
} de;

static void *destroy_waiter(void *arg)
{
    int v;
    de.waiter_rc = uco_chan_recv(arg, &v, UCO_NEVER);
    return NULL;
}

static void *destroy_chooser(void *arg)
{
    int v;
    uco_chan_op op = { arg, UCO_CHAN_RECV, &v, 0 };
    if (uco_chan_choose(&op, 1, UCO_NEVER) != 0 || op.rc != -EPIPE)
        bad++;
    return NULL;
}

static void *destroy_main(void *arg)
{
    uco_chan *c = make(sizeof(int), 0), *d = make(sizeof(int), 0);
    uco_chan *p = make(sizeof(int), 0), *b = make(sizeof(int), 3);
    uco_task *t, *u;
    int v = 1;
    (void)arg;
    t = spawn(destroy_waiter, c);
    u = spawn(destroy_chooser, d);
    uco_sleep(UCO_MSEC(2));
    de.busy_recv = uco_chan_destroy(c);
    de.busy_choose = uco_chan_destroy(d);
    uco_chan_close(c);
    uco_chan_close(d);
    join_ok(t);
    join_ok(u);
    de.after = uco_chan_destroy(c) + uco_chan_destroy(d);
    de.plain = uco_chan_destroy(p);
    uco_chan_send(b, &v, UCO_NEVER);
    de.buffered = uco_chan_destroy(b); /* elements left: still fine */
    return NULL;
}

static void test_destroy(void **state)
{
    (void)state;
    memset(&de, 0, sizeof de);
    assert_int_equal(run_main(destroy_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(de.busy_recv, -EBUSY);
    assert_int_equal(de.busy_choose, -EBUSY);
    assert_int_equal(de.waiter_rc, -EPIPE);
    assert_int_equal(de.after, 0);
    assert_int_equal(de.plain, 0);
    assert_int_equal(de.buffered, 0);
}

static struct {
    int r[16];
} bi;

static void *bad_input_main(void *arg)
{
    uco_chan *c = make(sizeof(int), 1);
    int v = 0;
    uco_chan_op ops[17];
    size_t i;
    (void)arg;
    for (i = 0; i < 17; i++)
        ops[i] = (uco_chan_op){ c, UCO_CHAN_RECV, &v, 0 };
    bi.r[0] = uco_chan_send(NULL, &v, UCO_NEVER);
    bi.r[1] = uco_chan_recv(NULL, &v, UCO_NEVER);
    bi.r[2] = uco_chan_send(c, NULL, UCO_NEVER);
    bi.r[3] = uco_chan_recv(c, NULL, UCO_NEVER);
    bi.r[4] = uco_chan_choose(NULL, 1, UCO_NEVER);
    bi.r[5] = uco_chan_choose(ops, 0, UCO_NEVER);
    bi.r[6] = uco_chan_choose(ops, 17, UCO_NEVER);
    ops[1].op = 0;
    bi.r[7] = uco_chan_choose(ops, 2, UCO_NEVER);
    ops[1].op = 3;
    bi.r[8] = uco_chan_choose(ops, 2, UCO_NEVER);
    ops[1].op = UCO_CHAN_RECV;
    ops[1].chan = NULL;
    bi.r[9] = uco_chan_choose(ops, 2, UCO_NEVER);
    ops[1].chan = c;
    bi.r[10] = uco_chan_recv(c, &v, -5); /* a bad deadline */
    bi.r[11] = uco_chan_send(c, &v, -2);
    bi.r[12] = uco_chan_close(NULL);
    bi.r[13] = uco_chan_destroy(NULL);
    /* nothing above changed the channel: one send fits, then full */
    bi.r[14] = uco_chan_send(c, &v, 0);
    bi.r[15] = uco_chan_send(c, &v, 0);
    destroy(c);
    return NULL;
}

static void test_bad_input(void **state)
{
    uco_chan *c = (uco_chan *)V(1);
    int i;
    (void)state;
    memset(&bi, 0, sizeof bi);
    assert_int_equal(uco_chan_create(NULL, 4, 1), -EINVAL);
    assert_int_equal(uco_chan_create(&c, 0, 1), -EINVAL);
    assert_int_equal(uco_chan_create(&c, 0, 0), -EINVAL);
    assert_ptr_equal(c, V(1));
    assert_int_equal(run_main(bad_input_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 14; i++) {
        if (bi.r[i] != -EINVAL)
            printf("case %d: %d\n", i, bi.r[i]);
        assert_int_equal(bi.r[i], -EINVAL);
    }
    assert_int_equal(bi.r[14], 0);
    assert_int_equal(bi.r[15], -ETIMEDOUT);
}

static void test_outside_task(void **state)
{
    uco_chan *c = NULL;
    int v = 3;
    uco_chan_op op;

    (void)state;
    assert_int_equal(uco_chan_create(&c, sizeof v, 2), 0);
    op = (uco_chan_op){ c, UCO_CHAN_SEND, &v, 0 };
    assert_int_equal(uco_chan_send(c, &v, UCO_NEVER), -EPERM);
    assert_int_equal(uco_chan_recv(c, &v, UCO_NEVER), -EPERM);
    assert_int_equal(uco_chan_choose(&op, 1, UCO_NEVER), -EPERM);
    assert_int_equal(uco_chan_close(c), 0);
    assert_int_equal(uco_chan_close(c), -EPIPE);
    assert_int_equal(uco_chan_destroy(c), 0);
}

/* ------------------------------------------------------------------ */
/* Stress: 4 producers x 10,000 ints, a buffer of 16, 3 consumers      */
/* ------------------------------------------------------------------ */

#define PRODUCERS 4
#define CONSUMERS 3
#define PER_PRODUCER 10000

static struct {
    unsigned char seen[PRODUCERS * PER_PRODUCER];
    int got[CONSUMERS];
    int out_of_order;   /* a producer's values out of order at a consumer */
    int end_rc[CONSUMERS];
    int bad_value;
} st;

static void *producer(void *arg)
{
    int base = (int)N(arg) * PER_PRODUCER, i, v;
    for (i = 0; i < PER_PRODUCER; i++) {
        v = base + i;
        if (uco_chan_send(ch, &v, UCO_NEVER) != 0)
            bad++;
        if (i % 97 == 0)
            uco_yield();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int me = (int)N(arg), v, rc, last[PRODUCERS], p;

    for (p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    while ((rc = uco_chan_recv(ch, &v, UCO_NEVER)) == 0) {
        if (v < 0 || v >= PRODUCERS * PER_PRODUCER) {
            st.bad_value++;
            continue;
        }
        st.seen[v]++;
        st.got[me]++;
        p = v / PER_PRODUCER;
        if (v <= last[p])
            st.out_of_order++;
        last[p] = v;
        if (st.got[me] % 251 == 0)
            uco_yield();
    }
    st.end_rc[me] = rc;
    return NULL;
}

static void *stress_main(void *arg)
{
    uco_task *p[PRODUCERS], *c[CONSUMERS];
    int i;
    (void)arg;
    ch = make(sizeof(int), 16);
    for (i = 0; i < CONSUMERS; i++)
        c[i] = spawn(consumer, V(i));
    for (i = 0; i < PRODUCERS; i++)
        p[i] = spawn(producer, V(i));
    for (i = 0; i < PRODUCERS; i++)
        join_ok(p[i]);
    uco_chan_close(ch);
    for (i = 0; i < CONSUMERS; i++)
        join_ok(c[i]);
    destroy(ch);
    return NULL;
}

static void test_stress(void **state)
{
    int i, total = 0;
    (void)state;
    memset(&st, 0, sizeof st);
    assert_int_equal(run_main(stress_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(st.bad_value, 0);
    for (i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
        if (st.seen[i] != 1)
            printf("value %d seen %d times\n", i, st.seen[i]);
        assert_int_equal(st.seen[i], 1);
    }
    for (i = 0; i < CONSUMERS; i++) {
        assert_true(st.got[i] > 0);
        assert_int_equal(st.end_rc[i], -EPIPE);
        total += st.got[i];
    }
    assert_int_equal(total, PRODUCERS * PER_PRODUCER);
    assert_int_equal(st.out_of_order, 0);
}

#define T(f) cmocka_unit_test_setup(f, reset)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rendezvous_send_first),
        T(test_rendezvous_recv_first),
        T(test_buffered),
        T(test_struct_elements),
        T(test_fifo_order),
        T(test_fair_senders),
        T(test_fair_receivers),
        T(test_deadlines),
        T(test_close_drain),
        T(test_close_wakes_waiters),
        T(test_choose_first_ready),
        T(test_choose_blocks),
        T(test_choose_closed),
        T(test_choose_deadline),
        T(test_choose_sixteen),
        T(test_cancel_waiters),
        T(test_cancelled_task),
        T(test_cancelled_receiver_takes_nothing),
        T(test_timed_out_receiver_takes_nothing),
        T(test_past_deadline_completed_by_ready_task),
        T(test_past_deadline_not_put_off),
        T(test_destroy),
        T(test_bad_input),
        T(test_outside_task),
        T(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
