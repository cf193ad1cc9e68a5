/*
 * api_arm.c - just enough of Azure Resource Manager for `az login` and
 * `az acr`: the tenant, one subscription, one resource group, and the
 * registries as Microsoft.ContainerRegistry/registries resources.
 *
 * ARM rows are management rows (route.c, ARM()): the same caller check, the
 * same right on the same registry, and mostly the same handlers as
 * /api/v1. Three steps make them ARM: arm_begin_row (run by
 * api_mgmt_finish before the rights check) refuses a subscription or
 * resource group that is not berth's and turns an ARM body
 * ({"properties": {...}}) into the management body; arm_reply_doc (run by
 * mgmt_reply) turns the management answer into the ARM resource; and
 * req_respond_error answers ARM's error shape ({"error": {"code",
 * "message"}}) with berth's message.
 *
 * The subscription's id is the tenant's id; its one resource group is
 * "berth" (BERTH_ARM_GROUP).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "log.h"
#include "access.h"
#include "api_mgmt.h"
#include "http_int.h"
#include "banned.h"

#define ARM_PROVIDER "Microsoft.ContainerRegistry"
#define ARM_REG_TYPE ARM_PROVIDER "/registries"

/* ---------------------------------------------------------------- names and ids */

static void arm_registry_id(struct authz *az, const char *name, char *out, size_t n)
{
    snprintf(out, n, "/subscriptions/%s/resourceGroups/%s/providers/" ARM_REG_TYPE "/%s", az->tenant, BERTH_ARM_GROUP,
             name);
}

/*
 * Where a client reaches the registry: its login server <name>.<domain>,
 * with the port of the address this request reached berth at
 * (authz_public_base: external-url, a trusted proxy's X-Forwarded-Host, or
 * Host); the default registry (served on any Host that names no registry)
 * is reached at that address itself.
 */
static void arm_login_server(struct berth_req *req, const char *name, const char *login_server, char *out, size_t n)
{
    char base[400];
    const char *host, *port;

    authz_public_base(req->http->az, &req->caller, base, sizeof(base));
    host = strstr(base, "://");
    host = host ? host + 3 : base;
    port = strrchr(host, ':');
    if (port && strchr(port, ']')) port = NULL; /* "[v6]" without a port */
    if (!strcmp(name, req->http->cfg->default_registry)) snprintf(out, n, "%s", host);
    else snprintf(out, n, "%s%s", login_server, port ? port : "");
}

static json_t *arm_subscription(struct authz *az)
{
    char id[80];
    snprintf(id, sizeof(id), "/subscriptions/%s", az->tenant);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", id, "subscriptionId", az->tenant, "tenantId",
                     az->tenant, "displayName", "berth", "state", "Enabled", "authorizationSource", "RoleBased",
                     "subscriptionPolicies", "locationPlacementId", "Public_2014-09-01", "quotaId", "berth",
                     "spendingLimit", "Off");
}

/* The resource fields every registry answer starts with. */
static json_t *arm_registry_resource(struct authz *az, const char *name)
{
    char id[400];
    arm_registry_id(az, name, id, sizeof(id));
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{}}", "id", id, "name", name, "type", ARM_REG_TYPE, "location",
                     BERTH_ARM_LOCATION, "sku", "name", "Premium", "tier", "Premium", "tags");
}

/* A management registry object (api_mgmt.c registry_json) as the ARM resource. */
static json_t *arm_registry(struct berth_req *req, json_t *m)
{
    struct authz *az = mgmt_az(req);
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *ls = json_string_value(json_object_get(m, "loginServer"));
    json_t *o, *props, *v;
    const char *k;
    void *tmp;
    char where[420];

    if (!name) return json_incref(m);
    o = arm_registry_resource(az, name);
    props = json_object();
    json_object_foreach_safe(m, tmp, k, v) {
        /* admin passwords made by enabling the admin user are not ARM's: 'az acr credential renew' shows one */
        if (!strcmp(k, "name") || !strcmp(k, "id") || !strcmp(k, "credentials")) continue;
        json_object_set(props, k, v);
    }
    arm_login_server(req, name, ls ? ls : name, where, sizeof(where));
    json_object_set_new(props, "loginServer", json_string(where));
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    json_object_set_new(props, "dataEndpointEnabled", json_false());
    json_object_set_new(props, "zoneRedundancy", json_string("Disabled"));
    json_object_set_new(o, "properties", props);
    return o;
}

/* ---------------------------------------------------------------- rows */

/* The subscription and resource group of the path, when it names them: berth's, or 404. */
static enum berth_rc check_scope(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    char v[BERTH_META_NAME_MAX + 1];
    int i = berth_route_param_index(req->route, "{subscriptionId}");

    if (i >= 0) {
        if (mgmt_segment(req, i, v, sizeof(v), err) != BERTH_OK || strcasecmp(v, az->tenant) != 0)
            return berth_err_set(err, BERTH_ENOENT,
                                 "subscription '%.40s' not found: berth has one subscription, %s (the tenant's id)", v,
                                 az->tenant);
    }
    i = berth_route_param_index(req->route, "{resourceGroupName}");
    if (i >= 0) {
        if (mgmt_segment(req, i, v, sizeof(v), err) != BERTH_OK || strcasecmp(v, BERTH_ARM_GROUP) != 0)
            return berth_err_set(err, BERTH_ENOENT,
                                 "resource group '%.64s' could not be found: berth's registries are all in resource "
                                 "group '%s'",
                                 v, BERTH_ARM_GROUP);
    }
    return BERTH_OK;
}

/*
 * The members of an ARM registry body berth keeps, moved out of
 * "properties"; members that describe what berth does not have are
 * accepted only with the value berth reports for them (none, or disabled).
 */
static enum berth_rc registry_body(json_t *in, json_t *out, struct berth_err *err)
{
    static const char *const kept[] = {"adminUserEnabled", "anonymousPullEnabled", "publicNetworkAccess"};
    json_t *props = json_object_get(in, "properties"), *v;
    const char *k;
    size_t i;

    json_object_foreach(in, k, v) {
        if (!strcmp(k, "properties") || !strcmp(k, "tags") || !strcmp(k, "sku") || !strcmp(k, "location") ||
            !strcmp(k, "identity"))
            continue;
        return berth_err_set(err, BERTH_EREQUEST, "unknown member '%.64s' of a registry", k);
    }
    if (props && !json_is_object(props)) return berth_err_set(err, BERTH_EREQUEST, "'properties' must be an object");
    json_object_foreach(props, k, v) {
        for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
            if (!strcmp(k, kept[i])) break;
        if (i < sizeof(kept) / sizeof(kept[0])) {
            json_object_set(out, k, v);
        } else if (!strcmp(k, "networkRuleSet")) {
            /* ACR's virtual network rules were retired; berth keeps the default action and the ip rules */
            json_t *rs = json_deep_copy(v);
            if (json_is_object(rs)) json_object_del(rs, "virtualNetworkRules");
            json_object_set_new(out, k, rs);
        } else if (!strcmp(k, "dataEndpointEnabled") || !strcmp(k, "zoneRedundancy")) {
            if (json_is_true(v) || (json_is_string(v) && strcasecmp(json_string_value(v), "Disabled") != 0))
                return berth_err_set(err, BERTH_EREQUEST,
                                     "berth serves no dedicated data endpoints and no zone redundancy: '%s' cannot "
                                     "be enabled",
                                     k);
        } else if (!strcmp(k, "policies") || !strcmp(k, "encryption") || !strcmp(k, "networkRuleBypassOptions")) {
            /* berth reports none of these; a client that sets one would believe it applied */
            if (!json_is_null(v))
                return berth_err_set(err, BERTH_EREQUEST,
                                     "berth does not have registry %s: '%s' cannot be set",
                                     !strcmp(k, "policies") ? "policies (quarantine, trust, retention, export)"
                                                            : "encryption or network bypass options",
                                     k);
        } else if (!strcmp(k, "loginServer") || !strcmp(k, "provisioningState") || !strcmp(k, "creationDate") ||
                   !strcmp(k, "status") || !strcmp(k, "privateEndpointConnections")) {
            continue; /* read-only: what berth reports for them does not change */
        } else {
            return berth_err_set(err, BERTH_EREQUEST, "berth does not have the registry property '%.64s'", k);
        }
    }
    return BERTH_OK;
}

/* The name after the last "/<kind>/" of an ARM id of this registry's, or NULL. */
static const char *child_of(struct berth_req *req, const char *registry, const char *id, const char *kind)
{
    char want[400];
    size_t n;

    if (!id) return NULL;
    arm_registry_id(mgmt_az(req), registry, want, sizeof(want));
    n = strlen(want);
    if (strncasecmp(id, want, n) != 0 || id[n] != '/') return NULL;
    id += n + 1;
    n = strlen(kind);
    if (strncasecmp(id, kind, n) != 0 || id[n] != '/' || !id[n + 1] || strchr(id + n + 1, '/')) return NULL;
    return id + n + 1;
}

/* An ARM scope map body: {"properties": {"description", "actions"}}; the name is the path's. */
static enum berth_rc scopemap_body(struct berth_req *req, json_t *props, json_t *out, struct berth_err *err)
{
    const char *k;
    json_t *v;

    json_object_foreach(props, k, v) {
        if (!strcmp(k, "description") || !strcmp(k, "actions")) json_object_set(out, k, v);
        else if (strcmp(k, "type") && strcmp(k, "creationDate") && strcmp(k, "provisioningState"))
            return berth_err_set(err, BERTH_EREQUEST, "berth does not have the scope map property '%.64s'", k);
    }
    if (req->method == M_PUT) json_object_set_new(out, "name", json_string(req->param));
    return BERTH_OK;
}

/*
 * An ARM token body: {"properties": {"scopeMapId": <ARM id>, "status",
 * "credentials"}}. Passwords come from generateCredentials, as az asks for
 * them, so a token made here starts without any.
 */
static enum berth_rc token_body(struct berth_req *req, const char *registry, json_t *props, json_t *out,
                                struct berth_err *err)
{
    const char *k, *map;
    json_t *v;

    json_object_foreach(props, k, v) {
        if (!strcmp(k, "status")) {
            json_object_set(out, k, v);
        } else if (!strcmp(k, "scopeMapId")) {
            map = child_of(req, registry, json_string_value(v), "scopeMaps");
            if (!map)
                return berth_err_set(err, BERTH_EREQUEST,
                                     "scopeMapId must be the id of a scope map of registry '%s' "
                                     "(.../registries/%s/scopeMaps/<name>)",
                                     registry, registry);
            json_object_set_new(out, k, json_string(map));
        } else if (!strcmp(k, "credentials")) {
            json_t *pws = json_object_get(v, "passwords"), *certs = json_object_get(v, "certificates");
            if (json_array_size(pws) || json_array_size(certs))
                return berth_err_set(err, BERTH_EREQUEST,
                                     "a token's passwords are made by generateCredentials ('az acr token credential "
                                     "generate'); berth takes no certificates");
        } else if (strcmp(k, "creationDate") && strcmp(k, "provisioningState")) {
            return berth_err_set(err, BERTH_EREQUEST, "berth does not have the token property '%.64s'", k);
        }
    }
    if (req->method == M_PUT) {
        json_object_set_new(out, "name", json_string(req->param));
        json_object_set_new(out, "noPasswords", json_true());
    }
    return BERTH_OK;
}

/* generateCredentials: {"tokenId", "name", "expiry"}; the token becomes the request's {token}. */
static enum berth_rc generate_body(struct berth_req *req, const char *registry, json_t *in, json_t *out,
                                   struct berth_err *err)
{
    const char *k, *tok;
    json_t *v;

    json_object_foreach(in, k, v) {
        if (!strcmp(k, "name") || !strcmp(k, "expiry")) json_object_set(out, k, v);
        else if (strcmp(k, "tokenId") != 0)
            return berth_err_set(err, BERTH_EREQUEST, "unknown member '%.64s' of generateCredentials", k);
    }
    tok = child_of(req, registry, json_string_value(json_object_get(in, "tokenId")), "tokens");
    if (!tok)
        return berth_err_set(err, BERTH_EREQUEST,
                             "tokenId must be the id of a token of registry '%s' (.../registries/%s/tokens/<name>)",
                             registry, registry);
    free(req->param);
    req->param = berth_xstrdup(tok);
    return BERTH_OK;
}

enum berth_rc arm_begin_row(struct berth_req *req, struct berth_err *err)
{
    struct mgmt_state *st = mgmt_state_of(req);
    unsigned shape = req->route->arm & ~ARM_LIST;
    json_error_t jerr;
    json_t *in, *out, *props, *v;
    const char *k;
    char registry[BERTH_META_NAME_MAX + 1] = "";
    int ri = berth_route_param_index(req->route, "{registry}");
    enum berth_rc rc;

    rc = check_scope(req, err);
    if (rc) return rc;
    if (shape != ARM_REGISTRY && shape != ARM_SCOPEMAP && shape != ARM_TOKEN && shape != ARM_GENERATE) return BERTH_OK;
    if (req->method != M_PUT && req->method != M_PATCH && req->method != M_POST) return BERTH_OK;
    in = st->body.len ? json_loadb(st->body.p, st->body.len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!json_is_object(in)) {
        json_decref(in);
        return berth_err_set(err, BERTH_EREQUEST, "the body is not a JSON object: %s", jerr.text);
    }
    /* ids in the body must be of the path's registry (whose name and right api_mgmt_finish checks next) */
    rc = ri >= 0 ? mgmt_segment(req, ri, registry, sizeof(registry), err) : BERTH_OK;
    out = json_object();
    props = json_object_get(in, "properties");
    if (!rc && shape != ARM_REGISTRY && shape != ARM_GENERATE) {
        json_object_foreach(in, k, v) {
            if (strcmp(k, "properties") && strcmp(k, "id") && strcmp(k, "name") && strcmp(k, "type")) {
                rc = berth_err_set(err, BERTH_EREQUEST, "unknown member '%.64s'", k);
                break;
            }
        }
        if (!rc && props && !json_is_object(props))
            rc = berth_err_set(err, BERTH_EREQUEST, "'properties' must be an object");
    }
    if (!rc) {
        if (shape == ARM_REGISTRY) rc = registry_body(in, out, err);
        else if (shape == ARM_SCOPEMAP) rc = scopemap_body(req, props, out, err);
        else if (shape == ARM_TOKEN) rc = token_body(req, registry, props, out, err);
        else rc = generate_body(req, registry, in, out, err);
    }
    json_decref(in);
    if (rc) {
        json_decref(out);
        return rc;
    }
    json_decref(st->doc);
    st->doc = out;
    return BERTH_OK;
}

/* A scope map or token answer of /api/v1 as the ARM child resource of kind ("scopeMaps", "tokens"). */
static json_t *arm_child(struct berth_req *req, json_t *m, const char *kind)
{
    struct mgmt_state *st = mgmt_state_of(req);
    const char *name = json_string_value(json_object_get(m, "name"));
    json_t *props = json_object(), *v;
    const char *k;
    char id[600], type[80];

    arm_registry_id(mgmt_az(req), st->registry, id, sizeof(id));
    snprintf(id + strlen(id), sizeof(id) - strlen(id), "/%s/%s", kind, name ? name : "");
    snprintf(type, sizeof(type), ARM_REG_TYPE "/%s", kind);
    json_object_foreach(m, k, v) {
        if (!strcmp(k, "name") || !strcmp(k, "id")) continue;
        if (!strcmp(k, "scopeMapId") && json_is_string(v)) {
            char map[600];
            arm_registry_id(mgmt_az(req), st->registry, map, sizeof(map));
            snprintf(map + strlen(map), sizeof(map) - strlen(map), "/scopeMaps/%s", json_string_value(v));
            json_object_set_new(props, k, json_string(map));
        } else if (!strcmp(k, "credentials") && json_is_object(v)) {
            json_object_set_new(props, k, json_pack("{s:[],s:O}", "certificates", "passwords",
                                                    json_object_get(v, "passwords")));
        } else {
            json_object_set(props, k, v);
        }
    }
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    return json_pack("{s:s,s:s,s:s,s:o}", "id", id, "name", name ? name : "", "type", type, "properties", props);
}

/* One item of an answer in the row's shape (a new reference). */
static json_t *arm_item(struct berth_req *req, unsigned shape, json_t *m)
{
    const char *name;

    switch (shape) {
    case ARM_REGISTRY:
        return arm_registry(req, m);
    case ARM_RESOURCE:
        name = json_string_value(json_object_get(m, "name"));
        return name ? arm_registry_resource(mgmt_az(req), name) : json_incref(m);
    case ARM_SCOPEMAP:
        return arm_child(req, m, "scopeMaps");
    case ARM_TOKEN:
        return arm_child(req, m, "tokens");
    default:
        return json_incref(m);
    }
}

json_t *arm_reply_doc(struct berth_req *req, json_t *doc)
{
    unsigned shape = req->route->arm & ~ARM_LIST;
    json_t *out, *list, *v;
    size_t i;

    if (req->route->arm & ARM_LIST) {
        list = json_array();
        json_array_foreach(json_object_get(doc, "value"), i, v) json_array_append_new(list, arm_item(req, shape, v));
        out = json_pack("{s:o}", "value", list);
    } else {
        out = arm_item(req, shape, doc);
    }
    json_decref(doc);
    return out;
}

/* ARM's error codes for berth's answers (the message stays berth's). */
const char *arm_error_code(enum berth_rc rc)
{
    switch (berth_rc_status(rc)) {
    case 400:
        return "BadRequest";
    case 401:
        return "InvalidAuthenticationToken";
    case 403:
        return "AuthorizationFailed";
    case 404:
        return "ResourceNotFound";
    case 409:
        return "Conflict";
    case 429:
        return "TooManyRequests";
    default:
        return "InternalServerError";
    }
}

/* ---------------------------------------------------------------- handlers */

/* GET /tenants */
enum berth_rc api_arm_tenants_finish(struct berth_req *req, struct berth_err *err)
{
    struct authz *az = mgmt_az(req);
    char id[64];

    (void)err;
    snprintf(id, sizeof(id), "/tenants/%s", az->tenant);
    return mgmt_reply(req, 200,
                      json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "value", "id", id, "tenantId", az->tenant, "tenantCategory",
                                "Home", "displayName", "berth"),
                      0);
}

/* GET /subscriptions */
enum berth_rc api_arm_subscriptions_finish(struct berth_req *req, struct berth_err *err)
{
    (void)err;
    return mgmt_reply(req, 200, json_pack("{s:[o]}", "value", arm_subscription(mgmt_az(req))), 0);
}

/* GET /subscriptions/{subscriptionId} (arm_begin_row checked it) */
enum berth_rc api_arm_subscription_finish(struct berth_req *req, struct berth_err *err)
{
    (void)err;
    return mgmt_reply(req, 200, arm_subscription(mgmt_az(req)), 0);
}

/* POST .../registries/{registry}/listCredentials: berth keeps hashes only. */
enum berth_rc api_arm_list_credentials_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta_registry reg;
    enum berth_rc rc = mgmt_registry(req, &reg, err);

    if (rc) return rc;
    return berth_err_set(err, BERTH_EBUSY,
                         "berth keeps only hashes of the admin passwords of registry '%s' and cannot show them; "
                         "'az acr credential renew -n %s --password-name password' makes a new one and shows it once",
                         reg.name, reg.name);
}
