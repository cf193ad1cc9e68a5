/* test_base64.c - base64url and standard base64: RFC 4648 vectors, strictness, caps. */
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "buf.h"
#include "test.h"

struct vector {
    const char *raw, *std, *url;
};

/* RFC 4648 section 10, with the unpadded url form beside each. */
static const struct vector rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static enum berth_rc url_dec(const char *s, struct berth_buf *b)
{
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(b);
    return berth_b64url_decode(s, strlen(s), b, &err);
}

static enum berth_rc std_dec(const char *s, struct berth_buf *b)
{
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(b);
    return berth_b64_decode(s, strlen(s), b, &err);
}

TEST(b64_rfc4648_encode)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t i;

    for (i = 0; i < NVEC; i++) {
        berth_buf_reset(&b);
        ASSERT_RC(berth_b64_encode(rfc4648[i].raw, strlen(rfc4648[i].raw), &b), BERTH_OK);
        ASSERT_EQ_STR(berth_buf_str(&b), rfc4648[i].std);
        berth_buf_reset(&b);
        ASSERT_RC(berth_b64url_encode(rfc4648[i].raw, strlen(rfc4648[i].raw), &b), BERTH_OK);
        ASSERT_EQ_STR(berth_buf_str(&b), rfc4648[i].url);
    }
    berth_buf_release(&b);
}

TEST(b64_rfc4648_decode)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t i;

    for (i = 0; i < NVEC; i++) {
        ASSERT_RC(std_dec(rfc4648[i].std, &b), BERTH_OK);
        ASSERT_EQ_STR(berth_buf_str(&b), rfc4648[i].raw);
        ASSERT_RC(url_dec(rfc4648[i].url, &b), BERTH_OK);
        ASSERT_EQ_STR(berth_buf_str(&b), rfc4648[i].raw);
        /* Standard base64 also takes the unpadded form. */
        ASSERT_RC(std_dec(rfc4648[i].url, &b), BERTH_OK);
        ASSERT_EQ_STR(berth_buf_str(&b), rfc4648[i].raw);
    }
    berth_buf_release(&b);
}

TEST(b64_alphabets_differ)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const unsigned char raw[] = {0xfb, 0xff, 0xbf};

    ASSERT_RC(berth_b64_encode(raw, sizeof(raw), &b), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "+/+/");
    berth_buf_reset(&b);
    ASSERT_RC(berth_b64url_encode(raw, sizeof(raw), &b), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "-_-_");
    ASSERT_RC(url_dec("-_-_", &b), BERTH_OK);
    ASSERT_EQ_INT(b.len, 3);
    ASSERT_TRUE(memcmp(b.p, raw, 3) == 0);
    ASSERT_RC(std_dec("+/+/", &b), BERTH_OK);
    ASSERT_TRUE(memcmp(b.p, raw, 3) == 0);
    /* Each variant refuses the other's two characters. */
    ASSERT_RC(url_dec("+/+/", &b), BERTH_EINVAL);
    ASSERT_RC(url_dec("ab+c", &b), BERTH_EINVAL);
    ASSERT_RC(std_dec("-_-_", &b), BERTH_EINVAL);
    ASSERT_RC(std_dec("ab_c", &b), BERTH_EINVAL);
    berth_buf_release(&b);
}

TEST(b64url_refuses_padding_and_whitespace)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    static const char *bad[] = {"Zg==", "Zg=", "Zm8=", "Zm9v=", "Zg==Zg", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9v\t",
                                "Zm\r\n9v", "Zm9v.", "Zm9v!", "Zm9\xc3\xa9", "="};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (url_dec(bad[i], &b) != BERTH_EINVAL) BERTH_TEST_FAIL("accepted \"%s\"", bad[i]);
        ASSERT_EQ_INT(b.len, 0);
    }
    ASSERT_RC(berth_b64url_decode("Zg==", 4, &b, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "padding") != NULL);
    ASSERT_RC(berth_b64url_decode("Zm 9", 4, &b, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "offset 2") != NULL);
    /* An embedded NUL is an ordinary bad byte, not an end of input. */
    ASSERT_RC(berth_b64url_decode("Zm\0v", 4, &b, &err), BERTH_EINVAL);
    berth_buf_release(&b);
}

TEST(b64_refuses_impossible_lengths)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    static const char *bad[] = {"Z", "Zm9vY", "Zm9vYmFyZ", "A"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (url_dec(bad[i], &b) != BERTH_EINVAL) BERTH_TEST_FAIL("url accepted \"%s\"", bad[i]);
        if (std_dec(bad[i], &b) != BERTH_EINVAL) BERTH_TEST_FAIL("std accepted \"%s\"", bad[i]);
    }
    berth_buf_release(&b);
}

TEST(b64_refuses_noncanonical_trailing_bits)
{
    struct berth_buf b = BERTH_BUF_INIT(0);

    /* "f" is Zg; Zh..Zv carry the same byte with stray low bits. */
    ASSERT_RC(url_dec("Zg", &b), BERTH_OK);
    ASSERT_RC(url_dec("Zh", &b), BERTH_EINVAL);
    ASSERT_RC(url_dec("Zv", &b), BERTH_EINVAL);
    ASSERT_RC(std_dec("Zh==", &b), BERTH_EINVAL);
    /* "fo" is Zm8; Zm9 differs only in the two unused bits. */
    ASSERT_RC(url_dec("Zm8", &b), BERTH_OK);
    ASSERT_RC(url_dec("Zm9", &b), BERTH_EINVAL);
    ASSERT_RC(std_dec("Zm9=", &b), BERTH_EINVAL);
    ASSERT_RC(std_dec("Zm9", &b), BERTH_EINVAL);
    berth_buf_release(&b);
}

TEST(b64_std_padding_must_be_right)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    static const char *bad[] = {"Zg=", "Zg===", "Zm8==", "Zm9v=", "Zm9v==", "=Zm9", "Zm=9v", "Z===", "====", "==",
                                "Zg==Zg==", "Zm9v\n", "Zm 9v"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (std_dec(bad[i], &b) != BERTH_EINVAL) BERTH_TEST_FAIL("accepted \"%s\"", bad[i]);
    ASSERT_RC(std_dec("dXNlcjpwYXNz", &b), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "user:pass");
    berth_buf_release(&b);
}

TEST(b64_roundtrips_every_byte_and_length)
{
    struct berth_buf enc = BERTH_BUF_INIT(0), dec = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    unsigned char raw[2100];
    size_t n, i;

    for (i = 0; i < sizeof(raw); i++) raw[i] = (unsigned char)(i * 7 + (i >> 8));
    /* Lengths around the internal chunk sizes (768 bytes, 1024 characters) included. */
    for (n = 0; n < sizeof(raw); n += (n < 40 ? 1 : 37)) {
        berth_buf_reset(&enc);
        berth_buf_reset(&dec);
        ASSERT_RC(berth_b64url_encode(raw, n, &enc), BERTH_OK);
        ASSERT_EQ_U64(enc.len, (n * 4 + 2) / 3);
        ASSERT_RC(berth_b64url_decode(enc.p, enc.len, &dec, &err), BERTH_OK);
        ASSERT_EQ_U64(dec.len, n);
        ASSERT_TRUE(n == 0 || memcmp(dec.p, raw, n) == 0);
        berth_buf_reset(&enc);
        berth_buf_reset(&dec);
        ASSERT_RC(berth_b64_encode(raw, n, &enc), BERTH_OK);
        ASSERT_EQ_U64(enc.len, (n + 2) / 3 * 4);
        ASSERT_RC(berth_b64_decode(enc.p, enc.len, &dec, &err), BERTH_OK);
        ASSERT_EQ_U64(dec.len, n);
        ASSERT_TRUE(n == 0 || memcmp(dec.p, raw, n) == 0);
    }
    for (n = 766; n <= 770; n++) {
        berth_buf_reset(&enc);
        berth_buf_reset(&dec);
        ASSERT_RC(berth_b64url_encode(raw, n, &enc), BERTH_OK);
        ASSERT_RC(berth_b64url_decode(enc.p, enc.len, &dec, &err), BERTH_OK);
        ASSERT_TRUE(dec.len == n && memcmp(dec.p, raw, n) == 0);
    }
    berth_buf_release(&enc);
    berth_buf_release(&dec);
}

TEST(b64_appends_and_keeps_buffer_on_error)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;

    berth_buf_puts(&b, "x:");
    ASSERT_RC(berth_b64url_encode("foo", 3, &b), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "x:Zm9v");
    ASSERT_RC(berth_b64url_decode("Zm9v", 4, &b, &err), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "x:Zm9vfoo");
    /* A failure deep into the text leaves earlier contents exactly as they were. */
    ASSERT_RC(berth_b64url_decode("Zm9vZm9vZm9v!", 13, &b, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_buf_str(&b), "x:Zm9vfoo");
    ASSERT_RC(berth_b64url_decode(NULL, 0, &b, &err), BERTH_OK);
    ASSERT_RC(berth_b64_decode(NULL, 0, &b, &err), BERTH_OK);
    ASSERT_RC(berth_b64_encode(NULL, 0, &b), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), "x:Zm9vfoo");
    berth_buf_release(&b);
}

TEST(b64_respects_buffer_cap)
{
    struct berth_buf b = BERTH_BUF_INIT(5);
    struct berth_err err = BERTH_ERR_INIT;
    char big[4096];

    ASSERT_RC(berth_b64url_encode("foo", 3, &b), BERTH_OK);
    ASSERT_RC(berth_b64url_encode("foo", 3, &b), BERTH_ETOOBIG);
    berth_buf_release(&b);

    berth_buf_init(&b, 100);
    memset(big, 'A', sizeof(big));
    ASSERT_RC(berth_b64url_decode(big, sizeof(big), &b, &err), BERTH_ETOOBIG);
    ASSERT_TRUE(strstr(err.msg, "too large") != NULL);
    ASSERT_RC(berth_b64_encode(big, sizeof(big), &b), BERTH_ETOOBIG);
    berth_buf_release(&b);
}
