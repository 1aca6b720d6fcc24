/*
 * util.c - time, error names, version.
 */
#include "ucoro-int.h"

#include <string.h>
#include <time.h>

#define STR2(x) #x
#define STR(x) STR2(x)

int64_t uco_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *uco_version(void)
{
    return STR(UCO_VERSION_MAJOR) "." STR(UCO_VERSION_MINOR) "." STR(
        UCO_VERSION_PATCH);
}

const char *uco_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case UCO_ESTACK: return "stack overflow";
    case -EINVAL: return "invalid argument";
    case -ENOMEM: return "out of memory";
    case -EAGAIN:
        return "resource temporarily unavailable (for stacks: the process "
               "reached vm.max_map_count)";
    case -ECANCELED: return "cancelled";
    case -ETIMEDOUT: return "deadline passed";
    case -EPERM: return "not allowed here (outside a task?)";
    case -EDEADLK: return "would wait for itself (deadlock)";
    case -EBUSY: return "busy";
    case -EPIPE: return "closed";
    case -ENOENT: return "nothing to pop";
    case -EOVERFLOW: return "value too large";
    case -EBADF: return "bad file descriptor (or closed while waited on)";
    default:
#ifdef HAVE_STRERRORDESC_NP
        if (err < 0 && err > -4096 && strerrordesc_np(-err))
            return strerrordesc_np(-err); /* passed on from the system */
#endif
        return "unknown error";
    }
}
