/*
 * resolve - blocking work on the worker pool while the scheduler runs on.
 *
 *   resolve [--timeout MS] [--size MIB] [--copy SRC DST] [NAME...]
 *
 * Resolves every NAME at once, a task each, with uco_getaddrinfo and a
 * deadline of its own (--timeout, default 3000 ms), then copies a file
 * with uco_offload: each 1 MiB is read and written by a job on the pool
 * (pread and pwrite block there, not here), the copy is flushed with
 * fdatasync and compared with the original, again on the pool.  By
 * default the file is a temporary one of --size MiB (default 16) that the
 * program makes, on the pool too, and removes at the end; --copy copies
 * SRC to DST instead (and keeps DST).
 *
 * Meanwhile a heartbeat task wakes every 10 ms and prints each tick with
 * its lateness: the ticks go on while names are looked up and bytes are
 * copied, because only the task that offloads waits.
 *
 * With no argument it resolves localhost and 127.0.0.1 (names this machine
 * answers without a network) and copies a temporary file: exit 0 when
 * every name resolved and the copy matches, 1 otherwise.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include <ucoro.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)
#define TICK UCO_MSEC(10)

static const char *errstr(int rc)
{
    const char *s = uco_strerror(rc);
    if (strcmp(s, "unknown error") == 0 && rc < 0 && rc > -4096)
        return strerror(-rc);
    return s;
}

static double ms_since(int64_t t0)
{
    return (double)(uco_now() - t0) / 1e6;
}

/* ---------------------------------------------------------------- heartbeat */

static struct {
    long ticks;
    int64_t worst; /* lateness, ns */
    bool quiet;
} beat;

static void *heartbeat(void *arg)
{
    int64_t start = uco_now(), next = start;

    (void)arg;
    for (;;) {
        int64_t late;
        next += TICK;
        if (uco_sleep_until(next) < 0)
            return NULL; /* cancelled: the program ends */
        late = uco_now() - next;
        beat.ticks++;
        if (late > beat.worst)
            beat.worst = late;
        if (!beat.quiet)
            printf("  tick %ld at %.0f ms (%.2f ms late)\n", beat.ticks,
                   (double)(next - start) / 1e6, (double)late / 1e6);
    }
}

/* ---------------------------------------------------------------- names */

struct lookup {
    const char *name;
    int64_t timeout;
    int rc;
};

static void *lookup(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints, *res = NULL, *ai;
    char line[1024], addr[INET6_ADDRSTRLEN];
    size_t at;
    int64_t t0 = uco_now();

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    l->rc = uco_getaddrinfo(l->name, NULL, &hints, &res, t0 + l->timeout);
    if (l->rc != 0) {
        printf("%s: %s (after %.1f ms)\n", l->name, errstr(l->rc), ms_since(t0));
        return NULL;
    }
    at = (size_t)snprintf(line, sizeof line, "%s:", l->name);
    for (ai = res; ai; ai = ai->ai_next) {
        const void *a = ai->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            inet_ntop(ai->ai_family, a, addr, sizeof addr) && at < sizeof line)
            at += (size_t)snprintf(line + at, sizeof line - at, " %s", addr);
    }
    freeaddrinfo(res);
    printf("%s (%.1f ms)\n", line, ms_since(t0));
    return NULL;
}

/* Every name at once; the number that failed. */
static int resolve_all(char **names, int n, int64_t timeout)
{
    struct lookup *l = calloc((size_t)n, sizeof *l);
    uco_group *g;
    int i, rc, failed = 0;

    if (!l || (rc = uco_group_create(&g, 0)) < 0) {
        free(l);
        fprintf(stderr, "resolve: %s\n", errstr(l ? rc : -ENOMEM));
        return n;
    }
    for (i = 0; i < n; i++) {
        l[i].name = names[i];
        l[i].timeout = timeout;
        l[i].rc = -ENOMEM;
        if ((rc = uco_group_spawn(g, NULL, lookup, &l[i], NULL)) < 0)
            fprintf(stderr, "resolve: %s: %s\n", names[i], errstr(rc));
    }
    uco_group_wait(g, UCO_NEVER);
    uco_group_destroy(g);
    for (i = 0; i < n; i++)
        failed += l[i].rc != 0;
    free(l);
    return failed;
}

/* ---------------------------------------------------------------- files, on the pool */

/* One job: bytes [off, off+len) of src to dst, or of a generated pattern
 * (src < 0), or compared between src and dst (compare). */
struct chunk {
    int src, dst;
    off_t off;
    size_t len;
    bool compare;
    char *a, *b;      /* CHUNK bytes each */
    int err;          /* 0, a negative errno, or -EILSEQ (differs) */
};

static int read_full(int fd, char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t k = pread(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return -ENODATA; /* shorter than it was */
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static int write_full(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static void *chunk_job(void *arg) /* on a thread of the pool */
{
    struct chunk *c = arg;
    size_t i;

    if (c->compare) {
        if ((c->err = read_full(c->src, c->a, c->len, c->off)) == 0 &&
            (c->err = read_full(c->dst, c->b, c->len, c->off)) == 0 &&
            memcmp(c->a, c->b, c->len) != 0)
            c->err = -EILSEQ;
        return NULL;
    }
    if (c->src < 0) { /* a pattern that depends on the offset */
        uint64_t x = (uint64_t)c->off * 0x9E3779B97F4A7C15ull + 1;
        for (i = 0; i + 8 <= c->len; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(c->a + i, &x, 8);
        }
        for (; i < c->len; i++)
            c->a[i] = (char)i;
    } else if ((c->err = read_full(c->src, c->a, c->len, c->off)) < 0) {
        return NULL;
    }
    c->err = write_full(c->dst, c->a, c->len, c->off);
    return NULL;
}

static void *sync_job(void *arg)
{
    return (void *)(intptr_t)(fdatasync(*(int *)arg) < 0 ? -errno : 0);
}

/* Run the chunk jobs over size bytes, one after the other. */
static int over_chunks(int src, int dst, off_t size, bool compare, char *a,
                       char *b)
{
    struct chunk c;
    off_t off;
    void *res;
    int rc;

    for (off = 0; off < size; off += (off_t)CHUNK) {
        memset(&c, 0, sizeof c);
        c.src = src;
        c.dst = dst;
        c.off = off;
        c.len = size - off < (off_t)CHUNK ? (size_t)(size - off) : CHUNK;
        c.compare = compare;
        c.a = a;
        c.b = b;
        /* drop NULL: the call returns only once the job has, so c may
         * live on this stack */
        if ((rc = uco_offload(chunk_job, &c, NULL, &res, UCO_NEVER)) < 0)
            return rc;
        if (c.err < 0)
            return c.err;
    }
    return 0;
}

static int flush(int fd)
{
    void *res = NULL;
    int rc = uco_offload(sync_job, &fd, NULL, &res, UCO_NEVER);
    return rc < 0 ? rc : (int)(intptr_t)res;
}

/* Copy src to dst (made with mkstemp when tmp); 0 or an error. */
static int copy_file(const char *src, const char *dst, off_t make_size)
{
    char *a = malloc(CHUNK), *b = malloc(CHUNK);
    char src_tmp[] = "/tmp/uco-resolve-src-XXXXXX";
    char dst_tmp[] = "/tmp/uco-resolve-dst-XXXXXX";
    const char *tmpdir = getenv("TMPDIR");
    char src_path[4096], dst_path[4096];
    int in = -1, out = -1, rc = 0;
    long ticks0;
    struct stat st;
    off_t size;
    int64_t t0;

    if (!a || !b) {
        rc = -ENOMEM;
        goto done;
    }
    if (!src) { /* a temporary file of make_size bytes, made on the pool */
        if (tmpdir && *tmpdir) {
            snprintf(src_path, sizeof src_path, "%s/uco-resolve-src-XXXXXX", tmpdir);
            snprintf(dst_path, sizeof dst_path, "%s/uco-resolve-dst-XXXXXX", tmpdir);
        } else {
            strcpy(src_path, src_tmp);
            strcpy(dst_path, dst_tmp);
        }
        if ((in = mkstemp(src_path)) < 0 || (out = mkstemp(dst_path)) < 0) {
            rc = -errno;
            fprintf(stderr, "resolve: a temporary file: %s\n", strerror(errno));
            goto done;
        }
        src = src_path;
        dst = dst_path;
        t0 = uco_now();
        if ((rc = over_chunks(-1, in, make_size, false, a, b)) < 0) {
            fprintf(stderr, "resolve: writing %s: %s\n", src, errstr(rc));
            goto done;
        }
        printf("made %s: %lld MiB in %.1f ms\n", src,
               (long long)(make_size >> 20), ms_since(t0));
    } else {
        if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 ||
            (out = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
            rc = -errno;
            fprintf(stderr, "resolve: %s: %s\n", in < 0 ? src : dst,
                    strerror(errno));
            goto done;
        }
    }
    if (fstat(in, &st) < 0) {
        rc = -errno;
        goto done;
    }
    size = st.st_size;

    printf("copying %s to %s: %.1f MiB, a job on the pool per MiB\n", src, dst,
           (double)size / (1 << 20));
    ticks0 = beat.ticks;
    t0 = uco_now();
    if ((rc = over_chunks(in, out, size, false, a, b)) < 0 ||
        (rc = flush(out)) < 0) {
        fprintf(stderr, "resolve: copying: %s\n", errstr(rc));
        goto done;
    }
    printf("copied in %.1f ms (with fdatasync); the heartbeat ticked %ld "
           "time(s) meanwhile\n", ms_since(t0), beat.ticks - ticks0);
    t0 = uco_now();
    rc = over_chunks(in, out, size, true, a, b);
    if (rc == -EILSEQ)
        fprintf(stderr, "resolve: the copy differs from %s\n", src);
    else if (rc < 0)
        fprintf(stderr, "resolve: comparing: %s\n", errstr(rc));
    else
        printf("the copy matches, byte for byte (compared in %.1f ms)\n",
               ms_since(t0));
done:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (src == src_path) {
        unlink(src_path);
        unlink(dst_path);
    }
    free(a);
    free(b);
    return rc;
}

/* ---------------------------------------------------------------- main */

struct options {
    char **names;
    int n;
    int64_t timeout;
    off_t size;
    const char *src, *dst;
};

static void *main_task(void *arg)
{
    struct options *o = arg;
    uco_task *hb;
    int failed, rc;

    if ((rc = uco_spawn(&hb, heartbeat, NULL, NULL)) < 0) {
        fprintf(stderr, "resolve: %s\n", errstr(rc));
        return (void *)1;
    }
    printf("resolving %d name(s) at once, %lld ms each at most; a heartbeat "
           "every %lld ms\n", o->n, (long long)(o->timeout / 1000000),
           (long long)(TICK / 1000000));
    failed = resolve_all(o->names, o->n, o->timeout);
    rc = copy_file(o->src, o->dst, o->size);
    uco_cancel(hb);
    uco_join(hb, NULL, UCO_NEVER);
    printf("heartbeat: %ld ticks, the latest %.2f ms late\n", beat.ticks,
           (double)beat.worst / 1e6);
    if (failed)
        printf("resolve: %d name(s) did not resolve\n", failed);
    return (void *)(intptr_t)(failed || rc < 0);
}

static void usage(FILE *f)
{
    fputs("usage: resolve [--timeout MS] [--size MIB] [--copy SRC DST] [NAME...]\n"
          "  resolves every NAME at once with uco_getaddrinfo (default:\n"
          "  localhost 127.0.0.1), then copies a file with uco_offload, while a\n"
          "  heartbeat task ticks every 10 ms\n"
          "  --timeout MS   each lookup's deadline (default 3000)\n"
          "  --size MIB     the temporary file's size (default 16)\n"
          "  --copy SRC DST copy SRC to DST instead of a temporary file\n",
          f);
}

int main(int argc, char **argv)
{
    static char *dflt[] = { "localhost", "127.0.0.1" };
    struct options o = { NULL, 0, UCO_MSEC(3000), (off_t)16 << 20, NULL, NULL };
    void *res = NULL;
    int i, rc;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            o.timeout = UCO_MSEC(atol(argv[++i]));
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            o.size = (off_t)atol(argv[++i]) << 20;
        } else if (strcmp(argv[i], "--copy") == 0 && i + 2 < argc) {
            o.src = argv[++i];
            o.dst = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.timeout <= 0 || o.size <= 0) {
        usage(stderr);
        return 2;
    }
    o.names = i < argc ? argv + i : dflt;
    o.n = i < argc ? argc - i : 2;
    rc = uco_run(main_task, &o, &res);
    if (rc < 0) {
        fprintf(stderr, "resolve: %s\n", errstr(rc));
        return 1;
    }
    return (int)(intptr_t)res;
}
