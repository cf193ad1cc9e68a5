/*
 * wiring.c - berth_server_open, _ready and _close (see wiring.h): what
 * `berth serve` opens before it listens, in order, and closes after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "auth.h"
#include "gc.h"
#include "log.h"
#include "util.h"
#include "wiring.h"
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

enum berth_rc berth_server_open(const struct berth_config *cfg, struct berth_server **out, struct berth_err *err)
{
    struct berth_server *srv = berth_xcalloc(1, sizeof(*srv));
    struct berth_err lerr = BERTH_ERR_INIT;
    struct orphan_ctx oc;
    uint64_t lost = 0;
    char *dbpath = NULL;
    enum berth_rc rc;

    srv->cfg = cfg;
    rc = berth_mkdirs(cfg->data, err);
    if (rc) goto out;
    rc = berth_blobstore_open_cfg(cfg, &srv->blobs, err);
    if (rc) goto out;
    {
        const struct berth_meta_ops *mops;
        char *shown = NULL;
        rc = berth_meta_choose(cfg, &mops, &dbpath, &shown, err);
        if (!rc) rc = mops->open(dbpath, &srv->meta, err);
        if (!rc && mops != &berth_meta_sqlite_ops)
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"metadata store\" driver=%s dsn=\"%s\"", mops->name, shown);
        free(shown);
        if (dbpath) explicit_bzero(dbpath, strlen(dbpath));
        if (rc) goto out;
    }
    rc = berth_registry_name_check(cfg->default_registry, &lerr);
    if (rc) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'default-registry': %s", berth_err_msg(&lerr));
        goto out;
    }
    {
        struct berth_meta_registry reg;
        /* served on any Host that names no other */
        rc = authz_registry_ensure(srv->meta, cfg->default_registry, &reg, err);
        if (rc) goto out;
        srv->default_registry = reg.id;
    }
    /*
     * Alone on its store, a server at start owns every upload without a
     * record: a monolithic push cut short. Sharing the metadata with other
     * servers (PostgreSQL), such an upload may be another server's push in
     * progress: gc removes them once they are older than upload-ttl.
     */
    if (!srv->meta->ops->shared) {
        memset(&oc, 0, sizeof(oc));
        oc.meta = srv->meta;
        oc.blobs = srv->blobs;
        rc = srv->blobs->ops->upload_list(srv->blobs, drop_orphan, &oc, err);
        if (rc) goto out;
        if (oc.removed)
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"removed interrupted monolithic uploads\" count=%d", oc.removed);
    }
    rc = berth_gc_forget_lost_uploads(srv->meta, srv->blobs, 0, &lost, err);
    if (rc) goto out;
    if (lost)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"forgot upload sessions without bytes\" count=%llu", (unsigned long long)lost);
    rc = authz_new(srv->meta, cfg, &srv->metrics, &srv->az, err);
    if (rc) goto out;
    rc = events_new(srv->meta, srv->az, cfg, (size_t)cfg->event_queue, &srv->events, err);
    if (rc) goto out;
    events_attach(srv->events, &srv->metrics);
    *out = srv;
    srv = NULL;
out:
    free(dbpath);
    berth_server_close(srv);
    return rc;
}

enum berth_rc berth_server_ready(struct berth_server *srv, struct berth_err *err)
{
    int created = 0;
    enum berth_rc rc;

    if (srv->ready) return BERTH_OK;
    rc = authz_bootstrap(srv->az, &created, err);
    if (rc) return rc;
    if (srv->cfg->gc_interval > 0) {
        rc = berth_gc_worker_start(srv->meta, srv->blobs, srv->cfg->gc_interval, srv->cfg->gc_grace,
                                   srv->cfg->upload_ttl, &srv->gc, err);
        if (rc) return rc;
    }
    srv->ready = 1;
    return BERTH_OK;
}

void berth_server_close(struct berth_server *srv)
{
    if (!srv) return;
    berth_gc_worker_stop(srv->gc); /* a pass in progress ends before the stores close */
    events_free(srv->events); /* first: it writes what is queued while the database is still open */
    authz_free(srv->az);
    if (srv->meta) srv->meta->ops->close(srv->meta);
    if (srv->blobs) srv->blobs->ops->close(srv->blobs);
    free(srv);
}

/* "postgresql://user:secret@host/db" -> "postgresql://user@host/db"; "password=x" -> "password=..." */
static char *without_password(const char *dsn)
{
    const char *scheme = strstr(dsn, "://"), *at, *colon, *p;
    struct berth_buf b = BERTH_BUF_INIT(0);

    if (scheme) {
        at = strchr(scheme + 3, '@');
        colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
        if (colon) {
            berth_buf_append(&b, dsn, (size_t)(colon - dsn));
            berth_buf_puts(&b, at);
        } else {
            berth_buf_puts(&b, dsn);
        }
        /* a password in the query: ?password=... */
        p = strstr(berth_buf_str(&b), "password=");
        if (p) {
            size_t off = (size_t)(p - berth_buf_str(&b)) + 9, end = off + strcspn(berth_buf_str(&b) + off, "&");
            memset(b.p + off, '.', end - off > 3 ? 3 : end - off);
            memmove(b.p + off + (end - off > 3 ? 3 : end - off), b.p + end, b.len - end + 1);
            b.len -= end - off > 3 ? end - off - 3 : 0;
        }
        return berth_buf_detach(&b, NULL);
    }
    for (p = dsn; *p;) { /* keyword form: key=value pairs separated by spaces */
        size_t n = strcspn(p, " ");
        if (!strncmp(p, "password=", 9)) berth_buf_puts(&b, "password=...");
        else berth_buf_append(&b, p, n);
        p += n;
        while (*p == ' ') berth_buf_putc(&b, *p++);
    }
    berth_buf_puts(&b, "");
    return berth_buf_detach(&b, NULL);
}

enum berth_rc berth_meta_choose(const struct berth_config *cfg, const struct berth_meta_ops **ops, char **dsn,
                                char **shown, struct berth_err *err)
{
    const char *m = cfg->meta ? cfg->meta : "";

    *dsn = *shown = NULL;
    if (!*m) {
        *ops = &berth_meta_sqlite_ops;
        *dsn = berth_xasprintf("%s/berth.db", cfg->data);
        *shown = berth_xstrdup(*dsn);
        return BERTH_OK;
    }
    if (!strncmp(m, "postgres://", 11) || !strncmp(m, "postgresql://", 13) || strchr(m, '=')) {
        *ops = &berth_meta_pg_ops;
        *dsn = berth_xstrdup(m);
        *shown = without_password(m);
        return BERTH_OK;
    }
    return berth_err_set(err, BERTH_ECONFIG,
                         "config 'meta': '%.40s' is neither empty (SQLite in the data folder) nor a PostgreSQL URI "
                         "(postgresql://user@host/db) or key=value string", m);
}

enum berth_rc berth_blobstore_choose(const struct berth_config *cfg, const struct berth_blobstore_ops **ops,
                                     char **root, char **shown, struct berth_err *err)
{
    const char *s = cfg->store ? cfg->store : "";
    size_t n, at;

    *root = *shown = NULL;
    if (!*s) {
        *ops = &berth_blobstore_fs_ops;
        *root = berth_xstrdup(cfg->data);
        *shown = berth_xstrdup(cfg->data);
        return BERTH_OK;
    }
    if (!strncmp(s, "s3://", 5)) {
        *ops = &berth_blobstore_s3_ops;
        *root = berth_xstrdup(s);
        /* bucket and prefix only: a mistaken user:secret@ or key parameter is never shown */
        n = strcspn(s, "?#");
        at = strcspn(s + 5, "@/?#") + 5;
        if (s[at] == '@') *shown = berth_xasprintf("s3://%.*s", (int)(n > at + 1 ? n - at - 1 : 0), s + at + 1);
        else *shown = berth_xstrndup(s, n);
        return BERTH_OK;
    }
    return berth_err_set(err, BERTH_ECONFIG,
                         "config 'store': '%.5s...' is neither empty (files in the data folder) nor an S3 URL "
                         "(s3://BUCKET[/PREFIX]?endpoint=URL)", s);
}

enum berth_rc berth_blobstore_open_cfg(const struct berth_config *cfg, struct berth_blobstore **out,
                                       struct berth_err *err)
{
    const struct berth_blobstore_ops *ops = NULL;
    struct berth_blobstore_opts opts;
    char *root = NULL, *shown = NULL;
    enum berth_rc rc;

    memset(&opts, 0, sizeof(opts));
    opts.fsync = (int)cfg->fsync;
    rc = berth_blobstore_choose(cfg, &ops, &root, &shown, err);
    if (!rc) rc = ops->open(root, &opts, out, err);
    if (!rc && ops != &berth_blobstore_fs_ops)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"blob store\" driver=%s store=\"%s\"", ops->name, shown);
    free(root);
    free(shown);
    return rc;
}
