/*
 * emu-probe - shows, with a minimal program, what an emulator cannot do,
 * so that the cross matrix skips only the tests that need it:
 *   emu-probe fork    a forked child writes a line and exits; exits 0
 *                     when the parent sees it (qemu-i386 7.2 hangs in the
 *                     child of a dynamically linked program; a static
 *                     one works)
 *   emu-probe fatal   a forked child dies by SIGSEGV; exits 0 when the
 *                     parent sees it (qemu-i386 7.2 hangs instead)
 *   emu-probe maps    a PROT_NONE guard of a MAP_NORESERVE mapping shows
 *                     in /proc/self/maps; exits 0 when it does (qemu-i386
 *                     leaves it out)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    /* mapped as a task's stack: qemu-i386 lists a PROT_NONE part of a
     * MAP_NORESERVE mapping as if it were not mapped */
    char *p = mmap(NULL, 16 * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);

    if (p == MAP_FAILED || mprotect(p, 2 * 4096, PROT_NONE) != 0)
        return 2;
    if (argc > 1 && strcmp(argv[1], "fork") == 0) {
        int st = 0;
        pid_t pid = fork();
        if (pid == 0) {
            printf("forked child runs\n");
            fflush(stdout);
            _exit(7);
        }
        waitpid(pid, &st, 0);
        return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "fatal") == 0) {
        int st = 0;
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit no_core = { 0, 0 };
            setrlimit(RLIMIT_CORE, &no_core);
            ((volatile char *)p)[10] = 1;
            _exit(0);
        }
        waitpid(pid, &st, 0);
        printf("child %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV
                                  ? "died by SIGSEGV" : "did not die by SIGSEGV");
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "maps") == 0) {
        char line[512];
        int found = 0;
        FILE *f = fopen("/proc/self/maps", "r");
        while (f && fgets(line, sizeof line, f)) {
            unsigned long lo, hi;
            if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
                lo <= (uintptr_t)p && (uintptr_t)p < hi)
                found = 1;
        }
        printf("PROT_NONE mapping %s /proc/self/maps\n", found ? "listed in" : "missing from");
        return found ? 0 : 1;
    }
    fprintf(stderr, "usage: emu-probe fork|fatal|maps\n");
    return 2;
}
