/*
 * limiter.c - the brute-force limiter: failures per (principal, client IP)
 * in an exact sliding window, a lockout once there are too many, and a fixed
 * table that evicts the stalest pairs. docs/internals/auth-secrets.md
 * explains the algorithm.
 */
#include <limits.h>
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

/* Only this much of each name is hashed; real principals and addresses are far shorter. */
#define PRINCIPAL_CAP 256
#define IP_CAP 64
/* Each pair keeps its last max_failures failure times, so the ring is capped. */
#define MAX_FAILURES_CAP 100
/* Slots per bucket: a bucket is scanned linearly under the lock. */
#define WAYS 8
/* Larger capacities are treated as this (16M pairs), which also keeps the sizes from overflowing. */
#define CAPACITY_MAX ((size_t)1 << 24)
#define ID_LEN crypto_shorthash_siphashx24_BYTES

/*
 * One (principal, IP) pair, known only by a keyed hash of the two. Its last
 * failure times live in the limiter's ring array at ring_len * slot index:
 * count of them are valid, the newest just before head.
 */
struct lim_slot {
    unsigned char id[ID_LEN];
    int64_t last;          /* time of the newest failure */
    int64_t blocked_until; /* blocked while now < blocked_until */
    unsigned head, count;
    int used;
};

struct berth_limiter {
    pthread_mutex_t lock;                                   /* guards slots and times */
    unsigned char key[crypto_shorthash_siphashx24_KEYBYTES]; /* read-only after new */
    unsigned ring_len;                                      /* max_failures; 0: never blocks */
    int64_t window_s, lockout_s;
    size_t nbuckets;
    struct lim_slot *slots; /* nbuckets * WAYS */
    int64_t *times;         /* nbuckets * WAYS * ring_len */
};

struct berth_limiter *berth_limiter_new(int max_failures, int window_s, int lockout_s, size_t capacity)
{
    struct berth_limiter *l = berth_xcalloc(1, sizeof(*l));

    if (sodium_init() < 0) {
        fputs("berth: libsodium failed to initialise\n", stderr);
        abort();
    }
    pthread_mutex_init(&l->lock, NULL);
    berth_random(l->key, sizeof(l->key));
    if (max_failures > MAX_FAILURES_CAP) max_failures = MAX_FAILURES_CAP;
    l->ring_len = max_failures > 0 && window_s > 0 && lockout_s > 0 ? (unsigned)max_failures : 0;
    l->window_s = window_s;
    l->lockout_s = lockout_s;
    if (capacity > CAPACITY_MAX) capacity = CAPACITY_MAX;
    l->nbuckets = capacity / WAYS + (capacity % WAYS != 0);
    if (l->nbuckets == 0) l->nbuckets = 1;
    l->slots = berth_xcalloc(l->nbuckets * WAYS, sizeof(*l->slots));
    l->times = berth_xcalloc(l->nbuckets * WAYS, (l->ring_len ? l->ring_len : 1) * sizeof(*l->times));
    return l;
}

void berth_limiter_free(struct berth_limiter *l)
{
    if (!l) return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l->times);
    free(l);
}

static void pair_id(const struct berth_limiter *l, const char *principal, const char *ip, unsigned char id[ID_LEN])
{
    unsigned char in[PRINCIPAL_CAP + 1 + IP_CAP];
    size_t pn, ipn;

    if (!principal) principal = "";
    if (!ip) ip = "";
    pn = strnlen(principal, PRINCIPAL_CAP);
    ipn = strnlen(ip, IP_CAP);
    BERTH_ASSERT(pn + 1 + ipn <= sizeof(in));
    memcpy(in, principal, pn);
    in[pn] = 0; /* keeps ("ab", "c") apart from ("a", "bc") */
    memcpy(in + pn + 1, ip, ipn);
    crypto_shorthash_siphashx24(id, in, pn + 1 + ipn, l->key);
}

static struct lim_slot *bucket_of(struct berth_limiter *l, const unsigned char id[ID_LEN])
{
    uint64_t h;
    memcpy(&h, id, sizeof(h));
    return &l->slots[(size_t)(h % l->nbuckets) * WAYS];
}

static int64_t *ring_of(struct berth_limiter *l, const struct lim_slot *s)
{
    return &l->times[(size_t)(s - l->slots) * l->ring_len];
}

/* Caller holds l->lock. */
static struct lim_slot *find(struct berth_limiter *l, const unsigned char id[ID_LEN])
{
    struct lim_slot *b = bucket_of(l, id);
    int i;
    for (i = 0; i < WAYS; i++)
        if (b[i].used && memcmp(b[i].id, id, ID_LEN) == 0) return &b[i];
    return NULL;
}

/*
 * Eviction order: free slots, then pairs with nothing left to remember (not
 * blocked, newest failure outside the window), then the pairs that failed
 * longest ago, and blocked pairs only last, the one whose lockout ends first.
 * A flood of new pairs therefore does not lift a lockout while anything else
 * can go.
 */
static int evict_class(const struct berth_limiter *l, const struct lim_slot *s, int64_t now_s, int64_t *age)
{
    if (!s->used) return 0;
    if (now_s < s->blocked_until) {
        *age = s->blocked_until;
        return 3;
    }
    *age = s->last;
    return now_s - s->last >= l->window_s ? 1 : 2;
}

/* Caller holds l->lock. */
static struct lim_slot *take_slot(struct berth_limiter *l, const unsigned char id[ID_LEN], int64_t now_s)
{
    struct lim_slot *b = bucket_of(l, id), *victim = NULL;
    int i, vclass = 4, cls;
    int64_t vage = 0, age = 0;

    for (i = 0; i < WAYS; i++) {
        cls = evict_class(l, &b[i], now_s, &age);
        if (cls < vclass || (cls == vclass && age < vage)) {
            victim = &b[i];
            vclass = cls;
            vage = age;
        }
    }
    BERTH_ASSERT(victim >= b && victim < b + WAYS);
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->id, id, ID_LEN);
    victim->used = 1;
    return victim;
}

int berth_limiter_blocked(struct berth_limiter *l, const char *principal, const char *ip, int64_t now_s,
                          int *retry_after_s)
{
    unsigned char id[ID_LEN];
    struct lim_slot *s;
    int64_t wait = 0;

    if (l && l->ring_len) {
        pair_id(l, principal, ip, id);
        pthread_mutex_lock(&l->lock);
        s = find(l, id);
        if (s && now_s < s->blocked_until) wait = s->blocked_until - now_s;
        pthread_mutex_unlock(&l->lock);
    }
    if (wait > INT_MAX) wait = INT_MAX;
    if (retry_after_s) *retry_after_s = (int)wait;
    return wait > 0;
}

void berth_limiter_fail(struct berth_limiter *l, const char *principal, const char *ip, int64_t now_s)
{
    unsigned char id[ID_LEN];
    struct lim_slot *s;
    int64_t *ring;

    if (!l || !l->ring_len) return;
    pair_id(l, principal, ip, id);
    pthread_mutex_lock(&l->lock);
    s = find(l, id);
    if (!s) s = take_slot(l, id, now_s);
    /* Attempts refused during a lockout are not verified, so they do not count either. */
    if (now_s < s->blocked_until) goto out;
    ring = ring_of(l, s);
    ring[s->head] = now_s;
    s->head = (s->head + 1) % l->ring_len;
    if (s->count < l->ring_len) s->count++;
    s->last = now_s;
    /*
     * The ring holds the last ring_len failures; once full, its oldest sits
     * at head. If even that one is inside the window, all of them are.
     */
    if (s->count == l->ring_len && now_s - ring[s->head] < l->window_s) {
        s->blocked_until = now_s + l->lockout_s;
        s->count = 0; /* after the lockout the pair starts afresh */
        s->head = 0;
    }
out:
    pthread_mutex_unlock(&l->lock);
}

void berth_limiter_succeed(struct berth_limiter *l, const char *principal, const char *ip)
{
    unsigned char id[ID_LEN];
    struct lim_slot *s;

    if (!l || !l->ring_len) return;
    pair_id(l, principal, ip, id);
    pthread_mutex_lock(&l->lock);
    s = find(l, id);
    if (s) memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&l->lock);
}
