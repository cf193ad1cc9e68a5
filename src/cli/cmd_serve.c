/*
 * cmd_serve.c - `berth serve`: load the config table, open the service
 * (berth_server_open), run the HTTP server over it until SIGTERM/SIGINT,
 * then drain and close cleanly; SIGHUP loads the settings again, applies
 * those a running server can take (BERTH_CONFIG_LIVE, the TLS certificate
 * and key among them) and logs every other change as needing a restart.
 * Under systemd (Type=notify, libsystemd's sd_notify, opened only then) it
 * says when it is ready, reloading and stopping, and feeds the watchdog
 * (WatchdogSec).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lazy_systemd.h"
#include "alloc.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "util.h"
#include "wiring.h"
#include "cli.h"
#include "banned.h"

/* --check: berth doctor with serve's own flags, then exit without listening. */
static int serve_check(int argc, char **argv, struct cli_ctx *ctx)
{
    char **rest = berth_xcalloc((size_t)argc + 1, sizeof(char *));
    int i, n = 0, ret;

    for (i = 0; i < argc; i++)
        if (strcmp(argv[i], "--check") != 0) rest[n++] = argv[i];
    ret = cmd_doctor(n, rest, ctx);
    free(rest);
    return ret;
}

static void serve_usage(FILE *out)
{
    fprintf(out, "usage: berth serve [--check] [options]\n\n"
                 "Runs the registry: the OCI Distribution API on one port.\n"
                 "--check runs the checks of 'berth doctor' with these options instead, then exits.\n\noptions:\n");
    berth_config_usage(out);
}

static enum berth_rc log_format_check(const struct berth_config *cfg, struct berth_err *err)
{
    if (!strcmp(cfg->log_format, "text") || !strcmp(cfg->log_format, "json")) return BERTH_OK;
    return berth_err_set(err, BERTH_ECONFIG, "config 'log-format': '%.40s' is not text or json", cfg->log_format);
}

static void log_settings(const struct berth_config *cfg)
{
    __atomic_store_n(&berth_log_threshold, (int)cfg->log_level, __ATOMIC_RELAXED);
    __atomic_store_n(&berth_log_json, !strcmp(cfg->log_format, "json"), __ATOMIC_RELAXED);
}

/* One line per setting that differs from what the server runs with; counts the live ones in *arg. */
static void log_change(const char *name, const char *old_text, const char *new_text, int live, void *arg)
{
    char o[300], n[300];
    if (live) ++*(size_t *)arg;
    berth_log_quote(old_text, o, sizeof(o));
    berth_log_quote(new_text, n, sizeof(n));
    if (live)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: setting applied\" key=%s old=\"%s\" new=\"%s\"", name, o, n);
    else
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"SIGHUP: setting changed; it takes effect at the next start\" key=%s "
                                  "old=\"%s\" new=\"%s\"", name, o, n);
}

/* Keeps the running server's value of a string setting in next (the change is not applied). */
static void keep_str(char **next, const char *now)
{
    free(*next);
    *next = berth_xstrdup(now);
}

/*
 * SIGHUP: the settings are loaded again the way they were at start (the
 * --config file, the environment, the flags); a bad config changes nothing.
 * The TLS certificate and key are read again (also when their paths are
 * unchanged: renewed files replace old ones in place). Every setting that
 * differs is logged, applied when it is one of BERTH_CONFIG_LIVE, otherwise
 * named as needing a restart.
 */
static void reload(struct berth_http *http, struct berth_config *cfg, int argc, char **argv)
{
    struct berth_config next;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc;
    size_t changed, applied = 0;

    berth_config_init(&next);
    rc = berth_config_load(&next, argc, argv, &err);
    if (!rc) rc = log_format_check(&next, &err);
    if (!rc) rc = berth_http_settings_check(&next, &err);
    if (rc) {
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"SIGHUP: settings not reloaded; the server keeps the ones it runs with\" "
                                  "err=\"%s\"", berth_err_msg(&err));
        berth_config_release(&next);
        return;
    }
    if (!cfg->tls_cert[0] || !next.tls_cert[0]) {
        if (next.tls_cert[0] || next.tls_key[0])
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"SIGHUP: HTTPS is turned on or off only at start\"");
        else
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: nothing to reload (plain HTTP)\"");
        keep_str(&next.tls_cert, cfg->tls_cert);
        keep_str(&next.tls_key, cfg->tls_key);
    } else if (berth_http_reload_tls(http, next.tls_cert, next.tls_key, &err) == BERTH_OK) {
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: reloaded the TLS certificate and key; new connections get them\" "
                                  "cert=%s key=%s", next.tls_cert, next.tls_key);
    } else {
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"SIGHUP: TLS certificate not reloaded; still serving the previous one\" "
                                  "err=\"%s\"", berth_err_msg(&err));
        keep_str(&next.tls_cert, cfg->tls_cert);
        keep_str(&next.tls_key, cfg->tls_key);
    }
    /* the reload's own lines are told at the more talkative of the two levels */
    if (next.log_level > cfg->log_level)
        __atomic_store_n(&berth_log_threshold, (int)next.log_level, __ATOMIC_RELAXED);
    changed = berth_config_diff(cfg, &next, log_change, &applied);
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: settings reloaded\" changed=%zu applied=%zu restart_needed=%zu", changed,
              applied, changed - applied);
    berth_config_apply_live(cfg, &next);
    log_settings(cfg);
    berth_config_release(&next);
}

/*
 * Nonzero when systemd listens (NOTIFY_SOCKET) and libsystemd could be opened
 * for sd_notify. Elsewhere nothing is sent, as sd_notify would send nothing,
 * and the library and its dependencies are never mapped. A libsystemd that
 * cannot be opened is logged: systemd then says the start timed out.
 */
static int notify_open(void)
{
    struct berth_err err = BERTH_ERR_INIT;
    const char *sock = getenv("NOTIFY_SOCKET");

    if (!sock || !*sock) return 0;
    if (!berth_lazy_load(BERTH_LIB_SYSTEMD, &err)) return 1;
    BERTH_LOG(BERTH_LOG_WARN, "msg=\"cannot notify systemd\" err=\"%s\"", berth_err_msg(&err));
    return 0;
}

int cmd_serve(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_server *srv = NULL;
    struct berth_http *http = NULL;
    sigset_t sigs;
    uint64_t watchdog_us = 0;
    int sig = 0, ret = 1, watchdog, notify;
    enum berth_rc rc;

    if (cli_has_flag(argc, argv, "--check")) return serve_check(argc, argv, ctx);
    berth_config_init(&cfg);
    if (cli_has_flag(argc, argv, "--help") || cli_has_flag(argc, argv, "-h")) {
        serve_usage(stdout);
        berth_config_release(&cfg);
        return 0;
    }
    rc = berth_config_load(&cfg, argc - 1, argv + 1, &err);
    if (rc) {
        fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
        berth_config_release(&cfg);
        return rc == BERTH_EINVAL ? 2 : 1;
    }
    if (log_format_check(&cfg, &err)) {
        fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
        berth_config_release(&cfg);
        return 2;
    }
    log_settings(&cfg);
    umask(077); /* the database, keys and blobs are nobody else's business */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* worker threads inherit the mask; main waits below */

    rc = berth_server_open(&cfg, &srv, &err);
    if (rc) goto out;
    rc = berth_http_start(srv, &http, &err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"berth is serving\" listen=%s port=%u data=%s tls=%s", cfg.listen,
              berth_http_port(http), cfg.data, cfg.tls_cert[0] ? "on" : "off");
    /* under systemd (Type=notify): ready now, reloads and the stop announced, the watchdog fed */
    notify = notify_open();
    watchdog = notify && sd_watchdog_enabled(0, &watchdog_us) > 0 && watchdog_us >= 2000;
    if (notify) sd_notifyf(0, "READY=1\nSTATUS=serving on %s", cfg.listen);
    for (;;) {
        if (!watchdog) {
            if (sigwait(&sigs, &sig) != 0) sig = SIGTERM;
        } else {
            struct timespec half = {(time_t)(watchdog_us / 2000000), (long)(watchdog_us / 2 % 1000000 * 1000)};
            sig = sigtimedwait(&sigs, NULL, &half);
            if (sig < 0 && (errno == EAGAIN || errno == EINTR)) {
                sd_notify(0, "WATCHDOG=1");
                continue;
            }
            if (sig < 0) sig = SIGTERM;
        }
        if (sig != SIGHUP) break;
        if (notify) sd_notify(0, "RELOADING=1");
        reload(http, &cfg, argc - 1, argv + 1);
        if (notify) sd_notify(0, "READY=1");
    }
    if (notify) sd_notify(0, "STOPPING=1");
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"shutting down\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    berth_http_stop(http, (int)cfg.shutdown_timeout);
    http = NULL;
    ret = 0;
out:
    if (rc) fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
    berth_http_stop(http, 0);
    berth_server_close(srv);
    berth_config_release(&cfg);
    if (!ret) BERTH_LOG(BERTH_LOG_INFO, "msg=\"stopped\"");
    return ret;
}
