/*
 * api_mgmt.c - the management API under /api/v1: the steps every route
 * shares (authenticate the caller, collect and parse the JSON body, check
 * rights, answer), names, times and expiries; and the tenant, registries
 * and registry admin credentials:
 *   GET  /api/v1/tenant
 *   GET  /api/v1/registries                  POST /api/v1/registries
 *   GET|PATCH|DELETE /api/v1/registries/<r>
 *   GET  /api/v1/registries/<r>/credentials  POST .../credentials/regenerate
 * Identities (users, service principals, role assignments) are in
 * api_mgmt_dir.c, scope maps and tokens in api_mgmt_reg.c.
 *
 * Every call authenticates with authz_directory_caller (api_mgmt_begin) and
 * then needs the management right (read, write, assign) its route row states,
 * from the caller's roles on the registry concerned, or on the server for
 * server-wide resources; api_mgmt_finish checks it before the row's handler
 * runs. Nothing is cached: each change applies to the next request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "api_mgmt.h"
#include "banned.h"

#define DAY_MS (86400LL * 1000)

/* Bounds of a registry's token lifetimes (0 = the server's setting); the config table uses the same. */
#define ACCESS_TTL_MIN 60
#define ACCESS_TTL_MAX 86400
#define REFRESH_TTL_MIN 60
#define REFRESH_TTL_MAX 2592000

struct authz *mgmt_az(struct berth_req *req)
{
    struct authz *az = req->http->az;
    if (!az || az->magic != BERTH_AUTHZ_MAGIC) abort();
    return az;
}

struct mgmt_state *mgmt_state_of(struct berth_req *req)
{
    struct mgmt_state *st = req->state;
    if (!st || st->magic != MGMT_MAGIC) abort();
    return st;
}

/* ---------------------------------------------------------------- request steps */

enum berth_rc api_mgmt_begin(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    struct mgmt_state *st = berth_xcalloc(1, sizeof(*st));
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    enum berth_rc rc;

    st->magic = MGMT_MAGIC;
    berth_buf_init(&st->body, MGMT_BODY_MAX);
    req->state = st;
    rc = authz_directory_caller(az, &req->caller, &st->who, &reason, err);
    if (rc == BERTH_EUNAUTHORIZED) {
        char ch[160];
        snprintf(ch, sizeof(ch), "Bearer realm=\"berth\",authorization_uri=\"/directory/%s/oauth2/v2.0/token\"",
                 az->tenant);
        berth_req_add_header(req, "WWW-Authenticate", ch);
    }
    if (rc) return rc;
    if (st->who.kind != PK_USER && st->who.kind != PK_SP) {
        req->caller.reason = BERTH_AUTH_WRONG_GRANT;
        return berth_err_set(err, BERTH_EUNAUTHORIZED, "the management API takes users and service principals only");
    }
    if (req->content_length > MGMT_BODY_MAX)
        return berth_err_set(err, BERTH_ETOOBIG, "request body larger than %d bytes", MGMT_BODY_MAX);
    return BERTH_OK;
}

enum berth_rc api_mgmt_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err)
{
    struct mgmt_state *st = mgmt_state_of(req);
    if (berth_buf_append(&st->body, data, len) != BERTH_OK)
        return berth_err_set(err, BERTH_ETOOBIG, "request body larger than %d bytes", MGMT_BODY_MAX);
    return BERTH_OK;
}

void api_mgmt_cleanup(struct berth_req *req, int aborted)
{
    struct mgmt_state *st = req->state;
    json_t *pw;

    (void)aborted;
    if (!st) return;
    /* bodies may carry passwords: wipe them before the memory goes back */
    if (st->body.p) explicit_bzero(st->body.p, st->body.len);
    berth_buf_release(&st->body);
    pw = json_is_object(st->doc) ? json_object_get(st->doc, "password") : NULL;
    if (json_is_string(pw)) explicit_bzero((char *)json_string_value(pw), json_string_length(pw));
    json_decref(st->doc);
    explicit_bzero(st, sizeof(*st));
    free(st);
    req->state = NULL;
}

/* ---------------------------------------------------------------- bodies and fields */

static const char *type_text(enum mgmt_type t)
{
    switch (t) {
    case MT_STR:
        return "a string";
    case MT_BOOL:
        return "true or false";
    case MT_INT:
        return "an integer";
    case MT_STRS:
        return "an array of strings";
    case MT_OBJ:
        return "an object";
    }
    return "?";
}

static int type_ok(json_t *v, enum mgmt_type t)
{
    size_t i;
    json_t *e;

    switch (t) {
    case MT_STR:
        return json_is_string(v);
    case MT_BOOL:
        return json_is_boolean(v);
    case MT_INT:
        return json_is_integer(v);
    case MT_STRS:
        if (!json_is_array(v)) return 0;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) return 0;
        }
        return 1;
    case MT_OBJ:
        return json_is_object(v);
    }
    return 0;
}

enum berth_rc mgmt_body(struct berth_req *req, const struct mgmt_field *fields, size_t n, json_t **out,
                        struct berth_err *err)
{
    struct mgmt_state *st = mgmt_state_of(req);
    json_error_t jerr;
    const char *key;
    json_t *v;
    size_t i;

    if (!st->doc) {
        if (st->body.len == 0) {
            st->doc = json_object();
        } else {
            st->doc = json_loadb(st->body.p, st->body.len, JSON_REJECT_DUPLICATES, &jerr);
            if (!st->doc)
                return berth_err_set(err, BERTH_EREQUEST, "the body is not valid JSON: %s (line %d, column %d)",
                                     jerr.text, jerr.line, jerr.column);
        }
    }
    if (!json_is_object(st->doc)) return berth_err_set(err, BERTH_EREQUEST, "the body must be a JSON object");
    json_object_foreach(st->doc, key, v) {
        for (i = 0; i < n; i++)
            if (!strcmp(key, fields[i].name)) break;
        if (i == n) return berth_err_set(err, BERTH_EREQUEST, "unknown field '%.64s'", key);
        if (!type_ok(v, fields[i].type))
            return berth_err_set(err, BERTH_EREQUEST, "field '%s' must be %s", fields[i].name,
                                 type_text(fields[i].type));
    }
    *out = st->doc;
    return BERTH_OK;
}

const char *mgmt_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

enum berth_rc mgmt_required(json_t *o, const char *k, struct berth_err *err)
{
    if (!json_object_get(o, k)) return berth_err_set(err, BERTH_EREQUEST, "field '%s' is required", k);
    return BERTH_OK;
}

/* The integer member k of o within lo..hi into *out; absent leaves *out alone. */
static enum berth_rc mgmt_int(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out, struct berth_err *err)
{
    json_t *v = json_object_get(o, k);
    json_int_t x;

    if (!v) return BERTH_OK;
    x = json_integer_value(v);
    if (!json_is_integer(v) || x < lo || x > hi)
        return berth_err_set(err, BERTH_EREQUEST, "field '%s' must be an integer from %lld to %lld", k, (long long)lo,
                             (long long)hi);
    *out = (int64_t)x;
    return BERTH_OK;
}

enum berth_rc mgmt_as(struct berth_err *err, enum berth_rc rc, const struct berth_err *from)
{
    return berth_err_set(err, rc, "%s", berth_err_msg(from));
}

/* ---------------------------------------------------------------- rights */

/* The built-in role that grants right, for messages. */
static const char *role_for(unsigned right)
{
    if (right & BERTH_MGMT_ASSIGN) return "Owner";
    if (right & BERTH_MGMT_WRITE) return "Contributor";
    return "Reader";
}

/* The caller lacks right on registry (NULL: the server): BERTH_EDENIED, naming the role that would do. */
static enum berth_rc refuse(struct berth_req *req, const char *registry, unsigned right, const char *why,
                            struct berth_err *err)
{
    struct mgmt_state *st = mgmt_state_of(req);
    char who[BERTH_META_NAME_MAX + 32];

    if (st->who.kind == PK_SP) snprintf(who, sizeof(who), "service principal '%s'", st->who.name);
    else snprintf(who, sizeof(who), "user '%s'", st->who.name);
    req->caller.reason = BERTH_AUTH_INSUFFICIENT_SCOPE;
    if (registry)
        return berth_err_set(err, BERTH_EDENIED, "%s needs %s on registry '%s' %s", who, role_for(right), registry,
                             why);
    return berth_err_set(err, BERTH_EDENIED, "%s needs %s on the server (scope '/') %s", who, role_for(right), why);
}

/* Checks that the caller holds the row's right on registry (NULL: the server). */
static enum berth_rc need(struct berth_req *req, const char *registry, struct berth_err *err)
{
    const struct route *r = req->route;
    struct mgmt_state *st = mgmt_state_of(req);
    unsigned have = authz_mgmt_rights(mgmt_az(req), &st->who, registry);

    if ((have & r->right) != r->right) return refuse(req, registry, r->right, r->why, err);
    st->checked = 1;
    return BERTH_OK;
}

enum berth_rc mgmt_need_row(struct berth_req *req, const char *registry, struct berth_err *err)
{
    return need(req, registry, err);
}

enum berth_rc mgmt_segment(struct berth_req *req, int idx, char *out, size_t outlen, struct berth_err *err)
{
    const char *p = req->path, *end;
    size_t len;
    int i;

    for (i = 0; i < idx && p; i++) {
        p = strchr(p, '/');
        if (p) p++;
    }
    if (!p) return berth_err_set(err, BERTH_ENOROUTE, "no such endpoint: %.200s", req->path);
    end = strchr(p, '/');
    len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len >= outlen)
        return berth_err_set(err, BERTH_ENOENT, "'%.64s' names nothing here: it is too long", p);
    memcpy(out, p, len);
    out[len] = '\0';
    return BERTH_OK;
}

/* The path segment where the row's pattern has param ("{registry}") into out. */
static enum berth_rc path_param(struct berth_req *req, const char *param, char *out, size_t outlen,
                                struct berth_err *err)
{
    int idx = berth_route_param_index(req->route, param);

    if (idx < 0)
        return berth_err_set(err, BERTH_EINTERNAL, "route %s has no %s to check rights on", req->route->label, param);
    return mgmt_segment(req, idx, out, outlen, err);
}

/*
 * The row's right on what its right_on names. The order is the one every
 * answer depends on: the registry's name (400), then the right on that name
 * (403), and only in the handler whether it exists (404), so a caller
 * without the right learns nothing about which registries exist.
 */
static enum berth_rc check_row(struct berth_req *req, struct berth_err *err)
{
    const struct route *r = req->route;
    struct mgmt_state *st = mgmt_state_of(req);
    struct berth_err lerr = BERTH_ERR_INIT;
    char name[BERTH_META_NAME_MAX + 1];
    enum berth_rc rc = BERTH_OK;

    /* the handler checks the right on the registry its body or target names (mgmt_need_row) */
    if (r->body_checked) goto out;
    switch (r->right_on) {
    case RIGHT_ON_CALLER:
    case RIGHT_ON_EACH_REGISTRY: /* the handler shows each registry only to those with the right on it */
        st->checked = 1;
        break;
    case RIGHT_ON_SERVER:
        rc = need(req, NULL, err);
        break;
    case RIGHT_ON_REGISTRY:
        rc = path_param(req, "{registry}", name, sizeof(name), err);
        if (rc) goto out;
        if (berth_registry_name_check(name, &lerr) != BERTH_OK) {
            rc = mgmt_as(err, BERTH_EREQUEST, &lerr);
            goto out;
        }
        rc = need(req, name, err);
        if (rc) goto out;
        snprintf(st->registry, sizeof(st->registry), "%s", name);
        break;
    case RIGHT_ON_ANY_REGISTRY:
        /* a caller with the right nowhere is refused as on the server; the handler filters the rest */
        if (!(authz_mgmt_rights_anywhere(mgmt_az(req), &st->who) & r->right)) {
            rc = refuse(req, NULL, r->right, r->why, err);
            goto out;
        }
        st->checked = 1;
        break;
    case RIGHT_ON_SELF_OR_SERVER:
        rc = path_param(req, "{user}", name, sizeof(name), err);
        if (rc) goto out;
        if (st->who.kind == PK_USER && !strcmp(st->who.name, name)) st->checked = 1;
        else rc = need(req, NULL, err);
        break;
    case RIGHT_ON_NOTHING:
    default:
        /* berth_route_table_check stops such a table at start-up; refuse rather than serve anyway */
        rc = berth_err_set(err, BERTH_EINTERNAL, "route %s states no management right", r->label);
        break;
    }
out:
    return rc;
}

enum berth_rc api_mgmt_finish(struct berth_req *req, struct berth_err *err)
{
    enum berth_rc rc = req->route->arm ? arm_begin_row(req, err) : BERTH_OK;
    if (!rc) rc = check_row(req, err);
    if (rc) return rc;
    return req->route->handler(req, err);
}

enum berth_rc mgmt_registry(struct berth_req *req, struct berth_meta_registry *reg, struct berth_err *err)
{
    struct mgmt_state *st = mgmt_state_of(req);
    struct berth_meta *m = req->http->meta;

    if (!st->registry[0])
        return berth_err_set(err, BERTH_EINTERNAL, "route %s names no registry", req->route->label);
    return m->reg->registry_get(m, st->registry, 0, reg, err);
}

/* ---------------------------------------------------------------- names */

/*
 * Checks that name is lo..hi letters, digits and characters of rest (which
 * may come first only when rest_first). upper_ok: capitals are allowed;
 * otherwise a name that is only wrong by its capitals gets a hint.
 */
static enum berth_rc name_check(const char *what, const char *name, size_t lo, size_t hi, const char *rest,
                                int rest_first, const char *shape, int upper_ok, struct berth_err *err)
{
    size_t n = strlen(name), i;
    int upper = 0;
    char lower[BERTH_META_NAME_MAX + 1];

    for (i = 0; i < n; i++) {
        char c = name[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
        if (c >= 'A' && c <= 'Z') {
            upper = 1;
            continue;
        }
        if ((i > 0 || rest_first) && c && strchr(rest, c)) continue;
        return berth_err_set(err, BERTH_EREQUEST, "invalid %s name: a %s name is %s (byte %zu is not allowed)", what,
                             what, shape, i);
    }
    if (n < lo || n > hi)
        return berth_err_set(err, BERTH_EREQUEST, "invalid %s name: a %s name is %s (this one has %zu characters)",
                             what, what, shape, n);
    if (upper && !upper_ok) {
        for (i = 0; i < n; i++) lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
        lower[n] = '\0';
        return berth_err_set(err, BERTH_EREQUEST, "%s names are lowercase: use '%s'", what, lower);
    }
    return BERTH_OK;
}

enum berth_rc mgmt_user_name_check(const char *name, struct berth_err *err)
{
    enum berth_rc rc = name_check("user", name, 1, 64, "._-", 0,
                                  "1 to 64 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
                                  0, err);
    if (rc) return rc;
    /* a GUID logs in as a service principal, so no user may be named like one */
    if (berth_uuid_valid(name))
        return berth_err_set(err, BERTH_EREQUEST, "invalid user name: a GUID names a service principal, not a user");
    return BERTH_OK;
}

enum berth_rc mgmt_token_name_check(const char *name, struct berth_err *err)
{
    return name_check("token", name, 5, 50, "-", 1, "5 to 50 letters, digits and hyphens", 1, err);
}

enum berth_rc mgmt_scopemap_name_check(const char *name, struct berth_err *err)
{
    if (name[0] == '_')
        return berth_err_set(err, BERTH_EREQUEST,
                             "invalid scope map name: names starting with '_' are reserved for the system scope maps");
    return name_check("scope map", name, 5, 50, "-_", 1, "5 to 50 letters, digits, hyphens and underscores", 1, err);
}

enum berth_rc mgmt_new_secret(char secret[BERTH_SECRET_LEN + 1], const char *sibling,
                              char hash[BERTH_SECRET_HASH_MAX], struct berth_err *err)
{
    berth_secret_generate(secret);
    return berth_secret_hash_like(secret, sibling, hash, err);
}

/* ---------------------------------------------------------------- times */

json_t *mgmt_time(int64_t ms)
{
    char t[32];
    if (!ms) return json_null();
    berth_time_rfc3339(ms / 1000, t, sizeof(t));
    return json_string(t);
}

enum berth_rc mgmt_expiry(json_t *o, const char *days_key, const char *at_key, int64_t def_days, int64_t *ms,
                          struct berth_err *err)
{
    json_t *at = at_key ? json_object_get(o, at_key) : NULL;
    int64_t now = berth_now_ms(), days = def_days, when = 0;
    enum berth_rc rc;

    if (at && json_object_get(o, days_key))
        return berth_err_set(err, BERTH_EREQUEST, "give '%s' or '%s', not both", days_key, at_key);
    if (at) {
        const char *t = json_string_value(at);
        if (berth_rfc3339_parse(t, t ? strlen(t) : 0, &when, NULL) != BERTH_OK)
            return berth_err_set(err, BERTH_EREQUEST,
                                 "field '%s' must be an RFC 3339 date-time such as 2030-01-31T00:00:00Z", at_key);
        if (when <= now) return berth_err_set(err, BERTH_EREQUEST, "field '%s' must lie in the future", at_key);
        *ms = when;
        return BERTH_OK;
    }
    rc = mgmt_int(o, days_key, 1, 36500, &days, err);
    if (rc) return rc;
    *ms = days ? now + days * DAY_MS : 0;
    return BERTH_OK;
}

/* ---------------------------------------------------------------- answers */

/* Whether the request's right was checked; logs the fault when it was not. */
static int right_checked(struct berth_req *req)
{
    if (mgmt_state_of(req)->checked) return 1;
    BERTH_LOG(BERTH_LOG_ERROR, "req=%s msg=\"a management answer without a rights check was refused\" route=%s",
              req->id, req->route->label);
    return 0;
}

enum berth_rc mgmt_reply(struct berth_req *req, int status, json_t *doc, int secret)
{
    if (!right_checked(req)) {
        json_decref(doc);
        return req_respond_error(req, BERTH_EINTERNAL, "the server did not check this request's rights");
    }
    if (secret) berth_req_add_header(req, "Cache-Control", "no-store");
    if (req->route->arm) {
        /* ARM: no Location of /api/v1 (a poller would follow it) */
        berth_req_drop_header(req, "Location");
        doc = arm_reply_doc(req, doc);
    }
    return req_respond_json_doc(req, status, doc);
}

enum berth_rc mgmt_reply_empty(struct berth_req *req)
{
    if (!right_checked(req))
        return req_respond_error(req, BERTH_EINTERNAL, "the server did not check this request's rights");
    /* ARM: a delete answers 200 */
    return req_respond_empty(req, req->route->arm ? 200 : 204);
}

/* ---------------------------------------------------------------- tenant */

enum berth_rc api_mgmt_tenant_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    char ep[128];

    (void)err;
    snprintf(ep, sizeof(ep), "/directory/%s/oauth2/v2.0/token", az->tenant);
    return mgmt_reply(req, 200, json_pack("{s:s,s:s}", "tenantId", az->tenant, "tokenEndpoint", ep), 0);
}

/* ---------------------------------------------------------------- registries */

static const char *const admin_slot_names[2] = {"password", "password2"};

/*
 * An enabled admin user has both passwords, as in ACR: enabling it makes each
 * one it does not have yet. Passwords it had before it was disabled stay, as
 * ACR keeps them, so enabling it again lets the old ones in again (`credential
 * renew` replaces one). values[i] gets each new secret; *what gets the
 * BERTH_META_REG_ADMIN* bits of the slots written.
 */
static enum berth_rc admin_passwords(struct berth_meta_registry *r, char values[2][BERTH_SECRET_LEN + 1],
                                     unsigned *what, struct berth_err *err)
{
    int64_t now = berth_now_ms();
    enum berth_rc rc;
    int i;

    *what = 0;
    if (!r->admin_enabled) return BERTH_OK;
    for (i = 0; i < 2; i++) {
        if (r->admin_hash[i][0]) continue;
        rc = mgmt_new_secret(values[i], r->admin_hash[!i], r->admin_hash[i], err);
        if (rc) return rc;
        /* a new stamp revokes every registry token that came from an earlier password */
        r->admin_set_ms[i] = now > r->admin_set_ms[i] ? now : r->admin_set_ms[i] + 1;
        *what |= i ? BERTH_META_REG_ADMIN2 : BERTH_META_REG_ADMIN1;
    }
    return BERTH_OK;
}

/* Adds "credentials" with the passwords just made (shown once) to the registry object o; 1 if there were any. */
static int admin_credentials_add(json_t *o, const struct berth_meta_registry *r,
                                 const char values[2][BERTH_SECRET_LEN + 1])
{
    json_t *pws = json_array();
    int i;

    for (i = 0; i < 2; i++)
        if (values[i][0])
            json_array_append_new(pws, json_pack("{s:s,s:s}", "name", admin_slot_names[i], "value", values[i]));
    if (!json_array_size(pws)) {
        json_decref(pws);
        return 0;
    }
    json_object_set_new(o, "credentials", json_pack("{s:s,s:o}", "username", r->name, "passwords", pws));
    return 1;
}

static json_t *registry_json(struct authz *az, const struct berth_meta_registry *r)
{
    json_t *o = json_object();
    char ls[160], id[96];

    authz_login_server(az, r, ls, sizeof(ls));
    snprintf(id, sizeof(id), "/registries/%s", r->name);
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "loginServer", json_string(ls));
    json_object_set_new(o, "creationDate", mgmt_time(r->created_ms));
    json_object_set_new(o, "adminUserEnabled", json_boolean(r->admin_enabled));
    json_object_set_new(o, "anonymousPullEnabled", json_boolean(r->anonymous_pull));
    json_object_set_new(o, "refreshTokenLifetimeSeconds",
                        json_integer(r->refresh_ttl_s ? r->refresh_ttl_s : BERTH_CFG_LIVE(az->cfg, refresh_ttl)));
    json_object_set_new(o, "accessTokenLifetimeSeconds",
                        json_integer(r->access_ttl_s ? r->access_ttl_s : BERTH_CFG_LIVE(az->cfg, access_ttl)));
    mgmt_network_json_add(az, r->id, o);
    return o;
}

static const struct mgmt_field registry_fields[] = {
    {"name", MT_STR},
    {"adminUserEnabled", MT_BOOL},
    {"anonymousPullEnabled", MT_BOOL},
    {"refreshTokenLifetimeSeconds", MT_INT},
    {"accessTokenLifetimeSeconds", MT_INT},
};

/* A lifetime member: 0 (the server's setting) or lo..hi seconds. */
static enum berth_rc ttl_field(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out, struct berth_err *err)
{
    int64_t v = *out;
    enum berth_rc rc = mgmt_int(o, k, 0, hi, &v, err);
    if (rc) return rc;
    if (v != 0 && v < lo)
        return berth_err_set(err, BERTH_EREQUEST, "field '%s' must be 0 (the server's setting) or %lld to %lld", k,
                             (long long)lo, (long long)hi);
    *out = v;
    return BERTH_OK;
}

/* Applies the settable members of o to r. */
static enum berth_rc registry_apply(json_t *o, struct berth_meta_registry *r, struct berth_err *err)
{
    json_t *v;
    enum berth_rc rc;

    v = json_object_get(o, "adminUserEnabled");
    if (v) r->admin_enabled = json_is_true(v);
    v = json_object_get(o, "anonymousPullEnabled");
    if (v) r->anonymous_pull = json_is_true(v);
    rc = ttl_field(o, "refreshTokenLifetimeSeconds", REFRESH_TTL_MIN, REFRESH_TTL_MAX, &r->refresh_ttl_s, err);
    if (rc) return rc;
    return ttl_field(o, "accessTokenLifetimeSeconds", ACCESS_TTL_MIN, ACCESS_TTL_MAX, &r->access_ttl_s, err);
}

struct registry_set {
    struct berth_meta_registry *v;
    size_t n, cap;
};

static int collect_registry(const struct berth_meta_registry *r, void *ctx)
{
    struct registry_set *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = berth_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n] = *r;
    /* the list never shows hashes; keep no copy of them either */
    memset(s->v[s->n].admin_hash, 0, sizeof(s->v[s->n].admin_hash));
    s->n++;
    return 0;
}

enum berth_rc api_mgmt_registry_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    struct mgmt_state *st = mgmt_state_of(req);
    struct berth_meta *m = req->http->meta;
    struct registry_set set = {NULL, 0, 0};
    json_t *list = json_array();
    int all;
    size_t i;
    enum berth_rc rc;

    /* the rights lookups run after the listing, never inside its callback */
    rc = m->reg->registry_list(m, collect_registry, &set, err);
    if (rc) goto out;
    all = (authz_mgmt_rights(az, &st->who, NULL) & BERTH_MGMT_READ) != 0;
    for (i = 0; i < set.n; i++)
        if (all || (authz_mgmt_rights(az, &st->who, set.v[i].name) & BERTH_MGMT_READ))
            json_array_append_new(list, registry_json(az, &set.v[i]));
    rc = mgmt_reply(req, 200, json_pack("{s:o}", "value", list), 0);
    list = NULL;
out:
    json_decref(list);
    free(set.v);
    return rc;
}

enum berth_rc api_mgmt_registry_create_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_err lerr = BERTH_ERR_INIT;
    char values[2][BERTH_SECRET_LEN + 1];
    const char *name;
    json_t *o, *doc;
    char loc[128];
    unsigned what;
    enum berth_rc rc;

    rc = mgmt_body(req, registry_fields, MGMT_NFIELDS(registry_fields), &o, err);
    if (rc) return rc;
    rc = mgmt_required(o, "name", err);
    if (rc) return rc;
    name = mgmt_str(o, "name");
    if (berth_registry_name_check(name, &lerr) != BERTH_OK) return mgmt_as(err, BERTH_EREQUEST, &lerr);
    memset(&reg, 0, sizeof(reg));
    memset(values, 0, sizeof(values));
    snprintf(reg.name, sizeof(reg.name), "%s", name);
    rc = registry_apply(o, &reg, err);
    if (!rc) rc = admin_passwords(&reg, values, &what, err);
    if (!rc) rc = m->reg->registry_create(m, &reg, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"registry created\" registry=%s admin=%s principal=\"%s\"", req->id,
              reg.name, reg.admin_enabled ? "enabled" : "disabled", req->caller.principal);
    snprintf(loc, sizeof(loc), "/api/v1/registries/%s", reg.name);
    berth_req_add_header(req, "Location", loc);
    doc = registry_json(az, &reg);
    rc = mgmt_reply(req, 201, doc, admin_credentials_add(doc, &reg, values));
out:
    explicit_bzero(values, sizeof(values));
    explicit_bzero(reg.admin_hash, sizeof(reg.admin_hash));
    return rc;
}

enum berth_rc api_mgmt_registry_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta_registry reg;
    enum berth_rc rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    return mgmt_reply(req, 200, registry_json(mgmt_az(req), &reg), 0);
}

/* One of ACR's usages: {"name", "currentValue", "unit"}. */
static void usage_add(json_t *arr, const char *name, int64_t value, const char *unit)
{
    json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "name", name, "currentValue", (json_int_t)value, "unit",
                                         unit));
}

/*
 * GET /api/v1/registries/{registry}/usages: what the registry holds, in
 * ACR's listUsages shape ({"value": [...]}); berth sets no quota, so no
 * entry has a limit.
 */
enum berth_rc api_mgmt_registry_usage_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_usage u;
    json_t *arr;
    enum berth_rc rc = mgmt_registry(req, &reg, err);

    if (!rc) rc = m->content->registry_usage(m, reg.id, &u, err);
    if (rc) return rc;
    arr = json_array();
    usage_add(arr, "Size", u.blob_bytes + u.manifest_bytes, "Bytes");
    usage_add(arr, "Repositories", u.repositories, "Count");
    usage_add(arr, "Manifests", u.manifests, "Count");
    usage_add(arr, "Tags", u.tags, "Count");
    usage_add(arr, "ScopeMaps", u.scope_maps, "Count");
    usage_add(arr, "Tokens", u.tokens, "Count");
    return mgmt_reply(req, 200, json_pack("{s:o}", "value", arr), 0);
}

enum berth_rc api_mgmt_registry_patch_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {
        {"adminUserEnabled", MT_BOOL},
        {"anonymousPullEnabled", MT_BOOL},
        {"refreshTokenLifetimeSeconds", MT_INT},
        {"accessTokenLifetimeSeconds", MT_INT},
        {"publicNetworkAccess", MT_STR},
        {"networkRuleSet", MT_OBJ},
    };
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_network *net = NULL;
    char values[2][BERTH_SECRET_LEN + 1];
    json_t *o, *doc;
    unsigned what = 0;
    enum berth_rc rc;

    memset(values, 0, sizeof(values));
    rc = mgmt_registry(req, &reg, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = registry_apply(o, &reg, err);
    /* everything is checked before anything is written */
    if (!rc) rc = mgmt_network_check(req, &reg, o, &net, err);
    if (!rc && json_object_get(o, "adminUserEnabled")) rc = admin_passwords(&reg, values, &what, err);
    if (!rc) rc = m->reg->registry_update(m, &reg, BERTH_META_REG_SETTINGS | what, err);
    if (!rc && net) rc = m->reg->network_put(m, reg.id, net, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"registry changed\" registry=%s admin=%s admin_passwords_made=%d "
              "principal=\"%s\"", req->id, reg.name, reg.admin_enabled ? "enabled" : "disabled",
              !!(what & BERTH_META_REG_ADMIN1) + !!(what & BERTH_META_REG_ADMIN2), req->caller.principal);
    doc = registry_json(mgmt_az(req), &reg);
    if (net) mgmt_network_warnings(req, net, doc);
    rc = mgmt_reply(req, 200, doc, admin_credentials_add(doc, &reg, values));
out:
    explicit_bzero(values, sizeof(values));
    explicit_bzero(reg.admin_hash, sizeof(reg.admin_hash));
    free(net);
    return rc;
}

enum berth_rc api_mgmt_registry_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    if (!strcmp(reg.name, req->http->cfg->default_registry))
        return berth_err_set(err, BERTH_EBUSY,
                             "registry '%s' is the server's default registry (setting default-registry) and cannot be "
                             "deleted",
                             reg.name);
    rc = m->reg->registry_delete(m, reg.id, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"registry deleted\" registry=%s principal=\"%s\"", req->id, reg.name,
              req->caller.principal);
    return mgmt_reply_empty(req);
}

/* ---------------------------------------------------------------- admin credentials */

enum berth_rc api_mgmt_credentials_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta_registry reg;
    json_t *pws;
    int i;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    pws = json_array();
    for (i = 0; i < 2; i++)
        json_array_append_new(pws, json_pack("{s:s,s:o}", "name", admin_slot_names[i], "createdAt",
                                             mgmt_time(reg.admin_hash[i][0] ? reg.admin_set_ms[i] : 0)));
    return mgmt_reply(req, 200,
                      json_pack("{s:s,s:b,s:o}", "username", reg.name, "adminUserEnabled", reg.admin_enabled,
                                "passwords", pws),
                      0);
}

enum berth_rc api_mgmt_credentials_regenerate_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"name", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    char secret[BERTH_SECRET_LEN + 1] = "";
    const char *name;
    json_t *o, *doc;
    int slot;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) return rc;
    rc = mgmt_required(o, "name", err);
    if (rc) return rc;
    name = mgmt_str(o, "name");
    if (!strcmp(name, admin_slot_names[0])) slot = 0;
    else if (!strcmp(name, admin_slot_names[1])) slot = 1;
    else return berth_err_set(err, BERTH_EREQUEST, "field 'name' must be 'password' or 'password2'");
    rc = mgmt_new_secret(secret, reg.admin_hash[!slot], reg.admin_hash[slot], err);
    if (rc) goto out;
    /* a new stamp revokes every registry token that came from the old password */
    reg.admin_set_ms[slot] = berth_now_ms();
    /* only this password: a PATCH or the other slot's regeneration at the same time keeps its change */
    rc = m->reg->registry_update(m, &reg, slot ? BERTH_META_REG_ADMIN2 : BERTH_META_REG_ADMIN1, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"admin password regenerated\" registry=%s slot=%s principal=\"%s\"",
              req->id, reg.name, name, req->caller.principal);
    doc = json_pack("{s:s,s:[{s:s,s:s}]}", "username", reg.name, "passwords", "name", admin_slot_names[slot], "value",
                    secret);
    rc = mgmt_reply(req, 200, doc, 1);
out:
    explicit_bzero(secret, sizeof(secret));
    return rc;
}
