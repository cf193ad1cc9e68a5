/*
 * fuzz_jwt.c - berth_jwt_verify on hostile tokens, against a key ring made
 * once in a temp folder from a fixed test key (so saved tokens signed by it
 * stay meaningful), plus the base64 codecs on the same bytes.
 *
 * Input starting with '{' is taken as claims instead: it is signed and then
 * verified, and a token the ring signed itself must never fail on its
 * header or signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "auth.h"
#include "base64.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A throwaway P-256 key used only by this harness and its corpus. */
#define FUZZ_KID "znSAmrOwUG348LYegXc3Aw"
static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnWDBShvIQKuP1o0G\n"
    "iJ1bIxV1xd0jG7vizGixfkcmrbGhRANCAATl6jtI93jYWEiG4Tx1BTd02M+HPG5i\n"
    "QPF0SVgqmRAfmkXXhAHl6C29POX2Gc+2agZLtZoGVz4a3uQCBHaUBWkS\n"
    "-----END PRIVATE KEY-----\n";

static struct berth_keyring *ring;
static char ring_dir[64];
static char key_path[128];

static void ring_remove(void)
{
    berth_keyring_close(ring);
    ring = NULL;
    unlink(key_path);
    rmdir(ring_dir);
}

static void ring_setup(void)
{
    struct berth_err err = BERTH_ERR_INIT;

    snprintf(ring_dir, sizeof(ring_dir), "/tmp/berth-fuzz-jwt-XXXXXX");
    if (!mkdtemp(ring_dir)) abort();
    snprintf(key_path, sizeof(key_path), "%s/%s.pem", ring_dir, FUZZ_KID);
    if (berth_write_atomic(key_path, fuzz_key_pem, strlen(fuzz_key_pem), 0600, &err) != BERTH_OK ||
        berth_keyring_open(ring_dir, &ring, &err) != BERTH_OK) {
        fprintf(stderr, "fuzz_jwt: %s\n", err.msg);
        abort();
    }
    if (strcmp(berth_keyring_current_kid(ring), FUZZ_KID) != 0) abort();
    atexit(ring_remove);
}

static void check_msg(const struct berth_err *err)
{
    const char *s;
    if (strlen(err->msg) > 100) abort();
    for (s = err->msg; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

static void check_result(enum berth_rc rc, enum berth_auth_reason why, const struct berth_jwt_claims *c,
                         const struct berth_jwt_expect *w, const struct berth_err *err)
{
    if (rc == BERTH_OK) {
        if (why != BERTH_AUTH_OK || !c->iss || strcmp(c->iss, w->iss) != 0 || !c->aud ||
            strcmp(c->aud, w->aud) != 0 || !c->raw_json || w->now - w->leeway > c->exp)
            abort();
        return;
    }
    if (rc != BERTH_EUNAUTHORIZED || why == BERTH_AUTH_OK || why >= BERTH_AUTH_REASON_COUNT) abort();
    if (c->iss || c->aud || c->sub || c->jti || c->grant_type || c->access_json || c->raw_json) abort();
    check_msg(err);
}

/* Decoding then encoding must give the input back: one spelling per byte string. */
static void check_base64(const char *s, size_t n)
{
    struct berth_buf a = BERTH_BUF_INIT(0), b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    size_t sn = n, bn;

    if (berth_b64url_decode(s, n, &a, &err) == BERTH_OK) {
        if (berth_b64url_encode(a.p, a.len, &b) != BERTH_OK || b.len != n || (n && memcmp(b.p, s, n) != 0))
            abort();
    } else {
        check_msg(&err);
    }
    berth_buf_reset(&a);
    berth_buf_reset(&b);
    if (berth_b64_decode(s, n, &a, &err) == BERTH_OK) {
        if (berth_b64_encode(a.p, a.len, &b) != BERTH_OK) abort();
        /* Padding is optional on input, always written on output. */
        while (sn > 0 && s[sn - 1] == '=') sn--;
        bn = b.len;
        while (bn > 0 && b.p[bn - 1] == '=') bn--;
        if (bn != sn || (sn && memcmp(b.p, s, sn) != 0)) abort();
    }
    berth_buf_reset(&a);
    berth_buf_reset(&b);
    if (berth_b64url_encode(s, n, &a) != BERTH_OK || berth_b64url_decode(a.p, a.len, &b, &err) != BERTH_OK ||
        b.len != n || (n && memcmp(b.p, s, n) != 0))
        abort();
    berth_buf_release(&a);
    berth_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct berth_jwt_expect want = {"berth", "reg.example", NULL, 1700000000, 60};
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why = BERTH_AUTH_OK;
    enum berth_rc rc;

    if (!ring) ring_setup();
    if (size > 0 && s[0] == '{') {
        struct berth_buf tok = BERTH_BUF_INIT(0);
        rc = berth_jwt_sign(ring, s, size, &tok, &err);
        if (rc == BERTH_OK) {
            rc = berth_jwt_verify(ring, tok.p, tok.len, &want, &c, &why, &err);
            check_result(rc, why, &c, &want, &err);
            if (why == BERTH_AUTH_ALG_MISMATCH || why == BERTH_AUTH_UNKNOWN_KEY || why == BERTH_AUTH_BAD_SIGNATURE ||
                tok.len > 8192)
                abort();
            berth_jwt_claims_release(&c);
        } else if (rc != BERTH_EINVAL && rc != BERTH_ETOOBIG) {
            abort();
        }
        berth_buf_release(&tok);
    } else {
        rc = berth_jwt_verify(ring, s, size, &want, &c, &why, &err);
        check_result(rc, why, &c, &want, &err);
        berth_jwt_claims_release(&c);
    }
    check_base64(s, size);
    return 0;
}
