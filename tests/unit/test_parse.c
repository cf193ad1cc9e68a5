/* test_parse.c - the core parsers of untrusted text: hex, forms, RFC 3339, Basic credentials. */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "base64.h"
#include "buf.h"
#include "parse.h"
#include "test.h"
#include "util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- hex */

TEST(parse_hex_digit_table)
{
    int c;
    for (c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9' ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        ASSERT_EQ_INT(berth_hex_digit((char)c), want);
    }
}

static const struct {
    const char *in;
    enum berth_rc rc;
    const char *out; /* the decoded bytes as lowercase hex again, on success */
} hex_rows[] = {
    {"", BERTH_OK, ""},
    {"00", BERTH_OK, "00"},
    {"ff", BERTH_OK, "ff"},
    {"FF", BERTH_OK, "ff"},
    {"0aB9", BERTH_OK, "0ab9"},
    {"0123456789abcdefABCDEF00", BERTH_OK, "0123456789abcdefabcdef00"},
    {"f", BERTH_EINVAL, NULL},
    {"abc", BERTH_EINVAL, NULL},
    {"0g", BERTH_EINVAL, NULL},
    {"g0", BERTH_EINVAL, NULL},
    {" 0", BERTH_EINVAL, NULL},
    {"0x", BERTH_EINVAL, NULL},
    {"-1", BERTH_EINVAL, NULL},
};

TEST(parse_hex_decode_table)
{
    size_t i;
    for (i = 0; i < N(hex_rows); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        unsigned char out[32];
        char back[65];
        size_t n = strlen(hex_rows[i].in);
        ASSERT_RC(berth_hex_decode(hex_rows[i].in, n, out, &err), hex_rows[i].rc);
        if (hex_rows[i].rc != BERTH_OK) {
            ASSERT_TRUE(err.msg[0] != '\0');
            continue;
        }
        berth_hex(out, n / 2, back);
        ASSERT_EQ_STR(back, hex_rows[i].out);
    }
}

TEST(parse_hex_decode_stops_at_n)
{
    unsigned char out[2] = {0, 0x77};
    ASSERT_RC(berth_hex_decode("41zz", 2, out, NULL), BERTH_OK);
    ASSERT_EQ_INT(out[0], 0x41);
    ASSERT_EQ_INT(out[1], 0x77);
}

TEST(parse_hex_lower)
{
    ASSERT_TRUE(berth_hex_lower("", 0));
    ASSERT_TRUE(berth_hex_lower("0123456789abcdef", 16));
    ASSERT_TRUE(!berth_hex_lower("0123456789abcdeF", 16));
    ASSERT_TRUE(!berth_hex_lower("ag", 2));
    ASSERT_TRUE(berth_hex_lower("abXX", 2));
    ASSERT_TRUE(!berth_hex_lower("a\0", 2));
}

/* ---------------------------------------------------------------- forms */

static const struct {
    const char *in;
    enum berth_rc rc;
    const char *out;
} form_rows[] = {
    {"", BERTH_OK, ""},
    {"abc", BERTH_OK, "abc"},
    {"a+b", BERTH_OK, "a b"},
    {"a%20b", BERTH_OK, "a b"},
    {"%2B%2b", BERTH_OK, "++"},
    {"%3d%3D", BERTH_OK, "=="},
    {"%e2%82%AC", BERTH_OK, "\xe2\x82\xac"},
    {"100%", BERTH_OK, "100%"},   /* a '%' without two hex digits stays */
    {"%4", BERTH_OK, "%4"},
    {"%zz", BERTH_OK, "%zz"},
    {"%%41", BERTH_OK, "%A"},
    {"%41%", BERTH_OK, "A%"},
    {"a%00", BERTH_EINVAL, NULL}, /* a NUL would cut the value short */
    {"%00", BERTH_EINVAL, NULL},
};

TEST(parse_form_decode_table)
{
    size_t i;
    for (i = 0; i < N(form_rows); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        char *out = (char *)"unset";
        ASSERT_RC(berth_form_decode(form_rows[i].in, strlen(form_rows[i].in), &out, &err), form_rows[i].rc);
        if (form_rows[i].rc != BERTH_OK) {
            ASSERT_TRUE(out == NULL);
            ASSERT_TRUE(strstr(err.msg, "%00") != NULL);
            continue;
        }
        ASSERT_EQ_STR(out, form_rows[i].out);
        free(out);
    }
}

TEST(parse_form_decode_reads_only_n)
{
    char *out = NULL;
    /* "%41" cut after "%4": the digit past n must not be read */
    ASSERT_RC(berth_form_decode("a%41", 3, &out, NULL), BERTH_OK);
    ASSERT_EQ_STR(out, "a%4");
    free(out);
}

static int collect(const char *k, const char *v, void *ctx)
{
    struct berth_buf *b = ctx;
    berth_buf_printf(b, "[%s=%s]", k, v);
    return strcmp(k, "stop") == 0;
}

static const struct {
    const char *body, *want;
} each_rows[] = {
    {"", ""},
    {"a=1", "[a=1]"},
    {"a=1&b=2", "[a=1][b=2]"},
    {"a", "[a=]"},
    {"a=", "[a=]"},
    {"=v", "[=v]"},
    {"&&a=1&", "[=][=][a=1]"},
    {"a=1=2", "[a=1=2]"},
    {"k%3D=v%26w", "[k==v&w]"},
    {"grant_type=password&username=x+y&password=p%40ss", "[grant_type=password][username=x y][password=p@ss]"},
    {"a=%00&b=2", "[b=2]"},          /* a field holding %00 is skipped */
    {"%00=1&b=2", "[b=2]"},
    {"a=1&stop=1&c=3", "[a=1][stop=1]"},
};

TEST(parse_form_each_table)
{
    size_t i;
    for (i = 0; i < N(each_rows); i++) {
        struct berth_buf b = BERTH_BUF_INIT(0);
        berth_buf_printf(&b, "%s", "");
        berth_form_each(each_rows[i].body, collect, &b);
        ASSERT_EQ_STR(berth_buf_str(&b), each_rows[i].want);
        berth_buf_release(&b);
    }
}

TEST(parse_form_each_overlong)
{
    size_t n = 1 << 20, i;
    char *body = berth_xmalloc(n + 1);
    struct berth_buf b = BERTH_BUF_INIT(0);
    for (i = 0; i < n; i++) body[i] = i % 2 ? '&' : 'k';
    body[n] = '\0';
    berth_form_each(body, collect, &b);
    ASSERT_EQ_U64(b.len, (n / 2) * strlen("[k=]"));
    berth_buf_release(&b);
    free(body);
}

/* ---------------------------------------------------------------- time */

static const struct {
    const char *in;
    enum berth_rc rc;
    int64_t ms;
} time_rows[] = {
    {"1970-01-01T00:00:00Z", BERTH_OK, 0},
    {"1970-01-01t00:00:00z", BERTH_OK, 0},
    {"1970-01-01 00:00:01Z", BERTH_OK, 1000},
    {"2026-01-02T03:04:05Z", BERTH_OK, 1767323045000},
    {"2026-01-02T03:04:05.5Z", BERTH_OK, 1767323045500},
    {"2026-01-02T03:04:05.123456789Z", BERTH_OK, 1767323045123},
    {"2026-01-02T05:04:05+02:00", BERTH_OK, 1767323045000},
    {"2026-01-02T00:34:05-02:30", BERTH_OK, 1767323045000},
    {"2000-02-29T00:00:00Z", BERTH_OK, 951782400000},
    {"2016-12-31T23:59:60Z", BERTH_OK, 1483228799000}, /* a leap second is the one before */
    {"9999-12-31T23:59:59Z", BERTH_OK, 253402300799000},
    {"1970-01-01T00:00:00+01:00", BERTH_OK, -3600000},
    {"1969-12-31T23:59:59Z", BERTH_EINVAL, 0},
    {"2001-02-29T00:00:00Z", BERTH_EINVAL, 0},
    {"1900-02-29T00:00:00Z", BERTH_EINVAL, 0},
    {"2026-04-31T00:00:00Z", BERTH_EINVAL, 0},
    {"2026-13-01T00:00:00Z", BERTH_EINVAL, 0},
    {"2026-00-01T00:00:00Z", BERTH_EINVAL, 0},
    {"2026-01-00T00:00:00Z", BERTH_EINVAL, 0},
    {"2026-01-01T24:00:00Z", BERTH_EINVAL, 0},
    {"2026-01-01T00:60:00Z", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:61Z", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00+24:00", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00+00:60", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00.Z", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00+0100", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00ZZ", BERTH_EINVAL, 0},
    {"2026-01-01T00:00:00Z ", BERTH_EINVAL, 0},
    {"2026-01-01X00:00:00Z", BERTH_EINVAL, 0},
    {"2026-1-01T00:00:00Z", BERTH_EINVAL, 0},
    {"20260101T000000Z", BERTH_EINVAL, 0},
    {"2026-01-01", BERTH_EINVAL, 0},
    {" 2026-01-01T00:00:00Z", BERTH_EINVAL, 0},
    {"+2026-01-01T00:00:00Z", BERTH_EINVAL, 0},
    {"", BERTH_EINVAL, 0},
};

TEST(parse_rfc3339_table)
{
    size_t i;
    for (i = 0; i < N(time_rows); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        int64_t ms = 42;
        enum berth_rc rc = berth_rfc3339_parse(time_rows[i].in, strlen(time_rows[i].in), &ms, &err);
        if (rc != time_rows[i].rc) BERTH_TEST_FAIL("'%s': got %s", time_rows[i].in, berth_rc_name(rc));
        if (rc == BERTH_OK && ms != time_rows[i].ms)
            BERTH_TEST_FAIL("'%s': %lld ms, want %lld", time_rows[i].in, (long long)ms, (long long)time_rows[i].ms);
        if (rc != BERTH_OK) {
            ASSERT_EQ_INT(ms, 42);
            ASSERT_TRUE(strstr(err.msg, "RFC 3339") != NULL);
        }
    }
}

TEST(parse_rfc3339_bounds)
{
    int64_t ms = 0;
    char big[4096];
    ASSERT_RC(berth_rfc3339_parse(NULL, 0, &ms, NULL), BERTH_EINVAL);
    /* n cuts the text: the 'Z' past it is not read */
    ASSERT_RC(berth_rfc3339_parse("1970-01-01T00:00:00Z", 19, &ms, NULL), BERTH_EINVAL);
    ASSERT_RC(berth_rfc3339_parse("1970-01-01T00:00:00Zjunk", 20, &ms, NULL), BERTH_OK);
    /* a NUL inside is a byte like any other */
    ASSERT_RC(berth_rfc3339_parse("1970-01-01T00:00:00Z\0", 21, &ms, NULL), BERTH_EINVAL);
    /* overlong fraction: accepted, the digits past milliseconds count for nothing */
    memcpy(big, "1970-01-01T00:00:00.", 20);
    memset(big + 20, '9', sizeof(big) - 22);
    big[sizeof(big) - 2] = 'Z';
    big[sizeof(big) - 1] = '\0';
    ASSERT_RC(berth_rfc3339_parse(big, strlen(big), &ms, NULL), BERTH_OK);
    ASSERT_EQ_INT(ms, 999);
}

/* ---------------------------------------------------------------- Basic */

static char *b64(const char *raw, size_t n)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    char *s;
    berth_b64_encode(raw, n, &b);
    s = berth_xstrdup(berth_buf_str(&b));
    berth_buf_release(&b);
    return s;
}

static const struct {
    const char *value; /* NULL: base64 of raw[0..rawlen) */
    const char *raw;
    size_t rawlen;
    enum berth_rc rc;
    const char *user, *pass;
} basic_rows[] = {
    {NULL, "alice:secret", 12, BERTH_OK, "alice", "secret"},
    {NULL, "alice:", 6, BERTH_OK, "alice", ""},
    {NULL, ":secret", 7, BERTH_OK, "", "secret"},
    {NULL, ":", 1, BERTH_OK, "", ""},
    {NULL, "a:b:c", 5, BERTH_OK, "a", "b:c"},
    {NULL, "\xc3\xa9t\xc3\xa9:p w", 9, BERTH_OK, "\xc3\xa9t\xc3\xa9", "p w"},
    {"   YTpi", NULL, 0, BERTH_OK, "a", "b"},      /* leading spaces are skipped */
    {"YTpi", NULL, 0, BERTH_OK, "a", "b"},
    {NULL, "alice", 5, BERTH_EINVAL, NULL, NULL},  /* no ':' */
    {NULL, "", 0, BERTH_EINVAL, NULL, NULL},
    {NULL, "a\0:b", 4, BERTH_EINVAL, NULL, NULL},  /* NUL */
    {NULL, "a:b\0", 4, BERTH_EINVAL, NULL, NULL},
    {"YTpi ", NULL, 0, BERTH_EINVAL, NULL, NULL},  /* trailing space */
    {"YTp", NULL, 0, BERTH_EINVAL, NULL, NULL},
    {"YT!i", NULL, 0, BERTH_EINVAL, NULL, NULL},
    {"\tYTpi", NULL, 0, BERTH_EINVAL, NULL, NULL},
};

TEST(parse_basic_table)
{
    size_t i;
    for (i = 0; i < N(basic_rows); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        char *user = NULL, *pass = NULL;
        char *v = basic_rows[i].value ? berth_xstrdup(basic_rows[i].value)
                                      : b64(basic_rows[i].raw, basic_rows[i].rawlen);
        enum berth_rc rc = berth_basic_parse(v, &user, &pass, &err);
        if (rc != basic_rows[i].rc) BERTH_TEST_FAIL("row %zu '%s': got %s", i, v, berth_rc_name(rc));
        if (rc == BERTH_OK) {
            ASSERT_EQ_STR(user, basic_rows[i].user);
            ASSERT_EQ_STR(pass, basic_rows[i].pass);
        } else {
            ASSERT_TRUE(user == NULL && pass == NULL);
            ASSERT_TRUE(strstr(err.msg, "Basic") != NULL);
        }
        free(user);
        free(pass);
        free(v);
    }
}

TEST(parse_basic_overlong)
{
    char *raw = berth_xmalloc(BERTH_BASIC_MAX + 2), *v, *user = NULL, *pass = NULL;
    memset(raw, 'p', BERTH_BASIC_MAX + 1);
    raw[0] = 'u';
    raw[1] = ':';
    /* exactly the cap: accepted */
    v = b64(raw, BERTH_BASIC_MAX);
    ASSERT_RC(berth_basic_parse(v, &user, &pass, NULL), BERTH_OK);
    ASSERT_EQ_STR(user, "u");
    ASSERT_EQ_U64(strlen(pass), BERTH_BASIC_MAX - 2);
    free(user);
    free(pass);
    free(v);
    user = pass = NULL;
    /* one byte over: refused */
    v = b64(raw, BERTH_BASIC_MAX + 1);
    ASSERT_RC(berth_basic_parse(v, &user, &pass, NULL), BERTH_EINVAL);
    ASSERT_TRUE(user == NULL && pass == NULL);
    free(v);
    free(raw);
}
