/*
 * sigv4.h - AWS Signature Version 4 for S3-compatible object stores:
 * signing a request (the Authorization header) and presigning a URL (the
 * X-Amz-* query). Written on OpenSSL's HMAC and SHA-256, because libcurl's
 * CURLOPT_AWS_SIGV4 (7.88) neither canonicalises query strings nor sends
 * x-amz-content-sha256. Tested against AWS's published vectors
 * (tests/unit/test_sigv4.c).
 *
 * Canonical forms: the path is signed as given (S3 paths are encoded once by
 * the caller and never normalised); the query is decoded and re-encoded
 * (RFC 3986 unreserved characters kept, everything else %XX in uppercase)
 * and sorted by name, then value; header names are lowercased and sorted,
 * values trimmed with inner runs of spaces collapsed.
 */
#ifndef BERTH_STORE_SIGV4_H
#define BERTH_STORE_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

/* Who signs, and for what. Strings borrowed. */
struct berth_sigv4_key {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
};

/* One header to sign; name in any case. */
struct berth_sigv4_header {
    const char *name;
    const char *value;
};

/* The hex SHA-256 of an empty payload. */
#define BERTH_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define BERTH_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"

/*
 * The Authorization header value for a request: method, path (encoded,
 * "/bucket/key"), query ("a=1&b=2" as sent, or NULL), the headers to sign
 * (host, x-amz-date and x-amz-content-sha256 among them, as the request
 * carries them), the payload's hex SHA-256 (or BERTH_SIGV4_UNSIGNED) and
 * amz_date ("20130524T000000Z", the x-amz-date value). Appends to auth; the
 * 64 hex digits of the signature go to sig when it is not NULL. BERTH_EINVAL
 * for a malformed date, query escape or header.
 */
enum berth_rc berth_sigv4_sign(const struct berth_sigv4_key *key, const char *method, const char *path,
                               const char *query, const struct berth_sigv4_header *headers, size_t nheaders,
                               const char *payload_hash, const char *amz_date, struct berth_buf *auth,
                               char sig[65], struct berth_err *err);

/*
 * A presigned URL's query for method on host and path, valid expires_s
 * seconds from amz_date: the X-Amz-Algorithm, -Credential, -Date, -Expires
 * and -SignedHeaders (host only) parameters, any extra query (e.g.
 * "partNumber=1&uploadId=x"), and X-Amz-Signature, canonically encoded and
 * sorted. Appends to out (without the '?').
 */
enum berth_rc berth_sigv4_presign(const struct berth_sigv4_key *key, const char *method, const char *host,
                                  const char *path, const char *extra_query, int64_t expires_s, const char *amz_date,
                                  struct berth_buf *out, struct berth_err *err);

/*
 * S3's URI encoding: appends s[0..n) to b with every byte but A-Z a-z 0-9
 * - . _ ~ as %XX (uppercase); '/' kept when keep_slash (an object key in a
 * path).
 */
void berth_sigv4_uri_encode(struct berth_buf *b, const char *s, size_t n, int keep_slash);
/* Decodes %XX in s[0..n) into a malloc'd string; NULL for a broken escape. '+' stays '+'. */
char *berth_sigv4_uri_decode(const char *s, size_t n);

/* "YYYYMMDDTHHMMSSZ" for a Unix time (UTC). */
void berth_sigv4_date(int64_t unix_s, char out[17]);

#endif
