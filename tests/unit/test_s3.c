/*
 * test_s3.c - the S3 blob store driver. First its pure parts without a
 * server: the store URL (and its refusal of credentials), credentials files
 * and variables, the XML extractor, the resume data, the part sizes, the
 * store setting. Then the driver against a real S3 (Ceph's RADOS Gateway in
 * development) when BERTH_TEST_S3_ENDPOINT is set, with BERTH_TEST_S3_REGION,
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; each such test makes its own
 * bucket. The .c is included, as h2o's t/00unit does, to reach its statics
 * (a request with a broken key, the parts of a multipart upload).
 */
#include "../../src/store/blobstore_s3.c"
#include <pthread.h>
#include "config.h"
#include "wiring.h"
#include "test.h"

/* Expects BERTH_OK, printing the message of the local `err` otherwise. */
#define ASSERT_OK(expr)                                                                             \
    do {                                                                                            \
        enum berth_rc rc_ = (expr);                                                                 \
        if (rc_ != BERTH_OK) BERTH_TEST_FAIL("%s: %s: %s", #expr, berth_rc_name(rc_), berth_err_msg(&err)); \
    } while (0)

/* ---------------------------------------------------------------- the store URL */

static void conf_ok(const char *url, struct berth_s3_conf *c)
{
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_s3_conf_parse(url, c, &err);

    if (rc) BERTH_TEST_FAIL("%s: %s", url, berth_err_msg(&err));
}

/* Refused with ECONFIG; the message never repeats secret. */
static void conf_bad(const char *url, const char *secret, const char *says)
{
    struct berth_s3_conf c;
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_s3_conf_parse(url, &c, &err), BERTH_ECONFIG);
    berth_s3_conf_release(&c);
    if (secret && strstr(err.msg, secret)) BERTH_TEST_FAIL("the message shows the secret: %s", err.msg);
    if (says && !strstr(err.msg, says)) BERTH_TEST_FAIL("'%s' does not say '%s'", err.msg, says);
    ASSERT_TRUE(strstr(err.msg, "'store'") != NULL);
}

TEST(s3_conf_parse)
{
    struct berth_s3_conf c;

    conf_ok("s3://berth-blobs?endpoint=http://127.0.0.1:7480&region=default", &c);
    ASSERT_EQ_STR(c.bucket, "berth-blobs");
    ASSERT_EQ_STR(c.prefix, "");
    ASSERT_EQ_STR(c.endpoint, "http://127.0.0.1:7480");
    ASSERT_EQ_STR(c.host, "127.0.0.1:7480");
    ASSERT_EQ_STR(c.region, "default");
    ASSERT_EQ_INT(c.redirect, 1);
    ASSERT_TRUE(c.credentials == NULL);
    ASSERT_EQ_U64(c.part_size, 8u << 20);
    berth_s3_conf_release(&c);

    /* a prefix gets one trailing '/', the endpoint loses its; escapes are decoded */
    conf_ok("s3://b.example-1/reg/prod/?endpoint=https%3A%2F%2Fs3.example.com%2F&redirect=0"
            "&credentials=/etc/berth/s3%20creds&part-size=16MiB",
            &c);
    ASSERT_EQ_STR(c.bucket, "b.example-1");
    ASSERT_EQ_STR(c.prefix, "reg/prod/");
    ASSERT_EQ_STR(c.endpoint, "https://s3.example.com");
    ASSERT_EQ_STR(c.host, "s3.example.com");
    ASSERT_EQ_STR(c.region, "us-east-1");
    ASSERT_EQ_INT(c.redirect, 0);
    ASSERT_EQ_STR(c.credentials, "/etc/berth/s3 creds");
    ASSERT_EQ_U64(c.part_size, 16u << 20);
    berth_s3_conf_release(&c);

    conf_ok("s3://abc/p?endpoint=http://[::1]:9000&part-size=5M&redirect=true", &c);
    ASSERT_EQ_STR(c.prefix, "p/");
    ASSERT_EQ_STR(c.host, "[::1]:9000");
    ASSERT_EQ_U64(c.part_size, 5u << 20);
    berth_s3_conf_release(&c);
}

TEST(s3_conf_refuses_credentials_and_nonsense)
{
    /* keys never come from the command line, and a refusal does not repeat them */
    conf_bad("s3://AKIAXXXX:wJalrSECRET@bucket?endpoint=http://h", "wJalrSECRET", "credentials");
    conf_bad("s3://bucket?endpoint=http://AKIA:wJalrSECRET@h:7480", "wJalrSECRET", "credentials");
    conf_bad("s3://bucket?endpoint=http://h&access-key=AKIAXXXX", "AKIAXXXX", "AWS_ACCESS_KEY_ID");
    conf_bad("s3://bucket?endpoint=http://h&secret_key=wJalrSECRET", "wJalrSECRET", "credential");
    conf_bad("s3://bucket?endpoint=http://h&aws_secret_access_key=wJalrSECRET", "wJalrSECRET", NULL);
    conf_bad("s3://bucket?endpoint=http://h&session-token=tokSECRET", "tokSECRET", NULL);
    conf_bad("s3://bucket?endpoint=http://h&X-Amz-Credential=AKIAXXXX", "AKIAXXXX", NULL);
    conf_bad("s3://bucket?endpoint=http://h&password=pwSECRET", "pwSECRET", NULL);
    /* the rest: each says what is wrong */
    conf_bad("s3://bucket", NULL, "endpoint");
    conf_bad("s3://bucket?endpoint=ftp://h", NULL, "http");
    conf_bad("s3://bucket?endpoint=http://h/some/path", NULL, "path");
    conf_bad("s3://bucket?endpoint=http://", NULL, "host");
    conf_bad("s3://bucket?endpoint=http://h&colour=blue", NULL, "unknown parameter 'colour'");
    conf_bad("s3://bucket?endpoint=http://h&endpoint=http://i", NULL, "twice");
    conf_bad("s3://bucket?endpoint=http://h&redirect=maybe", NULL, "redirect");
    conf_bad("s3://bucket?endpoint=http://h&part-size=1MiB", NULL, "part-size");
    conf_bad("s3://bucket?endpoint=http://h&part-size=6GiB", NULL, "part-size");
    conf_bad("s3://bucket?endpoint=http://h&part-size=8XB", NULL, "part-size");
    conf_bad("s3://bucket?endpoint=http://h&region=us%20east", NULL, "region");
    conf_bad("s3://bucket?endpoint=http://h&credentials=", NULL, "credentials");
    conf_bad("s3://bucket?endpoint=http://h&x=%zz", NULL, "escape");
    conf_bad("s3://Bucket?endpoint=http://h", NULL, "bucket");
    conf_bad("s3://ab?endpoint=http://h", NULL, "bucket");
    conf_bad("s3://a..b?endpoint=http://h", NULL, "bucket");
    conf_bad("s3://bucket-?endpoint=http://h", NULL, "bucket");
    conf_bad("s3://bucket:9000?endpoint=http://h", NULL, "bucket");
    conf_bad("s3://bucket/a//b?endpoint=http://h", NULL, "prefix");
    conf_bad("s3://bucket/../b?endpoint=http://h", NULL, "prefix");
    conf_bad("s3://bucket/a b?endpoint=http://h", NULL, "prefix");
    conf_bad("s3://bucket/a?endpoint=http://h#frag", NULL, "fragment");
    conf_bad("http://bucket?endpoint=http://h", NULL, "s3://");
    conf_bad(NULL, NULL, "s3://");
}

/* ---------------------------------------------------------------- credentials */

static const char creds_text[] = "# shared credentials\n"
                                 "[default]\n"
                                 "aws_access_key_id = AKIDDEFAULT\n"
                                 "aws_secret_access_key=secretdefault\n"
                                 "\n"
                                 "[profile ci]\r\n"
                                 "  ; a comment\r\n"
                                 "region = eu-west-1\r\n"
                                 "AWS_ACCESS_KEY_ID = AKIDCI  \r\n"
                                 "aws_secret_access_key = secret/ci+x=\r\n"
                                 "aws_session_token = tok=en\r\n"
                                 "[half]\n"
                                 "aws_access_key_id = AKIDHALF\n"
                                 "[broken]\n"
                                 "aws_access_key_id AKID\n";

TEST(s3_creds_parse)
{
    struct berth_s3_creds c;
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_OK(berth_s3_creds_parse(creds_text, strlen(creds_text), "default", "f", &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDDEFAULT");
    ASSERT_EQ_STR(c.secret_key, "secretdefault");
    ASSERT_TRUE(c.token == NULL);
    ASSERT_EQ_STR(c.from, "f");
    berth_s3_creds_release(&c);
    ASSERT_OK(berth_s3_creds_parse(creds_text, strlen(creds_text), "ci", "f", &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDCI");
    ASSERT_EQ_STR(c.secret_key, "secret/ci+x=");
    ASSERT_EQ_STR(c.token, "tok=en");
    berth_s3_creds_release(&c);
    berth_s3_creds_release(&c); /* twice is fine */

    ASSERT_RC(berth_s3_creds_parse(creds_text, strlen(creds_text), "nope", "f", &c, &err), BERTH_ENOENT);
    ASSERT_RC(berth_s3_creds_parse(creds_text, strlen(creds_text), "half", "f", &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "aws_secret_access_key") != NULL);
    ASSERT_TRUE(strstr(err.msg, "AKIDHALF") == NULL);
    ASSERT_RC(berth_s3_creds_parse(creds_text, strlen(creds_text), "broken", "creds.ini", &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "creds.ini:15") != NULL);
    ASSERT_RC(berth_s3_creds_parse("[default\nx=1\n", 12, "default", "f", &c, &err), BERTH_ECONFIG);
    ASSERT_RC(berth_s3_creds_parse("", 0, "default", "f", &c, &err), BERTH_ENOENT);
}

TEST(s3_creds_load)
{
    struct berth_s3_creds c;
    struct berth_err err = BERTH_ERR_INIT;
    char *file = berth_xasprintf("%s/credentials", berth_test_tmpdir());

    ASSERT_OK(berth_write_atomic(file, creds_text, strlen(creds_text), 0600, &err));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    ASSERT_RC(berth_s3_creds_load(NULL, &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "AWS_ACCESS_KEY_ID") != NULL);

    /* the environment */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    ASSERT_RC(berth_s3_creds_load(NULL, &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "AWS_SECRET_ACCESS_KEY is not") != NULL);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "tokenv", 1);
    ASSERT_OK(berth_s3_creds_load(NULL, &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDENV");
    ASSERT_EQ_STR(c.secret_key, "secretenv");
    ASSERT_EQ_STR(c.token, "tokenv");
    ASSERT_EQ_STR(c.from, "environment");
    berth_s3_creds_release(&c);

    /* a file named in the URL comes first; AWS_PROFILE picks the profile */
    setenv("AWS_PROFILE", "ci", 1);
    ASSERT_OK(berth_s3_creds_load(file, &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDCI");
    berth_s3_creds_release(&c);
    setenv("AWS_PROFILE", "missing", 1);
    ASSERT_RC(berth_s3_creds_load(file, &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "[missing]") != NULL);
    unsetenv("AWS_PROFILE");

    /* then the variables, then AWS_SHARED_CREDENTIALS_FILE */
    setenv("AWS_SHARED_CREDENTIALS_FILE", file, 1);
    ASSERT_OK(berth_s3_creds_load(NULL, &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDENV");
    berth_s3_creds_release(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ASSERT_OK(berth_s3_creds_load(NULL, &c, &err));
    ASSERT_EQ_STR(c.access_key, "AKIDDEFAULT");
    ASSERT_EQ_STR(c.from, file);
    berth_s3_creds_release(&c);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
    ASSERT_RC(berth_s3_creds_load(NULL, &c, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "/nonexistent/creds") != NULL);
    free(file);
}

/* ---------------------------------------------------------------- XML */

static struct berth_str xs(const char *s)
{
    return (struct berth_str){s, strlen(s)};
}

static void xml_is(const char *doc, const char *name, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;
    char out[256];

    if (berth_s3_xml_text(xs(doc), name, out, sizeof(out), &err))
        BERTH_TEST_FAIL("<%s> in %s: %s", name, doc, berth_err_msg(&err));
    ASSERT_EQ_STR(out, want);
}

static void xml_rc(const char *doc, const char *name, size_t cap, enum berth_rc want)
{
    struct berth_err err = BERTH_ERR_INIT;
    char out[256];

    ASSERT_RC(berth_s3_xml_text(xs(doc), name, out, cap, &err), want);
}

TEST(s3_xml_text_and_entities)
{
    static const char init[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                               "<Bucket>b</Bucket><Key>uploads/x/data</Key>"
                               "<UploadId>2~abc&amp;def&lt;&gt;&quot;&apos;</UploadId>"
                               "</InitiateMultipartUploadResult>";
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t v = 0;

    xml_is(init, "UploadId", "2~abc&def<>\"'");
    xml_is(init, "Key", "uploads/x/data");
    xml_is("<a>&#65;&#x42;&#x00e9;&#8364;&#x1F600;</a>", "a", "AB\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    xml_is("<a/><b>x</b>", "a", "");
    xml_is("<a  attr=\"x>y\" other='<'>v</a>", "a", "v");
    xml_is("<!-- <a>no</a> --><a>yes</a>", "a", "yes");
    /* a name is matched whole: <Part> is not <PartNumber> */
    xml_is("<PartNumberMarker>3</PartNumberMarker><Part><PartNumber>4</PartNumber></Part>", "PartNumber", "4");
    ASSERT_OK(berth_s3_xml_u64(xs("<Size> 5242880 </Size>"), "Size", &v, &err));
    ASSERT_EQ_U64(v, 5242880);
    ASSERT_RC(berth_s3_xml_u64(xs("<Size>-1</Size>"), "Size", &v, &err), BERTH_EINVAL);
    ASSERT_RC(berth_s3_xml_u64(xs("<Size>99999999999999999999</Size>"), "Size", &v, &err), BERTH_EINVAL);

    xml_rc("<a>x</a>", "b", 64, BERTH_ENOENT);
    xml_rc("", "a", 64, BERTH_ENOENT);
    xml_rc("<a>&bogus;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&amp</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&#0;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&#xD800;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&#x110000;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&#;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>&#12a;</a>", "a", 64, BERTH_EINVAL);
    xml_rc("<a>12345678</a>", "a", 8, BERTH_EINVAL);     /* needs 9 with the NUL */
    xml_rc("<a>1234567</a>", "a", 8, BERTH_OK);
    xml_rc("<a>&amp;&amp;&amp;&amp;</a>", "a", 4, BERTH_EINVAL);
    xml_rc("<a><b>x</b></a>", "a", 64, BERTH_EINVAL);   /* not a text element */
    xml_rc("<a><![CDATA[x]]></a>", "a", 64, BERTH_EINVAL);
    /* truncated or malformed */
    xml_rc("<a>x", "a", 64, BERTH_EINVAL);
    xml_rc("<a>x</a", "a", 64, BERTH_EINVAL);
    xml_rc("<a", "a", 64, BERTH_EINVAL);
    xml_rc("<a attr=\"x>", "a", 64, BERTH_EINVAL);
    xml_rc("<!-- <a>x</a>", "a", 64, BERTH_EINVAL);
    xml_rc("< >", "a", 64, BERTH_EINVAL);
    xml_rc("<a><a>x</a>", "a", 64, BERTH_EINVAL);
}

TEST(s3_xml_nested_and_lists)
{
    static const char list[] =
        "<ListBucketResult><Name>b</Name><Prefix>p/blobs/</Prefix><KeyCount>2</KeyCount>"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxL+/tok=</NextContinuationToken>"
        "<Contents><Key>p/blobs/sha256/aa</Key><LastModified>2024-05-01T12:34:56.000Z</LastModified>"
        "<ETag>&quot;x&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/blobs/sha256/b&amp;b</Key><Size>0</Size>"
        "<Owner><ID>o</ID><DisplayName>d</DisplayName></Owner></Contents>"
        "</ListBucketResult>";
    struct berth_str scope = xs(list), item, inner;
    struct berth_err err = BERTH_ERR_INIT;
    char key[64], lm[40];
    uint64_t size;
    int64_t ms;

    ASSERT_OK(berth_s3_xml_next(&scope, "Contents", &item, &err));
    ASSERT_OK(berth_s3_xml_text(item, "Key", key, sizeof(key), &err));
    ASSERT_EQ_STR(key, "p/blobs/sha256/aa");
    ASSERT_OK(berth_s3_xml_u64(item, "Size", &size, &err));
    ASSERT_EQ_U64(size, 5);
    ASSERT_OK(berth_s3_xml_text(item, "LastModified", lm, sizeof(lm), &err));
    ASSERT_OK(berth_rfc3339_parse(lm, strlen(lm), &ms, &err));
    ASSERT_EQ_INT(ms / 1000, 1714566896);
    ASSERT_OK(berth_s3_xml_next(&scope, "Contents", &item, &err));
    ASSERT_OK(berth_s3_xml_text(item, "Key", key, sizeof(key), &err));
    ASSERT_EQ_STR(key, "p/blobs/sha256/b&b");
    /* an element inside an element */
    ASSERT_OK(berth_s3_xml_next(&item, "Owner", &inner, &err));
    ASSERT_OK(berth_s3_xml_text(inner, "ID", key, sizeof(key), &err));
    ASSERT_EQ_STR(key, "o");
    ASSERT_RC(berth_s3_xml_next(&scope, "Contents", &item, &err), BERTH_ENOENT);
    xml_is(list, "IsTruncated", "true");
    xml_is(list, "NextContinuationToken", "1ueGcxL+/tok=");

    /* S3's answer to a failed request, and a 200 that is one */
    xml_is("<?xml version=\"1.0\"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not "
           "exist.</Message><RequestId>tx1</RequestId></Error>",
           "Code", "NoSuchUpload");
    scope = xs("\n  <Error><Code>InternalError</Code></Error>");
    ASSERT_OK(berth_s3_xml_next(&scope, "Error", &item, &err));
    xml_is("<a>&lt;b&gt;</a>", "a", "<b>");
}

TEST(s3_xml_escape)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char out[64];

    berth_buf_puts(&b, "<ETag>");
    berth_s3_xml_escape(&b, "\"a&b<c>'\"");
    berth_buf_puts(&b, "</ETag>");
    ASSERT_EQ_STR(berth_buf_str(&b), "<ETag>&quot;a&amp;b&lt;c&gt;&apos;&quot;</ETag>");
    ASSERT_OK(berth_s3_xml_text((struct berth_str){b.p, b.len}, "ETag", out, sizeof(out), &err));
    ASSERT_EQ_STR(out, "\"a&b<c>'\"");
    berth_buf_release(&b);
}

/* ---------------------------------------------------------------- resume data */

TEST(s3_ext_round_trip)
{
    struct berth_s3_ext e = {0}, back;
    struct berth_err err = BERTH_ERR_INIT;
    char *json;

    e.mp = berth_xstrdup("2~Xy\"z\\/");
    berth_s3_ext_add(&e, "\"0123456789abcdef0123456789abcdef\"", 8u << 20);
    berth_s3_ext_add(&e, "\"fedc\"", 6u << 20);
    e.tail = 12345;
    json = berth_s3_ext_format(&e);
    ASSERT_OK(berth_s3_ext_parse(json, &back, &err));
    ASSERT_EQ_STR(back.mp, e.mp);
    ASSERT_EQ_U64(back.nparts, 2);
    ASSERT_EQ_INT(back.parts[1].number, 2);
    ASSERT_EQ_STR(back.parts[0].etag, "\"0123456789abcdef0123456789abcdef\"");
    ASSERT_EQ_U64(back.parts[1].size, 6u << 20);
    ASSERT_EQ_U64(back.tail, 12345);
    ASSERT_EQ_U64(berth_s3_ext_parts_bytes(&back), 14u << 20);
    berth_s3_ext_release(&back);
    free(json);
    berth_s3_ext_release(&e);

    /* no multipart upload yet: only a tail */
    e.tail = 7;
    json = berth_s3_ext_format(&e);
    ASSERT_EQ_STR(json, "{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":7}");
    ASSERT_OK(berth_s3_ext_parse(json, &back, &err));
    ASSERT_TRUE(back.mp == NULL);
    ASSERT_EQ_U64(back.nparts, 0);
    berth_s3_ext_release(&back);
    free(json);
}

TEST(s3_ext_rejects_malformed)
{
    static const char *const bad[] = {
        "",
        "null",
        "[]",
        "{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":7",
        "{\"v\":2,\"mp\":null,\"parts\":[],\"tail\":7}",
        "{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":-1}",
        "{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":\"7\"}",
        "{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":7,\"x\":1}",
        "{\"v\":1,\"mp\":null,\"parts\":[],\"v\":1}",
        "{\"v\":1,\"mp\":\"\",\"parts\":[],\"tail\":0}",
        "{\"v\":1,\"mp\":5,\"parts\":[],\"tail\":0}",
        "{\"v\":1,\"mp\":null,\"parts\":[[1,\"e\",5242880]],\"tail\":0}",     /* parts without an id */
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[2,\"e\",5242880]],\"tail\":0}",    /* not numbered from 1 */
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"e\",5242879]],\"tail\":0}",    /* under 5 MiB */
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"\",5242880]],\"tail\":0}",     /* no ETag */
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"e\"]],\"tail\":0}",
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"e\",5242880,0]],\"tail\":0}",
        "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"e\",5368709121]],\"tail\":0}", /* over 5 GiB */
        "{\"v\":1,\"mp\":\"m\\u0000x\",\"parts\":[],\"tail\":0}",
        "{\"v\":1,\"mp\":\"m\",\"parts\":{},\"tail\":0}",
    };
    struct berth_s3_ext e;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf big = BERTH_BUF_INIT(0);
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (berth_s3_ext_parse(bad[i], &e, &err) != BERTH_EINVAL) BERTH_TEST_FAIL("accepted: %s", bad[i]);
        ASSERT_TRUE(e.mp == NULL && e.parts == NULL);
    }
    ASSERT_RC(berth_s3_ext_parse(NULL, &e, &err), BERTH_EINVAL);
    /* an ETag too long, and too many parts */
    berth_buf_puts(&big, "{\"v\":1,\"mp\":\"m\",\"parts\":[[1,\"");
    for (i = 0; i < BERTH_S3_ETAG_MAX; i++) berth_buf_putc(&big, 'e');
    berth_buf_puts(&big, "\",5242880]],\"tail\":0}");
    ASSERT_RC(berth_s3_ext_parse(berth_buf_str(&big), &e, &err), BERTH_EINVAL);
    berth_buf_reset(&big);
    berth_buf_puts(&big, "{\"v\":1,\"mp\":\"m\",\"parts\":[");
    for (i = 1; i <= BERTH_S3_PARTS_MAX + 1; i++) berth_buf_printf(&big, "%s[%zu,\"e\",5242880]", i > 1 ? "," : "", i);
    berth_buf_puts(&big, "],\"tail\":0}");
    ASSERT_RC(berth_s3_ext_parse(berth_buf_str(&big), &e, &err), BERTH_EINVAL);
    berth_buf_release(&big);
}

/* ---------------------------------------------------------------- part sizes */

TEST(s3_part_size_policy)
{
    uint64_t ps = BERTH_S3_PART_DEFAULT, total = 0, v = 0;
    size_t n;

    ASSERT_EQ_U64(berth_s3_part_target(ps, 0), 8u << 20);
    ASSERT_EQ_U64(berth_s3_part_target(ps, 4999), 8u << 20);
    ASSERT_EQ_U64(berth_s3_part_target(ps, 5000), 64u << 20);
    ASSERT_EQ_U64(berth_s3_part_target(ps, 8000), 512u << 20);
    ASSERT_EQ_U64(berth_s3_part_target(1u << 30, 5000), 1u << 30); /* a larger setting is kept */
    ASSERT_EQ_U64(berth_s3_part_close_min(ps, 0), 5u << 20);
    ASSERT_EQ_U64(berth_s3_part_close_min(ps, 4999), 5u << 20);
    ASSERT_EQ_U64(berth_s3_part_close_min(ps, 5000), 64u << 20);
    /* the smallest parts the policy can make still hold more than 1 TiB in S3's 10,000 */
    for (n = 0; n < BERTH_S3_PARTS_MAX; n++) total += berth_s3_part_close_min(ps, n);
    ASSERT_TRUE(total > ((uint64_t)1 << 40));
    /* every target is within S3's part sizes */
    for (n = 0; n < BERTH_S3_PARTS_MAX; n += 500) {
        ASSERT_TRUE(berth_s3_part_target(ps, n) >= BERTH_S3_PART_MIN);
        ASSERT_TRUE(berth_s3_part_target(BERTH_S3_PART_MAX, n) <= BERTH_S3_PART_MAX);
    }
    ASSERT_RC(berth_s3_size_parse("8MiB", &v), BERTH_OK);
    ASSERT_EQ_U64(v, 8u << 20);
    ASSERT_RC(berth_s3_size_parse("64m", &v), BERTH_OK);
    ASSERT_EQ_U64(v, 64u << 20);
    ASSERT_RC(berth_s3_size_parse("1GB", &v), BERTH_OK);
    ASSERT_EQ_U64(v, 1u << 30);
    ASSERT_RC(berth_s3_size_parse("5242880", &v), BERTH_OK);
    ASSERT_EQ_U64(v, 5u << 20);
    ASSERT_RC(berth_s3_size_parse("", &v), BERTH_EINVAL);
    ASSERT_RC(berth_s3_size_parse("M", &v), BERTH_EINVAL);
    ASSERT_RC(berth_s3_size_parse("8 MiB", &v), BERTH_EINVAL);
    ASSERT_RC(berth_s3_size_parse("8MiBs", &v), BERTH_EINVAL);
    ASSERT_RC(berth_s3_size_parse("99999999999999999999G", &v), BERTH_EINVAL);
    ASSERT_RC(berth_s3_size_parse("18014398509481984G", &v), BERTH_EINVAL);
}

/* ---------------------------------------------------------------- the store setting */

static void choose(const char *store, const struct berth_blobstore_ops *want, const char *root, const char *shown)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    const struct berth_blobstore_ops *ops = NULL;
    char *r = NULL, *s = NULL;

    berth_config_init(&cfg);
    ASSERT_OK(berth_config_set(&cfg, "data", "/srv/berth", &err));
    ASSERT_OK(berth_config_set(&cfg, "store", store, &err));
    ASSERT_OK(berth_blobstore_choose(&cfg, &ops, &r, &s, &err));
    ASSERT_TRUE(ops == want);
    ASSERT_EQ_STR(r, root);
    ASSERT_EQ_STR(s, shown);
    free(r);
    free(s);
    berth_config_release(&cfg);
}

TEST(s3_store_setting)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    const struct berth_blobstore_ops *ops = NULL;
    struct berth_blobstore *bs = NULL;
    char *r = NULL, *s = NULL;

    choose("", &berth_blobstore_fs_ops, "/srv/berth", "/srv/berth");
    choose("s3://b1/p?endpoint=http://h:1&region=r", &berth_blobstore_s3_ops, "s3://b1/p?endpoint=http://h:1&region=r",
           "s3://b1/p");
    /* what a message shows holds no key, even a mistaken one */
    choose("s3://AKID:SECRET@b1/p?endpoint=http://h", &berth_blobstore_s3_ops, "s3://AKID:SECRET@b1/p?endpoint=http://h",
           "s3://b1/p");
    ASSERT_TRUE(berth_blobstore_driver("s3") == &berth_blobstore_s3_ops);

    berth_config_init(&cfg);
    ASSERT_OK(berth_config_set(&cfg, "store", "gs://bucket", &err));
    ASSERT_RC(berth_blobstore_choose(&cfg, &ops, &r, &s, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "'store'") != NULL);
    /* the driver refuses keys in the URL when it opens, before any request */
    ASSERT_OK(berth_config_set(&cfg, "store", "s3://AKID:s3cr3tv4lue@bucket?endpoint=http://127.0.0.1:1", &err));
    ASSERT_RC(berth_blobstore_open_cfg(&cfg, &bs, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "s3cr3tv4lue") == NULL);
    ASSERT_RC(berth_blobstore_s3_ops.open("", NULL, &bs, &err), BERTH_ECONFIG);
    ASSERT_TRUE(bs == NULL);
    berth_config_release(&cfg);
}

/* ---------------------------------------------------------------- against a real S3 */

/* A store over a bucket of this test's own (made by open), or SKIP when no S3 is configured. */
static struct berth_blobstore *s3_test_open(const char *params)
{
    const char *ep = getenv("BERTH_TEST_S3_ENDPOINT"), *region = getenv("BERTH_TEST_S3_REGION");
    struct berth_blobstore *bs = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    unsigned char rnd[6];
    char hex[13], *url;

    if (!ep || !*ep)
        TEST_SKIP("no S3 for the tests (BERTH_TEST_S3_ENDPOINT unset; scripts/rgw.sh starts a RADOS Gateway)");
    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), hex);
    url = berth_xasprintf("s3://berth-t-%s/reg/one?endpoint=%s&region=%s%s", hex, ep, region && *region ? region : "us-east-1",
                          params ? params : "");
    if (berth_blobstore_s3_ops.open(url, NULL, &bs, &err)) BERTH_TEST_FAIL("open %s: %s", url, berth_err_msg(&err));
    free(url);
    return bs;
}

/* size bytes of a pattern that differs at every offset of a part, seeded. */
static char *pattern(size_t size, unsigned seed)
{
    char *p = berth_xmalloc(size);
    uint32_t x = seed * 2654435761u + 1;
    size_t i;

    for (i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)x;
    }
    return p;
}

static void digest_of_bytes(struct berth_digest *d, enum berth_digest_alg alg, const void *p, size_t n)
{
    struct berth_hasher h;

    berth_hasher_init(&h, alg);
    berth_hasher_update(&h, p, n);
    berth_hasher_final(&h, d);
    berth_hasher_release(&h);
}

/* Appends data in pieces of step bytes (as the HTTP layer would). */
static void append_steps(struct berth_upload_writer *w, const char *data, size_t len, size_t step)
{
    struct berth_err err = BERTH_ERR_INIT;
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = len - off < step ? len - off : step;
        ASSERT_OK(berth_upload_writer_append(w, data + off, n, &err));
    }
}

/* The blob d reads back (through open_reader, in 1 MiB ranged GETs) as a digest equal to d, size bytes. */
static void expect_blob_digest(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blob_reader *r = NULL;
    struct berth_hasher h;
    struct berth_digest got;
    char *buf = berth_xmalloc(1 << 20);
    uint64_t off = 0, st = 0;
    size_t n;

    ASSERT_OK(bs->ops->stat(bs, d, &st, &err));
    ASSERT_EQ_U64(st, size);
    ASSERT_OK(bs->ops->open_reader(bs, d, &r, &err));
    ASSERT_EQ_U64(r->size, size);
    ASSERT_EQ_INT(berth_blob_reader_take_fd(r), -1);
    berth_hasher_init(&h, d->alg);
    for (;;) {
        ASSERT_OK(berth_blob_reader_read_at(r, off, buf, 1 << 20, &n, &err));
        if (!n) break;
        berth_hasher_update(&h, buf, n);
        off += n;
    }
    berth_hasher_final(&h, &got);
    berth_hasher_release(&h);
    berth_blob_reader_close(r);
    free(buf);
    ASSERT_EQ_U64(off, size);
    ASSERT_EQ_STR(got.s, d->s);
}

/* An upload's tail, read through upload_open_reader. */
static void expect_upload_bytes(struct berth_blobstore *bs, const char *uuid, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blob_reader *r = NULL;
    char buf[256];
    size_t n = 0;

    ASSERT_OK(bs->ops->upload_open_reader(bs, uuid, &r, &err));
    ASSERT_EQ_U64(r->size, strlen(want));
    ASSERT_OK(berth_blob_reader_read_at(r, 0, buf, sizeof(buf) - 1, &n, &err));
    buf[n] = '\0';
    berth_blob_reader_close(r);
    ASSERT_EQ_STR(buf, want);
}

TEST(s3_rgw_small_blob)
{
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct berth_upload_writer *w = NULL, *w2 = NULL;
    struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    uint64_t size = 9;
    char uuid[37], uuid2[37];

    berth_uuid(uuid);
    digest_of_bytes(&d, BERTH_DIGEST_SHA256, "hello world", 11);
    ASSERT_RC(bs->ops->stat(bs, &d, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    ASSERT_RC(bs->ops->upload_create(bs, uuid, &w2, &err), BERTH_EEXIST);
    ASSERT_OK(bs->ops->upload_stat(bs, uuid, &size, &err));
    ASSERT_EQ_U64(size, 0);
    ASSERT_OK(berth_upload_writer_append(w, "hello ", 6, &err));
    ASSERT_OK(berth_upload_writer_append(w, "world", 5, &err));
    ASSERT_OK(berth_upload_writer_sync(w, &err));
    ASSERT_OK(berth_upload_writer_commit(w, &d, 0, &err));
    berth_upload_writer_close(w, &st);
    ASSERT_TRUE(st.ext == NULL);
    expect_blob_digest(bs, &d, 11);
    ASSERT_RC(bs->ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);

    /* the same bytes again, through a close and a resume: the blob is there, the upload simply ends */
    berth_uuid(uuid2);
    ASSERT_OK(bs->ops->upload_create(bs, uuid2, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "hello ", 6, &err));
    berth_upload_writer_close(w, &st);
    ASSERT_EQ_U64(st.size, 6);
    ASSERT_TRUE(st.ext != NULL);
    ASSERT_OK(bs->ops->upload_stat(bs, uuid2, &size, &err));
    ASSERT_EQ_U64(size, 6);
    expect_upload_bytes(bs, uuid2, "hello ");
    ASSERT_OK(bs->ops->upload_resume(bs, &st, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "world", 5, &err));
    ASSERT_OK(berth_upload_writer_commit(w, &d, BERTH_COMMIT_VERIFIED | BERTH_COMMIT_SYNCED, &err));
    berth_upload_writer_close(w, NULL);
    berth_upload_state_release(&st);
    expect_blob_digest(bs, &d, 11);
    ASSERT_RC(bs->ops->upload_remove(bs, uuid2, &err), BERTH_EUPLOADUNKNOWN);
    berth_blobstore_s3_ops.close(bs);
}

/* 20 MiB through three writers: close, resume with ext, close, resume with ext NULL, commit. */
TEST(s3_rgw_large_upload_three_writers)
{
    const size_t total = 20u << 20, first = 9u << 20, second = 6u << 20;
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct s3_store *st = s3_of(bs);
    struct berth_upload_state s1 = BERTH_UPLOAD_STATE_INIT, s2 = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_s3_ext e = {0};
    struct berth_digest d;
    char *data = pattern(total, 1), uuid[37], key[KEY_MAX];
    int64_t t0, t_push, t_pull;
    uint64_t size = 0, offset = 0;

    digest_of_bytes(&d, BERTH_DIGEST_SHA256, data, total);
    berth_uuid(uuid);
    t0 = berth_mono_us();
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    append_steps(w, data, first, 256 * 1024); /* a part of 8 MiB goes out on the way */
    berth_upload_writer_close(w, &s1);        /* 1 MiB left: the tail object */
    ASSERT_EQ_U64(s1.size, first);
    ASSERT_OK(berth_s3_ext_parse(s1.ext, &e, &err));
    ASSERT_EQ_U64(e.nparts, 1);
    ASSERT_EQ_U64(e.parts[0].size, 8u << 20);
    ASSERT_EQ_U64(e.tail, 1u << 20);
    berth_s3_ext_release(&e);
    /* parts cannot be read back; the tail's offset says where it starts */
    {
        struct berth_blob_reader *r = NULL;
        ASSERT_RC(bs->ops->upload_open_reader(bs, uuid, &r, &err), BERTH_EIO);
        ASSERT_TRUE(strstr(err.msg, "cannot be read before it completes") != NULL);
        ASSERT_OK(bs->ops->upload_stat(bs, uuid, &size, &err));
        ASSERT_EQ_U64(size, first);
    }

    ASSERT_OK(bs->ops->upload_resume(bs, &s1, &w, &err));
    ASSERT_EQ_U64(w->size, first);
    append_steps(w, data + first, second, 64 * 1024);
    berth_upload_writer_close(w, &s2); /* 7 MiB buffered: a part of its own, the tail goes */
    ASSERT_EQ_U64(s2.size, first + second);
    ASSERT_OK(berth_s3_ext_parse(s2.ext, &e, &err));
    ASSERT_EQ_U64(e.nparts, 2);
    ASSERT_EQ_U64(e.tail, 0);
    berth_s3_ext_release(&e);
    /* the tail is empty now, where the parts end: the upload's size and its last activity */
    upload_key(uuid, "tail", key);
    ASSERT_OK(obj_head(st, key, &size, &offset, &err));
    ASSERT_EQ_U64(size, 0);
    ASSERT_EQ_U64(offset, first + second);
    ASSERT_OK(bs->ops->upload_stat(bs, uuid, &size, &err));
    ASSERT_EQ_U64(size, first + second);

    /* a server that never saw the upload: id and size only */
    free(s2.ext);
    s2.ext = NULL;
    ASSERT_OK(bs->ops->upload_resume(bs, &s2, &w, &err));
    ASSERT_EQ_U64(w->size, first + second);
    append_steps(w, data + first + second, total - first - second, 1 << 20);
    ASSERT_OK(berth_upload_writer_commit(w, &d, 0, &err)); /* hashes the completed object again */
    berth_upload_writer_close(w, NULL);
    t_push = berth_mono_us() - t0;
    t0 = berth_mono_us();
    expect_blob_digest(bs, &d, total);
    t_pull = berth_mono_us() - t0;
    fprintf(stderr, "  20 MiB: pushed in %.0f ms (3 writers, verified), read back in %.0f ms\n", t_push / 1000.0,
            t_pull / 1000.0);
    /* the upload's objects are gone */
    ASSERT_RC(bs->ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
    berth_upload_state_release(&s1);
    berth_upload_state_release(&s2);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

/* A chunk whose append fails (S3 refuses the part) is cut back; the upload then goes on. */
TEST(s3_rgw_failed_append_and_truncate)
{
    const size_t total = 12u << 20;
    struct berth_blobstore *bs = s3_test_open("&part-size=5MiB");
    struct s3_store *st = s3_of(bs);
    struct berth_upload_state s = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    char *data = pattern(total, 2), uuid[37], *secret;
    uint64_t before;

    digest_of_bytes(&d, BERTH_DIGEST_SHA256, data, total);
    berth_uuid(uuid);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    append_steps(w, data, (5u << 20) - 500, 1 << 20);
    before = w->size;
    /* a chunk starts; its first append fills the buffer past a part's worth (nothing sent yet) */
    ASSERT_OK(berth_upload_writer_append(w, data + before, 1000, &err));

    /* S3 refuses the next request: the append that would send the part fails and keeps nothing of its bytes */
    secret = st->creds.secret_key;
    st->creds.secret_key = berth_xstrdup("not-the-secret");
    ASSERT_RC(berth_upload_writer_append(w, data + before + 1000, 1000, &err), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, "CreateMultipartUpload") != NULL);
    ASSERT_TRUE(strstr(err.msg, "403") != NULL);
    ASSERT_TRUE(strstr(err.msg, "not-the-secret") == NULL && strstr(err.msg, secret) == NULL);
    ASSERT_EQ_U64(w->size, before + 1000);
    /* the caller cuts back to what it hashed before the chunk */
    ASSERT_OK(berth_upload_writer_truncate(w, before, &err));
    free(st->creds.secret_key);
    st->creds.secret_key = secret;

    /* the next request goes on: 1 MiB, then 500 bytes, before which the buffer goes out as part 1 */
    append_steps(w, data + before, (6u << 20) - before, 1 << 20);
    ASSERT_EQ_U64(w->size, 6u << 20);
    /* the bytes in a part cannot be cut any more */
    ASSERT_RC(berth_upload_writer_truncate(w, (6u << 20) - 501, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "S3 parts") != NULL);
    ASSERT_OK(berth_upload_writer_truncate(w, (6u << 20) - 500, &err));
    ASSERT_RC(berth_upload_writer_truncate(w, (6u << 20) - 499, &err), BERTH_EINVAL); /* never grows */
    berth_upload_writer_close(w, &s);
    ASSERT_EQ_U64(s.size, (6u << 20) - 500);

    /* a state that counts more than is stored: bytes were lost */
    s.size += 10;
    ASSERT_RC(bs->ops->upload_resume(bs, &s, &w, &err), BERTH_EIO);
    s.size -= 10;
    ASSERT_OK(bs->ops->upload_resume(bs, &s, &w, &err));
    append_steps(w, data + s.size, total - s.size, 300 * 1024);
    ASSERT_OK(berth_upload_writer_commit(w, &d, BERTH_COMMIT_VERIFIED, &err));
    berth_upload_writer_close(w, NULL);
    expect_blob_digest(bs, &d, total);
    berth_upload_state_release(&s);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

/* A tail cut back by a resume at a smaller size, and a stale tail after a part. */
TEST(s3_rgw_resume_cuts_tail)
{
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct berth_upload_state s3a = BERTH_UPLOAD_STATE_INIT, s6 = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    char uuid[37];

    berth_uuid(uuid);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "abc", 3, &err));
    berth_upload_writer_close(w, &s3a);
    ASSERT_OK(bs->ops->upload_resume(bs, &s3a, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "def", 3, &err));
    berth_upload_writer_close(w, &s6);
    expect_upload_bytes(bs, uuid, "abcdef");
    /* the earlier state: 3 bytes, what lies beyond is cut (with and without ext) */
    ASSERT_OK(bs->ops->upload_resume(bs, &s3a, &w, &err));
    ASSERT_EQ_U64(w->size, 3);
    ASSERT_OK(berth_upload_writer_append(w, "DEF", 3, &err));
    berth_upload_writer_close(w, NULL);
    expect_upload_bytes(bs, uuid, "abcDEF");
    free(s3a.ext);
    s3a.ext = NULL;
    ASSERT_OK(bs->ops->upload_resume(bs, &s3a, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "xyz", 3, &err));
    berth_upload_writer_close(w, NULL);
    expect_upload_bytes(bs, uuid, "abcxyz");
    /* more than stored: lost bytes */
    s6.size = 7;
    ASSERT_RC(bs->ops->upload_resume(bs, &s6, &w, &err), BERTH_EIO);
    free(s6.ext);
    s6.ext = NULL;
    ASSERT_RC(bs->ops->upload_resume(bs, &s6, &w, &err), BERTH_EIO);
    /* a malformed ext is not trusted: the store's own objects decide */
    s6.size = 6;
    s6.ext = berth_xstrdup("{\"v\":1,\"mp\":null,\"parts\":[],\"tail\":\"x\"}");
    ASSERT_OK(bs->ops->upload_resume(bs, &s6, &w, &err));
    digest_of_bytes(&d, BERTH_DIGEST_SHA512, "abcxyz", 6);
    ASSERT_OK(berth_upload_writer_commit(w, &d, 0, &err));
    berth_upload_writer_close(w, NULL);
    expect_blob_digest(bs, &d, 6);
    /* unknown ids */
    berth_uuid(s6.id);
    ASSERT_RC(bs->ops->upload_resume(bs, &s6, &w, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(bs->ops->upload_resume(bs, NULL, &w, &err), BERTH_EUPLOADUNKNOWN);
    snprintf(s6.id, sizeof(s6.id), "../blobs");
    ASSERT_RC(bs->ops->upload_resume(bs, &s6, &w, &err), BERTH_EUPLOADUNKNOWN);
    berth_upload_state_release(&s3a);
    berth_upload_state_release(&s6);
    berth_blobstore_s3_ops.close(bs);
}

TEST(s3_rgw_wrong_digest)
{
    const size_t big = 7u << 20;
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct berth_upload_state s = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest wrong, right;
    char *data = pattern(big, 3), uuid[37];
    uint64_t size;

    /* no parts: the buffer is hashed; the upload stays as it was */
    digest_of_bytes(&wrong, BERTH_DIGEST_SHA256, "layer bytez", 11);
    digest_of_bytes(&right, BERTH_DIGEST_SHA256, "layer bytes", 11);
    berth_uuid(uuid);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, "layer bytes", 11, &err));
    ASSERT_RC(berth_upload_writer_commit(w, &wrong, BERTH_COMMIT_SYNCED, &err), BERTH_EDIGEST);
    ASSERT_TRUE(strstr(err.msg, right.s) != NULL);
    ASSERT_RC(berth_upload_writer_append(w, "x", 1, &err), BERTH_EINVAL);
    berth_upload_writer_close(w, &s);
    ASSERT_EQ_U64(s.size, 11);
    ASSERT_RC(bs->ops->stat(bs, &wrong, &size, &err), BERTH_EBLOBUNKNOWN);
    expect_upload_bytes(bs, uuid, "layer bytes");
    ASSERT_OK(bs->ops->upload_resume(bs, &s, &w, &err));
    ASSERT_OK(berth_upload_writer_commit(w, &right, 0, &err));
    berth_upload_writer_close(w, NULL);
    berth_upload_state_release(&s);
    expect_blob_digest(bs, &right, 11);

    /* with parts: the completed object is read back and refused */
    digest_of_bytes(&right, BERTH_DIGEST_SHA256, data, big);
    berth_uuid(uuid);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    append_steps(w, data, 6u << 20, 1 << 20);
    berth_upload_writer_close(w, &s); /* 6 MiB: a part */
    ASSERT_OK(bs->ops->upload_resume(bs, &s, &w, &err));
    append_steps(w, data + (6u << 20), big - (6u << 20), 1 << 20);
    ASSERT_RC(berth_upload_writer_commit(w, &wrong, 0, &err), BERTH_EDIGEST);
    ASSERT_TRUE(strstr(err.msg, right.s) != NULL);
    berth_upload_writer_close(w, NULL);
    ASSERT_RC(bs->ops->stat(bs, &wrong, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(bs->ops->stat(bs, &right, &size, &err), BERTH_EBLOBUNKNOWN);
    /* its multipart upload was completed: it cannot go on, only its objects are left to remove */
    ASSERT_RC(bs->ops->upload_resume(bs, &s, &w, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_OK(bs->ops->upload_remove(bs, uuid, &err));
    ASSERT_RC(bs->ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
    berth_upload_state_release(&s);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

/* A commit of bytes whose blob is there already, with and without parts: the upload just ends. */
TEST(s3_rgw_commit_existing_blob)
{
    const size_t big = 6u << 20;
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct berth_upload_state s = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    char *data = pattern(big, 4), uuid[37];
    int k;

    digest_of_bytes(&d, BERTH_DIGEST_SHA256, data, big);
    for (k = 0; k < 3; k++) {
        berth_uuid(uuid);
        ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
        append_steps(w, data, big, 1 << 20);
        if (k) { /* the second and third through a part */
            berth_upload_writer_close(w, &s);
            ASSERT_OK(bs->ops->upload_resume(bs, &s, &w, &err));
            berth_upload_state_release(&s);
        }
        ASSERT_OK(berth_upload_writer_commit(w, &d, k == 2 ? 0 : BERTH_COMMIT_VERIFIED, &err));
        berth_upload_writer_close(w, NULL);
        ASSERT_RC(bs->ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
    }
    expect_blob_digest(bs, &d, big);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

struct seen {
    int n;
    char name[16][BERTH_DIGEST_STR_MAX];
    uint64_t size[16];
    int64_t mtime[16];
    int stop_after;
};

static int seen_add(struct seen *s, const char *name, uint64_t size, int64_t mtime_s)
{
    if (s->n >= 16) abort();
    snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
    s->size[s->n] = size;
    s->mtime[s->n++] = mtime_s;
    return s->stop_after && s->n >= s->stop_after;
}

static int seen_blob(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx)
{
    return seen_add(ctx, d->s, size, mtime_s);
}

static int seen_upload(const char *uuid, uint64_t size, int64_t mtime_s, void *ctx)
{
    return seen_add(ctx, uuid, size, mtime_s);
}

static int seen_find(const struct seen *s, const char *name)
{
    int i;

    for (i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return i;
    return -1;
}

static void blob_put(struct berth_blobstore *bs, const struct berth_digest *d, const char *content)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_upload_writer *w = NULL;
    char uuid[37];

    berth_uuid(uuid);
    ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, content, strlen(content), &err));
    ASSERT_OK(berth_upload_writer_commit(w, d, BERTH_COMMIT_VERIFIED, &err));
    berth_upload_writer_close(w, NULL);
}

TEST(s3_rgw_stat_remove_list)
{
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct s3_store *st = s3_of(bs);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d[3], bad;
    struct seen s;
    int64_t start = berth_now_s();
    uint64_t size;
    int k, at;

    digest_of_bytes(&d[0], BERTH_DIGEST_SHA256, "a", 1);
    digest_of_bytes(&d[1], BERTH_DIGEST_SHA256, "bb", 2);
    digest_of_bytes(&d[2], BERTH_DIGEST_SHA512, "ccc", 3);
    blob_put(bs, &d[0], "a");
    blob_put(bs, &d[1], "bb");
    blob_put(bs, &d[2], "ccc");
    /* keys that are not digests are not blobs */
    ASSERT_OK(obj_put(st, "blobs/sha256/not-a-digest", "x", 1, NULL, &err));
    ASSERT_OK(obj_put(st, "blobs/md5/d41d8cd98f00b204e9800998ecf8427e", "x", 1, NULL, &err));
    ASSERT_OK(obj_put(st, "blobs/sha512/" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "x", 1,
                      NULL, &err));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(bs->ops->list(bs, seen_blob, &s, &err));
    ASSERT_EQ_INT(s.n, 3);
    for (k = 0; k < 3; k++) {
        at = seen_find(&s, d[k].s);
        ASSERT_TRUE(at >= 0);
        ASSERT_EQ_U64(s.size[at], (uint64_t)k + 1);
        ASSERT_TRUE(s.mtime[at] >= start - 5 && s.mtime[at] <= berth_now_s() + 5);
    }
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    ASSERT_OK(bs->ops->list(bs, seen_blob, &s, &err));
    ASSERT_EQ_INT(s.n, 1);

    ASSERT_OK(bs->ops->stat(bs, &d[1], &size, &err));
    ASSERT_EQ_U64(size, 2);
    ASSERT_OK(bs->ops->remove(bs, &d[1], &err));
    ASSERT_RC(bs->ops->stat(bs, &d[1], &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(bs->ops->remove(bs, &d[1], &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(bs->ops->open_reader(bs, &d[1], &(struct berth_blob_reader *){NULL}, &err), BERTH_EBLOBUNKNOWN);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(bs->ops->list(bs, seen_blob, &s, &err));
    ASSERT_EQ_INT(s.n, 2);
    /* a digest struct that is not a digest never becomes a key */
    bad = d[0];
    snprintf(bad.s, sizeof(bad.s), "sha256:../../x");
    ASSERT_RC(bs->ops->stat(bs, &bad, &size, &err), BERTH_EDIGEST);
    bad = d[0];
    bad.alg = BERTH_DIGEST_SHA512;
    ASSERT_RC(bs->ops->remove(bs, &bad, &err), BERTH_EDIGEST);
    berth_blobstore_s3_ops.close(bs);
}

/* The multipart upload behind an upload is aborted by upload_remove. */
TEST(s3_rgw_upload_list_remove)
{
    const size_t big = 6u << 20;
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct s3_store *st = s3_of(bs);
    struct berth_upload_writer *w = NULL;
    struct berth_upload_state s = BERTH_UPLOAD_STATE_INIT;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_s3_ext e = {0};
    struct berth_blob_reader *r = NULL;
    char *data = pattern(big, 5), uuid[3][37], key[KEY_MAX];
    struct seen ls;
    int64_t start = berth_now_s();
    uint64_t size;
    int k, at;

    for (k = 0; k < 3; k++) {
        berth_uuid(uuid[k]);
        ASSERT_OK(bs->ops->upload_create(bs, uuid[k], &w, &err));
        if (k == 1) ASSERT_OK(berth_upload_writer_append(w, "tail", 4, &err));
        if (k == 2) append_steps(w, data, big, 1 << 20);
        berth_upload_writer_close(w, k == 2 ? &s : NULL);
    }
    ASSERT_OK(bs->ops->upload_stat(bs, uuid[2], &size, &err));
    ASSERT_EQ_U64(size, big);
    memset(&ls, 0, sizeof(ls));
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &ls, &err));
    ASSERT_EQ_INT(ls.n, 3);
    for (k = 0; k < 3; k++) {
        at = seen_find(&ls, uuid[k]);
        ASSERT_TRUE(at >= 0);
        ASSERT_EQ_U64(ls.size[at], k == 1 ? 4 : 0);
        ASSERT_TRUE(ls.mtime[at] >= start - 5 && ls.mtime[at] <= berth_now_s() + 5);
    }
    memset(&ls, 0, sizeof(ls));
    ls.stop_after = 2;
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &ls, &err));
    ASSERT_EQ_INT(ls.n, 2);

    /* the one with a part: its multipart upload exists, then is aborted */
    ASSERT_OK(mp_id_load(st, uuid[2], &e.mp, &err));
    upload_key(uuid[2], "data", key);
    ASSERT_OK(mp_list_parts(st, key, &e, &err));
    ASSERT_EQ_U64(e.nparts, 1);
    ASSERT_EQ_U64(e.parts[0].size, big);
    berth_s3_ext_release(&e);
    ASSERT_OK(mp_id_load(st, uuid[2], &e.mp, &err));
    ASSERT_OK(bs->ops->upload_remove(bs, uuid[2], &err));
    ASSERT_RC(mp_list_parts(st, key, &e, &err), BERTH_ENOENT);
    ASSERT_EQ_U64(e.nparts, 0);
    berth_s3_ext_release(&e);
    ASSERT_RC(bs->ops->upload_remove(bs, uuid[2], &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(bs->ops->upload_stat(bs, uuid[2], &size, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(bs->ops->upload_resume(bs, &s, &w, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(bs->ops->upload_open_reader(bs, uuid[2], &r, &err), BERTH_EUPLOADUNKNOWN);

    ASSERT_OK(bs->ops->upload_remove(bs, uuid[1], &err));
    memset(&ls, 0, sizeof(ls));
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &ls, &err));
    ASSERT_EQ_INT(ls.n, 1);
    ASSERT_EQ_STR(ls.name[0], uuid[0]);
    ASSERT_OK(bs->ops->upload_remove(bs, uuid[0], &err));
    memset(&ls, 0, sizeof(ls));
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &ls, &err));
    ASSERT_EQ_INT(ls.n, 0);
    ASSERT_RC(bs->ops->upload_remove(bs, "not-a-uuid", &err), BERTH_EUPLOADUNKNOWN);
    berth_upload_state_release(&s);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

static size_t curl_sink(char *p, size_t size, size_t n, void *ud)
{
    berth_buf_append(ud, p, size * n);
    return size * n;
}

/* A plain GET of url: the status and the body. */
static long fetch(const char *url, struct berth_buf *body)
{
    CURL *c;
    long status = 0;

    ASSERT_RC(berth_lazy_load(BERTH_LIB_CURL, NULL), BERTH_OK);
    c = curl_easy_init();
    ASSERT_TRUE(c != NULL);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    ASSERT_EQ_INT(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status;
}

TEST(s3_rgw_presigned_url)
{
    const size_t size = 3u << 20;
    struct berth_blobstore *bs = s3_test_open(NULL), *nored;
    struct berth_blob_reader *r = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf body = BERTH_BUF_INIT(0);
    struct berth_digest d;
    char *data = pattern(size, 6), *url, *tampered;

    digest_of_bytes(&d, BERTH_DIGEST_SHA256, data, size);
    {
        struct berth_upload_writer *w = NULL;
        char uuid[37];
        berth_uuid(uuid);
        ASSERT_OK(bs->ops->upload_create(bs, uuid, &w, &err));
        append_steps(w, data, size, 1 << 20);
        ASSERT_OK(berth_upload_writer_commit(w, &d, 0, &err));
        berth_upload_writer_close(w, NULL);
    }
    ASSERT_OK(bs->ops->open_reader(bs, &d, &r, &err));
    ASSERT_TRUE(r->url != NULL);
    ASSERT_TRUE(!strncmp(r->url, getenv("BERTH_TEST_S3_ENDPOINT"), strlen(getenv("BERTH_TEST_S3_ENDPOINT"))));
    ASSERT_TRUE(strstr(r->url, "X-Amz-Expires=1200") != NULL);
    ASSERT_TRUE(strstr(r->url, getenv("AWS_SECRET_ACCESS_KEY")) == NULL);
    url = berth_xstrdup(r->url);
    berth_blob_reader_close(r);
    ASSERT_EQ_INT(fetch(url, &body), 200);
    ASSERT_EQ_U64(body.len, size);
    ASSERT_TRUE(memcmp(body.p, data, size) == 0);
    /* the signature covers the key */
    tampered = berth_xstrdup(url);
    *strstr(tampered, "blobs/sha256/") = 'c';
    berth_buf_reset(&body);
    ASSERT_EQ_INT(fetch(tampered, &body), 403);
    free(tampered);
    free(url);

    /* redirect=0: readers have no URL (the registry sends the bytes) */
    {
        struct s3_store *st = s3_of(bs);
        char *u = berth_xasprintf("s3://%s/reg/one?endpoint=%s&region=%s&redirect=0", st->conf.bucket,
                                  st->conf.endpoint, st->conf.region);
        ASSERT_OK(berth_blobstore_s3_ops.open(u, NULL, &nored, &err));
        free(u);
    }
    ASSERT_OK(nored->ops->open_reader(nored, &d, &r, &err));
    ASSERT_TRUE(r->url == NULL);
    berth_blob_reader_close(r);
    berth_blobstore_s3_ops.close(nored);
    berth_buf_release(&body);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

TEST(s3_rgw_check_and_open_errors)
{
    struct berth_blobstore *bs = s3_test_open(NULL), *other = NULL;
    struct s3_store *st = s3_of(bs);
    struct berth_err err = BERTH_ERR_INIT;
    struct seen ls;
    char *secret, *url;

    ASSERT_OK(bs->ops->check(bs, &err));
    memset(&ls, 0, sizeof(ls));
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &ls, &err));
    ASSERT_EQ_INT(ls.n, 0); /* check left nothing behind */
    secret = st->creds.secret_key;
    st->creds.secret_key = berth_xstrdup("wrong");
    ASSERT_RC(bs->ops->check(bs, &err), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, st->conf.bucket) != NULL);
    free(st->creds.secret_key);
    st->creds.secret_key = secret;

    /* refused credentials, and an endpoint where no one listens: each names endpoint and bucket */
    url = berth_xasprintf("s3://%s?endpoint=%s&region=%s", st->conf.bucket, st->conf.endpoint, st->conf.region);
    setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret", 1);
    ASSERT_RC(berth_blobstore_s3_ops.open(url, NULL, &other, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, st->conf.bucket) != NULL && strstr(err.msg, st->conf.endpoint) != NULL);
    ASSERT_TRUE(strstr(err.msg, "wrong-secret") == NULL);
    free(url);
    url = berth_xasprintf("s3://%s?endpoint=http://127.0.0.1:1&region=%s", st->conf.bucket, st->conf.region);
    ASSERT_RC(berth_blobstore_s3_ops.open(url, NULL, &other, &err), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, "127.0.0.1:1") != NULL && strstr(err.msg, st->conf.bucket) != NULL);
    ASSERT_TRUE(other == NULL);
    free(url);
    berth_blobstore_s3_ops.close(bs);
}

#define NTHREADS 8

struct racer {
    struct berth_blobstore *bs;
    const struct berth_digest *d;
    const char *data;
    size_t len;
    pthread_barrier_t *start;
    enum berth_rc rc;
    struct berth_err err;
};

static void *race_commit(void *arg)
{
    struct racer *r = arg;
    struct berth_upload_writer *w = NULL;
    char uuid[37];

    berth_uuid(uuid);
    r->rc = r->bs->ops->upload_create(r->bs, uuid, &w, &r->err);
    if (!r->rc) r->rc = berth_upload_writer_append(w, r->data, r->len, &r->err);
    pthread_barrier_wait(r->start);
    if (!r->rc) r->rc = berth_upload_writer_commit(w, r->d, BERTH_COMMIT_VERIFIED, &r->err);
    berth_upload_writer_close(w, NULL);
    return NULL;
}

/* One driver object from many threads: its handle pool, and commits of one digest racing. */
TEST(s3_rgw_concurrent_commits)
{
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct berth_err err = BERTH_ERR_INIT;
    struct racer r[NTHREADS];
    pthread_t th[NTHREADS];
    pthread_barrier_t start;
    struct berth_digest d;
    struct seen s;
    int k;

    digest_of_bytes(&d, BERTH_DIGEST_SHA256, "the same layer", 14);
    ASSERT_EQ_INT(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    for (k = 0; k < NTHREADS; k++) {
        memset(&r[k], 0, sizeof(r[k]));
        r[k].bs = bs;
        r[k].d = &d;
        r[k].data = "the same layer";
        r[k].len = 14;
        r[k].start = &start;
        ASSERT_EQ_INT(pthread_create(&th[k], NULL, race_commit, &r[k]), 0);
    }
    for (k = 0; k < NTHREADS; k++) {
        pthread_join(th[k], NULL);
        if (r[k].rc) BERTH_TEST_FAIL("thread %d: %s", k, berth_err_msg(&r[k].err));
    }
    pthread_barrier_destroy(&start);
    expect_blob_digest(bs, &d, 14);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(bs->ops->list(bs, seen_blob, &s, &err));
    ASSERT_EQ_INT(s.n, 1);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(bs->ops->upload_list(bs, seen_upload, &s, &err));
    ASSERT_EQ_INT(s.n, 0);
    berth_blobstore_s3_ops.close(bs);
}

/* The copy of a blob over 5 GiB goes by UploadPartCopy; one piece of any size is a valid whole. */
TEST(s3_rgw_copy_by_parts)
{
    const size_t size = (7u << 20) + 3;
    struct berth_blobstore *bs = s3_test_open(NULL);
    struct s3_store *st = s3_of(bs);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf back = BERTH_BUF_INIT(0);
    char *data = pattern(size, 7);

    ASSERT_OK(obj_put(st, "uploads/copy-src", data, size, NULL, &err));
    ASSERT_OK(copy_multipart(st, "uploads/copy-src", "uploads/copy-dst", size, &err));
    ASSERT_OK(obj_get(st, "uploads/copy-dst", &back, NULL, &err));
    ASSERT_EQ_U64(back.len, size);
    ASSERT_TRUE(memcmp(back.p, data, size) == 0);
    /* a source that is not there: the copy fails and its multipart upload is aborted */
    ASSERT_RC(copy_multipart(st, "uploads/absent", "uploads/copy-dst2", size, &err), BERTH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "UploadPartCopy") != NULL);
    ASSERT_RC(no_enoent(obj_copy(st, "uploads/absent", "uploads/copy-dst2", size, &err)), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, "CopyObject") != NULL && strstr(err.msg, "404") != NULL);
    berth_buf_release(&back);
    free(data);
    berth_blobstore_s3_ops.close(bs);
}

/* Credentials from a file named in the URL, with nothing in the environment. */
TEST(s3_rgw_credentials_file)
{
    struct berth_blobstore *bs = s3_test_open(NULL), *other = NULL;
    struct s3_store *st = s3_of(bs);
    struct berth_err err = BERTH_ERR_INIT;
    char *file = berth_xasprintf("%s/creds", berth_test_tmpdir()), *text, *url;

    text = berth_xasprintf("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n"
                           "[profile berth]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                           getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"));
    ASSERT_OK(berth_write_atomic(file, text, strlen(text), 0600, &err));
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    setenv("AWS_PROFILE", "berth", 1);
    url = berth_xasprintf("s3://%s/reg/one?endpoint=%s&region=%s&credentials=%s", st->conf.bucket, st->conf.endpoint,
                          st->conf.region, file);
    ASSERT_OK(berth_blobstore_s3_ops.open(url, NULL, &other, &err));
    ASSERT_EQ_STR(s3_of(other)->creds.from, file);
    ASSERT_OK(other->ops->check(other, &err));
    berth_blobstore_s3_ops.close(other);
    /* the default profile's keys are refused: a config error naming where they came from */
    unsetenv("AWS_PROFILE");
    ASSERT_RC(berth_blobstore_s3_ops.open(url, NULL, &other, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, file) != NULL);
    free(url);
    free(text);
    free(file);
    berth_blobstore_s3_ops.close(bs);
}
