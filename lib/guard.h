/*
 * guard.h - the fault handler's plumbing (guard.c): the SIGSEGV/SIGBUS
 * handler on a per-thread alternate stack, what it forwards, and how a
 * rescue leaves it.  Which fault is whose, and the rescue itself, are
 * the core's (frame.c), reached through the hook given to enter.
 */
#ifndef UCO_GUARD_H
#define UCO_GUARD_H

#include "util.h"

/* The fault handler's question to the layer above: the fault at addr
 * (SIGSEGV or SIGBUS, not sent by a program) is in a guard the library
 * knows.  Returns false when it is not (the fault goes, untouched, to the
 * disposition found before the library's); true when it was reported,
 * and the handler then lets the default action happen; or never returns
 * (a sandbox rescued: the hook calls uco__guard_leave_handler first).
 * Runs on the alternate signal stack. */
typedef bool uco_fault_hook(uintptr_t addr, void *uctx);

/* This thread starts (enter) or stops (leave) running coroutines: the
 * first enter installs the handler (once per process, keeping the one
 * it found; hook is the same at every call) and this thread's alternate
 * signal stack; the last leave removes the stack and drains the stack
 * pool.  0 or -ENOMEM.  No switch. */
int uco__guard_enter(uco_fault_hook *hook);
void uco__guard_leave(void);
/* In the hook, before it leaves the handler for a rescue without
 * sigreturn: keep what sigreturn would have restored.  No switch. */
void uco__guard_leave_handler(void *uctx);
/* First thing in a rescue: unblock SIGSEGV and SIGBUS, and arm again a
 * program's own alternate stack that the kernel disarmed for the handler
 * (SS_AUTODISARM).  No switch. */
void uco__guard_rescued(void);

#endif /* UCO_GUARD_H */
