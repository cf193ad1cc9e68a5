/*
 * blobstore_s3.c - the S3 blob store driver ("s3"): blobs are objects
 * blobs/<alg>/<hex> in one bucket (under an optional prefix), an upload is a
 * few objects under uploads/<uuid>/ plus a multipart upload, every request
 * is signed with AWS Signature V4 (sigv4.c) and sent over libcurl handles
 * kept in a pool. The pure parts (the URL, credentials, XML, resume data,
 * part sizes) are in s3_parse.c. See docs/internals/store.md.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "lazy_curl.h"
#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "s3_int.h"
#include "sigv4.h"
#include "store.h"
#include "util.h"
#include "banned.h"

#define POOL_MAX 16                  /* idle curl handles kept (each keeps its connection) */
#define KEY_MAX 192                  /* a key under the prefix: "blobs/sha512/<128 hex>" is the longest */
#define XML_MAX (8u << 20)           /* an answer we parse: a page of 1,000 keys is ~300 KiB */
#define ERR_BODY_MAX (64u << 10)     /* a failure's body, kept for its Code and Message */
#define MP_OBJECT_MAX (BERTH_S3_UPLOAD_ID_MAX + 1)
#define PRESIGN_S 1200               /* a redirect URL is good for 20 minutes */
#define CONNECT_TIMEOUT_S 10L
#define LOW_SPEED_LIMIT 1L           /* bytes per second ... */
#define LOW_SPEED_TIME_S 120L        /* ... over this long, else the transfer has stalled */
#define TRIES 3                      /* a request that met a network error or a 5xx is sent up to this often */
#define COPY_PIECE ((uint64_t)1 << 30) /* UploadPartCopy pieces of a blob over 5 GiB */
#define CHECK_BYTES 16

/*
 * One open store. conf, creds and shown are written by s3_open before the
 * object is handed out and only read afterwards; lock guards pool and npool.
 */
struct s3_store {
    struct berth_blobstore base; /* first member: callers hold &base */
    struct berth_s3_conf conf;
    struct berth_s3_creds creds;
    char *shown; /* "s3://bucket/prefix at http://endpoint", for messages */
    pthread_mutex_t lock;
    CURL *pool[POOL_MAX];
    size_t npool;
};

static void s3_close(struct berth_blobstore *bs);

static struct s3_store *s3_of(struct berth_blobstore *bs)
{
    if (!bs || bs->magic != BERTH_BLOBSTORE_MAGIC || bs->ops != &berth_blobstore_s3_ops) abort();
    return (struct s3_store *)bs;
}

/* ---------------------------------------------------------------- transport */

struct s3_hdr {
    const char *name, *value;
};

/* One request. Strings are borrowed for the call. */
struct s3_req {
    const char *op;        /* S3's name of the operation, for messages: "PutObject" */
    const char *method;    /* GET HEAD PUT POST DELETE */
    const char *key;       /* under the prefix; NULL: the bucket itself */
    const char *query;     /* encoded, or NULL */
    struct s3_hdr hdrs[4]; /* more headers, all signed; a NULL name ends them */
    const char *body;      /* PUT or POST body (may be NULL with body_len 0) */
    size_t body_len;
    int no_retry;          /* not idempotent: sent once */
    /* where the body of a 2xx answer goes (none: dropped) */
    char *dst;             /* a caller's buffer of dst_len bytes */
    size_t dst_len;
    struct berth_hasher *hash;
    struct berth_buf *out; /* capped by its max */
};

struct s3_resp {
    long status;
    uint64_t length; /* Content-Length, when has_length */
    int has_length;
    char etag[BERTH_S3_ETAG_MAX];
    uint64_t offset; /* x-amz-meta-offset of a tail object, when has_offset */
    int has_offset;
    uint64_t got;    /* bytes of a 2xx body taken */
    int overflow;    /* the body did not fit where it was to go */
    struct berth_buf ebody; /* a failure's body */
    char errbuf[CURL_ERROR_SIZE];
};

static void resp_init(struct s3_resp *rs)
{
    memset(rs, 0, sizeof(*rs));
    berth_buf_init(&rs->ebody, ERR_BODY_MAX);
}

static void resp_release(struct s3_resp *rs)
{
    berth_buf_release(&rs->ebody);
}

/* The transfer's state, for the callbacks. */
struct xfer {
    const struct s3_req *rq;
    struct s3_resp *rs;
    size_t sent; /* body bytes handed to libcurl */
};

static int ok_status(long s)
{
    return s >= 200 && s < 300;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    const struct s3_req *rq = x->rq;
    size_t len = size * n;

    if (!ok_status(x->rs->status)) {
        /* keep the start of an error body, drop the rest */
        if (x->rs->ebody.len + len <= ERR_BODY_MAX) berth_buf_append(&x->rs->ebody, p, len);
        return len;
    }
    if (rq->dst) {
        if (len > rq->dst_len - x->rs->got) {
            x->rs->overflow = 1;
            return 0;
        }
        memcpy(rq->dst + x->rs->got, p, len);
    } else if (rq->hash) {
        berth_hasher_update(rq->hash, p, len);
    } else if (rq->out && berth_buf_append(rq->out, p, len) != BERTH_OK) {
        x->rs->overflow = 1;
        return 0;
    }
    x->rs->got += len;
    return len;
}

/* Header line p[0..len) named name (case-insensitive): its trimmed value into out, or 0. */
static int header_is(const char *p, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), e;

    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':') return 0;
    p += nl + 1;
    len -= nl + 1;
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    e = len;
    while (e && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' ' || p[e - 1] == '\t')) e--;
    if (e >= cap) return 0;
    memcpy(out, p, e);
    out[e] = '\0';
    return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct s3_resp *rs = ((struct xfer *)ud)->rs;
    size_t len = size * n, i;
    char v[BERTH_S3_ETAG_MAX];
    uint64_t u;

    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new answer (after a 100 Continue): forget the previous one's headers */
        rs->status = 0;
        rs->has_length = rs->has_offset = 0;
        rs->etag[0] = '\0';
        for (i = 5; i < len && p[i] != ' '; i++) {}
        for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++) rs->status = rs->status * 10 + (p[i] - '0');
    } else if (header_is(p, len, "Content-Length", v, sizeof(v))) {
        if (berth_parse_u64(v, strlen(v), &u) == 0) {
            rs->length = u;
            rs->has_length = 1;
        }
    } else if (header_is(p, len, "ETag", v, sizeof(v))) {
        snprintf(rs->etag, sizeof(rs->etag), "%s", v);
    } else if (header_is(p, len, "x-amz-meta-offset", v, sizeof(v))) {
        if (berth_parse_u64(v, strlen(v), &u) == 0) {
            rs->offset = u;
            rs->has_offset = 1;
        }
    }
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n, left = x->rq->body_len - x->sent;

    if (len > left) len = left;
    if (len) memcpy(p, x->rq->body + x->sent, len);
    x->sent += len;
    return len;
}

/* libcurl rewinds the body when it sends the request again on a new connection. */
static int on_seek(void *ud, curl_off_t off, int origin)
{
    struct xfer *x = ud;

    if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->rq->body_len) return CURL_SEEKFUNC_FAIL;
    x->sent = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static CURL *handle_get(struct s3_store *st)
{
    CURL *h = NULL;

    pthread_mutex_lock(&st->lock);
    if (st->npool) h = st->pool[--st->npool];
    pthread_mutex_unlock(&st->lock);
    return h ? h : curl_easy_init();
}

/* Back to the pool with its connection, or closed when the pool is full. */
static void handle_put(struct s3_store *st, CURL *h)
{
    if (!h) return;
    curl_easy_reset(h); /* drops every option, and so every pointer into this request */
    pthread_mutex_lock(&st->lock);
    if (st->npool < POOL_MAX) {
        st->pool[st->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&st->lock);
    if (h) curl_easy_cleanup(h);
}

/* The signed path of a key (or of the bucket): "/bucket/prefix/key". Keys are checked text: no encoding. */
static void path_of(const struct s3_store *st, const char *key, struct berth_buf *b)
{
    berth_buf_printf(b, "/%s", st->conf.bucket);
    if (key) berth_buf_printf(b, "/%s%s", st->conf.prefix, key);
}

/* "s3://bucket/prefix/key" (or the bucket), for messages. */
static void where(const struct s3_store *st, const char *key, char *out, size_t cap)
{
    if (key) snprintf(out, cap, "s3://%s/%s%s", st->conf.bucket, st->conf.prefix, key);
    else snprintf(out, cap, "bucket %s at %s", st->conf.bucket, st->conf.endpoint);
}

static struct curl_slist *add_header(struct curl_slist *h, const char *name, const char *value)
{
    char *line = berth_xasprintf("%s: %s", name, value);

    h = curl_slist_append(h, line);
    explicit_bzero(line, strlen(line));
    free(line);
    return h;
}

/* Frees a header list after wiping it: it may hold a session token. */
static void headers_free(struct curl_slist *h)
{
    struct curl_slist *i;

    for (i = h; i; i = i->next) explicit_bzero(i->data, strlen(i->data));
    curl_slist_free_all(h);
}

/*
 * Sends rq once. BERTH_OK when an answer came (any status, in rs);
 * BERTH_EIO with curl's reason when none did.
 */
static enum berth_rc send_once(struct s3_store *st, const struct s3_req *rq, struct s3_resp *rs,
                               struct berth_err *err)
{
    struct berth_buf path = BERTH_BUF_INIT(0), url = BERTH_BUF_INIT(0), auth = BERTH_BUF_INIT(0);
    struct berth_sigv4_key key = {st->creds.access_key, st->creds.secret_key, st->conf.region, "s3"};
    struct berth_sigv4_header sh[8];
    struct curl_slist *hdrs = NULL;
    struct xfer x = {rq, rs, 0};
    const char *payload;
    char date[17], w[KEY_MAX + 600];
    size_t nh = 0, i;
    CURL *h = NULL;
    CURLcode cc;
    enum berth_rc rc;

    path_of(st, rq->key, &path);
    berth_buf_printf(&url, "%s%s%s%s", st->conf.endpoint, berth_buf_str(&path), rq->query ? "?" : "",
                     rq->query ? rq->query : "");
    berth_sigv4_date(berth_now_s(), date);
    /*
     * A body is sent as UNSIGNED-PAYLOAD: signing its SHA-256 would hash
     * every pushed byte a second time (the HTTP layer already hashes it for
     * the digest), doubling a push's CPU. TLS (https endpoints) protects it
     * on the way; the blob's digest is checked before it is acknowledged.
     */
    payload = rq->body || !strcmp(rq->method, "PUT") || !strcmp(rq->method, "POST") ? BERTH_SIGV4_UNSIGNED
                                                                                    : BERTH_SIGV4_EMPTY_SHA256;
    sh[nh++] = (struct berth_sigv4_header){"host", st->conf.host};
    sh[nh++] = (struct berth_sigv4_header){"x-amz-content-sha256", payload};
    sh[nh++] = (struct berth_sigv4_header){"x-amz-date", date};
    if (st->creds.token) sh[nh++] = (struct berth_sigv4_header){"x-amz-security-token", st->creds.token};
    for (i = 0; i < sizeof(rq->hdrs) / sizeof(rq->hdrs[0]) && rq->hdrs[i].name; i++)
        sh[nh++] = (struct berth_sigv4_header){rq->hdrs[i].name, rq->hdrs[i].value};
    rc = berth_sigv4_sign(&key, rq->method, berth_buf_str(&path), rq->query, sh, nh, payload, date, &auth, NULL, err);
    if (rc) goto out;
    if (berth_buf_rc(&url) || berth_buf_rc(&auth)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "S3 %s: cannot build the request", rq->op);
        goto out;
    }
    for (i = 0; i < nh; i++) hdrs = add_header(hdrs, sh[i].name, sh[i].value);
    hdrs = add_header(hdrs, "Authorization", berth_buf_str(&auth));
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "Accept:");
    if (!strcmp(rq->method, "POST")) hdrs = curl_slist_append(hdrs, "Content-Type: application/xml");

    h = handle_get(st);
    if (!h) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "S3 %s: cannot start libcurl", rq->op);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, berth_buf_str(&url));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rs->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    /* no total timeout: a 5 GiB part may take long; a stalled one does not go unnoticed */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (!strcmp(rq->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(rq->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (!strcmp(rq->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        where(st, rq->key, w, sizeof(w));
        if (rs->overflow)
            rc = berth_err_set(err, BERTH_EIO, "S3 %s %s: the answer is larger than expected", rq->op, w);
        else
            rc = berth_err_set(err, BERTH_EIO, "S3 %s %s: %s (endpoint %s)", rq->op, w,
                               rs->errbuf[0] ? rs->errbuf : curl_easy_strerror(cc), st->conf.endpoint);
        rs->status = 0;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
out:
    handle_put(st, h);
    headers_free(hdrs);
    berth_buf_release(&path);
    berth_buf_release(&url);
    berth_buf_release(&auth);
    return rc;
}

/* err gets "S3 <op> <where>: HTTP <status> <Code>: <Message>" from a failed answer. */
static enum berth_rc http_fail(struct s3_store *st, const struct s3_req *rq, struct s3_resp *rs, enum berth_rc code,
                               struct berth_err *err)
{
    struct berth_str body = {berth_buf_str(&rs->ebody), rs->ebody.len};
    char w[KEY_MAX + 600], scode[64] = "", msg[256] = "";

    berth_s3_xml_text(body, "Code", scode, sizeof(scode), NULL);
    berth_s3_xml_text(body, "Message", msg, sizeof(msg), NULL);
    where(st, rq->key, w, sizeof(w));
    return berth_err_set(err, code, "S3 %s %s: HTTP %ld%s%s%s%s", rq->op, w, rs->status, scode[0] ? " " : "", scode,
                         msg[0] ? ": " : "", msg);
}

/* Nonzero if the failed answer's error code is code. */
static int s3_code_is(const struct s3_resp *rs, const char *code)
{
    struct berth_str body = {berth_buf_str(&rs->ebody), rs->ebody.len};
    char c[64];

    return berth_s3_xml_text(body, "Code", c, sizeof(c), NULL) == BERTH_OK && !strcmp(c, code);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Sends rq, again after a network error or a 5xx unless it is not
 * idempotent or part of an answer was taken already. BERTH_OK for a 2xx,
 * BERTH_ENOENT for a 404 (err says what S3 said), BERTH_EIO otherwise; rs
 * holds the last answer (the caller releases it).
 */
static enum berth_rc s3_call(struct s3_store *st, const struct s3_req *rq, struct s3_resp *rs, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    int attempt;

    for (attempt = 0; attempt < TRIES; attempt++) {
        if (attempt) {
            sleep_ms(attempt == 1 ? 100 : 500);
            berth_buf_reset(&rs->ebody);
            if (rq->out) berth_buf_reset(rq->out);
            rs->got = 0;
            rs->overflow = 0;
        }
        rc = send_once(st, rq, rs, err);
        if (rc == BERTH_OK && rs->status < 500) break;
        /* a hash or a caller's buffer cannot take the bytes again; nothing reaches them before a 2xx */
        if (rq->no_retry || rs->got || rs->overflow) break;
    }
    if (rc) return rc;
    if (ok_status(rs->status)) return BERTH_OK;
    return http_fail(st, rq, rs, rs->status == 404 ? BERTH_ENOENT : BERTH_EIO, err);
}

/*
 * A 404 where the interface expects none (an object, multipart upload or
 * bucket gone under a write) is an I/O error; err keeps S3's words.
 */
static enum berth_rc no_enoent(enum berth_rc rc)
{
    return rc == BERTH_ENOENT ? BERTH_EIO : rc;
}

/* ---------------------------------------------------------------- objects */

/* HeadObject: BERTH_OK with *size (and *offset, the tail's x-amz-meta-offset, 0 when absent), BERTH_ENOENT, BERTH_EIO. */
static enum berth_rc obj_head(struct s3_store *st, const char *key, uint64_t *size, uint64_t *offset,
                              struct berth_err *err)
{
    struct s3_req rq = {.op = "HeadObject", .method = "HEAD", .key = key};
    struct s3_resp rs;
    enum berth_rc rc;

    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (!rc && !rs.has_length) rc = http_fail(st, &rq, &rs, BERTH_EIO, err);
    if (!rc) {
        if (size) *size = rs.length;
        if (offset) *offset = rs.has_offset ? rs.offset : 0;
    }
    resp_release(&rs);
    return rc;
}

/* PutObject of data[0..len); offset, when not NULL, goes into x-amz-meta-offset. */
static enum berth_rc obj_put(struct s3_store *st, const char *key, const void *data, size_t len, const char *offset,
                             struct berth_err *err)
{
    struct s3_req rq = {.op = "PutObject", .method = "PUT", .key = key, .body = data, .body_len = len};
    struct s3_resp rs;
    enum berth_rc rc;

    if (offset) rq.hdrs[0] = (struct s3_hdr){"x-amz-meta-offset", offset};
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    resp_release(&rs);
    return rc;
}

/* GetObject into out (capped by its max); *offset as for obj_head (may be NULL). */
static enum berth_rc obj_get(struct s3_store *st, const char *key, struct berth_buf *out, uint64_t *offset,
                             struct berth_err *err)
{
    struct s3_req rq = {.op = "GetObject", .method = "GET", .key = key, .out = out};
    struct s3_resp rs;
    enum berth_rc rc;

    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (!rc && rs.has_length && rs.length != out->len)
        rc = berth_err_set(err, BERTH_EIO, "S3 GetObject %s: %zu bytes arrived of %llu", key, out->len,
                           (unsigned long long)rs.length);
    if (!rc && offset) *offset = rs.has_offset ? rs.offset : 0;
    resp_release(&rs);
    return rc;
}

/* DeleteObject (S3 answers 204 whether or not the key existed). */
static enum berth_rc obj_delete(struct s3_store *st, const char *key, struct berth_err *err)
{
    struct s3_req rq = {.op = "DeleteObject", .method = "DELETE", .key = key};
    struct s3_resp rs;
    enum berth_rc rc;

    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (rc == BERTH_ENOENT) rc = BERTH_OK;
    resp_release(&rs);
    return rc;
}

/* Deletes what is no longer needed; a failure leaves garbage that gc's upload sweep removes, so it is only logged. */
static void obj_delete_quietly(struct s3_store *st, const char *key)
{
    struct berth_err err = BERTH_ERR_INIT;

    if (obj_delete(st, key, &err))
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 object left behind\" key=%s%s err=\"%s\"", st->conf.prefix, key,
                  berth_err_msg(&err));
}

/* GetObject of len bytes at off into buf; exactly len must come. */
static enum berth_rc obj_get_range(struct s3_store *st, const char *key, uint64_t off, void *buf, size_t len,
                                   struct berth_err *err)
{
    struct s3_req rq = {.op = "GetObject", .method = "GET", .key = key, .dst = buf, .dst_len = len};
    struct s3_resp rs;
    char range[64];
    enum berth_rc rc;

    snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off, (unsigned long long)(off + len - 1));
    rq.hdrs[0] = (struct s3_hdr){"range", range};
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (!rc && (rs.got != len || (rs.status != 206 && off != 0)))
        rc = berth_err_set(err, BERTH_EIO, "S3 GetObject s3://%s/%s%s: %llu bytes at %llu arrived of %zu asked for",
                           st->conf.bucket, st->conf.prefix, key, (unsigned long long)rs.got,
                           (unsigned long long)off, len);
    resp_release(&rs);
    return rc;
}

/*
 * An answer that is a 200 and still an <Error> (CompleteMultipartUpload,
 * copies), or that lacks the element want, or (etag not NULL) its ETag.
 */
static enum berth_rc xml_result(struct s3_store *st, const struct s3_req *rq, const struct berth_buf *body,
                                const char *want, char *etag, struct berth_err *err)
{
    struct berth_str b = {berth_buf_str(body), body->len}, s = b, inner;
    struct s3_resp fake;
    enum berth_rc rc;

    if (berth_s3_xml_next(&s, "Error", &inner, NULL) == BERTH_OK) {
        resp_init(&fake);
        fake.status = 200;
        berth_buf_append(&fake.ebody, b.p, b.len);
        rc = http_fail(st, rq, &fake, BERTH_EIO, err);
        resp_release(&fake);
        return rc;
    }
    s = b;
    if (berth_s3_xml_next(&s, want, &inner, NULL) != BERTH_OK ||
        (etag && (berth_s3_xml_text(inner, "ETag", etag, BERTH_S3_ETAG_MAX, NULL) != BERTH_OK || !etag[0])))
        return berth_err_set(err, BERTH_EIO, "S3 %s s3://%s/%s%s: the answer has no <%s>%s", rq->op, st->conf.bucket,
                             st->conf.prefix, rq->key, want, etag ? " with an ETag" : "");
    return BERTH_OK;
}

/* "x-amz-copy-source: /bucket/prefix/key" */
static char *copy_source(const struct s3_store *st, const char *key)
{
    return berth_xasprintf("/%s/%s%s", st->conf.bucket, st->conf.prefix, key);
}

/* ---------------------------------------------------------------- listing */

/* Called per object: key relative to the prefix; nonzero stops the walk. */
typedef int (*obj_visit_fn)(const char *key, uint64_t size, int64_t mtime_s, void *ctx);

/* ListObjectsV2 over every key starting with prefix+under, all pages. */
static enum berth_rc list_objects(struct s3_store *st, const char *under, obj_visit_fn fn, void *ctx,
                                  struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0), body = BERTH_BUF_INIT(XML_MAX);
    char *full = berth_xasprintf("%s%s", st->conf.prefix, under), *token = NULL;
    size_t plen = strlen(st->conf.prefix);
    enum berth_rc rc = BERTH_OK;
    int stop = 0;

    do {
        struct s3_req rq = {.op = "ListObjectsV2", .method = "GET", .out = &body};
        struct s3_resp rs;
        struct berth_str scope, item;
        char key[1025], lm[64], trunc[8];
        uint64_t size;
        int64_t ms;

        berth_buf_reset(&q);
        berth_buf_reset(&body);
        berth_buf_puts(&q, "list-type=2&prefix=");
        berth_sigv4_uri_encode(&q, full, strlen(full), 0);
        if (token) {
            berth_buf_puts(&q, "&continuation-token=");
            berth_sigv4_uri_encode(&q, token, strlen(token), 0);
        }
        rq.query = berth_buf_str(&q);
        resp_init(&rs);
        rc = s3_call(st, &rq, &rs, err);
        resp_release(&rs);
        if (rc) {
            if (rc == BERTH_ENOENT) rc = BERTH_EIO; /* the bucket is gone */
            break;
        }
        scope = (struct berth_str){berth_buf_str(&body), body.len};
        while (!stop && (rc = berth_s3_xml_next(&scope, "Contents", &item, err)) == BERTH_OK) {
            rc = berth_s3_xml_text(item, "Key", key, sizeof(key), err);
            if (!rc) rc = berth_s3_xml_u64(item, "Size", &size, err);
            if (rc) break;
            if (berth_s3_xml_text(item, "LastModified", lm, sizeof(lm), NULL) != BERTH_OK ||
                berth_rfc3339_parse(lm, strlen(lm), &ms, NULL) != BERTH_OK)
                ms = 0;
            if (strncmp(key, st->conf.prefix, plen) != 0) continue;
            stop = fn(key + plen, size, ms / 1000, ctx);
        }
        if (rc == BERTH_ENOENT) rc = BERTH_OK;
        if (rc) {
            char why[BERTH_ERR_MSG_MAX];
            snprintf(why, sizeof(why), "%s", err ? berth_err_msg(err) : "");
            rc = berth_err_set(err, BERTH_EIO, "S3 ListObjectsV2 %s: %s", full, why);
            break;
        }
        free(token);
        token = NULL;
        scope = (struct berth_str){berth_buf_str(&body), body.len};
        if (stop || berth_s3_xml_text(scope, "IsTruncated", trunc, sizeof(trunc), NULL) != BERTH_OK ||
            strcmp(trunc, "true") != 0)
            break;
        token = berth_xmalloc(1025);
        if (berth_s3_xml_text(scope, "NextContinuationToken", token, 1025, NULL) != BERTH_OK || !*token) {
            rc = berth_err_set(err, BERTH_EIO, "S3 ListObjectsV2 %s: a truncated page without a continuation token",
                               full);
            break;
        }
    } while (!rc);
    free(token);
    free(full);
    berth_buf_release(&q);
    berth_buf_release(&body);
    return rc;
}

/* ---------------------------------------------------------------- multipart uploads */

/* CreateMultipartUpload on key: *id gets the upload id (malloc'd). */
static enum berth_rc mp_initiate(struct s3_store *st, const char *key, char **id, struct berth_err *err)
{
    struct berth_buf body = BERTH_BUF_INIT(XML_MAX);
    struct s3_req rq = {.op = "CreateMultipartUpload", .method = "POST", .key = key, .query = "uploads=",
                        .no_retry = 1, .out = &body};
    struct s3_resp rs;
    char *v = berth_xmalloc(BERTH_S3_UPLOAD_ID_MAX + 1);
    enum berth_rc rc;

    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (!rc && berth_s3_xml_text((struct berth_str){berth_buf_str(&body), body.len}, "UploadId", v,
                                 BERTH_S3_UPLOAD_ID_MAX + 1, NULL) != BERTH_OK)
        rc = berth_err_set(err, BERTH_EIO, "S3 CreateMultipartUpload s3://%s/%s%s: the answer has no UploadId",
                           st->conf.bucket, st->conf.prefix, key);
    if (!rc && !*v) rc = berth_err_set(err, BERTH_EIO, "S3 CreateMultipartUpload: an empty UploadId");
    if (!rc) {
        *id = v;
        v = NULL;
    }
    free(v);
    resp_release(&rs);
    berth_buf_release(&body);
    return rc;
}

/* "partNumber=N&uploadId=ID" */
static void part_query(struct berth_buf *q, uint32_t n, const char *id)
{
    berth_buf_printf(q, "partNumber=%u&uploadId=", (unsigned)n);
    berth_sigv4_uri_encode(q, id, strlen(id), 0);
}

/* UploadPart: data[0..len) as part n; etag gets S3's ETag (which must be there). */
static enum berth_rc mp_upload_part(struct s3_store *st, const char *key, const char *id, uint32_t n,
                                    const void *data, size_t len, char *etag, struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0);
    struct s3_req rq = {.op = "UploadPart", .method = "PUT", .key = key, .body = data, .body_len = len};
    struct s3_resp rs;
    enum berth_rc rc;

    part_query(&q, n, id);
    rq.query = berth_buf_str(&q);
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (!rc && !rs.etag[0])
        rc = berth_err_set(err, BERTH_EIO, "S3 UploadPart %u of s3://%s/%s%s: the answer has no ETag", (unsigned)n,
                           st->conf.bucket, st->conf.prefix, key);
    if (!rc) snprintf(etag, BERTH_S3_ETAG_MAX, "%s", rs.etag);
    resp_release(&rs);
    berth_buf_release(&q);
    return rc;
}

/* ListParts, all pages, into e (whose mp is the id); BERTH_ENOENT when the multipart upload is gone. */
static enum berth_rc mp_list_parts(struct s3_store *st, const char *key, struct berth_s3_ext *e,
                                   struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0), body = BERTH_BUF_INIT(XML_MAX);
    uint64_t marker = 0;
    enum berth_rc rc;

    for (;;) {
        struct s3_req rq = {.op = "ListParts", .method = "GET", .key = key, .out = &body};
        struct s3_resp rs;
        struct berth_str scope, item;
        char etag[BERTH_S3_ETAG_MAX], trunc[8];
        uint64_t num, size;

        berth_buf_reset(&q);
        berth_buf_reset(&body);
        berth_buf_puts(&q, "uploadId=");
        berth_sigv4_uri_encode(&q, e->mp, strlen(e->mp), 0);
        if (marker) berth_buf_printf(&q, "&part-number-marker=%llu", (unsigned long long)marker);
        rq.query = berth_buf_str(&q);
        resp_init(&rs);
        rc = s3_call(st, &rq, &rs, err);
        resp_release(&rs);
        if (rc) break;
        scope = (struct berth_str){berth_buf_str(&body), body.len};
        while ((rc = berth_s3_xml_next(&scope, "Part", &item, err)) == BERTH_OK) {
            rc = berth_s3_xml_u64(item, "PartNumber", &num, err);
            if (!rc) rc = berth_s3_xml_text(item, "ETag", etag, sizeof(etag), err);
            if (!rc) rc = berth_s3_xml_u64(item, "Size", &size, err);
            if (rc) break;
            if (num != e->nparts + 1 || !etag[0] || e->nparts >= BERTH_S3_PARTS_MAX) {
                rc = berth_err_set(err, BERTH_EIO,
                                   "S3 ListParts s3://%s/%s%s: part %llu where part %zu was expected (parts missing)",
                                   st->conf.bucket, st->conf.prefix, key, (unsigned long long)num, e->nparts + 1);
                break;
            }
            berth_s3_ext_add(e, etag, size);
        }
        if (rc == BERTH_ENOENT) rc = BERTH_OK;
        if (rc) {
            char why[BERTH_ERR_MSG_MAX];
            snprintf(why, sizeof(why), "%s", err ? berth_err_msg(err) : "");
            if (rc != BERTH_EIO) rc = berth_err_set(err, BERTH_EIO, "S3 ListParts %s%s: %s", st->conf.prefix, key, why);
            break;
        }
        scope = (struct berth_str){berth_buf_str(&body), body.len};
        if (berth_s3_xml_text(scope, "IsTruncated", trunc, sizeof(trunc), NULL) != BERTH_OK ||
            strcmp(trunc, "true") != 0)
            break;
        if (berth_s3_xml_u64(scope, "NextPartNumberMarker", &num, NULL) != BERTH_OK || num <= marker) {
            rc = berth_err_set(err, BERTH_EIO, "S3 ListParts: a truncated page without a next part number marker");
            break;
        }
        marker = num;
    }
    berth_buf_release(&q);
    berth_buf_release(&body);
    return rc;
}

/* CompleteMultipartUpload of parts[0..n) on key. A 200 whose body is an <Error> is a failure. */
static enum berth_rc mp_complete(struct s3_store *st, const char *key, const char *id,
                                 const struct berth_s3_part *parts, size_t n, struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0), x = BERTH_BUF_INIT(0), body = BERTH_BUF_INIT(XML_MAX);
    struct s3_req rq = {.op = "CompleteMultipartUpload", .method = "POST", .key = key, .no_retry = 1, .out = &body};
    struct s3_resp rs;
    enum berth_rc rc;
    size_t i;

    berth_buf_puts(&q, "uploadId=");
    berth_sigv4_uri_encode(&q, id, strlen(id), 0);
    berth_buf_puts(&x, "<CompleteMultipartUpload>");
    for (i = 0; i < n; i++) {
        berth_buf_printf(&x, "<Part><PartNumber>%u</PartNumber><ETag>", (unsigned)parts[i].number);
        berth_s3_xml_escape(&x, parts[i].etag);
        berth_buf_puts(&x, "</ETag></Part>");
    }
    berth_buf_puts(&x, "</CompleteMultipartUpload>");
    rq.query = berth_buf_str(&q);
    rq.body = berth_buf_str(&x);
    rq.body_len = x.len;
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    /* RGW (16.2) answers with an empty <ETag>: the caller checks the completed object's size instead */
    if (!rc) rc = xml_result(st, &rq, &body, "CompleteMultipartUploadResult", NULL, err);
    resp_release(&rs);
    berth_buf_release(&q);
    berth_buf_release(&x);
    berth_buf_release(&body);
    return rc;
}

/* AbortMultipartUpload; one already gone is fine. */
static enum berth_rc mp_abort(struct s3_store *st, const char *key, const char *id, struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0);
    struct s3_req rq = {.op = "AbortMultipartUpload", .method = "DELETE", .key = key};
    struct s3_resp rs;
    enum berth_rc rc;

    berth_buf_puts(&q, "uploadId=");
    berth_sigv4_uri_encode(&q, id, strlen(id), 0);
    rq.query = berth_buf_str(&q);
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (rc == BERTH_ENOENT) rc = BERTH_OK;
    resp_release(&rs);
    berth_buf_release(&q);
    return rc;
}

/* UploadPartCopy in pieces of COPY_PIECE: for a source over S3's 5 GiB limit of one CopyObject. */
static enum berth_rc copy_multipart(struct s3_store *st, const char *src, const char *dst, uint64_t size,
                                    struct berth_err *err)
{
    struct berth_s3_ext e = {0};
    char *source = copy_source(st, src), etag[BERTH_S3_ETAG_MAX];
    struct berth_err aerr = BERTH_ERR_INIT;
    uint64_t off;
    enum berth_rc rc;

    rc = mp_initiate(st, dst, &e.mp, err);
    for (off = 0; !rc && off < size; off += COPY_PIECE) {
        struct berth_buf q = BERTH_BUF_INIT(0), body = BERTH_BUF_INIT(XML_MAX);
        struct s3_req rq = {.op = "UploadPartCopy", .method = "PUT", .key = dst, .out = &body};
        struct s3_resp rs;
        uint64_t n = size - off < COPY_PIECE ? size - off : COPY_PIECE;
        char range[64];

        part_query(&q, (uint32_t)e.nparts + 1, e.mp);
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off, (unsigned long long)(off + n - 1));
        rq.query = berth_buf_str(&q);
        rq.hdrs[0] = (struct s3_hdr){"x-amz-copy-source", source};
        rq.hdrs[1] = (struct s3_hdr){"x-amz-copy-source-range", range};
        resp_init(&rs);
        rc = s3_call(st, &rq, &rs, err);
        if (!rc) rc = xml_result(st, &rq, &body, "CopyPartResult", etag, err);
        if (!rc) berth_s3_ext_add(&e, etag, n);
        resp_release(&rs);
        berth_buf_release(&q);
        berth_buf_release(&body);
    }
    if (!rc) rc = mp_complete(st, dst, e.mp, e.parts, e.nparts, err);
    if (rc && e.mp && mp_abort(st, dst, e.mp, &aerr))
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 multipart copy not aborted\" key=%s%s err=\"%s\"", st->conf.prefix, dst,
                  berth_err_msg(&aerr));
    berth_s3_ext_release(&e);
    free(source);
    return rc;
}

/* Copies src (size bytes) onto dst: one CopyObject up to 5 GiB, UploadPartCopy above. Then checks dst's size. */
static enum berth_rc obj_copy(struct s3_store *st, const char *src, const char *dst, uint64_t size,
                              struct berth_err *err)
{
    struct berth_buf body = BERTH_BUF_INIT(XML_MAX);
    struct s3_req rq = {.op = "CopyObject", .method = "PUT", .key = dst, .out = &body};
    struct s3_resp rs;
    char *source = copy_source(st, src), etag[BERTH_S3_ETAG_MAX];
    uint64_t got = 0;
    enum berth_rc rc;

    resp_init(&rs);
    if (size > BERTH_S3_PART_MAX) {
        rc = copy_multipart(st, src, dst, size, err);
    } else {
        rq.hdrs[0] = (struct s3_hdr){"x-amz-copy-source", source};
        rc = s3_call(st, &rq, &rs, err);
        if (!rc) rc = xml_result(st, &rq, &body, "CopyObjectResult", etag, err);
    }
    if (!rc) {
        rc = obj_head(st, dst, &got, NULL, err);
        if (rc == BERTH_ENOENT)
            rc = berth_err_set(err, BERTH_EIO, "S3 CopyObject to %s%s: the copy is not there", st->conf.prefix, dst);
        else if (!rc && got != size)
            rc = berth_err_set(err, BERTH_EIO, "S3 CopyObject to %s%s: %llu bytes, not %llu", st->conf.prefix, dst,
                               (unsigned long long)got, (unsigned long long)size);
    }
    resp_release(&rs);
    berth_buf_release(&body);
    free(source);
    return rc;
}

/* ---------------------------------------------------------------- keys */

/* Upload ids become keys, so anything but a canonical uuid is refused. */
static enum berth_rc check_uuid(const char *uuid, struct berth_err *err)
{
    if (!uuid || !berth_uuid_valid(uuid))
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload id is not a valid uuid");
    return BERTH_OK;
}

/* "uploads/<uuid>/<what>" */
static void upload_key(const char *uuid, const char *what, char out[KEY_MAX])
{
    snprintf(out, KEY_MAX, "uploads/%s/%s", uuid, what);
}

/* "blobs/<alg>/<hex>", from a digest checked again. */
static enum berth_rc blob_key(const struct berth_digest *d, char out[KEY_MAX], struct berth_err *err)
{
    struct berth_digest check;
    enum berth_rc rc = berth_blobstore_digest_check(d, &check, err);

    if (rc) return rc;
    snprintf(out, KEY_MAX, "blobs/%s/%s", berth_digest_alg_name(check.alg), berth_digest_hex(&check));
    return BERTH_OK;
}

/* The upload's multipart upload id from its mp object: BERTH_OK with *id, BERTH_ENOENT when it has none. */
static enum berth_rc mp_id_load(struct s3_store *st, const char *uuid, char **id, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(MP_OBJECT_MAX);
    char key[KEY_MAX];
    size_t i;
    enum berth_rc rc;

    upload_key(uuid, "mp", key);
    rc = obj_get(st, key, &b, NULL, err);
    if (!rc) {
        for (i = 0; i < b.len; i++)
            if ((unsigned char)b.p[i] < 0x21 || (unsigned char)b.p[i] > 0x7e) break;
        if (!b.len || i < b.len) rc = berth_err_set(err, BERTH_EIO, "S3 object %s%s does not hold an upload id",
                                                    st->conf.prefix, key);
    }
    if (!rc) *id = berth_buf_detach(&b, NULL);
    berth_buf_release(&b);
    return rc;
}

/* ---------------------------------------------------------------- open, close, check */

/* CreateBucket: with the region as LocationConstraint unless it is us-east-1 (or the server refuses one). */
static enum berth_rc bucket_create(struct s3_store *st, struct berth_err *err)
{
    struct berth_buf x = BERTH_BUF_INIT(0);
    struct s3_req rq = {.op = "CreateBucket", .method = "PUT"};
    struct s3_resp rs;
    enum berth_rc rc;

    if (strcmp(st->conf.region, "us-east-1") != 0) {
        berth_buf_printf(&x, "<CreateBucketConfiguration><LocationConstraint>%s</LocationConstraint>"
                             "</CreateBucketConfiguration>", st->conf.region);
        rq.body = berth_buf_str(&x);
        rq.body_len = x.len;
    }
    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (rc && rq.body && rs.status == 400 && s3_code_is(&rs, "InvalidLocationConstraint")) {
        rq.body = NULL;
        rq.body_len = 0;
        resp_release(&rs);
        resp_init(&rs);
        rc = s3_call(st, &rq, &rs, err);
    }
    if (rc && rs.status == 409 && s3_code_is(&rs, "BucketAlreadyOwnedByYou")) rc = BERTH_OK; /* another server won */
    if (!rc) BERTH_LOG(BERTH_LOG_INFO, "msg=\"created S3 bucket\" bucket=%s endpoint=%s", st->conf.bucket,
                       st->conf.endpoint);
    resp_release(&rs);
    berth_buf_release(&x);
    return rc;
}

/* HeadBucket, then CreateBucket when it does not exist; errors name endpoint and bucket. */
static enum berth_rc bucket_ensure(struct s3_store *st, int create, struct berth_err *err)
{
    struct s3_req rq = {.op = "HeadBucket", .method = "HEAD"};
    struct s3_resp rs;
    enum berth_rc rc;

    resp_init(&rs);
    rc = s3_call(st, &rq, &rs, err);
    if (rc == BERTH_ENOENT && !create)
        rc = berth_err_set(err, BERTH_ENOENT, "S3 bucket %s at %s does not exist", st->conf.bucket, st->conf.endpoint);
    else if (rc == BERTH_ENOENT) rc = bucket_create(st, err);
    else if (rc && rs.status == 0)
        rc = berth_err_set(err, BERTH_EIO, "cannot reach the S3 endpoint %s for bucket %s: %s", st->conf.endpoint,
                           st->conf.bucket, rs.errbuf[0] ? rs.errbuf : "no answer");
    else if (rc && (rs.status == 403 || rs.status == 401))
        rc = berth_err_set(err, BERTH_ECONFIG,
                           "S3 refuses bucket %s at %s (HTTP %ld): check the credentials (from %s), the region (%s) "
                           "and the bucket's policy", st->conf.bucket, st->conf.endpoint, rs.status, st->creds.from,
                           st->conf.region);
    else if (rc && rs.status == 301)
        rc = berth_err_set(err, BERTH_ECONFIG, "S3 bucket %s is not in region %s at %s (HTTP 301): set region=",
                           st->conf.bucket, st->conf.region, st->conf.endpoint);
    resp_release(&rs);
    return rc;
}

static enum berth_rc s3_open(const char *root, const struct berth_blobstore_opts *opts, struct berth_blobstore **out,
                             struct berth_err *err)
{
    struct s3_store *st = NULL;
    enum berth_rc rc;

    /* opts->fsync: S3 acknowledges a write once it is durable, there is nothing to fsync */
    if (!root || !*root) return berth_err_set(err, BERTH_ECONFIG, "the blob store URL is empty");
    /* libcurl is opened here, not linked: a server on a data folder never maps it (its global set-up runs once,
       under the loader's lock) */
    rc = berth_lazy_load(BERTH_LIB_CURL, err);
    if (rc) return rc;
    st = berth_xcalloc(1, sizeof(*st));
    st->base.magic = BERTH_BLOBSTORE_MAGIC;
    st->base.ops = &berth_blobstore_s3_ops;
    pthread_mutex_init(&st->lock, NULL);
    rc = berth_s3_conf_parse(root, &st->conf, err);
    if (!rc) rc = berth_s3_creds_load(st->conf.credentials, &st->creds, err);
    if (rc) goto out;
    st->shown = berth_xasprintf("s3://%s/%s at %s", st->conf.bucket, st->conf.prefix, st->conf.endpoint);
    rc = bucket_ensure(st, !(opts && opts->no_create), err);
    if (rc && !(rc == BERTH_ENOENT && opts && opts->no_create)) rc = no_enoent(rc);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"blob store\" driver=s3 bucket=%s prefix=\"%s\" endpoint=%s region=%s "
              "credentials=\"%s\" redirect=%d part_size=%" PRIu64,
              st->conf.bucket, st->conf.prefix, st->conf.endpoint, st->conf.region, st->creds.from, st->conf.redirect,
              st->conf.part_size);
    *out = &st->base;
    st = NULL;
out:
    if (st) s3_close(&st->base);
    return rc;
}

static void s3_close(struct berth_blobstore *bs)
{
    struct s3_store *st;
    size_t i;

    if (!bs) return;
    st = s3_of(bs);
    for (i = 0; i < st->npool; i++) curl_easy_cleanup(st->pool[i]);
    pthread_mutex_destroy(&st->lock);
    berth_s3_conf_release(&st->conf);
    berth_s3_creds_release(&st->creds);
    free(st->shown);
    st->base.magic = 0;
    free(st);
}

/* PUT, GET and DELETE of a small object under health/. */
static enum berth_rc s3_check(struct berth_blobstore *bs, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    struct berth_buf got = BERTH_BUF_INIT(64);
    unsigned char rnd[8];
    char hex[17], key[KEY_MAX], body[CHECK_BYTES];
    enum berth_rc rc;

    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), hex);
    memcpy(body, hex, CHECK_BYTES);
    snprintf(key, sizeof(key), "health/%s", hex);
    rc = obj_put(st, key, body, sizeof(body), NULL, err);
    if (!rc) rc = obj_get(st, key, &got, NULL, err);
    if (!rc && (got.len != sizeof(body) || memcmp(got.p, body, sizeof(body)) != 0))
        rc = berth_err_set(err, BERTH_EIO, "S3 %s: the object read back differs from the one written", st->shown);
    if (!rc) rc = obj_delete(st, key, err);
    if (rc == BERTH_ENOENT) rc = BERTH_EIO;
    berth_buf_release(&got);
    return rc;
}

/* ---------------------------------------------------------------- blobs */

static enum berth_rc s3_stat(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t *size,
                             struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    enum berth_rc rc;

    rc = blob_key(d, key, err);
    if (!rc) rc = obj_head(st, key, size, NULL, err);
    if (rc == BERTH_ENOENT) rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
    return rc;
}

/*
 * A reader fetches READ_WINDOW bytes per ranged GET and serves smaller reads
 * (the HTTP layer asks 256 KiB at a time) from them, so streaming a blob
 * costs one S3 request per window, not one per read.
 */
#define READ_WINDOW ((size_t)4 << 20)

struct s3_reader {
    struct berth_blob_reader base; /* first member: callers hold &base */
    struct s3_store *st;
    char key[KEY_MAX];
    char *url; /* base.url's memory */
    char *win; /* bytes [win_off, win_off + win_len) of the object; NULL until a small read */
    uint64_t win_off;
    size_t win_len;
};

static const struct berth_blob_reader_ops s3_reader_ops;

static struct s3_reader *reader_of(struct berth_blob_reader *r)
{
    if (!r || r->magic != BERTH_BLOB_READER_MAGIC || r->ops != &s3_reader_ops) abort();
    return (struct s3_reader *)r;
}

static enum berth_rc s3_reader_read_at(struct berth_blob_reader *r, uint64_t off, void *buf, size_t len,
                                       size_t *got, struct berth_err *err)
{
    struct s3_reader *sr = reader_of(r);
    uint64_t end;
    size_t n;
    enum berth_rc rc;

    /* berth_blob_reader_read_at cut len to the size: all of it must come */
    if (sr->win && off >= sr->win_off && off + len <= sr->win_off + sr->win_len) {
        memcpy(buf, sr->win + (off - sr->win_off), len);
        *got = len;
        return BERTH_OK;
    }
    if (len >= READ_WINDOW) {
        rc = obj_get_range(sr->st, sr->key, off, buf, len, err);
    } else {
        end = off + READ_WINDOW < sr->base.size ? off + READ_WINDOW : sr->base.size;
        n = (size_t)(end - off);
        if (!sr->win) sr->win = berth_xmalloc(READ_WINDOW);
        sr->win_len = 0;
        rc = obj_get_range(sr->st, sr->key, off, sr->win, n, err);
        if (!rc) {
            sr->win_off = off;
            sr->win_len = n;
            memcpy(buf, sr->win, len);
        }
    }
    if (rc == BERTH_ENOENT) rc = berth_err_set(err, BERTH_EIO, "S3 object %s%s was removed while it was read",
                                               sr->st->conf.prefix, sr->key);
    if (!rc) *got = len;
    return rc;
}

static void s3_reader_close(struct berth_blob_reader *r)
{
    struct s3_reader *sr = reader_of(r);

    free(sr->url);
    free(sr->win);
    sr->base.magic = 0;
    free(sr);
}

static const struct berth_blob_reader_ops s3_reader_ops = {
    .read_at = s3_reader_read_at,
    .take_fd = NULL,
    .close = s3_reader_close,
};

static struct s3_reader *reader_new(struct s3_store *st, const char *key, uint64_t size)
{
    struct s3_reader *sr = berth_xcalloc(1, sizeof(*sr));

    sr->base.magic = BERTH_BLOB_READER_MAGIC;
    sr->base.ops = &s3_reader_ops;
    sr->base.size = size;
    sr->st = st;
    snprintf(sr->key, sizeof(sr->key), "%s", key);
    return sr;
}

/* A presigned GET of key, good for PRESIGN_S seconds: the full URL a client follows. */
static enum berth_rc presign(struct s3_store *st, const char *key, char **url, struct berth_err *err)
{
    struct berth_sigv4_key k = {st->creds.access_key, st->creds.secret_key, st->conf.region, "s3"};
    struct berth_buf path = BERTH_BUF_INIT(0), q = BERTH_BUF_INIT(0), extra = BERTH_BUF_INIT(0);
    char date[17];
    enum berth_rc rc;

    path_of(st, key, &path);
    if (st->creds.token) {
        berth_buf_puts(&extra, "X-Amz-Security-Token=");
        berth_sigv4_uri_encode(&extra, st->creds.token, strlen(st->creds.token), 0);
    }
    berth_sigv4_date(berth_now_s(), date);
    rc = berth_sigv4_presign(&k, "GET", st->conf.host, berth_buf_str(&path), berth_buf_str(&extra), PRESIGN_S, date,
                             &q, err);
    if (!rc) *url = berth_xasprintf("%s%s?%s", st->conf.endpoint, berth_buf_str(&path), berth_buf_str(&q));
    if (extra.p) explicit_bzero(extra.p, extra.len);
    berth_buf_release(&path);
    berth_buf_release(&q);
    berth_buf_release(&extra);
    return rc;
}

/* A reader of key holding size bytes, with its presigned URL unless redirects are off. */
static enum berth_rc open_key(struct s3_store *st, const char *key, uint64_t size, struct berth_blob_reader **out,
                                struct berth_err *err)
{
    struct s3_reader *sr = reader_new(st, key, size);
    enum berth_rc rc;

    if (st->conf.redirect) {
        rc = presign(st, key, &sr->url, err);
        if (rc) {
            s3_reader_close(&sr->base);
            return rc;
        }
        sr->base.url = sr->url;
    }
    *out = &sr->base;
    return BERTH_OK;
}

static enum berth_rc s3_open_reader(struct berth_blobstore *bs, const struct berth_digest *d,
                                    struct berth_blob_reader **out, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    uint64_t size = 0;
    enum berth_rc rc;

    rc = blob_key(d, key, err);
    if (!rc) rc = obj_head(st, key, &size, NULL, err);
    if (rc == BERTH_ENOENT) rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
    if (rc) return rc;
    return open_key(st, key, size, out, err);
}

/* The metadata's size stands for the HEAD: no round trip before the redirect or the first read. */
static enum berth_rc s3_open_known(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t size,
                                   struct berth_blob_reader **out, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    enum berth_rc rc = blob_key(d, key, err);

    return rc ? rc : open_key(st, key, size, out, err);
}

static enum berth_rc s3_remove(struct berth_blobstore *bs, const struct berth_digest *d, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    enum berth_rc rc;

    rc = blob_key(d, key, err);
    if (!rc) rc = obj_head(st, key, NULL, NULL, err); /* DeleteObject does not say whether it existed */
    if (rc == BERTH_ENOENT) rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
    if (!rc) rc = obj_delete(st, key, err);
    return rc;
}

struct blob_walk {
    berth_blob_visit_fn fn;
    void *ctx;
};

/* "blobs/<alg>/<hex>": keys that are not digests are skipped, as stat could never reach them. */
static int visit_blob(const char *key, uint64_t size, int64_t mtime_s, void *p)
{
    struct blob_walk *bw = p;
    const char *alg = key + 6, *slash = strchr(alg, '/');
    char text[BERTH_DIGEST_STR_MAX];
    struct berth_digest d;
    int n;

    if (!slash) return 0;
    n = snprintf(text, sizeof(text), "%.*s:%s", (int)(slash - alg), alg, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(text)) return 0;
    if (berth_digest_parse(text, (size_t)n, &d, NULL) != BERTH_OK ||
        strncmp(berth_digest_alg_name(d.alg), alg, (size_t)(slash - alg)) != 0 ||
        berth_digest_alg_name(d.alg)[slash - alg] != '\0')
        return 0;
    return bw->fn(&d, size, mtime_s, bw->ctx);
}

static enum berth_rc s3_list(struct berth_blobstore *bs, berth_blob_visit_fn fn, void *ctx, struct berth_err *err)
{
    struct blob_walk bw = {fn, ctx};

    return list_objects(s3_of(bs), "blobs/", visit_blob, &bw, err);
}

/* ---------------------------------------------------------------- upload writers */

/*
 * The bytes of an upload are parts of its multipart upload (ext: id, parts)
 * followed by buf, which the writer holds in memory. A tail object stores
 * buf between requests, with the offset it starts at. tail_current: the
 * tail object starts where the parts end now (tail_len bytes); tail_valid
 * counts the bytes at buf's start that it holds (0: none, or it is stale).
 */
struct s3_writer {
    struct berth_upload_writer base; /* first member: callers hold &base */
    struct s3_store *st;
    struct berth_s3_ext ext;  /* mp and parts as stored; ext.tail unused until close */
    uint64_t parts_bytes;
    char *buf;
    size_t len, cap;
    uint64_t tail_valid, tail_len;
    int tail_exists;  /* a tail object may be there (current or stale) */
    int tail_current;
    int completed;   /* commit completed the multipart upload: nothing more can be stored */
    int gone;        /* commit ended the upload */
};

static const struct berth_upload_writer_ops s3_writer_ops;

static struct s3_writer *writer_of(struct berth_upload_writer *w)
{
    if (!w || w->magic != BERTH_UPLOAD_WRITER_MAGIC || w->ops != &s3_writer_ops) abort();
    return (struct s3_writer *)w;
}

/* Sends buf as the next part, starting the multipart upload (and its mp object) on the first. */
static enum berth_rc flush_part(struct s3_writer *sw, struct berth_err *err)
{
    struct s3_store *st = sw->st;
    char key[KEY_MAX], mpkey[KEY_MAX], etag[BERTH_S3_ETAG_MAX];
    char *id = NULL;
    enum berth_rc rc;

    if (sw->ext.nparts >= BERTH_S3_PARTS_MAX)
        return berth_err_set(err, BERTH_ETOOBIG, "upload %s: S3 takes at most %d parts", sw->base.id,
                             BERTH_S3_PARTS_MAX);
    upload_key(sw->base.id, "data", key);
    if (!sw->ext.mp) {
        rc = mp_initiate(st, key, &id, err);
        if (rc) return rc;
        upload_key(sw->base.id, "mp", mpkey);
        rc = obj_put(st, mpkey, id, strlen(id), NULL, err);
        if (rc) {
            struct berth_err aerr = BERTH_ERR_INIT;
            mp_abort(st, key, id, &aerr);
            free(id);
            return rc;
        }
        sw->ext.mp = id;
    }
    rc = mp_upload_part(st, key, sw->ext.mp, (uint32_t)sw->ext.nparts + 1, sw->buf, sw->len, etag, err);
    if (rc) return rc;
    berth_s3_ext_add(&sw->ext, etag, sw->len);
    sw->parts_bytes += sw->len;
    sw->len = 0;
    sw->tail_valid = 0; /* its bytes are in the part now */
    sw->tail_current = 0;
    return BERTH_OK;
}

/*
 * Never sends bytes of this call: a part goes out only when the buffer held
 * a part's worth before it, so a failed append leaves nothing but buffered
 * bytes, and truncate can cut back to any length not yet in a part.
 */
static enum berth_rc s3_writer_append(struct berth_upload_writer *w, const void *data, size_t len,
                                      struct berth_err *err)
{
    struct s3_writer *sw = writer_of(w);
    uint64_t target = berth_s3_part_target(sw->st->conf.part_size, sw->ext.nparts);
    size_t need, ncap;
    enum berth_rc rc;

    if (sw->len >= target) {
        rc = no_enoent(flush_part(sw, err));
        if (rc) return rc;
    }
    if (len > SIZE_MAX - sw->len) return berth_err_set(err, BERTH_ETOOBIG, "upload %s is too large", sw->base.id);
    need = sw->len + len;
    if (need > sw->cap) {
        ncap = sw->cap ? sw->cap : 64 * 1024;
        while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        /* the buffer reaches a part's size plus one append: no need to double past that */
        if (need <= target + BERTH_S3_MIB && ncap > target + BERTH_S3_MIB) ncap = (size_t)(target + BERTH_S3_MIB);
        sw->buf = berth_xrealloc(sw->buf, ncap);
        sw->cap = ncap;
    }
    memcpy(sw->buf + sw->len, data, len);
    sw->len += len;
    sw->base.size += len;
    return BERTH_OK;
}

static enum berth_rc s3_writer_truncate(struct berth_upload_writer *w, uint64_t len, struct berth_err *err)
{
    struct s3_writer *sw = writer_of(w);

    if (len < sw->parts_bytes)
        return berth_err_set(err, BERTH_EINVAL,
                             "upload %s cannot be cut back to %llu bytes: %llu are in S3 parts already", sw->base.id,
                             (unsigned long long)len, (unsigned long long)sw->parts_bytes);
    sw->len = (size_t)(len - sw->parts_bytes);
    if (sw->tail_valid > sw->len) sw->tail_valid = sw->len;
    sw->base.size = len;
    return BERTH_OK;
}

/* S3 writes are durable once acknowledged; the buffered bytes wait for close or commit. */
static enum berth_rc s3_writer_sync(struct berth_upload_writer *w, struct berth_err *err)
{
    (void)writer_of(w);
    (void)err;
    return BERTH_OK;
}

/* Deletes the upload's objects; what is left behind is garbage for gc's upload sweep. */
static void upload_cleanup(struct s3_writer *sw)
{
    char key[KEY_MAX];

    if (sw->tail_exists) {
        upload_key(sw->base.id, "tail", key);
        obj_delete_quietly(sw->st, key);
    }
    if (sw->ext.mp) {
        upload_key(sw->base.id, "data", key);
        obj_delete_quietly(sw->st, key);
        upload_key(sw->base.id, "mp", key);
        obj_delete_quietly(sw->st, key);
    }
    upload_key(sw->base.id, "info", key);
    obj_delete_quietly(sw->st, key);
}

/* Hashes buf with d's algorithm; BERTH_EDIGEST if it is not d. */
static enum berth_rc verify_buffer(struct s3_writer *sw, const struct berth_digest *d, struct berth_err *err)
{
    struct berth_hasher h;
    struct berth_digest got;

    berth_hasher_init(&h, d->alg);
    berth_hasher_update(&h, sw->buf, sw->len);
    berth_hasher_final(&h, &got);
    berth_hasher_release(&h);
    if (!berth_digest_eq(&got, d))
        return berth_err_set(err, BERTH_EDIGEST, "upload %s has digest %s, not %s", sw->base.id, got.s, d->s);
    return BERTH_OK;
}

/* The whole upload was in the buffer: one PutObject onto the blob's key, unless it is there. */
static enum berth_rc commit_small(struct s3_writer *sw, const struct berth_digest *d, const char *bkey,
                                  unsigned flags, struct berth_err *err)
{
    struct s3_store *st = sw->st;
    struct berth_err aerr = BERTH_ERR_INIT;
    char key[KEY_MAX];
    enum berth_rc rc;

    if (!(flags & BERTH_COMMIT_VERIFIED)) {
        rc = verify_buffer(sw, d, err);
        if (rc) return rc;
    }
    rc = obj_head(st, bkey, NULL, NULL, err);
    if (rc == BERTH_ENOENT) rc = obj_put(st, bkey, sw->buf, sw->len, NULL, err);
    if (rc) return rc;
    if (sw->ext.mp) { /* started, but no part made it */
        upload_key(sw->base.id, "data", key);
        if (mp_abort(st, key, sw->ext.mp, &aerr))
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 multipart upload not aborted\" upload=%s err=\"%s\"", sw->base.id,
                      berth_err_msg(&aerr));
    }
    return BERTH_OK;
}

/* Streams key back through a hash of d's algorithm: BERTH_EDIGEST unless it is size bytes hashing to d. */
static enum berth_rc verify_object(struct s3_writer *sw, const char *key, const struct berth_digest *d,
                                   struct berth_err *err)
{
    struct s3_req rq = {.op = "GetObject", .method = "GET", .key = key};
    struct berth_hasher h;
    struct berth_digest got;
    struct s3_resp rs;
    enum berth_rc rc;

    berth_hasher_init(&h, d->alg);
    rq.hash = &h;
    resp_init(&rs);
    rc = s3_call(sw->st, &rq, &rs, err);
    if (rc == BERTH_ENOENT) rc = BERTH_EIO;
    berth_hasher_final(&h, &got);
    if (!rc && (rs.got != sw->base.size || !berth_digest_eq(&got, d)))
        rc = berth_err_set(err, BERTH_EDIGEST, "upload %s has digest %s (%llu bytes), not %s", sw->base.id, got.s,
                           (unsigned long long)rs.got, d->s);
    resp_release(&rs);
    berth_hasher_release(&h);
    return rc;
}

/*
 * The upload had parts: the buffer goes as the last part, the multipart
 * upload is completed onto uploads/<uuid>/data, checked, and copied to the
 * blob's key (unless the blob is there).
 */
static enum berth_rc commit_parts(struct s3_writer *sw, const struct berth_digest *d, const char *bkey,
                                  unsigned flags, struct berth_err *err)
{
    struct s3_store *st = sw->st;
    struct berth_err aerr = BERTH_ERR_INIT;
    char key[KEY_MAX];
    uint64_t size = 0;
    enum berth_rc rc;
    int exists = -1;

    upload_key(sw->base.id, "data", key);
    if (flags & BERTH_COMMIT_VERIFIED) {
        rc = obj_head(st, bkey, NULL, NULL, err);
        if (rc && rc != BERTH_ENOENT) return rc;
        exists = rc == BERTH_OK;
        if (exists) { /* content addressing: the bytes are stored already */
            if (mp_abort(st, key, sw->ext.mp, &aerr))
                BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 multipart upload not aborted\" upload=%s err=\"%s\"",
                          sw->base.id, berth_err_msg(&aerr));
            return BERTH_OK;
        }
    }
    if (sw->len) {
        rc = flush_part(sw, err);
        if (rc) return rc;
    }
    rc = mp_complete(st, key, sw->ext.mp, sw->ext.parts, sw->ext.nparts, err);
    if (rc) return rc;
    sw->completed = 1;
    if (!(flags & BERTH_COMMIT_VERIFIED)) {
        rc = verify_object(sw, key, d, err);
    } else {
        rc = obj_head(st, key, &size, NULL, err);
        if (rc == BERTH_ENOENT) rc = BERTH_EIO;
        if (!rc && size != sw->base.size)
            rc = berth_err_set(err, BERTH_EIO, "upload %s: S3 completed %llu bytes, not %llu", sw->base.id,
                               (unsigned long long)size, (unsigned long long)sw->base.size);
    }
    if (rc) return rc;
    if (exists < 0) {
        rc = obj_head(st, bkey, NULL, NULL, err);
        if (rc && rc != BERTH_ENOENT) return rc;
        exists = rc == BERTH_OK;
    }
    return exists ? BERTH_OK : obj_copy(st, key, bkey, sw->base.size, err);
}

static enum berth_rc s3_writer_commit(struct berth_upload_writer *w, const struct berth_digest *d, unsigned flags,
                                      struct berth_err *err)
{
    struct s3_writer *sw = writer_of(w);
    char bkey[KEY_MAX];
    enum berth_rc rc;

    rc = blob_key(d, bkey, err);
    if (rc) return rc;
    rc = sw->ext.nparts ? commit_parts(sw, d, bkey, flags, err) : commit_small(sw, d, bkey, flags, err);
    rc = no_enoent(rc);
    if (rc && sw->completed) {
        /*
         * The parts are one object now and no part can follow: the upload
         * cannot go on. Without its info marker it is unknown to resume and
         * stat; upload_remove and gc's sweep still find its objects.
         */
        char key[KEY_MAX];
        upload_key(sw->base.id, "info", key);
        obj_delete_quietly(sw->st, key);
    }
    if (rc) return rc;
    sw->gone = 1;
    upload_cleanup(sw);
    return BERTH_OK;
}

/*
 * Stores the buffer for the next request: as a part when it is large
 * enough, and as the tail object with the offset it starts at (so a stale
 * tail is recognised). After a part the tail is stored empty: it says where
 * the parts end (upload_stat), and its time shows the upload is alive
 * (upload_list's mtime, by which gc finds idle uploads; parts are not
 * objects). Returns what failed; the caller logs it.
 */
static enum berth_rc persist(struct s3_writer *sw, struct berth_err *err)
{
    struct s3_store *st = sw->st;
    char key[KEY_MAX], offset[24];
    enum berth_rc rc;

    if (sw->len >= berth_s3_part_close_min(st->conf.part_size, sw->ext.nparts) && flush_part(sw, err))
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 part not sent, storing the bytes as the tail\" upload=%s err=\"%s\"",
                  sw->base.id, berth_err_msg(err));
    if (sw->tail_current && sw->tail_len == sw->len && sw->tail_valid == sw->len) return BERTH_OK; /* no change */
    if (!sw->len && !sw->ext.nparts && !sw->tail_exists) return BERTH_OK; /* nothing to record */
    upload_key(sw->base.id, "tail", key);
    snprintf(offset, sizeof(offset), "%llu", (unsigned long long)sw->parts_bytes);
    sw->tail_exists = 1;
    rc = obj_put(st, key, sw->buf, sw->len, offset, err);
    if (rc) return rc;
    sw->tail_current = 1;
    sw->tail_len = sw->tail_valid = sw->len;
    return BERTH_OK;
}

static void s3_writer_close(struct berth_upload_writer *w, struct berth_upload_state *state)
{
    struct s3_writer *sw = writer_of(w);
    struct berth_err err = BERTH_ERR_INIT;

    if (!sw->gone && !sw->completed && persist(sw, &err))
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"S3 upload bytes not stored\" upload=%s bytes=%zu err=\"%s\"", sw->base.id,
                  sw->len - (size_t)sw->tail_valid, berth_err_msg(&err));
    if (state) {
        snprintf(state->id, sizeof(state->id), "%s", sw->base.id);
        state->size = sw->base.size;
        if (!sw->gone && !sw->completed) {
            sw->ext.tail = sw->tail_valid;
            /* what is stored, not what was appended: a resume from more finds bytes missing */
            state->size = sw->parts_bytes + sw->tail_valid;
            state->ext = berth_s3_ext_format(&sw->ext);
        }
    }
    berth_s3_ext_release(&sw->ext);
    if (sw->buf) explicit_bzero(sw->buf, sw->len);
    free(sw->buf);
    sw->base.magic = 0;
    free(sw);
}

static const struct berth_upload_writer_ops s3_writer_ops = {
    .append = s3_writer_append,
    .truncate = s3_writer_truncate,
    .sync = s3_writer_sync,
    .commit = s3_writer_commit,
    .close = s3_writer_close,
};

static struct s3_writer *writer_new(struct s3_store *st, const char *uuid)
{
    struct s3_writer *sw = berth_xcalloc(1, sizeof(*sw));

    sw->base.magic = BERTH_UPLOAD_WRITER_MAGIC;
    sw->base.ops = &s3_writer_ops;
    snprintf(sw->base.id, sizeof(sw->base.id), "%s", uuid);
    sw->st = st;
    return sw;
}

/* BERTH_OK if the upload's info marker is there, BERTH_EUPLOADUNKNOWN if not. */
static enum berth_rc upload_exists(struct s3_store *st, const char *uuid, struct berth_err *err)
{
    char key[KEY_MAX];
    enum berth_rc rc;

    upload_key(uuid, "info", key);
    rc = obj_head(st, key, NULL, NULL, err);
    if (rc == BERTH_ENOENT) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
    return rc;
}

static enum berth_rc s3_upload_create(struct berth_blobstore *bs, const char *uuid, struct berth_upload_writer **out,
                                      struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    rc = upload_exists(st, uuid, err);
    if (rc == BERTH_OK) return berth_err_set(err, BERTH_EEXIST, "upload %s already exists", uuid);
    if (rc != BERTH_EUPLOADUNKNOWN) return rc;
    upload_key(uuid, "info", key);
    rc = no_enoent(obj_put(st, key, NULL, 0, NULL, err));
    if (rc) return rc;
    *out = &writer_new(st, uuid)->base;
    return BERTH_OK;
}

/*
 * Loads the tail object's first want bytes into the writer's buffer. The
 * tail must start where the parts end (its x-amz-meta-offset), else it is
 * stale (a part was sent after it was written) and counts as absent.
 */
static enum berth_rc load_tail(struct s3_writer *sw, uint64_t want, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(BERTH_S3_PART_MAX);
    char key[KEY_MAX];
    uint64_t offset = 0;
    enum berth_rc rc;

    upload_key(sw->base.id, "tail", key);
    rc = obj_get(sw->st, key, &b, &offset, err);
    if (rc == BERTH_ENOENT) {
        rc = BERTH_OK;
        berth_buf_reset(&b);
    } else if (!rc) {
        sw->tail_exists = 1;
        sw->tail_current = offset == sw->parts_bytes;
        sw->tail_len = b.len;
        if (!sw->tail_current) berth_buf_reset(&b);
    }
    if (!rc && b.len < want)
        rc = berth_err_set(err, BERTH_EIO, "upload %s holds %llu bytes, fewer than the %llu it had", sw->base.id,
                           (unsigned long long)(sw->parts_bytes + b.len),
                           (unsigned long long)(sw->parts_bytes + want));
    if (!rc) {
        sw->len = (size_t)want;
        sw->buf = berth_buf_detach(&b, &sw->cap);
        sw->cap = sw->buf ? sw->cap + 1 : 0;
        sw->tail_valid = want;
    }
    berth_buf_release(&b);
    return rc;
}

/* Without resume data: the parts from ListParts (its mp object names the multipart upload). */
static enum berth_rc find_parts(struct s3_writer *sw, struct berth_err *err)
{
    char key[KEY_MAX];
    size_t i;
    enum berth_rc rc;

    rc = mp_id_load(sw->st, sw->base.id, &sw->ext.mp, err);
    if (rc == BERTH_ENOENT) return BERTH_OK; /* no part was ever sent */
    if (rc) return rc;
    upload_key(sw->base.id, "data", key);
    rc = mp_list_parts(sw->st, key, &sw->ext, err);
    if (rc == BERTH_ENOENT)
        return berth_err_set(err, BERTH_EIO, "upload %s: its S3 multipart upload is gone (completed or aborted)",
                             sw->base.id);
    if (rc) return rc;
    for (i = 0; i < sw->ext.nparts; i++)
        if (sw->ext.parts[i].size < BERTH_S3_PART_MIN)
            return berth_err_set(err, BERTH_EIO, "upload %s cannot continue: its S3 part %zu holds only %llu bytes",
                                 sw->base.id, i + 1, (unsigned long long)sw->ext.parts[i].size);
    sw->parts_bytes = berth_s3_ext_parts_bytes(&sw->ext);
    return BERTH_OK;
}

static enum berth_rc s3_upload_resume(struct berth_blobstore *bs, const struct berth_upload_state *state,
                                      struct berth_upload_writer **out, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    const char *uuid = state ? state->id : NULL;
    struct s3_writer *sw = NULL;
    struct berth_err perr = BERTH_ERR_INIT;
    uint64_t avail = UINT64_MAX;
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (!rc) rc = upload_exists(st, uuid, err);
    if (rc) return rc;
    sw = writer_new(st, uuid);
    if (state->ext && berth_s3_ext_parse(state->ext, &sw->ext, &perr) == BERTH_OK) {
        /* the caller's record of what close stored: no ListParts needed */
        sw->parts_bytes = berth_s3_ext_parts_bytes(&sw->ext);
        avail = sw->parts_bytes + sw->ext.tail;
    } else {
        if (state->ext)
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"S3 upload data unusable, listing parts\" upload=%s err=\"%s\"", uuid,
                      berth_err_msg(&perr));
        berth_s3_ext_release(&sw->ext);
        rc = find_parts(sw, err);
        if (rc) goto out;
    }
    if (sw->parts_bytes > state->size) {
        /* a part holds bytes the caller never counted: parts cannot be cut */
        rc = berth_err_set(err, BERTH_EIO, "upload %s has %llu bytes in S3 parts, more than the %llu it had", uuid,
                           (unsigned long long)sw->parts_bytes, (unsigned long long)state->size);
        goto out;
    }
    if (state->size > avail) {
        rc = berth_err_set(err, BERTH_EIO, "upload %s holds %llu bytes, fewer than the %llu it had", uuid,
                           (unsigned long long)avail, (unsigned long long)state->size);
        goto out;
    }
    rc = load_tail(sw, state->size - sw->parts_bytes, err);
    if (rc) goto out;
    sw->ext.tail = 0;
    sw->base.size = state->size;
    *out = &sw->base;
    sw = NULL;
out:
    if (sw) {
        sw->gone = 1; /* nothing to store on the way out */
        s3_writer_close(&sw->base, NULL);
    }
    return rc;
}

static enum berth_rc s3_upload_open_reader(struct berth_blobstore *bs, const char *uuid,
                                           struct berth_blob_reader **out, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    struct berth_s3_ext e = {0};
    char key[KEY_MAX];
    uint64_t size = 0, offset = 0;
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (!rc) rc = upload_exists(st, uuid, err);
    if (!rc) rc = mp_id_load(st, uuid, &e.mp, err);
    if (!rc) {
        upload_key(uuid, "data", key);
        rc = mp_list_parts(st, key, &e, err);
        if (!rc && e.nparts) rc = BERTH_ENOENT;
        if (rc == BERTH_ENOENT)
            rc = berth_err_set(err, BERTH_EIO, "upload %s: an S3 upload's parts cannot be read before it completes",
                               uuid);
    } else if (rc == BERTH_ENOENT) {
        rc = BERTH_OK;
    }
    berth_s3_ext_release(&e);
    if (rc) return rc;
    upload_key(uuid, "tail", key);
    rc = obj_head(st, key, &size, &offset, err);
    if (rc == BERTH_ENOENT) {
        rc = BERTH_OK;
        size = 0;
    } else if (!rc && offset) {
        size = 0; /* a tail left from before a part the listing no longer shows: stale */
    }
    if (rc) return rc;
    *out = &reader_new(st, key, size)->base;
    return BERTH_OK;
}

static enum berth_rc s3_upload_stat(struct berth_blobstore *bs, const char *uuid, uint64_t *size,
                                    struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    char key[KEY_MAX];
    uint64_t len = 0, offset = 0;
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (!rc) rc = upload_exists(st, uuid, err);
    if (rc) return rc;
    upload_key(uuid, "tail", key);
    rc = obj_head(st, key, &len, &offset, err);
    if (rc == BERTH_ENOENT) {
        *size = 0;
        return BERTH_OK;
    }
    if (!rc) *size = offset + len;
    return rc;
}

/* The names under uploads/<uuid>/ (at most a few). */
struct upload_objects {
    char names[8][16];
    size_t n;
};

static int visit_upload_object(const char *key, uint64_t size, int64_t mtime_s, void *p)
{
    struct upload_objects *o = p;
    const char *name = key + strlen("uploads/") + 37;

    (void)size;
    (void)mtime_s;
    if (o->n < sizeof(o->names) / sizeof(o->names[0]) && strlen(name) < sizeof(o->names[0]))
        snprintf(o->names[o->n++], sizeof(o->names[0]), "%s", name);
    return 0;
}

static enum berth_rc s3_upload_remove(struct berth_blobstore *bs, const char *uuid, struct berth_err *err)
{
    struct s3_store *st = s3_of(bs);
    struct upload_objects o;
    char under[KEY_MAX], key[KEY_MAX], *id = NULL;
    size_t i;
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    memset(&o, 0, sizeof(o));
    snprintf(under, sizeof(under), "uploads/%s/", uuid);
    rc = list_objects(st, under, visit_upload_object, &o, err);
    if (rc) return rc;
    if (!o.n) return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
    rc = mp_id_load(st, uuid, &id, err);
    if (!rc) {
        upload_key(uuid, "data", key);
        rc = mp_abort(st, key, id, err);
    }
    if (rc == BERTH_ENOENT) rc = BERTH_OK;
    for (i = 0; i < o.n && !rc; i++) {
        snprintf(key, sizeof(key), "%s%s", under, o.names[i]);
        rc = obj_delete(st, key, err);
    }
    free(id);
    return rc;
}

/* upload_list's walk: objects of one uuid are adjacent in the listing (keys sorted). */
struct upload_walk {
    berth_upload_visit_fn fn;
    void *ctx;
    char uuid[37]; /* "" before the first */
    uint64_t size;
    int64_t mtime;
};

static int upload_emit(struct upload_walk *uw)
{
    int stop = 0;

    if (uw->uuid[0]) stop = uw->fn(uw->uuid, uw->size, uw->mtime, uw->ctx);
    uw->uuid[0] = '\0';
    return stop;
}

static int visit_upload(const char *key, uint64_t size, int64_t mtime_s, void *p)
{
    struct upload_walk *uw = p;
    const char *id = key + strlen("uploads/");
    char uuid[37];

    if (strlen(id) < 38 || id[36] != '/') return 0;
    memcpy(uuid, id, 36);
    uuid[36] = '\0';
    if (!berth_uuid_valid(uuid)) return 0;
    if (strcmp(uuid, uw->uuid) != 0) {
        if (upload_emit(uw)) return 1;
        memcpy(uw->uuid, uuid, sizeof(uuid));
        uw->size = 0;
        uw->mtime = 0;
    }
    if (!strcmp(id + 37, "tail")) uw->size = size;
    if (mtime_s > uw->mtime) uw->mtime = mtime_s;
    return 0;
}

static enum berth_rc s3_upload_list(struct berth_blobstore *bs, berth_upload_visit_fn fn, void *ctx,
                                    struct berth_err *err)
{
    struct upload_walk uw;
    enum berth_rc rc;

    memset(&uw, 0, sizeof(uw));
    uw.fn = fn;
    uw.ctx = ctx;
    rc = list_objects(s3_of(bs), "uploads/", visit_upload, &uw, err);
    if (!rc) upload_emit(&uw);
    return rc;
}

/* Nothing of the driver's is ever half-written in the bucket: S3 writes whole objects. */
static enum berth_rc s3_clean_temp(struct berth_blobstore *bs, uint64_t *removed, struct berth_err *err)
{
    (void)s3_of(bs);
    (void)err;
    if (removed) *removed = 0;
    return BERTH_OK;
}

const struct berth_blobstore_ops berth_blobstore_s3_ops = {
    .name = "s3",
    .open = s3_open,
    .close = s3_close,
    .stat = s3_stat,
    .open_reader = s3_open_reader,
    .open_known = s3_open_known,
    .remove = s3_remove,
    .list = s3_list,
    .upload_create = s3_upload_create,
    .upload_resume = s3_upload_resume,
    .upload_open_reader = s3_upload_open_reader,
    .upload_stat = s3_upload_stat,
    .upload_remove = s3_upload_remove,
    .upload_list = s3_upload_list,
    .clean_temp = s3_clean_temp,
    .check = s3_check,
};
