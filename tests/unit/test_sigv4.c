/* test_sigv4.c - AWS Signature Version 4 against AWS's published vectors: the signature test suite's
 * get-vanilla and get-vanilla-query-order-key-case, S3's "GET Object" example (a Range header and
 * x-amz-content-sha256) and S3's presigned-URL example; then the canonical forms and bad input. */
#include <stdlib.h>
#include <string.h>
#include "../../src/store/sigv4.h"
#include "test.h"

static const struct berth_sigv4_key suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                                             "service"};
static const struct berth_sigv4_key s3doc = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                             "us-east-1", "s3"};

TEST(sigv4_get_vanilla)
{
    struct berth_sigv4_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    struct berth_buf auth = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char sig[65];

    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", NULL, h, 2, BERTH_SIGV4_EMPTY_SHA256, "20150830T123600Z", &auth,
                               sig, &err),
              BERTH_OK);
    ASSERT_EQ_STR(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    ASSERT_EQ_STR(berth_buf_str(&auth), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                        "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    berth_buf_release(&auth);
}

TEST(sigv4_query_is_sorted_before_signing)
{
    struct berth_sigv4_header h[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    struct berth_buf auth = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char sig[65];

    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", "Param2=value2&Param1=value1", h, 2, BERTH_SIGV4_EMPTY_SHA256,
                               "20150830T123600Z", &auth, sig, &err),
              BERTH_OK);
    ASSERT_EQ_STR(sig, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    berth_buf_release(&auth);
}

TEST(sigv4_s3_get_object_example)
{
    /* headers in any order and case, the value's outer spaces trimmed */
    struct berth_sigv4_header h[] = {{"x-amz-date", "20130524T000000Z"},
                                     {"Range", " bytes=0-9 "},
                                     {"x-amz-content-sha256", BERTH_SIGV4_EMPTY_SHA256},
                                     {"Host", "examplebucket.s3.amazonaws.com"}};
    struct berth_buf auth = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char sig[65];

    ASSERT_RC(berth_sigv4_sign(&s3doc, "GET", "/test.txt", "", h, 4, BERTH_SIGV4_EMPTY_SHA256, "20130524T000000Z",
                               &auth, sig, &err),
              BERTH_OK);
    ASSERT_EQ_STR(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    ASSERT_TRUE(strstr(berth_buf_str(&auth), "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") != NULL);
    berth_buf_release(&auth);
}

TEST(sigv4_s3_presigned_url_example)
{
    struct berth_buf q = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_sigv4_presign(&s3doc, "GET", "examplebucket.s3.amazonaws.com", "/test.txt", NULL, 86400,
                                  "20130524T000000Z", &q, &err),
              BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&q), "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
                                     "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                                     "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                                     "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    berth_buf_release(&q);
}

TEST(sigv4_canonical_forms_and_bad_input)
{
    struct berth_sigv4_header h[] = {{"host", "h"}, {"x-amz-date", "20150830T123600Z"}};
    struct berth_sigv4_header dup[] = {{"host", "h"}, {"x-amz-meta-a", "1"}, {"X-Amz-Meta-A", "  2   3 "},
                                       {"x-amz-date", "20150830T123600Z"}};
    struct berth_sigv4_header bad[] = {{"host", "h\r\nx: y"}};
    struct berth_buf a = BERTH_BUF_INIT(0), b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char s1[65], s2[65];

    /* the same parameters however they were escaped or ordered sign alike; '+' is a plus, not a space */
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", "b=%7e&a=x%2By", h, 2, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &a,
                               s1, &err),
              BERTH_OK);
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", "a=x+y&b=~", h, 2, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &b, s2,
                               &err),
              BERTH_OK);
    ASSERT_EQ_STR(s1, s2);
    berth_buf_reset(&a);
    /* repeated headers are signed once, joined by ',' */
    ASSERT_RC(berth_sigv4_sign(&suite, "PUT", "/k", NULL, dup, 4, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &a, s1,
                               &err),
              BERTH_OK);
    ASSERT_TRUE(strstr(berth_buf_str(&a), "SignedHeaders=host;x-amz-date;x-amz-meta-a,") != NULL);
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", "a=%zz", h, 2, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &a, s1,
                               &err),
              BERTH_EINVAL);
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", "a=%4", h, 2, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &a, s1, &err),
              BERTH_EINVAL);
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", NULL, bad, 1, BERTH_SIGV4_UNSIGNED, "20150830T123600Z", &a, s1, &err),
              BERTH_EINVAL);
    ASSERT_RC(berth_sigv4_sign(&suite, "GET", "/", NULL, h, 2, BERTH_SIGV4_UNSIGNED, "2015-08-30", &a, s1, &err),
              BERTH_EINVAL);
    ASSERT_RC(berth_sigv4_presign(&suite, "GET", "h", "/", NULL, 0, "20150830T123600Z", &a, &err), BERTH_EINVAL);
    ASSERT_RC(berth_sigv4_presign(&suite, "GET", "h", "/", NULL, 604801, "20150830T123600Z", &a, &err), BERTH_EINVAL);
    berth_buf_release(&a);
    berth_buf_release(&b);
}

TEST(sigv4_date_format)
{
    char d[17];
    berth_sigv4_date(1369353600, d); /* 2013-05-24T00:00:00Z */
    ASSERT_EQ_STR(d, "20130524T000000Z");
}
