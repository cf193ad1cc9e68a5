/*
 * api_mgmt_reg.c - the registry-scoped part of the management API: scope
 * maps and repository tokens.
 *   GET|POST /api/v1/registries/<r>/scopeMaps
 *   GET|PATCH|DELETE /api/v1/registries/<r>/scopeMaps/<name>
 *   GET|POST /api/v1/registries/<r>/tokens
 *   GET|PATCH|DELETE /api/v1/registries/<r>/tokens/<name>
 *   POST /api/v1/registries/<r>/tokens/<name>/generateCredentials
 * Reading needs the read right on the registry, changing the write right.
 * The five system scope maps are listed with every registry and cannot be
 * changed; token passwords are shown once, when they are generated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "log.h"
#include "util.h"
#include "api_mgmt.h"
#include "banned.h"

#define DESCRIPTION_MAX 256
#define ACTIONS_MAX 64 /* the rules a token's grant is computed from */
#define RULE_TEXT_MAX (BERTH_NAME_MAX + 48)

/* ---------------------------------------------------------------- scope maps */

static const struct berth_system_scopemap *system_map(const char *name)
{
    const struct berth_system_scopemap *s;
    for (s = berth_system_scopemaps(); s->name; s++)
        if (!strcmp(s->name, name)) return s;
    return NULL;
}

static json_t *scopemap_json(const struct berth_meta_registry *reg, const char *name, const char *type,
                             const char *description, int64_t created_ms, const char *const *rules, size_t nrules)
{
    json_t *o = json_object(), *acts = json_array();
    char id[BERTH_META_NAME_MAX * 2 + 32];
    size_t i;

    snprintf(id, sizeof(id), "/registries/%s/scopeMaps/%s", reg->name, name);
    for (i = 0; i < nrules; i++) json_array_append_new(acts, json_string(rules[i]));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "description", json_string(description));
    json_object_set_new(o, "creationDate", mgmt_time(created_ms));
    json_object_set_new(o, "actions", acts);
    return o;
}

/* System maps exist as long as their registry: they carry its creation date. */
static json_t *system_json(const struct berth_meta_registry *reg, const struct berth_system_scopemap *s)
{
    size_t n = 0;
    while (s->rules[n]) n++;
    return scopemap_json(reg, s->name, "SystemDefined", s->description, reg->created_ms, s->rules, n);
}

static json_t *user_map_json(const struct berth_meta_registry *reg, const struct berth_meta_scopemap *sm)
{
    return scopemap_json(reg, sm->name, "UserDefined", sm->description, sm->created_ms,
                         (const char *const *)sm->rules, sm->nrules);
}

struct map_list {
    const struct berth_meta_registry *reg;
    json_t *list;
};

static int list_map(const struct berth_meta_scopemap *sm, void *ctx)
{
    struct map_list *l = ctx;
    json_array_append_new(l->list, user_map_json(l->reg, sm));
    return 0;
}

/* Checks and normalizes the actions member into sm->rules (replacing them). */
static enum berth_rc take_actions(json_t *o, struct berth_meta_scopemap *sm, struct berth_err *err)
{
    json_t *acts = json_object_get(o, "actions"), *e;
    struct berth_scopemap_rule rule;
    struct berth_err lerr = BERTH_ERR_INIT;
    char text[RULE_TEXT_MAX];
    size_t i, n = json_array_size(acts);

    if (n == 0 || n > ACTIONS_MAX)
        return berth_err_set(err, BERTH_EREQUEST, "field 'actions' must hold 1 to %d rules such as "
                             "'repositories/team/*/content/read'", ACTIONS_MAX);
    for (i = 0; i < n; i++) {
        e = json_array_get(acts, i);
        if (berth_scopemap_rule_parse(json_string_value(e), json_string_length(e), &rule, &lerr) != BERTH_OK)
            return berth_err_set(err, BERTH_EREQUEST, "actions[%zu]: %s", i, berth_err_msg(&lerr));
    }
    berth_meta_scopemap_release(sm);
    sm->rules = berth_xcalloc(n, sizeof(*sm->rules));
    for (i = 0; i < n; i++) {
        e = json_array_get(acts, i);
        berth_scopemap_rule_parse(json_string_value(e), json_string_length(e), &rule, &lerr);
        berth_scopemap_rule_format(&rule, text, sizeof(text));
        sm->rules[i] = berth_xstrdup(text);
        sm->nrules++;
    }
    return BERTH_OK;
}

static enum berth_rc take_description(json_t *o, struct berth_meta_scopemap *sm, struct berth_err *err)
{
    const char *d = mgmt_str(o, "description");
    if (!d) return BERTH_OK;
    if (strlen(d) > DESCRIPTION_MAX)
        return berth_err_set(err, BERTH_EREQUEST, "field 'description' must be at most %d characters",
                             DESCRIPTION_MAX);
    snprintf(sm->description, sizeof(sm->description), "%s", d);
    return BERTH_OK;
}

enum berth_rc api_mgmt_scopemap_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    const struct berth_system_scopemap *s;
    struct map_list l;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    l.reg = &reg;
    l.list = json_array();
    for (s = berth_system_scopemaps(); s->name; s++) json_array_append_new(l.list, system_json(&reg, s));
    rc = m->dir->scopemap_list(m, reg.id, list_map, &l, err);
    if (rc) {
        json_decref(l.list);
        return rc;
    }
    return mgmt_reply(req, 200, json_pack("{s:o}", "value", l.list), 0);
}

enum berth_rc api_mgmt_scopemap_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_scopemap sm;
    const struct berth_system_scopemap *s;
    json_t *doc;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    s = system_map(req->param);
    if (s) return mgmt_reply(req, 200, system_json(&reg, s), 0);
    rc = m->dir->scopemap_get(m, reg.id, req->param, &sm, err);
    if (rc) return rc;
    doc = user_map_json(&reg, &sm);
    berth_meta_scopemap_release(&sm);
    return mgmt_reply(req, 200, doc, 0);
}

enum berth_rc api_mgmt_scopemap_create_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"name", MT_STR}, {"description", MT_STR}, {"actions", MT_STRS}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_scopemap sm, old;
    struct berth_err lerr = BERTH_ERR_INIT;
    const char *name;
    char loc[256];
    json_t *o;
    enum berth_rc rc;

    memset(&sm, 0, sizeof(sm));
    memset(&old, 0, sizeof(old));
    rc = mgmt_registry(req, &reg, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = mgmt_required(o, "name", err);
    if (!rc) rc = mgmt_required(o, "actions", err);
    if (rc) goto out;
    name = mgmt_str(o, "name");
    rc = mgmt_scopemap_name_check(name, err);
    if (rc) goto out;
    rc = take_description(o, &sm, err);
    if (!rc) rc = take_actions(o, &sm, err);
    if (rc) goto out;
    /* put replaces, so a taken name is caught here */
    rc = m->dir->scopemap_get(m, reg.id, name, &old, &lerr);
    if (rc == BERTH_OK) {
        rc = berth_err_set(err, BERTH_EEXIST, "scope map '%s' already exists in registry '%s'", name, reg.name);
        goto out;
    }
    if (rc != BERTH_ENOENT) {
        rc = mgmt_as(err, rc, &lerr);
        goto out;
    }
    sm.reg = reg.id;
    snprintf(sm.name, sizeof(sm.name), "%s", name);
    sm.create_only = 1; /* a concurrent create of the same name gets 409 instead of replacing it */
    rc = m->dir->scopemap_put(m, &sm, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"scope map created\" registry=%s scope_map=%s principal=\"%s\"", req->id,
              reg.name, sm.name, req->caller.principal);
    snprintf(loc, sizeof(loc), "/api/v1/registries/%s/scopeMaps/%s", reg.name, sm.name);
    berth_req_add_header(req, "Location", loc);
    rc = mgmt_reply(req, 201, user_map_json(&reg, &sm), 0);
out:
    berth_meta_scopemap_release(&sm);
    berth_meta_scopemap_release(&old);
    return rc;
}

enum berth_rc api_mgmt_scopemap_patch_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"description", MT_STR}, {"actions", MT_STRS}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_scopemap sm;
    json_t *o;
    enum berth_rc rc;

    memset(&sm, 0, sizeof(sm));
    rc = mgmt_registry(req, &reg, err);
    if (rc) goto out;
    if (system_map(req->param)) {
        rc = berth_err_set(err, BERTH_EBUSY, "scope map '%s' is a system scope map and cannot be changed", req->param);
        goto out;
    }
    rc = m->dir->scopemap_get(m, reg.id, req->param, &sm, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = take_description(o, &sm, err);
    if (!rc && json_object_get(o, "actions")) rc = take_actions(o, &sm, err);
    if (rc) goto out;
    rc = m->dir->scopemap_put(m, &sm, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"scope map changed\" registry=%s scope_map=%s principal=\"%s\"", req->id,
              reg.name, sm.name, req->caller.principal);
    rc = mgmt_reply(req, 200, user_map_json(&reg, &sm), 0);
out:
    berth_meta_scopemap_release(&sm);
    return rc;
}

enum berth_rc api_mgmt_scopemap_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    if (system_map(req->param))
        return berth_err_set(err, BERTH_EBUSY, "scope map '%s' is a system scope map and cannot be deleted",
                             req->param);
    rc = m->dir->scopemap_delete(m, reg.id, req->param, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"scope map deleted\" registry=%s scope_map=%s principal=\"%s\"", req->id,
              reg.name, req->param, req->caller.principal);
    return mgmt_reply_empty(req);
}

/* ---------------------------------------------------------------- tokens */

static const char *const token_slot_names[2] = {"password1", "password2"};

/* The credentials object of t; values[i] (may be NULL) is shown for a password just generated. */
static json_t *credentials_json(const struct berth_meta_token *t, const char *const values[2])
{
    json_t *pws = json_array(), *p;
    int i;

    for (i = 0; i < 2; i++) {
        if (!t->hash[i][0]) continue;
        p = json_object();
        json_object_set_new(p, "name", json_string(token_slot_names[i]));
        if (values && values[i]) json_object_set_new(p, "value", json_string(values[i]));
        json_object_set_new(p, "creationTime", mgmt_time(t->set_ms[i]));
        json_object_set_new(p, "expiry", mgmt_time(t->expires_ms[i]));
        json_array_append_new(pws, p);
    }
    return json_pack("{s:s,s:o}", "username", t->name, "passwords", pws);
}

static json_t *token_json(const struct berth_meta_registry *reg, const struct berth_meta_token *t,
                          const char *const values[2])
{
    json_t *o = json_object();
    char id[BERTH_META_NAME_MAX * 2 + 32];

    snprintf(id, sizeof(id), "/registries/%s/tokens/%s", reg->name, t->name);
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "scopeMapId", json_string(t->scopemap));
    json_object_set_new(o, "status", json_string(t->enabled ? "enabled" : "disabled"));
    json_object_set_new(o, "creationDate", mgmt_time(t->created_ms));
    json_object_set_new(o, "credentials", credentials_json(t, values));
    return o;
}

struct token_list {
    const struct berth_meta_registry *reg;
    json_t *list;
};

static int list_token(const struct berth_meta_token *t, void *ctx)
{
    struct token_list *l = ctx;
    json_array_append_new(l->list, token_json(l->reg, t, NULL));
    return 0;
}

/*
 * The scope map a scopeMapId names: a map name (system or of this registry)
 * or its id "/registries/<r>/scopeMaps/<name>". It must exist.
 */
static enum berth_rc take_scopemap(struct berth_meta *m, const struct berth_meta_registry *reg, const char *text,
                                   char out[BERTH_META_NAME_MAX + 1], struct berth_err *err)
{
    struct berth_meta_scopemap sm;
    struct berth_err lerr = BERTH_ERR_INIT;
    char prefix[BERTH_META_NAME_MAX + 32];
    const char *name = text;
    size_t pl;
    enum berth_rc rc;

    snprintf(prefix, sizeof(prefix), "/registries/%s/scopeMaps/", reg->name);
    pl = strlen(prefix);
    if (!strncmp(text, prefix, pl)) name = text + pl;
    if (system_map(name)) goto found;
    if (!*name || strlen(name) > BERTH_META_NAME_MAX || strchr(name, '/')) goto unknown;
    memset(&sm, 0, sizeof(sm));
    rc = m->dir->scopemap_get(m, reg->id, name, &sm, &lerr);
    berth_meta_scopemap_release(&sm);
    if (rc == BERTH_ENOENT) goto unknown;
    if (rc) return mgmt_as(err, rc, &lerr);
found:
    snprintf(out, BERTH_META_NAME_MAX + 1, "%s", name);
    return BERTH_OK;
unknown:
    return berth_err_set(err, BERTH_EREQUEST, "field 'scopeMapId': scope map '%.80s' does not exist in registry '%s'",
                         name, reg->name);
}

static enum berth_rc take_status(json_t *o, int *enabled, struct berth_err *err)
{
    const char *s = mgmt_str(o, "status");
    if (!s) return BERTH_OK;
    if (!strcmp(s, "enabled")) *enabled = 1;
    else if (!strcmp(s, "disabled")) *enabled = 0;
    else return berth_err_set(err, BERTH_EREQUEST, "field 'status' must be 'enabled' or 'disabled'");
    return BERTH_OK;
}

/* Generates password slot of t, expiring at exp (0: never); value gets the secret. */
static enum berth_rc new_password(struct berth_meta_token *t, int slot, int64_t exp,
                                  char value[BERTH_SECRET_LEN + 1], struct berth_err *err)
{
    int64_t now = berth_now_ms();
    enum berth_rc rc = mgmt_new_secret(value, t->hash[!slot], t->hash[slot], err);
    if (rc) return rc;
    /* a new stamp revokes every registry token issued on the old password */
    if (now <= t->set_ms[slot]) now = t->set_ms[slot] + 1;
    t->set_ms[slot] = now;
    t->expires_ms[slot] = exp;
    return BERTH_OK;
}

enum berth_rc api_mgmt_token_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct token_list l;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    l.reg = &reg;
    l.list = json_array();
    rc = m->dir->token_list(m, reg.id, list_token, &l, err);
    if (rc) {
        json_decref(l.list);
        return rc;
    }
    return mgmt_reply(req, 200, json_pack("{s:o}", "value", l.list), 0);
}

enum berth_rc api_mgmt_token_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_token t;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    rc = m->dir->token_get(m, reg.id, req->param, &t, err);
    if (rc) return rc;
    return mgmt_reply(req, 200, token_json(&reg, &t, NULL), 0);
}

enum berth_rc api_mgmt_token_create_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {
        {"name", MT_STR},      {"scopeMapId", MT_STR},    {"status", MT_STR},
        {"noPasswords", MT_BOOL}, {"expiresInDays", MT_INT},
    };
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_token t, old;
    struct berth_err lerr = BERTH_ERR_INIT;
    char values[2][BERTH_SECRET_LEN + 1], loc[256];
    const char *shown[2] = {NULL, NULL}, *name;
    int64_t exp = 0;
    json_t *o, *doc;
    int i;
    enum berth_rc rc;

    memset(&t, 0, sizeof(t));
    memset(values, 0, sizeof(values));
    rc = mgmt_registry(req, &reg, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = mgmt_required(o, "name", err);
    if (!rc) rc = mgmt_required(o, "scopeMapId", err);
    if (rc) goto out;
    name = mgmt_str(o, "name");
    rc = mgmt_token_name_check(name, err);
    if (rc) goto out;
    /* the registry's own name logs in as its admin user */
    if (!strcasecmp(name, reg.name)) {
        rc = berth_err_set(err, BERTH_EREQUEST,
                           "invalid token name: '%s' is the registry's name, which is its admin user", name);
        goto out;
    }
    t.enabled = 1;
    rc = take_status(o, &t.enabled, err);
    if (rc) goto out;
    rc = mgmt_expiry(o, "expiresInDays", NULL, 0, &exp, err);
    if (rc) goto out;
    rc = take_scopemap(m, &reg, mgmt_str(o, "scopeMapId"), t.scopemap, err);
    if (rc) goto out;
    /* put replaces, so a taken name is caught here */
    rc = m->dir->token_get(m, reg.id, name, &old, &lerr);
    if (rc == BERTH_OK) {
        rc = berth_err_set(err, BERTH_EEXIST, "token '%s' already exists in registry '%s'", name, reg.name);
        goto out;
    }
    if (rc != BERTH_ENOENT) {
        rc = mgmt_as(err, rc, &lerr);
        goto out;
    }
    t.reg = reg.id;
    snprintf(t.name, sizeof(t.name), "%s", name);
    if (!json_is_true(json_object_get(o, "noPasswords"))) {
        for (i = 0; i < 2; i++) {
            rc = new_password(&t, i, exp, values[i], err);
            if (rc) goto out;
            shown[i] = values[i];
        }
    }
    t.create_only = 1; /* a concurrent create of the same name gets 409 instead of replacing it */
    rc = m->dir->token_put(m, &t, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"token created\" registry=%s token=%s scope_map=%s principal=\"%s\"",
              req->id, reg.name, t.name, t.scopemap, req->caller.principal);
    doc = token_json(&reg, &t, shown);
    snprintf(loc, sizeof(loc), "/api/v1/registries/%s/tokens/%s", reg.name, t.name);
    berth_req_add_header(req, "Location", loc);
    rc = mgmt_reply(req, 201, doc, shown[0] != NULL);
out:
    explicit_bzero(values, sizeof(values));
    explicit_bzero(t.hash, sizeof(t.hash));
    return rc;
}

enum berth_rc api_mgmt_token_patch_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"status", MT_STR}, {"scopeMapId", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_token t;
    const char *sm;
    json_t *o;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    rc = m->dir->token_get(m, reg.id, req->param, &t, err);
    if (rc) return rc;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) return rc;
    rc = take_status(o, &t.enabled, err);
    if (rc) return rc;
    sm = mgmt_str(o, "scopeMapId");
    if (sm) {
        rc = take_scopemap(m, &reg, sm, t.scopemap, err);
        if (rc) return rc;
    }
    rc = m->dir->token_put(m, &t, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"token changed\" registry=%s token=%s status=%s scope_map=%s "
              "principal=\"%s\"", req->id, reg.name, t.name, t.enabled ? "enabled" : "disabled", t.scopemap,
              req->caller.principal);
    return mgmt_reply(req, 200, token_json(&reg, &t, NULL), 0);
}

enum berth_rc api_mgmt_token_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    rc = m->dir->token_delete(m, reg.id, req->param, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"token deleted\" registry=%s token=%s principal=\"%s\"", req->id, reg.name,
              req->param, req->caller.principal);
    return mgmt_reply_empty(req);
}

enum berth_rc api_mgmt_token_generate_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"name", MT_STR}, {"expiresInDays", MT_INT}, {"expiry", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_token t;
    char values[2][BERTH_SECRET_LEN + 1];
    const char *which;
    int want[2] = {1, 1}, i;
    int64_t exp = 0;
    json_t *o, *pws, *p;
    enum berth_rc rc;

    memset(values, 0, sizeof(values));
    memset(&t, 0, sizeof(t));
    rc = mgmt_registry(req, &reg, err);
    if (rc) goto out;
    rc = m->dir->token_get(m, reg.id, req->param, &t, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    which = mgmt_str(o, "name");
    if (which) {
        want[0] = !strcmp(which, token_slot_names[0]);
        want[1] = !strcmp(which, token_slot_names[1]);
        if (!want[0] && !want[1]) {
            rc = berth_err_set(err, BERTH_EREQUEST, "field 'name' must be 'password1' or 'password2'");
            goto out;
        }
    }
    rc = mgmt_expiry(o, "expiresInDays", "expiry", 0, &exp, err);
    if (rc) goto out;
    for (i = 0; i < 2; i++) {
        if (!want[i]) continue;
        rc = new_password(&t, i, exp, values[i], err);
        if (rc) goto out;
    }
    rc = m->dir->token_put(m, &t, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"token passwords generated\" registry=%s token=%s which=%s principal=\"%s\"",
              req->id, reg.name, t.name, which ? which : "both", req->caller.principal);
    pws = json_array();
    for (i = 0; i < 2; i++) {
        if (!want[i]) continue;
        p = json_pack("{s:s,s:s,s:o,s:o}", "name", token_slot_names[i], "value", values[i], "creationTime",
                      mgmt_time(t.set_ms[i]), "expiry", mgmt_time(t.expires_ms[i]));
        json_array_append_new(pws, p);
    }
    rc = mgmt_reply(req, 200, json_pack("{s:s,s:o}", "username", t.name, "passwords", pws), 1);
out:
    explicit_bzero(values, sizeof(values));
    explicit_bzero(t.hash, sizeof(t.hash));
    return rc;
}
