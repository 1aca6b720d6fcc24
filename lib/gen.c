/*
 * gen.c - generators: a function whose locals persist between calls.
 *
 * A generator is a frame (call.c) that suspends itself: uco_gen_next
 * resumes its body until it yields a value or ends; uco_gen_yield switches
 * back to whoever called next.  It needs no scheduler; driven from a task,
 * its body may also call the scheduler's functions, which act for that
 * task (a uco_sleep in the body suspends the driving task, and other
 * tasks run meanwhile).
 */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>

struct uco_gen {
    struct uco_frame f;
    uco_gen_fn *fn;
    void *arg;
    void *value;       /* the last yielded value */
    bool started;      /* next has entered the body */
    bool running;      /* the body is on the CPU (or its task suspended) */
    bool cancel;       /* destroy asked the body to unwind */
    char name[32];     /* attr's name, copied (truncated), for diagnostics */
};

/* The frame's body: run the generator's function. */
static void *gen_body(void *p)
{
    struct uco_gen *g = p;
    g->fn(g, g->arg);
    return NULL;
}

int uco_gen_create(uco_gen **out, uco_gen_fn *fn, void *arg,
                   const uco_attr *attr)
{
    struct uco_gen *g;
    int rc;

    if (!out || !fn ||
        (attr && (attr->flags & ~(unsigned)UCO_SANDBOX)))
        return -EINVAL;
    uco__enter_change();
    g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    rc = uco__frame_start(&g->f, gen_body, g, attr, "generator");
    if (rc < 0) {
        free(g);
        return rc;
    }
    g->f.sandbox = attr && (attr->flags & UCO_SANDBOX);
    snprintf(g->name, sizeof g->name, "%s", g->f.name);
    g->f.name = g->name;
    g->fn = fn;
    g->arg = arg;
    *out = g;
    return 0;
}

int uco_gen_next(uco_gen *g, void **value)
{
    if (value) /* NULL in every case but a yield, errors included */
        *value = NULL;
    if (!g)
        return -EINVAL;
    if (g->running)
        return -EBUSY;
    if (g->f.done)
        return g->f.outcome;
    uco__enter_change();
    g->started = true;
    g->running = true;
    g->value = NULL;
    uco__frame_resume(&g->f);
    g->running = false;
    if (g->f.done)
        return g->f.outcome; /* 0, or UCO_ESTACK */
    if (value)
        *value = g->value;
    return 1;
}

int uco_gen_yield(uco_gen *g, void *value)
{
    if (!g)
        return -EINVAL;
    if (*uco__frame_slot() != &g->f)
        return -EPERM; /* not called from g's own body */
    if (g->f.done)
        return -EPERM; /* from a deferred handler: the body has ended */
    if (g->cancel)
        return -ECANCELED;
    g->value = value;
    uco__ctx_switch(&g->f.ctx, &g->f.back);
    return g->cancel ? -ECANCELED : 0;
}

void uco_gen_destroy(uco_gen *g)
{
    if (!g || g->running)
        return;
    uco__enter_change();
    if (g->started && !g->f.done) {
        /* Let the body unwind: its pending yield returns -ECANCELED, and
         * so does every later one, without suspending. */
        g->cancel = true;
        g->running = true;
        uco__frame_resume(&g->f);
        g->running = false;
    }
    uco__frame_stop(&g->f);
    free(g);
}
