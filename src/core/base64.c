/*
 * base64.c - base64url without padding and standard base64 (RFC 4648),
 * encoding and strict decoding into struct berth_buf.
 *
 * Decoding accepts exactly one spelling per byte string: characters outside
 * the variant's alphabet (including whitespace), impossible lengths and
 * non-zero unused bits in the last character are all refused. A token or
 * credential therefore has a single canonical text, and the signature of a
 * JWS covers the only text that decodes to its bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "base64.h"
#include "banned.h"

/*
 * Work happens in stack chunks of CHUNK_IN bytes <-> CHUNK_OUT characters,
 * so no length arithmetic on the caller's sizes can overflow; the buffer's
 * own cap check guards the total.
 */
#define CHUNK_IN 768
#define CHUNK_OUT 1024

/* Bits in the decode table marking the two characters that differ per variant. */
#define ALPHA_URL 0x40 /* '-' and '_' */
#define ALPHA_STD 0x80 /* '+' and '/' */
#define BAD 0xff

static const char enc_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char enc_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character -> 6-bit value, tagged with its variant for the four special characters; BAD otherwise. */
static const unsigned char dec[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbe, 0xff, 0x7e, 0xff, 0xbf,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0x7f,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static enum berth_rc encode(const void *src, size_t n, const char *alpha, int pad, struct berth_buf *out)
{
    const unsigned char *p = src;
    char chunk[CHUNK_OUT];
    enum berth_rc rc = BERTH_OK;

    while (n > 0) {
        size_t take = n < CHUNK_IN ? n : CHUNK_IN;
        size_t i = 0, o = 0;

        for (; i + 3 <= take; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
            chunk[o++] = alpha[v >> 18];
            chunk[o++] = alpha[(v >> 12) & 0x3f];
            chunk[o++] = alpha[(v >> 6) & 0x3f];
            chunk[o++] = alpha[v & 0x3f];
        }
        if (take - i == 1) {
            uint32_t v = (uint32_t)p[i] << 16;
            chunk[o++] = alpha[v >> 18];
            chunk[o++] = alpha[(v >> 12) & 0x3f];
            if (pad) {
                chunk[o++] = '=';
                chunk[o++] = '=';
            }
        } else if (take - i == 2) {
            uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
            chunk[o++] = alpha[v >> 18];
            chunk[o++] = alpha[(v >> 12) & 0x3f];
            chunk[o++] = alpha[(v >> 6) & 0x3f];
            if (pad) chunk[o++] = '=';
        }
        BERTH_ASSERT(o <= sizeof(chunk) && o == (take / 3) * 4 + (take % 3 ? (pad ? 4 : take % 3 + 1) : 0));
        rc = berth_buf_append(out, chunk, o);
        if (rc) break;
        p += take;
        n -= take;
    }
    /* An empty input still reports a sticky error from earlier appends. */
    return rc ? rc : berth_buf_rc(out);
}

enum berth_rc berth_b64url_encode(const void *p, size_t n, struct berth_buf *out)
{
    return encode(p, n, enc_url, 0, out);
}

enum berth_rc berth_b64_encode(const void *p, size_t n, struct berth_buf *out)
{
    return encode(p, n, enc_std, 1, out);
}

/* Undoes the appends of a failed decode, so out is as the caller left it. */
static void truncate_to(struct berth_buf *out, size_t len)
{
    BERTH_ASSERT(len <= out->len);
    out->len = len;
    if (out->p) out->p[len] = '\0';
}

/*
 * Decodes n characters carrying no padding. The caller has already dealt
 * with '=' (it is not in the table, so any left over is a bad character).
 */
static enum berth_rc decode(const char *s, size_t n, unsigned allow, const char *what, struct berth_buf *out,
                            struct berth_err *err)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len0 = out->len, off = 0;
    unsigned char chunk[CHUNK_IN];
    enum berth_rc rc = BERTH_OK;

    if (n % 4 == 1) return berth_err_set(err, BERTH_EINVAL, "%s text has an impossible length", what);
    while (off < n) {
        size_t take = n - off < CHUNK_OUT ? n - off : CHUNK_OUT;
        size_t i, o = 0;
        uint32_t acc = 0;
        unsigned bits = 0;

        BERTH_ASSERT(take == n - off || take % 4 == 0); /* only the last chunk ends mid-quantum */
        for (i = 0; i < take; i++) {
            unsigned v = dec[p[off + i]];
            if (v == BAD || ((v & 0xc0) && !(v & allow))) {
                truncate_to(out, len0);
                if (p[off + i] == '=')
                    return berth_err_set(err, BERTH_EINVAL, "%s text has misplaced '=' padding at offset %zu",
                                         what, off + i);
                return berth_err_set(err, BERTH_EINVAL, "%s text has an invalid character at offset %zu", what,
                                     off + i);
            }
            acc = acc << 6 | (v & 0x3f);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                chunk[o++] = (unsigned char)(acc >> bits);
                acc &= (1u << bits) - 1;
            }
        }
        /*
         * Chunks are a multiple of 4 characters, so only the last one can end
         * mid-quantum, with 2 or 4 unused bits that must be zero.
         */
        BERTH_ASSERT(o <= sizeof(chunk) && bits < 8);
        if (acc != 0) {
            truncate_to(out, len0);
            return berth_err_set(err, BERTH_EINVAL, "%s text has non-zero trailing bits", what);
        }
        rc = berth_buf_append(out, chunk, o);
        if (rc) {
            truncate_to(out, len0);
            return berth_err_set(err, rc, "decoded %s is too large", what);
        }
        off += take;
    }
    rc = berth_buf_rc(out);
    if (rc) return berth_err_set(err, rc, "decoded %s is too large", what);
    return BERTH_OK;
}

enum berth_rc berth_b64url_decode(const char *s, size_t n, struct berth_buf *out, struct berth_err *err)
{
    if (!s) n = 0;
    if (n > 0 && s[n - 1] == '=')
        return berth_err_set(err, BERTH_EINVAL, "base64url text must not carry '=' padding");
    return decode(s, n, ALPHA_URL, "base64url", out, err);
}

enum berth_rc berth_b64_decode(const char *s, size_t n, struct berth_buf *out, struct berth_err *err)
{
    size_t pad = 0;

    if (!s) n = 0;
    while (pad < n && s[n - 1 - pad] == '=') pad++;
    if (pad > 0) {
        /* Padding is optional, but when present it must complete the last quantum exactly. */
        if (pad > 2 || n % 4 != 0 || (n - pad) % 4 != 4 - pad)
            return berth_err_set(err, BERTH_EINVAL, "base64 text has wrong '=' padding");
        n -= pad;
    }
    return decode(s, n, ALPHA_STD, "base64", out, err);
}
