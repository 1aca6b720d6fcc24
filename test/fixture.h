/*
 * fixture.h - what the suites of tasks, channels, synchronisation, fds
 * and generators share: a trace and a failure count that tasks fill in
 * (checked after uco_run returns), reset before each test, and helpers
 * that count a failure instead of asserting inside a task.
 * A suite that needs more in its reset defines FIXTURE_OWN_RESET and
 * calls fixture_clear() from its own; one with its own spawn and join
 * defines FIXTURE_OWN_SPAWN.
 */
#ifndef UCO_TEST_FIXTURE_H
#define UCO_TEST_FIXTURE_H

#include "testutil.h"

#define UNUSED __attribute__((unused))

static struct trace tr UNUSED;
static int bad UNUSED;

#define V(n) ((void *)(uintptr_t)(n))
#define N(p) ((uintptr_t)(p))

/* Count a failure when expr is not 0. */
#define OK(expr)                                                             \
    do {                                                                     \
        if ((expr) != 0)                                                     \
            bad++;                                                           \
    } while (0)

static inline void fixture_clear(void)
{
    memset(&tr, 0, sizeof tr);
    bad = 0;
}

#ifndef FIXTURE_OWN_RESET
static UNUSED int reset(void **state)
{
    (void)state;
    fixture_clear();
    return 0;
}
#endif

#ifndef FIXTURE_OWN_SPAWN
/* Spawn, or count the failure. */
static UNUSED uco_task *spawn(uco_fn *fn, void *arg)
{
    uco_task *t = NULL;
    if (uco_spawn(&t, fn, arg, NULL) < 0)
        bad++;
    return t;
}

/* Join, counting a missing task as a failure; the join's result. */
static UNUSED int join(uco_task *t)
{
    if (!t) {
        bad++;
        return -EINVAL;
    }
    return uco_join(t, NULL, UCO_NEVER);
}
#endif

#endif
