/*
 * api_oauth.c - the registry token service and the directory:
 *   GET  /oauth2/token       Docker token flow with Basic credentials (or none: anonymous)
 *   POST /oauth2/token       grant_type=password | refresh_token (form)
 *   POST /oauth2/exchange    grant_type=access_token: a directory token -> a registry refresh token
 *   POST /directory/<tenant>/oauth2/v2.0/token   password | client_credentials | refresh_token
 *   GET  /directory/<tenant>/v2.0/.well-known/openid-configuration, .../discovery/v2.0/keys
 *   POST /adfs/oauth2/token, GET /adfs/.well-known/openid-configuration, /adfs/discovery/keys:
 *        the same directory shaped as ADFS, the authority az's custom clouds can name
 * Every refusal carries a stable reason code (detail.reason).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "base64.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "access.h"
#include "http_int.h"
#include "banned.h"

#define FORM_MAX (64 * 1024)
#define MAX_SCOPES 64

struct form_state {
    struct berth_buf body;
};

static struct authz *az_of(struct berth_req *req)
{
    struct authz *az = req->http->az;
    if (!az || az->magic != BERTH_AUTHZ_MAGIC) abort();
    return az;
}

/* The fields the token endpoints read. Owned strings. */
struct token_args {
    char *grant_type, *service, *username, *password, *refresh_token, *access_token, *tenant, *client_id,
        *client_secret, *access_type, *offline_token;
    struct berth_scope *scopes;
    size_t nscopes;
    int bad_scope;
    struct berth_err scope_err;
};

static void set_once(char **slot, const char *v)
{
    if (*slot) return;
    *slot = berth_xstrdup(v);
}

static int take_field(const char *k, const char *v, void *p)
{
    struct token_args *a = p;
    if (!strcmp(k, "grant_type")) set_once(&a->grant_type, v);
    else if (!strcmp(k, "service")) set_once(&a->service, v);
    else if (!strcmp(k, "username")) set_once(&a->username, v);
    else if (!strcmp(k, "password")) set_once(&a->password, v);
    else if (!strcmp(k, "refresh_token")) set_once(&a->refresh_token, v);
    else if (!strcmp(k, "access_token")) set_once(&a->access_token, v);
    else if (!strcmp(k, "tenant")) set_once(&a->tenant, v);
    else if (!strcmp(k, "client_id")) set_once(&a->client_id, v);
    else if (!strcmp(k, "client_secret")) set_once(&a->client_secret, v);
    else if (!strcmp(k, "access_type")) set_once(&a->access_type, v);
    else if (!strcmp(k, "offline_token")) set_once(&a->offline_token, v);
    else if (!strcmp(k, "scope") && *v && !a->bad_scope) {
        if (berth_scope_list_parse(v, strlen(v), &a->scopes, &a->nscopes, &a->scope_err) != BERTH_OK)
            a->bad_scope = 1;
    }
    return 0;
}

static enum MHD_Result take_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    if (key) take_field(key, value ? value : "", cls);
    return MHD_YES;
}

static void args_release(struct token_args *a)
{
    char **all[] = {&a->grant_type, &a->service,   &a->username,      &a->password,    &a->refresh_token,
                    &a->access_token, &a->tenant, &a->client_id, &a->client_secret, &a->access_type,
                    &a->offline_token};
    size_t i;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (*all[i]) explicit_bzero(*all[i], strlen(*all[i]));
        free(*all[i]);
        *all[i] = NULL;
    }
    free(a->scopes);
    a->scopes = NULL;
}

/* ---------------------------------------------------------------- form bodies */

enum berth_rc api_form_begin(struct berth_req *req, struct berth_err *err)
{
    struct form_state *st;
    const char *ct = berth_req_header(req, "Content-Type");
    if (req->content_length > FORM_MAX)
        return berth_err_set(err, BERTH_ETOOBIG, "form body larger than %d bytes", FORM_MAX);
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "expected an application/x-www-form-urlencoded body");
    st = berth_xcalloc(1, sizeof(*st));
    berth_buf_init(&st->body, FORM_MAX);
    req->state = st;
    return BERTH_OK;
}

enum berth_rc api_form_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err)
{
    struct form_state *st = req->state;
    if (berth_buf_append(&st->body, data, len) != BERTH_OK)
        return berth_err_set(err, BERTH_ETOOBIG, "form body larger than %d bytes", FORM_MAX);
    return BERTH_OK;
}

void api_form_cleanup(struct berth_req *req, int aborted)
{
    struct form_state *st = req->state;
    (void)aborted;
    if (!st) return;
    if (st->body.p) explicit_bzero(st->body.p, st->body.len);
    berth_buf_release(&st->body);
    free(st);
    req->state = NULL;
}

/* ---------------------------------------------------------------- answers */

static enum berth_rc refusal(struct berth_req *req, enum berth_rc rc, enum berth_auth_reason reason,
                             const struct berth_err *err)
{
    req->caller.reason = reason;
    return req_respond_error(req, rc, berth_err_msg(err));
}

/*
 * A refusal of the ADFS face in OAuth 2.0's shape (RFC 6749, 5.2), which
 * MSAL reads: "error", and berth's message with the reason the caller may
 * know in "error_description". A bad credential is invalid_grant (400).
 */
static enum berth_rc oauth_refusal(struct berth_req *req, enum berth_rc rc, enum berth_auth_reason reason,
                                   const struct berth_err *err)
{
    int status = berth_rc_status(rc);
    const char *code = "invalid_request";
    char desc[600];

    req->caller.reason = reason;
    req->rc = rc;
    if (rc == BERTH_EUNAUTHORIZED) {
        code = "invalid_grant";
        status = 400;
    } else if (rc == BERTH_EUNSUPPORTED) {
        code = "unsupported_grant_type";
        status = 400;
    } else if (status >= 500) {
        code = "server_error";
    } else if (status == 429) {
        code = "temporarily_unavailable";
    }
    if (req->caller.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", req->caller.retry_after);
        berth_req_add_header(req, "Retry-After", ra);
    }
    snprintf(desc, sizeof(desc), "%s (reason: %s)", berth_err_msg(err),
             reason ? berth_auth_reason_name(berth_auth_reason_shown(reason)) : berth_rc_name(rc));
    return req_respond_json_doc(req, status, json_pack("{s:s,s:s}", "error", code, "error_description", desc));
}

static enum berth_rc answer_tokens(struct berth_req *req, const char *access, int64_t expires_in,
                                   const char *refresh)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    char now[32];

    berth_time_rfc3339(berth_now_s(), now, sizeof(now));
    berth_buf_putc(&b, '{');
    if (access) {
        berth_buf_printf(&b, "\"access_token\":\"%s\",\"token\":\"%s\",\"expires_in\":%lld,", access, access,
                         (long long)expires_in);
    }
    if (refresh) berth_buf_printf(&b, "\"refresh_token\":\"%s\",", refresh);
    berth_buf_printf(&b, "\"issued_at\":\"%s\"}", now);
    berth_req_add_header(req, "Cache-Control", "no-store");
    return req_respond_json(req, 200, &b, "application/json");
}

/* Checks that service (if given) names this registry. */
static enum berth_rc check_service(struct authz *az, struct berth_req *req, const struct berth_meta_registry *reg,
                                   const char *service, struct berth_err *err)
{
    char ls[160];
    const char *host = berth_req_header(req, "Host");
    if (!service || !*service) return BERTH_OK;
    authz_login_server(az, reg, ls, sizeof(ls));
    if (!strcasecmp(service, ls) || (host && !strcasecmp(service, host))) return BERTH_OK;
    return berth_err_set(err, BERTH_EUNAUTHORIZED, "service '%.200s' is not registry '%s' (%s)", service, reg->name,
                         ls);
}

/* What both token endpoints check first: the registry, the scopes and the service. */
static enum berth_rc token_request(struct authz *az, struct berth_req *req, const struct token_args *a,
                                   struct berth_meta_registry *reg, enum berth_auth_reason *reason,
                                   struct berth_err *err)
{
    enum berth_rc rc = authz_registry_of(az, &req->caller, reg, err);
    if (rc) {
        *reason = BERTH_AUTH_UNKNOWN_REGISTRY;
        return rc;
    }
    req->registry_id = reg->id;
    if (a->bad_scope) return berth_err_set(err, BERTH_EUNSUPPORTED, "invalid scope: %s", a->scope_err.msg);
    rc = check_service(az, req, reg, a->service, err);
    if (rc) *reason = BERTH_AUTH_WRONG_AUDIENCE;
    return rc;
}

/* Issues the access token (and a refresh token when asked) for p. */
static enum berth_rc issue_pair(struct berth_req *req, struct authz *az, const struct berth_meta_registry *reg,
                                const struct principal *p, const struct token_args *a, int want_refresh,
                                struct berth_err *err)
{
    struct berth_buf at = BERTH_BUF_INIT(0), rt = BERTH_BUF_INIT(0);
    int64_t exp = 0, rexp = 0;
    char jti[37];
    enum berth_rc rc;

    rc = authz_issue(az, reg, p, "access_token", a->scopes, a->nscopes, &at, &exp, jti, err);
    if (rc) goto out;
    authz_note_jti(&req->caller, jti);
    if (want_refresh && p->kind != PK_ANON) {
        rc = authz_issue(az, reg, p, "refresh_token", NULL, 0, &rt, &rexp, NULL, err);
        if (rc) goto out;
    }
    snprintf(req->caller.principal, sizeof(req->caller.principal), "%s", p->name[0] ? p->name : "anonymous");
    authz_note_principal(&req->caller, p);
    rc = answer_tokens(req, berth_buf_str(&at), exp, rt.len ? berth_buf_str(&rt) : NULL);
out:
    berth_buf_release(&at);
    berth_buf_release(&rt);
    return rc;
}

/* Basic credentials from the Authorization header: 1 found, 0 none, -1 malformed. */
static int basic_credentials(struct berth_req *req, char **user, char **pass)
{
    const char *auth = berth_req_header(req, "Authorization");
    *user = *pass = NULL;
    if (!auth || strncasecmp(auth, "Basic ", 6) != 0) return 0;
    return berth_basic_parse(auth + 6, user, pass, NULL) == BERTH_OK ? 1 : -1;
}

/*
 * The caller of a GET on the token service: the query's registry and scopes
 * into a and reg, then Basic credentials (any registry credential) or none
 * (anonymous, when the registry allows it) into p. A refusal is answered
 * here and sets *refused.
 */
static enum berth_rc get_caller(struct berth_req *req, struct authz *az, struct token_args *a,
                                struct berth_meta_registry *reg, struct principal *p, char **access_json,
                                int *refused, struct berth_err *err)
{
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    const char *auth = berth_req_header(req, "Authorization");
    char *user = NULL, *pass = NULL;
    int basic;
    enum berth_rc rc;

    memset(p, 0, sizeof(*p));
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, take_query, a);
    rc = token_request(az, req, a, reg, &reason, err);
    if (rc) goto refuse;
    if (access_json && auth && !strncasecmp(auth, "Bearer ", 7)) {
        /* an access token speaks for what its claim names, no more */
        rc = authz_token(az, reg, auth + 7, "access_token", p, access_json, &reason, err);
        if (rc) goto refuse;
        if (!*access_json) *access_json = berth_xstrdup("[]");
        authz_note_principal(&req->caller, p);
        goto out;
    }
    basic = basic_credentials(req, &user, &pass);
    if (basic < 0) {
        reason = BERTH_AUTH_MALFORMED_CREDENTIALS;
        rc = berth_err_set(err, BERTH_EUNAUTHORIZED, "malformed Basic credentials");
        goto refuse;
    }
    if (basic) {
        rc = authz_password(az, &req->caller, reg, user, pass, p, &reason, err);
        if (rc) goto refuse;
    } else {
        if (!reg->anonymous_pull) {
            reason = BERTH_AUTH_ANONYMOUS_DISABLED;
            rc = berth_err_set(err, BERTH_EUNAUTHORIZED,
                               "anonymous pull is disabled for registry '%s': log in with a credential", reg->name);
            goto refuse;
        }
        p->kind = PK_ANON;
    }
    goto out;
refuse:
    *refused = 1;
    rc = refusal(req, rc, reason, err);
out:
    if (pass) explicit_bzero(pass, strlen(pass));
    free(user);
    free(pass);
    return rc;
}

/* GET /oauth2/token */
enum berth_rc api_token_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct berth_meta_registry reg;
    struct token_args a;
    struct principal p;
    int refused = 0;
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    rc = get_caller(req, az, &a, &reg, &p, NULL, &refused, err);
    if (!rc && !refused) rc = issue_pair(req, az, &reg, &p, &a, a.offline_token && !strcmp(a.offline_token, "true"), err);
    args_release(&a);
    return rc;
}

/* ---------------------------------------------------------------- explain */

static json_t *action_names(unsigned bits)
{
    json_t *a = json_array();
    if (bits & BERTH_ACT_PULL) json_array_append_new(a, json_string("pull"));
    if (bits & BERTH_ACT_PUSH) json_array_append_new(a, json_string("push"));
    if (bits & BERTH_ACT_DELETE) json_array_append_new(a, json_string("delete"));
    return a;
}

/* The role that grants the missing actions (push includes pull). */
static const char *role_for(unsigned missing)
{
    if (missing & BERTH_ACT_PUSH) return (missing & BERTH_ACT_DELETE) ? "Contributor" : "AcrPush";
    if (missing & BERTH_ACT_DELETE) return (missing & BERTH_ACT_PULL) ? "Contributor" : "AcrDelete";
    return "AcrPull";
}

/* Scope-map actions ("content/read content/write") for the missing bits. */
static void map_actions(unsigned missing, char *out, size_t n)
{
    snprintf(out, n, "%s%s%s", missing & BERTH_ACT_PULL ? "content/read " : "",
             missing & BERTH_ACT_PUSH ? "content/write " : "", missing & BERTH_ACT_DELETE ? "content/delete " : "");
    if (*out) out[strlen(out) - 1] = '\0';
}

/* What the owner could run to grant p the missing actions on repo, and why it is missing. */
static json_t *explain_fix(const struct berth_meta_registry *reg, const struct principal *p, const char *repo,
                           unsigned missing, json_t *sources)
{
    char *text = NULL, *cmd = NULL, acts[64];
    const char *map = NULL;
    json_t *fix;

    map_actions(missing, acts, sizeof(acts));
    switch (p->kind) {
    case PK_USER:
    case PK_SP:
        text = berth_xasprintf("%s '%s' has no role that grants %s on repository '%s' of registry '%s'",
                               p->kind == PK_SP ? "service principal" : "user", p->name, acts, repo, reg->name);
        cmd = berth_xasprintf(
            "berth role assignment create --assignee %s --role %s --scope /registries/%s/repositories/%s", p->name,
            role_for(missing), reg->name, repo);
        break;
    case PK_TOKEN:
        if (json_array_size(sources)) map = json_string_value(json_object_get(json_array_get(sources, 0), "scopeMap"));
        if (!map) map = "";
        if (json_is_true(json_object_get(json_array_get(sources, 0), "system"))) {
            text = berth_xasprintf("token '%s' uses the system scope map '%s', which grants no %s on '%s'", p->name,
                                   map, acts, repo);
            cmd = berth_xasprintf("berth scope-map create -n %s --name %s-map --repository %s %s && berth token "
                                  "update -n %s --name %s --scope-map %s-map",
                                  reg->name, p->name, repo, acts, reg->name, p->name, p->name);
        } else {
            text = berth_xasprintf("scope map '%s' of token '%s' has no rule granting %s on '%s'", map, p->name,
                                   acts, repo);
            cmd = berth_xasprintf("berth scope-map update -n %s --name %s --add-repository %s %s", reg->name, map,
                                  repo, acts);
        }
        break;
    case PK_ANON:
        text = berth_xasprintf("anonymous clients may only pull%s; %s needs a login",
                               reg->anonymous_pull ? "" : " (and anonymous pull is off)", acts);
        cmd = berth_xasprintf("berth login -n %s", reg->name);
        break;
    default:
        break;
    }
    fix = json_pack("{s:s,s:s}", "cause", text ? text : "no access", "command", cmd ? cmd : "");
    free(text);
    free(cmd);
    return fix;
}

/*
 * GET /oauth2/explain?service=<login server>&scope=repository:<repo>:<actions>...
 * with the credentials GET /oauth2/token takes: what this caller may do on
 * each repository asked about, which of its own grants (role assignments,
 * scope-map rules, admin user, anonymous pull) give it, and for what is
 * missing the cause and the command an owner would run. Never names other
 * principals. Refusals are the token service's (same status and reason).
 */
enum berth_rc api_explain_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct berth_meta_registry reg;
    struct token_args a;
    struct principal p;
    char ls[160];
    json_t *doc = NULL, *access, *sources, *entry;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char *text = NULL, *claim = NULL;
    unsigned want, granted, missing, held = 0;
    size_t i;
    int refused = 0;
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    rc = get_caller(req, az, &a, &reg, &p, &claim, &refused, err);
    if (rc || refused) goto out;
    snprintf(req->caller.principal, sizeof(req->caller.principal), "%s", p.name[0] ? p.name : "anonymous");
    authz_note_principal(&req->caller, &p);
    authz_login_server(az, &reg, ls, sizeof(ls));
    access = json_array();
    for (i = 0; i < a.nscopes; i++) {
        const struct berth_scope *s = &a.scopes[i];
        struct berth_err nerr = BERTH_ERR_INIT;
        sources = json_array();
        if (!strcmp(s->type, "repository")) {
            if (berth_oci_name_check(s->name, strlen(s->name), &nerr) != BERTH_OK) {
                json_decref(sources);
                json_decref(access);
                rc = berth_err_set(err, BERTH_EREQUEST, "scope names an invalid repository '%.80s': %s", s->name,
                                   berth_err_msg(&nerr));
                goto out;
            }
            want = s->actions & (BERTH_ACT_PULL | BERTH_ACT_PUSH | BERTH_ACT_DELETE);
            granted = authz_explain(az, &reg, &p, s->name, sources) & (BERTH_ACT_PULL | BERTH_ACT_PUSH |
                                                                        BERTH_ACT_DELETE);
            if (claim) {
                held = granted;
                granted &= authz_claim_bits(claim, s->name);
            }
        } else {
            want = BERTH_ACT_PULL;
            granted = !strcmp(s->type, "registry") && !strcmp(s->name, "catalog") && authz_catalog(az, &reg, &p)
                          ? BERTH_ACT_PULL : 0;
            if (claim && !authz_claim_bits(claim, NULL)) granted = 0;
        }
        missing = want & ~granted;
        entry = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "type", s->type, "name", s->name, "requested",
                          action_names(want), "granted", action_names(granted & want), "missing",
                          action_names(missing), "sources", sources);
        if (missing && !strcmp(s->type, "repository") && claim && !(missing & ~held))
            json_object_set_new(entry, "fix", json_pack("{s:s,s:s}", "cause",
                                                        "the access token's claim does not name these actions",
                                                        "command", "ask /oauth2/token for a token with this scope"));
        else if (missing && !strcmp(s->type, "repository"))
            json_object_set_new(entry, "fix", explain_fix(&reg, &p, s->name, missing, sources));
        json_array_append_new(access, entry);
    }
    doc = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:o}", "registry", reg.name, "loginServer", ls, "identity", "type",
                    authz_kind_name(p.kind), "name", p.kind == PK_ANON ? "" : p.name, "id", p.id, "access", access);
    {
        /* what the caller may do to the registry itself through the management API (its roles on it) */
        unsigned m = p.kind == PK_USER || p.kind == PK_SP ? authz_mgmt_rights(az, &p, reg.name) : 0;
        json_object_set_new(doc, "management", json_pack("{s:b,s:b,s:b}", "read", (m & BERTH_MGMT_READ) != 0,
                                                         "change", (m & BERTH_MGMT_WRITE) != 0, "assign",
                                                         (m & BERTH_MGMT_ASSIGN) != 0));
    }
    text = json_dumps(doc, JSON_COMPACT);
    berth_buf_puts(&b, text ? text : "{}");
    berth_req_add_header(req, "Cache-Control", "no-store");
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    free(text);
    free(claim);
    json_decref(doc);
    berth_buf_release(&b);
    args_release(&a);
    return rc;
}

/* POST /oauth2/token */
enum berth_rc api_token_post_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct form_state *st = req->state;
    struct berth_meta_registry reg;
    struct token_args a;
    struct principal p;
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    berth_form_each(berth_buf_str(&st->body), take_field, &a);
    rc = token_request(az, req, &a, &reg, &reason, err);
    if (rc) goto refuse;
    if (a.grant_type && !strcmp(a.grant_type, "password")) {
        if (!a.username || !a.password) {
            rc = berth_err_set(err, BERTH_EUNSUPPORTED, "grant_type=password needs username and password");
            goto refuse;
        }
        rc = authz_password(az, &req->caller, &reg, a.username, a.password, &p, &reason, err);
        if (rc) goto refuse;
        rc = issue_pair(req, az, &reg, &p, &a, a.access_type && !strcmp(a.access_type, "offline"), err);
    } else if (a.grant_type && !strcmp(a.grant_type, "refresh_token")) {
        if (!a.refresh_token) {
            rc = berth_err_set(err, BERTH_EUNSUPPORTED, "grant_type=refresh_token needs refresh_token");
            goto refuse;
        }
        authz_note_login(&req->caller, "refresh_token", NULL, NULL);
        rc = authz_token(az, &reg, a.refresh_token, "refresh_token", &p, NULL, &reason, err);
        if (rc) goto refuse;
        rc = issue_pair(req, az, &reg, &p, &a, 0, err);
    } else {
        rc = berth_err_set(err, BERTH_EUNSUPPORTED, "grant_type must be password or refresh_token, not '%.40s'",
                           a.grant_type ? a.grant_type : "");
        goto refuse;
    }
    goto out;
refuse:
    rc = refusal(req, rc, reason, err);
out:
    args_release(&a);
    return rc;
}

/* ---------------------------------------------------------------- the directory */

/* Issues a directory token (access or refresh) for a user or service principal. */
static enum berth_rc directory_issue(struct authz *az, const struct principal *p, const char *grant_type,
                                     struct berth_buf *out, char *jti_out, struct berth_err *err)
{
    json_t *c = json_object(), *cred = json_object();
    char iss[80], jti[37], *text = NULL;
    int64_t now = berth_now_s();
    enum berth_rc rc;

    authz_directory_issuer(az, iss, sizeof(iss));
    berth_uuid(jti);
    if (jti_out) snprintf(jti_out, 37, "%s", jti);
    json_object_set_new(c, "iss", json_string(iss));
    json_object_set_new(c, "aud", json_string(BERTH_DIRECTORY_AUDIENCE));
    json_object_set_new(c, "sub", json_string(p->id));
    json_object_set_new(c, "name", json_string(p->name));
    json_object_set_new(c, "tid", json_string(az->tenant));
    json_object_set_new(c, "iat", json_integer(now));
    json_object_set_new(c, "nbf", json_integer(now));
    json_object_set_new(c, "exp", json_integer(now + BERTH_CFG_LIVE(az->cfg, directory_ttl)));
    json_object_set_new(c, "jti", json_string(jti));
    json_object_set_new(c, "grant_type", json_string(grant_type));
    json_object_set_new(cred, "k", json_string(p->kind == PK_SP ? "sp" : "user"));
    json_object_set_new(cred, "id", json_string(p->id));
    json_object_set_new(cred, "p", json_integer(0));
    json_object_set_new(cred, "s", json_integer(p->stamp));
    if (p->secret_id[0]) json_object_set_new(cred, "x", json_string(p->secret_id));
    json_object_set_new(c, "berth", cred);
    text = json_dumps(c, JSON_COMPACT);
    rc = text ? authz_sign(az, text, strlen(text), out, err)
              : berth_err_set(err, BERTH_EINTERNAL, "cannot encode token claims");
    if (!rc) authz_count_token(az, grant_type);
    free(text);
    json_decref(c);
    return rc;
}

/* GET .../v2.0/.well-known/openid-configuration */
enum berth_rc api_oidc_config_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct berth_buf b = BERTH_BUF_INIT(0);
    char base[500], root[400], iss[80];

    if (strcmp(req->param ? req->param : "", az->tenant) != 0)
        return berth_err_set(err, BERTH_ENOROUTE, "unknown tenant '%.40s'", req->param ? req->param : "");
    authz_directory_issuer(az, iss, sizeof(iss));
    authz_public_base(az, &req->caller, root, sizeof(root));
    snprintf(base, sizeof(base), "%s/directory/%s", root, az->tenant);
    berth_buf_printf(&b,
                     "{\"issuer\":\"%s\",\"token_endpoint\":\"%s/oauth2/v2.0/token\",\"jwks_uri\":\"%s/discovery/v2.0/"
                     "keys\",\"grant_types_supported\":[\"password\",\"client_credentials\",\"refresh_token\"],"
                     "\"id_token_signing_alg_values_supported\":[\"ES256\"],\"tenant_id\":\"%s\"}",
                     iss, base, base, az->tenant);
    return req_respond_json(req, 200, &b, "application/json");
}

/* GET .../discovery/v2.0/keys */
enum berth_rc api_jwks_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct berth_buf b = BERTH_BUF_INIT(0);
    if (strcmp(req->param ? req->param : "", az->tenant) != 0)
        return berth_err_set(err, BERTH_ENOROUTE, "unknown tenant '%.40s'", req->param ? req->param : "");
    authz_jwks(az, &b);
    return req_respond_json(req, 200, &b, "application/json");
}

/* "https://<host>/adfs": the issuer and base of the ADFS-shaped face (az's custom clouds). */
static void adfs_base(struct authz *az, struct berth_req *req, char *out, size_t n)
{
    char root[400];
    authz_public_base(az, &req->caller, root, sizeof(root));
    snprintf(out, n, "%s/adfs", root);
}

/*
 * An OpenID Connect id_token for client_id (az's application id), as ADFS
 * issues them: upn names the principal. MSAL reads it to name the account
 * it caches; the access token beside it is what the server checks.
 */
static enum berth_rc adfs_id_token(struct authz *az, struct berth_req *req, const struct principal *p,
                                   const char *client_id, struct berth_buf *out, struct berth_err *err)
{
    char iss[420];
    int64_t now = berth_now_s();
    json_t *c;
    char *text;
    enum berth_rc rc;

    adfs_base(az, req, iss, sizeof(iss));
    c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "iss", iss, "aud", client_id, "sub", p->id, "upn", p->name,
                  "unique_name", p->name, "tid", az->tenant, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                  (json_int_t)(now + BERTH_CFG_LIVE(az->cfg, directory_ttl)));
    text = c ? json_dumps(c, JSON_COMPACT) : NULL;
    rc = text ? authz_sign(az, text, strlen(text), out, err)
              : berth_err_set(err, BERTH_EINTERNAL, "cannot encode token claims");
    free(text);
    json_decref(c);
    return rc;
}

/*
 * The directory's token endpoint, under /directory/<tenant> or (adfs) /adfs:
 * a directory access token for a password, a service principal's secret or
 * a directory refresh token, with a refresh token for the first and last;
 * the ADFS face adds an id_token for the client that asked.
 */
static enum berth_rc directory_token(struct berth_req *req, int adfs, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct form_state *st = req->state;
    struct berth_buf at = BERTH_BUF_INIT(0), rt = BERTH_BUF_INIT(0), it = BERTH_BUF_INIT(0), b = BERTH_BUF_INIT(0);
    struct token_args a;
    struct principal p;
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    char jti[37];
    int want_refresh = 0;
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    memset(&p, 0, sizeof(p));
    if (!adfs && strcmp(req->param ? req->param : "", az->tenant) != 0) {
        rc = berth_err_set(err, BERTH_ENOROUTE, "unknown tenant '%.40s'", req->param ? req->param : "");
        goto out;
    }
    berth_form_each(berth_buf_str(&st->body), take_field, &a);
    if (a.grant_type && !strcmp(a.grant_type, "password") && a.username && a.password) {
        rc = authz_password(az, &req->caller, NULL, a.username, a.password, &p, &reason, err);
        want_refresh = 1;
    } else if (a.grant_type && !strcmp(a.grant_type, "client_credentials") && a.client_id && a.client_secret) {
        rc = authz_password(az, &req->caller, NULL, a.client_id, a.client_secret, &p, &reason, err);
    } else if (a.grant_type && !strcmp(a.grant_type, "refresh_token") && a.refresh_token) {
        authz_note_login(&req->caller, "refresh_token", NULL, NULL);
        rc = authz_directory_token(az, a.refresh_token, "directory_refresh", &p, &reason, err);
        want_refresh = 1;
    } else {
        rc = berth_err_set(err, BERTH_EUNSUPPORTED,
                           "grant_type must be password (username, password), client_credentials (client_id, "
                           "client_secret) or refresh_token");
        goto refuse;
    }
    if (rc) goto refuse;
    if (p.kind != PK_USER && p.kind != PK_SP) {
        reason = BERTH_AUTH_UNKNOWN_PRINCIPAL;
        rc = berth_err_set(err, BERTH_EUNAUTHORIZED, "invalid username or password");
        goto refuse;
    }
    rc = directory_issue(az, &p, "directory_access", &at, jti, err);
    if (rc) goto out;
    authz_note_jti(&req->caller, jti);
    if (want_refresh) {
        rc = directory_issue(az, &p, "directory_refresh", &rt, NULL, err);
        if (rc) goto out;
    }
    /* an application id (az's is a GUID); anything longer is named in no id_token */
    if (adfs && want_refresh && a.client_id && *a.client_id && strlen(a.client_id) <= 128) {
        rc = adfs_id_token(az, req, &p, a.client_id, &it, err);
        if (rc) goto out;
    }
    snprintf(req->caller.principal, sizeof(req->caller.principal), "%s", p.name);
    authz_note_principal(&req->caller, &p);
    berth_buf_printf(&b, "{\"token_type\":\"Bearer\",\"access_token\":\"%s\",\"expires_in\":%lld", berth_buf_str(&at),
                     (long long)BERTH_CFG_LIVE(az->cfg, directory_ttl));
    if (rt.len) berth_buf_printf(&b, ",\"refresh_token\":\"%s\"", berth_buf_str(&rt));
    if (it.len) berth_buf_printf(&b, ",\"id_token\":\"%s\"", berth_buf_str(&it));
    berth_buf_puts(&b, "}");
    berth_req_add_header(req, "Cache-Control", "no-store");
    rc = req_respond_json(req, 200, &b, "application/json");
    goto out;
refuse:
    rc = adfs ? oauth_refusal(req, rc, reason, err) : refusal(req, rc, reason, err);
out:
    berth_buf_release(&at);
    berth_buf_release(&rt);
    berth_buf_release(&it);
    berth_buf_release(&b);
    args_release(&a);
    return rc;
}

/* POST /directory/<tenant>/oauth2/v2.0/token */
enum berth_rc api_directory_token_finish(struct berth_req *req, struct berth_err *err)
{
    return directory_token(req, 0, err);
}

/* POST /adfs/oauth2/token */
enum berth_rc api_adfs_token_finish(struct berth_req *req, struct berth_err *err)
{
    return directory_token(req, 1, err);
}

/* GET /adfs/.well-known/openid-configuration: what MSAL reads of an ADFS authority. */
enum berth_rc api_adfs_config_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    char base[420];
    json_t *o;

    (void)err;
    adfs_base(az, req, base, sizeof(base));
    o = json_pack("{s:s,s:s+,s:s+,s:s+,s:[sss],s:[s],s:[s],s:s}", "issuer", base, "authorization_endpoint", base,
                  "/oauth2/authorize", "token_endpoint", base, "/oauth2/token", "jwks_uri", base, "/discovery/keys",
                  "grant_types_supported", "password", "client_credentials", "refresh_token",
                  "id_token_signing_alg_values_supported", "ES256", "response_types_supported", "token",
                  "tenant_id", az->tenant);
    return req_respond_json_doc(req, 200, o);
}

/* GET /adfs/discovery/keys */
enum berth_rc api_adfs_keys_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    (void)err;
    authz_jwks(az_of(req), &b);
    return req_respond_json(req, 200, &b, "application/json");
}

/* POST /oauth2/exchange */
enum berth_rc api_exchange_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = az_of(req);
    struct form_state *st = req->state;
    struct berth_meta_registry reg;
    struct berth_buf rt = BERTH_BUF_INIT(0), b = BERTH_BUF_INIT(0);
    struct token_args a;
    struct principal p;
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    int64_t exp = 0;
    char jti[37];
    enum berth_rc rc;

    memset(&a, 0, sizeof(a));
    berth_form_each(berth_buf_str(&st->body), take_field, &a);
    rc = authz_registry_of(az, &req->caller, &reg, err);
    if (rc) {
        reason = BERTH_AUTH_UNKNOWN_REGISTRY;
        goto refuse;
    }
    req->registry_id = reg.id;
    if (!a.grant_type || strcmp(a.grant_type, "access_token") != 0 || !a.access_token) {
        rc = berth_err_set(err, BERTH_EUNSUPPORTED, "grant_type=access_token with access_token is required");
        goto refuse;
    }
    if (a.tenant && *a.tenant && strcmp(a.tenant, az->tenant) != 0) {
        reason = BERTH_AUTH_WRONG_ISSUER;
        rc = berth_err_set(err, BERTH_EUNAUTHORIZED, "tenant '%.40s' is not this server's tenant %s", a.tenant,
                           az->tenant);
        goto refuse;
    }
    rc = check_service(az, req, &reg, a.service, err);
    if (rc) {
        reason = BERTH_AUTH_WRONG_AUDIENCE;
        goto refuse;
    }
    rc = authz_directory_token(az, a.access_token, "directory_access", &p, &reason, err);
    if (rc) goto refuse;
    rc = authz_issue(az, &reg, &p, "refresh_token", NULL, 0, &rt, &exp, jti, err);
    if (rc) goto out;
    authz_note_jti(&req->caller, jti);
    snprintf(req->caller.principal, sizeof(req->caller.principal), "%s", p.name);
    authz_note_principal(&req->caller, &p);
    berth_buf_printf(&b, "{\"refresh_token\":\"%s\"}", berth_buf_str(&rt));
    berth_req_add_header(req, "Cache-Control", "no-store");
    rc = req_respond_json(req, 200, &b, "application/json");
    goto out;
refuse:
    rc = refusal(req, rc, reason, err);
out:
    berth_buf_release(&rt);
    berth_buf_release(&b);
    args_release(&a);
    return rc;
}
