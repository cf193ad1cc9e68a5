/*
 * jwt.c - compact JWS with ES256 only: signing with the keyring's newest
 * key, and strict verification of tokens and their claims.
 *
 * Algorithm confusion is ruled out by construction: the only algorithm is
 * ES256, the key comes from the ring by kid (never from the token), and the
 * header's alg must say exactly "ES256" before any key is looked up. The
 * claims are parsed only after the signature has been checked.
 *
 * JWS carries ECDSA signatures as raw R||S (2 x 32 bytes); OpenSSL speaks
 * DER, so both directions convert through ECDSA_SIG.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "alloc.h"
#include "auth.h"
#include "base64.h"
#include "banned.h"

#define JWT_MAX 8192
#define SIG_RAW 64
#define SIG_DER_MAX 80 /* DER of two 33-byte INTEGERs in a SEQUENCE is at most 72 */
#define KID_MAX 64

/* Defined in keyring.c (internal to the auth module): new references, or NULL. */
EVP_PKEY *berth_keyring_signer_ref(struct berth_keyring *kr, char *kid, size_t kidsz);
EVP_PKEY *berth_keyring_key_ref(struct berth_keyring *kr, const char *kid, size_t kidlen);

/* ---------------------------------------------------------------- signing */

/* DER ECDSA-Sig-Value -> raw R||S. */
static int der_to_raw(const unsigned char *der, size_t derlen, unsigned char raw[SIG_RAW])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    const BIGNUM *r, *s;
    int ok = 0;

    if (!sig) return 0;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = p == der + derlen && BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok;
}

/* Raw R||S -> DER; returns the DER length, 0 on failure. */
static size_t raw_to_der(const unsigned char raw[SIG_RAW], unsigned char der[SIG_DER_MAX])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *p = der;
    size_t n = 0;

    if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL; /* owned by sig now */
        if (i2d_ECDSA_SIG(sig, NULL) <= SIG_DER_MAX) {
            int len = i2d_ECDSA_SIG(sig, &p);
            if (len > 0) n = (size_t)len;
            BERTH_ASSERT(n <= SIG_DER_MAX);
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

/* Nonzero if s[0..n) is, after blanks, a '{' ... '}' text: a cheap guard against passing something else. */
static int looks_like_object(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    return n >= 2 && s[0] == '{' && s[n - 1] == '}';
}

enum berth_rc berth_jwt_sign(struct berth_keyring *kr, const char *claims_json, size_t len, struct berth_buf *out,
                             struct berth_err *err)
{
    struct berth_buf tbs = BERTH_BUF_INIT(JWT_MAX);
    char kid[KID_MAX + 1], hdr[160];
    unsigned char der[SIG_DER_MAX], raw[SIG_RAW];
    size_t derlen = sizeof(der);
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *ctx = NULL;
    enum berth_rc rc = BERTH_OK;
    int hlen;

    if (!claims_json || !looks_like_object(claims_json, len)) {
        rc = berth_err_set(err, BERTH_EINVAL, "JWT claims must be a JSON object");
        goto out;
    }
    pkey = berth_keyring_signer_ref(kr, kid, sizeof(kid));
    if (!pkey) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "no signing key");
        goto out;
    }
    hlen = snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    if (hlen < 0 || (size_t)hlen >= sizeof(hdr)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "JWT header too long");
        goto out;
    }
    berth_b64url_encode(hdr, (size_t)hlen, &tbs);
    berth_buf_putc(&tbs, '.');
    berth_b64url_encode(claims_json, len, &tbs);
    /* Leave room for ".<86 signature characters>": a token the verifier would refuse is never made. */
    if (berth_buf_rc(&tbs) || tbs.len > JWT_MAX - 1 - 86) {
        rc = berth_err_set(err, BERTH_ETOOBIG, "JWT would be longer than %d bytes", JWT_MAX);
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)tbs.p, tbs.len) != 1 ||
        !der_to_raw(der, derlen, raw)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "ES256 signing failed");
        goto out;
    }
    berth_buf_append(out, tbs.p, tbs.len);
    berth_buf_putc(out, '.');
    rc = berth_b64url_encode(raw, sizeof(raw), out);
    if (rc) berth_err_set(err, rc, "JWT does not fit the output buffer");
    BERTH_ASSERT(rc || derlen <= SIG_DER_MAX);
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    berth_buf_release(&tbs);
    return rc;
}

/* ---------------------------------------------------------------- verifying */

/* Records why verification failed; the message is fixed text and never quotes the token. */
static enum berth_rc refuse(enum berth_auth_reason *reason, struct berth_err *err, enum berth_auth_reason why,
                            const char *msg)
{
    if (reason) *reason = why;
    return berth_err_set(err, BERTH_EUNAUTHORIZED, "%s", msg);
}

static int str_is(const json_t *v, const char *want)
{
    size_t n = strlen(want);
    return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), want, n) == 0;
}

/* The audience as it matched: the string itself, or the array element equal to want. */
static const char *aud_match(const json_t *aud, const char *want)
{
    size_t i;
    json_t *v;

    if (str_is(aud, want)) return json_string_value(aud);
    if (!json_is_array(aud)) return NULL;
    json_array_foreach(aud, i, v)
        if (str_is(v, want)) return json_string_value(v);
    return NULL;
}

static int dump_cb(const char *p, size_t n, void *data)
{
    return berth_buf_append(data, p, n) == BERTH_OK ? 0 : -1;
}

/*
 * Compact JSON of v in our own allocation (freed with free() whatever
 * allocator jansson is set to use); NULL on failure.
 */
static char *dump_owned(const json_t *v)
{
    struct berth_buf b = BERTH_BUF_INIT(0); /* bounded by the 8 KiB token; reals may print longer */
    char *s = NULL;

    if (json_dump_callback(v, dump_cb, &b, JSON_COMPACT | JSON_ENCODE_ANY) == 0 && berth_buf_rc(&b) == BERTH_OK)
        s = berth_buf_detach(&b, NULL);
    berth_buf_release(&b);
    return s;
}

static char *opt_strdup(const json_t *v)
{
    return json_is_string(v) ? berth_xstrdup(json_string_value(v)) : NULL;
}

/* Saturating a + b for b >= 0, so exp/nbf near the int64 limits cannot wrap. */
static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

enum berth_rc berth_jwt_verify(struct berth_keyring *kr, const char *token, size_t len,
                               const struct berth_jwt_expect *want, struct berth_jwt_claims *out,
                               enum berth_auth_reason *reason, struct berth_err *err)
{
    struct berth_buf hb = BERTH_BUF_INIT(JWT_MAX), cb = BERTH_BUF_INIT(JWT_MAX), sb = BERTH_BUF_INIT(JWT_MAX);
    const char *d1, *d2, *aud;
    json_t *hdr = NULL, *claims = NULL, *v, *exp, *nbf, *iat, *sub, *jti, *grant;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char der[SIG_DER_MAX];
    size_t derlen, signed_len;
    int64_t leeway;
    enum berth_rc rc;

    if (reason) *reason = BERTH_AUTH_MALFORMED_TOKEN;
    if (out) memset(out, 0, sizeof(*out));
    if (!kr || !want || !want->iss || !want->aud || !out) {
        rc = berth_err_set(err, BERTH_EINVAL, "berth_jwt_verify needs a key ring, an issuer and an audience");
        goto out;
    }
    leeway = want->leeway > 0 ? want->leeway : 0;

    /* Shape: three base64url parts, each decoded up front; nothing is trusted yet. */
    if (!token || len == 0) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token is empty");
        goto out;
    }
    if (len > JWT_MAX) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token is longer than 8192 bytes");
        goto out;
    }
    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token is not three dot-separated parts");
        goto out;
    }
    signed_len = (size_t)(d2 - token);
    if (d1 == token || d2 == d1 + 1 ||
        berth_b64url_decode(token, (size_t)(d1 - token), &hb, NULL) != BERTH_OK ||
        berth_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &cb, NULL) != BERTH_OK ||
        berth_b64url_decode(d2 + 1, len - signed_len - 1, &sb, NULL) != BERTH_OK) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token part is not base64url");
        goto out;
    }

    /* Header: a JSON object naming ES256 and a kid the ring holds. */
    hdr = json_loadb(hb.p, hb.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(hdr)) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token header is not a valid JSON object");
        goto out;
    }
    if (!str_is(json_object_get(hdr, "alg"), "ES256")) {
        rc = refuse(reason, err, BERTH_AUTH_ALG_MISMATCH, "token algorithm must be ES256");
        goto out;
    }
    if (json_object_get(hdr, "crit")) {
        /* RFC 7515 4.1.11: extensions the verifier does not understand make the token invalid. */
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token header has critical extensions");
        goto out;
    }
    v = json_object_get(hdr, "kid");
    if (!json_is_string(v)) {
        rc = refuse(reason, err, BERTH_AUTH_UNKNOWN_KEY, "token header has no kid");
        goto out;
    }
    pkey = berth_keyring_key_ref(kr, json_string_value(v), json_string_length(v));
    if (!pkey) {
        rc = refuse(reason, err, BERTH_AUTH_UNKNOWN_KEY, "token was signed with an unknown key");
        goto out;
    }

    /* Signature over "header.payload", exactly 64 raw bytes. */
    if (sb.len != SIG_RAW) {
        rc = refuse(reason, err, BERTH_AUTH_BAD_SIGNATURE, "token signature is not 64 bytes");
        goto out;
    }
    derlen = raw_to_der((const unsigned char *)sb.p, der);
    ctx = EVP_MD_CTX_new();
    if (!derlen || !ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestVerify(ctx, der, derlen, (const unsigned char *)token, signed_len) != 1) {
        rc = refuse(reason, err, BERTH_AUTH_BAD_SIGNATURE, "token signature is invalid");
        goto out;
    }

    /* Claims, now authenticated. */
    claims = json_loadb(cb.p, cb.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(claims)) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token claims are not a valid JSON object");
        goto out;
    }
    if (!str_is(json_object_get(claims, "iss"), want->iss)) {
        rc = refuse(reason, err, BERTH_AUTH_WRONG_ISSUER, "token was issued by someone else");
        goto out;
    }
    aud = aud_match(json_object_get(claims, "aud"), want->aud);
    if (!aud) {
        rc = refuse(reason, err, BERTH_AUTH_WRONG_AUDIENCE, "token is for another audience");
        goto out;
    }
    grant = json_object_get(claims, "grant_type");
    if (want->grant_type && !str_is(grant, want->grant_type)) {
        rc = refuse(reason, err, BERTH_AUTH_WRONG_GRANT, "token has the wrong grant_type");
        goto out;
    }
    exp = json_object_get(claims, "exp");
    nbf = json_object_get(claims, "nbf");
    iat = json_object_get(claims, "iat");
    sub = json_object_get(claims, "sub");
    jti = json_object_get(claims, "jti");
    if (!json_is_integer(exp) || (nbf && !json_is_integer(nbf)) || (iat && !json_is_integer(iat)) ||
        (sub && !json_is_string(sub)) || (jti && !json_is_string(jti)) || (grant && !json_is_string(grant))) {
        rc = refuse(reason, err, BERTH_AUTH_MALFORMED_TOKEN, "token claims have missing or mistyped fields");
        goto out;
    }
    if (want->now > add_sat(json_integer_value(exp), leeway)) {
        rc = refuse(reason, err, BERTH_AUTH_TOKEN_EXPIRED, "token expired");
        goto out;
    }
    if (nbf && add_sat(want->now, leeway) < json_integer_value(nbf)) {
        rc = refuse(reason, err, BERTH_AUTH_TOKEN_NOT_YET_VALID, "token is not valid yet");
        goto out;
    }

    out->iss = berth_xstrdup(want->iss);
    out->aud = berth_xstrdup(aud);
    out->sub = opt_strdup(sub);
    out->jti = opt_strdup(jti);
    out->grant_type = opt_strdup(grant);
    out->exp = json_integer_value(exp);
    out->nbf = nbf ? json_integer_value(nbf) : 0;
    out->iat = iat ? json_integer_value(iat) : 0;
    v = json_object_get(claims, "access");
    if (v) out->access_json = dump_owned(v);
    out->raw_json = dump_owned(claims);
    if ((v && !out->access_json) || !out->raw_json) {
        berth_jwt_claims_release(out);
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot serialise token claims");
        goto out;
    }
    if (reason) *reason = BERTH_AUTH_OK;
    rc = BERTH_OK;
out:
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    json_decref(hdr);
    json_decref(claims);
    berth_buf_release(&hb);
    berth_buf_release(&cb);
    berth_buf_release(&sb);
    return rc;
}

void berth_jwt_claims_release(struct berth_jwt_claims *c)
{
    if (!c) return;
    free(c->iss);
    free(c->sub);
    free(c->aud);
    free(c->jti);
    free(c->grant_type);
    free(c->access_json);
    free(c->raw_json);
    memset(c, 0, sizeof(*c));
}
