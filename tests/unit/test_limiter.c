/* test_limiter.c - the brute-force limiter: sliding window, lockout, isolation of pairs, eviction, threads. */
#include <pthread.h>
#include <stdlib.h>
#include "auth.h"
#include "test.h"

#define T0 1700000000

static void fail_n(struct berth_limiter *l, const char *who, const char *ip, int n, int64_t now)
{
    while (n-- > 0) berth_limiter_fail(l, who, ip, now);
}

TEST(limiter_blocks_after_max_failures_not_before)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry = -1;

    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.1", T0, &retry));
    ASSERT_EQ_INT(retry, 0);
    fail_n(l, "alice", "10.0.0.1", 2, T0);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.1", T0 + 1, &retry));
    berth_limiter_fail(l, "alice", "10.0.0.1", T0 + 1);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.1", T0 + 1, &retry));
    ASSERT_EQ_INT(retry, 300);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.1", T0 + 1, NULL));
    berth_limiter_free(l);
    berth_limiter_free(NULL);
}

TEST(limiter_other_ips_and_principals_unaffected)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry;

    fail_n(l, "alice", "10.0.0.1", 3, T0);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.1", T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.2", T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(l, "bob", "10.0.0.1", T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice1", "0.0.0.1", T0, &retry)); /* same bytes, split elsewhere */
    ASSERT_TRUE(!berth_limiter_blocked(l, "", "alice10.0.0.1", T0, &retry));
    /* their own failures count separately */
    fail_n(l, "alice", "10.0.0.2", 2, T0);
    fail_n(l, "bob", "10.0.0.1", 2, T0);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.2", T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(l, "bob", "10.0.0.1", T0, &retry));
    berth_limiter_free(l);
}

TEST(limiter_retry_after_counts_down_then_unblocks)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry;

    fail_n(l, "alice", "::1", 3, T0);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "::1", T0 + 100, &retry));
    ASSERT_EQ_INT(retry, 200);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "::1", T0 + 299, &retry));
    ASSERT_EQ_INT(retry, 1);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "::1", T0 + 300, &retry));
    ASSERT_EQ_INT(retry, 0);
    /* after the lockout the pair gets a fresh allowance */
    fail_n(l, "alice", "::1", 2, T0 + 301);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "::1", T0 + 301, &retry));
    berth_limiter_fail(l, "alice", "::1", T0 + 301);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "::1", T0 + 301, &retry));
    berth_limiter_free(l);
}

TEST(limiter_failures_during_lockout_do_not_extend_it)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry;

    fail_n(l, "alice", "::1", 3, T0);
    fail_n(l, "alice", "::1", 10, T0 + 200);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "::1", T0 + 200, &retry));
    ASSERT_EQ_INT(retry, 100);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "::1", T0 + 300, &retry));
    berth_limiter_free(l);
}

TEST(limiter_success_resets_the_pair)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry;

    fail_n(l, "alice", "10.0.0.1", 2, T0);
    fail_n(l, "alice", "10.0.0.2", 2, T0);
    berth_limiter_succeed(l, "alice", "10.0.0.1");
    fail_n(l, "alice", "10.0.0.1", 2, T0 + 1);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.1", T0 + 1, &retry));
    /* only that pair was reset */
    berth_limiter_fail(l, "alice", "10.0.0.2", T0 + 1);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.2", T0 + 1, &retry));
    /* succeeding for an unknown pair is harmless */
    berth_limiter_succeed(l, "nobody", "10.9.9.9");
    berth_limiter_free(l);
}

TEST(limiter_window_slides)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 1024);
    int retry;

    berth_limiter_fail(l, "alice", "::1", T0);
    berth_limiter_fail(l, "alice", "::1", T0 + 30);
    /* the failure at T0 is 60 s old: out of the window, so only two count */
    berth_limiter_fail(l, "alice", "::1", T0 + 60);
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "::1", T0 + 60, &retry));
    /* T0+30, T0+60, T0+89 are all within 60 s */
    berth_limiter_fail(l, "alice", "::1", T0 + 89);
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "::1", T0 + 89, &retry));
    ASSERT_EQ_INT(retry, 300);

    /* spaced-out failures never add up */
    berth_limiter_fail(l, "bob", "::1", T0);
    berth_limiter_fail(l, "bob", "::1", T0 + 40);
    berth_limiter_fail(l, "bob", "::1", T0 + 80);
    berth_limiter_fail(l, "bob", "::1", T0 + 120);
    berth_limiter_fail(l, "bob", "::1", T0 + 160);
    ASSERT_TRUE(!berth_limiter_blocked(l, "bob", "::1", T0 + 160, &retry));
    berth_limiter_free(l);
}

TEST(limiter_evicts_the_stalest_pairs)
{
    /* 8 pairs are one bucket, so eviction order is exact */
    struct berth_limiter *l = berth_limiter_new(3, 600, 300, 8);
    char ip[32];
    int i, retry;

    for (i = 0; i < 8; i++) {
        snprintf(ip, sizeof(ip), "10.0.0.%d", i);
        fail_n(l, "alice", ip, 2, T0 + i);
    }
    berth_limiter_fail(l, "alice", "10.0.1.0", T0 + 10); /* evicts 10.0.0.0, the stalest */
    berth_limiter_fail(l, "alice", "10.0.0.7", T0 + 11); /* still remembered: third failure */
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.7", T0 + 11, &retry));
    berth_limiter_fail(l, "alice", "10.0.0.0", T0 + 12); /* forgotten: first failure again */
    ASSERT_TRUE(!berth_limiter_blocked(l, "alice", "10.0.0.0", T0 + 12, &retry));
    berth_limiter_free(l);
}

TEST(limiter_keeps_lockouts_under_a_flood)
{
    struct berth_limiter *l = berth_limiter_new(3, 60, 300, 8);
    char ip[32];
    int i, retry;

    fail_n(l, "alice", "10.0.0.1", 3, T0);
    for (i = 0; i < 200; i++) {
        snprintf(ip, sizeof(ip), "192.168.%d.%d", i / 256, i % 256);
        berth_limiter_fail(l, "mallory", ip, T0 + 1 + i / 10);
    }
    ASSERT_TRUE(berth_limiter_blocked(l, "alice", "10.0.0.1", T0 + 30, &retry));
    ASSERT_EQ_INT(retry, 270);
    berth_limiter_free(l);
}

TEST(limiter_long_names_and_off_settings)
{
    struct berth_limiter *l = berth_limiter_new(2, 60, 300, 16);
    struct berth_limiter *off = berth_limiter_new(0, 60, 300, 16);
    char *big = malloc(100001);
    int retry;

    memset(big, 'a', 100000);
    big[100000] = 0;
    fail_n(l, big, big, 2, T0);
    ASSERT_TRUE(berth_limiter_blocked(l, big, big, T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(l, big, "10.0.0.1", T0, &retry));
    fail_n(l, NULL, NULL, 2, T0);
    ASSERT_TRUE(berth_limiter_blocked(l, NULL, NULL, T0, &retry));
    fail_n(off, "alice", "::1", 100, T0);
    ASSERT_TRUE(!berth_limiter_blocked(off, "alice", "::1", T0, &retry));
    ASSERT_TRUE(!berth_limiter_blocked(NULL, "alice", "::1", T0, &retry));
    berth_limiter_fail(NULL, "alice", "::1", T0);
    berth_limiter_succeed(NULL, "alice", "::1");
    free(big);
    berth_limiter_free(l);
    berth_limiter_free(off);
}

/* ---------------------------------------------------------------- threads */

#define LT_THREADS 8

struct lt_arg {
    struct berth_limiter *l;
    pthread_barrier_t *start;
    int id;
    int bad;
};

static void *limiter_thread(void *p)
{
    struct lt_arg *a = p;
    char ip[32], noise[32];
    int k, retry;

    snprintf(ip, sizeof(ip), "10.1.0.%d", a->id);
    pthread_barrier_wait(a->start);
    for (k = 0; k < 2000; k++) {
        /* this thread's own pair follows the rules exactly, whatever the others do */
        fail_n(a->l, "alice", ip, 4, T0);
        if (berth_limiter_blocked(a->l, "alice", ip, T0, &retry)) a->bad++;
        berth_limiter_fail(a->l, "alice", ip, T0);
        if (!berth_limiter_blocked(a->l, "alice", ip, T0, &retry) || retry != 300) a->bad++;
        berth_limiter_succeed(a->l, "alice", ip);
        if (berth_limiter_blocked(a->l, "alice", ip, T0, &retry)) a->bad++;
        /* one pair shared by every thread */
        berth_limiter_fail(a->l, "shared", "10.9.9.9", T0);
        /* noise: short-lived pairs */
        snprintf(noise, sizeof(noise), "n%d-%d", a->id, k % 64);
        berth_limiter_fail(a->l, noise, ip, T0);
    }
    return NULL;
}

TEST(limiter_is_thread_safe)
{
    struct berth_limiter *l = berth_limiter_new(5, 60, 300, 8192);
    struct lt_arg args[LT_THREADS];
    pthread_t th[LT_THREADS];
    pthread_barrier_t start;
    int i, retry;

    pthread_barrier_init(&start, NULL, LT_THREADS);
    for (i = 0; i < LT_THREADS; i++) {
        args[i] = (struct lt_arg){l, &start, i, 0};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, limiter_thread, &args[i]), 0);
    }
    for (i = 0; i < LT_THREADS; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].bad, 0);
    }
    pthread_barrier_destroy(&start);
    ASSERT_TRUE(berth_limiter_blocked(l, "shared", "10.9.9.9", T0, &retry));
    ASSERT_EQ_INT(retry, 300);
    berth_limiter_free(l);
}
