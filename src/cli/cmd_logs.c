/*
 * cmd_logs.c - `berth logs login|repository`: a registry's event logs
 * (or, with --all, every registry's and the directory's), filtered on the
 * server; --follow keeps the server's stream open for new events until
 * interrupted.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col login_cols[] = {
    {"TIME", "time"},           {"TYPE", "identityType"}, {"IDENTITY", "identity"},    {"IP", "clientIp"},
    {"OPERATION", "operation"}, {"STATUS", "status"},     {"REASON", "reason"},        {"MESSAGE", "message"},
    {"USER AGENT", "userAgent"},
};
/* --all: the registry too ("-" for the directory's logins) */
static const struct cli_col all_login_cols[] = {
    {"TIME", "time"},         {"REGISTRY", "registry"}, {"TYPE", "identityType"}, {"IDENTITY", "identity"},
    {"IP", "clientIp"},       {"OPERATION", "operation"}, {"STATUS", "status"},   {"REASON", "reason"},
    {"MESSAGE", "message"}, {"USER AGENT", "userAgent"},
};
static const struct cli_col repo_cols[] = {
    {"TIME", "time"}, {"TYPE", "identityType"}, {"IDENTITY", "identity"}, {"IP", "clientIp"},
    {"OPERATION", "operation"}, {"REPOSITORY", "repository"}, {"TAG", "tag"}, {"DIGEST", "digest"},
    {"STATUS", "status"},
};

struct logs_args {
    const char *registry;
    const char *filter[8]; /* in the order of filter_names */
    int failed, challenges, follow, all;
    long long limit;
};

static const char *const filter_names[] = {"since", "until", "identity", "ip", "reason", "repository", "operation"};
#define NFILTERS (sizeof(filter_names) / sizeof(filter_names[0]))

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The query string of the filters ("failed=true&since=1h&..."), without '?'. */
static char *query_of(const struct logs_args *a)
{
    struct berth_buf q = BERTH_BUF_INIT(0);
    char n[32];
    size_t i;

    if (a->failed) berth_client_form_add(&q, "failed", "true");
    if (a->challenges) berth_client_form_add(&q, "challenges", "true");
    for (i = 0; i < NFILTERS; i++)
        if (a->filter[i]) berth_client_form_add(&q, filter_names[i], a->filter[i]);
    if (a->limit) {
        snprintf(n, sizeof(n), "%lld", a->limit);
        berth_client_form_add(&q, "limit", n);
    }
    return berth_buf_detach(&q, NULL);
}

/* Prints one event: a JSON line with --json, else its cells separated by two spaces. */
static void print_event(const struct cli_ctx *ctx, const json_t *ev, const struct cli_col *cols, size_t ncols)
{
    size_t c;
    if (ctx->json) {
        char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        printf("%s\n", s ? s : "{}");
        free(s);
        return;
    }
    for (c = 0; c < ncols; c++) {
        char *v = cli_json_cell(ev, cols[c].path);
        printf("%s%s", c ? "  " : "", v);
        free(v);
    }
    putchar('\n');
}

struct follow {
    const struct cli_ctx *ctx;
    const char *kind;
    const struct cli_col *cols;
    size_t ncols;
    long long last;
};

static int on_event_line(const char *line, size_t len, void *arg)
{
    struct follow *f = arg;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *log = json_string_value(json_object_get(ev, "log"));

    if (json_is_integer(json_object_get(ev, "id")) && json_integer_value(json_object_get(ev, "id")) > f->last)
        f->last = json_integer_value(json_object_get(ev, "id"));
    if (ev && log && !strcmp(log, f->kind)) {
        print_event(f->ctx, ev, f->cols, f->ncols);
        fflush(stdout);
    }
    json_decref(ev);
    return 0;
}

/*
 * --follow: reads GET .../logs/stream?follow=true, which the server keeps
 * open and feeds with each new event as it is stored, and prints the events
 * of log kind until SIGINT. When the stream ends (the server restarted), it
 * reconnects after a second from the last id it printed.
 */
static enum berth_rc follow_events(struct cli_ctx *ctx, const char *base, const char *kind, const char *query,
                                   const struct cli_col *cols, size_t ncols, struct berth_err *err)
{
    struct follow f = {ctx, kind, cols, ncols, -1};
    enum berth_rc rc = BERTH_OK;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    while (!interrupted) {
        struct berth_client_resp rs;
        struct berth_client_req rq = {.method = "GET", .accept = "application/x-ndjson", .on_line = on_event_line,
                             .line_arg = &f, .cancel = &interrupted};
        char *tok = NULL, *auth = NULL, *path;
        struct timespec second = {1, 0};

        if (f.last >= 0)
            path = berth_xasprintf("/api/v1%s/logs/stream?follow=true&after=%lld%s%s", base, f.last,
                                   *query ? "&" : "", query);
        else
            path = berth_xasprintf("/api/v1%s/logs/stream?follow=true%s%s", base, *query ? "&" : "", query);
        rc = berth_client_directory_token(&ctx->client, &tok, err); /* cached: one per run */
        if (!rc) {
            auth = berth_xasprintf("Bearer %s", tok);
            rq.path = path;
            rq.auth = auth;
            rc = berth_client_do(&ctx->client, &rq, &rs, err);
            if (f.last < 0) f.last = 0;
            berth_client_resp_release(&rs);
        }
        free(path);
        free(auth);
        free(tok);
        if (rc) break;
        if (!interrupted) nanosleep(&second, NULL);
    }
    return interrupted ? BERTH_OK : rc;
}

static int logs_run(int argc, char **argv, struct cli_ctx *ctx, const char *kind)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct logs_args a;
    struct cli_list pos = {0};
    const struct cli_col *cols = !strcmp(kind, "login") ? login_cols : repo_cols;
    size_t ncols = !strcmp(kind, "login") ? CLI_NCOLS(login_cols) : CLI_NCOLS(repo_cols), i;
    char *q = NULL, *path = NULL, *base = NULL;
    json_t *ans = NULL, *ev;
    const struct cli_opt opts[] = {
        CLI_REGISTRY_OPT("name", &a.registry),
        {"failed", 0, CLI_OPT_FLAG, &a.failed, NULL,
         "failures only (status 400 or more), without the 401 challenge that starts every login"},
        {"challenges", 0, CLI_OPT_FLAG, &a.challenges, NULL,
         "with --failed: the NO_CREDENTIALS challenges too"},
        {"since", 0, CLI_OPT_STR, &a.filter[0], "WHEN",
         "RFC 3339, a day (2026-12-05, today, yesterday: from 00:00 UTC) or an age like 90s, 15m, 1h, 7d"},
        {"until", 0, CLI_OPT_STR, &a.filter[1], "WHEN", "like --since (exclusive)"},
        {"identity", 0, CLI_OPT_STR, &a.filter[2], "NAME", "the identity's name or id"},
        {"ip", 0, CLI_OPT_STR, &a.filter[3], "ADDR", "the client IP"},
        {"reason", 0, CLI_OPT_STR, &a.filter[4], "CODE", "a reason code (BAD_SECRET, ...)"},
        {"repository", 0, CLI_OPT_STR, &a.filter[5], "REPO", "a repository name"},
        {"operation", 0, CLI_OPT_STR, &a.filter[6], "OP", "an operation (token_get, push, ...)"},
        {"limit", 0, CLI_OPT_INT, &a.limit, "N", "events to show, 1 to 1000 (default 100)"},
        {"follow", 'f', CLI_OPT_FLAG, &a.follow, NULL, "keep printing new events until interrupted"},
        {"all", 0, CLI_OPT_FLAG, &a.all, NULL, "every registry's events and the directory's logins (needs Reader on /)"},
        CLI_OPT_END};
    int ret;

    memset(&a, 0, sizeof(a));
    ret = cli_mgmt_parse(ctx, "(-n REGISTRY | --all) [--failed] [--since WHEN] [--until WHEN] [filters] [--limit N] "
                              "[--json] [--follow]",
                         "Shows a registry's events, newest first (--follow: oldest first, then new ones as they come;"
                         "\n--json: one JSON object per line).", opts, argc, argv, &pos, 0);
    if (ret == CLI_CONTINUE && a.all && a.registry) ret = cli_usage_error(ctx, "give -n REGISTRY or --all, not both");
    if (ret == CLI_CONTINUE && !a.all) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret && (a.limit < 0 || a.limit > 1000)) ret = cli_usage_error(ctx, "--limit takes 1 to 1000");
    if (!ret && a.challenges && !a.failed) ret = cli_usage_error(ctx, "--challenges goes with --failed");
    if (ret) goto out;
    if (a.all && !strcmp(kind, "login")) {
        cols = all_login_cols;
        ncols = CLI_NCOLS(all_login_cols);
    }
    base = a.all ? berth_xstrdup("") : berth_xasprintf("/registries/%s", a.registry);
    q = query_of(&a);
    if (a.follow) {
        if (follow_events(ctx, base, kind, q, cols, ncols, &err)) goto fail;
        ret = 0;
        goto out;
    }
    path = berth_xasprintf("%s/logs/%s%s%s", base, kind, *q ? "?" : "", q);
    if (berth_client_api(&ctx->client, "GET", path, NULL, &ans, &err)) goto fail;
    if (ctx->json)
        json_array_foreach(json_object_get(ans, "value"), i, ev) print_event(ctx, ev, cols, ncols);
    else
        cli_out_table(stdout, json_object_get(ans, "value"), cols, ncols);
    ret = 0;
    goto out;
fail:
    ret = cli_fail(&err);
out:
    json_decref(ans);
    free(q);
    free(path);
    free(base);
    cli_list_release(&pos);
    return ret;
}

static int logs_login(int argc, char **argv, struct cli_ctx *ctx)
{
    return logs_run(argc, argv, ctx, "login");
}

static int logs_repository(int argc, char **argv, struct cli_ctx *ctx)
{
    return logs_run(argc, argv, ctx, "repository");
}

static const struct cli_verb verbs[] = {
    {"login", logs_login, "logins and refused credentials"},
    {"repository", logs_repository, "pushes, pulls and deletes"},
};

int cmd_logs(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A registry's event logs.", verbs, CLI_NVERBS(verbs), argc, argv);
}
