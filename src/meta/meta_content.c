/*
 * meta_content.c - repositories and their content (struct
 * berth_meta_content_ops): blob links, claims and reaps, manifests, tags,
 * referrers and the metadata gc, on the SQL layer (meta_sql.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "meta_sql.h"
#include "util.h"
#include "banned.h"

#define GC_BATCH 1000 /* rows gc reads before deleting them */
#define GC_STEP 200   /* rows one of gc's transactions deletes at most: how long writers may wait for it */

static enum berth_rc no_repo(const char *repo, struct berth_err *err)
{
    return berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
}

static enum berth_rc repo_lookup(struct berth_sql_conn *c, int64_t reg, const char *repo, int *found, int64_t *id,
                                 struct berth_err *err)
{
    return berth_sql_int1(c, "look up repository", SQL_REPO_ID, SQL_ARGS(SQL_I(reg), SQL_T(repo)), found, id, err);
}

/* Inside a write transaction: the repository's id, creating it if needed (BERTH_ENOENT without registry). */
static enum berth_rc repo_ensure(struct berth_sql_conn *c, int64_t reg, const char *repo, int64_t now, int64_t *id,
                                 struct berth_err *err)
{
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, reg, repo, &found, id, err);
    if (rc || found) return rc;
    rc = berth_sql_int1(c, "create repository", SQL_REPO_INSERT, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_I(now)),
                        &found, id, err);
    if (!rc && !found) rc = berth_sql_no_registry(reg, err);
    return rc;
}

/* ---- repositories ---- */

static enum berth_rc repo_exists(struct berth_meta *m, int64_t reg, const char *repo, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "repo_exists: no repository");
    rc = repo_lookup(db, reg, repo, &found, NULL, err);
    if (!rc && !found) rc = no_repo(repo, err);
    return rc;
}

static enum berth_rc repo_list(struct berth_meta *m, int64_t reg, const char *last, int64_t n, berth_meta_name_fn fn,
                               void *ctx, int *more, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);

    /* names are never empty, so "" sorts before all of them */
    return berth_sql_names(db, "repo_list", SQL_REPO_LIST,
                           SQL_ARGS(SQL_I(reg), SQL_T(last ? last : ""), berth_sql_page_limit(db, n)), 0, n, fn, ctx,
                           more, NULL, err);
}

/* ---- blobs ---- */

static enum berth_rc blob_unknown(const struct berth_digest *d, const char *repo, struct berth_err *err)
{
    return berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s unknown to repository '%s'", d->s, repo);
}

struct claim {
    struct berth_meta_claim *cl;
    int64_t now, size;
};

/*
 * The write transaction is what no reap can interleave with; the statements
 * are in the order PostgreSQL needs for the same guarantee from a row lock:
 * the blob's row first, then the store, then the link.
 */
static enum berth_rc claim_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct claim *x = ctx;
    const struct berth_meta_claim *cl = x->cl;
    int64_t rid = 0;
    enum berth_rc rc;
    int found = 0;

    x->size = cl->size;
    if (cl->from) {
        rc = berth_sql_int1(c, "blob_claim", SQL_BLOB_LINKED,
                            SQL_ARGS(SQL_I(cl->reg), SQL_T(cl->from), SQL_D(cl->digest)), &found, &x->size, err);
        if (rc) return rc;
        if (!found) return blob_unknown(cl->digest, cl->from, err);
    }
    rc = berth_sql_exec(c, "blob_claim", SQL_BLOB_RECORD, SQL_ARGS(SQL_D(cl->digest), SQL_I(x->size), SQL_I(x->now)),
                        NULL, err);
    if (rc) return rc;
    if (cl->store) {
        rc = cl->store(cl->ctx, err);
        if (rc) return rc;
    }
    rc = repo_ensure(c, cl->reg, cl->repo, x->now, &rid, err);
    if (rc) return rc;
    rc = berth_sql_exec(c, "blob_claim", SQL_BLOB_LINK,
                        SQL_ARGS(SQL_I(rid), SQL_D(cl->digest), SQL_I(x->size), SQL_I(x->now)), NULL, err);
    if (!rc && cl->upload)
        rc = berth_sql_exec(c, "blob_claim", SQL_UPLOAD_DELETE, SQL_ARGS(SQL_T(cl->upload)), NULL, err);
    return rc;
}

static enum berth_rc blob_claim(struct berth_meta *m, struct berth_meta_claim *cl, struct berth_err *err)
{
    struct claim x = {cl, berth_now_ms(), 0};
    enum berth_rc rc;

    berth_sql_db(m);
    if (!cl || !cl->repo || !cl->digest) return berth_err_set(err, BERTH_EINVAL, "blob_claim: no repository or digest");
    if (!cl->from && cl->size < 0)
        return berth_err_set(err, BERTH_EINVAL, "blob_claim: negative size %lld", (long long)cl->size);
    rc = berth_sql_tx(m, "blob_claim", claim_tx, &x, err);
    if (!rc && cl->from) cl->size = x.size;
    return rc;
}

static enum berth_rc blob_linked(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 int64_t *size, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t sz = 0;
    enum berth_rc rc;
    int found = 0;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_linked: no repository or digest");
    rc = berth_sql_int1(db, "blob_linked", SQL_BLOB_LINKED, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_D(d)), &found, &sz,
                        err);
    if (rc) return rc;
    if (!found) return blob_unknown(d, repo, err);
    if (size) *size = sz;
    return BERTH_OK;
}

/* BERTH_EBLOBUNKNOWN when the blob was not linked to the repository. */
static enum berth_rc blob_unlink(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_unlink: no repository or digest");
    rc = berth_sql_exec(db, "blob_unlink", SQL_BLOB_UNLINK, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_D(d)), &n, err);
    if (!rc && n == 0) rc = blob_unknown(d, repo, err);
    return rc;
}

static enum berth_rc blob_repos(struct berth_meta *m, int64_t reg, const struct berth_digest *d, berth_meta_name_fn fn,
                                void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);

    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_repos: no digest");
    return berth_sql_names(db, "blob_repos", SQL_BLOB_REPOS, SQL_ARGS(SQL_I(reg), SQL_D(d)), 0, -1, fn, ctx, NULL,
                           NULL, err);
}

static enum berth_rc blob_in_use(struct berth_meta *m, const struct berth_digest *d, int *used, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t v = 0;
    enum berth_rc rc;

    if (!d || !used) return berth_err_set(err, BERTH_EINVAL, "blob_in_use: no digest");
    rc = berth_sql_int1(db, "blob_in_use", SQL_BLOB_IN_USE, SQL_ARGS(SQL_D(d)), NULL, &v, err);
    if (!rc) *used = v != 0;
    return rc;
}

static enum berth_rc blob_unused(struct berth_meta *m, const char *after, int64_t n, berth_meta_name_fn fn, void *ctx,
                                 struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);

    return berth_sql_names(db, "blob_unused", SQL_BLOB_UNUSED,
                           SQL_ARGS(SQL_T(after ? after : ""), berth_sql_page_limit(db, n)), 0, n, fn, ctx, NULL, NULL,
                           err);
}

struct reap {
    const struct berth_digest *d;
    int dry_run;
    berth_meta_blob_fn remove;
    void *ctx;
    int reaped;
};

/* The mirror of claim_tx: the same write lock, the row before the store. */
static enum berth_rc reap_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct reap *x = ctx;
    int64_t used = 0;
    enum berth_rc rc;

    x->reaped = 0;
    rc = berth_sql_int1(c, "blob_reap", SQL_BLOB_IN_USE, SQL_ARGS(SQL_D(x->d)), NULL, &used, err);
    if (rc) return rc;
    if (used) {
        c->discard = 1;
        return BERTH_OK;
    }
    rc = berth_sql_exec(c, "blob_reap", SQL_BLOB_FORGET, SQL_ARGS(SQL_D(x->d)), NULL, err);
    if (rc) return rc;
    if (x->dry_run) {
        c->discard = 1;
        x->reaped = 1;
        return BERTH_OK;
    }
    if (x->remove) {
        rc = x->remove(x->ctx, err);
        if (rc) return rc;
    }
    x->reaped = 1;
    return BERTH_OK;
}

static enum berth_rc blob_reap(struct berth_meta *m, const struct berth_digest *d, int dry_run,
                               berth_meta_blob_fn remove, void *ctx, int *reaped, struct berth_err *err)
{
    struct reap x = {d, dry_run, remove, ctx, 0};
    enum berth_rc rc;

    berth_sql_db(m);
    *reaped = 0;
    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_reap: no digest");
    rc = berth_sql_tx_begin(m, "blob_reap", berth_sql_db(m)->db->drv->dialect->begin_gc, reap_tx, &x, err);
    if (!rc) *reaped = x.reaped;
    return rc;
}

/* ---- manifests and tags ---- */

/* Inside manifest_put's transaction: BERTH_EMANIFESTBLOB naming the first missing reference. */
static enum berth_rc check_refs(struct berth_sql_conn *c, const struct berth_meta_manifest *mf, int have_repo,
                                int64_t rid, struct berth_err *err)
{
    enum berth_rc rc;
    size_t i;
    int found;

    for (i = 0; i < mf->nblobs; i++) {
        found = 0;
        if (have_repo) {
            rc = berth_sql_int1(c, "manifest_put", SQL_REPO_HAS_BLOB, SQL_ARGS(SQL_I(rid), SQL_D(&mf->blobs[i])),
                                &found, NULL, err);
            if (rc) return rc;
        }
        if (!found)
            return berth_err_set(err, BERTH_EMANIFESTBLOB, "blob %s unknown to repository '%s'", mf->blobs[i].s,
                                 mf->repo);
    }
    for (i = 0; i < mf->nchildren; i++) {
        found = 0;
        if (have_repo) {
            rc = berth_sql_int1(c, "manifest_put", SQL_REPO_HAS_MANIFEST,
                                SQL_ARGS(SQL_I(rid), SQL_D(&mf->children[i])), &found, NULL, err);
            if (rc) return rc;
        }
        if (!found)
            return berth_err_set(err, BERTH_EMANIFESTBLOB, "manifest %s unknown to repository '%s'",
                                 mf->children[i].s, mf->repo);
    }
    return BERTH_OK;
}

/* Inside manifest_put's transaction: the reference rows become exactly mf's. */
static enum berth_rc replace_refs(struct berth_sql_conn *c, const struct berth_meta_manifest *mf, int64_t rid,
                                  int64_t mid, struct berth_err *err)
{
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_exec(c, "manifest_put", SQL_MBLOBS_CLEAR, SQL_ARGS(SQL_I(mid)), NULL, err);
    for (i = 0; !rc && i < mf->nblobs; i++)
        rc = berth_sql_exec(c, "manifest_put", SQL_MBLOBS_ADD, SQL_ARGS(SQL_I(mid), SQL_I(rid), SQL_D(&mf->blobs[i])),
                            NULL, err);
    if (!rc) rc = berth_sql_exec(c, "manifest_put", SQL_MCHILDREN_CLEAR, SQL_ARGS(SQL_I(mid)), NULL, err);
    for (i = 0; !rc && i < mf->nchildren; i++)
        rc = berth_sql_exec(c, "manifest_put", SQL_MCHILDREN_ADD,
                            SQL_ARGS(SQL_I(mid), SQL_I(rid), SQL_D(&mf->children[i])), NULL, err);
    return rc;
}

struct put {
    const struct berth_meta_manifest *mf;
    const char *tag;
    int64_t now;
};

static enum berth_rc put_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct put *x = ctx;
    const struct berth_meta_manifest *mf = x->mf;
    int64_t rid = 0, mid = 0;
    enum berth_rc rc;
    int have_repo = 0, row = 0;

    rc = repo_lookup(c, mf->reg, mf->repo, &have_repo, &rid, err);
    if (rc) return rc;
    rc = check_refs(c, mf, have_repo, rid, err);
    if (rc) return rc;
    if (!have_repo) {
        rc = repo_ensure(c, mf->reg, mf->repo, x->now, &rid, err);
        if (rc) return rc;
    }
    /*
     * Re-putting keeps the row (and the tags on it) but renews its time, so a
     * manifest pushed again is not collected by a gc that runs before the
     * index or tag that will use it arrives.
     */
    rc = berth_sql_int1(c, "manifest_put", SQL_MANIFEST_UPSERT,
                        SQL_ARGS(SQL_I(rid), SQL_D(mf->digest), SQL_T(mf->media_type), SQL_B(mf->payload, mf->len),
                                 SQL_I(mf->len), SQL_T(mf->artifact_type), SQL_T(mf->annotations_json),
                                 SQL_D(mf->subject), SQL_I(x->now)),
                        &row, &mid, err);
    if (rc) return rc;
    if (!row) return berth_err_set(err, BERTH_EDB, "manifest_put: upsert returned no id");
    rc = replace_refs(c, mf, rid, mid, err);
    if (!rc && x->tag)
        rc = berth_sql_exec(c, "manifest_put", SQL_TAG_PUT,
                            SQL_ARGS(SQL_I(rid), SQL_T(x->tag), SQL_I(mid), SQL_I(x->now)), NULL, err);
    return rc;
}

static enum berth_rc manifest_put(struct berth_meta *m, const struct berth_meta_manifest *mf, const char *tag,
                                  struct berth_err *err)
{
    struct put x = {mf, tag, berth_now_ms()};

    berth_sql_db(m);
    if (!mf || !mf->repo || !mf->digest || !mf->media_type || (mf->len && !mf->payload) ||
        (mf->nblobs && !mf->blobs) || (mf->nchildren && !mf->children))
        return berth_err_set(err, BERTH_EINVAL, "manifest_put: incomplete manifest");
    return berth_sql_tx(m, "manifest_put", put_tx, &x, err);
}

struct get {
    const char *repo, *key;
    int is_digest;
    struct berth_buf *payload;
    size_t *len;
    char *media_type;
    size_t mtlen;
    struct berth_digest *digest;
};

/* Columns: digest, media type, size, payload (NULL for HEAD). NULL columns: the repository has no such manifest. */
static enum berth_rc read_manifest(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    const struct get *x = ctx;
    enum berth_rc rc;

    if (berth_sql_null(r, 0))
        return berth_err_set(err, BERTH_EMANIFESTUNKNOWN, x->is_digest ? "manifest %s unknown to repository '%s'"
                                                                       : "tag '%s' unknown in repository '%s'",
                             x->key, x->repo);
    if (x->digest) {
        rc = berth_sql_digest(r, 0, x->digest, err);
        if (rc) return rc;
    }
    if (x->media_type && berth_sql_copy(r, 1, x->media_type, x->mtlen) != 0)
        return berth_err_set(err, BERTH_EINTERNAL, "manifest_get: media type does not fit in %zu bytes", x->mtlen);
    if (x->payload) {
        const void *p = NULL;
        size_t n = 0;
        rc = berth_sql_blob(r, 3, &p, &n, err);
        if (rc) return rc;
        if (berth_buf_append(x->payload, p, n) != BERTH_OK)
            return berth_err_set(err, berth_buf_rc(x->payload),
                                 "manifest %s of %zu bytes exceeds the limit of %zu bytes", x->key, n,
                                 x->payload->max);
        if (x->len) *x->len = n;
    } else if (x->len) {
        int64_t n = berth_sql_int(r, 2);
        if (n < 0) return berth_err_set(err, BERTH_EDB, "manifest %s has a damaged size", x->key);
        *x->len = (size_t)n;
    }
    return BERTH_OK;
}

static enum berth_rc manifest_get(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_ref *ref,
                                  struct berth_buf *payload, size_t *len, char *media_type, size_t mtlen,
                                  struct berth_digest *digest, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct get x;
    enum berth_rc rc;
    int found = 0;

    if (!repo || !ref) return berth_err_set(err, BERTH_EINVAL, "manifest_get: no repository or reference");
    x = (struct get){repo, ref->is_digest ? ref->digest.s : ref->tag, ref->is_digest, payload, len, media_type, mtlen,
                     digest};
    /* ?4 = 0 leaves the payload unread for HEAD */
    rc = berth_sql_one(db, "manifest_get", ref->is_digest ? SQL_GET_BY_DIGEST : SQL_GET_BY_TAG,
                       SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_T(x.key), SQL_I(payload != NULL)), read_manifest, &x,
                       &found, err);
    if (!rc && !found) rc = no_repo(repo, err);
    return rc;
}

/* Tags, references and children go with the manifest (ON DELETE CASCADE). */
static enum berth_rc manifest_delete(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                     struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "manifest_delete: no repository or digest");
    rc = berth_sql_exec(db, "manifest_delete", SQL_MANIFEST_DELETE, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_D(d)), &n,
                        err);
    if (!rc && n == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", d->s, repo);
    return rc;
}

struct repo_del {
    int64_t reg;
    const char *repo;
    berth_meta_repo_item_fn fn;
    void *ctx;
    int stop;
};

static enum berth_rc give_item(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct repo_del *x = ctx;

    (void)err;
    if (!x->stop) x->stop = x->fn(berth_sql_int(r, 0) != 0, berth_sql_text(r, 1), x->ctx);
    return BERTH_OK;
}

/* The foreign keys (ON DELETE CASCADE) take the manifests, their references, the tags and the blob links. */
static enum berth_rc repo_delete_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct repo_del *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;

    x->stop = !x->fn;
    rc = berth_sql_each(c, "repo_delete", SQL_REPO_ITEMS, SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo)), give_item, x, NULL,
                        err);
    if (!rc) rc = berth_sql_exec(c, "repo_delete", SQL_REPO_DELETE, SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo)), &n, err);
    if (!rc && n == 0) rc = no_repo(x->repo, err);
    return rc;
}

static enum berth_rc repo_delete(struct berth_meta *m, int64_t reg, const char *repo, berth_meta_repo_item_fn fn,
                                 void *ctx, struct berth_err *err)
{
    struct repo_del x = {reg, repo, fn, ctx, 0};

    berth_sql_db(m);
    if (!repo) return berth_err_set(err, BERTH_EINVAL, "repo_delete: no repository");
    return berth_sql_tx(m, "repo_delete", repo_delete_tx, &x, err);
}

static enum berth_rc tag_delete(struct berth_meta *m, int64_t reg, const char *repo, const char *tag,
                                struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!repo || !tag) return berth_err_set(err, BERTH_EINVAL, "tag_delete: no repository or tag");
    rc = berth_sql_exec(db, "tag_delete", SQL_TAG_DELETE, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_T(tag)), &n, err);
    if (!rc && n == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", tag, repo);
    return rc;
}

static enum berth_rc tag_list(struct berth_meta *m, int64_t reg, const char *repo, const char *last, int64_t n,
                              berth_meta_name_fn fn, void *ctx, int *more, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t rows = 0;
    enum berth_rc rc;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "tag_list: no repository");
    /* one statement: no row means no repository; its row carries a NULL tag, then the tags after last */
    rc = berth_sql_names(db, "tag_list", SQL_TAG_LIST,
                         SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_T(last ? last : ""), berth_sql_page_limit(db, n)), 1,
                         n, fn, ctx, more, &rows, err);
    if (!rc && rows == 0) rc = no_repo(repo, err);
    return rc;
}

struct referrers {
    berth_meta_referrer_fn fn;
    void *ctx;
};

static enum berth_rc give_referrer(struct berth_sql_row *row, void *ctx, struct berth_err *err)
{
    const struct referrers *x = ctx;
    struct berth_meta_referrer r;

    r.digest = berth_sql_text(row, 0);
    r.media_type = berth_sql_text(row, 1);
    r.size = berth_sql_int(row, 2);
    r.artifact_type = berth_sql_text(row, 3);
    r.annotations_json = berth_sql_text(row, 4);
    if (!r.digest || !r.media_type) return berth_err_set(err, BERTH_EDB, "referrers: damaged manifest row");
    if (x->fn && x->fn(&r, x->ctx)) row->stop = 1;
    return BERTH_OK;
}

static enum berth_rc referrers(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                               const char *artifact_type, berth_meta_referrer_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct referrers x = {fn, ctx};

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "referrers: no repository or digest");
    return berth_sql_each(db, "referrers", SQL_REFERRERS,
                          SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_D(d), SQL_T(artifact_type)), give_referrer, &x, NULL,
                          err);
}

/* ---- garbage collection ---- */

/* One row gc found eligible; strings are copied because the rows go away. */
struct gc_row {
    int64_t id; /* manifest id, or the repository id of a blob link */
    char *repo;
    char *digest;
};

/* Where gc has got to: a committed step's cursor is the next step's start. */
struct gc_cursor {
    int phase;             /* GC_PHASE_* */
    int64_t last_id;       /* manifests: the last id a step looked at */
    int64_t pass_deleted;  /* manifests deleted in this pass (another pass follows when nonzero) */
    int64_t last_repo;     /* links: the last (repository id, digest) a step looked at */
    char last_digest[BERTH_DIGEST_STR_MAX];
};

enum { GC_PHASE_MANIFESTS, GC_PHASE_LINKS, GC_PHASE_DONE };

struct gc {
    struct gc_row rows[GC_BATCH];
    int n;
    int64_t cutoff_ms;
    int dry_run, stopped;
    berth_meta_gc_fn on_manifest, on_unlink;
    void *ctx;
    struct gc_cursor done; /* as of the last committed step */
    struct gc_cursor cur;  /* the step in progress */
};

static void batch_clear(struct gc *b)
{
    int i;

    for (i = 0; i < b->n; i++) {
        free(b->rows[i].repo);
        free(b->rows[i].digest);
    }
    b->n = 0;
}

/* Reads a row (id, repo name, digest) into the batch; the statement's LIMIT keeps it within GC_BATCH. */
static enum berth_rc batch_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;
    const char *repo = berth_sql_text(r, 1), *digest = berth_sql_text(r, 2);

    if (!repo || !digest) return berth_err_set(err, BERTH_EDB, "gc: damaged row");
    if (b->n == GC_BATCH) {
        r->stop = 1;
        return BERTH_OK;
    }
    b->rows[b->n].id = berth_sql_int(r, 0);
    b->rows[b->n].repo = berth_xstrdup(repo);
    b->rows[b->n].digest = berth_xstrdup(digest);
    b->n++;
    return BERTH_OK;
}

/*
 * One step over the manifests: up to limit eligible ones after the cursor
 * are deleted. Deleting a manifest can only make others eligible (its
 * children, its referrers), never fewer, so a pass walks the manifests in
 * id order and another pass runs while the last one deleted anything.
 */
static enum berth_rc gc_manifest_step(struct berth_sql_conn *c, struct gc *b, int limit, struct berth_err *err)
{
    struct gc_cursor *k = &b->cur;
    enum berth_rc rc;
    int i;

    rc = berth_sql_each(c, "gc", SQL_GC_MANIFESTS, SQL_ARGS(SQL_I(k->last_id), SQL_I(b->cutoff_ms), SQL_I(limit)),
                        batch_row, b, NULL, err);
    if (rc) goto out;
    if (b->n == 0) {
        if (k->pass_deleted) {
            k->last_id = 0;
            k->pass_deleted = 0;
        } else {
            k->phase = GC_PHASE_LINKS;
        }
        goto out;
    }
    for (i = 0; i < b->n; i++) {
        rc = berth_sql_exec(c, "gc", SQL_GC_MANIFEST_DELETE, SQL_ARGS(SQL_I(b->rows[i].id)), NULL, err);
        if (rc) goto out;
        k->pass_deleted++;
        if (b->on_manifest && b->on_manifest(b->rows[i].repo, b->rows[i].digest, b->ctx)) {
            b->stopped = 1;
            goto out;
        }
    }
    k->last_id = b->rows[b->n - 1].id;
out:
    batch_clear(b);
    return rc;
}

/* One step over the repository links: unlinking never changes whether another link is referenced, so one pass. */
static enum berth_rc gc_link_step(struct berth_sql_conn *c, struct gc *b, int limit, struct berth_err *err)
{
    struct gc_cursor *k = &b->cur;
    enum berth_rc rc;
    int i;

    rc = berth_sql_each(c, "gc", SQL_GC_BLOBS,
                        SQL_ARGS(SQL_I(k->last_repo), SQL_T(k->last_digest), SQL_I(b->cutoff_ms), SQL_I(limit)),
                        batch_row, b, NULL, err);
    if (rc) goto out;
    if (b->n == 0) {
        k->phase = GC_PHASE_DONE;
        goto out;
    }
    for (i = 0; i < b->n; i++) {
        rc = berth_sql_exec(c, "gc", SQL_GC_BLOB_DELETE, SQL_ARGS(SQL_I(b->rows[i].id), SQL_T(b->rows[i].digest)),
                            NULL, err);
        if (rc) goto out;
        if (b->on_unlink && b->on_unlink(b->rows[i].repo, b->rows[i].digest, b->ctx)) {
            b->stopped = 1;
            goto out;
        }
    }
    k->last_repo = b->rows[b->n - 1].id;
    snprintf(k->last_digest, sizeof(k->last_digest), "%s", b->rows[b->n - 1].digest);
out:
    batch_clear(b);
    return rc;
}

static enum berth_rc gc_step(struct berth_sql_conn *c, struct gc *b, int limit, struct berth_err *err)
{
    if (b->cur.phase == GC_PHASE_MANIFESTS) return gc_manifest_step(c, b, limit, err);
    if (b->cur.phase == GC_PHASE_LINKS) return gc_link_step(c, b, limit, err);
    return BERTH_OK;
}

/*
 * A step of its own transaction: it starts from the last committed cursor
 * (again, when the transaction is run again after a conflict).
 */
static enum berth_rc gc_step_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;

    b->cur = b->done;
    b->stopped = 0;
    return gc_step(c, b, GC_STEP, err);
}

/* A dry run: every step in one transaction that is rolled back, so later steps see what earlier ones deleted. */
static enum berth_rc gc_dry_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;
    enum berth_rc rc = BERTH_OK;

    memset(&b->cur, 0, sizeof(b->cur));
    b->stopped = 0;
    while (!rc && !b->stopped && b->cur.phase != GC_PHASE_DONE) rc = gc_step(c, b, GC_BATCH, err);
    c->discard = 1;
    return rc;
}

/*
 * Each step is a short transaction of gc's kind (dialect begin_gc: on
 * PostgreSQL it holds the tables writers need until it commits), so pushes
 * and tag changes on every server wait at most one step, never a whole run.
 * Every step decides on what is committed when it starts. A nonzero return
 * from a callback stops gc after that step's commit.
 */
static enum berth_rc gc(struct berth_meta *m, int64_t cutoff_ms, int dry_run, berth_meta_gc_fn on_manifest,
                        berth_meta_gc_fn on_unlink, void *ctx, struct berth_err *err)
{
    struct gc *b = berth_xcalloc(1, sizeof(*b));
    const char *begin = berth_sql_db(m)->db->drv->dialect->begin_gc;
    enum berth_rc rc = BERTH_OK;

    b->cutoff_ms = cutoff_ms;
    b->dry_run = dry_run;
    b->on_manifest = on_manifest;
    b->on_unlink = on_unlink;
    b->ctx = ctx;
    if (dry_run) {
        rc = berth_sql_tx_begin(m, "gc", begin, gc_dry_tx, b, err);
    } else {
        while (!rc && !b->stopped && b->done.phase != GC_PHASE_DONE) {
            rc = berth_sql_tx_begin(m, "gc", begin, gc_step_tx, b, err);
            if (!rc) b->done = b->cur;
        }
    }
    free(b);
    return rc;
}

const struct berth_meta_content_ops berth_sql_content_ops = {
    .repo_exists = repo_exists,
    .repo_list = repo_list,
    .blob_claim = blob_claim,
    .blob_linked = blob_linked,
    .blob_unlink = blob_unlink,
    .blob_repos = blob_repos,
    .blob_in_use = blob_in_use,
    .blob_unused = blob_unused,
    .blob_reap = blob_reap,
    .manifest_put = manifest_put,
    .manifest_get = manifest_get,
    .manifest_delete = manifest_delete,
    .repo_delete = repo_delete,
    .tag_delete = tag_delete,
    .tag_list = tag_list,
    .referrers = referrers,
    .gc = gc,
};
