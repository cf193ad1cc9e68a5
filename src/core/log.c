/* log.c - key=value log lines (or JSON lines), one write(2) each. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "banned.h"

int berth_log_threshold = BERTH_LOG_INFO;
int berth_log_json = 0;
static int log_fd = 2;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int berth_log_level_parse(const char *s)
{
    int i;
    for (i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

const char *berth_log_level_name(int level)
{
    if (level < 0 || level > 3) return "unknown";
    return level_names[level];
}

const char *berth_log_quote(const char *in, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (!n) return out;
    for (; in && *in; in++) {
        unsigned char c = (unsigned char)*in;
        size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 || c == 0x7f ? 4 : 1;
        if (o + need >= n) break;
        if (need == 2) {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (need == 4) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

/* The length of the well-formed UTF-8 sequence at s (at most len bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t need, i;
    unsigned cp;

    if (s[0] < 0x80) return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) need = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) need = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) need = 4, cp = s[0] & 0x07u;
    else return 0;
    if (need > len) return 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    /* no overlong forms, no surrogates, nothing past U+10FFFF */
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

/*
 * Appends len bytes of s to out as JSON string content, a byte that is not
 * part of well-formed UTF-8 as U+FFFD; 0, or -1 when out is full.
 */
static int json_put(char *out, size_t n, size_t *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t u = utf8_len((const unsigned char *)s + i, len - i);
            if (!u) {
                if (*o + 6 >= n) return -1;
                memcpy(out + *o, "\\ufffd", 6);
                *o += 6;
                continue;
            }
            if (*o + u >= n) return -1;
            memcpy(out + *o, s + i, u);
            *o += u;
            i += u - 1;
        } else if (c == '"' || c == '\\') {
            if (*o + 2 >= n) return -1;
            out[(*o)++] = '\\';
            out[(*o)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            if (*o + 6 >= n) return -1;
            memcpy(out + *o, "\\u00", 4);
            out[*o + 4] = hex[c >> 4];
            out[*o + 5] = hex[c & 15];
            *o += 6;
        } else {
            if (*o + 1 >= n) return -1;
            out[(*o)++] = (char)c;
        }
    }
    return 0;
}

static int json_lit(char *out, size_t n, size_t *o, const char *s)
{
    size_t len = strlen(s);
    if (*o + len >= n) return -1;
    memcpy(out + *o, s, len);
    *o += len;
    return 0;
}

/*
 * The keys BERTH_LOG writes with a number conversion (%d, %lld, %.3f, ...):
 * only their values become JSON numbers, so a name or an id that happens to
 * be all digits stays a string and every key keeps one type. A new numeric
 * key is added here.
 */
static const char *const numeric_keys[] = {
    "admin_passwords_made", "blobs", "bytes", "bytes_freed", "bytes_in", "bytes_out", "count", "delete", "deleted",
    "dropped_total", "dur_ms", "duration_ms", "events", "header_timeout_s", "id", "inflight", "line", "links",
    "list", "manifests", "max_connections_per_ip", "part_size", "port", "queue", "read", "redirect", "registry_id",
    "size", "status", "uploads", "write",
};

static int numeric_key(const char *k, size_t len)
{
    size_t i;
    for (i = 0; i < sizeof(numeric_keys) / sizeof(numeric_keys[0]); i++)
        if (strlen(numeric_keys[i]) == len && !memcmp(numeric_keys[i], k, len)) return 1;
    return 0;
}

/* A bare value JSON may keep as a number: -?digits[.digits], no leading zeros but "0". */
static int is_number(const char *s, size_t len)
{
    size_t i = 0, digits = 0;

    if (i < len && s[i] == '-') i++;
    if (i < len && s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') return 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) digits++;
    if (!digits) return 0;
    if (i < len && s[i] == '.') {
        digits = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) digits++;
        if (!digits) return 0;
    }
    return i == len && len < 20;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Whether a quote before p closes a quoted value: the line ends, or the next
 * key= follows. A quote inside a value that nothing escaped (a message
 * quoting a name) is kept as text.
 */
static int value_ends(const char *p)
{
    if (!*p) return 1;
    if (*p != ' ') return 0;
    p++;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
    return *p == '=';
}

int berth_log_kv_to_json(const char *kv, char *out, size_t n)
{
    const char *p = kv;
    size_t o = 0;
    int first = 1;

    if (json_lit(out, n, &o, "{")) return -1;
    while (*p) {
        const char *k, *v;
        size_t klen;
        char un[4096];
        size_t ulen = 0;

        while (*p == ' ') p++;
        if (!*p) break;
        k = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
        klen = (size_t)(p - k);
        if (!klen || *p != '=') {
            /* not key=value: the rest of the line as text */
            if (json_lit(out, n, &o, first ? "\"text\":\"" : ",\"text\":\"") || json_put(out, n, &o, k, strlen(k)) ||
                json_lit(out, n, &o, "\""))
                return -1;
            first = 0;
            break;
        }
        p++;
        if (json_lit(out, n, &o, first ? "\"" : ",\"") || json_put(out, n, &o, k, klen) || json_lit(out, n, &o, "\":"))
            return -1;
        first = 0;
        if (*p == '"') {
            /* a quoted value: \" \\ and \xNN escapes (berth_log_quote) */
            for (p++; *p && !(*p == '"' && value_ends(p + 1)) && ulen + 1 < sizeof(un); p++) {
                int hi = *p == '\\' && p[1] == 'x' && p[2] && p[3] ? hex_value(p[2]) : -1;
                int lo = hi >= 0 ? hex_value(p[3]) : -1;
                if (lo >= 0 && (hi | lo)) {
                    /* \xNN of berth_log_quote; a NUL was never written that way and stays text */
                    un[ulen++] = (char)(hi << 4 | lo);
                    p += 3;
                } else if (*p == '\\' && p[1]) {
                    un[ulen++] = *++p;
                } else {
                    un[ulen++] = *p;
                }
            }
            if (*p == '"') p++;
            if (json_lit(out, n, &o, "\"") || json_put(out, n, &o, un, ulen) || json_lit(out, n, &o, "\""))
                return -1;
        } else {
            v = p;
            while (*p && *p != ' ') p++;
            if (numeric_key(k, klen) && is_number(v, (size_t)(p - v))) {
                if (o + (size_t)(p - v) >= n) return -1;
                memcpy(out + o, v, (size_t)(p - v));
                o += (size_t)(p - v);
            } else if (json_lit(out, n, &o, "\"") || json_put(out, n, &o, v, (size_t)(p - v)) ||
                       json_lit(out, n, &o, "\"")) {
                return -1;
            }
        }
    }
    if (json_lit(out, n, &o, "}")) return -1;
    out[o] = '\0';
    return (int)o;
}

void berth_log_write(enum berth_log_level level, const char *fmt, ...)
{
    char line[4096];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;
    ssize_t w;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 berth_log_level_name((int)level));
    if (n < 0) return;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    n += m;
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n] = '\0';
    if (__atomic_load_n(&berth_log_json, __ATOMIC_RELAXED)) {
        char json[8192];
        int j = berth_log_kv_to_json(line, json, sizeof(json) - 1);
        if (j > 0) {
            json[j++] = '\n';
            w = write(log_fd, json, (size_t)j);
            (void)w;
            return;
        }
    }
    line[n++] = '\n';
    w = write(log_fd, line, (size_t)n);
    (void)w;
}
