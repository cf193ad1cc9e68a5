/*
 * meta_sqlite.c - the "sqlite" metadata driver: one database file in WAL
 * mode, a bounded pool of connections shared by the HTTP threads, statements
 * prepared once per connection, numbered migrations embedded at build time.
 * docs/internals/meta.md describes the schema, the pool and the gc rules.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "alloc.h"
#include "meta.h"
#include "util.h"
#include "migrations.h"
#include "banned.h"

#define POOL_MAX 16            /* connections per database, opened on demand */
#define BUSY_TIMEOUT_MS 5000   /* how long a writer waits for the write lock */
#define GC_BATCH 1000          /* rows gc reads before deleting them */

/*
 * Every statement the driver runs. Hot paths (GET_BY_TAG, GET_BY_DIGEST,
 * BLOB_LINKED, UPLOAD_GET) are one indexed lookup each: the repository by its
 * unique (registry, name), then the row by its primary or unique key.
 */
#define REGISTRY_COLS "id, name, created_ms, admin_enabled, anonymous_pull, refresh_ttl_s, access_ttl_s," \
                      " admin_hash1, admin_hash2, admin_set1_ms, admin_set2_ms"
#define USER_COLS "id, name, hash, created_ms, password_set_ms"
#define TOKEN_COLS "t.id, t.registry_id, t.name, t.scopemap, t.enabled, t.created_ms, t.hash1, t.hash2," \
                   " t.set1_ms, t.set2_ms, t.expires1_ms, t.expires2_ms"
#define ASSIGNMENT_COLS "id, principal_type, principal_id, role, scope, created_ms"
#define STMT_MAP(X)                                                                                      \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                          \
    X(EVENT_INSERT, "INSERT INTO events (log, time_ms, registry_id, registry, login_server, operation,"       \
                    " identity_type, identity, identity_id, ip, user_agent, status, reason, request_id,"      \
                    " duration_us, repository, tag, digest, media_type, artifact_type, size, jti)"           \
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")                                 \
    X(EVENT_PRUNE_AGE, "DELETE FROM events WHERE time_ms < ?")                                           \
    X(EVENT_PRUNE_ROWS, "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC"         \
                        " LIMIT 1 OFFSET ?)")                                                            \
    X(COMMIT, "COMMIT")                                                                                  \
    X(ROLLBACK, "ROLLBACK")                                                                              \
    X(PING, "SELECT count(*) FROM (SELECT 1 FROM repositories LIMIT 1)")                                 \
    X(TENANT_GET, "SELECT id FROM tenant WHERE one = 1")                                                 \
    X(TENANT_INIT, "INSERT INTO tenant (one, id) VALUES (1, ?1) ON CONFLICT (one) DO NOTHING")           \
    X(REG_INSERT, "INSERT INTO registries (name, created_ms, admin_enabled, anonymous_pull, refresh_ttl_s," \
                  " access_ttl_s, admin_hash1, admin_hash2, admin_set1_ms, admin_set2_ms)"               \
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING")     \
    X(REG_BY_NAME, "SELECT " REGISTRY_COLS " FROM registries WHERE name = ?1")                           \
    X(REG_BY_ID, "SELECT " REGISTRY_COLS " FROM registries WHERE id = ?1")                               \
    X(REG_LIST, "SELECT " REGISTRY_COLS " FROM registries ORDER BY name")                                \
    X(REG_UPDATE_SETTINGS, "UPDATE registries SET admin_enabled = ?2, anonymous_pull = ?3,"             \
                           " refresh_ttl_s = ?4, access_ttl_s = ?5 WHERE id = ?1")                       \
    X(REG_UPDATE_ADMIN1, "UPDATE registries SET admin_hash1 = ?2, admin_set1_ms = ?3 WHERE id = ?1")     \
    X(REG_UPDATE_ADMIN2, "UPDATE registries SET admin_hash2 = ?2, admin_set2_ms = ?3 WHERE id = ?1")     \
    X(REG_DELETE, "DELETE FROM registries WHERE id = ?1")                                                \
    X(REG_ID, "SELECT id FROM registries WHERE name = ?1")                                               \
    /* ?1 = "/registries/<name>": the scope itself or anything under "<it>/" ('0' follows '/') */        \
    X(REG_DELETE_ASSIGNMENTS, "DELETE FROM role_assignments WHERE scope = ?1"                            \
                              " OR (scope >= ?1 || '/' AND scope < ?1 || '0')")                          \
    X(USER_INSERT, "INSERT INTO users (id, name, hash, created_ms, password_set_ms) VALUES (?1, ?2, ?3, ?4, ?5)" \
                   " ON CONFLICT (name) DO NOTHING")                                                     \
    X(USER_BY_NAME, "SELECT " USER_COLS " FROM users WHERE name = ?1")                                   \
    X(USER_BY_ID, "SELECT " USER_COLS " FROM users WHERE id = ?1")                                       \
    X(USER_LIST, "SELECT " USER_COLS " FROM users ORDER BY name")                                        \
    X(USER_SET_PASSWORD, "UPDATE users SET hash = ?2, password_set_ms = ?3 WHERE id = ?1")               \
    X(USER_DELETE, "DELETE FROM users WHERE id = ?1")                                                    \
    X(SP_INSERT, "INSERT INTO service_principals (app_id, display_name, created_ms) VALUES (?1, ?2, ?3)") \
    X(SP_GET, "SELECT app_id, display_name, created_ms FROM service_principals WHERE app_id = ?1")       \
    X(SP_LIST, "SELECT app_id, display_name, created_ms FROM service_principals ORDER BY display_name, app_id") \
    X(SP_DELETE, "DELETE FROM service_principals WHERE app_id = ?1")                                     \
    X(SECRET_COUNT, "SELECT count(*) FROM sp_secrets WHERE app_id = ?1")                                 \
    X(SECRET_INSERT, "INSERT INTO sp_secrets (id, app_id, hash, description, created_ms, expires_ms)"    \
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                                 \
    X(SECRET_DELETE, "DELETE FROM sp_secrets WHERE app_id = ?1 AND id = ?2")                             \
    /* one statement: no row means no such service principal, a NULL id means no secrets */              \
    X(SECRET_LIST, "SELECT s.id, s.hash, s.description, s.created_ms, s.expires_ms FROM service_principals p" \
                   " LEFT JOIN sp_secrets s ON s.app_id = p.app_id WHERE p.app_id = ?1"                  \
                   " ORDER BY s.created_ms DESC, s.rowid DESC")                                          \
    X(ASSIGN_DELETE_PRINCIPAL, "DELETE FROM role_assignments"                                            \
                               " WHERE principal_type = ?1 AND principal_id = ?2")                       \
    X(ASSIGN_INSERT, "INSERT INTO role_assignments"                                                      \
                     " (id, principal_type, principal_id, role, scope, created_ms)"                      \
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"                                                  \
                     " ON CONFLICT (principal_type, principal_id, role, scope) DO NOTHING")              \
    X(ASSIGN_DELETE, "DELETE FROM role_assignments WHERE id = ?1")                                       \
    X(ASSIGN_LIST, "SELECT " ASSIGNMENT_COLS " FROM role_assignments ORDER BY rowid")                    \
    X(ASSIGN_LIST_PRINCIPAL, "SELECT " ASSIGNMENT_COLS " FROM role_assignments"                          \
                             " WHERE principal_id = ?1 ORDER BY rowid")                                  \
    X(USER_EXISTS, "SELECT 1 FROM users WHERE id = ?1")                                                  \
    X(SP_EXISTS, "SELECT 1 FROM service_principals WHERE app_id = ?1")                                   \
    /* the registry check inside the insert: no row back means no such registry */                       \
    X(SM_UPSERT, "INSERT INTO scope_maps (registry_id, name, description, created_ms)"                   \
                 " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1)"          \
                 " ON CONFLICT (registry_id, name) DO UPDATE SET description = excluded.description"     \
                 " RETURNING id, created_ms")                                                            \
    /* create only: no row back means the name is taken or there is no such registry */                 \
    X(SM_INSERT, "INSERT INTO scope_maps (registry_id, name, description, created_ms)"                   \
                 " SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1)"          \
                 " ON CONFLICT (registry_id, name) DO NOTHING RETURNING id, created_ms")                 \
    X(SM_RULES_CLEAR, "DELETE FROM scope_map_rules WHERE scope_map_id = ?1")                             \
    X(SM_RULE_ADD, "INSERT INTO scope_map_rules (scope_map_id, position, rule) VALUES (?1, ?2, ?3)")     \
    /* SM_GET and SM_LIST share their columns: registry id, map id, name, description, created, rule */  \
    X(SM_GET, "SELECT m.registry_id, m.id, m.name, m.description, m.created_ms, x.rule FROM scope_maps m" \
              " LEFT JOIN scope_map_rules x ON x.scope_map_id = m.id"                                    \
              " WHERE m.registry_id = ?1 AND m.name = ?2 ORDER BY x.position")                           \
    X(SM_LIST, "SELECT r.id, m.id, m.name, m.description, m.created_ms, x.rule FROM registries r"        \
               " LEFT JOIN scope_maps m ON m.registry_id = r.id"                                         \
               " LEFT JOIN scope_map_rules x ON x.scope_map_id = m.id"                                   \
               " WHERE r.id = ?1 ORDER BY m.name, x.position")                                           \
    X(SM_ID, "SELECT id FROM scope_maps WHERE registry_id = ?1 AND name = ?2")                           \
    X(SM_USED_BY, "SELECT name FROM tokens WHERE registry_id = ?1 AND scopemap = ?2 ORDER BY name LIMIT 1") \
    X(SM_DELETE, "DELETE FROM scope_maps WHERE id = ?1")                                                 \
    X(TOKEN_ID, "SELECT id FROM tokens WHERE registry_id = ?1 AND name = ?2")                            \
    X(TOKEN_INSERT, "INSERT INTO tokens (registry_id, name, scopemap, enabled, created_ms, hash1, hash2," \
                    " set1_ms, set2_ms, expires1_ms, expires2_ms)"                                       \
                    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"                               \
                    " WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1)"                             \
                    " ON CONFLICT (registry_id, name) DO NOTHING RETURNING id, created_ms")              \
    X(TOKEN_UPSERT, "INSERT INTO tokens (registry_id, name, scopemap, enabled, created_ms, hash1, hash2," \
                    " set1_ms, set2_ms, expires1_ms, expires2_ms)"                                       \
                    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11"                               \
                    " WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1)"                             \
                    " ON CONFLICT (registry_id, name) DO UPDATE SET scopemap = excluded.scopemap,"       \
                    " enabled = excluded.enabled, hash1 = excluded.hash1, hash2 = excluded.hash2,"       \
                    " set1_ms = excluded.set1_ms, set2_ms = excluded.set2_ms,"                           \
                    " expires1_ms = excluded.expires1_ms, expires2_ms = excluded.expires2_ms"            \
                    " RETURNING id, created_ms")                                                         \
    X(TOKEN_GET, "SELECT " TOKEN_COLS " FROM tokens t WHERE t.registry_id = ?1 AND t.name = ?2")         \
    /* one statement: no row means no registry, a NULL token id means no tokens */                       \
    X(TOKEN_LIST, "SELECT " TOKEN_COLS ", r.id FROM registries r LEFT JOIN tokens t ON t.registry_id = r.id" \
                  " WHERE r.id = ?1 ORDER BY t.name")                                                    \
    X(TOKEN_DELETE, "DELETE FROM tokens WHERE registry_id = ?1 AND name = ?2")                           \
    X(REPO_ID, "SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2")                       \
    /* no row inserted means no such registry */                                                         \
    X(REPO_INSERT, "INSERT INTO repositories (registry_id, name, created_ms)"                            \
                   " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1)")           \
    X(REPO_LIST, "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3") \
    X(BLOB_LINK, "INSERT INTO repo_blobs (repo_id, digest, size, created_ms) VALUES (?1, ?2, ?3, ?4)"    \
                 " ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size,"                    \
                 " created_ms = excluded.created_ms")                                                    \
    /* a claim takes the blob's row first: on PostgreSQL this is the row lock gc's reap waits on */     \
    X(BLOB_RECORD, "INSERT INTO blobs (digest, size, created_ms) VALUES (?1, ?2, ?3)"                    \
                   " ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest")                       \
    X(BLOB_FORGET, "DELETE FROM blobs WHERE digest = ?1")                                                \
    X(BLOB_UNUSED, "SELECT digest FROM blobs b WHERE digest > ?1"                                        \
                   " AND NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = b.digest)"                  \
                   " AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = b.digest)"              \
                   " AND NOT EXISTS (SELECT 1 FROM manifest_children WHERE digest = b.digest)"           \
                   " ORDER BY digest LIMIT ?2")                                                          \
    X(BLOB_LINKED, "SELECT b.size FROM repositories r JOIN repo_blobs b ON b.repo_id = r.id"             \
                   " WHERE r.registry_id = ?1 AND r.name = ?2 AND b.digest = ?3")                        \
    X(BLOB_UNLINK, "DELETE FROM repo_blobs WHERE repo_id = (SELECT id FROM repositories"                 \
                   " WHERE registry_id = ?1 AND name = ?2) AND digest = ?3")                             \
    /* CROSS JOIN keeps the walk on the digest's few links, not on every repository of the registry */ \
    X(BLOB_REPOS, "SELECT r.name FROM repo_blobs b CROSS JOIN repositories r ON r.id = b.repo_id"        \
                  " WHERE b.digest = ?2 AND r.registry_id = ?1 ORDER BY r.name")                         \
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
    X(GET_BY_TAG, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?4 THEN m.payload END"               \
                  " FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id AND t.name = ?3"            \
                  " LEFT JOIN manifests m ON m.id = t.manifest_id WHERE r.registry_id = ?1 AND r.name = ?2") \
    X(GET_BY_DIGEST, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?4 THEN m.payload END"            \
                     " FROM repositories r LEFT JOIN manifests m ON m.repo_id = r.id AND m.digest = ?3"  \
                     " WHERE r.registry_id = ?1 AND r.name = ?2")                                        \
    X(MANIFEST_DELETE, "DELETE FROM manifests WHERE repo_id = (SELECT id FROM repositories"              \
                       " WHERE registry_id = ?1 AND name = ?2) AND digest = ?3")                         \
    X(REPO_ITEMS, "SELECT 0, m.digest FROM repositories r JOIN manifests m ON m.repo_id = r.id"          \
                  " WHERE r.registry_id = ?1 AND r.name = ?2"                                            \
                  " UNION ALL SELECT 1, t.name FROM repositories r JOIN tags t ON t.repo_id = r.id"     \
                  " WHERE r.registry_id = ?1 AND r.name = ?2 ORDER BY 1, 2")                             \
    X(REPO_DELETE, "DELETE FROM repositories WHERE registry_id = ?1 AND name = ?2")                      \
    X(TAG_DELETE, "DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories"                        \
                  " WHERE registry_id = ?1 AND name = ?2) AND name = ?3")                                \
    X(TAG_LIST, "SELECT r.id, t.name FROM repositories r"                                                \
                " LEFT JOIN tags t ON t.repo_id = r.id AND t.name > ?3"                                  \
                " WHERE r.registry_id = ?1 AND r.name = ?2 ORDER BY t.name LIMIT ?4")                    \
    X(REFERRERS, "SELECT digest, media_type, size, artifact_type, annotations FROM manifests"            \
                 " WHERE repo_id = (SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2)"   \
                 " AND subject = ?3 AND (?4 IS NULL OR artifact_type = ?4) ORDER BY digest")             \
    /* no row written means no such registry */                                                          \
    X(UPLOAD_PUT, "INSERT INTO uploads (uuid, registry_id, repo, principal, created_ms)"                 \
                  " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?2)"     \
                  " ON CONFLICT (uuid) DO UPDATE SET registry_id = excluded.registry_id,"                \
                  " repo = excluded.repo, principal = excluded.principal, created_ms = excluded.created_ms") \
    X(UPLOAD_COUNT, "SELECT count(*) FROM uploads WHERE registry_id = ?1 AND repo = ?2 AND principal = ?3") \
    X(UPLOAD_GET, "SELECT registry_id, repo, created_ms FROM uploads WHERE uuid = ?1")                   \
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
    X(GC_BLOB_DELETE, "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2")                      \
    /* one statement: no row means no registry, a NULL value means no rules */                          \
    X(NET_GET, "SELECT r.public_network, r.default_action_allow, x.value FROM registries r"              \
               " LEFT JOIN registry_ip_rules x ON x.registry_id = r.id WHERE r.id = ?1 ORDER BY x.position") \
    X(NET_SET, "UPDATE registries SET public_network = ?2, default_action_allow = ?3 WHERE id = ?1")     \
    X(NET_RULES_CLEAR, "DELETE FROM registry_ip_rules WHERE registry_id = ?1")                           \
    X(NET_RULE_ADD, "INSERT INTO registry_ip_rules (registry_id, position, value) VALUES (?1, ?2, ?3)")  \
    X(NET_REG_EXISTS, "SELECT 1 FROM registries WHERE id = ?1")                                          \
    X(NET_RULE_HAS, "SELECT 1 FROM registry_ip_rules WHERE registry_id = ?1 AND value = ?2")             \
    X(NET_RULE_COUNT, "SELECT count(*) FROM registry_ip_rules WHERE registry_id = ?1")                   \
    X(NET_RULE_APPEND, "INSERT INTO registry_ip_rules (registry_id, position, value)"                    \
                       " SELECT ?1, coalesce(max(position), -1) + 1, ?2 FROM registry_ip_rules"          \
                       " WHERE registry_id = ?1")                                                        \
    X(NET_RULE_DELETE, "DELETE FROM registry_ip_rules WHERE registry_id = ?1 AND value = ?2")

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

/* The tables open() hands out, defined at the end of the file. */
static const struct berth_meta_reg_ops sqlite_reg;
static const struct berth_meta_dir_ops sqlite_dir;
static const struct berth_meta_content_ops sqlite_content;
static const struct berth_meta_upload_ops sqlite_uploads;
static const struct berth_meta_event_ops sqlite_events;

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

static enum berth_rc vquery(struct conn *c, enum stmt_id id, sqlite3_stmt **out, const char *op,
                            struct berth_err *err, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    rc = stmt_use(c, id, &st, err);
    if (rc) return rc;
    s = vbind(st, fmt, ap);
    if (s != SQLITE_OK) {
        rc = db_err(c, s, op, err);
        stmt_done(st);
        return rc;
    }
    *out = st;
    return BERTH_OK;
}

/* Prepares (once) and binds statement id; on success the caller steps it and calls stmt_done. */
static enum berth_rc query(struct conn *c, enum stmt_id id, sqlite3_stmt **out, const char *op,
                           struct berth_err *err, const char *fmt, ...)
{
    enum berth_rc rc;
    va_list ap;

    va_start(ap, fmt);
    rc = vquery(c, id, out, op, err, fmt, ap);
    va_end(ap);
    return rc;
}

/*
 * Runs statement id to its first row. On BERTH_OK *out is the statement
 * standing on that row, for the caller to read and then stmt_done, or NULL
 * when there was no row (the statement is already reset).
 */
static enum berth_rc first_row(struct conn *c, enum stmt_id id, sqlite3_stmt **out, const char *op,
                               struct berth_err *err, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    va_list ap;
    int s;

    *out = NULL;
    va_start(ap, fmt);
    rc = vquery(c, id, &st, op, err, fmt, ap);
    va_end(ap);
    if (rc) return rc;
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *out = st;
        return BERTH_OK;
    }
    if (s != SQLITE_DONE) rc = db_err(c, s, op, err);
    stmt_done(st);
    return rc;
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

/*
 * Steps a query: 1 when a row is ready, 0 when the rows are done, -1 on an
 * error (then *rc and err say which).
 */
static int next_row(struct conn *c, sqlite3_stmt *st, const char *op, enum berth_rc *rc, struct berth_err *err)
{
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    *rc = db_err(c, s, op, err);
    return -1;
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
    ms->base.magic = BERTH_META_MAGIC;
    ms->base.ops = &berth_meta_sqlite_ops;
    ms->base.reg = &sqlite_reg;
    ms->base.dir = &sqlite_dir;
    ms->base.content = &sqlite_content;
    ms->base.uploads = &sqlite_uploads;
    ms->base.events = &sqlite_events;
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
static enum berth_rc quick_check(struct conn *c, struct berth_meta_inspect *out, struct berth_err *err)
{
    char sql[64], v[sizeof(out->problem)];
    sqlite3_stmt *st = NULL;
    enum berth_rc rc = BERTH_OK;
    int s, checked = 0;

    snprintf(sql, sizeof(sql), "PRAGMA quick_check(%d)", CHECK_FINDINGS_MAX);
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
            rc = db_err(c, s, "PRAGMA quick_check", err);
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
    rc = quick_check(c, out, err);
out:
    conn_free(c);
    return rc;
}

/* ---- rows of the directory ---- */

#define SP_SECRETS_MAX 10 /* secrets one service principal may hold */

/* Nonzero if the fixed-size field holds a terminated string. */
#define FITS(field) (memchr((field), '\0', sizeof(field)) != NULL)

static enum berth_rc no_registry(int64_t reg, struct berth_err *err)
{
    return berth_err_set(err, BERTH_ENOENT, "registry %lld not found", (long long)reg);
}

/* Why a create-only insert added no row: what (id_stmt finds it by registry and name) is taken, or no registry. */
static enum berth_rc name_taken_or_no_registry(struct conn *c, enum stmt_id id_stmt, int64_t reg, const char *name,
                                               const char *what, struct berth_err *err)
{
    int row = 0;
    enum berth_rc rc = step1(c, id_stmt, "put", &row, NULL, err, "IT", reg, name);
    if (rc) return rc;
    if (row) return berth_err_set(err, BERTH_EEXIST, "%s '%s' already exists", what, name);
    return no_registry(reg, err);
}

static enum berth_rc damaged(const char *what, struct berth_err *err)
{
    return berth_err_set(err, BERTH_EDB, "a stored %s row is damaged", what);
}

static enum berth_rc read_registry(sqlite3_stmt *st, struct berth_meta_registry *r, struct berth_err *err)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->created_ms = sqlite3_column_int64(st, 2);
    r->admin_enabled = sqlite3_column_int64(st, 3) != 0;
    r->anonymous_pull = sqlite3_column_int64(st, 4) != 0;
    r->refresh_ttl_s = sqlite3_column_int64(st, 5);
    r->access_ttl_s = sqlite3_column_int64(st, 6);
    r->admin_set_ms[0] = sqlite3_column_int64(st, 9);
    r->admin_set_ms[1] = sqlite3_column_int64(st, 10);
    if (column_copy(st, 1, r->name, sizeof(r->name)) != 0 ||
        column_copy(st, 7, r->admin_hash[0], sizeof(r->admin_hash[0])) != 0 ||
        column_copy(st, 8, r->admin_hash[1], sizeof(r->admin_hash[1])) != 0)
        return damaged("registry", err);
    return BERTH_OK;
}

static enum berth_rc read_user(sqlite3_stmt *st, struct berth_meta_user *u, struct berth_err *err)
{
    memset(u, 0, sizeof(*u));
    u->created_ms = sqlite3_column_int64(st, 3);
    u->password_set_ms = sqlite3_column_int64(st, 4);
    if (column_copy(st, 0, u->id, sizeof(u->id)) != 0 || column_copy(st, 1, u->name, sizeof(u->name)) != 0 ||
        column_copy(st, 2, u->hash, sizeof(u->hash)) != 0)
        return damaged("user", err);
    return BERTH_OK;
}

static enum berth_rc read_sp(sqlite3_stmt *st, struct berth_meta_sp *sp, struct berth_err *err)
{
    memset(sp, 0, sizeof(*sp));
    sp->created_ms = sqlite3_column_int64(st, 2);
    if (column_copy(st, 0, sp->app_id, sizeof(sp->app_id)) != 0 ||
        column_copy(st, 1, sp->display_name, sizeof(sp->display_name)) != 0)
        return damaged("service principal", err);
    return BERTH_OK;
}

static enum berth_rc read_secret(sqlite3_stmt *st, struct berth_meta_sp_secret *s, struct berth_err *err)
{
    memset(s, 0, sizeof(*s));
    s->created_ms = sqlite3_column_int64(st, 3);
    s->expires_ms = sqlite3_column_int64(st, 4);
    if (column_copy(st, 0, s->id, sizeof(s->id)) != 0 || column_copy(st, 1, s->hash, sizeof(s->hash)) != 0 ||
        column_copy(st, 2, s->description, sizeof(s->description)) != 0)
        return damaged("service principal secret", err);
    return BERTH_OK;
}

static enum berth_rc read_token(sqlite3_stmt *st, struct berth_meta_token *t, struct berth_err *err)
{
    int i;

    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    t->reg = sqlite3_column_int64(st, 1);
    t->enabled = sqlite3_column_int64(st, 4) != 0;
    t->created_ms = sqlite3_column_int64(st, 5);
    for (i = 0; i < 2; i++) {
        if (column_copy(st, 6 + i, t->hash[i], sizeof(t->hash[i])) != 0) return damaged("token", err);
        t->set_ms[i] = sqlite3_column_int64(st, 8 + i);
        t->expires_ms[i] = sqlite3_column_int64(st, 10 + i);
    }
    if (column_copy(st, 2, t->name, sizeof(t->name)) != 0 ||
        column_copy(st, 3, t->scopemap, sizeof(t->scopemap)) != 0)
        return damaged("token", err);
    return BERTH_OK;
}

static enum berth_rc read_assignment(sqlite3_stmt *st, struct berth_meta_assignment *a, struct berth_err *err)
{
    memset(a, 0, sizeof(*a));
    a->created_ms = sqlite3_column_int64(st, 5);
    if (column_copy(st, 0, a->id, sizeof(a->id)) != 0 ||
        column_copy(st, 1, a->principal_type, sizeof(a->principal_type)) != 0 ||
        column_copy(st, 2, a->principal_id, sizeof(a->principal_id)) != 0 ||
        column_copy(st, 3, a->role, sizeof(a->role)) != 0 || column_copy(st, 4, a->scope, sizeof(a->scope)) != 0)
        return damaged("role assignment", err);
    return BERTH_OK;
}

/* ---- the tenant ---- */

static enum berth_rc sq_tenant_id(struct berth_meta *m, char out[37], struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    char fresh[37];
    enum berth_rc rc;

    if (!out) return berth_err_set(err, BERTH_EINVAL, "tenant_id: no output");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    /* read first, so only the very first call writes; of two first calls, one insert is ignored */
    rc = first_row(c, ST_TENANT_GET, &st, "tenant_id", err, "");
    if (rc) goto out;
    if (!st) {
        berth_uuid(fresh);
        rc = step1(c, ST_TENANT_INIT, "tenant_id", NULL, NULL, err, "T", fresh);
        if (rc) goto out;
        rc = first_row(c, ST_TENANT_GET, &st, "tenant_id", err, "");
        if (rc) goto out;
        if (!st) {
            rc = berth_err_set(err, BERTH_EDB, "tenant_id: the tenant row is missing after creating it");
            goto out;
        }
    }
    if (column_copy(st, 0, out, 37) != 0) rc = damaged("tenant", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- registries ---- */

static enum berth_rc sq_registry_create(struct berth_meta *m, struct berth_meta_registry *r, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t now = berth_now_ms();
    enum berth_rc rc;

    if (!r || !FITS(r->name) || !r->name[0] || !FITS(r->admin_hash[0]) || !FITS(r->admin_hash[1]))
        return berth_err_set(err, BERTH_EINVAL, "registry_create: no name, or a field does not fit");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_REG_INSERT, "registry_create", NULL, NULL, err, "TIIIIITTII", r->name, now,
               (int64_t)(r->admin_enabled != 0), (int64_t)(r->anonymous_pull != 0), r->refresh_ttl_s,
               r->access_ttl_s, r->admin_hash[0], r->admin_hash[1], r->admin_set_ms[0], r->admin_set_ms[1]);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = berth_err_set(err, BERTH_EEXIST, "registry '%s' already exists", r->name);
        goto out;
    }
    r->id = sqlite3_last_insert_rowid(c->db);
    r->created_ms = now;
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_registry_get(struct berth_meta *m, const char *name, int64_t id,
                                     struct berth_meta_registry *out, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;

    if (!id && !name) return berth_err_set(err, BERTH_EINVAL, "registry_get: no name or id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    if (id) rc = first_row(c, ST_REG_BY_ID, &st, "registry_get", err, "I", id);
    else rc = first_row(c, ST_REG_BY_NAME, &st, "registry_get", err, "T", name);
    if (rc) goto out;
    if (!st) {
        if (id) rc = no_registry(id, err);
        else rc = berth_err_set(err, BERTH_ENOENT, "registry '%s' not found", name);
        goto out;
    }
    if (out) rc = read_registry(st, out, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_registry_list(struct berth_meta *m, berth_meta_registry_fn fn, void *ctx,
                                      struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_registry r;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_REG_LIST, &st, "registry_list", err, "");
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "registry_list", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rc = read_registry(st, &r, err);
        if (rc) goto out;
        if (fn && fn(&r, ctx)) break;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_registry_update(struct berth_meta *m, const struct berth_meta_registry *r, unsigned what,
                                        struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int changed = 0, slot;
    enum berth_rc rc;

    if (!r || !FITS(r->admin_hash[0]) || !FITS(r->admin_hash[1]) || !what || (what & ~BERTH_META_REG_ALL))
        return berth_err_set(err, BERTH_EINVAL, "registry_update: no registry or fields, or a hash does not fit");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "registry_update", err);
    if (rc) goto out;
    if (what & BERTH_META_REG_SETTINGS) {
        rc = step1(c, ST_REG_UPDATE_SETTINGS, "registry_update", NULL, NULL, err, "IIIII", r->id,
                   (int64_t)(r->admin_enabled != 0), (int64_t)(r->anonymous_pull != 0), r->refresh_ttl_s,
                   r->access_ttl_s);
        changed += sqlite3_changes(c->db);
    }
    for (slot = 0; slot < 2 && !rc; slot++) {
        if (!(what & (slot ? BERTH_META_REG_ADMIN2 : BERTH_META_REG_ADMIN1))) continue;
        rc = step1(c, slot ? ST_REG_UPDATE_ADMIN2 : ST_REG_UPDATE_ADMIN1, "registry_update", NULL, NULL, err, "ITI",
                   r->id, r->admin_hash[slot], r->admin_set_ms[slot]);
        changed += sqlite3_changes(c->db);
    }
    if (!rc && !changed) rc = no_registry(r->id, err);
    if (!rc) rc = tx_commit(c, "registry_update", err);
out:
    if (rc && c) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

/*
 * Everything of the registry that is stored by its id goes with its row (ON
 * DELETE CASCADE). Role assignments name it by scope text instead, so they
 * are deleted here, in the same transaction.
 */
static enum berth_rc sq_registry_delete(struct berth_meta *m, int64_t id, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    char name[BERTH_META_NAME_MAX + 1], scope[BERTH_META_NAME_MAX + 16];
    enum berth_rc rc;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "registry_delete", err);
    if (rc) goto out;
    rc = first_row(c, ST_REG_BY_ID, &st, "registry_delete", err, "I", id);
    if (rc) goto out;
    if (!st) {
        rc = no_registry(id, err);
        goto out;
    }
    if (column_copy(st, 1, name, sizeof(name)) != 0) {
        rc = damaged("registry", err);
        goto out;
    }
    stmt_done(st);
    st = NULL;
    snprintf(scope, sizeof(scope), "/registries/%s", name);
    rc = step1(c, ST_REG_DELETE_ASSIGNMENTS, "registry_delete", NULL, NULL, err, "T", scope);
    if (rc) goto out;
    rc = step1(c, ST_REG_DELETE, "registry_delete", NULL, NULL, err, "I", id);
    if (rc) goto out;
    rc = tx_commit(c, "registry_delete", err);
out:
    stmt_done(st);
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

/* ---- users ---- */

static enum berth_rc sq_user_create(struct berth_meta *m, struct berth_meta_user *u, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t now = berth_now_ms(), set_ms;
    char id[37];
    enum berth_rc rc;

    if (!u || !FITS(u->name) || !u->name[0] || !FITS(u->hash))
        return berth_err_set(err, BERTH_EINVAL, "user_create: no name, or a field does not fit");
    berth_uuid(id);
    set_ms = u->password_set_ms ? u->password_set_ms : now;
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_USER_INSERT, "user_create", NULL, NULL, err, "TTTII", id, u->name, u->hash, now, set_ms);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = berth_err_set(err, BERTH_EEXIST, "user '%s' already exists", u->name);
        goto out;
    }
    memcpy(u->id, id, sizeof(id));
    u->created_ms = now;
    u->password_set_ms = set_ms;
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_user_get(struct berth_meta *m, const char *name, const char *id, struct berth_meta_user *out,
                                 struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;

    if (!name && !id) return berth_err_set(err, BERTH_EINVAL, "user_get: no name or id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    if (name) rc = first_row(c, ST_USER_BY_NAME, &st, "user_get", err, "T", name);
    else rc = first_row(c, ST_USER_BY_ID, &st, "user_get", err, "T", id);
    if (rc) goto out;
    if (!st) {
        rc = berth_err_set(err, BERTH_ENOENT, "user '%s' not found", name ? name : id);
        goto out;
    }
    if (out) rc = read_user(st, out, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_user_list(struct berth_meta *m, berth_meta_user_fn fn, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_user u;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_USER_LIST, &st, "user_list", err, "");
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "user_list", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rc = read_user(st, &u, err);
        if (rc) goto out;
        if (fn && fn(&u, ctx)) break;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_user_set_password(struct berth_meta *m, const char *id, const char *hash, int64_t set_ms,
                                          struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!id || !hash || strlen(hash) >= BERTH_META_HASH_MAX)
        return berth_err_set(err, BERTH_EINVAL, "user_set_password: no user or hash, or the hash does not fit");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_USER_SET_PASSWORD, "user_set_password", NULL, NULL, err, "TTI", id, hash, set_ms);
    if (!rc && sqlite3_changes(c->db) == 0) rc = berth_err_set(err, BERTH_ENOENT, "user '%s' not found", id);
out:
    conn_release(ms, c);
    return rc;
}

/* Deletes a user or a service principal (del: its DELETE) and its role assignments, in one transaction. */
static enum berth_rc principal_delete(struct meta_sqlite *ms, const char *type, enum stmt_id del, const char *id,
                                      const char *op, struct berth_err *err)
{
    struct conn *c = NULL;
    enum berth_rc rc;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, op, err);
    if (rc) goto out;
    rc = step1(c, del, op, NULL, NULL, err, "T", id);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = berth_err_set(err, BERTH_ENOENT, "%s '%s' not found", strcmp(type, "sp") ? "user" : "service principal",
                           id);
        goto out;
    }
    rc = step1(c, ST_ASSIGN_DELETE_PRINCIPAL, op, NULL, NULL, err, "TT", type, id);
    if (rc) goto out;
    rc = tx_commit(c, op, err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_user_delete(struct berth_meta *m, const char *id, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);

    if (!id) return berth_err_set(err, BERTH_EINVAL, "user_delete: no user");
    return principal_delete(ms, "user", ST_USER_DELETE, id, "user_delete", err);
}

/* ---- service principals and their secrets ---- */

static enum berth_rc sq_sp_create(struct berth_meta *m, struct berth_meta_sp *sp, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t now = berth_now_ms();
    char id[37];
    enum berth_rc rc;

    if (!sp || !FITS(sp->display_name))
        return berth_err_set(err, BERTH_EINVAL, "sp_create: no service principal, or its name does not fit");
    berth_uuid(id);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_SP_INSERT, "sp_create", NULL, NULL, err, "TTI", id, sp->display_name, now);
    if (rc) goto out;
    memcpy(sp->app_id, id, sizeof(id));
    sp->created_ms = now;
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc no_sp(const char *app_id, struct berth_err *err)
{
    return berth_err_set(err, BERTH_ENOENT, "service principal '%s' not found", app_id);
}

static enum berth_rc sq_sp_get(struct berth_meta *m, const char *app_id, struct berth_meta_sp *out,
                               struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;

    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_get: no app id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = first_row(c, ST_SP_GET, &st, "sp_get", err, "T", app_id);
    if (rc) goto out;
    if (!st) rc = no_sp(app_id, err);
    else if (out) rc = read_sp(st, out, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_sp_list(struct berth_meta *m, berth_meta_sp_fn fn, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_sp sp;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_SP_LIST, &st, "sp_list", err, "");
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "sp_list", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rc = read_sp(st, &sp, err);
        if (rc) goto out;
        if (fn && fn(&sp, ctx)) break;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* Secrets go with the row (ON DELETE CASCADE), assignments in the same transaction. */
static enum berth_rc sq_sp_delete(struct berth_meta *m, const char *app_id, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);

    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_delete: no app id");
    return principal_delete(ms, "sp", ST_SP_DELETE, app_id, "sp_delete", err);
}

/* The count and the insert share a transaction, so two racing adds cannot make an eleventh. */
static enum berth_rc sq_sp_secret_add(struct berth_meta *m, const char *app_id, struct berth_meta_sp_secret *s,
                                      struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t now = berth_now_ms(), count = 0;
    char id[37];
    enum berth_rc rc;
    int found = 0;

    if (!app_id || !s || !FITS(s->hash) || !FITS(s->description))
        return berth_err_set(err, BERTH_EINVAL, "sp_secret_add: no app id or secret, or a field does not fit");
    berth_uuid(id);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "sp_secret_add", err);
    if (rc) goto out;
    rc = step1(c, ST_SP_EXISTS, "sp_secret_add", &found, NULL, err, "T", app_id);
    if (rc) goto out;
    if (!found) {
        rc = no_sp(app_id, err);
        goto out;
    }
    rc = step1(c, ST_SECRET_COUNT, "sp_secret_add", NULL, &count, err, "T", app_id);
    if (rc) goto out;
    if (count >= SP_SECRETS_MAX) {
        rc = berth_err_set(err, BERTH_EBUSY, "service principal '%s' already has %d secrets; remove one first",
                           app_id, SP_SECRETS_MAX);
        goto out;
    }
    rc = step1(c, ST_SECRET_INSERT, "sp_secret_add", NULL, NULL, err, "TTTTII", id, app_id, s->hash,
               s->description, now, s->expires_ms);
    if (rc) goto out;
    rc = tx_commit(c, "sp_secret_add", err);
    if (rc) goto out;
    memcpy(s->id, id, sizeof(id));
    s->created_ms = now;
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_sp_secret_remove(struct berth_meta *m, const char *app_id, const char *secret_id,
                                         struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!app_id || !secret_id) return berth_err_set(err, BERTH_EINVAL, "sp_secret_remove: no app id or secret id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_SECRET_DELETE, "sp_secret_remove", NULL, NULL, err, "TT", app_id, secret_id);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_ENOENT, "secret '%s' of service principal '%s' not found", secret_id, app_id);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_sp_secrets(struct berth_meta *m, const char *app_id, berth_meta_sp_secret_fn fn, void *ctx,
                                   struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_sp_secret sec;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s, rows = 0;

    if (!app_id) return berth_err_set(err, BERTH_EINVAL, "sp_secrets: no app id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_SECRET_LIST, &st, "sp_secrets", err, "T", app_id);
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "sp_secrets", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rows++;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue; /* the principal has no secrets */
        rc = read_secret(st, &sec, err);
        if (rc) goto out;
        if (fn && fn(&sec, ctx)) break;
    }
    if (rows == 0) rc = no_sp(app_id, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- scope maps ---- */

static enum berth_rc sq_scopemap_put(struct berth_meta *m, struct berth_meta_scopemap *sm, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t id, created, now = berth_now_ms();
    enum berth_rc rc;
    size_t i;

    if (!sm || !FITS(sm->name) || !sm->name[0] || !FITS(sm->description) || (sm->nrules && !sm->rules))
        return berth_err_set(err, BERTH_EINVAL, "scopemap_put: no name, or a field does not fit");
    for (i = 0; i < sm->nrules; i++)
        if (!sm->rules[i]) return berth_err_set(err, BERTH_EINVAL, "scopemap_put: rule %zu is missing", i);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "scopemap_put", err);
    if (rc) goto out;
    rc = first_row(c, sm->create_only ? ST_SM_INSERT : ST_SM_UPSERT, &st, "scopemap_put", err, "ITTI", sm->reg,
                   sm->name, sm->description, now);
    if (rc) goto out;
    if (!st) {
        rc = name_taken_or_no_registry(c, ST_SM_ID, sm->reg, sm->name, "scope map", err);
        goto out;
    }
    id = sqlite3_column_int64(st, 0);
    created = sqlite3_column_int64(st, 1);
    stmt_done(st);
    st = NULL;
    rc = step1(c, ST_SM_RULES_CLEAR, "scopemap_put", NULL, NULL, err, "I", id);
    for (i = 0; !rc && i < sm->nrules; i++)
        rc = step1(c, ST_SM_RULE_ADD, "scopemap_put", NULL, NULL, err, "IIT", id, (int64_t)i, sm->rules[i]);
    if (rc) goto out;
    rc = tx_commit(c, "scopemap_put", err);
    if (rc) goto out;
    sm->id = id;
    sm->created_ms = created;
out:
    stmt_done(st);
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

/* Receives each scope map read_scopemaps assembles; may take its rules. Nonzero stops. */
typedef int (*scopemap_emit_fn)(struct berth_meta_scopemap *sm, void *ctx);

/*
 * Assembles scope maps from rows (registry id, map id, name, description,
 * created, rule) ordered by map, then rule position; a row with a NULL map
 * id (a registry without maps) is counted in *rows and skipped.
 */
static enum berth_rc read_scopemaps(struct conn *c, sqlite3_stmt *st, scopemap_emit_fn emit, void *ctx, int *rows,
                                    const char *op, struct berth_err *err)
{
    struct berth_meta_scopemap cur;
    enum berth_rc rc = BERTH_OK;
    size_t cap = 0;
    int have = 0, s;

    memset(&cur, 0, sizeof(cur));
    for (;;) {
        int64_t id;
        s = sqlite3_step(st);
        if (s == SQLITE_DONE) break;
        if (s != SQLITE_ROW) {
            rc = db_err(c, s, op, err);
            goto out;
        }
        (*rows)++;
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) continue;
        id = sqlite3_column_int64(st, 1);
        if (have && id != cur.id) {
            int stop = emit(&cur, ctx);
            berth_meta_scopemap_release(&cur);
            have = 0;
            if (stop) goto out;
        }
        if (!have) {
            memset(&cur, 0, sizeof(cur));
            cap = 0;
            have = 1;
            cur.reg = sqlite3_column_int64(st, 0);
            cur.id = id;
            cur.created_ms = sqlite3_column_int64(st, 4);
            if (column_copy(st, 2, cur.name, sizeof(cur.name)) != 0 ||
                column_copy(st, 3, cur.description, sizeof(cur.description)) != 0) {
                rc = damaged("scope map", err);
                goto out;
            }
        }
        if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
            const char *rule = (const char *)sqlite3_column_text(st, 5);
            if (!rule) {
                rc = db_err(c, SQLITE_NOMEM, op, err);
                goto out;
            }
            if (cur.nrules == cap) {
                cap = cap ? 2 * cap : 8;
                cur.rules = berth_xrealloc(cur.rules, cap * sizeof(*cur.rules));
            }
            cur.rules[cur.nrules++] = berth_xstrdup(rule);
        }
    }
    if (have) emit(&cur, ctx);
out:
    berth_meta_scopemap_release(&cur);
    return rc;
}

/* Moves the map into ctx (a struct berth_meta_scopemap *), rules and all. */
static int take_scopemap(struct berth_meta_scopemap *sm, void *ctx)
{
    struct berth_meta_scopemap *out = ctx;

    *out = *sm;
    sm->rules = NULL;
    sm->nrules = 0;
    return 1;
}

struct scopemap_list_ctx {
    berth_meta_scopemap_fn fn;
    void *ctx;
};

static int give_scopemap(struct berth_meta_scopemap *sm, void *ctx)
{
    struct scopemap_list_ctx *l = ctx;
    return l->fn ? l->fn(sm, l->ctx) : 0;
}

static enum berth_rc sq_scopemap_get(struct berth_meta *m, int64_t reg, const char *name,
                                     struct berth_meta_scopemap *out, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    if (!name || !out) return berth_err_set(err, BERTH_EINVAL, "scopemap_get: no name or output");
    memset(out, 0, sizeof(*out));
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_SM_GET, &st, "scopemap_get", err, "IT", reg, name);
    if (rc) goto out;
    rc = read_scopemaps(c, st, take_scopemap, out, &rows, "scopemap_get", err);
    if (!rc && rows == 0) rc = berth_err_set(err, BERTH_ENOENT, "scope map '%s' not found", name);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_scopemap_list(struct berth_meta *m, int64_t reg, berth_meta_scopemap_fn fn, void *ctx,
                                      struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct scopemap_list_ctx l = {fn, ctx};
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_SM_LIST, &st, "scopemap_list", err, "I", reg);
    if (rc) goto out;
    rc = read_scopemaps(c, st, give_scopemap, &l, &rows, "scopemap_list", err);
    if (!rc && rows == 0) rc = no_registry(reg, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* The check and the delete share a transaction, so no token can take the map up in between. */
static enum berth_rc sq_scopemap_delete(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    char token[BERTH_META_NAME_MAX + 1];
    int64_t id = 0;
    enum berth_rc rc;
    int found = 0;

    if (!name) return berth_err_set(err, BERTH_EINVAL, "scopemap_delete: no name");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "scopemap_delete", err);
    if (rc) goto out;
    rc = step1(c, ST_SM_ID, "scopemap_delete", &found, &id, err, "IT", reg, name);
    if (rc) goto out;
    if (!found) {
        rc = berth_err_set(err, BERTH_ENOENT, "scope map '%s' not found", name);
        goto out;
    }
    rc = first_row(c, ST_SM_USED_BY, &st, "scopemap_delete", err, "IT", reg, name);
    if (rc) goto out;
    if (st) {
        if (column_copy(st, 0, token, sizeof(token)) != 0) rc = damaged("token", err);
        else rc = berth_err_set(err, BERTH_EBUSY, "scope map '%s' is used by token '%s'", name, token);
        goto out;
    }
    rc = step1(c, ST_SM_DELETE, "scopemap_delete", NULL, NULL, err, "I", id);
    if (rc) goto out;
    rc = tx_commit(c, "scopemap_delete", err);
out:
    stmt_done(st);
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

/* ---- tokens ---- */

/* One statement: the registry check is part of the insert, an update keeps id and created_ms. */
static enum berth_rc sq_token_put(struct berth_meta *m, struct berth_meta_token *t, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t now = berth_now_ms();
    enum berth_rc rc;

    if (!t || !FITS(t->name) || !t->name[0] || !FITS(t->scopemap) || !t->scopemap[0] || !FITS(t->hash[0]) ||
        !FITS(t->hash[1]))
        return berth_err_set(err, BERTH_EINVAL, "token_put: no name or scope map, or a field does not fit");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = first_row(c, t->create_only ? ST_TOKEN_INSERT : ST_TOKEN_UPSERT, &st, "token_put", err, "ITTIITTIIII",
                   t->reg, t->name, t->scopemap, (int64_t)(t->enabled != 0), now, t->hash[0], t->hash[1],
                   t->set_ms[0], t->set_ms[1], t->expires_ms[0], t->expires_ms[1]);
    if (rc) goto out;
    if (!st) {
        rc = name_taken_or_no_registry(c, ST_TOKEN_ID, t->reg, t->name, "token", err);
        goto out;
    }
    t->id = sqlite3_column_int64(st, 0);
    t->created_ms = sqlite3_column_int64(st, 1);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_token_get(struct berth_meta *m, int64_t reg, const char *name, struct berth_meta_token *out,
                                  struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;

    if (!name) return berth_err_set(err, BERTH_EINVAL, "token_get: no name");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = first_row(c, ST_TOKEN_GET, &st, "token_get", err, "IT", reg, name);
    if (rc) goto out;
    if (!st) rc = berth_err_set(err, BERTH_ENOENT, "token '%s' not found", name);
    else if (out) rc = read_token(st, out, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_token_list(struct berth_meta *m, int64_t reg, berth_meta_token_fn fn, void *ctx,
                                   struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_token t;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s, rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_TOKEN_LIST, &st, "token_list", err, "I", reg);
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "token_list", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rows++;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue; /* the registry has no tokens */
        rc = read_token(st, &t, err);
        if (rc) goto out;
        if (fn && fn(&t, ctx)) break;
    }
    if (rows == 0) rc = no_registry(reg, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_token_delete(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!name) return berth_err_set(err, BERTH_EINVAL, "token_delete: no name");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_TOKEN_DELETE, "token_delete", NULL, NULL, err, "IT", reg, name);
    if (!rc && sqlite3_changes(c->db) == 0) rc = berth_err_set(err, BERTH_ENOENT, "token '%s' not found", name);
out:
    conn_release(ms, c);
    return rc;
}

/* ---- role assignments ---- */

/*
 * Inside assignment_create's transaction: the principal must exist, and so
 * must the registry a "/registries/<name>..." scope names, so that a registry
 * created later under that name does not inherit the assignment.
 */
static enum berth_rc assignment_targets(struct conn *c, const struct berth_meta_assignment *a,
                                        struct berth_err *err)
{
    static const char prefix[] = "/registries/";
    char name[BERTH_META_NAME_MAX + 1];
    const char *p, *end;
    enum berth_rc rc;
    int is_user = strcmp(a->principal_type, "user") == 0, found = 0;

    rc = step1(c, is_user ? ST_USER_EXISTS : ST_SP_EXISTS, "assignment_create", &found, NULL, err, "T",
               a->principal_id);
    if (rc) return rc;
    if (!found)
        return is_user ? berth_err_set(err, BERTH_ENOENT, "user '%s' not found", a->principal_id)
                       : no_sp(a->principal_id, err);
    if (strncmp(a->scope, prefix, sizeof(prefix) - 1) != 0) return BERTH_OK;
    p = a->scope + sizeof(prefix) - 1;
    end = strchr(p, '/');
    if (!end) end = p + strlen(p);
    if (end == p || (size_t)(end - p) >= sizeof(name))
        return berth_err_set(err, BERTH_EINVAL, "scope '%s' does not name a registry", a->scope);
    memcpy(name, p, (size_t)(end - p));
    name[end - p] = '\0';
    rc = step1(c, ST_REG_ID, "assignment_create", &found, NULL, err, "T", name);
    if (rc) return rc;
    if (!found) return berth_err_set(err, BERTH_ENOENT, "registry '%s' not found", name);
    return BERTH_OK;
}

static enum berth_rc sq_assignment_create(struct berth_meta *m, struct berth_meta_assignment *a,
                                          struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t now = berth_now_ms();
    char id[37];
    enum berth_rc rc;

    if (!a || !FITS(a->principal_type) || !FITS(a->principal_id) || !FITS(a->role) || !FITS(a->scope) ||
        !a->principal_id[0] || !a->role[0] || a->scope[0] != '/')
        return berth_err_set(err, BERTH_EINVAL, "assignment_create: incomplete assignment");
    if (strcmp(a->principal_type, "user") != 0 && strcmp(a->principal_type, "sp") != 0)
        return berth_err_set(err, BERTH_EINVAL, "assignment_create: principal type '%s' is not 'user' or 'sp'",
                             a->principal_type);
    berth_uuid(id);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "assignment_create", err);
    if (rc) goto out;
    rc = assignment_targets(c, a, err);
    if (rc) goto out;
    rc = step1(c, ST_ASSIGN_INSERT, "assignment_create", NULL, NULL, err, "TTTTTI", id, a->principal_type,
               a->principal_id, a->role, a->scope, now);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = berth_err_set(err, BERTH_EEXIST, "%s '%s' already has role '%s' on '%s'",
                           strcmp(a->principal_type, "sp") ? "user" : "service principal", a->principal_id,
                           a->role, a->scope);
        goto out;
    }
    rc = tx_commit(c, "assignment_create", err);
    if (rc) goto out;
    memcpy(a->id, id, sizeof(id));
    a->created_ms = now;
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_assignment_delete(struct berth_meta *m, const char *id, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!id) return berth_err_set(err, BERTH_EINVAL, "assignment_delete: no id");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_ASSIGN_DELETE, "assignment_delete", NULL, NULL, err, "T", id);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_ENOENT, "role assignment '%s' not found", id);
out:
    conn_release(ms, c);
    return rc;
}

/* In creation order (rowid: a new row always gets one above every existing row). */
static enum berth_rc sq_assignment_list(struct berth_meta *m, const char *principal_id, berth_meta_assignment_fn fn,
                                        void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct berth_meta_assignment a;
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    if (principal_id) rc = query(c, ST_ASSIGN_LIST_PRINCIPAL, &st, "assignment_list", err, "T", principal_id);
    else rc = query(c, ST_ASSIGN_LIST, &st, "assignment_list", err, "");
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "assignment_list", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        rc = read_assignment(st, &a, err);
        if (rc) goto out;
        if (fn && fn(&a, ctx)) break;
    }
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- repositories ---- */

static enum berth_rc repo_lookup(struct conn *c, int64_t reg, const char *repo, int *found, int64_t *id,
                                 struct berth_err *err)
{
    return step1(c, ST_REPO_ID, "look up repository", found, id, err, "IT", reg, repo);
}

/* Inside a write transaction: the repository's id, creating it if needed (BERTH_ENOENT without registry). */
static enum berth_rc repo_ensure(struct conn *c, int64_t reg, const char *repo, int64_t now, int64_t *id,
                                 struct berth_err *err)
{
    enum berth_rc rc;
    int found = 0;

    rc = repo_lookup(c, reg, repo, &found, id, err);
    if (rc || found) return rc;
    rc = step1(c, ST_REPO_INSERT, "create repository", NULL, NULL, err, "ITI", reg, repo, now);
    if (rc) return rc;
    if (sqlite3_changes(c->db) == 0) return no_registry(reg, err);
    *id = sqlite3_last_insert_rowid(c->db);
    return BERTH_OK;
}

static enum berth_rc sq_repo_exists(struct berth_meta *m, int64_t reg, const char *repo, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    int found = 0;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "repo_exists: no repository");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = repo_lookup(c, reg, repo, &found, NULL, err);
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

static enum berth_rc sq_repo_list(struct berth_meta *m, int64_t reg, const char *last, int64_t n,
                                  berth_meta_name_fn fn, void *ctx, int *more, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    /* names are never empty, so "" sorts before all of them */
    rc = query(c, ST_REPO_LIST, &st, "repo_list", err, "ITI", reg, last ? last : "", page_limit(n));
    if (rc) goto out;
    rc = page_names(c, st, 0, n, fn, ctx, more, &rows, "repo_list", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* ---- blobs ---- */

/*
 * The write transaction (BEGIN IMMEDIATE) is what no reap can interleave
 * with; the statements are in the order PostgreSQL needs for the same
 * guarantee from a row lock: the blob's row first, then the store, then the
 * link.
 */
static enum berth_rc sq_blob_claim(struct berth_meta *m, struct berth_meta_claim *cl, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t rid = 0, now = berth_now_ms(), size;
    int found = 0;
    enum berth_rc rc;

    if (!cl || !cl->repo || !cl->digest) return berth_err_set(err, BERTH_EINVAL, "blob_claim: no repository or digest");
    if (!cl->from && cl->size < 0)
        return berth_err_set(err, BERTH_EINVAL, "blob_claim: negative size %lld", (long long)cl->size);
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "blob_claim", err);
    if (rc) goto out;
    size = cl->size;
    if (cl->from) {
        rc = step1(c, ST_BLOB_LINKED, "blob_claim", &found, &size, err, "ITD", cl->reg, cl->from, cl->digest);
        if (rc) goto out;
        if (!found) {
            rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s unknown to repository '%s'", cl->digest->s,
                               cl->from);
            goto out;
        }
    }
    rc = step1(c, ST_BLOB_RECORD, "blob_claim", NULL, NULL, err, "DII", cl->digest, size, now);
    if (rc) goto out;
    if (cl->store) {
        rc = cl->store(cl->ctx, err);
        if (rc) goto out;
    }
    rc = repo_ensure(c, cl->reg, cl->repo, now, &rid, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_LINK, "blob_claim", NULL, NULL, err, "IDII", rid, cl->digest, size, now);
    if (rc) goto out;
    if (cl->upload) {
        rc = step1(c, ST_UPLOAD_DELETE, "blob_claim", NULL, NULL, err, "T", cl->upload);
        if (rc) goto out;
    }
    rc = tx_commit(c, "blob_claim", err);
    if (!rc && cl->from) cl->size = size;
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_blob_linked(struct berth_meta *m, int64_t reg, const char *repo,
                                    const struct berth_digest *d, int64_t *size, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    int64_t sz = 0;
    int found = 0;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_linked: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_LINKED, "blob_linked", &found, &sz, err, "ITD", reg, repo, d);
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
static enum berth_rc sq_blob_unlink(struct berth_meta *m, int64_t reg, const char *repo,
                                    const struct berth_digest *d, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "blob_unlink: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_UNLINK, "blob_unlink", NULL, NULL, err, "ITD", reg, repo, d);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s unknown to repository '%s'", d->s, repo);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_blob_repos(struct berth_meta *m, int64_t reg, const struct berth_digest *d,
                                   berth_meta_name_fn fn, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_repos: no digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_BLOB_REPOS, &st, "blob_repos", err, "ID", reg, d);
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

static enum berth_rc sq_blob_unused(struct berth_meta *m, const char *after, int64_t n, berth_meta_name_fn fn,
                                    void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0;

    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_BLOB_UNUSED, &st, "blob_unused", err, "TI", after ? after : "", page_limit(n));
    if (rc) goto out;
    rc = page_names(c, st, 0, n, fn, ctx, NULL, &rows, "blob_unused", err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

/* The mirror of sq_blob_claim: the same write lock, the row before the store. */
static enum berth_rc sq_blob_reap(struct berth_meta *m, const struct berth_digest *d, int dry_run,
                                  berth_meta_blob_fn remove, void *ctx, int *reaped, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t used = 0;
    enum berth_rc rc;

    *reaped = 0;
    if (!d) return berth_err_set(err, BERTH_EINVAL, "blob_reap: no digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "blob_reap", err);
    if (rc) goto out;
    rc = step1(c, ST_BLOB_IN_USE, "blob_reap", NULL, &used, err, "D", d);
    if (rc || used) goto out;
    rc = step1(c, ST_BLOB_FORGET, "blob_reap", NULL, NULL, err, "D", d);
    if (rc) goto out;
    if (dry_run) {
        *reaped = 1;
        goto out;
    }
    if (remove) {
        rc = remove(ctx, err);
        if (rc) goto out;
    }
    rc = tx_commit(c, "blob_reap", err);
    if (!rc) *reaped = 1;
out:
    tx_rollback(c);
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
    rc = repo_lookup(c, mf->reg, mf->repo, &have_repo, &rid, err);
    if (rc) goto out;
    rc = check_refs(c, mf, have_repo, rid, err);
    if (rc) goto out;
    if (!have_repo) {
        rc = repo_ensure(c, mf->reg, mf->repo, now, &rid, err);
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

static enum berth_rc sq_manifest_get(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_ref *ref,
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
    rc = query(c, ref->is_digest ? ST_GET_BY_DIGEST : ST_GET_BY_TAG, &st, "manifest_get", err, "ITTI", reg, repo,
               key, (int64_t)(payload != NULL));
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
static enum berth_rc sq_manifest_delete(struct berth_meta *m, int64_t reg, const char *repo,
                                        const struct berth_digest *d, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !d) return berth_err_set(err, BERTH_EINVAL, "manifest_delete: no repository or digest");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_MANIFEST_DELETE, "manifest_delete", NULL, NULL, err, "ITD", reg, repo, d);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "manifest %s unknown to repository '%s'", d->s, repo);
out:
    conn_release(ms, c);
    return rc;
}

/* The foreign keys (ON DELETE CASCADE) take the manifests, their references, the tags and the blob links. */
static enum berth_rc sq_repo_delete(struct berth_meta *m, int64_t reg, const char *repo, berth_meta_repo_item_fn fn,
                                    void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int s, stop = !fn;

    if (!repo) return berth_err_set(err, BERTH_EINVAL, "repo_delete: no repository");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "repo_delete", err);
    if (rc) goto out;
    rc = query(c, ST_REPO_ITEMS, &st, "repo_delete", err, "IT", reg, repo);
    while (!rc) {
        s = next_row(c, st, "repo_delete", &rc, err);
        if (s <= 0) break;
        if (!stop) stop = fn(sqlite3_column_int(st, 0), (const char *)sqlite3_column_text(st, 1), ctx);
    }
    stmt_done(st);
    st = NULL;
    if (!rc) rc = step1(c, ST_REPO_DELETE, "repo_delete", NULL, NULL, err, "IT", reg, repo);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
    if (!rc) rc = tx_commit(c, "repo_delete", err);
out:
    stmt_done(st);
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_tag_delete(struct berth_meta *m, int64_t reg, const char *repo, const char *tag,
                                   struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    if (!repo || !tag) return berth_err_set(err, BERTH_EINVAL, "tag_delete: no repository or tag");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_TAG_DELETE, "tag_delete", NULL, NULL, err, "ITT", reg, repo, tag);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "tag '%s' unknown in repository '%s'", tag, repo);
out:
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_tag_list(struct berth_meta *m, int64_t reg, const char *repo, const char *last, int64_t n,
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
    rc = query(c, ST_TAG_LIST, &st, "tag_list", err, "ITTI", reg, repo, last ? last : "", page_limit(n));
    if (rc) goto out;
    rc = page_names(c, st, 1, n, fn, ctx, more, &rows, "tag_list", err);
    if (!rc && rows == 0) rc = berth_err_set(err, BERTH_ENAMEUNKNOWN, "repository '%s' not known", repo);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_referrers(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
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
    rc = query(c, ST_REFERRERS, &st, "referrers", err, "ITDT", reg, repo, d, artifact_type);
    if (rc) goto out;
    for (;;) {
        struct berth_meta_referrer r;
        s = next_row(c, st, "referrers", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
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

static enum berth_rc sq_upload_put(struct berth_meta *m, const char *uuid, int64_t reg, const char *repo,
                                   const char *principal, int64_t created_ms, int64_t max, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int64_t open = 0;
    enum berth_rc rc;

    if (!uuid || !repo) return berth_err_set(err, BERTH_EINVAL, "upload_put: no uuid or repository");
    if (!principal) principal = "";
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "upload_put", err);
    if (rc) goto out;
    if (max > 0) {
        rc = step1(c, ST_UPLOAD_COUNT, "upload_put", NULL, &open, err, "ITT", reg, repo, principal);
        if (rc) goto out;
        if (open >= max) {
            rc = berth_err_set(err, BERTH_ETOOMANY, "%lld upload sessions are open on '%s' already, the most "
                               "one client may have: finish or cancel some, or wait until they expire",
                               (long long)open, repo);
            goto out;
        }
    }
    rc = step1(c, ST_UPLOAD_PUT, "upload_put", NULL, NULL, err, "TITTI", uuid, reg, repo, principal, created_ms);
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = no_registry(reg, err);
        goto out;
    }
    rc = tx_commit(c, "upload_put", err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_upload_get(struct berth_meta *m, const char *uuid, int64_t *reg, char *repo, size_t repolen,
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
    if (repo && column_copy(st, 1, repo, repolen) != 0) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "upload_get: repository name does not fit in %zu bytes", repolen);
        goto out;
    }
    if (reg) *reg = sqlite3_column_int64(st, 0);
    if (created_ms) *created_ms = sqlite3_column_int64(st, 2);
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

/* ---- network access ---- */

static enum berth_rc sq_network_get(struct berth_meta *m, int64_t reg, struct berth_meta_network *out,
                                    struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    sqlite3_stmt *st = NULL;
    enum berth_rc rc;
    int rows = 0, s;

    if (!out) return berth_err_set(err, BERTH_EINVAL, "network_get: no output");
    out->nrules = 0;
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = query(c, ST_NET_GET, &st, "network_get", err, "I", reg);
    if (rc) goto out;
    for (;;) {
        s = next_row(c, st, "network_get", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        if (rows++ == 0) {
            out->public_network = sqlite3_column_int(st, 0) != 0;
            out->default_allow = sqlite3_column_int(st, 1) != 0;
        }
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) continue; /* the registry has no rules */
        if (out->nrules == BERTH_META_IP_RULES_MAX ||
            column_copy(st, 2, out->rules[out->nrules], sizeof(out->rules[0])) != 0) {
            rc = damaged("ip rule", err);
            goto out;
        }
        out->nrules++;
    }
    if (rows == 0) rc = no_registry(reg, err);
out:
    stmt_done(st);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_network_put(struct berth_meta *m, int64_t reg, const struct berth_meta_network *in,
                                    struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;
    size_t i, j;

    if (!in || in->nrules > BERTH_META_IP_RULES_MAX)
        return berth_err_set(err, BERTH_EINVAL, "network_put: more than %d ip rules", BERTH_META_IP_RULES_MAX);
    for (i = 0; i < in->nrules; i++) {
        if (!FITS(in->rules[i]) || !in->rules[i][0])
            return berth_err_set(err, BERTH_EINVAL, "network_put: ip rule %zu is empty or does not fit", i);
        for (j = 0; j < i; j++)
            if (!strcmp(in->rules[i], in->rules[j]))
                return berth_err_set(err, BERTH_EINVAL, "network_put: ip rule '%s' is given twice", in->rules[i]);
    }
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "network_put", err);
    if (rc) goto out;
    rc = step1(c, ST_NET_SET, "network_put", NULL, NULL, err, "III", reg, (int64_t)(in->public_network != 0),
               (int64_t)(in->default_allow != 0));
    if (rc) goto out;
    if (sqlite3_changes(c->db) == 0) {
        rc = no_registry(reg, err);
        goto out;
    }
    rc = step1(c, ST_NET_RULES_CLEAR, "network_put", NULL, NULL, err, "I", reg);
    for (i = 0; !rc && i < in->nrules; i++)
        rc = step1(c, ST_NET_RULE_ADD, "network_put", NULL, NULL, err, "IIT", reg, (int64_t)i, in->rules[i]);
    if (rc) goto out;
    rc = tx_commit(c, "network_put", err);
out:
    if (rc) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_network_rule_add(struct berth_meta *m, int64_t reg, const char *rule, int *added,
                                         struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int row = 0;
    int64_t n = 0;
    enum berth_rc rc;

    *added = 0;
    if (!rule || !rule[0] || strlen(rule) >= BERTH_META_IP_RULE_LEN)
        return berth_err_set(err, BERTH_EINVAL, "network_rule_add: the rule is empty or does not fit");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "network_rule_add", err);
    if (!rc) rc = step1(c, ST_NET_REG_EXISTS, "network_rule_add", &row, NULL, err, "I", reg);
    if (!rc && !row) rc = no_registry(reg, err);
    if (!rc) rc = step1(c, ST_NET_RULE_HAS, "network_rule_add", &row, NULL, err, "IT", reg, rule);
    if (rc || row) goto out; /* there already: nothing to write */
    rc = step1(c, ST_NET_RULE_COUNT, "network_rule_add", NULL, &n, err, "I", reg);
    if (!rc && n >= BERTH_META_IP_RULES_MAX)
        rc = berth_err_set(err, BERTH_EBUSY, "the registry already has %d ip rules, the most allowed",
                           BERTH_META_IP_RULES_MAX);
    if (!rc) rc = step1(c, ST_NET_RULE_APPEND, "network_rule_add", NULL, NULL, err, "IT", reg, rule);
    if (!rc) rc = tx_commit(c, "network_rule_add", err);
    if (!rc) *added = 1;
out:
    if (c) tx_rollback(c); /* a no-op after the commit */
    conn_release(ms, c);
    return rc;
}

static enum berth_rc sq_network_rule_remove(struct berth_meta *m, int64_t reg, const char *rule, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    int row = 0;
    enum berth_rc rc;

    if (!rule) return berth_err_set(err, BERTH_EINVAL, "network_rule_remove: no rule");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "network_rule_remove", err);
    if (!rc) rc = step1(c, ST_NET_REG_EXISTS, "network_rule_remove", &row, NULL, err, "I", reg);
    if (!rc && !row) rc = no_registry(reg, err);
    if (!rc) rc = step1(c, ST_NET_RULE_DELETE, "network_rule_remove", NULL, NULL, err, "IT", reg, rule);
    if (!rc && sqlite3_changes(c->db) == 0)
        rc = berth_err_set(err, BERTH_ENOENT, "ip rule '%s' not found", rule);
    if (!rc) rc = tx_commit(c, "network_rule_remove", err);
out:
    if (c) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

/* ---- event logs ---- */

static enum berth_rc sq_events_insert(struct berth_meta *m, struct berth_meta_event *const *e, size_t n,
                                      struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    size_t i;
    enum berth_rc rc;

    if (!n) return BERTH_OK;
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = tx_begin(c, "events_insert", err);
    if (rc) goto out;
    for (i = 0; i < n && !rc; i++) {
        const struct berth_meta_event *v = e[i];
        rc = step1(c, ST_EVENT_INSERT, "events_insert", NULL, NULL, err, "IIITTTTTTTTITTITTTTTIT", (int64_t)v->log,
                   v->time_ms, v->reg, v->registry, v->login_server, v->operation, v->identity_type, v->identity,
                   v->identity_id, v->ip, v->user_agent, (int64_t)v->status, v->reason, v->request_id, v->duration_us,
                   v->repository, v->tag, v->digest, v->media_type, v->artifact_type, v->size, v->jti);
        if (!rc) e[i]->id = sqlite3_last_insert_rowid(c->db);
    }
    if (!rc) rc = tx_commit(c, "events_insert", err);
out:
    if (rc && c) tx_rollback(c);
    conn_release(ms, c);
    return rc;
}

#define EVENT_COLS "id, log, time_ms, registry_id, registry, login_server, operation, identity_type, identity," \
                   " identity_id, ip, user_agent, status, reason, request_id, duration_us, repository, tag,"  \
                   " digest, media_type, artifact_type, size, jti"

static void read_event(sqlite3_stmt *st, struct berth_meta_event *e)
{
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(st, 0);
    e->log = sqlite3_column_int(st, 1);
    e->time_ms = sqlite3_column_int64(st, 2);
    e->reg = sqlite3_column_int64(st, 3);
    column_copy(st, 4, e->registry, sizeof(e->registry));
    column_copy(st, 5, e->login_server, sizeof(e->login_server));
    column_copy(st, 6, e->operation, sizeof(e->operation));
    column_copy(st, 7, e->identity_type, sizeof(e->identity_type));
    column_copy(st, 8, e->identity, sizeof(e->identity));
    column_copy(st, 9, e->identity_id, sizeof(e->identity_id));
    column_copy(st, 10, e->ip, sizeof(e->ip));
    column_copy(st, 11, e->user_agent, sizeof(e->user_agent));
    e->status = sqlite3_column_int(st, 12);
    column_copy(st, 13, e->reason, sizeof(e->reason));
    column_copy(st, 14, e->request_id, sizeof(e->request_id));
    e->duration_us = sqlite3_column_int64(st, 15);
    column_copy(st, 16, e->repository, sizeof(e->repository));
    column_copy(st, 17, e->tag, sizeof(e->tag));
    column_copy(st, 18, e->digest, sizeof(e->digest));
    column_copy(st, 19, e->media_type, sizeof(e->media_type));
    column_copy(st, 20, e->artifact_type, sizeof(e->artifact_type));
    e->size = sqlite3_column_int64(st, 21);
    column_copy(st, 22, e->jti, sizeof(e->jti));
}

/* The query is built from fixed text only; every value is bound. */
static enum berth_rc sq_events_query(struct berth_meta *m, const struct berth_meta_event_filter *f,
                                     berth_meta_event_fn fn, void *ctx, struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    struct berth_meta_event *e = NULL;
    sqlite3_stmt *st = NULL;
    struct berth_buf sql = BERTH_BUF_INIT(0);
    int s, k = 1;
    enum berth_rc rc;

    berth_buf_puts(&sql, f->all_registries ? "SELECT " EVENT_COLS " FROM events WHERE 1"
                                           : "SELECT " EVENT_COLS " FROM events WHERE registry_id = ?");
    if (f->log >= 0) berth_buf_puts(&sql, " AND log = ?");
    if (f->since_ms) berth_buf_puts(&sql, " AND time_ms >= ?");
    if (f->until_ms) berth_buf_puts(&sql, " AND time_ms < ?");
    if (f->failed) berth_buf_puts(&sql, " AND status >= 400");
    if (f->identity) berth_buf_puts(&sql, " AND (identity = ? OR identity_id = ?)");
    if (f->ip) berth_buf_puts(&sql, " AND ip = ?");
    if (f->reason) berth_buf_puts(&sql, " AND reason = ?");
    if (f->not_reason) berth_buf_puts(&sql, " AND reason <> ?");
    if (f->repository) berth_buf_puts(&sql, " AND repository = ?");
    if (f->operation) berth_buf_puts(&sql, " AND operation = ?");
    if (f->before_id) berth_buf_puts(&sql, " AND id < ?");
    if (f->after_id) berth_buf_puts(&sql, " AND id > ?");
    berth_buf_puts(&sql, f->oldest_first ? " ORDER BY id ASC LIMIT ?" : " ORDER BY id DESC LIMIT ?");
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    s = sqlite3_prepare_v2(c->db, berth_buf_str(&sql), -1, &st, NULL);
    if (s != SQLITE_OK) {
        rc = db_err(c, s, "events_query", err);
        goto out;
    }
    if (!f->all_registries) sqlite3_bind_int64(st, k++, f->reg);
    if (f->log >= 0) sqlite3_bind_int64(st, k++, f->log);
    if (f->since_ms) sqlite3_bind_int64(st, k++, f->since_ms);
    if (f->until_ms) sqlite3_bind_int64(st, k++, f->until_ms);
    if (f->identity) {
        sqlite3_bind_text(st, k++, f->identity, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, k++, f->identity, -1, SQLITE_STATIC);
    }
    if (f->ip) sqlite3_bind_text(st, k++, f->ip, -1, SQLITE_STATIC);
    if (f->reason) sqlite3_bind_text(st, k++, f->reason, -1, SQLITE_STATIC);
    if (f->not_reason) sqlite3_bind_text(st, k++, f->not_reason, -1, SQLITE_STATIC);
    if (f->repository) sqlite3_bind_text(st, k++, f->repository, -1, SQLITE_STATIC);
    if (f->operation) sqlite3_bind_text(st, k++, f->operation, -1, SQLITE_STATIC);
    if (f->before_id) sqlite3_bind_int64(st, k++, f->before_id);
    if (f->after_id) sqlite3_bind_int64(st, k++, f->after_id);
    sqlite3_bind_int64(st, k++, f->limit > 0 ? f->limit : 100);
    e = berth_xmalloc(sizeof(*e));
    for (;;) {
        s = next_row(c, st, "events_query", &rc, err);
        if (s < 0) goto out;
        if (s == 0) break;
        read_event(st, e);
        if (fn(e, ctx)) break;
    }
out:
    sqlite3_finalize(st);
    conn_release(ms, c);
    free(e);
    berth_buf_release(&sql);
    return rc;
}

static enum berth_rc sq_events_prune(struct berth_meta *m, int64_t before_ms, int64_t max_rows, int64_t *deleted,
                                     struct berth_err *err)
{
    struct meta_sqlite *ms = meta_of(m);
    struct conn *c = NULL;
    enum berth_rc rc;

    *deleted = 0;
    rc = conn_acquire(ms, &c, err);
    if (rc) goto out;
    rc = step1(c, ST_EVENT_PRUNE_AGE, "events_prune", NULL, NULL, err, "I", before_ms);
    if (rc) goto out;
    *deleted += sqlite3_changes(c->db);
    if (max_rows > 0) {
        rc = step1(c, ST_EVENT_PRUNE_ROWS, "events_prune", NULL, NULL, err, "I", max_rows);
        if (rc) goto out;
        *deleted += sqlite3_changes(c->db);
    }
out:
    conn_release(ms, c);
    return rc;
}

static const struct berth_meta_reg_ops sqlite_reg = {
    .tenant_id = sq_tenant_id,
    .registry_create = sq_registry_create,
    .registry_get = sq_registry_get,
    .registry_list = sq_registry_list,
    .registry_update = sq_registry_update,
    .registry_delete = sq_registry_delete,
    .network_get = sq_network_get,
    .network_put = sq_network_put,
    .network_rule_add = sq_network_rule_add,
    .network_rule_remove = sq_network_rule_remove,
};

static const struct berth_meta_dir_ops sqlite_dir = {
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_list = sq_user_list,
    .user_set_password = sq_user_set_password,
    .user_delete = sq_user_delete,
    .sp_create = sq_sp_create,
    .sp_get = sq_sp_get,
    .sp_list = sq_sp_list,
    .sp_delete = sq_sp_delete,
    .sp_secret_add = sq_sp_secret_add,
    .sp_secret_remove = sq_sp_secret_remove,
    .sp_secrets = sq_sp_secrets,
    .scopemap_put = sq_scopemap_put,
    .scopemap_get = sq_scopemap_get,
    .scopemap_list = sq_scopemap_list,
    .scopemap_delete = sq_scopemap_delete,
    .token_put = sq_token_put,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_delete = sq_token_delete,
    .assignment_create = sq_assignment_create,
    .assignment_delete = sq_assignment_delete,
    .assignment_list = sq_assignment_list,
};

static const struct berth_meta_content_ops sqlite_content = {
    .repo_exists = sq_repo_exists,
    .repo_list = sq_repo_list,
    .blob_claim = sq_blob_claim,
    .blob_linked = sq_blob_linked,
    .blob_unlink = sq_blob_unlink,
    .blob_repos = sq_blob_repos,
    .blob_in_use = sq_blob_in_use,
    .blob_unused = sq_blob_unused,
    .blob_reap = sq_blob_reap,
    .manifest_put = sq_manifest_put,
    .manifest_get = sq_manifest_get,
    .manifest_delete = sq_manifest_delete,
    .repo_delete = sq_repo_delete,
    .tag_delete = sq_tag_delete,
    .tag_list = sq_tag_list,
    .referrers = sq_referrers,
    .gc = sq_gc,
};

static const struct berth_meta_upload_ops sqlite_uploads = {
    .upload_put = sq_upload_put,
    .upload_get = sq_upload_get,
    .upload_delete = sq_upload_delete,
    .upload_list = sq_upload_list,
};

static const struct berth_meta_event_ops sqlite_events = {
    .events_insert = sq_events_insert,
    .events_query = sq_events_query,
    .events_prune = sq_events_prune,
};

const struct berth_meta_ops berth_meta_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .ping = sq_ping,
    .inspect = sq_inspect,
};
