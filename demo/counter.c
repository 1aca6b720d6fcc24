/*
 * counter - the reference's first asyncio program as a ucoro program:
 *
 *   async def counter():
 *       count = 0
 *       while True:
 *           print(f"Count: {count}")
 *           count += 1
 *           await asyncio.sleep(1)
 *
 *   async def main():
 *       task = asyncio.create_task(counter())
 *       await asyncio.sleep(5)
 *       task.cancel()
 *
 *   asyncio.run(main())
 *
 * The counter's local count persists across its suspensions; cancelling it
 * makes its pending uco_sleep return -ECANCELED, and it unwinds.
 */
#include <ucoro.h>

#include <stdio.h>
#include <string.h>

static void *counter(void *arg)
{
    int count = 0;
    (void)arg;
    for (;;) {
        printf("Count: %d\n", count);
        fflush(stdout);
        count++;
        if (uco_sleep(UCO_SEC(1)) == -ECANCELED)
            return NULL; /* cancelled: unwind */
    }
}

static void *main_task(void *arg)
{
    uco_task *task;
    int rc;

    (void)arg;
    rc = uco_spawn(&task, counter, NULL, NULL);
    if (rc < 0)
        return NULL;
    uco_sleep(UCO_SEC(5)); /* let the counter run for 5 seconds */
    uco_cancel(task);
    uco_join(task, NULL, UCO_NEVER);
    return NULL;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: counter\n"
             "A task prints Count: 0, Count: 1, ... once a second; the main\n"
             "task sleeps 5 s, then cancels it (as asyncio's task.cancel()).");
        return 0;
    }
    rc = uco_run(main_task, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "counter: %s\n", uco_strerror(rc));
        return 1;
    }
    return 0;
}
