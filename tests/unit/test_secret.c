/* test_secret.c - secret generation, argon2id hashing, constant-time equality and the verified-secret cache. */
#include <pthread.h>
#include <stdlib.h>
#include "auth.h"
#include "util.h"
#include "test.h"

/* In src/auth/secret.c for the tests only: argon2 runs so far and the most that ran at once. */
void berth_secret_test_stats(long *runs, int *peak);

/* An argon2id hash (interactive limits) of KNOWN_SECRET, made once so most tests need not hash. */
#define KNOWN_SECRET "correct horse battery staple"
#define KNOWN_HASH "$argon2id$v=19$m=65536,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM"
/* The cache never looks inside the hash, so cache-only tests use cheap stand-ins. */
#define FAKE_HASH "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$ZmFrZQ"
#define T0 1700000000

static long argon2_runs(void)
{
    long runs = 0;
    berth_secret_test_stats(&runs, NULL);
    return runs;
}

static int b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* ---------------------------------------------------------------- generate */

TEST(secret_generate_is_43_base64url_chars)
{
    char s[BERTH_SECRET_LEN + 1];
    int i, k;

    for (k = 0; k < 100; k++) {
        memset(s, 'X', sizeof(s));
        berth_secret_generate(s);
        ASSERT_EQ_INT(strlen(s), 43);
        for (i = 0; i < BERTH_SECRET_LEN; i++)
            if (!b64url_char(s[i])) BERTH_TEST_FAIL("bad character '%c' in %s", s[i], s);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

TEST(secret_generate_is_unique_and_never_starts_with_dash)
{
    enum { N = 2000 };
    char(*s)[BERTH_SECRET_LEN + 1] = calloc(N, sizeof(*s));
    int i;

    for (i = 0; i < N; i++) berth_secret_generate(s[i]);
    /* with '-' allowed first, 2,000 draws would miss one with odds of 1 in 10^13 */
    for (i = 0; i < N; i++)
        if (s[i][0] == '-') BERTH_TEST_FAIL("secret %s starts with '-'", s[i]);
    qsort(s, N, sizeof(*s), cmp_str);
    for (i = 1; i < N; i++)
        if (strcmp(s[i - 1], s[i]) == 0) BERTH_TEST_FAIL("duplicate secret %s", s[i]);
    free(s);
}

/* ---------------------------------------------------------------- hash and verify */

TEST(secret_hash_verify_round_trip)
{
    char h[BERTH_SECRET_HASH_MAX];
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_secret_hash("s3cr3t-\xc3\xa9", h, &err), BERTH_OK);
    ASSERT_TRUE(strncmp(h, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    ASSERT_TRUE(strlen(h) < BERTH_SECRET_HASH_MAX);
    ASSERT_TRUE(berth_secret_verify(h, "s3cr3t-\xc3\xa9"));
}

TEST(secret_verify_refuses_wrong_secret)
{
    ASSERT_TRUE(berth_secret_verify(KNOWN_HASH, KNOWN_SECRET));
    ASSERT_TRUE(!berth_secret_verify(KNOWN_HASH, KNOWN_SECRET "x"));
    ASSERT_TRUE(!berth_secret_verify(KNOWN_HASH, ""));
}

TEST(secret_verify_malformed_hash_is_false)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "$argon2id$",
        "$argon2i$v=19$m=65536,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        "$argon2id$v=16$m=65536,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        "$argon2id$v=19$m=65536,t=2,p=1$!!!$!!!",
        "$argon2id$v=19$m=65536,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$",
        "$argon2id$v=19$m=65536,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ",
        "$argon2id$v=19$m=,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        "$argon2id$v=19$m=65536,t=2$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        /* costs far above what berth writes: refused, not run */
        "$argon2id$v=19$m=4194304,t=2,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        "$argon2id$v=19$m=65536,t=4000000,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfqxZPknf8XZTM",
        "$argon2id$v=19$m=65536,t=99999999999999,p=1$cMN+lxWsgE0U5z0dvzSCiQ$pmnHb+o5iKm0AbdPQenBCDJa6zaizQfq",
    };
    char longh[300];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (berth_secret_verify(bad[i], KNOWN_SECRET)) BERTH_TEST_FAIL("accepted %s", bad[i]);
    /* longer than any hash berth stores */
    memset(longh, 'a', sizeof(longh) - 1);
    longh[sizeof(longh) - 1] = 0;
    memcpy(longh, KNOWN_HASH, strlen(KNOWN_HASH));
    ASSERT_TRUE(!berth_secret_verify(longh, KNOWN_SECRET));
    ASSERT_TRUE(!berth_secret_verify(NULL, KNOWN_SECRET));
    ASSERT_TRUE(!berth_secret_verify(KNOWN_HASH, NULL));
}

/* ---------------------------------------------------------------- one run for many hashes */

TEST(secret_hash_like_shares_the_salt_and_verifies)
{
    char a[BERTH_SECRET_HASH_MAX], b[BERTH_SECRET_HASH_MAX], c[BERTH_SECRET_HASH_MAX];
    struct berth_err err = BERTH_ERR_INIT;
    const char *salt_end;

    ASSERT_RC(berth_secret_hash("first-secret", a, &err), BERTH_OK);
    ASSERT_RC(berth_secret_hash_like("second-secret", a, b, &err), BERTH_OK);
    salt_end = strrchr(a, '$');
    ASSERT_TRUE(strncmp(a, b, (size_t)(salt_end - a + 1)) == 0); /* same costs and salt */
    ASSERT_TRUE(strcmp(a, b) != 0);
    ASSERT_TRUE(berth_secret_verify(b, "second-secret")); /* libsodium reads it as its own */
    ASSERT_TRUE(!berth_secret_verify(b, "first-secret"));
    /* no sibling, or one of another shape: a fresh salt */
    ASSERT_RC(berth_secret_hash_like("third-secret", "", c, &err), BERTH_OK);
    ASSERT_TRUE(strncmp(a, c, (size_t)(salt_end - a + 1)) != 0);
    ASSERT_RC(berth_secret_hash_like("third-secret", "garbage", c, &err), BERTH_OK);
    ASSERT_TRUE(berth_secret_verify(c, "third-secret"));
}

TEST(secret_match_costs_one_run_whatever_it_checks)
{
    char h[4][BERTH_SECRET_HASH_MAX];
    const char *all[4] = {h[0], h[1], h[2], h[3]}, *empty[2] = {"", ""}, *legacy[2] = {KNOWN_HASH, h[0]};
    static const char *const secrets[4] = {"secret-zero", "secret-one", "secret-two", "secret-three"};
    struct berth_err err = BERTH_ERR_INIT;
    long before;
    int i;

    ASSERT_RC(berth_secret_hash(secrets[0], h[0], &err), BERTH_OK);
    for (i = 1; i < 4; i++) ASSERT_RC(berth_secret_hash_like(secrets[i], h[i - 1], h[i], &err), BERTH_OK);
    for (i = 0; i < 4; i++) {
        before = argon2_runs();
        ASSERT_EQ_INT(berth_secret_match(all, 4, secrets[i]), i);
        ASSERT_EQ_INT(argon2_runs() - before, 1);
    }
    before = argon2_runs();
    ASSERT_EQ_INT(berth_secret_match(all, 4, "none-of-them"), -1);
    ASSERT_EQ_INT(argon2_runs() - before, 1);
    /* nothing to check still costs one run: an unknown name reads like a wrong password */
    before = argon2_runs();
    ASSERT_EQ_INT(berth_secret_match(NULL, 0, "x"), -1);
    ASSERT_EQ_INT(berth_secret_match(empty, 2, "x"), -1);
    ASSERT_EQ_INT(argon2_runs() - before, 2);
    /* hashes with salts of their own (made before salts were shared) cost one run each */
    before = argon2_runs();
    ASSERT_EQ_INT(berth_secret_match(legacy, 2, KNOWN_SECRET), 0);
    ASSERT_EQ_INT(argon2_runs() - before, 2);
    ASSERT_EQ_INT(berth_secret_match(all, 4, NULL), -1);
}

TEST(secret_overlong_is_refused)
{
    char *s = malloc(1026);
    char h[BERTH_SECRET_HASH_MAX];
    struct berth_err err = BERTH_ERR_INIT;
    long before = argon2_runs();

    memset(s, 'k', 1025);
    s[1025] = 0;
    ASSERT_RC(berth_secret_hash(s, h, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "1024") != NULL);
    ASSERT_RC(berth_secret_hash(NULL, h, &err), BERTH_EINVAL);
    ASSERT_TRUE(!berth_secret_verify(KNOWN_HASH, s));
    ASSERT_EQ_INT(argon2_runs(), before); /* refused before any argon2 run */
    free(s);
}

/* ---------------------------------------------------------------- equal */

TEST(secret_equal_compares_whole_strings)
{
    ASSERT_TRUE(berth_secret_equal("abc", 3, "abc", 3));
    ASSERT_TRUE(berth_secret_equal("", 0, "", 0));
    ASSERT_TRUE(berth_secret_equal(NULL, 0, "", 0));
    ASSERT_TRUE(berth_secret_equal("a\0b", 3, "a\0b", 3));
    ASSERT_TRUE(!berth_secret_equal("abc", 3, "abd", 3));
    ASSERT_TRUE(!berth_secret_equal("abc", 3, "xbc", 3));
    ASSERT_TRUE(!berth_secret_equal("a\0b", 3, "a\0c", 3));
}

TEST(secret_equal_prefixes_and_lengths_differ)
{
    ASSERT_TRUE(!berth_secret_equal("abc", 3, "abcd", 4));
    ASSERT_TRUE(!berth_secret_equal("abcd", 4, "abc", 3));
    ASSERT_TRUE(!berth_secret_equal("", 0, "a", 1));
    ASSERT_TRUE(!berth_secret_equal("abc", 2, "abc", 3)); /* only alen bytes count */
    ASSERT_TRUE(berth_secret_equal("abcX", 3, "abcY", 3));
    ASSERT_TRUE(!berth_secret_equal("a", 1, "a\0", 2));
}

/* ---------------------------------------------------------------- cache */

TEST(cache_hits_after_put)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);

    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0));
    berth_secret_cache_put(c, "alice", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0));
    ASSERT_TRUE(berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0 + 30));
    berth_secret_cache_free(c);
    berth_secret_cache_free(NULL);
}

TEST(cache_misses_for_another_principal)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);

    berth_secret_cache_put(c, "alice", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(!berth_secret_cache_hit(c, "bob", FAKE_HASH, "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alic", FAKE_HASH, "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "", FAKE_HASH, "pw", T0));
    /* the separators keep the fields apart: ("alice", h, "pw") is not ("alice" + ..., ...) */
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alicepw", FAKE_HASH, "", T0));
    berth_secret_cache_free(c);
}

TEST(cache_misses_when_the_credential_changes)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);

    berth_secret_cache_put(c, "alice", FAKE_HASH, "pw", T0);
    /* a new secret means a new stored hash (new salt), even for the same text */
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", KNOWN_HASH, "pw", T0));
    ASSERT_TRUE(berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0));
    berth_secret_cache_free(c);
}

TEST(cache_misses_for_another_secret)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);

    berth_secret_cache_put(c, "alice", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "pW", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw ", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", NULL, "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, NULL, T0));
    berth_secret_cache_free(c);
}

TEST(cache_entries_expire_after_ttl)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);

    berth_secret_cache_put(c, "alice", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0 + 59));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0 + 60));
    /* once expired it is gone, even if the clock steps back */
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", FAKE_HASH, "pw", T0 + 1));
    /* an entry from the future (clock stepped back) is not trusted */
    berth_secret_cache_put(c, "bob", FAKE_HASH, "pw", T0 + 100);
    ASSERT_TRUE(!berth_secret_cache_hit(c, "bob", FAKE_HASH, "pw", T0 + 99));
    /* hits do not extend the ttl; a new put does */
    berth_secret_cache_put(c, "carol", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(berth_secret_cache_hit(c, "carol", FAKE_HASH, "pw", T0 + 50));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "carol", FAKE_HASH, "pw", T0 + 61));
    berth_secret_cache_put(c, "carol", FAKE_HASH, "pw", T0 + 61);
    ASSERT_TRUE(berth_secret_cache_hit(c, "carol", FAKE_HASH, "pw", T0 + 120));
    berth_secret_cache_free(c);
}

TEST(cache_evicts_the_oldest_when_full)
{
    /* 8 entries are one bucket, so eviction order is exact */
    struct berth_secret_cache *c = berth_secret_cache_new(600, 8);
    char p[32];
    int i;

    for (i = 0; i < 8; i++) {
        snprintf(p, sizeof(p), "user%d", i);
        berth_secret_cache_put(c, p, FAKE_HASH, "pw", T0 + i);
    }
    for (i = 0; i < 8; i++) {
        snprintf(p, sizeof(p), "user%d", i);
        ASSERT_TRUE(berth_secret_cache_hit(c, p, FAKE_HASH, "pw", T0 + 10));
    }
    berth_secret_cache_put(c, "user8", FAKE_HASH, "pw", T0 + 10);
    ASSERT_TRUE(!berth_secret_cache_hit(c, "user0", FAKE_HASH, "pw", T0 + 10));
    for (i = 1; i <= 8; i++) {
        snprintf(p, sizeof(p), "user%d", i);
        ASSERT_TRUE(berth_secret_cache_hit(c, p, FAKE_HASH, "pw", T0 + 10));
    }
    berth_secret_cache_free(c);
}

TEST(cache_stays_within_capacity)
{
    struct berth_secret_cache *c = berth_secret_cache_new(600, 64);
    char p[32];
    int i, hits = 0;

    for (i = 0; i < 1000; i++) {
        snprintf(p, sizeof(p), "user%d", i);
        berth_secret_cache_put(c, p, FAKE_HASH, "pw", T0 + i);
    }
    for (i = 0; i < 1000; i++) {
        snprintf(p, sizeof(p), "user%d", i);
        hits += berth_secret_cache_hit(c, p, FAKE_HASH, "pw", T0 + 1000);
    }
    ASSERT_TRUE(hits <= 64);
    ASSERT_TRUE(hits >= 32); /* every bucket ends up full of recent entries */
    ASSERT_TRUE(berth_secret_cache_hit(c, "user999", FAKE_HASH, "pw", T0 + 1000));
    berth_secret_cache_free(c);
}

TEST(cache_off_never_hits)
{
    struct berth_secret_cache *c0 = berth_secret_cache_new(0, 128);
    struct berth_secret_cache *c1 = berth_secret_cache_new(60, 0);

    berth_secret_cache_put(c0, "alice", FAKE_HASH, "pw", T0);
    berth_secret_cache_put(c1, "alice", FAKE_HASH, "pw", T0);
    berth_secret_cache_put(NULL, "alice", FAKE_HASH, "pw", T0);
    ASSERT_TRUE(!berth_secret_cache_hit(c0, "alice", FAKE_HASH, "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c1, "alice", FAKE_HASH, "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(NULL, "alice", FAKE_HASH, "pw", T0));
    berth_secret_cache_free(c0);
    berth_secret_cache_free(c1);
}

TEST(check_runs_argon2_once_then_hits)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);
    long before = argon2_runs();
    int64_t t;

    ASSERT_TRUE(berth_secret_check(c, "alice", KNOWN_HASH, KNOWN_SECRET, T0));
    ASSERT_EQ_INT(argon2_runs() - before, 1);
    t = berth_mono_us();
    ASSERT_TRUE(berth_secret_check(c, "alice", KNOWN_HASH, KNOWN_SECRET, T0 + 1));
    t = berth_mono_us() - t;
    ASSERT_EQ_INT(argon2_runs() - before, 1);
    if (t >= 1000) BERTH_TEST_FAIL("cached check took %lld us", (long long)t);
    /* the same secret for another principal is verified afresh */
    ASSERT_TRUE(!berth_secret_cache_hit(c, "bob", KNOWN_HASH, KNOWN_SECRET, T0 + 1));
    berth_secret_cache_free(c);
}

TEST(check_never_caches_failures)
{
    struct berth_secret_cache *c = berth_secret_cache_new(60, 128);
    long before = argon2_runs();

    ASSERT_TRUE(!berth_secret_check(c, "alice", KNOWN_HASH, "wrong", T0));
    ASSERT_TRUE(!berth_secret_check(c, "alice", KNOWN_HASH, "wrong", T0));
    ASSERT_EQ_INT(argon2_runs() - before, 2);
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", KNOWN_HASH, "wrong", T0));
    /* a malformed stored hash fails without caching either */
    ASSERT_TRUE(!berth_secret_check(c, "alice", "nonsense", "pw", T0));
    ASSERT_TRUE(!berth_secret_cache_hit(c, "alice", "nonsense", "pw", T0));
    berth_secret_cache_free(c);
}

/* ---------------------------------------------------------------- threads */

#define HAMMER_THREADS 8
#define HAMMER_USERS 32

struct hammer_arg {
    struct berth_secret_cache *c;
    struct berth_secret_cache *small; /* always full: evicts under contention */
    pthread_barrier_t *start;
    int id;
    int bad; /* results that were wrong */
};

static void *hammer(void *p)
{
    struct hammer_arg *a = p;
    char user[32], secret[32], own[32];
    int k, u;

    pthread_barrier_wait(a->start);
    for (k = 0; k < 3000; k++) {
        u = (a->id * 7 + k) % HAMMER_USERS;
        snprintf(user, sizeof(user), "user%d", u);
        snprintf(secret, sizeof(secret), "secret%d", u);
        /* pre-put entries: check() must hit (a miss would run argon2 on FAKE_HASH and fail) */
        if (!berth_secret_check(a->c, user, FAKE_HASH, secret, T0 + 10)) a->bad++;
        if (berth_secret_cache_hit(a->c, user, FAKE_HASH, "wrong", T0 + 10)) a->bad++;
        /* churn: 50 entries per thread, put again and again */
        snprintf(own, sizeof(own), "t%d-%d", a->id, k % 50);
        berth_secret_cache_put(a->c, own, FAKE_HASH, "pw", T0 + 10);
        if (!berth_secret_cache_hit(a->c, own, FAKE_HASH, "pw", T0 + 10)) a->bad++;
        berth_secret_cache_put(a->small, own, FAKE_HASH, secret, T0 + k);
        (void)berth_secret_cache_hit(a->small, user, FAKE_HASH, secret, T0 + k);
    }
    return NULL;
}

TEST(check_is_thread_safe)
{
    struct berth_secret_cache *c = berth_secret_cache_new(600, 8192);
    struct berth_secret_cache *small = berth_secret_cache_new(60, 16);
    struct hammer_arg args[HAMMER_THREADS];
    pthread_t th[HAMMER_THREADS];
    pthread_barrier_t start;
    char user[32], secret[32];
    long before;
    int i;

    for (i = 0; i < HAMMER_USERS; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        snprintf(secret, sizeof(secret), "secret%d", i);
        berth_secret_cache_put(c, user, FAKE_HASH, secret, T0);
    }
    before = argon2_runs();
    pthread_barrier_init(&start, NULL, HAMMER_THREADS);
    for (i = 0; i < HAMMER_THREADS; i++) {
        args[i] = (struct hammer_arg){c, small, &start, i, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].bad, 0);
    }
    ASSERT_EQ_INT(argon2_runs(), before);
    pthread_barrier_destroy(&start);
    berth_secret_cache_free(small);
    berth_secret_cache_free(c);
}

struct verify_arg {
    pthread_barrier_t *start;
    int ok;
};

static void *verify_thread(void *p)
{
    struct verify_arg *a = p;
    pthread_barrier_wait(a->start);
    a->ok = berth_secret_verify(KNOWN_HASH, KNOWN_SECRET);
    return NULL;
}

TEST(verify_runs_at_most_two_at_once)
{
    struct verify_arg args[4];
    pthread_t th[4];
    pthread_barrier_t start;
    long runs0, runs1;
    int peak = 0, i;

    berth_secret_test_stats(&runs0, NULL);
    pthread_barrier_init(&start, NULL, 4);
    for (i = 0; i < 4; i++) {
        args[i] = (struct verify_arg){&start, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, verify_thread, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_TRUE(args[i].ok);
    }
    pthread_barrier_destroy(&start);
    berth_secret_test_stats(&runs1, &peak);
    ASSERT_EQ_INT(runs1 - runs0, 4);
    /* four threads started together: two ran, two waited */
    ASSERT_EQ_INT(peak, 2);
}
