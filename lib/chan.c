/*
 * chan.c - channels: typed by element size, unbuffered (rendezvous) or
 * buffered, with deadlines, close, and a choice among several operations.
 *
 * A task blocked on channels parks one waiter record per operation, on its
 * own stack, in the channel's FIFO of senders or receivers; the first
 * counterpart to come completes the operation (copying the element
 * directly between the two tasks' buffers when nothing is buffered),
 * unlinks the task's other records and wakes it.  FIFO queues make the
 * waiting senders and receivers take turns in arrival order.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#define UCO_CHAN_MAGIC 0x75636368u

struct uco_chan {
    uint32_t magic;
    bool closed;
    size_t elem, cap;         /* element size; buffer capacity (0: none) */
    size_t head, len;         /* ring buffer: first element, count */
    char *buf;                /* cap * elem bytes */
    struct uco_list senders;  /* struct waiter.node, FIFO */
    struct uco_list receivers;
    struct uco_sched *sched;
};

/* One operation of a blocked task: its waiter record, and what the
 * counterpart needs to complete it. */
struct waiter {
    struct uco_waiter w;      /* on chan->senders or chan->receivers */
    void *elem;               /* where to read (send) or write (recv) */
    struct waiter *all;       /* the task's records (an array) */
    size_t n, idx;            /* how many; this one's index */
    size_t *fired;            /* set to the completed op's index */
    int *fired_rc;            /* and its result: 0 or -EPIPE */
};

int uco_chan_create(uco_chan **out, size_t elem_size, size_t capacity)
{
    struct uco_chan *c;

    if (!out || elem_size == 0 || elem_size > (1u << 20) ||
        (capacity && elem_size > SIZE_MAX / capacity))
        return -EINVAL;
    uco__enter_change();
    c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (capacity) {
        c->buf = malloc(capacity * elem_size);
        if (!c->buf) {
            free(c);
            return -ENOMEM;
        }
    }
    c->magic = UCO_CHAN_MAGIC;
    c->elem = elem_size;
    c->cap = capacity;
    uco__list_init(&c->senders);
    uco__list_init(&c->receivers);
    *out = c;
    return 0;
}

static bool chan_valid(const struct uco_chan *c)
{
    return c && c->magic == UCO_CHAN_MAGIC;
}

/* A blocked task's unwait: take all its records off the queues. */
static void unlink_records(struct uco_task *t)
{
    struct waiter *w = t->wait_obj;
    size_t i;

    for (i = 0; i < w->n; i++)
        uco__list_remove(&w->all[i].w.node);
}

/* Complete w's operation with rc: tell its task which one fired and wake
 * it (which takes all its records off the queues).  No switch. */
static void fire(struct waiter *w, int rc)
{
    *w->fired = w->idx;
    *w->fired_rc = rc;
    uco__wake(uco__cur, w->w.task, 0);
}

static struct waiter *first(struct uco_list *q)
{
    return uco__list_empty(q) ? NULL
                              : uco__container(q->next, struct waiter, w.node);
}

/* Try to send without blocking: 0 done, -EPIPE closed, -EAGAIN would block. */
static int try_send(struct uco_chan *c, const void *elem)
{
    struct waiter *r;

    if (c->closed)
        return -EPIPE;
    r = first(&c->receivers);
    if (r) { /* a receiver waits: the buffer is empty, hand it over */
        memcpy(r->elem, elem, c->elem);
        fire(r, 0);
        return 0;
    }
    if (c->len < c->cap) {
        memcpy(c->buf + ((c->head + c->len) % c->cap) * c->elem, elem, c->elem);
        c->len++;
        return 0;
    }
    return -EAGAIN;
}

/* Try to receive without blocking: 0 done, -EPIPE closed and drained,
 * -EAGAIN would block. */
static int try_recv(struct uco_chan *c, void *elem)
{
    struct waiter *s = first(&c->senders);

    if (c->len > 0) {
        memcpy(elem, c->buf + c->head * c->elem, c->elem);
        c->head = (c->head + 1) % c->cap;
        c->len--;
        if (s) { /* a sender waited for room: take its element in */
            memcpy(c->buf + ((c->head + c->len) % c->cap) * c->elem, s->elem,
                   c->elem);
            c->len++;
            fire(s, 0);
        }
        return 0;
    }
    if (s) {
        memcpy(elem, s->elem, c->elem);
        fire(s, 0);
        return 0;
    }
    return c->closed ? -EPIPE : -EAGAIN;
}

/* ops[0, n) are operations uco_chan_choose can take. */
static bool ops_valid(const uco_chan_op *ops, size_t n)
{
    size_t i;

    if (!ops || n == 0 || n > 16)
        return false;
    for (i = 0; i < n; i++)
        if (!chan_valid(ops[i].chan) || !ops[i].elem ||
            (ops[i].op != UCO_CHAN_SEND && ops[i].op != UCO_CHAN_RECV))
            return false;
    return true;
}

int uco_chan_choose(uco_chan_op *ops, size_t n, int64_t deadline)
{
    struct uco_task *self;
    struct waiter w[16];
    size_t i, fired = (size_t)-1;
    int rc = uco__enter_wait(&self, ops_valid(ops, n), deadline), fired_rc = 0;

    if (rc < 0)
        return rc;
    for (i = 0; i < n; i++) {
        rc = ops[i].op == UCO_CHAN_SEND ? try_send(ops[i].chan, ops[i].elem)
                                        : try_recv(ops[i].chan, ops[i].elem);
        if (rc != -EAGAIN) {
            ops[i].rc = rc;
            return (int)i;
        }
    }
    for (i = 0; i < n; i++) {
        w[i].w.task = self;
        w[i].elem = ops[i].elem;
        w[i].all = w;
        w[i].n = n;
        w[i].idx = i;
        w[i].fired = &fired;
        w[i].fired_rc = &fired_rc;
        uco__list_push(ops[i].op == UCO_CHAN_SEND ? &ops[i].chan->senders
                                                  : &ops[i].chan->receivers,
                       &w[i].w.node);
    }
    self->unwait = unlink_records;
    self->wait_obj = w;
    rc = uco__wait(self->sched, self, deadline, n == 1 ? (ops[0].op == UCO_CHAN_SEND ? "channel send" : "channel receive") : "channel choose");
    if (fired != (size_t)-1) {
        /* the operation happened: report it even if cancelled meanwhile,
         * or an element would be lost */
        ops[fired].rc = fired_rc;
        return (int)fired;
    }
    return rc < 0 ? rc : -ETIMEDOUT;
}

int uco_chan_send(uco_chan *c, const void *elem, int64_t deadline)
{
    uco_chan_op op = { c, UCO_CHAN_SEND, (void *)elem, 0 };
    int rc = uco_chan_choose(&op, 1, deadline);
    return rc < 0 ? rc : op.rc;
}

int uco_chan_recv(uco_chan *c, void *elem, int64_t deadline)
{
    uco_chan_op op = { c, UCO_CHAN_RECV, elem, 0 };
    int rc = uco_chan_choose(&op, 1, deadline);
    return rc < 0 ? rc : op.rc;
}

int uco_chan_close(uco_chan *c)
{
    struct waiter *w;

    if (!chan_valid(c))
        return -EINVAL;
    if (c->closed)
        return -EPIPE;
    uco__enter_change();
    c->closed = true;
    if (!uco__cur)
        return 0; /* nobody can be waiting outside a scheduler */
    while ((w = first(&c->receivers)))
        fire(w, -EPIPE);
    while ((w = first(&c->senders)))
        fire(w, -EPIPE);
    return 0;
}

int uco_chan_destroy(uco_chan *c)
{
    if (!chan_valid(c))
        return -EINVAL;
    if (!uco__list_empty(&c->senders) || !uco__list_empty(&c->receivers))
        return -EBUSY;
    uco__enter_change();
    c->magic = 0;
    free(c->buf);
    free(c);
    return 0;
}
