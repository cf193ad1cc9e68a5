/* buf.c - the growable, capped, always NUL-terminated byte buffer. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "buf.h"
#include "banned.h"

void berth_buf_init(struct berth_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->rc = BERTH_OK;
}

void berth_buf_release(struct berth_buf *b)
{
    if (!b) return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->rc = BERTH_OK;
}

void berth_buf_reset(struct berth_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = '\0';
    b->rc = BERTH_OK;
}

/* Makes room for n more bytes plus the NUL, honouring the cap. */
static enum berth_rc grow(struct berth_buf *b, size_t n)
{
    size_t need, cap;

    BERTH_ASSERT(b->p ? b->len < b->cap : b->len == 0 && b->cap == 0);
    BERTH_ASSERT(!b->max || b->len <= b->max);
    if (b->rc) return b->rc;
    if (n > SIZE_MAX / 2 - b->len || (b->max && b->len + n > b->max)) {
        b->rc = BERTH_ETOOBIG;
        return b->rc;
    }
    need = b->len + n + 1;
    if (need <= b->cap) return BERTH_OK;
    cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->p = berth_xrealloc(b->p, cap);
    b->cap = cap;
    BERTH_ASSERT(b->len + n < b->cap);
    return BERTH_OK;
}

enum berth_rc berth_buf_append(struct berth_buf *b, const void *p, size_t n)
{
    enum berth_rc rc = grow(b, n);
    if (rc) return rc;
    BERTH_ASSERT(p || !n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return BERTH_OK;
}

enum berth_rc berth_buf_puts(struct berth_buf *b, const char *s)
{
    return berth_buf_append(b, s, strlen(s));
}

enum berth_rc berth_buf_putc(struct berth_buf *b, char c)
{
    return berth_buf_append(b, &c, 1);
}

enum berth_rc berth_buf_vprintf(struct berth_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    enum berth_rc rc;

    if (b->rc) return b->rc;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        b->rc = BERTH_EINVAL;
        return b->rc;
    }
    rc = grow(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    BERTH_ASSERT(b->len < b->cap && b->p[b->len] == '\0');
    return BERTH_OK;
}

enum berth_rc berth_buf_printf(struct berth_buf *b, const char *fmt, ...)
{
    va_list ap;
    enum berth_rc rc;

    va_start(ap, fmt);
    rc = berth_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

enum berth_rc berth_buf_json_str(struct berth_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, start = 0;

    berth_buf_putc(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc[6] = '\0';
            e = esc;
        }
        if (!e) continue;
        berth_buf_append(b, s + start, i - start);
        berth_buf_puts(b, e);
        start = i + 1;
    }
    BERTH_ASSERT(start <= n);
    berth_buf_append(b, s + start, n - start);
    return berth_buf_putc(b, '"');
}

const char *berth_buf_str(const struct berth_buf *b)
{
    return b->p ? b->p : "";
}

enum berth_rc berth_buf_rc(const struct berth_buf *b)
{
    return b->rc;
}

char *berth_buf_detach(struct berth_buf *b, size_t *len)
{
    char *p = b->p ? b->p : berth_xstrdup("");
    if (len) *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

struct berth_str berth_str_from(const char *s)
{
    struct berth_str r = {s, s ? strlen(s) : 0};
    return r;
}

