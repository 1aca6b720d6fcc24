/*
 * pipeline - the reference's second asyncio program as a ucoro program:
 * main awaits fetch_data, then process_data, each suspending on a sleep.
 *
 *   async def main():
 *       await fetch_data()      # prints, sleeps 2 s, prints
 *       await process_data()    # prints, sleeps 1 s, prints
 *   asyncio.run(main())
 */
#include <ucoro.h>

#include <stdio.h>
#include <string.h>

static int fetch_data(void)
{
    int rc;
    puts("Fetching data...");
    fflush(stdout);
    rc = uco_sleep(UCO_SEC(2)); /* simulate a delay in fetching data */
    if (rc < 0)
        return rc;
    puts("Data fetched!");
    fflush(stdout);
    return 0;
}

static int process_data(void)
{
    int rc;
    puts("Processing data...");
    fflush(stdout);
    rc = uco_sleep(UCO_SEC(1)); /* simulate a delay in processing data */
    if (rc < 0)
        return rc;
    puts("Data processed!");
    fflush(stdout);
    return 0;
}

static void *main_task(void *arg)
{
    int *status = arg;
    *status = fetch_data();
    if (*status == 0)
        *status = process_data();
    return NULL;
}

int main(int argc, char **argv)
{
    int status = 0, rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: pipeline\n"
             "Fetches, then processes, data: each step is a function that\n"
             "suspends the main task on uco_sleep (2 s, then 1 s), as the\n"
             "asyncio program awaits asyncio.sleep.  Prints four lines at\n"
             "0 s, 2 s, 2 s and 3 s.");
        return 0;
    }
    rc = uco_run(main_task, &status, NULL);
    if (rc < 0 || status < 0) {
        fprintf(stderr, "pipeline: %s\n", uco_strerror(rc < 0 ? rc : status));
        return 1;
    }
    return 0;
}
