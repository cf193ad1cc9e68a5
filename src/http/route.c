/*
 * route.c - the route table: method, path pattern, the access each route
 * needs (for /v2 and the token service, the access kind and actions; for the
 * management API, the management right and what it is on) and its handler
 * steps; the matcher; and the check, run once at start-up and by the unit
 * tests, that no management row leaves its right unstated. A pattern has at
 * most one {name} (one or more path segments, matched between the literal
 * prefix and suffix) and single-segment {params}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "http_int.h"
#include "banned.h"

#define ACC_REPO BERTH_ACCESS_REPOSITORY

/* A row of the Distribution API, the token service, the directory or metrics: it needs no management right. */
#define ROUTE(meth, pat, acc, kind_, begin_, body_, finish_, cleanup_, label_)                               \
    {.methods = (meth), .pattern = (pat), .access = (acc), .kind = (kind_), .begin = (begin_), .body = (body_), \
     .finish = (finish_), .cleanup = (cleanup_), .label = (label_)}

/*
 * A management row (/api/v1): api_mgmt_begin authenticates the caller,
 * api_mgmt_finish checks right_ on what on_ names (enum route_right_on, the
 * refusal ending with why_), then calls handler_. body_ is B for methods
 * that take a JSON body.
 */
#define MGMT(meth, pat, body_, handler_, label_, right_, on_, why_)                                             \
    {.methods = (meth), .pattern = (pat), .kind = BERTH_ACCESS_NONE, .begin = api_mgmt_begin, .body = (body_),  \
     .finish = api_mgmt_finish, .cleanup = api_mgmt_cleanup, .label = (label_), .right = (right_),              \
     .right_on = (on_), .why = (why_), .handler = (handler_)}
/*
 * A management row whose registry comes from the body or from the stored
 * object it names: right_ on_ is the coarse right it needs, and the handler
 * checks right_ on that registry itself (mgmt_need_row) once it knows it.
 */
#define MGMT_BODY_CHECKED(meth, pat, body_, handler_, label_, right_, on_, why_)                                \
    {.methods = (meth), .pattern = (pat), .kind = BERTH_ACCESS_NONE, .begin = api_mgmt_begin, .body = (body_),  \
     .finish = api_mgmt_finish, .cleanup = api_mgmt_cleanup, .label = (label_), .right = (right_),              \
     .right_on = (on_), .why = (why_), .body_checked = 1, .handler = (handler_)}
/* A management row served as Azure Resource Manager's (api_arm.c): shape_ is its enum arm_shape. */
#define ARM(meth, pat, body_, handler_, label_, right_, on_, why_, shape_)                                      \
    {.methods = (meth), .pattern = (pat), .kind = BERTH_ACCESS_NONE, .begin = api_mgmt_begin, .body = (body_),  \
     .finish = api_mgmt_finish, .cleanup = api_mgmt_cleanup, .label = (label_), .right = (right_),              \
     .right_on = (on_), .why = (why_), .handler = (handler_), .arm = (shape_)}
#define B api_mgmt_body
#define ARM_SUB "/subscriptions/{subscriptionId}"
#define ARM_REG ARM_SUB "/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registry}"

static const struct route routes[] = {
    ROUTE(M_GET | M_HEAD, "/v2/", NULL, BERTH_ACCESS_BASE, NULL, NULL, api_base_finish, NULL, "base"),
    ROUTE(M_GET | M_HEAD, "/v2", NULL, BERTH_ACCESS_BASE, NULL, NULL, api_base_finish, NULL, "base"),
    ROUTE(M_GET, "/v2/_catalog", "*", BERTH_ACCESS_CATALOG, NULL, NULL, api_catalog_finish, NULL, "catalog"),
    ROUTE(M_GET, "/v2/{name}/tags/list", "pull", ACC_REPO, NULL, NULL, api_tags_finish, NULL, "tags"),
    ROUTE(M_GET | M_HEAD, "/v2/{name}/manifests/{ref}", "pull", ACC_REPO, NULL, NULL, api_manifest_get_finish, NULL,
     "manifest_get"),
    ROUTE(M_PUT, "/v2/{name}/manifests/{ref}", "push", ACC_REPO, api_manifest_put_begin, api_manifest_put_body,
     api_manifest_put_finish, api_manifest_put_cleanup, "manifest_put"),
    ROUTE(M_DELETE, "/v2/{name}/manifests/{ref}", "delete", ACC_REPO, NULL, NULL, api_manifest_delete_finish, NULL,
     "manifest_delete"),
    ROUTE(M_POST, "/v2/{name}/blobs/uploads/", "pull,push", ACC_REPO, api_upload_post_begin, api_upload_chunk_body,
     api_upload_post_finish, api_upload_cleanup, "upload_post"),
    ROUTE(M_POST, "/v2/{name}/blobs/uploads", "pull,push", ACC_REPO, api_upload_post_begin, api_upload_chunk_body,
     api_upload_post_finish, api_upload_cleanup, "upload_post"),
    ROUTE(M_GET, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, NULL, NULL, api_upload_status_finish, NULL,
     "upload_status"),
    ROUTE(M_PATCH, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, api_upload_chunk_begin, api_upload_chunk_body,
     api_upload_patch_finish, api_upload_cleanup, "upload_patch"),
    ROUTE(M_PUT, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, api_upload_chunk_begin, api_upload_chunk_body,
     api_upload_put_finish, api_upload_cleanup, "upload_put"),
    ROUTE(M_DELETE, "/v2/{name}/blobs/uploads/{uuid}", "push", ACC_REPO, NULL, NULL, api_upload_delete_finish, NULL,
     "upload_delete"),
    ROUTE(M_GET | M_HEAD, "/v2/{name}/blobs/{digest}", "pull", ACC_REPO, NULL, NULL, api_blob_finish, NULL, "blob_get"),
    ROUTE(M_DELETE, "/v2/{name}/blobs/{digest}", "delete", ACC_REPO, NULL, NULL, api_blob_delete_finish, NULL,
     "blob_delete"),
    ROUTE(M_GET, "/v2/{name}/referrers/{digest}", "pull", ACC_REPO, NULL, NULL, api_referrers_finish, NULL,
     "referrers"),
    /* ACR's repository metadata (api_acr.c, `az acr repository` and `az acr manifest`) */
    ROUTE(M_GET, "/acr/v1/{name}/_tags", "metadata_read", ACC_REPO, NULL, NULL, api_acr_tags_finish, NULL, "acr_tags"),
    ROUTE(M_GET, "/acr/v1/{name}/_tags/{tag}", "metadata_read", ACC_REPO, NULL, NULL, api_acr_tags_finish, NULL,
     "acr_tag"),
    ROUTE(M_DELETE, "/acr/v1/{name}/_tags/{tag}", "delete", ACC_REPO, NULL, NULL, api_acr_tag_delete_finish, NULL,
     "acr_tag_delete"),
    ROUTE(M_GET, "/acr/v1/{name}/_manifests", "metadata_read", ACC_REPO, NULL, NULL, api_acr_manifests_finish, NULL,
     "acr_manifests"),
    ROUTE(M_GET, "/acr/v1/{name}/_manifests/{digest}", "metadata_read", ACC_REPO, NULL, NULL, api_acr_manifests_finish,
     NULL, "acr_manifest"),
    ROUTE(M_DELETE, "/acr/v1/{name}/_manifests/{digest}", "delete", ACC_REPO, NULL, NULL,
     api_acr_manifest_delete_finish, NULL, "acr_manifest_delete"),
    ROUTE(M_PATCH, "/acr/v1/{name}/_tags/{tag}", "metadata_write", ACC_REPO, api_acr_patch_begin, api_acr_patch_body,
     api_acr_patch_finish, api_acr_patch_cleanup, "acr_tag_patch"),
    ROUTE(M_PATCH, "/acr/v1/{name}/_manifests/{digest}", "metadata_write", ACC_REPO, api_acr_patch_begin,
     api_acr_patch_body, api_acr_patch_finish, api_acr_patch_cleanup, "acr_manifest_patch"),
    ROUTE(M_GET, "/acr/v1/{name}", "metadata_read", ACC_REPO, NULL, NULL, api_acr_repo_finish, NULL, "acr_repository"),
    ROUTE(M_PATCH, "/acr/v1/{name}", "metadata_write", ACC_REPO, api_acr_patch_begin, api_acr_patch_body,
     api_acr_patch_finish, api_acr_patch_cleanup, "acr_repository_patch"),
    /* ACR's repository delete (`az acr repository delete`): every manifest and tag of the repository */
    ROUTE(M_DELETE, "/acr/v1/{name}", "delete", ACC_REPO, NULL, NULL, api_repository_delete_finish, NULL,
     "repository_delete"),
    /* the token service and the directory check credentials themselves */
    ROUTE(M_GET, "/oauth2/token", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_token_get_finish, NULL, "token_get"),
    ROUTE(M_GET, "/oauth2/explain", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_explain_finish, NULL, "explain"),
    ROUTE(M_POST, "/oauth2/token", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body, api_token_post_finish,
     api_form_cleanup, "token_post"),
    ROUTE(M_POST, "/oauth2/exchange", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body, api_exchange_finish,
     api_form_cleanup, "exchange"),
    ROUTE(M_POST, "/directory/{tenant}/oauth2/v2.0/token", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body,
     api_directory_token_finish, api_form_cleanup, "directory_token"),
    ROUTE(M_GET, "/directory/{tenant}/v2.0/.well-known/openid-configuration", NULL, BERTH_ACCESS_NONE, NULL, NULL,
     api_oidc_config_finish, NULL, "oidc_config"),
    ROUTE(M_GET, "/directory/{tenant}/discovery/v2.0/keys", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_jwks_finish, NULL,
     "jwks"),
    /* the same directory shaped as ADFS: the authority a custom cloud of az names (`az login`) */
    ROUTE(M_POST, "/adfs/oauth2/token", NULL, BERTH_ACCESS_NONE, api_form_begin, api_form_body, api_adfs_token_finish,
     api_form_cleanup, "adfs_token"),
    ROUTE(M_GET, "/adfs/.well-known/openid-configuration", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_adfs_config_finish,
     NULL, "adfs_config"),
    ROUTE(M_GET, "/adfs/discovery/keys", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_adfs_keys_finish, NULL, "adfs_keys"),
    /* the management API (api_mgmt*.c): each row states the right its caller needs (MGMT, http_int.h) */
    MGMT(M_GET, "/api/v1/tenant", NULL, api_mgmt_tenant_finish, "mgmt_tenant",
         0, RIGHT_ON_CALLER, NULL),
    MGMT(M_GET, "/api/v1/registries", NULL, api_mgmt_registry_list_finish, "mgmt_registry_list",
         BERTH_MGMT_READ, RIGHT_ON_EACH_REGISTRY, NULL),
    MGMT(M_POST, "/api/v1/registries", B, api_mgmt_registry_create_finish, "mgmt_registry_create",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to create registries"),
    MGMT(M_GET, "/api/v1/registries/{registry}", NULL, api_mgmt_registry_get_finish, "mgmt_registry_get",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read it"),
    MGMT(M_PATCH, "/api/v1/registries/{registry}", B, api_mgmt_registry_patch_finish, "mgmt_registry_patch",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change it"),
    MGMT(M_DELETE, "/api/v1/registries/{registry}", NULL, api_mgmt_registry_delete_finish, "mgmt_registry_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to delete it"),
    MGMT(M_GET, "/api/v1/registries/{registry}/usages", NULL, api_mgmt_registry_usage_finish, "mgmt_registry_usage",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its usage"),
    MGMT(M_GET, "/api/v1/registries/{registry}/credentials", NULL,
         api_mgmt_credentials_get_finish, "mgmt_credentials_get",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its admin credentials"),
    MGMT(M_POST, "/api/v1/registries/{registry}/credentials/regenerate", B,
         api_mgmt_credentials_regenerate_finish, "mgmt_credentials_regenerate",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to regenerate its admin passwords"),
    MGMT(M_GET, "/api/v1/registries/{registry}/scopeMaps", NULL, api_mgmt_scopemap_list_finish, "mgmt_scopemap_list",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its scope maps"),
    MGMT(M_POST, "/api/v1/registries/{registry}/scopeMaps", B, api_mgmt_scopemap_create_finish, "mgmt_scopemap_create",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps"),
    MGMT(M_GET, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", NULL,
         api_mgmt_scopemap_get_finish, "mgmt_scopemap_get",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its scope maps"),
    MGMT(M_PATCH, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", B,
         api_mgmt_scopemap_patch_finish, "mgmt_scopemap_patch",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps"),
    MGMT(M_DELETE, "/api/v1/registries/{registry}/scopeMaps/{scopeMap}", NULL,
         api_mgmt_scopemap_delete_finish, "mgmt_scopemap_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps"),
    MGMT(M_GET, "/api/v1/registries/{registry}/tokens", NULL, api_mgmt_token_list_finish, "mgmt_token_list",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its tokens"),
    MGMT(M_POST, "/api/v1/registries/{registry}/tokens", B, api_mgmt_token_create_finish, "mgmt_token_create",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens"),
    MGMT(M_GET, "/api/v1/registries/{registry}/tokens/{token}", NULL, api_mgmt_token_get_finish, "mgmt_token_get",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its tokens"),
    MGMT(M_PATCH, "/api/v1/registries/{registry}/tokens/{token}", B, api_mgmt_token_patch_finish, "mgmt_token_patch",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens"),
    MGMT(M_DELETE, "/api/v1/registries/{registry}/tokens/{token}", NULL,
         api_mgmt_token_delete_finish, "mgmt_token_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens"),
    MGMT(M_POST, "/api/v1/registries/{registry}/tokens/{token}/generateCredentials", B,
         api_mgmt_token_generate_finish, "mgmt_token_generate",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens"),
    MGMT(M_GET, "/api/v1/users", NULL, api_mgmt_user_list_finish, "mgmt_user_list",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read users"),
    MGMT(M_POST, "/api/v1/users", B, api_mgmt_user_create_finish, "mgmt_user_create",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to create users"),
    MGMT(M_GET, "/api/v1/users/{user}", NULL, api_mgmt_user_get_finish, "mgmt_user_get",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read users"),
    MGMT(M_DELETE, "/api/v1/users/{user}", NULL, api_mgmt_user_delete_finish, "mgmt_user_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to delete users"),
    MGMT(M_POST, "/api/v1/users/{user}/password", B, api_mgmt_user_password_finish, "mgmt_user_password",
         BERTH_MGMT_WRITE, RIGHT_ON_SELF_OR_SERVER, "to set other users' passwords"),
    MGMT(M_GET, "/api/v1/servicePrincipals", NULL, api_mgmt_sp_list_finish, "mgmt_sp_list",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read service principals"),
    MGMT(M_POST, "/api/v1/servicePrincipals", B, api_mgmt_sp_create_finish, "mgmt_sp_create",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to create service principals"),
    MGMT(M_GET, "/api/v1/servicePrincipals/{appId}", NULL, api_mgmt_sp_get_finish, "mgmt_sp_get",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read service principals"),
    MGMT(M_DELETE, "/api/v1/servicePrincipals/{appId}", NULL, api_mgmt_sp_delete_finish, "mgmt_sp_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to delete service principals"),
    MGMT(M_POST, "/api/v1/servicePrincipals/{appId}/secrets", B, api_mgmt_sp_secret_add_finish, "mgmt_sp_secret_add",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to change service principals"),
    MGMT(M_DELETE, "/api/v1/servicePrincipals/{appId}/secrets/{secretId}", NULL,
         api_mgmt_sp_secret_delete_finish, "mgmt_sp_secret_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_SERVER, "to change service principals"),
    MGMT(M_GET, "/api/v1/roleAssignments", NULL, api_mgmt_assignment_list_finish, "mgmt_assignment_list",
         BERTH_MGMT_READ, RIGHT_ON_ANY_REGISTRY, "to read role assignments"),
    MGMT_BODY_CHECKED(M_POST, "/api/v1/roleAssignments", B,
         api_mgmt_assignment_create_finish, "mgmt_assignment_create",
         BERTH_MGMT_ASSIGN, RIGHT_ON_ANY_REGISTRY, "to assign roles there"),
    MGMT_BODY_CHECKED(M_DELETE, "/api/v1/roleAssignments/{id}", NULL,
         api_mgmt_assignment_delete_finish, "mgmt_assignment_delete",
         BERTH_MGMT_ASSIGN, RIGHT_ON_ANY_REGISTRY, "to remove role assignments there"),
    /* Azure Resource Manager for `az login` and `az acr` (api_arm.c): management rows in ARM's shapes */
    ARM(M_GET, "/tenants", NULL, api_arm_tenants_finish, "arm_tenants", 0, RIGHT_ON_CALLER, NULL, ARM_AS_IS),
    ARM(M_GET, "/subscriptions", NULL, api_arm_subscriptions_finish, "arm_subscriptions",
        0, RIGHT_ON_CALLER, NULL, ARM_AS_IS),
    ARM(M_GET, ARM_SUB, NULL, api_arm_subscription_finish, "arm_subscription", 0, RIGHT_ON_CALLER, NULL, ARM_AS_IS),
    ARM(M_GET, ARM_SUB "/resources", NULL, api_mgmt_registry_list_finish, "arm_resources",
        BERTH_MGMT_READ, RIGHT_ON_EACH_REGISTRY, NULL, ARM_RESOURCE | ARM_LIST),
    ARM(M_GET, ARM_SUB "/providers/Microsoft.ContainerRegistry/registries", NULL, api_mgmt_registry_list_finish,
        "arm_registry_list", BERTH_MGMT_READ, RIGHT_ON_EACH_REGISTRY, NULL, ARM_REGISTRY | ARM_LIST),
    ARM(M_GET, ARM_SUB "/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries", NULL,
        api_mgmt_registry_list_finish, "arm_registry_list_group",
        BERTH_MGMT_READ, RIGHT_ON_EACH_REGISTRY, NULL, ARM_REGISTRY | ARM_LIST),
    ARM(M_GET, ARM_REG, NULL, api_mgmt_registry_get_finish, "arm_registry_get",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read it", ARM_REGISTRY),
    ARM(M_PATCH, ARM_REG, B, api_mgmt_registry_patch_finish, "arm_registry_patch",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change it", ARM_REGISTRY),
    ARM(M_DELETE, ARM_REG, NULL, api_mgmt_registry_delete_finish, "arm_registry_delete",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to delete it", ARM_REGISTRY),
    ARM(M_GET, ARM_REG "/listUsages", NULL, api_mgmt_registry_usage_finish, "arm_registry_usage",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its usage", ARM_AS_IS),
    ARM(M_POST, ARM_REG "/listCredentials", B, api_arm_list_credentials_finish, "arm_credentials_list",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its admin credentials", ARM_AS_IS),
    ARM(M_POST, ARM_REG "/regenerateCredential", B, api_mgmt_credentials_regenerate_finish,
        "arm_credentials_regenerate", BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to regenerate its admin passwords",
        ARM_AS_IS),
    ARM(M_GET, ARM_REG "/scopeMaps", NULL, api_mgmt_scopemap_list_finish, "arm_scopemap_list",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its scope maps", ARM_SCOPEMAP | ARM_LIST),
    ARM(M_GET, ARM_REG "/scopeMaps/{scopeMap}", NULL, api_mgmt_scopemap_get_finish, "arm_scopemap_get",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its scope maps", ARM_SCOPEMAP),
    ARM(M_PUT, ARM_REG "/scopeMaps/{scopeMap}", B, api_mgmt_scopemap_create_finish, "arm_scopemap_create",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps", ARM_SCOPEMAP),
    ARM(M_PATCH, ARM_REG "/scopeMaps/{scopeMap}", B, api_mgmt_scopemap_patch_finish, "arm_scopemap_patch",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps", ARM_SCOPEMAP),
    ARM(M_DELETE, ARM_REG "/scopeMaps/{scopeMap}", NULL, api_mgmt_scopemap_delete_finish, "arm_scopemap_delete",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its scope maps", ARM_SCOPEMAP),
    ARM(M_GET, ARM_REG "/tokens", NULL, api_mgmt_token_list_finish, "arm_token_list",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its tokens", ARM_TOKEN | ARM_LIST),
    ARM(M_GET, ARM_REG "/tokens/{token}", NULL, api_mgmt_token_get_finish, "arm_token_get",
        BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its tokens", ARM_TOKEN),
    ARM(M_PUT, ARM_REG "/tokens/{token}", B, api_mgmt_token_create_finish, "arm_token_create",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens", ARM_TOKEN),
    ARM(M_PATCH, ARM_REG "/tokens/{token}", B, api_mgmt_token_patch_finish, "arm_token_patch",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens", ARM_TOKEN),
    ARM(M_DELETE, ARM_REG "/tokens/{token}", NULL, api_mgmt_token_delete_finish, "arm_token_delete",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens", ARM_TOKEN),
    ARM(M_POST, ARM_REG "/generateCredentials", B, api_mgmt_token_generate_finish, "arm_token_generate",
        BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its tokens", ARM_GENERATE),
    /* metrics and health (metrics.c): no credentials, no network rules */
    ROUTE(M_GET, "/metrics", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_metrics_finish, NULL, "metrics"),
    ROUTE(M_GET | M_HEAD, "/healthz", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_healthz_finish, NULL, "healthz"),
    ROUTE(M_GET | M_HEAD, "/readyz", NULL, BERTH_ACCESS_NONE, NULL, NULL, api_readyz_finish, NULL, "readyz"),
    /* network access of a registry (api_mgmt_net.c) */
    MGMT(M_GET, "/api/v1/registries/{registry}/networkRuleSet", NULL, api_mgmt_network_get_finish, "mgmt_network_get",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its network rules"),
    MGMT(M_POST, "/api/v1/registries/{registry}/networkRuleSet/ipRules", B,
         api_mgmt_iprule_add_finish, "mgmt_iprule_add",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its network rules"),
    MGMT(M_DELETE, "/api/v1/registries/{registry}/networkRuleSet/ipRules", NULL,
         api_mgmt_iprule_delete_finish, "mgmt_iprule_delete",
         BERTH_MGMT_WRITE, RIGHT_ON_REGISTRY, "to change its network rules"),
    /* the login and repository event logs (api_mgmt_logs.c) */
    MGMT(M_GET, "/api/v1/registries/{registry}/logs/login", NULL, api_mgmt_logs_login_finish, "mgmt_logs_login",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its event logs"),
    MGMT(M_GET, "/api/v1/registries/{registry}/logs/repository", NULL,
         api_mgmt_logs_repository_finish, "mgmt_logs_repository",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its event logs"),
    MGMT(M_GET, "/api/v1/registries/{registry}/logs/stream", NULL, api_mgmt_logs_stream_finish, "mgmt_logs_stream",
         BERTH_MGMT_READ, RIGHT_ON_REGISTRY, "to read its event logs"),
    MGMT(M_GET, "/api/v1/logs/login", NULL, api_mgmt_logs_login_finish, "mgmt_server_logs_login",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read the server's event logs"),
    MGMT(M_GET, "/api/v1/logs/repository", NULL, api_mgmt_logs_repository_finish, "mgmt_server_logs_repository",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read the server's event logs"),
    MGMT(M_GET, "/api/v1/logs/stream", NULL, api_mgmt_logs_stream_finish, "mgmt_server_logs_stream",
         BERTH_MGMT_READ, RIGHT_ON_SERVER, "to read the server's event logs"),
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

int berth_route_param_index(const struct route *r, const char *param)
{
    struct berth_str segs[16];
    size_t len = strlen(param);
    int n = split(r->pattern, segs), i;

    if (n < 0 || n > 16) return -1;
    for (i = 0; i < n; i++)
        if (segs[i].len == len && !memcmp(segs[i].p, param, len)) return i;
    return -1;
}

/* The {param} a row's right_on reads from the path, or NULL. */
static const char *right_param(enum route_right_on on)
{
    if (on == RIGHT_ON_REGISTRY) return "{registry}";
    if (on == RIGHT_ON_SELF_OR_SERVER) return "{user}";
    return NULL;
}

/* One row's part of berth_route_table_check. */
static enum berth_rc row_check(const struct route *r, struct berth_err *err)
{
    const char *param = right_param(r->right_on);

    if (strncmp(r->pattern, "/api/v1/", 8) != 0 && !r->arm) {
        if (r->right_on || r->right || r->why || r->body_checked || r->handler || r->begin == api_mgmt_begin)
            return berth_err_set(err, BERTH_EINTERNAL, "route %s (%s) is not a management route but states a "
                                 "management right or step", r->label, r->pattern);
        return BERTH_OK;
    }
    if (r->right_on == RIGHT_ON_NOTHING)
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) does not state the right it needs",
                             r->label, r->pattern);
    if (r->begin != api_mgmt_begin || r->finish != api_mgmt_finish || r->cleanup != api_mgmt_cleanup || !r->handler)
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) does not run the management steps "
                             "(api_mgmt_begin, api_mgmt_finish and a handler)", r->label, r->pattern);
    if ((r->right_on == RIGHT_ON_CALLER) != (r->right == 0))
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s): only RIGHT_ON_CALLER needs no right",
                             r->label, r->pattern);
    if (r->right & ~(BERTH_MGMT_READ | BERTH_MGMT_WRITE | BERTH_MGMT_ASSIGN))
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) needs unknown right bits 0x%x", r->label,
                             r->pattern, r->right);
    if (!r->why && r->right_on != RIGHT_ON_CALLER && r->right_on != RIGHT_ON_EACH_REGISTRY)
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) can refuse but gives no reason (why)",
                             r->label, r->pattern);
    if (param && berth_route_param_index(r, param) < 0)
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) needs its right on %s but has none",
                             r->label, r->pattern, param);
    if (r->body_checked && r->right_on != RIGHT_ON_ANY_REGISTRY)
        return berth_err_set(err, BERTH_EINTERNAL, "management route %s (%s) is checked by its handler: its coarse "
                             "right is on any registry", r->label, r->pattern);
    return BERTH_OK;
}

enum berth_rc berth_route_table_check(const struct route *t, size_t n, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    size_t i;

    for (i = 0; i < n && !rc; i++) rc = row_check(&t[i], err);
    return rc;
}

/* A management row that states no right would serve anyone who logs in: such a build never starts. */
__attribute__((constructor)) static void route_table_assert(void)
{
    struct berth_err err = BERTH_ERR_INIT;

    if (berth_route_table_check(routes, sizeof(routes) / sizeof(routes[0]), &err) == BERTH_OK) return;
    fprintf(stderr, "berth: the route table is wrong: %s\n", berth_err_msg(&err));
    abort();
}
