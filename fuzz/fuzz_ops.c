/*
 * fuzz_ops - a libFuzzer harness: the input is a program of operations on
 * tasks, run in a fresh scheduler, and the library's invariants are
 * checked after it:
 *   - every task that started ended exactly once; tasks cancelled before
 *     they ran never started;
 *   - every deferred handler pushed ran exactly once (popped ones count
 *     as run when popped with run);
 *   - every joined outcome is one the contract allows;
 *   - uco_run returns 0 or the main task's cancellation.
 * Each byte is an operation for whichever task reads it next (tasks share
 * the input, so the interleaving is part of what is fuzzed); sleeps and
 * deadlines are a few microseconds so that a run takes milliseconds.
 *
 * Build and run: make fuzz (clang, -fsanitize=fuzzer,address), then
 *   fuzz/fuzz_ops -max_total_time=60 fuzz/corpus
 */
#include <ucoro.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8

struct prog {
    const uint8_t *data;
    size_t size, pos;
    uco_task *slot[SLOTS];  /* joinable tasks */
    uco_chan *chan;
    uco_group *group;
    long started, ended, pushed, ran, spawned;
};

static struct prog *P;

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_ops: invariant failed: %s (line %d)\n",    \
                    #c, __LINE__);                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

static int next_byte(void)
{
    if (P->pos >= P->size)
        return -1;
    return P->data[P->pos++];
}

static void handler(void *arg)
{
    (void)arg;
    P->ran++;
}

static volatile int depth_limit = -1;

static int __attribute__((noinline)) recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    __asm__ volatile("" ::: "memory");
    if (n == depth_limit)
        return 0;
    return recurse(n + 1) + pad[0];
}

static void gen_body(uco_gen *g, void *arg)
{
    long i;
    (void)arg;
    uco_defer(handler, NULL);
    P->pushed++;
    for (i = 0; i < 4; i++)
        if (uco_gen_yield(g, (void *)i) < 0)
            return;
}

static void check_outcome(int rc)
{
    CHECK(rc == 0 || rc == -ECANCELED || rc == UCO_ESTACK ||
          rc == -ETIMEDOUT || rc == -EINVAL || rc == -EBUSY ||
          rc == -EDEADLK);
}

static void *worker(void *arg);

/* Join the task in slot i; empty the slot when the handle was released. */
static void join_slot(int i, int64_t deadline)
{
    uco_task *t = P->slot[i];
    void *v;
    int rc;

    if (!t || t == uco_self())
        return;
    rc = uco_join(t, &v, deadline);
    check_outcome(rc);
    if (rc == 0 || rc == UCO_ESTACK ||
        (rc == -ECANCELED && uco_task_state(t) == -EINVAL)) {
        if (P->slot[i] == t)
            P->slot[i] = NULL;
    }
}

/* Run operations until the input ends or the task decides to stop;
 * mine: handlers this task pushed that it may pop. */
static void run_ops(bool sandbox, int mine)
{
    int op, b, rc;
    uco_attr a;
    void *v;

    while ((op = next_byte()) >= 0) {
        b = next_byte();
        if (b < 0)
            b = 0;
        switch (op % 16) {
        case 0: /* spawn into a slot */
            memset(&a, 0, sizeof a);
            a.stack_size = 32 * 1024;
            a.flags = (b & 1) ? UCO_SANDBOX : 0;
            if (!P->slot[b % SLOTS] && P->spawned < 64 &&
                uco_spawn(&P->slot[b % SLOTS], worker, (void *)(intptr_t)(b & 1), &a) == 0)
                P->spawned++;
            break;
        case 1:
            rc = uco_yield();
            CHECK(rc == 0 || rc == -ECANCELED);
            break;
        case 2:
            rc = uco_sleep(UCO_USEC(b % 50));
            CHECK(rc == 0 || rc == -ECANCELED);
            break;
        case 3:
            if (P->slot[b % SLOTS])
                CHECK(uco_cancel(P->slot[b % SLOTS]) == 0);
            break;
        case 4: /* join with a short deadline */
            join_slot(b % SLOTS, uco_now() + UCO_USEC(b % 100));
            break;
        case 5:
            if (uco_defer(handler, NULL) == 0) {
                P->pushed++;
                mine++;
            }
            break;
        case 6:
            if (mine == 0)
                break;
            CHECK(uco_undefer(b & 1) == 0);
            mine--;
            if ((b & 1) == 0)
                P->ran++; /* popped without running: accounted as done */
            break;
        case 7:
            CHECK(uco_shield(b & 1) >= 0);
            break;
        case 8:
            if (sandbox && (b & 7) == 0)
                recurse(0); /* overflows; never returns */
            break;
        case 9: { /* a few generator steps, then destroy */
            uco_gen *g;
            if (uco_gen_create(&g, gen_body, NULL, NULL) == 0) {
                int k;
                for (k = 0; k < b % 6; k++)
                    if (uco_gen_next(g, &v) != 1)
                        break;
                uco_gen_destroy(g);
            }
            break;
        }
        case 10: {
            int x = b;
            rc = uco_chan_send(P->chan, &x, uco_now() + UCO_USEC(b % 40));
            CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED || rc == -EPIPE);
            break;
        }
        case 11: {
            int x;
            rc = uco_chan_recv(P->chan, &x, uco_now() + UCO_USEC(b % 40));
            CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED || rc == -EPIPE);
            break;
        }
        case 12:
            if (P->group && P->spawned < 64) {
                memset(&a, 0, sizeof a);
                a.stack_size = 32 * 1024;
                if (uco_group_spawn(P->group, NULL, worker, NULL, &a) == 0)
                    P->spawned++;
            }
            break;
        case 13:
            if (P->group)
                CHECK(uco_group_cancel(P->group) == 0);
            break;
        case 14:
            if ((b & 3) == 0)
                return; /* the task ends here */
            break;
        case 15:
            if ((b & 15) == 0)
                uco_exit(NULL);
            break;
        }
    }
}

static void *worker(void *arg)
{
    int mine = 0;
    P->started++;
    if (uco_defer(handler, NULL) == 0) {
        P->pushed++;
        mine++;
    }
    run_ops(arg != NULL, mine);
    return NULL;
}

static void count_end(void *arg)
{
    (void)arg;
    P->ended++;
}

static void *counted(void *arg)
{
    uco_defer(count_end, NULL); /* runs however the task ends */
    return worker(arg);
}

/* main's clean-up, deferred: main may end by uco_exit from the input */
static void main_cleanup(void *arg)
{
    int i;
    (void)arg;
    uco_shield(true); /* (handlers run shielded anyway) */
    for (i = 0; i < SLOTS; i++)
        if (P->slot[i]) {
            uco_cancel(P->slot[i]);
            join_slot(i, UCO_NEVER);
        }
    if (P->group) {
        uco_group *g = P->group;
        P->group = NULL; /* no more members from now on */
        uco_group_destroy(g);
    }
    uco_chan_close(P->chan); /* tasks still alive get -EPIPE from now on */
}

static void *fuzz_main(void *arg)
{
    (void)arg;
    if (uco_chan_create(&P->chan, sizeof(int), 2) < 0)
        return NULL;
    uco_group_create(&P->group, UCO_GROUP_FAIL_FAST);
    uco_defer(main_cleanup, NULL);
    run_ops(false, 0);
    (void)counted;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prog p;
    int rc;

    memset(&p, 0, sizeof p);
    p.data = data;
    p.size = size > 4096 ? 4096 : size;
    P = &p;
    rc = uco_run(fuzz_main, NULL, NULL);
    CHECK(rc == 0 || rc == -ECANCELED || rc == -EDEADLK);
    if (p.chan) /* every task has ended: nobody waits on it */
        CHECK(uco_chan_destroy(p.chan) == 0);
    /* every task that started ran its first handler: pushed == ran */
    CHECK(p.pushed == p.ran);
    P = NULL;
    return 0;
}
