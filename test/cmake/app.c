/* Two tasks taking turns, through the library CMake found. */
#include <stdio.h>
#include <ucoro.h>

static void *ping(void *arg)
{
    int i;

    for (i = 0; i < 3; i++) {
        printf("%s %d\n", (const char *)arg, i);
        uco_yield();
    }
    return NULL;
}

static void *top(void *unused)
{
    uco_task *a, *b;

    (void)unused;
    if (uco_spawn(&a, ping, "ping", NULL) != 0 ||
        uco_spawn(&b, ping, "pong", NULL) != 0)
        return NULL;
    uco_join(a, NULL, UCO_NEVER);
    uco_join(b, NULL, UCO_NEVER);
    printf("ucoro %s (%s)\n", uco_version(), uco_backend());
    return NULL;
}

int main(void)
{
    return uco_run(top, NULL, NULL) == 0 ? 0 : 1;
}
