/*
 * embed-glib - a ucoro scheduler inside a GLib main loop.
 *
 * GLib owns the thread: g_main_loop_run is the program's loop.  The
 * scheduler is made with uco_sched_create and wrapped in a GSource of its
 * own: the source polls uco_sched_fd (g_source_add_unix_fd) and has a
 * ready time, the deadline that each uco_sched_step reports; GLib
 * dispatches it when either comes, and the dispatch is one step.  The
 * tasks serve a TCP echo on 127.0.0.1, one task per connection, written
 * as blocking code (uco_accept, uco_read, uco_write).  Meanwhile GLib's
 * own sources keep working: a g_timeout_add ticks every 5 ms and starts a
 * client at each tick, and the clients are plain non-blocking sockets
 * watched with g_unix_fd_add, which send messages to the tasks and check
 * every byte that comes back.  When the last client has closed, the host
 * posts a task (uco_post) that cancels the server; the main task then
 * returns, the step says so, the source removes itself and quits the
 * loop, and uco_sched_destroy ends the scheduler.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>
#include <glib.h>
#include <glib-unix.h>

#include <arpa/inet.h>
#include <errno.h>
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
    GMainLoop *loop;
    uco_sched *s;
    guint tick;              /* GLib's own work: a heartbeat */
    struct sockaddr_in addr;
    int clients, started, closed, failed;
    int first_err;           /* a negated errno */
    unsigned long long checked;
    unsigned long steps, ticks;
    int step_err;
} h;

/* The scheduler as a GSource: dispatched when its fd is readable or its
 * ready time (the step's deadline) has come. */
struct sched_source {
    GSource base;
    uco_sched *s;
};

static gboolean sched_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    struct sched_source *ss = (struct sched_source *)src;
    int64_t d, left;
    int rc;

    (void)cb;
    (void)data;
    h.steps++;
    rc = uco_sched_step(ss->s, &d);
    if (rc != 1) { /* main has finished (or a misuse: rc < 0) */
        h.step_err = rc;
        g_source_remove(h.tick);
        g_main_loop_quit(h.loop);
        return G_SOURCE_REMOVE;
    }
    if (d == UCO_NEVER) {
        g_source_set_ready_time(src, -1);
    } else {
        /* GLib's monotonic clock, in microseconds, rounded up */
        left = d - uco_now();
        g_source_set_ready_time(src, left <= 0 ? 0 : g_get_monotonic_time() + (left + 999) / 1000);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs sched_funcs = { .dispatch = sched_dispatch };

static GSource *sched_source_new(uco_sched *s)
{
    GSource *src = g_source_new(&sched_funcs, sizeof(struct sched_source));

    ((struct sched_source *)src)->s = s;
    g_source_set_name(src, "ucoro scheduler");
    g_source_add_unix_fd(src, uco_sched_fd(s), G_IO_IN);
    g_source_set_ready_time(src, 0); /* the first step: main starts */
    return src;
}

/* ---- the clients: plain sockets under g_unix_fd_add */

struct client {
    int fd, id, msg;
    GIOCondition cond;       /* what its watch waits for */
    bool connecting;
    size_t sent, got;
    unsigned char out[SIZE], in[SIZE];
};

static unsigned char pattern(int c, int m, size_t j)
{
    return (unsigned char)((unsigned)c * 131u + (unsigned)m * 31u + (unsigned)j * 7u +
                           (unsigned)(j >> 8));
}

static void next_message(struct client *c)
{
    size_t j;

    for (j = 0; j < SIZE; j++)
        c->out[j] = pattern(c->id, c->msg, j);
    c->sent = c->got = 0;
}

/* The client has ended (rc: 0 or a negated errno): close it; after the
 * last one, ask the tasks to stop. */
static void client_done(struct client *c, int rc)
{
    if (rc < 0 && h.failed++ == 0)
        h.first_err = rc;
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    if (++h.closed == h.clients) {
        rc = uco_post(h.s, stop_task, NULL);
        if (rc < 0)
            fprintf(stderr, "embed-glib: uco_post: %s\n", uco_strerror(rc));
    }
}

/* Write what the socket takes, read what has come back, and wait for
 * what is left. */
static gboolean client_io(gint fd, GIOCondition cond, gpointer data)
{
    struct client *c = data;
    GIOCondition want;
    ssize_t n = 0;
    int err = 0;

    (void)cond;
    if (c->connecting) {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            client_done(c, -err);
            return G_SOURCE_REMOVE;
        }
        c->connecting = false;
    }
    for (;;) {
        while (c->sent < SIZE && (n = write(fd, c->out + c->sent, SIZE - c->sent)) > 0)
            c->sent += (size_t)n;
        if (c->sent < SIZE && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            client_done(c, -errno);
            return G_SOURCE_REMOVE;
        }
        while (c->got < c->sent && (n = read(fd, c->in + c->got, SIZE - c->got)) > 0)
            c->got += (size_t)n;
        if (c->got < c->sent) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                client_done(c, n == 0 ? -ECONNRESET : -errno);
                return G_SOURCE_REMOVE;
            }
            break; /* more to come */
        }
        if (c->got < SIZE)
            break; /* all that was sent is back; the socket takes no more */
        if (memcmp(c->in, c->out, SIZE) != 0) {
            client_done(c, -EPROTO);
            return G_SOURCE_REMOVE;
        }
        h.checked += SIZE;
        if (++c->msg == MESSAGES) {
            client_done(c, 0);
            return G_SOURCE_REMOVE;
        }
        next_message(c);
    }
    want = G_IO_IN | (c->sent < SIZE ? G_IO_OUT : 0);
    if (want == c->cond)
        return G_SOURCE_CONTINUE;
    c->cond = want;
    g_unix_fd_add(fd, want, client_io, c);
    return G_SOURCE_REMOVE;
}

static void start_client(int id)
{
    struct client *c = calloc(1, sizeof *c);

    if (!c) {
        fprintf(stderr, "embed-glib: out of memory\n");
        exit(1);
    }
    c->id = id;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        client_done(c, -errno);
        return;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
    next_message(c);
    if (connect(c->fd, (struct sockaddr *)&h.addr, sizeof h.addr) < 0 && errno != EINPROGRESS) {
        client_done(c, -errno);
        return;
    }
    c->connecting = true;
    c->cond = G_IO_OUT;
    g_unix_fd_add(c->fd, c->cond, client_io, c);
}

/* The heartbeat: a client more at each tick, until all have started. */
static gboolean on_tick(gpointer data)
{
    (void)data;
    h.ticks++;
    if (h.started < h.clients)
        start_client(h.started++);
    return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: embed-glib [CLIENTS]\n"
            "\n"
            "A ucoro scheduler inside a GLib main loop.  GLib runs the thread\n"
            "(g_main_loop_run); the scheduler is a GSource that polls\n"
            "uco_sched_fd and whose ready time is the deadline each\n"
            "uco_sched_step reports, and each dispatch is one step.  Its tasks\n"
            "serve a TCP echo on 127.0.0.1, one task per connection.  A GLib\n"
            "timeout ticks every 5 ms and starts a client at each tick:\n"
            "CLIENTS (default 8, at most 200) sockets watched with\n"
            "g_unix_fd_add each send %d messages of %d bytes and check every\n"
            "byte that comes back.  Then the host posts a task that cancels\n"
            "the server, and the program ends.\n"
            "\n"
            "Exit status 1 if a byte came back wrong or a connection failed.\n",
            MESSAGES, SIZE);
}

int main(int argc, char **argv)
{
    GSource *src;
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
        fprintf(stderr, "embed-glib: cannot listen on 127.0.0.1: %s\n", strerror(-srv.lfd));
        return 1;
    }
    rc = uco_sched_create(&h.s, app_main, NULL);
    if (rc < 0) {
        fprintf(stderr, "embed-glib: uco_sched_create: %s\n", uco_strerror(rc));
        return 1;
    }
    printf("embed-glib: GLib %u.%u.%u drives a ucoro %s scheduler; echo tasks on "
           "127.0.0.1:%d\n", glib_major_version, glib_minor_version, glib_micro_version,
           uco_version(), ntohs(h.addr.sin_port));
    fflush(stdout);

    h.loop = g_main_loop_new(NULL, FALSE);
    src = sched_source_new(h.s);
    g_source_attach(src, NULL);
    h.tick = g_timeout_add(5, on_tick, NULL); /* GLib's own work */

    t0 = uco_now();
    g_main_loop_run(h.loop);
    el = (double)(uco_now() - t0) / 1e9;
    g_source_unref(src);
    g_main_loop_unref(h.loop);
    outcome = uco_sched_destroy(h.s, NULL);
    close(srv.lfd);

    total = (unsigned long long)h.clients * MESSAGES * SIZE;
    printf("  %d GLib clients x %d messages x %d bytes: %llu bytes came back and were "
           "checked\n", h.clients, MESSAGES, SIZE, h.checked);
    printf("  server tasks: %lu connections accepted, %llu bytes echoed\n", srv.accepted,
           srv.bytes);
    printf("  in %.3f s: %lu scheduler steps; GLib's timeout ticked %lu times\n", el, h.steps,
           h.ticks);
    if (h.failed)
        fprintf(stderr, "embed-glib: %d client%s failed (first: %s)\n", h.failed,
                h.failed == 1 ? "" : "s", strerror(-h.first_err));
    if (srv.err)
        fprintf(stderr, "embed-glib: server: %s\n", uco_strerror(srv.err));
    if (h.step_err < 0)
        fprintf(stderr, "embed-glib: uco_sched_step: %s\n", uco_strerror(h.step_err));
    if (outcome < 0)
        fprintf(stderr, "embed-glib: main task: %s\n", uco_strerror(outcome));
    if (h.failed || srv.err || h.step_err < 0 || outcome < 0 || h.checked != total ||
        srv.bytes != total || srv.accepted != (unsigned long)h.clients || h.ticks == 0)
        return 1;
    printf("  every echo intact, and GLib's sources kept working\n");
    return 0;
}
