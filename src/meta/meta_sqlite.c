/*
 * meta_sqlite.c - the "sqlite" metadata driver: one database file in WAL
 * mode, a bounded pool of connections shared by the HTTP threads, statements
 * prepared once per connection, numbered migrations embedded at build time.
 * It implements struct berth_sql_driver (meta_sql.h); the ops themselves are
 * the SQL layer's. docs/internals/meta.md describes the schema and the pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "alloc.h"
#include "meta.h"
#include "meta_sql.h"
#include "migrations.h"
#include "banned.h"

#define POOL_MAX 16          /* connections per database, opened on demand */
#define BUSY_TIMEOUT_MS 5000 /* how long a writer waits for the write lock */

/* One connection: used by one thread at a time, the pool guarantees it. */
struct conn {
    struct berth_sql_conn base; /* first: what the SQL layer sees */
    sqlite3 *db;
    sqlite3_stmt *st[SQL_COUNT]; /* prepared on first use, finalized at close */
};

struct meta_sqlite {
    struct berth_sql sql;        /* first member: the store the SQL layer works on */
    char *path;                  /* immutable after open */
    struct berth_sql_pool pool;  /* at most POOL_MAX connections */
};

static const struct berth_sql_driver sqlite_driver;

static struct meta_sqlite *meta_of(struct berth_meta *m)
{
    if (!m || m->magic != BERTH_META_MAGIC || m->ops != &berth_meta_sqlite_ops) {
        fprintf(stderr, "berth: meta_sqlite: not a sqlite meta object\n");
        abort();
    }
    return (struct meta_sqlite *)m;
}

static struct conn *conn_of(struct berth_sql_conn *c)
{
    return (struct conn *)c;
}

#define STMT(st) ((sqlite3_stmt *)(void *)(st))

/* ---- errors ---- */

static enum berth_rc db_err(struct conn *c, int s, const char *op, struct berth_err *err)
{
    const char *msg = c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(s);

    if ((s & 0xff) == SQLITE_BUSY || (s & 0xff) == SQLITE_LOCKED)
        return berth_err_set(err, BERTH_EDB, "%s: %s (still busy after %d ms)", op, msg, BUSY_TIMEOUT_MS);
    return berth_err_set(err, BERTH_EDB, "%s: %s", op, msg);
}

/*
 * Busy means the busy timeout already waited for the lock: the SQL layer
 * does not run the transaction again (tx_retries 0), the caller gets
 * BERTH_EDB. A constraint error is BERTH_EDB too: every conflict the ops
 * expect is settled inside the statement (ON CONFLICT, WHERE EXISTS).
 */
static enum berth_rc sq_error(struct berth_sql_conn *c, int s, const char *op, enum berth_sql_class *cls,
                              struct berth_err *err)
{
    int primary = s & 0xff;

    *cls = primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? BERTH_SQL_BUSY
           : primary == SQLITE_CONSTRAINT                     ? BERTH_SQL_CONSTRAINT
                                                              : BERTH_SQL_OTHER;
    return db_err(conn_of(c), s, op, err);
}

/* ---- the vtable: statements ---- */

static int sq_prepare(struct berth_sql_conn *bc, int slot, const char *sql, struct berth_sql_stmt **out)
{
    struct conn *c = conn_of(bc);
    sqlite3_stmt *st = NULL;
    int s;

    if (slot >= 0 && c->st[slot]) {
        *out = (struct berth_sql_stmt *)(void *)c->st[slot];
        return SQLITE_OK;
    }
    if (slot >= 0) s = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    else s = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (s != SQLITE_OK) {
        sqlite3_finalize(st);
        return s;
    }
    if (slot >= 0) c->st[slot] = st;
    *out = (struct berth_sql_stmt *)(void *)st;
    return SQLITE_OK;
}

static int sq_bind_null(struct berth_sql_stmt *st, int k)
{
    return sqlite3_bind_null(STMT(st), k);
}

static int sq_bind_int(struct berth_sql_stmt *st, int k, int64_t v)
{
    return sqlite3_bind_int64(STMT(st), k, (sqlite3_int64)v);
}

/* Values are bound without copying: the SQL layer resets every statement before its arguments go away. */
static int sq_bind_text(struct berth_sql_stmt *st, int k, const char *s)
{
    return sqlite3_bind_text(STMT(st), k, s, -1, SQLITE_STATIC);
}

static int sq_bind_blob(struct berth_sql_stmt *st, int k, const void *p, size_t n)
{
    /* a NULL pointer would bind SQL NULL, not an empty blob */
    return sqlite3_bind_blob64(STMT(st), k, n ? p : "", (sqlite3_uint64)n, SQLITE_STATIC);
}

static int sq_step(struct berth_sql_stmt *st)
{
    int s = sqlite3_step(STMT(st));
    return s == SQLITE_ROW ? BERTH_SQL_ROW : s == SQLITE_DONE ? BERTH_SQL_DONE : s;
}

static int sq_column_null(struct berth_sql_stmt *st, int col)
{
    return sqlite3_column_type(STMT(st), col) == SQLITE_NULL;
}

static int64_t sq_column_int(struct berth_sql_stmt *st, int col)
{
    return sqlite3_column_int64(STMT(st), col);
}

static const char *sq_column_text(struct berth_sql_stmt *st, int col, size_t *len)
{
    const char *s = (const char *)sqlite3_column_text(STMT(st), col);
    int n = sqlite3_column_bytes(STMT(st), col);

    *len = n > 0 ? (size_t)n : 0;
    return s;
}

static const void *sq_column_blob(struct berth_sql_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(STMT(st), col);
    int n = sqlite3_column_bytes(STMT(st), col);

    *len = n > 0 ? (size_t)n : 0;
    return p;
}

static int sq_column_count(struct berth_sql_stmt *st)
{
    return sqlite3_column_count(STMT(st));
}

static const char *sq_column_name(struct berth_sql_stmt *st, int col)
{
    return sqlite3_column_name(STMT(st), col);
}

/* Nonzero if the declared type t holds word w, in any case (SQLite's rules for a column's affinity). */
static int decl_has(const char *t, const char *w)
{
    size_t i, n = strlen(w);

    for (; *t; t++) {
        for (i = 0; i < n && t[i] && (t[i] == w[i] || t[i] == w[i] + ('a' - 'A')); i++) {}
        if (i == n) return 1;
    }
    return 0;
}

/* By the declared type, as SQLite gives a column its affinity; an expression by its value. */
static enum berth_sql_type sq_column_type(struct berth_sql_stmt *st, int col)
{
    const char *t = sqlite3_column_decltype(STMT(st), col);

    if (t) {
        if (decl_has(t, "INT")) return BERTH_SQL_T_INT;
        if (decl_has(t, "CHAR") || decl_has(t, "CLOB") || decl_has(t, "TEXT")) return BERTH_SQL_T_TEXT;
        if (decl_has(t, "BLOB") || !*t) return BERTH_SQL_T_BLOB;
        return BERTH_SQL_T_TEXT; /* REAL, NUMERIC: the schema has none; text keeps every digit */
    }
    switch (sqlite3_column_type(STMT(st), col)) {
    case SQLITE_INTEGER: return BERTH_SQL_T_INT;
    case SQLITE_BLOB: return BERTH_SQL_T_BLOB;
    default: return BERTH_SQL_T_TEXT;
    }
}

static void sq_reset(struct berth_sql_stmt *st)
{
    sqlite3_reset(STMT(st));
    sqlite3_clear_bindings(STMT(st));
}

static void sq_finalize(struct berth_sql_stmt *st)
{
    sqlite3_finalize(STMT(st));
}

static int64_t sq_changes(struct berth_sql_conn *c)
{
    return sqlite3_changes(conn_of(c)->db);
}

static int sq_exec(struct berth_sql_conn *c, const char *sql)
{
    return sqlite3_exec(conn_of(c)->db, sql, NULL, NULL, NULL);
}

static int sq_in_tx(struct berth_sql_conn *c)
{
    return !sqlite3_get_autocommit(conn_of(c)->db);
}

/* ---- connections and the pool ---- */

static void conn_free(struct conn *c)
{
    int i;

    if (!c) return;
    for (i = 0; i < SQL_COUNT; i++) sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

/* Copies a text column into dst (size dstlen); -1 if NULL or too long. */
static int column_copy(sqlite3_stmt *st, int col, char *dst, size_t dstlen)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);

    if (!s || n < 0 || (size_t)n >= dstlen) return -1;
    memcpy(dst, s, (size_t)n);
    dst[n] = '\0';
    return 0;
}

/* Runs a pragma that answers one row and returns its first column as text in out. */
static enum berth_rc pragma_text(struct conn *c, const char *sql, char *out, size_t outlen, struct berth_err *err)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int s;

    s = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (s == SQLITE_OK) s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = db_err(c, s == SQLITE_DONE ? SQLITE_ERROR : s, sql, err);
        goto out;
    }
    if (column_copy(st, 0, out, outlen) != 0) out[0] = '\0';
out:
    sqlite3_finalize(st);
    return rc;
}

static enum berth_rc conn_open(struct meta_sqlite *ms, struct conn **out, struct berth_err *err)
{
    struct conn *c = berth_xcalloc(1, sizeof(*c));
    const char *path = ms->path;
    enum berth_rc rc = BERTH_OK;
    char v[32];
    int s;

    c->base.db = &ms->sql;
    c->base.bound = 1;
    /* NOMUTEX: the pool hands a connection to one thread at a time */
    s = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (s != SQLITE_OK) {
        rc = berth_err_set(err, BERTH_EDB, "open database '%s': %s", path,
                           c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(s));
        goto out;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    rc = pragma_text(c, "PRAGMA journal_mode=WAL", v, sizeof(v), err);
    if (rc) goto out;
    if (strcmp(v, "wal") != 0) {
        rc = berth_err_set(err, BERTH_EDB, "database '%s' cannot use a WAL journal (journal_mode is '%s')",
                           path, v);
        goto out;
    }
    /* FULL: a push answered 201 must survive a crash or power loss */
    s = sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (s != SQLITE_OK) {
        rc = db_err(c, s, "set pragmas", err);
        goto out;
    }
    /* deletions rely on ON DELETE CASCADE, so refuse a library built without foreign keys */
    rc = pragma_text(c, "PRAGMA foreign_keys", v, sizeof(v), err);
    if (rc) goto out;
    if (strcmp(v, "1") != 0) {
        rc = berth_err_set(err, BERTH_EDB, "database '%s': this SQLite does not enforce foreign keys", path);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    conn_free(c);
    return rc;
}

static enum berth_rc open_for_pool(void *ctx, struct berth_sql_conn **out, struct berth_err *err)
{
    struct conn *c = NULL;
    enum berth_rc rc = conn_open(ctx, &c, err);
    if (!rc) *out = &c->base;
    return rc;
}

static enum berth_rc sq_acquire(struct berth_sql *db, struct berth_sql_conn **out, struct berth_err *err)
{
    struct meta_sqlite *ms = (struct meta_sqlite *)db;
    return berth_sql_pool_take(&ms->pool, open_for_pool, ms, out, err);
}

/* Returns c to the pool; NULL-safe. A transaction left open by an error path is rolled back. */
static void sq_release(struct berth_sql *db, struct berth_sql_conn *bc)
{
    struct meta_sqlite *ms = (struct meta_sqlite *)db;
    struct conn *c = conn_of(bc);

    if (!c) return;
    if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    berth_sql_pool_give(&ms->pool, &c->base);
}

static const struct berth_sql_driver sqlite_driver = {
    .name = "sqlite",
    .dialect = &berth_sql_sqlite,
    .tx_retries = 0,
    .acquire = sq_acquire,
    .release = sq_release,
    .prepare = sq_prepare,
    .bind_null = sq_bind_null,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .column_null = sq_column_null,
    .column_int = sq_column_int,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .column_count = sq_column_count,
    .column_name = sq_column_name,
    .column_type = sq_column_type,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .changes = sq_changes,
    .exec = sq_exec,
    .in_tx = sq_in_tx,
    .error = sq_error,
};

/* ---- migrations ---- */

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static enum berth_rc user_version(struct conn *c, int *out, struct berth_err *err)
{
    char v[32];
    enum berth_rc rc = pragma_text(c, "PRAGMA user_version", v, sizeof(v), err);

    if (rc) return rc;
    *out = (int)strtol(v, NULL, 10);
    return BERTH_OK;
}

static enum berth_rc newer_than_known(const char *path, int have, struct berth_err *err)
{
    return berth_err_set(err, BERTH_EDB,
                         "database '%s' has schema version %d but this berth knows versions up to %d;"
                         " run a newer berth (or restore a backup)",
                         path, have, NMIGRATIONS);
}

static enum berth_rc conn_exec(struct conn *c, const char *sql, const char *op, struct berth_err *err)
{
    int s = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return s == SQLITE_OK ? BERTH_OK : db_err(c, s, op, err);
}

/* Applies each migration newer than the file's user_version, each in its own transaction. */
static enum berth_rc migrate(struct conn *c, const char *path, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    char sql[64];
    int i, have;

    for (i = 0; i < NMIGRATIONS; i++)
        if (migrations[i].version != i + 1)
            return berth_err_set(err, BERTH_EINTERNAL, "migration %s is numbered out of sequence",
                                 migrations[i].name);
    rc = user_version(c, &have, err);
    if (rc) return rc;
    if (have > NMIGRATIONS) return newer_than_known(path, have, err);
    for (i = have; i < NMIGRATIONS; i++) {
        rc = conn_exec(c, berth_sql_sqlite.begin_write, "begin migration", err);
        if (rc) goto out;
        /* another process may have migrated while we waited for the lock */
        rc = user_version(c, &have, err);
        if (rc) goto out;
        if (have > NMIGRATIONS) {
            rc = newer_than_known(path, have, err);
            goto out;
        }
        if (have < migrations[i].version) {
            rc = conn_exec(c, migrations[i].sql, migrations[i].name, err);
            if (rc) goto out;
            snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", migrations[i].version);
            rc = conn_exec(c, sql, migrations[i].name, err);
            if (rc) goto out;
        }
        rc = conn_exec(c, "COMMIT", "commit migration", err);
        if (rc) goto out;
    }
out:
    if (rc && !sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- open, close, ping ---- */

static void store_free(struct meta_sqlite *ms)
{
    if (!ms) return;
    berth_sql_release(&ms->sql);
    berth_sql_pool_destroy(&ms->pool);
    free(ms->path);
    ms->sql.base.magic = 0;
    free(ms);
}

static enum berth_rc sq_open(const char *dsn, struct berth_meta **out, struct berth_err *err)
{
    struct meta_sqlite *ms = NULL;
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!dsn || !*dsn) return berth_err_set(err, BERTH_ECONFIG, "sqlite: empty database path");
    if (!sqlite3_threadsafe())
        return berth_err_set(err, BERTH_EDB, "sqlite: the SQLite library was built without thread support");
    ms = berth_xcalloc(1, sizeof(*ms));
    ms->path = berth_xstrdup(dsn);
    berth_sql_pool_init(&ms->pool, POOL_MAX);
    rc = berth_sql_init(&ms->sql, &sqlite_driver, &berth_meta_sqlite_ops, err);
    if (rc) goto out;
    rc = conn_open(ms, &c, err);
    if (rc) goto out;
    rc = migrate(c, ms->path, err);
    if (rc) goto out;
    berth_sql_pool_adopt(&ms->pool, &c->base);
    c = NULL;
    *out = &ms->sql.base;
    ms = NULL;
out:
    conn_free(c);
    store_free(ms);
    return rc;
}

/* Waits for connections still in use, then closes them all. */
static void sq_close(struct berth_meta *m)
{
    struct meta_sqlite *ms;
    struct conn *c;

    if (!m) return;
    ms = meta_of(m);
    c = conn_of(berth_sql_pool_drain(&ms->pool));
    if (c) sqlite3_exec(c->db, "PRAGMA optimize", NULL, NULL, NULL);
    while (c) {
        struct conn *next = conn_of(c->base.pool_next);
        conn_free(c);
        c = next;
    }
    store_free(ms);
}

static enum berth_rc sq_ping(struct berth_meta *m, struct berth_err *err)
{
    meta_of(m);
    return berth_sql_int1(berth_sql_db(m), "ping", SQL_PING, SQL_NOARGS, NULL, NULL, err);
}

/*
 * SQLite 3.40's integrity check reads the wrong column of a WITHOUT ROWID
 * table whose NOT NULL column sits between its primary-key columns, and says
 * "NULL value in T.C" for every row of a healthy table (manifest_blobs and
 * manifest_children after the first push). Such a finding counts only when a
 * scan of T itself finds a row with C NULL; a damaged page still fails that
 * scan with SQLITE_CORRUPT, and it fails the b-tree part of the check first.
 * Returns 1 when the finding is that false report, 0 when it stands.
 */
#define NULL_FINDING "NULL value in "

static int null_finding_false(struct conn *c, const char *finding)
{
    const char *tc = finding + strlen(NULL_FINDING), *dot;
    sqlite3_stmt *st = NULL;
    char *table = NULL, *sql = NULL;
    int s, yes = 0;

    if (strncmp(finding, NULL_FINDING, strlen(NULL_FINDING)) != 0) return 0;
    dot = strrchr(tc, '.');
    if (!dot || dot == tc || !dot[1]) return 0;
    table = berth_xstrndup(tc, (size_t)(dot - tc));
    /*
     * NOT INDEXED: the table's own b-tree, not an index that holds the column
     * too; typeof(), because the planner answers "C IS NULL" on a NOT NULL
     * column with no rows without reading one.
     */
    sql = sqlite3_mprintf("SELECT 1 FROM \"%w\" NOT INDEXED WHERE typeof(\"%w\") = 'null' LIMIT 1", table, dot + 1);
    if (sql && sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK) {
        s = sqlite3_step(st);
        yes = s == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    free(table);
    return yes;
}

/* Every finding a check reports before it gives up; each false NULL finding is one row. */
#define CHECK_FINDINGS_MAX 2000000000

/*
 * PRAGMA quick_check down to its first finding that stands (see
 * null_finding_false), or SQLite's error when the file is too damaged to check.
 */
static enum berth_rc quick_check(struct conn *c, int full, struct berth_meta_inspect *out, struct berth_err *err)
{
    char sql[64], v[sizeof(out->problem)];
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int s, checked = 0;

    snprintf(sql, sizeof(sql), "PRAGMA %s(%d)", full ? "integrity_check" : "quick_check", CHECK_FINDINGS_MAX);
    out->intact = 1;
    s = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (s == SQLITE_OK) s = sqlite3_step(st);
    for (; s == SQLITE_ROW; s = sqlite3_step(st)) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(v, sizeof(v), "%s", t ? (const char *)t : "a finding without text"); /* a long one is cut */
        if (!strcmp(v, "ok")) break;
        /* the same table and column repeat once per row: query each pair once */
        if (checked && !strcmp(v, out->problem)) continue;
        snprintf(out->problem, sizeof(out->problem), "%s", v);
        checked = 1;
        if (null_finding_false(c, v)) continue;
        out->intact = 0;
        break;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE && s != SQLITE_OK) {
        if ((s & 0xff) == SQLITE_CORRUPT || (s & 0xff) == SQLITE_NOTADB) {
            out->intact = 0;
            snprintf(out->problem, sizeof(out->problem), "%s", sqlite3_errmsg(c->db));
        } else {
            rc = db_err(c, s, full ? "PRAGMA integrity_check" : "PRAGMA quick_check", err);
        }
    }
    if (out->intact) out->problem[0] = '\0';
    sqlite3_finalize(st);
    return rc;
}

/*
 * Read-only and without SQLITE_OPEN_CREATE, so a missing file stays missing,
 * and without the WAL and foreign-key set-up of conn_open: nothing here
 * writes. A running server's WAL is read like any reader reads it.
 */
static enum berth_rc sq_inspect(const char *dsn, struct berth_meta_inspect *out, struct berth_err *err)
{
    struct conn *c = NULL;
    struct stat st;
    enum berth_rc rc = BERTH_OK;
    int s;

    memset(out, 0, sizeof(*out));
    out->latest = NMIGRATIONS;
    if (!dsn || !*dsn) return berth_err_set(err, BERTH_ECONFIG, "sqlite: empty database path");
    if (stat(dsn, &st) != 0) {
        if (errno == ENOENT) return BERTH_OK;
        return berth_err_sys(err, BERTH_EDB, errno, "cannot stat database '%s'", dsn);
    }
    if (!S_ISREG(st.st_mode)) return berth_err_set(err, BERTH_EDB, "database '%s' is not a regular file", dsn);
    out->exists = 1;
    c = berth_xcalloc(1, sizeof(*c));
    s = sqlite3_open_v2(dsn, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (s != SQLITE_OK) {
        rc = berth_err_set(err, BERTH_EDB, "open database '%s' read-only: %s", dsn,
                           c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(s));
        goto out;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    rc = user_version(c, &out->version, err);
    s = sqlite3_errcode(c->db) & 0xff;
    if (rc && (s == SQLITE_CORRUPT || s == SQLITE_NOTADB)) {
        rc = BERTH_OK;
        snprintf(out->problem, sizeof(out->problem), "%s", sqlite3_errmsg(c->db));
        goto out;
    }
    if (rc) goto out;
    rc = quick_check(c, 0, out, err);
out:
    conn_free(c);
    return rc;
}

/* ---- a database as one file (berth backup and restore) ---- */

static const char *const table_names[] = {
#define BERTH_TABLE_NAME(name, key, local) #name,
    BERTH_META_TABLES(BERTH_TABLE_NAME)
#undef BERTH_TABLE_NAME
};
#define NTABLE_NAMES (sizeof(table_names) / sizeof(table_names[0]))

/* Makes the file's data and its name durable. */
static enum berth_rc fsync_file(const char *path, struct berth_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    enum berth_rc rc = BERTH_OK;

    if (fd < 0) return berth_err_sys(err, BERTH_EIO, errno, "open '%s'", path);
    if (fsync(fd) != 0) rc = berth_err_sys(err, BERTH_EIO, errno, "fsync '%s'", path);
    close(fd);
    return rc;
}

/*
 * One read transaction on the source for the whole copy (step -1): a
 * server's commits meanwhile go to its WAL and are not in this snapshot.
 * Stepping in pieces would let a write restart the copy, again and again
 * on a busy server. The copy leaves WAL mode so that it is one file.
 */
enum berth_rc berth_meta_sqlite_snapshot(const char *src, const char *dst, struct berth_err *err)
{
    struct conn *a = berth_xcalloc(1, sizeof(*a)), *b = berth_xcalloc(1, sizeof(*b));
    sqlite3_backup *bk = NULL;
    struct stat sb;
    enum berth_rc rc = BERTH_OK;
    char v[32];
    int s;

    if (stat(src, &sb) != 0) {
        rc = berth_err_sys(err, errno == ENOENT ? BERTH_ENOENT : BERTH_EDB, errno, "cannot read database '%s'", src);
        goto out;
    }
    s = sqlite3_open_v2(src, &a->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (s != SQLITE_OK) {
        rc = db_err(a, s, "open the database read-only", err);
        goto out;
    }
    sqlite3_busy_timeout(a->db, BUSY_TIMEOUT_MS);
    s = sqlite3_open_v2(dst, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (s != SQLITE_OK) {
        rc = db_err(b, s, "create the snapshot", err);
        goto out;
    }
    bk = sqlite3_backup_init(b->db, "main", a->db, "main");
    if (!bk) {
        rc = db_err(b, sqlite3_errcode(b->db), "start the snapshot", err);
        goto out;
    }
    do {
        s = sqlite3_backup_step(bk, -1);
        if (s == SQLITE_BUSY || s == SQLITE_LOCKED) sqlite3_sleep(50);
    } while (s == SQLITE_OK || s == SQLITE_BUSY || s == SQLITE_LOCKED);
    if (s != SQLITE_DONE) {
        rc = berth_err_set(err, BERTH_EDB, "snapshot of '%s': %s", src, sqlite3_errstr(s));
        goto out;
    }
    s = sqlite3_backup_finish(bk);
    bk = NULL;
    if (s != SQLITE_OK) {
        rc = db_err(b, s, "finish the snapshot", err);
        goto out;
    }
    rc = pragma_text(b, "PRAGMA journal_mode=DELETE", v, sizeof(v), err);
out:
    if (bk) sqlite3_backup_finish(bk);
    conn_free(a);
    conn_free(b);
    if (!rc) rc = fsync_file(dst, err);
    return rc;
}

static enum berth_rc count_rows(struct conn *c, struct berth_meta_tables *out, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    size_t i;

    out->n = 0;
    for (i = 0; i < NTABLE_NAMES && !rc; i++) {
        sqlite3_stmt *st = NULL;
        char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table_names[i]);
        int s = sql ? sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) : SQLITE_NOMEM;

        if (s == SQLITE_OK) s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            out->t[out->n].name = table_names[i];
            out->t[out->n].rows = sqlite3_column_int64(st, 0);
            out->n++;
        } else if (!(s == SQLITE_ERROR && strstr(sqlite3_errmsg(c->db), "no such table"))) {
            rc = db_err(c, s, "count rows", err); /* a table of a later schema is absent from an earlier one */
        }
        sqlite3_finalize(st);
        sqlite3_free(sql);
    }
    return rc;
}

static enum berth_rc each_blob_ref(struct conn *c, berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int s = sqlite3_prepare_v2(c->db, berth_sql_portable(SQL_BLOB_REFS), -1, &st, NULL);

    while (!rc && s == SQLITE_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        struct berth_digest d;
        int64_t lo = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
        int64_t hi = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);

        s = SQLITE_OK;
        rc = berth_digest_parse(t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(st, 0) : 0, &d, err);
        if (rc) rc = berth_err_set(err, BERTH_EDB, "a stored blob digest is damaged: %s", berth_err_msg(err));
        if (!rc) rc = fn(&d, lo, hi, ctx, err);
    }
    if (!rc && s != SQLITE_DONE) rc = db_err(c, s, "list the referenced blobs", err);
    sqlite3_finalize(st);
    return rc;
}

enum berth_rc berth_meta_sqlite_examine(const char *path, int full, struct berth_meta_sqlite_facts *out,
                                        berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err)
{
    struct conn *c = berth_xcalloc(1, sizeof(*c));
    enum berth_rc rc = BERTH_OK;
    int s;

    memset(out, 0, sizeof(*out));
    out->in.latest = NMIGRATIONS;
    s = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (s != SQLITE_OK) {
        rc = berth_err_set(err, BERTH_EDB, "open database '%s' read-only: %s", path,
                           c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(s));
        goto out;
    }
    out->in.exists = 1;
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    rc = quick_check(c, full, &out->in, err);
    if (rc || !out->in.intact) goto out;
    rc = user_version(c, &out->in.version, err);
    if (rc || out->in.version > out->in.latest) goto out;
    rc = count_rows(c, &out->tables, err);
    if (!rc && fn) rc = each_blob_ref(c, fn, ctx, err);
out:
    conn_free(c);
    return rc;
}

const struct berth_meta_ops berth_meta_sqlite_ops = {
    .name = "sqlite",
    .shared = 0, /* one server per database file */
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .inspect = sq_inspect,
};
