/* test_oci.c - names, tags, digests, hashing, references, ranges and manifests. */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "oci.h"
#include "test.h"

/* ---- helpers ---- */

#define ASSERT_HAS(hay, needle)                                                             \
    do {                                                                                    \
        const char *h_ = (hay), *n_ = (needle);                                             \
        if (!h_ || !strstr(h_, n_)) BERTH_TEST_FAIL("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)

/* Messages go to logs and JSON bodies: printable ASCII only. */
#define ASSERT_PRINTABLE(s)                                                                 \
    do {                                                                                    \
        const unsigned char *p_ = (const unsigned char *)(s);                               \
        for (; *p_; p_++)                                                                   \
            if (*p_ < 0x20 || *p_ > 0x7e) BERTH_TEST_FAIL("unprintable byte 0x%02x in \"%s\"", *p_, (s)); \
    } while (0)

static enum berth_rc name_check(const char *s, struct berth_err *err)
{
    return berth_oci_name_check(s, strlen(s), err);
}

static enum berth_rc tag_check(const char *s, struct berth_err *err)
{
    return berth_oci_tag_check(s, strlen(s), err);
}

static enum berth_rc digest_parse(const char *s, struct berth_digest *d, struct berth_err *err)
{
    return berth_digest_parse(s, strlen(s), d, err);
}

static enum berth_rc range(const char *s, uint64_t size, uint64_t *a, uint64_t *b, struct berth_err *err)
{
    return berth_range_parse(s, strlen(s), size, a, b, err);
}

static enum berth_rc crange(const char *s, uint64_t *a, uint64_t *b, struct berth_err *err)
{
    return berth_content_range_parse(s, strlen(s), a, b, err);
}

static enum berth_rc mparse(const char *body, const char *ct, struct berth_manifest **m, struct berth_err *err)
{
    return berth_manifest_parse(body, strlen(body), ct, m, err);
}

/* A string of n copies of c, malloc'd. */
static char *repeat(char c, size_t n)
{
    char *s = berth_xmalloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* The manifest must be refused with EMANIFEST and a message containing want. */
static void expect_bad_manifest(const char *body, const char *ct, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    enum berth_rc rc = mparse(body, ct, &m, &err);

    if (rc != BERTH_EMANIFEST)
        BERTH_TEST_FAIL("manifest %s: got %s, want EMANIFEST (%s)", body, berth_rc_name(rc), err.msg);
    if (m) BERTH_TEST_FAIL("manifest %s: *out was set on failure", body);
    ASSERT_HAS(err.msg, want);
    ASSERT_PRINTABLE(err.msg);
}

#define H_CONFIG "b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910"
#define H_LAYER1 "77ea7eee3d80b1a38f83906dd3048e2689457eb90e18a7d12f839c5ae37106a2"
#define H_LAYER2 "95cf1a2e1698fe3ca1fcc3f653119146b271d0b62e487ec264441e886a11bd06"
#define H_LAYER3 "a0e70458d19e37e14d6388030a017c587283e2fb6ef10c0744cad0294c47e8f8"
#define H_CHILD1 "c56d62f1e317670d153efd4673f39b7141249845c6d885f974aca96ae66858c0"
#define H_CHILD2 "2c7c4f92b804280c22e7c3c6386322f12f16296942fd7a3b450c2eed107aa5ab"
#define H_SUBJECT "a9491f4c1bf7b0cffbadcba2db8f028e4b3f2867cb59e1f3a0bc1968f3c51242"
#define H_EMPTY "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define H512_X                                                                              \
    "a4abd4448c49562d828115d13a1fccea927f52b4d5459297f8b43e42da89238b"                      \
    "c13626e43dcb38ddb082488927ec904fb42057443983e88585179d50551afe62"

#define MT_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define DESC(mt, hex, size) "{\"mediaType\":\"" mt "\",\"digest\":\"sha256:" hex "\",\"size\":" #size "}"

/* An OCI image manifest around the given config and layers text. */
#define OCI_IMAGE(config, layers)                                                           \
    "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"config\":" config     \
    ",\"layers\":[" layers "]}"

static const char *const good_image = OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1469),
                                                DESC(MT_LAYER, H_LAYER1, 3370706) ","
                                                DESC(MT_LAYER, H_LAYER2, 1024));

/* ---- names ---- */

TEST(name_valid_forms)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *max = repeat('a', BERTH_NAME_MAX), *comps = repeat('a', BERTH_NAME_MAX);
    size_t i;

    ASSERT_RC(name_check("a", &err), BERTH_OK);
    ASSERT_RC(name_check("a/b", &err), BERTH_OK);
    ASSERT_RC(name_check("a.b_c__d-e--f/g", &err), BERTH_OK);
    ASSERT_RC(name_check("library/ubuntu", &err), BERTH_OK);
    ASSERT_RC(name_check("0/1/2/x9", &err), BERTH_OK);
    ASSERT_RC(name_check("a---------b", &err), BERTH_OK);
    ASSERT_RC(name_check(max, &err), BERTH_OK);
    for (i = 1; i < BERTH_NAME_MAX; i += 2)
        comps[i] = '/';
    ASSERT_RC(name_check(comps, &err), BERTH_OK);
    free(max);
    free(comps);
}

TEST(name_empty_and_too_long)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *big = repeat('a', BERTH_NAME_MAX + 1);

    ASSERT_RC(name_check("", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "empty");
    ASSERT_RC(berth_oci_name_check(NULL, 0, &err), BERTH_ENAME);
    ASSERT_RC(name_check(big, &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "name longer than 255 bytes");
    free(big);
}

TEST(name_must_be_lowercase)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(name_check("A", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "repository name must be lowercase");
    ASSERT_HAS(err.msg, "a valid name is");
    ASSERT_RC(name_check("library/Ubuntu", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "must be lowercase");
    ASSERT_HAS(err.msg, "byte 8");
}

TEST(name_empty_path_component)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(name_check("a//b", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "empty path component");
    ASSERT_RC(name_check("a/", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "empty path component");
    ASSERT_RC(name_check("/a", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "empty path component");
    ASSERT_RC(name_check("/", &err), BERTH_ENAME);
}

TEST(name_bad_separators)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(name_check("a_", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "must end with");
    ASSERT_RC(name_check("-a", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "must start with");
    ASSERT_RC(name_check("a___b", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "separator '___'");
    ASSERT_RC(name_check("a..b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a._b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a-_b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a/.b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a./b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("_a", &err), BERTH_ENAME);
    ASSERT_RC(name_check(".", &err), BERTH_ENAME);
}

TEST(name_bad_characters)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(name_check("../x", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a:b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("a@b", &err), BERTH_ENAME);
    ASSERT_RC(name_check("caf\xc3\xa9", &err), BERTH_ENAME);
    ASSERT_PRINTABLE(err.msg);
    ASSERT_RC(berth_oci_name_check("a\0b", 3, &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "0x00 at byte 1");
    ASSERT_RC(name_check("a\x01", &err), BERTH_ENAME);
    ASSERT_HAS(err.msg, "0x01");
    ASSERT_PRINTABLE(err.msg);
}

TEST(name_uses_len_not_nul)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_oci_name_check("ab/", 2, &err), BERTH_OK);
    ASSERT_RC(berth_oci_name_check("a/Bc", 2, &err), BERTH_ENAME);
    ASSERT_RC(berth_oci_name_check("a-", 1, NULL), BERTH_OK);
}

/* ---- tags ---- */

TEST(tag_valid_forms)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *max = repeat('x', BERTH_TAG_MAX);

    ASSERT_RC(tag_check("latest", &err), BERTH_OK);
    ASSERT_RC(tag_check("v1.0.0-rc.1", &err), BERTH_OK);
    ASSERT_RC(tag_check("_x", &err), BERTH_OK);
    ASSERT_RC(tag_check("A-b_c.D", &err), BERTH_OK);
    ASSERT_RC(tag_check("0", &err), BERTH_OK);
    ASSERT_RC(tag_check(max, &err), BERTH_OK);
    free(max);
}

TEST(tag_invalid_forms)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *big = repeat('x', BERTH_TAG_MAX + 1);

    ASSERT_RC(tag_check("", &err), BERTH_ETAG);
    ASSERT_HAS(err.msg, "valid tag is");
    ASSERT_RC(tag_check(".x", &err), BERTH_ETAG);
    ASSERT_HAS(err.msg, "must not start with");
    ASSERT_RC(tag_check("-x", &err), BERTH_ETAG);
    ASSERT_RC(tag_check("a/b", &err), BERTH_ETAG);
    ASSERT_RC(tag_check("a:b", &err), BERTH_ETAG);
    ASSERT_RC(tag_check("a b", &err), BERTH_ETAG);
    ASSERT_RC(tag_check(big, &err), BERTH_ETAG);
    ASSERT_HAS(err.msg, "longer than 128 bytes");
    ASSERT_RC(berth_oci_tag_check("a\0b", 3, &err), BERTH_ETAG);
    ASSERT_PRINTABLE(err.msg);
    ASSERT_RC(berth_oci_tag_check(NULL, 0, &err), BERTH_ETAG);
    free(big);
}

/* ---- digests ---- */

TEST(digest_parse_sha256)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(digest_parse("sha256:" H_CONFIG, &d, &err), BERTH_OK);
    ASSERT_EQ_INT(d.alg, BERTH_DIGEST_SHA256);
    ASSERT_EQ_STR(d.s, "sha256:" H_CONFIG);
    ASSERT_EQ_STR(berth_digest_hex(&d), H_CONFIG);
    ASSERT_EQ_STR(berth_digest_alg_name(d.alg), "sha256");
}

TEST(digest_parse_sha512)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(digest_parse("sha512:" H512_X, &d, &err), BERTH_OK);
    ASSERT_EQ_INT(d.alg, BERTH_DIGEST_SHA512);
    ASSERT_EQ_STR(d.s, "sha512:" H512_X);
    ASSERT_EQ_STR(berth_digest_hex(&d), H512_X);
    ASSERT_EQ_STR(berth_digest_alg_name(BERTH_DIGEST_SHA512), "sha512");
    ASSERT_EQ_STR(berth_digest_alg_name((enum berth_digest_alg)99), "unknown");
}

TEST(digest_uppercase_hex_is_invalid)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(digest_parse("sha256:B79606FB3AFEA5BD1609ED40B622142F1C98125ABCFE89A76A661B0E8E343910", &d, &err),
              BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "lowercase");
    ASSERT_RC(digest_parse("sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e34391F", &d, &err),
              BERTH_EDIGEST);
}

TEST(digest_wrong_length)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(berth_digest_parse("sha256:" H_CONFIG, 7 + 63, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "64 hex characters, got 63");
    ASSERT_RC(digest_parse("sha256:" H_CONFIG "0", &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse("sha512:" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "128");
    ASSERT_RC(digest_parse("sha256:" H512_X, &d, &err), BERTH_EDIGEST);
}

TEST(digest_unknown_algorithm)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(digest_parse("md5:d41d8cd98f00b204e9800998ecf8427e", &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "unsupported digest algorithm 'md5'");
    ASSERT_RC(digest_parse("SHA256:" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "'SHA256'");
    ASSERT_RC(digest_parse("sha256+b64u:abc", &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse("a\x01\xff:" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "unsupported digest algorithm");
    ASSERT_PRINTABLE(err.msg);
}

TEST(digest_malformed_shapes)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;

    ASSERT_RC(digest_parse("", &d, &err), BERTH_EDIGEST);
    ASSERT_RC(berth_digest_parse(NULL, 0, &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse("sha256:", &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "empty hex");
    ASSERT_RC(digest_parse("sha256" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "no ':'");
    ASSERT_RC(digest_parse(":" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "empty algorithm");
    ASSERT_RC(digest_parse("sha256::" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse("sha256:" H_CONFIG " ", &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse(" sha256:" H_CONFIG, &d, &err), BERTH_EDIGEST);
    ASSERT_RC(digest_parse("sha256:g79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910", &d, &err),
              BERTH_EDIGEST);
    ASSERT_HAS(err.msg, "non-hex character at byte 7");
    ASSERT_RC(berth_digest_parse("sha256:" H_CONFIG "\0", 7 + 64 + 1, &d, &err), BERTH_EDIGEST);
}

TEST(digest_eq_compares_alg_and_hex)
{
    struct berth_digest a, b, c;

    ASSERT_RC(digest_parse("sha256:" H_LAYER1, &a, NULL), BERTH_OK);
    ASSERT_RC(digest_parse("sha256:" H_LAYER1, &b, NULL), BERTH_OK);
    ASSERT_RC(digest_parse("sha256:" H_LAYER2, &c, NULL), BERTH_OK);
    ASSERT_TRUE(berth_digest_eq(&a, &b));
    ASSERT_TRUE(!berth_digest_eq(&a, &c));
    ASSERT_TRUE(!berth_digest_eq(&a, NULL));
}

/* ---- hashing ---- */

TEST(hash_sha256_vectors)
{
    struct berth_digest d;

    berth_digest_of(BERTH_DIGEST_SHA256, "", 0, &d);
    ASSERT_EQ_STR(d.s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    berth_digest_of(BERTH_DIGEST_SHA256, NULL, 0, &d);
    ASSERT_EQ_STR(d.s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    berth_digest_of(BERTH_DIGEST_SHA256, "abc", 3, &d);
    ASSERT_EQ_STR(d.s, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ_INT(d.alg, BERTH_DIGEST_SHA256);
    berth_digest_of(BERTH_DIGEST_SHA256, "{}", 2, &d);
    ASSERT_EQ_STR(d.s, "sha256:" H_EMPTY);
}

TEST(hash_sha512_vectors)
{
    struct berth_digest d;

    berth_digest_of(BERTH_DIGEST_SHA512, "abc", 3, &d);
    ASSERT_EQ_STR(d.s, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    ASSERT_EQ_INT(d.alg, BERTH_DIGEST_SHA512);
    berth_digest_of(BERTH_DIGEST_SHA512, "x", 1, &d);
    ASSERT_EQ_STR(d.s, "sha512:" H512_X);
}

TEST(hash_parse_roundtrip)
{
    struct berth_digest d, p;

    berth_digest_of(BERTH_DIGEST_SHA512, "abc", 3, &d);
    ASSERT_RC(berth_digest_parse(d.s, strlen(d.s), &p, NULL), BERTH_OK);
    ASSERT_TRUE(berth_digest_eq(&d, &p));
}

TEST(hash_streamed_equals_one_shot)
{
    size_t n = 1024 * 1024 + 7, i;
    unsigned char *data = berth_xmalloc(n);
    struct berth_digest once, streamed, bytewise;
    struct berth_hasher h;
    int alg;

    for (i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 9));
    for (alg = BERTH_DIGEST_SHA256; alg <= BERTH_DIGEST_SHA512; alg++) {
        berth_digest_of((enum berth_digest_alg)alg, data, n, &once);
        berth_hasher_init(&h, (enum berth_digest_alg)alg);
        for (i = 0; i < n; i += 4093)
            berth_hasher_update(&h, data + i, n - i < 4093 ? n - i : 4093);
        berth_hasher_update(&h, data, 0);
        berth_hasher_final(&h, &streamed);
        berth_hasher_release(&h);
        ASSERT_EQ_STR(streamed.s, once.s);
        berth_hasher_init(&h, (enum berth_digest_alg)alg);
        for (i = 0; i < 1000; i++)
            berth_hasher_update(&h, data + i, 1);
        berth_hasher_final(&h, &bytewise);
        berth_hasher_release(&h);
        berth_digest_of((enum berth_digest_alg)alg, data, 1000, &once);
        ASSERT_EQ_STR(bytewise.s, once.s);
    }
    free(data);
}

/* A hash saved at any length and loaded into a new hasher finishes as if it had never stopped. */
TEST(hasher_save_and_load_continue_the_hash)
{
    static const size_t cuts[] = {0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1000, 65537};
    size_t n = 70000, i, k, len;
    unsigned char *data = berth_xmalloc(n), saved[BERTH_HASHER_SAVE_MAX];
    struct berth_digest once, resumed;
    struct berth_hasher h, g;
    struct berth_err err = BERTH_ERR_INIT;
    int alg;

    for (i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8));
    for (alg = BERTH_DIGEST_SHA256; alg <= BERTH_DIGEST_SHA512; alg++) {
        berth_digest_of((enum berth_digest_alg)alg, data, n, &once);
        for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
            berth_hasher_init(&h, (enum berth_digest_alg)alg);
            berth_hasher_update(&h, data, cuts[k]);
            len = berth_hasher_save(&h, saved);
            ASSERT_TRUE(len > 4 && len <= BERTH_HASHER_SAVE_MAX);
            berth_hasher_release(&h);
            ASSERT_RC(berth_hasher_load(&g, saved, len, &err), BERTH_OK);
            ASSERT_EQ_INT(g.alg, alg);
            berth_hasher_update(&g, data + cuts[k], n - cuts[k]);
            berth_hasher_final(&g, &resumed);
            berth_hasher_release(&g);
            ASSERT_EQ_STR(resumed.s, once.s);
        }
    }
    free(data);
}

TEST(hasher_load_refuses_what_is_not_a_saved_state)
{
    unsigned char saved[BERTH_HASHER_SAVE_MAX], bad[BERTH_HASHER_SAVE_MAX];
    struct berth_hasher h;
    struct berth_err err = BERTH_ERR_INIT;
    size_t len, i;

    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    berth_hasher_update(&h, "hello", 5);
    len = berth_hasher_save(&h, saved);
    berth_hasher_release(&h);
    ASSERT_RC(berth_hasher_load(&h, saved, 0, &err), BERTH_EINVAL);
    ASSERT_RC(berth_hasher_load(&h, "BH1x", 4, &err), BERTH_EINVAL);
    /* every shorter prefix, and one byte too many */
    for (i = 0; i < len; i++)
        ASSERT_RC(berth_hasher_load(&h, saved, i, &err), BERTH_EINVAL);
    memcpy(bad, saved, len);
    bad[len] = 0;
    ASSERT_RC(berth_hasher_load(&h, bad, len + 1, &err), BERTH_EINVAL);
    /* a buffered count that disagrees with the length hashed */
    memcpy(bad, saved, len);
    bad[4 + 9 * 4 + 3] ^= 8; /* low byte of the bit count: one byte more */
    ASSERT_RC(berth_hasher_load(&h, bad, len, &err), BERTH_EINVAL);
}

TEST(hasher_copy_forks_the_state)
{
    struct berth_hasher a, b;
    struct berth_digest da, db, want;

    berth_hasher_init(&a, BERTH_DIGEST_SHA256);
    berth_hasher_update(&a, "ab", 2);
    berth_hasher_copy(&b, &a);
    berth_hasher_update(&a, "c", 1);
    berth_hasher_update(&b, "d", 1);
    berth_hasher_final(&a, &da);
    berth_hasher_final(&b, &db);
    berth_hasher_release(&a);
    berth_hasher_release(&b);
    berth_digest_of(BERTH_DIGEST_SHA256, "abc", 3, &want);
    ASSERT_EQ_STR(da.s, want.s);
    berth_digest_of(BERTH_DIGEST_SHA256, "abd", 3, &want);
    ASSERT_EQ_STR(db.s, want.s);
}

TEST(hasher_reinit_and_release_are_safe)
{
    struct berth_hasher h;
    struct berth_digest d;

    berth_hasher_init(&h, BERTH_DIGEST_SHA512);
    berth_hasher_update(&h, "abc", 3);
    berth_hasher_final(&h, &d);
    /* re-initialising after final needs no release in between */
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    berth_hasher_update(&h, "abc", 3);
    berth_hasher_final(&h, &d);
    ASSERT_EQ_STR(d.s, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    berth_hasher_release(&h);
    berth_hasher_release(&h);
    /* abandoning a hasher mid-stream */
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    berth_hasher_update(&h, "abc", 3);
    berth_hasher_release(&h);
    berth_hasher_release(NULL);
}

/* ---- references ---- */

TEST(ref_tag)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r;

    ASSERT_RC(berth_ref_parse("latest", 6, &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r.is_digest, 0);
    ASSERT_EQ_STR(r.tag, "latest");
    ASSERT_RC(berth_ref_parse("v1.2xyz", 4, &r, &err), BERTH_OK);
    ASSERT_EQ_STR(r.tag, "v1.2");
}

TEST(ref_digest)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r;
    const char *s = "sha256:" H_LAYER3;

    ASSERT_RC(berth_ref_parse(s, strlen(s), &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r.is_digest, 1);
    ASSERT_EQ_STR(r.digest.s, s);
    ASSERT_EQ_INT(r.digest.alg, BERTH_DIGEST_SHA256);
}

TEST(ref_invalid)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r;
    char *big = repeat('t', BERTH_TAG_MAX + 1);

    ASSERT_RC(berth_ref_parse("", 0, &r, &err), BERTH_ETAG);
    ASSERT_RC(berth_ref_parse(NULL, 0, &r, &err), BERTH_ETAG);
    ASSERT_RC(berth_ref_parse("-x", 2, &r, &err), BERTH_ETAG);
    ASSERT_RC(berth_ref_parse("a@b", 3, &r, &err), BERTH_ETAG);
    ASSERT_RC(berth_ref_parse(big, strlen(big), &r, &err), BERTH_ETAG);
    ASSERT_RC(berth_ref_parse("sha256:abc", 10, &r, &err), BERTH_EDIGEST);
    ASSERT_RC(berth_ref_parse("md5:abc", 7, &r, &err), BERTH_EDIGEST);
    ASSERT_RC(berth_ref_parse(":", 1, &r, &err), BERTH_EDIGEST);
    free(big);
}

/* ---- Range ---- */

TEST(range_first_last)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a = 0, b = 0;

    ASSERT_RC(range("bytes=10-19", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 10);
    ASSERT_EQ_U64(b, 19);
    ASSERT_RC(range("bytes=0-0", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_EQ_U64(b, 0);
    ASSERT_RC(range("bytes=0-999", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(b, 999);
    ASSERT_RC(range("bytes=999-999", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 999);
    ASSERT_RC(range("bytes=007-010", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 7);
    ASSERT_EQ_U64(b, 10);
    ASSERT_RC(range("Bytes=1-2", 1000, &a, &b, &err), BERTH_OK);
}

TEST(range_open_ended_and_clamped)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a = 0, b = 0;

    ASSERT_RC(range("bytes=990-", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 990);
    ASSERT_EQ_U64(b, 999);
    ASSERT_RC(range("bytes=0-", 1, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_EQ_U64(b, 0);
    ASSERT_RC(range("bytes=995-5000", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 995);
    ASSERT_EQ_U64(b, 999);
}

TEST(range_suffix)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a = 0, b = 0;

    ASSERT_RC(range("bytes=-5", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 995);
    ASSERT_EQ_U64(b, 999);
    ASSERT_RC(range("bytes=-1000", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_RC(range("bytes=-5000", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_EQ_U64(b, 999);
    ASSERT_RC(range("bytes=-0", 1000, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=-000", 1000, &a, &b, &err), BERTH_ERANGE);
}

TEST(range_unsatisfiable)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a = 7, b = 7;

    ASSERT_RC(range("bytes=1000-1010", 1000, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=1000-", 1000, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=5000-", 1000, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=0-0", 0, &a, &b, &err), BERTH_ERANGE);
    ASSERT_HAS(err.msg, "empty");
    ASSERT_RC(range("bytes=0-", 0, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=-5", 0, &a, &b, &err), BERTH_ERANGE);
    ASSERT_EQ_U64(a, 7); /* outputs untouched on failure */
    ASSERT_EQ_U64(b, 7);
}

TEST(range_malformed)
{
    static const char *const bad[] = {
        "", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-3", " bytes=0-1", "bytes= 0-1", "bytes=0-1 ",
        "bytes=0 -1", "bytes=0- 1", "items=0-1", "bytes:0-1", "bytes 0-1", "bytes=0-1,2-3", "bytes=0-1,",
        "bytes=--1", "bytes=1-2-3", "bytes=+1-2", "bytes=1--2", "bytes=0x1-2", "bytes=1", "bytes=-1-",
        "bytes=\t0-1", "bytesx0-1",
    };
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a, b;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum berth_rc rc = range(bad[i], 1000, &a, &b, &err);
        if (rc != BERTH_EINVAL) BERTH_TEST_FAIL("Range '%s': got %s, want EINVAL", bad[i], berth_rc_name(rc));
    }
    ASSERT_RC(berth_range_parse("bytes=0\0-1", 10, 1000, &a, &b, &err), BERTH_EINVAL);
    ASSERT_RC(berth_range_parse(NULL, 0, 1000, &a, &b, &err), BERTH_EINVAL);
    ASSERT_RC(range("bytes=0-1,2-3", 1000, &a, &b, &err), BERTH_EINVAL);
    ASSERT_HAS(err.msg, "multiple ranges");
    /* malformed wins over unsatisfiable */
    ASSERT_RC(range("bytes=5-3", 0, &a, &b, &err), BERTH_EINVAL);
}

TEST(range_huge_numbers)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a = 0, b = 0;

    ASSERT_RC(range("bytes=0-99999999999999999999999999999", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_EQ_U64(b, 999);
    ASSERT_RC(range("bytes=99999999999999999999999999999-", 1000, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=-99999999999999999999999999999", 1000, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
    ASSERT_EQ_U64(b, 999);
    /* both past UINT64_MAX: still compared exactly */
    ASSERT_RC(range("bytes=99999999999999999999999999999-99999999999999999999999999998", 1000, &a, &b, &err),
              BERTH_EINVAL);
    ASSERT_RC(range("bytes=99999999999999999999999999998-099999999999999999999999999999", 1000, &a, &b, &err),
              BERTH_ERANGE);
    ASSERT_RC(range("bytes=18446744073709551614-", UINT64_MAX, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, UINT64_MAX - 1);
    ASSERT_EQ_U64(b, UINT64_MAX - 1);
    ASSERT_RC(range("bytes=18446744073709551615-", UINT64_MAX, &a, &b, &err), BERTH_ERANGE);
    ASSERT_RC(range("bytes=-18446744073709551615", UINT64_MAX, &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 0);
}

/* ---- Content-Range ---- */

TEST(content_range_forms)
{
    static const char *const good[] = {
        "0-99", "bytes 0-99", "bytes=0-99", "0-99/100", "bytes 0-99/*", "Bytes 0-99/1000",
    };
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a, b;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        a = b = 7;
        ASSERT_RC(crange(good[i], &a, &b, &err), BERTH_OK);
        ASSERT_EQ_U64(a, 0);
        ASSERT_EQ_U64(b, 99);
    }
    ASSERT_RC(crange("5-5", &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(a, 5);
    ASSERT_EQ_U64(b, 5);
    ASSERT_RC(crange("0-18446744073709551615", &a, &b, &err), BERTH_OK);
    ASSERT_EQ_U64(b, UINT64_MAX);
}

TEST(content_range_malformed)
{
    static const char *const bad[] = {
        "", "99-0", "0-", "-5", "0-99/99", "0-99/", "0-99/x", "0-99/*x", "bytes  0-1", " 0-1", "0-1 ", "x",
        "0 - 1", "0-1-2", "bytes */100", "bytes=", "18446744073709551616-18446744073709551617",
        "0-18446744073709551616", "+0-1", "0-1/100/100", "bytes:0-1",
    };
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t a, b;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum berth_rc rc = crange(bad[i], &a, &b, &err);
        if (rc != BERTH_EUPLOADRANGE)
            BERTH_TEST_FAIL("Content-Range '%s': got %s, want EUPLOADRANGE", bad[i], berth_rc_name(rc));
    }
    ASSERT_RC(berth_content_range_parse(NULL, 0, &a, &b, &err), BERTH_EUPLOADRANGE);
    ASSERT_RC(berth_content_range_parse("0-1\0", 4, &a, &b, &err), BERTH_EUPLOADRANGE);
}

/* ---- manifests ---- */

TEST(manifest_oci_image)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;

    ASSERT_RC(mparse(good_image, BERTH_MT_OCI_MANIFEST, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->kind, BERTH_MANIFEST_IMAGE);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_OCI_MANIFEST);
    ASSERT_EQ_STR(m->artifact_type, MT_CONFIG);
    ASSERT_TRUE(m->annotations_json == NULL);
    ASSERT_EQ_INT(m->nblobs, 3);
    ASSERT_EQ_STR(m->blobs[0].digest.s, "sha256:" H_CONFIG);
    ASSERT_EQ_STR(m->blobs[0].media_type, MT_CONFIG);
    ASSERT_EQ_INT(m->blobs[0].size, 1469);
    ASSERT_EQ_STR(m->blobs[1].digest.s, "sha256:" H_LAYER1);
    ASSERT_EQ_INT(m->blobs[1].size, 3370706);
    ASSERT_EQ_STR(m->blobs[2].digest.s, "sha256:" H_LAYER2);
    ASSERT_EQ_STR(m->blobs[2].media_type, MT_LAYER);
    ASSERT_EQ_INT(m->nchildren, 0);
    ASSERT_EQ_INT(m->has_subject, 0);
    berth_manifest_free(m);
}

TEST(manifest_docker_schema2)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body =
        "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"" BERTH_MT_DOCKER_MANIFEST "\",\n"
        "   \"config\": {\"mediaType\": \"application/vnd.docker.container.image.v1+json\", \"size\": 7023,"
        " \"digest\": \"sha256:" H_CONFIG "\"},\n   \"layers\": [\n"
        "      {\"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": 32654,"
        " \"digest\": \"sha256:" H_LAYER1 "\"}\n   ]\n}\n";

    ASSERT_RC(mparse(body, BERTH_MT_DOCKER_MANIFEST, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->kind, BERTH_MANIFEST_IMAGE);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_DOCKER_MANIFEST);
    ASSERT_EQ_INT(m->nblobs, 2);
    ASSERT_EQ_STR(m->blobs[1].media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
    ASSERT_EQ_STR(m->artifact_type, "application/vnd.docker.container.image.v1+json");
    berth_manifest_free(m);
}

TEST(manifest_oci_index)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body =
        "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"sha256:" H_CHILD1 "\",\"size\":7143,"
        "\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}},"
        "{\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"digest\":\"sha512:" H512_X "\",\"size\":0,"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}],"
        "\"annotations\":{\"com.example.key1\":\"value1\"}}";

    ASSERT_RC(mparse(body, NULL, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->kind, BERTH_MANIFEST_INDEX);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_OCI_INDEX);
    ASSERT_EQ_INT(m->nblobs, 0);
    ASSERT_EQ_INT(m->nchildren, 2);
    ASSERT_EQ_STR(m->children[0].digest.s, "sha256:" H_CHILD1);
    ASSERT_EQ_INT(m->children[0].size, 7143);
    ASSERT_EQ_INT(m->children[1].digest.alg, BERTH_DIGEST_SHA512);
    ASSERT_EQ_INT(m->children[1].size, 0);
    ASSERT_TRUE(m->artifact_type == NULL);
    ASSERT_EQ_STR(m->annotations_json, "{\"com.example.key1\":\"value1\"}");
    berth_manifest_free(m);
}

TEST(manifest_docker_list)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body =
        "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_DOCKER_LIST "\",\"manifests\":["
        "{\"mediaType\":\"" BERTH_MT_DOCKER_MANIFEST "\",\"digest\":\"sha256:" H_CHILD1 "\",\"size\":528,"
        "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}";

    ASSERT_RC(mparse(body, BERTH_MT_DOCKER_LIST, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->kind, BERTH_MANIFEST_INDEX);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_DOCKER_LIST);
    ASSERT_EQ_INT(m->nchildren, 1);
    ASSERT_EQ_STR(m->children[0].media_type, BERTH_MT_DOCKER_MANIFEST);
    berth_manifest_free(m);
}

TEST(manifest_empty_index)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;

    ASSERT_RC(mparse("{\"schemaVersion\":2,\"manifests\":[]}", BERTH_MT_OCI_INDEX, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->nchildren, 0);
    ASSERT_TRUE(m->children == NULL);
    berth_manifest_free(m);
}

TEST(manifest_artifact_with_empty_config)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body =
        "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\","
        "\"artifactType\":\"application/vnd.example.sbom.v1\","
        "\"config\":{\"mediaType\":\"" BERTH_MT_OCI_EMPTY "\",\"digest\":\"sha256:" H_EMPTY "\",\"size\":2,"
        "\"data\":\"e30=\"},"
        "\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"sha256:" H_LAYER3 "\",\"size\":4242}]}";

    ASSERT_RC(mparse(body, BERTH_MT_OCI_MANIFEST, &m, &err), BERTH_OK);
    ASSERT_EQ_STR(m->artifact_type, "application/vnd.example.sbom.v1");
    ASSERT_EQ_STR(m->blobs[0].media_type, BERTH_MT_OCI_EMPTY);
    ASSERT_EQ_INT(m->blobs[0].size, 2);
    ASSERT_EQ_INT(m->nblobs, 2);
    berth_manifest_free(m);
}

TEST(manifest_subject_and_annotations)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body =
        "{ \"schemaVersion\" : 2, \"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\","
        "\"artifactType\":\"application/vnd.example.signature\","
        "\"config\":" DESC(BERTH_MT_OCI_EMPTY, H_EMPTY, 2) ",\"layers\":[" DESC(BERTH_MT_OCI_EMPTY, H_EMPTY, 2) "],"
        "\"subject\":" DESC(BERTH_MT_OCI_MANIFEST, H_SUBJECT, 1234) ","
        "\"annotations\": { \"org.opencontainers.image.created\" : \"2024-01-02T03:04:05Z\",\n"
        " \"b\": \"caf\\u00e9 \\\"q\\\"\" }, \"unknown\": [1, {\"x\": null}] }";

    ASSERT_RC(mparse(body, NULL, &m, &err), BERTH_OK);
    ASSERT_EQ_INT(m->has_subject, 1);
    ASSERT_EQ_STR(m->subject.digest.s, "sha256:" H_SUBJECT);
    ASSERT_EQ_STR(m->subject.media_type, BERTH_MT_OCI_MANIFEST);
    ASSERT_EQ_INT(m->subject.size, 1234);
    ASSERT_EQ_STR(m->annotations_json,
                  "{\"org.opencontainers.image.created\":\"2024-01-02T03:04:05Z\",\"b\":\"caf\xc3\xa9 \\\"q\\\"\"}");
    berth_manifest_free(m);
}

TEST(manifest_type_from_content_type)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body = "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, H_CONFIG, 1) ",\"layers\":[]}";

    ASSERT_RC(mparse(body, BERTH_MT_DOCKER_MANIFEST "; charset=utf-8", &m, &err), BERTH_OK);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_DOCKER_MANIFEST);
    ASSERT_EQ_INT(m->nblobs, 1);
    berth_manifest_free(m);
    m = NULL;
    ASSERT_RC(mparse(body, " Application/VND.OCI.Image.Manifest.v1+JSON ;x=y", &m, &err), BERTH_OK);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_OCI_MANIFEST);
    berth_manifest_free(m);
    m = NULL;
    /* body mediaType and Content-Type agree up to case and parameters */
    ASSERT_RC(mparse(good_image, "APPLICATION/vnd.oci.image.manifest.v1+json;charset=utf-8", &m, &err), BERTH_OK);
    berth_manifest_free(m);
}

TEST(manifest_type_inferred)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;

    ASSERT_RC(mparse("{\"schemaVersion\":2,\"manifests\":[" DESC(BERTH_MT_OCI_MANIFEST, H_CHILD2, 9) "]}", "",
                     &m, &err),
              BERTH_OK);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_OCI_INDEX);
    ASSERT_EQ_INT(m->kind, BERTH_MANIFEST_INDEX);
    berth_manifest_free(m);
    m = NULL;
    ASSERT_RC(mparse("{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, H_CONFIG, 1) ",\"layers\":[]}", NULL, &m,
                     &err),
              BERTH_OK);
    ASSERT_EQ_STR(m->media_type, BERTH_MT_OCI_MANIFEST);
    berth_manifest_free(m);
    expect_bad_manifest("{\"schemaVersion\":2}", NULL, "cannot tell the manifest type");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":[]}", " ; x", "cannot tell the manifest type");
}

TEST(manifest_rejects_bad_json)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    size_t n = strlen(good_image), i;

    expect_bad_manifest("", NULL, "empty");
    expect_bad_manifest("{", NULL, "not valid JSON");
    expect_bad_manifest("not json", NULL, "not valid JSON");
    expect_bad_manifest("{\"schemaVersion\":}", NULL, "not valid JSON");
    expect_bad_manifest("{'schemaVersion':2}", NULL, "not valid JSON");
    expect_bad_manifest("{\"a\":\"\xff\xfe\"}", NULL, "not valid JSON");
    expect_bad_manifest("{\"a\":\"\\u0000\"}", NULL, "not valid JSON");
    expect_bad_manifest("{\"a\":\"\x01\"}", NULL, "not valid JSON");
    ASSERT_RC(berth_manifest_parse(NULL, 0, NULL, &m, &err), BERTH_EMANIFEST);
    /* every strict prefix of a good manifest is refused */
    for (i = 0; i < n; i++) {
        ASSERT_RC(berth_manifest_parse(good_image, i, BERTH_MT_OCI_MANIFEST, &m, &err), BERTH_EMANIFEST);
        ASSERT_TRUE(m == NULL);
    }
}

TEST(manifest_rejects_trailing_data)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    char *body = berth_xasprintf("%s x", good_image);

    expect_bad_manifest(body, NULL, "not valid JSON");
    free(body);
    body = berth_xasprintf("%s{}", good_image);
    expect_bad_manifest(body, NULL, "not valid JSON");
    free(body);
    body = berth_xasprintf("%s\n\t ", good_image);
    ASSERT_RC(mparse(body, NULL, &m, &err), BERTH_OK); /* trailing whitespace is still one JSON text */
    berth_manifest_free(m);
    free(body);
    /* a NUL after the object counts as trailing data */
    body = berth_xasprintf("%s_", good_image);
    body[strlen(good_image)] = '\0';
    ASSERT_RC(berth_manifest_parse(body, strlen(good_image) + 1, NULL, &m, &err), BERTH_EMANIFEST);
    free(body);
}

TEST(manifest_rejects_duplicate_keys)
{
    expect_bad_manifest("{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", NULL, "duplicate");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"sha256:" H_CONFIG
                                  "\",\"size\":1,\"size\":2}", ""),
                        NULL, "duplicate");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":\"1\",\"a\":\"2\"}}", NULL,
                        "duplicate");
}

TEST(manifest_rejects_non_object_root)
{
    expect_bad_manifest("[]", NULL, "must be a JSON object");
    expect_bad_manifest("[{\"schemaVersion\":2,\"manifests\":[]}]", NULL, "must be a JSON object");
    expect_bad_manifest("\"x\"", NULL, "not valid JSON");
    expect_bad_manifest("2", NULL, "not valid JSON");
    expect_bad_manifest("null", NULL, "not valid JSON");
}

TEST(manifest_schema_version)
{
    expect_bad_manifest("{\"manifests\":[]}", NULL, "schemaVersion is missing");
    expect_bad_manifest("{\"schemaVersion\":1,\"manifests\":[]}", NULL, "schema 1");
    expect_bad_manifest("{\"schemaVersion\":\"2\",\"manifests\":[]}", NULL, "schemaVersion must be the integer 2");
    expect_bad_manifest("{\"schemaVersion\":2.0,\"manifests\":[]}", NULL, "schemaVersion must be the integer 2");
    expect_bad_manifest("{\"schemaVersion\":3,\"manifests\":[]}", NULL, "schemaVersion must be the integer 2");
    expect_bad_manifest("{\"schemaVersion\":null,\"manifests\":[]}", NULL, "schemaVersion must be the integer 2");
    expect_bad_manifest("{\"schemaVersion\":99999999999999999999999,\"manifests\":[]}", NULL, "not valid JSON");
}

TEST(manifest_content_type_mismatch)
{
    expect_bad_manifest(good_image, BERTH_MT_OCI_INDEX, "does not match Content-Type");
    expect_bad_manifest(good_image, BERTH_MT_DOCKER_MANIFEST, "does not match Content-Type");
    expect_bad_manifest(good_image, "application/json", "does not match");
    expect_bad_manifest(good_image, "application/vnd.oci.image.manifest.v1+jsonx", "does not match");
}

TEST(manifest_unknown_media_type)
{
    const char *body = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.example+json\",\"manifests\":[]}";

    expect_bad_manifest(body, NULL, "unsupported manifest media type 'application/vnd.example+json'");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[]}", "application/octet-stream",
                        "unsupported manifest media type 'application/octet-stream'");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"\",\"manifests\":[]}", NULL, "unsupported");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":2,\"manifests\":[]}", NULL, "mediaType must be a string");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"a\\u0001\\n\\u00ff\",\"manifests\":[]}", NULL,
                        "'a\\x01\\x0a\\xc3\\xbf'");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[]}", BERTH_MT_OCI_EMPTY, "unsupported");
}

TEST(manifest_docker_schema1_refused)
{
    const char *s1 = "{\"schemaVersion\":1,\"name\":\"a/b\",\"tag\":\"latest\",\"architecture\":\"amd64\","
                     "\"fsLayers\":[{\"blobSum\":\"sha256:" H_LAYER1 "\"}],\"history\":[]}";

    expect_bad_manifest(s1, "application/vnd.docker.distribution.manifest.v1+prettyjws",
                        "Docker schema 1 manifests are not supported");
    expect_bad_manifest(s1, "application/vnd.docker.distribution.manifest.v1+json",
                        "Docker schema 1 manifests are not supported");
    expect_bad_manifest(s1, NULL, "Docker schema 1 manifests are not supported");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}",
                        NULL, "Docker schema 1 manifests are not supported");
}

TEST(manifest_missing_required_fields)
{
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"layers\":[]}", NULL,
                        "config is missing");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"config\":"
                        DESC(MT_CONFIG, H_CONFIG, 1) "}", NULL, "layers is missing");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_MANIFEST "\",\"config\":"
                        DESC(MT_CONFIG, H_CONFIG, 1) ",\"layers\":{}}", NULL, "layers must be an array");
    expect_bad_manifest(OCI_IMAGE("[]", ""), NULL, "config must be a descriptor object");
    expect_bad_manifest(OCI_IMAGE("null", ""), NULL, "config must be a descriptor object");
    expect_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\"}", NULL, "manifests is missing");
}

TEST(manifest_docker_list_needs_manifests_array)
{
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":{}}", BERTH_MT_DOCKER_LIST,
                        "manifests must be an array");
    expect_bad_manifest("{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, H_CONFIG, 1) ",\"layers\":[]}",
                        BERTH_MT_OCI_INDEX, "manifests is missing");
}

TEST(manifest_bad_descriptor_digest)
{
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1), DESC(MT_LAYER, H_LAYER1, 1) ","
                                  DESC(MT_LAYER, H_LAYER2, 1) ",{\"mediaType\":\"" MT_LAYER
                                  "\",\"digest\":\"sha256:abc\",\"size\":1}"),
                        NULL, "layers[2].digest: ");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"md5:abc\",\"size\":1}", ""), NULL,
                        "config.digest: unsupported digest algorithm 'md5'");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"sha256:"
                                  "B79606FB3AFEA5BD1609ED40B622142F1C98125ABCFE89A76A661B0E8E343910\",\"size\":1}", ""),
                        NULL, "config.digest: invalid digest: hex must be lowercase");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"size\":1}", ""), NULL,
                        "config.digest is missing");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":7,\"size\":1}", ""), NULL,
                        "config.digest must be a string");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[" DESC(BERTH_MT_OCI_MANIFEST, H_CHILD1, 1) ","
                        "{\"mediaType\":\"x/y\",\"digest\":\"sha256:\",\"size\":1}]}",
                        NULL, "manifests[1].digest: ");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"subject\":"
                        "{\"mediaType\":\"x/y\",\"digest\":\"sha256\",\"size\":1}}",
                        NULL, "subject.digest: ");
}

TEST(manifest_bad_descriptor_size)
{
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, -1), ""), NULL,
                        "config.size must be a non-negative integer");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, "1"), ""), NULL, "config.size must be");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1.5), ""), NULL, "config.size must be");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1e3), ""), NULL, "config.size must be");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, null), ""), NULL, "config.size must be");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1), DESC(MT_LAYER, H_LAYER1, true)), NULL,
                        "layers[0].size must be");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"sha256:" H_CONFIG "\"}", ""), NULL,
                        "config.size is missing");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 99999999999999999999), ""), NULL, "not valid JSON");
}

TEST(manifest_bad_descriptor_media_type)
{
    expect_bad_manifest(OCI_IMAGE("{\"digest\":\"sha256:" H_CONFIG "\",\"size\":1}", ""), NULL,
                        "config.mediaType is missing");
    expect_bad_manifest(OCI_IMAGE("{\"mediaType\":1,\"digest\":\"sha256:" H_CONFIG "\",\"size\":1}", ""), NULL,
                        "config.mediaType must be a non-empty string");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1), DESC("", H_LAYER1, 1)), NULL,
                        "layers[0].mediaType must be a non-empty string");
    expect_bad_manifest(OCI_IMAGE(DESC(MT_CONFIG, H_CONFIG, 1), "1"), NULL, "layers[0] must be a descriptor object");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:" H_CHILD1 "\",\"size\":1}]}", NULL,
                        "manifests[0].mediaType is missing");
}

TEST(manifest_bad_optional_fields)
{
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":[]}", NULL,
                        "annotations must be an object");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"k\\n\":1}}", NULL,
                        "annotations['k\\x0a'] must be a string");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"artifactType\":5}", NULL,
                        "artifactType must be a non-empty string");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"artifactType\":\"\"}", NULL,
                        "artifactType must be a non-empty string");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"subject\":\"sha256:" H_SUBJECT "\"}", NULL,
                        "subject must be a descriptor object");
    expect_bad_manifest("{\"schemaVersion\":2,\"manifests\":[],\"subject\":null}", NULL,
                        "subject must be a descriptor object");
}

TEST(manifest_index_with_subject_and_artifact_type)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *body = "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\","
                       "\"artifactType\":\"application/vnd.example.bundle\",\"manifests\":["
                       DESC(BERTH_MT_OCI_MANIFEST, H_CHILD1, 10) "," DESC(BERTH_MT_OCI_MANIFEST, H_CHILD2, 20) "],"
                       "\"subject\":" DESC(BERTH_MT_OCI_INDEX, H_SUBJECT, 30) ",\"annotations\":{}}";

    ASSERT_RC(mparse(body, BERTH_MT_OCI_INDEX, &m, &err), BERTH_OK);
    ASSERT_EQ_STR(m->artifact_type, "application/vnd.example.bundle");
    ASSERT_EQ_INT(m->has_subject, 1);
    ASSERT_EQ_STR(m->subject.digest.s, "sha256:" H_SUBJECT);
    ASSERT_EQ_STR(m->annotations_json, "{}");
    ASSERT_EQ_INT(m->nchildren, 2);
    ASSERT_EQ_STR(m->children[1].digest.s, "sha256:" H_CHILD2);
    berth_manifest_free(m);
}

TEST(manifest_hostile_inputs)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    static const char nul_inside[] = "{\"schemaVersion\":2,\0\"manifests\":[]}";
    size_t depth = 100000, i;
    char *deep = berth_xmalloc(2 * depth + 1);

    /* nesting far past any sane depth is an error, not a stack overflow */
    for (i = 0; i < depth; i++) {
        deep[i] = '[';
        deep[depth + i] = ']';
    }
    deep[2 * depth] = '\0';
    ASSERT_RC(mparse(deep, NULL, &m, &err), BERTH_EMANIFEST);
    memcpy(deep, "{\"a\":", 5);
    deep[2 * depth - 1] = '}';
    ASSERT_RC(mparse(deep, NULL, &m, &err), BERTH_EMANIFEST);
    ASSERT_PRINTABLE(err.msg);
    free(deep);
    ASSERT_RC(berth_manifest_parse(nul_inside, sizeof(nul_inside) - 1, NULL, &m, &err), BERTH_EMANIFEST);
    ASSERT_PRINTABLE(err.msg);
    ASSERT_TRUE(m == NULL);
    berth_manifest_free(NULL);
}

TEST(manifest_type_known)
{
    ASSERT_TRUE(berth_manifest_type_known(BERTH_MT_OCI_MANIFEST));
    ASSERT_TRUE(berth_manifest_type_known(BERTH_MT_OCI_INDEX));
    ASSERT_TRUE(berth_manifest_type_known(BERTH_MT_DOCKER_MANIFEST));
    ASSERT_TRUE(berth_manifest_type_known(BERTH_MT_DOCKER_LIST));
    ASSERT_TRUE(berth_manifest_type_known(BERTH_MT_OCI_INDEX "; charset=utf-8"));
    ASSERT_TRUE(berth_manifest_type_known("Application/Vnd.Oci.Image.Index.V1+Json"));
    ASSERT_TRUE(!berth_manifest_type_known("application/vnd.docker.distribution.manifest.v1+prettyjws"));
    ASSERT_TRUE(!berth_manifest_type_known(BERTH_MT_OCI_EMPTY));
    ASSERT_TRUE(!berth_manifest_type_known("application/json"));
    ASSERT_TRUE(!berth_manifest_type_known(""));
    ASSERT_TRUE(!berth_manifest_type_known(";" BERTH_MT_OCI_INDEX));
    ASSERT_TRUE(!berth_manifest_type_known(NULL));
}

/* An image's platform from its configuration: words only, capped; anything else leaves it unknown. */
TEST(image_platform_from_config)
{
    char arch[BERTH_PLATFORM_MAX + 1], os[BERTH_PLATFORM_MAX + 1];
    const char *ok = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":{}}";
    const char *odd = "{\"architecture\":\"a rm\",\"os\":7}";
    const char *long_arch = "{\"architecture\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"os\":\"windows\"}";

    ASSERT_RC(berth_image_platform(ok, strlen(ok), arch, os), BERTH_OK);
    ASSERT_EQ_STR(arch, "arm64");
    ASSERT_EQ_STR(os, "linux");
    ASSERT_RC(berth_image_platform(odd, strlen(odd), arch, os), BERTH_OK);
    ASSERT_EQ_STR(arch, "");
    ASSERT_EQ_STR(os, "");
    ASSERT_RC(berth_image_platform(long_arch, strlen(long_arch), arch, os), BERTH_OK);
    ASSERT_EQ_STR(arch, "");
    ASSERT_EQ_STR(os, "windows");
    ASSERT_RC(berth_image_platform("[1]", 3, arch, os), BERTH_EINVAL);
    ASSERT_RC(berth_image_platform("{\"os\":\"linux\"", 13, arch, os), BERTH_EINVAL);
    ASSERT_EQ_STR(os, "");
    ASSERT_TRUE(berth_image_config_type(BERTH_MT_OCI_CONFIG));
    ASSERT_TRUE(berth_image_config_type(BERTH_MT_DOCKER_CONFIG));
    ASSERT_TRUE(!berth_image_config_type("application/vnd.cncf.helm.config.v1+json"));
    ASSERT_TRUE(!berth_image_config_type(NULL));
}
