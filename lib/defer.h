/*
 * defer.h - a coroutine's deferred handlers: a stack of (fn, arg) that
 * runs in reverse order at the coroutine's end (defer.c).
 */
#ifndef UCO_DEFER_H
#define UCO_DEFER_H

#include "util.h"

struct uco_defer_fn {
    void (*fn)(void *arg);
    void *arg;
};

#define UCO_DEFER_INLINE 4

struct uco_defers {
    struct uco_defer_fn *v; /* inl, or malloc'd once more were pushed */
    unsigned n, cap;        /* v[0, n) pushed, in order; v holds cap */
    struct uco_defer_fn inl[UCO_DEFER_INLINE];
};

void uco__defers_init(struct uco_defers *d);
/* Push fn(arg): 0 or -ENOMEM.  No switch. */
int uco__defers_push(struct uco_defers *d, void (*fn)(void *), void *arg);
/* Pop the last one into *h: 0, or -ENOENT when there is none. */
int uco__defers_pop(struct uco_defers *d, struct uco_defer_fn *h);
/* True when nothing was pushed and nothing was allocated. */
static inline bool uco__defers_idle(const struct uco_defers *d)
{
    return d->n == 0 && d->v == d->inl;
}
/* Pop and run the handlers in reverse order, each exactly once (a
 * handler may push more; they run too), then free the storage.  May
 * switch (a handler may block). */
void uco__defers_run(struct uco_defers *d);

#endif /* UCO_DEFER_H */
