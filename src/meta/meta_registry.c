/*
 * meta_registry.c - the tenant, registries and their network access
 * (struct berth_meta_reg_ops), on the SQL layer (meta_sql.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "meta_sql.h"
#include "util.h"
#include "banned.h"

/* ---- the tenant ---- */

static enum berth_rc read_tenant(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    return berth_sql_copy(r, 0, ctx, 37) != 0 ? berth_sql_damaged("tenant", err) : BERTH_OK;
}

/* Reads first, so only the very first call writes; of two first calls, one insert is ignored. */
static enum berth_rc tenant_run(struct berth_sql_conn *c, void *out, struct berth_err *err)
{
    char fresh[37];
    enum berth_rc rc;
    int found = 0;

    rc = berth_sql_one(c, "tenant_id", SQL_TENANT_GET, SQL_NOARGS, read_tenant, out, &found, err);
    if (rc || found) return rc;
    berth_uuid(fresh);
    rc = berth_sql_exec(c, "tenant_id", SQL_TENANT_INIT, SQL_ARGS(SQL_T(fresh)), NULL, err);
    if (rc) return rc;
    rc = berth_sql_one(c, "tenant_id", SQL_TENANT_GET, SQL_NOARGS, read_tenant, out, &found, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_EDB, "tenant_id: the tenant row is missing after creating it");
    return rc;
}

static enum berth_rc tenant_id(struct berth_meta *m, char out[37], struct berth_err *err)
{
    berth_sql_db(m);
    if (!out) return berth_err_set(err, BERTH_EINVAL, "tenant_id: no output");
    return berth_sql_run(m, tenant_run, out, err);
}

/* ---- registries ---- */

static enum berth_rc read_registry(struct berth_sql_row *row, void *ctx, struct berth_err *err)
{
    struct berth_meta_registry *r = ctx;

    memset(r, 0, sizeof(*r));
    r->id = berth_sql_int(row, 0);
    r->created_ms = berth_sql_int(row, 2);
    r->admin_enabled = berth_sql_int(row, 3) != 0;
    r->anonymous_pull = berth_sql_int(row, 4) != 0;
    r->refresh_ttl_s = berth_sql_int(row, 5);
    r->access_ttl_s = berth_sql_int(row, 6);
    r->admin_set_ms[0] = berth_sql_int(row, 9);
    r->admin_set_ms[1] = berth_sql_int(row, 10);
    if (berth_sql_copy(row, 1, r->name, sizeof(r->name)) != 0 ||
        berth_sql_copy(row, 7, r->admin_hash[0], sizeof(r->admin_hash[0])) != 0 ||
        berth_sql_copy(row, 8, r->admin_hash[1], sizeof(r->admin_hash[1])) != 0)
        return berth_sql_damaged("registry", err);
    return BERTH_OK;
}

static enum berth_rc registry_create(struct berth_meta *m, struct berth_meta_registry *r, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t now = berth_now_ms(), id = 0;
    enum berth_rc rc;
    int found = 0;

    if (!r || !BERTH_SQL_FITS(r->name) || !r->name[0] || !BERTH_SQL_FITS(r->admin_hash[0]) ||
        !BERTH_SQL_FITS(r->admin_hash[1]))
        return berth_err_set(err, BERTH_EINVAL, "registry_create: no name, or a field does not fit");
    rc = berth_sql_int1(db, "registry_create", SQL_REG_INSERT,
                        SQL_ARGS(SQL_T(r->name), SQL_I(now), SQL_I(r->admin_enabled != 0),
                                 SQL_I(r->anonymous_pull != 0), SQL_I(r->refresh_ttl_s), SQL_I(r->access_ttl_s),
                                 SQL_T(r->admin_hash[0]), SQL_T(r->admin_hash[1]), SQL_I(r->admin_set_ms[0]),
                                 SQL_I(r->admin_set_ms[1])),
                        &found, &id, err);
    if (rc) return rc;
    if (!found) return berth_err_set(err, BERTH_EEXIST, "registry '%s' already exists", r->name);
    r->id = id;
    r->created_ms = now;
    return BERTH_OK;
}

static enum berth_rc registry_get(struct berth_meta *m, const char *name, int64_t id, struct berth_meta_registry *out,
                                  struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    enum berth_rc rc;
    int found = 0;

    if (!id && !name) return berth_err_set(err, BERTH_EINVAL, "registry_get: no name or id");
    if (id) rc = berth_sql_one(db, "registry_get", SQL_REG_BY_ID, SQL_ARGS(SQL_I(id)), out ? read_registry : NULL,
                               out, &found, err);
    else rc = berth_sql_one(db, "registry_get", SQL_REG_BY_NAME, SQL_ARGS(SQL_T(name)), out ? read_registry : NULL,
                            out, &found, err);
    if (rc || found) return rc;
    if (id) return berth_sql_no_registry(id, err);
    return berth_err_set(err, BERTH_ENOENT, "registry '%s' not found", name);
}

static enum berth_rc registry_list(struct berth_meta *m, berth_meta_registry_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_registry);
    const struct berth_meta_registry *v;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_list(berth_sql_db(m), "registry_list", SQL_REG_LIST, SQL_NOARGS, read_registry, &l, NULL, err);
    for (i = 0, v = l.v; !rc && i < l.n; i++)
        if (fn && fn(&v[i], ctx)) break;
    berth_sql_list_release(&l);
    return rc;
}

struct update {
    const struct berth_meta_registry *r;
    unsigned what;
};

/* Writes only the groups asked for, so two changes of different groups from stale copies both survive. */
static enum berth_rc update_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct update *u = ctx;
    const struct berth_meta_registry *r = u->r;
    int64_t changed = 0, n = 0;
    enum berth_rc rc = BERTH_OK;
    int slot;

    if (u->what & BERTH_META_REG_SETTINGS) {
        rc = berth_sql_exec(c, "registry_update", SQL_REG_UPDATE_SETTINGS,
                            SQL_ARGS(SQL_I(r->id), SQL_I(r->admin_enabled != 0), SQL_I(r->anonymous_pull != 0),
                                     SQL_I(r->refresh_ttl_s), SQL_I(r->access_ttl_s)),
                            &n, err);
        changed += n;
    }
    for (slot = 0; slot < 2 && !rc; slot++) {
        if (!(u->what & (slot ? BERTH_META_REG_ADMIN2 : BERTH_META_REG_ADMIN1))) continue;
        n = 0;
        rc = berth_sql_exec(c, "registry_update", slot ? SQL_REG_UPDATE_ADMIN2 : SQL_REG_UPDATE_ADMIN1,
                            SQL_ARGS(SQL_I(r->id), SQL_T(r->admin_hash[slot]), SQL_I(r->admin_set_ms[slot])), &n,
                            err);
        changed += n;
    }
    if (!rc && !changed) rc = berth_sql_no_registry(r->id, err);
    return rc;
}

static enum berth_rc registry_update(struct berth_meta *m, const struct berth_meta_registry *r, unsigned what,
                                     struct berth_err *err)
{
    struct update u = {r, what};

    berth_sql_db(m);
    if (!r || !BERTH_SQL_FITS(r->admin_hash[0]) || !BERTH_SQL_FITS(r->admin_hash[1]) || !what ||
        (what & ~BERTH_META_REG_ALL))
        return berth_err_set(err, BERTH_EINVAL, "registry_update: no registry or fields, or a hash does not fit");
    return berth_sql_tx(m, "registry_update", update_tx, &u, err);
}

static enum berth_rc read_name(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    return berth_sql_copy(r, 1, ctx, BERTH_META_NAME_MAX + 1) != 0 ? berth_sql_damaged("registry", err) : BERTH_OK;
}

/*
 * Everything of the registry that is stored by its id goes with its row (ON
 * DELETE CASCADE). Role assignments name it by scope text instead, so they
 * are deleted here, in the same transaction, where gc's review queue gets
 * the blobs its repositories used.
 */
static enum berth_rc delete_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    int64_t id = *(const int64_t *)ctx;
    char name[BERTH_META_NAME_MAX + 1], scope[BERTH_META_NAME_MAX + 16];
    enum berth_rc rc;
    int found = 0;

    rc = berth_sql_one(c, "registry_delete", SQL_REG_BY_ID, SQL_ARGS(SQL_I(id)), read_name, name, &found, err);
    if (rc) return rc;
    if (!found) return berth_sql_no_registry(id, err);
    snprintf(scope, sizeof(scope), "/registries/%s", name);
    rc = berth_sql_exec(c, "registry_delete", SQL_REG_DELETE_ASSIGNMENTS, SQL_ARGS(SQL_T(scope)), NULL, err);
    /* the blobs its repositories used are queued for gc */
    if (!rc)
        rc = berth_sql_exec(c, "registry_delete", SQL_GC_QUEUE_REGISTRY_BLOBS, SQL_ARGS(SQL_I(id), SQL_I(berth_now_ms())),
                            NULL, err);
    if (!rc) rc = berth_sql_exec(c, "registry_delete", SQL_GC_QUEUE_FORGET_REGISTRY, SQL_ARGS(SQL_I(id)), NULL, err);
    if (rc) return rc;
    return berth_sql_exec(c, "registry_delete", SQL_REG_DELETE, SQL_ARGS(SQL_I(id)), NULL, err);
}

static enum berth_rc registry_delete(struct berth_meta *m, int64_t id, struct berth_err *err)
{
    return berth_sql_tx(m, "registry_delete", delete_tx, &id, err);
}

/* ---- network access ---- */

/* Rows (public, default allow, rule): the first gives the settings, a NULL rule means none. */
static enum berth_rc read_network(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_network *out = ctx;

    if (r->n == 1) {
        out->public_network = berth_sql_int(r, 0) != 0;
        out->default_allow = berth_sql_int(r, 1) != 0;
    }
    if (berth_sql_null(r, 2)) return BERTH_OK;
    if (out->nrules == BERTH_META_IP_RULES_MAX ||
        berth_sql_copy(r, 2, out->rules[out->nrules], sizeof(out->rules[0])) != 0)
        return berth_sql_damaged("ip rule", err);
    out->nrules++;
    return BERTH_OK;
}

static enum berth_rc network_get(struct berth_meta *m, int64_t reg, struct berth_meta_network *out,
                                 struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t rows = 0;
    enum berth_rc rc;

    if (!out) return berth_err_set(err, BERTH_EINVAL, "network_get: no output");
    out->nrules = 0;
    rc = berth_sql_each(db, "network_get", SQL_NET_GET, SQL_ARGS(SQL_I(reg)), read_network, out, &rows, err);
    if (!rc && rows == 0) rc = berth_sql_no_registry(reg, err);
    return rc;
}

struct net {
    int64_t reg;
    const struct berth_meta_network *in;
    const char *rule;
    int added;
};

static enum berth_rc put_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct net *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_exec(c, "network_put", SQL_NET_SET,
                        SQL_ARGS(SQL_I(x->reg), SQL_I(x->in->public_network != 0), SQL_I(x->in->default_allow != 0)),
                        &n, err);
    if (rc) return rc;
    if (n == 0) return berth_sql_no_registry(x->reg, err);
    rc = berth_sql_exec(c, "network_put", SQL_NET_RULES_CLEAR, SQL_ARGS(SQL_I(x->reg)), NULL, err);
    for (i = 0; !rc && i < x->in->nrules; i++)
        rc = berth_sql_exec(c, "network_put", SQL_NET_RULE_ADD,
                            SQL_ARGS(SQL_I(x->reg), SQL_I(i), SQL_T(x->in->rules[i])), NULL, err);
    return rc;
}

static enum berth_rc network_put(struct berth_meta *m, int64_t reg, const struct berth_meta_network *in,
                                 struct berth_err *err)
{
    struct net x = {reg, in, NULL, 0};
    size_t i, j;

    berth_sql_db(m);
    if (!in || in->nrules > BERTH_META_IP_RULES_MAX)
        return berth_err_set(err, BERTH_EINVAL, "network_put: more than %d ip rules", BERTH_META_IP_RULES_MAX);
    for (i = 0; i < in->nrules; i++) {
        if (!BERTH_SQL_FITS(in->rules[i]) || !in->rules[i][0])
            return berth_err_set(err, BERTH_EINVAL, "network_put: ip rule %zu is empty or does not fit", i);
        for (j = 0; j < i; j++)
            if (!strcmp(in->rules[i], in->rules[j]))
                return berth_err_set(err, BERTH_EINVAL, "network_put: ip rule '%s' is given twice", in->rules[i]);
    }
    return berth_sql_tx(m, "network_put", put_tx, &x, err);
}

/* The registry check, the duplicate check, the cap and the write in one transaction. */
static enum berth_rc rule_add_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct net *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;
    int row = 0;

    x->added = 0;
    rc = berth_sql_int1(c, "network_rule_add", SQL_NET_REG_EXISTS, SQL_ARGS(SQL_I(x->reg)), &row, NULL, err);
    if (!rc && !row) rc = berth_sql_no_registry(x->reg, err);
    if (!rc) rc = berth_sql_int1(c, "network_rule_add", SQL_NET_RULE_HAS, SQL_ARGS(SQL_I(x->reg), SQL_T(x->rule)),
                                 &row, NULL, err);
    if (rc) return rc;
    if (row) {
        c->discard = 1; /* there already: nothing to write */
        return BERTH_OK;
    }
    rc = berth_sql_int1(c, "network_rule_add", SQL_NET_RULE_COUNT, SQL_ARGS(SQL_I(x->reg)), NULL, &n, err);
    if (!rc && n >= BERTH_META_IP_RULES_MAX)
        rc = berth_err_set(err, BERTH_EBUSY, "the registry already has %d ip rules, the most allowed",
                           BERTH_META_IP_RULES_MAX);
    if (!rc) rc = berth_sql_exec(c, "network_rule_add", SQL_NET_RULE_APPEND, SQL_ARGS(SQL_I(x->reg), SQL_T(x->rule)),
                                 NULL, err);
    if (!rc) x->added = 1;
    return rc;
}

static enum berth_rc network_rule_add(struct berth_meta *m, int64_t reg, const char *rule, int *added,
                                      struct berth_err *err)
{
    struct net x = {reg, NULL, rule, 0};
    enum berth_rc rc;

    berth_sql_db(m);
    *added = 0;
    if (!rule || !rule[0] || strlen(rule) >= BERTH_META_IP_RULE_LEN)
        return berth_err_set(err, BERTH_EINVAL, "network_rule_add: the rule is empty or does not fit");
    rc = berth_sql_tx(m, "network_rule_add", rule_add_tx, &x, err);
    if (!rc) *added = x.added;
    return rc;
}

static enum berth_rc rule_remove_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct net *x = ctx;
    int64_t n = 0;
    enum berth_rc rc;
    int row = 0;

    rc = berth_sql_int1(c, "network_rule_remove", SQL_NET_REG_EXISTS, SQL_ARGS(SQL_I(x->reg)), &row, NULL, err);
    if (!rc && !row) rc = berth_sql_no_registry(x->reg, err);
    if (!rc) rc = berth_sql_exec(c, "network_rule_remove", SQL_NET_RULE_DELETE,
                                 SQL_ARGS(SQL_I(x->reg), SQL_T(x->rule)), &n, err);
    if (!rc && n == 0) rc = berth_err_set(err, BERTH_ENOENT, "ip rule '%s' not found", x->rule);
    return rc;
}

static enum berth_rc network_rule_remove(struct berth_meta *m, int64_t reg, const char *rule, struct berth_err *err)
{
    struct net x = {reg, NULL, rule, 0};

    berth_sql_db(m);
    if (!rule) return berth_err_set(err, BERTH_EINVAL, "network_rule_remove: no rule");
    return berth_sql_tx(m, "network_rule_remove", rule_remove_tx, &x, err);
}

const struct berth_meta_reg_ops berth_sql_reg_ops = {
    .tenant_id = tenant_id,
    .registry_create = registry_create,
    .registry_get = registry_get,
    .registry_list = registry_list,
    .registry_update = registry_update,
    .registry_delete = registry_delete,
    .network_get = network_get,
    .network_put = network_put,
    .network_rule_add = network_rule_add,
    .network_rule_remove = network_rule_remove,
};
