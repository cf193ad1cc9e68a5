/*
 * netcheck.h - where a request comes from: the client IP (the TCP peer, or
 * X-Forwarded-For from a trusted proxy), parsed once into req->caller. The
 * network rules are the access service's (authz_network, authz_mgmt_network).
 */
#ifndef BERTH_HTTP_NETCHECK_H
#define BERTH_HTTP_NETCHECK_H

#include "auth.h"
#include "config.h"
#include "meta.h"

struct berth_req;
struct berth_http;

/* The parsed server-wide lists; read-only after netcheck_new, shared by every thread. */
struct netcheck;

/* external-url: "" or http(s)://host[:port] with nothing after but one '/'; BERTH_ECONFIG naming the key. */
enum berth_rc netcheck_external_url_check(const char *u, struct berth_err *err);
/* Parses trusted-proxies (external-url is berth_http_settings_check's). BERTH_ECONFIG naming the key and the bad item. */
enum berth_rc netcheck_new(const struct berth_config *cfg, struct netcheck **out, struct berth_err *err);
void netcheck_free(struct netcheck *n); /* NULL-safe */

/*
 * Parses req->caller.ip (the TCP peer) into req->caller.addr. When the peer
 * is a trusted proxy, replaces the caller's address with the right-most
 * X-Forwarded-For address that is not itself a trusted proxy (the left-most
 * when all are); every X-Forwarded-For line counts, joined in order. A
 * header that cannot be walked that far (more than 8 KiB in all, an empty,
 * over-long or malformed item on the way) is BERTH_EREQUEST (400): the
 * proxy's own address is never used for a request the proxy forwarded. A
 * trusted proxy's request without the header is the proxy's own. From any
 * other peer the header is ignored.
 */
enum berth_rc netcheck_client_ip(struct netcheck *n, struct berth_req *req, struct berth_err *err);

/* Nonzero if a is in trusted-proxies. */
int netcheck_trusted_proxy(struct netcheck *n, const struct berth_netaddr *a);

/* Nonzero for the token service routes (/oauth2/...), which the registry's network rules also guard. */
int netcheck_oauth_route(const struct berth_req *req);

#endif
