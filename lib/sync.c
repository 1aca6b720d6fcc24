/*
 * sync.c - what asyncio users reach for beside channels: an event, a
 * mutex, a condition variable, a semaphore and a wait group.  All waits
 * are FIFO, take a deadline and honour cancellation; what was handed over
 * to a waiter (the mutex, a permit) stays handed over even if the waiter
 * was cancelled before it ran again, and is then reported as success.
 */
#include "core.h"

#include <limits.h>
#include <stdlib.h>

#define EVENT_MAGIC 0x75636576u
#define MUTEX_MAGIC 0x75636d78u
#define COND_MAGIC 0x7563636fu
#define SEM_MAGIC 0x75637365u
#define WG_MAGIC 0x75637767u

struct uco_event {
    uint32_t magic;
    bool set;
    struct uco_list waiters; /* waiter records, FIFO */
};

struct uco_mutex {
    uint32_t magic;
    struct uco_task *owner;  /* NULL: unlocked */
    struct uco_list waiters; /* handed the lock in order */
};

struct uco_cond {
    uint32_t magic;
    struct uco_list waiters;
    unsigned signalled;      /* tasks woken by uco_cond_signal that have
                                not returned from uco_cond_wait yet (a
                                cancelled one passes its signal on) */
};

/* The wake-up reason of a task woken by uco_cond_signal (a broadcast's
 * is 0): uco_cond_wait returns 0 for it. */
enum { COND_SIGNALLED = 1 };

struct uco_sem {
    uint32_t magic;
    unsigned value;
    struct uco_list waiters; /* handed a permit in order */
};

struct uco_waitgroup {
    uint32_t magic;
    long count;
    struct uco_list waiters;
};

/* Wake every waiter of q with reason 0.  No switch. */
static void wake_all(struct uco_list *q)
{
    struct uco_task *t;

    while ((t = uco__waiter_first(q)))
        uco__wake(uco__cur, t, 0);
}

/* Register self on q until woken or the deadline; what names q for
 * introspection.  Switches. */
static int park(struct uco_list *q, struct uco_task *self, int64_t deadline,
                const char *what)
{
    struct uco_waiter w;

    return uco__wait_on(q, &w, self, deadline, what);
}

#define ALLOC(out, type, magic_)                                            \
    do {                                                                    \
        type *o_;                                                           \
        if (!(out))                                                         \
            return -EINVAL;                                                 \
        uco__enter_change();                                          \
        o_ = calloc(1, sizeof *o_);                                         \
        if (!o_)                                                            \
            return -ENOMEM;                                                 \
        o_->magic = (magic_);                                               \
        uco__list_init(&o_->waiters);                                       \
        *(out) = o_;                                                        \
    } while (0)

#define DESTROY(o, magic_, busy)                                            \
    do {                                                                    \
        if (!(o) || (o)->magic != (magic_))                                 \
            return -EINVAL;                                                 \
        if (!uco__list_empty(&(o)->waiters) || (busy))                      \
            return -EBUSY;                                                  \
        uco__enter_change();                                          \
        (o)->magic = 0;                                                     \
        free(o);                                                            \
        return 0;                                                           \
    } while (0)

/* ---- event */

int uco_event_create(uco_event **ev) { ALLOC(ev, uco_event, EVENT_MAGIC); return 0; }
int uco_event_destroy(uco_event *ev) { DESTROY(ev, EVENT_MAGIC, false); }

int uco_event_set(uco_event *ev)
{
    if (!ev || ev->magic != EVENT_MAGIC)
        return -EINVAL;
    uco__enter_change();
    ev->set = true;
    wake_all(&ev->waiters);
    return 0;
}

int uco_event_clear(uco_event *ev)
{
    if (!ev || ev->magic != EVENT_MAGIC)
        return -EINVAL;
    ev->set = false;
    return 0;
}

int uco_event_is_set(const uco_event *ev)
{
    if (!ev || ev->magic != EVENT_MAGIC)
        return -EINVAL;
    return ev->set;
}

int uco_event_wait(uco_event *ev, int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, ev && ev->magic == EVENT_MAGIC, deadline);

    if (rc < 0 || ev->set)
        return rc;
    return park(&ev->waiters, self, deadline, "event");
}

/* ---- mutex */

int uco_mutex_create(uco_mutex **m) { ALLOC(m, uco_mutex, MUTEX_MAGIC); return 0; }
int uco_mutex_destroy(uco_mutex *m) { DESTROY(m, MUTEX_MAGIC, m->owner != NULL); }

/* Take m, waiting until the deadline; a handed-over lock is kept. */
static int mutex_take(uco_mutex *m, struct uco_task *self, int64_t deadline)
{
    int rc;

    if (!m->owner) {
        m->owner = self;
        return 0;
    }
    rc = park(&m->waiters, self, deadline, "mutex");
    /* woken with reason 0 only by an unlock handing the mutex over; m is
     * not read again (after a timeout it may be gone) */
    return self->wake == 0 ? 0 : rc;
}

int uco_mutex_lock(uco_mutex *m, int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, m && m->magic == MUTEX_MAGIC, deadline);

    if (rc < 0)
        return rc;
    if (m->owner == self)
        return -EDEADLK;
    return mutex_take(m, self, deadline);
}

int uco_mutex_unlock(uco_mutex *m)
{
    struct uco_task *self;
    int rc = uco__enter_task(&self, m && m->magic == MUTEX_MAGIC);

    if (rc < 0)
        return rc;
    if (m->owner != self)
        return -EPERM;
    m->owner = uco__waiter_first(&m->waiters); /* handed over in FIFO order */
    if (m->owner)
        uco__wake(self->sched, m->owner, 0);
    return 0;
}

/* ---- condition variable */

int uco_cond_create(uco_cond **c) { ALLOC(c, uco_cond, COND_MAGIC); return 0; }
int uco_cond_destroy(uco_cond *c)
{
    DESTROY(c, COND_MAGIC, c->signalled != 0);
}

int uco_cond_wait(uco_cond *c, uco_mutex *m, int64_t deadline)
{
    struct uco_task *self = uco__self();
    bool was;
    int rc = uco__enter_wait(&self, c && c->magic == COND_MAGIC && m &&
                                        m->magic == MUTEX_MAGIC, deadline);

    if (rc == -EPERM || rc == -EINVAL)
        return rc;
    if (m->owner != self)
        return -EPERM;
    if (rc == 0) {
        uco_mutex_unlock(m);
        self->wake = 0;
        rc = park(&c->waiters, self, deadline, "condition");
        if (self->wake == COND_SIGNALLED) {
            c->signalled--;
            if (rc == -ECANCELED)
                uco_cond_signal(c); /* cancelled before it ran: the signal
                                       goes on to the next waiter instead
                                       of being lost */
            else
                rc = 0;
        }
        /* however the wait ended, the mutex is taken back first, shielded
         * so that a cancelled task still gets it */
        was = self->shielded;
        self->shielded = true;
        while (mutex_take(m, self, UCO_NEVER) != 0)
            ;
        self->shielded = was;
    }
    return rc;
}

int uco_cond_signal(uco_cond *c)
{
    if (!c || c->magic != COND_MAGIC)
        return -EINVAL;
    uco__enter_change();
    if (!uco__list_empty(&c->waiters)) {
        uco__wake(uco__cur, uco__waiter_first(&c->waiters), COND_SIGNALLED);
        c->signalled++;
    }
    return 0;
}

int uco_cond_broadcast(uco_cond *c)
{
    if (!c || c->magic != COND_MAGIC)
        return -EINVAL;
    uco__enter_change();
    wake_all(&c->waiters);
    return 0;
}

/* ---- semaphore */

int uco_sem_create(uco_sem **s, unsigned value)
{
    ALLOC(s, uco_sem, SEM_MAGIC);
    (*s)->value = value;
    return 0;
}

int uco_sem_destroy(uco_sem *s) { DESTROY(s, SEM_MAGIC, false); }

int uco_sem_acquire(uco_sem *s, int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, s && s->magic == SEM_MAGIC, deadline);

    if (rc < 0)
        return rc;
    if (s->value > 0 && uco__list_empty(&s->waiters)) {
        s->value--;
        return 0;
    }
    rc = park(&s->waiters, self, deadline, "semaphore");
    /* woken with reason 0 only by a release handing over its permit */
    return self->wake == 0 ? 0 : rc;
}

int uco_sem_release(uco_sem *s)
{
    if (!s || s->magic != SEM_MAGIC)
        return -EINVAL;
    uco__enter_change();
    if (!uco__list_empty(&s->waiters))
        uco__wake(uco__cur, uco__waiter_first(&s->waiters), 0); /* the permit */
    else if (s->value == UINT_MAX)
        return -EOVERFLOW;
    else
        s->value++;
    return 0;
}

int uco_sem_value(const uco_sem *s)
{
    if (!s || s->magic != SEM_MAGIC)
        return -EINVAL;
    return s->value > INT32_MAX ? INT32_MAX : (int)s->value;
}

/* ---- wait group */

int uco_waitgroup_create(uco_waitgroup **wg) { ALLOC(wg, uco_waitgroup, WG_MAGIC); return 0; }
int uco_waitgroup_destroy(uco_waitgroup *wg) { DESTROY(wg, WG_MAGIC, false); }

int uco_waitgroup_add(uco_waitgroup *wg, int delta)
{
    if (!wg || wg->magic != WG_MAGIC)
        return -EINVAL;
    if (wg->count + delta < 0)
        return -EINVAL;
    uco__enter_change();
    wg->count += delta;
    if (wg->count == 0)
        wake_all(&wg->waiters);
    return 0;
}

int uco_waitgroup_done(uco_waitgroup *wg)
{
    return uco_waitgroup_add(wg, -1);
}

int uco_waitgroup_wait(uco_waitgroup *wg, int64_t deadline)
{
    struct uco_task *self;
    int rc = uco__enter_wait(&self, wg && wg->magic == WG_MAGIC, deadline);

    if (rc < 0 || wg->count == 0)
        return rc;
    return park(&wg->waiters, self, deadline, "wait group");
}
