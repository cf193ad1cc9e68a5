/*
 * netcheck.c - network access: who the client is (the TCP peer, or what a
 * trusted proxy says in X-Forwarded-For), a registry's publicNetworkAccess
 * and networkRuleSet on /v2 and /oauth2, and the management networks on
 * /api/v1. Runs in req_begin before any credential is looked at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "log.h"
#include "http_int.h"
#include "netcheck.h"
#include "banned.h"

#define NETCHECK_MAGIC 0x4e455443u /* "NETC" */
#define LIST_MAX 1000              /* items in a configured list */
#define XFF_MAX 8192               /* bytes of X-Forwarded-For considered */

struct netcheck {
    uint32_t magic;
    struct berth_netrule *proxies; /* trusted-proxies */
    size_t nproxies;
    struct berth_netrule *mgmt; /* management-networks */
    size_t nmgmt;
    int mgmt_only;
};

enum berth_rc netcheck_new(const struct berth_config *cfg, struct netcheck **out, struct berth_err *err)
{
    struct netcheck *n = berth_xcalloc(1, sizeof(*n));
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_rc rc = BERTH_OK;

    n->magic = NETCHECK_MAGIC;
    n->mgmt_only = cfg->management_networks_only != 0;
    if (berth_netrules_parse_list(cfg->trusted_proxies, LIST_MAX, &n->proxies, &n->nproxies, &lerr) != BERTH_OK) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'trusted-proxies': %s", berth_err_msg(&lerr));
        goto out;
    }
    if (berth_netrules_parse_list(cfg->management_networks, LIST_MAX, &n->mgmt, &n->nmgmt, &lerr) != BERTH_OK) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'management-networks': %s", berth_err_msg(&lerr));
        goto out;
    }
    *out = n;
    n = NULL;
out:
    netcheck_free(n);
    return rc;
}

void netcheck_free(struct netcheck *n)
{
    if (!n) return;
    free(n->proxies);
    free(n->mgmt);
    n->magic = 0;
    free(n);
}

static struct netcheck *netcheck_of(struct netcheck *n)
{
    if (!n || n->magic != NETCHECK_MAGIC) abort();
    return n;
}

struct xff {
    struct berth_buf text; /* every X-Forwarded-For line, in order, joined with commas */
    int lines;
    int folded;            /* a line folded onto the next (see http_header_folded) */
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct xff *x = cls;
    (void)kind;
    if (!key) return MHD_YES;
    if (http_header_folded(key, "X-Forwarded-For")) x->folded = 1;
    if (!value || strcasecmp(key, "X-Forwarded-For") != 0) return MHD_YES;
    if (x->lines++) berth_buf_putc(&x->text, ',');
    berth_buf_puts(&x->text, value);
    return MHD_YES;
}

enum berth_rc netcheck_client_ip(struct netcheck *n, struct berth_req *req, struct berth_err *err)
{
    struct xff x = {BERTH_BUF_INIT(XFF_MAX), 0, 0};
    struct berth_buf *xff = &x.text;
    struct berth_netaddr peer, a, client;
    char item[64];
    size_t end;
    enum berth_rc rc = BERTH_OK;

    n = netcheck_of(n);
    if (!n->nproxies || berth_netaddr_parse(req->ip, &peer, NULL) != BERTH_OK) goto out;
    if (!berth_netrules_match(n->proxies, n->nproxies, &peer)) goto out;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &x);
    if (!x.lines && !x.folded) goto out; /* the proxy's own request */
    /* From here on the proxy names a client. A header that cannot be walked to the end that
       matters is refused: answering as the proxy's own address would give the client the
       proxy's standing in network rules, the management networks and /metrics. */
    if (x.folded) {
        rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s is folded over several "
                           "lines (obs-fold), which is not read", req->ip);
        goto out;
    }
    if (berth_buf_rc(xff) != BERTH_OK) {
        rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s is longer than %d bytes",
                           req->ip, XFF_MAX);
        goto out;
    }
    client = peer;
    end = xff->len;
    for (;;) {
        size_t start = end, b, e;
        while (start > 0 && xff->p[start - 1] != ',') start--;
        b = start;
        e = end;
        while (b < e && (xff->p[b] == ' ' || xff->p[b] == '\t')) b++;
        while (e > b && (xff->p[e - 1] == ' ' || xff->p[e - 1] == '\t')) e--;
        if (e == b || e - b >= sizeof(item)) {
            rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s has an %s item", req->ip,
                               e == b ? "empty" : "over-long");
            goto out;
        }
        memcpy(item, xff->p + b, e - b);
        item[e - b] = '\0';
        if (berth_netaddr_parse(item, &a, NULL) != BERTH_OK) {
            rc = berth_err_set(err, BERTH_EREQUEST,
                               "X-Forwarded-For from trusted proxy %s names '%s', which is not an IP address", req->ip,
                               item);
            goto out;
        }
        client = a;
        if (!berth_netrules_match(n->proxies, n->nproxies, &a)) break;
        if (start == 0) break;
        end = start - 1;
    }
    berth_netaddr_format(&client, req->ip, sizeof(req->ip));
out:
    berth_buf_release(xff);
    return rc;
}

int netcheck_trusted_proxy(struct netcheck *n, const struct berth_netaddr *a)
{
    n = netcheck_of(n);
    return n->nproxies && berth_netrules_match(n->proxies, n->nproxies, a);
}

int netcheck_oauth_route(const struct berth_req *req)
{
    return strncmp(req->path, "/oauth2/", 8) == 0;
}

/* Nonzero if ip (text) is inside one of the stored rule texts; a rule that does not parse matches nothing. */
static int allowed_by(const struct berth_meta_network *net, const struct berth_netaddr *ip, int64_t reg_id)
{
    struct berth_netrule r;
    size_t i;

    for (i = 0; i < net->nrules; i++) {
        if (berth_netrule_parse(net->rules[i], &r, NULL) != BERTH_OK) {
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"stored ip rule does not parse; ignored\" registry_id=%lld rule=\"%.64s\"",
                      (long long)reg_id, net->rules[i]);
            continue;
        }
        if (berth_netrule_match(&r, ip)) return 1;
    }
    return 0;
}

enum berth_rc netcheck_registry(struct berth_http *h, struct berth_req *req, const struct berth_meta_registry *reg,
                                struct berth_err *err)
{
    struct berth_meta_network *net = berth_xmalloc(sizeof(*net));
    struct berth_netaddr ip;
    enum berth_rc rc;

    rc = h->meta->reg->network_get(h->meta, reg->id, net, err);
    if (rc) goto out;
    if (!net->public_network) {
        req->auth_reason = BERTH_AUTH_NETWORK_PUBLIC_DISABLED;
        metrics_network_refusal();
        rc = berth_err_set(err, BERTH_EDENIED, "public network access is disabled for registry '%s'", reg->name);
        goto out;
    }
    if (net->default_allow) goto out;
    if (berth_netaddr_parse(req->ip, &ip, NULL) != BERTH_OK || !allowed_by(net, &ip, reg->id)) {
        req->auth_reason = BERTH_AUTH_NETWORK_IP_DENIED;
        metrics_network_refusal();
        rc = berth_err_set(err, BERTH_EDENIED,
                           "client IP %s is not allowed by the network rules of registry '%s' (default action Deny, "
                           "no rule matches)", req->ip, reg->name);
    }
out:
    free(net);
    return rc;
}

enum berth_rc netcheck_mgmt(struct netcheck *n, struct berth_req *req, struct berth_err *err)
{
    struct berth_netaddr ip;

    n = netcheck_of(n);
    if (!n->mgmt_only) return BERTH_OK;
    if (berth_netaddr_parse(req->ip, &ip, NULL) == BERTH_OK && berth_netrules_match(n->mgmt, n->nmgmt, &ip))
        return BERTH_OK;
    req->auth_reason = BERTH_AUTH_NETWORK_IP_DENIED;
    return berth_err_set(err, BERTH_EDENIED,
                         "client IP %s is not in the management networks of this server (setting "
                         "management-networks)",
                         req->ip);
}
