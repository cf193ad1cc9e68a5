/*
 * xfer.c - the one place a libcurl request is built: method, URL, the
 * address to connect to instead, headers, body, TLS (CA file, insecure,
 * certificate chain), proxy, timeouts and capture of the answer (status
 * while it arrives, headers and body through hooks or a capped buffer,
 * timings, the address connected to). The management client (client.c) and
 * the check-health probes (health_probe.c) both send through it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lazy_curl.h"
#include "alloc.h"
#include "client.h"
#include "banned.h"

_Static_assert(sizeof(((struct berth_xfer_resp *)0)->errbuf) >= CURL_ERROR_SIZE, "errbuf is libcurl's error buffer");

struct xfer {
    const struct berth_xfer_req *rq;
    struct berth_xfer_resp *rs;
};

void berth_xfer_resp_release(struct berth_xfer_resp *rs)
{
    if (!rs) return;
    berth_buf_release(&rs->body);
}

char *berth_client_header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name), e;
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return NULL;
    line += nl + 1;
    len -= nl + 1;
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    e = len;
    while (e && isspace((unsigned char)line[e - 1])) e--;
    return berth_xstrndup(line, e);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    int r;

    if (x->rq->on_body) {
        r = x->rq->on_body(p, len, x->rq->arg);
        if (r > 0) x->rs->stopped = 1;
        return r ? 0 : len;
    }
    if (x->rq->flags & BERTH_XFER_TRUNCATE) {
        if (x->rs->body.len + len <= x->rq->body_max) berth_buf_append(&x->rs->body, p, len);
        return len; /* keep the start, drop the rest */
    }
    return berth_buf_append(&x->rs->body, p, len) == BERTH_OK ? len : 0;
}

/* "HTTP/1.1 401 Unauthorized": the status of the answer whose headers follow. */
static void status_line(struct berth_xfer_resp *rs, const char *p, size_t len)
{
    const char *sp = memchr(p, ' ', len);
    long v = 0;
    size_t i;

    if (!sp) return;
    for (i = (size_t)(sp - p) + 1; i < len && isdigit((unsigned char)p[i]); i++) v = v * 10 + (p[i] - '0');
    if (v) rs->status = v;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;

    if (len > 5 && !strncmp(p, "HTTP/", 5)) status_line(x->rs, p, len);
    if (x->rq->on_header) x->rq->on_header(p, len, x->rq->arg);
    return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct xfer *x = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    if (*x->rq->cancel) {
        x->rs->stopped = 1;
        return 1;
    }
    return 0;
}

/* Appends "name: value" to the header list; the line may hold a secret, so it is wiped. */
static struct curl_slist *add_header(struct curl_slist *h, const char *name, const char *value)
{
    char *line;
    if (!value) return h;
    line = berth_xasprintf("%s: %s", name, value);
    h = curl_slist_append(h, line);
    memset(line, 0, strlen(line));
    free(line);
    return h;
}

enum berth_rc berth_client_xfer(const struct berth_xfer_req *rq, struct berth_xfer_resp *rs, struct berth_err *err)
{
    CURL *c;
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    struct curl_certinfo *ci = NULL;
    struct xfer x = {rq, rs};
    char *ip = NULL;
    double t;
    CURLcode cc;
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_rc rc = BERTH_OK;
    int i;

    memset(rs, 0, sizeof(*rs));
    berth_buf_init(&rs->body, rq->flags & BERTH_XFER_TRUNCATE ? 0 : rq->body_max);
    rc = berth_lazy_load(BERTH_LIB_CURL, &lerr); /* main() loaded it for a command; this covers every other caller */
    if (rc) {
        snprintf(rs->errbuf, sizeof(rs->errbuf), "%s", berth_err_msg(&lerr));
        rs->cc = (int)CURLE_FAILED_INIT;
        return berth_err_set(err, rc, "%s", berth_err_msg(&lerr));
    }
    c = curl_easy_init();
    if (!c) {
        snprintf(rs->errbuf, sizeof(rs->errbuf), "cannot start libcurl");
        rs->cc = (int)CURLE_FAILED_INIT;
        return berth_err_set(err, BERTH_EINTERNAL, "cannot start libcurl");
    }
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rs->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, rq->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rq->user_agent) curl_easy_setopt(c, CURLOPT_USERAGENT, rq->user_agent);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    if (rq->cancel) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    }
    if (rq->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, rq->ca_file);
    if (rq->flags & BERTH_XFER_INSECURE) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->flags & BERTH_XFER_CERTINFO) curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    if (rq->proxy) curl_easy_setopt(c, CURLOPT_PROXY, rq->proxy);
    if (rq->flags & BERTH_XFER_NOPROXY) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (rq->connect_to) {
        connect_to = curl_slist_append(connect_to, rq->connect_to);
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
    }
    if (!strcmp(rq->method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(rq->method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rq->body_len);
    }
    hdrs = curl_slist_append(hdrs, rq->flags & BERTH_XFER_EXPECT ? "Expect: 100-continue" : "Expect:");
    hdrs = add_header(hdrs, "Content-Type", rq->content_type);
    hdrs = add_header(hdrs, "Accept", rq->accept);
    hdrs = add_header(hdrs, "Authorization", rq->auth);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    cc = curl_easy_perform(c);
    if (cc != CURLE_OK && rs->stopped) cc = CURLE_OK;
    rs->cc = (int)cc;
    if (curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &t) == CURLE_OK) rs->connect_ms = t * 1000;
    if (curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &t) == CURLE_OK) rs->total_ms = t * 1000;
    if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(rs->primary_ip, sizeof(rs->primary_ip), "%s", ip);
    if ((rq->flags & BERTH_XFER_CERTINFO) && rq->on_cert && curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK &&
        ci)
        for (i = 0; i < ci->num_of_certs; i++) rq->on_cert(i, ci->certinfo[i], rq->arg);
    if (cc != CURLE_OK) {
        rs->status = 0;
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &rs->os_errno);
        if (!rs->errbuf[0]) snprintf(rs->errbuf, sizeof(rs->errbuf), "%s", curl_easy_strerror(cc));
        if (berth_buf_rc(&rs->body))
            rc = berth_err_set(err, BERTH_ETOOBIG, "the answer of %s is over %zu bytes", rq->url, rq->body_max);
        else
            rc = berth_err_set(err, BERTH_EUNAVAILABLE, "%s: %s", rq->url, rs->errbuf);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    curl_easy_cleanup(c);
    return rc;
}
