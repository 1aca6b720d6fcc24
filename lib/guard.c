/*
 * guard.c - the SIGSEGV (and SIGBUS) handler's plumbing.
 *
 * The handler runs with SA_ONSTACK on a per-thread alternate stack (a task
 * that overflowed has no stack left to run it on).  It asks the core (the
 * hook given to uco__guard_enter: frame.c) whether the fault is in a
 * guard region the library knows; the core either rescues a sandbox,
 * leaving the handler for good, or reports the overflow, after which the
 * default action happens (the faulting instruction runs again, now
 * without a handler).  Anything else goes,
 * untouched, to the disposition found when the handler was installed:
 * that handler (with or without SA_SIGINFO, called as the kernel would:
 * its mask, SA_NODEFER, SA_RESETHAND), or the default action, core dump
 * included.  So does the signal sent by kill(2) or raise(3), whatever
 * si_addr seems to say: it is delivered once.
 * The handler is installed when a thread first starts a scheduler, a
 * generator or a uco_call, never when the library is loaded; a program
 * that installs its own afterwards has replaced it.
 */
#include "guard.h"

#include "stack.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#ifdef UCO_VALGRIND
#include <valgrind/valgrind.h>
#endif

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static bool installed;                     /* once per process */
static struct sigaction old_segv, old_bus; /* what was there before us */
static uco_fault_hook *fault_hook;         /* set with installed */
static int reset_taken[2]; /* SA_RESETHAND of old_segv, old_bus: done */

#ifndef SS_AUTODISARM /* Linux 4.7; only in the kernel's headers */
#ifdef __linux__
#define SS_AUTODISARM (1U << 31)
#else
#define SS_AUTODISARM 0 /* no such flag: the stack is never disarmed */
#endif
#endif
#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

static UCO_TLS unsigned users;        /* enter/leave depth of this thread */
/* The program's own alternate stack, disarmed by the kernel while its
 * handler runs (SS_AUTODISARM) and re-armed by sigreturn, which a rescue
 * never reaches: uco__guard_rescued arms it again. */
static UCO_TLS stack_t rearm_ss;
static UCO_TLS bool rearm;
static UCO_TLS char *alt_map;         /* our alternate stack, or NULL */
static UCO_TLS sigset_t reblock;      /* SIGSEGV, SIGBUS: those the thread
                                         blocked at its first enter, blocked
                                         again at its last leave */
static UCO_TLS size_t alt_len;
#ifdef UCO_VALGRIND
static UCO_TLS unsigned alt_vg_id;    /* its Valgrind stack id */
#endif

/* ---- the handler */

/* Let the default action of sig happen: reset it, and return to the
 * faulting instruction, which faults again.  Under Valgrind, which does
 * not run the instruction again, the signal is also raised (pending until
 * the handler returns). */
static void default_again(int sig)
{
    signal(sig, SIG_DFL);
#ifdef UCO_VALGRIND
    if (RUNNING_ON_VALGRIND)
        raise(sig);
#endif
}

/* Run the program's handler as the kernel would have: with its mask (and
 * sig itself unless SA_NODEFER) blocked. */
static void call_old(int sig, siginfo_t *info, void *uctx,
                     const struct sigaction *old)
{
    sigset_t mask, saved;

    mask = old->sa_mask;
    if (!(old->sa_flags & SA_NODEFER))
        sigaddset(&mask, sig);
    pthread_sigmask(SIG_BLOCK, &mask, &saved);
    if (old->sa_flags & SA_NODEFER) {
        sigemptyset(&mask);
        sigaddset(&mask, sig);
        pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
    }
    if (old->sa_flags & SA_SIGINFO)
        old->sa_sigaction(sig, info, uctx);
    else
        old->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/* Not a fault that happens again when the handler returns: sent by a
 * program, or forced by the kernel. */
static bool once(const siginfo_t *info)
{
#ifdef SI_KERNEL
    if (info->si_code == SI_KERNEL)
        return true;
#endif
    return info->si_code <= 0;
}

/* Hand a signal that is not ours to the disposition found before: a
 * fault, or the same signal sent by kill(2), raise(3) or sigqueue(3)
 * (si_code <= 0), which happens once only; so does the SIGSEGV the kernel
 * forces when it cannot write a signal frame (SI_KERNEL: a handler of
 * another signal on a stack with no room left), which does not come again
 * either. */
static void forward(int sig, siginfo_t *info, void *uctx)
{
    const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    bool sent = once(info);
    /* (sa_handler and sa_sigaction share their storage: SIG_DFL and
     * SIG_IGN are themselves, SA_SIGINFO or not) */
    void (*h)(int) = old->sa_handler;

    /* SA_RESETHAND: the handler runs once, then the default action (a
     * crash reporter that reports and returns).  The kept disposition is
     * never written (threads may read it at once): one flag, taken by
     * an atomic exchange, says the reset has happened. */
    if (h != SIG_DFL && h != SIG_IGN && (old->sa_flags & SA_RESETHAND) &&
        __atomic_exchange_n(&reset_taken[sig == SIGBUS], 1, __ATOMIC_SEQ_CST))
        h = SIG_DFL;
    if (h != SIG_DFL && h != SIG_IGN) {
        call_old(sig, info, uctx, old);
#ifdef UCO_VALGRIND
        /* the fault that would come again (see default_again), now to
         * the default action */
        if (RUNNING_ON_VALGRIND && !sent && (old->sa_flags & SA_RESETHAND))
            default_again(sig);
#endif
        return;
    }
    if (sent && h == SIG_IGN)
        return; /* ignored, as it was before the library */
    /* Default (a fault cannot be ignored): return, the instruction faults
     * again and the kernel takes the default action.  A sent signal is
     * sent again, pending until the handler returns. */
    default_again(sig);
    if (sent)
        raise(sig);
}

/* Under Valgrind, first thing in the handler of a fault (not of a signal
 * sent: measured, that broke the next fault's handling), and before a
 * rescue leaves the alternate stack for good.  Valgrind did not see the signal move the stack pointer to the
 * alternate stack: it still takes the overflowed stack for the current
 * one, so the jump to the top of that same stack looks to it like
 * returns from frames, and it marks everything between the two
 * addresses inaccessible (other stacks among it: memcheck then reported
 * every later access to them).  A stack pointer loaded from memory is an
 * update it must look up: it finds the alternate stack, registered, and
 * takes it as the current one; the jump that follows is then a switch of
 * stacks. */
#ifdef UCO_VALGRIND
/* Neither is on the stack: in the handler, nothing may be written there
 * before the stack pointer is reloaded (a client request writes its
 * arguments there). */
static UCO_TLS void *vg_sp;
static bool on_valgrind; /* RUNNING_ON_VALGRIND, asked at the install */
#endif
static inline __attribute__((always_inline)) void valgrind_on_altstack(void)
{
#ifdef UCO_VALGRIND
    if (!on_valgrind)
        return;
#if defined(__x86_64__)
    __asm__ volatile("movq %%rsp, %0\n\tmovq %0, %%rsp" : "+m"(vg_sp) : : "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x9, sp\n\tstr x9, %0\n\tldr x9, %0\n\tmov sp, x9"
                     : "+m"(vg_sp) : : "x9", "memory");
#endif
#endif
}

void uco__guard_leave_handler(void *uctx)
{
    const stack_t *ss = &((const ucontext_t *)uctx)->uc_stack;

    rearm = ((unsigned)ss->ss_flags & SS_AUTODISARM) != 0;
    if (rearm)
        rearm_ss = *ss;
    valgrind_on_altstack();
}

/* SIGSEGV and SIGBUS in set. */
static void fault_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGSEGV);
    sigaddset(set, SIGBUS);
}

void uco__guard_rescued(void)
{
    sigset_t set;

    fault_signals(&set);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    if (rearm) {
        rearm = false;
        sigaltstack(&rearm_ss, NULL);
    }
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    /* sent, not a fault: si_addr means nothing */
    if (once(info)) {
        forward(sig, info, uctx);
        return;
    }
    /* before anything is written to the stack (see above) */
    valgrind_on_altstack();
    if (!fault_hook((uintptr_t)info->si_addr, uctx)) {
        forward(sig, info, uctx);
        return;
    }
    default_again(sig);
}

/* Install on_fault for sig, keeping what was there in old. */
static void install(int sig, struct sigaction *old)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, old);
}

/* Give this thread an alternate signal stack unless it has one. */
static int altstack_on(void)
{
    stack_t cur, ss;
    size_t page = uco__page_size();
    size_t size = (size_t)64 * 1024;
#ifdef _SC_SIGSTKSZ /* glibc 2.34: the size this CPU's signal frames need */
    long min = sysconf(_SC_SIGSTKSZ);
#else
    long min = SIGSTKSZ;
#endif

    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return 0; /* the program's own: use it */
    if (min > 0 && (size_t)min * 4 > size)
        size = ((size_t)min * 4 + page - 1) & ~(page - 1);
    alt_len = size + page;
    alt_map = mmap(NULL, alt_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (alt_map == MAP_FAILED) {
        alt_map = NULL;
        return -ENOMEM;
    }
    mprotect(alt_map, page, PROT_NONE); /* the handler's own guard */
    ss.ss_sp = alt_map + page;
    ss.ss_size = size;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(alt_map, alt_len);
        alt_map = NULL;
        return -ENOMEM;
    }
#ifdef UCO_VALGRIND
    /* known as a stack, the switch from it to a rescued task's is seen as
     * a switch, not as a frame of megabytes */
    alt_vg_id = VALGRIND_STACK_REGISTER(alt_map + page, alt_map + alt_len);
#endif
    return 0;
}

/* A fault whose signal is blocked kills the process, handler or not:
 * while the thread runs coroutines, SIGSEGV and SIGBUS are unblocked (a
 * program that takes its signals with sigwait or signalfd starts its
 * threads with every signal blocked).  Contexts made from now on inherit
 * that (ctx.h's template is captured after the first enter). */
static void unblock_faults(void)
{
    sigset_t set, old;

    fault_signals(&set);
    sigemptyset(&reblock);
    if (pthread_sigmask(SIG_UNBLOCK, &set, &old) != 0)
        return;
    if (sigismember(&old, SIGSEGV))
        sigaddset(&reblock, SIGSEGV);
    if (sigismember(&old, SIGBUS))
        sigaddset(&reblock, SIGBUS);
}

int uco__guard_enter(uco_fault_hook *hook)
{
    int rc;

    if (users++ > 0)
        return 0;
    rc = altstack_on();
    if (rc < 0) {
        users--;
        return rc;
    }
    unblock_faults();
    pthread_mutex_lock(&install_lock);
    if (!installed) {
#ifdef UCO_VALGRIND
        on_valgrind = RUNNING_ON_VALGRIND;
#endif
        fault_hook = hook;
        install(SIGSEGV, &old_segv);
        install(SIGBUS, &old_bus);
        installed = true;
    }
    pthread_mutex_unlock(&install_lock);
    return 0;
}

void uco__guard_leave(void)
{
    stack_t ss;

    if (--users > 0)
        return;
    pthread_sigmask(SIG_BLOCK, &reblock, NULL); /* as the thread had it */
    uco__stack_pool_drain(); /* the thread may end now: nothing stays */
    if (!alt_map)
        return;
    memset(&ss, 0, sizeof ss);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
#ifdef UCO_VALGRIND
    VALGRIND_STACK_DEREGISTER(alt_vg_id);
#endif
    munmap(alt_map, alt_len);
    alt_map = NULL;
}
