/*
 * generator - iterators whose local state persists between calls.
 *
 * 1. An in-order walk of a binary search tree, written as the plain
 *    recursive function it is, yielding each key from whatever depth it
 *    has reached:
 *
 *      def inorder(node):
 *          if node:
 *              yield from inorder(node.left)
 *              yield node.key
 *              yield from inorder(node.right)
 *
 *    The recursion's frames live on the generator's own stack, so they
 *    stay put while the caller runs.
 *
 * 2. The same walk stopped early: the caller breaks out after k keys and
 *    destroys the generator (Python's it.close()).  The pending
 *    uco_gen_yield returns -ECANCELED (GeneratorExit), the recursion
 *    unwinds, and the handler pushed with uco_defer (a finally: clause)
 *    runs.
 *
 * 3. A tokenizer over an expression string, whose position and current
 *    token are locals of the generator body.
 *
 * No scheduler is involved: generators are driven by plain calls.
 */
#include <ucoro.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tree */

struct node {
    long key;
    struct node *left, *right;
};

static int tree_height; /* levels below the root of the deepest key */

static int insert(struct node **root, long key)
{
    struct node **p = root, *n;
    int depth = 0;

    while (*p) {
        p = key < (*p)->key ? &(*p)->left : &(*p)->right;
        depth++;
    }
    if (depth > tree_height)
        tree_height = depth;
    n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    n->key = key;
    *p = n;
    return 0;
}

static void free_tree(struct node *n)
{
    if (!n)
        return;
    free_tree(n->left);
    free_tree(n->right);
    free(n);
}

/* ---------------------------------------------------------------- in-order */

struct walk {
    struct node *root;
    int yielded;     /* keys handed out so far */
    int depth;       /* depth of the pending yield */
    int deepest;     /* deepest recursion reached */
    bool stopped;    /* the walk was cancelled (destroyed early) */
    bool verbose;    /* say what happens on the way out */
};

/* Called when the generator body ends, however it ends (a finally:). */
static void walk_cleanup(void *arg)
{
    struct walk *w = arg;
    if (w->verbose)
        printf("  [generator] deferred handler: cleaned up after %d value%s"
               " (%s)\n",
               w->yielded, w->yielded == 1 ? "" : "s",
               w->stopped ? "stopped early" : "walk complete");
}

/* Yield the keys below n in order.  0, or -ECANCELED: unwind. */
static int inorder(uco_gen *gen, struct walk *w, struct node *n, int depth)
{
    int rc;

    if (!n)
        return 0;
    if (depth > w->deepest)
        w->deepest = depth;
    if (uco_stack_remaining() < 4096)
        return -ENOMEM; /* a degenerate tree deeper than the stack */
    rc = inorder(gen, w, n->left, depth + 1);
    if (rc < 0)
        return rc;
    w->depth = depth;
    w->yielded++;
    rc = uco_gen_yield(gen, &n->key);
    if (rc < 0) {
        if (rc == -ECANCELED && w->verbose)
            printf("  [generator] pending yield at depth %d returned "
                   "-ECANCELED (%s): unwinding\n",
                   depth, uco_strerror(rc));
        w->stopped = true;
        return rc;
    }
    return inorder(gen, w, n->right, depth + 1);
}

/* Attributes for a walk: a stack big enough for the tree's height (a
 * sorted input makes a list of a tree), about 64 bytes per level. */
static const uco_attr *walk_attr(uco_attr *a)
{
    memset(a, 0, sizeof *a);
    a->name = "inorder";
    a->stack_size = (size_t)64 * 1024 + (size_t)tree_height * 128;
    return a;
}

/* The generator body: push the cleanup, then walk. */
static void inorder_gen(uco_gen *gen, void *arg)
{
    struct walk *w = arg;

    if (uco_defer(walk_cleanup, w) < 0)
        return;
    inorder(gen, w, w->root, 0);
}

/* Print every key of the tree, in order.  0 or an error code. */
static int print_all(struct node *root, int *count)
{
    struct walk w = { .root = root, .verbose = false };
    uco_attr a;
    uco_gen *gen;
    void *v;
    int rc;

    rc = uco_gen_create(&gen, inorder_gen, &w, walk_attr(&a));
    if (rc < 0)
        return rc;
    *count = 0;
    printf(" ");
    while ((rc = uco_gen_next(gen, &v)) == 1) {
        printf(" %ld", *(long *)v);
        (*count)++;
    }
    printf("\n");
    printf("  (recursion went %d level%s deep inside the generator)\n",
           w.deepest, w.deepest == 1 ? "" : "s");
    uco_gen_destroy(gen);
    return rc; /* 0: the walk finished */
}

/* Take the first k keys, then stop and destroy the generator. */
static int print_first(struct node *root, int k)
{
    struct walk w = { .root = root, .verbose = true };
    uco_attr a;
    uco_gen *gen;
    void *v;
    int rc, i = 0;

    rc = uco_gen_create(&gen, inorder_gen, &w, walk_attr(&a));
    if (rc < 0)
        return rc;
    rc = 1;
    while (i < k && (rc = uco_gen_next(gen, &v)) == 1) {
        printf("  next() -> %ld\n", *(long *)v);
        fflush(stdout);
        i++;
    }
    if (rc <= 0) {
        if (rc == 0)
            printf("  (the walk ended after %d value%s: nothing left to stop)\n",
                   i, i == 1 ? "" : "s");
        uco_gen_destroy(gen);
        return rc;
    }
    printf("  break after %d value%s; uco_gen_destroy():\n", i, i == 1 ? "" : "s");
    if (i == 0)
        printf("  (the body never started: nothing to unwind)\n");
    fflush(stdout);
    uco_gen_destroy(gen);
    return 0;
}

/* ---------------------------------------------------------------- tokens */

enum tok_kind { T_NUM, T_NAME, T_OP, T_LPAREN, T_RPAREN, T_BAD };

static const char *const kind_name[] = { "NUM", "NAME", "OP", "LPAREN",
                                         "RPAREN", "BAD" };

struct token {
    enum tok_kind kind;
    const char *text; /* into the source string */
    int len;
    int pos;          /* offset in the source */
};

/* The tokenizer body: its cursor and the token it yields are locals that
 * persist from one uco_gen_next to the next. */
static void tokenize(uco_gen *gen, void *arg)
{
    const char *src = arg, *p = src;
    struct token tok;

    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return; /* StopIteration */
        tok.text = p;
        tok.pos = (int)(p - src);
        if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            tok.kind = T_NUM;
            while (isdigit((unsigned char)*p) || *p == '.')
                p++;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            tok.kind = T_NAME;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
        } else if (strchr("+-*/%^=<>!", *p)) {
            tok.kind = T_OP;
            p++;
            if ((p[-1] == '*' && *p == '*') || (strchr("=<>!", p[-1]) && *p == '='))
                p++; /* ** == <= >= != */
        } else if (*p == '(') {
            tok.kind = T_LPAREN;
            p++;
        } else if (*p == ')') {
            tok.kind = T_RPAREN;
            p++;
        } else {
            tok.kind = T_BAD;
            p++;
        }
        tok.len = (int)(p - tok.text);
        if (uco_gen_yield(gen, &tok) < 0)
            return;
    }
}

static int print_tokens(const char *expr)
{
    uco_gen *gen;
    void *v;
    int rc, n = 0, bad = 0, depth = 0;

    rc = uco_gen_create(&gen, tokenize, (void *)expr, NULL);
    if (rc < 0)
        return rc;
    while ((rc = uco_gen_next(gen, &v)) == 1) {
        const struct token *t = v;
        printf("  %3d  %-6s %.*s\n", t->pos, kind_name[t->kind], t->len, t->text);
        n++;
        bad += t->kind == T_BAD;
        depth += t->kind == T_LPAREN ? 1 : t->kind == T_RPAREN ? -1 : 0;
        if (depth < 0)
            bad++;
    }
    uco_gen_destroy(gen);
    if (rc < 0)
        return rc;
    printf("  %d token%s%s\n", n, n == 1 ? "" : "s",
           bad || depth ? ", some unexpected (bad characters or parentheses)" : "");
    return 0;
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fputs(
        "usage: generator [-k K] [-e EXPR] [NUMBER...]\n"
        "\n"
        "Generators: functions whose locals persist between calls, driven\n"
        "by plain calls (no scheduler).  In Python:\n"
        "\n"
        "    def inorder(node):                # a generator function\n"
        "        try:\n"
        "            if node:\n"
        "                yield from inorder(node.left)\n"
        "                yield node.key\n"
        "                yield from inorder(node.right)\n"
        "        finally:\n"
        "            print(\"cleaned up\")\n"
        "\n"
        "    for key in inorder(root):         # all of them\n"
        "        print(key)\n"
        "\n"
        "    it = inorder(root)                # only the first k\n"
        "    for i, key in enumerate(it):\n"
        "        if i == k - 1: break\n"
        "    it.close()                        # GeneratorExit at the yield\n"
        "\n"
        "and in C with ucoro:\n"
        "\n"
        "    it = inorder(root)      uco_gen_create(&gen, inorder_gen, &w, NULL)\n"
        "    next(it)                rc = uco_gen_next(gen, &value)\n"
        "                              1: a value; 0: StopIteration\n"
        "    yield x                 uco_gen_yield(gen, &x)\n"
        "                              0, or -ECANCELED where Python raises\n"
        "                              GeneratorExit: return, unwinding\n"
        "    finally: ...            uco_defer(cleanup, arg) in the body\n"
        "    it.close(); del it      uco_gen_destroy(gen)\n"
        "\n"
        "The body is an ordinary recursive C function: it runs on its own\n"
        "guarded stack, so its whole call chain stays suspended at the yield\n"
        "while the caller runs (Python needs one generator object per\n"
        "level, chained by yield from).\n"
        "\n"
        "This program builds a binary search tree from the NUMBERs (default:\n"
        "50 30 70 20 40 60 80 35 65 10), prints its keys in order, then takes\n"
        "only the first K (default 3) and destroys the generator: its pending\n"
        "yield returns -ECANCELED and its deferred handler reports the\n"
        "cleanup.  Last, a tokenizer generator splits EXPR (default\n"
        "\"3*(x1 + 42.5) - y**2 / (7-z)\") into tokens.\n",
        f);
}

int main(int argc, char **argv)
{
    static const long defaults[] = { 50, 30, 70, 20, 40, 60, 80, 35, 65, 10 };
    const char *expr = "3*(x1 + 42.5) - y**2 / (7-z)";
    struct node *root = NULL;
    int k = 3, i, rc, count, nkeys = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        long v;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            free_tree(root);
            return 0;
        }
        if (strcmp(a, "-k") == 0 && i + 1 < argc) {
            errno = 0;
            v = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v < 0 || v > INT_MAX) {
                fprintf(stderr, "generator: -k wants a count, not '%s'\n", argv[i]);
                free_tree(root);
                return 2;
            }
            k = (int)v;
            continue;
        }
        if (strcmp(a, "-e") == 0 && i + 1 < argc) {
            expr = argv[++i];
            continue;
        }
        errno = 0;
        v = strtol(a, &end, 10);
        if (errno || *end || end == a) {
            fprintf(stderr, "generator: not a number: '%s' (try --help)\n", a);
            free_tree(root);
            return 2;
        }
        rc = insert(&root, v);
        if (rc < 0) {
            fprintf(stderr, "generator: %s\n", uco_strerror(rc));
            free_tree(root);
            return 1;
        }
        nkeys++;
    }
    if (nkeys == 0) {
        for (i = 0; i < (int)(sizeof defaults / sizeof defaults[0]); i++) {
            rc = insert(&root, defaults[i]);
            if (rc < 0) {
                fprintf(stderr, "generator: %s\n", uco_strerror(rc));
                free_tree(root);
                return 1;
            }
        }
        nkeys = i;
    }

    printf("In-order walk of a search tree of %d key%s:\n", nkeys, nkeys == 1 ? "" : "s");
    rc = print_all(root, &count);
    if (rc < 0)
        goto fail;
    if (count != nkeys) {
        fprintf(stderr, "generator: the walk gave %d keys, not %d (tree too deep"
                " for the generator's stack?)\n", count, nkeys);
        free_tree(root);
        return 1;
    }

    printf("\nThe first %d, then stop early:\n", k);
    rc = print_first(root, k);
    if (rc < 0)
        goto fail;

    printf("\nTokens of \"%s\":\n", expr);
    rc = print_tokens(expr);
    if (rc < 0)
        goto fail;
    free_tree(root);
    return 0;

fail:
    fprintf(stderr, "generator: %s\n", uco_strerror(rc));
    free_tree(root);
    return 1;
}
