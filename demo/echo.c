/*
 * echo - a TCP echo server with one task per connection, and a load mode
 * that drives it from the same process with one task per client.
 *
 *   echo server [PORT]      serve 127.0.0.1:PORT until SIGINT or SIGTERM
 *   echo load [C] [M] [S]   C connections each send M messages of S bytes
 *                           to a server task on an ephemeral port, check
 *                           every byte, report requests/s and latencies
 *   echo                    a small load (100 connections)
 *
 * Every socket is non-blocking; a task that would block waits in
 * uco_read / uco_write / uco_accept / uco_connect while the others run.
 * Signals are waits too: a task waiting in uco_signal_wait for SIGINT or
 * SIGTERM cancels the server, whose pending uco_accept returns
 * -ECANCELED; the group of connection tasks it owns is then cancelled and
 * waited for.  A second signal meanwhile kills the process.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT 7007
#define CONN_STACK ((size_t)64 * 1024)
#define MAX_REQUESTS 20000000 /* 160 MB of round-trip times */

/* The library's name for an error, or the C library's for the errno
 * values (ECONNRESET, EMFILE, ...) that the fd calls pass through. */
static const char *errstr(int rc)
{
    const char *s = uco_strerror(rc);
    if (strcmp(s, "unknown error") == 0 && rc < 0 && rc > -4096)
        return strerror(-rc);
    return s;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---------------------------------------------------------------- signals */

struct watcher {
    uco_task *target; /* cancelled when a signal arrives */
    int sig;          /* the signal that came, or 0 */
};

/* Wait for SIGINT or SIGTERM, then cancel the target.  From the first
 * wait on them the library handles both for the process; a second one,
 * while the target unwinds, gets the default action back and kills the
 * process as usual.  The task that started this one cancels it once the
 * target has ended: its wait returns -ECANCELED. */
static void *watch_signals(void *arg)
{
    struct watcher *w = arg;
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (uco_signal_wait(&set, &sig, UCO_NEVER) < 0)
        return NULL;
    w->sig = sig;
    printf("\necho: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    uco_cancel(w->target);
    if (uco_signal_wait(&set, &sig, UCO_NEVER) == 0) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    return NULL;
}

/* ---------------------------------------------------------------- server */

struct server {
    int lfd;
    int port;
    bool verbose;          /* a line per connection */
    uint64_t accepted;     /* connections accepted */
    uint64_t active;       /* connections open now */
    uint64_t bytes;        /* bytes echoed */
    uint64_t errors;       /* connections that ended in an error */
    unsigned char *open;   /* open[fd]: a connection fd not yet closed */
    size_t nopen;
    int rc;                /* why the accept loop stopped, if not cancelled */
};

static struct server srv;

/* A listening socket on 127.0.0.1:port (0: any free port). */
static int listen_on(int port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd, one = 1, rc;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rc = set_nonblock(fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    srv.lfd = fd;
    srv.port = ntohs(a.sin_port);
    return 0;
}

/* One connection: echo what comes until the peer closes. */
static void *conn_task(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    uint64_t total = 0;
    ssize_t n = 0, w, off;

    for (unsigned rounds = 1;; rounds++) {
        /* A peer that keeps data coming never makes uco_read wait: let
         * the other connections run now and then. */
        if (rounds % 16 == 0 && (n = uco_yield()) < 0)
            break;
        n = uco_read(fd, buf, sizeof buf, UCO_NEVER);
        if (n <= 0)
            break;
        for (off = 0; off < n; off += w) {
            w = uco_write(fd, buf + off, (size_t)(n - off), UCO_NEVER);
            if (w < 0) {
                n = w;
                goto out;
            }
        }
        total += (uint64_t)n;
        srv.bytes += (uint64_t)n;
    }
out:
    if (n < 0 && n != -ECANCELED)
        srv.errors++;
    if (srv.verbose) {
        printf("  fd %d closed after %llu bytes%s%s\n", fd, (unsigned long long)total,
               n < 0 ? ": " : "", n < 0 ? errstr((int)n) : "");
        fflush(stdout);
    }
    if ((size_t)fd < srv.nopen)
        srv.open[fd] = 0;
    srv.active--;
    uco_fd_close(fd);
    return NULL;
}

/* Accept connections until cancelled, one task each, in a group that is
 * cancelled and waited for on the way out. */
static void *server_task(void *arg)
{
    uco_attr a = { .stack_size = CONN_STACK, .name = "conn" };
    uco_group *g;
    bool told = false;
    size_t fd;
    int c, rc;

    (void)arg;
    rc = uco_group_create(&g, 0);
    if (rc < 0) {
        srv.rc = rc;
        return NULL;
    }
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;

        c = uco_accept(srv.lfd, (struct sockaddr *)&peer, &len, UCO_NEVER);
        if (c == -ECANCELED)
            break;
        if (c == -EMFILE || c == -ENFILE || c == -ENOBUFS || c == -ENOMEM) {
            if (!told)
                fprintf(stderr, "echo: accept: %s (waiting for connections to close)\n",
                        errstr(c));
            told = true;
            if (uco_sleep(UCO_MSEC(10)) < 0)
                break;
            continue;
        }
        if (c == -ECONNABORTED || c == -EINTR || c == -EPROTO)
            continue;
        if (c < 0) {
            srv.rc = c;
            break;
        }
        set_nodelay(c);
        if ((size_t)c < srv.nopen)
            srv.open[c] = 1;
        srv.accepted++;
        srv.active++;
        if (srv.verbose) {
            printf("  fd %d: connection from %s:%d\n", c, inet_ntoa(peer.sin_addr),
                   ntohs(peer.sin_port));
            fflush(stdout);
        }
        rc = uco_group_spawn(g, NULL, conn_task, (void *)(intptr_t)c, &a);
        if (rc < 0) {
            fprintf(stderr, "echo: no task for a connection: %s\n", errstr(rc));
            if ((size_t)c < srv.nopen)
                srv.open[c] = 0;
            srv.active--;
            uco_fd_close(c);
        }
    }
    /* Cancel the connections and wait until they have unwound; a task
     * cancelled before it ran never closed its fd: close it here. */
    uco_group_destroy(g);
    for (fd = 0; fd < srv.nopen; fd++)
        if (srv.open[fd]) {
            srv.open[fd] = 0;
            srv.active--;
            uco_fd_close((int)fd);
        }
    uco_fd_close(srv.lfd);
    srv.lfd = -1;
    return NULL;
}

/* The fd table for srv.open, sized by the descriptor limit. */
static int server_init(bool verbose)
{
    struct rlimit rl;

    srv.lfd = -1;
    srv.verbose = verbose;
    srv.nopen = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)(1u << 22))
        srv.nopen = (size_t)rl.rlim_cur;
    srv.open = calloc(srv.nopen, 1);
    return srv.open ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- server mode */

static void *serve_main(void *arg)
{
    int *status = arg;
    struct watcher w = { 0 };
    uco_attr sa = { .name = "server" }, wa = { .name = "signals" };
    uco_task *st, *wt;
    int rc;

    rc = uco_spawn(&st, server_task, NULL, &sa);
    if (rc < 0) {
        *status = rc;
        return NULL;
    }
    w.target = st;
    rc = uco_spawn(&wt, watch_signals, &w, &wa);
    if (rc < 0) {
        uco_cancel(st);
        uco_join(st, NULL, UCO_NEVER);
        *status = rc;
        return NULL;
    }
    uco_join(st, NULL, UCO_NEVER);
    uco_cancel(wt);
    uco_join(wt, NULL, UCO_NEVER);
    printf("echo: served %llu connection%s, echoed %llu bytes%s\n",
           (unsigned long long)srv.accepted, srv.accepted == 1 ? "" : "s",
           (unsigned long long)srv.bytes, w.sig ? "; shut down cleanly" : "");
    *status = srv.rc;
    return NULL;
}

static int serve(int port)
{
    int rc, status = 0;

    rc = server_init(true);
    if (rc == 0)
        rc = listen_on(port);
    if (rc < 0) {
        fprintf(stderr, "echo: cannot listen on 127.0.0.1:%d: %s\n", port, errstr(rc));
        return 1;
    }
    printf("echo: listening on 127.0.0.1:%d (try: nc 127.0.0.1 %d); Ctrl-C stops\n",
           srv.port, srv.port);
    fflush(stdout);
    rc = uco_run(serve_main, &status, NULL);
    free(srv.open);
    if (rc < 0 || status < 0) {
        fprintf(stderr, "echo: %s\n", errstr(rc < 0 ? rc : status));
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- load mode */

struct load {
    int conns, msgs;
    size_t size;
    struct sockaddr_in addr;
    uco_event *go;          /* set when every client has connected */
    uco_waitgroup *ready;   /* counts clients still connecting */
    int64_t *lat;           /* conns * msgs round trips (ns); -1: none */
    uint64_t checked;       /* bytes received and compared */
    uint64_t mismatched;    /* of which wrong */
    int connected, failed;  /* clients */
    int first_err;          /* the first client error */
    int64_t t_start, t_connected, t_done;
};

static struct load ld;

/* The byte at offset j of message m of connection c. */
static unsigned char pattern(int c, int m, size_t j)
{
    return (unsigned char)((unsigned)c * 131u + (unsigned)m * 31u + (unsigned)j * 7u +
                           (unsigned)(j >> 8));
}

/* Send n bytes and receive n bytes back.  While the send would block,
 * drain what has come back, so that large messages cannot deadlock with
 * a server that echoes as it reads. */
static int exchange(int fd, const unsigned char *out, unsigned char *in, size_t n,
                    int64_t deadline)
{
    size_t sent = 0, got = 0;
    ssize_t r;
    int rc;

    while (sent < n) {
        r = write(fd, out + sent, n - sent);
        if (r > 0) {
            sent += (size_t)r;
            continue;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        r = read(fd, in + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0)
            return -ECONNRESET; /* closed early */
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        rc = uco_fd_wait(fd, UCO_READ | UCO_WRITE, deadline);
        if (rc < 0)
            return rc;
    }
    while (got < n) {
        r = uco_read(fd, in + got, n - got, deadline);
        if (r == 0)
            return -ECONNRESET;
        if (r < 0)
            return (int)r;
        got += (size_t)r;
    }
    return 0;
}

static void client_failed(int rc)
{
    if (rc == -ECANCELED)
        return;
    if (ld.failed++ == 0)
        ld.first_err = rc;
}

static void *client_task(void *arg)
{
    int id = (int)(intptr_t)arg, fd, rc, m;
    unsigned char *out = NULL, *in = NULL;
    bool counted = false;
    size_t j;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = set_nonblock(fd);
    if (rc < 0)
        goto fail;
    set_nodelay(fd);
    rc = uco_connect(fd, (struct sockaddr *)&ld.addr, sizeof ld.addr,
                     uco_now() + UCO_SEC(10));
    if (rc < 0)
        goto fail;
    ld.connected++;
    counted = true;
    uco_waitgroup_done(ld.ready);
    out = malloc(ld.size);
    in = malloc(ld.size);
    if (!out || !in) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = uco_event_wait(ld.go, UCO_NEVER);
    if (rc < 0)
        goto fail;
    for (m = 0; m < ld.msgs; m++) {
        int64_t t0;
        for (j = 0; j < ld.size; j++)
            out[j] = pattern(id, m, j);
        memset(in, 0, ld.size);
        t0 = uco_now();
        rc = exchange(fd, out, in, ld.size, t0 + UCO_SEC(10));
        if (rc < 0)
            goto fail;
        ld.lat[(size_t)id * (size_t)ld.msgs + (size_t)m] = uco_now() - t0;
        for (j = 0; j < ld.size; j++)
            ld.mismatched += in[j] != out[j];
        ld.checked += ld.size;
    }
    free(out);
    free(in);
    uco_fd_close(fd);
    return NULL;

fail:
    client_failed(rc);
    if (!counted)
        uco_waitgroup_done(ld.ready);
    free(out);
    free(in);
    if (fd >= 0)
        uco_fd_close(fd);
    return NULL;
}

/* Drive the load: connect everyone, then let them all go at once. */
static void *load_main(void *arg)
{
    int *status = arg;
    uco_attr sa = { .name = "server" }, ca = { .stack_size = CONN_STACK, .name = "client" };
    uco_task *st;
    uco_group *g = NULL;
    int i, rc;

    rc = uco_spawn(&st, server_task, NULL, &sa);
    if (rc < 0) {
        *status = rc;
        return NULL;
    }
    if ((rc = uco_event_create(&ld.go)) < 0 || (rc = uco_waitgroup_create(&ld.ready)) < 0 ||
        (rc = uco_waitgroup_add(ld.ready, ld.conns)) < 0 || (rc = uco_group_create(&g, 0)) < 0)
        goto out;
    ld.t_start = uco_now();
    for (i = 0; i < ld.conns; i++) {
        rc = uco_group_spawn(g, NULL, client_task, (void *)(intptr_t)i, &ca);
        if (rc < 0) {
            client_failed(rc);
            uco_waitgroup_add(ld.ready, -(ld.conns - i));
            break;
        }
    }
    rc = uco_waitgroup_wait(ld.ready, UCO_NEVER);
    if (rc < 0)
        goto out;
    ld.t_connected = uco_now();
    uco_event_set(ld.go);
    rc = uco_group_wait(g, UCO_NEVER);
    ld.t_done = uco_now();
out:
    if (g)
        uco_group_destroy(g);
    uco_cancel(st);
    uco_join(st, NULL, UCO_NEVER);
    if (ld.go)
        uco_event_destroy(ld.go);
    if (ld.ready)
        uco_waitgroup_destroy(ld.ready);
    *status = rc;
    return NULL;
}

/* With a signal watcher that cancels the load. */
static void *load_outer(void *arg)
{
    struct watcher w = { 0 };
    uco_attr la = { .name = "load" }, wa = { .name = "signals" };
    uco_task *lt, *wt;
    int *status = arg, rc;

    rc = uco_spawn(&lt, load_main, status, &la);
    if (rc < 0) {
        *status = rc;
        return NULL;
    }
    w.target = lt;
    if (uco_spawn(&wt, watch_signals, &w, &wa) < 0)
        wt = NULL;
    uco_join(lt, NULL, UCO_NEVER);
    if (wt) {
        uco_cancel(wt);
        uco_join(wt, NULL, UCO_NEVER);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e6;
}

/* Make room for about need descriptors: raise the soft limit, up to the
 * hard one.  0, or -EMFILE when even the hard limit is too low. */
static int raise_nofile(rlim_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0; /* try anyway */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        fprintf(stderr, "echo: %d connections need about %llu descriptors; the limit is "
                "%llu (raise it with ulimit -n)\n", ld.conns, (unsigned long long)need,
                (unsigned long long)rl.rlim_cur);
        return -EMFILE;
    }
    return 0;
}

static int load(int conns, int msgs, size_t size)
{
    size_t nlat = (size_t)conns * (size_t)msgs, i, n = 0;
    uint64_t total;
    int64_t *v;
    int rc, status = 0;
    double el;

    ld.conns = conns;
    ld.msgs = msgs;
    ld.size = size;
    if (raise_nofile((rlim_t)conns * 2 + 64) < 0)
        return 1;
    ld.lat = malloc((nlat ? nlat : 1) * sizeof *ld.lat);
    if (!ld.lat || server_init(false) < 0) {
        fprintf(stderr, "echo: %s\n", errstr(-ENOMEM));
        return 1;
    }
    for (i = 0; i < nlat; i++)
        ld.lat[i] = -1;
    rc = listen_on(0);
    if (rc < 0) {
        fprintf(stderr, "echo: cannot listen on 127.0.0.1: %s\n", errstr(rc));
        return 1;
    }
    memset(&ld.addr, 0, sizeof ld.addr);
    ld.addr.sin_family = AF_INET;
    ld.addr.sin_port = htons((unsigned short)srv.port);
    ld.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    total = (uint64_t)conns * (uint64_t)msgs * size;

    printf("echo load: %d connection%s x %d message%s x %zu bytes to a server task on "
           "127.0.0.1:%d\n", conns, conns == 1 ? "" : "s", msgs, msgs == 1 ? "" : "s",
           size, srv.port);
    fflush(stdout);
    rc = uco_run(load_outer, &status, NULL);
    if (rc == 0)
        rc = status;

    /* The figures, for whatever got done. */
    for (i = 0; i < nlat; i++)
        if (ld.lat[i] >= 0)
            ld.lat[n++] = ld.lat[i];
    v = ld.lat;
    qsort(v, n, sizeof *v, cmp_i64);
    if (ld.t_connected)
        printf("  connected %d in %.1f ms\n", ld.connected,
               (double)(ld.t_connected - ld.t_start) / 1e6);
    if (ld.t_done && n > 0) {
        el = (double)(ld.t_done - ld.t_connected) / 1e9;
        printf("  %zu requests in %.3f s: %.0f requests/s, %.1f MB/s each way\n", n, el,
               (double)n / el, (double)n * (double)size / el / 1e6);
        printf("  latency  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
               pct_ms(v, n, 50), pct_ms(v, n, 90), pct_ms(v, n, 99), (double)v[n - 1] / 1e6);
    }
    printf("  server: %llu connections accepted, %llu bytes echoed\n",
           (unsigned long long)srv.accepted, (unsigned long long)srv.bytes);
    fflush(stdout);
    free(ld.lat);
    free(srv.open);

    if (ld.failed)
        fprintf(stderr, "echo: %d connection%s failed (first: %s)\n", ld.failed,
                ld.failed == 1 ? "" : "s", errstr(ld.first_err));
    if (ld.mismatched)
        fprintf(stderr, "echo: %llu of %llu bytes came back wrong\n",
                (unsigned long long)ld.mismatched, (unsigned long long)ld.checked);
    if (rc < 0)
        fprintf(stderr, "echo: %s\n", rc == -ECANCELED ? "interrupted" : errstr(rc));
    if (srv.rc < 0)
        fprintf(stderr, "echo: server: %s\n", errstr(srv.rc));
    if (rc < 0 || ld.failed || ld.mismatched || ld.checked != total || srv.rc < 0) {
        if (ld.checked != total)
            fprintf(stderr, "echo: %llu of %llu bytes checked\n",
                    (unsigned long long)ld.checked, (unsigned long long)total);
        return 1;
    }
    printf("  all %llu bytes checked\n", (unsigned long long)total);
    return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fputs("usage: echo [server [PORT] | load [CONNECTIONS] [MESSAGES] [SIZE]]\n"
          "\n"
          "A TCP echo server on 127.0.0.1, one task per connection, each\n"
          "looping on uco_read and uco_write as if its socket were blocking;\n"
          "the scheduler waits on all the sockets at once (epoll or poll).\n"
          "\n"
          "  echo server [PORT]   serve 127.0.0.1:PORT (default 7007) until\n"
          "                       Ctrl-C or SIGTERM: a task waiting for them\n"
          "                       (uco_signal_wait) cancels the server, which\n"
          "                       cancels and waits for its connections; a\n"
          "                       second signal kills the process\n"
          "  echo load [C] [M] [S]\n"
          "                       start the server on a free port in this\n"
          "                       process, open C connections (default 1000,\n"
          "                       one client task each), send M messages\n"
          "                       (default 10) of S bytes (default 64) on\n"
          "                       each, check every byte that comes back, and\n"
          "                       print requests/s and round-trip latency\n"
          "                       percentiles\n"
          "  echo                 a small load: 100 connections x 10 x 64 B\n"
          "\n"
          "Exit status 1 if a connection failed or a byte came back wrong.\n",
          f);
}

/* A positive integer argument, or -1. */
static long number(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > max)
        return -1;
    return v;
}

int main(int argc, char **argv)
{
    long v[3] = { 1000, 10, 64 };
    int i;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that goes away: EPIPE, not death */
    if (argc == 1)
        return load(100, 10, 64);
    if (strcmp(argv[1], "server") == 0 && argc <= 3) {
        long port = argc == 3 ? number(argv[2], 65535) : DEFAULT_PORT;
        if (port < 0) {
            fprintf(stderr, "echo: bad port '%s'\n", argv[2]);
            return 2;
        }
        return serve((int)port);
    }
    if (strcmp(argv[1], "load") == 0 && argc <= 5) {
        static const long max[3] = { 1000000, 10000000, 64L << 20 };
        for (i = 2; i < argc; i++) {
            v[i - 2] = number(argv[i], max[i - 2]);
            if (v[i - 2] <= 0) {
                fprintf(stderr, "echo: bad number '%s' (try --help)\n", argv[i]);
                return 2;
            }
        }
        if (v[0] * v[1] > MAX_REQUESTS) {
            fprintf(stderr, "echo: at most %d requests (connections x messages), "
                    "each timed\n", MAX_REQUESTS);
            return 2;
        }
        return load((int)v[0], (int)v[1], (size_t)v[2]);
    }
    usage(stderr);
    return 2;
}
