/*
 * meta_auth.c - what the servers of one store share for logins (struct
 * berth_meta_auth_ops): the token signing keys, and the brute-force
 * limiter's failures and lockouts, on the SQL layer (meta_sql.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "meta_sql.h"
#include "banned.h"

/* ---- signing keys ---- */

struct key_row {
    char kid[BERTH_META_KID_MAX + 1];
    int64_t created_ms;
    char *text; /* owned; cleared before it is freed: it holds a private key */
};

static enum berth_rc read_key(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct key_row *k = ctx;
    const char *text = berth_sql_text(r, 2);

    if (berth_sql_copy(r, 0, k->kid, sizeof(k->kid)) != 0 || !text) return berth_sql_damaged("signing key", err);
    k->created_ms = berth_sql_int(r, 1);
    k->text = berth_xstrdup(text);
    return BERTH_OK;
}

static void keys_release(struct berth_sql_list *l)
{
    struct key_row *v = l->v;
    size_t i;

    for (i = 0; i < l->n; i++) {
        if (!v[i].text) continue;
        explicit_bzero(v[i].text, strlen(v[i].text));
        free(v[i].text);
    }
    berth_sql_list_release(l);
}

/* Read into an array first, so fn runs with the connection back in the pool (fn may call the store). */
static enum berth_rc key_list(struct berth_meta *m, berth_meta_key_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct key_row);
    const struct key_row *v;
    enum berth_rc rc;
    size_t i;

    rc = berth_sql_list(berth_sql_db(m), "key_list", SQL_KEY_LIST, SQL_NOARGS, read_key, &l, NULL, err);
    v = l.v;
    for (i = 0; !rc && fn && i < l.n; i++)
        if (fn(v[i].kid, v[i].created_ms, v[i].text, ctx)) break;
    keys_release(&l);
    return rc;
}

static enum berth_rc key_add(struct berth_meta *m, const char *kid, int64_t created_ms, const char *text, int *added,
                             struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    if (added) *added = 0;
    if (!kid || !*kid || strlen(kid) > BERTH_META_KID_MAX || !text || !*text ||
        strlen(text) > BERTH_META_KEY_TEXT_MAX)
        return berth_err_set(err, BERTH_EINVAL, "key_add: no key id or key text, or one too long");
    rc = berth_sql_exec(db, "key_add", SQL_KEY_ADD, SQL_ARGS(SQL_T(kid), SQL_I(created_ms), SQL_T(text)), &n, err);
    if (!rc && added) *added = n > 0;
    return rc;
}

static enum berth_rc key_remove(struct berth_meta *m, const char *kid, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);

    if (!kid) return berth_err_set(err, BERTH_EINVAL, "key_remove: no key id");
    return berth_sql_exec(db, "key_remove", SQL_KEY_REMOVE, SQL_ARGS(SQL_T(kid)), NULL, err);
}

/* ---- the brute-force limiter ---- */

/* The pair's name: hex SHA-256 of principal, a NUL (so ("ab","c") is not ("a","bc")), and ip. */
static void pair_of(const char *principal, const char *ip, char out[65])
{
    struct berth_hasher h;
    struct berth_digest d;

    if (!principal) principal = "";
    if (!ip) ip = "";
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    berth_hasher_update(&h, principal, strlen(principal) + 1);
    berth_hasher_update(&h, ip, strlen(ip));
    berth_hasher_final(&h, &d);
    berth_hasher_release(&h);
    snprintf(out, 65, "%s", berth_digest_hex(&d));
}

struct login_state {
    int locked;      /* a lockout row exists */
    int64_t until_s; /* its end */
    int failures;    /* the pair has failure rows */
};

static enum berth_rc read_state(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct login_state *s = ctx;

    (void)err;
    s->locked = !berth_sql_null(r, 0);
    s->until_s = s->locked ? berth_sql_int(r, 0) : 0;
    s->failures = berth_sql_int(r, 1) != 0;
    return BERTH_OK;
}

static enum berth_rc state_of(struct berth_sql_conn *c, const char *op, const char *pair, struct login_state *s,
                              struct berth_err *err)
{
    memset(s, 0, sizeof(*s));
    return berth_sql_one(c, op, SQL_LOGIN_STATE, SQL_ARGS(SQL_T(pair)), read_state, s, NULL, err);
}

static enum berth_rc login_blocked(struct berth_meta *m, const char *principal, const char *ip, int64_t now_s,
                                   int64_t *retry_after_s, int *pending, struct berth_err *err)
{
    struct login_state s;
    char pair[65];
    enum berth_rc rc;

    if (retry_after_s) *retry_after_s = 0;
    if (pending) *pending = 0;
    pair_of(principal, ip, pair);
    rc = state_of(berth_sql_db(m), "login_blocked", pair, &s, err);
    if (rc) return rc;
    if (retry_after_s && s.locked && now_s < s.until_s) *retry_after_s = s.until_s - now_s;
    if (pending) *pending = s.locked || s.failures;
    return BERTH_OK;
}

struct failure {
    const char *pair;
    int64_t now_s;
    const struct berth_meta_login_limits *lim;
};

static enum berth_rc fail_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct failure *f = ctx;
    struct login_state s;
    int64_t n = 0;
    enum berth_rc rc;

    rc = state_of(c, "login_failed", f->pair, &s, err);
    /* attempts refused during a lockout are not verified, so they do not count either */
    if (rc || (s.locked && f->now_s < s.until_s)) return rc;
    rc = berth_sql_exec(c, "login_failed", SQL_LOGIN_FAIL_ADD, SQL_ARGS(SQL_T(f->pair), SQL_I(f->now_s)), NULL, err);
    if (rc) return rc;
    rc = berth_sql_int1(c, "login_failed", SQL_LOGIN_FAIL_COUNT,
                        SQL_ARGS(SQL_T(f->pair), SQL_I(f->now_s - f->lim->window_s)), NULL, &n, err);
    if (rc || n < f->lim->max_failures) return rc;
    rc = berth_sql_exec(c, "login_failed", SQL_LOGIN_LOCK,
                        SQL_ARGS(SQL_T(f->pair), SQL_I(f->now_s + f->lim->lockout_s)), NULL, err);
    /* after the lockout the pair starts afresh */
    if (!rc) rc = berth_sql_exec(c, "login_failed", SQL_LOGIN_FAILS_CLEAR, SQL_ARGS(SQL_T(f->pair)), NULL, err);
    return rc;
}

static enum berth_rc login_failed(struct berth_meta *m, const char *principal, const char *ip, int64_t now_s,
                                  const struct berth_meta_login_limits *lim, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct failure f = {NULL, now_s, lim};
    char pair[65];
    enum berth_rc rc;

    if (!lim) return berth_err_set(err, BERTH_EINVAL, "login_failed: no limits");
    if (lim->max_failures <= 0 || lim->window_s <= 0 || lim->lockout_s <= 0) return BERTH_OK; /* never blocks */
    pair_of(principal, ip, pair);
    f.pair = pair;
    rc = berth_sql_tx(m, "login_failed", fail_tx, &f, err);
    if (rc) return rc;
    /*
     * Outside the pair's transaction: every pair's outlived rows, each
     * statement atomic on its own, so failures of other pairs never make
     * the pair's transaction conflict and run again.
     */
    rc = berth_sql_exec(db, "login_failed", SQL_LOGIN_FAILS_PRUNE, SQL_ARGS(SQL_I(now_s - lim->window_s)), NULL, err);
    if (!rc) rc = berth_sql_exec(db, "login_failed", SQL_LOGIN_LOCKS_PRUNE, SQL_ARGS(SQL_I(now_s)), NULL, err);
    return rc;
}

static enum berth_rc succeed_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const char *pair = ctx;
    enum berth_rc rc;

    rc = berth_sql_exec(c, "login_succeeded", SQL_LOGIN_FAILS_CLEAR, SQL_ARGS(SQL_T(pair)), NULL, err);
    if (!rc) rc = berth_sql_exec(c, "login_succeeded", SQL_LOGIN_LOCK_CLEAR, SQL_ARGS(SQL_T(pair)), NULL, err);
    return rc;
}

static enum berth_rc login_succeeded(struct berth_meta *m, const char *principal, const char *ip,
                                     struct berth_err *err)
{
    char pair[65];

    berth_sql_db(m);
    pair_of(principal, ip, pair);
    return berth_sql_tx(m, "login_succeeded", succeed_tx, pair, err);
}

const struct berth_meta_auth_ops berth_sql_auth_ops = {
    .key_list = key_list,
    .key_add = key_add,
    .key_remove = key_remove,
    .login_blocked = login_blocked,
    .login_failed = login_failed,
    .login_succeeded = login_succeeded,
};
