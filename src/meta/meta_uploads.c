/*
 * meta_uploads.c - upload sessions (struct berth_meta_upload_ops), on the
 * SQL layer (meta_sql.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "meta_sql.h"
#include "banned.h"

struct upload {
    const char *uuid;
    int64_t reg;
    const char *repo, *principal;
    int64_t created_ms, max;
    unsigned char hash[BERTH_HASHER_SAVE_MAX]; /* the state of a hash of nothing: a new session's */
    size_t hash_len;
};

/* The count and the insert share a transaction, so the cap holds against racing sessions. */
static enum berth_rc put_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct upload *x = ctx;
    int64_t open = 0, n = 0;
    enum berth_rc rc;

    if (x->max > 0) {
        rc = berth_sql_int1(c, "upload_put", SQL_UPLOAD_COUNT,
                            SQL_ARGS(SQL_I(x->reg), SQL_T(x->repo), SQL_T(x->principal)), NULL, &open, err);
        if (rc) return rc;
        if (open >= x->max)
            return berth_err_set(err, BERTH_ETOOMANY, "%lld upload sessions are open on '%s' already, the most "
                                 "one client may have: finish or cancel some, or wait until they expire",
                                 (long long)open, x->repo);
    }
    rc = berth_sql_exec(c, "upload_put", SQL_UPLOAD_PUT,
                        SQL_ARGS(SQL_T(x->uuid), SQL_I(x->reg), SQL_T(x->repo), SQL_T(x->principal),
                                 SQL_I(x->created_ms), SQL_B(x->hash, x->hash_len)),
                        &n, err);
    if (!rc && n == 0) rc = berth_sql_no_registry(x->reg, err);
    return rc;
}

static enum berth_rc upload_put(struct berth_meta *m, const char *uuid, int64_t reg, const char *repo,
                                const char *principal, int64_t created_ms, int64_t max, struct berth_err *err)
{
    struct upload x = {uuid, reg, repo, principal ? principal : "", created_ms, max, {0}, 0};
    struct berth_hasher h;

    berth_sql_db(m);
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    x.hash_len = berth_hasher_save(&h, x.hash);
    berth_hasher_release(&h);
    if (!uuid || !repo) return berth_err_set(err, BERTH_EINVAL, "upload_put: no uuid or repository");
    return berth_sql_tx(m, "upload_put", put_tx, &x, err);
}

struct get {
    int64_t *reg;
    char *repo;
    size_t repolen;
    int64_t *created_ms;
};

static enum berth_rc read_upload(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    const struct get *x = ctx;

    if (x->repo && berth_sql_copy(r, 1, x->repo, x->repolen) != 0)
        return berth_err_set(err, BERTH_EINTERNAL, "upload_get: repository name does not fit in %zu bytes",
                             x->repolen);
    if (x->reg) *x->reg = berth_sql_int(r, 0);
    if (x->created_ms) *x->created_ms = berth_sql_int(r, 2);
    return BERTH_OK;
}

static enum berth_rc upload_get(struct berth_meta *m, const char *uuid, int64_t *reg, char *repo, size_t repolen,
                                int64_t *created_ms, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct get x = {reg, repo, repolen, created_ms};
    enum berth_rc rc;
    int found = 0;

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_get: no uuid");
    rc = berth_sql_one(db, "upload_get", SQL_UPLOAD_GET, SQL_ARGS(SQL_T(uuid)), read_upload, &x, &found, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", uuid);
    return rc;
}

/* BERTH_EUPLOADUNKNOWN when there was no such session. */
static enum berth_rc upload_delete(struct berth_meta *m, const char *uuid, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_delete: no uuid");
    rc = berth_sql_exec(db, "upload_delete", SQL_UPLOAD_DELETE, SQL_ARGS(SQL_T(uuid)), &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", uuid);
    return rc;
}

static enum berth_rc upload_list(struct berth_meta *m, berth_meta_name_fn fn, void *ctx, struct berth_err *err)
{
    return berth_sql_names(berth_sql_db(m), "upload_list", SQL_UPLOAD_LIST, SQL_NOARGS, 0, -1, fn, ctx, NULL, NULL,
                           err);
}

static enum berth_rc read_state(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_upload *u = ctx;
    const char *ext = berth_sql_text(r, 5);
    const void *hash = NULL;
    size_t n = 0;
    enum berth_rc rc;

    if (berth_sql_copy(r, 1, u->repo, sizeof(u->repo)) != 0)
        return berth_err_set(err, BERTH_EDB, "upload_load: stored repository name is too long");
    u->reg = berth_sql_int(r, 0);
    u->created_ms = berth_sql_int(r, 2);
    if (berth_sql_int(r, 3) < 0) return berth_err_set(err, BERTH_EDB, "upload_load: stored size is negative");
    u->size = (uint64_t)berth_sql_int(r, 3);
    rc = berth_sql_blob(r, 4, &hash, &n, err);
    if (rc) return rc;
    if (n > sizeof(u->hash)) return berth_err_set(err, BERTH_EDB, "upload_load: stored hash state is %zu bytes", n);
    if (n) memcpy(u->hash, hash, n);
    u->hash_len = n;
    u->ext = ext ? berth_xstrdup(ext) : NULL;
    return BERTH_OK;
}

static enum berth_rc upload_load(struct berth_meta *m, const char *uuid, struct berth_meta_upload *out,
                                 struct berth_err *err)
{
    enum berth_rc rc;
    int found = 0;

    memset(out, 0, sizeof(*out));
    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_load: no uuid");
    rc = berth_sql_one(berth_sql_db(m), "upload_load", SQL_UPLOAD_LOAD, SQL_ARGS(SQL_T(uuid)), read_state, out,
                       &found, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", uuid);
    if (rc) berth_meta_upload_release(out);
    return rc;
}

struct saved {
    const char *uuid, *ext;
    uint64_t size;
    const void *hash;
    size_t hash_len;
    int64_t now_ms;
};

static enum berth_rc save_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct saved *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;

    rc = berth_sql_exec(c, "upload_save", SQL_UPLOAD_SAVE,
                        SQL_ARGS(SQL_T(x->uuid), SQL_I(x->size), x->hash_len ? SQL_B(x->hash, x->hash_len) : SQL_NULL,
                                 SQL_T(x->ext), SQL_I(x->now_ms)),
                        &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", x->uuid);
    return rc;
}

/*
 * Saved after every chunk, so its commit does not wait for the disk (a
 * fsync per PATCH took a third of a chunked push's time). A crash of the
 * machine may lose the last states, never a pushed blob: the session then
 * resumes from an earlier size and a longer file is cut back to it (or, if
 * the file is shorter, the next PATCH is refused and the client starts the
 * blob again); the PUT that completes the upload commits with a wait, which
 * makes every earlier state durable too.
 */
static enum berth_rc upload_save(struct berth_meta *m, const char *uuid, uint64_t size, const void *hash,
                                 size_t hash_len, const char *ext, int64_t now_ms, struct berth_err *err)
{
    struct saved x = {uuid, ext, size, hash, hash_len, now_ms};

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_save: no uuid");
    if (size > (uint64_t)INT64_MAX) return berth_err_set(err, BERTH_EINVAL, "upload_save: size out of range");
    return berth_sql_tx_relaxed(m, "upload_save", save_tx, &x, err);
}

/* The lock key of a session: 32 bits of its random id (a collision only makes one request wait its turn). */
static int32_t lock_key(const char *uuid)
{
    uint32_t h = 2166136261u;
    for (; *uuid; uuid++) h = (h ^ (unsigned char)*uuid) * 16777619u;
    return (int32_t)(h & 0x7fffffffu);
}

static enum berth_rc upload_lock(struct berth_meta *m, const char *uuid, struct berth_err *err)
{
    struct berth_sql *db = berth_sql_db(m)->db;

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_lock: no uuid");
    if (!db->drv->lock_try) return BERTH_OK;
    return db->drv->lock_try(db, lock_key(uuid), err);
}

static void upload_unlock(struct berth_meta *m, const char *uuid)
{
    struct berth_sql *db = berth_sql_db(m)->db;

    if (uuid && db->drv->unlock) db->drv->unlock(db, lock_key(uuid));
}

const struct berth_meta_upload_ops berth_sql_upload_ops = {
    .upload_load = upload_load,
    .upload_save = upload_save,
    .upload_lock = upload_lock,
    .upload_unlock = upload_unlock,
    .upload_put = upload_put,
    .upload_get = upload_get,
    .upload_delete = upload_delete,
    .upload_list = upload_list,
};
