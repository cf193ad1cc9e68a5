/*
 * http.h - the registry's HTTP server: libmicrohttpd glue, the route table
 * and the OCI Distribution API handlers.
 *
 * Threading: one internal polling thread (epoll) hands connections to a pool
 * of worker threads; every handler runs on a worker and may block briefly on
 * the metadata store and disk. See docs/internals/http.md.
 */
#ifndef BERTH_HTTP_H
#define BERTH_HTTP_H

#include <stdint.h>
#include "config.h"
#include "err.h"
#include "meta.h"
#include "store.h"
#include "wiring.h"

struct berth_http;
struct berth_req;

/*
 * Binds cfg's listen address, then calls berth_server_ready (the first
 * start's bootstrap) and starts serving srv: every route row states the
 * access it needs, and the access service (srv->az) decides it per request
 * (with config auth off, nothing is checked). Borrows srv until
 * berth_http_stop; *out owns the daemon. Errors name the address or the TLS
 * file.
 */
enum berth_rc berth_http_start(struct berth_server *srv, struct berth_http **out, struct berth_err *err);
/*
 * Reads the certificate and key at cert and key (the tls-cert and tls-key a
 * reloaded config names) and serves them to every new connection;
 * connections and requests in flight keep theirs. On an error (a file that
 * cannot be read or parsed, a key that is not the certificate's, an expired
 * certificate: BERTH_ECONFIG naming the file) the previous pair stays
 * served. BERTH_ENOENT on a plain HTTP server. Call from one thread at a time.
 */
enum berth_rc berth_http_reload_tls(struct berth_http *h, const char *cert, const char *key, struct berth_err *err);
/*
 * The checks berth_http_start makes of the settings a running server takes
 * on SIGHUP (external-url, metrics-access), for a config about to be
 * applied. BERTH_ECONFIG naming the key.
 */
enum berth_rc berth_http_settings_check(const struct berth_config *cfg, struct berth_err *err);
/* The port actually bound (useful with port 0). */
uint16_t berth_http_port(const struct berth_http *h);
/*
 * Stops accepting new connections, waits up to timeout_s for in-flight
 * requests, then stops the daemon and frees h. NULL-safe.
 */
void berth_http_stop(struct berth_http *h, int timeout_s);

/* Request accessors. Returned strings are borrowed for the request's lifetime. */
const char *berth_req_header(struct berth_req *req, const char *name);
/* Adds a response header (copied). */
void berth_req_add_header(struct berth_req *req, const char *name, const char *value);
/* Removes every response header called name (any case) added so far. */
void berth_req_drop_header(struct berth_req *req, const char *name);

#endif
