/*
 * child.h - running a piece of a test in a forked child: for what must
 * crash, and for what must run in a process whose signal handlers the test
 * runner has not replaced.  The parent checks the exit status, the signal
 * and the child's stderr.
 */
#ifndef UCO_TEST_CHILD_H
#define UCO_TEST_CHILD_H

#include "testutil.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARED_SIZE (1024 * 1024)

struct child {
    int status;      /* from waitpid */
    char err[8192];  /* the child's stderr, NUL-terminated */
};

/*
 * Run body(shared) in a forked child with no core dumps, SIGSEGV and
 * SIGBUS at their default action and a hang guard (SIGALRM).  shared is a
 * zeroed MAP_SHARED region the parent reads afterwards, also when the
 * child died.  The child exits 0 when body returns.
 */
static inline void *run_child(void (*body)(void *shared), struct child *c)
{
    void *shared = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2];
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    assert_true(shared != MAP_FAILED);
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGSEGV, SIG_DFL); /* cmocka's handler otherwise */
        signal(SIGBUS, SIG_DFL);
        alarm((unsigned)(60 * test_slack()));
        body(shared);
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], c->err + len, sizeof c->err - 1 - len)) > 0)
        len += (size_t)n;
    c->err[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &c->status, 0), pid);
    return shared;
}

static inline void release_shared(void *shared)
{
    munmap(shared, SHARED_SIZE);
}

/* The child exited with code (and says what went wrong otherwise). */
static inline void assert_exit_code(const struct child *c, int code)
{
    if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != code) {
        if (WIFSIGNALED(c->status))
            printf("child killed by signal %d\n", WTERMSIG(c->status));
        else
            printf("child exited with %d\n", WEXITSTATUS(c->status));
        printf("child stderr: %s\n", c->err);
    }
    assert_true(WIFEXITED(c->status));
    assert_int_equal(WEXITSTATUS(c->status), code);
}

static inline void assert_killed_by(const struct child *c, int sig)
{
    if (!WIFSIGNALED(c->status))
        printf("child exited with %d; stderr: %s\n", WEXITSTATUS(c->status),
               c->err);
    assert_true(WIFSIGNALED(c->status));
    assert_int_equal(WTERMSIG(c->status), sig);
}

/* ---- a recursion that runs into the guard */

static volatile int never = -1; /* a depth no recursion reaches */

/* The whole array must exist in the frame: the compiler has to assume the
 * asm reads and writes it (volatile alone lets clang keep only the bytes
 * that are accessed). */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Recursion with a 512-byte frame until the stack runs out. */
__attribute__((noinline, unused)) static int dive(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    KEEP(pad);
    if (n == never)
        return 0;
    pad[1] = (char)dive(n + 1); /* the frame stays live across the call */
    return pad[0] + pad[1];
}

#endif
