/* parse.c - hex, form-urlencoded, RFC 3339 and HTTP Basic parsers of untrusted text. */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "base64.h"
#include "buf.h"
#include "err.h"
#include "parse.h"
#include "banned.h"

/* ---------------------------------------------------------------- hex */

int berth_hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

enum berth_rc berth_hex_decode(const char *s, size_t n, unsigned char *out, struct berth_err *err)
{
    size_t i;

    if (n % 2) return berth_err_set(err, BERTH_EINVAL, "odd number of hex digits (%zu)", n);
    for (i = 0; i < n; i += 2) {
        int hi = berth_hex_digit(s[i]), lo = berth_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0) return berth_err_set(err, BERTH_EINVAL, "not a hex digit at byte %zu", hi < 0 ? i : i + 1);
        BERTH_ASSERT(hi < 16 && lo < 16);
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return BERTH_OK;
}

int berth_hex_lower(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* ---------------------------------------------------------------- forms */

enum berth_rc berth_form_decode(const char *s, size_t n, char **out, struct berth_err *err)
{
    char *buf = berth_xmalloc(n + 1), *w = buf;
    size_t i;

    *out = NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            *w++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && berth_hex_digit(s[i + 1]) >= 0 && berth_hex_digit(s[i + 2]) >= 0) {
            char c = (char)(berth_hex_digit(s[i + 1]) * 16 + berth_hex_digit(s[i + 2]));
            if (c == '\0') {
                explicit_bzero(buf, (size_t)(w - buf));
                free(buf);
                return berth_err_set(err, BERTH_EINVAL, "form field holds %%00 at byte %zu", i);
            }
            *w++ = c;
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    BERTH_ASSERT((size_t)(w - buf) <= n);
    *w = '\0';
    *out = buf;
    return BERTH_OK;
}

void berth_form_each(const char *body, int (*fn)(const char *k, const char *v, void *ctx), void *ctx)
{
    const char *p = body;

    while (*p) {
        const char *amp = strchr(p, '&'), *eq;
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        char *k = NULL, *v = NULL;
        int stop = 0;

        eq = memchr(p, '=', len);
        if (berth_form_decode(p, eq ? (size_t)(eq - p) : len, &k, NULL) == BERTH_OK) {
            if (!eq)
                v = berth_xstrdup("");
            else
                berth_form_decode(eq + 1, len - (size_t)(eq - p) - 1, &v, NULL);
        }
        if (k && v) stop = fn(k, v, ctx);
        free(k);
        if (v) explicit_bzero(v, strlen(v));
        free(v);
        if (stop || !amp) break;
        p = amp + 1;
    }
}

/* ---------------------------------------------------------------- time */

/* A cursor over s[0..n): reading past the end gives '\0', which no rule accepts. */
struct cursor {
    const char *p, *end;
};

static char next(struct cursor *c)
{
    return c->p < c->end ? *c->p++ : '\0';
}

static char peek(const struct cursor *c)
{
    return c->p < c->end ? *c->p : '\0';
}

/* n decimal digits into *v; nonzero if one is missing. */
static int digits(struct cursor *c, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        char ch = next(c);
        if (ch < '0' || ch > '9') return 1;
        *v = *v * 10 + (ch - '0');
    }
    return 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (1970 <= y <= 9999). */
static int64_t days_since_epoch(int y, int m, int d)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t yl = y - 1;
    /* leap years in 1..y-1 minus those in 1..1969 (477) */
    int64_t leaps = yl / 4 - yl / 100 + yl / 400 - 477;
    int64_t days = (int64_t)(y - 1970) * 365 + leaps + before[m - 1] + (d - 1);

    if (m > 2 && leap(y)) days++;
    return days;
}

#define RFC3339_RULE "expected an RFC 3339 date-time such as 2030-01-31T00:00:00Z"

enum berth_rc berth_rfc3339_parse(const char *s, size_t n, int64_t *ms, struct berth_err *err)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct cursor c = {s, s ? s + n : s};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100, sign = 0;
    char t;
    int64_t secs;

    if (!s) return berth_err_set(err, BERTH_EINVAL, "no time given; " RFC3339_RULE);
    if (digits(&c, 4, &y) || next(&c) != '-' || digits(&c, 2, &mo) || next(&c) != '-' || digits(&c, 2, &d))
        return berth_err_set(err, BERTH_EINVAL, "malformed date; " RFC3339_RULE);
    t = next(&c);
    if (t != 'T' && t != 't' && t != ' ') return berth_err_set(err, BERTH_EINVAL, "no 'T' after the date; " RFC3339_RULE);
    if (digits(&c, 2, &h) || next(&c) != ':' || digits(&c, 2, &mi) || next(&c) != ':' || digits(&c, 2, &sec))
        return berth_err_set(err, BERTH_EINVAL, "malformed time of day; " RFC3339_RULE);
    if (peek(&c) == '.') {
        c.p++;
        if (peek(&c) < '0' || peek(&c) > '9')
            return berth_err_set(err, BERTH_EINVAL, "no digit after '.'; " RFC3339_RULE);
        /* any number of digits; past the third, scale is 0 and they count for nothing */
        while (peek(&c) >= '0' && peek(&c) <= '9') {
            frac += (next(&c) - '0') * scale;
            scale /= 10;
        }
    }
    t = next(&c);
    if (t == '+' || t == '-') {
        sign = t == '-' ? -1 : 1;
        if (digits(&c, 2, &oh) || next(&c) != ':' || digits(&c, 2, &om))
            return berth_err_set(err, BERTH_EINVAL, "malformed offset; " RFC3339_RULE);
    } else if (t != 'Z' && t != 'z') {
        return berth_err_set(err, BERTH_EINVAL, "no 'Z' or offset; " RFC3339_RULE);
    }
    if (c.p != c.end) return berth_err_set(err, BERTH_EINVAL, "trailing bytes; " RFC3339_RULE);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        return berth_err_set(err, BERTH_EINVAL, "a field is out of range; " RFC3339_RULE);
    if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return berth_err_set(err, BERTH_EINVAL, "no day %d in %04d-%02d; " RFC3339_RULE, d, y, mo);
    BERTH_ASSERT(y >= 1970 && y <= 9999 && d <= 31 && scale >= 0 && frac >= 0 && frac <= 999);
    if (sec == 60) sec = 59; /* a leap second counts as the second before it */
    secs = days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60);
    *ms = secs * 1000 + frac;
    return BERTH_OK;
}

/* ---------------------------------------------------------------- Basic */

enum berth_rc berth_basic_parse(const char *value, char **user, char **pass, struct berth_err *err)
{
    struct berth_buf raw = BERTH_BUF_INIT(BERTH_BASIC_MAX);
    const char *colon;
    enum berth_rc rc = BERTH_EINVAL;

    while (*value == ' ') value++;
    if (berth_b64_decode(value, strlen(value), &raw, NULL) != BERTH_OK) {
        berth_err_set(err, rc, "Basic credentials are not base64 (or decode to over %d bytes)", BERTH_BASIC_MAX);
        goto out;
    }
    if (memchr(berth_buf_str(&raw), '\0', raw.len)) {
        berth_err_set(err, rc, "Basic credentials hold a NUL byte");
        goto out;
    }
    colon = strchr(berth_buf_str(&raw), ':');
    if (!colon) {
        berth_err_set(err, rc, "Basic credentials have no ':' between user and password");
        goto out;
    }
    BERTH_ASSERT(raw.len <= BERTH_BASIC_MAX);
    *user = berth_xstrndup(berth_buf_str(&raw), (size_t)(colon - berth_buf_str(&raw)));
    *pass = berth_xstrdup(colon + 1);
    rc = BERTH_OK;
out:
    if (raw.p) explicit_bzero(raw.p, raw.len);
    berth_buf_release(&raw);
    return rc;
}
