/*
 * cmd_check_health.c - `berth check-health`: runs the checks of the client
 * library (src/client/health.h) in order against one registry, prints one line per check
 * (and the fix under a failure), stops at the first ERROR unless
 * --ignore-errors, and writes a redacted report with --report.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "version.h"
#include "cli.h"
#include "dockercfg.h"
#include "health.h"
#include "banned.h"

static const char *const status_names[] = {"OK", "WARNING", "ERROR"};

/* Lowercase scheme "http"/"https" and the host and port of url into run. */
static void split_server(struct berth_health_run *run)
{
    char hp[300], scheme[16];
    const char *h, *colon;
    berth_client_url_hostport(run->server_url, hp, sizeof(hp), scheme, sizeof(scheme));
    snprintf(run->scheme, sizeof(run->scheme), "%s", scheme);
    run->server_hp = berth_xstrdup(hp);
    colon = strrchr(hp, ':');
    run->server_port = (int)strtol(colon + 1, NULL, 10);
    h = hp;
    if (*h == '[') run->server_host = berth_xstrndup(h + 1, (size_t)(colon - h - 2));
    else run->server_host = berth_xstrndup(h, (size_t)(colon - h));
}

/* The server to talk to and the login server, from --server, the session, -n or LOGINSERVER. 0 ok. */
static int setup(struct berth_health_run *run)
{
    struct berth_client *cl = run->client;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_client_session s;
    json_t *root = NULL;
    char *path = berth_client_session_path(), hp[300], tgt_hp[300], scheme[16], *tgt = NULL;
    const char *url = NULL, *loopback;
    int ret = 0;

    memset(&s, 0, sizeof(s));
    if (cl->server) {
        if (berth_client_server_url(cl, &url, &err)) {
            fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
            ret = 2;
            goto out;
        }
    } else if (berth_client_session_load(path, &root, &err) == BERTH_OK &&
               berth_client_session_get(root, NULL, &s, &err) == BERTH_OK) {
        url = s.server;
        if (run->target) {
            /* a LOGINSERVER on the session's server (its address, or another registry's name on its port) is
               reached through it, as berth login does; one elsewhere directly */
            berth_client_url_hostport(s.server, hp, sizeof(hp), scheme, sizeof(scheme));
            tgt = berth_xasprintf("%s://%s", scheme, run->target);
            berth_client_url_hostport(tgt, tgt_hp, sizeof(tgt_hp), scheme, sizeof(scheme));
            /* a bare name (a resource name where a login server belongs) stays on the session's server, so
               the name check can name the login server it stands for */
            if (strcasecmp(hp, tgt_hp) != 0 && strcmp(strrchr(hp, ':'), strrchr(tgt_hp, ':')) != 0 &&
                (strchr(run->target, '.') || strchr(run->target, ':')))
                url = NULL;
        }
        if (url) {
            cl->server_url = berth_xstrdup(url);
            if (s.ca_file) cl->session_ca = berth_xstrdup(s.ca_file);
        }
    }
    if (!url && run->target) {
        loopback = !strncmp(run->target, "127.", 4) || !strncmp(run->target, "localhost", 9) ||
                           !strncmp(run->target, "[::1]", 5) || strstr(run->target, ".localhost")
                       ? "http"
                       : "https";
        cl->server_url = berth_xasprintf("%s://%s", loopback, run->target);
        url = cl->server_url;
    }
    if (!url) {
        fprintf(stderr, "berth: no server: pass --server URL or a LOGINSERVER, or log in with 'berth auth login "
                        "--server URL'\n");
        ret = 2;
        goto out;
    }
    run->server_url = berth_xstrdup(url);
    split_server(run);
    if (!run->server_port) {
        fprintf(stderr, "berth: cannot read a port in '%s'\n", run->server_url);
        ret = 2;
        goto out;
    }
    berth_err_clear(&err);
    berth_client_session_release(&s);
    memset(&s, 0, sizeof(s));
    json_decref(root);
    root = NULL;
    run->have_session = berth_client_session_load(path, &root, &err) == BERTH_OK &&
                        berth_client_session_get(root, run->server_url, &s, &err) == BERTH_OK;
    if (run->target) {
        if (strrchr(run->target, ':') && strrchr(run->target, ':') > strrchr(run->target, ']'))
            run->login_server = berth_xstrdup(run->target);
        else
            run->login_server = berth_xasprintf("%s:%d", run->target, run->server_port);
    } else if (!run->name) {
        run->login_server = berth_xstrdup(run->server_hp);
    }
    if (run->name) run->registry = berth_xstrdup(run->name);
out:
    berth_client_session_release(&s);
    json_decref(root);
    free(path);
    free(tgt);
    return ret;
}

static void print_text(const struct berth_health_run *run, size_t nerr, size_t nwarn)
{
    size_t i;
    const struct berth_health_result *r;
    for (i = 0; i < run->nresults; i++) {
        r = &run->results[i];
        if (r->code) printf("%-8s %-19s %s: %s\n", status_names[r->status], r->name, r->code, r->message);
        else printf("%-8s %-19s %s\n", status_names[r->status], r->name, r->message);
        if (r->fix) printf("         fix: %s\n", r->fix);
    }
    printf("%zu checks: %zu error%s, %zu warning%s\n", run->nresults, nerr, nerr == 1 ? "" : "s", nwarn,
           nwarn == 1 ? "" : "s");
}

static json_t *results_json(const struct berth_health_run *run, int ok)
{
    json_t *arr = json_array();
    size_t i;
    for (i = 0; i < run->nresults; i++) {
        const struct berth_health_result *r = &run->results[i];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:s,s:o}", "name", r->name, "status",
                                             status_names[r->status], "code",
                                             r->code ? json_string(r->code) : json_null(), "message", r->message,
                                             "fix", r->fix ? json_string(r->fix) : json_null()));
    }
    return json_pack("{s:o,s:b}", "checks", arr, "ok", ok);
}

/* Environment variables worth a line in the report (values redacted like the rest). */
static const char *const report_env[] = {"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "BERTH_CONFIG_DIR",
                                         "DOCKER_HOST", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                         "ALL_PROXY", "NO_PROXY", "no_proxy", "PATH"};

/* Writes the report: environment, command line, every check, the server's answers; secrets removed. */
static int write_report(struct berth_health_run *run, const char *file)
{
    struct berth_buf raw = BERTH_BUF_INIT(0), clean = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    struct utsname u;
    char now[40], *slash;
    const char *v;
    size_t i;
    int ret = 0;

    berth_time_rfc3339(berth_now_s(), now, sizeof(now));
    berth_buf_printf(&raw, "berth check-health report\n\ntime: %s\nberth: %s\n", now, BERTH_VERSION);
    if (uname(&u) == 0) berth_buf_printf(&raw, "system: %s %s %s\n", u.sysname, u.release, u.machine);
    berth_buf_puts(&raw, "command:");
    for (i = 0; i < (size_t)run->argc; i++) {
        int after_pw = i > 0 && (!strcmp(run->argv[i - 1], "-p") || !strcmp(run->argv[i - 1], "--password"));
        if (after_pw || !strncmp(run->argv[i], "--password=", 11)) berth_buf_puts(&raw, " [REDACTED]");
        else berth_buf_printf(&raw, " %s", run->argv[i]);
    }
    berth_buf_printf(&raw, "\nserver: %s\nlogin server: %s\nregistry: %s\ncredential: %s (%s)\n"
                     "stored for the login server: %s\n\nenvironment:\n",
                     run->server_url, run->login_server ? run->login_server : "-", run->registry ? run->registry : "-",
                     run->source_text ? run->source_text : "none", berth_health_source_name(run->source),
                     run->stored_where ? run->stored_where : "nothing");
    for (i = 0; i < sizeof(report_env) / sizeof(report_env[0]); i++) {
        v = getenv(report_env[i]);
        if (!v) continue;
        slash = strstr(v, "://");
        if (slash && strchr(slash, '@')) berth_buf_printf(&raw, "  %s=%.*s://[REDACTED]@%s\n", report_env[i],
                                                          (int)(slash - v), v, strrchr(v, '@') + 1);
        else berth_buf_printf(&raw, "  %s=%s\n", report_env[i], v);
    }
    berth_buf_puts(&raw, "\nchecks:\n");
    for (i = 0; i < run->nresults; i++) {
        const struct berth_health_result *r = &run->results[i];
        berth_buf_printf(&raw, "  %-8s %-19s %-19s %s%s%s\n", status_names[r->status], r->section, r->name,
                         r->code ? r->code : "", r->code ? ": " : "", r->message);
        if (r->fix) berth_buf_printf(&raw, "           fix: %s\n", r->fix);
    }
    berth_buf_puts(&raw, "\nserver answers:\n");
    berth_buf_append(&raw, run->log.p ? run->log.p : "", run->log.len);
    berth_health_secret(run, run->client->password);
    berth_health_secret(run, run->client->password_read);
    berth_health_redact(berth_buf_str(&raw), (const char *const *)run->secrets, run->nsecrets, &clean);
    if (berth_write_atomic(file, clean.p, clean.len, 0600, &err) != BERTH_OK) {
        fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
        ret = 1;
    } else {
        fprintf(stderr, "report written to %s (passwords and tokens removed)\n", file);
    }
    if (raw.p) memset(raw.p, 0, raw.len);
    berth_buf_release(&raw);
    berth_buf_release(&clean);
    return ret;
}

int cmd_check_health(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_health_run run;
    struct cli_list pos = {NULL, 0};
    const char *report = NULL;
    int ignore = 0, yes = 0, ret;
    size_t i, nerr = 0, nwarn = 0;
    json_t *out;
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STR, &run.name, "NAME", "the registry's resource name (instead of LOGINSERVER)"},
        {"repository", 0, CLI_OPT_STR, &run.repository, "REPO", "also check the permission on this repository"},
        {"action", 0, CLI_OPT_STR, &run.action, "pull|push|delete|manage",
         "what the client is about to do (pull); manage: change the registry with berth's commands"},
        {"client", 0, CLI_OPT_STR, &run.client_opt, "docker|podman|skopeo|buildah|berth",
         "judge this client only (default: every one installed; berth: berth's own commands and session)"},
        {"ignore-errors", 0, CLI_OPT_FLAG, &ignore, NULL, "go on after an ERROR"},
        {"report", 0, CLI_OPT_STR, &report, "FILE", "write a shareable report (secrets removed) to FILE"},
        {"leeway", 0, CLI_OPT_INT, &run.leeway, "SECONDS", "clock skew the server's tokens allow (60)"},
        {"timeout", 0, CLI_OPT_INT, &run.timeout, "SECONDS", "how long a connection may take (10)"},
        {"yes", 'y', CLI_OPT_FLAG, &yes, NULL, "do not ask (check-health never asks; accepted for scripts)"},
        {"json", 0, CLI_OPT_FLAG, &ctx->json, NULL, "print the checks as JSON"},
        CLI_CONN_OPTS(ctx),
        CLI_OPT_END,
    };

    memset(&run, 0, sizeof(run));
    run.leeway = 60;
    run.timeout = 10;
    ret = cli_opt_parse(ctx, "[-n NAME | LOGINSERVER] [-u USER -p PASS] [--client CLIENT] [--repository REPO] [--action pull|push|delete|manage] [options]",
                        "Walks the path a docker, podman or skopeo login takes to a registry (client environment,\n"
                        "name, network, TLS, clock, credentials, permission), as each client will take it: its\n"
                        "own login files, trusted CAs, proxy rules and name resolution. Says for each failure\n"
                        "what is wrong and the command that fixes it. Stops at the first ERROR unless\n"
                        "--ignore-errors.\n"
                        "Exit status: 0 when no check failed (warnings allowed), 1 when one did, 2 for usage\n"
                        "errors. The codes are described in docs/check-health.md.",
                        opts, NULL, argc, argv, &pos);
    if (ret != CLI_CONTINUE) goto done;
    ret = 2;
    if (pos.n > 1) {
        ret = cli_usage_error(ctx, "one LOGINSERVER at most");
        goto done;
    }
    run.target = pos.n ? pos.v[0] : NULL;
    if (run.target && run.name) {
        ret = cli_usage_error(ctx, "give -n NAME or LOGINSERVER, not both");
        goto done;
    }
    /* the registry is managed with berth's own commands (or az), never docker's */
    if (run.action && !strcmp(run.action, "manage") && !run.client_opt) run.client_opt = "berth";
    if (run.client_opt && berth_health_client_parse(run.client_opt) == BERTH_HC_COUNT) {
        ret = cli_usage_error(ctx, "--client is docker, podman, skopeo, buildah or berth, not '%s'", run.client_opt);
        goto done;
    }
    run.action_given = run.action != NULL;
    if (!run.action) run.action = "pull";
    if (strcmp(run.action, "pull") != 0 && strcmp(run.action, "push") != 0 && strcmp(run.action, "delete") != 0 &&
        strcmp(run.action, "manage") != 0) {
        ret = cli_usage_error(ctx, "--action is pull, push, delete or manage, not '%s'", run.action);
        goto done;
    }
    if (run.leeway < 0 || run.timeout < 1 || run.timeout > 600) {
        ret = cli_usage_error(ctx, "--leeway must be >= 0 and --timeout 1..600");
        goto done;
    }
    run.client = &ctx->client;
    run.argc = argc;
    run.argv = argv;
    berth_buf_init(&run.log, 8u << 20);
    ret = setup(&run);
    if (ret) goto done;
    run.results = berth_xcalloc(berth_health_nchecks, sizeof(*run.results));
    for (i = 0; i < berth_health_nchecks; i++) {
        struct berth_health_result *r = &run.results[run.nresults++];
        r->name = berth_health_checks[i].name;
        r->section = berth_health_checks[i].section;
        berth_health_checks[i].fn(&run, r);
        if (!r->message) berth_health_set(r, BERTH_HEALTH_OK, NULL, NULL, "-");
        nerr += r->status == BERTH_HEALTH_ERROR;
        nwarn += r->status == BERTH_HEALTH_WARNING;
        if (r->status == BERTH_HEALTH_ERROR && !ignore) break;
    }
    if (ctx->json) {
        out = results_json(&run, nerr == 0);
        cli_out_json(stdout, out);
        json_decref(out);
    } else {
        print_text(&run, nerr, nwarn);
    }
    ret = nerr ? 1 : 0;
    if (report && write_report(&run, report)) ret = 1;
done:
    if (run.client) berth_health_run_release(&run);
    cli_list_release(&pos);
    return ret;
}
