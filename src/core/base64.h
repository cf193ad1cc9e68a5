/*
 * base64.h - base64url without padding (JWTs, secrets) and standard base64
 * (HTTP Basic credentials).
 */
#ifndef BERTH_BASE64_H
#define BERTH_BASE64_H

#include <stddef.h>
#include "buf.h"
#include "err.h"

/* Appends the base64url (no padding) form of p to out. */
enum berth_rc berth_b64url_encode(const void *p, size_t n, struct berth_buf *out);
/* Appends the bytes of base64url text s (no padding; '=' refused) to out; BERTH_EINVAL if malformed. */
enum berth_rc berth_b64url_decode(const char *s, size_t n, struct berth_buf *out, struct berth_err *err);
/* Appends the bytes of standard base64 text (padding allowed) to out; BERTH_EINVAL if malformed. */
enum berth_rc berth_b64_decode(const char *s, size_t n, struct berth_buf *out, struct berth_err *err);
/* Appends the standard base64 (padded) form of p to out. */
enum berth_rc berth_b64_encode(const void *p, size_t n, struct berth_buf *out);

#endif
