/*
 * client.c - the client's requests to a berth server (each one a
 * berth_client_xfer): server URL and CA file from the options or the
 * session, timeouts, a login server reached through the server's address
 * (CONNECT_TO), streamed answers, and errors that name the cause and the
 * fix. Also forms, the management API call (berth_client_api) and the
 * password of a run.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lazy_curl.h"
#include "alloc.h"
#include "base64.h"
#include "client.h"
#include "banned.h"

#define RESP_MAX (16u << 20)

void berth_client_resp_release(struct berth_client_resp *r)
{
    if (!r) return;
    berth_buf_release(&r->body);
    free(r->next);
    free(r->digest);
    free(r->ctype);
    r->next = r->digest = r->ctype = NULL;
}

/* One transfer: the headers kept go to rs; a streamed answer's lines to rq->on_line while the status is a success. */
struct stream {
    const struct berth_client_req *rq;
    struct berth_client_resp *rs;
    struct berth_xfer_resp *xr;
    struct berth_buf partial; /* the line still being received */
};

static int on_stream(const char *p, size_t len, void *ud)
{
    struct stream *st = ud;
    size_t i, start = 0;

    if (st->xr->status >= 400) return berth_buf_append(&st->xr->body, p, len) == BERTH_OK ? 0 : -1;
    for (i = 0; i < len; i++) {
        if (p[i] != '\n') continue;
        if (berth_buf_append(&st->partial, p + start, i - start) != BERTH_OK) return -1;
        start = i + 1;
        if (st->partial.len && st->rq->on_line(st->partial.p, st->partial.len, st->rq->line_arg)) return 1;
        st->partial.len = 0;
    }
    return berth_buf_append(&st->partial, p + start, len - start) == BERTH_OK ? 0 : -1;
}

/* The target of rel="next" in a Link header value, malloc'd, or NULL. */
static char *link_next(const char *v)
{
    const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (!lt || !gt || !strstr(gt, "rel=\"next\"")) return NULL;
    return berth_xstrndup(lt + 1, (size_t)(gt - lt - 1));
}

/* The response headers kept, and where: Link keeps only its rel="next" target. */
static const struct {
    const char *name;
    size_t off;
} kept_headers[] = {
    {"Link", offsetof(struct berth_client_resp, next)},
    {"Docker-Content-Digest", offsetof(struct berth_client_resp, digest)},
    {"Content-Type", offsetof(struct berth_client_resp, ctype)},
};

static void on_header(const char *p, size_t len, void *ud)
{
    struct berth_client_resp *rs = ((struct stream *)ud)->rs;
    size_t i;

    for (i = 0; i < sizeof(kept_headers) / sizeof(kept_headers[0]); i++) {
        char **slot = (char **)((char *)rs + kept_headers[i].off);
        char *v = berth_client_header_value(p, len, kept_headers[i].name);
        if (!v) continue;
        if (slot == &rs->next) {
            char *target = link_next(v);
            free(v);
            v = target;
        }
        free(*slot);
        *slot = v;
        break;
    }
}

/* Splits "scheme://host[:port][/...]" into its "host:port" (default port by scheme) and scheme. */
void berth_client_url_hostport(const char *url, char *hp, size_t hplen, char *scheme, size_t slen)
{
    const char *s = strstr(url, "://"), *h = s ? s + 3 : url;
    size_t n = strcspn(h, "/?#");
    const char *after = h;
    int has_port;

    if (*h == '[') {
        const char *rb = memchr(h, ']', n);
        after = rb ? rb : h;
    }
    has_port = memchr(after, ':', n - (size_t)(after - h)) != NULL;
    snprintf(scheme, slen, "%.*s", s ? (int)(s - url) : 4, s ? url : "http");
    if (has_port) snprintf(hp, hplen, "%.*s", (int)n, h);
    else snprintf(hp, hplen, "%.*s:%s", (int)n, h, !strcmp(scheme, "https") ? "443" : "80");
}

static enum berth_rc transport_error(CURLcode cc, long os_errno, const char *errbuf, const char *base,
                                     const char *ca, struct berth_err *err)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED || strstr(errbuf, "refused"))
            return berth_err_set(err, BERTH_EUNAVAILABLE,
                                 "cannot connect to %s: connection refused; is 'berth serve' running there?", base);
        return berth_err_set(err, BERTH_EUNAVAILABLE, "cannot connect to %s: %s; check the address and the network",
                             base, errbuf);
    case CURLE_COULDNT_RESOLVE_HOST:
        return berth_err_set(err, BERTH_EUNAVAILABLE,
                             "cannot connect to %s: the host name does not resolve (DNS); check the server URL", base);
    case CURLE_OPERATION_TIMEDOUT:
        return berth_err_set(err, BERTH_EUNAVAILABLE, "cannot connect to %s: timed out (%s)", base, errbuf);
    case CURLE_SSL_CACERT_BADFILE:
        return berth_err_set(err, BERTH_EINVAL, "cannot read the CA file '%s': %s; pass --ca-file with a PEM file",
                             ca ? ca : "(system store)", errbuf);
    case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
    case CURLE_SSL_CACERT:
#endif
        if (strstr(errbuf, "expired"))
            return berth_err_set(err, BERTH_EUNAVAILABLE,
                                 "cannot connect to %s: its certificate has expired; renew it on the server", base);
        if (strstr(errbuf, "name") && (strstr(errbuf, "match") || strstr(errbuf, "subject")))
            return berth_err_set(err, BERTH_EUNAVAILABLE,
                                 "cannot connect to %s: the certificate is for another host name (%s); use the "
                                 "name the certificate names", base, errbuf);
        return berth_err_set(err, BERTH_EUNAVAILABLE,
                             "cannot connect to %s: certificate is not trusted: pass --ca-file FILE with the CA that "
                             "signed it", base);
    case CURLE_SSL_CONNECT_ERROR:
        return berth_err_set(err, BERTH_EUNAVAILABLE, "cannot connect to %s: TLS handshake failed: %s", base, errbuf);
    default:
        return berth_err_set(err, BERTH_EUNAVAILABLE, "cannot talk to %s: %s", base,
                             *errbuf ? errbuf : curl_easy_strerror(cc));
    }
}

/* The code for an HTTP error status. */
static enum berth_rc status_rc(long status)
{
    switch (status) {
    case 400: return BERTH_EREQUEST;
    case 401: return BERTH_EUNAUTHORIZED;
    case 403: return BERTH_EDENIED;
    case 404: return BERTH_ENOENT;
    case 409: return BERTH_EEXIST;
    case 413: return BERTH_ETOOBIG;
    case 429: return BERTH_ETOOMANY;
    default: return BERTH_EUNAVAILABLE;
    }
}

/* Is reason one of berth's own code names (EREQUEST, ENOENT), which add nothing to the OCI code? */
static int internal_reason(const char *reason)
{
    int i;
    for (i = 0; i < BERTH_RC_COUNT; i++)
        if (!strcmp(reason, berth_rc_name((enum berth_rc)i))) return 1;
    return 0;
}

static enum berth_rc http_error(const struct berth_client_req *rq, const struct berth_client_resp *rs,
                                struct berth_err *err)
{
    json_t *root = json_loadb(rs->body.p ? rs->body.p : "", rs->body.len, 0, NULL);
    const json_t *e = json_array_get(json_object_get(root, "errors"), 0);
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *reason = json_string_value(json_object_get(json_object_get(e, "detail"), "reason"));
    enum berth_rc rc = status_rc(rs->status);

    if (msg && code && reason && !internal_reason(reason))
        berth_err_set(err, rc, "%s (%ld %s, %s)", msg, rs->status, code, reason);
    else if (msg && code)
        berth_err_set(err, rc, "%s (%ld %s)", msg, rs->status, code);
    else
        berth_err_set(err, rc, "%s %s: the server answered HTTP %ld", rq->method, rq->path, rs->status);
    json_decref(root);
    return rc;
}

enum berth_rc berth_client_do(struct berth_client *cl, const struct berth_client_req *rq, struct berth_client_resp *rs,
                              struct berth_err *err)
{
    struct berth_xfer_req xq;
    struct berth_xfer_resp xr;
    char srv_hp[300], ls_hp[300], scheme[16], *url = NULL, *connect_to = NULL;
    const char *base, *ca;
    struct stream st;
    enum berth_rc rc;

    memset(&xr, 0, sizeof(xr));
    memset(&st, 0, sizeof(st));
    berth_buf_init(&st.partial, RESP_MAX);
    berth_buf_init(&rs->body, RESP_MAX);
    rs->status = 0;
    rs->next = rs->digest = rs->ctype = NULL;
    rc = berth_client_server_url(cl, &base, err);
    if (rc) goto out;
    ca = cl->ca_file ? cl->ca_file : cl->session_ca;
    berth_client_url_hostport(base, srv_hp, sizeof(srv_hp), scheme, sizeof(scheme));
    if (!strncmp(rq->path, "http://", 7) || !strncmp(rq->path, "https://", 8)) {
        url = berth_xstrdup(rq->path);
    } else if (rq->login_server) {
        url = berth_xasprintf("%s://%s%s", scheme, rq->login_server, rq->path);
        berth_client_url_hostport(url, ls_hp, sizeof(ls_hp), scheme, sizeof(scheme));
        if (strcasecmp(ls_hp, srv_hp) != 0) connect_to = berth_xasprintf("%s:%s", ls_hp, srv_hp);
    } else {
        url = berth_xasprintf("%s%s", base, rq->path);
    }
    memset(&xq, 0, sizeof(xq));
    xq.method = rq->method;
    xq.url = url;
    xq.connect_to = connect_to;
    xq.user_agent = "berth-cli";
    xq.auth = rq->auth;
    xq.content_type = rq->content_type;
    xq.accept = rq->accept;
    xq.body = rq->body;
    xq.body_len = rq->body_len;
    xq.ca_file = ca;
    xq.connect_timeout_s = 10;
    xq.timeout_s = rq->on_line ? 0 : 60;
    xq.body_max = RESP_MAX;
    xq.on_header = on_header;
    xq.arg = &st;
    st.rq = rq;
    st.rs = rs;
    st.xr = &xr;
    if (rq->on_line) {
        xq.on_body = on_stream;
        xq.cancel = rq->cancel;
    }
    rc = berth_client_xfer(&xq, &xr, err);
    /* the kept body is the answer's (or, streaming, an error answer's) */
    berth_buf_release(&rs->body);
    rs->body = xr.body;
    berth_buf_init(&xr.body, 0);
    if (rc == BERTH_OK && rq->on_line && st.partial.len && !xr.stopped)
        rq->on_line(st.partial.p, st.partial.len, rq->line_arg); /* a last line without its newline */
    if (rc == BERTH_EUNAVAILABLE) rc = transport_error((CURLcode)xr.cc, xr.os_errno, xr.errbuf, base, ca, err);
    if (rc) goto out;
    rs->status = xr.status;
    if (rs->status >= 400) rc = http_error(rq, rs, err);
out:
    berth_xfer_resp_release(&xr);
    berth_buf_release(&st.partial);
    free(connect_to);
    free(url);
    return rc;
}

char *berth_client_query_escape(const char *s)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    char *out, *eq;
    berth_client_form_add(&b, "x", s);
    eq = strchr(berth_buf_str(&b), '=');
    out = berth_xstrdup(eq + 1);
    berth_buf_release(&b);
    return out;
}

void berth_client_form_add(struct berth_buf *b, const char *k, const char *v)
{
    char *ek = curl_easy_escape(NULL, k, 0), *ev = curl_easy_escape(NULL, v ? v : "", 0);
    berth_buf_printf(b, "%s%s=%s", b->len ? "&" : "", ek ? ek : "", ev ? ev : "");
    curl_free(ek);
    curl_free(ev);
}

/* Parses the JSON body of rs into *out (NULL for an empty body). */
static enum berth_rc parse_json(const struct berth_client_req *rq, const struct berth_client_resp *rs, json_t **out,
                                struct berth_err *err)
{
    json_error_t je;
    *out = NULL;
    if (!rs->body.len) return BERTH_OK;
    *out = json_loadb(rs->body.p, rs->body.len, 0, &je);
    if (!*out)
        return berth_err_set(err, BERTH_EUNAVAILABLE, "%s %s: the answer is not JSON: %s", rq->method, rq->path,
                             je.text);
    return BERTH_OK;
}

enum berth_rc berth_client_post_form(struct berth_client *cl, const char *path, const char *login_server,
                                     const char *auth, const char *form, json_t **out, struct berth_err *err)
{
    struct berth_client_req rq = {.method = "POST", .path = path, .login_server = login_server, .auth = auth,
                         .content_type = "application/x-www-form-urlencoded", .body = form, .body_len = strlen(form),
                         .accept = "application/json"};
    struct berth_client_resp rs;
    enum berth_rc rc = berth_client_do(cl, &rq, &rs, err);
    if (!rc) rc = parse_json(&rq, &rs, out, err);
    berth_client_resp_release(&rs);
    return rc;
}

enum berth_rc berth_client_read_stdin_line(char **out, struct berth_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);

    *out = NULL;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n <= 0) {
        free(line);
        return berth_err_set(err, BERTH_EINVAL, "cannot read the password from stdin: it is empty");
    }
    *out = line;
    return BERTH_OK;
}

enum berth_rc berth_client_password(struct berth_client *cl, const char **pw, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;

    if (!cl->password && !cl->password_read && cl->password_stdin)
        rc = berth_client_read_stdin_line(&cl->password_read, err);
    *pw = cl->password ? cl->password : cl->password_read;
    return rc;
}

/* "Basic <base64(user:pass)>" for -u/-p, malloc'd. */
static enum berth_rc basic_auth(struct berth_client *cl, char **out, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char *pw;
    char *up;
    enum berth_rc rc = berth_client_password(cl, &pw, err);

    if (rc) return rc;
    if (!pw) return berth_err_set(err, BERTH_EINVAL, "-u %s needs a password: pass -p PASS or --password-stdin",
                                  cl->user);
    up = berth_xasprintf("%s:%s", cl->user, pw);
    berth_buf_puts(&b, "Basic ");
    berth_b64_encode(up, strlen(up), &b);
    memset(up, 0, strlen(up));
    free(up);
    *out = berth_buf_detach(&b, NULL);
    return BERTH_OK;
}

enum berth_rc berth_client_api(struct berth_client *cl, const char *method, const char *path, const json_t *body,
                               json_t **out, struct berth_err *err)
{
    struct berth_client_req rq;
    struct berth_client_resp rs = {0, BERTH_BUF_INIT(0), NULL, NULL, NULL};
    char *auth = NULL, *tok = NULL, *text = NULL, *full = NULL;
    json_t *parsed = NULL;
    enum berth_rc rc;

    if (out) *out = NULL;
    if (cl->user) {
        rc = basic_auth(cl, &auth, err);
    } else {
        rc = berth_client_directory_token(cl, &tok, err);
        if (!rc) auth = berth_xasprintf("Bearer %s", tok);
    }
    if (rc) goto out;
    full = berth_xasprintf("/api/v1%s", path);
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = full;
    rq.auth = auth;
    rq.accept = "application/json";
    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        rq.body = text;
        rq.body_len = strlen(text);
        rq.content_type = "application/json";
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0) {
        rq.body = "{}";
        rq.body_len = 2;
        rq.content_type = "application/json";
    }
    rc = berth_client_do(cl, &rq, &rs, err);
    if (rc) goto out;
    rc = parse_json(&rq, &rs, &parsed, err);
    if (rc) goto out;
    if (out) {
        *out = parsed;
        parsed = NULL;
    }
out:
    json_decref(parsed);
    berth_client_resp_release(&rs);
    free(text);
    free(full);
    free(auth);
    free(tok);
    return rc;
}
