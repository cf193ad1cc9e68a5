/* range.c - HTTP Range (blob GET) and Content-Range (upload chunk) parsing. */
#include <string.h>
#include <strings.h>
#include "oci.h"
#include "util.h"
#include "banned.h"

#define RANGE_RULE "expected bytes=first-last, bytes=first- or bytes=-suffix"
#define CRANGE_RULE "expected first-last, optionally after 'bytes ' or 'bytes=' and followed by /total"

/* A run of decimal digits inside a header value. */
struct num {
    const char *p;
    size_t len;
    uint64_t v; /* the value, saturated at UINT64_MAX */
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads the digits at s[*i..len) into n and advances *i; returns the digit count. */
static size_t scan_num(const char *s, size_t len, size_t *i, struct num *n)
{
    n->p = s + *i;
    n->len = 0;
    n->v = 0;
    while (*i < len && is_digit(s[*i])) {
        unsigned d = (unsigned)(s[*i] - '0');
        if (n->v > (UINT64_MAX - d) / 10)
            n->v = UINT64_MAX;
        else
            n->v = n->v * 10 + d;
        n->len++;
        (*i)++;
    }
    return n->len;
}

/* Compares two digit runs by value, exactly, whatever their length. */
static int num_cmp(const struct num *a, const struct num *b)
{
    const char *ap = a->p, *bp = b->p;
    size_t al = a->len, bl = b->len;
    int c;

    BERTH_ASSERT(al > 0 && bl > 0);
    while (al > 1 && *ap == '0') {
        ap++;
        al--;
    }
    while (bl > 1 && *bp == '0') {
        bp++;
        bl--;
    }
    if (al != bl) return al < bl ? -1 : 1;
    c = memcmp(ap, bp, al);
    return c < 0 ? -1 : c > 0;
}

/* "bytes" followed by sep, the unit compared case-insensitively as HTTP requires. */
static int has_unit(const char *s, size_t len, char sep)
{
    return len >= 6 && strncasecmp(s, "bytes", 5) == 0 && s[5] == sep;
}

enum berth_rc berth_range_parse(const char *s, size_t len, uint64_t size, uint64_t *start, uint64_t *end,
                                struct berth_err *err)
{
    struct num first = {0}, last = {0};
    size_t i = 6;
    int suffix = 0;

    if (!s) {
        s = "";
        len = 0;
    }
    if (!has_unit(s, len, '='))
        return berth_err_set(err, BERTH_EINVAL, "malformed Range: unit must be 'bytes='; " RANGE_RULE);
    if (memchr(s, ',', len))
        return berth_err_set(err, BERTH_EINVAL, "malformed Range: multiple ranges are not supported");
    if (i < len && s[i] == '-') {
        suffix = 1;
        i++;
        if (!scan_num(s, len, &i, &last))
            return berth_err_set(err, BERTH_EINVAL, "malformed Range: no suffix length; " RANGE_RULE);
    } else {
        if (!scan_num(s, len, &i, &first))
            return berth_err_set(err, BERTH_EINVAL, "malformed Range: no first byte; " RANGE_RULE);
        if (i == len || s[i] != '-')
            return berth_err_set(err, BERTH_EINVAL, "malformed Range: '-' expected after the first byte; " RANGE_RULE);
        i++;
        scan_num(s, len, &i, &last);
    }
    if (i != len)
        return berth_err_set(err, BERTH_EINVAL, "malformed Range: unexpected character at byte %zu; " RANGE_RULE, i);
    if (!suffix && last.len && num_cmp(&first, &last) > 0)
        return berth_err_set(err, BERTH_EINVAL, "malformed Range: first byte is after the last byte");

    if (size == 0)
        return berth_err_set(err, BERTH_ERANGE, "range not satisfiable: the resource is empty");
    if (suffix) {
        if (last.v == 0)
            return berth_err_set(err, BERTH_ERANGE, "range not satisfiable: a suffix of 0 bytes selects nothing");
        /* a suffix longer than the resource selects all of it */
        *start = last.v >= size ? 0 : size - last.v;
        *end = size - 1;
        BERTH_ASSERT(*start <= *end && *end < size);
        return BERTH_OK;
    }
    if (first.v >= size)
        return berth_err_set(err, BERTH_ERANGE, "range not satisfiable: first byte is at or past the size %llu",
                             (unsigned long long)size);
    *start = first.v;
    *end = (!last.len || last.v >= size) ? size - 1 : last.v;
    BERTH_ASSERT(*start <= *end && *end < size);
    return BERTH_OK;
}

enum berth_rc berth_content_range_parse(const char *s, size_t len, uint64_t *start, uint64_t *end,
                                        struct berth_err *err)
{
    struct num a, b, total;
    uint64_t va, vb, vt;
    size_t i = 0;

    if (!s) {
        s = "";
        len = 0;
    }
    if (has_unit(s, len, ' ') || has_unit(s, len, '=')) i = 6;
    if (!scan_num(s, len, &i, &a) || berth_parse_u64(a.p, a.len, &va) != 0)
        return berth_err_set(err, BERTH_EUPLOADRANGE,
                             "malformed Content-Range: missing or too large first byte; " CRANGE_RULE);
    if (i == len || s[i] != '-')
        return berth_err_set(err, BERTH_EUPLOADRANGE, "malformed Content-Range: '-' expected; " CRANGE_RULE);
    i++;
    if (!scan_num(s, len, &i, &b) || berth_parse_u64(b.p, b.len, &vb) != 0)
        return berth_err_set(err, BERTH_EUPLOADRANGE,
                             "malformed Content-Range: missing or too large last byte; " CRANGE_RULE);
    if (i < len && s[i] == '/') {
        i++;
        if (i < len && s[i] == '*') {
            i++;
        } else {
            if (!scan_num(s, len, &i, &total) || berth_parse_u64(total.p, total.len, &vt) != 0)
                return berth_err_set(err, BERTH_EUPLOADRANGE,
                                     "malformed Content-Range: missing or too large total; " CRANGE_RULE);
            if (vb >= vt)
                return berth_err_set(err, BERTH_EUPLOADRANGE,
                                     "malformed Content-Range: last byte is not below the total");
        }
    }
    if (i != len)
        return berth_err_set(err, BERTH_EUPLOADRANGE,
                             "malformed Content-Range: unexpected character at byte %zu; " CRANGE_RULE, i);
    if (vb < va)
        return berth_err_set(err, BERTH_EUPLOADRANGE, "malformed Content-Range: last byte is before the first");
    *start = va;
    *end = vb;
    return BERTH_OK;
}
