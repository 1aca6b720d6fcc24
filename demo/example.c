/* example - the README's example: two tasks take turns, main joins them. */
#include <ucoro.h>
#include <stdio.h>

static void *worker(void *arg)
{
    for (int i = 0; i < 3; i++) {
        printf("%s %d\n", (const char *)arg, i);
        uco_sleep(UCO_MSEC(10));         /* suspends this task only */
    }
    return arg;
}

static void *main_task(void *arg)
{
    uco_task *a, *b;
    (void)arg;
    uco_spawn(&a, worker, "ping", NULL); /* like asyncio.create_task */
    uco_spawn(&b, worker, "pong", NULL);
    uco_join(a, NULL, UCO_NEVER);        /* like await task */
    uco_join(b, NULL, UCO_NEVER);
    return NULL;
}

int main(void)
{
    int rc = uco_run(main_task, NULL, NULL); /* like asyncio.run */
    if (rc < 0)
        fprintf(stderr, "example: %s\n", uco_strerror(rc));
    return rc < 0;
}
