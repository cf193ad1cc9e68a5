/*
 * test_jwt.c - the ES256 key ring (files, modes, rotation, JWKS) and JWT
 * signing and verification, including hand-forged hostile tokens.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/core_names.h>
#include "alloc.h"
#include "auth.h"
#include "base64.h"
#include "buf.h"
#include "util.h"
#include "test.h"

#define NOW 1700000000LL

/* ---------------------------------------------------------------- helpers */

static struct berth_keyring *ring_at(const char *dir)
{
    struct berth_keyring *kr = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_keyring_open(dir, &kr, &err);
    if (rc) BERTH_TEST_FAIL("berth_keyring_open(%s): %s", dir, err.msg);
    return kr;
}

static char *subdir(const char *name)
{
    return berth_xasprintf("%s/%s", berth_test_tmpdir(), name);
}

static struct berth_jwt_expect want_default(void)
{
    struct berth_jwt_expect w = {"berth", "reg.example", NULL, NOW, 60};
    return w;
}

/* Claims that pass want_default(), with room to vary exp and nbf. */
static char *claims_at(int64_t exp, int64_t nbf)
{
    return berth_xasprintf("{\"iss\":\"berth\",\"sub\":\"alice\",\"aud\":\"reg.example\",\"exp\":%lld,\"nbf\":%lld,"
                           "\"iat\":%lld,\"jti\":\"j-1\",\"grant_type\":\"access_token\","
                           "\"access\":[{\"type\":\"repository\",\"name\":\"a/b\",\"actions\":[\"pull\"]}]}",
                           (long long)exp, (long long)nbf, (long long)nbf);
}

static char *sign_str(struct berth_keyring *kr, const char *claims)
{
    struct berth_buf out = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_jwt_sign(kr, claims, strlen(claims), &out, &err);
    if (rc) BERTH_TEST_FAIL("berth_jwt_sign: %s", err.msg);
    return berth_buf_detach(&out, NULL);
}

static char *sign_ok(struct berth_keyring *kr)
{
    char *c = claims_at(NOW + 3600, NOW - 10);
    char *t = sign_str(kr, c);
    free(c);
    return t;
}

/* Verifies with want and returns the reason; BERTH_AUTH_OK only with BERTH_OK. */
static enum berth_auth_reason check_want(struct berth_keyring *kr, const char *tok, const struct berth_jwt_expect *w)
{
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why = BERTH_AUTH_NO_CREDENTIALS;
    enum berth_rc rc = berth_jwt_verify(kr, tok, strlen(tok), w, &c, &why, &err);

    if (rc == BERTH_OK && why != BERTH_AUTH_OK) BERTH_TEST_FAIL("BERTH_OK with reason %d", (int)why);
    if (rc != BERTH_OK && (rc != BERTH_EUNAUTHORIZED || why == BERTH_AUTH_OK))
        BERTH_TEST_FAIL("rc %s with reason %d", berth_rc_name(rc), (int)why);
    if (rc != BERTH_OK && (c.iss || c.raw_json)) BERTH_TEST_FAIL("claims filled on failure");
    berth_jwt_claims_release(&c);
    return why;
}

static enum berth_auth_reason check(struct berth_keyring *kr, const char *tok)
{
    struct berth_jwt_expect w = want_default();
    return check_want(kr, tok, &w);
}

#define ASSERT_REASON(expr, r) ASSERT_EQ_INT((expr), BERTH_AUTH_##r)

/* The ring's current private key, read back from its file as an operator would. */
static EVP_PKEY *ring_pkey(const char *dir, const char *kid)
{
    char *path = berth_xasprintf("%s/%s.pem", dir, kid);
    FILE *f = fopen(path, "r");
    EVP_PKEY *pk;

    if (!f) BERTH_TEST_FAIL("cannot open %s", path);
    pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk) BERTH_TEST_FAIL("cannot parse %s", path);
    free(path);
    return pk;
}

/* "b64url(hdr).b64url(claims)" with the exact bytes given. */
static void signing_input(struct berth_buf *b, const char *hdr, const char *claims)
{
    berth_b64url_encode(hdr, strlen(hdr), b);
    berth_buf_putc(b, '.');
    berth_b64url_encode(claims, strlen(claims), b);
}

/* Appends ".<ES256 raw signature>" of b's current contents by pk. */
static void append_es256(struct berth_buf *b, EVP_PKEY *pk)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[80], raw[64];
    size_t derlen = sizeof(der);
    const unsigned char *p = der;
    ECDSA_SIG *sig;
    const BIGNUM *r, *s;

    ASSERT_TRUE(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1);
    ASSERT_TRUE(EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)b->p, b->len) == 1);
    sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    ASSERT_TRUE(sig != NULL);
    ECDSA_SIG_get0(sig, &r, &s);
    ASSERT_EQ_INT(BN_bn2binpad(r, raw, 32), 32);
    ASSERT_EQ_INT(BN_bn2binpad(s, raw + 32, 32), 32);
    berth_buf_putc(b, '.');
    berth_b64url_encode(raw, sizeof(raw), b);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
}

/* A token with any header and claims text, properly ES256-signed by pk. */
static char *forge(EVP_PKEY *pk, const char *hdr, const char *claims)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    signing_input(&b, hdr, claims);
    append_es256(&b, pk);
    return berth_buf_detach(&b, NULL);
}

static char *hdr_for(const char *kid)
{
    return berth_xasprintf("{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
}

/* A ring in tmpdir/ring with its key loaded for forging. */
struct fixture {
    char *dir;
    struct berth_keyring *kr;
    char kid[64];
    char *hdr;
    EVP_PKEY *pk;
};

static void fixture_init(struct fixture *f)
{
    f->dir = subdir("ring");
    f->kr = ring_at(f->dir);
    snprintf(f->kid, sizeof(f->kid), "%s", berth_keyring_current_kid(f->kr));
    f->hdr = hdr_for(f->kid);
    f->pk = ring_pkey(f->dir, f->kid);
}

static void fixture_release(struct fixture *f)
{
    EVP_PKEY_free(f->pk);
    free(f->hdr);
    berth_keyring_close(f->kr);
    free(f->dir);
}

/* Forged with the fixture's key and header. */
static enum berth_auth_reason check_claims(struct fixture *f, const char *claims)
{
    char *t = forge(f->pk, f->hdr, claims);
    enum berth_auth_reason r = check(f->kr, t);
    free(t);
    return r;
}

static enum berth_auth_reason check_claims_want(struct fixture *f, const char *claims, const struct berth_jwt_expect *w)
{
    char *t = forge(f->pk, f->hdr, claims);
    enum berth_auth_reason r = check_want(f->kr, t, w);
    free(t);
    return r;
}

static enum berth_auth_reason check_header(struct fixture *f, const char *hdr)
{
    char *c = claims_at(NOW + 3600, NOW - 10);
    char *t = forge(f->pk, hdr, c);
    enum berth_auth_reason r = check(f->kr, t);
    free(t);
    free(c);
    return r;
}

/* ---------------------------------------------------------------- key ring */

TEST(keyring_creates_private_key_file)
{
    char *dir = subdir("keys/nested");
    struct berth_keyring *kr = ring_at(dir);
    const char *kid = berth_keyring_current_kid(kr);
    char *path = berth_xasprintf("%s/%s.pem", dir, kid);
    char *data = NULL;
    struct stat st;
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_EQ_INT(strlen(kid), 22);
    ASSERT_EQ_INT(stat(dir, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0700);
    ASSERT_EQ_INT(stat(path, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_RC(berth_read_file(path, 65536, &data, NULL, &err), BERTH_OK);
    ASSERT_TRUE(strstr(data, "-----BEGIN PRIVATE KEY-----") != NULL); /* PKCS#8 */
    free(data);
    free(path);
    berth_keyring_close(kr);
    berth_keyring_close(NULL);
    free(dir);
}

TEST(keyring_reopen_keeps_kid)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char kid[64], *tok;

    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(kr));
    tok = sign_ok(kr);
    berth_keyring_close(kr);
    kr = ring_at(dir);
    ASSERT_EQ_STR(berth_keyring_current_kid(kr), kid);
    ASSERT_REASON(check(kr, tok), OK);
    free(tok);
    berth_keyring_close(kr);
    free(dir);
}

TEST(keyring_refuses_key_readable_by_others)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *path = berth_xasprintf("%s/%s.pem", dir, berth_keyring_current_kid(kr));
    struct berth_err err = BERTH_ERR_INIT;
    static const mode_t modes[] = {0644, 0640, 0604, 0660, 0700};
    size_t i;

    berth_keyring_close(kr);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        ASSERT_EQ_INT(chmod(path, modes[i]), 0);
        kr = (struct berth_keyring *)&err; /* must be reset to NULL on failure */
        ASSERT_RC(berth_keyring_open(dir, &kr, &err), i + 1 < sizeof(modes) / sizeof(modes[0]) ? BERTH_ECONFIG
                                                                                                : BERTH_OK);
        if (i + 1 < sizeof(modes) / sizeof(modes[0])) {
            ASSERT_TRUE(kr == NULL);
            ASSERT_TRUE(strstr(err.msg, "must be mode 0600") != NULL);
            ASSERT_TRUE(strstr(err.msg, path) != NULL);
        }
    }
    /* 0700 has no group/other bits, so it loads. */
    berth_keyring_close(kr);
    ASSERT_EQ_INT(chmod(path, 0600), 0);
    kr = ring_at(dir);
    berth_keyring_close(kr);
    free(path);
    free(dir);
}

TEST(keyring_refuses_misnamed_and_broken_files)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *path = berth_xasprintf("%s/%s.pem", dir, berth_keyring_current_kid(kr));
    char *other = berth_xasprintf("%s/renamed.pem", dir);
    char *notes = berth_xasprintf("%s/README", dir);
    struct berth_err err = BERTH_ERR_INIT;
    const char *junk = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";

    berth_keyring_close(kr);
    /* The file name must be the key's own kid. */
    ASSERT_EQ_INT(rename(path, other), 0);
    ASSERT_RC(berth_keyring_open(dir, &kr, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "must be named") != NULL);
    /* Something that is not a key. */
    ASSERT_RC(berth_write_atomic(other, junk, strlen(junk), 0600, &err), BERTH_OK);
    ASSERT_RC(berth_keyring_open(dir, &kr, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "renamed.pem") != NULL);
    /* A mangled creation line. */
    ASSERT_RC(berth_write_atomic(other, "berth-key-created-ms: 12x\n", 26, 0600, &err), BERTH_OK);
    ASSERT_RC(berth_keyring_open(dir, &kr, &err), BERTH_ECONFIG);
    ASSERT_EQ_INT(unlink(other), 0);
    /* Files that are not *.pem are not keys and are left alone; an empty folder gets a new key. */
    ASSERT_RC(berth_write_atomic(notes, "x", 1, 0644, &err), BERTH_OK);
    kr = ring_at(dir);
    ASSERT_TRUE(berth_keyring_current_kid(kr) != NULL);
    berth_keyring_close(kr);
    free(notes);
    free(path);
    free(other);
    free(dir);
}

TEST(keyring_rotate_keeps_old_tokens_valid)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_err err = BERTH_ERR_INIT;
    char kid1[64], *t1, *t2;
    struct berth_buf hdr = BERTH_BUF_INIT(0);

    snprintf(kid1, sizeof(kid1), "%s", berth_keyring_current_kid(kr));
    t1 = sign_ok(kr);
    ASSERT_RC(berth_keyring_rotate(kr, &err), BERTH_OK);
    ASSERT_TRUE(strcmp(berth_keyring_current_kid(kr), kid1) != 0);
    t2 = sign_ok(kr);
    ASSERT_REASON(check(kr, t1), OK);
    ASSERT_REASON(check(kr, t2), OK);
    /* The new token names the new key. */
    ASSERT_RC(berth_b64url_decode(t2, (size_t)(strchr(t2, '.') - t2), &hdr, &err), BERTH_OK);
    ASSERT_TRUE(strstr(berth_buf_str(&hdr), berth_keyring_current_kid(kr)) != NULL);
    berth_buf_release(&hdr);
    free(t1);
    free(t2);
    berth_keyring_close(kr);
    free(dir);
}

TEST(keyring_newest_key_signs_after_reopen)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_err err = BERTH_ERR_INIT;
    char last[64];
    int i;

    /* Several rotations within one millisecond still have a strict order. */
    for (i = 0; i < 4; i++) ASSERT_RC(berth_keyring_rotate(kr, &err), BERTH_OK);
    snprintf(last, sizeof(last), "%s", berth_keyring_current_kid(kr));
    berth_keyring_close(kr);
    kr = ring_at(dir);
    ASSERT_EQ_STR(berth_keyring_current_kid(kr), last);
    berth_keyring_close(kr);
    free(dir);
}

TEST(keyring_retire_deletes_old_keys_but_not_signer)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_err err = BERTH_ERR_INIT;
    char kid1[64], *path1, *t1, *t2;
    struct stat st;

    snprintf(kid1, sizeof(kid1), "%s", berth_keyring_current_kid(kr));
    path1 = berth_xasprintf("%s/%s.pem", dir, kid1);
    t1 = sign_ok(kr);
    /* Nothing was created before the epoch. */
    ASSERT_RC(berth_keyring_retire(kr, 0, &err), BERTH_OK);
    ASSERT_REASON(check(kr, t1), OK);
    /* Retiring everything keeps the signer. */
    ASSERT_RC(berth_keyring_retire(kr, INT64_MAX, &err), BERTH_OK);
    ASSERT_EQ_STR(berth_keyring_current_kid(kr), kid1);
    ASSERT_REASON(check(kr, t1), OK);

    ASSERT_RC(berth_keyring_rotate(kr, &err), BERTH_OK);
    t2 = sign_ok(kr);
    ASSERT_RC(berth_keyring_retire(kr, berth_now_s() + 1, &err), BERTH_OK);
    ASSERT_REASON(check(kr, t1), UNKNOWN_KEY);
    ASSERT_REASON(check(kr, t2), OK);
    ASSERT_TRUE(stat(path1, &st) != 0);
    berth_keyring_close(kr);
    /* And it stays gone. */
    kr = ring_at(dir);
    ASSERT_REASON(check(kr, t1), UNKNOWN_KEY);
    ASSERT_REASON(check(kr, t2), OK);
    berth_keyring_close(kr);
    free(t1);
    free(t2);
    free(path1);
    free(dir);
}

static void check_coord(json_t *key, const char *name, const BIGNUM *want)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    const char *s = json_string_value(json_object_get(key, name));
    unsigned char raw[32];

    ASSERT_TRUE(s != NULL);
    ASSERT_RC(berth_b64url_decode(s, strlen(s), &b, &err), BERTH_OK);
    ASSERT_EQ_INT(b.len, 32);
    ASSERT_EQ_INT(BN_bn2binpad(want, raw, 32), 32);
    ASSERT_TRUE(memcmp(raw, b.p, 32) == 0);
    berth_buf_release(&b);
}

TEST(keyring_jwks_lists_public_keys)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char kid1[64];
    json_t *doc, *keys, *k;
    EVP_PKEY *pk;
    BIGNUM *x = NULL, *y = NULL;
    size_t i;

    snprintf(kid1, sizeof(kid1), "%s", berth_keyring_current_kid(kr));
    ASSERT_RC(berth_keyring_rotate(kr, &err), BERTH_OK);
    berth_keyring_jwks(kr, &b);
    doc = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL);
    ASSERT_TRUE(json_is_object(doc));
    keys = json_object_get(doc, "keys");
    ASSERT_TRUE(json_is_array(keys));
    ASSERT_EQ_INT(json_array_size(keys), 2);
    /* The signer comes first. */
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(keys, 0), "kid")),
                  berth_keyring_current_kid(kr));
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(keys, 1), "kid")), kid1);
    json_array_foreach(keys, i, k)
    {
        ASSERT_EQ_STR(json_string_value(json_object_get(k, "kty")), "EC");
        ASSERT_EQ_STR(json_string_value(json_object_get(k, "crv")), "P-256");
        ASSERT_EQ_STR(json_string_value(json_object_get(k, "use")), "sig");
        ASSERT_EQ_STR(json_string_value(json_object_get(k, "alg")), "ES256");
        ASSERT_TRUE(json_object_get(k, "d") == NULL); /* never the private part */
        pk = ring_pkey(dir, json_string_value(json_object_get(k, "kid")));
        ASSERT_TRUE(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &x));
        ASSERT_TRUE(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &y));
        check_coord(k, "x", x);
        check_coord(k, "y", y);
        BN_free(x);
        BN_free(y);
        x = y = NULL;
        EVP_PKEY_free(pk);
    }
    json_decref(doc);
    berth_buf_release(&b);
    berth_keyring_close(kr);
    free(dir);
}

/* ---------------------------------------------------------------- key storage */

/* A key storage in memory, as the metadata store servers share is one: texts by kid, one lock. */
#define MEM_KEYS 64
struct mem_store {
    pthread_mutex_t lock;
    char *kid[MEM_KEYS], *text[MEM_KEYS];
    int64_t created[MEM_KEYS];
    size_t n;
    int adds, removes;
    enum berth_rc fail; /* list answers this when set */
};

static void mem_init(struct mem_store *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

static void mem_release(struct mem_store *s)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        free(s->kid[i]);
        free(s->text[i]);
    }
    pthread_mutex_destroy(&s->lock);
}

static enum berth_rc mem_list(void *ctx, berth_keyring_text_fn fn, void *fnctx, struct berth_err *err)
{
    struct mem_store *s = ctx;
    size_t i;

    if (s->fail) return berth_err_set(err, s->fail, "the store is down");
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->n; i++)
        if (fn(s->kid[i], s->created[i], s->text[i], fnctx)) break;
    pthread_mutex_unlock(&s->lock);
    return BERTH_OK;
}

static enum berth_rc mem_add(void *ctx, const char *kid, int64_t created_ms, const char *text, struct berth_err *err)
{
    struct mem_store *s = ctx;
    size_t i;

    (void)err;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->n && strcmp(s->kid[i], kid) != 0; i++) continue;
    if (i == s->n && s->n < MEM_KEYS) {
        s->kid[s->n] = berth_xstrdup(kid);
        s->text[s->n] = berth_xstrdup(text);
        s->created[s->n++] = created_ms;
        s->adds++;
    }
    pthread_mutex_unlock(&s->lock);
    return BERTH_OK;
}

static enum berth_rc mem_remove(void *ctx, const char *kid, struct berth_err *err)
{
    struct mem_store *s = ctx;
    size_t i;

    (void)err;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->n; i++) {
        if (strcmp(s->kid[i], kid) != 0) continue;
        free(s->kid[i]);
        free(s->text[i]);
        s->n--;
        s->kid[i] = s->kid[s->n];
        s->text[i] = s->text[s->n];
        s->created[i] = s->created[s->n];
        s->removes++;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return BERTH_OK;
}

static struct berth_keyring *ring_over(struct mem_store *s, int create)
{
    struct berth_keyring_storage st = {mem_list, mem_add, mem_remove, s, "the test store"};
    struct berth_keyring *kr = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_keyring_open_storage(&st, create, &kr, &err);
    if (rc) BERTH_TEST_FAIL("berth_keyring_open_storage: %s", err.msg);
    return kr;
}

/* The text of kid in s (borrowed), or NULL. */
static const char *mem_text(struct mem_store *s, const char *kid)
{
    size_t i;
    for (i = 0; i < s->n; i++)
        if (!strcmp(s->kid[i], kid)) return s->text[i];
    return NULL;
}

static enum berth_rc reload(struct berth_keyring *kr)
{
    struct berth_err err = BERTH_ERR_INIT;
    return berth_keyring_reload(kr, &err);
}

TEST(keyring_storage_gets_a_first_key_as_a_key_file_text)
{
    struct mem_store s;
    struct berth_keyring *kr, *again;
    struct berth_keyring_storage st = {mem_list, mem_add, mem_remove, &s, "the test store"};
    struct berth_err err = BERTH_ERR_INIT;
    const char *text;
    char kid[64], *tok;

    mem_init(&s);
    /* without create, an empty storage is BERTH_ENOENT and nothing is stored */
    kr = (struct berth_keyring *)&err;
    ASSERT_RC(berth_keyring_open_storage(&st, 0, &kr, &err), BERTH_ENOENT);
    ASSERT_TRUE(kr == NULL);
    ASSERT_TRUE(strstr(err.msg, "the test store") != NULL);
    ASSERT_EQ_INT(s.n, 0);
    st.remove = NULL;
    ASSERT_RC(berth_keyring_open_storage(&st, 1, &kr, &err), BERTH_EINVAL);
    kr = ring_over(&s, 1);
    ASSERT_EQ_INT(s.n, 1);
    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(kr));
    ASSERT_EQ_STR(s.kid[0], kid);
    text = mem_text(&s, kid);
    ASSERT_TRUE(!strncmp(text, "berth-key-created-ms: ", 22));
    ASSERT_TRUE(strstr(text, "\n-----BEGIN PRIVATE KEY-----\n") != NULL);
    ASSERT_EQ_INT(s.created[0], berth_keyring_current_created_ms(kr));
    tok = sign_ok(kr);
    /* another ring over the same storage has the same key */
    again = ring_over(&s, 1);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_STR(berth_keyring_current_kid(again), kid);
    ASSERT_REASON(check(again, tok), OK);
    berth_keyring_close(again);
    berth_keyring_close(kr);
    free(tok);
    mem_release(&s);
}

/* What berth migrate does: a key file's text, stored as it is, is the same key. */
TEST(keyring_storage_takes_key_file_texts_as_they_are)
{
    char *dir = subdir("ring"), *path, *data = NULL, *bare, *tok;
    struct berth_keyring *folder = ring_at(dir), *kr;
    struct berth_err err = BERTH_ERR_INIT;
    struct mem_store s;
    char kid[64];

    mem_init(&s);
    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(folder));
    path = berth_xasprintf("%s/%s.pem", dir, kid);
    ASSERT_RC(berth_read_file(path, 65536, &data, NULL, &err), BERTH_OK);
    ASSERT_RC(mem_add(&s, kid, 1, data, &err), BERTH_OK);
    tok = sign_ok(folder);
    kr = ring_over(&s, 0);
    ASSERT_EQ_STR(berth_keyring_current_kid(kr), kid);
    /* the text's own line says when the key was made, not the storage's time */
    ASSERT_EQ_INT(berth_keyring_current_created_ms(kr), berth_keyring_current_created_ms(folder));
    ASSERT_REASON(check(kr, tok), OK);
    berth_keyring_close(kr);
    /* a text without the line (a key brought in by hand) takes the storage's time */
    bare = strstr(data, "-----BEGIN");
    ASSERT_RC(mem_remove(&s, kid, &err), BERTH_OK);
    ASSERT_RC(mem_add(&s, kid, 4242, bare, &err), BERTH_OK);
    kr = ring_over(&s, 0);
    ASSERT_EQ_INT(berth_keyring_current_created_ms(kr), 4242);
    ASSERT_REASON(check(kr, tok), OK);
    berth_keyring_close(kr);
    /* stored under another kid: refused, naming the kid, the storage and the right kid */
    ASSERT_RC(mem_remove(&s, kid, &err), BERTH_OK);
    ASSERT_RC(mem_add(&s, "wrong-kid", 1, data, &err), BERTH_OK);
    kr = ring_at(dir); /* the folder is untouched by all this */
    berth_keyring_close(kr);
    {
        struct berth_keyring_storage st = {mem_list, mem_add, mem_remove, &s, "the test store"};
        ASSERT_RC(berth_keyring_open_storage(&st, 1, &kr, &err), BERTH_ECONFIG);
        ASSERT_TRUE(strstr(err.msg, "signing key 'wrong-kid' of the test store") != NULL);
        ASSERT_TRUE(strstr(err.msg, kid) != NULL);
        ASSERT_TRUE(strstr(err.msg, "PRIVATE") == NULL); /* never the key itself */
        ASSERT_RC(mem_remove(&s, "wrong-kid", &err), BERTH_OK);
        ASSERT_RC(mem_add(&s, "junk", 1, "-----BEGIN PRIVATE KEY-----\nbm90\n-----END PRIVATE KEY-----\n", &err),
                  BERTH_OK);
        ASSERT_RC(berth_keyring_open_storage(&st, 1, &kr, &err), BERTH_ECONFIG);
        ASSERT_TRUE(strstr(err.msg, "signing key 'junk' of the test store holds no unencrypted PEM") != NULL);
    }
    berth_keyring_close(folder);
    free(tok);
    free(data);
    free(path);
    free(dir);
    mem_release(&s);
}

/* Two servers over one storage: a key one makes is picked up by the other's reload, and then signs there. */
TEST(keyring_reload_picks_up_another_rings_keys)
{
    struct mem_store s;
    struct berth_keyring *a, *b;
    struct berth_err err = BERTH_ERR_INIT;
    char kid1[64], kid2[64];
    char *t1, *t2, *tb;

    mem_init(&s);
    a = ring_over(&s, 1);
    b = ring_over(&s, 1);
    snprintf(kid1, sizeof(kid1), "%s", berth_keyring_current_kid(a));
    ASSERT_EQ_STR(berth_keyring_current_kid(b), kid1);
    t1 = sign_ok(a);
    ASSERT_RC(berth_keyring_rotate(a, &err), BERTH_OK);
    ASSERT_EQ_INT(s.n, 2);
    snprintf(kid2, sizeof(kid2), "%s", berth_keyring_current_kid(a));
    t2 = sign_ok(a);
    /* b does not know the new key until it reads the storage again */
    ASSERT_REASON(check(b, t1), OK);
    ASSERT_REASON(check(b, t2), UNKNOWN_KEY);
    ASSERT_EQ_STR(berth_keyring_current_kid(b), kid1);
    ASSERT_RC(reload(b), BERTH_OK);
    ASSERT_REASON(check(b, t2), OK);
    ASSERT_REASON(check(b, t1), OK);
    /* and the newest key signs there now */
    ASSERT_EQ_STR(berth_keyring_current_kid(b), kid2);
    tb = sign_ok(b);
    ASSERT_REASON(check(a, tb), OK);
    /* a retire on a removes the key from the storage; b drops it at its next read */
    ASSERT_RC(berth_keyring_retire(a, INT64_MAX, &err), BERTH_OK);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_INT(s.removes, 1);
    ASSERT_REASON(check(b, t1), OK);
    ASSERT_RC(reload(b), BERTH_OK);
    ASSERT_REASON(check(b, t1), UNKNOWN_KEY);
    ASSERT_REASON(check(b, tb), OK);
    free(t1);
    free(t2);
    free(tb);
    berth_keyring_close(a);
    berth_keyring_close(b);
    mem_release(&s);
}

/* A reload that fails leaves the ring as it was, still signing and verifying. */
TEST(keyring_reload_failures_keep_the_ring)
{
    struct mem_store s;
    struct berth_keyring *kr;
    struct berth_err err = BERTH_ERR_INIT;
    char kid[64], *tok;

    mem_init(&s);
    kr = ring_over(&s, 1);
    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(kr));
    tok = sign_ok(kr);
    s.fail = BERTH_EDB;
    ASSERT_RC(reload(kr), BERTH_EDB);
    s.fail = BERTH_OK;
    ASSERT_RC(mem_add(&s, "bad", 1, "not a key", &err), BERTH_OK);
    ASSERT_RC(berth_keyring_reload(kr, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "'bad'") != NULL);
    ASSERT_RC(mem_remove(&s, "bad", &err), BERTH_OK);
    /* a storage emptied by hand: the loaded keys stay */
    ASSERT_RC(mem_remove(&s, kid, &err), BERTH_OK);
    ASSERT_RC(berth_keyring_reload(kr, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(berth_keyring_current_kid(kr), kid);
    ASSERT_REASON(check(kr, tok), OK);
    free(tok);
    tok = sign_ok(kr);
    ASSERT_REASON(check(kr, tok), OK);
    free(tok);
    berth_keyring_close(kr);
    mem_release(&s);
}

struct first_start {
    struct mem_store *s;
    pthread_barrier_t *go;
    struct berth_keyring *kr;
    enum berth_rc rc;
};

static void *open_at_once(void *p)
{
    struct first_start *f = p;
    struct berth_keyring_storage st = {mem_list, mem_add, mem_remove, f->s, "the test store"};
    struct berth_err err = BERTH_ERR_INIT;

    pthread_barrier_wait(f->go);
    f->rc = berth_keyring_open_storage(&st, 1, &f->kr, &err);
    return NULL;
}

/* Servers starting at once on an empty storage may each make a key; after a reload every one verifies every key. */
TEST(keyring_first_starts_at_once_end_with_working_keys)
{
    struct mem_store s;
    struct first_start f[4];
    pthread_t th[4];
    pthread_barrier_t go;
    char *tok[4];
    int i, j;

    mem_init(&s);
    pthread_barrier_init(&go, NULL, 4);
    for (i = 0; i < 4; i++) {
        f[i] = (struct first_start){&s, &go, NULL, BERTH_EINTERNAL};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, open_at_once, &f[i]), 0);
    }
    for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ASSERT_TRUE(s.n >= 1 && s.n <= 4);
    for (i = 0; i < 4; i++) {
        ASSERT_RC(f[i].rc, BERTH_OK);
        tok[i] = sign_ok(f[i].kr);
    }
    for (i = 0; i < 4; i++) ASSERT_RC(reload(f[i].kr), BERTH_OK);
    for (i = 0; i < 4; i++) {
        for (j = 0; j < 4; j++) ASSERT_REASON(check(f[i].kr, tok[j]), OK);
        /* one signer for all */
        ASSERT_EQ_STR(berth_keyring_current_kid(f[i].kr), berth_keyring_current_kid(f[0].kr));
    }
    for (i = 0; i < 4; i++) {
        free(tok[i]);
        berth_keyring_close(f[i].kr);
    }
    mem_release(&s);
}

/* ---------------------------------------------------------------- sign and verify */

TEST(jwt_roundtrip_fills_claims)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why = BERTH_AUTH_NO_CREDENTIALS;
    char *tok = sign_ok(kr);

    w.grant_type = "access_token";
    ASSERT_RC(berth_jwt_verify(kr, tok, strlen(tok), &w, &c, &why, &err), BERTH_OK);
    ASSERT_REASON(why, OK);
    ASSERT_EQ_STR(c.iss, "berth");
    ASSERT_EQ_STR(c.sub, "alice");
    ASSERT_EQ_STR(c.aud, "reg.example");
    ASSERT_EQ_STR(c.jti, "j-1");
    ASSERT_EQ_STR(c.grant_type, "access_token");
    ASSERT_EQ_INT(c.exp, NOW + 3600);
    ASSERT_EQ_INT(c.nbf, NOW - 10);
    ASSERT_EQ_INT(c.iat, NOW - 10);
    ASSERT_EQ_STR(c.access_json, "[{\"type\":\"repository\",\"name\":\"a/b\",\"actions\":[\"pull\"]}]");
    ASSERT_TRUE(strncmp(c.raw_json, "{\"iss\":\"berth\",\"sub\":\"alice\"", 27) == 0);
    berth_jwt_claims_release(&c);
    ASSERT_TRUE(c.iss == NULL && c.raw_json == NULL);
    berth_jwt_claims_release(&c);
    free(tok);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_raw_json_is_compact)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    char *t;

    fixture_init(&f);
    t = forge(f.pk, f.hdr,
              "{ \"iss\" : \"berth\",\n \"aud\":\"reg.example\", \"exp\": 1700003600,"
              " \"access\" : [ ], \"x\": [1e300, \"\\u00e9\", {\"a b\" : null}] }");
    ASSERT_RC(berth_jwt_verify(f.kr, t, strlen(t), &w, &c, &why, &err), BERTH_OK);
    ASSERT_EQ_STR(c.access_json, "[]");
    {
        const char *prefix = "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600,\"access\":[],\"x\":[1";
        ASSERT_TRUE(strncmp(c.raw_json, prefix, strlen(prefix)) == 0);
    }
    ASSERT_TRUE(strstr(c.raw_json, "\"\xc3\xa9\",{\"a b\":null}]}") != NULL);
    berth_jwt_claims_release(&c);
    free(t);
    fixture_release(&f);
}

TEST(jwt_header_and_shape)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char *tok = sign_ok(kr), *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *want = hdr_for(berth_keyring_current_kid(kr));

    ASSERT_RC(berth_b64url_decode(tok, (size_t)(d1 - tok), &b, &err), BERTH_OK);
    ASSERT_EQ_STR(berth_buf_str(&b), want);
    ASSERT_EQ_INT(strlen(d2 + 1), 86); /* 64 raw bytes */
    berth_buf_reset(&b);
    ASSERT_RC(berth_b64url_decode(d2 + 1, 86, &b, &err), BERTH_OK);
    ASSERT_EQ_INT(b.len, 64);
    berth_buf_release(&b);
    free(want);
    free(tok);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_sign_refuses_non_object_and_oversize)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    struct berth_buf out = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    char big[7000];

    ASSERT_RC(berth_jwt_sign(kr, "[1]", 3, &out, &err), BERTH_EINVAL);
    ASSERT_RC(berth_jwt_sign(kr, "", 0, &out, &err), BERTH_EINVAL);
    ASSERT_RC(berth_jwt_sign(kr, NULL, 0, &out, &err), BERTH_EINVAL);
    ASSERT_EQ_INT(out.len, 0);
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    ASSERT_RC(berth_jwt_sign(kr, big, sizeof(big), &out, &err), BERTH_ETOOBIG);
    ASSERT_RC(berth_jwt_sign(kr, " {} ", 4, &out, &err), BERTH_OK);
    berth_buf_release(&out);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_tampered_payload_fails)
{
    struct fixture f;
    char *c = claims_at(NOW + 3600, NOW - 10), *tok, *evil, *p;
    struct berth_buf b = BERTH_BUF_INIT(0);

    fixture_init(&f);
    tok = sign_str(f.kr, c);
    /* Swap in other claims under the old signature. */
    evil = berth_xasprintf("{\"iss\":\"berth\",\"sub\":\"admin\",\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 9);
    berth_buf_append(&b, tok, (size_t)(strchr(tok, '.') - tok) + 1);
    berth_b64url_encode(evil, strlen(evil), &b);
    berth_buf_puts(&b, strrchr(tok, '.'));
    ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
    /* One character of the original payload. */
    p = strchr(tok, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    ASSERT_REASON(check(f.kr, tok), BAD_SIGNATURE);
    berth_buf_release(&b);
    free(evil);
    free(tok);
    free(c);
    fixture_release(&f);
}

TEST(jwt_tampered_signature_fails)
{
    struct fixture f;
    char *tok, *sig;
    size_t i;

    fixture_init(&f);
    tok = sign_ok(f.kr);
    sig = strrchr(tok, '.') + 1;
    for (i = 0; i < 85; i += 7) {
        char keep = sig[i];
        sig[i] = keep == 'A' ? 'B' : 'A';
        ASSERT_REASON(check(f.kr, tok), BAD_SIGNATURE);
        sig[i] = keep;
    }
    ASSERT_REASON(check(f.kr, tok), OK);
    /* R and S swapped. */
    {
        struct berth_buf raw = BERTH_BUF_INIT(0), b = BERTH_BUF_INIT(0);
        struct berth_err err = BERTH_ERR_INIT;
        unsigned char sw[64];
        ASSERT_RC(berth_b64url_decode(sig, strlen(sig), &raw, &err), BERTH_OK);
        memcpy(sw, raw.p + 32, 32);
        memcpy(sw + 32, raw.p, 32);
        berth_buf_append(&b, tok, (size_t)(sig - tok));
        berth_b64url_encode(sw, 64, &b);
        ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
        berth_buf_release(&raw);
        berth_buf_release(&b);
    }
    free(tok);
    fixture_release(&f);
}

TEST(jwt_signature_by_another_key_fails)
{
    struct fixture f;
    char *odir = subdir("other");
    struct berth_keyring *other;
    EVP_PKEY *opk;
    char *c = claims_at(NOW + 3600, NOW - 10), *tok;

    fixture_init(&f);
    other = ring_at(odir);
    opk = ring_pkey(odir, berth_keyring_current_kid(other));
    /* Another ring's own token names a kid this ring does not hold. */
    tok = sign_str(other, c);
    ASSERT_REASON(check(f.kr, tok), UNKNOWN_KEY);
    free(tok);
    /* Claiming this ring's kid while signing with the other key. */
    tok = forge(opk, f.hdr, c);
    ASSERT_REASON(check(f.kr, tok), BAD_SIGNATURE);
    free(tok);
    EVP_PKEY_free(opk);
    berth_keyring_close(other);
    free(odir);
    free(c);
    fixture_release(&f);
}

TEST(jwt_alg_none_is_refused)
{
    struct fixture f;
    char *c = claims_at(NOW + 3600, NOW - 10), *none_kid = NULL;
    static const char *hdrs[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}"};
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t i;

    fixture_init(&f);
    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        berth_buf_reset(&b);
        signing_input(&b, hdrs[i], c);
        berth_buf_putc(&b, '.'); /* empty signature */
        ASSERT_REASON(check(f.kr, b.p), ALG_MISMATCH);
    }
    none_kid = berth_xasprintf("{\"alg\":\"none\",\"kid\":\"%s\"}", f.kid);
    berth_buf_reset(&b);
    signing_input(&b, none_kid, c);
    berth_buf_putc(&b, '.');
    ASSERT_REASON(check(f.kr, b.p), ALG_MISMATCH);
    /* Without the trailing dot it is not even a JWS. */
    b.p[--b.len] = '\0';
    ASSERT_REASON(check(f.kr, b.p), MALFORMED_TOKEN);
    berth_buf_release(&b);
    free(none_kid);
    free(c);
    fixture_release(&f);
}

static void append_hs256(struct berth_buf *b, const void *key, size_t keylen)
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    ASSERT_TRUE(HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)b->p, b->len, mac, &maclen) != NULL);
    berth_buf_putc(b, '.');
    berth_b64url_encode(mac, maclen, b);
}

TEST(jwt_hs256_with_public_key_is_refused)
{
    struct fixture f;
    char *c = claims_at(NOW + 3600, NOW - 10), *hs;
    struct berth_buf b = BERTH_BUF_INIT(0), jwks = BERTH_BUF_INIT(0);
    unsigned char *der = NULL;
    int derlen;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pemlen;

    fixture_init(&f);
    hs = berth_xasprintf("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", f.kid);
    /* The classic confusion: the public key, in any form an attacker can fetch, as the HMAC secret. */
    ASSERT_TRUE(PEM_write_bio_PUBKEY(bio, f.pk));
    pemlen = BIO_get_mem_data(bio, &pem);
    signing_input(&b, hs, c);
    append_hs256(&b, pem, (size_t)pemlen);
    ASSERT_REASON(check(f.kr, b.p), ALG_MISMATCH);

    derlen = i2d_PUBKEY(f.pk, &der);
    ASSERT_TRUE(derlen > 0);
    berth_buf_reset(&b);
    signing_input(&b, hs, c);
    append_hs256(&b, der, (size_t)derlen);
    ASSERT_REASON(check(f.kr, b.p), ALG_MISMATCH);

    berth_keyring_jwks(f.kr, &jwks);
    berth_buf_reset(&b);
    signing_input(&b, hs, c);
    append_hs256(&b, jwks.p, jwks.len);
    ASSERT_REASON(check(f.kr, b.p), ALG_MISMATCH);

    OPENSSL_free(der);
    BIO_free(bio);
    berth_buf_release(&b);
    berth_buf_release(&jwks);
    free(hs);
    free(c);
    fixture_release(&f);
}

TEST(jwt_other_algs_are_refused)
{
    struct fixture f;
    static const char *algs[] = {"\"RS256\"", "\"ES384\"", "\"es256\"", "\"ES256 \"", "\"PS256\"", "\"EdDSA\"",
                                 "\"\"", "null", "256", "[\"ES256\"]", "{\"ES256\":1}", "true"};
    size_t i;

    fixture_init(&f);
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *h = berth_xasprintf("{\"alg\":%s,\"typ\":\"JWT\",\"kid\":\"%s\"}", algs[i], f.kid);
        if (check_header(&f, h) != BERTH_AUTH_ALG_MISMATCH) BERTH_TEST_FAIL("alg %s not refused", algs[i]);
        free(h);
    }
    {
        char *h = berth_xasprintf("{\"typ\":\"JWT\",\"kid\":\"%s\"}", f.kid);
        ASSERT_REASON(check_header(&f, h), ALG_MISMATCH); /* no alg at all */
        free(h);
    }
    fixture_release(&f);
}

TEST(jwt_kid_missing_or_unknown)
{
    struct fixture f;
    char *h;

    fixture_init(&f);
    ASSERT_REASON(check_header(&f, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"), UNKNOWN_KEY);
    ASSERT_REASON(check_header(&f, "{\"alg\":\"ES256\",\"kid\":\"AAAAAAAAAAAAAAAAAAAAAA\"}"), UNKNOWN_KEY);
    ASSERT_REASON(check_header(&f, "{\"alg\":\"ES256\",\"kid\":\"\"}"), UNKNOWN_KEY);
    ASSERT_REASON(check_header(&f, "{\"alg\":\"ES256\",\"kid\":7}"), UNKNOWN_KEY);
    ASSERT_REASON(check_header(&f, "{\"alg\":\"ES256\",\"kid\":null}"), UNKNOWN_KEY);
    /* A prefix or extension of the real kid is a different kid. */
    h = berth_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%.21s\"}", f.kid);
    ASSERT_REASON(check_header(&f, h), UNKNOWN_KEY);
    free(h);
    h = berth_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%sA\"}", f.kid);
    ASSERT_REASON(check_header(&f, h), UNKNOWN_KEY);
    free(h);
    /* The minimal good header. */
    h = berth_xasprintf("{\"kid\":\"%s\",\"alg\":\"ES256\"}", f.kid);
    ASSERT_REASON(check_header(&f, h), OK);
    free(h);
    fixture_release(&f);
}

TEST(jwt_crit_header_is_refused)
{
    struct fixture f;
    char *h;

    fixture_init(&f);
    h = berth_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"],\"exp\":1}", f.kid);
    ASSERT_REASON(check_header(&f, h), MALFORMED_TOKEN);
    free(h);
    fixture_release(&f);
}

TEST(jwt_wrong_issuer)
{
    struct fixture f;
    char *c;

    fixture_init(&f);
    c = berth_xasprintf("{\"iss\":\"someone\",\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_ISSUER);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berthx\",\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_ISSUER);
    free(c);
    c = berth_xasprintf("{\"iss\":[\"berth\"],\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_ISSUER);
    free(c);
    c = berth_xasprintf("{\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_ISSUER);
    free(c);
    fixture_release(&f);
}

TEST(jwt_wrong_audience)
{
    struct fixture f;
    char *c;

    fixture_init(&f);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"other.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"REG.EXAMPLE\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    fixture_release(&f);
}

TEST(jwt_audience_array)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims cl;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    char *c, *t;

    fixture_init(&f);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":[\"x\",1,\"reg.example\"],\"exp\":%lld}", NOW + 60);
    t = forge(f.pk, f.hdr, c);
    ASSERT_RC(berth_jwt_verify(f.kr, t, strlen(t), &w, &cl, &why, &err), BERTH_OK);
    ASSERT_EQ_STR(cl.aud, "reg.example");
    ASSERT_TRUE(cl.sub == NULL && cl.jti == NULL && cl.grant_type == NULL && cl.access_json == NULL);
    berth_jwt_claims_release(&cl);
    free(t);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":[\"x\",\"y\"],\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":[],\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":[[\"reg.example\"]],\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), WRONG_AUDIENCE);
    free(c);
    fixture_release(&f);
}

TEST(jwt_grant_type)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    char *c;

    fixture_init(&f);
    w.grant_type = "access_token";
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"grant_type\":\"refresh_token\",\"exp\":%lld}",
                        NOW + 60);
    ASSERT_REASON(check_claims_want(&f, c, &w), WRONG_GRANT);
    w.grant_type = "refresh_token";
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    w.grant_type = NULL;
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    w.grant_type = "access_token";
    ASSERT_REASON(check_claims_want(&f, c, &w), WRONG_GRANT);
    free(c);
    /* With no grant asked for, a mistyped one is still malformed. */
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"grant_type\":1,\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), MALFORMED_TOKEN);
    free(c);
    fixture_release(&f);
}

TEST(jwt_expired_and_not_yet_valid)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *c, *t;

    c = claims_at(NOW - 3600, NOW - 7200);
    t = sign_str(kr, c);
    ASSERT_REASON(check(kr, t), TOKEN_EXPIRED);
    free(t);
    free(c);
    c = claims_at(NOW + 7200, NOW + 3600);
    t = sign_str(kr, c);
    ASSERT_REASON(check(kr, t), TOKEN_NOT_YET_VALID);
    free(t);
    free(c);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_leeway_on_both_sides)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default(); /* leeway 60 */
    char *c;

    fixture_init(&f);
    /* exp: valid up to exp + leeway inclusive. */
    c = claims_at(NOW - 60, NOW - 100);
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    c = claims_at(NOW - 61, NOW - 100);
    ASSERT_REASON(check_claims_want(&f, c, &w), TOKEN_EXPIRED);
    free(c);
    /* nbf: valid from nbf - leeway inclusive. */
    c = claims_at(NOW + 1000, NOW + 60);
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    c = claims_at(NOW + 1000, NOW + 61);
    ASSERT_REASON(check_claims_want(&f, c, &w), TOKEN_NOT_YET_VALID);
    free(c);
    /* No leeway: exactly exp and exactly nbf are still valid. */
    w.leeway = 0;
    c = claims_at(NOW, NOW);
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    c = claims_at(NOW - 1, NOW - 5);
    ASSERT_REASON(check_claims_want(&f, c, &w), TOKEN_EXPIRED);
    free(c);
    /* A negative leeway counts as none. */
    w.leeway = -100;
    c = claims_at(NOW, NOW);
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    fixture_release(&f);
}

TEST(jwt_extreme_times_do_not_wrap)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    char *c;

    fixture_init(&f);
    w.leeway = INT64_MAX;
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":9223372036854775807,"
                        "\"nbf\":9223372036854775807}");
    ASSERT_REASON(check_claims_want(&f, c, &w), OK);
    free(c);
    w.leeway = 60;
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":-9223372036854775807,"
                        "\"nbf\":-9223372036854775807}");
    ASSERT_REASON(check_claims_want(&f, c, &w), TOKEN_EXPIRED);
    free(c);
    /* Beyond int64: the JSON parser refuses it, so malformed. */
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":99999999999999999999}");
    ASSERT_REASON(check_claims_want(&f, c, &w), MALFORMED_TOKEN);
    free(c);
    fixture_release(&f);
}

TEST(jwt_exp_is_a_required_integer)
{
    struct fixture f;
    static const char *bad[] = {
        "{\"iss\":\"berth\",\"aud\":\"reg.example\"}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":\"1700003600\"}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600.0}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":null}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600,\"nbf\":\"0\"}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600,\"iat\":1.5}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600,\"sub\":7}",
        "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600,\"jti\":{}}",
    };
    size_t i;

    fixture_init(&f);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (check_claims(&f, bad[i]) != BERTH_AUTH_MALFORMED_TOKEN) BERTH_TEST_FAIL("accepted %s", bad[i]);
    ASSERT_REASON(check_claims(&f, "{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1700003600}"), OK);
    fixture_release(&f);
}

TEST(jwt_wrong_part_counts)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *tok = sign_ok(kr), *s;
    char *hp = berth_xstrndup(tok, (size_t)(strrchr(tok, '.') - tok));
    static const char *bad[] = {"", ".", "..", "...", "a", "a.b", "a..c", ".b.c", "a.b.c.d"};
    size_t i;

    ASSERT_REASON(check(kr, hp), MALFORMED_TOKEN); /* two parts */
    s = berth_xasprintf("%s.", tok);
    ASSERT_REASON(check(kr, s), MALFORMED_TOKEN); /* four parts, last empty */
    free(s);
    s = berth_xasprintf("%s.%s", tok, strrchr(tok, '.') + 1);
    ASSERT_REASON(check(kr, s), MALFORMED_TOKEN); /* four parts */
    free(s);
    s = berth_xasprintf(".%s", tok);
    ASSERT_REASON(check(kr, s), MALFORMED_TOKEN);
    free(s);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (check(kr, bad[i]) != BERTH_AUTH_MALFORMED_TOKEN) BERTH_TEST_FAIL("accepted \"%s\"", bad[i]);
    free(hp);
    free(tok);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_non_base64url_characters)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *tok = sign_ok(kr);
    size_t len = strlen(tok), i, k;
    static const char evil[] = {'+', '/', '=', ' ', '\n', '\0', '%', '\xff'};
    size_t pos[3];
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;

    pos[0] = 3;
    pos[1] = (size_t)(strchr(tok, '.') - tok) + 3;
    pos[2] = (size_t)(strrchr(tok, '.') - tok) + 3;
    for (i = 0; i < 3; i++) {
        for (k = 0; k < sizeof(evil); k++) {
            char keep = tok[pos[i]];
            tok[pos[i]] = evil[k];
            berth_jwt_verify(kr, tok, len, &w, &c, &why, &err);
            if (why != BERTH_AUTH_MALFORMED_TOKEN) BERTH_TEST_FAIL("part %zu char 0x%02x: %d", i, evil[k], why);
            tok[pos[i]] = keep;
        }
    }
    /* Trailing padding or whitespace on a good token. */
    {
        char *s = berth_xasprintf("%s=", tok);
        ASSERT_REASON(check(kr, s), MALFORMED_TOKEN);
        free(s);
        s = berth_xasprintf("%s\n", tok);
        ASSERT_REASON(check(kr, s), MALFORMED_TOKEN);
        free(s);
        s = berth_xasprintf(" %s", tok);
        ASSERT_REASON(check(kr, s), MALFORMED_TOKEN);
        free(s);
    }
    ASSERT_REASON(check(kr, tok), OK);
    free(tok);
    berth_keyring_close(kr);
    free(dir);
}

TEST(jwt_size_limit)
{
    struct fixture f;
    char pad[6000], *c, *t;
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims cl;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    size_t len;
    char *huge;

    fixture_init(&f);
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    /* ~6 KiB of claims is a ~8 KiB token: still accepted. */
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":%lld,\"pad\":\"%.*s\"}", NOW + 60,
                        5950, pad);
    t = sign_str(f.kr, c);
    len = strlen(t);
    ASSERT_TRUE(len > 8000 && len <= 8192);
    ASSERT_REASON(check(f.kr, t), OK);
    free(t);
    free(c);
    /* Over 8 KiB, even with a valid signature. */
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":%lld,\"pad\":\"%s\"}", NOW + 60, pad);
    t = forge(f.pk, f.hdr, c);
    ASSERT_TRUE(strlen(t) > 8192);
    ASSERT_REASON(check(f.kr, t), MALFORMED_TOKEN);
    free(t);
    free(c);
    /* A megabyte of junk is refused by length alone. */
    huge = berth_xmalloc(1 << 20);
    memset(huge, 'A', 1 << 20);
    huge[1000] = huge[2000] = '.';
    ASSERT_RC(berth_jwt_verify(f.kr, huge, 1 << 20, &w, &cl, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_REASON(why, MALFORMED_TOKEN);
    free(huge);
    fixture_release(&f);
}

TEST(jwt_non_object_json_is_malformed)
{
    struct fixture f;
    static const char *claims[] = {"[]", "\"berth\"", "42", "null", "[{\"iss\":\"berth\"}]", "", "{", "{}}",
                                   "{\"iss\":\"berth\"} {}", "{\"iss\":\"berth\",}", "\xff"};
    static const char *hdrs[] = {"[]", "\"ES256\"", "{", "", "{\"alg\":\"ES256\"}x"};
    size_t i;

    fixture_init(&f);
    for (i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
        if (check_claims(&f, claims[i]) != BERTH_AUTH_MALFORMED_TOKEN) BERTH_TEST_FAIL("claims \"%s\"", claims[i]);
    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        if (check_header(&f, hdrs[i]) != BERTH_AUTH_MALFORMED_TOKEN) BERTH_TEST_FAIL("header \"%s\"", hdrs[i]);
    fixture_release(&f);
}

TEST(jwt_duplicate_keys_are_malformed)
{
    struct fixture f;
    char *c, *h;

    fixture_init(&f);
    /* A second "iss" or "exp" could mean one thing to us and another to a different parser. */
    c = berth_xasprintf("{\"iss\":\"evil\",\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), MALFORMED_TOKEN);
    free(c);
    c = berth_xasprintf("{\"iss\":\"berth\",\"aud\":\"reg.example\",\"exp\":1,\"exp\":%lld}", NOW + 60);
    ASSERT_REASON(check_claims(&f, c), MALFORMED_TOKEN);
    free(c);
    h = berth_xasprintf("{\"alg\":\"none\",\"alg\":\"ES256\",\"kid\":\"%s\"}", f.kid);
    ASSERT_REASON(check_header(&f, h), MALFORMED_TOKEN);
    free(h);
    h = berth_xasprintf("{\"alg\":\"ES256\",\"kid\":\"x\",\"kid\":\"%s\"}", f.kid);
    ASSERT_REASON(check_header(&f, h), MALFORMED_TOKEN);
    free(h);
    fixture_release(&f);
}

TEST(jwt_signature_must_be_64_raw_bytes)
{
    struct fixture f;
    char *tok, *sig;
    struct berth_buf b = BERTH_BUF_INIT(0), raw = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    unsigned char zeros[64] = {0};

    fixture_init(&f);
    tok = sign_ok(f.kr);
    sig = strrchr(tok, '.') + 1;
    ASSERT_RC(berth_b64url_decode(sig, strlen(sig), &raw, &err), BERTH_OK);
    /* 63 and 65 bytes. */
    berth_buf_append(&b, tok, (size_t)(sig - tok));
    berth_b64url_encode(raw.p, 63, &b);
    ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
    berth_buf_reset(&b);
    berth_buf_append(&b, tok, (size_t)(sig - tok));
    berth_buf_append(&raw, "\0", 1);
    berth_b64url_encode(raw.p, 65, &b);
    ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
    /* Empty, and all zeros (r = s = 0). */
    berth_buf_reset(&b);
    berth_buf_append(&b, tok, (size_t)(sig - tok));
    ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
    berth_b64url_encode(zeros, sizeof(zeros), &b);
    ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
    /* The DER form OpenSSL produces is not a JWS signature. */
    {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[80];
        size_t derlen = sizeof(der);
        ASSERT_TRUE(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, f.pk) == 1);
        ASSERT_TRUE(EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)tok, (size_t)(sig - 1 - tok)) == 1);
        berth_buf_reset(&b);
        berth_buf_append(&b, tok, (size_t)(sig - tok));
        berth_b64url_encode(der, derlen, &b);
        ASSERT_REASON(check(f.kr, b.p), BAD_SIGNATURE);
        EVP_MD_CTX_free(ctx);
    }
    berth_buf_release(&b);
    berth_buf_release(&raw);
    free(tok);
    fixture_release(&f);
}

TEST(jwt_failure_messages_never_quote_the_token)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    char *tok, *t2, *h;
    size_t i, len;

    fixture_init(&f);
    tok = sign_ok(f.kr);
    len = strlen(tok);
    /* Every failure, from every position of a one-character change. */
    for (i = 0; i < len; i += 3) {
        char keep = tok[i];
        size_t k;
        tok[i] = keep == 'x' ? 'y' : 'x';
        ASSERT_RC(berth_jwt_verify(f.kr, tok, len, &w, &c, &why, &err), BERTH_EUNAUTHORIZED);
        ASSERT_TRUE(err.msg[0] != '\0' && strlen(err.msg) < 80);
        for (k = 0; k + 8 <= len; k += 4) {
            char piece[9];
            memcpy(piece, tok + k, 8);
            piece[8] = '\0';
            if (strstr(err.msg, piece)) BERTH_TEST_FAIL("message quotes the token: %s", err.msg);
        }
        tok[i] = keep;
    }
    h = berth_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\",\"note\":\"SECRETSECRET\"}", f.kid);
    t2 = forge(f.pk, h, "{\"iss\":\"SECRETSECRET\",\"aud\":\"x\",\"exp\":1}");
    ASSERT_RC(berth_jwt_verify(f.kr, t2, strlen(t2), &w, &c, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_REASON(why, WRONG_ISSUER);
    ASSERT_TRUE(strstr(err.msg, "SECRET") == NULL);
    free(t2);
    free(h);
    free(tok);
    fixture_release(&f);
}

TEST(jwt_verify_argument_checks)
{
    struct fixture f;
    struct berth_jwt_expect w = want_default();
    struct berth_jwt_claims c;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    char *tok;

    fixture_init(&f);
    tok = sign_ok(f.kr);
    memset(&c, 0, sizeof(c));
    berth_jwt_claims_release(&c);
    berth_jwt_claims_release(NULL);
    ASSERT_RC(berth_jwt_verify(NULL, tok, strlen(tok), &w, &c, &why, &err), BERTH_EINVAL);
    ASSERT_RC(berth_jwt_verify(f.kr, tok, strlen(tok), NULL, &c, &why, &err), BERTH_EINVAL);
    w.iss = NULL;
    ASSERT_RC(berth_jwt_verify(f.kr, tok, strlen(tok), &w, &c, &why, &err), BERTH_EINVAL);
    w = want_default();
    ASSERT_RC(berth_jwt_verify(f.kr, NULL, 0, &w, &c, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_REASON(why, MALFORMED_TOKEN);
    /* reason and err may be NULL. */
    ASSERT_RC(berth_jwt_verify(f.kr, "a.b.c", 5, &w, &c, NULL, NULL), BERTH_EUNAUTHORIZED);
    ASSERT_RC(berth_jwt_verify(f.kr, tok, strlen(tok), &w, &c, NULL, NULL), BERTH_OK);
    berth_jwt_claims_release(&c);
    /* The length is what counts, not a NUL. */
    ASSERT_RC(berth_jwt_verify(f.kr, tok, strlen(tok) - 1, &w, &c, &why, &err), BERTH_EUNAUTHORIZED);
    free(tok);
    fixture_release(&f);
}

/* ---------------------------------------------------------------- threads and speed */

struct worker {
    struct berth_keyring *kr;
    const char *old_tok;
    int failures;
    int rounds;
};

static void *verify_worker(void *arg)
{
    struct worker *wk = arg;
    struct berth_jwt_expect w = want_default();
    int i;

    for (i = 0; i < wk->rounds; i++) {
        struct berth_buf out = BERTH_BUF_INIT(0);
        struct berth_jwt_claims c;
        struct berth_err err = BERTH_ERR_INIT;
        enum berth_auth_reason why;
        char *claims = claims_at(NOW + 3600, NOW - 10);

        if (berth_jwt_verify(wk->kr, wk->old_tok, strlen(wk->old_tok), &w, &c, &why, &err) != BERTH_OK)
            wk->failures++;
        berth_jwt_claims_release(&c);
        if (berth_jwt_sign(wk->kr, claims, strlen(claims), &out, &err) != BERTH_OK ||
            berth_jwt_verify(wk->kr, out.p, out.len, &w, &c, &why, &err) != BERTH_OK)
            wk->failures++;
        berth_jwt_claims_release(&c);
        berth_buf_release(&out);
        free(claims);
        if (i % 16 == 0) {
            struct berth_buf j = BERTH_BUF_INIT(0);
            berth_keyring_jwks(wk->kr, &j);
            if (!strstr(berth_buf_str(&j), "\"kty\":\"EC\"")) wk->failures++;
            berth_buf_release(&j);
        }
    }
    return NULL;
}

struct rotator {
    struct berth_keyring *kr;
    int failures;
};

static void *rotate_worker(void *arg)
{
    struct rotator *r = arg;
    struct berth_err err = BERTH_ERR_INIT;
    int i;

    for (i = 0; i < 12; i++) {
        if (berth_keyring_rotate(r->kr, &err) != BERTH_OK) r->failures++;
        /* Retire nothing the verifiers still need: every key is newer than the epoch. */
        if (berth_keyring_retire(r->kr, 0, &err) != BERTH_OK) r->failures++;
        if (strlen(berth_keyring_current_kid(r->kr)) != 22) r->failures++;
        usleep(2000);
    }
    return NULL;
}

/* Runs 8 verify_workers on kr (each verifies old throughout) beside one run of other(arg); no worker may fail. */
static void verify_beside(struct berth_keyring *kr, const char *old, void *(*other)(void *), void *arg)
{
    struct worker wk[8];
    pthread_t th[8], ot;
    int i;

    for (i = 0; i < 8; i++) {
        wk[i].kr = kr;
        wk[i].old_tok = old;
        wk[i].failures = 0;
        wk[i].rounds = 60;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, verify_worker, &wk[i]), 0);
    }
    ASSERT_EQ_INT(pthread_create(&ot, NULL, other, arg), 0);
    for (i = 0; i < 8; i++) pthread_join(th[i], NULL);
    pthread_join(ot, NULL);
    for (i = 0; i < 8; i++) ASSERT_EQ_INT(wk[i].failures, 0);
}

TEST(jwt_concurrent_verify_while_rotating)
{
    char *dir = subdir("ring");
    struct berth_keyring *kr = ring_at(dir);
    char *old = sign_ok(kr);
    struct rotator rot = {kr, 0};

    verify_beside(kr, old, rotate_worker, &rot);
    ASSERT_EQ_INT(rot.failures, 0);
    /* Then a retire of all but the signer while verifying the old token concurrently. */
    {
        struct berth_err err = BERTH_ERR_INIT;
        ASSERT_RC(berth_keyring_retire(kr, INT64_MAX, &err), BERTH_OK);
        ASSERT_REASON(check(kr, old), UNKNOWN_KEY);
    }
    free(old);
    berth_keyring_close(kr);
    free(dir);
}

struct reloader {
    struct berth_keyring *a, *b;   /* two rings over one storage */
    struct mem_store *s;
    const char *spare_kid, *spare; /* a key older than all, added and removed again behind b's back */
    int failures;
};

static void *reload_worker(void *arg)
{
    struct reloader *r = arg;
    struct berth_err err = BERTH_ERR_INIT;
    int i;

    for (i = 0; i < 24; i++) {
        if (i % 2 == 0 && berth_keyring_rotate(r->a, &err) != BERTH_OK) r->failures++;
        if (i % 2 == 0) mem_add(r->s, r->spare_kid, 1, r->spare, &err);
        else mem_remove(r->s, r->spare_kid, &err);
        if (berth_keyring_reload(r->b, &err) != BERTH_OK) r->failures++;
        usleep(1000);
    }
    return NULL;
}

/* Verifiers and signers on one ring while it is read again, with keys coming and going in its storage. */
TEST(jwt_concurrent_verify_while_reloading)
{
    char *dir = subdir("spare"), *path, *text = NULL, *spare;
    struct berth_keyring *folder = ring_at(dir), *a, *b;
    struct berth_err err = BERTH_ERR_INIT;
    struct mem_store s;
    struct reloader rl;
    char kid[64], *old;

    mem_init(&s);
    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(folder));
    path = berth_xasprintf("%s/%s.pem", dir, kid);
    ASSERT_RC(berth_read_file(path, 65536, &text, NULL, &err), BERTH_OK);
    spare = berth_xasprintf("berth-key-created-ms: 1\n%s", strstr(text, "-----BEGIN"));
    a = ring_over(&s, 1);
    b = ring_over(&s, 1);
    old = sign_ok(b);
    rl = (struct reloader){a, b, &s, kid, spare, 0};
    verify_beside(b, old, reload_worker, &rl);
    ASSERT_EQ_INT(rl.failures, 0);
    ASSERT_EQ_STR(berth_keyring_current_kid(b), berth_keyring_current_kid(a));
    free(old);
    free(spare);
    free(text);
    free(path);
    berth_keyring_close(a);
    berth_keyring_close(b);
    berth_keyring_close(folder);
    mem_release(&s);
    free(dir);
}

/* CPU time of this process in microseconds: steadier than wall time on a busy machine. */
static double cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

enum op { OP_SIGN, OP_VERIFY, OP_EVP_SIGN, OP_EVP_VERIFY };

struct bench {
    struct berth_keyring *kr;
    EVP_PKEY *pk;
    const char *claims, *tok;
    size_t clen, tlen;
    unsigned char der[80];
    size_t derlen;
};

static void run_op(struct bench *b, enum op op)
{
    struct berth_jwt_expect w = want_default();
    struct berth_buf out = BERTH_BUF_INIT(0);
    struct berth_jwt_claims c;
    EVP_MD_CTX *ctx;
    size_t dl = sizeof(b->der);

    switch (op) {
    case OP_SIGN:
        ASSERT_RC(berth_jwt_sign(b->kr, b->claims, b->clen, &out, NULL), BERTH_OK);
        berth_buf_release(&out);
        break;
    case OP_VERIFY:
        ASSERT_RC(berth_jwt_verify(b->kr, b->tok, b->tlen, &w, &c, NULL, NULL), BERTH_OK);
        berth_jwt_claims_release(&c);
        break;
    case OP_EVP_SIGN: /* the bare ECDSA work on the same bytes, for comparison */
        ctx = EVP_MD_CTX_new();
        ASSERT_TRUE(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, b->pk) == 1);
        ASSERT_TRUE(EVP_DigestSign(ctx, b->der, &dl, (const unsigned char *)b->tok, b->tlen - 87) == 1);
        b->derlen = dl;
        EVP_MD_CTX_free(ctx);
        break;
    case OP_EVP_VERIFY:
        ctx = EVP_MD_CTX_new();
        ASSERT_TRUE(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, b->pk) == 1);
        ASSERT_TRUE(EVP_DigestVerify(ctx, b->der, b->derlen, (const unsigned char *)b->tok, b->tlen - 87) == 1);
        EVP_MD_CTX_free(ctx);
        break;
    }
}

/* Best mean over 5 batches of n: the least disturbed estimate of one call. */
static double best_us(struct bench *b, enum op op, int n)
{
    double best = 1e18;
    int r, i;

    for (r = 0; r < 5; r++) {
        double t0 = cpu_us(), t;
        for (i = 0; i < n; i++) run_op(b, op);
        t = (cpu_us() - t0) / n;
        if (t < best) best = t;
    }
    return best;
}

TEST(jwt_speed_report)
{
    char *dir = subdir("ring");
    struct bench b;
    char *claims = claims_at(NOW + 3600, NOW - 10), *tok;
    double s, v, es, ev;

    b.kr = ring_at(dir);
    tok = sign_ok(b.kr);
    b.pk = ring_pkey(dir, berth_keyring_current_kid(b.kr));
    b.claims = claims;
    b.clen = strlen(claims);
    b.tok = tok;
    b.tlen = strlen(tok);
    run_op(&b, OP_EVP_SIGN);
    s = best_us(&b, OP_SIGN, 200);
    v = best_us(&b, OP_VERIFY, 200);
    es = best_us(&b, OP_EVP_SIGN, 200);
    ev = best_us(&b, OP_EVP_VERIFY, 200);
    printf("  jwt (%zu-byte token, CPU time, best of 5x200): sign %.1f us, verify %.1f us; "
           "bare EVP ECDSA: sign %.1f us, verify %.1f us\n",
           b.tlen, s, v, es, ev);
    EVP_PKEY_free(b.pk);
    free(claims);
    free(tok);
    berth_keyring_close(b.kr);
    free(dir);
}
