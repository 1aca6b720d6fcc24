/*
 * introspect.c - looking at tasks from inside the program: a task's state,
 * a table of every task of the scheduler, and the opt-in watchdog.
 */
#include "core.h"
#include "io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int uco_task_state(const uco_task *t)
{
    struct uco_sched *s = uco__cur;

    if (!uco__task_valid(s, t))
        return -EINVAL;
    return t->state;
}

/* mincore's answers for this many pages at a time: a stack of the
 * largest size accepted (1 TiB) takes 4,096 calls, not a million. */
#define MINCORE_PAGES 65536

/* Resident bytes of a stack: its high-water mark, as far as pages tell
 * (pages stay resident once touched, while the stack is pooled too).
 * vec holds cap bytes (a multiple of 8). */
static size_t resident(const struct uco_stack *st, unsigned char *vec,
                       size_t cap)
{
#ifndef HAVE_MINCORE
    (void)st, (void)vec, (void)cap;
    return 0; /* the system cannot tell (doc/porting.md) */
#else
    size_t page = uco__page_size(), n = st->size / page, i, count = 0;
    char *lo = st->map + st->guard;

    for (i = 0; i < n; i += cap) {
        size_t k, chunk = n - i < cap ? n - i : cap;
        uint64_t w;
        /* (void *: the vector is unsigned char on Linux, char on BSD) */
        if (mincore(lo + i * page, chunk * page, (void *)vec) != 0)
            return 0;
        for (k = 0; k + 8 <= chunk; k += 8) { /* mostly zeros */
            memcpy(&w, vec + k, 8);
            if (w)
                count += (size_t)__builtin_popcountll(w & 0x0101010101010101u);
        }
        for (; k < chunk; k++)
            count += vec[k] & 1;
    }
    return count * page;
#endif
}

const char *uco_backend(void)
{
    bool epoll = strcmp(uco__io_default_name(), "epoll") == 0;

#if UCO_FAST_SWITCH
    return epoll ? "fast/epoll" : "fast/poll";
#else
    return epoll ? "ucontext/epoll" : "ucontext/poll";
#endif
}

static const char *state_name(const struct uco_task *t)
{
    static const char *names[] = { "ready", "running", "waiting", "done" };
    return t->finishing && t->state != UCO_TASK_DONE ? "ending" : names[t->state];
}

static void dump_task(FILE *out, const struct uco_task *t, int64_t now,
                      unsigned char *vec, size_t cap)
{
    char waits[48] = "-", until[32] = "-";

    if (t->state == UCO_TASK_WAITING) {
        if (t->waits_on && t->waits_on[0] == 'f') /* "fd ..." */
            snprintf(waits, sizeof waits, "%s %d", t->waits_on, t->wait_fd);
        else
            snprintf(waits, sizeof waits, "%s", t->waits_on ? t->waits_on : "?");
        if (t->heap_idx != UCO_NO_HEAP)
            snprintf(until, sizeof until, "%+.3f s",
                     (double)(t->deadline - now) / 1e9);
        else
            snprintf(until, sizeof until, "never");
    }
    fprintf(out, "%6llu  %-16s %-8s %-20s %-11s %8zu %8zu  %s%s%s%s%s\n",
            (unsigned long long)t->id, uco_task_name(t), state_name(t), waits,
            until, t->stack.size / 1024, resident(&t->stack, vec, cap) / 1024,
            t->cancelled ? "cancelled " : "", t->shielded ? "shielded " : "",
            (t->flags & UCO_SANDBOX) ? "sandbox " : "",
            t->detached ? "detached " : "", t->frame ? "in-frame" : "");
}

int uco_dump(FILE *out)
{
    struct uco_sched *s = uco__cur;
    struct uco_list *n;
    int64_t now = uco_now();
    int count = 0;
    unsigned char small[256], *vec;
    size_t cap = MINCORE_PAGES;

    if (!out)
        return -EINVAL;
    if (!s)
        return -EPERM;
    vec = malloc(cap);
    if (!vec) { /* slower, not wrong */
        vec = small;
        cap = sizeof small;
    }
    fprintf(out, "%6s  %-16s %-8s %-20s %-11s %8s %8s  %s\n", "id", "name",
            "state", "waits on", "until", "stack K", "used K", "flags");
    for (n = s->tasks.next; n != &s->tasks; n = n->next, count++)
        dump_task(out, uco__container(n, struct uco_task, all), now, vec, cap);
    fprintf(out, "%d task(s), %zu sleeping, %zu waiting on fds\n", count,
            s->sleepq.n, s->io_waiters);
    if (vec != small)
        free(vec);
    return count;
}

static void watchdog_check(struct uco_sched *s, struct uco_task *t, int64_t now);

int uco_watchdog(int64_t limit)
{
    struct uco_sched *s = uco__cur;

    if (!s)
        return -EPERM;
    if (limit < 0)
        return -EINVAL;
    s->watchdog = limit;
    s->watch = limit ? watchdog_check : NULL;
    if (s->current)
        s->current->run_start = uco_now();
    return 0;
}

/* ns as milliseconds with three decimals */
static size_t put_ms(char *b, size_t n, size_t cap, int64_t ns)
{
    uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
    char frac[5] = { '.', (char)('0' + us % 1000 / 100),
                     (char)('0' + us % 100 / 10), (char)('0' + us % 10), 0 };

    n = uco__put_num(b, n, cap, us / 1000, 10);
    return uco__put_str(b, n, cap, frac);
}

/* s->watch while the watchdog is on: report t if it ran longer than
 * s->watchdog.  Runs in the middle of a switch, on the stack of the task
 * that yields: no stdio (whose stack use would reach past what a
 * suspension point reserves, and whose lock an overflow would leave
 * held), one write.  No switch. */
static void watchdog_check(struct uco_sched *s, struct uco_task *t, int64_t now)
{
    int64_t ran = now - t->run_start;
    char b[384]; /* a name shows UCO_NAME_SHOWN bytes at most */
    size_t n = 0;

    if (ran <= s->watchdog)
        return;
    n = uco__put_str(b, n, sizeof b, "ucoro: watchdog: task ");
    n = uco__put_task(b, n, sizeof b, t);
    n = uco__put_str(b, n, sizeof b, " ran ");
    n = put_ms(b, n, sizeof b, ran);
    n = uco__put_str(b, n, sizeof b, " ms without yielding (limit ");
    n = put_ms(b, n, sizeof b, s->watchdog);
    n = uco__put_str(b, n, sizeof b, " ms)\n");
    if (write(2, b, n) < 0) {
        /* stderr is gone: nothing to report to */
    }
}
