/*
 * api_mgmt_dir.c - the directory part of the management API: users,
 * service principals and their secrets, and role assignments.
 *   GET|POST /api/v1/users                GET|DELETE /api/v1/users/<user>
 *   POST /api/v1/users/<user>/password
 *   GET|POST /api/v1/servicePrincipals    GET|DELETE /api/v1/servicePrincipals/<appId>
 *   POST /api/v1/servicePrincipals/<appId>/secrets
 *   DELETE /api/v1/servicePrincipals/<appId>/secrets/<secretId>
 *   GET|POST /api/v1/roleAssignments      DELETE /api/v1/roleAssignments/<id>
 * Users and service principals are server-wide: reading them needs the read
 * right on the server, changing them the write right (their route rows say
 * so, and api_mgmt_finish checks it). A role assignment needs the assign
 * right on the registry its scope names (on the server for "/"), which only
 * the handler knows: those rows are body_checked and their handlers call
 * mgmt_need_row. Secrets and passwords are shown once, when they are made.
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

#define PASSWORD_MIN 12
#define PASSWORD_MAX 256
#define DISPLAY_NAME_MAX 128
#define SECRET_DESC_MAX 128
#define SP_SECRET_DAYS 365

/* ---------------------------------------------------------------- users */

static json_t *user_json(const struct berth_meta_user *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "createdAt", mgmt_time(u->created_ms));
    json_object_set_new(o, "passwordSetAt", mgmt_time(u->password_set_ms));
    return o;
}

static int list_user(const struct berth_meta_user *u, void *ctx)
{
    json_array_append_new(ctx, user_json(u));
    return 0;
}

/* The user named by path segment 4. */
static enum berth_rc path_user(struct berth_req *req, struct berth_meta_user *u, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    char name[BERTH_META_NAME_MAX + 1];
    enum berth_rc rc = mgmt_segment(req, 4, name, sizeof(name), err);
    if (rc) return rc;
    return m->dir->user_get(m, name, NULL, u, err);
}

/* The password member of o when given (checked), else a fresh one in gen (*generated set). */
static enum berth_rc take_password(json_t *o, char gen[BERTH_SECRET_LEN + 1], const char **pw, int *generated,
                                   struct berth_err *err)
{
    const char *given = mgmt_str(o, "password");
    size_t n;

    *generated = 0;
    if (given) {
        n = strlen(given);
        if (n < PASSWORD_MIN || n > PASSWORD_MAX)
            return berth_err_set(err, BERTH_EREQUEST, "field 'password' must be %d to %d characters", PASSWORD_MIN,
                                 PASSWORD_MAX);
        *pw = given;
        return BERTH_OK;
    }
    berth_secret_generate(gen);
    *pw = gen;
    *generated = 1;
    return BERTH_OK;
}

enum berth_rc api_mgmt_user_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    json_t *list;
    enum berth_rc rc;

    list = json_array();
    rc = m->dir->user_list(m, list_user, list, err);
    if (rc) {
        json_decref(list);
        return rc;
    }
    return mgmt_reply(req, 200, json_pack("{s:o}", "value", list), 0);
}

enum berth_rc api_mgmt_user_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta_user u;
    enum berth_rc rc;

    rc = path_user(req, &u, err);
    if (rc) return rc;
    return mgmt_reply(req, 200, user_json(&u), 0);
}

enum berth_rc api_mgmt_user_create_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"name", MT_STR}, {"password", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_user u;
    char gen[BERTH_SECRET_LEN + 1] = "", loc[128];
    const char *pw = NULL;
    int generated = 0;
    json_t *o, *doc;
    enum berth_rc rc;

    memset(&u, 0, sizeof(u));
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = mgmt_required(o, "name", err);
    if (rc) goto out;
    rc = mgmt_user_name_check(mgmt_str(o, "name"), err);
    if (rc) goto out;
    rc = take_password(o, gen, &pw, &generated, err);
    if (rc) goto out;
    snprintf(u.name, sizeof(u.name), "%s", mgmt_str(o, "name"));
    rc = berth_secret_hash(pw, u.hash, err);
    if (rc) goto out;
    u.password_set_ms = berth_now_ms();
    rc = m->dir->user_create(m, &u, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"user created\" user=%s principal=\"%s\"", req->id, u.name,
              req->caller.principal);
    doc = user_json(&u);
    if (generated) json_object_set_new(doc, "password", json_string(gen));
    snprintf(loc, sizeof(loc), "/api/v1/users/%s", u.name);
    berth_req_add_header(req, "Location", loc);
    rc = mgmt_reply(req, 201, doc, generated);
out:
    explicit_bzero(gen, sizeof(gen));
    explicit_bzero(u.hash, sizeof(u.hash));
    return rc;
}

static enum berth_rc keep_an_owner(struct berth_meta *m, const char *assignment_id, const char *principal_id,
                                   struct berth_err *err);

enum berth_rc api_mgmt_user_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_user u;
    enum berth_rc rc;

    rc = path_user(req, &u, err);
    if (rc) return rc;
    rc = keep_an_owner(m, NULL, u.id, err);
    if (rc) return rc;
    rc = m->dir->user_delete(m, u.id, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"user deleted\" user=%s principal=\"%s\"", req->id, u.name,
              req->caller.principal);
    return mgmt_reply_empty(req);
}

/*
 * A user may always set their own password; anyone else's needs the write
 * right on the server (the row's RIGHT_ON_SELF_OR_SERVER). Setting one's own
 * with a directory token (not with the password itself, as Basic does) needs
 * currentPassword too, so a stolen token cannot become the account for good.
 */
enum berth_rc api_mgmt_user_password_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"password", MT_STR}, {"currentPassword", MT_STR}};
    struct mgmt_state *st = mgmt_state_of(req);
    struct berth_meta *m = req->http->meta;
    struct berth_meta_user u;
    char gen[BERTH_SECRET_LEN + 1] = "", name[BERTH_META_NAME_MAX + 1], hash[BERTH_SECRET_HASH_MAX] = "";
    const char *pw = NULL, *auth;
    int generated = 0, self;
    int64_t now;
    json_t *o, *doc;
    enum berth_rc rc;

    rc = mgmt_segment(req, 4, name, sizeof(name), err);
    if (rc) goto out;
    self = st->who.kind == PK_USER && !strcmp(st->who.name, name);
    rc = m->dir->user_get(m, name, NULL, &u, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    auth = berth_req_header(req, "Authorization");
    if (self && auth && !strncasecmp(auth, "Bearer ", 7)) {
        rc = authz_current_password(mgmt_az(req), &req->caller, &u, mgmt_str(o, "currentPassword"), err);
        if (rc) goto out;
    }
    rc = take_password(o, gen, &pw, &generated, err);
    if (rc) goto out;
    rc = berth_secret_hash(pw, hash, err);
    if (rc) goto out;
    /* a new stamp revokes every directory token issued on the old password */
    now = berth_now_ms();
    if (now <= u.password_set_ms) now = u.password_set_ms + 1;
    rc = m->dir->user_set_password(m, u.id, hash, now, err);
    if (rc) goto out;
    u.password_set_ms = now;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"user password set\" user=%s principal=\"%s\"", req->id, u.name,
              req->caller.principal);
    doc = user_json(&u);
    if (generated) json_object_set_new(doc, "password", json_string(gen));
    rc = mgmt_reply(req, 200, doc, generated);
out:
    explicit_bzero(gen, sizeof(gen));
    explicit_bzero(hash, sizeof(hash));
    return rc;
}

/* ---------------------------------------------------------------- service principals */

static json_t *secret_json(const struct berth_meta_sp_secret *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "description", json_string(s->description));
    json_object_set_new(o, "createdAt", mgmt_time(s->created_ms));
    json_object_set_new(o, "expiresAt", mgmt_time(s->expires_ms));
    return o;
}

static int list_secret(const struct berth_meta_sp_secret *s, void *ctx)
{
    json_array_append_new(ctx, secret_json(s));
    return 0;
}

/* The service principal's JSON with its secrets (never their values). */
static enum berth_rc sp_json(struct berth_meta *m, const struct berth_meta_sp *sp, json_t **out,
                             struct berth_err *err)
{
    json_t *secrets = json_array();
    enum berth_rc rc = m->dir->sp_secrets(m, sp->app_id, list_secret, secrets, err);
    if (rc) {
        json_decref(secrets);
        return rc;
    }
    *out = json_pack("{s:s,s:s,s:o,s:o}", "appId", sp->app_id, "displayName", sp->display_name, "createdAt",
                     mgmt_time(sp->created_ms), "secrets", secrets);
    return BERTH_OK;
}

struct sp_set {
    struct berth_meta_sp *v;
    size_t n, cap;
};

static int collect_sp(const struct berth_meta_sp *sp, void *ctx)
{
    struct sp_set *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = berth_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = *sp;
    return 0;
}

/* The service principal whose app id is path segment 4 (anything else is not found). */
static enum berth_rc path_sp(struct berth_req *req, struct berth_meta_sp *sp, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    char app[BERTH_META_NAME_MAX + 1];
    enum berth_rc rc = mgmt_segment(req, 4, app, sizeof(app), err);
    if (rc) return rc;
    if (!berth_uuid_valid(app)) return berth_err_set(err, BERTH_ENOENT, "service principal '%s' not found", app);
    return m->dir->sp_get(m, app, sp, err);
}

enum berth_rc api_mgmt_sp_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct sp_set set = {NULL, 0, 0};
    json_t *list = NULL, *one;
    size_t i;
    enum berth_rc rc;

    /* secrets are read after the listing, never inside its callback */
    rc = m->dir->sp_list(m, collect_sp, &set, err);
    if (rc) goto out;
    list = json_array();
    for (i = 0; i < set.n; i++) {
        rc = sp_json(m, &set.v[i], &one, err);
        if (rc == BERTH_ENOENT) continue; /* deleted meanwhile */
        if (rc) goto out;
        json_array_append_new(list, one);
    }
    rc = mgmt_reply(req, 200, json_pack("{s:o}", "value", list), 0);
    list = NULL;
out:
    json_decref(list);
    free(set.v);
    return rc;
}

enum berth_rc api_mgmt_sp_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_sp sp;
    json_t *doc;
    enum berth_rc rc;

    rc = path_sp(req, &sp, err);
    if (rc) return rc;
    rc = sp_json(m, &sp, &doc, err);
    if (rc) return rc;
    return mgmt_reply(req, 200, doc, 0);
}

/* Keeps the hash of the first secret listed (ctx: a BERTH_SECRET_HASH_MAX buffer). */
static int first_hash(const struct berth_meta_sp_secret *s, void *ctx)
{
    snprintf(ctx, BERTH_SECRET_HASH_MAX, "%s", s->hash);
    return 1;
}

/* Adds a secret described by o's description/expiresInDays/expiresAt to app; fills s and value. */
static enum berth_rc add_secret(struct berth_meta *m, const char *app, json_t *o, const char *desc_key,
                                struct berth_meta_sp_secret *s, char value[BERTH_SECRET_LEN + 1],
                                struct berth_err *err)
{
    const char *desc = desc_key ? mgmt_str(o, desc_key) : NULL;
    char sibling[BERTH_SECRET_HASH_MAX] = "";
    enum berth_rc rc;

    memset(s, 0, sizeof(*s));
    if (desc && strlen(desc) > SECRET_DESC_MAX)
        return berth_err_set(err, BERTH_EREQUEST, "field '%s' must be at most %d characters", desc_key,
                             SECRET_DESC_MAX);
    snprintf(s->description, sizeof(s->description), "%s", desc ? desc : "");
    rc = mgmt_expiry(o, "expiresInDays", "expiresAt", SP_SECRET_DAYS, &s->expires_ms, err);
    if (rc) return rc;
    /* share a salt with a secret the principal has, so a login checks all of them in one run */
    rc = m->dir->sp_secrets(m, app, first_hash, sibling, err);
    if (rc) return rc;
    rc = mgmt_new_secret(value, sibling, s->hash, err);
    explicit_bzero(sibling, sizeof(sibling));
    if (rc) return rc;
    rc = m->dir->sp_secret_add(m, app, s, err);
    explicit_bzero(s->hash, sizeof(s->hash));
    return rc;
}

enum berth_rc api_mgmt_sp_create_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {
        {"displayName", MT_STR},
        {"expiresInDays", MT_INT},
        {"expiresAt", MT_STR},
    };
    struct berth_meta *m = req->http->meta;
    struct berth_meta_sp sp;
    struct berth_meta_sp_secret s;
    struct berth_err lerr = BERTH_ERR_INIT;
    char value[BERTH_SECRET_LEN + 1] = "", loc[128];
    const char *dn;
    json_t *o, *doc;
    enum berth_rc rc;

    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = mgmt_required(o, "displayName", err);
    if (rc) goto out;
    dn = mgmt_str(o, "displayName");
    if (!*dn || strlen(dn) > DISPLAY_NAME_MAX) {
        rc = berth_err_set(err, BERTH_EREQUEST, "field 'displayName' must be 1 to %d characters", DISPLAY_NAME_MAX);
        goto out;
    }
    /* the expiry is checked before anything is made */
    rc = mgmt_expiry(o, "expiresInDays", "expiresAt", SP_SECRET_DAYS, &s.expires_ms, err);
    if (rc) goto out;
    memset(&sp, 0, sizeof(sp));
    snprintf(sp.display_name, sizeof(sp.display_name), "%s", dn);
    rc = m->dir->sp_create(m, &sp, err);
    if (rc) goto out;
    rc = add_secret(m, sp.app_id, o, NULL, &s, value, err);
    if (rc) {
        /* a principal nobody can log in as is of no use: take it back */
        if (m->dir->sp_delete(m, sp.app_id, &lerr) != BERTH_OK)
            BERTH_LOG(BERTH_LOG_ERROR, "req=%s msg=\"cannot remove a half-made service principal\" app_id=%s "
                      "error=\"%s\"", req->id, sp.app_id, lerr.msg);
        goto out;
    }
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"service principal created\" app_id=%s principal=\"%s\"", req->id,
              sp.app_id, req->caller.principal);
    doc = json_pack("{s:s,s:s,s:o,s:{s:s,s:s,s:o}}", "appId", sp.app_id, "displayName", sp.display_name, "createdAt",
                    mgmt_time(sp.created_ms), "secret", "id", s.id, "value", value, "expiresAt",
                    mgmt_time(s.expires_ms));
    snprintf(loc, sizeof(loc), "/api/v1/servicePrincipals/%s", sp.app_id);
    berth_req_add_header(req, "Location", loc);
    rc = mgmt_reply(req, 201, doc, 1);
out:
    explicit_bzero(value, sizeof(value));
    return rc;
}

enum berth_rc api_mgmt_sp_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_sp sp;
    enum berth_rc rc;

    rc = path_sp(req, &sp, err);
    if (rc) return rc;
    rc = keep_an_owner(m, NULL, sp.app_id, err);
    if (rc) return rc;
    rc = m->dir->sp_delete(m, sp.app_id, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"service principal deleted\" app_id=%s principal=\"%s\"", req->id,
              sp.app_id, req->caller.principal);
    return mgmt_reply_empty(req);
}

enum berth_rc api_mgmt_sp_secret_add_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {
        {"description", MT_STR},
        {"expiresInDays", MT_INT},
        {"expiresAt", MT_STR},
    };
    struct berth_meta *m = req->http->meta;
    struct berth_meta_sp sp;
    struct berth_meta_sp_secret s;
    char value[BERTH_SECRET_LEN + 1] = "";
    json_t *o, *doc;
    enum berth_rc rc;

    rc = path_sp(req, &sp, err);
    if (rc) goto out;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) goto out;
    rc = add_secret(m, sp.app_id, o, "description", &s, value, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"service principal secret added\" app_id=%s secret_id=%s principal=\"%s\"",
              req->id, sp.app_id, s.id, req->caller.principal);
    doc = secret_json(&s);
    json_object_set_new(doc, "value", json_string(value));
    rc = mgmt_reply(req, 201, doc, 1);
out:
    explicit_bzero(value, sizeof(value));
    return rc;
}

enum berth_rc api_mgmt_sp_secret_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_sp sp;
    enum berth_rc rc;

    rc = path_sp(req, &sp, err);
    if (rc) return rc;
    if (!berth_uuid_valid(req->param))
        return berth_err_set(err, BERTH_ENOENT, "secret '%.64s' of service principal '%s' not found", req->param,
                             sp.app_id);
    rc = m->dir->sp_secret_remove(m, sp.app_id, req->param, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"service principal secret removed\" app_id=%s secret_id=%s "
              "principal=\"%s\"", req->id, sp.app_id, req->param, req->caller.principal);
    return mgmt_reply_empty(req);
}

/* ---------------------------------------------------------------- role assignments */

/* A principal as role assignments name it. */
struct who {
    char type[8];           /* "user" or "sp" */
    char id[37];            /* user id or app id */
    char name[130];         /* user name or display name */
};

/*
 * Finds a principal by user name, or by GUID: a service principal's app id
 * or a user's id. BERTH_ENOENT when there is none.
 */
static enum berth_rc find_principal(struct berth_meta *m, const char *text, struct who *w, struct berth_err *err)
{
    struct berth_err lerr = BERTH_ERR_INIT;
    struct berth_meta_user u;
    struct berth_meta_sp sp;
    enum berth_rc rc;

    memset(w, 0, sizeof(*w));
    if (berth_uuid_valid(text)) {
        rc = m->dir->sp_get(m, text, &sp, &lerr);
        if (rc == BERTH_OK) {
            snprintf(w->type, sizeof(w->type), "sp");
            snprintf(w->id, sizeof(w->id), "%s", sp.app_id);
            snprintf(w->name, sizeof(w->name), "%s", sp.display_name);
            return BERTH_OK;
        }
        if (rc != BERTH_ENOENT) return mgmt_as(err, rc, &lerr);
        rc = m->dir->user_get(m, NULL, text, &u, &lerr);
    } else {
        rc = m->dir->user_get(m, text, NULL, &u, &lerr);
    }
    if (rc == BERTH_ENOENT)
        return berth_err_set(err, BERTH_ENOENT, "principal '%.64s' is neither a user nor a service principal", text);
    if (rc) return mgmt_as(err, rc, &lerr);
    snprintf(w->type, sizeof(w->type), "user");
    snprintf(w->id, sizeof(w->id), "%s", u.id);
    snprintf(w->name, sizeof(w->name), "%s", u.name);
    return BERTH_OK;
}

/* The name of an assignment's principal ("" when it is gone). */
static void principal_name(struct berth_meta *m, const struct berth_meta_assignment *a, char *out, size_t n)
{
    struct berth_err lerr = BERTH_ERR_INIT;
    struct berth_meta_user u;
    struct berth_meta_sp sp;

    out[0] = '\0';
    if (!strcmp(a->principal_type, "sp")) {
        if (m->dir->sp_get(m, a->principal_id, &sp, &lerr) == BERTH_OK) snprintf(out, n, "%s", sp.display_name);
    } else if (m->dir->user_get(m, NULL, a->principal_id, &u, &lerr) == BERTH_OK) {
        snprintf(out, n, "%s", u.name);
    }
}

static json_t *assignment_json(const struct berth_meta_assignment *a, const char *name)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(a->id));
    json_object_set_new(o, "principalType", json_string(strcmp(a->principal_type, "sp") ? "User" : "ServicePrincipal"));
    json_object_set_new(o, "principalId", json_string(a->principal_id));
    json_object_set_new(o, "principalName", json_string(name));
    json_object_set_new(o, "roleDefinitionName", json_string(a->role));
    json_object_set_new(o, "scope", json_string(a->scope));
    json_object_set_new(o, "createdAt", mgmt_time(a->created_ms));
    return o;
}

/* The registry an assignment scope concerns ("" for the server); nonzero if the scope does not parse. */
static int scope_registry(const char *scope, char *out, size_t n)
{
    struct berth_assign_scope sc;
    struct berth_err lerr = BERTH_ERR_INIT;
    if (berth_assign_scope_parse(scope, &sc, &lerr) != BERTH_OK) return 1;
    snprintf(out, n, "%s", sc.kind == BERTH_SCOPE_SERVER ? "" : sc.registry);
    return 0;
}

struct assignment_set {
    struct berth_meta_assignment *v;
    size_t n, cap;
};

static int collect_assignment(const struct berth_meta_assignment *a, void *ctx)
{
    struct assignment_set *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 32;
        s->v = berth_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = *a;
    return 0;
}


/*
 * Refuses a change that would leave nobody with Owner on "/" (the server
 * could then never be managed again). Pass the assignment id being removed,
 * or the principal id being deleted.
 */
static enum berth_rc keep_an_owner(struct berth_meta *m, const char *assignment_id, const char *principal_id,
                                   struct berth_err *err)
{
    struct assignment_set set = {NULL, 0, 0};
    size_t i;
    int others = 0, affected = 0;
    enum berth_rc rc;

    rc = m->dir->assignment_list(m, NULL, collect_assignment, &set, err);
    if (rc) goto out;
    for (i = 0; i < set.n; i++) {
        const struct berth_meta_assignment *a = &set.v[i];
        int gone;
        if (strcasecmp(a->role, "Owner") != 0 || strcmp(a->scope, "/") != 0) continue;
        gone = (assignment_id && !strcmp(a->id, assignment_id)) || (principal_id && !strcmp(a->principal_id, principal_id));
        if (gone) affected = 1;
        else others++;
    }
    if (affected && !others)
        rc = berth_err_set(err, BERTH_EBUSY,
                           "this would leave the server without an Owner on '/': assign Owner on '/' to someone "
                           "else first");
out:
    free(set.v);
    return rc;
}

enum berth_rc api_mgmt_assignment_list_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    struct mgmt_state *st = mgmt_state_of(req);
    struct berth_meta *m = req->http->meta;
    struct assignment_set set = {NULL, 0, 0};
    const char *filter = req_query(req, "principal");
    char reg[BERTH_META_NAME_MAX + 1], last[BERTH_META_NAME_MAX + 1] = "", name[130];
    unsigned server, rights = 0;
    json_t *list = NULL;
    struct who w;
    size_t i;
    enum berth_rc rc;

    memset(&w, 0, sizeof(w));
    /* a caller who may read nothing was refused first (RIGHT_ON_ANY_REGISTRY): they learn nothing, not even
       whether a principal exists */
    server = authz_mgmt_rights(az, &st->who, NULL);
    if (filter) {
        rc = find_principal(m, filter, &w, err);
        /* the directory is the server's: only a reader of the server may hear that a name is unknown */
        if (rc == BERTH_ENOENT && !(server & BERTH_MGMT_READ)) {
            rc = mgmt_reply(req, 200, json_pack("{s:[]}", "value"), 0);
            goto out;
        }
        if (rc) return rc;
    }
    rc = m->dir->assignment_list(m, filter ? w.id : NULL, collect_assignment, &set, err);
    if (rc) goto out;
    list = json_array();
    for (i = 0; i < set.n; i++) {
        const struct berth_meta_assignment *a = &set.v[i];
        if (scope_registry(a->scope, reg, sizeof(reg)) != 0) continue;
        if (!(server & BERTH_MGMT_READ)) {
            if (!reg[0]) continue;
            /* assignments come in creation order; remember the last registry's answer */
            if (strcmp(reg, last) != 0) {
                rights = authz_mgmt_rights(az, &st->who, reg);
                snprintf(last, sizeof(last), "%s", reg);
            }
            if (!(rights & BERTH_MGMT_READ)) continue;
        }
        principal_name(m, a, name, sizeof(name));
        json_array_append_new(list, assignment_json(a, name));
    }
    rc = mgmt_reply(req, 200, json_pack("{s:o}", "value", list), 0);
    list = NULL;
out:
    json_decref(list);
    free(set.v);
    return rc;
}

enum berth_rc api_mgmt_assignment_create_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"principal", MT_STR}, {"role", MT_STR}, {"scope", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_assignment a;
    struct berth_assign_scope sc;
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_role role;
    struct who w;
    char loc[128];
    json_t *o;
    enum berth_rc rc;

    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (rc) return rc;
    rc = mgmt_required(o, "principal", err);
    if (!rc) rc = mgmt_required(o, "role", err);
    if (!rc) rc = mgmt_required(o, "scope", err);
    if (rc) return rc;
    if (berth_role_parse(mgmt_str(o, "role"), &role, &lerr) != BERTH_OK) return mgmt_as(err, BERTH_EREQUEST, &lerr);
    if (berth_assign_scope_parse(mgmt_str(o, "scope"), &sc, &lerr) != BERTH_OK)
        return mgmt_as(err, BERTH_EREQUEST, &lerr);
    /* a body_checked row: the right is on the registry the scope names */
    rc = mgmt_need_row(req, sc.kind == BERTH_SCOPE_SERVER ? NULL : sc.registry, err);
    if (rc) return rc;
    rc = find_principal(m, mgmt_str(o, "principal"), &w, &lerr);
    if (rc == BERTH_ENOENT) return mgmt_as(err, BERTH_EREQUEST, &lerr);
    if (rc) return mgmt_as(err, rc, &lerr);
    memset(&a, 0, sizeof(a));
    snprintf(a.principal_type, sizeof(a.principal_type), "%s", w.type);
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", w.id);
    snprintf(a.role, sizeof(a.role), "%s", berth_role_name(role));
    berth_assign_scope_format(&sc, a.scope, sizeof(a.scope));
    rc = m->dir->assignment_create(m, &a, &lerr);
    /* a registry the scope names that does not exist is a fault of the request */
    if (rc == BERTH_ENOENT || rc == BERTH_EINVAL) return mgmt_as(err, BERTH_EREQUEST, &lerr);
    if (rc) return mgmt_as(err, rc, &lerr);
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"role assigned\" assignment=%s role=%s scope=\"%s\" target=%s:%s "
              "principal=\"%s\"", req->id, a.id, a.role, a.scope, a.principal_type, a.principal_id,
              req->caller.principal);
    snprintf(loc, sizeof(loc), "/api/v1/roleAssignments/%s", a.id);
    berth_req_add_header(req, "Location", loc);
    return mgmt_reply(req, 201, assignment_json(&a, w.name), 0);
}

enum berth_rc api_mgmt_assignment_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct assignment_set set = {NULL, 0, 0};
    struct berth_meta_assignment a;
    char reg[BERTH_META_NAME_MAX + 1] = "";
    const char *id = req->param ? req->param : "";
    size_t i;
    int found = 0;
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    if (!berth_uuid_valid(id)) return berth_err_set(err, BERTH_ENOENT, "role assignment '%.64s' not found", id);
    rc = m->dir->assignment_list(m, NULL, collect_assignment, &set, err);
    if (rc) goto out;
    for (i = 0; i < set.n && !found; i++)
        if (!strcmp(set.v[i].id, id)) {
            a = set.v[i];
            found = 1;
        }
    if (!found) {
        rc = berth_err_set(err, BERTH_ENOENT, "role assignment '%s' not found", id);
        goto out;
    }
    if (scope_registry(a.scope, reg, sizeof(reg)) != 0) reg[0] = '\0';
    /* a body_checked row: the right is on the registry the stored assignment's scope names */
    rc = mgmt_need_row(req, reg[0] ? reg : NULL, err);
    if (rc) goto out;
    rc = keep_an_owner(m, a.id, NULL, err);
    if (rc) goto out;
    rc = m->dir->assignment_delete(m, a.id, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"role assignment removed\" assignment=%s role=%s scope=\"%s\" "
              "principal=\"%s\"", req->id, a.id, a.role, a.scope, req->caller.principal);
    rc = mgmt_reply_empty(req);
out:
    free(set.v);
    return rc;
}
