/*
 * guardjump - how large a stack frame jumps a one-page guard?
 *
 * A sandboxed task with a one-page guard descends in small frames until
 * less than DESCEND_LEFT bytes of its stack are left, then calls a
 * function with a local array of N bytes (an alloca, a VLA, a fixed-size
 * array) and writes the array's lowest byte first.  Without stack probing
 * that write lands N bytes below the stack pointer:
 *  - inside the guard: the fault is recognised, the sandbox ends the task
 *    with UCO_ESTACK ("caught");
 *  - below the guard, on memory that is mapped (here a zeroed region the
 *    task maps right under its guard, as another task's stack often is):
 *    nothing faults, the neighbour is silently overwritten ("WROTE");
 *  - below the guard, on nothing: a fault the library does not recognise
 *    as an overflow, passed on to the default action ("died").
 * The cell says where the array's lowest byte lies relative to the
 * guard; "at a probe" when the fault came while the frame was being
 * allocated, before the body could run (stack-clash probes).
 * Each case runs in a forked child.  Compile once normally and once with
 * -fstack-clash-protection to compare: probes touch every page on the way
 * down, so the first touch always lands in the guard.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <alloca.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ucoro.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define DESCEND_LEFT 256              /* stack left when the jump starts */
#define NEIGHBOUR (256 * 1024)        /* bytes mapped under the guard */

/* The whole array must exist: the compiler has to assume the asm uses it. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

enum kind { K_ALLOCA, K_VLA, K_FIXED, K_N };
static const char *kind_name[K_N] = { "alloca", "VLA", "fixed" };

static const size_t sizes[] = { 2048, 4096, 8192, 16384, 65536 };
#define N_SIZES (sizeof sizes / sizeof sizes[0])

/* What a child leaves for the parent (MAP_SHARED). */
struct outcome {
    int rc;               /* the sandboxed task's join */
    int neighbour;        /* 1: mapped under the guard, -1: place taken */
    int wrote;            /* the neighbour was written to */
    uintptr_t guard_lo;   /* lowest byte of the guard */
    uintptr_t target;     /* address of the array's lowest byte */
    size_t left;          /* stack left when the jump started */
};

static struct outcome *out;
static int with_neighbour;

/* Where the array starts, stored before the write that may fault (a
 * volatile store: the compiler may not sink it past the write). */
#define SET_TARGET(a) (*(volatile uintptr_t *)&out->target = (uintptr_t)(a))
static volatile int never = -1;

/* ---- the jumping functions: record where the array is, write its
 * lowest byte first */

__attribute__((noinline)) static int jump_alloca(size_t n)
{
    volatile char *p = alloca(n);
    SET_TARGET(p);
    p[0] = 1;
    KEEP(p);
    return p[0];
}

__attribute__((noinline)) static int jump_vla(size_t n)
{
    volatile char arr[n];
    SET_TARGET(&arr[0]);
    arr[0] = 1;
    KEEP(arr);
    return arr[0];
}

#define FIXED(N)                                                   \
    __attribute__((noinline)) static int jump_fixed_##N(void)      \
    {                                                              \
        volatile char arr[N];                                      \
        SET_TARGET(&arr[0]);                                       \
        arr[0] = 1;                                                \
        KEEP(arr);                                                 \
        return arr[0];                                             \
    }
FIXED(2048)
FIXED(4096)
FIXED(8192)
FIXED(16384)
FIXED(65536)

static int jump(enum kind k, size_t n)
{
    if (k == K_ALLOCA)
        return jump_alloca(n);
    if (k == K_VLA)
        return jump_vla(n);
    switch (n) {
    case 2048: return jump_fixed_2048();
    case 4096: return jump_fixed_4096();
    case 8192: return jump_fixed_8192();
    case 16384: return jump_fixed_16384();
    default: return jump_fixed_65536();
    }
}

/* Small frames down to DESCEND_LEFT bytes above the guard, then jump. */
__attribute__((noinline)) static int descend(enum kind k, size_t n)
{
    volatile char pad[32];
    size_t left = uco_stack_remaining();
    pad[0] = 0;
    KEEP(pad);
    if (left > DESCEND_LEFT && pad[0] != never) {
        pad[1] = (char)descend(k, n);
        return pad[1];
    }
    out->left = left;
    return jump(k, n);
}

struct job {
    enum kind k;
    size_t n;
};

static void *jumper(void *arg)
{
    struct job *j = arg;
    volatile char here = 0;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t low = ((uintptr_t)&here - uco_stack_remaining()) &
                    ~(uintptr_t)(page - 1);

    out->guard_lo = low - page;
    if (with_neighbour) {
        void *want = (void *)(out->guard_lo - NEIGHBOUR);
        void *m = mmap(want, NEIGHBOUR, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                       -1, 0);
        if (m == want)
            out->neighbour = 1;
        else {
            if (m != MAP_FAILED)
                munmap(m, NEIGHBOUR);
            out->neighbour = -1;
        }
    }
    return (void *)(intptr_t)(descend(j->k, j->n) + here);
}

static void *child_main(void *arg)
{
    uco_attr a = { .stack_size = 128 * 1024, .guard_size = 0 /* a page */,
                   .flags = UCO_SANDBOX };
    uco_task *t;
    out->rc = uco_spawn(&t, jumper, arg, &a);
    if (out->rc == 0)
        out->rc = uco_join(t, NULL, UCO_NEVER);
    if (out->neighbour == 1) {
        const char *p = (const char *)(out->guard_lo - NEIGHBOUR);
        size_t i;
        for (i = 0; i < NEIGHBOUR && !out->wrote; i++)
            out->wrote = p[i] != 0;
    }
    return NULL;
}

/* One case in a child: its wait status, *o filled. */
static int run_case(enum kind k, size_t n, struct outcome *o)
{
    struct job j = { k, n };
    int status = 0;
    pid_t pid;

    memset(o, 0, sizeof *o);
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        alarm(10);
        out = o;
        uco_run(child_main, &j, NULL);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    return status;
}

/* "guard+1.8K" or "12.1K below" */
static void where(char *buf, size_t cap, const struct outcome *o)
{
    if (!o->target) /* faulted while the frame was being made */
        snprintf(buf, cap, "at a probe");
    else if (o->target >= o->guard_lo)
        snprintf(buf, cap, "guard+%.1fK",
                 (double)(o->target - o->guard_lo) / 1024);
    else
        snprintf(buf, cap, "%.1fK below",
                 (double)(o->guard_lo - o->target) / 1024);
}

static void cell(char *buf, size_t cap, int status, const struct outcome *o)
{
    char w[32];
    where(w, sizeof w, o);
    if (status < 0)
        snprintf(buf, cap, "fork failed");
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "died %s (%s)",
                 WTERMSIG(status) == SIGSEGV ? "SIGSEGV"
                 : WTERMSIG(status) == SIGBUS ? "SIGBUS" : "signal", w);
    else if (o->rc == UCO_ESTACK)
        snprintf(buf, cap, "caught (%s)", w);
    else if (o->rc == 0 && o->wrote)
        snprintf(buf, cap, "WROTE (%s)", w);
    else if (o->rc == 0)
        snprintf(buf, cap, "no fault (%s)", w);
    else
        snprintf(buf, cap, "error %d", o->rc);
}

static void table(const char *title)
{
    struct outcome *o = mmap(NULL, sizeof *o, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    size_t i, left = 0;
    int k, taken = 0;

    if (o == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    printf("\n%s\n", title);
    printf("%-8s", "N");
    for (k = 0; k < K_N; k++)
        printf(" | %-26s", kind_name[k]);
    printf("\n");
    for (i = 0; i < N_SIZES; i++) {
        printf("%-8zu", sizes[i]);
        for (k = 0; k < K_N; k++) {
            char c[64];
            int st = run_case((enum kind)k, sizes[i], o);
            cell(c, sizeof c, st, o);
            printf(" | %-26s", c);
            if (o->left > left)
                left = o->left;
            taken |= o->neighbour < 0;
        }
        printf("\n");
    }
    printf("(jumps started with at most %zu bytes of stack left%s)\n", left,
           taken ? "; the place under a guard was taken at least once" : "");
    munmap(o, sizeof *o);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        puts("usage: guardjump\n"
             "Which frames jump a one-page guard: see the comment at the "
             "top of bench/guardjump.c.");
        return 0;
    }
    printf("guardjump: a frame of N bytes, lowest byte written first, "
           "from %d bytes above a one-page guard (%ld bytes)\n",
           DESCEND_LEFT, sysconf(_SC_PAGESIZE));
#if defined(__GNUC__) && !defined(__clang__)
    printf("compiler: gcc %d.%d\n", __GNUC__, __GNUC_MINOR__);
#elif defined(__clang__)
    printf("compiler: clang %d.%d\n", __clang_major__, __clang_minor__);
#endif
    with_neighbour = 1;
    table("memory mapped right under the guard (as a neighbouring stack):");
    with_neighbour = 0;
    table("nothing mapped under the guard:");
    return 0;
}
