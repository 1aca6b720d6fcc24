/*
 * embed.c - a scheduler inside another loop, and signals as waits: the
 * same work under uco_run and driven a step at a time from a libuv loop
 * (a uv_poll_t on uco_sched_fd, a uv_timer_t for the deadline each
 * uco_sched_step reports, as demo/embed-uv does).
 *
 *   embed echo run|uv C SECS    an echo server on 127.0.0.1, a task per
 *                               connection (uco_read, uco_write), on the
 *                               main thread; C clients, tasks of a second
 *                               scheduler on another thread, each sending
 *                               64-byte requests and waiting for each echo
 *                               (every echo checked), for SECS seconds
 *                               after a warm-up: requests per second, and
 *                               the server thread's CPU time per request
 *   embed idle run|uv SECS      the only task sleeps 1 s at a time (and one
 *                               waits on a pipe nobody writes): the CPU time
 *                               of the process (getrusage) per second of
 *                               wall time, and the host's steps per second
 *   embed sleep run|uv|uvtfd N  N sleepers, deadlines random over 1 s from
 *                               a common start (all asleep by then):
 *                               lateness (wake - deadline) p50/p99/max;
 *                               uvtfd: libuv driven with a timerfd under a
 *                               uv_poll_t for the deadline instead of a
 *                               uv_timer_t (libuv's timers count whole ms)
 *   embed signal kill|thread|floor N
 *                               a task waits in uco_signal_wait(SIGUSR1);
 *                               another thread, spaced 100-400 us apart,
 *                               stores the time and sends the signal: kill()
 *                               to the process (the sender blocks it), or
 *                               pthread_kill() to a bystander thread that
 *                               runs no scheduler; the time from the send
 *                               to the wait's return, p50/p99/max.  floor: a
 *                               plain thread in sigwaitinfo, kill() (no
 *                               library: what the kernel's delivery costs)
 *   embed list                  "uv yes|no", "timerfd yes|no", "backend
 *                               SWITCH/POLLER" (uco_backend)
 *
 * Every figure is one "R key value" line (bench/bench.h); bench/run.sh
 * runs the modes in turns and tabulates them.
 */
#include "bench.h"

#include <ucoro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>

#ifdef HAVE_LIBUV
#include <uv.h>
#endif
#if defined(HAVE_LIBUV) && defined(__linux__)
#include <sys/timerfd.h>
#define HAVE_TFD 1
#endif

#define MSG 64 /* bytes a request, echoed whole */

UCO_NORETURN static void die(const char *what, int rc)
{
    fprintf(stderr, "embed: %s: %s\n", what,
            rc < 0 && rc > -4096 && rc != UCO_ESTACK ? strerror(-rc)
                                                     : uco_strerror(rc));
    exit(1);
}

static int64_t *alloc_i64(long n)
{
    int64_t *v = calloc((size_t)n, sizeof *v);
    if (!v) {
        perror("calloc");
        exit(1);
    }
    return v;
}

/* CPU time of the process (user + system) from getrusage, ns. */
static int64_t rusage_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ the drivers */

enum { DRIVE_RUN, DRIVE_UV, DRIVE_UVTFD };
static int drive_mode;
static unsigned long host_steps; /* uco_sched_step calls (libuv only) */

#ifdef HAVE_LIBUV
static struct {
    uv_loop_t loop;
    uco_sched *s;
    uv_poll_t fdw;  /* uco_sched_fd readable: step */
    uv_timer_t due; /* the step's deadline (DRIVE_UV) */
#ifdef HAVE_TFD
    int tfd;        /* the step's deadline (DRIVE_UVTFD) */
    uv_poll_t tfdw;
#endif
    int step_err;
    bool over;
} h;

static void on_due(uv_timer_t *t);

/* One round, then wait for the fd or the deadline; once main has
 * finished, close the handles so that uv_run returns. */
static void host_step(void)
{
    int64_t d, left;
    int rc;

    if (h.over)
        return;
    host_steps++;
    rc = uco_sched_step(h.s, &d);
    if (rc != 1) {
        h.step_err = rc;
        h.over = true;
        uv_close((uv_handle_t *)&h.fdw, NULL);
        uv_close((uv_handle_t *)&h.due, NULL);
#ifdef HAVE_TFD
        if (drive_mode == DRIVE_UVTFD)
            uv_close((uv_handle_t *)&h.tfdw, NULL);
#endif
        return;
    }
#ifdef HAVE_TFD
    if (drive_mode == DRIVE_UVTFD) {
        /* absolute, in ns: a time already past fires at once */
        struct itimerspec its;

        memset(&its, 0, sizeof its);
        if (d != UCO_NEVER) {
            if (d <= 0)
                d = 1;
            its.it_value.tv_sec = (time_t)(d / 1000000000);
            its.it_value.tv_nsec = (long)(d % 1000000000);
        }
        timerfd_settime(h.tfd, TFD_TIMER_ABSTIME, &its, NULL);
        return;
    }
#endif
    if (d == UCO_NEVER) {
        uv_timer_stop(&h.due);
        return;
    }
    left = d - uco_now();
    uv_update_time(&h.loop); /* the timer counts from now */
    uv_timer_start(&h.due, on_due,
                   left <= 0 ? 0 : (uint64_t)((left + 999999) / 1000000), 0);
}

static void on_due(uv_timer_t *t)
{
    (void)t;
    host_step();
}

static void on_fd(uv_poll_t *p, int status, int events)
{
    (void)p;
    (void)status;
    (void)events;
    host_step();
}

#ifdef HAVE_TFD
static void on_tfd(uv_poll_t *p, int status, int events)
{
    uint64_t n;

    (void)p;
    (void)status;
    (void)events;
    if (read(h.tfd, &n, sizeof n) < 0) {
        /* EAGAIN: re-armed meanwhile */
    }
    host_step();
}
#endif

/* main(arg) as the main task of a scheduler driven from a libuv loop;
 * returns main's outcome when it has finished. */
static int drive_uv(uco_fn *fn, void *arg)
{
    int rc;

    memset(&h, 0, sizeof h);
    rc = uv_loop_init(&h.loop);
    if (rc < 0) {
        fprintf(stderr, "embed: uv_loop_init: %s\n", uv_strerror(rc));
        exit(1);
    }
    rc = uco_sched_create(&h.s, fn, arg);
    if (rc < 0)
        die("uco_sched_create", rc);
    uv_poll_init(&h.loop, &h.fdw, uco_sched_fd(h.s));
    uv_poll_start(&h.fdw, UV_READABLE, on_fd);
    uv_timer_init(&h.loop, &h.due);
#ifdef HAVE_TFD
    h.tfd = -1;
    if (drive_mode == DRIVE_UVTFD) {
        h.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (h.tfd < 0)
            die("timerfd_create", -errno);
        uv_poll_init(&h.loop, &h.tfdw, h.tfd);
        uv_poll_start(&h.tfdw, UV_READABLE, on_tfd);
    }
#endif
    host_step(); /* main starts */
    uv_run(&h.loop, UV_RUN_DEFAULT);
    if (h.step_err < 0)
        die("uco_sched_step", h.step_err);
    rc = uco_sched_destroy(h.s, NULL);
    uv_loop_close(&h.loop);
#ifdef HAVE_TFD
    if (h.tfd >= 0)
        close(h.tfd);
#endif
    return rc;
}
#endif

static int drive(uco_fn *fn, void *arg)
{
    if (drive_mode == DRIVE_RUN)
        return uco_run(fn, arg, NULL);
#ifdef HAVE_LIBUV
    return drive_uv(fn, arg);
#else
    fprintf(stderr, "embed: built without libuv\n");
    exit(1);
#endif
}

static int parse_drive(const char *s)
{
    if (strcmp(s, "run") == 0)
        return DRIVE_RUN;
#ifdef HAVE_LIBUV
    if (strcmp(s, "uv") == 0)
        return DRIVE_UV;
#ifdef HAVE_TFD
    if (strcmp(s, "uvtfd") == 0)
        return DRIVE_UVTFD;
#endif
#endif
    fprintf(stderr, "embed: unknown or unavailable driver '%s'\n", s);
    exit(2);
}

static const char *const drive_names[] = { "run", "uv", "uvtfd" };

/* ------------------------------------------------------------ echo */

static struct {
    int lfd;
    struct sockaddr_in addr;
    int clients;
    double secs;
    /* the server (its thread's tasks only) */
    unsigned long long served_bytes;
    int srv_err;
    /* the clients (their thread's tasks only, read after the join) */
    unsigned long long done;    /* requests answered */
    unsigned long long c0, c1;  /* done at the window's edges */
    int64_t t0, t1;
    bool stop;
    int cli_err;
    int bad;                    /* echoes that came back wrong */
} ec;

static void *srv_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    ssize_t n, w, off;

    while ((n = uco_read(fd, buf, sizeof buf, UCO_NEVER)) > 0) {
        for (off = 0; off < n; off += w) {
            w = uco_write(fd, buf + off, (size_t)(n - off), UCO_NEVER);
            if (w < 0) {
                n = w;
                goto out;
            }
        }
        ec.served_bytes += (unsigned long long)n;
    }
out:
    if (n < 0 && n != -ECANCELED && n != -ECONNRESET && !ec.srv_err)
        ec.srv_err = (int)n;
    uco_fd_close(fd);
    return NULL;
}

/* Accept the clients, a task each; return when every one has closed. */
static void *srv_main(void *arg)
{
    uco_attr a = { .stack_size = 64 * 1024, .name = "conn" };
    uco_group *g;
    int i, c, rc;

    (void)arg;
    rc = uco_group_create(&g, 0);
    if (rc < 0)
        die("uco_group_create", rc);
    for (i = 0; i < ec.clients; i++) {
        c = uco_accept(ec.lfd, NULL, NULL, uco_now() + UCO_SEC(10));
        if (c < 0)
            die("uco_accept", c);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
        rc = uco_group_spawn(g, NULL, srv_conn, (void *)(intptr_t)c, &a);
        if (rc < 0)
            die("uco_group_spawn", rc);
    }
    uco_group_wait(g, UCO_NEVER);
    uco_group_destroy(g);
    return NULL;
}

static int cli_fail(int rc)
{
    if (!ec.cli_err)
        ec.cli_err = rc;
    return rc;
}

static void *cli_conn(void *arg)
{
    unsigned char out[MSG], in[MSG];
    uint64_t seq = (uint64_t)(intptr_t)arg << 32;
    ssize_t n;
    size_t got;
    int fd, rc;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        cli_fail(-errno);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
    rc = uco_connect(fd, (struct sockaddr *)&ec.addr, sizeof ec.addr,
                     uco_now() + UCO_SEC(10));
    if (rc < 0) {
        cli_fail(rc);
        uco_fd_close(fd);
        return NULL;
    }
    memset(out, 0x5a, sizeof out);
    while (!ec.stop) {
        seq++;
        memcpy(out, &seq, sizeof seq);
        n = uco_write(fd, out, MSG, UCO_NEVER);
        if (n != MSG) {
            cli_fail(n < 0 ? (int)n : -EIO);
            break;
        }
        for (got = 0; got < MSG; got += (size_t)n) {
            n = uco_read(fd, in + got, MSG - got, UCO_NEVER);
            if (n <= 0) {
                cli_fail(n < 0 ? (int)n : -ECONNRESET);
                goto out;
            }
        }
        if (memcmp(in, out, MSG) != 0)
            ec.bad++;
        ec.done++;
    }
out:
    uco_fd_close(fd);
    return NULL;
}

static void *cli_main(void *arg)
{
    uco_attr a = { .stack_size = 64 * 1024, .name = "client" };
    uco_task **t = calloc((size_t)ec.clients, sizeof *t);
    int i, rc;

    (void)arg;
    if (!t)
        die("calloc", -ENOMEM);
    for (i = 0; i < ec.clients; i++) {
        rc = uco_spawn(&t[i], cli_conn, (void *)(intptr_t)i, &a);
        if (rc < 0)
            die("uco_spawn", rc);
    }
    uco_sleep(UCO_MSEC(200)); /* warm-up */
    ec.c0 = ec.done;
    ec.t0 = uco_now();
    uco_sleep((int64_t)(ec.secs * 1e9));
    ec.c1 = ec.done;
    ec.t1 = uco_now();
    ec.stop = true;
    for (i = 0; i < ec.clients; i++)
        uco_join(t[i], NULL, UCO_NEVER);
    free(t);
    return NULL;
}

static void *cli_thread(void *arg)
{
    int rc = uco_run(cli_main, arg, NULL);

    if (rc < 0)
        cli_fail(rc);
    return NULL;
}

static int listen_local(struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)a, sizeof *a) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)a, &len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static int mode_echo(int clients, double secs)
{
    const char *dn = drive_names[drive_mode];
    pthread_t cli;
    int64_t cpu0, cpu1;
    unsigned long steps0;
    char k[64];
    double reqs;
    int rc;

    ec.clients = clients;
    ec.secs = secs;
    ec.lfd = listen_local(&ec.addr);
    if (ec.lfd < 0)
        die("listen on 127.0.0.1", ec.lfd);
    rc = pthread_create(&cli, NULL, cli_thread, NULL);
    if (rc != 0)
        die("pthread_create", -rc);
    cpu0 = thread_cpu_ns();
    steps0 = host_steps;
    rc = drive(srv_main, NULL);
    cpu1 = thread_cpu_ns();
    pthread_join(cli, NULL);
    close(ec.lfd);
    if (rc < 0)
        die("server", rc);
    if (ec.srv_err)
        die("server task", ec.srv_err);
    if (ec.cli_err)
        die("client", ec.cli_err);
    if (ec.bad) {
        fprintf(stderr, "embed: %d echoes came back wrong\n", ec.bad);
        exit(1);
    }
    reqs = (double)(ec.c1 - ec.c0) / ((double)(ec.t1 - ec.t0) / 1e9);
    snprintf(k, sizeof k, "echo.%d.%s.req_per_s", clients, dn);
    bench_put(k, reqs);
    snprintf(k, sizeof k, "echo.%d.%s.srv_cpu_ns_per_req", clients, dn);
    bench_put(k, (double)(cpu1 - cpu0) / ((double)ec.served_bytes / MSG));
    if (drive_mode != DRIVE_RUN) {
        snprintf(k, sizeof k, "echo.%d.%s.req_per_step", clients, dn);
        bench_put(k, ((double)ec.served_bytes / MSG) / (double)(host_steps - steps0));
    }
    return 0;
}

/* ------------------------------------------------------------ idle */

static struct {
    double secs;
    int pipe_r;
    int64_t cpu_ns, wall_ns;
    unsigned long steps;
    int err;
} id;

static void *idle_fd(void *arg)
{
    int rc;

    (void)arg;
    rc = uco_fd_wait(id.pipe_r, UCO_READ, UCO_NEVER);
    if (rc != -ECANCELED && !id.err)
        id.err = rc < 0 ? rc : -EIO;
    return NULL;
}

/* The only task at work sleeps a second at a time; another waits on a
 * pipe nobody writes. */
static void *idle_main(void *arg)
{
    uco_task *w;
    int64_t c0, t0;
    unsigned long s0;
    int i, rc, n = (int)(id.secs + 0.5);

    (void)arg;
    rc = uco_spawn(&w, idle_fd, NULL, NULL);
    if (rc < 0)
        die("uco_spawn", rc);
    uco_sleep(UCO_MSEC(100)); /* settled: the waiter waits */
    c0 = rusage_ns();
    t0 = uco_now();
    s0 = host_steps;
    for (i = 0; i < n; i++)
        uco_sleep(UCO_SEC(1));
    id.cpu_ns = rusage_ns() - c0;
    id.wall_ns = uco_now() - t0;
    id.steps = host_steps - s0;
    uco_cancel(w);
    uco_join(w, NULL, UCO_NEVER);
    return NULL;
}

static int mode_idle(double secs)
{
    const char *dn = drive_names[drive_mode];
    int p[2], rc;
    char k[64];
    double per_s;

    id.secs = secs < 1 ? 1 : secs;
    if (pipe(p) != 0)
        die("pipe", -errno);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    id.pipe_r = p[0];
    rc = drive(idle_main, NULL);
    if (rc < 0)
        die("main", rc);
    if (id.err)
        die("fd waiter", id.err);
    close(p[0]);
    close(p[1]);
    per_s = (double)id.cpu_ns / ((double)id.wall_ns / 1e9);
    snprintf(k, sizeof k, "idle.%s.cpu_us_per_s", dn);
    bench_put(k, per_s / 1e3);
    if (drive_mode != DRIVE_RUN) {
        snprintf(k, sizeof k, "idle.%s.steps_per_s", dn);
        bench_put(k, (double)id.steps / ((double)id.wall_ns / 1e9));
    }
    return 0;
}

/* ------------------------------------------------------------ sleepers */

static struct {
    long n;
    int64_t *deadline, *woke;
    uco_waitgroup *wg;
    int err;
} sl;

static void *sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    int rc = uco_sleep_until(sl.deadline[i]);

    sl.woke[i] = uco_now();
    if (rc < 0 && !sl.err)
        sl.err = rc;
    uco_waitgroup_done(sl.wg);
    return NULL;
}

static void *sleep_main(void *arg)
{
    uco_attr a = { .stack_size = 16 * 1024, .flags = UCO_DETACHED };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int64_t base;
    long i;
    int rc;

    (void)arg;
    rc = uco_waitgroup_create(&sl.wg);
    if (rc < 0)
        die("uco_waitgroup_create", rc);
    base = uco_now() + UCO_MSEC(50); /* all asleep well before */
    for (i = 0; i < sl.n; i++)
        sl.deadline[i] = base + (int64_t)(bench_rand(&seed) % 1000000000u);
    for (i = 0; i < sl.n; i++) {
        uco_waitgroup_add(sl.wg, 1);
        rc = uco_spawn(NULL, sleeper, (void *)(intptr_t)i, &a);
        if (rc < 0)
            die("uco_spawn", rc);
    }
    rc = uco_waitgroup_wait(sl.wg, UCO_NEVER);
    if (rc < 0)
        die("uco_waitgroup_wait", rc);
    uco_waitgroup_destroy(sl.wg);
    return NULL;
}

static int mode_sleep(long n)
{
    const char *dn = drive_names[drive_mode];
    int64_t *late;
    long i, early = 0;
    char k[64];
    int rc;

    sl.n = n;
    sl.deadline = alloc_i64(n);
    sl.woke = alloc_i64(n);
    late = alloc_i64(n);
    rc = drive(sleep_main, NULL);
    if (rc < 0)
        die("main", rc);
    if (sl.err)
        die("sleeper", sl.err);
    for (i = 0; i < n; i++) {
        late[i] = sl.woke[i] - sl.deadline[i];
        if (late[i] < 0)
            early++;
    }
    snprintf(k, sizeof k, "sleep.%s.early", dn);
    bench_put(k, (double)early);
    snprintf(k, sizeof k, "sleep.%s.late_p50_us", dn);
    bench_put(k, (double)bench_pct(late, (size_t)n, 50) / 1e3);
    snprintf(k, sizeof k, "sleep.%s.late_p99_us", dn);
    bench_put(k, (double)bench_pct(late, (size_t)n, 99) / 1e3);
    snprintf(k, sizeof k, "sleep.%s.late_max_us", dn);
    bench_put(k, (double)late[n - 1] / 1e3);
    free(late);
    free(sl.deadline);
    free(sl.woke);
    return 0;
}

/* ------------------------------------------------------------ signals */

enum { SIG_KILL, SIG_THREAD, SIG_FLOOR };
static const char *const sig_names[] = { "kill", "thread", "floor" };

static struct {
    int how;
    long n;
    _Atomic int64_t sent_at;  /* the sender's uco_now() before the send */
    int ack_r, ack_w;         /* the waiter's "got it", to the sender */
    int stop_r, stop_w;       /* the bystander's end */
    pthread_t bystander, waiter;
    int64_t *lat;
    int err;
} sg;

static void *bystander(void *arg)
{
    char c;

    (void)arg;
    /* runs no scheduler; the signal's handler runs here */
    while (read(sg.stop_r, &c, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void *sender(void *arg)
{
    uint64_t seed = 0x2545f4914f6cdd1dull;
    sigset_t set;
    long i;
    char c;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* kill() goes elsewhere */
    for (i = 0; i < sg.n; i++) {
        int64_t gap = 100000 + (int64_t)(bench_rand(&seed) % 300000);
        struct timespec ts = { 0, (long)gap };

        nanosleep(&ts, NULL);
        atomic_store(&sg.sent_at, uco_now());
        if (sg.how == SIG_THREAD)
            pthread_kill(sg.bystander, SIGUSR1);
        else
            kill(getpid(), SIGUSR1);
        /* the next one only once this one has been taken */
        while (read(sg.ack_r, &c, 1) < 0)
            if (errno != EINTR) {
                perror("embed: read");
                exit(1);
            }
    }
    return NULL;
}

static void ack(void)
{
    char c = 1;

    while (write(sg.ack_w, &c, 1) < 0)
        if (errno != EINTR) {
            perror("embed: write");
            exit(1);
        }
}

static void *sig_main(void *arg)
{
    pthread_t snd;
    sigset_t set;
    long i;
    int rc, sig;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    /* the library handles SIGUSR1 from the first wait: make it now */
    rc = uco_signal_wait(&set, &sig, uco_now());
    if (rc != -ETIMEDOUT)
        die("uco_signal_wait (first)", rc);
    if (sg.how == SIG_THREAD) {
        rc = pthread_create(&sg.bystander, NULL, bystander, NULL);
        if (rc != 0)
            die("pthread_create", -rc);
    }
    rc = pthread_create(&snd, NULL, sender, NULL);
    if (rc != 0)
        die("pthread_create", -rc);
    for (i = 0; i < sg.n; i++) {
        rc = uco_signal_wait(&set, &sig, uco_now() + UCO_SEC(2));
        sg.lat[i] = uco_now() - atomic_load(&sg.sent_at);
        if (rc < 0) {
            fprintf(stderr, "embed: signal %ld of %ld: uco_signal_wait: %s\n",
                    i + 1, sg.n, uco_strerror(rc));
            exit(1);
        }
        ack();
    }
    pthread_join(snd, NULL); /* it has ended: it sent the last one */
    if (sg.how == SIG_THREAD) {
        if (write(sg.stop_w, "x", 1) != 1) /* ends the bystander */
            die("write", -errno);
        pthread_join(sg.bystander, NULL);
    }
    return NULL;
}

/* The floor: the waiting thread takes the signal with sigwaitinfo. */
static void *floor_waiter(void *arg)
{
    sigset_t set;
    long i;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (i = 0; i < sg.n; i++) {
        if (sigwaitinfo(&set, NULL) != SIGUSR1) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            perror("embed: sigwaitinfo");
            exit(1);
        }
        sg.lat[i] = uco_now() - atomic_load(&sg.sent_at);
        ack();
    }
    return NULL;
}

static int mode_signal(int how, long n)
{
    int p[2], q[2], rc;
    char k[64];
    double sum = 0;
    long i;

    sg.how = how;
    sg.n = n;
    sg.lat = alloc_i64(n);
    if (pipe(p) != 0 || pipe(q) != 0)
        die("pipe", -errno);
    sg.ack_r = p[0];
    sg.ack_w = p[1];
    sg.stop_r = q[0];
    sg.stop_w = q[1];
    if (how == SIG_FLOOR) {
        pthread_t w, snd;
        sigset_t set;

        /* blocked everywhere (inherited): only sigwaitinfo takes it */
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        rc = pthread_create(&w, NULL, floor_waiter, NULL);
        if (rc == 0)
            rc = pthread_create(&snd, NULL, sender, NULL);
        if (rc != 0)
            die("pthread_create", -rc);
        pthread_join(snd, NULL);
        pthread_join(w, NULL);
    } else {
        rc = uco_run(sig_main, NULL, NULL);
        if (rc < 0)
            die("main", rc);
    }
    for (i = 0; i < n; i++)
        sum += (double)sg.lat[i];
    snprintf(k, sizeof k, "signal.%s.mean_us", sig_names[how]);
    bench_put(k, sum / (double)n / 1e3);
    snprintf(k, sizeof k, "signal.%s.p50_us", sig_names[how]);
    bench_put(k, (double)bench_pct(sg.lat, (size_t)n, 50) / 1e3);
    snprintf(k, sizeof k, "signal.%s.p99_us", sig_names[how]);
    bench_put(k, (double)bench_pct(sg.lat, (size_t)n, 99) / 1e3);
    snprintf(k, sizeof k, "signal.%s.max_us", sig_names[how]);
    bench_put(k, (double)sg.lat[n - 1] / 1e3);
    free(sg.lat);
    return 0;
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr,
            "usage: embed echo run|uv CLIENTS SECS\n"
            "       embed idle run|uv SECS\n"
            "       embed sleep run|uv|uvtfd N\n"
            "       embed signal kill|thread|floor N\n"
            "       embed list\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[1], "list") == 0) {
#ifdef HAVE_LIBUV
        printf("uv yes\n");
#else
        printf("uv no\n");
#endif
#ifdef HAVE_TFD
        printf("timerfd yes\n");
#else
        printf("timerfd no\n");
#endif
        printf("backend %s\n", uco_backend());
        return 0;
    }
    if (strcmp(argv[1], "echo") == 0 && argc == 5) {
        drive_mode = parse_drive(argv[2]);
        if (drive_mode == DRIVE_UVTFD || atoi(argv[3]) < 1 || atof(argv[4]) <= 0)
            usage();
        return mode_echo(atoi(argv[3]), atof(argv[4]));
    }
    if (strcmp(argv[1], "idle") == 0 && argc == 4) {
        drive_mode = parse_drive(argv[2]);
        if (drive_mode == DRIVE_UVTFD)
            usage();
        return mode_idle(atof(argv[3]));
    }
    if (strcmp(argv[1], "sleep") == 0 && argc == 4) {
        drive_mode = parse_drive(argv[2]);
        if (atol(argv[3]) < 1)
            usage();
        return mode_sleep(atol(argv[3]));
    }
    if (strcmp(argv[1], "signal") == 0 && argc == 4) {
        int how;
        for (how = 0; how < 3; how++)
            if (strcmp(argv[2], sig_names[how]) == 0)
                break;
        if (how == 3 || atol(argv[3]) < 1)
            usage();
        return mode_signal(how, atol(argv[3]));
    }
    usage();
    return 2;
}
