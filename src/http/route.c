/*
 * route.c - the route table: method, path pattern, the access each route
 * needs and its handler steps; and the matcher. A pattern has at most one
 * {name} (one or more path segments, matched between the literal prefix and
 * suffix) and single-segment {params}.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "http_int.h"
#include "banned.h"

#define ACC_REPO BERTH_ACCESS_REPOSITORY

static const struct route routes[] = {
    {M_GET | M_HEAD, "/v2/", NULL, BERTH_ACCESS_BASE, NULL, NULL, api_base_finish, NULL, "base"},
    {M_GET | M_HEAD, "/v2", NULL, BERTH_ACCESS_BASE, NULL, NULL, api_base_finish, NULL, "base"},
    {M_GET, "/v2/_catalog", "*", BERTH_ACCESS_CATALOG, NULL, NULL, api_catalog_finish, NULL, "catalog"},
    {M_GET, "/v2/{name}/tags/list", "pull", ACC_REPO, NULL, NULL, api_tags_finish, NULL, "tags"},
    {M_GET | M_HEAD, "/v2/{name}/manifests/{ref}", "pull", ACC_REPO, NULL, NULL, api_manifest_get_finish, NULL,
     "manifest_get"},
    {M_PUT, "/v2/{name}/manifests/{ref}", "push", ACC_REPO, api_manifest_put_begin, api_manifest_put_body,
     api_manifest_put_finish, api_manifest_put_cleanup, "manifest_put"},
    {M_DELETE, "/v2/{name}/manifests/{ref}", "delete", ACC_REPO, NULL, NULL, api_manifest_delete_finish, NULL,
     "manifest_delete"},
    {M_POST, "/v2/{name}/blobs/uploads/", "pull,push", ACC_REPO, api_upload_post_begin, api_upload_chunk_body,
     api_upload_post_finish, api_upload_cleanup, "upload_post"},
    {M_POST, "/v2/{name}/blobs/uploads", "pull,push", ACC_REPO, api_upload_post_begin, api_upload_chunk_body,
     api_upload_post_finish, api_upload_cleanup, "upload_post"},
    {M_GET, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, NULL, NULL, api_upload_status_finish, NULL,
     "upload_status"},
    {M_PATCH, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, api_upload_chunk_begin, api_upload_chunk_body,
     api_upload_patch_finish, api_upload_cleanup, "upload_patch"},
    {M_PUT, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, api_upload_chunk_begin, api_upload_chunk_body,
     api_upload_put_finish, api_upload_cleanup, "upload_put"},
    {M_DELETE, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, NULL, NULL, api_upload_delete_finish, NULL,
     "upload_delete"},
    {M_GET | M_HEAD, "/v2/{name}/blobs/{digest}", "pull", ACC_REPO, NULL, NULL, api_blob_finish, NULL,
     "blob_get"},
    {M_DELETE, "/v2/{name}/blobs/{digest}", "delete", ACC_REPO, NULL, NULL, api_blob_delete_finish, NULL,
     "blob_delete"},
    {M_GET, "/v2/{name}/referrers/{digest}", "pull", ACC_REPO, NULL, NULL, api_referrers_finish, NULL,
     "referrers"},
    /* ACR's repository delete (`az acr repository delete`): every manifest and tag of the repository */
    {M_DELETE, "/acr/v1/{name}", "delete", ACC_REPO, NULL, NULL, api_repository_delete_finish, NULL,
     "repository_delete"},
    /* the token service and the directory check credentials themselves */
    {M_GET, "/oauth2/token", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_token_get_finish, NULL, "token_get"},
    {M_GET, "/oauth2/explain", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_explain_finish, NULL, "explain"},
    {M_POST, "/oauth2/token", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body, api_token_post_finish,
     api_form_cleanup, "token_post"},
    {M_POST, "/oauth2/exchange", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body, api_exchange_finish,
     api_form_cleanup, "exchange"},
    {M_POST, "/directory/{tenant}/oauth2/v2.0/token", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body,
     api_directory_token_finish, api_form_cleanup, "directory_token"},
    {M_GET, "/directory/{tenant}/v2.0/.well-known/openid-configuration", NULL, BERTH_ACCESS_NONE, NULL, NULL,
     api_oidc_config_finish, NULL, "oidc_config"},
    {M_GET, "/directory/{tenant}/discovery/v2.0/keys", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_jwks_finish, NULL,
     "jwks"},
    /* the management API authenticates its callers itself (api_mgmt.c) */
    {M_GET, "/api/v1/tenant", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_tenant_finish, api_mgmt_cleanup,
     "mgmt_tenant"},
    {M_GET, "/api/v1/registries", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_registry_list_finish,
     api_mgmt_cleanup, "mgmt_registry_list"},
    {M_POST, "/api/v1/registries", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_registry_create_finish, api_mgmt_cleanup, "mgmt_registry_create"},
    {M_GET, "/api/v1/registries/{registry}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_registry_get_finish, api_mgmt_cleanup, "mgmt_registry_get"},
    {M_PATCH, "/api/v1/registries/{registry}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_registry_patch_finish, api_mgmt_cleanup, "mgmt_registry_patch"},
    {M_DELETE, "/api/v1/registries/{registry}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_registry_delete_finish, api_mgmt_cleanup, "mgmt_registry_delete"},
    {M_GET, "/api/v1/registries/{registry}/credentials", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_credentials_get_finish, api_mgmt_cleanup, "mgmt_credentials_get"},
    {M_POST, "/api/v1/registries/{registry}/credentials/regenerate", NULL, BERTH_ACCESS_NONE, api_mgmt_begin,
     api_mgmt_body, api_mgmt_credentials_regenerate_finish, api_mgmt_cleanup, "mgmt_credentials_regenerate"},
    {M_GET, "/api/v1/registries/{registry}/scopeMaps", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_scopemap_list_finish, api_mgmt_cleanup, "mgmt_scopemap_list"},
    {M_POST, "/api/v1/registries/{registry}/scopeMaps", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_scopemap_create_finish, api_mgmt_cleanup, "mgmt_scopemap_create"},
    {M_GET, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_scopemap_get_finish, api_mgmt_cleanup, "mgmt_scopemap_get"},
    {M_PATCH, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin,
     api_mgmt_body, api_mgmt_scopemap_patch_finish, api_mgmt_cleanup, "mgmt_scopemap_patch"},
    {M_DELETE, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_scopemap_delete_finish, api_mgmt_cleanup, "mgmt_scopemap_delete"},
    {M_GET, "/api/v1/registries/{registry}/tokens", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_token_list_finish, api_mgmt_cleanup, "mgmt_token_list"},
    {M_POST, "/api/v1/registries/{registry}/tokens", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_token_create_finish, api_mgmt_cleanup, "mgmt_token_create"},
    {M_GET, "/api/v1/registries/{registry}/tokens/{token}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_token_get_finish, api_mgmt_cleanup, "mgmt_token_get"},
    {M_PATCH, "/api/v1/registries/{registry}/tokens/{token}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_token_patch_finish, api_mgmt_cleanup, "mgmt_token_patch"},
    {M_DELETE, "/api/v1/registries/{registry}/tokens/{token}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_token_delete_finish, api_mgmt_cleanup, "mgmt_token_delete"},
    {M_POST, "/api/v1/registries/{registry}/tokens/{token}/generateCredentials", NULL, BERTH_ACCESS_NONE,
     api_mgmt_begin, api_mgmt_body, api_mgmt_token_generate_finish, api_mgmt_cleanup, "mgmt_token_generate"},
    {M_GET, "/api/v1/users", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_user_list_finish,
     api_mgmt_cleanup, "mgmt_user_list"},
    {M_POST, "/api/v1/users", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body, api_mgmt_user_create_finish,
     api_mgmt_cleanup, "mgmt_user_create"},
    {M_GET, "/api/v1/users/{user}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_user_get_finish,
     api_mgmt_cleanup, "mgmt_user_get"},
    {M_DELETE, "/api/v1/users/{user}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_user_delete_finish,
     api_mgmt_cleanup, "mgmt_user_delete"},
    {M_POST, "/api/v1/users/{user}/password", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_user_password_finish, api_mgmt_cleanup, "mgmt_user_password"},
    {M_GET, "/api/v1/servicePrincipals", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_sp_list_finish,
     api_mgmt_cleanup, "mgmt_sp_list"},
    {M_POST, "/api/v1/servicePrincipals", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_sp_create_finish, api_mgmt_cleanup, "mgmt_sp_create"},
    {M_GET, "/api/v1/servicePrincipals/{appId}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_sp_get_finish, api_mgmt_cleanup, "mgmt_sp_get"},
    {M_DELETE, "/api/v1/servicePrincipals/{appId}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_sp_delete_finish, api_mgmt_cleanup, "mgmt_sp_delete"},
    {M_POST, "/api/v1/servicePrincipals/{appId}/secrets", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_sp_secret_add_finish, api_mgmt_cleanup, "mgmt_sp_secret_add"},
    {M_DELETE, "/api/v1/servicePrincipals/{appId}/secrets/{secretId}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_sp_secret_delete_finish, api_mgmt_cleanup, "mgmt_sp_secret_delete"},
    {M_GET, "/api/v1/roleAssignments", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_assignment_list_finish,
     api_mgmt_cleanup, "mgmt_assignment_list"},
    {M_POST, "/api/v1/roleAssignments", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, api_mgmt_body,
     api_mgmt_assignment_create_finish, api_mgmt_cleanup, "mgmt_assignment_create"},
    {M_DELETE, "/api/v1/roleAssignments/{id}", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_assignment_delete_finish, api_mgmt_cleanup, "mgmt_assignment_delete"},
    /* metrics and health (metrics.c): no credentials, no network rules */
    {M_GET, "/metrics", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_metrics_finish, NULL, "metrics"},
    {M_GET | M_HEAD, "/healthz", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_healthz_finish, NULL, "healthz"},
    {M_GET | M_HEAD, "/readyz", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_readyz_finish, NULL, "readyz"},
    /* network access of a registry (api_mgmt_net.c) */
    {M_GET, "/api/v1/registries/{registry}/networkRuleSet", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_network_get_finish, api_mgmt_cleanup, "mgmt_network_get"},
    {M_POST, "/api/v1/registries/{registry}/networkRuleSet/ipRules", NULL, BERTH_ACCESS_NONE, api_mgmt_begin,
     api_mgmt_body, api_mgmt_iprule_add_finish, api_mgmt_cleanup, "mgmt_iprule_add"},
    {M_DELETE, "/api/v1/registries/{registry}/networkRuleSet/ipRules", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_iprule_delete_finish, api_mgmt_cleanup, "mgmt_iprule_delete"},
    /* the login and repository event logs (api_mgmt_logs.c) */
    {M_GET, "/api/v1/registries/{registry}/logs/login", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_logs_login_finish, api_mgmt_cleanup, "mgmt_logs_login"},
    {M_GET, "/api/v1/registries/{registry}/logs/repository", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_logs_repository_finish, api_mgmt_cleanup, "mgmt_logs_repository"},
    {M_GET, "/api/v1/registries/{registry}/logs/stream", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_logs_stream_finish, api_mgmt_cleanup, "mgmt_logs_stream"},
    {M_GET, "/api/v1/logs/login", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_logs_login_finish,
     api_mgmt_cleanup, "mgmt_server_logs_login"},
    {M_GET, "/api/v1/logs/repository", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL,
     api_mgmt_logs_repository_finish, api_mgmt_cleanup, "mgmt_server_logs_repository"},
    {M_GET, "/api/v1/logs/stream", NULL, BERTH_ACCESS_NONE, api_mgmt_begin, NULL, api_mgmt_logs_stream_finish,
     api_mgmt_cleanup, "mgmt_server_logs_stream"},
};

#define MAX_SEGS 300

/* Splits s at '/' into at most MAX_SEGS slices; returns the count or -1. */
static int split(const char *s, struct berth_str *segs)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= MAX_SEGS) return -1;
        segs[n].p = p;
        segs[n].len = len;
        n++;
        if (!slash) break;
        p = slash + 1;
    }
    return n;
}

static int is_param(struct berth_str s)
{
    return s.len >= 2 && s.p[0] == '{' && s.p[s.len - 1] == '}';
}

static int seg_match(struct berth_str pat, struct berth_str seg)
{
    if (is_param(pat)) return seg.len > 0;
    return pat.len == seg.len && memcmp(pat.p, seg.p, seg.len) == 0;
}

/* Matches path against pattern; on success fills name/param (owned) and returns 1. */
static int match(const char *pattern, struct berth_str *ps, int np, char **name, char **param)
{
    struct berth_str pat[16];
    int npat = split(pattern, pat), i, iname = -1, nsuffix;
    const char *last_param = NULL;
    size_t last_len = 0;

    if (npat < 0 || npat > 16) return 0;
    for (i = 0; i < npat; i++)
        if (pat[i].len == 6 && !memcmp(pat[i].p, "{name}", 6)) iname = i;
    if (iname < 0) {
        if (np != npat) return 0;
        for (i = 0; i < npat; i++) {
            if (!seg_match(pat[i], ps[i])) return 0;
            if (is_param(pat[i])) last_param = ps[i].p, last_len = ps[i].len;
        }
        *name = NULL;
        *param = last_param ? berth_xstrndup(last_param, last_len) : NULL;
        return 1;
    }
    nsuffix = npat - iname - 1;
    if (np < iname + 1 + nsuffix) return 0;
    for (i = 0; i < iname; i++)
        if (!seg_match(pat[i], ps[i])) return 0;
    for (i = 0; i < nsuffix; i++) {
        struct berth_str pp = pat[iname + 1 + i], sp = ps[np - nsuffix + i];
        if (!seg_match(pp, sp)) return 0;
        if (is_param(pp)) last_param = sp.p, last_len = sp.len;
    }
    {
        const char *start = ps[iname].p;
        const char *end = ps[np - nsuffix - 1].p + ps[np - nsuffix - 1].len;
        *name = berth_xstrndup(start, (size_t)(end - start));
    }
    *param = last_param ? berth_xstrndup(last_param, last_len) : NULL;
    return 1;
}

const struct route *berth_route_match(const char *path, unsigned method, char **name, char **param,
                                      unsigned *allowed)
{
    struct berth_str *ps;
    size_t i;
    int np;
    const struct route *found = NULL;

    *allowed = 0;
    *name = NULL;
    *param = NULL;
    if (path[0] != '/' || strlen(path) > 4096) return NULL;
    ps = berth_xmalloc(sizeof(*ps) * MAX_SEGS);
    np = split(path, ps);
    if (np < 0) goto out;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char *n = NULL, *p = NULL;
        if (!match(routes[i].pattern, ps, np, &n, &p)) continue;
        if (routes[i].methods & method) {
            found = &routes[i];
            *name = n;
            *param = p;
            break;
        }
        *allowed |= routes[i].methods;
        free(n);
        free(p);
    }
out:
    free(ps);
    return found;
}

size_t berth_route_count(void)
{
    return sizeof(routes) / sizeof(routes[0]);
}

const struct route *berth_route_at(size_t i)
{
    return &routes[i];
}
