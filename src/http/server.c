/*
 * server.c - libmicrohttpd glue: daemon start/stop, the per-request state
 * machine (route, authorize, begin, body, finish), responses with the
 * registry's common headers, and the access log.
 */
#include <arpa/inet.h>
#include <strings.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "access.h"
#include "conntrack.h"
#include "events.h"
#include "http_int.h"
#include "netcheck.h"
#include "tlscert.h"
#include "banned.h"

static const struct {
    const char *text;
    enum req_method m;
} methods[] = {
    {"GET", M_GET}, {"HEAD", M_HEAD}, {"PUT", M_PUT}, {"POST", M_POST}, {"PATCH", M_PATCH}, {"DELETE", M_DELETE},
};

static enum req_method method_of(const char *m)
{
    size_t i;
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcmp(m, methods[i].text)) return methods[i].m;
    return M_OTHER;
}

static void allow_text(unsigned allowed, char *out, size_t n)
{
    size_t i, used = 0;
    out[0] = '\0';
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        int w;
        if (!(allowed & methods[i].m)) continue;
        w = snprintf(out + used, n - used, "%s%s", used ? ", " : "", methods[i].text);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
}

const char *berth_req_header(struct berth_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void berth_req_add_header(struct berth_req *req, const char *name, const char *value)
{
    if (req->nheaders >= REQ_MAX_HEADERS) {
        BERTH_LOG(BERTH_LOG_ERROR, "req=%s msg=\"too many response headers\" header=%s", req->id, name);
        return;
    }
    req->headers[req->nheaders].name = berth_xstrdup(name);
    req->headers[req->nheaders].value = berth_xstrdup(value);
    req->nheaders++;
}

void berth_req_drop_header(struct berth_req *req, const char *name)
{
    int i, j = 0;
    for (i = 0; i < req->nheaders; i++) {
        if (!strcasecmp(req->headers[i].name, name)) {
            free(req->headers[i].name);
            free(req->headers[i].value);
            continue;
        }
        req->headers[j++] = req->headers[i];
    }
    req->nheaders = j;
}

void req_add_location(struct berth_req *req, const char *fmt, ...)
{
    char loc[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(loc, sizeof(loc), fmt, ap);
    va_end(ap);
    berth_req_add_header(req, "Location", loc);
}

const char *req_query(struct berth_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

enum berth_rc req_respond(struct berth_req *req, int status, struct MHD_Response *resp)
{
    int i;
    enum MHD_Result r;

    MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
    MHD_add_response_header(resp, "X-Request-Id", req->id);
    for (i = 0; i < req->nheaders; i++) MHD_add_response_header(resp, req->headers[i].name, req->headers[i].value);
    if (req->close) MHD_add_response_header(resp, "Connection", "close");
    r = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (r != MHD_YES) return BERTH_EINTERNAL;
    req->status = status;
    req->phase = REQ_RESPONDED;
    return BERTH_OK;
}

enum berth_rc req_respond_empty(struct berth_req *req, int status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return req_respond(req, status, resp);
}

enum berth_rc req_respond_json(struct berth_req *req, int status, struct berth_buf *body, const char *ctype)
{
    size_t len;
    char *p = berth_buf_detach(body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", ctype ? ctype : "application/json");
    req->bytes_out = len;
    return req_respond(req, status, resp);
}

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
    return berth_buf_append(data, buffer, size) == BERTH_OK ? 0 : -1;
}

enum berth_rc req_respond_json_doc(struct berth_req *req, int status, json_t *doc)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    int r = doc ? json_dump_callback(doc, dump_to_buf, &b, JSON_COMPACT) : -1;

    json_decref(doc);
    berth_buf_putc(&b, '\n');
    if (r != 0 || berth_buf_rc(&b) != BERTH_OK) {
        berth_buf_release(&b);
        return req_respond_error(req, BERTH_EINTERNAL, "cannot encode the answer");
    }
    return req_respond_json(req, status, &b, "application/json");
}

enum berth_rc req_respond_error(struct berth_req *req, enum berth_rc rc, const char *msg)
{
    struct berth_buf b = BERTH_BUF_INIT(0);

    req->rc = rc;
    /* what the access decision asked to answer a refusal with */
    if (req->caller.challenge) berth_req_add_header(req, "WWW-Authenticate", req->caller.challenge);
    if (req->caller.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", req->caller.retry_after);
        berth_req_add_header(req, "Retry-After", ra);
    }
    if (req->route && req->route->arm) {
        /* Azure Resource Manager's shape, berth's message */
        berth_buf_printf(&b, "{\"error\":{\"code\":\"%s\",\"message\":", arm_error_code(rc));
        berth_buf_json_str(&b, msg, strlen(msg));
        berth_buf_puts(&b, "}}\n");
        return req_respond_json(req, berth_rc_status(rc), &b, "application/json");
    }
    berth_buf_puts(&b, "{\"errors\":[{\"code\":\"");
    berth_buf_puts(&b, berth_rc_ocicode(rc));
    berth_buf_puts(&b, "\",\"message\":");
    berth_buf_json_str(&b, msg, strlen(msg));
    berth_buf_puts(&b, ",\"detail\":{\"reason\":\"");
    /* the client is told the reason it may know; the log keeps the exact one */
    berth_buf_puts(&b, req->caller.reason ? berth_auth_reason_name(berth_auth_reason_shown(req->caller.reason))
                                          : berth_rc_name(rc));
    berth_buf_puts(&b, "\"}}]}\n");
    return req_respond_json(req, berth_rc_status(rc), &b, "application/json");
}

static struct berth_req *req_new(struct berth_http *h, struct MHD_Connection *conn, const char *url,
                                 const char *method)
{
    struct berth_req *req = berth_xcalloc(1, sizeof(*req));
    const union MHD_ConnectionInfo *ci;
    unsigned char rnd[8];

    req->magic = BERTH_REQ_MAGIC;
    req->http = h;
    req->conn = conn;
    req->method = method_of(method);
    req->method_text = method;
    req->path = berth_xstrdup(url);
    req->registry_id = 0; /* the server's own; routes that serve a registry set theirs in req_begin */
    req->start_us = berth_mono_us();
    req->content_length = -1;
    req->ev_size = -1;
    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), req->id);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, req->caller.ip,
                      sizeof(req->caller.ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, req->caller.ip,
                      sizeof(req->caller.ip));
    }
    if (!req->caller.ip[0]) snprintf(req->caller.ip, sizeof(req->caller.ip), "-");
    pthread_mutex_lock(&h->lock);
    h->inflight++;
    pthread_mutex_unlock(&h->lock);
    return req;
}

static void req_free(struct berth_req *req)
{
    struct berth_http *h = req->http;
    int i;

    for (i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->path);
    free(req->name);
    free(req->param);
    free(req->saved);
    berth_caller_release(&req->caller);
    req->magic = 0;
    free(req);
    pthread_mutex_lock(&h->lock);
    h->inflight--;
    if (h->inflight == 0) pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
}

static int expects_body(struct berth_req *req)
{
    const char *te = berth_req_header(req, "Transfer-Encoding");
    if (te && strstr(te, "chunked")) return 1;
    return req->content_length > 0;
}

#define DRAIN_MAX (64 * 1024 * 1024)

/* Whether a refusal should be sent before reading the body (see on_request). */
static int answer_now(struct berth_req *req)
{
    const char *expect = berth_req_header(req, "Expect");
    const char *te = berth_req_header(req, "Transfer-Encoding");
    if (!expects_body(req)) return 0;
    if (expect && strcasecmp(expect, "100-continue") == 0) return 1;
    if (te && strstr(te, "chunked")) return 1;
    return req->content_length > DRAIN_MAX;
}

/* MHD's unescaping, except that %00 stays as it is: a NUL must never cut a
   name short, so "ab%00" reaches validation whole (and is refused). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *val)
{
    char *r = val, *w = val;
    (void)cls;
    (void)c;
    while (*r) {
        if (r[0] == '%' && berth_hex_digit(r[1]) >= 0 && berth_hex_digit(r[2]) >= 0 &&
            !(r[1] == '0' && r[2] == '0')) {
            *w++ = (char)(berth_hex_digit(r[1]) << 4 | berth_hex_digit(r[2]));
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - val);
}

int http_header_folded(const char *key, const char *name)
{
    size_t n = strlen(name);
    return strlen(key) > n && strncasecmp(key, name, n) == 0;
}

/* What one walk over the request's headers finds: their size (header-max) and the framing. */
struct framing {
    size_t bytes;           /* sum of header sizes */
    int folded;             /* Transfer-Encoding or Content-Length folded onto another line */
    int te, cl;             /* Transfer-Encoding and Content-Length lines */
    const char *te_last;    /* the last Transfer-Encoding line */
    const char *cl_first;
    int cl_differ;          /* two Content-Length lines disagree */
};

static enum MHD_Result note_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (!key) return MHD_YES;
    f->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
    if (http_header_folded(key, "Transfer-Encoding") || http_header_folded(key, "Content-Length")) f->folded = 1;
    if (!strcasecmp(key, "Transfer-Encoding")) {
        f->te++;
        f->te_last = value ? value : "";
    } else if (!strcasecmp(key, "Content-Length")) {
        if (f->cl++ == 0) f->cl_first = value ? value : "";
        else if (strcmp(f->cl_first, value ? value : "") != 0) f->cl_differ = 1;
    }
    return MHD_YES;
}

/* Whether a Transfer-Encoding value is just chunked: the only coding berth reads, and the only one
   libmicrohttpd frames by ("gzip, chunked" would be read as a body that ends with the connection). */
static int only_chunked(const char *te)
{
    size_t n;
    while (*te == ' ' || *te == '\t') te++;
    n = strlen(te);
    while (n && (te[n - 1] == ' ' || te[n - 1] == '\t')) n--;
    return n == 7 && !strncasecmp(te, "chunked", 7);
}

/*
 * RFC 9112 6.3: a request whose body length is ambiguous is refused and its
 * connection closed, since a proxy in front may have framed it differently
 * and whatever follows could be a request hidden in the body. Content-Length
 * with Transfer-Encoding, a Transfer-Encoding other than chunked alone,
 * Content-Length lines that disagree, and either header folded onto a
 * continuation line (which libmicrohttpd would not see as that header).
 * The same walk gives the headers' size for header-max (*bytes).
 */
static enum berth_rc framing_check(struct berth_req *req, size_t *bytes, struct berth_err *err)
{
    struct framing f;

    memset(&f, 0, sizeof(f));
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, note_framing, &f);
    *bytes = f.bytes;
    if (f.folded) {
        req->close = 1;
        return berth_err_set(err, BERTH_EREQUEST, "Transfer-Encoding or Content-Length folded over several lines "
                             "(obs-fold) is not read (RFC 9112 5.2, 6.3)");
    }
    if (f.te && f.cl) {
        req->close = 1;
        return berth_err_set(err, BERTH_EREQUEST, "a request may not carry both Content-Length and "
                             "Transfer-Encoding (RFC 9112 6.3)");
    }
    if (f.te && (f.te > 1 || !only_chunked(f.te_last))) {
        req->close = 1;
        return berth_err_set(err, BERTH_EREQUEST, "Transfer-Encoding '%.60s' is not supported: only chunked "
                             "(RFC 9112 6.3)", f.te_last);
    }
    if (f.cl_differ) {
        req->close = 1;
        return berth_err_set(err, BERTH_EREQUEST, "Content-Length lines disagree (RFC 9112 6.3)");
    }
    return BERTH_OK;
}

/* First call: route, check limits and access, let the route refuse before the body. */
static enum berth_rc req_begin(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    const char *cl = berth_req_header(req, "Content-Length");
    size_t hdr = 0;
    unsigned allowed = 0;
    uint64_t v;
    enum berth_rc rc;

    /* who is calling, as far as the headers tell; the address comes with the route (netcheck_client_ip) */
    berth_caller_headers(&req->caller, berth_req_header(req, "Host"), berth_req_header(req, "Authorization"));
    rc = framing_check(req, &hdr, err);
    if (rc) return rc;
    if (hdr > (size_t)h->cfg->header_max)
        return berth_err_set(err, BERTH_EHEADER, "request headers are %zu bytes, more than the %lld allowed", hdr,
                             (long long)h->cfg->header_max);
    if (cl) {
        if (berth_parse_u64(cl, strlen(cl), &v) != 0 || v > INT64_MAX)
            return berth_err_set(err, BERTH_ESIZE, "invalid Content-Length '%.40s'", cl);
        req->content_length = (int64_t)v;
    }
    req->route = berth_route_match(req->path, req->method, &req->name, &req->param, &allowed);
    if (!req->route && allowed) {
        char allow[96];
        allow_text(allowed, allow, sizeof(allow));
        berth_req_add_header(req, "Allow", allow);
        return berth_err_set(err, BERTH_EMETHOD, "method %s is not allowed on %s", req->method_text, req->path);
    }
    if (!req->route) return berth_err_set(err, BERTH_ENOROUTE, "no such endpoint: %s", req->path);
    if (req->name) {
        rc = berth_oci_name_check(req->name, strlen(req->name), err);
        if (rc) return rc;
    }
    rc = netcheck_client_ip(h->net, req, err);
    if (rc) return rc;
    /* /v2 and the token service serve a registry (the Host picks it); the directory and /api/v1 serve the server */
    if (req->route->kind != BERTH_ACCESS_NONE || netcheck_oauth_route(req)) req->registry_id = h->default_registry;
    if (req->route->kind != BERTH_ACCESS_NONE) {
        rc = authz_registry_of(h->az, &req->caller, NULL, err);
        if (rc) {
            req->caller.reason = BERTH_AUTH_UNKNOWN_REGISTRY;
            return rc;
        }
        req->registry_id = req->caller.reg.id;
        /* network rules come before any credential is looked at */
        rc = authz_network(h->az, &req->caller, err);
        if (rc) return rc;
    } else if (netcheck_oauth_route(req)) {
        struct berth_err lerr = BERTH_ERR_INIT;
        /* an unknown registry is left to the token service to answer, as before */
        if (authz_registry_of(h->az, &req->caller, NULL, &lerr) == BERTH_OK) {
            req->registry_id = req->caller.reg.id;
            rc = authz_network(h->az, &req->caller, err);
            if (rc) return rc;
        } else {
            req->caller.reason = BERTH_AUTH_OK;
        }
    } else if (req->route->begin == api_mgmt_begin) {
        /* the management API and ARM */
        rc = authz_mgmt_network(h->az, &req->caller, err);
        if (rc) return rc;
    }
    if (h->cfg->auth && req->route->kind != BERTH_ACCESS_NONE) {
        struct berth_access need = {req->route->kind, req->name, req->route->access,
                                    !strcmp(req->route->label, "tags")};
        rc = authz_authorize(h->az, &req->caller, &need, err);
        if (rc) return rc;
    }
    if (req->route->begin) return req->route->begin(req, err);
    return BERTH_OK;
}

/* Remembers an error to answer on the final call (a body is still being drained). */
static void defer_error(struct berth_req *req, enum berth_rc rc, const struct berth_err *err)
{
    req->failed = 1;
    req->rc = rc;
    if (!req->saved) req->saved = berth_xmalloc(sizeof(*req->saved));
    *req->saved = *err;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct berth_http *h = cls;
    struct berth_req *req = *con_cls;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc;

    (void)version;
    if (!req) {
        conntrack_head_begun(conn);
        req = req_new(h, conn, url, method);
        *con_cls = req;
        rc = req_begin(req, &err);
        req->phase = REQ_BEGUN;
        if (!rc) {
            metrics_request_begun(req);
            return MHD_YES;
        }
        /* Refuse before the body: a client waiting for 100 Continue, or one about to
           send more than we care to drain, is answered now. Otherwise the body is
           drained and the error answered on the final call, which keeps the
           connection and lets a client that does not wait read the answer. */
        if ((req->close || answer_now(req)) && req_respond_error(req, rc, berth_err_msg(&err)) == BERTH_OK) {
            req->failed = 1;
            return MHD_YES;
        }
        defer_error(req, rc, &err);
        return MHD_YES;
    }
    if (req->magic != BERTH_REQ_MAGIC) abort();
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        req->bytes_in += n;
        if (req->phase == REQ_RESPONDED || req->failed || !req->route->body) return MHD_YES;
        rc = req->route->body(req, upload_data, n, &err);
        if (rc && req_respond_error(req, rc, berth_err_msg(&err)) == BERTH_OK) req->failed = 1;
        else if (rc) defer_error(req, rc, &err);
        return MHD_YES;
    }
    if (req->phase == REQ_RESPONDED) return MHD_YES;
    if (req->failed) {
        rc = req_respond_error(req, req->rc, berth_err_msg(req->saved));
        return rc ? MHD_NO : MHD_YES;
    }
    rc = req->route->finish(req, &err);
    if (rc && req->phase != REQ_RESPONDED) {
        req->failed = 1;
        rc = req_respond_error(req, rc, berth_err_msg(&err));
    }
    return rc ? MHD_NO : MHD_YES;
}

static int is_credential_route(const struct route *r)
{
    return r->finish == api_token_get_finish || r->finish == api_token_post_finish || r->finish == api_explain_finish ||
           r->finish == api_exchange_finish || r->finish == api_directory_token_finish;
}

/* A login event: a credential endpoint, or a request that carried credentials or was refused for them or by
   network rules. */
static int is_login(struct berth_req *req)
{
    const struct route *r = req->route;
    if (!r) return 0;
    if (is_credential_route(r)) return 1;
    if (r->kind == BERTH_ACCESS_NONE && r->begin != api_mgmt_begin) return 0;
    return req->caller.reason != BERTH_AUTH_OK || req->caller.authorization != NULL;
}

/* The repository operation of a finished request, or NULL. */
static const char *repo_operation(struct berth_req *req, int *is_tag)
{
    const char *label = req->route ? req->route->label : "";
    *is_tag = req->param && !strchr(req->param, ':');
    if (!req->name) return NULL;
    if (!strcmp(label, "manifest_put")) return "push";
    if (!strcmp(label, "manifest_get")) return req->method == M_GET ? "pull" : NULL;
    if (!strcmp(label, "manifest_delete")) return *is_tag ? "untag" : "delete";
    *is_tag = 0;
    if (!strcmp(label, "upload_put")) return "blob_push";
    if (!strcmp(label, "upload_post")) return req->ev_digest[0] ? "blob_push" : NULL;
    if (!strcmp(label, "blob_delete")) return "blob_delete";
    if (!strcmp(label, "repository_delete")) return "repository_delete";
    return NULL;
}

/* What the finished request adds to the login and repository event logs. */
static void record_events(struct berth_http *h, struct berth_req *req)
{
    struct berth_event_facts f;
    int is_tag = 0;

    if (!req->route) return;
    memset(&f, 0, sizeof(f));
    f.repo_op = repo_operation(req, &is_tag);
    f.login = is_login(req);
    if (!f.repo_op && !f.login) return;
    f.operation = req->route->label;
    f.registry_id = req->registry_id;
    f.repository = req->name;
    f.tag = is_tag ? req->param : NULL;
    if (req->ev_digest[0]) f.digest = req->ev_digest;
    else if (req->param && strchr(req->param, ':')) f.digest = req->param;
    f.media_type = req->ev_media_type;
    f.artifact_type = req->ev_artifact_type;
    f.size = req->ev_size;
    f.user_agent = berth_req_header(req, "User-Agent");
    f.request_id = req->id;
    f.status = req->status;
    f.rc = req->rc;
    f.duration_us = berth_mono_us() - req->start_us;
    events_record(h->events, &req->caller, &f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct berth_req *req = *con_cls;
    struct berth_http *h = cls;
    const char *ua;

    conntrack_head_wait(h->conns, conn);
    if (!req) return;
    if (req->magic != BERTH_REQ_MAGIC) abort();
    if (req->route && req->route->cleanup)
        req->route->cleanup(req, req->failed || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    metrics_request_done(req);
    record_events(h, req);
    if (BERTH_CFG_LIVE(h->cfg, access_log) && BERTH_LOG_ON(BERTH_LOG_INFO)) {
        /* the path, the User-Agent and a name tried are the client's words: escaped, they cannot end the value
           or the line */
        char qpath[320], qua[140], qwho[300];
        ua = berth_req_header(req, "User-Agent");
        BERTH_LOG(BERTH_LOG_INFO,
                  "req=%s msg=access ip=%s method=%s path=\"%.300s\" route=%s status=%d code=%s reason=%s "
                  "principal=\"%s\" bytes_in=%llu bytes_out=%llu dur_ms=%.3f end=%s ua=\"%s\"",
                  req->id, req->caller.ip, req->method_text, berth_log_quote(req->path, qpath, sizeof(qpath)),
                  req->route ? req->route->label : "-",
                  req->status,
                  req->rc ? berth_rc_ocicode(req->rc) : "-",
                  req->caller.reason ? berth_auth_reason_name(req->caller.reason) : "-",
                  berth_log_quote(req->caller.principal[0] ? req->caller.principal : "-", qwho, sizeof(qwho)),
                  (unsigned long long)req->bytes_in,
                  (unsigned long long)req->bytes_out, (double)(berth_mono_us() - req->start_us) / 1000.0,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "ok" : "aborted",
                  berth_log_quote(ua ? ua : "-", qua, sizeof(qua)));
    }
    *con_cls = NULL;
    req_free(req);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    /* A TLS hello or garbage on the plain port is the client's problem, not ours. */
    if (strstr(msg, "Request malformed") || strstr(msg, "syntactically incorrect"))
        BERTH_LOG(BERTH_LOG_DEBUG, "msg=\"http: %s\"", msg);
    else
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"http: %s\"", msg);
}

static enum berth_rc parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                                  struct berth_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    uint64_t port;
    size_t hl;

    memset(ss, 0, sizeof(*ss));
    if (!colon || berth_parse_u64(colon + 1, strlen(colon + 1), &port) != 0 || port > 65535)
        return berth_err_set(err, BERTH_ECONFIG, "config 'listen': '%s' is not HOST:PORT (port 0..65535)", listen);
    hl = (size_t)(colon - listen);
    if (hl >= sizeof(host)) return berth_err_set(err, BERTH_ECONFIG, "config 'listen': host too long");
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return berth_err_set(err, BERTH_ECONFIG, "config 'listen': '%s' is not an IPv6 address", host + 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*s6);
        return BERTH_OK;
    }
    {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
        if (hl == 0 || !strcmp(host, "*")) s4->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (!strcmp(host, "localhost")) s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return berth_err_set(err, BERTH_ECONFIG, "config 'listen': '%s' is not an IPv4 address", host);
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*s4);
    }
    return BERTH_OK;
}

/*
 * Binds and listens on ss without SO_REUSEPORT, so that a second server on a
 * taken address fails here instead of sharing the port and taking half of
 * its connections. SO_REUSEADDR only lets a restart bind past TIME_WAIT.
 */
static enum berth_rc listen_on(const char *listen_text, const struct sockaddr_storage *ss, socklen_t sslen,
                               int *out, struct berth_err *err)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1, e;
    enum berth_rc rc = BERTH_OK;

    if (fd < 0) return berth_err_sys(err, BERTH_EIO, errno, "cannot listen on %s: socket", listen_text);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "cannot listen on %s: setsockopt", listen_text);
        goto out;
    }
    if (bind(fd, (const struct sockaddr *)ss, sslen) != 0) {
        e = errno;
        if (e == EADDRINUSE)
            rc = berth_err_set(err, BERTH_EIO, "cannot listen on %s: the address is already in use (is another "
                               "server running there?)", listen_text);
        else
            rc = berth_err_sys(err, BERTH_EIO, e, "cannot listen on %s: bind", listen_text);
        goto out;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "cannot listen on %s: listen", listen_text);
        goto out;
    }
    *out = fd;
    fd = -1;
out:
    if (fd >= 0) close(fd);
    return rc;
}

#define HEAD_SLACK (16 * 1024) /* room in a connection's buffer beyond the request head: header list, answer head */

/* A request head of header-max bytes must fit in a connection's buffer, or libmicrohttpd refuses it
   itself, before berth sees it, with an answer that is not an OCI error. */
static enum berth_rc limits_check(const struct berth_config *cfg, struct berth_err *err)
{
    if (cfg->connection_memory < cfg->header_max + HEAD_SLACK)
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'connection-memory' (%lld) must be at least 'header-max' (%lld) + 16K, so that "
                             "every request head it allows fits",
                             (long long)cfg->connection_memory, (long long)cfg->header_max);
    return BERTH_OK;
}

/* Frees everything the transport owns once the daemon is gone; the service (srv) stays its opener's. */
static void http_free(struct berth_http *h)
{
    conntrack_free(h->conns);
    netcheck_free(h->net);
    upload_table_free(h->uploads);
    tlscert_free(h->tls);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->idle);
    free(h);
}

enum berth_rc berth_http_start(struct berth_server *srv, struct berth_http **out, struct berth_err *err)
{
    struct berth_http *h = berth_xcalloc(1, sizeof(*h));
    const struct berth_config *cfg = srv->cfg;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME; /* followed log streams wait suspended (events.h) */
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 0;
    const union MHD_DaemonInfo *di;
    int lfd = -1;
    enum berth_rc rc;

    h->srv = srv;
    h->cfg = cfg;
    h->meta = srv->meta;
    h->blobs = srv->blobs;
    h->default_registry = srv->default_registry;
    h->az = srv->az;
    h->events = srv->events;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    rc = limits_check(cfg, err);
    if (rc) goto fail;
    /* the address first: a server that cannot listen must not bootstrap anything */
    rc = parse_listen(cfg->listen, &ss, &sslen, err);
    if (rc) goto fail;
    rc = listen_on(cfg->listen, &ss, sslen, &lfd, err);
    if (rc) goto fail;
    rc = berth_http_settings_check(cfg, err);
    if (rc) goto fail;
    rc = netcheck_new(cfg, &h->net, err);
    if (rc) goto fail;
    rc = conntrack_new(cfg, h->net, &h->conns, err);
    if (rc) goto fail;
    /* bound: now the first start may bootstrap */
    rc = berth_server_ready(srv, err);
    if (rc) goto fail;
    h->uploads = upload_table_new();
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 2;
    }
    if (cfg->tls_cert[0] || cfg->tls_key[0]) {
        if (!cfg->tls_cert[0] || !cfg->tls_key[0]) {
            rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-cert' and 'tls-key' must be given together");
            goto fail;
        }
        rc = tlscert_new(cfg, &h->tls, err);
        if (rc) goto fail;
        flags |= MHD_USE_TLS;
    }
    h->daemon = MHD_start_daemon(
        flags, 0, conntrack_accept, h->conns, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, lfd,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->connection_memory, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, conntrack_notify, h->conns,
        /*
         * Before each read libmicrohttpd grows the read buffer when fewer than this many bytes are
         * free in it. Asking for the whole pool grows it, by an eighth of what is left each time,
         * until under 8K of the pool is left: a body then arrives about 90K per read instead of the
         * 48K a fresh buffer holds (96K pool), half the reads and wake-ups of an upload.
         */
        MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)cfg->connection_memory,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        /* asked on every handshake, so a reloaded pair reaches every new connection */
        h->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, tlscert_retrieve, MHD_OPTION_END);
    if (!h->daemon) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "cannot start the HTTP server on %s%s", cfg->listen,
                           h->tls ? " (or the TLS certificate/key was refused)" : "");
        goto fail;
    }
    lfd = -1; /* the daemon owns it now */
    di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : 0;
    *out = h;
    return BERTH_OK;
fail:
    if (lfd >= 0) close(lfd);
    http_free(h);
    return rc;
}

enum berth_rc berth_http_reload_tls(struct berth_http *h, const char *cert, const char *key, struct berth_err *err)
{
    if (!h->tls) return berth_err_set(err, BERTH_ENOENT, "the server serves plain HTTP: no certificate to reload");
    return tlscert_reload(h->tls, cert, key, err);
}

enum berth_rc berth_http_settings_check(const struct berth_config *cfg, struct berth_err *err)
{
    enum berth_rc rc = metrics_config_check(cfg, err);
    return rc ? rc : netcheck_external_url_check(cfg->external_url, err);
}

int http_tls_period(struct berth_http *h, struct berth_doctor_tls *out)
{
    return tlscert_period(h->tls, out);
}

uint16_t berth_http_port(const struct berth_http *h)
{
    return h->port;
}

void berth_http_stop(struct berth_http *h, int timeout_s)
{
    struct timespec deadline;
    MHD_socket lsock;
    int left;

    if (!h) return;
    lsock = MHD_quiesce_daemon(h->daemon);
    events_follow_stop(h->events); /* followed streams end now; none may stay suspended past MHD_stop_daemon */
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&h->lock);
    while (h->inflight > 0) {
        if (pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == ETIMEDOUT) break;
    }
    left = h->inflight;
    pthread_mutex_unlock(&h->lock);
    if (left) BERTH_LOG(BERTH_LOG_WARN, "msg=\"stopping with requests still in flight\" inflight=%d", left);
    conntrack_stop(h->conns); /* no socket is shut down once the daemon starts closing them */
    MHD_stop_daemon(h->daemon);
    if (lsock != MHD_INVALID_SOCKET) close(lsock);
    http_free(h);
}
