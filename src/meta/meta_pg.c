/*
 * meta_pg.c - the "postgres" metadata driver: a pool of libpq connections,
 * statements prepared once per connection (named s<id>), values sent as text
 * (bytes as binary), results read as text, transactions at SERIALIZABLE for
 * writes and run again on a serialization failure, numbered migrations
 * (src/meta/migrations-pg) applied under an advisory lock so that several
 * servers may start at once. It implements struct berth_sql_driver
 * (meta_sql.h); the ops themselves are the SQL layer's, shared with SQLite.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lazy_pq.h"
#include "alloc.h"
#include "log.h"
#include "meta.h"
#include "meta_sql.h"
#include "migrations_pg.h"
#include "banned.h"

#define POOL_MAX 16     /* connections per store, opened on demand */
#define MAX_PARAMS 65535 /* parameters of one statement: the protocol's limit */
#define MAX_COLS 32     /* columns of one row */
#define PG_FAILED 1     /* the engine status step and prepare return on failure; the message is on the connection */
#define MIGRATE_LOCK 0x62657274 /* pg_advisory_lock key: "bert" */

struct pg_stmt;

struct pg_conn {
    struct berth_sql_conn base; /* first: what the SQL layer sees */
    PGconn *pg;
    struct pg_stmt *st[SQL_COUNT]; /* prepared on first use */
    char sqlstate[6];              /* of the last failure */
    char *msg;                     /* of the last failure, malloc'd */
    int64_t changes;               /* rows the last finished statement wrote */
    unsigned oneshot;              /* names of one-use statements */
};

struct pg_stmt {
    struct pg_conn *c;
    char name[24];
    int slot; /* -1: one use, deallocated by finalize */
    int nparams;
    /* nparams each, made at prepare */
    const char **val;
    int *len;
    int *fmt;
    char (*ibuf)[24]; /* integers as text */
    PGresult *desc; /* what PQdescribePrepared said: the result's columns */
    PGresult *res;
    int nrows, cur; /* cur: the row the columns read, -1 before the first */
    unsigned char *blob[MAX_COLS]; /* decoded bytea of the current row, freed at the next step */
};

struct meta_pg {
    struct berth_sql sql;       /* first member: the store the SQL layer works on */
    char *dsn;
    struct berth_sql_pool pool; /* at most POOL_MAX connections */
    pthread_mutex_t lock_mu;    /* guards locks */
    PGconn *locks;              /* holds the session locks (lock_try); opened on first use */
};

static const struct berth_sql_driver pg_driver;

static struct meta_pg *meta_of(struct berth_meta *m)
{
    if (!m || m->magic != BERTH_META_MAGIC || m->ops != &berth_meta_pg_ops) {
        fprintf(stderr, "berth: meta_pg: not a postgres meta object\n");
        abort();
    }
    return (struct meta_pg *)m;
}

static struct pg_conn *conn_of(struct berth_sql_conn *c)
{
    return (struct pg_conn *)c;
}

/* Keeps the failure of res (or of the connection) on c; returns PG_FAILED. */
static int failed(struct pg_conn *c, const PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorMessage(res) : NULL;

    if (!m || !*m) m = PQerrorMessage(c->pg);
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", st ? st : "");
    free(c->msg);
    c->msg = berth_xstrndup(m, strcspn(m, "\n"));
    return PG_FAILED;
}

static enum berth_rc pg_error(struct berth_sql_conn *bc, int status, const char *op, enum berth_sql_class *cls,
                              struct berth_err *err)
{
    struct pg_conn *c = conn_of(bc);
    (void)status;
    /* 40001 serialization_failure, 40P01 deadlock_detected: run the transaction again; 23xxx: integrity */
    *cls = !strcmp(c->sqlstate, "40001") || !strcmp(c->sqlstate, "40P01") ? BERTH_SQL_BUSY
           : !strncmp(c->sqlstate, "23", 2)                               ? BERTH_SQL_CONSTRAINT
                                                                          : BERTH_SQL_OTHER;
    return berth_err_set(err, BERTH_EDB, "%s: %s%s%s%s", op, c->msg ? c->msg : "failed", c->sqlstate[0] ? " (" : "",
                         c->sqlstate, c->sqlstate[0] ? ")" : "");
}

/* ---- statements ---- */

static void stmt_clear_row(struct pg_stmt *st)
{
    int i;
    for (i = 0; i < MAX_COLS; i++) {
        PQfreemem(st->blob[i]);
        st->blob[i] = NULL;
    }
}

static void stmt_free(struct pg_stmt *st, int deallocate);

static int pg_prepare(struct berth_sql_conn *bc, int slot, const char *sql, struct berth_sql_stmt **out)
{
    struct pg_conn *c = conn_of(bc);
    struct pg_stmt *st;
    PGresult *r;

    if (slot >= 0 && c->st[slot]) {
        *out = (struct berth_sql_stmt *)(void *)c->st[slot];
        return 0;
    }
    st = berth_xcalloc(1, sizeof(*st));
    st->c = c;
    st->slot = slot;
    st->cur = -1;
    if (slot >= 0) snprintf(st->name, sizeof(st->name), "s%d", slot);
    else snprintf(st->name, sizeof(st->name), "u%u", ++c->oneshot);
    r = PQprepare(c->pg, st->name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        failed(c, r);
        PQclear(r);
        free(st);
        return PG_FAILED;
    }
    PQclear(r);
    r = PQdescribePrepared(c->pg, st->name);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        failed(c, r);
        PQclear(r);
        stmt_free(st, 1);
        return PG_FAILED;
    }
    st->nparams = PQnparams(r);
    st->desc = r;
    st->val = berth_xcalloc((size_t)st->nparams + 1, sizeof(*st->val));
    st->len = berth_xcalloc((size_t)st->nparams + 1, sizeof(*st->len));
    st->fmt = berth_xcalloc((size_t)st->nparams + 1, sizeof(*st->fmt));
    st->ibuf = berth_xcalloc((size_t)st->nparams + 1, sizeof(*st->ibuf));
    if (st->nparams > MAX_PARAMS) {
        free(c->msg);
        c->msg = berth_xasprintf("a statement with %d parameters, more than %d", st->nparams, MAX_PARAMS);
        c->sqlstate[0] = '\0';
        stmt_free(st, 1);
        return PG_FAILED;
    }
    if (slot >= 0) c->st[slot] = st;
    *out = (struct berth_sql_stmt *)(void *)st;
    return 0;
}

#define PST(s) ((struct pg_stmt *)(void *)(s))

/* A parameter the statement does not have is ignored, as SQLite ignores a ?N it never uses. */
static int param_ok(struct pg_stmt *st, int k)
{
    return k >= 1 && k <= st->nparams;
}

static int pg_bind_null(struct berth_sql_stmt *s, int k)
{
    struct pg_stmt *st = PST(s);
    if (param_ok(st, k)) st->val[k - 1] = NULL;
    return 0;
}

static int pg_bind_int(struct berth_sql_stmt *s, int k, int64_t v)
{
    struct pg_stmt *st = PST(s);
    if (!param_ok(st, k)) return 0;
    snprintf(st->ibuf[k - 1], sizeof(*st->ibuf), "%" PRId64, v);
    st->val[k - 1] = st->ibuf[k - 1];
    st->fmt[k - 1] = 0;
    return 0;
}

static int pg_bind_text(struct berth_sql_stmt *s, int k, const char *v)
{
    struct pg_stmt *st = PST(s);
    if (!param_ok(st, k)) return 0;
    st->val[k - 1] = v;
    st->fmt[k - 1] = 0;
    return 0;
}

static int pg_bind_blob(struct berth_sql_stmt *s, int k, const void *p, size_t n)
{
    struct pg_stmt *st = PST(s);
    if (!param_ok(st, k)) return 0;
    if (n > INT32_MAX) return PG_FAILED;
    st->val[k - 1] = n ? (const char *)p : "";
    st->len[k - 1] = (int)n;
    st->fmt[k - 1] = 1; /* bytes as they are: PostgreSQL reads a binary bytea parameter verbatim */
    return 0;
}

static int pg_step(struct berth_sql_stmt *s)
{
    struct pg_stmt *st = PST(s);
    ExecStatusType es;

    stmt_clear_row(st);
    if (!st->res) {
        const char *tuples;
        st->res = PQexecPrepared(st->c->pg, st->name, st->nparams, st->val, st->len, st->fmt, 0);
        es = PQresultStatus(st->res);
        if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
            failed(st->c, st->res);
            PQclear(st->res);
            st->res = NULL;
            return PG_FAILED;
        }
        st->nrows = es == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
        tuples = PQcmdTuples(st->res);
        st->c->changes = tuples && *tuples ? strtoll(tuples, NULL, 10) : 0;
        st->cur = -1;
    }
    if (st->cur + 1 < st->nrows) {
        st->cur++;
        return BERTH_SQL_ROW;
    }
    return BERTH_SQL_DONE;
}

static int pg_column_null(struct berth_sql_stmt *s, int col)
{
    struct pg_stmt *st = PST(s);
    return !st->res || st->cur < 0 || PQgetisnull(st->res, st->cur, col);
}

static int64_t pg_column_int(struct berth_sql_stmt *s, int col)
{
    struct pg_stmt *st = PST(s);
    const char *v;
    if (pg_column_null(s, col)) return 0;
    v = PQgetvalue(st->res, st->cur, col);
    if (!strcmp(v, "t")) return 1; /* a boolean (EXISTS, a comparison) reads as 1 or 0, as in SQLite */
    if (!strcmp(v, "f")) return 0;
    return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct berth_sql_stmt *s, int col, size_t *len)
{
    struct pg_stmt *st = PST(s);
    if (pg_column_null(s, col)) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)PQgetlength(st->res, st->cur, col);
    return PQgetvalue(st->res, st->cur, col);
}

static const void *pg_column_blob(struct berth_sql_stmt *s, int col, size_t *len)
{
    struct pg_stmt *st = PST(s);
    size_t n = 0;

    *len = 0;
    if (pg_column_null(s, col) || col < 0 || col >= MAX_COLS) return NULL;
    if (PQftype(st->res, col) != 17 /* bytea */) { /* text read as bytes */
        *len = (size_t)PQgetlength(st->res, st->cur, col);
        return PQgetvalue(st->res, st->cur, col);
    }
    PQfreemem(st->blob[col]);
    st->blob[col] = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->cur, col), &n);
    *len = n;
    return st->blob[col] ? (const void *)st->blob[col] : (const void *)"";
}

static int pg_column_count(struct berth_sql_stmt *s)
{
    return PQnfields(PST(s)->desc);
}

static const char *pg_column_name(struct berth_sql_stmt *s, int col)
{
    return PQfname(PST(s)->desc, col);
}

/* By the column's type: the values themselves all come as text. */
static enum berth_sql_type pg_column_type(struct berth_sql_stmt *s, int col)
{
    switch (PQftype(PST(s)->desc, col)) {
    case 16: /* bool */
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
        return BERTH_SQL_T_INT;
    case 17: /* bytea */
        return BERTH_SQL_T_BLOB;
    default:
        return BERTH_SQL_T_TEXT;
    }
}

static void pg_reset(struct berth_sql_stmt *s)
{
    struct pg_stmt *st = PST(s);
    stmt_clear_row(st);
    PQclear(st->res);
    st->res = NULL;
    st->nrows = 0;
    st->cur = -1;
    if (st->nparams > 0) {
        memset(st->val, 0, (size_t)st->nparams * sizeof(*st->val));
        memset(st->len, 0, (size_t)st->nparams * sizeof(*st->len));
        memset(st->fmt, 0, (size_t)st->nparams * sizeof(*st->fmt));
    }
}

static void stmt_free(struct pg_stmt *st, int deallocate)
{
    if (!st) return;
    pg_reset((struct berth_sql_stmt *)(void *)st);
    if (deallocate) {
        char sql[48];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
        PQclear(PQexec(st->c->pg, sql));
    }
    PQclear(st->desc);
    free(st->val);
    free(st->len);
    free(st->fmt);
    free(st->ibuf);
    free(st);
}

static void pg_finalize(struct berth_sql_stmt *s)
{
    if (s) stmt_free(PST(s), 1);
}

static int64_t pg_changes(struct berth_sql_conn *c)
{
    return conn_of(c)->changes;
}

static int pg_exec(struct berth_sql_conn *bc, const char *sql)
{
    struct pg_conn *c = conn_of(bc);
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType es = PQresultStatus(r);
    int rc = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK ? 0 : failed(c, r);
    PQclear(r);
    return rc;
}

static int pg_in_tx(struct berth_sql_conn *c)
{
    return PQtransactionStatus(conn_of(c)->pg) != PQTRANS_IDLE;
}

/* ---- connections and the pool ---- */

static void conn_free(struct pg_conn *c)
{
    int i;
    if (!c) return;
    for (i = 0; i < SQL_COUNT; i++) stmt_free(c->st[i], 0);
    PQfinish(c->pg);
    free(c->msg);
    free(c);
}

/* The message of a connection that failed, with no password in it: libpq names hosts and files only. */
static enum berth_rc connect_err(PGconn *pg, struct berth_err *err)
{
    const char *m = pg ? PQerrorMessage(pg) : "out of memory";
    return berth_err_set(err, BERTH_EDB, "postgres: cannot connect: %.*s", (int)strcspn(m, "\n"), m);
}

static enum berth_rc conn_open(struct meta_pg *mp, struct pg_conn **out, struct berth_err *err)
{
    struct pg_conn *c = berth_xcalloc(1, sizeof(*c));
    PGresult *r;

    c->base.db = &mp->sql;
    c->base.bound = 1;
    c->pg = PQconnectdb(mp->dsn);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        enum berth_rc rc = connect_err(c->pg, err);
        conn_free(c);
        return rc;
    }
    /* UTC and plain text: the schema stores milliseconds, never timestamps; no notices on stderr */
    r = PQexec(c->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    PQclear(r);
    *out = c;
    return BERTH_OK;
}

static enum berth_rc open_for_pool(void *ctx, struct berth_sql_conn **out, struct berth_err *err)
{
    struct pg_conn *c = NULL;
    enum berth_rc rc = conn_open(ctx, &c, err);
    if (!rc) *out = &c->base;
    return rc;
}

static enum berth_rc pg_acquire(struct berth_sql *db, struct berth_sql_conn **out, struct berth_err *err)
{
    struct meta_pg *mp = (struct meta_pg *)db;
    struct pg_conn *c;
    enum berth_rc rc = berth_sql_pool_take(&mp->pool, open_for_pool, mp, out, err);

    if (rc) return rc;
    c = conn_of(*out);
    /* a connection the server dropped is opened again, losing its prepared statements */
    if (PQstatus(c->pg) != CONNECTION_OK) {
        PQreset(c->pg);
        if (PQstatus(c->pg) == CONNECTION_OK) {
            int i;
            for (i = 0; i < SQL_COUNT; i++) {
                stmt_free(c->st[i], 0);
                c->st[i] = NULL;
            }
        }
    }
    return BERTH_OK;
}

static void pg_release(struct berth_sql *db, struct berth_sql_conn *bc)
{
    struct meta_pg *mp = (struct meta_pg *)db;
    struct pg_conn *c = conn_of(bc);

    if (!c) return;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) PQclear(PQexec(c->pg, "ROLLBACK"));
    berth_sql_pool_give(&mp->pool, &c->base);
}

/*
 * Session locks are advisory locks of one connection of their own, which
 * no transaction uses: a lock lives until it is unlocked or the connection
 * ends, and the connection ends when this server dies, so another server
 * never waits on a dead one. They are taken with try (never waited on) in
 * the two-key space under LOCK_SPACE, apart from the migration lock.
 */
#define LOCK_SPACE 0x75706c64 /* "upld" */

static enum berth_rc pg_lock_try(struct berth_sql *db, int32_t key, struct berth_err *err)
{
    struct meta_pg *mp = (struct meta_pg *)db;
    char sql[96];
    PGresult *r;
    enum berth_rc rc = BERTH_OK;

    snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%d, %d)", LOCK_SPACE, (int)key);
    pthread_mutex_lock(&mp->lock_mu);
    if (mp->locks && PQstatus(mp->locks) != CONNECTION_OK) {
        /* the locks this connection held are gone with it */
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"postgres: the upload lock connection was lost; reconnecting\"");
        PQfinish(mp->locks);
        mp->locks = NULL;
    }
    if (!mp->locks) {
        mp->locks = PQconnectdb(mp->dsn);
        if (!mp->locks || PQstatus(mp->locks) != CONNECTION_OK) {
            rc = connect_err(mp->locks, err);
            PQfinish(mp->locks);
            mp->locks = NULL;
            goto out;
        }
    }
    r = PQexec(mp->locks, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        const char *m = PQerrorMessage(mp->locks);
        rc = berth_err_set(err, BERTH_EDB, "postgres: upload lock: %.*s", (int)strcspn(m, "\n"), m);
    } else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
        rc = berth_err_set(err, BERTH_EBUSY, "the upload is in use by a request on another server");
    }
    PQclear(r);
out:
    pthread_mutex_unlock(&mp->lock_mu);
    return rc;
}

static void pg_unlock(struct berth_sql *db, int32_t key)
{
    struct meta_pg *mp = (struct meta_pg *)db;
    char sql[96];

    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)", LOCK_SPACE, (int)key);
    pthread_mutex_lock(&mp->lock_mu);
    if (mp->locks && PQstatus(mp->locks) == CONNECTION_OK) PQclear(PQexec(mp->locks, sql));
    pthread_mutex_unlock(&mp->lock_mu);
}

static const struct berth_sql_driver pg_driver = {
    .lock_try = pg_lock_try,
    .unlock = pg_unlock,
    .name = "postgres",
    .dialect = &berth_sql_postgres,
    .tx_retries = 40,
    .acquire = pg_acquire,
    .release = pg_release,
    .prepare = pg_prepare,
    .bind_null = pg_bind_null,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .column_null = pg_column_null,
    .column_int = pg_column_int,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .column_type = pg_column_type,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .changes = pg_changes,
    .exec = pg_exec,
    .in_tx = pg_in_tx,
    .error = pg_error,
};

/* ---- migrations ---- */

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static enum berth_rc conn_exec(struct pg_conn *c, const char *sql, const char *op, struct berth_err *err)
{
    enum berth_sql_class cls;
    if (pg_exec(&c->base, sql) == 0) return BERTH_OK;
    return pg_error(&c->base, PG_FAILED, op, &cls, err);
}

/* The schema version, 0 for an empty database. */
static enum berth_rc schema_version(struct pg_conn *c, int *out, struct berth_err *err)
{
    PGresult *r = PQexec(c->pg, "SELECT to_regclass('berth_schema') IS NOT NULL");
    enum berth_sql_class cls;
    int have;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        failed(c, r);
        PQclear(r);
        return pg_error(&c->base, PG_FAILED, "read the schema version", &cls, err);
    }
    have = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    *out = 0;
    if (!have) return BERTH_OK;
    r = PQexec(c->pg, "SELECT version FROM berth_schema");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        failed(c, r);
        PQclear(r);
        return pg_error(&c->base, PG_FAILED, "read the schema version", &cls, err);
    }
    if (PQntuples(r) == 1) *out = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return BERTH_OK;
}

/* Applies what is missing, each migration in its own transaction, under an advisory lock held by one server. */
static enum berth_rc migrate(struct pg_conn *c, struct berth_err *err)
{
    char sql[96];
    enum berth_rc rc;
    int i, have = 0;

    for (i = 0; i < NMIGRATIONS; i++)
        if (migrations[i].version != i + 1)
            return berth_err_set(err, BERTH_EINTERNAL, "migration %s is numbered out of sequence",
                                 migrations[i].name);
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%d)", MIGRATE_LOCK);
    rc = conn_exec(c, sql, "wait for the migration lock", err);
    if (rc) return rc;
    rc = schema_version(c, &have, err);
    if (rc) goto out;
    if (have > NMIGRATIONS) {
        rc = berth_err_set(err, BERTH_EDB,
                           "postgres database has schema version %d but this berth knows versions up to %d; run a "
                           "newer berth (or restore a backup)", have, NMIGRATIONS);
        goto out;
    }
    for (i = have; i < NMIGRATIONS && !rc; i++) {
        rc = conn_exec(c, "BEGIN", "begin migration", err);
        if (!rc) rc = conn_exec(c, migrations[i].sql, migrations[i].name, err);
        if (!rc) {
            snprintf(sql, sizeof(sql), "UPDATE berth_schema SET version = %d", migrations[i].version);
            rc = conn_exec(c, sql, migrations[i].name, err);
        }
        if (!rc) rc = conn_exec(c, "COMMIT", "commit migration", err);
        if (rc) PQclear(PQexec(c->pg, "ROLLBACK"));
    }
out:
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d)", MIGRATE_LOCK);
    PQclear(PQexec(c->pg, sql));
    return rc;
}

/* ---- open, close, ping, inspect ---- */

static void store_free(struct meta_pg *mp)
{
    if (!mp) return;
    berth_sql_release(&mp->sql);
    berth_sql_pool_destroy(&mp->pool);
    PQfinish(mp->locks);
    pthread_mutex_destroy(&mp->lock_mu);
    if (mp->dsn) explicit_bzero(mp->dsn, strlen(mp->dsn)); /* it may hold a password */
    free(mp->dsn);
    mp->sql.base.magic = 0;
    free(mp);
}

static enum berth_rc pg_open(const char *dsn, struct berth_meta **out, struct berth_err *err)
{
    struct meta_pg *mp;
    struct pg_conn *c = NULL;
    enum berth_rc rc;

    if (!dsn || !*dsn) return berth_err_set(err, BERTH_ECONFIG, "postgres: empty connection string");
    rc = berth_lazy_load(BERTH_LIB_PQ, err); /* opened here, not linked: SQLite deployments never map it */
    if (rc) return rc;
    if (!PQisthreadsafe()) return berth_err_set(err, BERTH_EDB, "postgres: libpq was built without thread support");
    mp = berth_xcalloc(1, sizeof(*mp));
    mp->dsn = berth_xstrdup(dsn);
    berth_sql_pool_init(&mp->pool, POOL_MAX);
    pthread_mutex_init(&mp->lock_mu, NULL);
    rc = berth_sql_init(&mp->sql, &pg_driver, &berth_meta_pg_ops, err);
    if (rc) goto out;
    rc = conn_open(mp, &c, err);
    if (rc) goto out;
    rc = migrate(c, err);
    if (rc) goto out;
    berth_sql_pool_adopt(&mp->pool, &c->base);
    c = NULL;
    *out = &mp->sql.base;
    mp = NULL;
out:
    conn_free(c);
    store_free(mp);
    return rc;
}

static void pg_close(struct berth_meta *m)
{
    struct meta_pg *mp;
    struct pg_conn *c;

    if (!m) return;
    mp = meta_of(m);
    c = conn_of(berth_sql_pool_drain(&mp->pool));
    while (c) {
        struct pg_conn *next = conn_of(c->base.pool_next);
        conn_free(c);
        c = next;
    }
    store_free(mp);
}

static enum berth_rc pg_ping(struct berth_meta *m, struct berth_err *err)
{
    meta_of(m);
    return berth_sql_int1(berth_sql_db(m), "ping", SQL_PING, SQL_NOARGS, NULL, NULL, err);
}

/* Connects and reads the schema version; nothing is written. PostgreSQL checks its own pages. */
static enum berth_rc pg_inspect(const char *dsn, struct berth_meta_inspect *out, struct berth_err *err)
{
    struct meta_pg probe;
    struct pg_conn *c = NULL;
    enum berth_rc rc;

    memset(out, 0, sizeof(*out));
    out->latest = NMIGRATIONS;
    if (!dsn || !*dsn) return berth_err_set(err, BERTH_ECONFIG, "postgres: empty connection string");
    rc = berth_lazy_load(BERTH_LIB_PQ, err);
    if (rc) return rc;
    memset(&probe, 0, sizeof(probe));
    probe.dsn = (char *)dsn;
    rc = conn_open(&probe, &c, err);
    if (rc) return rc;
    out->exists = 1;
    rc = schema_version(c, &out->version, err);
    if (!rc && out->version == 0) out->exists = 0;
    out->intact = 1;
    conn_free(c);
    return rc;
}

const struct berth_meta_ops berth_meta_pg_ops = {
    .name = "postgres",
    .shared = 1, /* several servers on one database: docs/internals/meta.md */
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .inspect = pg_inspect,
};
