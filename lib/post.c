/*
 * post.c - reaching a scheduler from any thread: counted handles, posts
 * (a function to run there as a new task), submits (the same, waited
 * for), and the inbox under them.
 *
 * The inbox is a stack of messages that producers push with a
 * compare-and-swap and the scheduler takes whole with one exchange, then
 * runs in the order pushed (no lock on the scheduler's side).  Producers
 * take the scheduler's lock around the push, so that ending (the run is
 * over: everything is refused) is atomic with respect to them.  Posts are
 * refused once main has finished; one accepted before is taken before the
 * run ends, and its task starts cancelled.
 *
 * Waking: a scheduler about to block in the kernel sets `sleeping`, then
 * looks at the inbox once more; a producer that makes the inbox non-empty
 * looks at `sleeping` after its push, and writes the wake fd (an eventfd
 * the poller watches) when it is set.  Both sides use sequentially
 * consistent operations, so at least one of them sees the other: either
 * the scheduler finds the message and does not block, or the producer
 * wakes it.  Pushing to a busy scheduler makes no system call.
 */
#include "post.h"

#include "io.h"
#include "task.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef UCO_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

/* ---- handles */

/* A new wake fd (or pipe) for s in fds.  0 or a negative errno. */
static int make_wake(int fds[2])
{
#ifdef UCO_HAVE_EVENTFD
    fds[0] = fds[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fds[0] < 0)
        return -errno;
#else
    if (pipe(fds) != 0)
        return -errno;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
    return 0;
}

/* Where fd's file is: to tell ours from a program's file that took the
 * number after the program closed ours behind the library's back. */
static void identify(int fd, uint64_t id[2])
{
    struct stat st;

    id[0] = id[1] = 0;
    if (fstat(fd, &st) == 0) {
        id[0] = (uint64_t)st.st_dev;
        id[1] = (uint64_t)st.st_ino;
    }
}

int uco__post_ready(struct uco_sched *s)
{
    int fds[2], rc;

    if (s->wake_r >= 0)
        return 0;
    rc = make_wake(fds);
    if (rc < 0)
        return rc;
    s->wake_r = fds[0];
    s->wake_w = fds[1];
    identify(fds[0], s->wake_id);
    return 0;
}

bool uco__post_wake_ours(struct uco_sched *s)
{
    uint64_t id[2];
    int fds[2];

    identify(s->wake_r, id);
    if (id[0] == s->wake_id[0] && id[1] == s->wake_id[1] &&
        (s->wake_w == s->wake_r || fcntl(s->wake_w, F_GETFD) >= 0))
        return true;
    /* the program's now: leave the numbers alone, make new ones */
    if (make_wake(fds) < 0)
        return false;
    pthread_mutex_lock(s->lock);
    s->wake_r = fds[0];
    s->wake_w = fds[1];
    pthread_mutex_unlock(s->lock);
    identify(fds[0], s->wake_id);
    s->wake_armed = false;
    return false;
}

int uco_sched_get(uco_sched **out)
{
    struct uco_sched *s = uco__cur;
    int rc;

    if (!s)
        return -EPERM;
    if (!out)
        return -EINVAL;
    uco__enter_change();
    rc = uco__post_ready(s);
    if (rc < 0)
        return rc;
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    *out = s;
    return 0;
}

void uco_sched_put(uco_sched *s)
{
    unsigned n;

    if (!s)
        return;
    /* under the lock: once the count is down, the scheduler may be freed
     * by whoever holds the last reference, so nothing of it is touched
     * after the lock is let go but by that one */
    pthread_mutex_lock(s->lock);
    n = __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    if (n == 1 && !s->ended && __atomic_load_n(&s->sleeping, __ATOMIC_SEQ_CST)) {
        /* only the run's own is left: nothing may come any more, and a
         * scheduler asleep with no deadline must look again (a deadlock
         * is then its to report) */
        uint64_t one = 1;
        if (write(s->wake_w, &one, sizeof one) < 0) {
            /* full (a pipe): readable all the same */
        }
    }
    pthread_mutex_unlock(s->lock);
    if (n == 0)
        uco__sched_release(s);
}

void uco__post_free(struct uco_sched *s)
{
    pthread_mutex_destroy(s->lock);
    free(s->lock);
}

void uco__sched_release(struct uco_sched *s)
{
    uco__post_free(s);
    free(s);
}

/* ---- the inbox */

int uco__post_push(struct uco_sched *s, struct uco_msg *m, bool user)
{
    struct uco_msg *old;
    int rc = 0;

    pthread_mutex_lock(s->lock);
    if (s->ended || (user && __atomic_load_n(&s->main_done, __ATOMIC_ACQUIRE))) {
        rc = -ESRCH;
    } else {
        old = __atomic_load_n(&s->inbox, __ATOMIC_RELAXED);
        do
            m->next = old;
        while (!__atomic_compare_exchange_n(&s->inbox, &old, m, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
        if (!old && __atomic_load_n(&s->sleeping, __ATOMIC_SEQ_CST)) {
            uint64_t one = 1;
            if (write(s->wake_w, &one, sizeof one) < 0) {
                /* full (a pipe): it is readable, which is all we need */
            }
        }
    }
    pthread_mutex_unlock(s->lock);
    return rc;
}

/* The inbox's messages, in the order pushed. */
static struct uco_msg *take_all(struct uco_sched *s)
{
    struct uco_msg *m = __atomic_exchange_n(&s->inbox, NULL, __ATOMIC_ACQUIRE);
    struct uco_msg *fifo = NULL;

    while (m) {
        struct uco_msg *next = m->next;
        m->next = fifo;
        fifo = m;
        m = next;
    }
    return fifo;
}

/* s->take: run the inbox's messages, then make tasks of a batch of the
 * posts taken. */
static void run_inbox(struct uco_sched *s)
{
    struct uco_msg *m = take_all(s);

    while (m) {
        struct uco_msg *next = m->next;
        m->run(s, m);
        m = next;
    }
    if (!uco__list_empty(&s->retry))
        s->retry_stalled = !uco__post_retry(s);
}

bool uco__post_sleep(struct uco_sched *s)
{
    __atomic_store_n(&s->sleeping, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->inbox, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&s->sleeping, 0, __ATOMIC_RELAXED);
        return false;
    }
    return true;
}

void uco__post_woke(struct uco_sched *s)
{
    __atomic_store_n(&s->sleeping, 0, __ATOMIC_RELAXED);
}

bool uco__post_may_come(const struct uco_sched *s)
{
    return s->remote > 0 || __atomic_load_n(&s->refs, __ATOMIC_ACQUIRE) > 1 ||
           !uco__list_empty(&s->retry);
}

/* ---- posts */

struct post {
    struct uco_msg m;
    struct uco_list retry;   /* on s->retry while its task cannot be made */
    uco_fn *fn;
    void *arg;
};

/* Make the post's task: 0, or a negative code (it stays for a retry). */
static int start_post(struct uco_sched *s, struct post *p)
{
    uco_attr a = { 0, 0, NULL, UCO_DETACHED };
    uco_task *t;
    int rc = uco__spawn(s, &t, p->fn, p->arg, &a);

    if (rc == 0) {
        t->must_enter = true; /* accepted: entered, cancelled or not */
        free(p);
    }
    return rc;
}

/* Posts become tasks in batches of this many a round: a backlog of them
 * does not become as many live tasks (and stacks) at once. */
#define POST_BATCH 64

static void run_post(struct uco_sched *s, struct uco_msg *m)
{
    struct post *p = (struct post *)m;

    uco__list_push(&s->retry, &p->retry); /* in order, behind any backlog */
}

bool uco__post_retry(struct uco_sched *s)
{
    struct uco_list *n;
    int k;

    for (k = 0; k < POST_BATCH && (n = s->retry.next) != &s->retry; k++) {
        struct post *p = uco__container(n, struct post, retry);
        uco__list_remove(n);
        if (start_post(s, p) < 0) {
            uco__list_push(s->retry.next, n); /* first again; later */
            return false;
        }
    }
    return true;
}

int uco_post(uco_sched *s, uco_fn *fn, void *arg)
{
    struct post *p;
    int rc;

    if (!s || !fn)
        return -EINVAL;
    p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->m.run = run_post;
    p->fn = fn;
    p->arg = arg;
    rc = uco__post_push(s, &p->m, true);
    if (rc < 0)
        free(p);
    return rc;
}

/* ---- the scheduler's life, as run.c drives it */

int uco__post_start(struct uco_sched *s)
{
    pthread_mutex_t *l = malloc(sizeof(pthread_mutex_t));

    if (!l)
        return -ENOMEM;
    pthread_mutex_init(l, NULL);
    s->lock = l;
    s->refs = 1;
    s->take = run_inbox;
    return 0;
}

bool uco__post_seal(struct uco_sched *s)
{
    bool empty;

    pthread_mutex_lock(s->lock);
    empty = __atomic_load_n(&s->inbox, __ATOMIC_ACQUIRE) == NULL;
    if (empty)
        s->ended = true;
    pthread_mutex_unlock(s->lock);
    return empty;
}

void uco__post_end(struct uco_sched *s)
{
    pthread_mutex_lock(s->lock);
    s->ended = true;
    pthread_mutex_unlock(s->lock);
    if (s->wake_r >= 0)
        close(s->wake_r);
    if (s->wake_w >= 0 && s->wake_w != s->wake_r)
        close(s->wake_w);
    s->wake_r = s->wake_w = -1;
    uco_sched_put(s);
}
