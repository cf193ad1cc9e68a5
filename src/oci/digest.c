/* digest.c - digest parsing and the streaming hasher on OpenSSL's SHA-2 contexts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* the SHA256/SHA512 context API is deprecated in OpenSSL 3 but is the only one whose state can be saved */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
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

/*
 * The running state of one hash. OpenSSL 3 gives no way to export an EVP
 * digest context, and an upload's hash must be saved between requests that
 * other servers may serve, so the hasher runs on the SHA256/SHA512 contexts
 * (the same assembly, SHA-NI included) whose fields are public.
 */
union hash_ctx {
    SHA256_CTX s256;
    SHA512_CTX s512;
};

void berth_hasher_init(struct berth_hasher *h, enum berth_digest_alg alg)
{
    union hash_ctx *c = malloc(sizeof(*c));
    int ok = 0;

    if (!c) die("out of memory creating a digest context");
    switch (alg) {
    case BERTH_DIGEST_SHA256:
        ok = SHA256_Init(&c->s256);
        break;
    case BERTH_DIGEST_SHA512:
        ok = SHA512_Init(&c->s512);
        break;
    }
    if (ok != 1) die("unknown digest algorithm passed to the hasher");
    h->alg = alg;
    h->ctx = c;
}

void berth_hasher_update(struct berth_hasher *h, const void *p, size_t n)
{
    union hash_ctx *c = h->ctx;

    if (!c) die("berth_hasher_update on a finished or released hasher");
    if (n == 0) return;
    if (h->alg == BERTH_DIGEST_SHA256) SHA256_Update(&c->s256, p, n);
    else SHA512_Update(&c->s512, p, n);
}

void berth_hasher_final(struct berth_hasher *h, struct berth_digest *out)
{
    unsigned char md[SHA512_DIGEST_LENGTH];
    union hash_ctx *c = h->ctx;

    if (!c) die("berth_hasher_final on a finished or released hasher");
    if (h->alg == BERTH_DIGEST_SHA256) {
        SHA256_Final(md, &c->s256);
        fill_digest(h->alg, md, SHA256_DIGEST_LENGTH, out);
    } else {
        SHA512_Final(md, &c->s512);
        fill_digest(h->alg, md, SHA512_DIGEST_LENGTH, out);
    }
    /* the context is spent: free it now so that re-initialising cannot leak it */
    free(c);
    h->ctx = NULL;
}

void berth_hasher_copy(struct berth_hasher *dst, const struct berth_hasher *src)
{
    union hash_ctx *c;

    if (!src->ctx) die("berth_hasher_copy from a finished or released hasher");
    c = malloc(sizeof(*c));
    if (!c) die("out of memory creating a digest context");
    memcpy(c, src->ctx, sizeof(*c));
    dst->alg = src->alg;
    dst->ctx = c;
}

void berth_hasher_release(struct berth_hasher *h)
{
    if (!h) return;
    free(h->ctx);
    h->ctx = NULL;
}

/*
 * The saved form: "BH1", the algorithm's byte ('2' or '5'), the chaining
 * values and the bit count as big-endian words, the count of buffered
 * bytes, then those bytes. Independent of the host's byte order and of
 * OpenSSL's struct layout.
 */
#define SAVE_TAG "BH1"

static void put_be(unsigned char *p, uint64_t v, int n)
{
    int i;
    for (i = n - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

size_t berth_hasher_save(const struct berth_hasher *h, unsigned char out[BERTH_HASHER_SAVE_MAX])
{
    const union hash_ctx *c = h->ctx;
    unsigned char *p = out;
    int i;

    if (!c) die("berth_hasher_save of a finished or released hasher");
    memcpy(p, SAVE_TAG, 3);
    p += 3;
    if (h->alg == BERTH_DIGEST_SHA256) {
        const SHA256_CTX *s = &c->s256;
        if (s->num >= SHA256_CBLOCK) die("SHA-256 context holds a full block");
        *p++ = '2';
        for (i = 0; i < 8; i++, p += 4) put_be(p, s->h[i], 4);
        put_be(p, s->Nh, 4);
        put_be(p + 4, s->Nl, 4);
        p += 8;
        *p++ = (unsigned char)s->num;
        memcpy(p, s->data, s->num);
        p += s->num;
    } else {
        const SHA512_CTX *s = &c->s512;
        if (s->num >= SHA512_CBLOCK) die("SHA-512 context holds a full block");
        *p++ = '5';
        for (i = 0; i < 8; i++, p += 8) put_be(p, s->h[i], 8);
        put_be(p, s->Nh, 8);
        put_be(p + 8, s->Nl, 8);
        p += 16;
        *p++ = (unsigned char)s->num;
        memcpy(p, s->u.p, s->num);
        p += s->num;
    }
    BERTH_ASSERT((size_t)(p - out) <= BERTH_HASHER_SAVE_MAX);
    return (size_t)(p - out);
}

enum berth_rc berth_hasher_load(struct berth_hasher *h, const void *buf, size_t len, struct berth_err *err)
{
    const unsigned char *p = buf;
    union hash_ctx *c;
    size_t words, wsize, block, num, need;
    int i;

    if (len < 4 || memcmp(p, SAVE_TAG, 3) != 0 || (p[3] != '2' && p[3] != '5'))
        return berth_err_set(err, BERTH_EINVAL, "saved hash state is not in a known form");
    wsize = p[3] == '2' ? 4 : 8;
    block = p[3] == '2' ? SHA256_CBLOCK : SHA512_CBLOCK;
    words = 10;
    need = 4 + words * wsize + 1;
    if (len < need) return berth_err_set(err, BERTH_EINVAL, "saved hash state is cut short");
    num = p[need - 1];
    if (num >= block || len != need + num)
        return berth_err_set(err, BERTH_EINVAL, "saved hash state holds %zu buffered bytes in %zu", num, len);
    /* the bit count of the hashed bytes must agree with the buffered tail */
    if ((get_be(p + 4 + 9 * wsize, (int)wsize) / 8) % block != num)
        return berth_err_set(err, BERTH_EINVAL, "saved hash state's length disagrees with its buffer");
    berth_hasher_init(h, p[3] == '2' ? BERTH_DIGEST_SHA256 : BERTH_DIGEST_SHA512);
    c = h->ctx;
    p += 4;
    if (h->alg == BERTH_DIGEST_SHA256) {
        SHA256_CTX *s = &c->s256;
        for (i = 0; i < 8; i++, p += 4) s->h[i] = (SHA_LONG)get_be(p, 4);
        s->Nh = (SHA_LONG)get_be(p, 4);
        s->Nl = (SHA_LONG)get_be(p + 4, 4);
        p += 9;
        s->num = (unsigned int)num;
        memcpy(s->data, p, num);
    } else {
        SHA512_CTX *s = &c->s512;
        for (i = 0; i < 8; i++, p += 8) s->h[i] = get_be(p, 8);
        s->Nh = get_be(p, 8);
        s->Nl = get_be(p + 8, 8);
        p += 17;
        s->num = (unsigned int)num;
        memcpy(s->u.p, p, num);
    }
    return BERTH_OK;
}

void berth_digest_of(enum berth_digest_alg alg, const void *p, size_t n, struct berth_digest *out)
{
    struct berth_hasher h;

    berth_hasher_init(&h, alg);
    berth_hasher_update(&h, p, n);
    berth_hasher_final(&h, out);
    berth_hasher_release(&h);
}
