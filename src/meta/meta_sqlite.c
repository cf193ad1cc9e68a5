/*
 * meta_sqlite.c - the "sqlite" metadata driver: one database file in WAL
 * mode, a bounded pool of connections shared by the HTTP threads, statements
 * prepared once per connection, numbered migrations embedded at build time.
 * docs/internals/meta.md describes the schema, the pool and the gc rules.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "berth/alloc.h"
#include "berth/meta.h"
#include "berth/util.h"
#include "migrations.h"
#include "berth/banned.h"

#define POOL_MAX 16            /* connections per database, opened on demand */
#define BUSY_TIMEOUT_MS 5000   /* how long a writer waits for the write lock */
#define GC_BATCH 1000          /* rows gc reads before deleting them */

/*
 * Every statement the driver runs. Hot paths (GET_BY_TAG, GET_BY_DIGEST,
 * BLOB_LINKED, UPLOAD_GET) are one indexed lookup each: the repository by its
 * unique name, then the row by its primary or unique key.
 */
#define STMT_MAP(X)                                                                                      \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                          \
    X(COMMIT, "COMMIT")                                                                                  \
    X(ROLLBACK, "ROLLBACK")                                                                              \
    X(PING, "SELECT count(*) FROM (SELECT 1 FROM repositories LIMIT 1)")                                \
    X(REPO_ID, "SELECT id FROM repositories WHERE name = ?1")                                            \
    X(REPO_INSERT, "INSERT INTO repositories (name, created_ms) VALUES (?1, ?2)")                        \
    X(REPO_LIST, "SELECT name FROM repositories WHERE name > ?1 ORDER BY name LIMIT ?2")                 \
    X(BLOB_LINK, "INSERT INTO repo_blobs (repo_id, digest, size, created_ms) VALUES (?1, ?2, ?3, ?4)"    \
                 " ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size,"                    \
                 " created_ms = excluded.created_ms")                                                    \
    X(BLOB_LINKED, "SELECT b.size FROM repositories r JOIN repo_blobs b ON b.repo_id = r.id"             \
                   " WHERE r.name = ?1 AND b.digest = ?2")                                               \
    X(BLOB_UNLINK, "DELETE FROM repo_blobs WHERE repo_id = (SELECT id FROM repositories WHERE name = ?1)" \
                   " AND digest = ?2")                                                                   \
    X(BLOB_REPOS, "SELECT r.name FROM repo_blobs b JOIN repositories r ON r.id = b.repo_id"              \
                  " WHERE b.digest = ?1 ORDER BY r.name")                                                \
    X(BLOB_IN_USE, "SELECT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = ?1)"                          \
                   " OR EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = ?1)"                         \
                   " OR EXISTS (SELECT 1 FROM manifest_children WHERE digest = ?1)")                     \
    X(REPO_HAS_BLOB, "SELECT 1 FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2")                      \
    X(REPO_HAS_MANIFEST, "SELECT 1 FROM manifests WHERE repo_id = ?1 AND digest = ?2")                   \
    X(MANIFEST_UPSERT, "INSERT INTO manifests (repo_id, digest, media_type, payload, size,"              \
                       " artifact_type, annotations, subject, created_ms)"                               \
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"                                    \
                       " ON CONFLICT (repo_id, digest) DO UPDATE SET media_type = excluded.media_type,"  \
                       " artifact_type = excluded.artifact_type, annotations = excluded.annotations,"    \
                       " subject = excluded.subject, created_ms = excluded.created_ms"                   \
                       " RETURNING id")                                                                  \
    X(MBLOBS_CLEAR, "DELETE FROM manifest_blobs WHERE manifest_id = ?1")                                 \
    X(MBLOBS_ADD, "INSERT OR IGNORE INTO manifest_blobs (manifest_id, repo_id, digest)"                  \
                  " VALUES (?1, ?2, ?3)")                                                                \
    X(MCHILDREN_CLEAR, "DELETE FROM manifest_children WHERE manifest_id = ?1")                           \
    X(MCHILDREN_ADD, "INSERT OR IGNORE INTO manifest_children (manifest_id, repo_id, digest)"            \
                     " VALUES (?1, ?2, ?3)")                                                             \
    X(TAG_PUT, "INSERT INTO tags (repo_id, name, manifest_id, updated_ms) VALUES (?1, ?2, ?3, ?4)"       \
               " ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id = excluded.manifest_id,"          \
               " updated_ms = excluded.updated_ms")                                                      \
    X(GET_BY_TAG, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?3 THEN m.payload END"               \
                  " FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id AND t.name = ?2"            \
                  " LEFT JOIN manifests m ON m.id = t.manifest_id WHERE r.name = ?1")                    \
    X(GET_BY_DIGEST, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?3 THEN m.payload END"            \
                     " FROM repositories r LEFT JOIN manifests m ON m.repo_id = r.id AND m.digest = ?2"  \
                     " WHERE r.name = ?1")                                                               \
    X(MANIFEST_DELETE, "DELETE FROM manifests WHERE repo_id = (SELECT id FROM repositories"              \
                       " WHERE name = ?1) AND digest = ?2")                                              \
    X(TAG_DELETE, "DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories WHERE name = ?1)"       \
                  " AND name = ?2")                                                                      \
    X(TAG_LIST, "SELECT r.id, t.name FROM repositories r"                                                \
                " LEFT JOIN tags t ON t.repo_id = r.id AND t.name > ?2"                                  \
                " WHERE r.name = ?1 ORDER BY t.name LIMIT ?3")                                           \
    X(REFERRERS, "SELECT digest, media_type, size, artifact_type, annotations FROM manifests"            \
                 " WHERE repo_id = (SELECT id FROM repositories WHERE name = ?1) AND subject = ?2"       \
                 " AND (?3 IS NULL OR artifact_type = ?3) ORDER BY digest")                              \
    X(UPLOAD_PUT, "INSERT INTO uploads (uuid, repo, created_ms) VALUES (?1, ?2, ?3)"                     \
                  " ON CONFLICT (uuid) DO UPDATE SET repo = excluded.repo,"                              \
                  " created_ms = excluded.created_ms")                                                   \
    X(UPLOAD_GET, "SELECT repo, created_ms FROM uploads WHERE uuid = ?1")                                \
    X(UPLOAD_DELETE, "DELETE FROM uploads WHERE uuid = ?1")                                              \
    X(UPLOAD_LIST, "SELECT uuid FROM uploads ORDER BY uuid")                                             \
    X(GC_MANIFESTS, "SELECT m.id, r.name, m.digest FROM manifests m JOIN repositories r"                 \
                    " ON r.id = m.repo_id WHERE m.id > ?1 AND m.created_ms < ?2"                         \
                    " AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"                  \
                    " AND NOT EXISTS (SELECT 1 FROM manifest_children c"                                 \
                    " WHERE c.digest = m.digest AND c.repo_id = m.repo_id)"                              \
                    " AND (m.subject IS NULL OR NOT EXISTS (SELECT 1 FROM manifests s"                   \
                    " WHERE s.repo_id = m.repo_id AND s.digest = m.subject))"                            \
                    " ORDER BY m.id LIMIT ?3")                                                           \
    X(GC_MANIFEST_DELETE, "DELETE FROM manifests WHERE id = ?1")                                         \
    X(GC_BLOBS, "SELECT b.repo_id, r.name, b.digest FROM repo_blobs b JOIN repositories r"               \
                " ON r.id = b.repo_id WHERE (b.repo_id, b.digest) > (?1, ?2) AND b.created_ms < ?3"      \
                " AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb"                                       \
                " WHERE mb.digest = b.digest AND mb.repo_id = b.repo_id)"                                \
                " ORDER BY b.repo_id, b.digest LIMIT ?4")                                                \
    X(GC_BLOB_DELETE, "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2")

enum stmt_id {
#define STMT_ENUM(id, sql) ST_##id,
    STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
#define STMT_SQL(id, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

/* One connection: used by one thread at a time, the pool guarantees it. */
struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* prepared on first use, finalized at close */
    struct conn *next;          /* idle list link; guarded by meta_sqlite.lock */
};

struct meta_sqlite {
    struct berth_meta base; /* first member: magic and ops */
    char *path;             /* immutable after open */
    pthread_mutex_t lock;   /* guards idle, nidle, nopen */
    pthread_cond_t cond;    /* signalled when a connection goes idle or a slot frees */
    struct conn *idle;
    int nidle;
    int nopen; /* idle + in use, at most POOL_MAX */
};

static struct meta_sqlite *meta_of(struct berth_meta *m)
{
    if (!m || m->magic != BERTH_META_MAGIC || m->ops != &berth_meta_sqlite_ops) {
        fprintf(stderr, "berth: meta_sqlite: not a sqlite meta object\n");
        abort();
    }
    return (struct meta_sqlite *)m;
}

/* ---- errors and statements ---- */

static enum berth_rc db_err(struct conn *c, int s, const char *op, struct berth_err *err)
{
    const char *msg = c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(s);

    if ((s & 0xff) == SQLITE_BUSY || (s & 0xff) == SQLITE_LOCKED)
        return berth_err_set(err, BERTH_EDB, "%s: %s (still busy after %d ms)", op, msg, BUSY_TIMEOUT_MS);
    return berth_err_set(err, BERTH_EDB, "%s: %s", op, msg);
}

static enum berth_rc stmt_use(struct conn *c, enum stmt_id id, sqlite3_stmt **out, struct berth_err *err)
{
    int s;

    if (!c->st[id]) {
        s = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL);
        if (s != SQLITE_OK) {
            c->st[id] = NULL;
            return db_err(c, s, "prepare statement", err);
        }
    }
    *out = c->st[id];
    return BERTH_OK;
}

/* Makes a cached statement ready for its next use; NULL-safe. */
static void stmt_done(sqlite3_stmt *st)
{
    if (!st) return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/*
 * Binds parameters 1, 2, ... as fmt says: 'T' text (NULL binds NULL), 'D'
 * const struct berth_digest * (NULL binds NULL), 'I' int64_t, 'B' a blob as
 * (const void *, size_t). Values are bound without copying: every statement is
 * reset before the caller's arguments go away.
 */
static int vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int i, s = SQLITE_OK;

    for (i = 0; fmt[i] && s == SQLITE_OK; i++) {
        int k = i + 1;
        switch (fmt[i]) {
        case 'T': {
            const char *t = va_arg(ap, const char *);
            s = t ? sqlite3_bind_text(st, k, t, -1, SQLITE_STATIC) : sqlite3_bind_null(st, k);
            break;
        }
        case 'D': {
            const struct berth_digest *d = va_arg(ap, const struct berth_digest *);
            s = d ? sqlite3_bind_text(st, k, d->s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, k);
            break;
        }
        case 'I':
            s = sqlite3_bind_int64(st, k, (sqlite3_int64)va_arg(ap, int64_t));
            break;
        case 'B': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            /* a NULL pointer would bind SQL NULL, not an empty blob */
            s = sqlite3_bind_blob64(st, k, n ? p : "", (sqlite3_uint64)n, SQLITE_STATIC);
            break;
        }
        default:
            s = SQLITE_MISUSE;
        }
    }
    return s;
}

/* Prepares (once) and binds statement id; on success the caller steps it and calls stmt_done. */
static enum berth_rc query(struct conn *c, enum stmt_id id, sqlite3_stmt **out, const char *op,
                           struct berth_err *err, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    va_list ap;
    int s;

    rc = stmt_use(c, id, &st, err);
    if (rc) return rc;
    va_start(ap, fmt);
    s = vbind(st, fmt, ap);
    va_end(ap);
    if (s != SQLITE_OK) {
        rc = db_err(c, s, op, err);
        stmt_done(st);
        return rc;
    }
    *out = st;
    return BERTH_OK;
}

/*
 * Runs statement id to its first row (or its end). *row (may be NULL) tells
 * whether there was a row, *val (may be NULL) gets its first column.
 */
static enum berth_rc step1(struct conn *c, enum stmt_id id, const char *op, int *row, int64_t *val,
                           struct berth_err *err, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    va_list ap;
    int s;

    rc = stmt_use(c, id, &st, err);
    if (rc) return rc;
    va_start(ap, fmt);
    s = vbind(st, fmt, ap);
    va_end(ap);
    if (s == SQLITE_OK) s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        if (row) *row = 1;
        if (val) *val = sqlite3_column_int64(st, 0);
    } else if (s == SQLITE_DONE) {
        if (row) *row = 0;
    } else {
        rc = db_err(c, s, op, err);
    }
    stmt_done(st);
    return rc;
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

/*
 * Reads a stored digest. It was valid when written; this only guards against a
 * damaged file, so a bad value is a database error, not a client's.
 */
static enum berth_rc column_digest(sqlite3_stmt *st, int col, struct berth_digest *d, struct berth_err *err)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    int i, n = sqlite3_column_bytes(st, col);
    enum berth_digest_alg alg;

    if (s && n == 7 + 64 && memcmp(s, "sha256:", 7) == 0) alg = BERTH_DIGEST_SHA256;
    else if (s && n == 7 + 128 && memcmp(s, "sha512:", 7) == 0) alg = BERTH_DIGEST_SHA512;
    else goto bad;
    for (i = 7; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) goto bad;
    memcpy(d->s, s, (size_t)n);
    d->s[n] = '\0';
    d->alg = alg;
    return BERTH_OK;
bad:
    return berth_err_set(err, BERTH_EDB, "stored digest '%.80s' is damaged", s ? s : "(null)");
}

/* ---- connections and the pool ---- */

static void conn_free(struct conn *c)
{
    int i;

    if (!c) return;
    for (i = 0; i < ST_COUNT; i++) sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
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

static enum berth_rc conn_open(const char *path, struct conn **out, struct berth_err *err)
{
    struct conn *c = berth_xcalloc(1, sizeof(*c));
    enum berth_rc rc = BERTH_OK;
    char v[32];
    int s;

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

static enum berth_rc conn_acquire(struct meta_sqlite *ms, struct conn **out, struct berth_err *err)
{
    struct conn *c = NULL;
    enum berth_rc rc;

    pthread_mutex_lock(&ms->lock);
    while (!ms->idle && ms->nopen >= POOL_MAX) pthread_cond_wait(&ms->cond, &ms->lock);
    if (ms->idle) {
        c = ms->idle;
        ms->idle = c->next;
        ms->nidle--;
        pthread_mutex_unlock(&ms->lock);
        c->next = NULL;
        *out = c;
        return BERTH_OK;
    }
    ms->nopen++; /* reserve the slot, then open outside the lock */
    pthread_mutex_unlock(&ms->lock);
    rc = conn_open(ms->path, &c, err);
    if (rc) {
        pthread_mutex_lock(&ms->lock);
        ms->nopen--;
        pthread_cond_signal(&ms->cond);
        pthread_mutex_unlock(&ms->lock);
        return rc;
    }
    *out = c;
    return BERTH_OK;
}

/* Returns c to the pool; NULL-safe. A transaction left open by an error path is rolled back. */
static void conn_release(struct meta_sqlite *ms, struct conn *c)
{
    if (!c) return;
    if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&ms->lock);
    c->next = ms->idle;
    ms->idle = c;
    ms->nidle++;
    pthread_cond_signal(&ms->cond);
    pthread_mutex_unlock(&ms->lock);
}

/* ---- transactions ---- */

/* IMMEDIATE takes the write lock up front, so the busy timeout applies instead of a failed upgrade. */
static enum berth_rc tx_begin(struct conn *c, const char *op, struct berth_err *err)
{
    return step1(c, ST_BEGIN, op, NULL, NULL, err, "");
}

static enum berth_rc tx_commit(struct conn *c, const char *op, struct berth_err *err)
{
    return step1(c, ST_COMMIT, op, NULL, NULL, err, "");
}

static void tx_rollback(struct conn *c)
{
    if (c && !sqlite3_get_autocommit(c->db)) step1(c, ST_ROLLBACK, "rollback", NULL, NULL, NULL, "");
}

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

/* Applies each migration newer than the file's user_version, each in its own transaction. */
static enum berth_rc migrate(struct conn *c, const char *path, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    char sql[64];
    int i, have, s;

    for (i = 0; i < NMIGRATIONS; i++)
        if (migrations[i].version != i + 1)
            return berth_err_set(err, BERTH_EINTERNAL, "migration %s is numbered out of sequence",
                                 migrations[i].name);
    rc = user_version(c, &have, err);
    if (rc) return rc;
    if (have > NMIGRATIONS) return newer_than_known(path, have, err);
    for (i = have; i < NMIGRATIONS; i++) {
        rc = tx_begin(c, "begin migration", err);
        if (rc) goto out;
        /* another process may have migrated while we waited for the lock */
        rc = user_version(c, &have, err);
        if (rc) goto out;
        if (have > NMIGRATIONS) {
            rc = newer_than_known(path, have, err);
            goto out;
        }
        if (have < migrations[i].version) {
            s = sqlite3_exec(c->db, migrations[i].sql, NULL, NULL, NULL);
            if (s == SQLITE_OK) {
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", migrations[i].version);
                s = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
            }
            if (s != SQLITE_OK) {
                rc = db_err(c, s, migrations[i].name, err);
                goto out;
            }
        }
        rc = tx_commit(c, "commit migration", err);
        if (rc) goto out;
    }
out:
    if (rc) tx_rollback(c);
    return rc;
}

/* ---- open, close, ping ---- */

static enum berth_rc sq_open(const char *dsn, struct berth_meta **out, struct berth_err *err)
{
    struct meta_sqlite *ms = NULL;
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!dsn || !*dsn) return berth_err_set(err, BERTH_ECONFIG, "sqlite: empty database path");
    if (!sqlite3_threadsafe())
        return berth_err_set(err, BERTH_EDB, "sqlite: the SQLite library was built without thread support");
    ms = berth_xcalloc(1, sizeof(*ms));
    ms->base.magic = BERTH_META_MAGIC;
    ms->base.ops = &berth_meta_sqlite_ops;
    ms->path = berth_xstrdup(dsn);
    pthread_mutex_init(&ms->lock, NULL);
    pthread_cond_init(&ms->cond, NULL);
    rc = conn_open(ms->path, &c, err);
    if (rc) goto out;
    rc = migrate(c, ms->path, err);
    if (rc) goto out;
    ms->nopen = 1;
    conn_release(ms, c);
    c = NULL;
    *out = &ms->base;
    ms = NULL;
out:
    conn_free(c);
    if (ms) {
        pthread_cond_destroy(&ms->cond);
        pthread_mutex_destroy(&ms->lock);
        free(ms->path);
        free(ms);
    }
    return rc;
}

/* Waits for connections still in use, then closes them all. */
static void sq_close(struct berth_meta *m)
{
    struct meta_sqlite *ms;
    struct conn *c;

    if (!m) return;
    ms = meta_of(m);
    pthread_mutex_lock(&ms->lock);
    while (ms->nidle < ms->nopen) pthread_cond_wait(&ms->cond, &ms->lock);
    c = ms->idle;
    ms->idle = NULL;
    ms->nidle = ms->nopen = 0;
    pthread_mutex_unlock(&ms->lock);
    if (c) sqlite3_exec(c->db, "PRAGMA optimize", NULL, NULL, NULL);
    while (c) {
        struct conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_cond_destroy(&ms->cond);
    pthread_mutex_destroy(&ms->lock);
    free(ms->path);
    ms->base.magic = 0;
    free(ms);
}

static enum berth_rc sq_ping(struct berth_meta *m, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_PING, "ping", NULL, NULL, err, "");
out:
    conn_release(ms, c);
    return rc;
}

/* ---- repositories ---- */

static enum berth_rc repo_lookup(struct conn *c, const char *repo, int *found, int64_t *id, struct berth_err *err)
{
    return step1(c, ST_REPO_ID, "look up repository", found, id, err, "T", repo);
}

/* Inside a write transaction: the repository's id, creating it if needed. */
static enum berth_rc repo_ensure(struct conn *c, const char *repo, int64_t now, int64_t *id, struct berth_err *err)
{
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, repo, &found, id, err);
    if (rc || found) return rc;
    rc = step1(c, ST_REPO_INSERT, "create repository", NULL, NULL, err, "TI", repo, now);
    if (rc) return rc;
    *id = sqlite3_last_insert_rowid(c->db);
    return BERTH_OK;
}

static enum berth_rc sq_repo_exists(struct berth_meta *m, const char *repo, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    int found = 0;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "repo_exists: no repository");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = repo_lookup(c, repo, &found, NULL, err);
    if (!rc && !found) rc = berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
out:
    conn_release(ms, c);
    return rc;
}

/* LIMIT for a page of n names: one extra row tells whether more exist; n < 0 means all. */
static int64_t page_limit(int64_t n)
{
    return n < 0 || n == INT64_MAX ? -1 : n + 1;
}

/*
 * Hands the names in column col of st to fn, at most n of them (n < 0: all),
 * and sets *more. Rows whose name is NULL are skipped. *rows counts every row
 * seen, named or not. st was bound with LIMIT page_limit(n).
 */
static enum berth_rc page_names(struct conn *c, sqlite3_stmt *st, int col, int64_t n, berth_meta_name_fn fn,
                                void *ctx, int *more, int *rows, const char *op, struct berth_err *err)
{
    int64_t given = 0;
    int s, stopped = 0;

    if (more) *more = 0;
    for (;;) {
        const char *name;
        s = sqlite3_step(st);
        if (s == SQLITE_DONE) break;
        if (s != SQLITE_ROW) return db_err(c, s, op, err);
        (*rows)++;
        name = (const char *)sqlite3_column_text(st, col);
        if (!name) continue;
        if (stopped || (n >= 0 && given >= n)) {
            if (more) *more = 1;
            break;
        }
        given++;
        if (fn && fn(name, ctx)) stopped = 1; /* one more step tells whether names remain */
    }
    return BERTH_OK;
}

static enum berth_rc sq_repo_list(struct berth_meta *m, const char *last, int64_t n, berth_meta_name_fn fn,
                                  void *ctx, int *more, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    /* names are never empty, so "" sorts before all of them */
    rc = query(c, ST_REPO_LIST, &st, "repo_list", err, "TI", last ? last : "", page_limit(n));
    if (rc) goto out;
    rc = page_names(c, st, 0, n, fn, ctx, more, &rows, "repo_list", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- blobs ---- */

static enum berth_rc sq_blob_link(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                  int64_t size, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t rid = 0, now = berth_now_ms();
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_link: no repository or digest");
    if (size < 0) return berth_err_set(err, BERTH_EINVAL, "blob_link: negative size %lld", (long long)size);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "blob_link", err);
    if (rc) goto out;
    rc = repo_ensure(c, repo, now, &rid, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_LINK, "blob_link", NULL, NULL, err, "IDII", rid, d, size, now);
    if (rc) goto out;
    rc = tx_commit(c, "blob_link", err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_blob_linked(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                    int64_t *size, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    int64_t sz = 0;
    int found = 0;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_linked: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_LINKED, "blob_linked", &found, &sz, err, "TD", repo, d);
    if (rc) goto out;
    if (!found) {
        rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s unknown to repository '%s'", d->s, repo);
        goto out;
    }
    if (size) *size = sz;
out:
    conn_release(ms, c);
    return rc;
}

/* BERTH_EBLOBUNKNOWN when the blob was not linked to the repository. */
static enum berth_rc sq_blob_unlink(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                    struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_unlink: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_UNLINK, "blob_unlink", NULL, NULL, err, "TD", repo, d);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s unknown to repository '%s'", d->s, repo);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_blob_repos(struct berth_meta *m, const struct berth_digest *d, berth_meta_name_fn fn,
                                   void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_repos: no digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_BLOB_REPOS, &st, "blob_repos", err, "D", d);
    if (rc) goto out;
    rc = page_names(c, st, 0, -1, fn, ctx, NULL, &rows, "blob_repos", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_blob_in_use(struct berth_meta *m, const struct berth_digest *d, int *used,
                                    struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    int64_t v = 0;

    if (!d || !used) return berth_err_set(err, BERTH_EINVAL, "blob_in_use: no digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_IN_USE, "blob_in_use", NULL, &v, err, "D", d);
    if (rc) goto out;
    *used = v != 0;
out:
    conn_release(ms, c);
    return rc;
}

/* ---- manifests and tags ---- */

/* Inside manifest_put's transaction: BERTH_EMANIFESTBLOB naming the first missing reference. */
static enum berth_rc check_refs(struct conn *c, const struct berth_meta_manifest *mf, int have_repo, int64_t rid,
                                struct berth_err *err)
{
    enum berth_rc rc;
    size_t i;
    int found;

    for (i = 0; i < mf->nblobs; i++) {
        found = 0;
        if (have_repo) {
            rc = step1(c, ST_REPO_HAS_BLOB, "manifest_put", &found, NULL, err, "ID", rid, &mf->blobs[i]);
            if (rc) return rc;
        }
        if (!found)
            return berth_err_set(err, BERTH_EMANIFESTBLOB, "blob %s unknown to repository '%s'", mf->blobs[i].s,
                                 mf->repo);
    }
    for (i = 0; i < mf->nchildren; i++) {
        found = 0;
        if (have_repo) {
            rc = step1(c, ST_REPO_HAS_MANIFEST, "manifest_put", &found, NULL, err, "ID", rid, &mf->children[i]);
            if (rc) return rc;
        }
        if (!found)
            return berth_err_set(err, BERTH_EMANIFESTBLOB, "manifest %s unknown to repository '%s'",
                                 mf->children[i].s, mf->repo);
    }
    return BERTH_OK;
}

/* Inside manifest_put's transaction: the reference rows become exactly mf's. */
static enum berth_rc replace_refs(struct conn *c, const struct berth_meta_manifest *mf, int64_t rid,
                                  int64_t mid, struct berth_err *err)
{
    enum berth_rc rc;
    size_t i;

    rc = step1(c, ST_MBLOBS_CLEAR, "manifest_put", NULL, NULL, err, "I", mid);
    for (i = 0; !rc && i < mf->nblobs; i++)
        rc = step1(c, ST_MBLOBS_ADD, "manifest_put", NULL, NULL, err, "IID", mid, rid, &mf->blobs[i]);
    if (!rc) rc = step1(c, ST_MCHILDREN_CLEAR, "manifest_put", NULL, NULL, err, "I", mid);
    for (i = 0; !rc && i < mf->nchildren; i++)
        rc = step1(c, ST_MCHILDREN_ADD, "manifest_put", NULL, NULL, err, "IID", mid, rid,
                   &mf->children[i]);
    return rc;
}

static enum berth_rc sq_manifest_put(struct berth_meta *m, const struct berth_meta_manifest *mf, const char *tag,
                                     struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t rid = 0, mid = 0, now = berth_now_ms();
    enum berth_rc rc;
    int have_repo = 0, row = 0;

    if (!mf || !mf->repo || !mf->digest || !mf->media_type || (mf->len && !mf->payload) ||
        (mf->nblobs && !mf->blobs) || (mf->nchildren && !mf->children))
        return berth_err_set(err, BERTH_EINVAL, "manifest_put: incomplete manifest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "manifest_put", err);
    if (rc) goto out;
    rc = repo_lookup(c, mf->repo, &have_repo, &rid, err);
    if (rc) goto out;
    rc = check_refs(c, mf, have_repo, rid, err);
    if (rc) goto out;
    if (!have_repo) {
        rc = repo_ensure(c, mf->repo, now, &rid, err);
        if (rc) goto out;
    }
    /*
     * Re-putting keeps the row (and the tags on it) but renews its time, so a
     * manifest pushed again is not collected by a gc that runs before the
     * index or tag that will use it arrives.
     */
    rc = step1(c, ST_MANIFEST_UPSERT, "manifest_put", &row, &mid, err, "IDTBITTDI", rid, mf->digest,
               mf->media_type, (const void *)mf->payload, mf->len, (int64_t)mf->len, mf->artifact_type,
               mf->annotations_json, mf->subject, now);
    if (rc) goto out;
    if (!row) {
        rc = berth_err_set(err, BERTH_EDB, "manifest_put: upsert returned no id");
        goto out;
    }
    rc = replace_refs(c, mf, rid, mid, err);
    if (rc) goto out;
    if (tag) {
        rc = step1(c, ST_TAG_PUT, "manifest_put", NULL, NULL, err, "ITII", rid, tag, mid, now);
        if (rc) goto out;
    }
    rc = tx_commit(c, "manifest_put", err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_manifest_get(struct berth_meta *m, const char *repo, const struct berth_ref *ref,
                                     struct berth_buf *payload, size_t *len, char *media_type, size_t mtlen,
                                     struct berth_digest *digest, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    const char *key;
    enum berth_rc rc;
    int s;

    if (!repo || !ref) return berth_err_set(err, BERTH_EINVAL, "manifest_get: no repository or reference");
    key = ref->is_digest ? ref->digest.s : ref->tag;
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    /* ?3 = 0 leaves the payload unread for HEAD */
    rc = query(c, ref->is_digest ? ST_GET_BY_DIGEST : ST_GET_BY_TAG, &st, "manifest_get", err, "TTI", repo, key,
               (int64_t)(payload != NULL));
    if (rc) goto out;
    s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
        goto out;
    }
    if (s != SQLITE_ROW) {
        rc = db_err(c, s, "manifest_get", err);
        goto out;
    }
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, ref->is_digest ? "manifest %s unknown to repository '%s'"
                                                                       : "tag '%s' unknown in repository '%s'",
                           key, repo);
        goto out;
    }
    if (digest) {
        rc = column_digest(st, 0, digest, err);
        if (rc) goto out;
    }
    if (media_type && column_copy(st, 1, media_type, mtlen) != 0) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "manifest_get: media type does not fit in %zu bytes", mtlen);
        goto out;
    }
    if (payload) {
        const void *p = sqlite3_column_blob(st, 3);
        int n = sqlite3_column_bytes(st, 3);
        if (!p && n) {
            rc = db_err(c, SQLITE_NOMEM, "manifest_get", err);
            goto out;
        }
        if (berth_buf_append(payload, p, (size_t)n) != BERTH_OK) {
            rc = berth_err_set(err, berth_buf_rc(payload), "manifest %s of %d bytes exceeds the limit of %zu bytes",
                               key, n, payload->max);
            goto out;
        }
        if (len) *len = (size_t)n;
    } else if (len) {
        int64_t n = sqlite3_column_int64(st, 2);
        if (n < 0) {
            rc = berth_err_set(err, BERTH_EDB, "manifest %s has a damaged size", key);
            goto out;
        }
        *len = (size_t)n;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* Tags, references and children go with the manifest (ON DELETE CASCADE). */
static enum berth_rc sq_manifest_delete(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                        struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "manifest_delete: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_MANIFEST_DELETE, "manifest_delete", NULL, NULL, err, "TD", repo, d);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", d->s, repo);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_tag_delete(struct berth_meta *m, const char *repo, const char *tag, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !tag) return berth_err_set(err, BERTH_EINVAL, "tag_delete: no repository or tag");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_TAG_DELETE, "tag_delete", NULL, NULL, err, "TT", repo, tag);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", tag, repo);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_tag_list(struct berth_meta *m, const char *repo, const char *last, int64_t n,
                                 berth_meta_name_fn fn, void *ctx, int *more, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "tag_list: no repository");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    /* one statement: no row means no repository, a NULL tag means no tags after last */
    rc = query(c, ST_TAG_LIST, &st, "tag_list", err, "TTI", repo, last ? last : "", page_limit(n));
    if (rc) goto out;
    rc = page_names(c, st, 1, n, fn, ctx, more, &rows, "tag_list", err);
    if (!rc && rows == 0) rc = berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_referrers(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                  const char *artifact_type, berth_meta_referrer_fn fn, void *ctx,
                                  struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "referrers: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_REFERRERS, &st, "referrers", err, "TDT", repo, d, artifact_type);
    if (rc) goto out;
    for (;;) {
        struct berth_meta_referrer r;
        s = sqlite3_step(st);
        if (s == SQLITE_DONE) break;
        if (s != SQLITE_ROW) {
            rc = db_err(c, s, "referrers", err);
            goto out;
        }
        r.digest = (const char *)sqlite3_column_text(st, 0);
        r.media_type = (const char *)sqlite3_column_text(st, 1);
        r.size = sqlite3_column_int64(st, 2);
        r.artifact_type = (const char *)sqlite3_column_text(st, 3);
        r.annotations_json = (const char *)sqlite3_column_text(st, 4);
        if (!r.digest || !r.media_type) {
            rc = berth_err_set(err, BERTH_EDB, "referrers: damaged manifest row");
            goto out;
        }
        if (fn && fn(&r, ctx)) break;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- upload sessions ---- */

static enum berth_rc sq_upload_put(struct berth_meta *m, const char *uuid, const char *repo, int64_t created_ms,
                                   struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!uuid || !repo) return berth_err_set(err, BERTH_EINVAL, "upload_put: no uuid or repository");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_UPLOAD_PUT, "upload_put", NULL, NULL, err, "TTI", uuid, repo, created_ms);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_upload_get(struct berth_meta *m, const char *uuid, char *repo, size_t repolen,
                                   int64_t *created_ms, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_get: no uuid");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_UPLOAD_GET, &st, "upload_get", err, "T", uuid);
    if (rc) goto out;
    s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", uuid);
        goto out;
    }
    if (s != SQLITE_ROW) {
        rc = db_err(c, s, "upload_get", err);
        goto out;
    }
    if (repo && column_copy(st, 0, repo, repolen) != 0) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "upload_get: repository name does not fit in %zu bytes", repolen);
        goto out;
    }
    if (created_ms) *created_ms = sqlite3_column_int64(st, 1);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* BERTH_EUPLOADUNKNOWN when there was no such session. */
static enum berth_rc sq_upload_delete(struct berth_meta *m, const char *uuid, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!uuid) return berth_err_set(err, BERTH_EINVAL, "upload_delete: no uuid");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_UPLOAD_DELETE, "upload_delete", NULL, NULL, err, "T", uuid);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %.64s unknown", uuid);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_upload_list(struct berth_meta *m, berth_meta_name_fn fn, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_UPLOAD_LIST, &st, "upload_list", err, "");
    if (rc) goto out;
    rc = page_names(c, st, 0, -1, fn, ctx, NULL, &rows, "upload_list", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- garbage collection ---- */

/* One row gc found eligible; strings are copied because the rows go away. */
struct gc_row {
    int64_t id; /* manifest id, or the repository id of a blob link */
    char *repo;
    char *digest;
};

struct gc_batch {
    struct gc_row rows[GC_BATCH];
    int n;
};

static void batch_clear(struct gc_batch *b)
{
    int i;

    for (i = 0; i < b->n; i++) {
        free(b->rows[i].repo);
        free(b->rows[i].digest);
    }
    b->n = 0;
}

/* Reads up to GC_BATCH rows (id, repo name, digest) from a bound statement. */
static enum berth_rc batch_fill(struct conn *c, sqlite3_stmt *st, struct gc_batch *b, struct berth_err *err)
{
    int s;

    for (;;) {
        const char *repo, *digest;
        s = sqlite3_step(st);
        if (s == SQLITE_DONE) return BERTH_OK;
        if (s != SQLITE_ROW) return db_err(c, s, "gc", err);
        repo = (const char *)sqlite3_column_text(st, 1);
        digest = (const char *)sqlite3_column_text(st, 2);
        if (!repo || !digest) return berth_err_set(err, BERTH_EDB, "gc: damaged row");
        if (b->n == GC_BATCH) return BERTH_OK;
        b->rows[b->n].id = sqlite3_column_int64(st, 0);
        b->rows[b->n].repo = berth_xstrdup(repo);
        b->rows[b->n].digest = berth_xstrdup(digest);
        b->n++;
    }
}

/*
 * Deleting a manifest can only make others eligible (its children, its
 * referrers), never fewer, so each pass walks the manifests in id order and
 * another pass runs while the last one deleted anything.
 */
static enum berth_rc gc_manifests(struct conn *c, struct gc_batch *b, int64_t cutoff_ms, berth_meta_gc_fn fn,
                                  void *ctx, int *stopped, struct berth_err *err)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int64_t deleted, last;
    int i;

    do {
        deleted = 0;
        last = 0;
        for (;;) {
            rc = query(c, ST_GC_MANIFESTS, &st, "gc", err, "III", last, cutoff_ms, (int64_t)GC_BATCH);
            if (rc) goto out;
            rc = batch_fill(c, st, b, err);
            stmt_done(st);
            st = NULL;
            if (rc || b->n == 0) goto pass_done;
            for (i = 0; i < b->n; i++) {
                rc = step1(c, ST_GC_MANIFEST_DELETE, "gc", NULL, NULL, err, "I", b->rows[i].id);
                if (rc) goto out;
                deleted++;
                if (fn && fn(b->rows[i].repo, b->rows[i].digest, ctx)) {
                    *stopped = 1;
                    goto out;
                }
            }
            last = b->rows[b->n - 1].id;
            batch_clear(b);
        }
pass_done:
        batch_clear(b);
        if (rc) goto out;
    } while (deleted);
out:
    stmt_done(st);
    batch_clear(b);
    return rc;
}

/* Unlinking never changes whether another link is referenced: one pass in key order. */
static enum berth_rc gc_blobs(struct conn *c, struct gc_batch *b, int64_t cutoff_ms, berth_meta_gc_fn fn, void *ctx,
                              struct berth_err *err)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int64_t last_repo = 0;
    char *last_digest = berth_xstrdup("");
    int i;

    for (;;) {
        rc = query(c, ST_GC_BLOBS, &st, "gc", err, "ITII", last_repo, last_digest, cutoff_ms, (int64_t)GC_BATCH);
        if (rc) goto out;
        rc = batch_fill(c, st, b, err);
        stmt_done(st);
        st = NULL;
        if (rc || b->n == 0) goto out;
        for (i = 0; i < b->n; i++) {
            rc = step1(c, ST_GC_BLOB_DELETE, "gc", NULL, NULL, err, "IT", b->rows[i].id, b->rows[i].digest);
            if (rc) goto out;
            if (fn && fn(b->rows[i].repo, b->rows[i].digest, ctx)) goto out;
        }
        last_repo = b->rows[b->n - 1].id;
        free(last_digest);
        last_digest = b->rows[b->n - 1].digest;
        b->rows[b->n - 1].digest = NULL;
        batch_clear(b);
    }
out:
    stmt_done(st);
    batch_clear(b);
    free(last_digest);
    return rc;
}

/*
 * A nonzero return from a callback stops gc early; what was deleted up to
 * then is committed (or, for a dry run, rolled back like everything else).
 */
static enum berth_rc sq_gc(struct berth_meta *m, int64_t cutoff_ms, int dry_run, berth_meta_gc_fn on_manifest,
                           berth_meta_gc_fn on_unlink, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct gc_batch *b = berth_xcalloc(1, sizeof(*b));
    struct conn *c = NULL;
    enum berth_rc rc;
    int stopped = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "gc", err);
    if (rc) goto out;
    rc = gc_manifests(c, b, cutoff_ms, on_manifest, ctx, &stopped, err);
    if (rc) goto out;
    if (!stopped) {
        rc = gc_blobs(c, b, cutoff_ms, on_unlink, ctx, err);
        if (rc) goto out;
    }
    if (dry_run) tx_rollback(c);
    else rc = tx_commit(c, "gc", err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    free(b);
    return rc;
}

const struct berth_meta_ops berth_meta_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .repo_exists = sq_repo_exists,
    .repo_list = sq_repo_list,
    .blob_link = sq_blob_link,
    .blob_linked = sq_blob_linked,
    .blob_unlink = sq_blob_unlink,
    .blob_repos = sq_blob_repos,
    .blob_in_use = sq_blob_in_use,
    .manifest_put = sq_manifest_put,
    .manifest_get = sq_manifest_get,
    .manifest_delete = sq_manifest_delete,
    .tag_delete = sq_tag_delete,
    .tag_list = sq_tag_list,
    .referrers = sq_referrers,
    .upload_put = sq_upload_put,
    .upload_get = sq_upload_get,
    .upload_delete = sq_upload_delete,
    .upload_list = sq_upload_list,
    .gc = sq_gc,
};
