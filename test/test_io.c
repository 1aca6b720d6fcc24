/*
 * test_io - waiting on file descriptors: readiness, deadlines,
 * cancellation, one waiter per direction, uco_fd_close, bad input, a
 * 1 MiB transfer through a pipe with uco_read/uco_write, a loopback TCP
 * echo server with 50 clients, blocking in the kernel instead of spinning,
 * and fd waiters that busy tasks cannot starve.
 *
 * Every fd is non-blocking.  Every test starts a fresh scheduler with
 * uco_run; the tasks only record what they saw and the assertions run
 * after uco_run has returned.  `bad` counts set-up steps inside tasks that
 * failed and is checked by every test.
 *
 * The binary runs twice under make check: as it is (epoll where the
 * kernel has it) and with UCO_IO=poll (test/io-poll.sh).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "fixture.h"
#include "child.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>







/* A non-blocking, close-on-exec pipe; asserts. */
static void make_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

/* The same from inside a task: counts the failure. */
static void task_pipe(int fds[2])
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        bad++;
        fds[0] = fds[1] = -1;
    }
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* ------------------------------------------------------------------ */
/* Readiness                                                          */
/* ------------------------------------------------------------------ */

static int pfd[2];

static struct {
    int rc, rc2, got;
    int64_t start, wrote_at, woke;
} rd;

static void *read_waiter(void *arg)
{
    char c = 0;
    (void)arg;
    rd.rc = uco_fd_wait(pfd[0], UCO_READ, UCO_NEVER);
    rd.woke = uco_now();
    rd.got = (int)read(pfd[0], &c, 1) == 1 && c == 'x';
    return NULL;
}

static void *late_writer(void *arg)
{
    uco_sleep((int64_t)N(arg));
    rd.wrote_at = uco_now();
    if (write(pfd[1], "x", 1) != 1)
        bad++;
    return NULL;
}

static void *readable_main(void *arg)
{
    uco_task *r, *w;
    (void)arg;
    task_pipe(pfd);
    rd.start = uco_now();
    r = spawn(read_waiter, NULL);
    w = spawn(late_writer, V(UCO_MSEC(20)));
    OK(join(r));
    OK(join(w));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_readable(void **state)
{
    (void)state;
    memset(&rd, 0, sizeof rd);
    assert_int_equal(run_main(readable_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rd.rc, UCO_READ);
    assert_true(rd.got);
    assert_on_time(rd.woke, rd.wrote_at, UCO_MSEC(10));
    assert_on_time(rd.woke - rd.start, UCO_MSEC(20), UCO_MSEC(30));
}

static struct {
    int w_rc, rw_rc, r_only;
    int64_t took;
} wr;

static void *writable_main(void *arg)
{
    int sv[2];
    int64_t s;
    (void)arg;
    task_pipe(pfd);
    s = uco_now();
    wr.w_rc = uco_fd_wait(pfd[1], UCO_WRITE, UCO_NEVER);
    wr.took = uco_now() - s;
    /* a socket with data waiting is readable and writable at once */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) != 0) {
        bad++;
        return NULL;
    }
    if (write(sv[1], "ab", 2) != 2)
        bad++;
    wr.rw_rc = uco_fd_wait(sv[0], UCO_READ | UCO_WRITE, UCO_NEVER);
    wr.r_only = uco_fd_wait(sv[0], UCO_READ, UCO_NEVER);
    OK(uco_fd_close(sv[0]));
    OK(uco_fd_close(sv[1]));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_writable(void **state)
{
    (void)state;
    memset(&wr, 0, sizeof wr);
    assert_int_equal(run_main(writable_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(wr.w_rc, UCO_WRITE);
    assert_true(wr.took < UCO_MSEC(5) * test_slack());
    assert_int_equal(wr.rw_rc, UCO_READ | UCO_WRITE);
    assert_int_equal(wr.r_only, UCO_READ);
}

/* ------------------------------------------------------------------ */
/* Deadline and cancellation                                          */
/* ------------------------------------------------------------------ */

static struct {
    int rc, rc_read, cancel_rc, again_rc;
    int64_t took, took_read, cancelled_at, woke;
} dc;

static void *deadline_main(void *arg)
{
    char buf[4];
    int64_t s;
    (void)arg;
    task_pipe(pfd);
    s = uco_now();
    dc.rc = uco_fd_wait(pfd[0], UCO_READ, s + UCO_MSEC(30));
    dc.took = uco_now() - s;
    s = uco_now();
    dc.rc_read = (int)uco_read(pfd[0], buf, sizeof buf, s + UCO_MSEC(20));
    dc.took_read = uco_now() - s;
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_deadline(void **state)
{
    (void)state;
    memset(&dc, 0, sizeof dc);
    assert_int_equal(run_main(deadline_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dc.rc, -ETIMEDOUT);
    assert_on_time(dc.took, UCO_MSEC(30), UCO_MSEC(20));
    assert_int_equal(dc.rc_read, -ETIMEDOUT);
    assert_on_time(dc.took_read, UCO_MSEC(20), UCO_MSEC(20));
}

static void *forever_reader(void *arg)
{
    (void)arg;
    dc.cancel_rc = uco_fd_wait(pfd[0], UCO_READ, UCO_NEVER);
    dc.woke = uco_now();
    return NULL;
}

static void *second_reader(void *arg)
{
    (void)arg;
    dc.again_rc = uco_fd_wait(pfd[0], UCO_READ, uco_now() + UCO_SEC(2));
    return NULL;
}

static void *cancel_main(void *arg)
{
    uco_task *t, *w;
    (void)arg;
    task_pipe(pfd);
    t = spawn(forever_reader, NULL);
    uco_sleep(UCO_MSEC(20));
    dc.cancelled_at = uco_now();
    OK(uco_cancel(t));
    if (join(t) != -ECANCELED)
        bad++;
    /* the slot is free again: another task waits and is woken */
    t = spawn(second_reader, NULL);
    w = spawn(late_writer, V(UCO_MSEC(5)));
    OK(join(t));
    OK(join(w));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_cancel_waiter(void **state)
{
    (void)state;
    memset(&dc, 0, sizeof dc);
    memset(&rd, 0, sizeof rd);
    assert_int_equal(run_main(cancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dc.cancel_rc, -ECANCELED);
    assert_on_time(dc.woke, dc.cancelled_at, UCO_MSEC(10));
    assert_int_equal(dc.again_rc, UCO_READ);
}

/* Once the waiter has been cancelled it no longer waits: the fd is free
 * for another waiter at once, before the cancelled task has run again. */
static void *cancel_free_main(void *arg)
{
    uco_task *t, *w;
    (void)arg;
    task_pipe(pfd);
    t = spawn(forever_reader, NULL);
    uco_sleep(UCO_MSEC(5));
    dc.cancelled_at = uco_now();
    OK(uco_cancel(t));
    w = spawn(late_writer, V(UCO_MSEC(10)));
    dc.again_rc = uco_fd_wait(pfd[0], UCO_READ, uco_now() + UCO_SEC(1));
    if (join(t) != -ECANCELED)
        bad++;
    OK(join(w));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_cancel_frees_fd_at_once(void **state)
{
    (void)state;
    memset(&dc, 0, sizeof dc);
    memset(&rd, 0, sizeof rd);
    assert_int_equal(run_main(cancel_free_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(dc.cancel_rc, -ECANCELED);
    assert_on_time(dc.woke, dc.cancelled_at, UCO_MSEC(10));
    assert_int_equal(dc.again_rc, UCO_READ);
}

/* A cancelled task gets -ECANCELED at once from every fd call. */
static struct {
    int rc[5];
    int64_t took;
} cx;

static void *precancelled(void *arg)
{
    char c = 0;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int64_t s;
    (void)arg;
    memset(&a, 0, sizeof a);
    uco_cancel(uco_self());
    s = uco_now();
    cx.rc[0] = uco_fd_wait(pfd[1], UCO_WRITE, UCO_NEVER); /* ready, even */
    cx.rc[1] = (int)uco_read(pfd[0], &c, 1, UCO_NEVER);
    cx.rc[2] = (int)uco_write(pfd[1], "y", 1, UCO_NEVER);
    cx.rc[3] = uco_accept(pfd[0], (struct sockaddr *)&a, &len, UCO_NEVER);
    cx.rc[4] = uco_connect(pfd[0], (struct sockaddr *)&a, len, UCO_NEVER);
    cx.took = uco_now() - s;
    return NULL;
}

static void *precancel_main(void *arg)
{
    char c;
    (void)arg;
    task_pipe(pfd);
    if (write(pfd[1], "x", 1) != 1)
        bad++;
    if (join(spawn(precancelled, NULL)) != -ECANCELED)
        bad++;
    /* the byte is still there, the write did not happen */
    if (read(pfd[0], &c, 1) != 1 || c != 'x')
        bad++;
    if (read(pfd[0], &c, 1) != -1)
        bad++;
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_cancelled_task(void **state)
{
    int i;
    (void)state;
    memset(&cx, 0, sizeof cx);
    assert_int_equal(run_main(precancel_main, NULL), 0);
    assert_int_equal(bad, 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(cx.rc[i], -ECANCELED);
    assert_true(cx.took < UCO_MSEC(5) * test_slack());
}

/* ------------------------------------------------------------------ */
/* One waiter per direction                                           */
/* ------------------------------------------------------------------ */

static struct {
    int first_rc, second_rc, writer_rc, both_rc, past_rc;
    int64_t second_took;
    int order;
} tw;

static int sv_[2];

static void *sock_reader(void *arg)
{
    (void)arg;
    tw.first_rc = uco_fd_wait(sv_[0], UCO_READ, UCO_NEVER);
    trace_add(&tr, "reader");
    return NULL;
}

static void *sock_second_reader(void *arg)
{
    int64_t s = uco_now();
    (void)arg;
    tw.second_rc = uco_fd_wait(sv_[0], UCO_READ, UCO_NEVER);
    tw.second_took = uco_now() - s;
    tw.both_rc = uco_fd_wait(sv_[0], UCO_READ | UCO_WRITE, UCO_NEVER);
    /* a look with a deadline past is refused too: what becomes ready is
     * the first reader's */
    tw.past_rc = uco_fd_wait(sv_[0], UCO_READ, 0);
    trace_add(&tr, "second");
    return NULL;
}

static void *sock_writer(void *arg)
{
    (void)arg;
    tw.writer_rc = uco_fd_wait(sv_[0], UCO_WRITE, UCO_NEVER);
    trace_add(&tr, "writer");
    return NULL;
}

static void *two_readers_main(void *arg)
{
    uco_task *a, *b, *w;
    (void)arg;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv_) != 0) {
        bad++;
        return NULL;
    }
    a = spawn(sock_reader, NULL);
    b = spawn(sock_second_reader, NULL);
    w = spawn(sock_writer, NULL); /* the other direction is free */
    OK(join(b));
    OK(join(w));
    uco_sleep(UCO_MSEC(5));
    trace_add(&tr, "send");
    if (write(sv_[1], "z", 1) != 1)
        bad++;
    OK(join(a));
    OK(uco_fd_close(sv_[0]));
    OK(uco_fd_close(sv_[1]));
    return NULL;
}

static void test_two_readers(void **state)
{
    (void)state;
    memset(&tw, 0, sizeof tw);
    assert_int_equal(run_main(two_readers_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(tw.second_rc, -EBUSY);
    assert_true(tw.second_took < UCO_MSEC(5) * test_slack());
    assert_int_equal(tw.both_rc, -EBUSY); /* its read half is taken */
    assert_int_equal(tw.past_rc, -EBUSY);
    assert_int_equal(tw.writer_rc, UCO_WRITE);
    assert_int_equal(tw.first_rc, UCO_READ);
    assert_string_equal(tr.buf, "second writer send reader");
}

/* ------------------------------------------------------------------ */
/* uco_fd_close wakes the waiters and forgets the fd                   */
/* ------------------------------------------------------------------ */

static struct {
    int rc, reused, new_rc, new_rc2, old_fd, new_fd, close_rc, closed;
    int64_t closed_at, woke;
} fc;

static int npfd[2];

static void *close_victim(void *arg)
{
    (void)arg;
    fc.rc = uco_fd_wait(pfd[0], UCO_READ, UCO_NEVER);
    fc.woke = uco_now();
    trace_add(&tr, "victim");
    return NULL;
}

static void *new_pipe_writer(void *arg)
{
    uco_sleep((int64_t)N(arg));
    if (write(npfd[1], "n", 1) != 1)
        bad++;
    return NULL;
}

static void *fd_close_main(void *arg)
{
    uco_task *v, *w;
    char c;
    (void)arg;
    task_pipe(pfd);
    fc.old_fd = pfd[0];
    v = spawn(close_victim, NULL);
    uco_sleep(UCO_MSEC(10));
    fc.closed_at = uco_now();
    fc.close_rc = uco_fd_close(pfd[0]);
    fc.closed = !fd_open(pfd[0]);
    /* the victim is ready but has not run yet: the number comes back at
     * once in a new pipe, and waiting on it must work */
    task_pipe(npfd);
    fc.new_fd = npfd[0];
    w = spawn(new_pipe_writer, V(UCO_MSEC(10)));
    fc.new_rc = uco_fd_wait(npfd[0], UCO_READ, uco_now() + UCO_SEC(1));
    trace_add(&tr, "main");
    OK(join(v));
    OK(join(w));
    if (read(npfd[0], &c, 1) != 1 || c != 'n')
        bad++;
    /* and again, now that the victim has finished */
    w = spawn(new_pipe_writer, V(UCO_MSEC(5)));
    fc.new_rc2 = uco_fd_wait(npfd[0], UCO_READ, uco_now() + UCO_SEC(1));
    OK(join(w));
    OK(uco_fd_close(npfd[0]));
    OK(uco_fd_close(npfd[1]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_fd_close_wakes(void **state)
{
    (void)state;
    memset(&fc, 0, sizeof fc);
    assert_int_equal(run_main(fd_close_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fc.close_rc, 0);
    assert_true(fc.closed);
    assert_int_equal(fc.rc, -EBADF);
    assert_on_time(fc.woke, fc.closed_at, UCO_MSEC(10));
    assert_int_equal(fc.new_fd, fc.old_fd); /* the number was reused */
    assert_int_equal(fc.new_rc, UCO_READ);
    assert_int_equal(fc.new_rc2, UCO_READ);
}

/* The same, but the old waiter runs before the number is reused. */
static void *fd_close_later_main(void *arg)
{
    uco_task *v, *w;
    (void)arg;
    task_pipe(pfd);
    fc.old_fd = pfd[0];
    v = spawn(close_victim, NULL);
    uco_sleep(UCO_MSEC(10));
    fc.closed_at = uco_now();
    fc.close_rc = uco_fd_close(pfd[0]);
    OK(join(v));
    task_pipe(npfd);
    fc.new_fd = npfd[0];
    w = spawn(new_pipe_writer, V(UCO_MSEC(10)));
    fc.new_rc = uco_fd_wait(npfd[0], UCO_READ, uco_now() + UCO_SEC(1));
    OK(join(w));
    OK(uco_fd_close(npfd[0]));
    OK(uco_fd_close(npfd[1]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_fd_close_then_reuse(void **state)
{
    (void)state;
    memset(&fc, 0, sizeof fc);
    assert_int_equal(run_main(fd_close_later_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(fc.rc, -EBADF);
    assert_on_time(fc.woke, fc.closed_at, UCO_MSEC(10));
    assert_int_equal(fc.new_fd, fc.old_fd);
    assert_int_equal(fc.new_rc, UCO_READ);
}

/* An fd waited on and then closed with close(2), not uco_fd_close: a
 * wait on its number afterwards says -EBADF, and once the number is
 * reused, a wait on the new file sees it become ready (the registration
 * of the old one is gone with it). */
static struct {
    int first, closed_rc, reused, new_rc;
} pc;

static void *plain_close_main(void *arg)
{
    int p[2];
    char c;
    uco_task *w;
    (void)arg;
    task_pipe(p);
    if (write(p[1], "x", 1) != 1 || !fd_open(p[0]))
        bad++;
    pc.first = uco_fd_wait(p[0], UCO_READ, UCO_NEVER);
    if (read(p[0], &c, 1) != 1)
        bad++;
    close(p[0]);
    close(p[1]);
    pc.closed_rc = uco_fd_wait(p[0], UCO_READ, uco_now() + UCO_MSEC(100));
    task_pipe(npfd);
    pc.reused = npfd[0] == p[0];
    w = spawn(new_pipe_writer, V(UCO_MSEC(10)));
    pc.new_rc = uco_fd_wait(npfd[0], UCO_READ, uco_now() + UCO_SEC(1));
    OK(join(w));
    OK(uco_fd_close(npfd[0]));
    OK(uco_fd_close(npfd[1]));
    return NULL;
}

/* A wait that ended by its deadline, the file kept open by a dup while
 * its number is closed and reused: the old file becoming readable does
 * not wake a wait on the new one (its registration went with the wait). */
static struct {
    int first, reused, new_rc;
    int64_t took;
} sr;

static void *closed_file_main(void *arg)
{
    int p[2], q[2], keep;
    int64_t t;
    (void)arg;
    task_pipe(p);
    sr.first = uco_fd_wait(p[0], UCO_READ, uco_now() + UCO_MSEC(5));
    keep = dup(p[0]);
    close(p[0]);
    task_pipe(q);
    sr.reused = q[0] == p[0];
    if (write(p[1], "x", 1) != 1) /* the old file, under the dup */
        bad++;
    t = uco_now();
    sr.new_rc = uco_fd_wait(q[0], UCO_READ, t + UCO_MSEC(50));
    sr.took = uco_now() - t;
    close(keep);
    close(p[1]);
    OK(uco_fd_close(q[0]));
    OK(uco_fd_close(q[1]));
    return NULL;
}

static void test_no_wake_from_closed_file(void **state)
{
    (void)state;
    memset(&sr, 0, sizeof sr);
    assert_int_equal(run_main(closed_file_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(sr.first, -ETIMEDOUT);
    assert_true(sr.reused);
    assert_int_equal(sr.new_rc, -ETIMEDOUT);
    assert_true(sr.took >= UCO_MSEC(50));
}

static void test_plain_close_then_reuse(void **state)
{
    (void)state;
    memset(&pc, 0, sizeof pc);
    assert_int_equal(run_main(plain_close_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(pc.first, UCO_READ);
    assert_int_equal(pc.closed_rc, -EBADF);
    assert_true(pc.reused);
    assert_int_equal(pc.new_rc, UCO_READ);
}

/* A reader and a writer wait on one socket; the reader is woken first,
 * and the writer is still woken when the socket becomes writable. */
static int rw_sv[2];
static struct {
    int r_rc, w_rc;
} rw;

static void *rw_reader(void *arg)
{
    (void)arg;
    rw.r_rc = uco_fd_wait(rw_sv[0], UCO_READ, uco_now() + UCO_SEC(2));
    return NULL;
}

static void *rw_writer(void *arg)
{
    (void)arg;
    rw.w_rc = uco_fd_wait(rw_sv[0], UCO_WRITE, uco_now() + UCO_SEC(2));
    return NULL;
}

static void *reader_writer_main(void *arg)
{
    static char buf[1 << 16];
    uco_task *r, *w;
    (void)arg;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, rw_sv) != 0) {
        bad++;
        return NULL;
    }
    while (write(rw_sv[0], buf, sizeof buf) > 0) /* fill: not writable */
        ;
    r = spawn(rw_reader, NULL);
    w = spawn(rw_writer, NULL);
    uco_sleep(UCO_MSEC(10));
    if (write(rw_sv[1], "x", 1) != 1) /* the reader's turn */
        bad++;
    uco_sleep(UCO_MSEC(10));
    if (rw.r_rc != UCO_READ || rw.w_rc != 0)
        bad++;
    while (read(rw_sv[1], buf, sizeof buf) > 0) /* now the writer's */
        ;
    OK(join(r));
    OK(join(w));
    OK(uco_fd_close(rw_sv[0]));
    OK(uco_fd_close(rw_sv[1]));
    return NULL;
}

static void test_reader_and_writer_on_one_fd(void **state)
{
    (void)state;
    memset(&rw, 0, sizeof rw);
    assert_int_equal(run_main(reader_writer_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(rw.r_rc, UCO_READ);
    assert_int_equal(rw.w_rc, UCO_WRITE);
}

/* ------------------------------------------------------------------ */
/* Bad input and calls outside a task                                  */
/* ------------------------------------------------------------------ */

static int bi[16];

static void *bad_input_main(void *arg)
{
    int closed[2];
    (void)arg;
    task_pipe(pfd);
    task_pipe(closed);
    close(closed[0]);
    close(closed[1]);
    bi[0] = uco_fd_wait(closed[0], UCO_READ, UCO_NEVER);
    bi[1] = uco_fd_wait(closed[1], UCO_WRITE, uco_now() + UCO_MSEC(10));
    bi[2] = uco_fd_wait(100000, UCO_READ, UCO_NEVER);
    bi[3] = uco_fd_wait(pfd[0], 0, UCO_NEVER);
    bi[4] = uco_fd_wait(pfd[0], 4, UCO_NEVER);
    bi[5] = uco_fd_wait(pfd[0], UCO_READ | 8, UCO_NEVER);
    bi[6] = uco_fd_wait(pfd[0], UCO_READ, -3);
    bi[7] = uco_fd_close(-1);
    bi[8] = (int)uco_read(closed[0], bi, 1, UCO_NEVER);
    bi[9] = (int)uco_write(closed[1], "a", 1, UCO_NEVER);
    /* nothing was left registered: a wait still works */
    bi[10] = uco_fd_wait(pfd[1], UCO_WRITE, UCO_NEVER);
    /* with the fd table made: a number far beyond it grows nothing */
    bi[11] = uco_fd_wait(INT_MAX, UCO_READ, UCO_NEVER);
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_bad_input(void **state)
{
    (void)state;
    memset(bi, 0, sizeof bi);
    assert_int_equal(run_main(bad_input_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(bi[0], -EBADF);
    assert_int_equal(bi[1], -EBADF);
    assert_int_equal(bi[2], -EBADF);
    assert_int_equal(bi[3], -EINVAL);
    assert_int_equal(bi[4], -EINVAL);
    assert_int_equal(bi[5], -EINVAL);
    assert_int_equal(bi[6], -EINVAL);
    assert_int_equal(bi[7], -EBADF);
    assert_int_equal(bi[8], -EBADF);
    assert_int_equal(bi[9], -EBADF);
    assert_int_equal(bi[10], UCO_WRITE);
    assert_int_equal(bi[11], -EBADF);
}

static void test_outside_task(void **state)
{
    int fds[2];
    char c;
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    (void)state;
    memset(&a, 0, sizeof a);
    make_pipe(fds);
    assert_int_equal(uco_fd_wait(fds[1], UCO_WRITE, UCO_NEVER), -EPERM);
    assert_int_equal(uco_read(fds[0], &c, 1, UCO_NEVER), -EPERM);
    assert_int_equal(uco_write(fds[1], "q", 1, UCO_NEVER), -EPERM);
    assert_int_equal(uco_accept(fds[0], (struct sockaddr *)&a, &len,
                                UCO_NEVER), -EPERM);
    assert_int_equal(uco_connect(fds[0], (struct sockaddr *)&a, len,
                                 UCO_NEVER), -EPERM);
    /* nothing was written */
    assert_int_equal(read(fds[0], &c, 1), -1);
    assert_int_equal(errno, EAGAIN);
    /* uco_fd_close needs no task */
    assert_int_equal(uco_fd_close(fds[0]), 0);
    assert_int_equal(uco_fd_close(fds[1]), 0);
    assert_false(fd_open(fds[0]));
}

/* ------------------------------------------------------------------ */
/* 1 MiB through a pipe                                               */
/* ------------------------------------------------------------------ */

#define BIG (1024 * 1024)

static unsigned char *src, *dst;

static struct {
    size_t written, read, written_when_reader_started;
    int write_rc, read_rc, eof_rc;
    int64_t writer_done, reader_start;
    int chunks_read;
} bg;

static void *big_writer(void *arg)
{
    size_t chunk = 100 * 1000; /* more than the pipe holds */
    (void)arg;
    while (bg.written < BIG) {
        size_t n = BIG - bg.written < chunk ? BIG - bg.written : chunk;
        ssize_t w = uco_write(pfd[1], src + bg.written, n, UCO_NEVER);
        if (w <= 0) {
            bg.write_rc = (int)w;
            break;
        }
        bg.written += (size_t)w;
    }
    bg.writer_done = uco_now();
    OK(uco_fd_close(pfd[1])); /* the reader sees the end */
    return NULL;
}

static void *big_reader(void *arg)
{
    (void)arg;
    uco_sleep(UCO_MSEC(20)); /* the pipe fills up, the writer waits */
    bg.reader_start = uco_now();
    bg.written_when_reader_started = bg.written;
    for (;;) {
        size_t room = BIG - bg.read < 3000 ? BIG - bg.read : 3000;
        ssize_t r;
        if (room == 0) {
            unsigned char extra;
            bg.eof_rc = (int)uco_read(pfd[0], &extra, 1, UCO_NEVER);
            break;
        }
        r = uco_read(pfd[0], dst + bg.read, room, UCO_NEVER);
        if (r <= 0) {
            bg.read_rc = (int)r;
            break;
        }
        bg.read += (size_t)r;
        bg.chunks_read++;
        if (bg.chunks_read % 50 == 0)
            uco_sleep(UCO_USEC(200)); /* the writer fills it again */
    }
    return NULL;
}

static void *big_main(void *arg)
{
    uco_task *w, *r;
    (void)arg;
    task_pipe(pfd);
    w = spawn(big_writer, NULL);
    r = spawn(big_reader, NULL);
    OK(join(w));
    OK(join(r));
    OK(uco_fd_close(pfd[0]));
    return NULL;
}

static void test_read_write_1mib(void **state)
{
    size_t i;
    (void)state;
    memset(&bg, 0, sizeof bg);
    src = malloc(BIG);
    dst = malloc(BIG);
    assert_non_null(src);
    assert_non_null(dst);
    for (i = 0; i < BIG; i++)
        src[i] = (unsigned char)((i * 131u + (i >> 11) * 7u + 13u) & 0xff);
    memset(dst, 0, BIG);
    assert_int_equal(run_main(big_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(bg.write_rc, 0);
    assert_int_equal(bg.read_rc, 0);
    assert_int_equal(bg.eof_rc, 0); /* end of file after the last byte */
    assert_int_equal(bg.written, BIG);
    assert_int_equal(bg.read, BIG);
    /* the writer was stopped by the full pipe until the reader began */
    assert_true(bg.written_when_reader_started > 0);
    assert_true(bg.written_when_reader_started < BIG);
    assert_true(bg.writer_done >= bg.reader_start);
    for (i = 0; i < BIG; i++)
        if (src[i] != dst[i])
            break;
    assert_int_equal(i, BIG);
    free(src);
    free(dst);
}

/* ------------------------------------------------------------------ */
/* A TCP echo server on loopback with 50 clients                       */
/* ------------------------------------------------------------------ */

#define CLIENTS 50
#define MESSAGES 100

static struct sockaddr_in server_addr;
static int listen_fd;

static struct {
    int accepted, accept_nonblock, accept_cloexec, accept_err;
    int handler_err, client_err, connect_err;
    long bytes_checked, messages_checked, bytes_echoed;
    int mismatches;
} ec;

static void *echo_handler(void *arg)
{
    int fd = (int)N(arg);
    char buf[512];
    ssize_t r, w, off;

    for (;;) {
        r = uco_read(fd, buf, sizeof buf, UCO_NEVER);
        if (r == 0)
            break;
        if (r < 0) {
            ec.handler_err++;
            break;
        }
        for (off = 0; off < r; off += w) {
            w = uco_write(fd, buf + off, (size_t)(r - off), UCO_NEVER);
            if (w <= 0) {
                ec.handler_err++;
                goto out;
            }
        }
        ec.bytes_echoed += r;
    }
out:
    OK(uco_fd_close(fd));
    return NULL;
}

static void *echo_server(void *arg)
{
    uco_task *h[CLIENTS];
    int i, n = 0, fd, fl, one = 1;
    (void)arg;
    for (i = 0; i < CLIENTS; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        fd = uco_accept(listen_fd, (struct sockaddr *)&peer, &len,
                        uco_now() + UCO_SEC(5));
        if (fd < 0) {
            ec.accept_err++;
            break;
        }
        ec.accepted++;
        fl = fcntl(fd, F_GETFL);
        ec.accept_nonblock += fl >= 0 && (fl & O_NONBLOCK);
        ec.accept_cloexec += (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
        /* small echoes split across reads would wait for delayed ACKs */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        h[n++] = spawn(echo_handler, V(fd));
    }
    for (i = 0; i < n; i++)
        OK(join(h[i]));
    return NULL;
}

/* Message k of client id: its length and its bytes. */
static size_t msg_len(int id, int k)
{
    return 1 + (size_t)((id * 37 + k * 101) % 700);
}

static unsigned char msg_byte(int id, int k, size_t i)
{
    return (unsigned char)(id * 7 + k * 13 + (int)i * 3 + (int)(i >> 8));
}

static void *echo_client(void *arg)
{
    int id = (int)N(arg), k, fd, rc, one = 1;
    unsigned char out[1024], in[1024];
    size_t len, i, off;
    ssize_t n;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ec.client_err++;
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rc = uco_connect(fd, (struct sockaddr *)&server_addr,
                     sizeof server_addr, uco_now() + UCO_SEC(5));
    if (rc != 0) {
        ec.connect_err++;
        OK(uco_fd_close(fd));
        return NULL;
    }
    for (k = 0; k < MESSAGES; k++) {
        len = msg_len(id, k);
        for (i = 0; i < len; i++)
            out[i] = msg_byte(id, k, i);
        for (off = 0; off < len; off += (size_t)n) {
            n = uco_write(fd, out + off, len - off, uco_now() + UCO_SEC(5));
            if (n <= 0) {
                ec.client_err++;
                goto out;
            }
        }
        for (off = 0; off < len; off += (size_t)n) {
            n = uco_read(fd, in + off, len - off, uco_now() + UCO_SEC(5));
            if (n <= 0) {
                ec.client_err++;
                goto out;
            }
        }
        for (i = 0; i < len; i++)
            if (in[i] != out[i])
                ec.mismatches++;
        ec.bytes_checked += (long)len;
        ec.messages_checked++;
        if (k % 10 == 0)
            uco_yield();
    }
out:
    OK(uco_fd_close(fd));
    return NULL;
}

static void *echo_main(void *arg)
{
    uco_task *srv, *cl[CLIENTS];
    socklen_t len = sizeof server_addr;
    int i, one = 1;
    (void)arg;

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) {
        bad++;
        return NULL;
    }
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server_addr.sin_port = 0;
    if (bind(listen_fd, (struct sockaddr *)&server_addr, sizeof server_addr) ||
        listen(listen_fd, 128) ||
        getsockname(listen_fd, (struct sockaddr *)&server_addr, &len)) {
        bad++;
        close(listen_fd);
        return NULL;
    }
    srv = spawn(echo_server, NULL);
    for (i = 0; i < CLIENTS; i++)
        cl[i] = spawn(echo_client, V(i));
    for (i = 0; i < CLIENTS; i++)
        OK(join(cl[i]));
    OK(join(srv));
    OK(uco_fd_close(listen_fd));
    return NULL;
}

static void test_tcp_echo(void **state)
{
    long want = 0;
    int id, k;
    (void)state;
    memset(&ec, 0, sizeof ec);
    for (id = 0; id < CLIENTS; id++)
        for (k = 0; k < MESSAGES; k++)
            want += (long)msg_len(id, k);
    assert_int_equal(run_main(echo_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(ec.connect_err, 0);
    assert_int_equal(ec.client_err, 0);
    assert_int_equal(ec.accept_err, 0);
    assert_int_equal(ec.handler_err, 0);
    assert_int_equal(ec.accepted, CLIENTS);
    assert_int_equal(ec.accept_nonblock, CLIENTS);
    assert_int_equal(ec.accept_cloexec, CLIENTS);
    assert_int_equal(ec.messages_checked, CLIENTS * MESSAGES);
    assert_int_equal(ec.bytes_checked, want);
    assert_int_equal(ec.bytes_echoed, want);
    assert_int_equal(ec.mismatches, 0);
}

/* Connecting to a port nobody listens on is refused. */
static int refused_rc;

static void *refused_main(void *arg)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int probe, fd;
    (void)arg;
    probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (probe < 0 || bind(probe, (struct sockaddr *)&a, sizeof a) ||
        getsockname(probe, (struct sockaddr *)&a, &len)) {
        bad++;
        return NULL;
    }
    close(probe); /* the port is free again: nobody listens */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    refused_rc = uco_connect(fd, (struct sockaddr *)&a, sizeof a,
                             uco_now() + UCO_SEC(2));
    OK(uco_fd_close(fd));
    return NULL;
}

static void test_connect_refused(void **state)
{
    (void)state;
    refused_rc = 0;
    assert_int_equal(run_main(refused_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(refused_rc, -ECONNREFUSED);
}

/* ------------------------------------------------------------------ */
/* The scheduler blocks in the kernel; busy tasks do not starve fds    */
/* ------------------------------------------------------------------ */

static int64_t cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct {
    int rc, sleep_rc;
    int64_t took, cpu;
} kb;

static void *short_sleeper(void *arg)
{
    (void)arg;
    kb.sleep_rc = uco_sleep(UCO_MSEC(120));
    return NULL;
}

static void *kernel_block_main(void *arg)
{
    uco_task *t;
    int64_t s, c;
    (void)arg;
    task_pipe(pfd);
    t = spawn(short_sleeper, NULL);
    c = cpu_now();
    s = uco_now();
    kb.rc = uco_fd_wait(pfd[0], UCO_READ, s + UCO_MSEC(200));
    kb.took = uco_now() - s;
    kb.cpu = cpu_now() - c;
    OK(join(t));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_blocks_in_kernel(void **state)
{
    (void)state;
    memset(&kb, 0, sizeof kb);
    assert_int_equal(run_main(kernel_block_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(kb.rc, -ETIMEDOUT);
    assert_int_equal(kb.sleep_rc, 0);
    assert_on_time(kb.took, UCO_MSEC(200), UCO_MSEC(30));
    /* 200 ms of waiting cost next to no CPU */
    if (kb.cpu > UCO_MSEC(20))
        printf("cpu time while waiting: %lld ns\n", (long long)kb.cpu);
    assert_true(kb.cpu < (int64_t)(UCO_MSEC(20) * test_slack()));
}

#define SPIN_LIMIT 200000

static struct {
    volatile bool stop;
    long switches;           /* yields done by the busy tasks */
    long at_write, at_wake;
    int rc;
} sv;

static void *fd_waiter(void *arg)
{
    (void)arg;
    sv.rc = uco_fd_wait(pfd[0], UCO_READ, uco_now() + UCO_SEC(3));
    sv.at_wake = sv.switches;
    sv.stop = true;
    return NULL;
}

static void *busy(void *arg)
{
    bool writer = N(arg) != 0;
    while (!sv.stop && sv.switches < SPIN_LIMIT) {
        sv.switches++;
        if (writer && sv.switches >= 1000 && !sv.at_write) {
            sv.at_write = sv.switches;
            if (write(pfd[1], "w", 1) != 1)
                bad++;
        }
        if (uco_yield() < 0)
            break;
    }
    return NULL;
}

static void *starve_main(void *arg)
{
    uco_task *w, *b1, *b2;
    (void)arg;
    task_pipe(pfd);
    w = spawn(fd_waiter, NULL);
    uco_yield(); /* it waits now */
    b1 = spawn(busy, V(1));
    b2 = spawn(busy, V(0));
    OK(join(w));
    OK(join(b1));
    OK(join(b2));
    OK(uco_fd_close(pfd[0]));
    OK(uco_fd_close(pfd[1]));
    return NULL;
}

static void test_yielders_do_not_starve(void **state)
{
    (void)state;
    memset(&sv, 0, sizeof sv);
    assert_int_equal(run_main(starve_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(sv.rc, UCO_READ);
    assert_true(sv.at_write >= 1000 && sv.at_write <= 1001);
    assert_true(sv.at_wake > sv.at_write);
    /* noticed within a bounded number of switches */
    if (sv.at_wake - sv.at_write > 256)
        printf("noticed after %ld switches\n", sv.at_wake - sv.at_write);
    assert_true(sv.at_wake - sv.at_write <= 256);
}

/* An fd left registered with nobody waiting (its writer closed: hang-up
 * is reported even with no interest) must not make the scheduler spin
 * while another task waits on another fd. */
static int hup_fd[2], other_fd[2];

static void *hup_reader(void *arg)
{
    char c;
    (void)arg;
    uco_read(hup_fd[0], &c, 1, UCO_NEVER); /* waits, then gets the byte */
    return NULL;
}

static void *hup_main(void *arg)
{
    int *rc = arg;
    uco_task *r;
    uco_spawn(&r, hup_reader, NULL, NULL);
    uco_yield();                           /* r waits on hup_fd[0] */
    if (write(hup_fd[1], "x", 1) != 1)
        *rc = -1;
    uco_join(r, NULL, UCO_NEVER);
    close(hup_fd[1]);                      /* hang-up; hup_fd[0] stays open */
    *rc = uco_fd_wait(other_fd[0], UCO_READ, uco_now() + UCO_MSEC(300));
    return NULL;
}

static void test_no_spin_on_hangup(void **state)
{
    struct timespec a, b;
    double cpu;
    int rc = 0;
    (void)state;
    assert_int_equal(pipe(hup_fd), 0);
    assert_int_equal(pipe(other_fd), 0);
    fcntl(hup_fd[0], F_SETFL, O_NONBLOCK);
    fcntl(other_fd[0], F_SETFL, O_NONBLOCK);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    assert_int_equal(run_main(hup_main, &rc), 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    cpu = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("cpu during a 300 ms wait beside a hung-up fd: %.3f s\n", cpu);
    assert_int_equal(rc, -ETIMEDOUT);
    assert_true(cpu < 0.1); /* spinning would burn about 0.3 s */
    close(hup_fd[0]);
    close(other_fd[0]);
    close(other_fd[1]);
}

/* An fd closed with close(2) while its file stays open under another
 * number (dup): the kernel keeps the old registration, which becomes
 * ready; the scheduler must not spin on it while it waits on another fd. */
static struct {
    int first, rc;
    int64_t cpu;
} st;

static void *stale_main(void *arg)
{
    int p[2], q[2], keep;
    int64_t c;
    (void)arg;
    task_pipe(p);
    task_pipe(q);
    keep = dup(p[0]);
    st.first = uco_fd_wait(p[0], UCO_READ, uco_now() + UCO_MSEC(10));
    close(p[0]);
    if (write(p[1], "x", 1) != 1) /* the old registration is ready */
        bad++;
    c = cpu_now();
    st.rc = uco_fd_wait(q[0], UCO_READ, uco_now() + UCO_MSEC(300));
    st.cpu = cpu_now() - c;
    close(keep);
    close(p[1]);
    OK(uco_fd_close(q[0]));
    OK(uco_fd_close(q[1]));
    return NULL;
}

static void test_no_spin_on_stale_registration(void **state)
{
    (void)state;
    memset(&st, 0, sizeof st);
    assert_int_equal(run_main(stale_main, NULL), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(st.first, -ETIMEDOUT);
    assert_int_equal(st.rc, -ETIMEDOUT);
    printf("cpu during a 300 ms wait beside a stale registration: %.3f s\n",
           (double)st.cpu / 1e9);
    assert_true(st.cpu < UCO_MSEC(100)); /* spinning burns about 300 ms */
}

#define T(f) cmocka_unit_test_setup(f, reset)

/* ---- errors of the poller: never a spin, never a lost wake-up */

#define NPIPES 70

struct perr {
    int woke_rc;        /* the read of the reader whose pipe was written */
    int64_t woke_after; /* ns from the write to its return */
    int64_t idle_cpu;   /* process CPU during 200 ms with nobody ready */
    int others;         /* the other readers that got their byte */
    int reuse_rc;       /* a wait on the library's old fd number, reused */
    int epfd;           /* the library's epoll fd found, or -1 */
};

static struct perr *pe;
static int pfds[NPIPES][2];

static void *pipe_reader(void *arg)
{
    intptr_t i = (intptr_t)arg;
    char c;
    ssize_t n = uco_read(pfds[i][0], &c, 1, uco_now() + UCO_SEC(10));

    if (i == NPIPES - 10) {
        pe->woke_rc = (int)n;
        pe->woke_after = uco_now() - pe->woke_after;
    } else if (n == 1) {
        pe->others++;
    }
    return NULL;
}

/* The fd of the scheduler's epoll instance, or -1. */
static int find_epoll_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char path[300], link[64];
    int fd = -1;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        ssize_t n;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            if (strstr(link, "eventpoll") && atoi(e->d_name) != dirfd(d))
                fd = atoi(e->d_name);
        }
    }
    closedir(d);
    return fd;
}

/* Spawn the readers, break the poller with how, and check that a write
 * still wakes its reader, with no spin meanwhile. */
static void *poller_error_main(void *arg)
{
    int how = (int)(intptr_t)arg, i, spare[2];
    struct rlimit old, low;
    uco_task *t[NPIPES];
    int64_t c;

    for (i = 0; i < NPIPES; i++) {
        make_pipe(pfds[i]);
        if (uco_spawn(&t[i], pipe_reader, (void *)(intptr_t)i, NULL) != 0)
            bad++;
    }
    uco_sleep(UCO_MSEC(20)); /* every reader waits */
    getrlimit(RLIMIT_NOFILE, &old);
    if (how == 0) { /* fewer fds allowed than are waited on */
        low = old;
        low.rlim_cur = 40;
        setrlimit(RLIMIT_NOFILE, &low);
    } else { /* the library's epoll fd closed, its number reused */
        pe->epfd = find_epoll_fd();
        if (pe->epfd >= 0) {
            make_pipe(spare);
            close(pe->epfd);
            dup2(spare[0], pe->epfd); /* not close-on-exec: the program's */
        }
    }
    c = cpu_now();
    uco_sleep(UCO_MSEC(200));
    pe->idle_cpu = cpu_now() - c;
    pe->woke_after = uco_now();
    if (write(pfds[NPIPES - 10][1], "x", 1) != 1)
        bad++;
    uco_join(t[NPIPES - 10], NULL, UCO_NEVER);
    if (how == 1 && pe->epfd >= 0) {
        if (write(spare[1], "y", 1) != 1)
            bad++;
        pe->reuse_rc = uco_fd_wait(pe->epfd, UCO_READ, uco_now() + UCO_SEC(2));
    }
    setrlimit(RLIMIT_NOFILE, &old);
    for (i = 0; i < NPIPES; i++)
        if (i != NPIPES - 10) {
            if (write(pfds[i][1], "z", 1) != 1)
                bad++;
            uco_join(t[i], NULL, UCO_NEVER);
        }
    return NULL;
}

static int perr_how; /* set before the fork */

static void poller_error_child(void *shared)
{
    pe = shared;
    pe->epfd = -1;
    if (run_main(poller_error_main, (void *)(intptr_t)perr_how) != 0 || bad)
        _exit(3);
}

static struct perr *run_poller_error(int how)
{
    struct child c;
    struct perr *p;

    perr_how = how;
    p = run_child(poller_error_child, &c);
    assert_exit_code(&c, 0);
    printf("idle CPU in 200 ms: %.1f ms; woken %.2f ms after the write\n",
           (double)p->idle_cpu / 1e6, (double)p->woke_after / 1e6);
    assert_int_equal(p->woke_rc, 1);
    assert_true(p->woke_after < UCO_MSEC(500) * test_slack());
    assert_true(p->idle_cpu < UCO_MSEC(100)); /* a spin burns ~200 ms */
    assert_int_equal(p->others, NPIPES - 1);
    return p;
}

/* ppoll refuses more fds than RLIMIT_NOFILE: the poll backend polls in
 * slices (epoll does not mind) */
static void test_poller_fd_limit_lowered(void **state)
{
    (void)state;
    release_shared(run_poller_error(0));
}

/* a program closes the library's epoll fd (closefrom) and reuses its
 * number: the library makes a new instance, arms every waited fd again,
 * and the number is the program's */
static void test_poller_fd_closed_and_reused(void **state)
{
    struct perr *p;

    (void)state;
    p = run_poller_error(1);
    /* the poll backend (UCO_IO=poll, or a library built without epoll)
     * has no fd of its own to close: then only the wake-ups are checked */
    printf("the scheduler's epoll fd: %d\n", p->epfd);
    if (p->epfd >= 0)
        assert_int_equal(p->reuse_rc, UCO_READ);
    release_shared(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_readable),
        T(test_no_spin_on_hangup),
        T(test_writable),
        T(test_deadline),
        T(test_cancel_waiter),
        T(test_cancel_frees_fd_at_once),
        T(test_cancelled_task),
        T(test_two_readers),
        T(test_fd_close_wakes),
        T(test_fd_close_then_reuse),
        T(test_plain_close_then_reuse),
        T(test_no_wake_from_closed_file),
        T(test_reader_and_writer_on_one_fd),
        T(test_bad_input),
        T(test_outside_task),
        T(test_read_write_1mib),
        T(test_tcp_echo),
        T(test_connect_refused),
        T(test_blocks_in_kernel),
        T(test_yielders_do_not_starve),
        T(test_no_spin_on_stale_registration),
        T(test_poller_fd_limit_lowered),
        T(test_poller_fd_closed_and_reused),
    };
    const char *e = getenv("UCO_IO");

    printf("io backend: %s\n",
           e && strcmp(e, "poll") == 0 ? "poll (UCO_IO=poll)"
                                       : "epoll (default)");
    fflush(stdout);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
