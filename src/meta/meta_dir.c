/*
 * meta_dir.c - the directory (struct berth_meta_dir_ops): users, service
 * principals and their secrets, scope maps, repository tokens and role
 * assignments, on the SQL layer (meta_sql.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "meta_sql.h"
#include "util.h"
#include "banned.h"

#define SP_SECRETS_MAX 10 /* secrets one service principal may hold */

static enum berth_rc no_sp(const char *app_id, struct berth_err *err)
{
    return berth_err_set(err, BERTH_ENOENT, "service principal '%s' not found", app_id);
}

/* Why a create-only insert added no row: what (id_stmt finds it by registry and name) is taken, or no registry. */
static enum berth_rc name_taken_or_no_registry(struct berth_sql_conn *c, enum berth_sql_id id_stmt, int64_t reg,
                                               const char *name, const char *what, struct berth_err *err)
{
    int row = 0;
    enum berth_rc rc = berth_sql_int1(c, "put", id_stmt, SQL_ARGS(SQL_I(reg), SQL_T(name)), &row, NULL, err);

    if (rc) return rc;
    if (row) return berth_err_set(err, BERTH_EEXIST, "%s '%s' already exists", what, name);
    return berth_sql_no_registry(reg, err);
}

/* ---- rows ---- */

static enum berth_rc read_user(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_user *u = ctx;

    memset(u, 0, sizeof(*u));
    u->created_ms = berth_sql_int(r, 3);
    u->password_set_ms = berth_sql_int(r, 4);
    if (berth_sql_copy(r, 0, u->id, sizeof(u->id)) != 0 || berth_sql_copy(r, 1, u->name, sizeof(u->name)) != 0 ||
        berth_sql_copy(r, 2, u->hash, sizeof(u->hash)) != 0)
        return berth_sql_damaged("user", err);
    return BERTH_OK;
}

static enum berth_rc read_sp(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_sp *sp = ctx;

    memset(sp, 0, sizeof(*sp));
    sp->created_ms = berth_sql_int(r, 2);
    if (berth_sql_copy(r, 0, sp->app_id, sizeof(sp->app_id)) != 0 ||
        berth_sql_copy(r, 1, sp->display_name, sizeof(sp->display_name)) != 0)
        return berth_sql_damaged("service principal", err);
    return BERTH_OK;
}

/* A NULL id is the LEFT JOIN's row of a principal without secrets: skipped. */
static enum berth_rc read_secret(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_sp_secret *s = ctx;

    if (berth_sql_null(r, 0)) {
        r->skip = 1;
        return BERTH_OK;
    }
    s->created_ms = berth_sql_int(r, 3);
    s->expires_ms = berth_sql_int(r, 4);
    if (berth_sql_copy(r, 0, s->id, sizeof(s->id)) != 0 || berth_sql_copy(r, 1, s->hash, sizeof(s->hash)) != 0 ||
        berth_sql_copy(r, 2, s->description, sizeof(s->description)) != 0)
        return berth_sql_damaged("service principal secret", err);
    return BERTH_OK;
}

static enum berth_rc read_token(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_token *t = ctx;
    int i;

    memset(t, 0, sizeof(*t));
    t->id = berth_sql_int(r, 0);
    t->reg = berth_sql_int(r, 1);
    t->enabled = berth_sql_int(r, 4) != 0;
    t->created_ms = berth_sql_int(r, 5);
    for (i = 0; i < 2; i++) {
        if (berth_sql_copy(r, 6 + i, t->hash[i], sizeof(t->hash[i])) != 0) return berth_sql_damaged("token", err);
        t->set_ms[i] = berth_sql_int(r, 8 + i);
        t->expires_ms[i] = berth_sql_int(r, 10 + i);
    }
    if (berth_sql_copy(r, 2, t->name, sizeof(t->name)) != 0 ||
        berth_sql_copy(r, 3, t->scopemap, sizeof(t->scopemap)) != 0)
        return berth_sql_damaged("token", err);
    return BERTH_OK;
}

/* A NULL token id is the LEFT JOIN's row of a registry without tokens: skipped. */
static enum berth_rc read_token_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    if (berth_sql_null(r, 0)) {
        r->skip = 1;
        return BERTH_OK;
    }
    return read_token(r, ctx, err);
}

static enum berth_rc read_assignment(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_assignment *a = ctx;

    memset(a, 0, sizeof(*a));
    a->created_ms = berth_sql_int(r, 5);
    if (berth_sql_copy(r, 0, a->id, sizeof(a->id)) != 0 ||
        berth_sql_copy(r, 1, a->principal_type, sizeof(a->principal_type)) != 0 ||
        berth_sql_copy(r, 2, a->principal_id, sizeof(a->principal_id)) != 0 ||
        berth_sql_copy(r, 3, a->role, sizeof(a->role)) != 0 || berth_sql_copy(r, 4, a->scope, sizeof(a->scope)) != 0)
        return berth_sql_damaged("role assignment", err);
    return BERTH_OK;
}

/* ---- users ---- */

static enum berth_rc user_create(struct berth_meta *m, struct berth_meta_user *u, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t now = berth_now_ms(), set_ms, n = 0;
    char id[37];
    enum berth_rc rc;

    if (!u || !BERTH_SQL_FITS(u->name) || !u->name[0] || !BERTH_SQL_FITS(u->hash))
        return berth_err_set(err, BERTH_EINVAL, "user_create: no name, or a field does not fit");
    berth_uuid(id);
    set_ms = u->password_set_ms ? u->password_set_ms : now;
    rc = berth_sql_exec(db, "user_create", SQL_USER_INSERT,
                        SQL_ARGS(SQL_T(id), SQL_T(u->name), SQL_T(u->hash), SQL_I(now), SQL_I(set_ms)), &n, err);
    if (rc) return rc;
    if (n == 0) return berth_err_set(err, BERTH_EEXIST, "user '%s' already exists", u->name);
    memcpy(u->id, id, sizeof(id));
    u->created_ms = now;
    u->password_set_ms = set_ms;
    return BERTH_OK;
}

static enum berth_rc user_get(struct berth_meta *m, const char *name, const char *id, struct berth_meta_user *out,
                              struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!name && !id) return berth_err_set(err, BERTH_EINVAL, "user_get: no name or id");
    rc = berth_sql_one(db, "user_get", name ? SQL_USER_BY_NAME : SQL_USER_BY_ID, SQL_ARGS(SQL_T(name ? name : id)),
                       out ? read_user : NULL, out, &found, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_ENOENT, "user '%s' not found", name ? name : id);
    return rc;
}

static enum berth_rc user_list(struct berth_meta *m, berth_meta_user_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_user);
    const struct berth_meta_user *v;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_list(berth_sql_db(m), "user_list", SQL_USER_LIST, SQL_NOARGS, read_user, &l, NULL, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

static enum berth_rc user_set_password(struct berth_meta *m, const char *id, const char *hash, int64_t set_ms,
                                       struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!id || !hash || strlen(hash) >= BERTH_META_HASH_MAX)
        return berth_err_set(err, BERTH_EINVAL, "user_set_password: no user or hash, or the hash does not fit");
    rc = berth_sql_exec(db, "user_set_password", SQL_USER_SET_PASSWORD, SQL_ARGS(SQL_T(id), SQL_T(hash), SQL_I(set_ms)),
                        &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_ENOENT, "user '%s' not found", id);
    return rc;
}

struct principal {
    const char *type; /* "user" or "sp" */
    enum berth_sql_id del;
    const char *id;
    const char *op;
};

/* Deletes a user or a service principal (its DELETE) and its role assignments, in one transaction. */
static enum berth_rc principal_delete_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct principal *p = ctx;
    int64_t n = 0;
    enum berth_rc rc;

    rc = berth_sql_exec(c, p->op, p->del, SQL_ARGS(SQL_T(p->id)), &n, err);
    if (rc) return rc;
    if (n == 0)
        return berth_err_set(err, BERTH_ENOENT, "%s '%s' not found",
                             strcmp(p->type, "sp") ? "user" : "service principal", p->id);
    return berth_sql_exec(c, p->op, SQL_ASSIGN_DELETE_PRINCIPAL, SQL_ARGS(SQL_T(p->type), SQL_T(p->id)), NULL, err);
}

static enum berth_rc user_delete(struct berth_meta *m, const char *id, struct berth_err *err)
{
    struct principal p = {"user", SQL_USER_DELETE, id, "user_delete"};

    berth_sql_db(m);
    if (!id) return berth_err_set(err, BERTH_EINVAL, "user_delete: no user");
    return berth_sql_tx(m, p.op, principal_delete_tx, &p, err);
}

/* ---- service principals and their secrets ---- */

static enum berth_rc sp_create(struct berth_meta *m, struct berth_meta_sp *sp, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t now = berth_now_ms();
    char id[37];
    enum berth_rc rc;

    if (!sp || !BERTH_SQL_FITS(sp->display_name))
        return berth_err_set(err, BERTH_EINVAL, "sp_create: no service principal, or its name does not fit");
    berth_uuid(id);
    rc = berth_sql_exec(db, "sp_create", SQL_SP_INSERT, SQL_ARGS(SQL_T(id), SQL_T(sp->display_name), SQL_I(now)), NULL,
                        err);
    if (rc) return rc;
    memcpy(sp->app_id, id, sizeof(id));
    sp->created_ms = now;
    return BERTH_OK;
}

static enum berth_rc sp_get(struct berth_meta *m, const char *app_id, struct berth_meta_sp *out, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_get: no app id");
    rc = berth_sql_one(db, "sp_get", SQL_SP_GET, SQL_ARGS(SQL_T(app_id)), out ? read_sp : NULL, out, &found, err);
    if (!rc && !found) rc = no_sp(app_id, err);
    return rc;
}

static enum berth_rc sp_list(struct berth_meta *m, berth_meta_sp_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_sp);
    const struct berth_meta_sp *v;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_list(berth_sql_db(m), "sp_list", SQL_SP_LIST, SQL_NOARGS, read_sp, &l, NULL, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

/* Secrets go with the row (ON DELETE CASCADE), assignments in the same transaction. */
static enum berth_rc sp_delete(struct berth_meta *m, const char *app_id, struct berth_err *err)
{
    struct principal p = {"sp", SQL_SP_DELETE, app_id, "sp_delete"};

    berth_sql_db(m);
    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_delete: no app id");
    return berth_sql_tx(m, p.op, principal_delete_tx, &p, err);
}

struct secret_add {
    const char *app_id;
    const struct berth_meta_sp_secret *s;
    const char *id;
    int64_t now;
};

/* The count and the insert share a transaction, so two racing adds cannot make an eleventh. */
static enum berth_rc secret_add_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct secret_add *x = ctx;
    int64_t count = 0;
    enum berth_rc rc;
    int found = 0;

    rc = berth_sql_int1(c, "sp_secret_add", SQL_SP_EXISTS, SQL_ARGS(SQL_T(x->app_id)), &found, NULL, err);
    if (rc) return rc;
    if (!found) return no_sp(x->app_id, err);
    rc = berth_sql_int1(c, "sp_secret_add", SQL_SECRET_COUNT, SQL_ARGS(SQL_T(x->app_id)), NULL, &count, err);
    if (rc) return rc;
    if (count >= SP_SECRETS_MAX)
        return berth_err_set(err, BERTH_EBUSY, "service principal '%s' already has %d secrets; remove one first",
                             x->app_id, SP_SECRETS_MAX);
    return berth_sql_exec(c, "sp_secret_add", SQL_SECRET_INSERT,
                          SQL_ARGS(SQL_T(x->id), SQL_T(x->app_id), SQL_T(x->s->hash), SQL_T(x->s->description),
                                   SQL_I(x->now), SQL_I(x->s->expires_ms)),
                          NULL, err);
}

static enum berth_rc sp_secret_add(struct berth_meta *m, const char *app_id, struct berth_meta_sp_secret *s,
                                   struct berth_err *err)
{
    char id[37];
    struct secret_add x = {app_id, s, id, berth_now_ms()};
    enum berth_rc rc;

    berth_sql_db(m);
    if (!app_id || !s || !BERTH_SQL_FITS(s->hash) || !BERTH_SQL_FITS(s->description))
        return berth_err_set(err, BERTH_EINVAL, "sp_secret_add: no app id or secret, or a field does not fit");
    berth_uuid(id);
    rc = berth_sql_tx(m, "sp_secret_add", secret_add_tx, &x, err);
    if (rc) return rc;
    memcpy(s->id, id, sizeof(id));
    s->created_ms = x.now;
    return BERTH_OK;
}

static enum berth_rc sp_secret_remove(struct berth_meta *m, const char *app_id, const char *secret_id,
                                      struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!app_id || !secret_id) return berth_err_set(err, BERTH_EINVAL, "sp_secret_remove: no app id or secret id");
    rc = berth_sql_exec(db, "sp_secret_remove", SQL_SECRET_DELETE, SQL_ARGS(SQL_T(app_id), SQL_T(secret_id)), &n, err);
    if (!rc && n == 0)
        rc = berth_err_set(err, BERTH_ENOENT, "secret '%s' of service principal '%s' not found", secret_id, app_id);
    return rc;
}

static enum berth_rc sp_secrets(struct berth_meta *m, const char *app_id, berth_meta_sp_secret_fn fn, void *ctx,
                                struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_sp_secret);
    const struct berth_meta_sp_secret *v;
    int64_t rows = 0;
    enum berth_rc rc;
    size_t i;

    berth_sql_db(m);
    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_secrets: no app id");
    rc = berth_sql_list(berth_sql_db(m), "sp_secrets", SQL_SECRET_LIST, SQL_ARGS(SQL_T(app_id)), read_secret, &l,
                        &rows, err);
    if (!rc && rows == 0) rc = no_sp(app_id, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

/* ---- scope maps ---- */

struct sm_put {
    struct berth_meta_scopemap *sm;
    int64_t now, id, created;
};

static enum berth_rc read_id_created(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct sm_put *x = ctx;

    (void)err;
    x->id = berth_sql_int(r, 0);
    x->created = berth_sql_int(r, 1);
    return BERTH_OK;
}

static enum berth_rc sm_put_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct sm_put *x = ctx;
    const struct berth_meta_scopemap *sm = x->sm;
    enum berth_rc rc;
    int found = 0;
    size_t i;

    rc = berth_sql_one(c, "scopemap_put", sm->create_only ? SQL_SM_INSERT : SQL_SM_UPSERT,
                       SQL_ARGS(SQL_I(sm->reg), SQL_T(sm->name), SQL_T(sm->description), SQL_I(x->now)),
                       read_id_created, x, &found, err);
    if (rc) return rc;
    if (!found) return name_taken_or_no_registry(c, SQL_SM_ID, sm->reg, sm->name, "scope map", err);
    rc = berth_sql_exec(c, "scopemap_put", SQL_SM_RULES_CLEAR, SQL_ARGS(SQL_I(x->id)), NULL, err);
    for (i = 0; !rc && i < sm->nrules; i++)
        rc = berth_sql_exec(c, "scopemap_put", SQL_SM_RULE_ADD, SQL_ARGS(SQL_I(x->id), SQL_I(i), SQL_T(sm->rules[i])),
                            NULL, err);
    return rc;
}

static enum berth_rc scopemap_put(struct berth_meta *m, struct berth_meta_scopemap *sm, struct berth_err *err)
{
    struct sm_put x = {sm, berth_now_ms(), 0, 0};
    enum berth_rc rc;
    size_t i;

    berth_sql_db(m);
    if (!sm || !BERTH_SQL_FITS(sm->name) || !sm->name[0] || !BERTH_SQL_FITS(sm->description) ||
        (sm->nrules && !sm->rules))
        return berth_err_set(err, BERTH_EINVAL, "scopemap_put: no name, or a field does not fit");
    for (i = 0; i < sm->nrules; i++)
        if (!sm->rules[i]) return berth_err_set(err, BERTH_EINVAL, "scopemap_put: rule %zu is missing", i);
    rc = berth_sql_tx(m, "scopemap_put", sm_put_tx, &x, err);
    if (rc) return rc;
    sm->id = x.id;
    sm->created_ms = x.created;
    return BERTH_OK;
}

/*
 * Assembles scope maps from rows (registry id, map id, name, description,
 * created, rule) ordered by map, then rule position; a row with a NULL map
 * id (a registry without maps) is skipped. emit receives each map and may
 * take its rules; nonzero stops.
 */
struct sm_read {
    struct berth_meta_scopemap cur;
    size_t cap;
    int have;
    int (*emit)(struct berth_meta_scopemap *sm, void *ctx);
    void *ctx;
};

static enum berth_rc read_scopemap_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct sm_read *x = ctx;
    const char *rule;
    int64_t id;

    if (berth_sql_null(r, 1)) return BERTH_OK;
    id = berth_sql_int(r, 1);
    if (x->have && id != x->cur.id) {
        int stop = x->emit(&x->cur, x->ctx);
        berth_meta_scopemap_release(&x->cur);
        x->have = 0;
        if (stop) {
            r->stop = 1;
            return BERTH_OK;
        }
    }
    if (!x->have) {
        memset(&x->cur, 0, sizeof(x->cur));
        x->cap = 0;
        x->have = 1;
        x->cur.reg = berth_sql_int(r, 0);
        x->cur.id = id;
        x->cur.created_ms = berth_sql_int(r, 4);
        if (berth_sql_copy(r, 2, x->cur.name, sizeof(x->cur.name)) != 0 ||
            berth_sql_copy(r, 3, x->cur.description, sizeof(x->cur.description)) != 0)
            return berth_sql_damaged("scope map", err);
    }
    if (berth_sql_null(r, 5)) return BERTH_OK;
    rule = berth_sql_text(r, 5);
    if (!rule) return berth_err_set(err, BERTH_EDB, "%s: out of memory reading a rule", r->op);
    if (x->cur.nrules == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 8;
        x->cur.rules = berth_xrealloc(x->cur.rules, x->cap * sizeof(*x->cur.rules));
    }
    x->cur.rules[x->cur.nrules++] = berth_xstrdup(rule);
    return BERTH_OK;
}

static enum berth_rc read_scopemaps(struct berth_sql_conn *db, const char *op, enum berth_sql_id id,
                                    const struct berth_sql_arg *args, size_t nargs, struct sm_read *x, int64_t *rows,
                                    struct berth_err *err)
{
    enum berth_rc rc;

    memset(&x->cur, 0, sizeof(x->cur));
    x->have = 0;
    x->cap = 0;
    rc = berth_sql_each(db, op, id, args, nargs, read_scopemap_row, x, rows, err);
    if (!rc && x->have) x->emit(&x->cur, x->ctx);
    berth_meta_scopemap_release(&x->cur);
    return rc;
}

/* Moves the map into ctx (a struct berth_meta_scopemap *), rules and all. */
static int take_scopemap(struct berth_meta_scopemap *sm, void *ctx)
{
    struct berth_meta_scopemap *out = ctx;

    *out = *sm;
    sm->rules = NULL;
    sm->nrules = 0;
    return 1;
}

struct scopemap_list_ctx {
    berth_meta_scopemap_fn fn;
    void *ctx;
};

static int give_scopemap(struct berth_meta_scopemap *sm, void *ctx)
{
    struct scopemap_list_ctx *l = ctx;
    return l->fn ? l->fn(sm, l->ctx) : 0;
}

static enum berth_rc scopemap_get(struct berth_meta *m, int64_t reg, const char *name, struct berth_meta_scopemap *out,
                                  struct berth_err *err)
{
    struct sm_read x = {.emit = take_scopemap, .ctx = out};
    int64_t rows = 0;
    enum berth_rc rc;

    berth_sql_db(m);
    if (!name || !out) return berth_err_set(err, BERTH_EINVAL, "scopemap_get: no name or output");
    memset(out, 0, sizeof(*out));
    rc = read_scopemaps(berth_sql_db(m), "scopemap_get", SQL_SM_GET, SQL_ARGS(SQL_I(reg), SQL_T(name)), &x, &rows,
                        err);
    if (!rc && rows == 0) rc = berth_err_set(err, BERTH_ENOENT, "scope map '%s' not found", name);
    return rc;
}

static enum berth_rc scopemap_list(struct berth_meta *m, int64_t reg, berth_meta_scopemap_fn fn, void *ctx,
                                   struct berth_err *err)
{
    struct scopemap_list_ctx l = {fn, ctx};
    struct sm_read x = {.emit = give_scopemap, .ctx = &l};
    int64_t rows = 0;
    enum berth_rc rc;

    rc = read_scopemaps(berth_sql_db(m), "scopemap_list", SQL_SM_LIST, SQL_ARGS(SQL_I(reg)), &x, &rows, err);
    if (!rc && rows == 0) rc = berth_sql_no_registry(reg, err);
    return rc;
}

struct sm_delete {
    int64_t reg;
    const char *name;
};

static enum berth_rc read_user_token(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    return berth_sql_copy(r, 0, ctx, BERTH_META_NAME_MAX + 1) != 0 ? berth_sql_damaged("token", err) : BERTH_OK;
}

/* The check and the delete share a transaction, so no token can take the map up in between. */
static enum berth_rc sm_delete_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct sm_delete *x = ctx;
    char token[BERTH_META_NAME_MAX + 1];
    int64_t id = 0;
    enum berth_rc rc;
    int found = 0;

    rc = berth_sql_int1(c, "scopemap_delete", SQL_SM_ID, SQL_ARGS(SQL_I(x->reg), SQL_T(x->name)), &found, &id, err);
    if (rc) return rc;
    if (!found) return berth_err_set(err, BERTH_ENOENT, "scope map '%s' not found", x->name);
    rc = berth_sql_one(c, "scopemap_delete", SQL_SM_USED_BY, SQL_ARGS(SQL_I(x->reg), SQL_T(x->name)), read_user_token,
                       token, &found, err);
    if (rc) return rc;
    if (found) return berth_err_set(err, BERTH_EBUSY, "scope map '%s' is used by token '%s'", x->name, token);
    return berth_sql_exec(c, "scopemap_delete", SQL_SM_DELETE, SQL_ARGS(SQL_I(id)), NULL, err);
}

static enum berth_rc scopemap_delete(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err)
{
    struct sm_delete x = {reg, name};

    berth_sql_db(m);
    if (!name) return berth_err_set(err, BERTH_EINVAL, "scopemap_delete: no name");
    return berth_sql_tx(m, "scopemap_delete", sm_delete_tx, &x, err);
}

/* ---- tokens ---- */

static enum berth_rc read_token_ids(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_token *t = ctx;

    (void)err;
    t->id = berth_sql_int(r, 0);
    t->created_ms = berth_sql_int(r, 1);
    return BERTH_OK;
}

struct token_put {
    struct berth_meta_token *t;
    int64_t now;
};

/* One statement: the registry check is part of the insert, an update keeps id and created_ms. */
static enum berth_rc token_put_run(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct token_put *x = ctx;
    struct berth_meta_token *t = x->t;
    enum berth_rc rc;
    int found = 0;

    rc = berth_sql_one(c, "token_put", t->create_only ? SQL_TOKEN_INSERT : SQL_TOKEN_UPSERT,
                       SQL_ARGS(SQL_I(t->reg), SQL_T(t->name), SQL_T(t->scopemap), SQL_I(t->enabled != 0),
                                SQL_I(x->now), SQL_T(t->hash[0]), SQL_T(t->hash[1]), SQL_I(t->set_ms[0]),
                                SQL_I(t->set_ms[1]), SQL_I(t->expires_ms[0]), SQL_I(t->expires_ms[1])),
                       read_token_ids, t, &found, err);
    if (!rc && !found) rc = name_taken_or_no_registry(c, SQL_TOKEN_ID, t->reg, t->name, "token", err);
    return rc;
}

static enum berth_rc token_put(struct berth_meta *m, struct berth_meta_token *t, struct berth_err *err)
{
    struct token_put x = {t, berth_now_ms()};

    berth_sql_db(m);
    if (!t || !BERTH_SQL_FITS(t->name) || !t->name[0] || !BERTH_SQL_FITS(t->scopemap) || !t->scopemap[0] ||
        !BERTH_SQL_FITS(t->hash[0]) || !BERTH_SQL_FITS(t->hash[1]))
        return berth_err_set(err, BERTH_EINVAL, "token_put: no name or scope map, or a field does not fit");
    return berth_sql_run(m, token_put_run, &x, err);
}

static enum berth_rc token_get(struct berth_meta *m, int64_t reg, const char *name, struct berth_meta_token *out,
                               struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!name) return berth_err_set(err, BERTH_EINVAL, "token_get: no name");
    rc = berth_sql_one(db, "token_get", SQL_TOKEN_GET, SQL_ARGS(SQL_I(reg), SQL_T(name)), out ? read_token : NULL, out,
                       &found, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_ENOENT, "token '%s' not found", name);
    return rc;
}

static enum berth_rc token_list(struct berth_meta *m, int64_t reg, berth_meta_token_fn fn, void *ctx,
                                struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_token);
    const struct berth_meta_token *v;
    int64_t rows = 0;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_list(berth_sql_db(m), "token_list", SQL_TOKEN_LIST, SQL_ARGS(SQL_I(reg)), read_token_row, &l,
                        &rows, err);
    if (!rc && rows == 0) rc = berth_sql_no_registry(reg, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

static enum berth_rc token_delete(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!name) return berth_err_set(err, BERTH_EINVAL, "token_delete: no name");
    rc = berth_sql_exec(db, "token_delete", SQL_TOKEN_DELETE, SQL_ARGS(SQL_I(reg), SQL_T(name)), &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_ENOENT, "token '%s' not found", name);
    return rc;
}

/* ---- role assignments ---- */

struct assign {
    const struct berth_meta_assignment *a;
    const char *id;
    int64_t now;
};

/*
 * Inside assignment_create's transaction: the principal must exist, and so
 * must the registry a "/registries/<name>..." scope names, so that a registry
 * created later under that name does not inherit the assignment.
 */
static enum berth_rc assignment_targets(struct berth_sql_conn *c, const struct berth_meta_assignment *a,
                                        struct berth_err *err)
{
    static const char prefix[] = "/registries/";
    char name[BERTH_META_NAME_MAX + 1];
    const char *p, *end;
    enum berth_rc rc;
    int is_user = strcmp(a->principal_type, "user") == 0, found = 0;

    rc = berth_sql_int1(c, "assignment_create", is_user ? SQL_USER_EXISTS : SQL_SP_EXISTS,
                        SQL_ARGS(SQL_T(a->principal_id)), &found, NULL, err);
    if (rc) return rc;
    if (!found)
        return is_user ? berth_err_set(err, BERTH_ENOENT, "user '%s' not found", a->principal_id)
                       : no_sp(a->principal_id, err);
    if (strncmp(a->scope, prefix, sizeof(prefix) - 1) != 0) return BERTH_OK;
    p = a->scope + sizeof(prefix) - 1;
    end = strchr(p, '/');
    if (!end) end = p + strlen(p);
    if (end == p || (size_t)(end - p) >= sizeof(name))
        return berth_err_set(err, BERTH_EINVAL, "scope '%s' does not name a registry", a->scope);
    memcpy(name, p, (size_t)(end - p));
    name[end - p] = '\0';
    rc = berth_sql_int1(c, "assignment_create", SQL_REG_ID, SQL_ARGS(SQL_T(name)), &found, NULL, err);
    if (rc) return rc;
    if (!found) return berth_err_set(err, BERTH_ENOENT, "registry '%s' not found", name);
    return BERTH_OK;
}

static enum berth_rc assign_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct assign *x = ctx;
    const struct berth_meta_assignment *a = x->a;
    int64_t n = 0;
    enum berth_rc rc;

    rc = assignment_targets(c, a, err);
    if (rc) return rc;
    rc = berth_sql_exec(c, "assignment_create", SQL_ASSIGN_INSERT,
                        SQL_ARGS(SQL_T(x->id), SQL_T(a->principal_type), SQL_T(a->principal_id), SQL_T(a->role),
                                 SQL_T(a->scope), SQL_I(x->now)),
                        &n, err);
    if (!rc && n == 0)
        rc = berth_err_set(err, BERTH_EEXIST, "%s '%s' already has role '%s' on '%s'",
                           strcmp(a->principal_type, "sp") ? "user" : "service principal", a->principal_id, a->role,
                           a->scope);
    return rc;
}

static enum berth_rc assignment_create(struct berth_meta *m, struct berth_meta_assignment *a, struct berth_err *err)
{
    char id[37];
    struct assign x = {a, id, berth_now_ms()};
    enum berth_rc rc;

    berth_sql_db(m);
    if (!a || !BERTH_SQL_FITS(a->principal_type) || !BERTH_SQL_FITS(a->principal_id) || !BERTH_SQL_FITS(a->role) ||
        !BERTH_SQL_FITS(a->scope) || !a->principal_id[0] || !a->role[0] || a->scope[0] != '/')
        return berth_err_set(err, BERTH_EINVAL, "assignment_create: incomplete assignment");
    if (strcmp(a->principal_type, "user") != 0 && strcmp(a->principal_type, "sp") != 0)
        return berth_err_set(err, BERTH_EINVAL, "assignment_create: principal type '%s' is not 'user' or 'sp'",
                             a->principal_type);
    berth_uuid(id);
    rc = berth_sql_tx(m, "assignment_create", assign_tx, &x, err);
    if (rc) return rc;
    memcpy(a->id, id, sizeof(id));
    a->created_ms = x.now;
    return BERTH_OK;
}

static enum berth_rc assignment_delete(struct berth_meta *m, const char *id, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (!id) return berth_err_set(err, BERTH_EINVAL, "assignment_delete: no id");
    rc = berth_sql_exec(db, "assignment_delete", SQL_ASSIGN_DELETE, SQL_ARGS(SQL_T(id)), &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_ENOENT, "role assignment '%s' not found", id);
    return rc;
}

/* In creation order ({ROWID}: a new row always gets one above every existing row). */
static enum berth_rc assignment_list(struct berth_meta *m, const char *principal_id, berth_meta_assignment_fn fn,
                                     void *ctx, struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_assignment);
    struct berth_sql_conn *db = berth_sql_db(m);
    const struct berth_meta_assignment *v;
    enum berth_rc rc;
    size_t i;

    if (principal_id)
        rc = berth_sql_list(db, "assignment_list", SQL_ASSIGN_LIST_PRINCIPAL, SQL_ARGS(SQL_T(principal_id)),
                            read_assignment, &l, NULL, err);
    else rc = berth_sql_list(db, "assignment_list", SQL_ASSIGN_LIST, SQL_NOARGS, read_assignment, &l, NULL, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

const struct berth_meta_dir_ops berth_sql_dir_ops = {
    .user_create = user_create,
    .user_get = user_get,
    .user_list = user_list,
    .user_set_password = user_set_password,
    .user_delete = user_delete,
    .sp_create = sp_create,
    .sp_get = sp_get,
    .sp_list = sp_list,
    .sp_delete = sp_delete,
    .sp_secret_add = sp_secret_add,
    .sp_secret_remove = sp_secret_remove,
    .sp_secrets = sp_secrets,
    .scopemap_put = scopemap_put,
    .scopemap_get = scopemap_get,
    .scopemap_list = scopemap_list,
    .scopemap_delete = scopemap_delete,
    .token_put = token_put,
    .token_get = token_get,
    .token_list = token_list,
    .token_delete = token_delete,
    .assignment_create = assignment_create,
    .assignment_delete = assignment_delete,
    .assignment_list = assignment_list,
};
