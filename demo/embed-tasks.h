/*
 * embed-tasks.h - what both embedding demos (embed-uv.c, embed-glib.c) run
 * inside their host loop: an echo server on a listening socket, one task
 * per connection in a group, stopped by a task the host posts.  Included
 * by each demo; the host side is each demo's own.
 */
#ifndef UCO_DEMO_EMBED_TASKS_H
#define UCO_DEMO_EMBED_TASKS_H

#include <ucoro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static struct {
    int lfd;                 /* listening, non-blocking */
    uco_task *server;        /* cancelled by the host's post */
    unsigned long accepted;
    unsigned long long bytes;
    int err;                 /* the first unexpected error */
} srv = { -1, NULL, 0, 0, 0 };

static void task_failed(int rc)
{
    if (rc != -ECANCELED && srv.err == 0)
        srv.err = rc;
}

/* One connection: echo what comes until the peer closes. */
static void *conn_task(void *arg)
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
        srv.bytes += (unsigned long long)n;
    }
out:
    if (n < 0)
        task_failed((int)n);
    uco_fd_close(fd);
    return NULL;
}

/* Accept until cancelled, a task each, in a group that is cancelled and
 * waited for on the way out. */
static void *server_task(void *arg)
{
    uco_attr a = { .stack_size = 64 * 1024, .name = "conn" };
    uco_group *g;
    int c, rc;

    (void)arg;
    rc = uco_group_create(&g, 0);
    if (rc < 0) {
        task_failed(rc);
        return NULL;
    }
    for (;;) {
        c = uco_accept(srv.lfd, NULL, NULL, UCO_NEVER);
        if (c < 0) {
            task_failed(c);
            break;
        }
        srv.accepted++;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
        rc = uco_group_spawn(g, NULL, conn_task, (void *)(intptr_t)c, &a);
        if (rc < 0) {
            task_failed(rc);
            uco_fd_close(c);
        }
    }
    uco_group_destroy(g);
    return NULL;
}

static void *app_main(void *arg)
{
    uco_attr a = { .name = "server" };
    int rc;

    (void)arg;
    rc = uco_spawn(&srv.server, server_task, NULL, &a);
    if (rc < 0) {
        task_failed(rc);
        return NULL;
    }
    uco_join(srv.server, NULL, UCO_NEVER);
    return NULL;
}

/* Posted by the host: a task of the scheduler, so it may cancel one. */
static void *stop_task(void *arg)
{
    (void)arg;
    uco_cancel(srv.server);
    return NULL;
}

/* A listening socket on 127.0.0.1, any free port, in *a: the fd, or a
 * negative errno. */
static int listen_local(struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)a, sizeof *a) < 0 || listen(fd, 128) < 0 ||
        getsockname(fd, (struct sockaddr *)a, &len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

#endif
