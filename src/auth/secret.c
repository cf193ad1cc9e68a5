/*
 * secret.c - credential secrets: generation, argon2id hashing and
 * verification (at most two argon2 runs at once), constant-time comparison,
 * and the verified-secret cache. docs/internals/auth-secrets.md explains the
 * design.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "alloc.h"
#include "auth.h"
#include "util.h"
#include "banned.h"

/* Longest secret hashed or verified; longer ones cannot have been stored. */
#define SECRET_MAX 1024
/* argon2 runs allowed at once: each takes 64 MiB and a core for ~0.2 s. */
#define ARGON2_MAX_RUNNING 2
/*
 * Cost ceilings for a stored hash. Ours use the interactive limits; anything
 * above the moderate limits is treated as corrupt rather than run, so one bad
 * row cannot make a verification allocate gigabytes.
 */
#define HASH_MAX_KIB (crypto_pwhash_argon2id_MEMLIMIT_MODERATE / 1024)
#define HASH_MAX_T 8
#define HASH_MAX_P 4
#define HASH_PREFIX "$argon2id$v=19$m="

/* Cache slots per bucket: a bucket is scanned linearly under the lock. */
#define CACHE_WAYS 8
/* Larger capacities are treated as this (16M entries). */
#define CACHE_CAPACITY_MAX ((size_t)1 << 24)
#define MAC_LEN crypto_auth_hmacsha256_BYTES

_Static_assert(BERTH_SECRET_HASH_MAX >= crypto_pwhash_STRBYTES, "hash buffer too small");
_Static_assert(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == BERTH_SECRET_LEN + 1,
               "32 bytes must encode to BERTH_SECRET_LEN characters");

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
/* Written once under init_once, read-only afterwards: keys the MACs of berth_secret_equal. */
static unsigned char equal_key[crypto_auth_hmacsha256_KEYBYTES];

/*
 * The counting semaphore in front of argon2. A mutex and a condition
 * variable rather than sem_t so the tests can read how many ran at once.
 * Every field is guarded by lock.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int running;
    int peak; /* most runs seen at once */
    long runs; /* argon2 runs started */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};

/* One cache entry: only the MAC of what verified, and when it did. */
struct cache_slot {
    unsigned char mac[MAC_LEN];
    int64_t added; /* now_s of the put */
    int used;
};

struct berth_secret_cache {
    pthread_mutex_t lock;                                /* guards slots */
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES]; /* read-only after new */
    int64_t ttl_s;                                       /* <= 0: the cache is off */
    size_t nbuckets;                                     /* 0: the cache is off */
    struct cache_slot *slots;                            /* nbuckets * CACHE_WAYS */
};

/* Declared for the unit tests only; not part of auth.h. */
void berth_secret_test_stats(long *runs, int *peak);

static void init_library(void)
{
    if (sodium_init() < 0) {
        fputs("berth: libsodium failed to initialise\n", stderr);
        abort();
    }
    berth_random(equal_key, sizeof(equal_key));
}

static void ensure_init(void)
{
    if (pthread_once(&init_once, init_library) != 0) abort();
}

static void gate_enter(void)
{
    pthread_mutex_lock(&gate.lock);
    while (gate.running >= ARGON2_MAX_RUNNING)
        pthread_cond_wait(&gate.cond, &gate.lock);
    gate.running++;
    gate.runs++;
    if (gate.running > gate.peak) gate.peak = gate.running;
    pthread_mutex_unlock(&gate.lock);
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.running--;
    pthread_cond_signal(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

void berth_secret_test_stats(long *runs, int *peak)
{
    pthread_mutex_lock(&gate.lock);
    if (runs) *runs = gate.runs;
    if (peak) *peak = gate.peak;
    pthread_mutex_unlock(&gate.lock);
}

/* Length of secret, or SECRET_MAX + 1 if it is longer than we accept; reads at most that far. */
static size_t secret_len(const char *secret)
{
    return strnlen(secret, SECRET_MAX + 1);
}

/* Parses 1-9 decimal digits at *p, advancing it. */
static int parse_param(const char **p, unsigned long *out)
{
    unsigned long v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        if (++n > 9) return 0;
        v = v * 10 + (unsigned long)(**p - '0');
        (*p)++;
    }
    *out = v;
    return n > 0;
}

/*
 * Nonzero if hash looks like an argon2id v1.3 string of bounded cost:
 * "$argon2id$v=19$m=<kib>,t=<passes>,p=<lanes>$". libsodium checks the rest
 * (salt and digest) and rejects bad ones without running argon2.
 */
static int hash_acceptable(const char *hash)
{
    const char *p = hash;
    unsigned long m, t, lanes;

    if (strnlen(hash, BERTH_SECRET_HASH_MAX) >= BERTH_SECRET_HASH_MAX) return 0;
    if (strncmp(p, HASH_PREFIX, strlen(HASH_PREFIX)) != 0) return 0;
    p += strlen(HASH_PREFIX);
    if (!parse_param(&p, &m) || strncmp(p, ",t=", 3) != 0) return 0;
    p += 3;
    if (!parse_param(&p, &t) || strncmp(p, ",p=", 3) != 0) return 0;
    p += 3;
    if (!parse_param(&p, &lanes) || *p != '$') return 0;
    return m >= 8 && m <= HASH_MAX_KIB && t >= 1 && t <= HASH_MAX_T && lanes >= 1 && lanes <= HASH_MAX_P;
}

/*
 * Never starts with '-': one secret in 64 would, and command lines take it
 * for an option (az login -u owner -p -x... fails with "expected one
 * argument"). Drawing again costs a 64th of a bit.
 */
void berth_secret_generate(char out[BERTH_SECRET_LEN + 1])
{
    unsigned char raw[32];

    ensure_init();
    do {
        berth_random(raw, sizeof(raw));
        sodium_bin2base64(out, BERTH_SECRET_LEN + 1, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    } while (out[0] == '-');
    sodium_memzero(raw, sizeof(raw));
}

enum berth_rc berth_secret_hash(const char *secret, char out[BERTH_SECRET_HASH_MAX], struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    size_t len;
    int r;

    ensure_init();
    if (!secret) {
        rc = berth_err_set(err, BERTH_EINVAL, "no secret given");
        goto out;
    }
    len = secret_len(secret);
    if (len > SECRET_MAX) {
        rc = berth_err_set(err, BERTH_EINVAL, "secret is longer than %d bytes", SECRET_MAX);
        goto out;
    }
    /* Hashing costs what verifying costs, so it waits at the same gate. */
    gate_enter();
    r = crypto_pwhash_str(out, secret, len, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    gate_leave();
    if (r != 0) rc = berth_err_set(err, BERTH_EINTERNAL, "argon2id hashing failed (out of memory?)");
out:
    return rc;
}

int berth_secret_verify(const char *hash, const char *secret)
{
    size_t len;
    int r;

    if (!hash || !secret) return 0;
    len = secret_len(secret);
    if (len > SECRET_MAX || !hash_acceptable(hash)) return 0;
    ensure_init();
    gate_enter();
    r = crypto_pwhash_str_verify(hash, secret, len);
    gate_leave();
    return r == 0;
}

/* ---------------------------------------------------------------- one run for many hashes */

/*
 * Checked when there is nothing to check (an unknown name, a credential with
 * no secret): the same argon2id cost as a real hash, of a random value nobody
 * knows, so the time taken does not tell which names exist.
 */
#define DUMMY_HASH "$argon2id$v=19$m=65536,t=2,p=1$u6L6bBaCyF/zQT0NaktkSw$kXw/JykN92kMO72eTLhkdN7iGXWRI9uhP8XIi3Ege4c"
#define SALT_LEN crypto_pwhash_argon2id_SALTBYTES
#define DIGEST_LEN 32 /* what crypto_pwhash_str stores */
#define B64_NOPAD sodium_base64_VARIANT_ORIGINAL_NO_PADDING

/* A stored hash taken apart: its costs, salt and digest. */
struct parsed_hash {
    unsigned long m, t;
    unsigned char salt[SALT_LEN];
    unsigned char digest[DIGEST_LEN];
    int ok; /* one lane, a 16-byte salt and a 32-byte digest: checkable by one crypto_pwhash run */
};

/* Decodes one unpadded base64 field of exactly n bytes ending at '$' or NUL; advances *p. */
static int b64_field(const char **p, unsigned char *out, size_t n)
{
    size_t len = strcspn(*p, "$"), got = 0;
    const char *end = NULL;

    if (sodium_base642bin(out, n, *p, len, NULL, &got, &end, B64_NOPAD) != 0 || got != n || end != *p + len)
        return 0;
    *p += len;
    return 1;
}

static void parse_hash(const char *hash, struct parsed_hash *h)
{
    const char *p = hash;
    unsigned long lanes;

    memset(h, 0, sizeof(*h));
    if (!hash || !hash_acceptable(hash)) return;
    p += strlen(HASH_PREFIX);
    if (!parse_param(&p, &h->m) || strncmp(p, ",t=", 3) != 0) return;
    p += 3;
    if (!parse_param(&p, &h->t) || strncmp(p, ",p=", 3) != 0) return;
    p += 3;
    if (!parse_param(&p, &lanes) || lanes != 1 || *p++ != '$') return;
    if (!b64_field(&p, h->salt, SALT_LEN) || *p++ != '$') return;
    if (!b64_field(&p, h->digest, DIGEST_LEN) || *p) return;
    h->ok = 1;
}

/* argon2id of secret with h's costs and salt into out; nonzero on success. One gated run. */
static int derive(const struct parsed_hash *h, const char *secret, size_t len, unsigned char out[DIGEST_LEN])
{
    int r;
    gate_enter();
    r = crypto_pwhash(out, DIGEST_LEN, secret, len, h->salt, h->t, (size_t)h->m * 1024,
                      crypto_pwhash_ALG_ARGON2ID13);
    gate_leave();
    return r == 0;
}

enum berth_rc berth_secret_hash_like(const char *secret, const char *sibling, char out[BERTH_SECRET_HASH_MAX],
                                     struct berth_err *err)
{
    struct parsed_hash h;
    unsigned char digest[DIGEST_LEN];
    char salt64[sodium_base64_ENCODED_LEN(SALT_LEN, B64_NOPAD)];
    char dig64[sodium_base64_ENCODED_LEN(DIGEST_LEN, B64_NOPAD)];
    enum berth_rc rc;

    ensure_init();
    parse_hash(sibling, &h);
    if (!h.ok || !secret || secret_len(secret) > SECRET_MAX) {
        /* nothing to share, or a secret berth_secret_hash refuses with the right message */
        rc = berth_secret_hash(secret, out, err);
        goto out;
    }
    if (!derive(&h, secret, secret_len(secret), digest)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "argon2id hashing failed (out of memory?)");
        goto out;
    }
    sodium_bin2base64(salt64, sizeof(salt64), h.salt, SALT_LEN, B64_NOPAD);
    sodium_bin2base64(dig64, sizeof(dig64), digest, DIGEST_LEN, B64_NOPAD);
    snprintf(out, BERTH_SECRET_HASH_MAX, "%s%lu,t=%lu,p=1$%s$%s", HASH_PREFIX, h.m, h.t, salt64, dig64);
    rc = BERTH_OK;
out:
    sodium_memzero(digest, sizeof(digest));
    sodium_memzero(&h, sizeof(h));
    return rc;
}

int berth_secret_match(const char *const *hashes, size_t n, const char *secret)
{
    struct parsed_hash *h = NULL;
    unsigned char(*run)[DIGEST_LEN] = NULL;
    int *have = NULL, found = -1, runs = 0;
    size_t i, j, len;

    /* a secret that could never have been stored costs nothing, whatever the name */
    if (!secret || secret_len(secret) > SECRET_MAX) goto out;
    len = secret_len(secret);
    ensure_init();
    h = berth_xcalloc(n ? n : 1, sizeof(*h));
    run = berth_xcalloc(n ? n : 1, sizeof(*run));
    have = berth_xcalloc(n ? n : 1, sizeof(*have));
    for (i = 0; i < n; i++) parse_hash(hashes[i], &h[i]);
    for (i = 0; i < n; i++) {
        if (!h[i].ok) {
            /* not in the shape one run can share (or not a hash at all): checked on its own */
            if (hashes[i] && hash_acceptable(hashes[i])) {
                runs++;
                if (berth_secret_verify(hashes[i], secret) && found < 0) found = (int)i;
            }
            continue;
        }
        /* a hash with the costs and salt of an earlier one reuses that run */
        for (j = 0; j < i; j++)
            if (have[j] && h[j].m == h[i].m && h[j].t == h[i].t && !sodium_memcmp(h[j].salt, h[i].salt, SALT_LEN))
                break;
        if (j < i) {
            BERTH_ASSERT(have[j]);
            memcpy(run[i], run[j], DIGEST_LEN);
            have[i] = 1;
        } else {
            runs++;
            have[i] = derive(&h[i], secret, len, run[i]);
        }
        if (have[i] && !sodium_memcmp(run[i], h[i].digest, DIGEST_LEN) && found < 0) found = (int)i;
    }
    /* nothing was run: spend what one check costs, so an unknown name reads like a wrong password */
    if (!runs) berth_secret_verify(DUMMY_HASH, secret);
out:
    if (h) sodium_memzero(h, n * sizeof(*h));
    if (run) sodium_memzero(run, n * sizeof(*run));
    free(h);
    free(run);
    free(have);
    return found;
}

int berth_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char ma[MAC_LEN], mb[MAC_LEN];
    int same;

    ensure_init();
    /*
     * Comparing MACs under a secret key takes the same time wherever the
     * inputs differ, and whatever their lengths: there is no length check to
     * exit early on, and equal MACs mean equal strings.
     */
    crypto_auth_hmacsha256(ma, (const unsigned char *)(a ? a : ""), a ? alen : 0, equal_key);
    crypto_auth_hmacsha256(mb, (const unsigned char *)(b ? b : ""), b ? blen : 0, equal_key);
    same = sodium_memcmp(ma, mb, MAC_LEN) == 0;
    sodium_memzero(ma, sizeof(ma));
    sodium_memzero(mb, sizeof(mb));
    return same;
}

/* ---------------------------------------------------------------- the cache */

struct berth_secret_cache *berth_secret_cache_new(int ttl_s, size_t capacity)
{
    struct berth_secret_cache *c = berth_xcalloc(1, sizeof(*c));

    ensure_init();
    pthread_mutex_init(&c->lock, NULL);
    berth_random(c->key, sizeof(c->key));
    c->ttl_s = ttl_s;
    if (capacity > CACHE_CAPACITY_MAX) capacity = CACHE_CAPACITY_MAX;
    if (ttl_s > 0 && capacity > 0) {
        c->nbuckets = capacity / CACHE_WAYS + (capacity % CACHE_WAYS != 0);
        c->slots = berth_xcalloc(c->nbuckets, CACHE_WAYS * sizeof(*c->slots));
    }
    return c;
}

void berth_secret_cache_free(struct berth_secret_cache *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->lock);
    if (c->slots) sodium_memzero(c->slots, c->nbuckets * CACHE_WAYS * sizeof(*c->slots));
    free(c->slots);
    sodium_memzero(c->key, sizeof(c->key));
    free(c);
}

/*
 * MAC of principal || 0 || hash || 0 || secret under the cache's key. The
 * NULs keep the fields apart (none of them can contain one). Returns 0,
 * without touching mac, when the cache is off or the input could never have
 * verified.
 */
static int cache_mac(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                     unsigned char mac[MAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    size_t slen;

    if (!c || !c->nbuckets || !hash || !secret) return 0;
    if (!principal) principal = "";
    slen = secret_len(secret);
    if (slen > SECRET_MAX || strnlen(hash, BERTH_SECRET_HASH_MAX) >= BERTH_SECRET_HASH_MAX) return 0;
    crypto_auth_hmacsha256_init(&st, c->key, sizeof(c->key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)principal, strlen(principal) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)hash, strlen(hash) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)secret, slen);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    return 1;
}

static struct cache_slot *bucket_of(struct berth_secret_cache *c, const unsigned char mac[MAC_LEN])
{
    uint64_t h;
    memcpy(&h, mac, sizeof(h)); /* the MAC is already uniformly spread */
    return &c->slots[(size_t)(h % c->nbuckets) * CACHE_WAYS];
}

static int slot_fresh(const struct berth_secret_cache *c, const struct cache_slot *s, int64_t now_s)
{
    /* A clock that went backwards past the entry does not keep it alive. */
    return s->used && now_s >= s->added && now_s - s->added < c->ttl_s;
}

/* Caller holds c->lock. */
static int cache_find(struct berth_secret_cache *c, const unsigned char mac[MAC_LEN], int64_t now_s)
{
    struct cache_slot *b = bucket_of(c, mac);
    int i;

    for (i = 0; i < CACHE_WAYS; i++) {
        if (!b[i].used || sodium_memcmp(b[i].mac, mac, MAC_LEN) != 0) continue;
        if (slot_fresh(c, &b[i], now_s)) return 1;
        b[i].used = 0; /* expired: free the slot now */
        return 0;
    }
    return 0;
}

/* Caller holds c->lock. Refreshes a present entry, else takes a free or expired slot, else the oldest. */
static void cache_insert(struct berth_secret_cache *c, const unsigned char mac[MAC_LEN], int64_t now_s)
{
    struct cache_slot *b = bucket_of(c, mac);
    struct cache_slot *victim = NULL;
    int i;

    for (i = 0; i < CACHE_WAYS; i++) {
        if (b[i].used && sodium_memcmp(b[i].mac, mac, MAC_LEN) == 0) {
            victim = &b[i];
            goto fill;
        }
    }
    for (i = 0; i < CACHE_WAYS; i++) {
        if (!slot_fresh(c, &b[i], now_s)) {
            victim = &b[i];
            goto fill;
        }
        if (!victim || b[i].added < victim->added) victim = &b[i];
    }
fill:
    BERTH_ASSERT(victim && victim >= b && victim < b + CACHE_WAYS);
    memcpy(victim->mac, mac, MAC_LEN);
    victim->added = now_s;
    victim->used = 1;
}

int berth_secret_cache_hit(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                           int64_t now_s)
{
    unsigned char mac[MAC_LEN];
    int hit = 0;

    if (!cache_mac(c, principal, hash, secret, mac)) return 0;
    pthread_mutex_lock(&c->lock);
    hit = cache_find(c, mac, now_s);
    pthread_mutex_unlock(&c->lock);
    sodium_memzero(mac, sizeof(mac));
    return hit;
}

void berth_secret_cache_put(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                            int64_t now_s)
{
    unsigned char mac[MAC_LEN];

    if (!cache_mac(c, principal, hash, secret, mac)) return;
    pthread_mutex_lock(&c->lock);
    cache_insert(c, mac, now_s);
    pthread_mutex_unlock(&c->lock);
    sodium_memzero(mac, sizeof(mac));
}

int berth_secret_check(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                       int64_t now_s)
{
    unsigned char mac[MAC_LEN];
    int have_mac, ok;

    have_mac = cache_mac(c, principal, hash, secret, mac);
    if (have_mac) {
        pthread_mutex_lock(&c->lock);
        ok = cache_find(c, mac, now_s);
        pthread_mutex_unlock(&c->lock);
        if (ok) goto out;
    }
    /* The lock is not held while argon2 runs; failures are never remembered. */
    ok = berth_secret_verify(hash, secret);
    if (ok && have_mac) {
        pthread_mutex_lock(&c->lock);
        cache_insert(c, mac, now_s);
        pthread_mutex_unlock(&c->lock);
    }
out:
    if (have_mac) sodium_memzero(mac, sizeof(mac));
    return ok;
}
