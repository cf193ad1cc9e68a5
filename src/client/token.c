/*
 * token.c - the client's token flows: a directory access token from the
 * session (refresh_token or client_credentials grant) or from -u/-p, the
 * tenant, and registry refresh and access tokens by way of /oauth2/exchange
 * and /oauth2/token, the way `az acr login` gets them.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "base64.h"
#include "util.h"
#include "client.h"
#include "banned.h"

int64_t berth_client_jwt_exp(const char *jwt)
{
    struct berth_buf b = BERTH_BUF_INIT(1 << 16);
    struct berth_err err = BERTH_ERR_INIT;
    const char *d1 = jwt ? strchr(jwt, '.') : NULL, *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *claims = NULL;
    int64_t exp = 0;

    if (!d2) return 0;
    if (berth_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &b, &err) == BERTH_OK)
        claims = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    if (json_is_integer(json_object_get(claims, "exp"))) exp = (int64_t)json_integer_value(json_object_get(claims, "exp"));
    json_decref(claims);
    berth_buf_release(&b);
    return exp;
}

/* The session of this run's server, if there is one (BERTH_ENOENT otherwise). */
static enum berth_rc run_session(struct berth_client *cl, json_t **root, char **path, struct berth_client_session *s,
                                 struct berth_err *err)
{
    const char *url;
    enum berth_rc rc = berth_client_server_url(cl, &url, err);

    memset(s, 0, sizeof(*s));
    *root = NULL;
    *path = NULL;
    if (rc) return rc;
    *path = berth_client_session_path();
    rc = berth_client_session_load(*path, root, err);
    if (rc) return rc;
    return berth_client_session_get(*root, url, s, err);
}

enum berth_rc berth_client_tenant(struct berth_client *cl, const char **tenant, struct berth_err *err)
{
    struct berth_client_session s;
    json_t *root = NULL, *ans = NULL;
    char *path = NULL;
    enum berth_rc rc = BERTH_OK;

    memset(&s, 0, sizeof(s));
    if (cl->tenant) goto done;
    if (!cl->user && run_session(cl, &root, &path, &s, err) == BERTH_OK && s.tenant) {
        cl->tenant = berth_xstrdup(s.tenant);
        berth_client_session_release(&s);
        goto done;
    }
    berth_client_session_release(&s);
    berth_err_clear(err);
    rc = berth_client_api(cl, "GET", "/tenant", NULL, &ans, err);
    if (rc) goto out;
    if (!json_string_value(json_object_get(ans, "tenantId"))) {
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "GET /api/v1/tenant: the answer has no tenantId");
        goto out;
    }
    cl->tenant = berth_xstrdup(json_string_value(json_object_get(ans, "tenantId")));
done:
    *tenant = cl->tenant;
out:
    json_decref(ans);
    json_decref(root);
    free(path);
    return rc;
}

/* POSTs form to the directory's token endpoint; *ans gets the JSON answer. */
static enum berth_rc directory_grant(struct berth_client *cl, const char *tenant, const char *form, json_t **ans,
                                     struct berth_err *err)
{
    char *p = berth_xasprintf("/directory/%s/oauth2/v2.0/token", tenant);
    enum berth_rc rc = berth_client_post_form(cl, p, NULL, NULL, form, ans, err);
    if (!rc && !json_string_value(json_object_get(*ans, "access_token")))
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "POST %s: the answer has no access_token", p);
    free(p);
    return rc;
}

enum berth_rc berth_client_directory_login(struct berth_client *cl, const char *tenant, const char *name,
                                           const char *secret, json_t **ans, struct berth_err *err)
{
    struct berth_buf form = BERTH_BUF_INIT(0);
    enum berth_rc rc;

    if (berth_uuid_valid(name)) {
        berth_client_form_add(&form, "grant_type", "client_credentials");
        berth_client_form_add(&form, "client_id", name);
        berth_client_form_add(&form, "client_secret", secret);
    } else {
        berth_client_form_add(&form, "grant_type", "password");
        berth_client_form_add(&form, "username", name);
        berth_client_form_add(&form, "password", secret);
    }
    rc = directory_grant(cl, tenant, berth_buf_str(&form), ans, err);
    memset(form.p, 0, form.len);
    berth_buf_release(&form);
    return rc;
}

enum berth_rc berth_client_directory_token(struct berth_client *cl, char **token, struct berth_err *err)
{
    struct berth_buf form = BERTH_BUF_INIT(0);
    struct berth_client_session s;
    json_t *root = NULL, *ans = NULL;
    char *path = NULL;
    const char *pw = NULL, *tenant = NULL, *rt;
    enum berth_rc rc = BERTH_OK;

    memset(&s, 0, sizeof(s));
    if (cl->dir_token) goto done;
    if (cl->user) {
        rc = berth_client_password(cl, &pw, err);
        if (!rc && !pw)
            rc = berth_err_set(err, BERTH_EINVAL, "-u %s needs a password: pass -p PASS or --password-stdin",
                               cl->user);
        if (!rc) rc = berth_client_tenant(cl, &tenant, err);
        if (!rc) rc = berth_client_directory_login(cl, tenant, cl->user, pw, &ans, err);
        if (rc) goto out;
        cl->dir_token = berth_xstrdup(json_string_value(json_object_get(ans, "access_token")));
        goto done;
    }
    rc = run_session(cl, &root, &path, &s, err);
    if (rc) goto out;
    if (s.kind && !strcmp(s.kind, "sp") && s.secret) {
        berth_client_form_add(&form, "grant_type", "client_credentials");
        berth_client_form_add(&form, "client_id", s.name);
        berth_client_form_add(&form, "client_secret", s.secret);
    } else if (s.refresh_token) {
        berth_client_form_add(&form, "grant_type", "refresh_token");
        berth_client_form_add(&form, "refresh_token", s.refresh_token);
    } else {
        rc = berth_err_set(err, BERTH_EINVAL, "the session for %s holds no credential: run 'berth auth login --server "
                                              "%s' again", s.server, s.server);
        goto out;
    }
    rc = directory_grant(cl, s.tenant ? s.tenant : "", berth_buf_str(&form), &ans, err);
    if (rc == BERTH_EUNAUTHORIZED) {
        struct berth_err why = *err;
        rc = berth_err_set(err, rc, "%s; the session for %s no longer works: run 'berth auth login --server %s' again",
                           berth_err_msg(&why), s.server, s.server);
    }
    if (rc) goto out;
    cl->dir_token = berth_xstrdup(json_string_value(json_object_get(ans, "access_token")));
    rt = json_string_value(json_object_get(ans, "refresh_token"));
    if (rt && s.refresh_token && strcmp(rt, s.refresh_token) != 0) {
        free(s.refresh_token);
        s.refresh_token = berth_xstrdup(rt);
        berth_client_session_put(root, &s, 0);
        rc = berth_client_session_save(path, root, err);
        if (rc) goto out;
    }
done:
    *token = berth_xstrdup(cl->dir_token);
out:
    if (form.p) memset(form.p, 0, form.len);
    berth_buf_release(&form);
    berth_client_session_release(&s);
    json_decref(ans);
    json_decref(root);
    free(path);
    return rc;
}

/*
 * The login server ("host:port") of registry: the server's own host:port
 * stays as it is (the default registry), another login server gets the
 * server's port when it has none, a resource name is looked up.
 */
/*
 * A login server this server can answer for: its own host:port (the default
 * registry) or a registry's name on the same port. An IP address other than
 * the server's, or another port, is another server.
 */
static enum berth_rc served_here(const char *ls, const char *srv_hp, const char *url, struct berth_err *err)
{
    const char *lp = strrchr(ls, ':'), *sp = strrchr(srv_hp, ':');
    size_t hl = lp ? (size_t)(lp - ls) : strlen(ls);
    int ip = hl && (ls[0] == '[' || strspn(ls, "0123456789.") == hl);

    if (!strcasecmp(ls, srv_hp)) return BERTH_OK;
    if ((lp && sp && strcmp(lp, sp) != 0) || ip)
        return berth_err_set(err, BERTH_EINVAL,
                             "'%s' is not a login server of %s: use its own address '%s' (the default registry) "
                             "or a registry's login server (see 'berth registry list'), or pass --server",
                             ls, url, srv_hp);
    return BERTH_OK;
}

static enum berth_rc login_server_of(struct berth_client *cl, const char *registry, char **out, struct berth_err *err)
{
    char srv_hp[300], scheme[16], *path = NULL;
    const char *url, *ls, *port;
    json_t *reg = NULL;
    enum berth_rc rc = berth_client_server_url(cl, &url, err);

    if (rc) return rc;
    berth_client_url_hostport(url, srv_hp, sizeof(srv_hp), scheme, sizeof(scheme));
    port = strrchr(srv_hp, ':') + 1;
    if (strchr(registry, '.') || strchr(registry, ':')) {
        rc = berth_client_check_registry_arg("the registry", registry, BERTH_CLIENT_WANT_LOGIN_SERVER, err);
        if (rc) goto out;
        ls = registry;
    } else {
        rc = berth_client_check_registry_arg("the registry", registry, BERTH_CLIENT_WANT_RESOURCE, err);
        if (rc) goto out;
        path = berth_xasprintf("/registries/%s", registry);
        rc = berth_client_api(cl, "GET", path, NULL, &reg, err);
        if (rc) goto out;
        ls = json_string_value(json_object_get(reg, "loginServer"));
        if (!ls) {
            rc = berth_err_set(err, BERTH_EUNAVAILABLE, "GET /api/v1%s: the answer has no loginServer", path);
            goto out;
        }
    }
    /* "[v6]" or a host name: a port follows the last ':' outside brackets */
    if (strrchr(ls, ':') && strrchr(ls, ':') > (strrchr(ls, ']') ? strrchr(ls, ']') : ls)) *out = berth_xstrdup(ls);
    else *out = berth_xasprintf("%s:%s", ls, port);
    rc = served_here(*out, srv_hp, url, err);
    if (rc) {
        free(*out);
        *out = NULL;
    }
out:
    json_decref(reg);
    free(path);
    return rc;
}

/*
 * POSTs the form of the pairs kv (key, value, ..., NULL) to path at login
 * server ls and returns the member of the answer in *token (malloc'd) with
 * its JWT exp in *expires_at (may be NULL).
 */
static enum berth_rc registry_grant(struct berth_client *cl, const char *path, const char *ls, const char *const *kv,
                                    const char *member, char **token, int64_t *expires_at, struct berth_err *err)
{
    struct berth_buf form = BERTH_BUF_INIT(0);
    json_t *ans = NULL;
    const char *v;
    enum berth_rc rc;

    for (; kv[0]; kv += 2) berth_client_form_add(&form, kv[0], kv[1]);
    rc = berth_client_post_form(cl, path, ls, NULL, berth_buf_str(&form), &ans, err);
    if (rc) goto out;
    v = json_string_value(json_object_get(ans, member));
    if (!v) {
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "POST %s: the answer has no %s", path, member);
        goto out;
    }
    *token = berth_xstrdup(v);
    if (expires_at) *expires_at = berth_client_jwt_exp(v);
out:
    if (form.p) memset(form.p, 0, form.len);
    berth_buf_release(&form);
    json_decref(ans);
    return rc;
}

enum berth_rc berth_client_registry_refresh_token(struct berth_client *cl, const char *registry, char **token,
                                                  int64_t *expires_at, char **login_server, struct berth_err *err)
{
    char *ls = NULL, *dir = NULL;
    const char *tenant = NULL;
    enum berth_rc rc;

    *token = NULL;
    rc = login_server_of(cl, registry, &ls, err);
    if (!rc) rc = berth_client_directory_token(cl, &dir, err);
    if (!rc) rc = berth_client_tenant(cl, &tenant, err);
    if (!rc) {
        const char *kv[] = {"grant_type", "access_token", "service", ls, "tenant", tenant, "access_token", dir, NULL};
        rc = registry_grant(cl, "/oauth2/exchange", ls, kv, "refresh_token", token, expires_at, err);
    }
    if (!rc && login_server) {
        *login_server = ls;
        ls = NULL;
    }
    free(ls);
    free(dir);
    return rc;
}

enum berth_rc berth_client_registry_access_token(struct berth_client *cl, const char *registry, const char *scope,
                                                 char **token, int64_t *expires_at, char **login_server,
                                                 struct berth_err *err)
{
    char *rt = NULL, *ls = NULL;
    enum berth_rc rc;

    *token = NULL;
    rc = berth_client_registry_refresh_token(cl, registry, &rt, NULL, &ls, err);
    if (!rc) {
        const char *kv[] = {"grant_type", "refresh_token", "service", ls, "scope", scope, "refresh_token", rt, NULL};
        rc = registry_grant(cl, "/oauth2/token", ls, kv, "access_token", token, expires_at, err);
    }
    if (!rc && login_server) {
        *login_server = ls;
        ls = NULL;
    }
    if (rt) memset(rt, 0, strlen(rt));
    free(rt);
    free(ls);
    return rc;
}
