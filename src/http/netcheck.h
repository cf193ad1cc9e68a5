/*
 * netcheck.h - network access checks of the http module: the client IP
 * (the TCP peer, or X-Forwarded-For from a trusted proxy), a registry's
 * network rules on /v2 and /oauth2, and the management networks on /api/v1.
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

/* Parses trusted-proxies and management-networks. BERTH_ECONFIG naming the key and the bad item. */
enum berth_rc netcheck_new(const struct berth_config *cfg, struct netcheck **out, struct berth_err *err);
void netcheck_free(struct netcheck *n); /* NULL-safe */

/*
 * When the TCP peer is a trusted proxy, replaces req->ip with the right-most
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

/*
 * Applies reg's network rules (read from meta now, so a change applies on
 * the next request) to req->ip. Refusal: BERTH_EDENIED with
 * req->auth_reason NETWORK_PUBLIC_DISABLED or NETWORK_IP_DENIED.
 */
enum berth_rc netcheck_registry(struct berth_http *h, struct berth_req *req, const struct berth_meta_registry *reg,
                                struct berth_err *err);

/*
 * /api/v1 only: with management-networks-only, a client outside
 * management-networks gets BERTH_EDENIED (reason NETWORK_IP_DENIED).
 * Otherwise every client may try (the API authenticates its callers).
 */
enum berth_rc netcheck_mgmt(struct netcheck *n, struct berth_req *req, struct berth_err *err);

#endif
