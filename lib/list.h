/*
 * list.h - the intrusive circular doubly linked list every queue of the
 * library is made of.  A node that is on no list points to itself, so
 * removing it twice is harmless.
 */
#ifndef UCO_LIST_H
#define UCO_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct uco_list {
    struct uco_list *next, *prev; /* neighbours; the node itself when unlinked */
};

/* The structure of type that holds member at ptr. */
#define uco__container(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void uco__list_init(struct uco_list *l) { l->next = l->prev = l; }

static inline bool uco__list_empty(const struct uco_list *l)
{
    return l->next == l;
}

/* Append n at the tail of the list headed by head (before head: a node
 * of the list given as head puts n just before that node). */
static inline void uco__list_push(struct uco_list *head, struct uco_list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Unlink n from whatever list it is on (no-op when unlinked). */
static inline void uco__list_remove(struct uco_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* Unlink and return the head's first node, or NULL when empty.  (The
 * empty asm keeps n a plain word read: see doc/performance.md, "a pop
 * read as one word".) */
static inline struct uco_list *uco__list_pop(struct uco_list *head)
{
    struct uco_list *n = head->next;
    __asm__("" : "+r"(n));
    if (n == head)
        return NULL;
    uco__list_remove(n);
    return n;
}

#endif /* UCO_LIST_H */
