/*
 * cmd_logs.c - `berth logs login|repository`: a registry's event logs,
 * filtered on the server; --follow polls the stream endpoint for new events
 * until interrupted.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "berth/alloc.h"
#include "cli.h"
#include "berth/banned.h"

static const struct cli_col login_cols[] = {
    {"TIME", "time"}, {"TYPE", "identityType"}, {"IDENTITY", "identity"}, {"IP", "clientIp"},
    {"OPERATION", "operation"}, {"STATUS", "status"}, {"REASON", "reason"},
};
static const struct cli_col repo_cols[] = {
    {"TIME", "time"}, {"TYPE", "identityType"}, {"IDENTITY", "identity"}, {"IP", "clientIp"},
    {"OPERATION", "operation"}, {"REPOSITORY", "repository"}, {"TAG", "tag"}, {"DIGEST", "digest"},
    {"STATUS", "status"},
};

struct logs_args {
    const char *registry;
    const char *filter[8]; /* in the order of filter_names */
    int failed, follow;
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

    if (a->failed) cli_form_add(&q, "failed", "true");
    for (i = 0; i < NFILTERS; i++)
        if (a->filter[i]) cli_form_add(&q, filter_names[i], a->filter[i]);
    if (a->limit) {
        snprintf(n, sizeof(n), "%lld", a->limit);
        cli_form_add(&q, "limit", n);
    }
    return berth_buf_detach(&q, NULL);
}

/* Prints one event: a JSON line with --json, else its cells separated by two spaces. */
static void print_event(const struct cli_ctx *ctx, const json_t *ev, const struct cli_col *cols, size_t ncols)
{
    size_t c;
    if (ctx->json) {
        char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
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

/*
 * --follow: polls GET .../logs/stream?after=<last id> every second and prints
 * the new events of log kind until SIGINT. This is the one place to change
 * when the server offers a long-lived follow=true stream.
 */
static enum berth_rc follow_events(struct cli_ctx *ctx, const char *registry, const char *kind, const char *query,
                                   const struct cli_col *cols, size_t ncols, struct berth_err *err)
{
    long long last = -1;
    enum berth_rc rc = BERTH_OK;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    while (!interrupted) {
        struct cli_resp rs;
        struct cli_req rq = {"GET", NULL, NULL, NULL, NULL, NULL, 0, "application/x-ndjson"};
        char *tok = NULL, *auth = NULL, *path, *line, *nl;
        struct timespec second = {1, 0};

        if (last >= 0)
            path = berth_xasprintf("/api/v1/registries/%s/logs/stream?after=%lld%s%s", registry, last,
                                   *query ? "&" : "", query);
        else
            path = berth_xasprintf("/api/v1/registries/%s/logs/stream%s%s", registry, *query ? "?" : "", query);
        rc = cli_session_directory_token(ctx, &tok, err); /* cached: one per run */
        if (!rc) {
            auth = berth_xasprintf("Bearer %s", tok);
            rq.path = path;
            rq.auth = auth;
            rc = cli_http_do(ctx, &rq, &rs, err);
            for (line = rs.body.p; !rc && line && *line; line = nl ? nl + 1 : NULL) {
                json_t *ev;
                nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                ev = json_loads(line, 0, NULL);
                if (json_is_integer(json_object_get(ev, "id")) && json_integer_value(json_object_get(ev, "id")) > last)
                    last = json_integer_value(json_object_get(ev, "id"));
                if (ev && !strcmp(json_string_value(json_object_get(ev, "log")) ? json_string_value(json_object_get(ev, "log")) : "", kind))
                    print_event(ctx, ev, cols, ncols);
                json_decref(ev);
            }
            if (last < 0) last = 0;
            cli_resp_release(&rs);
            fflush(stdout);
        }
        free(path);
        free(auth);
        free(tok);
        if (rc) break;
        nanosleep(&second, NULL);
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
    char *q = NULL, *path = NULL;
    json_t *ans = NULL, *ev;
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STR, &a.registry, "REGISTRY", "the registry name"},
        {"failed", 0, CLI_OPT_FLAG, &a.failed, NULL, "failures only (status 400 or more)"},
        {"since", 0, CLI_OPT_STR, &a.filter[0], "WHEN", "RFC 3339 or an age like 90s, 15m, 1h, 7d"},
        {"until", 0, CLI_OPT_STR, &a.filter[1], "WHEN", "RFC 3339 or an age (exclusive)"},
        {"identity", 0, CLI_OPT_STR, &a.filter[2], "NAME", "the identity's name or id"},
        {"ip", 0, CLI_OPT_STR, &a.filter[3], "ADDR", "the client IP"},
        {"reason", 0, CLI_OPT_STR, &a.filter[4], "CODE", "a reason code (BAD_SECRET, ...)"},
        {"repository", 0, CLI_OPT_STR, &a.filter[5], "REPO", "a repository name"},
        {"operation", 0, CLI_OPT_STR, &a.filter[6], "OP", "an operation (token_get, push, ...)"},
        {"limit", 0, CLI_OPT_INT, &a.limit, "N", "events to show, 1 to 1000 (default 100)"},
        {"follow", 'f', CLI_OPT_FLAG, &a.follow, NULL, "keep printing new events until interrupted"},
        CLI_OPT_END};
    int ret;

    memset(&a, 0, sizeof(a));
    ret = cli_mgmt_parse(ctx, "-n REGISTRY [--failed] [--since WHEN] [--until WHEN] [filters] [--limit N] [--json] "
                              "[--follow]",
                         "Shows a registry's events, newest first (--follow: oldest first, then new ones as they come;"
                         "\n--json: one JSON object per line).", opts, argc, argv, &pos, 0);
    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret && (a.limit < 0 || a.limit > 1000)) ret = cli_usage_error(ctx, "--limit takes 1 to 1000");
    if (ret) goto out;
    q = query_of(&a);
    if (a.follow) {
        if (follow_events(ctx, a.registry, kind, q, cols, ncols, &err)) goto fail;
        ret = 0;
        goto out;
    }
    path = berth_xasprintf("/registries/%s/logs/%s%s%s", a.registry, kind, *q ? "?" : "", q);
    if (cli_api(ctx, "GET", path, NULL, &ans, &err)) goto fail;
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
