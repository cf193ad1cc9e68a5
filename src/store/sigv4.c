/*
 * sigv4.c - AWS Signature Version 4: canonical request, string to sign,
 * the derived signing key and the signature, as sigv4.h describes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "alloc.h"
#include "oci.h"
#include "parse.h"
#include "sigv4.h"
#include "banned.h"

#define MAX_PARAMS 64   /* query parameters signed */
#define MAX_HEADERS 32  /* headers signed */

void berth_sigv4_uri_encode(struct berth_buf *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/'))
            berth_buf_putc(b, (char)c);
        else
            berth_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

char *berth_sigv4_uri_decode(const char *s, size_t n)
{
    char *out = berth_xmalloc(n + 1), *w = out;
    size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        if (i + 2 >= n || berth_hex_digit(s[i + 1]) < 0 || berth_hex_digit(s[i + 2]) < 0) {
            free(out);
            return NULL;
        }
        *w++ = (char)(berth_hex_digit(s[i + 1]) << 4 | berth_hex_digit(s[i + 2]));
        i += 2;
    }
    *w = '\0';
    return out;
}

struct param {
    char *k, *v; /* canonically encoded */
};

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Appends query's canonical form (decoded, re-encoded, sorted) to out. */
static enum berth_rc canonical_query(const char *query, struct berth_buf *out, struct berth_err *err)
{
    struct param p[MAX_PARAMS];
    size_t np = 0, i;
    const char *s = query ? query : "";
    enum berth_rc rc = BERTH_OK;

    while (*s) {
        size_t n = strcspn(s, "&"), kn;
        const char *eq = memchr(s, '=', n);
        char *k, *v;
        struct berth_buf kb = BERTH_BUF_INIT(0), vb = BERTH_BUF_INIT(0);

        if (n == 0) {
            s++;
            continue;
        }
        if (np == MAX_PARAMS) {
            rc = berth_err_set(err, BERTH_EINVAL, "more than %d query parameters to sign", MAX_PARAMS);
            goto out;
        }
        kn = eq ? (size_t)(eq - s) : n;
        k = berth_sigv4_uri_decode(s, kn);
        v = eq ? berth_sigv4_uri_decode(eq + 1, n - kn - 1) : berth_xstrdup("");
        if (!k || !v) {
            free(k);
            free(v);
            rc = berth_err_set(err, BERTH_EINVAL, "a query parameter has a broken %% escape");
            goto out;
        }
        berth_sigv4_uri_encode(&kb, k, strlen(k), 0);
        berth_sigv4_uri_encode(&vb, v, strlen(v), 0);
        free(k);
        free(v);
        berth_buf_puts(&kb, "");
        berth_buf_puts(&vb, "");
        p[np].k = berth_buf_detach(&kb, NULL);
        p[np].v = berth_buf_detach(&vb, NULL);
        np++;
        s += n;
        if (*s) s++;
    }
    qsort(p, np, sizeof(p[0]), param_cmp);
    for (i = 0; i < np; i++) berth_buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].k, p[i].v);
out:
    for (i = 0; i < np; i++) {
        free(p[i].k);
        free(p[i].v);
    }
    return rc;
}

struct hdr {
    char *name;  /* lowercase */
    char *value; /* trimmed, inner spaces collapsed */
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Canonical headers ("name:value\n" each, same names joined by ',') into ch, the names joined by ';' into sh. */
static enum berth_rc canonical_headers(const struct berth_sigv4_header *h, size_t nh, struct berth_buf *ch,
                                       struct berth_buf *sh, struct berth_err *err)
{
    struct hdr v[MAX_HEADERS];
    size_t i, j;

    if (nh > MAX_HEADERS) return berth_err_set(err, BERTH_EINVAL, "more than %d headers to sign", MAX_HEADERS);
    for (i = 0; i < nh; i++) {
        const char *s = h[i].value ? h[i].value : "";
        char *w, *n = berth_xstrdup(h[i].name ? h[i].name : "");
        int space = 0;

        for (w = n; *w; w++) *w = (char)tolower((unsigned char)*w);
        v[i].name = n;
        v[i].value = w = berth_xmalloc(strlen(s) + 1);
        while (*s == ' ' || *s == '\t') s++;
        for (; *s; s++) {
            if (*s == ' ' || *s == '\t') {
                space = 1;
                continue;
            }
            if (space && w > v[i].value) *w++ = ' ';
            space = 0;
            *w++ = *s;
        }
        *w = '\0';
    }
    for (i = 0; i < nh; i++)
        if (!*v[i].name || strpbrk(v[i].value, "\r\n")) {
            for (j = 0; j < nh; j++) {
                free(v[j].name);
                free(v[j].value);
            }
            return berth_err_set(err, BERTH_EINVAL, "a header to sign has no name or a line break");
        }
    /* a stable sort keeps repeated headers in their order */
    for (i = 1; i < nh; i++)
        for (j = i; j > 0 && hdr_cmp(&v[j - 1], &v[j]) > 0; j--) {
            struct hdr t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (i = 0; i < nh; i++) {
        if (i && !strcmp(v[i].name, v[i - 1].name)) {
            ch->len--; /* the previous line's newline: the values join with ',' */
            berth_buf_printf(ch, ",%s\n", v[i].value);
        } else {
            berth_buf_printf(ch, "%s:%s\n", v[i].name, v[i].value);
            berth_buf_printf(sh, "%s%s", sh->len ? ";" : "", v[i].name);
        }
    }
    for (i = 0; i < nh; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    return BERTH_OK;
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
    struct berth_digest d;
    berth_digest_of(BERTH_DIGEST_SHA256, s, n, &d);
    snprintf(out, 65, "%s", berth_digest_hex(&d));
}

static void hmac(const unsigned char *key, size_t klen, const char *data, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data, strlen(data), out, &n);
}

static int date_ok(const char *d)
{
    size_t i;
    if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return 0;
    for (i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i])) return 0;
    return 1;
}

/* The signature (hex) of canonical request cr for key at amz_date; scope gets "date/region/service/aws4_request". */
static void sign_request(const struct berth_sigv4_key *key, const char *amz_date, const char *cr, char scope[160],
                         char sig[65])
{
    struct berth_buf sts = BERTH_BUF_INIT(0);
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
    char crh[65], date[9], *secret = berth_xasprintf("AWS4%s", key->secret_key);
    static const char hex[] = "0123456789abcdef";
    int i;

    snprintf(date, sizeof(date), "%.8s", amz_date);
    snprintf(scope, 160, "%s/%s/%s/aws4_request", date, key->region, key->service);
    sha256_hex(cr, strlen(cr), crh);
    berth_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, crh);
    hmac((const unsigned char *)secret, strlen(secret), date, k1);
    hmac(k1, 32, key->region, k2);
    hmac(k2, 32, key->service, k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, berth_buf_str(&sts), s);
    for (i = 0; i < 32; i++) {
        sig[2 * i] = hex[s[i] >> 4];
        sig[2 * i + 1] = hex[s[i] & 15];
    }
    sig[64] = '\0';
    explicit_bzero(secret, strlen(secret));
    free(secret);
    explicit_bzero(k1, sizeof(k1));
    explicit_bzero(k4, sizeof(k4));
    berth_buf_release(&sts);
}

enum berth_rc berth_sigv4_sign(const struct berth_sigv4_key *key, const char *method, const char *path,
                               const char *query, const struct berth_sigv4_header *headers, size_t nheaders,
                               const char *payload_hash, const char *amz_date, struct berth_buf *auth,
                               char sig[65], struct berth_err *err)
{
    struct berth_buf cr = BERTH_BUF_INIT(0), ch = BERTH_BUF_INIT(0), sh = BERTH_BUF_INIT(0);
    char scope[160], s[65];
    enum berth_rc rc;

    if (!date_ok(amz_date)) return berth_err_set(err, BERTH_EINVAL, "x-amz-date must be YYYYMMDDTHHMMSSZ");
    berth_buf_printf(&cr, "%s\n%s\n", method, path && *path ? path : "/");
    rc = canonical_query(query, &cr, err);
    if (!rc) rc = canonical_headers(headers, nheaders, &ch, &sh, err);
    if (rc) goto out;
    berth_buf_printf(&cr, "\n%s\n%s\n%s", berth_buf_str(&ch), berth_buf_str(&sh), payload_hash);
    sign_request(key, amz_date, berth_buf_str(&cr), scope, s);
    berth_buf_printf(auth, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", key->access_key, scope,
                     berth_buf_str(&sh), s);
    if (sig) memcpy(sig, s, 65);
out:
    berth_buf_release(&cr);
    berth_buf_release(&ch);
    berth_buf_release(&sh);
    return rc;
}

enum berth_rc berth_sigv4_presign(const struct berth_sigv4_key *key, const char *method, const char *host,
                                  const char *path, const char *extra_query, int64_t expires_s, const char *amz_date,
                                  struct berth_buf *out, struct berth_err *err)
{
    struct berth_buf q = BERTH_BUF_INIT(0), cq = BERTH_BUF_INIT(0), cr = BERTH_BUF_INIT(0), cred = BERTH_BUF_INIT(0);
    char scope[160], sig[65], date[9];
    enum berth_rc rc;

    if (!date_ok(amz_date)) return berth_err_set(err, BERTH_EINVAL, "x-amz-date must be YYYYMMDDTHHMMSSZ");
    if (expires_s < 1 || expires_s > 604800)
        return berth_err_set(err, BERTH_EINVAL, "a presigned URL lives 1 s to 7 days, not %lld s", (long long)expires_s);
    snprintf(date, sizeof(date), "%.8s", amz_date);
    berth_buf_printf(&cred, "%s/%s/%s/%s/aws4_request", key->access_key, date, key->region, key->service);
    berth_buf_puts(&q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
    berth_sigv4_uri_encode(&q, berth_buf_str(&cred), cred.len, 0);
    berth_buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%lld&X-Amz-SignedHeaders=host", amz_date,
                     (long long)expires_s);
    if (extra_query && *extra_query) berth_buf_printf(&q, "&%s", extra_query);
    rc = canonical_query(berth_buf_str(&q), &cq, err);
    if (rc) goto out;
    berth_buf_printf(&cr, "%s\n%s\n%s\nhost:%s\n\nhost\n" BERTH_SIGV4_UNSIGNED, method, path && *path ? path : "/",
                     berth_buf_str(&cq), host);
    sign_request(key, amz_date, berth_buf_str(&cr), scope, sig);
    berth_buf_printf(out, "%s&X-Amz-Signature=%s", berth_buf_str(&cq), sig);
out:
    berth_buf_release(&q);
    berth_buf_release(&cq);
    berth_buf_release(&cr);
    berth_buf_release(&cred);
    return rc;
}

void berth_sigv4_date(int64_t unix_s, char out[17])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
