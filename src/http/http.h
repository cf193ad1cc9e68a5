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

struct berth_http;
struct berth_req;

/* What a route requires of the caller, filled per request from the route row. */
enum berth_access_kind {
    BERTH_ACCESS_NONE = 0,   /* no check at all (health) */
    BERTH_ACCESS_BASE,       /* any authenticated caller: GET /v2/ */
    BERTH_ACCESS_REPOSITORY, /* repository:<name>:<actions> */
    BERTH_ACCESS_CATALOG,    /* registry:catalog:* */
};

struct berth_access {
    enum berth_access_kind kind;
    const char *repo;    /* borrowed: the request's repository name, or NULL */
    const char *actions; /* "pull", "push", "pull,push", "delete", "*" */
};

/*
 * The authorization hook. Called once per request, after routing and before
 * the body is read (so a refused upload costs no bytes). Return BERTH_OK to
 * allow; BERTH_EUNAUTHORIZED / BERTH_EDENIED with err->msg to refuse. The hook
 * may add response headers (a WWW-Authenticate challenge) with
 * berth_req_add_header. NULL hook: everything is allowed.
 */
typedef enum berth_rc (*berth_authorize_fn)(void *ctx, struct berth_req *req, const struct berth_access *need,
                                            struct berth_err *err);

struct berth_http_deps {
    const struct berth_config *cfg; /* borrowed for the server's lifetime */
    struct berth_meta *meta;        /* borrowed */
    struct berth_blobstore *blobs;  /* borrowed */
    berth_authorize_fn authorize;   /* may be NULL */
    void *authorize_ctx;
    int64_t default_registry;       /* registry id every request is served from */
};

/* Starts listening; *out owns the daemon. Errors name the address or the TLS file. */
enum berth_rc berth_http_start(const struct berth_http_deps *deps, struct berth_http **out, struct berth_err *err);
/*
 * Reads tls-cert and tls-key again and serves them to every new connection;
 * connections and requests in flight keep theirs. On an error (a file that
 * cannot be read or parsed, a key that is not the certificate's, an expired
 * certificate: BERTH_ECONFIG naming the file) the previous pair stays
 * served. BERTH_ENOENT on a plain HTTP server. Call from one thread at a time.
 */
enum berth_rc berth_http_reload_tls(struct berth_http *h, struct berth_err *err);
/* The port actually bound (useful with port 0). */
uint16_t berth_http_port(const struct berth_http *h);
/*
 * Stops accepting new connections, waits up to timeout_s for in-flight
 * requests, then stops the daemon and frees h. NULL-safe.
 */
void berth_http_stop(struct berth_http *h, int timeout_s);

/* Request accessors for hooks. Returned strings are borrowed for the request's lifetime. */
const char *berth_req_header(struct berth_req *req, const char *name);
const char *berth_req_client_ip(struct berth_req *req);
const char *berth_req_id(struct berth_req *req);
/* Adds a response header (copied). */
void berth_req_add_header(struct berth_req *req, const char *name, const char *value);

#endif
