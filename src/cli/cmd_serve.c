/*
 * cmd_serve.c - `berth serve`: load the config table, open the stores, run
 * the HTTP server until SIGTERM/SIGINT, then drain and close cleanly;
 * SIGHUP reloads the TLS certificate and key.
 */
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "auth.h"
#include "config.h"
#include "gc.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

struct orphan_ctx {
    struct berth_meta *meta;
    struct berth_blobstore *blobs;
    int removed;
};

/* A session file with no metadata record is a monolithic push cut short by a crash. */
static int drop_orphan(const char *uuid, uint64_t size, int64_t mtime, void *p)
{
    struct orphan_ctx *c = p;
    struct berth_err err = BERTH_ERR_INIT;
    char repo[BERTH_NAME_MAX + 1];
    int64_t created;
    (void)size;
    (void)mtime;
    if (c->meta->uploads->upload_get(c->meta, uuid, NULL, repo, sizeof(repo), &created, &err) == BERTH_EUPLOADUNKNOWN &&
        c->blobs->ops->upload_remove(c->blobs, uuid, &err) == BERTH_OK)
        c->removed++;
    return 0;
}

/* The registry served on any Host that names no other: created (admin off, no anonymous pull) if absent. */
static enum berth_rc default_registry(struct berth_meta *meta, const char *name, int64_t *id,
                                      struct berth_err *err)
{
    struct berth_meta_registry r;
    enum berth_rc rc;

    rc = meta->reg->registry_get(meta, name, 0, &r, err);
    if (rc == BERTH_ENOENT) {
        memset(&r, 0, sizeof(r));
        snprintf(r.name, sizeof(r.name), "%s", name);
        rc = meta->reg->registry_create(meta, &r, err);
        /* another process (a second serve, gc) may have created it meanwhile */
        if (rc == BERTH_EEXIST) rc = meta->reg->registry_get(meta, name, 0, &r, err);
        if (rc == BERTH_OK)
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"created registry\" registry=%s id=%lld", name, (long long)r.id);
    }
    if (rc) return rc;
    *id = r.id;
    return BERTH_OK;
}

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

/* SIGHUP: the TLS certificate and key are read again; nothing else changes. */
static void reload(struct berth_http *http, const struct berth_config *cfg)
{
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_http_reload_tls(http, &err);

    if (rc == BERTH_OK)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: reloaded the TLS certificate and key; new connections get them\" "
                                  "cert=%s key=%s", cfg->tls_cert, cfg->tls_key);
    else if (rc == BERTH_ENOENT)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"SIGHUP: nothing to reload (plain HTTP)\"");
    else
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"SIGHUP: TLS certificate not reloaded; still serving the previous one\" "
                                  "err=\"%s\"", berth_err_msg(&err));
}

int cmd_serve(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *meta = NULL;
    struct berth_blobstore *blobs = NULL;
    struct berth_http *http = NULL;
    struct berth_blobstore_opts sopts;
    struct berth_http_deps deps;
    struct orphan_ctx oc;
    uint64_t lost = 0;
    int64_t reg = 0;
    sigset_t sigs;
    char *dbpath = NULL;
    int sig = 0, ret = 1;
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
    berth_log_threshold = (int)cfg.log_level;
    umask(077); /* the database, keys and blobs are nobody else's business */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* worker threads inherit the mask; main waits below */

    rc = berth_mkdirs(cfg.data, &err);
    if (rc) goto out;
    sopts.fsync = (int)cfg.fsync;
    rc = berth_blobstore_fs_ops.open(cfg.data, &sopts, &blobs, &err);
    if (rc) goto out;
    dbpath = berth_xasprintf("%s/berth.db", cfg.data);
    rc = berth_meta_sqlite_ops.open(dbpath, &meta, &err);
    if (rc) goto out;
    rc = berth_registry_name_check(cfg.default_registry, &err);
    if (rc) {
        berth_err_set(&err, BERTH_ECONFIG, "config 'default-registry': %s", berth_err_msg(&err));
        goto out;
    }
    rc = default_registry(meta, cfg.default_registry, &reg, &err);
    if (rc) goto out;
    memset(&oc, 0, sizeof(oc));
    oc.meta = meta;
    oc.blobs = blobs;
    rc = blobs->ops->upload_list(blobs, drop_orphan, &oc, &err);
    if (rc) goto out;
    if (oc.removed) BERTH_LOG(BERTH_LOG_INFO, "msg=\"removed interrupted monolithic uploads\" count=%d", oc.removed);
    rc = berth_gc_forget_lost_uploads(meta, blobs, 0, &lost, &err);
    if (rc) goto out;
    if (lost) BERTH_LOG(BERTH_LOG_INFO, "msg=\"forgot upload sessions without bytes\" count=%llu", (unsigned long long)lost);

    memset(&deps, 0, sizeof(deps));
    deps.cfg = &cfg;
    deps.meta = meta;
    deps.blobs = blobs;
    deps.default_registry = reg;
    rc = berth_http_start(&deps, &http, &err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"berth is serving\" listen=%s port=%u data=%s tls=%s", cfg.listen,
              berth_http_port(http), cfg.data, cfg.tls_cert[0] ? "on" : "off");
    for (;;) {
        if (sigwait(&sigs, &sig) != 0) sig = SIGTERM;
        if (sig != SIGHUP) break;
        reload(http, &cfg);
    }
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"shutting down\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    berth_http_stop(http, (int)cfg.shutdown_timeout);
    http = NULL;
    ret = 0;
out:
    if (rc) fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
    berth_http_stop(http, 0);
    if (meta) meta->ops->close(meta);
    if (blobs) blobs->ops->close(blobs);
    free(dbpath);
    berth_config_release(&cfg);
    if (!ret) BERTH_LOG(BERTH_LOG_INFO, "msg=\"stopped\"");
    return ret;
}
