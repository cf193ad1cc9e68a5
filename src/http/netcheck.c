/*
 * netcheck.c - where a request comes from: the TCP peer, or what a trusted
 * proxy says in X-Forwarded-For (and, for the addresses berth answers with,
 * X-Forwarded-Proto and -Host), parsed once into the request's caller. The
 * network rules themselves (a registry's, the management networks) are
 * decisions of the access service (authz_network, authz_mgmt_network).
 * Runs in req_begin before any credential is looked at.
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
};

/* Whether s is a host[:port] a client could have asked for: a name or [IPv6], then digits. */
static int host_ok(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || len > 260) return 0;
    if (s[0] == '[') {
        for (i = 1; i < len && s[i] != ']'; i++)
            if (!strchr("0123456789abcdefABCDEF:.", s[i])) return 0;
        if (i == len) return 0;
        i++;
    } else {
        for (; i < len && s[i] != ':'; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                  s[i] == '.' || s[i] == '-'))
                return 0;
        if (i == 0) return 0;
    }
    if (i == len) return 1;
    if (s[i] != ':' || i + 1 == len || len - i > 6) return 0;
    for (i++; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

enum berth_rc netcheck_external_url_check(const char *u, struct berth_err *err)
{
    size_t skip, len;

    if (!u || !*u) return BERTH_OK;
    skip = !strncmp(u, "https://", 8) ? 8 : !strncmp(u, "http://", 7) ? 7 : 0;
    len = skip ? strlen(u + skip) : 0;
    if (len && u[skip + len - 1] == '/') len--;
    if (!skip || !host_ok(u + skip, len))
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'external-url': '%.200s' is not http(s)://host[:port] (no path: berth serves "
                             "from the root)",
                             u);
    return BERTH_OK;
}

enum berth_rc netcheck_new(const struct berth_config *cfg, struct netcheck **out, struct berth_err *err)
{
    struct netcheck *n = berth_xcalloc(1, sizeof(*n));
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_rc rc = BERTH_OK;

    n->magic = NETCHECK_MAGIC;
    if (berth_netrules_parse_list(cfg->trusted_proxies, LIST_MAX, &n->proxies, &n->nproxies, &lerr) != BERTH_OK) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'trusted-proxies': %s", berth_err_msg(&lerr));
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

/*
 * What a trusted proxy says the client asked for: X-Forwarded-Proto (http or
 * https) and X-Forwarded-Host (the first of a list, as the first proxy saw
 * it), for the token realm and the directory's endpoints. Anything else is
 * not taken: the request's own scheme and Host stand.
 */
static void forwarded_origin(struct berth_req *req)
{
    struct berth_caller *c = &req->caller;
    const char *proto = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Forwarded-Host");
    size_t len;

    if (proto && (!strcasecmp(proto, "https") || !strcasecmp(proto, "http")))
        snprintf(c->fwd_proto, sizeof(c->fwd_proto), "%s", strcasecmp(proto, "https") ? "http" : "https");
    if (host) {
        while (*host == ' ') host++;
        len = strcspn(host, ",");
        while (len && host[len - 1] == ' ') len--;
        if (host_ok(host, len) && len < sizeof(c->fwd_host)) snprintf(c->fwd_host, sizeof(c->fwd_host), "%.*s",
                                                                     (int)len, host);
    }
}

enum berth_rc netcheck_client_ip(struct netcheck *n, struct berth_req *req, struct berth_err *err)
{
    struct xff x = {BERTH_BUF_INIT(XFF_MAX), 0, 0};
    struct berth_buf *xff = &x.text;
    struct berth_caller *c = &req->caller;
    struct berth_netaddr peer, a, client;
    char item[64];
    size_t end;
    enum berth_rc rc = BERTH_OK;

    n = netcheck_of(n);
    c->addr_ok = berth_netaddr_parse(c->ip, &peer, NULL) == BERTH_OK;
    if (c->addr_ok) c->addr = peer;
    if (!n->nproxies || !c->addr_ok) goto out;
    if (!berth_netrules_match(n->proxies, n->nproxies, &peer)) goto out;
    forwarded_origin(req);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &x);
    if (!x.lines && !x.folded) goto out; /* the proxy's own request */
    /* From here on the proxy names a client. A header that cannot be walked to the end that
       matters is refused: answering as the proxy's own address would give the client the
       proxy's standing in network rules, the management networks and /metrics. */
    if (x.folded) {
        rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s is folded over several "
                           "lines (obs-fold), which is not read", c->ip);
        goto out;
    }
    if (berth_buf_rc(xff) != BERTH_OK) {
        rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s is longer than %d bytes",
                           c->ip, XFF_MAX);
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
            rc = berth_err_set(err, BERTH_EREQUEST, "X-Forwarded-For from trusted proxy %s has an %s item", c->ip,
                               e == b ? "empty" : "over-long");
            goto out;
        }
        memcpy(item, xff->p + b, e - b);
        item[e - b] = '\0';
        if (berth_netaddr_parse(item, &a, NULL) != BERTH_OK) {
            rc = berth_err_set(err, BERTH_EREQUEST,
                               "X-Forwarded-For from trusted proxy %s names '%s', which is not an IP address", c->ip,
                               item);
            goto out;
        }
        client = a;
        if (!berth_netrules_match(n->proxies, n->nproxies, &a)) break;
        if (start == 0) break;
        end = start - 1;
    }
    berth_netaddr_format(&client, c->ip, sizeof(c->ip));
    c->addr = client;
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
