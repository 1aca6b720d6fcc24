/*
 * peers.c - the same measurements as bench/ucoro.c, made with what ucoro
 * is compared against.  Each peer is compiled in only when configure found
 * it; "peers list" says which are.
 *
 *   floor yield N     a bare register switch (x86-64 assembly below): the
 *                     callee-saved registers and the stack pointer, nothing
 *                     else; a ring of N contexts
 *   floorj yield N    the same, entering the other context with a jump
 *                     instead of a return
 *   floorfp yield N   the floor that also keeps the floating-point control
 *                     state (MXCSR, x87 control word) per context, as
 *                     ucoro's fast switch does
 *   floorq yield N    floorfp behind the least a scheduler does per yield:
 *                     a call that appends the caller to a run queue (a
 *                     doubly linked list in a thread-local scheduler) and
 *                     takes the head
 *   raw yield N       swapcontext in a ring of N contexts
 *   raw spawn         getcontext + makecontext + swapcontext in and out
 *   boost yield N     Boost.Context's jump_fcontext in a ring of N
 *   boost spawn       make_fcontext + jump in + jump back (stack reused)
 *   pcl yield N       PCL: a loop giving N coroutines a turn each, a turn
 *                     being co_call and the coroutine's co_resume
 *   pcl spawn         co_create + co_call (the function hands control back
 *                     with co_resume) + co_delete
 *   pcl idle N        N coroutines suspended: resident KiB each
 *   st yield N        State Threads: a ring of N threads passing a turn
 *                     with st_cond_signal + st_cond_wait (its cheapest
 *                     switch: no clock, no poll)
 *   st spawn          st_thread_create + st_thread_join
 *   st idle N         N threads suspended: resident KiB each
 *   st cancel N K     N threads in st_usleep; st_thread_interrupt K of
 *                     them: ns until the thread runs again
 *   uv sleep N        N libuv timers at the random 0-1000 ms that
 *                     ucoro's sleepers get, from the same start
 *
 * Every context gets a stack of ucoro's default size (256 KiB); in the
 * rings each has its own mapping with a guard page, as ucoro's tasks do.
 */
#include "bench.h"

#include <errno.h>
#include <stdbool.h>
#include <ucontext.h>

static long n;            /* contexts in the ring */
static double per_switch; /* the result of a ring */

static bool ring_tick(void)
{
    return bench_ring_tick(n, &per_switch);
}

static void **stacks;

static void make_stacks(void)
{
    long i;

    stacks = malloc((size_t)n * sizeof *stacks);
    for (i = 0; i < n; i++) {
        stacks[i] = bench_stack(BENCH_STACK);
        if (!stacks[i]) {
            perror("mmap");
            exit(1);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The floor: a bare register switch                                  */
/* ------------------------------------------------------------------ */

#if defined(__x86_64__)
#define HAVE_FLOOR 1
/* floor_switch(&save_sp, load_sp): push rbp, rbx, r12-r15, store rsp,
 * load the other rsp, pop, return into the other context.  floor_start:
 * the first return into a made context lands here with the function in
 * r13 and its argument in r12.
 *
 * floorj_switch: the same registers, stored with moves, and the other
 * context entered with an indirect jump instead of a return.  The return
 * predictor expects a return to go back where this context was called
 * from: right in these rings, where every context switches from the same
 * place, wrong (one misprediction a switch) where they switch from
 * different places; the jump is predicted from its own history instead.
 *
 * floorfp_switch: floor_switch that also stores MXCSR and the x87 control
 * word below the registers and loads the other context's: the price of
 * keeping fesetround's effect per context. */
void floor_switch(void **save_sp, void *load_sp);
void floorj_switch(void **save_sp, void *load_sp);
void floorfp_switch(void **save_sp, void *load_sp);
void floor_start(void);
#define FLOOR_PUSH                                                          \
    "    pushq %rbp\n    pushq %rbx\n    pushq %r12\n"                      \
    "    pushq %r13\n    pushq %r14\n    pushq %r15\n"
#define FLOOR_POP                                                           \
    "    popq %r15\n    popq %r14\n    popq %r13\n"                         \
    "    popq %r12\n    popq %rbx\n    popq %rbp\n"
__asm__(".text\n"
        ".globl floor_switch\n"
        ".type floor_switch,@function\n"
        "floor_switch:\n"
        FLOOR_PUSH
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        FLOOR_POP
        "    ret\n"
        ".size floor_switch, .-floor_switch\n"
        ".globl floorj_switch\n"
        ".type floorj_switch,@function\n"
        "floorj_switch:\n"
        "    leaq -0x30(%rsp), %rsp\n"
        "    movq %r15, 0x00(%rsp)\n"
        "    movq %r14, 0x08(%rsp)\n"
        "    movq %r13, 0x10(%rsp)\n"
        "    movq %r12, 0x18(%rsp)\n"
        "    movq %rbx, 0x20(%rsp)\n"
        "    movq %rbp, 0x28(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    movq 0x30(%rsp), %rcx\n"
        "    movq 0x00(%rsp), %r15\n"
        "    movq 0x08(%rsp), %r14\n"
        "    movq 0x10(%rsp), %r13\n"
        "    movq 0x18(%rsp), %r12\n"
        "    movq 0x20(%rsp), %rbx\n"
        "    movq 0x28(%rsp), %rbp\n"
        "    leaq 0x38(%rsp), %rsp\n"
        "    jmpq *%rcx\n"
        ".size floorj_switch, .-floorj_switch\n"
        ".globl floorfp_switch\n"
        ".type floorfp_switch,@function\n"
        "floorfp_switch:\n"
        FLOOR_PUSH
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        FLOOR_POP
        "    ret\n"
        ".size floorfp_switch, .-floorfp_switch\n"
        ".globl floor_start\n"
        ".type floor_start,@function\n"
        "floor_start:\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n"
        ".size floor_start, .-floor_start\n");

static void **fsp;
static void *fsp_main;

/* floor_switch and floorj_switch keep the same frame: r15, r14, r13, r12,
 * rbx, rbp, then the address to resume at; floorfp_switch has MXCSR and
 * the x87 control word below it. */
static void *floor_make(void *base, size_t size, void (*fn)(void *), void *arg,
                        bool fp)
{
    uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
    /* after the frame is popped, rsp = top - 16: aligned for the call */
    uintptr_t *f = (uintptr_t *)(top - 16) - (fp ? 8 : 7);
    uintptr_t *r = fp ? f + 1 : f;

    memset(f, 0, (fp ? 8 : 7) * sizeof *f);
    if (fp) {
        uint32_t csr[2] = { 0, 0 };
        __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(csr[0]), "=m"(csr[1]));
        memcpy(f, csr, sizeof csr);
    }
    r[2] = (uintptr_t)fn;          /* r13 */
    r[3] = (uintptr_t)arg;         /* r12 */
    r[6] = (uintptr_t)floor_start; /* return address */
    return f;
}

#define FLOOR_RING(name, sw)                                                \
    static void name(void *arg)                                             \
    {                                                                       \
        long i = (long)(intptr_t)arg, next = (i + 1) % n;                   \
        for (;;) {                                                          \
            sw(&fsp[i], fsp[next]);                                         \
            if (i == 0 && ring_tick())                                      \
                sw(&fsp[0], fsp_main);                                      \
        }                                                                   \
    }
FLOOR_RING(floor_fn, floor_switch)
FLOOR_RING(floorj_fn, floorj_switch)
FLOOR_RING(floorfp_fn, floorfp_switch)

/* how: 0 floor, 1 floorj, 2 floorfp */
static void floor_yield(int how)
{
    void (*const fn[3])(void *) = { floor_fn, floorj_fn, floorfp_fn };
    void (*const sw[3])(void **, void *) = { floor_switch, floorj_switch,
                                             floorfp_switch };
    long i;

    make_stacks();
    fsp = malloc((size_t)n * sizeof *fsp);
    for (i = 0; i < n; i++)
        fsp[i] = floor_make(stacks[i], BENCH_STACK, fn[how],
                            (void *)(intptr_t)i, how == 2);
    sw[how](&fsp_main, fsp[0]);
    printf("R yield.%ld %.3f\n", n, per_switch);
}

/* floorq: the contexts of floorfp, each with a node of a run queue */
struct qtask {
    struct qtask *next, *prev; /* on the queue while it waits for a turn */
    void *sp;
};
struct qsched {
    struct qtask *current;
    struct qtask runq; /* the list's head: runq.next is the first */
};
static __thread struct qsched *qsched;
static struct qtask *qtasks;

/* A yield with nothing else: no cancellation, no timers, no checks. */
static __attribute__((noinline)) void q_yield(void)
{
    struct qsched *s = qsched;
    struct qtask *self = s->current, *next;

    self->prev = s->runq.prev;
    self->next = &s->runq;
    s->runq.prev->next = self;
    s->runq.prev = self;
    next = s->runq.next;
    next->next->prev = &s->runq;
    s->runq.next = next->next;
    s->current = next;
    if (next != self)
        floorfp_switch(&self->sp, next->sp);
}

static void floorq_fn(void *arg)
{
    struct qtask *self = arg;

    for (;;) {
        q_yield();
        if (self == &qtasks[0] && ring_tick())
            floorfp_switch(&self->sp, fsp_main);
    }
}

static void floorq_yield(void)
{
    static struct qsched s;
    struct qtask *t;
    long i;

    make_stacks();
    t = qtasks = calloc((size_t)n, sizeof *t);
    s.runq.next = s.runq.prev = &s.runq;
    for (i = 0; i < n; i++) {
        t[i].sp = floor_make(stacks[i], BENCH_STACK, floorq_fn, &t[i], true);
        if (i > 0) { /* t[0] runs first; the others wait in order */
            t[i].prev = s.runq.prev;
            t[i].next = &s.runq;
            s.runq.prev->next = &t[i];
            s.runq.prev = &t[i];
        }
    }
    s.current = &t[0];
    qsched = &s;
    floorfp_switch(&fsp_main, t[0].sp);
    printf("R yield.%ld %.3f\n", n, per_switch);
}
#endif

/* ------------------------------------------------------------------ */
/* Raw ucontext                                                       */
/* ------------------------------------------------------------------ */

static ucontext_t *uc, uc_main;

static void raw_fn(int i)
{
    long next = (i + 1) % n;

    for (;;) {
        swapcontext(&uc[i], &uc[next]);
        if (i == 0 && ring_tick())
            swapcontext(&uc[0], &uc_main);
    }
}

static void raw_yield(void)
{
    long i;

    make_stacks();
    uc = malloc((size_t)n * sizeof *uc);
    for (i = 0; i < n; i++) {
        getcontext(&uc[i]);
        uc[i].uc_stack.ss_sp = stacks[i];
        uc[i].uc_stack.ss_size = BENCH_STACK;
        uc[i].uc_link = NULL;
        makecontext(&uc[i], (void (*)(void))raw_fn, 1, (int)i);
    }
    swapcontext(&uc_main, &uc[0]);
    printf("R yield.%ld %.3f\n", n, per_switch);
}

static ucontext_t uc_one;

static void raw_once(void)
{
    swapcontext(&uc_one, &uc_main);
}

static void raw_spawn(void)
{
    void *st = bench_stack(BENCH_STACK);
    long i;
    int64_t t0 = 0, t1 = 0;

    for (i = -2000;; i++) {
        if (i == 0)
            t0 = bench_now();
        getcontext(&uc_one);
        uc_one.uc_stack.ss_sp = st;
        uc_one.uc_stack.ss_size = BENCH_STACK;
        uc_one.uc_link = NULL;
        makecontext(&uc_one, raw_once, 0);
        swapcontext(&uc_main, &uc_one);
        if (i > 0 && i % 256 == 0 && (t1 = bench_now()) - t0 >= BENCH_TARGET_NS)
            break;
    }
    bench_put("spawn", (double)(t1 - t0) / (double)i);
}

/* ------------------------------------------------------------------ */
/* Boost.Context: its C entry points, declared here                   */
/* ------------------------------------------------------------------ */

#ifdef HAVE_BOOST_CONTEXT
typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static fcontext_t *fc, fc_main;

/* Whoever jumped here passed its index (-1: the main stack). */
static void boost_saw(transfer_t t)
{
    long from = (long)(intptr_t)t.data;
    if (from < 0)
        fc_main = t.fctx;
    else
        fc[from] = t.fctx;
}

static void boost_fn(transfer_t t)
{
    long from = (long)(intptr_t)t.data;
    long i = from < 0 ? 0 : (from + 1) % n, next = (i + 1) % n;

    boost_saw(t);
    for (;;) {
        boost_saw(jump_fcontext(fc[next], (void *)(intptr_t)i));
        if (i == 0 && ring_tick())
            boost_saw(jump_fcontext(fc_main, (void *)(intptr_t)0));
    }
}

static void boost_yield(void)
{
    long i;

    make_stacks();
    fc = malloc((size_t)n * sizeof *fc);
    for (i = 0; i < n; i++)
        fc[i] = make_fcontext((char *)stacks[i] + BENCH_STACK, BENCH_STACK, boost_fn);
    jump_fcontext(fc[0], (void *)(intptr_t)-1);
    printf("R yield.%ld %.3f\n", n, per_switch);
}

static void boost_once(transfer_t t)
{
    jump_fcontext(t.fctx, NULL);
}

static void boost_spawn(void)
{
    char *st = bench_stack(BENCH_STACK);
    long i;
    int64_t t0 = 0, t1 = 0;

    for (i = -2000;; i++) {
        if (i == 0)
            t0 = bench_now();
        jump_fcontext(make_fcontext(st + BENCH_STACK, BENCH_STACK, boost_once), NULL);
        if (i > 0 && i % 256 == 0 && (t1 = bench_now()) - t0 >= BENCH_TARGET_NS)
            break;
    }
    bench_put("spawn", (double)(t1 - t0) / (double)i);
}
#endif

/* ------------------------------------------------------------------ */
/* PCL                                                                */
/* ------------------------------------------------------------------ */

#ifdef HAVE_PCL
#include <pcl.h>

static void pcl_turns(void *arg)
{
    (void)arg;
    for (;;)
        co_resume();
}

static void pcl_yield(void)
{
    coroutine_t *c = malloc((size_t)n * sizeof *c);
    long i;

    co_thread_init();
    for (i = 0; i < n; i++)
        c[i] = co_create(pcl_turns, NULL, NULL, (int)BENCH_STACK);
    for (;;) {
        for (i = 0; i < n; i++)
            co_call(c[i]);
        if (ring_tick())
            break;
    }
    printf("R yield.%ld %.3f\n", n, per_switch);
}

static void pcl_once(void *arg)
{
    (void)arg;
    co_resume();
}

static void pcl_spawn(void)
{
    long i;
    int64_t t0 = 0, t1 = 0;

    co_thread_init();
    for (i = -2000;; i++) {
        coroutine_t c;
        if (i == 0)
            t0 = bench_now();
        c = co_create(pcl_once, NULL, NULL, (int)BENCH_STACK);
        if (!c) {
            fputs("co_create failed\n", stderr);
            exit(1);
        }
        co_call(c);
        co_delete(c);
        if (i > 0 && i % 256 == 0 && (t1 = bench_now()) - t0 >= BENCH_TARGET_NS)
            break;
    }
    bench_put("spawn", (double)(t1 - t0) / (double)i);
}

static void pcl_idle(void)
{
    long i, rss0, rss1;
    int64_t t0;

    co_thread_init();
    rss0 = bench_status_kib("VmRSS");
    t0 = bench_now();
    for (i = 0; i < n; i++) {
        coroutine_t c = co_create(pcl_once, NULL, NULL, (int)BENCH_STACK);
        if (!c)
            break;
        co_call(c);
    }
    rss1 = bench_status_kib("VmRSS");
    bench_put("idle.count", (double)i);
    bench_put("idle.failed", i < n);
    bench_put("idle.kib", (double)(rss1 - rss0) / (double)i);
    bench_put("idle.spawn_s", (double)(bench_now() - t0) / 1e9);
}
#endif

/* ------------------------------------------------------------------ */
/* State Threads                                                      */
/* ------------------------------------------------------------------ */

#ifdef HAVE_ST
#include <st.h>

static st_cond_t *cv;

static void *st_ring(void *arg)
{
    long i = (long)(intptr_t)arg, next = (i + 1) % n;

    st_cond_wait(cv[i]);
    for (;;) {
        st_cond_signal(cv[next]);
        st_cond_wait(cv[i]);
        if (i == 0 && ring_tick())
            return NULL;
    }
}

static void st_start(void)
{
    if (st_init() < 0) {
        perror("st_init");
        exit(1);
    }
}

static void st_yield(void)
{
    st_thread_t first = NULL;
    long i;

    st_start();
    cv = malloc((size_t)n * sizeof *cv);
    for (i = 0; i < n; i++)
        cv[i] = st_cond_new();
    for (i = 0; i < n; i++) {
        st_thread_t t = st_thread_create(st_ring, (void *)(intptr_t)i, i == 0,
                                         (int)BENCH_STACK);
        if (!t) {
            perror("st_thread_create");
            exit(1);
        }
        if (i == 0)
            first = t;
    }
    st_usleep(0); /* every thread waits on its condition */
    st_cond_signal(cv[0]);
    st_thread_join(first, NULL);
    printf("R yield.%ld %.3f\n", n, per_switch);
}

static void *st_nothing(void *arg)
{
    return arg;
}

static void st_spawn(void)
{
    long i;
    int64_t t0 = 0, t1 = 0;

    st_start();
    for (i = -2000;; i++) {
        st_thread_t t;
        if (i == 0)
            t0 = bench_now();
        t = st_thread_create(st_nothing, NULL, 1, (int)BENCH_STACK);
        if (!t) {
            perror("st_thread_create");
            exit(1);
        }
        st_thread_join(t, NULL);
        if (i > 0 && i % 256 == 0 && (t1 = bench_now()) - t0 >= BENCH_TARGET_NS)
            break;
    }
    bench_put("spawn", (double)(t1 - t0) / (double)i);
}

static void *st_forever(void *arg)
{
    st_usleep(ST_UTIME_NO_TIMEOUT);
    return arg;
}

static void st_idle(void)
{
    long i, rss0, rss1;
    int64_t t0;

    st_start();
    rss0 = bench_status_kib("VmRSS");
    t0 = bench_now();
    for (i = 0; i < n; i++)
        if (!st_thread_create(st_forever, NULL, 0, (int)BENCH_STACK))
            break;
    st_usleep(0); /* every thread has run and suspended itself */
    rss1 = bench_status_kib("VmRSS");
    bench_put("idle.count", (double)i);
    bench_put("idle.failed", i < n);
    bench_put("idle.kib", (double)(rss1 - rss0) / (double)i);
    bench_put("idle.spawn_s", (double)(bench_now() - t0) / 1e9);
}

static int64_t st_woke_at;

static void *st_sleeper(void *arg)
{
    if (st_usleep((st_utime_t)(uintptr_t)arg) < 0 && errno == EINTR)
        st_woke_at = bench_now();
    return NULL;
}

static void st_cancel(long k)
{
    st_thread_t *t = malloc((size_t)n * sizeof *t);
    long *idx = malloc((size_t)n * sizeof *idx);
    int64_t *lat = malloc((size_t)k * sizeof *lat);
    uint64_t seed = 777;
    long i;

    st_start();
    for (i = 0; i < n; i++) {
        st_utime_t us = 100000000 + bench_rand(&seed) % 1000000;
        idx[i] = i;
        t[i] = st_thread_create(st_sleeper, (void *)(uintptr_t)us, 0,
                                (int)BENCH_STACK);
        if (!t[i]) {
            perror("st_thread_create");
            exit(1);
        }
    }
    st_usleep(0); /* all asleep */
    for (i = 0; i < k; i++) {
        long j = i + (long)(bench_rand(&seed) % (uint64_t)(n - i)), v;
        int64_t t0;
        v = idx[j];
        idx[j] = idx[i];
        idx[i] = v;
        st_woke_at = 0;
        t0 = bench_now();
        st_thread_interrupt(t[v]);
        st_usleep(0);
        lat[i] = st_woke_at - t0;
    }
    bench_put("cancel.p50_ns", (double)bench_pct(lat, (size_t)k, 50));
    bench_put("cancel.p99_ns", (double)bench_pct(lat, (size_t)k, 99));
}
#endif

/* ------------------------------------------------------------------ */
/* libuv timers                                                       */
/* ------------------------------------------------------------------ */

#ifdef HAVE_LIBUV
#include <uv.h>

/* As ucoro's sleepers (bench/ucoro.c): the timers are started, then they
 * run out at base + 0..1000 ms, base being 300 ms later; a first timer
 * at base marks the start of the CPU time measured. */
#define SETTLE_MS 300

static int64_t *uv_deadline, *uv_woke, uv_base, uv_cpu0;
static long *uv_order, uv_nwoke;

static void uv_fired(uv_timer_t *t)
{
    long i = (long)(intptr_t)t->data;
    uv_woke[i] = bench_now();
    uv_order[uv_nwoke++] = i;
}

static void uv_at_base(uv_timer_t *t)
{
    (void)t;
    uv_cpu0 = bench_cpu();
}

static void uvt_sleep(void)
{
    uv_loop_t loop;
    uv_timer_t first, *t = malloc((size_t)n * sizeof *t);
    uint64_t seed = 12345;
    int64_t start, end, cpu1;
    long i;

    uv_deadline = malloc((size_t)n * sizeof *uv_deadline);
    uv_woke = calloc((size_t)n, sizeof *uv_woke);
    uv_order = malloc((size_t)n * sizeof *uv_order);
    for (i = 0; i < n; i++)
        uv_deadline[i] = (int64_t)(bench_rand(&seed) % 1001);
    uv_loop_init(&loop);
    uv_update_time(&loop);
    start = bench_now();
    uv_base = start + (int64_t)SETTLE_MS * 1000000;
    uv_timer_init(&loop, &first);
    uv_timer_start(&first, uv_at_base, SETTLE_MS, 0);
    for (i = 0; i < n; i++) {
        uint64_t ms = (uint64_t)uv_deadline[i];
        uv_deadline[i] = uv_base + (int64_t)ms * 1000000;
        uv_timer_init(&loop, &t[i]);
        t[i].data = (void *)(intptr_t)i;
        uv_timer_start(&t[i], uv_fired, SETTLE_MS + ms, 0);
    }
    bench_put("sleep.spawn_ms", (double)(bench_now() - start) / 1e6);
    bench_put("sleep.settled", bench_now() <= uv_base);
    uv_run(&loop, UV_RUN_DEFAULT);
    end = bench_now();
    cpu1 = bench_cpu();
    bench_put("sleep.wall_ms", (double)(end - uv_base) / 1e6);
    bench_put("sleep.cpu_ms", (double)(cpu1 - uv_cpu0) / 1e6);
    bench_sleep_report(uv_deadline, uv_woke, uv_order, n, uv_base);
}
#endif

/* ------------------------------------------------------------------ */

static void list(void)
{
#ifdef HAVE_FLOOR
    puts("floor yes");
    puts("floorj yes");
    puts("floorfp yes");
    puts("floorq yes");
#else
    puts("floor no");
    puts("floorj no");
    puts("floorfp no");
    puts("floorq no");
#endif
    puts("raw yes");
#ifdef HAVE_BOOST_CONTEXT
    puts("boost yes");
#else
    puts("boost no");
#endif
#ifdef HAVE_PCL
    puts("pcl yes");
#else
    puts("pcl no");
#endif
#ifdef HAVE_ST
    puts("st yes");
#else
    puts("st no");
#endif
#ifdef HAVE_LIBUV
    puts("uv yes");
#else
    puts("uv no");
#endif
}

static int usage(void)
{
    fputs("usage: peers list | floor|floorj|floorfp|floorq|raw|boost|pcl|st"
          " yield N |"
          " raw|boost|pcl|st spawn | pcl|st idle N | st cancel N K |"
          " uv sleep N\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *who = argc > 1 ? argv[1] : "", *what = argc > 2 ? argv[2] : "";
    bool yield = strcmp(what, "yield") == 0, spawn = strcmp(what, "spawn") == 0;

    n = argc > 3 ? atol(argv[3]) : 2;
    if (n < 1)
        return usage();
    if (strcmp(who, "list") == 0)
        list();
#ifdef HAVE_FLOOR
    else if (strcmp(who, "floor") == 0 && yield)
        floor_yield(0);
    else if (strcmp(who, "floorj") == 0 && yield)
        floor_yield(1);
    else if (strcmp(who, "floorfp") == 0 && yield)
        floor_yield(2);
    else if (strcmp(who, "floorq") == 0 && yield)
        floorq_yield();
#endif
    else if (strcmp(who, "raw") == 0 && yield)
        raw_yield();
    else if (strcmp(who, "raw") == 0 && spawn)
        raw_spawn();
#ifdef HAVE_BOOST_CONTEXT
    else if (strcmp(who, "boost") == 0 && yield)
        boost_yield();
    else if (strcmp(who, "boost") == 0 && spawn)
        boost_spawn();
#endif
#ifdef HAVE_PCL
    else if (strcmp(who, "pcl") == 0 && yield)
        pcl_yield();
    else if (strcmp(who, "pcl") == 0 && spawn)
        pcl_spawn();
    else if (strcmp(who, "pcl") == 0 && strcmp(what, "idle") == 0)
        pcl_idle();
#endif
#ifdef HAVE_ST
    else if (strcmp(who, "st") == 0 && yield)
        st_yield();
    else if (strcmp(who, "st") == 0 && spawn)
        st_spawn();
    else if (strcmp(who, "st") == 0 && strcmp(what, "idle") == 0)
        st_idle();
    else if (strcmp(who, "st") == 0 && strcmp(what, "cancel") == 0)
        st_cancel(argc > 4 ? atol(argv[4]) : 1000);
#endif
#ifdef HAVE_LIBUV
    else if (strcmp(who, "uv") == 0 && strcmp(what, "sleep") == 0)
        uvt_sleep();
#endif
    else
        return usage();
    return 0;
}
