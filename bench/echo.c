/*
 * echo - requests per second of an echo server written with ucoro (a task
 * per connection, uco_read / uco_write), beside an equivalent
 * single-threaded libuv server (callbacks, uv_try_write, reads paused
 * while a write is pending).
 *
 * Each server runs in a child process of its own, forked for every run;
 * the load comes from this process, always the same: a ucoro client with
 * C connections (default 100), each sending M messages (default 1000) of
 * 64 bytes and waiting for each echo before sending the next, checking
 * every byte.  Server and client are left where the kernel puts them
 * (-p split pins them to different CPUs, -p same both to CPU 0: on a
 * shared two-CPU virtual machine, leaving them free gave the steadiest
 * figures).  The runs alternate between the servers; each figure is the
 * median of 5 runs, with min and max, and the server's CPU time per
 * request (from the child's resource usage) besides: that one does not
 * depend on which side sets the pace.
 *
 *   make bench/echo && ./bench/echo [-c CONNECTIONS] [-m MESSAGES] [-t SECONDS]
 *                                   [-r RUNS] [-p none|split|same]
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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_LIBUV
#include <uv.h>
#endif

#define MSG 64
#define MAX_RUNS 21

static int conns = 100, msgs = 1000, runs = 5;
static double max_secs = 2.0; /* a run stops sending after this long */

enum { PIN_SPLIT, PIN_SAME, PIN_NONE };
static int pin_mode = PIN_NONE;
static const char *const pin_names[] = { "split", "same", "none" };

static const char *errstr(int rc)
{
    const char *s = uco_strerror(rc);
    if (strcmp(s, "unknown error") == 0 && rc < 0 && rc > -4096)
        return strerror(-rc);
    return s;
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* Pin the calling process to one CPU (when there are two or more). */
static void pin(int cpu)
{
#ifdef CPU_SET
    cpu_set_t set;
    if (pin_mode == PIN_NONE || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    if (pin_mode == PIN_SAME)
        cpu = 0;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
#else
    (void)cpu;
#endif
}

/* ---------------------------------------------------------------- ucoro server */

static int ucoro_lfd;

static void *uc_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    ssize_t n, w, off;
    unsigned rounds = 0;

    /* (a yield every 16 reads: libuv too moves on after a few reads) */
    while ((++rounds % 16 || uco_yield() == 0) &&
           (n = uco_read(fd, buf, sizeof buf, UCO_NEVER)) > 0)
        for (off = 0; off < n; off += w) {
            w = uco_write(fd, buf + off, (size_t)(n - off), UCO_NEVER);
            if (w < 0)
                goto out;
        }
out:
    uco_fd_close(fd);
    return NULL;
}

static void *uc_server(void *arg)
{
    uco_attr a = { .stack_size = 64 * 1024, .flags = UCO_DETACHED };
    int c;

    (void)arg;
    for (;;) {
        c = uco_accept(ucoro_lfd, NULL, NULL, UCO_NEVER);
        if (c == -ECANCELED)
            break;
        if (c < 0) {
            if (c == -EMFILE || c == -ENFILE)
                uco_sleep(UCO_MSEC(1));
            continue;
        }
        set_nodelay(c);
        if (uco_spawn(NULL, uc_conn, (void *)(intptr_t)c, &a) < 0)
            uco_fd_close(c);
    }
    return NULL;
}

static int run_ucoro_server(int lfd)
{
    int rc;

    ucoro_lfd = lfd;
    rc = uco_run(uc_server, NULL, NULL);
    if (rc < 0)
        fprintf(stderr, "bench/echo: ucoro server: %s\n", errstr(rc));
    return rc < 0;
}

/* ---------------------------------------------------------------- libuv server */

#ifdef HAVE_LIBUV
struct uvconn {
    uv_tcp_t tcp;
    uv_write_t wr;
    char buf[16384];
};

static void uv_on_close(uv_handle_t *h)
{
    free(h->data);
}

static void uv_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct uvconn *c = h->data;
    (void)hint;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void uv_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* The rest of an echo went out: read again. */
static void uv_on_written(uv_write_t *req, int status)
{
    struct uvconn *c = req->data;

    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, uv_on_alloc, uv_on_read) < 0)
        uv_close((uv_handle_t *)&c->tcp, uv_on_close);
}

/* Echo what came: straight away when the socket takes it all (the usual
 * case), else queue the rest and stop reading until it is out, as the
 * ucoro task blocks in uco_write. */
static void uv_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct uvconn *c = s->data;
    uv_buf_t rest;
    int w;

    if (n < 0) {
        uv_close((uv_handle_t *)s, uv_on_close);
        return;
    }
    if (n == 0)
        return;
    rest = uv_buf_init(b->base, (unsigned)n);
    w = uv_try_write(s, &rest, 1);
    if (w == n)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, uv_on_close);
        return;
    }
    if (w > 0)
        rest = uv_buf_init(b->base + w, (unsigned)(n - w));
    uv_read_stop(s);
    c->wr.data = c;
    if (uv_write(&c->wr, s, &rest, 1, uv_on_written) < 0)
        uv_close((uv_handle_t *)s, uv_on_close);
}

static void uv_on_connection(uv_stream_t *server, int status)
{
    struct uvconn *c;

    if (status < 0)
        return;
    c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, uv_on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, uv_on_alloc, uv_on_read) < 0)
        uv_close((uv_handle_t *)&c->tcp, uv_on_close);
}

static int run_libuv_server(int lfd)
{
    uv_loop_t loop;
    uv_tcp_t server;
    int rc;

    if ((rc = uv_loop_init(&loop)) < 0 || (rc = uv_tcp_init(&loop, &server)) < 0 ||
        (rc = uv_tcp_open(&server, lfd)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&server, 4096, uv_on_connection)) < 0) {
        fprintf(stderr, "bench/echo: libuv server: %s\n", uv_strerror(rc));
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}
#endif

/* ---------------------------------------------------------------- the client */

struct client {
    struct sockaddr_in addr;
    uco_event *go;
    uco_waitgroup *ready;
    uint64_t done;   /* round trips completed and checked */
    uint64_t bad;    /* bytes that came back wrong */
    int failed, err;
    int64_t t_go, t_end, stop_at;
};

static struct client cl;

static void client_fail(int rc)
{
    if (cl.failed++ == 0)
        cl.err = rc;
}

static void *client_task(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned char out[MSG], in[MSG];
    bool counted = false;
    int fd, rc = 0, m, j;
    ssize_t r;
    size_t got;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = set_nonblock(fd)) < 0)
        goto out;
    set_nodelay(fd);
    rc = uco_connect(fd, (struct sockaddr *)&cl.addr, sizeof cl.addr,
                     uco_now() + UCO_SEC(10));
    uco_waitgroup_done(cl.ready);
    counted = true;
    if (rc < 0 || (rc = uco_event_wait(cl.go, UCO_NEVER)) < 0)
        goto out;
    for (m = 0; m < msgs; m++) {
        int64_t deadline = uco_now();
        if (deadline >= cl.stop_at)
            break; /* the run's time is up */
        deadline += UCO_SEC(10);
        for (j = 0; j < MSG; j++)
            out[j] = (unsigned char)(id * 7u + (unsigned)m * 13u + (unsigned)j);
        r = uco_write(fd, out, MSG, deadline);
        if (r != MSG) {
            rc = r < 0 ? (int)r : -EIO;
            goto out;
        }
        for (got = 0; got < MSG; got += (size_t)r) {
            r = uco_read(fd, in + got, MSG - got, deadline);
            if (r <= 0) {
                rc = r < 0 ? (int)r : -ECONNRESET;
                goto out;
            }
        }
        for (j = 0; j < MSG; j++)
            cl.bad += in[j] != out[j];
        cl.done++;
    }
out:
    if (rc < 0)
        client_fail(rc);
    if (!counted)
        uco_waitgroup_done(cl.ready);
    if (fd >= 0)
        uco_fd_close(fd);
    return NULL;
}

static void *client_main(void *arg)
{
    uco_attr a = { .stack_size = 64 * 1024 };
    uco_task **t = arg;
    int i, n = 0;

    if (uco_event_create(&cl.go) < 0 || uco_waitgroup_create(&cl.ready) < 0 ||
        uco_waitgroup_add(cl.ready, conns) < 0) {
        client_fail(-ENOMEM);
        return NULL;
    }
    for (i = 0; i < conns; i++) {
        if (uco_spawn(&t[n], client_task, (void *)(uintptr_t)i, &a) == 0) {
            n++;
        } else {
            client_fail(-ENOMEM);
            uco_waitgroup_done(cl.ready);
        }
    }
    uco_waitgroup_wait(cl.ready, UCO_NEVER);
    cl.t_go = uco_now();
    cl.stop_at = cl.t_go + (int64_t)(max_secs * 1e9);
    uco_event_set(cl.go);
    for (i = 0; i < n; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    cl.t_end = uco_now();
    uco_event_destroy(cl.go);
    uco_waitgroup_destroy(cl.ready);
    return NULL;
}

/* ---------------------------------------------------------------- one run */

struct result {
    double rps;        /* round trips per second */
    double srv_us;     /* server CPU per round trip, microseconds */
    double cli_load;   /* client CPU time / wall time */
};

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Fork a server (which: 0 ucoro, 1 libuv), drive it, kill it.  0 or -1. */
static int one_run(int which, struct result *res)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    struct rusage ru0, ru1, sru;
    uco_task **tasks;
    int lfd, one = 1, status, rc;
    pid_t pid;
    double wall;

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0)
        return -1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0 || set_nonblock(lfd) < 0) {
        perror("bench/echo: listen on 127.0.0.1");
        close(lfd);
        return -1;
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("bench/echo: fork");
        close(lfd);
        return -1;
    }
    if (pid == 0) {
        pin(0);
#ifdef HAVE_LIBUV
        _exit(which == 0 ? run_ucoro_server(lfd) : run_libuv_server(lfd));
#else
        _exit(run_ucoro_server(lfd));
#endif
    }
    close(lfd);

    memset(&cl, 0, sizeof cl);
    cl.addr = a;
    tasks = calloc((size_t)conns, sizeof *tasks);
    getrusage(RUSAGE_SELF, &ru0);
    rc = tasks ? uco_run(client_main, tasks, NULL) : -ENOMEM;
    getrusage(RUSAGE_SELF, &ru1);
    free(tasks);

    kill(pid, SIGKILL);
    if (wait4(pid, &status, 0, &sru) < 0)
        memset(&sru, 0, sizeof sru);
    if (rc < 0 || cl.failed || cl.bad || cl.done == 0) {
        fprintf(stderr, "bench/echo: %s run failed: %s; %d connection%s failed (%s), "
                "%llu round trips, %llu bad bytes\n", which ? "libuv" : "ucoro",
                errstr(rc), cl.failed, cl.failed == 1 ? "" : "s", errstr(cl.err),
                (unsigned long long)cl.done, (unsigned long long)cl.bad);
        return -1;
    }
    wall = (double)(cl.t_end - cl.t_go) / 1e9;
    res->rps = (double)cl.done / wall;
    res->srv_us = (tv_s(sru.ru_utime) + tv_s(sru.ru_stime)) / (double)cl.done * 1e6;
    res->cli_load = (tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime) + tv_s(ru1.ru_stime) -
                     tv_s(ru0.ru_stime)) / wall;
    return 0;
}

/* ---------------------------------------------------------------- report */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(FILE *f)
{
    fputs("usage: bench/echo [-c CONNECTIONS] [-m MESSAGES] [-t SECONDS] [-r RUNS]\n"
          "                  [-p split|same|none]\n"
          "\n"
          "Requests per second of an echo server written with ucoro (one task\n"
          "per connection) and of an equivalent single-threaded libuv server,\n"
          "each in a forked child process, driven by the same ucoro client in\n"
          "this process: CONNECTIONS (default 100) connections, each sending\n"
          "up to MESSAGES (default 1000) messages of 64 bytes, waiting for\n"
          "each echo, for at most SECONDS (default 2) per run.  -p: the server\n"
          "and the client wherever the kernel puts them (none, the default),\n"
          "on different CPUs (split), or both on CPU 0 (same).  Prints the\n"
          "median of RUNS (default 5) runs per server, min - max, the server's\n"
          "CPU time per request, and the ratio ucoro/libuv.\n",
          f);
}

static int arg_int(const char *s, int max)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno || *end || end == s || v < 1 || v > max ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    double rps[2][MAX_RUNS], cpu[2][MAX_RUNS], load[2][MAX_RUNS];
    double med[2], lo[2], hi[2], us[2], cli[2];
    struct result r;
    int nserv = 1, s, i;
    struct rlimit rl;

    for (i = 1; i < argc; i++) {
        int *dst = NULL, max = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 < argc && strcmp(argv[i], "-p") == 0) {
            for (s = 0; s < 3 && strcmp(argv[i + 1], pin_names[s]) != 0; s++)
                ;
            if (s == 3) {
                usage(stderr);
                return 2;
            }
            pin_mode = s;
            i++;
            continue;
        }
        if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
            int t = arg_int(argv[i + 1], 3600);
            if (t < 0) {
                usage(stderr);
                return 2;
            }
            max_secs = t;
            i++;
            continue;
        }
        if (strcmp(argv[i], "-c") == 0)
            dst = &conns, max = 10000;
        else if (strcmp(argv[i], "-m") == 0)
            dst = &msgs, max = 10000000;
        else if (strcmp(argv[i], "-r") == 0)
            dst = &runs, max = MAX_RUNS;
        if (!dst || i + 1 >= argc || (*dst = arg_int(argv[i + 1], max)) < 0) {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
#ifdef HAVE_LIBUV
    nserv = 2;
#endif
    pin(1);
    printf("echo bench: %d connections x up to %d messages x %d bytes (at most %.0f s) per\n"
           "run, %d run%s per server, %s\n", conns, msgs, MSG, max_secs, runs, runs == 1 ? "" : "s",
           pin_mode == PIN_NONE || sysconf(_SC_NPROCESSORS_ONLN) < 2
               ? "processes not pinned"
               : pin_mode == PIN_SAME ? "server and client both on CPU 0"
                                      : "server on CPU 0, client on CPU 1");
    for (i = 0; i < runs; i++) {
        printf("  run %d:", i + 1);
        for (s = 0; s < nserv; s++) {
            if (one_run(s, &r) < 0)
                return 1;
            rps[s][i] = r.rps;
            cpu[s][i] = r.srv_us;
            load[s][i] = r.cli_load;
            printf("  %s %8.0f req/s", s ? "libuv" : "ucoro", r.rps);
            fflush(stdout);
        }
        printf("\n");
    }
    for (s = 0; s < nserv; s++) {
        med[s] = median(rps[s], runs);
        lo[s] = rps[s][0];
        hi[s] = rps[s][runs - 1];
        us[s] = median(cpu[s], runs);
        cli[s] = median(load[s], runs);
    }

    printf("\n%-7s %14s %21s %17s %12s\n", "server", "requests/s", "min - max",
           "server CPU/req", "client CPU");
    for (s = 0; s < nserv; s++)
        printf("%-7s %14.0f %10.0f - %8.0f %14.2f us %11.0f%%\n", s ? "libuv" : "ucoro",
               med[s], lo[s], hi[s], us[s], cli[s] * 100);
    if (nserv == 2)
        printf("%-7s %14.2f %21s %17.2f\n", "ratio", med[0] / med[1], "(ucoro/libuv)",
               us[0] / us[1]);
    printf("(median of %d run%s; server CPU/req: the server's user+system time per round\n"
           "trip; client CPU near 100%% would mean the client set the pace)\n", runs,
           runs == 1 ? "" : "s");
    if (nserv == 1)
        printf("\nlibuv was not found when the tree was configured: install it\n"
               "(Debian/Ubuntu: apt-get install libuv1-dev), run ./configure again,\n"
               "then make bench/echo, to compare with a libuv server.\n");
    return 0;
}
