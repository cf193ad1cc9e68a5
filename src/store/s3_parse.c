/*
 * s3_parse.c - the S3 driver's pure parts, as s3_int.h describes: the store
 * URL, credentials from the environment or an AWS credentials file, an XML
 * extractor for S3's answers, an upload's resume data and the part sizes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "alloc.h"
#include "parse.h"
#include "s3_int.h"
#include "sigv4.h"
#include "util.h"
#include "banned.h"

#define CREDS_FILE_MAX (1u << 20)
#define PREFIX_MAX 512
#define EXT_MAX (2u << 20) /* 10,000 parts of ~60 bytes each, and room */

/* ---------------------------------------------------------------- the store URL */

void berth_s3_conf_release(struct berth_s3_conf *c)
{
    if (!c) return;
    free(c->bucket);
    free(c->prefix);
    free(c->endpoint);
    free(c->host);
    free(c->region);
    free(c->credentials);
    memset(c, 0, sizeof(*c));
}

/* S3's rules: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit, no "..". */
static int bucket_ok(const char *b, size_t n)
{
    size_t i;

    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) return 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (!(islower(ch) || isdigit(ch) || ch == '.' || ch == '-')) return 0;
        if (ch == '.' && b[i + 1] == '.') return 0;
    }
    return 1;
}

/* Segments of A-Z a-z 0-9 . _ - separated by single '/', none "." or "..": a key needs no encoding then. */
static int prefix_ok(const char *p, size_t n)
{
    size_t i, seg = 0;

    if (n > PREFIX_MAX) return 0;
    for (i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            if (i == seg) return 0;
            if ((i - seg == 1 && p[seg] == '.') || (i - seg == 2 && p[seg] == '.' && p[seg + 1] == '.')) return 0;
            seg = i + 1;
            continue;
        }
        if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '_' && p[i] != '-') return 0;
    }
    return 1;
}

/* A parameter that would carry a secret: refused by name, its value never repeated. */
static int secret_param(const char *k)
{
    static const char *const words[] = {"key", "secret", "token", "password", "passwd", "x-amz-", "signature"};
    char low[64];
    size_t i;

    snprintf(low, sizeof(low), "%s", k);
    for (i = 0; low[i]; i++) low[i] = (char)tolower((unsigned char)low[i]);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i])) return 1;
    return 0;
}

static enum berth_rc parse_endpoint(const char *v, struct berth_s3_conf *c, struct berth_err *err)
{
    const char *auth, *end;
    size_t n;

    if (!strncmp(v, "http://", 7)) auth = v + 7;
    else if (!strncmp(v, "https://", 8)) auth = v + 8;
    else return berth_err_set(err, BERTH_ECONFIG, "config 'store': endpoint must start with http:// or https://");
    n = strcspn(auth, "/?#");
    end = auth + n;
    if (memchr(auth, '@', n))
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'store': the endpoint carries credentials (user:password@); S3 keys come from "
                             "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file, never the command line");
    if (n == 0 || n > 255) return berth_err_set(err, BERTH_ECONFIG, "config 'store': the endpoint has no host");
    if (*end && strcmp(end, "/") != 0)
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'store': the endpoint is a scheme, host and port only (path-style "
                             "addressing puts the bucket in the path), not '%.80s'", v);
    c->endpoint = berth_xstrndup(v, (size_t)(end - v));
    c->host = berth_xstrndup(auth, n);
    return BERTH_OK;
}

/* One k=v of the URL's query (v decoded). */
static enum berth_rc conf_param(struct berth_s3_conf *c, const char *k, const char *v, unsigned *seen,
                                struct berth_err *err)
{
    static const char *const known[] = {"endpoint", "region", "redirect", "credentials", "part-size"};
    size_t i, r;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(k, known[i])) break;
    if (i == sizeof(known) / sizeof(known[0])) {
        if (secret_param(k))
            return berth_err_set(err, BERTH_ECONFIG,
                                 "config 'store': parameter '%.40s' would put a credential on the command line: "
                                 "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), or name a "
                                 "credentials file with credentials=FILE", k);
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'store': unknown parameter '%.40s' (known: endpoint, region, redirect, "
                             "credentials, part-size)", k);
    }
    if (*seen & (1u << i)) return berth_err_set(err, BERTH_ECONFIG, "config 'store': '%s' is given twice", k);
    *seen |= 1u << i;
    switch (i) {
    case 0:
        return parse_endpoint(v, c, err);
    case 1:
        for (r = 0; v[r]; r++)
            if (!isalnum((unsigned char)v[r]) && v[r] != '-' && v[r] != '_') break;
        if (!*v || v[r] || r > 64)
            return berth_err_set(err, BERTH_ECONFIG, "config 'store': region '%.64s' is not a region name", v);
        c->region = berth_xstrdup(v);
        return BERTH_OK;
    case 2:
        if (!strcmp(v, "0") || !strcmp(v, "false")) c->redirect = 0;
        else if (!strcmp(v, "1") || !strcmp(v, "true")) c->redirect = 1;
        else return berth_err_set(err, BERTH_ECONFIG, "config 'store': redirect is 0 or 1, not '%.20s'", v);
        return BERTH_OK;
    case 3:
        if (!*v) return berth_err_set(err, BERTH_ECONFIG, "config 'store': credentials= names no file");
        c->credentials = berth_xstrdup(v);
        return BERTH_OK;
    default:
        if (berth_s3_size_parse(v, &c->part_size) != BERTH_OK || c->part_size < BERTH_S3_PART_MIN ||
            c->part_size > BERTH_S3_PART_MAX)
            return berth_err_set(err, BERTH_ECONFIG,
                                 "config 'store': part-size '%.20s' is not a size from 5MiB to 5GiB", v);
        return BERTH_OK;
    }
}

enum berth_rc berth_s3_conf_parse(const char *url, struct berth_s3_conf *c, struct berth_err *err)
{
    const char *p;
    unsigned seen = 0;
    size_t n;
    enum berth_rc rc = BERTH_OK;

    memset(c, 0, sizeof(*c));
    c->redirect = 1;
    c->part_size = BERTH_S3_PART_DEFAULT;
    if (!url || strncmp(url, "s3://", 5) != 0)
        return berth_err_set(err, BERTH_ECONFIG, "config 'store': an S3 store is s3://BUCKET[/PREFIX]?endpoint=URL");
    p = url + 5;
    n = strcspn(p, "/?#");
    if (memchr(p, '@', n))
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'store': the URL carries credentials (user:password@); S3 keys come from "
                             "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file, never the command line");
    if (!bucket_ok(p, n))
        return berth_err_set(err, BERTH_ECONFIG,
                             "config 'store': '%.*s' is not an S3 bucket name (3-63 of a-z 0-9 . -)", (int)(n > 80 ? 80 : n), p);
    c->bucket = berth_xstrndup(p, n);
    p += n;
    if (*p == '#') return berth_err_set(err, BERTH_ECONFIG, "config 'store': the URL has a fragment");
    if (*p == '/') {
        p++;
        n = strcspn(p, "?#");
        while (n && p[n - 1] == '/') n--; /* "s3://b/p/" is "s3://b/p" */
        if (n && !prefix_ok(p, n))
            return berth_err_set(err, BERTH_ECONFIG,
                                 "config 'store': the prefix must be segments of A-Z a-z 0-9 . _ - joined by '/'");
        c->prefix = n ? berth_xasprintf("%.*s/", (int)n, p) : berth_xstrdup("");
        p += strcspn(p, "?#");
    } else {
        c->prefix = berth_xstrdup("");
    }
    if (*p == '#') return berth_err_set(err, BERTH_ECONFIG, "config 'store': the URL has a fragment");
    if (*p == '?') p++;
    while (*p && !rc) {
        const char *eq;
        char *k, *v;

        n = strcspn(p, "&#");
        if (p[n] == '#') return berth_err_set(err, BERTH_ECONFIG, "config 'store': the URL has a fragment");
        if (n == 0) {
            p++;
            continue;
        }
        eq = memchr(p, '=', n);
        k = berth_sigv4_uri_decode(p, eq ? (size_t)(eq - p) : n);
        v = eq ? berth_sigv4_uri_decode(eq + 1, n - (size_t)(eq - p) - 1) : berth_xstrdup("");
        if (!k || !v) rc = berth_err_set(err, BERTH_ECONFIG, "config 'store': a parameter has a broken %% escape");
        else rc = conf_param(c, k, v, &seen, err);
        if (v) explicit_bzero(v, strlen(v));
        free(k);
        free(v);
        p += n;
        if (*p == '&') p++;
    }
    if (rc) return rc;
    if (!c->endpoint) return berth_err_set(err, BERTH_ECONFIG, "config 'store': endpoint=http(s)://HOST:PORT is required");
    if (!c->region) c->region = berth_xstrdup("us-east-1");
    return BERTH_OK;
}

/* ---------------------------------------------------------------- credentials */

void berth_s3_creds_release(struct berth_s3_creds *c)
{
    char **k[3];
    size_t i;

    if (!c) return;
    k[0] = &c->access_key;
    k[1] = &c->secret_key;
    k[2] = &c->token;
    for (i = 0; i < 3; i++) {
        if (*k[i]) explicit_bzero(*k[i], strlen(*k[i]));
        free(*k[i]);
        *k[i] = NULL;
    }
}

/* s[0..n) without leading and trailing blanks. */
static struct berth_str trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    return (struct berth_str){s, n};
}

static int str_is(struct berth_str s, const char *w)
{
    return s.len == strlen(w) && strncasecmp(s.p, w, s.len) == 0;
}

enum berth_rc berth_s3_creds_parse(const char *text, size_t len, const char *profile, const char *path,
                                   struct berth_s3_creds *out, struct berth_err *err)
{
    const char *p = text, *end = text + len;
    struct berth_s3_creds c;
    int in = 0, found = 0, line = 0;
    enum berth_rc rc = BERTH_OK;

    memset(&c, 0, sizeof(c));
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct berth_str l = trim(p, nl ? (size_t)(nl - p) : (size_t)(end - p)), k, v;
        const char *eq;
        char **slot = NULL;

        line++;
        p = nl ? nl + 1 : end;
        if (!l.len || l.p[0] == '#' || l.p[0] == ';') continue;
        if (l.p[0] == '[') {
            if (l.p[l.len - 1] != ']') {
                rc = berth_err_set(err, BERTH_ECONFIG, "%s:%d: a section header without ']'", path, line);
                break;
            }
            k = trim(l.p + 1, l.len - 2);
            if (k.len > 8 && !strncmp(k.p, "profile ", 8)) k = trim(k.p + 8, k.len - 8);
            in = k.len == strlen(profile) && !memcmp(k.p, profile, k.len);
            found |= in;
            continue;
        }
        if (!in) continue;
        eq = memchr(l.p, '=', l.len);
        if (!eq) {
            rc = berth_err_set(err, BERTH_ECONFIG, "%s:%d: not a 'key = value' line", path, line);
            break;
        }
        k = trim(l.p, (size_t)(eq - l.p));
        v = trim(eq + 1, l.len - (size_t)(eq - l.p) - 1);
        if (str_is(k, "aws_access_key_id")) slot = &c.access_key;
        else if (str_is(k, "aws_secret_access_key")) slot = &c.secret_key;
        else if (str_is(k, "aws_session_token") || str_is(k, "aws_security_token")) slot = &c.token;
        if (!slot) continue; /* region, output, ...: not ours */
        if (*slot) {
            explicit_bzero(*slot, strlen(*slot));
            free(*slot);
        }
        *slot = berth_xstrndup(v.p, v.len);
    }
    if (!rc && !found)
        rc = berth_err_set(err, BERTH_ENOENT, "%s has no profile [%s]", path, profile);
    if (!rc && (!c.access_key || !*c.access_key || !c.secret_key || !*c.secret_key))
        rc = berth_err_set(err, BERTH_ECONFIG, "%s: profile [%s] lacks aws_access_key_id or aws_secret_access_key",
                           path, profile);
    if (!rc && c.token && !*c.token) {
        free(c.token);
        c.token = NULL;
    }
    if (rc) {
        berth_s3_creds_release(&c);
        return rc;
    }
    snprintf(c.from, sizeof(c.from), "%s", path);
    *out = c;
    return BERTH_OK;
}

static enum berth_rc creds_file(const char *path, struct berth_s3_creds *out, struct berth_err *err)
{
    const char *profile = getenv("AWS_PROFILE");
    char *text = NULL;
    size_t len = 0;
    enum berth_rc rc;

    if (!profile || !*profile) profile = "default";
    rc = berth_read_file(path, CREDS_FILE_MAX, &text, &len, err);
    if (!rc) rc = berth_s3_creds_parse(text, len, profile, path, out, err);
    if (rc && rc != BERTH_ECONFIG) {
        char why[BERTH_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err ? berth_err_msg(err) : "");
        rc = berth_err_set(err, BERTH_ECONFIG, "S3 credentials: %s", why);
    }
    if (text) explicit_bzero(text, len);
    free(text);
    return rc;
}

enum berth_rc berth_s3_creds_load(const char *file, struct berth_s3_creds *out, struct berth_err *err)
{
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *tok = getenv("AWS_SESSION_TOKEN"), *shared = getenv("AWS_SHARED_CREDENTIALS_FILE");

    memset(out, 0, sizeof(*out));
    if (file) return creds_file(file, out, err);
    if ((ak && *ak) != (sk && *sk))
        return berth_err_set(err, BERTH_ECONFIG, "S3 credentials: %s is set but %s is not",
                             ak && *ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                             ak && *ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    if (ak && *ak) {
        out->access_key = berth_xstrdup(ak);
        out->secret_key = berth_xstrdup(sk);
        out->token = tok && *tok ? berth_xstrdup(tok) : NULL;
        snprintf(out->from, sizeof(out->from), "environment");
        return BERTH_OK;
    }
    if (shared && *shared) return creds_file(shared, out, err);
    return berth_err_set(err, BERTH_ECONFIG,
                         "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or name a credentials "
                         "file with credentials=FILE in the store URL or AWS_SHARED_CREDENTIALS_FILE");
}

/* ---------------------------------------------------------------- XML */

enum tag_kind { TAG_OPEN, TAG_CLOSE, TAG_EMPTY, TAG_OTHER };

struct tag {
    enum tag_kind kind;
    struct berth_str name;
    const char *start, *end; /* '<' and one past '>' */
};

/* The end of p[0..n) after the first occurrence of what, or NULL. */
static const char *past(const char *p, const char *end, const char *what)
{
    size_t w = strlen(what);

    for (; (size_t)(end - p) >= w; p++)
        if (!memcmp(p, what, w)) return p + w;
    return NULL;
}

/*
 * The next markup at or after p: BERTH_ENOENT when there is none,
 * BERTH_EINVAL when it does not end. Comments, processing instructions,
 * declarations and CDATA are TAG_OTHER.
 */
static enum berth_rc next_tag(const char *p, const char *end, struct tag *t, struct berth_err *err)
{
    const char *q;
    char quote = 0;

    p = memchr(p, '<', (size_t)(end - p));
    if (!p) return BERTH_ENOENT;
    t->start = p;
    t->kind = TAG_OTHER;
    t->name.p = NULL;
    t->name.len = 0;
    if ((size_t)(end - p) >= 2 && (p[1] == '!' || p[1] == '?')) {
        if ((size_t)(end - p) >= 4 && !memcmp(p, "<!--", 4)) q = past(p + 4, end, "-->");
        else if ((size_t)(end - p) >= 9 && !memcmp(p, "<![CDATA[", 9)) q = past(p + 9, end, "]]>");
        else if (p[1] == '?') q = past(p + 2, end, "?>");
        else q = past(p, end, ">"); /* <!DOCTYPE ...> */
        if (!q) return berth_err_set(err, BERTH_EINVAL, "XML: unterminated markup");
        t->end = q;
        return BERTH_OK;
    }
    q = p + 1;
    if (q < end && *q == '/') {
        t->kind = TAG_CLOSE;
        q++;
    }
    t->name.p = q;
    while (q < end && !isspace((unsigned char)*q) && *q != '>' && *q != '/') q++;
    t->name.len = (size_t)(q - t->name.p);
    if (!t->name.len) return berth_err_set(err, BERTH_EINVAL, "XML: a tag without a name");
    for (; q < end; q++) {
        if (quote) {
            if (*q == quote) quote = 0;
        } else if (*q == '"' || *q == '\'') {
            quote = *q;
        } else if (*q == '>') {
            break;
        }
    }
    if (q >= end) return berth_err_set(err, BERTH_EINVAL, "XML: unterminated tag");
    if (t->kind != TAG_CLOSE) t->kind = q[-1] == '/' ? TAG_EMPTY : TAG_OPEN;
    t->end = q + 1;
    return BERTH_OK;
}

static int name_is(struct berth_str n, const char *name)
{
    return n.len == strlen(name) && !memcmp(n.p, name, n.len);
}

enum berth_rc berth_s3_xml_next(struct berth_str *scope, const char *name, struct berth_str *inner,
                                struct berth_err *err)
{
    const char *p = scope->p, *end = scope->p + scope->len;
    struct tag t;
    enum berth_rc rc;
    int depth;

    for (;;) {
        rc = next_tag(p, end, &t, err);
        if (rc) return rc;
        p = t.end;
        if ((t.kind == TAG_OPEN || t.kind == TAG_EMPTY) && name_is(t.name, name)) break;
    }
    if (t.kind == TAG_EMPTY) {
        inner->p = t.end;
        inner->len = 0;
    } else {
        inner->p = t.end;
        for (depth = 1; depth;) {
            rc = next_tag(p, end, &t, err);
            if (rc == BERTH_ENOENT)
                return berth_err_set(err, BERTH_EINVAL, "XML: element <%s> does not end", name);
            if (rc) return rc;
            p = t.end;
            if (!name_is(t.name, name)) continue;
            if (t.kind == TAG_OPEN) depth++;
            else if (t.kind == TAG_CLOSE) depth--;
        }
        inner->len = (size_t)(t.start - inner->p);
    }
    scope->len -= (size_t)(p - scope->p);
    scope->p = p;
    return BERTH_OK;
}

/* Appends code point cp as UTF-8; 0 for one that is not an XML character. */
static int put_utf8(unsigned long cp, char *o, size_t *k)
{
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp == 0xfffe || cp == 0xffff) return 0;
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xc0 | cp >> 6);
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xe0 | cp >> 12);
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*k)++] = (char)(0xf0 | cp >> 18);
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    }
    return 1;
}

/* The code point of "#123" or "#x7B" (the text between '&' and ';'); 0 when malformed. */
static unsigned long char_ref(const char *s, size_t n)
{
    unsigned long cp = 0;
    size_t i = 1;
    int hex = n > 1 && (s[1] == 'x' || s[1] == 'X');

    if (hex) i = 2;
    if (n <= i || n - i > 8) return 0;
    for (; i < n; i++) {
        int d = hex ? berth_hex_digit(s[i]) : isdigit((unsigned char)s[i]) ? s[i] - '0' : -1;
        if (d < 0) return 0;
        cp = cp * (hex ? 16 : 10) + (unsigned long)d;
    }
    return cp;
}

enum berth_rc berth_s3_xml_decode(const char *s, size_t n, char *out, size_t cap, struct berth_err *err)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"quot", '"'}, {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"apos", '\''}};
    size_t i = 0, k = 0, j, e;
    char tmp[4];

    if (!cap) return berth_err_set(err, BERTH_EINVAL, "XML: no room for text");
    while (i < n) {
        size_t w = 0;

        if (s[i] == '<') return berth_err_set(err, BERTH_EINVAL, "XML: markup inside a text element");
        if (s[i] != '&') {
            tmp[w++] = s[i++];
        } else {
            const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
            if (!semi) return berth_err_set(err, BERTH_EINVAL, "XML: an unterminated entity");
            e = (size_t)(semi - (s + i + 1));
            if (e && s[i + 1] == '#') {
                if (!put_utf8(char_ref(s + i + 1, e), tmp, &w))
                    return berth_err_set(err, BERTH_EINVAL, "XML: a broken character reference");
            } else {
                for (j = 0; j < sizeof(named) / sizeof(named[0]); j++)
                    if (strlen(named[j].name) == e && !memcmp(s + i + 1, named[j].name, e)) break;
                if (j == sizeof(named) / sizeof(named[0]))
                    return berth_err_set(err, BERTH_EINVAL, "XML: unknown entity &%.*s;", (int)e, s + i + 1);
                tmp[w++] = named[j].c;
            }
            i += e + 2;
        }
        if (k + w >= cap) return berth_err_set(err, BERTH_EINVAL, "XML: a text longer than %zu bytes", cap - 1);
        memcpy(out + k, tmp, w);
        k += w;
    }
    out[k] = '\0';
    return BERTH_OK;
}

enum berth_rc berth_s3_xml_text(struct berth_str scope, const char *name, char *out, size_t cap,
                                struct berth_err *err)
{
    struct berth_str inner;
    enum berth_rc rc = berth_s3_xml_next(&scope, name, &inner, err);

    if (rc) return rc;
    rc = berth_s3_xml_decode(inner.p, inner.len, out, cap, err);
    if (rc) {
        char why[BERTH_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", err ? berth_err_msg(err) : "");
        return berth_err_set(err, rc, "<%s>: %s", name, why);
    }
    return BERTH_OK;
}

enum berth_rc berth_s3_xml_u64(struct berth_str scope, const char *name, uint64_t *out, struct berth_err *err)
{
    char text[24];
    enum berth_rc rc = berth_s3_xml_text(scope, name, text, sizeof(text), err);
    struct berth_str t;

    if (rc) return rc;
    t = trim(text, strlen(text));
    if (berth_parse_u64(t.p, t.len, out) != 0)
        return berth_err_set(err, BERTH_EINVAL, "XML: <%s> is not a number", name);
    return BERTH_OK;
}

void berth_s3_xml_escape(struct berth_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': berth_buf_puts(b, "&amp;"); break;
        case '<': berth_buf_puts(b, "&lt;"); break;
        case '>': berth_buf_puts(b, "&gt;"); break;
        case '"': berth_buf_puts(b, "&quot;"); break;
        case '\'': berth_buf_puts(b, "&apos;"); break;
        default: berth_buf_putc(b, *s);
        }
    }
}

/* ---------------------------------------------------------------- resume data */

void berth_s3_ext_add(struct berth_s3_ext *e, const char *etag, uint64_t size)
{
    struct berth_s3_part *p;

    if (e->nparts == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->parts = berth_xrealloc(e->parts, e->cap * sizeof(e->parts[0]));
    }
    p = &e->parts[e->nparts++];
    p->number = (uint32_t)e->nparts;
    p->size = size;
    snprintf(p->etag, sizeof(p->etag), "%s", etag);
}

uint64_t berth_s3_ext_parts_bytes(const struct berth_s3_ext *e)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < e->nparts; i++) n += e->parts[i].size;
    return n;
}

void berth_s3_ext_release(struct berth_s3_ext *e)
{
    if (!e) return;
    free(e->mp);
    free(e->parts);
    memset(e, 0, sizeof(*e));
}

char *berth_s3_ext_format(const struct berth_s3_ext *e)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t i;

    berth_buf_puts(&b, "{\"v\":1,\"mp\":");
    if (e->mp) berth_buf_json_str(&b, e->mp, strlen(e->mp));
    else berth_buf_puts(&b, "null");
    berth_buf_puts(&b, ",\"parts\":[");
    for (i = 0; i < e->nparts; i++) {
        berth_buf_printf(&b, "%s[%u,", i ? "," : "", (unsigned)e->parts[i].number);
        berth_buf_json_str(&b, e->parts[i].etag, strlen(e->parts[i].etag));
        berth_buf_printf(&b, ",%llu]", (unsigned long long)e->parts[i].size);
    }
    berth_buf_printf(&b, "],\"tail\":%llu}", (unsigned long long)e->tail);
    return berth_buf_detach(&b, NULL);
}

/* A JSON integer in 0..max. */
static int json_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    json_int_t n;

    if (!json_is_integer(v)) return 0;
    n = json_integer_value(v);
    if (n < 0 || (uint64_t)n > max) return 0;
    *out = (uint64_t)n;
    return 1;
}

enum berth_rc berth_s3_ext_parse(const char *json, struct berth_s3_ext *e, struct berth_err *err)
{
    json_t *root = NULL, *mp, *parts, *p;
    json_error_t je;
    uint64_t v, num, size, total = 0;
    size_t i;
    enum berth_rc rc = BERTH_OK;

    memset(e, 0, sizeof(*e));
    if (!json || strlen(json) > EXT_MAX) return berth_err_set(err, BERTH_EINVAL, "S3 upload data: missing or too long");
    root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root) || json_object_size(root) != 4 || !json_u64(json_object_get(root, "v"), 1, &v) ||
        v != 1) {
        rc = berth_err_set(err, BERTH_EINVAL, "S3 upload data: not version 1 resume data");
        goto out;
    }
    mp = json_object_get(root, "mp");
    parts = json_object_get(root, "parts");
    if (!json_u64(json_object_get(root, "tail"), BERTH_S3_PART_MAX * 128, &e->tail) || !json_is_array(parts) ||
        json_array_size(parts) > BERTH_S3_PARTS_MAX || !(json_is_null(mp) || json_is_string(mp))) {
        rc = berth_err_set(err, BERTH_EINVAL, "S3 upload data: malformed");
        goto out;
    }
    if (json_is_string(mp)) {
        if (!json_string_length(mp) || json_string_length(mp) > BERTH_S3_UPLOAD_ID_MAX ||
            strlen(json_string_value(mp)) != json_string_length(mp)) {
            rc = berth_err_set(err, BERTH_EINVAL, "S3 upload data: a malformed multipart upload id");
            goto out;
        }
        e->mp = berth_xstrdup(json_string_value(mp));
    } else if (json_array_size(parts)) {
        rc = berth_err_set(err, BERTH_EINVAL, "S3 upload data: parts without a multipart upload");
        goto out;
    }
    json_array_foreach(parts, i, p) {
        const json_t *tag = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 3 || !json_u64(json_array_get(p, 0), BERTH_S3_PARTS_MAX, &num) ||
            num != i + 1 || !json_is_string(tag) || !json_string_length(tag) ||
            json_string_length(tag) >= BERTH_S3_ETAG_MAX || strlen(json_string_value(tag)) != json_string_length(tag) ||
            !json_u64(json_array_get(p, 2), BERTH_S3_PART_MAX, &size) || size < BERTH_S3_PART_MIN) {
            rc = berth_err_set(err, BERTH_EINVAL, "S3 upload data: part %zu is malformed", i + 1);
            goto out;
        }
        berth_s3_ext_add(e, json_string_value(tag), size);
        total += size;
    }
    (void)total; /* bounded: 10,000 parts of at most 5 GiB */
out:
    json_decref(root);
    if (rc) berth_s3_ext_release(e);
    return rc;
}

/* ---------------------------------------------------------------- part sizes */

uint64_t berth_s3_part_target(uint64_t part_size, size_t nparts)
{
    uint64_t floor = nparts < 5000 ? 0 : nparts < 8000 ? 64 * BERTH_S3_MIB : 512 * BERTH_S3_MIB;

    return part_size > floor ? part_size : floor;
}

uint64_t berth_s3_part_close_min(uint64_t part_size, size_t nparts)
{
    return nparts < 5000 ? BERTH_S3_PART_MIN : berth_s3_part_target(part_size, nparts);
}

enum berth_rc berth_s3_size_parse(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");
    const char *suf = s + n;
    uint64_t v, mul = 1;

    if (!n || berth_parse_u64(s, n, &v) != 0) return BERTH_EINVAL;
    if (*suf) {
        char u = (char)toupper((unsigned char)*suf);
        if (u == 'K') mul = 1024;
        else if (u == 'M') mul = 1024 * 1024;
        else if (u == 'G') mul = 1024 * 1024 * 1024;
        else return BERTH_EINVAL;
        suf++;
        if (!strcasecmp(suf, "iB") || !strcasecmp(suf, "B") || !strcasecmp(suf, "i")) suf += strlen(suf);
        if (*suf) return BERTH_EINVAL;
    }
    if (v > UINT64_MAX / mul) return BERTH_EINVAL;
    *out = v * mul;
    return BERTH_OK;
}
