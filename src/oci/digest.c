/* digest.c - digest parsing and the streaming hasher on OpenSSL EVP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "oci.h"
#include "util.h"
#include "banned.h"

#define DIGEST_RULE "expected 'sha256:' + 64 or 'sha512:' + 128 lowercase hex characters"

struct alg_row {
    enum berth_digest_alg alg;
    const char *name;
    size_t hexlen;
};

static const struct alg_row alg_rows[] = {
    {BERTH_DIGEST_SHA256, "sha256", 64},
    {BERTH_DIGEST_SHA512, "sha512", 128},
};

static const struct alg_row *alg_by_id(enum berth_digest_alg alg)
{
    size_t i;
    for (i = 0; i < sizeof(alg_rows) / sizeof(alg_rows[0]); i++)
        if (alg_rows[i].alg == alg) return &alg_rows[i];
    return NULL;
}

static const struct alg_row *alg_by_name(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < sizeof(alg_rows) / sizeof(alg_rows[0]); i++)
        if (strlen(alg_rows[i].name) == n && memcmp(alg_rows[i].name, s, n) == 0) return &alg_rows[i];
    return NULL;
}

/* Only short names made of the spec's algorithm characters are echoed back. */
static int alg_printable(const char *s, size_t n)
{
    size_t i;
    if (n > 32) return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

enum berth_rc berth_digest_parse(const char *s, size_t len, struct berth_digest *out, struct berth_err *err)
{
    const struct alg_row *row;
    const char *colon, *hex;
    size_t alglen, hexlen, i;

    if (!s) len = 0;
    colon = len ? memchr(s, ':', len) : NULL;
    if (!colon) return berth_err_set(err, BERTH_EDIGEST, "invalid digest: no ':' separator; " DIGEST_RULE);
    alglen = (size_t)(colon - s);
    if (alglen == 0)
        return berth_err_set(err, BERTH_EDIGEST, "invalid digest: empty algorithm; " DIGEST_RULE);
    row = alg_by_name(s, alglen);
    if (!row) {
        if (alg_printable(s, alglen))
            return berth_err_set(err, BERTH_EDIGEST, "unsupported digest algorithm '%.*s'; " DIGEST_RULE,
                                 (int)alglen, s);
        return berth_err_set(err, BERTH_EDIGEST, "unsupported digest algorithm; " DIGEST_RULE);
    }
    hex = colon + 1;
    hexlen = len - alglen - 1;
    if (hexlen == 0) return berth_err_set(err, BERTH_EDIGEST, "invalid digest: empty hex part; " DIGEST_RULE);
    for (i = 0; i < hexlen; i++) {
        char c = hex[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) continue;
        if (c >= 'A' && c <= 'F')
            return berth_err_set(err, BERTH_EDIGEST, "invalid digest: hex must be lowercase; " DIGEST_RULE);
        return berth_err_set(err, BERTH_EDIGEST, "invalid digest: non-hex character at byte %zu; " DIGEST_RULE,
                             alglen + 1 + i);
    }
    if (hexlen != row->hexlen)
        return berth_err_set(err, BERTH_EDIGEST,
                             "invalid digest: %s needs %zu hex characters, got %zu; " DIGEST_RULE, row->name,
                             row->hexlen, hexlen);
    /* alglen + 1 + hexlen <= 7 + 128 < BERTH_DIGEST_STR_MAX */
    BERTH_ASSERT(len < sizeof(out->s));
    out->alg = row->alg;
    memcpy(out->s, s, len);
    out->s[len] = '\0';
    return BERTH_OK;
}

const char *berth_digest_hex(const struct berth_digest *d)
{
    const char *colon = strchr(d->s, ':');
    return colon ? colon + 1 : d->s + strlen(d->s);
}

const char *berth_digest_alg_name(enum berth_digest_alg alg)
{
    const struct alg_row *row = alg_by_id(alg);
    return row ? row->name : "unknown";
}

int berth_digest_eq(const struct berth_digest *a, const struct berth_digest *b)
{
    if (!a || !b) return 0;
    return a->alg == b->alg && strcmp(a->s, b->s) == 0;
}

/*
 * The hasher's functions return void, so a failure inside OpenSSL (which
 * only happens on allocation failure or misuse) ends the process the way
 * berth_xmalloc does on out-of-memory.
 */
static void die(const char *what)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "berth: %s\n", what);
    if (n > 0) {
        ssize_t w = write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        (void)w;
    }
    abort();
}

static const EVP_MD *evp_md(enum berth_digest_alg alg)
{
    switch (alg) {
    case BERTH_DIGEST_SHA256:
        return EVP_sha256();
    case BERTH_DIGEST_SHA512:
        return EVP_sha512();
    }
    die("unknown digest algorithm passed to the hasher");
    return NULL;
}

static void fill_digest(enum berth_digest_alg alg, const unsigned char *md, unsigned int n,
                        struct berth_digest *out)
{
    const struct alg_row *row = alg_by_id(alg);
    size_t namelen;

    if (!row || n * 2 != row->hexlen) die("digest length does not match its algorithm");
    namelen = strlen(row->name);
    BERTH_ASSERT(namelen + 1 + 2 * (size_t)n < sizeof(out->s));
    memcpy(out->s, row->name, namelen);
    out->s[namelen] = ':';
    berth_hex(md, n, out->s + namelen + 1);
    out->alg = alg;
    BERTH_ASSERT(strlen(berth_digest_hex(out)) == row->hexlen);
}

void berth_hasher_init(struct berth_hasher *h, enum berth_digest_alg alg)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!ctx) die("out of memory creating a digest context");
    if (EVP_DigestInit_ex(ctx, evp_md(alg), NULL) != 1) die("EVP_DigestInit_ex failed");
    h->alg = alg;
    h->ctx = ctx;
}

void berth_hasher_update(struct berth_hasher *h, const void *p, size_t n)
{
    if (!h->ctx) die("berth_hasher_update on a finished or released hasher");
    if (n == 0) return;
    if (EVP_DigestUpdate(h->ctx, p, n) != 1) die("EVP_DigestUpdate failed");
}

void berth_hasher_final(struct berth_hasher *h, struct berth_digest *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!h->ctx) die("berth_hasher_final on a finished or released hasher");
    if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1) die("EVP_DigestFinal_ex failed");
    fill_digest(h->alg, md, n, out);
    /* the context is spent: free it now so that re-initialising cannot leak it */
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void berth_hasher_copy(struct berth_hasher *dst, const struct berth_hasher *src)
{
    EVP_MD_CTX *ctx;

    if (!src->ctx) die("berth_hasher_copy from a finished or released hasher");
    ctx = EVP_MD_CTX_new();
    if (!ctx) die("out of memory creating a digest context");
    if (EVP_MD_CTX_copy_ex(ctx, src->ctx) != 1) die("EVP_MD_CTX_copy_ex failed");
    dst->alg = src->alg;
    dst->ctx = ctx;
}

void berth_hasher_release(struct berth_hasher *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void berth_digest_of(enum berth_digest_alg alg, const void *p, size_t n, struct berth_digest *out)
{
    struct berth_hasher h;

    berth_hasher_init(&h, alg);
    berth_hasher_update(&h, p, n);
    berth_hasher_final(&h, out);
    berth_hasher_release(&h);
}
