/*
 * sandbox - parse untrusted documents with a recursive-descent parser
 * without letting a deep one take the process down.
 *
 * A document is nested brackets, JSON-like arrays: "[[[]],[]]".  Each one
 * is parsed twice:
 *  - by a plain recursive parser, in a task spawned with UCO_SANDBOX: a
 *    document nested deeper than the stack allows overflows into the
 *    guard region, the task ends with UCO_ESTACK, and the program goes on
 *    with the next document;
 *  - by a parser that checks uco_stack_remaining() before each level and
 *    refuses early with an error of its own (run with uco_call, itself a
 *    sandbox, as a second line of defence).
 * Meanwhile another task prints a heartbeat every 100 ms: the overflow
 * stops nothing else.
 *
 * Usage: sandbox [FILE]   (one document a line; built-in ones without)
 */
#define _POSIX_C_SOURCE 200809L /* strdup, getline */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ucoro.h>

#define PARSE_STACK (256 * 1024)   /* each parse's stack */
#define LOW_WATER (16 * 1024)      /* the checked parser stops here */
#define TOO_DEEP (-E2BIG)          /* its own error */

struct parser {
    const char *s;     /* the document */
    size_t pos;        /* next character */
    int deepest;       /* deepest level entered */
    size_t left_at_refusal;
};

static void skip_blanks(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

/*
 * value := '[' [ value { ',' value } ] ']'
 * Returns the nesting depth of the value at p->pos, -EINVAL for a syntax
 * error, or TOO_DEEP when check is set and the stack runs low.
 */
static int parse_value(struct parser *p, int level, int check)
{
    int depth = 0;

    if (check && uco_stack_remaining() < LOW_WATER) {
        p->left_at_refusal = uco_stack_remaining();
        return TOO_DEEP;
    }
    if (level > p->deepest)
        p->deepest = level;
    skip_blanks(p);
    if (p->s[p->pos] != '[')
        return -EINVAL;
    p->pos++;
    skip_blanks(p);
    if (p->s[p->pos] != ']') {
        for (;;) {
            int d = parse_value(p, level + 1, check);
            if (d < 0)
                return d;
            if (d > depth)
                depth = d;
            skip_blanks(p);
            if (p->s[p->pos] != ',')
                break;
            p->pos++;
        }
    }
    if (p->s[p->pos] != ']')
        return -EINVAL;
    p->pos++;
    return depth + 1;
}

/* A whole document: a value and nothing after it. */
static int parse_document(struct parser *p, int check)
{
    int d = parse_value(p, 1, check);
    if (d < 0)
        return d;
    skip_blanks(p);
    return p->s[p->pos] == '\0' || p->s[p->pos] == '\n' ? d : -EINVAL;
}

static void *plain_parse(void *arg)
{
    return (void *)(intptr_t)parse_document(arg, 0);
}

static void *checked_parse(void *arg)
{
    return (void *)(intptr_t)parse_document(arg, 1);
}

/* ---- the documents */

struct docs {
    char **v;
    size_t n, cap;
};

static int docs_add(struct docs *d, char *s)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        char **v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return -1;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = s;
    return 0;
}

/* n opening brackets, then close (or not). */
static char *nested(size_t n, int close)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    memset(s, '[', n);
    memset(s + n, ']', close ? n : 0);
    s[close ? 2 * n : n] = '\0';
    return s;
}

static int builtin_docs(struct docs *d)
{
    static const char *fixed[] = {
        "[]", "[[[]],[]]", "[ [], [[], [[]]], [] ]", "[[]", "[]]", "[1]",
    };
    size_t i;
    for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (docs_add(d, strdup(fixed[i])) < 0)
            return -1;
    if (docs_add(d, nested(1000, 1)) < 0 ||     /* deep but fine */
        docs_add(d, nested(1000000, 0)) < 0 ||  /* hostile */
        docs_add(d, nested(1000000, 1)) < 0 ||  /* hostile, well formed */
        docs_add(d, strdup("[[],[[]]]")) < 0)   /* and life goes on */
        return -1;
    for (i = 0; i < d->n; i++)
        if (!d->v[i])
            return -1;
    return 0;
}

static int file_docs(struct docs *d, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f) {
        perror(path);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (docs_add(d, line) < 0)
            break;
        line = NULL;
        cap = 0;
    }
    free(line);
    fclose(f);
    return 0;
}

/* ---- tasks */

static int64_t t_start;

static double ms_since_start(void)
{
    return (double)(uco_now() - t_start) / 1e6;
}

static void *heartbeat(void *arg)
{
    int64_t next = t_start;
    int n = 0;
    (void)arg;
    for (;;) {
        next += UCO_MSEC(100);
        if (uco_sleep_until(next) < 0)
            return NULL; /* cancelled: the parsing is done */
        printf("    [heartbeat %d at %.0f ms]\n", ++n, ms_since_start());
    }
}

static void show_doc(size_t i, const char *s)
{
    size_t len = strlen(s);
    if (len <= 40)
        printf("document %zu: \"%s\"\n", i + 1, s);
    else
        printf("document %zu: \"%.24s...\" (%zu bytes)\n", i + 1, s, len);
}

static void report(const char *how, int rc, const struct parser *p)
{
    printf("  %-8s ", how);
    if (rc > 0)
        printf("depth %d\n", rc);
    else if (rc == UCO_ESTACK)
        printf("too deeply nested: the stack overflowed at about level "
               "%d; the sandbox caught it (%s)\n",
               p->deepest, uco_strerror(rc));
    else if (rc == TOO_DEEP)
        printf("too deeply nested: refused at level %d with %zu bytes of "
               "stack left\n",
               p->deepest, p->left_at_refusal);
    else if (rc == -EINVAL)
        printf("syntax error at offset %zu\n", p->pos);
    else
        printf("error: %s\n", uco_strerror(rc));
}

static void *parse_all(void *arg)
{
    struct docs *d = arg;
    uco_attr sandbox = { .stack_size = PARSE_STACK, .flags = UCO_SANDBOX };
    char name[32];
    size_t i;

    for (i = 0; i < d->n; i++) {
        struct parser p = { d->v[i], 0, 0, 0 };
        uco_task *t;
        void *r = NULL;
        int rc;

        show_doc(i, d->v[i]);

        /* plain recursion in a sandboxed task */
        snprintf(name, sizeof name, "parse-%zu", i + 1);
        sandbox.name = name;
        rc = uco_spawn(&t, plain_parse, &p, &sandbox);
        if (rc == 0)
            rc = uco_join(t, &r, UCO_NEVER);
        report("plain:", rc == 0 ? (int)(intptr_t)r : rc, &p);

        /* the cooperative check, in uco_call's sandbox */
        memset(&p, 0, sizeof p);
        p.s = d->v[i];
        sandbox.name = NULL;
        rc = uco_call(checked_parse, &p, &sandbox, &r);
        report("checked:", rc == 0 ? (int)(intptr_t)r : rc, &p);

        uco_sleep(UCO_MSEC(60)); /* let the heartbeat show */
    }
    return NULL;
}

static void *main_task(void *arg)
{
    uco_task *hb, *parser;
    uco_spawn(&hb, heartbeat, NULL, NULL);
    uco_spawn(&parser, parse_all, arg, NULL);
    uco_join(parser, NULL, UCO_NEVER);
    uco_cancel(hb);
    uco_join(hb, NULL, UCO_NEVER);
    return NULL;
}

static void usage(FILE *out)
{
    fputs("usage: sandbox [FILE]\n"
          "\n"
          "Parses documents of nested brackets (\"[[[]],[]]\": arrays of\n"
          "arrays), one a line from FILE or built-in ones, and prints each\n"
          "one's depth, or why it was refused.  Every document is parsed\n"
          "twice: by a plain recursive parser running in a task spawned\n"
          "with UCO_SANDBOX, where a document nested too deeply overflows\n"
          "the stack into its guard region and only that task ends\n"
          "(UCO_ESTACK); and by a parser that checks uco_stack_remaining()\n"
          "at each level and refuses early with its own error, run with\n"
          "uco_call.  A heartbeat task prints every 100 ms meanwhile, to\n"
          "show that an overflow stops nothing else.\n",
          out);
}

int main(int argc, char **argv)
{
    struct docs d = { NULL, 0, 0 };
    size_t i;
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 2) {
        usage(stderr);
        return 2;
    }
    if (argc == 2 ? file_docs(&d, argv[1]) < 0 : builtin_docs(&d) < 0) {
        fprintf(stderr, "sandbox: cannot read the documents\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_start = uco_now();
    rc = uco_run(main_task, &d, NULL);
    printf("%zu documents in %.0f ms\n", d.n, ms_since_start());
    for (i = 0; i < d.n; i++)
        free(d.v[i]);
    free(d.v);
    if (rc < 0) {
        fprintf(stderr, "sandbox: %s\n", uco_strerror(rc));
        return 1;
    }
    return 0;
}
