/*
 * health_run.c - what the checks of `berth check-health` share about the
 * run: setting a result, the redaction list, the command line that re-runs
 * the check a fix suggests, and the release of the run.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "dockercfg.h"
#include "health.h"
#include "banned.h"

void berth_health_set(struct berth_health_result *res, enum berth_health_status st, const char *code, const char *fix,
                      const char *fmt,
                      ...)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    va_list ap;

    va_start(ap, fmt);
    berth_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    free(res->code);
    free(res->message);
    free(res->fix);
    res->status = st;
    res->code = code ? berth_xstrdup(code) : NULL;
    res->fix = fix && *fix ? berth_xstrdup(fix) : NULL;
    berth_buf_puts(&b, "");
    res->message = berth_buf_detach(&b, NULL);
}

void berth_health_secret(struct berth_health_run *run, const char *value)
{
    if (!value || !*value || run->nsecrets >= sizeof(run->secrets) / sizeof(run->secrets[0])) return;
    run->secrets[run->nsecrets++] = berth_xstrdup(value);
}

/* Options that take a value, so the command line can be re-read. */
static const char *const valued[] = {"-n", "--name", "--repository", "--action", "--report", "--leeway", "--timeout",
                                     "--server", "--ca-file", "-u", "--username", "-p", "--password", "--client"};

static int takes_value(const char *a)
{
    size_t i;
    for (i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
        if (!strcmp(a, valued[i])) return 1;
    return 0;
}

/* Appends s quoted for a POSIX shell when it needs it. */
static void shell_word(struct berth_buf *b, const char *s)
{
    const char *p;
    if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_[]") == strlen(s)) {
        berth_buf_printf(b, " %s", s);
        return;
    }
    berth_buf_puts(b, " '");
    for (p = s; *p; p++) {
        if (*p == '\'') berth_buf_puts(b, "'\\''");
        else berth_buf_putc(b, *p);
    }
    berth_buf_putc(b, '\'');
}

/* The long name of option a ("-u" -> "--username", "--server=x" -> "--server"), into out. */
static void long_name(const char *a, char *out, size_t n)
{
    static const char *const shorts[][2] = {{"-n", "--name"}, {"-u", "--username"}, {"-p", "--password"}};
    size_t i, len = strcspn(a, "= ");
    for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
        if (len == 2 && !strncmp(a, shorts[i][0], 2)) {
            snprintf(out, n, "%s", shorts[i][1]);
            return;
        }
    snprintf(out, n, "%.*s", (int)len, a);
}

/* 1 when the re-run sets option name itself: the registry, --server, what extra gives, or a password. */
static int replaced(const char *name, const char *server, const char *extra)
{
    char w[64];
    const char *p;
    if (!strcmp(name, "--name") || !strcmp(name, "--report") || !strcmp(name, "--password") ||
        !strcmp(name, "--password-stdin") || (server && !strcmp(name, "--server")))
        return 1;
    for (p = extra; p && (p = strchr(p, '-')) != NULL; p += strcspn(p, " ")) {
        if (p != extra && p[-1] != ' ') continue;
        long_name(p, w, sizeof(w));
        if (!strcmp(w, name)) return 1;
    }
    return 0;
}

char *berth_health_rerun(const struct berth_health_run *run, const char *name, const char *target, const char *server,
                         const char *extra)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char *a;
    char opt[64];
    int i, pw = 0;

    berth_buf_puts(&b, "berth check-health");
    if (name) berth_buf_printf(&b, " -n %s", name);
    else if (target) shell_word(&b, target);
    else if (run->name) berth_buf_printf(&b, " -n %s", run->name);
    else if (run->target) shell_word(&b, run->target);
    if (server) {
        shell_word(&b, "--server");
        shell_word(&b, server);
    }
    for (i = 1; i < run->argc; i++) {
        a = run->argv[i];
        if (!strcmp(a, "--")) break;
        if (a[0] != '-') continue; /* the positional LOGINSERVER, given above */
        long_name(a, opt, sizeof(opt));
        pw |= !strcmp(opt, "--password") || !strcmp(opt, "--password-stdin");
        if (replaced(opt, server, extra)) {
            if (!strchr(a, '=') && takes_value(a)) i++;
            continue;
        }
        shell_word(&b, a);
        if (!strchr(a, '=') && takes_value(a) && i + 1 < run->argc) shell_word(&b, run->argv[++i]);
    }
    if (extra) berth_buf_printf(&b, " %s", extra);
    /* never print a password: the fix reads it from stdin */
    if (pw && !(extra && strstr(extra, "--password-stdin"))) berth_buf_puts(&b, " --password-stdin");
    berth_buf_puts(&b, "");
    return berth_buf_detach(&b, NULL);
}

void berth_health_run_release(struct berth_health_run *run)
{
    size_t i;
    for (i = 0; i < run->nresults; i++) {
        free(run->results[i].code);
        free(run->results[i].message);
        free(run->results[i].fix);
    }
    free(run->results);
    for (i = 0; i < run->nsecrets; i++) {
        memset(run->secrets[i], 0, strlen(run->secrets[i]));
        free(run->secrets[i]);
    }
    if (run->cred_secret) memset(run->cred_secret, 0, strlen(run->cred_secret));
    free(run->server_url);
    free(run->server_host);
    free(run->server_hp);
    free(run->registry);
    free(run->login_server);
    berth_health_http_release(&run->v2);
    free(run->realm);
    free(run->service);
    free(run->stored_where);
    free(run->cred_user);
    free(run->cred_secret);
    free(run->source_text);
    free(run->refresh_token);
    free(run->access_token);
    berth_buf_release(&run->log);
    for (i = 0; i < run->ncreds; i++) berth_health_cred_release(&run->creds[i]);
    if (run->ca_bundle) unlink(run->ca_bundle);
    free(run->ca_bundle);
    json_decref(run->docker_info);
    berth_dockercfg_free(run->docker_cfg);
    berth_dockercfg_free(run->podman_cfg);
}
