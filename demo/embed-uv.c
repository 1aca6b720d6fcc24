/*
 * embed-uv - a ucoro scheduler inside a libuv program.
 *
 * libuv owns the thread: uv_run is the program's loop.  The scheduler is
 * made with uco_sched_create and driven a step at a time: a uv_poll_t
 * watches uco_sched_fd, and a uv_timer_t fires at the deadline that each
 * uco_sched_step reports.  Its tasks serve a TCP echo on 127.0.0.1, one
 * task per connection, written as blocking code (uco_accept, uco_read,
 * uco_write).  Meanwhile libuv's own handles keep working: a uv_timer_t
 * ticks every 5 ms and starts a client at each tick, and the clients are
 * uv_tcp_t handles that send messages to the tasks and check every byte
 * that comes back.  When the last client has closed, the host posts a
 * task (uco_post) that cancels the server; the main task then returns,
 * uco_sched_step says so, the host closes its handles, uv_run returns and
 * uco_sched_destroy ends the scheduler.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MESSAGES 4
#define SIZE 16384 /* bytes a message: several reads and writes each */

#include "embed-tasks.h"

/* ---------------------------------------------------------------- the host */

static struct {
    uv_loop_t *loop;
    uco_sched *s;
    uv_poll_t fdw;           /* uco_sched_fd, readable: step */
    uv_timer_t due;          /* the step's deadline */
    uv_timer_t tick;         /* libuv's own work: a heartbeat */
    struct sockaddr_in addr;
    int clients, started, closed, failed;
    int first_err;           /* libuv's code */
    unsigned long long checked;
    unsigned long steps, ticks;
    int step_err;
    bool over;               /* main has finished */
} h;

static void on_due(uv_timer_t *t);

/* One round of the scheduler, then wait for its fd or its deadline. */
static void step(void)
{
    int64_t d, left;
    int rc;

    if (h.over)
        return;
    h.steps++;
    rc = uco_sched_step(h.s, &d);
    if (rc != 1) { /* main has finished (or a misuse: rc < 0) */
        h.step_err = rc;
        h.over = true;
        uv_close((uv_handle_t *)&h.fdw, NULL);
        uv_close((uv_handle_t *)&h.due, NULL);
        uv_close((uv_handle_t *)&h.tick, NULL);
        return;
    }
    if (d == UCO_NEVER) {
        uv_timer_stop(&h.due);
        return;
    }
    left = d - uco_now();
    uv_update_time(h.loop); /* the timer counts from now, not the loop's start */
    uv_timer_start(&h.due, on_due, left <= 0 ? 0 : (uint64_t)((left + 999999) / 1000000), 0);
}

static void on_due(uv_timer_t *t)
{
    (void)t;
    step();
}

static void on_fd(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    step();
}

/* ---- the clients: libuv streams */

struct client {
    uv_tcp_t tcp;            /* tcp.data: this */
    uv_connect_t conn;
    uv_write_t wr;
    int id, msg;
    size_t got;
    bool written, done;
    unsigned char out[SIZE], in[SIZE];
};

static unsigned char pattern(int c, int m, size_t j)
{
    return (unsigned char)((unsigned)c * 131u + (unsigned)m * 31u + (unsigned)j * 7u +
                           (unsigned)(j >> 8));
}

static void on_closed(uv_handle_t *hd)
{
    free(hd->data);
    if (++h.closed == h.clients) {
        /* the last one: ask the tasks to stop */
        int rc = uco_post(h.s, stop_task, NULL);
        if (rc < 0)
            fprintf(stderr, "embed-uv: uco_post: %s\n", uco_strerror(rc));
    }
}

static void client_done(struct client *c, int status)
{
    if (c->done)
        return;
    c->done = true;
    if (status < 0 && h.failed++ == 0)
        h.first_err = status;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_written(uv_write_t *w, int status);
static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

/* Send the next message and read its echo (the reads stop once it has
 * come back whole). */
static void send_message(struct client *c)
{
    uv_buf_t b = uv_buf_init((char *)c->out, SIZE);
    size_t j;
    int rc;

    for (j = 0; j < SIZE; j++)
        c->out[j] = pattern(c->id, c->msg, j);
    c->got = 0;
    c->written = false;
    rc = uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0)
        client_done(c, rc);
}

/* The next message once this one is written and has come back whole. */
static void advance(struct client *c)
{
    if (!c->written || c->got < SIZE || c->done)
        return;
    if (memcmp(c->in, c->out, SIZE) != 0) {
        client_done(c, UV_EPROTO);
        return;
    }
    h.checked += SIZE;
    if (++c->msg == MESSAGES)
        client_done(c, 0);
    else
        send_message(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct client *c = w->handle->data;

    if (status < 0) {
        client_done(c, status);
        return;
    }
    c->written = true;
    advance(c);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    struct client *c = hd->data;

    (void)suggested;
    /* the rest of the message, never more (the reads stop at its end) */
    *b = uv_buf_init((char *)c->in + c->got, (unsigned)(SIZE - c->got));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct client *c = st->data;

    (void)b;
    if (n < 0) {
        client_done(c, n == UV_EOF ? UV_ECONNRESET : (int)n);
        return;
    }
    c->got += (size_t)n;
    if (c->got == SIZE)
        uv_read_stop(st);
    advance(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct client *c = req->handle->data;

    if (status < 0) {
        client_done(c, status);
        return;
    }
    send_message(c);
}

static void start_client(int id)
{
    struct client *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        fprintf(stderr, "embed-uv: out of memory\n");
        exit(1);
    }
    c->id = id;
    uv_tcp_init(h.loop, &c->tcp);
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1); /* each message goes out at once, whole */
    rc = uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&h.addr, on_connect);
    if (rc < 0)
        client_done(c, rc);
}

/* The heartbeat: a client more at each tick, until all have started. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
    h.ticks++;
    if (h.started < h.clients)
        start_client(h.started++);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: embed-uv [CLIENTS]\n"
            "\n"
            "A ucoro scheduler inside a libuv loop.  libuv runs the thread\n"
            "(uv_run); the scheduler is driven with uco_sched_step, from a\n"
            "uv_poll_t on uco_sched_fd and a uv_timer_t for the deadline each\n"
            "step reports.  Its tasks serve a TCP echo on 127.0.0.1, one task\n"
            "per connection.  A libuv timer ticks every 5 ms and starts a\n"
            "client at each tick: CLIENTS (default 8, at most 200) uv_tcp_t\n"
            "handles each send %d messages of %d bytes and check every byte\n"
            "that comes back.  Then the host posts a task that cancels the\n"
            "server, and the program ends.\n"
            "\n"
            "Exit status 1 if a byte came back wrong or a connection failed.\n",
            MESSAGES, SIZE);
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    int64_t t0;
    double el;
    int rc, outcome;
    unsigned long long total;

    h.clients = 8;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && ((h.clients = atoi(argv[1])) < 1 || h.clients > 200))) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that goes away: EPIPE, not death */
    srv.lfd = listen_local(&h.addr);
    if (srv.lfd < 0) {
        fprintf(stderr, "embed-uv: cannot listen on 127.0.0.1: %s\n", strerror(-srv.lfd));
        return 1;
    }
    rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "embed-uv: uv_loop_init: %s\n", uv_strerror(rc));
        return 1;
    }
    h.loop = &loop;
    rc = uco_sched_create(&h.s, app_main, NULL);
    if (rc < 0) {
        fprintf(stderr, "embed-uv: uco_sched_create: %s\n", uco_strerror(rc));
        return 1;
    }
    printf("embed-uv: libuv %s drives a ucoro %s scheduler; echo tasks on 127.0.0.1:%d\n",
           uv_version_string(), uco_version(), ntohs(h.addr.sin_port));
    fflush(stdout);

    /* the scheduler's fd and deadline, watched by libuv */
    uv_poll_init(&loop, &h.fdw, uco_sched_fd(h.s));
    uv_poll_start(&h.fdw, UV_READABLE, on_fd);
    uv_timer_init(&loop, &h.due);
    /* libuv's own work */
    uv_timer_init(&loop, &h.tick);
    uv_timer_start(&h.tick, on_tick, 5, 5);

    t0 = uco_now();
    step(); /* the first round: main starts */
    uv_run(&loop, UV_RUN_DEFAULT);
    el = (double)(uco_now() - t0) / 1e9;
    outcome = uco_sched_destroy(h.s, NULL);
    uv_loop_close(&loop);
    close(srv.lfd);

    total = (unsigned long long)h.clients * MESSAGES * SIZE;
    printf("  %d libuv clients x %d messages x %d bytes: %llu bytes came back and were "
           "checked\n", h.clients, MESSAGES, SIZE, h.checked);
    printf("  server tasks: %lu connections accepted, %llu bytes echoed\n", srv.accepted,
           srv.bytes);
    printf("  in %.3f s: %lu scheduler steps; libuv's timer ticked %lu times\n", el, h.steps,
           h.ticks);
    if (h.failed)
        fprintf(stderr, "embed-uv: %d client%s failed (first: %s)\n", h.failed,
                h.failed == 1 ? "" : "s", uv_strerror(h.first_err));
    if (srv.err)
        fprintf(stderr, "embed-uv: server: %s\n", uco_strerror(srv.err));
    if (h.step_err < 0)
        fprintf(stderr, "embed-uv: uco_sched_step: %s\n", uco_strerror(h.step_err));
    if (outcome < 0)
        fprintf(stderr, "embed-uv: main task: %s\n", uco_strerror(outcome));
    if (h.failed || srv.err || h.step_err < 0 || outcome < 0 || h.checked != total ||
        srv.bytes != total || srv.accepted != (unsigned long)h.clients || h.ticks == 0)
        return 1;
    printf("  every echo intact, and libuv's handles kept working\n");
    return 0;
}
