/*
 * test_stack - guarded stacks and the pool.  Links the internals.
 * Run twice by make check: as it is (MADV_GUARD_INSTALL where the kernel
 * has it) and with UCO_GUARD=mprotect (test/stack-mprotect.sh).
 */
#include "testutil.h"

#include "stack.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static bool want_mprotect(void)
{
    const char *e = getenv("UCO_GUARD");
    return e && strcmp(e, "mprotect") == 0;
}

/* The line of /proc/self/maps whose range holds addr: its permissions
 * ("rw-p", "---p") in perm, its end in *end.  false when none. */
static bool mapping_at(const void *addr, char perm[5], uintptr_t *end)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    bool found = false;

    assert_non_null(f);
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 &&
            lo <= (uintptr_t)addr && (uintptr_t)addr < hi) {
            *end = hi;
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Is the page at addr mapped?  mincore fails with ENOMEM where not. */
static bool is_mapped(void *addr)
{
    unsigned char v;
    return mincore(addr, 1, &v) == 0;
}

static void test_sizes(void **state)
{
    size_t page = uco__page_size(), s, g;
    uco_attr a = { 0 };

    (void)state;
    assert_int_equal(uco__stack_sizes(NULL, &s, &g), 0);
    assert_int_equal(s, uco__stack_default_size());
    assert_int_equal(g, page);
    a.stack_size = 100000;
    a.guard_size = 1;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), 0);
    assert_int_equal(s % page, 0);
    assert_true(s >= 100000 && s < 100000 + page);
    assert_int_equal(g, page);
    a.stack_size = 1; /* below the minimum: raised */
    assert_int_equal(uco__stack_sizes(&a, &s, &g), 0);
    assert_int_equal(s, 16 * 1024);
    a.stack_size = SIZE_MAX - 10;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), -EINVAL);
    a.stack_size = 0;
    a.guard_size = SIZE_MAX / 2;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), -EINVAL);
    /* the guard is capped at 1 MiB: beyond, it protects nothing more and
     * costs page tables (uco_spawn(3)) */
    a.guard_size = (size_t)1 << 20;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), 0);
    assert_int_equal(g, (size_t)1 << 20);
    a.guard_size = ((size_t)1 << 20) + 1;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), -EINVAL);
    a.guard_size = (size_t)1 << 30;
    assert_int_equal(uco__stack_sizes(&a, &s, &g), -EINVAL);
}

static void test_layout(void **state)
{
    struct uco_stack st;
    size_t page = uco__page_size();
    char perm[5];
    uintptr_t end = 0;

    (void)state;
    assert_int_equal(uco__stack_get(&st, 64 * 1024, 2 * page), 0);
    assert_non_null(st.map);
    assert_int_equal(st.len, 64 * 1024 + 2 * page);
    /* the whole usable part is writable */
    memset(st.map + st.guard, 0xa5, st.size);
    assert_int_equal((unsigned char)st.map[st.len - 1], 0xa5);
    if (!maps_show_prot_none()) {
        /* the emulator leaves the PROT_NONE guard out of the maps */
        printf("# SKIP (maps part): this emulator hides PROT_NONE mappings "
               "(test/emu-probe maps)\n");
        assert_true(uco__stack_guard_is_mprotect());
        uco__stack_put(&st);
        uco__stack_pool_drain();
        return;
    }
    assert_true(mapping_at(st.map, perm, &end));
    /* forced: mprotect; otherwise MADV_GUARD_INSTALL where the kernel has
     * it and it really faults (an emulator may accept it and do nothing,
     * and then the library takes the mprotect way) */
    if (want_mprotect())
        assert_true(uco__stack_guard_is_mprotect());
    printf("# guard taken: %s\n",
           uco__stack_guard_is_mprotect() ? "mprotect" : "MADV_GUARD_INSTALL");
    if (uco__stack_guard_is_mprotect()) {
        /* the guard is a mapping of its own, inaccessible */
        assert_string_equal(perm, "---p");
        assert_int_equal(end, (uintptr_t)(st.map + st.guard));
    } else {
        /* MADV_GUARD_INSTALL: one mapping for guard and stack */
        assert_string_equal(perm, "rw-p");
        assert_true(end >= (uintptr_t)(st.map + st.len));
    }
    uco__stack_put(&st);
    assert_null(st.map);
    uco__stack_pool_drain();
}

/* Writing into the guard kills the writer with SIGSEGV. */
static void test_guard_faults(void **state)
{
    struct uco_stack st;
    int status;
    pid_t pid;

    (void)state;
    SKIP_UNLESS_FATAL_SIGNALS();
    assert_int_equal(uco__stack_get(&st, 32 * 1024, uco__page_size()), 0);
    fflush(stdout);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL); /* the test runner catches it otherwise */
        st.map[st.guard] = 1;           /* lowest usable byte: fine */
        ((volatile char *)st.map)[st.guard - 1] = 1; /* guard: dies */
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    uco__stack_put(&st);
    uco__stack_pool_drain();
}

/* A stack given back is handed out again, still guarded. */
static void test_pool_reuse(void **state)
{
    struct uco_stack a, b, c;
    char *first;

    (void)state;
    assert_int_equal(uco__stack_get(&a, 32 * 1024, uco__page_size()), 0);
    first = a.map;
    uco__stack_put(&a);
    assert_int_equal(uco__stack_get(&b, 32 * 1024, uco__page_size()), 0);
    assert_ptr_equal(b.map, first);
    /* another size is not taken from the pool */
    uco__stack_put(&b);
    assert_int_equal(uco__stack_get(&c, 48 * 1024, uco__page_size()), 0);
    assert_ptr_not_equal(c.map, first);
    uco__stack_put(&c);
    assert_true(is_mapped(first + uco__page_size()));
    uco__stack_pool_drain();
    assert_false(is_mapped(first + uco__page_size()));
}

/* Past the pool's bound, stacks are unmapped rather than kept. */
static void test_pool_bounded(void **state)
{
    enum { M = 600 };
    static struct uco_stack st[M];
    size_t i, kept = 0;

    (void)state;
    for (i = 0; i < M; i++)
        assert_int_equal(uco__stack_get(&st[i], 16 * 1024, uco__page_size()), 0);
    for (i = 0; i < M; i++) {
        char *m = st[i].map + st[i].guard;
        uco__stack_put(&st[i]);
        kept += is_mapped(m);
    }
    assert_int_equal(kept, 256); /* POOL_MAX in lib/stack.c */
    uco__stack_pool_drain();
}

/* A mapping refused because pooled stacks of other sizes hold the address
 * space is tried again once the pool is given back.  In a child limited
 * to 96 MiB of address space more than it has: four 16 MiB stacks go to
 * the pool, and a 48 MiB one is then refused unless the pool goes. */
static void test_pool_drained_when_full(void **state)
{
    pid_t pid;
    int status;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct uco_stack st[4], big;
        struct rlimit as;
        long vm_kib = -1;
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");
        int i;

        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "VmSize:", 7) == 0)
                vm_kib = strtol(line + 7, NULL, 10);
        if (f)
            fclose(f);
        if (vm_kib <= 0)
            _exit(10);
        as.rlim_cur = as.rlim_max = (rlim_t)vm_kib * 1024 + ((rlim_t)96 << 20);
        if (setrlimit(RLIMIT_AS, &as) != 0)
            _exit(11);
        for (i = 0; i < 4; i++)
            if (uco__stack_get(&st[i], (size_t)16 << 20, uco__page_size()) != 0)
                _exit(12);
        for (i = 0; i < 4; i++)
            uco__stack_put(&st[i]);
        if (uco__stack_get(&big, (size_t)48 << 20, uco__page_size()) != 0)
            _exit(13); /* refused: the pool kept the space */
        uco__stack_put(&big);
        uco__stack_pool_drain();
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Count the lines of /proc/self/maps. */
static long count_maps(void)
{
    long n = 0;
    int c;
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/*
 * The mapping ceiling.  With mprotect guards every stack is two mappings,
 * and at vm.max_map_count the next one is refused with -EAGAIN (whose
 * message names vm.max_map_count).  With MADV_GUARD_INSTALL a stack is one
 * mapping: more stacks than the ceiling would allow in mprotect mode fit.
 */
static void test_map_ceiling(void **state)
{
    long max = 0, i, n = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    struct uco_stack *st;
    int rc = 0;
    long before = count_maps();

    (void)state;
    if (getenv("UCO_TEST_EMULATED")) {
        /* qemu-user keeps its own list of the guest's mappings and
         * searches it on every mmap: tens of thousands take minutes */
        printf("# SKIP: under an emulator, mapping up to vm.max_map_count "
               "takes minutes (its mmap bookkeeping)\n");
        skip();
    }
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &max), 1);
    fclose(f);
    st = calloc((size_t)max + 16, sizeof *st);
    assert_non_null(st);
    for (i = 0; i < max + 16; i++) {
        rc = uco__stack_get(&st[i], 16 * 1024, uco__page_size());
        if (rc < 0)
            break;
        n++;
    }
    if (uco__stack_guard_is_mprotect()) {
        assert_true(refusal_matches(rc, -EAGAIN));
        if (rc == -EAGAIN)
            assert_non_null(strstr(uco_strerror(rc), "vm.max_map_count"));
        if (getenv("UCO_TEST_EMULATED")) /* its own mappings count too */
            assert_true(n > max / 4 && n < max / 2 + 100);
        else
            assert_true(n > max / 2 - 100 && n < max / 2 + 100);
    } else {
        assert_int_equal(rc, 0);
        assert_true(n > max / 2 + 1000);
        /* each stack added one mapping at most (neighbours may merge) */
        assert_true(count_maps() - before <= n);
    }
    for (i = 0; i < n; i++)
        munmap(st[i].map, st[i].len);
    free(st);
    /* ThreadSanitizer maps (and splits) regions of its own as the stacks
     * come and go: its shadow's, not ours */
    assert_true(count_maps() <= before + 2 + (UCO_TEST_TSAN ? 8 : 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_guard_faults),
        cmocka_unit_test(test_pool_reuse),
        cmocka_unit_test(test_pool_bounded),
        cmocka_unit_test(test_pool_drained_when_full),
        cmocka_unit_test(test_map_ceiling),
    };
    printf("# guard: %s\n", want_mprotect() ? "mprotect (forced by UCO_GUARD)"
                                            : "MADV_GUARD_INSTALL if the kernel has it");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
