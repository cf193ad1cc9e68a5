/*
 * fuzz_digest.c - berth_digest_parse and berth_ref_parse on hostile text,
 * plus the hasher: one-shot, streamed and copied digests of the input agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "oci.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

static void check_digest(const struct berth_digest *d, const char *s, size_t len)
{
    struct berth_digest again;
    size_t hexlen = d->alg == BERTH_DIGEST_SHA256 ? 64 : 128;

    if (d->alg != BERTH_DIGEST_SHA256 && d->alg != BERTH_DIGEST_SHA512) abort();
    if (strlen(d->s) != len || memcmp(d->s, s, len) != 0) abort();
    if (strlen(berth_digest_hex(d)) != hexlen) abort();
    if (berth_digest_parse(d->s, len, &again, NULL) != BERTH_OK || !berth_digest_eq(&again, d)) abort();
}

static void check_hashing(const uint8_t *data, size_t size)
{
    enum berth_digest_alg alg = size && (data[0] & 1) ? BERTH_DIGEST_SHA512 : BERTH_DIGEST_SHA256;
    size_t split = size ? data[size - 1] % (size + 1) : 0;
    struct berth_digest once, a, b;
    struct berth_hasher h1, h2;

    berth_digest_of(alg, data, size, &once);
    berth_hasher_init(&h1, alg);
    berth_hasher_update(&h1, data, split);
    berth_hasher_copy(&h2, &h1);
    berth_hasher_update(&h1, data + split, size - split);
    berth_hasher_update(&h2, data + split, size - split);
    berth_hasher_final(&h1, &a);
    berth_hasher_final(&h2, &b);
    berth_hasher_release(&h1);
    berth_hasher_release(&h2);
    if (!berth_digest_eq(&once, &a) || !berth_digest_eq(&once, &b)) abort();
    check_digest(&once, once.s, strlen(once.s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    struct berth_ref r;
    enum berth_rc rc;

    rc = berth_digest_parse(s, size, &d, &err);
    if (rc == BERTH_OK)
        check_digest(&d, s, size);
    else if (rc != BERTH_EDIGEST)
        abort();
    check_printable(err.msg);

    berth_err_clear(&err);
    rc = berth_ref_parse(s, size, &r, &err);
    if (rc == BERTH_OK) {
        if (r.is_digest)
            check_digest(&r.digest, s, size);
        else if (strlen(r.tag) != size || memcmp(r.tag, s, size) != 0 ||
                 berth_oci_tag_check(r.tag, size, NULL) != BERTH_OK)
            abort();
    } else if (rc != BERTH_EDIGEST && rc != BERTH_ETAG) {
        abort();
    }
    check_printable(err.msg);

    check_hashing(data, size);
    return 0;
}
