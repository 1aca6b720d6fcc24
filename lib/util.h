/*
 * util.h - what every file of the library uses: the configuration, the
 * tools it is built for, thread-locals, and text for stderr that needs
 * no stdio (util.c).
 *
 * Internal non-static names start with uco__.  Every internal function
 * says what it does, what it returns, and whether it may switch context.
 */
#ifndef UCO_UTIL_H
#define UCO_UTIL_H

#ifdef HAVE_CONFIG_H
#include <config.h> /* _GNU_SOURCE and friends, before any system header */
#endif

#include "ucoro.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UCO_TLS __thread __attribute__((tls_model("initial-exec")))
#define UCO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The tools the library is built for (switches are told to them, some
 * reserves are larger): set by the compiler's flags. */
#if defined(__SANITIZE_ADDRESS__)
#define UCO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UCO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define UCO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UCO_TSAN 1
#endif
#endif
#ifndef UCO_ASAN
#define UCO_ASAN 0
#endif
#ifndef UCO_TSAN
#define UCO_TSAN 0
#endif
#ifndef UCO_FAST_SWITCH
#define UCO_FAST_SWITCH 0
#endif

/* Text for stderr that needs little stack and no stdio (the fault
 * handler, the watchdog; async-signal-safe): append s, or v in base 10 or
 * 16 (0x...), to buf at at, within cap (a final NUL always fits); the
 * new length.  No switch. */
size_t uco__put_str(char *buf, size_t at, size_t cap, const char *s);
/* The same for a name, of which at most UCO_NAME_SHOWN bytes are shown
 * (then "..."): what follows it in a message stays. */
#define UCO_NAME_SHOWN 200
size_t uco__put_name(char *buf, size_t at, size_t cap, const char *s);
size_t uco__put_num(char *buf, size_t at, size_t cap, uint64_t v, int base);

/* A condition variable for threads that wait until a uco_now() deadline:
 * on CLOCK_MONOTONIC where the system has pthread_condattr_setclock, on
 * the wall clock elsewhere (doc/porting.md).  0 or a positive errno, as
 * pthread_cond_init.  No switch. */
int uco__cond_init(pthread_cond_t *cv);
/* The time to give pthread_cond_timedwait on such a variable for a
 * uco_now() deadline.  No switch. */
void uco__cond_deadline(int64_t deadline, struct timespec *ts);

/* Grow the zero-filled array *v of *n elements of elem bytes (doubling,
 * from 64) until index i fits; new elements are zero.  0 or -ENOMEM. */
int uco__array_fit(void **v, size_t *n, size_t i, size_t elem);

#endif /* UCO_UTIL_H */
