/*
 * stack.c - guarded stacks and this thread's pool of them.
 *
 * One anonymous mapping per stack, MAP_NORESERVE | MAP_STACK: only the
 * pages a task touches cost memory.  The guard region at its low end is
 * made with madvise(MADV_GUARD_INSTALL) where the kernel has it (Linux
 * 6.13+: no extra mapping, so a million guarded stacks fit under
 * vm.max_map_count) and with mprotect(PROT_NONE) elsewhere (the mapping
 * splits in two: about 32,000 stacks at the default limit of 65,530).  One
 * probe at the first stack decides; UCO_GUARD=mprotect forces the second.
 *
 * Finished stacks go to a per-thread pool; past POOL_MAX they are
 * unmapped.  The first POOL_HOT keep their pages (a respawn touches no new
 * page); the rest give their pages back with MADV_DONTNEED, but only when
 * the scheduler goes idle (uco__stack_pool_cool): done as each stack came
 * back, a program that once had more than POOL_HOT tasks paid a madvise
 * and its page faults for every spawn after (doc/performance.md).
 */
#include "stack.h"

#include <pthread.h>
#ifdef HAVE_PTHREAD_NP_H
#include <pthread_np.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef UCO_VALGRIND
#include <valgrind/valgrind.h>
#define STACK_REGISTER(st)                                                  \
    ((st)->vg_id = VALGRIND_STACK_REGISTER((st)->map + (st)->guard,         \
                                           (st)->map + (st)->len))
#define STACK_DEREGISTER(st) VALGRIND_STACK_DEREGISTER((st)->vg_id)
#else
#define STACK_REGISTER(st) ((void)(st))
#define STACK_DEREGISTER(st) ((void)(st))
#endif

/* What the system's headers may lack (doc/porting.md).  MADV_GUARD_INSTALL
 * is Linux's (6.13; older headers lack it, older kernels say EINVAL and
 * the guard is made with mprotect); elsewhere there is no such advice.
 * MAP_NORESERVE and MAP_STACK are hints: without them, a mapping as
 * any other. */
#if !defined(MADV_GUARD_INSTALL) && defined(__linux__)
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif

/*
 * Default usable stack: 256 KiB on 64-bit targets.  printf and friends use
 * a few KiB, getaddrinfo and iconv tens of KiB; 256 KiB leaves room for
 * that plus modest recursion, and costs nothing until touched (an idle
 * task uses one or two pages).  A million of them reserve 256 GiB of
 * address space, a small part of 128 TiB.  On 32-bit targets the whole
 * space is 4 GiB, so the default is 64 KiB (about 40,000 stacks fit).
 */
#define DEFAULT_STACK_64 ((size_t)256 * 1024)
#define DEFAULT_STACK_32 ((size_t)64 * 1024)
/* Smallest usable stack: the trampoline, a signal frame and a printf. */
#define MIN_STACK ((size_t)16 * 1024)
/* Sizes beyond this are refused as nonsense rather than tried. */
#define MAX_STACK (sizeof(void *) == 8 ? ((size_t)1 << 40) : ((size_t)1 << 30))
/* A guard protects against one frame (or a run of unprobed ones) stepping
 * over it; code built with stack-clash protection never steps over more
 * than a page.  Beyond 1 MiB a guard protects nothing more, and costs:
 * MADV_GUARD_INSTALL builds page tables for it (8 bytes a page: 2 KiB for
 * 1 MiB, but 2 GiB and 15 s inside one call for 1 TiB), kept while the
 * stack is pooled. */
#define MAX_GUARD ((size_t)1 << 20)

#define POOL_HOT 16
#define POOL_MAX 256

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT };
static int guard_mode = GUARD_UNKNOWN; /* process-wide; same result per probe */

static UCO_TLS struct uco_stack pool[POOL_MAX]; /* [0, pool_n): mapped,
                                                   unused; the first
                                                   POOL_HOT keep their pages */
static UCO_TLS size_t pool_n;
static UCO_TLS uintptr_t thread_lo; /* the thread's own stack's low end, or 0
                                       until asked */

size_t uco__page_size(void)
{
    /* threads may fill it in at once (the same value): relaxed atomics,
     * as for guard_mode */
    static size_t page;
    size_t p = __atomic_load_n(&page, __ATOMIC_RELAXED);
    if (!p) {
        p = (size_t)sysconf(_SC_PAGESIZE);
        __atomic_store_n(&page, p, __ATOMIC_RELAXED);
    }
    return p;
}

/* These frames lie below the caller's: their lowest byte is as deep as
 * the caller's callees go.  Not on AddressSanitizer's fake stack. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define UCO_NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#ifndef UCO_NO_ASAN
#define UCO_NO_ASAN
#endif

/* Touch p[n - 1] down to p[0], one byte in every 4 KiB (a page at
 * least): the first touch is next to the caller's frame, and no step can
 * jump over a guard. */
static inline __attribute__((always_inline)) void touch_down(volatile char *p,
                                                             size_t n)
{
    size_t off;

    for (off = 0; off < n; off += 4096)
        p[n - 1 - off] = 0;
    p[0] = 0;
    __asm__ volatile("" : : "r"(p) : "memory");
}

UCO_NO_ASAN __attribute__((noinline)) void uco__stack_reserve(size_t n)
{
    volatile char *room = __builtin_alloca(n);
    touch_down(room, n);
}

size_t uco__stack_default_size(void)
{
    return sizeof(void *) >= 8 ? DEFAULT_STACK_64 : DEFAULT_STACK_32;
}

static size_t round_page(size_t n)
{
    size_t p = uco__page_size();
    return (n + p - 1) & ~(p - 1);
}

int uco__stack_sizes(const uco_attr *attr, size_t *size, size_t *guard)
{
    size_t s = attr ? attr->stack_size : 0;
    size_t g = attr ? attr->guard_size : 0;

    if (s > MAX_STACK || g > MAX_GUARD)
        return -EINVAL;
    s = s ? round_page(s) : uco__stack_default_size();
    if (s < MIN_STACK)
        s = MIN_STACK;
    *size = s;
    *guard = g ? round_page(g) : uco__page_size();
    return 0;
}

bool uco__stack_guard_is_mprotect(void)
{
    return __atomic_load_n(&guard_mode, __ATOMIC_RELAXED) == GUARD_MPROTECT;
}

/* Decide once whether the environment forces mprotect guards. */
static int guard_mode_get(void)
{
    int m = __atomic_load_n(&guard_mode, __ATOMIC_RELAXED);
    if (m == GUARD_UNKNOWN) {
        const char *e = getenv("UCO_GUARD");
        if (e && strcmp(e, "mprotect") == 0) {
            m = GUARD_MPROTECT;
            __atomic_store_n(&guard_mode, m, __ATOMIC_RELAXED);
        }
    }
    return m;
}

/* Does the guard at map fault?  The kernel answers EFAULT, instead of a
 * signal, when a system call reads it.  An emulator that accepts the
 * advice without acting on it (qemu-user does) lets the read through. */
static bool guard_works(const char *map)
{
    int p[2];
    bool works;

    if (pipe(p) != 0)
        return true; /* cannot tell: trust the kernel's answer */
    works = write(p[1], map, 1) < 0 && errno == EFAULT;
    close(p[0]);
    close(p[1]);
    return works;
}

/* Install the guard of a fresh mapping: 0 or a negative errno.  The first
 * one decides the way for the process. */
static int guard_install(char *map, size_t guard)
{
    int m = guard_mode_get();

#ifdef MADV_GUARD_INSTALL
    if (m != GUARD_MPROTECT) {
        if (madvise(map, guard, MADV_GUARD_INSTALL) == 0) {
            if (m == GUARD_MADVISE)
                return 0;
            if (guard_works(map)) {
                __atomic_store_n(&guard_mode, GUARD_MADVISE, __ATOMIC_RELAXED);
                return 0;
            }
        } else if (m == GUARD_MADVISE || (errno != EINVAL && errno != ENOSYS)) {
            return -errno;
        }
        __atomic_store_n(&guard_mode, GUARD_MPROTECT, __ATOMIC_RELAXED);
    }
#else
    (void)guard_works;
    if (m != GUARD_MPROTECT)
        __atomic_store_n(&guard_mode, GUARD_MPROTECT, __ATOMIC_RELAXED);
#endif
    return mprotect(map, guard, PROT_NONE) == 0 ? 0 : -errno;
}

/* Has the process run out of mappings (vm.max_map_count)?  Only asked
 * after a failure, so reading /proc is affordable. */
static bool out_of_mappings(void)
{
    long max = 0, n = 0;
    int c;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (!f)
        return false;
    if (fscanf(f, "%ld", &max) != 1)
        max = 0;
    fclose(f);
    f = fopen("/proc/self/maps", "r");
    if (!f)
        return false;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    /* near the ceiling is enough: an emulator's own mappings do not show
     * in the maps it lets the program see */
    return max > 0 && n >= max - max / 20;
}

static int map_error(int err)
{
    if (err == -ENOMEM && out_of_mappings())
        return -EAGAIN;
    return err == -EAGAIN ? -EAGAIN : -ENOMEM;
}

/* Map len bytes with a guard of guard bytes at the low end: 0 and the
 * mapping in *map, or a negative errno. */
static int map_stack(size_t len, size_t guard, char **map)
{
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    int rc;

    if (m == MAP_FAILED)
        return errno ? -errno : -ENOMEM;
    rc = guard_install(m, guard);
    if (rc < 0) {
        munmap(m, len);
        return rc;
    }
    *map = m;
    return 0;
}

int uco__stack_get(struct uco_stack *st, size_t size, size_t guard)
{
    size_t i, len = size + guard;
    char *map = NULL;
    int rc;

    for (i = pool_n; i-- > 0;) {
        if (pool[i].size == size && pool[i].guard == guard) {
            *st = pool[i];
            pool[i] = pool[--pool_n];
            return 0;
        }
    }
    rc = map_stack(len, guard, &map);
    if (rc < 0 && pool_n > 0) {
        /* pooled stacks of other sizes hold address space and mappings:
         * give them back and try again */
        uco__stack_pool_drain();
        rc = map_stack(len, guard, &map);
    }
    if (rc < 0)
        return map_error(rc);
    st->map = map;
    st->len = len;
    st->guard = guard;
    st->size = size;
    STACK_REGISTER(st);
    return 0;
}

void uco__stack_put(struct uco_stack *st)
{
    if (!st->map)
        return;
    if (pool_n >= POOL_MAX) {
        STACK_DEREGISTER(st);
        munmap(st->map, st->len);
    } else {
        st->cold = false;
        pool[pool_n++] = *st;
    }
    st->map = NULL;
}

void uco__stack_pool_cool(void)
{
    size_t i;

    for (i = POOL_HOT; i < pool_n; i++)
        if (!pool[i].cold) {
            madvise(pool[i].map + pool[i].guard, pool[i].size, MADV_DONTNEED);
            pool[i].cold = true;
        }
}

void uco__stack_pool_drain(void)
{
    while (pool_n > 0) {
        struct uco_stack *st = &pool[--pool_n];
        STACK_DEREGISTER(st);
        munmap(st->map, st->len);
    }
}

/* pthread_getattr_np (glibc, musl), pthread_attr_get_np (FreeBSD),
 * pthread_get_stackaddr_np (macOS): whichever configure found. */
int uco__stack_thread_bounds(uintptr_t *lo, size_t *size)
{
#if defined(HAVE_PTHREAD_GETATTR_NP) || defined(HAVE_PTHREAD_ATTR_GET_NP)
    pthread_attr_t a;
    void *addr;
    int rc;

#ifdef HAVE_PTHREAD_GETATTR_NP
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return -ENOSYS;
#else
    if (pthread_attr_init(&a) != 0)
        return -ENOSYS;
    if (pthread_attr_get_np(pthread_self(), &a) != 0) {
        pthread_attr_destroy(&a);
        return -ENOSYS;
    }
#endif
    rc = pthread_attr_getstack(&a, &addr, size) == 0 ? 0 : -ENOSYS;
    pthread_attr_destroy(&a);
    if (rc == 0)
        *lo = (uintptr_t)addr;
    return rc;
#elif defined(HAVE_PTHREAD_GET_STACKADDR_NP)
    /* the high end, and the size */
    uintptr_t hi = (uintptr_t)pthread_get_stackaddr_np(pthread_self());

    *size = pthread_get_stacksize_np(pthread_self());
    *lo = hi - *size;
    return 0;
#else
    (void)lo;
    (void)size;
    return -ENOSYS;
#endif
}

uintptr_t uco__stack_thread_low(void)
{
    size_t size;

    if (!thread_lo && uco__stack_thread_bounds(&thread_lo, &size) != 0)
        thread_lo = 0;
    return thread_lo;
}
