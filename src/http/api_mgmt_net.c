/*
 * api_mgmt_net.c - network access of a registry in the management API:
 *   "publicNetworkAccess" and "networkRuleSet" in the registry object (GET,
 *   and PATCH /api/v1/registries/<r>)
 *   GET    /api/v1/registries/<r>/networkRuleSet
 *   POST   /api/v1/registries/<r>/networkRuleSet/ipRules   {"value": "..."}
 *   DELETE /api/v1/registries/<r>/networkRuleSet/ipRules?value=...
 * Reading needs the read right on the registry, changing the write right.
 * Rules are stored in canonical form, so "10.0.0.0/8" and a later remove of
 * "10.000..." cannot disagree about what they name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "log.h"
#include "api_mgmt.h"
#include "banned.h"

static json_t *ruleset_json(const struct berth_meta_network *net)
{
    json_t *rules = json_array();
    size_t i;

    for (i = 0; i < net->nrules; i++)
        json_array_append_new(rules, json_pack("{s:s,s:s}", "action", "Allow", "value", net->rules[i]));
    return json_pack("{s:s,s:o}", "defaultAction", net->default_allow ? "Allow" : "Deny", "ipRules", rules);
}

void mgmt_network_json_add(struct authz *az, int64_t reg_id, json_t *o)
{
    struct berth_meta_network *net = berth_xmalloc(sizeof(*net));
    struct berth_err err = BERTH_ERR_INIT;

    if (az->meta->reg->network_get(az->meta, reg_id, net, &err) != BERTH_OK) {
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"cannot read network rules\" registry_id=%lld err=\"%s\"", (long long)reg_id,
                  berth_err_msg(&err));
    } else {
        json_object_set_new(o, "publicNetworkAccess", json_string(net->public_network ? "Enabled" : "Disabled"));
        json_object_set_new(o, "networkRuleSet", ruleset_json(net));
    }
    free(net);
}

/* Canonical text of rule s into out; BERTH_EREQUEST "<what> '<s>': <why>" when it is not an address or range. */
static enum berth_rc canonical_rule(const char *what, const char *s, char out[BERTH_META_IP_RULE_LEN],
                                    struct berth_err *err)
{
    struct berth_netrule r;
    struct berth_err lerr = BERTH_ERR_INIT;

    if (berth_netrule_parse(s, &r, &lerr) != BERTH_OK)
        return berth_err_set(err, BERTH_EREQUEST, "%s '%.64s': %s", what, s, berth_err_msg(&lerr));
    berth_netrule_format(&r, out, BERTH_META_IP_RULE_LEN);
    return BERTH_OK;
}

static int has_rule(const struct berth_meta_network *net, const char *rule)
{
    size_t i;
    for (i = 0; i < net->nrules; i++)
        if (!strcmp(net->rules[i], rule)) return 1;
    return 0;
}

/* An ip rule's "action": absent or "Allow" (ACR has no other). */
static enum berth_rc rule_action(json_t *v, const char *what, struct berth_err *err)
{
    if (!v) return BERTH_OK;
    if (!json_is_string(v) || strcasecmp(json_string_value(v), "Allow") != 0)
        return berth_err_set(err, BERTH_EREQUEST, "%s: action must be 'Allow'", what);
    return BERTH_OK;
}

/* Replaces net's rules with the array v of {"action":"Allow","value":"..."}. */
static enum berth_rc take_rules(json_t *v, struct berth_meta_network *net, struct berth_err *err)
{
    char what[64], rule[BERTH_META_IP_RULE_LEN];
    const char *key;
    json_t *e, *m;
    size_t i, n;
    enum berth_rc rc;

    if (!json_is_array(v))
        return berth_err_set(err, BERTH_EREQUEST,
                             "field 'networkRuleSet.ipRules' must be an array of {\"action\":\"Allow\",\"value\":...}");
    n = json_array_size(v);
    if (n > BERTH_META_IP_RULES_MAX)
        return berth_err_set(err, BERTH_EREQUEST, "networkRuleSet.ipRules has %zu rules; at most %d are allowed", n,
                             BERTH_META_IP_RULES_MAX);
    net->nrules = 0;
    json_array_foreach(v, i, e) {
        snprintf(what, sizeof(what), "networkRuleSet.ipRules[%zu]", i);
        if (!json_is_object(e)) return berth_err_set(err, BERTH_EREQUEST, "%s must be an object", what);
        json_object_foreach(e, key, m) {
            if (strcmp(key, "action") && strcmp(key, "value"))
                return berth_err_set(err, BERTH_EREQUEST, "%s: unknown field '%.64s'", what, key);
        }
        rc = rule_action(json_object_get(e, "action"), what, err);
        if (rc) return rc;
        m = json_object_get(e, "value");
        if (!json_is_string(m)) return berth_err_set(err, BERTH_EREQUEST, "%s: 'value' (a string) is required", what);
        rc = canonical_rule(what, json_string_value(m), rule, err);
        if (rc) return rc;
        if (has_rule(net, rule))
            return berth_err_set(err, BERTH_EREQUEST, "%s '%s' is given twice", what, json_string_value(m));
        memcpy(net->rules[net->nrules++], rule, sizeof(rule));
    }
    return BERTH_OK;
}

enum berth_rc mgmt_network_check(struct berth_req *req, const struct berth_meta_registry *reg, json_t *o,
                                 struct berth_meta_network **out, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_network *net = NULL;
    json_t *pub = json_object_get(o, "publicNetworkAccess"), *set = json_object_get(o, "networkRuleSet"), *v;
    const char *key;
    enum berth_rc rc = BERTH_OK;

    *out = NULL;
    if (!pub && !set) return BERTH_OK;
    net = berth_xmalloc(sizeof(*net));
    rc = m->reg->network_get(m, reg->id, net, err);
    if (rc) goto out;
    if (pub) {
        const char *s = json_string_value(pub);
        if (s && !strcasecmp(s, "Enabled")) net->public_network = 1;
        else if (s && !strcasecmp(s, "Disabled")) net->public_network = 0;
        else {
            rc = berth_err_set(err, BERTH_EREQUEST, "field 'publicNetworkAccess' must be 'Enabled' or 'Disabled'");
            goto out;
        }
    }
    if (set) {
        json_object_foreach(set, key, v) {
            if (strcmp(key, "defaultAction") && strcmp(key, "ipRules")) {
                rc = berth_err_set(err, BERTH_EREQUEST, "unknown field 'networkRuleSet.%.64s'", key);
                goto out;
            }
        }
        v = json_object_get(set, "defaultAction");
        if (v) {
            const char *s = json_string_value(v);
            if (s && !strcasecmp(s, "Allow")) net->default_allow = 1;
            else if (s && !strcasecmp(s, "Deny")) net->default_allow = 0;
            else {
                rc = berth_err_set(err, BERTH_EREQUEST, "field 'networkRuleSet.defaultAction' must be 'Allow' or 'Deny'");
                goto out;
            }
        }
        v = json_object_get(set, "ipRules");
        if (v) {
            rc = take_rules(v, net, err);
            if (rc) goto out;
        }
    }
    *out = net;
    net = NULL;
out:
    free(net);
    return rc;
}

void mgmt_network_warnings(struct berth_req *req, const struct berth_meta_network *net, json_t *doc)
{
    struct berth_netrule r;
    struct berth_err lerr = BERTH_ERR_INIT;
    json_t *list = json_object_get(doc, "warnings");
    char text[256], header[300];
    size_t i;

    for (i = 0; i < net->nrules; i++) {
        if (berth_netrule_parse(net->rules[i], &r, &lerr) != BERTH_OK || r.prefix != 0) continue;
        snprintf(text, sizeof(text),
                 "ip rule '%s' matches every %s client: the network rules let everyone in over %s, whatever "
                 "defaultAction says",
                 net->rules[i], r.addr.family == 4 ? "IPv4" : "IPv6", r.addr.family == 4 ? "IPv4" : "IPv6");
        if (!list) {
            list = json_array();
            json_object_set_new(doc, "warnings", list);
        }
        json_array_append_new(list, json_string(text));
        snprintf(header, sizeof(header), "299 - \"%s\"", text);
        berth_req_add_header(req, "Warning", header);
    }
}

enum berth_rc api_mgmt_network_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_network *net = NULL;
    json_t *doc = NULL;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    net = berth_xmalloc(sizeof(*net));
    rc = m->reg->network_get(m, reg.id, net, err);
    if (!rc) doc = ruleset_json(net);
    free(net);
    if (rc) return rc;
    return mgmt_reply(req, 200, doc, 0);
}

/* Answers 200 with the rule set as it is now; logs what changed (what NULL: nothing did). */
static enum berth_rc reply_rules(struct berth_req *req, const struct berth_meta_registry *reg, const char *what,
                                 const char *rule, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_network *net = berth_xmalloc(sizeof(*net));
    enum berth_rc rc = m->reg->network_get(m, reg->id, net, err);

    if (!rc && what)
        BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"%s\" registry=%s rule=%s principal=\"%s\"", req->id, what, reg->name,
                  rule, req->caller.principal);
    if (!rc) {
        json_t *doc = ruleset_json(net);
        mgmt_network_warnings(req, net, doc);
        rc = mgmt_reply(req, 200, doc, 0);
    }
    free(net);
    return rc;
}

/* Adding and removing one rule are single store transactions: concurrent changes never undo each other. */
enum berth_rc api_mgmt_iprule_add_finish(struct berth_req *req, struct berth_err *err)
{
    static const struct mgmt_field fields[] = {{"value", MT_STR}, {"action", MT_STR}};
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    char rule[BERTH_META_IP_RULE_LEN];
    int added = 0;
    json_t *o;
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    rc = mgmt_body(req, fields, MGMT_NFIELDS(fields), &o, err);
    if (!rc) rc = mgmt_required(o, "value", err);
    if (!rc) rc = rule_action(json_object_get(o, "action"), "ip rule", err);
    if (!rc) rc = canonical_rule("ip rule", mgmt_str(o, "value"), rule, err);
    if (rc) return rc;
    /* adding a rule that is there already changes nothing */
    rc = m->reg->network_rule_add(m, reg.id, rule, &added, err);
    if (rc == BERTH_EBUSY)
        return berth_err_set(err, BERTH_EREQUEST, "registry '%s' already has %d ip rules, the most allowed", reg.name,
                             BERTH_META_IP_RULES_MAX);
    if (rc) return rc;
    return reply_rules(req, &reg, added ? "ip rule added" : NULL, rule, err);
}

enum berth_rc api_mgmt_iprule_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    const char *value = req_query(req, "value");
    char rule[BERTH_META_IP_RULE_LEN];
    enum berth_rc rc;

    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    if (!value) return berth_err_set(err, BERTH_EREQUEST, "query parameter 'value' (the rule to remove) is required");
    rc = canonical_rule("ip rule", value, rule, err);
    if (rc) return rc;
    rc = m->reg->network_rule_remove(m, reg.id, rule, err);
    if (rc == BERTH_ENOENT)
        return berth_err_set(err, BERTH_ENOENT, "ip rule '%s' is not in the network rules of registry '%s'", rule,
                             reg.name);
    if (rc) return rc;
    return reply_rules(req, &reg, "ip rule removed", rule, err);
}
