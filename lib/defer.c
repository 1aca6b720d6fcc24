/*
 * defer.c - the stack of deferred handlers of a task, a generator or a
 * uco_call body.
 */
#include "defer.h"

#include <stdlib.h>
#include <string.h>

void uco__defers_init(struct uco_defers *d)
{
    d->v = d->inl;
    d->n = 0;
    d->cap = UCO_DEFER_INLINE;
}

int uco__defers_push(struct uco_defers *d, void (*fn)(void *), void *arg)
{
    if (d->n == d->cap) {
        unsigned cap = d->cap * 2;
        struct uco_defer_fn *v;
        if (d->v == d->inl) {
            v = malloc(cap * sizeof *v);
            if (v)
                memcpy(v, d->inl, sizeof d->inl);
        } else {
            v = realloc(d->v, cap * sizeof *v);
        }
        if (!v)
            return -ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n].fn = fn;
    d->v[d->n].arg = arg;
    d->n++;
    return 0;
}

int uco__defers_pop(struct uco_defers *d, struct uco_defer_fn *h)
{
    if (d->n == 0)
        return -ENOENT;
    *h = d->v[--d->n];
    return 0;
}

void uco__defers_run(struct uco_defers *d)
{
    struct uco_defer_fn h;

    while (uco__defers_pop(d, &h) == 0)
        h.fn(h.arg);
    if (d->v != d->inl)
        free(d->v);
    uco__defers_init(d);
}
