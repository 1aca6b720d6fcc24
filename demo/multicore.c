/*
 * multicore - an echo server with one scheduler per CPU.
 *
 *   multicore                 start, connect clients to itself, check every
 *                             echo, stop every scheduler, exit (0: all good)
 *   multicore --serve         serve 127.0.0.1:PORT until SIGINT or SIGTERM
 *   multicore --port PORT     the port (default 7070 with --serve; the
 *                             self-test takes a free one)
 *   multicore --threads N     N schedulers (default: one per CPU this
 *                             process may run on)
 *
 * Each scheduler is a thread of its own running uco_run, pinned to its CPU,
 * with its own listening socket: all of them are bound to the same port
 * with SO_REUSEPORT, and the kernel spreads the incoming connections over
 * them.  A task per connection echoes what it reads.  Nothing is shared
 * between the schedulers: a task never leaves its thread.
 *
 * The main thread runs a scheduler too, for the control task.  On SIGINT or
 * SIGTERM (the handler writes to a self-pipe that the control task reads)
 * it posts "drain and stop" to every scheduler with uco_post: there, that
 * function runs as a task, closes the listener (the pending accept returns
 * -EBADF), and the scheduler's main task gives its connections a grace
 * period to end before cancelling them.  Each scheduler then posts back to
 * the control one what it served, and its uco_run returns.  uco_submit
 * reads a scheduler's counters on its own thread while it runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_ISSET */
#endif
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT 7070
#define MAX_SCHEDS 256
#define CONN_STACK ((size_t)64 * 1024)
#define GRACE_SERVE UCO_SEC(2)   /* connections' time to end, --serve */
#define GRACE_TEST UCO_SEC(1)
#define CLIENTS_PER_SCHED 4
#define MESSAGES 200
#define OP_DEADLINE UCO_SEC(5)   /* each step of a test client */

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

/* ---------------------------------------------------------------- state */

struct worker {
    int id;
    int cpu;             /* pinned there, or -1 */
    int lfd;             /* its listener; -1 once closed */
    pthread_t th;
    uco_sched *sched;    /* its scheduler: a handle it gives to the control */
    uco_group *conns;    /* its connection tasks */
    bool stopping;       /* set by the drain post */
    int rc;              /* its uco_run's */
    /* on its own thread only (read by the others through a submit or
     * after its "stopped" post) */
    long accepted, active, bytes, cancelled;
};

static struct worker workers[MAX_SCHEDS];
static int nsched;
static uco_sched *control; /* the main thread's scheduler */
static uco_waitgroup *stopped_wg;
static int64_t grace = GRACE_TEST; /* for the connections, at the stop */
static int stopped_n;

/* The workers tell the main thread that their handle is published. */
static pthread_mutex_t ready_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static int ready_n, ready_failed;

/* ---------------------------------------------------------------- signals */

static int sig_r = -1, sig_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    if (write(sig_w, &c, 1) < 0) {
        /* full: a signal is waiting to be read already */
    }
    errno = saved;
}

static int install_signals(void)
{
    struct sigaction sa;
    int p[2], rc;

    if (pipe(p) < 0)
        return -errno;
    sig_r = p[0];
    sig_w = p[1];
    if ((rc = set_nonblock(sig_r)) < 0 || (rc = set_nonblock(sig_w)) < 0)
        return rc;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -errno;
    sa.sa_handler = SIG_IGN; /* a client that goes away: EPIPE, not death */
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

/* ---------------------------------------------------------------- a scheduler */

struct conn {
    struct worker *w;
    int fd;
};

static void *echo_conn(void *arg)
{
    struct conn *c = arg;
    struct worker *w = c->w;
    int fd = c->fd;
    char buf[4096];

    free(c);
    w->active++;
    for (;;) {
        ssize_t n = uco_read(fd, buf, sizeof buf, UCO_NEVER), off = 0;
        if (n <= 0) {
            if (n == -ECANCELED)
                w->cancelled++;
            break;
        }
        while (off < n) {
            ssize_t k = uco_write(fd, buf + off, (size_t)(n - off), UCO_NEVER);
            if (k < 0) {
                if (k == -ECANCELED)
                    w->cancelled++;
                goto out;
            }
            off += k;
        }
        w->bytes += n;
    }
out:
    w->active--;
    uco_fd_close(fd);
    return NULL;
}

/* Posted by the control task: runs on w's scheduler, as a task. */
static void *drain(void *arg)
{
    struct worker *w = arg;

    if (!w->stopping) {
        w->stopping = true;
        uco_fd_close(w->lfd); /* the accept in w's main returns -EBADF */
        w->lfd = -1;
    }
    return NULL;
}

/* Posted back by a scheduler that has drained: runs on the control one. */
static void *stopped(void *arg)
{
    struct worker *w = arg;

    printf("multicore: scheduler %d (CPU %d) stopped: %ld connection(s), "
           "%ld bytes echoed, %ld cut by the stop\n",
           w->id, w->cpu, w->accepted, w->bytes, w->cancelled);
    stopped_n++;
    uco_waitgroup_done(stopped_wg);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int rc;

    rc = uco_sched_get(&w->sched);
    if (rc == 0)
        rc = uco_group_create(&w->conns, 0);
    pthread_mutex_lock(&ready_mu);
    ready_n++;
    if (rc < 0)
        ready_failed++;
    pthread_cond_signal(&ready_cv);
    pthread_mutex_unlock(&ready_mu);
    if (rc < 0) {
        fprintf(stderr, "multicore: scheduler %d: %s\n", w->id, errstr(rc));
        return NULL;
    }

    for (;;) {
        uco_attr a = { CONN_STACK, 0, "conn", 0 };
        int fd = uco_accept(w->lfd, NULL, NULL, UCO_NEVER);
        struct conn *c;

        if (fd < 0) {
            if (w->stopping || fd == -ECANCELED)
                break;
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
                fd == -ENOMEM) {
                uco_sleep(UCO_MSEC(10)); /* out of fds: let some close */
                continue;
            }
            if (fd == -ECONNABORTED || fd == -EINTR || fd == -EPROTO)
                continue;
            fprintf(stderr, "multicore: scheduler %d: accept: %s\n", w->id,
                    errstr(fd));
            break;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
        w->accepted++;
        c = malloc(sizeof *c);
        rc = c ? 0 : -ENOMEM;
        if (c) {
            c->w = w;
            c->fd = fd;
            rc = uco_group_spawn(w->conns, NULL, echo_conn, c, &a);
        }
        if (rc < 0) {
            fprintf(stderr, "multicore: scheduler %d: %s\n", w->id, errstr(rc));
            free(c);
            close(fd);
        }
    }

    /* drain: no new connection; the open ones get a grace period */
    rc = uco_group_wait(w->conns, uco_now() + grace);
    if (rc == -ETIMEDOUT && w->active > 0)
        printf("multicore: scheduler %d: %ld connection(s) still open after "
               "the grace period: cancelled\n", w->id, w->active);
    uco_group_destroy(w->conns); /* cancels and joins what is left */
    if (w->lfd >= 0) {
        uco_fd_close(w->lfd);
        w->lfd = -1;
    }
    rc = uco_post(control, stopped, w);
    if (rc < 0)
        fprintf(stderr, "multicore: scheduler %d: posting back: %s\n", w->id,
                errstr(rc));
    return NULL;
}

static void *worker_thread(void *arg)
{
    struct worker *w = arg;

    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    w->rc = uco_run(worker_main, w, NULL);
    if (w->rc < 0 && !w->sched) { /* it never started: unblock main */
        pthread_mutex_lock(&ready_mu);
        ready_n++;
        ready_failed++;
        pthread_cond_signal(&ready_cv);
        pthread_mutex_unlock(&ready_mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- listeners */

/* A non-blocking listener on 127.0.0.1:*port with SO_REUSEPORT; *port 0:
 * a free port, written back.  The fd or a negative errno. */
static int listen_on(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, rc;

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)*port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        goto fail;
    *port = ntohs(sa.sin_port);
    return fd;
fail:
    rc = -errno;
    close(fd);
    return rc;
}

/* ---------------------------------------------------------------- the self-test */

struct client {
    int port, id;
    int rc;        /* 0, or what went wrong */
    long bytes;
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = uco_write(fd, p, n, uco_now() + OP_DEADLINE);
        if (k < 0)
            return (int)k;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = uco_read(fd, p, n, uco_now() + OP_DEADLINE);
        if (k < 0)
            return (int)k;
        if (k == 0)
            return -ECONNRESET;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Connect, send MESSAGES messages of 1..2000 bytes, check each echo. */
static void *client(void *arg)
{
    struct client *c = arg;
    struct sockaddr_in sa;
    char out[2048], in[2048];
    int fd, i, rc;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return (void *)(intptr_t)(c->rc = -errno);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)c->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = uco_connect(fd, (struct sockaddr *)&sa, sizeof sa,
                     uco_now() + OP_DEADLINE);
    for (i = 0; rc == 0 && i < MESSAGES; i++) {
        size_t n = 1 + (size_t)((i * 997 + c->id * 131) % 2000), j;
        for (j = 0; j < n; j++)
            out[j] = (char)(c->id * 7 + i * 3 + (int)j);
        if ((rc = write_all(fd, out, n)) == 0 && (rc = read_all(fd, in, n)) == 0 &&
            memcmp(in, out, n) != 0)
            rc = -EILSEQ; /* "wrong bytes came back" */
        c->bytes += (long)n;
    }
    uco_fd_close(fd);
    c->rc = rc;
    return NULL;
}

/* Asked with uco_submit: runs on the worker's own thread. */
static void *count_accepted(void *arg)
{
    return (void *)(intptr_t)((struct worker *)arg)->accepted;
}

static int self_test(int port)
{
    int n = nsched * CLIENTS_PER_SCHED, i, rc, failed = 0;
    struct client *c = calloc((size_t)n, sizeof *c);
    uco_group *g;
    long bytes = 0;

    if (!c)
        return -ENOMEM;
    printf("multicore: %d clients, %d messages each, to 127.0.0.1:%d\n", n,
           MESSAGES, port);
    if ((rc = uco_group_create(&g, 0)) < 0) {
        free(c);
        return rc;
    }
    for (i = 0; i < n; i++) {
        c[i].port = port;
        c[i].id = i;
        if ((rc = uco_group_spawn(g, NULL, client, &c[i], NULL)) < 0)
            break;
    }
    uco_group_wait(g, UCO_NEVER);
    uco_group_destroy(g);
    for (i = 0; i < n; i++) {
        bytes += c[i].bytes;
        if (c[i].rc != 0) {
            failed++;
            fprintf(stderr, "multicore: client %d: %s\n", i,
                    c[i].rc == -EILSEQ ? "wrong bytes came back"
                                       : errstr(c[i].rc));
        }
    }
    printf("multicore: %d of %d clients got every echo right (%ld bytes each "
           "way)\n", n - failed, n, bytes);
    /* each scheduler's own count, read on its thread */
    for (i = 0; i < nsched; i++) {
        void *res = NULL;
        int r = uco_submit(workers[i].sched, count_accepted, &workers[i], &res,
                           uco_now() + UCO_SEC(5));
        if (r == 0)
            printf("multicore: scheduler %d accepted %ld of them\n", i,
                   (long)(intptr_t)res);
        else
            fprintf(stderr, "multicore: asking scheduler %d: %s\n", i,
                    errstr(r));
    }
    free(c);
    return rc < 0 ? rc : failed ? -EIO : 0;
}

/* ---------------------------------------------------------------- the control task */

struct options {
    int port;
    bool serve;
};

static void *control_main(void *arg)
{
    struct options *o = arg;
    intptr_t rc = 0;
    int i, r;

    if ((r = uco_sched_get(&control)) < 0 ||
        (r = uco_waitgroup_create(&stopped_wg)) < 0 ||
        (r = uco_waitgroup_add(stopped_wg, nsched)) < 0) {
        fprintf(stderr, "multicore: %s\n", errstr(r));
        exit(1); /* the workers wait for a post that cannot come */
    }
    if (o->serve) {
        unsigned char sig = 0;
        printf("multicore: %d scheduler(s) serving 127.0.0.1:%d; Ctrl-C stops\n",
               nsched, o->port);
        fflush(stdout);
        r = (int)uco_read(sig_r, &sig, 1, UCO_NEVER);
        printf("\nmulticore: %s: draining\n",
               r == 1 ? (sig == SIGINT ? "SIGINT" : "SIGTERM") : errstr(r));
        signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends it the hard way */
        signal(SIGTERM, SIG_DFL);
    } else {
        r = self_test(o->port);
        if (r < 0)
            rc = 1;
    }
    fflush(stdout);

    /* drain and stop: a post to every scheduler */
    for (i = 0; i < nsched; i++) {
        r = uco_post(workers[i].sched, drain, &workers[i]);
        if (r < 0) { /* it has ended already: it posted back, or failed */
            fprintf(stderr, "multicore: posting to scheduler %d: %s\n", i,
                    errstr(r));
        }
    }
    r = uco_waitgroup_wait(stopped_wg, uco_now() + UCO_SEC(10));
    if (r < 0) {
        fprintf(stderr, "multicore: %d of %d scheduler(s) did not stop: %s\n",
                nsched - stopped_n, nsched, errstr(r));
        fflush(NULL);
        _exit(1); /* the others still run: do not wait for them */
    }
    uco_waitgroup_destroy(stopped_wg);
    return (void *)rc;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: multicore [--serve] [--port PORT] [--threads N]\n"
            "  an echo server on 127.0.0.1 with one scheduler per CPU, each\n"
            "  with its own SO_REUSEPORT listener\n"
            "  (no option)    a self-test: clients connect, every echo is\n"
            "                 checked, every scheduler is stopped; exit 0 if\n"
            "                 all went well\n"
            "  --serve        serve until SIGINT or SIGTERM (Ctrl-C), then\n"
            "                 drain every scheduler and stop\n"
            "  --port PORT    the port (default %d with --serve, a free one\n"
            "                 for the self-test)\n"
            "  --threads N    N schedulers (default: one per CPU)\n",
            DEFAULT_PORT);
}

/* The CPUs this process may run on, in cpus[]; their number. */
static int usable_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int i, n = 0;

    if (sched_getaffinity(0, sizeof set, &set) < 0)
        return 0;
    for (i = 0; i < CPU_SETSIZE && n < max; i++)
        if (CPU_ISSET(i, &set))
            cpus[n++] = i;
    return n;
}

int main(int argc, char **argv)
{
    struct options o = { -1, false };
    int cpus[MAX_SCHEDS], ncpu, want = 0, i, rc, status = 0;
    sigset_t block, old;
    void *res = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--serve") == 0) {
            o.serve = true;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            o.port = atoi(argv[++i]);
            if (o.port < 0 || o.port > 65535) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            want = atoi(argv[++i]);
            if (want < 1 || want > MAX_SCHEDS) {
                usage(stderr);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.port < 0)
        o.port = o.serve ? DEFAULT_PORT : 0;
    if (o.serve)
        grace = GRACE_SERVE;
    ncpu = usable_cpus(cpus, MAX_SCHEDS);
    nsched = want ? want : ncpu > 0 ? ncpu : 1;
    if (!o.serve)
        alarm(60); /* a self-test that hangs fails rather than waits */

    if ((rc = install_signals()) < 0) {
        fprintf(stderr, "multicore: signals: %s\n", errstr(rc));
        return 1;
    }
    /* the listeners: the first picks the port when it is 0 */
    for (i = 0; i < nsched; i++) {
        workers[i].id = i;
        workers[i].cpu = ncpu > 0 ? cpus[i % ncpu] : -1;
        workers[i].lfd = listen_on(&o.port);
        if (workers[i].lfd < 0) {
            fprintf(stderr, "multicore: 127.0.0.1:%d: %s\n", o.port,
                    strerror(-workers[i].lfd));
            return 1;
        }
    }

    /* the signals go to the main thread only: the others block them */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < nsched; i++) {
        if ((rc = pthread_create(&workers[i].th, NULL, worker_thread,
                                 &workers[i])) != 0) {
            fprintf(stderr, "multicore: pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(&ready_mu);
    while (ready_n < nsched)
        pthread_cond_wait(&ready_cv, &ready_mu);
    pthread_mutex_unlock(&ready_mu);
    if (ready_failed) {
        fprintf(stderr, "multicore: %d scheduler(s) could not start\n",
                ready_failed);
        return 1;
    }

    rc = uco_run(control_main, &o, &res);
    if (rc < 0) {
        fprintf(stderr, "multicore: control: %s\n", errstr(rc));
        return 1;
    }
    status = (int)(intptr_t)res;
    for (i = 0; i < nsched; i++) {
        pthread_join(workers[i].th, NULL);
        if (workers[i].rc < 0) {
            fprintf(stderr, "multicore: scheduler %d: %s\n", i,
                    errstr(workers[i].rc));
            status = 1;
        }
        uco_sched_put(workers[i].sched);
    }
    uco_sched_put(control);
    close(sig_r);
    close(sig_w);
    printf("multicore: %s\n", status ? "FAILED" : "all schedulers stopped");
    return status;
}
