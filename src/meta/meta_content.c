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

#define GC_STEP 20  /* queue entries one of gc's transactions reviews at most: how long writers may wait */
#define GC_PASSES 8  /* passes over the manifest queue in one run at most */

/* What an entry of gc's review queue names (migration 0009-gc-review). */
enum { GC_KIND_MANIFEST, GC_KIND_LINK, GC_KIND_BLOB };

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

/* ---- gc's review queue: what removes a reference queues what it referred to ---- */

static enum berth_rc queue(struct berth_sql_conn *c, const char *op, int kind, int64_t rid, const char *digest,
                           int64_t when, struct berth_err *err)
{
    return berth_sql_exec(c, op, SQL_GC_QUEUE, SQL_ARGS(SQL_I(kind), SQL_I(rid), SQL_T(digest), SQL_I(when)), NULL,
                          err);
}

/*
 * Inside a write transaction: manifest mid goes, and what it kept alive is
 * queued for review, due at when: now for a client's delete, the manifest's
 * own due time when gc deletes it (what it frees became garbage then too).
 */
static enum berth_rc drop_manifest(struct berth_sql_conn *c, const char *op, int64_t mid, int64_t when,
                                   struct berth_err *err)
{
    enum berth_rc rc = berth_sql_exec(c, op, SQL_GC_QUEUE_DEPENDENTS, SQL_ARGS(SQL_I(mid), SQL_I(when)), NULL, err);
    if (!rc) rc = berth_sql_exec(c, op, SQL_GC_MANIFEST_DELETE, SQL_ARGS(SQL_I(mid)), NULL, err);
    return rc;
}

/* Inside a write transaction: repository rid's blobs are queued, its other entries dropped, before it goes. */
static enum berth_rc queue_repo(struct berth_sql_conn *c, const char *op, int64_t rid, int64_t now,
                                struct berth_err *err)
{
    enum berth_rc rc = berth_sql_exec(c, op, SQL_GC_QUEUE_REPO_BLOBS, SQL_ARGS(SQL_I(rid), SQL_I(now)), NULL, err);
    if (!rc) rc = berth_sql_exec(c, op, SQL_GC_QUEUE_FORGET_REPO, SQL_ARGS(SQL_I(rid)), NULL, err);
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
    if (!rc)
        rc = berth_sql_int1(c, "blob_claim", SQL_REPO_HAS_BLOB, SQL_ARGS(SQL_I(rid), SQL_D(cl->digest)), &found, NULL,
                            err);
    if (rc) return rc;
    rc = berth_sql_exec(c, "blob_claim", SQL_BLOB_LINK,
                        SQL_ARGS(SQL_I(rid), SQL_D(cl->digest), SQL_I(x->size), SQL_I(x->now)), NULL, err);
    /*
     * a new link no manifest comes to use is garbage once the grace is over;
     * one that was there has its entry already, or a manifest that uses it
     * (whose deletion queues it)
     */
    if (!rc && !found) rc = queue(c, "blob_claim", GC_KIND_LINK, rid, cl->digest->s, x->now, err);
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

/* A linked blob's size and its repository's readEnabled. */
struct readable {
    int64_t size;
    int read_enabled;
};

static enum berth_rc read_readable(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct readable *b = ctx;

    (void)err;
    b->size = berth_sql_int(r, 0);
    b->read_enabled = berth_sql_int(r, 1) != 0;
    return BERTH_OK;
}

static enum berth_rc blob_linked(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 int64_t *size, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct readable b = {0, 1};
    enum berth_rc rc;
    int found = 0;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_linked: no repository or digest");
    rc = berth_sql_one(db, "blob_linked", SQL_BLOB_READABLE, SQL_ARGS(SQL_I(reg), SQL_T(repo), SQL_D(d)),
                       read_readable, &b, &found, err);
    if (rc) return rc;
    if (!found) return blob_unknown(d, repo, err);
    if (!b.read_enabled)
        return berth_err_set(err, BERTH_EDENIED,
                             "repository '%s' is locked: its readEnabled is false (berth repository update "
                             "--repository %s --read-enabled true)",
                             repo, repo);
    if (size) *size = b.size;
    return BERTH_OK;
}

struct unlink {
    int64_t reg;
    const char *repo;
    const struct berth_digest *d;
};

static enum berth_rc unlink_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct unlink *x = ctx;
    int64_t rid = 0, n = 0;
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, x->reg, x->repo, &found, &rid, err);
    if (!rc && found)
        rc = berth_sql_exec(c, "blob_unlink", SQL_GC_LINK_DELETE, SQL_ARGS(SQL_I(rid), SQL_D(x->d)), &n, err);
    if (!rc && n == 0) rc = blob_unknown(x->d, x->repo, err);
    if (!rc) rc = queue(c, "blob_unlink", GC_KIND_BLOB, rid, x->d->s, berth_now_ms(), err);
    return rc;
}

/* BERTH_EBLOBUNKNOWN when the blob was not linked to the repository. */
static enum berth_rc blob_unlink(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 struct berth_err *err)
{
    struct unlink x = {reg, repo, d};

    berth_sql_db(m);
    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_unlink: no repository or digest");
    return berth_sql_tx(m, "blob_unlink", unlink_tx, &x, err);
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

struct reap {
    const struct berth_digest *d;
    int dry_run, queued;
    berth_meta_blob_fn remove;
    void *ctx;
    int reaped;
};

/* The mirror of claim_tx: the row before the store; the blob's queue entries go with the decision. */
static enum berth_rc reap_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct reap *x = ctx;
    int64_t used = 0;
    enum berth_rc rc;
    int taken = 0;

    x->reaped = 0;
    if (x->queued) {
        /* another worker holds the entry (PostgreSQL skips it) or has done it already */
        rc = berth_sql_int1(c, "blob_reap", SQL_GC_BLOB_TAKE, SQL_ARGS(SQL_D(x->d)), &taken, NULL, err);
        if (rc || !taken) {
            c->discard = 1;
            return rc;
        }
    }
    /*
     * The digest's row first, made if there is none (bytes no record names):
     * its lock is what a claim of the digest waits on, so no claim finds the
     * bytes there and keeps them while this removes them.
     */
    rc = berth_sql_exec(c, "blob_reap", SQL_BLOB_RECORD, SQL_ARGS(SQL_D(x->d), SQL_I(0), SQL_I(berth_now_ms())), NULL,
                        err);
    if (!rc) rc = berth_sql_int1(c, "blob_reap", SQL_BLOB_IN_USE, SQL_ARGS(SQL_D(x->d)), NULL, &used, err);
    if (!rc && !used) rc = berth_sql_exec(c, "blob_reap", SQL_BLOB_FORGET, SQL_ARGS(SQL_D(x->d)), NULL, err);
    if (!rc) rc = berth_sql_exec(c, "blob_reap", SQL_GC_BLOB_DONE, SQL_ARGS(SQL_D(x->d)), NULL, err);
    if (rc) return rc;
    if (x->dry_run) c->discard = 1;
    if (used) return BERTH_OK;
    if (x->remove && !x->dry_run) {
        rc = x->remove(x->ctx, err);
        if (rc) return rc;
    }
    x->reaped = 1;
    return BERTH_OK;
}

static enum berth_rc blob_reap(struct berth_meta *m, const struct berth_digest *d, int dry_run, int queued,
                               berth_meta_blob_fn remove, void *ctx, int *reaped, struct berth_err *err)
{
    struct reap x = {d, dry_run, queued, remove, ctx, 0};
    enum berth_rc rc;

    berth_sql_db(m);
    *reaped = 0;
    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_reap: no digest");
    rc = berth_sql_tx(m, "blob_reap", reap_tx, &x, err);
    if (!rc) *reaped = x.reaped;
    return rc;
}

/* ---- ACR's locks (changeableAttributes writeEnabled, deleteEnabled) ---- */

/* A lock row: write, delete, and (for a tag) the digest it points at. */
struct locks {
    int found;
    int64_t write, del;
    char digest[BERTH_DIGEST_STR_MAX + 1];
};

static enum berth_rc read_locks(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct locks *x = ctx;

    (void)err;
    x->write = berth_sql_int(r, 0);
    x->del = berth_sql_int(r, 1);
    if (berth_sql_text(r, 2)) berth_sql_copy(r, 2, x->digest, sizeof(x->digest));
    return BERTH_OK;
}

static enum berth_rc locks_get(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                               const struct berth_sql_arg *args, size_t nargs, struct locks *x, struct berth_err *err)
{
    memset(x, 0, sizeof(*x));
    x->write = x->del = 1;
    return berth_sql_one(c, op, id, args, nargs, read_locks, x, &x->found, err);
}

static enum berth_rc locked(struct berth_err *err, const char *what, const char *name, const char *repo,
                            const char *lock)
{
    return berth_err_set(err, BERTH_EDENIED,
                         "%s%s%s of '%s' is locked: its %s is false (berth repository update ... --%s true)", what,
                         name ? " " : "", name ? name : "", repo, lock,
                         !strcmp(lock, "writeEnabled")    ? "write-enabled"
                         : !strcmp(lock, "deleteEnabled") ? "delete-enabled"
                                                          : "read-enabled");
}

/* Inside a write transaction: refuses deleting something of repository rid while it is locked. */
static enum berth_rc repo_delete_lock(struct berth_sql_conn *c, const char *op, int64_t rid, const char *repo,
                                      struct berth_err *err)
{
    struct locks l;
    enum berth_rc rc = locks_get(c, op, SQL_LOCKS_REPO, SQL_ARGS(SQL_I(rid)), &l, err);
    if (!rc && l.found && !l.del) rc = berth_err_set(err, BERTH_EDENIED,
                                                     "repository '%s' is locked: its deleteEnabled is false (berth "
                                                     "repository update --repository %s --delete-enabled true)",
                                                     repo, repo);
    return rc;
}

/* The text of the first column of the first row into out (size len); "" without a row. */
struct text_out {
    char *p;
    size_t len;
};

static enum berth_rc read_text0(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    const struct text_out *o = ctx;

    if (berth_sql_copy(r, 0, o->p, o->len) != 0) return berth_err_set(err, BERTH_EDB, "a damaged name");
    return BERTH_OK;
}

static enum berth_rc text1(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                           const struct berth_sql_arg *args, size_t nargs, char *out, size_t len, struct berth_err *err)
{
    struct text_out o = {out, len};
    int found = 0;

    out[0] = '\0';
    return berth_sql_one(c, op, id, args, nargs, read_text0, &o, &found, err);
}

struct locks_x {
    int64_t reg;
    const char *repo, *tag;
    const struct berth_digest *d;
    struct berth_meta_locks set;
};

static struct berth_sql_arg lock_arg(int v)
{
    return v < 0 ? SQL_NULL : SQL_I(v != 0);
}

static enum berth_rc locks_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct locks_x *x = ctx;
    int64_t rid = 0, n = 0;
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, x->reg, x->repo, &found, &rid, err);
    if (!rc && !found) rc = no_repo(x->repo, err);
    if (rc) return rc;
    if (x->tag) {
        rc = berth_sql_exec(c, "locks_set", SQL_LOCKS_SET_TAG,
                            SQL_ARGS(SQL_I(rid), SQL_T(x->tag), lock_arg(x->set.write), lock_arg(x->set.del),
                                     lock_arg(x->set.read), lock_arg(x->set.list)),
                            &n, err);
        if (!rc && !n)
            rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", x->tag, x->repo);
    } else if (x->d) {
        rc = berth_sql_exec(c, "locks_set", SQL_LOCKS_SET_MANIFEST,
                            SQL_ARGS(SQL_I(rid), SQL_D(x->d), lock_arg(x->set.write), lock_arg(x->set.del),
                                     lock_arg(x->set.read), lock_arg(x->set.list)),
                            &n, err);
        if (!rc && !n)
            rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", x->d->s,
                               x->repo);
    } else {
        rc = berth_sql_exec(c, "locks_set", SQL_LOCKS_SET_REPO,
                            SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo), lock_arg(x->set.write), lock_arg(x->set.del),
                                     lock_arg(x->set.read), lock_arg(x->set.list)),
                            NULL, err);
    }
    return rc;
}

static enum berth_rc locks_set(struct berth_meta *m, int64_t reg, const char *repo, const char *tag,
                               const struct berth_digest *d, const struct berth_meta_locks *set, struct berth_err *err)
{
    struct locks_x x = {reg, repo, tag, d, *set};

    berth_sql_db(m);
    if (!repo || (tag && d)) return berth_err_set(err, BERTH_EINVAL, "locks_set: no repository, or a tag and a digest");
    return berth_sql_tx(m, "locks_set", locks_tx, &x, err);
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
    if (have_repo) {
        /* ACR's write locks: of the repository, of this manifest, of the tag when it would move */
        struct locks l;
        rc = locks_get(c, "manifest_put", SQL_LOCKS_REPO, SQL_ARGS(SQL_I(rid)), &l, err);
        if (!rc && l.found && !l.write) return locked(err, "repository", NULL, mf->repo, "writeEnabled");
        if (!rc) rc = locks_get(c, "manifest_put", SQL_LOCKS_MANIFEST, SQL_ARGS(SQL_I(rid), SQL_D(mf->digest)), &l, err);
        if (!rc && l.found && !l.write) return locked(err, "manifest", mf->digest->s, mf->repo, "writeEnabled");
        if (!rc && x->tag) rc = locks_get(c, "manifest_put", SQL_LOCKS_TAG, SQL_ARGS(SQL_I(rid), SQL_T(x->tag)), &l, err);
        if (!rc && x->tag && l.found && !l.write && strcmp(l.digest, mf->digest->s) != 0)
            return locked(err, "tag", x->tag, mf->repo, "writeEnabled");
        if (rc) return rc;
    }
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
                                 SQL_D(mf->subject), SQL_I(x->now), SQL_T(mf->architecture ? mf->architecture : ""),
                                 SQL_T(mf->os ? mf->os : "")),
                        &row, &mid, err);
    if (rc) return rc;
    if (!row) return berth_err_set(err, BERTH_EDB, "manifest_put: upsert returned no id");
    rc = replace_refs(c, mf, rid, mid, err);
    if (rc) return rc;
    if (!x->tag) /* untagged: garbage after the grace unless a tag or an index comes to use it */
        return queue(c, "manifest_put", GC_KIND_MANIFEST, rid, mf->digest->s, x->now, err);
    /* the manifest the tag leaves (when it moves) is reviewed */
    rc = berth_sql_exec(c, "manifest_put", SQL_GC_QUEUE_TAGGED, SQL_ARGS(SQL_I(rid), SQL_T(x->tag), SQL_I(x->now)),
                        NULL, err);
    if (!rc)
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

/*
 * Columns: digest, media type, size, payload (NULL for HEAD), and the
 * readEnabled of the repository, the tag (NULL by digest) and the manifest.
 * NULL columns: the repository has no such manifest.
 */
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
    /* ACR's readEnabled of the repository, the tag (by tag) and the manifest */
    if (berth_sql_int(r, 4) == 0)
        return berth_err_set(err, BERTH_EDENIED,
                             "repository '%s' is locked: its readEnabled is false (berth repository update "
                             "--repository %s --read-enabled true)",
                             x->repo, x->repo);
    if (!x->is_digest && !berth_sql_null(r, 5) && berth_sql_int(r, 5) == 0)
        return locked(err, "tag", x->key, x->repo, "readEnabled");
    if (berth_sql_int(r, 6) == 0) {
        char d[BERTH_DIGEST_STR_MAX + 1];
        if (berth_sql_copy(r, 0, d, sizeof(d)) != 0) d[0] = '\0';
        return locked(err, "manifest", d, x->repo, "readEnabled");
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

struct mdel {
    int64_t reg;
    const char *repo;
    const struct berth_digest *d;
};

static enum berth_rc mdel_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct mdel *x = ctx;
    int64_t rid = 0, mid = 0;
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, x->reg, x->repo, &found, &rid, err);
    if (!rc && found)
        rc = berth_sql_int1(c, "manifest_delete", SQL_MANIFEST_ID, SQL_ARGS(SQL_I(rid), SQL_D(x->d)), &found, &mid,
                            err);
    if (rc) return rc;
    if (!found)
        return berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", x->d->s, x->repo);
    {
        struct locks l;
        char tag[BERTH_NAME_MAX + 1] = "";
        rc = repo_delete_lock(c, "manifest_delete", rid, x->repo, err);
        if (!rc) rc = locks_get(c, "manifest_delete", SQL_LOCKS_MANIFEST, SQL_ARGS(SQL_I(rid), SQL_D(x->d)), &l, err);
        if (!rc && l.found && !l.del) return locked(err, "manifest", x->d->s, x->repo, "deleteEnabled");
        if (!rc) rc = text1(c, "manifest_delete", SQL_LOCKED_TAG_OF, SQL_ARGS(SQL_I(mid)), tag, sizeof(tag), err);
        if (!rc && tag[0]) return locked(err, "its tag", tag, x->repo, "deleteEnabled");
        if (rc) return rc;
    }
    return drop_manifest(c, "manifest_delete", mid, berth_now_ms(), err);
}

/* Tags, references and children go with the manifest (ON DELETE CASCADE); what it kept alive is queued for gc. */
static enum berth_rc manifest_delete(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                     struct berth_err *err)
{
    struct mdel x = {reg, repo, d};

    berth_sql_db(m);
    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "manifest_delete: no repository or digest");
    return berth_sql_tx(m, "manifest_delete", mdel_tx, &x, err);
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

/*
 * The foreign keys (ON DELETE CASCADE) take the manifests, their references,
 * the tags and the blob links; the blobs they used are queued for gc.
 */
static enum berth_rc repo_delete_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct repo_del *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;

    int64_t rid = 0;
    int found = 0;

    x->stop = !x->fn;
    rc = repo_lookup(c, x->reg, x->repo, &found, &rid, err);
    if (!rc && !found) rc = no_repo(x->repo, err);
    if (!rc) rc = repo_delete_lock(c, "repo_delete", rid, x->repo, err);
    if (!rc) {
        char what[BERTH_DIGEST_STR_MAX + 1] = "";
        rc = text1(c, "repo_delete", SQL_LOCKED_IN_REPO, SQL_ARGS(SQL_I(rid)), what, sizeof(what), err);
        if (!rc && what[0]) return locked(err, strchr(what, ':') ? "its manifest" : "its tag", what, x->repo,
                                          "deleteEnabled");
    }
    if (!rc)
        rc = berth_sql_each(c, "repo_delete", SQL_REPO_ITEMS, SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo)), give_item, x,
                            NULL, err);
    if (!rc) rc = queue_repo(c, "repo_delete", rid, berth_now_ms(), err);
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

struct tdel {
    int64_t reg;
    const char *repo, *tag;
};

static enum berth_rc tdel_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct tdel *x = ctx;
    int64_t rid = 0, n = 0;
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, x->reg, x->repo, &found, &rid, err);
    if (!rc && found) {
        struct locks l;
        rc = repo_delete_lock(c, "tag_delete", rid, x->repo, err);
        if (!rc) rc = locks_get(c, "tag_delete", SQL_LOCKS_TAG, SQL_ARGS(SQL_I(rid), SQL_T(x->tag)), &l, err);
        if (!rc && l.found && !l.del) return locked(err, "tag", x->tag, x->repo, "deleteEnabled");
    }
    if (!rc && found)
        rc = berth_sql_exec(c, "tag_delete", SQL_GC_QUEUE_TAGGED, SQL_ARGS(SQL_I(rid), SQL_T(x->tag), SQL_I(berth_now_ms())),
                            NULL, err);
    if (!rc && found)
        rc = berth_sql_exec(c, "tag_delete", SQL_TAG_DELETE, SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo), SQL_T(x->tag)), &n,
                            err);
    if (!rc && n == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", x->tag, x->repo);
    return rc;
}

/* The manifest the tag pointed at is queued for gc. */
static enum berth_rc tag_delete(struct berth_meta *m, int64_t reg, const char *repo, const char *tag,
                                struct berth_err *err)
{
    struct tdel x = {reg, repo, tag};

    berth_sql_db(m);
    if (!repo || !tag) return berth_err_set(err, BERTH_EINVAL, "tag_delete: no repository or tag");
    return berth_sql_tx(m, "tag_delete", tdel_tx, &x, err);
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

/* ---- ACR's attributes (/acr/v1) ---- */

static enum berth_rc read_repo_info(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_repo_info *x = ctx;
    int64_t newest_manifest = berth_sql_int(r, 4), newest_tag = berth_sql_int(r, 5);

    (void)err;
    x->created_ms = berth_sql_int(r, 1);
    x->manifests = berth_sql_int(r, 2);
    x->tags = berth_sql_int(r, 3);
    x->updated_ms = x->created_ms;
    if (!berth_sql_null(r, 4) && newest_manifest > x->updated_ms) x->updated_ms = newest_manifest;
    if (!berth_sql_null(r, 5) && newest_tag > x->updated_ms) x->updated_ms = newest_tag;
    x->write_enabled = berth_sql_int(r, 6) != 0;
    x->delete_enabled = berth_sql_int(r, 7) != 0;
    x->read_enabled = berth_sql_int(r, 8) != 0;
    x->list_enabled = berth_sql_int(r, 9) != 0;
    return BERTH_OK;
}

static enum berth_rc repo_info(struct berth_meta *m, int64_t reg, const char *repo, struct berth_meta_repo_info *out,
                               struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!repo || !out) return berth_err_set(err, BERTH_EINVAL, "repo_info: no repository");
    memset(out, 0, sizeof(*out));
    rc = berth_sql_one(db, "repo_info", SQL_REPO_INFO, SQL_ARGS(SQL_I(reg), SQL_T(repo)), read_repo_info, out, &found,
                       err);
    if (!rc && !found) rc = no_repo(repo, err);
    return rc;
}

static enum berth_rc read_usage(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_usage *u = ctx;

    (void)err;
    u->blob_bytes = berth_sql_int(r, 0);
    u->manifest_bytes = berth_sql_int(r, 1);
    u->repositories = berth_sql_int(r, 2);
    u->manifests = berth_sql_int(r, 3);
    u->tags = berth_sql_int(r, 4);
    u->scope_maps = berth_sql_int(r, 5);
    u->tokens = berth_sql_int(r, 6);
    return BERTH_OK;
}

static enum berth_rc registry_usage(struct berth_meta *m, int64_t reg, struct berth_meta_usage *out,
                                    struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int found = 0;

    if (!out) return berth_err_set(err, BERTH_EINVAL, "registry_usage: no output");
    memset(out, 0, sizeof(*out));
    return berth_sql_one(db, "registry_usage", SQL_REG_USAGE, SQL_ARGS(SQL_I(reg)), read_usage, out, &found, err);
}

/* A tag row, copied (the list outlives the statement). */
struct tag_row {
    char name[BERTH_NAME_MAX + 1];
    char digest[BERTH_DIGEST_STR_MAX + 1];
    int64_t created_ms, updated_ms;
    int write_enabled, delete_enabled, read_enabled, list_enabled;
};

static enum berth_rc read_tag_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct tag_row *t = ctx;

    if (berth_sql_copy(r, 0, t->name, sizeof(t->name)) != 0 || berth_sql_copy(r, 1, t->digest, sizeof(t->digest)) != 0)
        return berth_err_set(err, BERTH_EDB, "tag_infos: damaged tag row");
    t->created_ms = berth_sql_int(r, 2);
    t->updated_ms = berth_sql_int(r, 3);
    t->write_enabled = berth_sql_int(r, 4) != 0;
    t->delete_enabled = berth_sql_int(r, 5) != 0;
    t->read_enabled = berth_sql_int(r, 6) != 0;
    t->list_enabled = berth_sql_int(r, 7) != 0;
    return BERTH_OK;
}

/* The order's time of the item named last (a time order continues after it); 0 when there is none. */
static enum berth_rc last_time(struct berth_sql_conn *c, enum berth_sql_id id, int64_t rid, const char *last,
                               int col, int64_t *t, int *found, struct berth_err *err);

static enum berth_rc tag_infos(struct berth_meta *m, int64_t reg, const char *repo, const char *one, const char *last,
                               int64_t n, enum berth_meta_order order, berth_meta_tag_info_fn fn, void *ctx,
                               int *more, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct tag_row);
    int64_t rid = 0, t = 0, lim;
    enum berth_rc rc;
    int found = 0;
    size_t i;

    if (more) *more = 0;
    if (!repo || !fn) return berth_err_set(err, BERTH_EINVAL, "tag_infos: no repository or callback");
    rc = repo_lookup(db, reg, repo, &found, &rid, err);
    if (!rc && !found) rc = no_repo(repo, err);
    if (rc) return rc;
    lim = n < 0 ? INT64_MAX - 1 : n;
    if (one) {
        rc = berth_sql_list(db, "tag_infos", SQL_TAG_INFO, SQL_ARGS(SQL_I(rid), SQL_T(one)), read_tag_row, &l, NULL,
                            err);
        if (!rc && l.n == 0)
            rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", one, repo);
    } else if (order == BERTH_ORDER_NAME) {
        rc = berth_sql_list(db, "tag_infos", SQL_TAG_INFOS, SQL_ARGS(SQL_I(rid), SQL_T(last ? last : ""),
                                                                     SQL_I(lim + 1)),
                            read_tag_row, &l, NULL, err);
    } else {
        found = 0;
        if (last) rc = last_time(db, SQL_TAG_INFO, rid, last, 3, &t, &found, err);
        if (!rc && !found) {
            t = order == BERTH_ORDER_TIME_DESC ? INT64_MAX : INT64_MIN;
            last = "";
        }
        if (!rc)
            rc = berth_sql_list(db, "tag_infos", order == BERTH_ORDER_TIME_DESC ? SQL_TAG_INFOS_NEW : SQL_TAG_INFOS_OLD,
                                SQL_ARGS(SQL_I(rid), SQL_I(t), SQL_T(last), SQL_I(lim + 1)), read_tag_row, &l, NULL,
                                err);
    }
    for (i = 0; !rc && i < l.n && (int64_t)i < lim; i++) {
        const struct tag_row *row = (const struct tag_row *)l.v + i;
        struct berth_meta_tag_info ti = {row->name,           row->digest,         row->created_ms,
                                         row->updated_ms,     row->write_enabled,  row->delete_enabled,
                                         row->read_enabled,   row->list_enabled};
        if (fn(&ti, ctx)) break;
    }
    if (!rc && more) *more = (int64_t)l.n > lim;
    berth_sql_list_release(&l);
    return rc;
}

/* A manifest row, copied; its tags are read after the list. */
struct manifest_row {
    int64_t id;
    char digest[BERTH_DIGEST_STR_MAX + 1];
    char media_type[256];
    int64_t size, blobs_size, created_ms;
    int write_enabled, delete_enabled, read_enabled, list_enabled;
    char architecture[BERTH_PLATFORM_MAX + 1], os[BERTH_PLATFORM_MAX + 1];
};

static enum berth_rc read_manifest_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct manifest_row *x = ctx;

    x->id = berth_sql_int(r, 0);
    if (berth_sql_copy(r, 1, x->digest, sizeof(x->digest)) != 0 ||
        berth_sql_copy(r, 2, x->media_type, sizeof(x->media_type)) != 0)
        return berth_err_set(err, BERTH_EDB, "manifest_infos: damaged manifest row");
    x->size = berth_sql_int(r, 3);
    x->created_ms = berth_sql_int(r, 4);
    x->write_enabled = berth_sql_int(r, 5) != 0;
    x->delete_enabled = berth_sql_int(r, 6) != 0;
    x->read_enabled = berth_sql_int(r, 7) != 0;
    x->list_enabled = berth_sql_int(r, 8) != 0;
    x->blobs_size = berth_sql_null(r, 9) ? 0 : berth_sql_int(r, 9);
    /* a value too long for the field cannot have been stored: the push checks it */
    if (berth_sql_copy(r, 10, x->architecture, sizeof(x->architecture)) != 0 ||
        berth_sql_copy(r, 11, x->os, sizeof(x->os)) != 0)
        return berth_err_set(err, BERTH_EDB, "manifest_infos: damaged manifest row");
    return BERTH_OK;
}

/* Which column of a one-row statement holds the time, and where it goes. */
struct time_col {
    int col;
    int64_t *t;
};

static enum berth_rc read_time(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    const struct time_col *x = ctx;

    (void)err;
    *x->t = berth_sql_int(r, x->col);
    return BERTH_OK;
}

static enum berth_rc last_time(struct berth_sql_conn *c, enum berth_sql_id id, int64_t rid, const char *last,
                               int col, int64_t *t, int *found, struct berth_err *err)
{
    struct time_col x = {col, t};

    *found = 0;
    return berth_sql_one(c, "last_time", id, SQL_ARGS(SQL_I(rid), SQL_T(last)), read_time, &x, found, err);
}

/* Tag names of one manifest, as a NULL-terminated array of strings in one allocation. */
struct names_buf {
    struct berth_buf text;
    size_t n;
};

static int add_name(const char *name, void *ctx)
{
    struct names_buf *b = ctx;
    berth_buf_append(&b->text, name, strlen(name) + 1);
    b->n++;
    return 0;
}

static enum berth_rc manifest_infos(struct berth_meta *m, int64_t reg, const char *repo,
                                    const struct berth_digest *one, const char *last, int64_t n,
                                    enum berth_meta_order order, berth_meta_manifest_info_fn fn, void *ctx,
                                    int *more, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct manifest_row);
    struct names_buf names = {BERTH_BUF_INIT(0), 0};
    const char **tags = NULL;
    size_t tags_cap = 0, i, k;
    int64_t rid = 0, t = 0, lim;
    enum berth_rc rc;
    int found = 0;

    if (more) *more = 0;
    if (!repo || !fn) return berth_err_set(err, BERTH_EINVAL, "manifest_infos: no repository or callback");
    rc = repo_lookup(db, reg, repo, &found, &rid, err);
    if (!rc && !found) rc = no_repo(repo, err);
    if (rc) return rc;
    lim = n < 0 ? INT64_MAX - 1 : n;
    if (one) {
        rc = berth_sql_list(db, "manifest_infos", SQL_MANIFEST_INFO, SQL_ARGS(SQL_I(rid), SQL_D(one)),
                            read_manifest_row, &l, NULL, err);
        if (!rc && l.n == 0)
            rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", one->s, repo);
    } else if (order == BERTH_ORDER_NAME) {
        rc = berth_sql_list(db, "manifest_infos", SQL_MANIFEST_INFOS,
                            SQL_ARGS(SQL_I(rid), SQL_T(last ? last : ""), SQL_I(lim + 1)), read_manifest_row, &l, NULL,
                            err);
    } else {
        found = 0;
        if (last) rc = last_time(db, SQL_MANIFEST_INFO, rid, last, 4, &t, &found, err);
        if (!rc && !found) {
            t = order == BERTH_ORDER_TIME_DESC ? INT64_MAX : INT64_MIN;
            last = "";
        }
        if (!rc)
            rc = berth_sql_list(db, "manifest_infos",
                                order == BERTH_ORDER_TIME_DESC ? SQL_MANIFEST_INFOS_NEW : SQL_MANIFEST_INFOS_OLD,
                                SQL_ARGS(SQL_I(rid), SQL_I(t), SQL_T(last), SQL_I(lim + 1)), read_manifest_row, &l,
                                NULL, err);
    }
    for (i = 0; !rc && i < l.n && (int64_t)i < lim; i++) {
        const struct manifest_row *row = (const struct manifest_row *)l.v + i;
        struct berth_meta_manifest_info mi;
        const char *p;

        berth_buf_reset(&names.text);
        names.n = 0;
        rc = berth_sql_names(db, "manifest_infos", SQL_MANIFEST_TAGS, SQL_ARGS(SQL_I(row->id)), 0, -1, add_name,
                             &names, NULL, NULL, err);
        if (rc) break;
        if (names.n + 1 > tags_cap) {
            tags_cap = names.n + 1;
            tags = berth_xrealloc(tags, tags_cap * sizeof(*tags));
        }
        for (k = 0, p = names.text.p; k < names.n; k++, p += strlen(p) + 1) tags[k] = p;
        tags[names.n] = NULL;
        mi = (struct berth_meta_manifest_info){row->digest,     row->media_type, row->size,
                                               row->blobs_size, row->created_ms, tags,
                                               names.n,         row->write_enabled, row->delete_enabled,
                                               row->read_enabled, row->list_enabled, row->architecture, row->os};
        if (fn(&mi, ctx)) break;
    }
    if (!rc && more) *more = (int64_t)l.n > lim;
    free(tags);
    berth_buf_release(&names.text);
    berth_sql_list_release(&l);
    return rc;
}

/* ---- garbage collection: the review queue ---- */

/*
 * One entry of the review queue (what the transaction that removed a
 * reference queued); strings are copied because the rows go away.
 */
struct gc_entry {
    int64_t rid; /* the repository's id; 0 for a blob */
    char digest[BERTH_DIGEST_STR_MAX + 1];
    int64_t review_ms;
};

/* A deletion a step made: a manifest or a link (repository name, digest). */
struct gc_report {
    int kind;
    char repo[BERTH_NAME_MAX + 1];
    char digest[BERTH_DIGEST_STR_MAX + 1];
};

/* Where gc has got to: a committed step's cursor is the next step's start. */
struct gc_cursor {
    int phase;            /* GC_PHASE_* */
    int passes;           /* manifest passes begun */
    int64_t due_ms;       /* this pass takes entries due by then */
    int64_t pass_deleted; /* manifests deleted in this pass (another pass follows when nonzero) */
    struct gc_entry last; /* the last entry a step looked at */
};

enum { GC_PHASE_MANIFESTS, GC_PHASE_LINKS, GC_PHASE_DONE };

struct gc {
    struct gc_entry e[GC_STEP];
    int n;
    int64_t cutoff_ms;
    int dry_run, stopped;
    berth_meta_gc_fn on_manifest, on_unlink;
    /*
     * the deletions of the step (of the whole dry run), told to the callbacks
     * once committed: a step run again after a conflict is not told twice
     */
    struct gc_report *rep;
    size_t nrep, caprep;
    void *ctx;
    struct gc_cursor done; /* as of the last committed step */
    struct gc_cursor cur;  /* the step in progress */
};

/* Reads an entry (repo id, digest, review time) into the step; the statement's LIMIT keeps it within GC_STEP. */
static enum berth_rc entry_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;
    const char *digest = berth_sql_text(r, 1);

    if (!digest || strlen(digest) > BERTH_DIGEST_STR_MAX) return berth_err_set(err, BERTH_EDB, "gc: damaged entry");
    if (b->n == GC_STEP) {
        r->stop = 1;
        return BERTH_OK;
    }
    b->e[b->n].rid = berth_sql_int(r, 0);
    snprintf(b->e[b->n].digest, sizeof(b->e[b->n].digest), "%s", digest);
    b->e[b->n].review_ms = berth_sql_int(r, 2);
    b->n++;
    return BERTH_OK;
}

/* The due entries of kind after the cursor, taken (PostgreSQL: locked, skipping those another worker holds). */
static enum berth_rc take_entries(struct berth_sql_conn *c, struct gc *b, int kind, int limit, struct berth_err *err)
{
    const struct gc_entry *k = &b->cur.last;

    b->n = 0;
    return berth_sql_each(c, "gc", SQL_GC_REVIEW_NEXT,
                          SQL_ARGS(SQL_I(kind), SQL_I(b->cur.due_ms), SQL_I(k->review_ms), SQL_I(k->rid),
                                   SQL_T(k->digest), SQL_I(limit)),
                          entry_row, b, NULL, err);
}

static enum berth_rc entry_done(struct berth_sql_conn *c, int kind, const struct gc_entry *e, struct berth_err *err)
{
    return berth_sql_exec(c, "gc", SQL_GC_REVIEW_DONE, SQL_ARGS(SQL_I(kind), SQL_I(e->rid), SQL_T(e->digest)), NULL,
                          err);
}

static void report(struct gc *b, int kind, const char *repo, const char *digest)
{
    struct gc_report *r;

    if (b->nrep == b->caprep) {
        b->caprep = b->caprep ? 2 * b->caprep : GC_STEP;
        b->rep = berth_xrealloc(b->rep, b->caprep * sizeof(*b->rep));
    }
    r = &b->rep[b->nrep++];
    r->kind = kind;
    snprintf(r->repo, sizeof(r->repo), "%s", repo);
    snprintf(r->digest, sizeof(r->digest), "%s", digest);
}

/* Tells the callbacks what the committed step (or the dry run) deleted; a nonzero return stops gc after it. */
static void tell(struct gc *b)
{
    size_t i;

    for (i = 0; i < b->nrep; i++) {
        const struct gc_report *r = &b->rep[i];
        berth_meta_gc_fn fn = r->kind == GC_KIND_MANIFEST ? b->on_manifest : b->on_unlink;
        if (fn && fn(r->repo, r->digest, b->ctx)) b->stopped = 1;
    }
    b->nrep = 0;
}

/*
 * What an entry names is younger than the grace: it is due again when it is
 * as old as the entry's due time is now (a run with the same grace passes
 * over it until then).
 */
static enum berth_rc entry_later(struct berth_sql_conn *c, int kind, const struct gc_entry *e, int64_t created_ms,
                                 struct berth_err *err)
{
    return berth_sql_exec(c, "gc", SQL_GC_REVIEW_LATER,
                          SQL_ARGS(SQL_I(kind), SQL_I(e->rid), SQL_T(e->digest), SQL_I(created_ms)), NULL, err);
}

/* A queued thing's state, as its check reads it. */
struct gc_state {
    int found;
    int64_t id, created_ms, kept;
    char repo[BERTH_NAME_MAX + 1];
};

/* Columns from col: created, kept, repository name. */
static enum berth_rc state_cols(struct berth_sql_row *r, int col, struct gc_state *x, struct berth_err *err)
{
    if (!berth_sql_text(r, col + 2) || berth_sql_copy(r, col + 2, x->repo, sizeof(x->repo)) != 0)
        return berth_err_set(err, BERTH_EDB, "gc: damaged repository name");
    x->created_ms = berth_sql_int(r, col);
    x->kept = berth_sql_int(r, col + 1);
    return BERTH_OK;
}

/* GC_MANIFEST_CHECK: id, then the state. */
static enum berth_rc manifest_state(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct gc_state *x = ctx;

    x->id = berth_sql_int(r, 0);
    return state_cols(r, 1, x, err);
}

/* GC_LINK_CHECK: the state. */
static enum berth_rc link_state(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    return state_cols(r, 0, ctx, err);
}

/*
 * Reviews one manifest entry: the manifest goes when nothing keeps it and it
 * is older than the grace; the entry goes unless the manifest is too young.
 */
static enum berth_rc review_manifest(struct berth_sql_conn *c, struct gc *b, const struct gc_entry *e,
                                     struct berth_err *err)
{
    struct gc_state x;
    enum berth_rc rc;

    memset(&x, 0, sizeof(x));
    rc = berth_sql_one(c, "gc", SQL_GC_MANIFEST_CHECK, SQL_ARGS(SQL_I(e->rid), SQL_T(e->digest)), manifest_state, &x,
                       &x.found, err);
    if (rc) return rc;
    if (x.found && !x.kept && x.created_ms >= b->cutoff_ms) return entry_later(c, GC_KIND_MANIFEST, e, x.created_ms, err);
    if (x.found && !x.kept) {
        rc = drop_manifest(c, "gc", x.id, e->review_ms, err);
        if (rc) return rc;
        b->cur.pass_deleted++;
        report(b, GC_KIND_MANIFEST, x.repo, e->digest);
    }
    return entry_done(c, GC_KIND_MANIFEST, e, err);
}

/* Reviews one link entry: the link goes (and its blob is queued) when no manifest uses it and it is old enough. */
static enum berth_rc review_link(struct berth_sql_conn *c, struct gc *b, const struct gc_entry *e,
                                 struct berth_err *err)
{
    struct gc_state x;
    enum berth_rc rc;

    memset(&x, 0, sizeof(x));
    rc = berth_sql_one(c, "gc", SQL_GC_LINK_CHECK, SQL_ARGS(SQL_I(e->rid), SQL_T(e->digest)), link_state, &x,
                       &x.found, err);
    if (rc) return rc;
    if (x.found && !x.kept && x.created_ms >= b->cutoff_ms) return entry_later(c, GC_KIND_LINK, e, x.created_ms, err);
    if (x.found && !x.kept) {
        rc = berth_sql_exec(c, "gc", SQL_GC_LINK_DELETE, SQL_ARGS(SQL_I(e->rid), SQL_T(e->digest)), NULL, err);
        if (!rc) rc = queue(c, "gc", GC_KIND_BLOB, e->rid, e->digest, e->review_ms, err);
        if (rc) return rc;
        report(b, GC_KIND_LINK, x.repo, e->digest);
    }
    return entry_done(c, GC_KIND_LINK, e, err);
}

/*
 * The cursor at the start of a pass over the entries due by the cutoff: what
 * became garbage within the grace (a tag removed a minute ago) is left alone.
 */
static void pass_begin(struct gc_cursor *k, int64_t cutoff_ms)
{
    memset(&k->last, 0, sizeof(k->last));
    k->last.review_ms = k->last.rid = -1;
    k->due_ms = cutoff_ms - 1; /* due before the cutoff, as what it names must be older */
    k->pass_deleted = 0;
}

/*
 * One step: up to limit due entries of the phase after the cursor. Deleting a
 * manifest queues its children and referrers, due when it was: another pass takes
 * them while the last one deleted anything (up to GC_PASSES: an index of
 * indexes of referrers is as deep as it gets). Links need one pass, begun
 * after the manifests, so it takes the links their deletions queued.
 */
static enum berth_rc gc_step(struct berth_sql_conn *c, struct gc *b, int limit, struct berth_err *err)
{
    struct gc_cursor *k = &b->cur;
    int kind = k->phase == GC_PHASE_MANIFESTS ? GC_KIND_MANIFEST : GC_KIND_LINK;
    enum berth_rc rc;
    int i;

    if (k->phase == GC_PHASE_DONE) return BERTH_OK;
    rc = take_entries(c, b, kind, limit, err);
    if (rc) return rc;
    if (b->n == 0) {
        if (k->phase == GC_PHASE_MANIFESTS && k->pass_deleted && ++k->passes < GC_PASSES) {
            pass_begin(k, b->cutoff_ms);
        } else {
            k->phase++;
            pass_begin(k, b->cutoff_ms);
        }
        return BERTH_OK;
    }
    for (i = 0; i < b->n && !rc; i++) {
        rc = kind == GC_KIND_MANIFEST ? review_manifest(c, b, &b->e[i], err) : review_link(c, b, &b->e[i], err);
        k->last = b->e[i];
    }
    return rc;
}

/*
 * A step of its own transaction: it starts from the last committed cursor
 * (again, when the transaction is run again after a conflict).
 */
static enum berth_rc gc_step_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;

    b->cur = b->done;
    b->nrep = 0;
    return gc_step(c, b, GC_STEP, err);
}

/* A dry run: every step in one transaction that is rolled back, so later steps see what earlier ones deleted. */
static enum berth_rc gc_dry_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct gc *b = ctx;
    enum berth_rc rc = BERTH_OK;

    b->cur = b->done;
    b->nrep = 0;
    while (!rc && b->cur.phase != GC_PHASE_DONE) rc = gc_step(c, b, GC_STEP, err);
    c->discard = 1;
    return rc;
}

/*
 * Each step is a short write transaction over a few hundred queued entries,
 * taken with FOR UPDATE SKIP LOCKED on PostgreSQL: gc runs on several
 * servers at once share the queue instead of repeating each other's work,
 * and writers wait for no more than the rows a step touches. Every decision
 * is made in the transaction that deletes; serializable isolation aborts one
 * of a step and a push that would disagree (docs/internals/store.md). A
 * nonzero return from a callback stops gc after that step's commit.
 */
static enum berth_rc gc(struct berth_meta *m, int64_t cutoff_ms, int dry_run, berth_meta_gc_fn on_manifest,
                        berth_meta_gc_fn on_unlink, void *ctx, struct berth_err *err)
{
    struct gc *b = berth_xcalloc(1, sizeof(*b));
    enum berth_rc rc = BERTH_OK;

    berth_sql_db(m);
    b->cutoff_ms = cutoff_ms;
    b->dry_run = dry_run;
    b->on_manifest = on_manifest;
    b->on_unlink = on_unlink;
    b->ctx = ctx;
    pass_begin(&b->done, cutoff_ms);
    if (dry_run) {
        rc = berth_sql_tx(m, "gc", gc_dry_tx, b, err);
        if (!rc) tell(b);
    } else {
        while (!rc && !b->stopped && b->done.phase != GC_PHASE_DONE) {
            rc = berth_sql_tx(m, "gc", gc_step_tx, b, err);
            if (rc) break;
            b->done = b->cur;
            tell(b);
        }
    }
    free(b->rep);
    free(b);
    return rc;
}

struct due {
    berth_meta_gc_entry_fn fn;
    void *ctx;
};

static enum berth_rc give_due(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct due *x = ctx;
    struct berth_meta_gc_entry e;
    const char *digest = berth_sql_text(r, 1);

    if (!digest || strlen(digest) > BERTH_DIGEST_STR_MAX) return berth_err_set(err, BERTH_EDB, "gc: damaged entry");
    e.repo_id = berth_sql_int(r, 0);
    snprintf(e.digest, sizeof(e.digest), "%s", digest);
    e.review_ms = berth_sql_int(r, 2);
    if (x->fn(&e, x->ctx)) r->stop = 1;
    return BERTH_OK;
}

static enum berth_rc gc_blobs_due(struct berth_meta *m, int64_t due_ms, const struct berth_meta_gc_entry *after,
                                  int64_t n, berth_meta_gc_entry_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct due x = {fn, ctx};

    if (!after || !fn) return berth_err_set(err, BERTH_EINVAL, "gc_blobs_due: no cursor or callback");
    return berth_sql_each(db, "gc_blobs_due", SQL_GC_REVIEW_NEXT,
                          SQL_ARGS(SQL_I(GC_KIND_BLOB), SQL_I(due_ms), SQL_I(after->review_ms), SQL_I(after->repo_id),
                                   SQL_T(after->digest), SQL_I(n)),
                          give_due, &x, NULL, err);
}

static enum berth_rc give_waiting(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_gc_waiting *w = ctx;
    int64_t kind = berth_sql_int(r, 0), n = berth_sql_int(r, 1), first = berth_sql_int(r, 2);

    (void)err;
    if (n < 0) n = 0;
    if (kind == GC_KIND_MANIFEST) w->manifests = (uint64_t)n;
    else if (kind == GC_KIND_LINK) w->links = (uint64_t)n;
    else if (kind == GC_KIND_BLOB) w->blobs = (uint64_t)n;
    if (n && (!w->first_review_ms || first < w->first_review_ms)) w->first_review_ms = first;
    return BERTH_OK;
}

static enum berth_rc gc_waiting(struct berth_meta *m, int64_t due_ms, struct berth_meta_gc_waiting *out,
                                struct berth_err *err)
{
    memset(out, 0, sizeof(*out));
    return berth_sql_each(berth_sql_db(m), "gc_waiting", SQL_GC_REVIEW_WAITING, SQL_ARGS(SQL_I(due_ms)), give_waiting,
                          out, NULL, err);
}

const struct berth_meta_content_ops berth_sql_content_ops = {
    .repo_exists = repo_exists,
    .repo_list = repo_list,
    .blob_claim = blob_claim,
    .blob_linked = blob_linked,
    .blob_unlink = blob_unlink,
    .blob_repos = blob_repos,
    .blob_in_use = blob_in_use,
    .blob_reap = blob_reap,
    .manifest_put = manifest_put,
    .manifest_get = manifest_get,
    .manifest_delete = manifest_delete,
    .repo_delete = repo_delete,
    .tag_delete = tag_delete,
    .tag_list = tag_list,
    .referrers = referrers,
    .gc = gc,
    .gc_blobs_due = gc_blobs_due,
    .gc_waiting = gc_waiting,
    .registry_usage = registry_usage,
    .locks_set = locks_set,
    .repo_info = repo_info,
    .tag_infos = tag_infos,
    .manifest_infos = manifest_infos,
};
