/*
 * opt.c - the CLI's table-driven option parser, its generated usage, the
 * dispatcher of second-level verbs, and the release of a run's context.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

void cli_list_release(struct cli_list *l)
{
    if (!l) return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void cli_groups_release(struct cli_groups *g)
{
    size_t i;
    if (!g) return;
    for (i = 0; i < g->n; i++) cli_list_release(&g->g[i]);
    free(g->g);
    g->g = NULL;
    g->n = 0;
}

static void list_push(struct cli_list *l, const char *v)
{
    l->v = berth_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = v;
}

int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "berth %s: ", ctx->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'berth %s --help'\n", ctx->cmd);
    return 2;
}

int cli_fail(const struct berth_err *err)
{
    fprintf(stderr, "berth: %s\n", berth_err_msg(err));
    return 1;
}

static const struct cli_opt *find_long(const struct cli_opt *t, const char *name, size_t len)
{
    for (; t && t->name; t++)
        if (strlen(t->name) == len && !strncmp(t->name, name, len)) return t;
    return NULL;
}

static const struct cli_opt *find_short(const struct cli_opt *t, char c)
{
    for (; t && t->name; t++)
        if (t->short_name && t->short_name == c) return t;
    return NULL;
}

/* Stores value v for option o; returns 0 or a usage error's exit code. */
static int store(const struct cli_ctx *ctx, const struct cli_opt *o, const char *shown, const char *v)
{
    char *end = NULL;
    long long n;

    switch (o->type) {
    case CLI_OPT_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case CLI_OPT_STR:
        *(const char **)o->dest = v;
        return 0;
    case CLI_OPT_INT:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (!*v || *end || errno)
            return cli_usage_error(ctx, "option '%s' takes a whole number, not '%s'", shown, v);
        *(long long *)o->dest = n;
        return 0;
    case CLI_OPT_BOOL:
        if (!strcmp(v, "true")) *(int *)o->dest = 1;
        else if (!strcmp(v, "false")) *(int *)o->dest = 0;
        else return cli_usage_error(ctx, "option '%s' takes true or false, not '%s'", shown, v);
        return 0;
    case CLI_OPT_LIST:
        list_push(o->dest, v);
        return 0;
    case CLI_OPT_GROUP: {
        struct cli_groups *g = o->dest;
        g->g = berth_xrealloc(g->g, (g->n + 1) * sizeof(*g->g));
        g->g[g->n].v = NULL;
        g->g[g->n].n = 0;
        list_push(&g->g[g->n++], v);
        return 0;
    }
    }
    return 0;
}

static void cli_opt_usage(FILE *out, const struct cli_ctx *ctx, const char *synopsis, const char *description,
                          const struct cli_opt *opts, const struct cli_opt *common);

int cli_opt_parse(const struct cli_ctx *ctx, const char *synopsis, const char *description,
                  const struct cli_opt *opts, const struct cli_opt *common, int argc, char **argv,
                  struct cli_list *pos)
{
    struct cli_groups *group = NULL; /* the GROUP option collecting extra values */
    int i, only_pos = 0, rc;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL, *eq;
        const struct cli_opt *o = NULL;
        char shown[80];

        if (only_pos || a[0] != '-' || !a[1]) {
            if (group && !only_pos) list_push(&group->g[group->n - 1], a);
            else list_push(pos, a);
            continue;
        }
        group = NULL;
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_opt_usage(stdout, ctx, synopsis, description, opts, common);
            return CLI_HELP_SHOWN;
        }
        if (a[1] == '-') {
            size_t len;
            eq = strchr(a + 2, '=');
            len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            o = find_long(opts, a + 2, len);
            if (!o) o = find_long(common, a + 2, len);
            snprintf(shown, sizeof(shown), "--%.*s", (int)(len > 60 ? 60 : len), a + 2);
            if (eq) val = eq + 1;
        } else {
            o = find_short(opts, a[1]);
            if (!o) o = find_short(common, a[1]);
            snprintf(shown, sizeof(shown), "-%c", a[1]);
            if (a[2]) val = a + 2;
        }
        if (!o) return cli_usage_error(ctx, "unknown option '%s'", shown);
        if (o->type == CLI_OPT_FLAG) {
            if (val) return cli_usage_error(ctx, "option '%s' takes no value", shown);
        } else if (!val) {
            if (i + 1 >= argc) return cli_usage_error(ctx, "option '%s' needs a value (%s)", shown, o->metavar);
            val = argv[++i];
        }
        rc = store(ctx, o, shown, val);
        if (rc) return rc;
        if (o->type == CLI_OPT_GROUP) group = o->dest;
    }
    return CLI_CONTINUE;
}

/* The left column of an option's help line: "-n, --name NAME". */
static void opt_left(const struct cli_opt *t, char *left, size_t n)
{
    const char *mv = t->metavar ? t->metavar : "";
    if (t->short_name) snprintf(left, n, "-%c, --%s%s%s", t->short_name, t->name, *mv ? " " : "", mv);
    else snprintf(left, n, "    --%s%s%s", t->name, *mv ? " " : "", mv);
    if (t->type == CLI_OPT_GROUP && strlen(left) + 3 < n) memcpy(left + strlen(left), "...", 4);
}

static int left_width(const struct cli_opt *t, int w)
{
    char left[80];
    for (; t && t->name; t++) {
        opt_left(t, left, sizeof(left));
        if ((int)strlen(left) > w) w = (int)strlen(left);
    }
    return w;
}

static void usage_rows(FILE *out, const struct cli_opt *t, int w)
{
    char left[80];
    for (; t && t->name; t++) {
        opt_left(t, left, sizeof(left));
        fprintf(out, "  %-*s  %s%s\n", w, left, t->help,
                t->type == CLI_OPT_LIST || t->type == CLI_OPT_GROUP ? " (repeatable)" : "");
    }
}

/* Prints the usage generated from the tables. */
static void cli_opt_usage(FILE *out, const struct cli_ctx *ctx, const char *synopsis, const char *description,
                          const struct cli_opt *opts, const struct cli_opt *common)
{
    int w = left_width(common, left_width(opts, 0));
    fprintf(out, "usage: berth %s %s\n", ctx->cmd, synopsis ? synopsis : "[options]");
    if (description) fprintf(out, "\n%s\n", description);
    if ((opts && opts->name) || (common && common->name)) {
        fprintf(out, "\noptions:\n");
        usage_rows(out, opts, w);
        usage_rows(out, common, w);
    }
}

/* ---------------------------------------------------------------- verbs */

static void verbs_usage(FILE *out, const struct cli_ctx *ctx, const char *description, const struct cli_verb *verbs,
                        size_t n)
{
    size_t i;
    fprintf(out, "usage: berth %s <verb> [options]\n", ctx->cmd);
    if (description) fprintf(out, "\n%s\n", description);
    fprintf(out, "\nverbs:\n");
    for (i = 0; i < n; i++) fprintf(out, "  %-12s %s\n", verbs[i].name, verbs[i].help);
    fprintf(out, "\n'berth %s <verb> --help' describes a verb's options.\n", ctx->cmd);
}

int cli_dispatch(struct cli_ctx *ctx, const char *description, const struct cli_verb *verbs, size_t nverbs,
                 int argc, char **argv)
{
    size_t i, len;

    if (argc < 2) {
        fprintf(stderr, "berth %s: a verb is needed\n", ctx->cmd);
        verbs_usage(stderr, ctx, description, verbs, nverbs);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        verbs_usage(stdout, ctx, description, verbs, nverbs);
        return 0;
    }
    for (i = 0; i < nverbs; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0) continue;
        len = strlen(ctx->cmd);
        snprintf(ctx->cmd + len, sizeof(ctx->cmd) - len, "%s%s", len ? " " : "", verbs[i].name);
        return verbs[i].fn(argc - 1, argv + 1, ctx);
    }
    fprintf(stderr, "berth %s: '%s' is not a verb of 'berth %s'\n", ctx->cmd, argv[1], ctx->cmd);
    verbs_usage(stderr, ctx, description, verbs, nverbs);
    return 2;
}

void cli_ctx_release(struct cli_ctx *ctx)
{
    berth_client_release(&ctx->client);
}
