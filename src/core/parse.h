/*
 * parse.h - parsers of untrusted text that more than one module reads: hex,
 * application/x-www-form-urlencoded bodies, RFC 3339 date-times and HTTP
 * Basic credentials. Each takes hostile bytes, bounds what it allocates,
 * and refuses rather than guesses; fuzz/fuzz_{form,time,basic,http}.c and
 * tests/unit/test_parse.c hold them to that.
 */
#ifndef BERTH_PARSE_H
#define BERTH_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

/* ---------------------------------------------------------------- hex */

/* The value (0..15) of hex digit c, either case; -1 for anything else. */
int berth_hex_digit(char c);
/*
 * Decodes the n hex digits of s (either case; n even) into n / 2 bytes at
 * out, which the caller sizes. BERTH_EINVAL if n is odd or a byte is not a
 * hex digit; out is then partly written.
 */
enum berth_rc berth_hex_decode(const char *s, size_t n, unsigned char *out, struct berth_err *err);
/* Nonzero if s[0..n) are n lowercase hex digits (the form digests and blob paths use). */
int berth_hex_lower(const char *s, size_t n);

/* ---------------------------------------------------------------- forms */

/*
 * Decodes one application/x-www-form-urlencoded component s[0..n): '+' is a
 * space, %XX a byte (either case); a '%' not followed by two hex digits stays
 * as it is. *out is malloc'd and NUL-terminated, the caller frees it.
 * BERTH_EINVAL (and *out NULL) if the component decodes to a NUL byte, which
 * would cut it short.
 */
enum berth_rc berth_form_decode(const char *s, size_t n, char **out, struct berth_err *err);
/*
 * Calls fn(key, value, ctx) for each '&'-separated field of the
 * NUL-terminated body, in order, both decoded; a field without '=' has the
 * value "". A field whose key or value holds %00 is skipped. Stops when fn
 * returns nonzero. The strings are borrowed for the call only: each value is
 * wiped before it is freed, since it may be a password.
 */
void berth_form_each(const char *body, int (*fn)(const char *k, const char *v, void *ctx), void *ctx);

/* ---------------------------------------------------------------- time */

/*
 * Parses the RFC 3339 date-time s[0..n) ("2026-01-02T03:04:05Z", 't' or ' '
 * for 'T', 'z' for 'Z', a "+hh:mm" / "-hh:mm" offset, any number of fraction
 * digits, of which milliseconds count) into *ms since the epoch. Years before
 * 1970 are refused; second 60 (a leap second) counts as second 59.
 * BERTH_EINVAL if malformed, out of range or followed by anything.
 */
enum berth_rc berth_rfc3339_parse(const char *s, size_t n, int64_t *ms, struct berth_err *err);

/* ---------------------------------------------------------------- Basic */

/* The most decoded bytes of "user:password" accepted: a 256-byte name, ':', an 8192-byte password, 1 spare. */
#define BERTH_BASIC_MAX (256 + 8192 + 2)

/*
 * Splits the value of an "Authorization: Basic" header (after "Basic "; leading
 * spaces skipped) into *user and *pass at the first ':'. Both malloc'd, the
 * caller frees them (and should wipe *pass). BERTH_EINVAL, *user and *pass
 * untouched, if the base64 is malformed, decodes to more than
 * BERTH_BASIC_MAX bytes, holds a NUL or has no ':'. The decoded bytes are
 * wiped before they are freed.
 */
enum berth_rc berth_basic_parse(const char *value, char **user, char **pass, struct berth_err *err);

#endif
