/*
 * test.h - the unit test runner's contract: TEST() registers a test, the
 * typed asserts print both sides and end the test (each runs in a forked
 * child with a timeout, so a crash fails one test only).
 */
#ifndef BERTH_TEST_H
#define BERTH_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"

typedef void (*berth_test_fn)(void);
void berth_test_register(const char *name, berth_test_fn fn, const char *file);
/* A fresh empty temp dir for the running test, removed after it; never NULL. */
const char *berth_test_tmpdir(void);
/*
 * A libpq dsn naming a fresh, empty database t_<name> on the PostgreSQL
 * server whose socket folder is in BERTH_TEST_PG_HOST (scripts/test.sh
 * starts one); NULL when that is unset. malloc'd.
 */
char *berth_test_pg_fresh(const char *name);

#define TEST(name)                                                                          \
    static void name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                          \
    {                                                                                       \
        berth_test_register(#name, name, __FILE__);                                         \
    }                                                                                       \
    static void name(void)

/* Exit status of a test that could not run here (TEST_SKIP). */
#define BERTH_TEST_SKIPPED 77
/* Ends the test as skipped, saying why: it neither passes nor fails. */
#define TEST_SKIP(...)                                                                      \
    do {                                                                                    \
        fprintf(stderr, "  skip: ");                                                        \
        fprintf(stderr, __VA_ARGS__);                                                       \
        fputc('\n', stderr);                                                                \
        exit(BERTH_TEST_SKIPPED);                                                           \
    } while (0)

#define BERTH_TEST_FAIL(...)                                                                \
    do {                                                                                    \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                                    \
        fprintf(stderr, __VA_ARGS__);                                                       \
        fputc('\n', stderr);                                                                \
        exit(1);                                                                            \
    } while (0)

#define ASSERT_TRUE(c)                                                                      \
    do {                                                                                    \
        if (!(c)) BERTH_TEST_FAIL("expected true: %s", #c);                                 \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                 \
    do {                                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                                 \
        if (a_ != b_) BERTH_TEST_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);            \
    } while (0)

#define ASSERT_EQ_U64(a, b)                                                                 \
    do {                                                                                    \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);      \
        if (a_ != b_) BERTH_TEST_FAIL("%s == %s: %llu != %llu", #a, #b, a_, b_);            \
    } while (0)

#define ASSERT_EQ_STR(a, b)                                                                 \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                              \
            BERTH_TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",       \
                            b_ ? b_ : "(null)");                                            \
    } while (0)

/* expr returns enum berth_rc; compares by name so failures read well. */
#define ASSERT_RC(expr, want)                                                               \
    do {                                                                                    \
        enum berth_rc got_ = (expr);                                                        \
        if (got_ != (want))                                                                 \
            BERTH_TEST_FAIL("%s: got %s, want %s", #expr, berth_rc_name(got_),              \
                            berth_rc_name(want));                                           \
    } while (0)

#endif
