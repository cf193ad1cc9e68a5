/*
 * meta_sql.h - the SQL layer of the meta module, private to src/meta: the
 * statement table, the vtable an SQL engine implements (struct
 * berth_sql_driver), the dialect table, and the helpers the ops are written
 * with. meta_registry.c, meta_dir.c, meta_content.c, meta_uploads.c,
 * meta_events.c and meta_auth.c fill the tables of meta.h with this header
 * only; a driver (meta_sqlite.c, meta_pg.c) supplies connections and
 * statements.
 * Short SQL_ names are module-private, like SQLite's names in its *Int.h.
 * docs/internals/meta.md gives the contract a driver must keep.
 */
#ifndef BERTH_META_SQL_H
#define BERTH_META_SQL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "meta.h"

/*
 * Every statement the ops run, in portable SQL: `?NNN` (or `?`, numbered
 * like SQLite does: one above the highest so far) placeholders, RETURNING,
 * ON CONFLICT ... DO UPDATE / DO NOTHING, and {NAME} where the engines
 * differ (the dialect table fills it in). Hot paths (GET_BY_TAG,
 * GET_BY_DIGEST, BLOB_LINKED, UPLOAD_GET) are one indexed lookup each: the
 * repository by its unique (registry, name), then the row by its key.
 */
#define BERTH_SQL_REGISTRY_COLS "id, name, created_ms, admin_enabled, anonymous_pull, refresh_ttl_s, access_ttl_s," \
                                " admin_hash1, admin_hash2, admin_set1_ms, admin_set2_ms"
#define BERTH_SQL_USER_COLS "id, name, hash, created_ms, password_set_ms"
#define BERTH_SQL_TOKEN_COLS "t.id, t.registry_id, t.name, t.scopemap, t.enabled, t.created_ms, t.hash1, t.hash2," \
                             " t.set1_ms, t.set2_ms, t.expires1_ms, t.expires2_ms"
#define BERTH_SQL_ASSIGNMENT_COLS "id, principal_type, principal_id, role, scope, created_ms"
#define BERTH_SQL_EVENT_COLS "id, log, time_ms, registry_id, registry, login_server, operation, identity_type," \
                             " identity, identity_id, ip, user_agent, status, reason, request_id, duration_us,"  \
                             " repository, tag, digest, media_type, artifact_type, size, jti"

/* an entry queued again keeps the earlier of its two review times */
#define GC_QUEUE_KEEP_EARLIER                                                                             \
    " ON CONFLICT (kind, digest, repo_id) DO UPDATE SET review_ms = CASE"                                \
    " WHEN excluded.review_ms < gc_review.review_ms THEN excluded.review_ms ELSE gc_review.review_ms END"

#define BERTH_META_STMTS(X)                                                                              \
    X(EVENT_INSERT, "INSERT INTO events (log, time_ms, registry_id, registry, login_server, operation,"       \
                    " identity_type, identity, identity_id, ip, user_agent, status, reason, request_id,"      \
                    " duration_us, repository, tag, digest, media_type, artifact_type, size, jti)"           \
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id")                    \
    X(EVENT_PRUNE_AGE, "DELETE FROM events WHERE time_ms < ?")                                           \
    X(EVENT_PRUNE_ROWS, "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC"         \
                        " LIMIT 1 OFFSET ?)")                                                            \
    X(PING, "SELECT count(*) FROM (SELECT 1 FROM repositories LIMIT 1) AS p")                            \
    X(TENANT_GET, "SELECT id FROM tenant WHERE one = 1")                                                 \
    X(TENANT_INIT, "INSERT INTO tenant (one, id) VALUES (1, ?1) ON CONFLICT (one) DO NOTHING")           \
    X(REG_INSERT, "INSERT INTO registries (name, created_ms, admin_enabled, anonymous_pull, refresh_ttl_s," \
                  " access_ttl_s, admin_hash1, admin_hash2, admin_set1_ms, admin_set2_ms)"               \
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (name) DO NOTHING"      \
                  " RETURNING id")                                                                       \
    X(REG_BY_NAME, "SELECT " BERTH_SQL_REGISTRY_COLS " FROM registries WHERE name = ?1")                 \
    X(REG_BY_ID, "SELECT " BERTH_SQL_REGISTRY_COLS " FROM registries WHERE id = ?1")                     \
    X(REG_LIST, "SELECT " BERTH_SQL_REGISTRY_COLS " FROM registries ORDER BY name")                      \
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
    X(USER_BY_NAME, "SELECT " BERTH_SQL_USER_COLS " FROM users WHERE name = ?1")                         \
    X(USER_BY_ID, "SELECT " BERTH_SQL_USER_COLS " FROM users WHERE id = ?1")                             \
    X(USER_LIST, "SELECT " BERTH_SQL_USER_COLS " FROM users ORDER BY name")                              \
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
                   " ORDER BY s.created_ms DESC, s.{ROWID} DESC")                                        \
    X(ASSIGN_DELETE_PRINCIPAL, "DELETE FROM role_assignments"                                            \
                               " WHERE principal_type = ?1 AND principal_id = ?2")                       \
    X(ASSIGN_INSERT, "INSERT INTO role_assignments"                                                      \
                     " (id, principal_type, principal_id, role, scope, created_ms)"                      \
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"                                                  \
                     " ON CONFLICT (principal_type, principal_id, role, scope) DO NOTHING")              \
    X(ASSIGN_DELETE, "DELETE FROM role_assignments WHERE id = ?1")                                       \
    X(ASSIGN_LIST, "SELECT " BERTH_SQL_ASSIGNMENT_COLS " FROM role_assignments ORDER BY {ROWID}")        \
    X(ASSIGN_LIST_PRINCIPAL, "SELECT " BERTH_SQL_ASSIGNMENT_COLS " FROM role_assignments"                \
                             " WHERE principal_id = ?1 ORDER BY {ROWID}")                                \
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
    X(TOKEN_GET, "SELECT " BERTH_SQL_TOKEN_COLS " FROM tokens t WHERE t.registry_id = ?1 AND t.name = ?2") \
    /* one statement: no row means no registry, a NULL token id means no tokens */                       \
    X(TOKEN_LIST, "SELECT " BERTH_SQL_TOKEN_COLS ", r.id FROM registries r"                              \
                  " LEFT JOIN tokens t ON t.registry_id = r.id WHERE r.id = ?1 ORDER BY t.name")         \
    X(TOKEN_DELETE, "DELETE FROM tokens WHERE registry_id = ?1 AND name = ?2")                           \
    X(REPO_ID, "SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2")                       \
    /* no row back means no such registry */                                                             \
    X(REPO_INSERT, "INSERT INTO repositories (registry_id, name, created_ms)"                            \
                   " SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?1) RETURNING id") \
    X(REPO_LIST, "SELECT name FROM repositories WHERE registry_id = ?1 AND name > ?2 AND list_enabled = 1"  \
                 " ORDER BY name LIMIT ?3")                                                              \
    X(BLOB_LINK, "INSERT INTO repo_blobs (repo_id, digest, size, created_ms) VALUES (?1, ?2, ?3, ?4)"    \
                 " ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size,"                    \
                 " created_ms = excluded.created_ms")                                                    \
    /* a claim takes the blob's row first: on PostgreSQL this is the row lock gc's reap waits on */     \
    X(BLOB_RECORD, "INSERT INTO blobs (digest, size, created_ms) VALUES (?1, ?2, ?3)"                    \
                   " ON CONFLICT (digest) DO UPDATE SET digest = excluded.digest")                       \
    X(BLOB_FORGET, "DELETE FROM blobs WHERE digest = ?1")                                                \
    X(BLOB_LINKED, "SELECT b.size FROM repositories r JOIN repo_blobs b ON b.repo_id = r.id"             \
                   " WHERE r.registry_id = ?1 AND r.name = ?2 AND b.digest = ?3")                        \
    /* a blob read: its size, and the repository's readEnabled */                                      \
    X(BLOB_READABLE, "SELECT b.size, r.read_enabled FROM repositories r JOIN repo_blobs b ON b.repo_id = r.id" \
                     " WHERE r.registry_id = ?1 AND r.name = ?2 AND b.digest = ?3")                      \
    /* the fixed join keeps the walk on the digest's few links, not on every repository of the registry */ \
    X(BLOB_REPOS, "SELECT r.name FROM repo_blobs b {FIXED_JOIN} repositories r ON r.id = b.repo_id"      \
                  " WHERE b.digest = ?2 AND r.registry_id = ?1 ORDER BY r.name")                         \
    X(BLOB_IN_USE, "SELECT CASE WHEN EXISTS (SELECT 1 FROM repo_blobs WHERE digest = ?1)"                \
                   " OR EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = ?1)"                         \
                   " OR EXISTS (SELECT 1 FROM manifest_children WHERE digest = ?1) THEN 1 ELSE 0 END")   \
    X(REPO_HAS_BLOB, "SELECT 1 FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2")                      \
    X(REPO_HAS_MANIFEST, "SELECT 1 FROM manifests WHERE repo_id = ?1 AND digest = ?2")                   \
    X(MANIFEST_UPSERT, "INSERT INTO manifests (repo_id, digest, media_type, payload, size,"              \
                       " artifact_type, annotations, subject, created_ms, architecture, os)"             \
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"                          \
                       " ON CONFLICT (repo_id, digest) DO UPDATE SET media_type = excluded.media_type,"  \
                       " artifact_type = excluded.artifact_type, annotations = excluded.annotations,"    \
                       " subject = excluded.subject, created_ms = excluded.created_ms,"                  \
                       " architecture = excluded.architecture, os = excluded.os"                   \
                       " RETURNING id")                                                                  \
    X(MBLOBS_CLEAR, "DELETE FROM manifest_blobs WHERE manifest_id = ?1")                                 \
    X(MBLOBS_ADD, "INSERT INTO manifest_blobs (manifest_id, repo_id, digest) VALUES (?1, ?2, ?3)"        \
                  " ON CONFLICT DO NOTHING")                                                             \
    X(MCHILDREN_CLEAR, "DELETE FROM manifest_children WHERE manifest_id = ?1")                           \
    X(MCHILDREN_ADD, "INSERT INTO manifest_children (manifest_id, repo_id, digest) VALUES (?1, ?2, ?3)"  \
                     " ON CONFLICT DO NOTHING")                                                          \
    X(TAG_PUT, "INSERT INTO tags (repo_id, name, manifest_id, updated_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?4)" \
               " ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id = excluded.manifest_id,"          \
               " updated_ms = excluded.updated_ms")                                                      \
    /* ?4 = 0 leaves the payload unread (HEAD) */                                                        \
    X(GET_BY_TAG, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?4 <> 0 THEN m.payload END,"         \
                  " r.read_enabled, t.read_enabled, m.read_enabled"                                      \
                  " FROM repositories r LEFT JOIN tags t ON t.repo_id = r.id AND t.name = ?3"            \
                  " LEFT JOIN manifests m ON m.id = t.manifest_id WHERE r.registry_id = ?1 AND r.name = ?2") \
    X(GET_BY_DIGEST, "SELECT m.digest, m.media_type, m.size, CASE WHEN ?4 <> 0 THEN m.payload END,"      \
                     " r.read_enabled, NULL, m.read_enabled"                                             \
                     " FROM repositories r LEFT JOIN manifests m ON m.repo_id = r.id AND m.digest = ?3"  \
                     " WHERE r.registry_id = ?1 AND r.name = ?2")                                        \
    X(MANIFEST_ID, "SELECT id FROM manifests WHERE repo_id = ?1 AND digest = ?2")                        \
    X(REPO_ITEMS, "SELECT 0, m.digest FROM repositories r JOIN manifests m ON m.repo_id = r.id"          \
                  " WHERE r.registry_id = ?1 AND r.name = ?2"                                            \
                  " UNION ALL SELECT 1, t.name FROM repositories r JOIN tags t ON t.repo_id = r.id"     \
                  " WHERE r.registry_id = ?1 AND r.name = ?2 ORDER BY 1, 2")                             \
    X(REPO_DELETE, "DELETE FROM repositories WHERE registry_id = ?1 AND name = ?2")                      \
    X(TAG_DELETE, "DELETE FROM tags WHERE repo_id = (SELECT id FROM repositories"                        \
                  " WHERE registry_id = ?1 AND name = ?2) AND name = ?3")                                \
    /* one statement: no row means no repository, a NULL tag means no tags after last */                 \
    /* the repository's row (a NULL tag: it exists), then one range of its (repo_id, name) key */      \
    X(TAG_LIST, "SELECT id, NULL FROM repositories WHERE registry_id = ?1 AND name = ?2"                 \
                " UNION ALL SELECT * FROM (SELECT t.repo_id, t.name FROM tags t WHERE t.repo_id ="       \
                " (SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2) AND t.name > ?3"    \
                " AND t.list_enabled = 1 ORDER BY t.name LIMIT ?4) AS p ORDER BY 2")                                            \
    /* ACR's attributes (/acr/v1): a repository's times and counts; no row means no repository */      \
    X(REPO_INFO, "SELECT r.id, r.created_ms, (SELECT count(*) FROM manifests WHERE repo_id = r.id),"      \
                 " (SELECT count(*) FROM tags WHERE repo_id = r.id),"                                    \
                 " (SELECT max(created_ms) FROM manifests WHERE repo_id = r.id),"                        \
                 " (SELECT max(updated_ms) FROM tags WHERE repo_id = r.id), r.write_enabled, r.delete_enabled,"   \
                 " r.read_enabled, r.list_enabled" \
                 " FROM repositories r WHERE r.registry_id = ?1 AND r.name = ?2")                        \
    /* tags with their manifest and times: one (?2 the name), by name after ?3, or by time */          \
    X(TAG_INFO, "SELECT t.name, m.digest, t.created_ms, t.updated_ms,"                                    \
                " t.write_enabled, t.delete_enabled, t.read_enabled, t.list_enabled FROM tags t"                                          \
                " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1 AND t.name = ?2")        \
    X(TAG_INFOS, "SELECT t.name, m.digest, t.created_ms, t.updated_ms,"                                   \
                 " t.write_enabled, t.delete_enabled, t.read_enabled, t.list_enabled FROM tags t"                                         \
                 " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1 AND t.name > ?2 AND t.list_enabled = 1"        \
                 " ORDER BY t.name LIMIT ?3")                                                            \
    X(TAG_INFOS_NEW, "SELECT t.name, m.digest, t.created_ms, t.updated_ms,"                               \
                     " t.write_enabled, t.delete_enabled, t.read_enabled, t.list_enabled FROM tags t"                                     \
                     " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1"                    \
                     " AND (t.updated_ms, t.name) < (?2, ?3) AND t.list_enabled = 1 ORDER BY t.updated_ms DESC, t.name DESC LIMIT ?4") \
    X(TAG_INFOS_OLD, "SELECT t.name, m.digest, t.created_ms, t.updated_ms,"                               \
                     " t.write_enabled, t.delete_enabled, t.read_enabled, t.list_enabled FROM tags t"                                     \
                     " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1"                    \
                     " AND (t.updated_ms, t.name) > (?2, ?3) AND t.list_enabled = 1 ORDER BY t.updated_ms, t.name LIMIT ?4")    \
    /* manifests with their size, the bytes of what they reference, and times: one, or by digest */    \
    X(MANIFEST_INFO, "SELECT m.id, m.digest, m.media_type, m.size, m.created_ms,"                         \
                     " m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled,"                                                \
                     " (SELECT sum(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest"  \
                     " WHERE mb.manifest_id = m.id), m.architecture, m.os FROM manifests m WHERE m.repo_id = ?1 AND m.digest = ?2") \
    X(MANIFEST_INFOS, "SELECT m.id, m.digest, m.media_type, m.size, m.created_ms,"                        \
                      " m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled,"                                               \
                      " (SELECT sum(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest" \
                      " WHERE mb.manifest_id = m.id), m.architecture, m.os FROM manifests m WHERE m.repo_id = ?1 AND m.digest > ?2 AND m.list_enabled = 1" \
                      " ORDER BY m.digest LIMIT ?3")                                                     \
    X(MANIFEST_INFOS_NEW, "SELECT m.id, m.digest, m.media_type, m.size, m.created_ms,"                    \
                          " m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled,"                                           \
                          " (SELECT sum(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest" \
                          " WHERE mb.manifest_id = m.id), m.architecture, m.os FROM manifests m WHERE m.repo_id = ?1"          \
                          " AND (m.created_ms, m.digest) < (?2, ?3) AND m.list_enabled = 1 ORDER BY m.created_ms"                \
                          " DESC, m.digest DESC LIMIT ?4")                                                \
    X(MANIFEST_INFOS_OLD, "SELECT m.id, m.digest, m.media_type, m.size, m.created_ms,"                    \
                          " m.write_enabled, m.delete_enabled, m.read_enabled, m.list_enabled,"                                           \
                          " (SELECT sum(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest" \
                          " WHERE mb.manifest_id = m.id), m.architecture, m.os FROM manifests m WHERE m.repo_id = ?1"          \
                          " AND (m.created_ms, m.digest) > (?2, ?3) AND m.list_enabled = 1 ORDER BY m.created_ms, m.digest LIMIT ?4") \
    /* ACR's locks: set (a NULL leaves a lock as it is), and read where they refuse */                \
    X(LOCKS_SET_REPO, "UPDATE repositories SET write_enabled = coalesce(?3, write_enabled),"              \
                      " delete_enabled = coalesce(?4, delete_enabled), read_enabled = coalesce(?5, read_enabled)," \
                      " list_enabled = coalesce(?6, list_enabled) WHERE registry_id = ?1 AND name = ?2") \
    X(LOCKS_SET_TAG, "UPDATE tags SET write_enabled = coalesce(?3, write_enabled),"                       \
                     " delete_enabled = coalesce(?4, delete_enabled), read_enabled = coalesce(?5, read_enabled)," \
                     " list_enabled = coalesce(?6, list_enabled) WHERE repo_id = ?1 AND name = ?2")      \
    X(LOCKS_SET_MANIFEST, "UPDATE manifests SET write_enabled = coalesce(?3, write_enabled),"             \
                          " delete_enabled = coalesce(?4, delete_enabled), read_enabled = coalesce(?5, read_enabled)," \
                          " list_enabled = coalesce(?6, list_enabled) WHERE repo_id = ?1 AND digest = ?2") \
    X(LOCKS_REPO, "SELECT write_enabled, delete_enabled, NULL FROM repositories WHERE id = ?1")               \
    X(LOCKS_TAG, "SELECT t.write_enabled, t.delete_enabled, m.digest FROM tags t"                          \
                 " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1 AND t.name = ?2")       \
    X(LOCKS_MANIFEST, "SELECT write_enabled, delete_enabled, NULL FROM manifests WHERE repo_id = ?1 AND digest = ?2") \
    /* a tag that may not be deleted: of manifest ?1, or any of repository ?2 (then also a manifest) */ \
    X(LOCKED_TAG_OF, "SELECT name FROM tags WHERE manifest_id = ?1 AND delete_enabled = 0 ORDER BY name LIMIT 1") \
    X(LOCKED_IN_REPO, "SELECT name FROM tags WHERE repo_id = ?1 AND delete_enabled = 0"                   \
                      " UNION ALL SELECT digest FROM manifests WHERE repo_id = ?1 AND delete_enabled = 0 LIMIT 1") \
    X(MANIFEST_TAGS, "SELECT name FROM tags WHERE manifest_id = ?1 ORDER BY name")                        \
    /* a registry's usage: bytes (each blob its repositories link or reference once, and the */      \
    /* manifests), repositories, manifests, tags, scope maps, tokens */                                \
    X(REG_USAGE, "SELECT (SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.digest IN ("              \
                 "SELECT rb.digest FROM repositories r JOIN repo_blobs rb ON rb.repo_id = r.id"          \
                 " WHERE r.registry_id = ?1 UNION SELECT mb.digest FROM repositories r"                  \
                 " JOIN manifests m ON m.repo_id = r.id JOIN manifest_blobs mb ON mb.manifest_id = m.id" \
                 " WHERE r.registry_id = ?1)),"                                                          \
                 " (SELECT coalesce(sum(m.size), 0) FROM repositories r JOIN manifests m ON m.repo_id = r.id" \
                 " WHERE r.registry_id = ?1),"                                                           \
                 " (SELECT count(*) FROM repositories WHERE registry_id = ?1),"                          \
                 " (SELECT count(*) FROM repositories r JOIN manifests m ON m.repo_id = r.id"            \
                 " WHERE r.registry_id = ?1),"                                                           \
                 " (SELECT count(*) FROM repositories r JOIN tags t ON t.repo_id = r.id WHERE r.registry_id = ?1)," \
                 " (SELECT count(*) FROM scope_maps WHERE registry_id = ?1),"                            \
                 " (SELECT count(*) FROM tokens WHERE registry_id = ?1)")                                \
    X(REFERRERS, "SELECT digest, media_type, size, artifact_type, annotations FROM manifests"            \
                 " WHERE repo_id = (SELECT id FROM repositories WHERE registry_id = ?1 AND name = ?2)"   \
                 " AND subject = ?3 AND (CAST(?4 AS TEXT) IS NULL OR artifact_type = ?4) ORDER BY digest") \
    /* no row written means no such registry */                                                          \
    X(UPLOAD_PUT, "INSERT INTO uploads (uuid, registry_id, repo, principal, created_ms, hash)"           \
                  " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM registries WHERE id = ?2)" \
                  " ON CONFLICT (uuid) DO UPDATE SET registry_id = excluded.registry_id,"                \
                  " repo = excluded.repo, principal = excluded.principal, created_ms = excluded.created_ms," \
                  " size = 0, hash = excluded.hash, store_ext = NULL")                                   \
    X(UPLOAD_COUNT, "SELECT count(*) FROM uploads WHERE registry_id = ?1 AND repo = ?2 AND principal = ?3") \
    X(UPLOAD_GET, "SELECT registry_id, repo, created_ms FROM uploads WHERE uuid = ?1")                   \
    X(UPLOAD_LOAD, "SELECT registry_id, repo, created_ms, size, hash, store_ext FROM uploads"             \
                   " WHERE uuid = ?1")                                                                   \
    X(UPLOAD_SAVE, "UPDATE uploads SET size = ?2, hash = ?3, store_ext = ?4, updated_ms = ?5"            \
                   " WHERE uuid = ?1")                                                                   \
    X(UPLOAD_DELETE, "DELETE FROM uploads WHERE uuid = ?1")                                              \
    X(UPLOAD_LIST, "SELECT uuid FROM uploads ORDER BY uuid")                                             \
    /* gc's review queue (migration 0009): kind 0 a manifest, 1 a repository's link, 2 a blob */        \
    X(GC_QUEUE, "INSERT INTO gc_review (kind, repo_id, digest, review_ms) VALUES (?1, ?2, ?3, ?4)"       \
                GC_QUEUE_KEEP_EARLIER)                                                                   \
    /* the manifest tag ?2 of repository ?1 points at, before the tag moves or goes */                  \
    X(GC_QUEUE_TAGGED, "INSERT INTO gc_review (kind, repo_id, digest, review_ms)"                        \
                       " SELECT 0, t.repo_id, m.digest, CAST(?3 AS BIGINT) FROM tags t"                  \
                       " JOIN manifests m ON m.id = t.manifest_id WHERE t.repo_id = ?1 AND t.name = ?2"  \
                       GC_QUEUE_KEEP_EARLIER)                                                            \
    /* before manifest ?1 goes: its children, referrers, links and blobs */                              \
    X(GC_QUEUE_DEPENDENTS, "INSERT INTO gc_review (kind, repo_id, digest, review_ms)"                    \
                           " SELECT k, repo_id, digest, CAST(?2 AS BIGINT) FROM ("                       \
                           "SELECT 0 AS k, repo_id, digest FROM manifest_children WHERE manifest_id = ?1" \
                           " UNION SELECT 2, repo_id, digest FROM manifest_children WHERE manifest_id = ?1" \
                           " UNION SELECT 1, repo_id, digest FROM manifest_blobs WHERE manifest_id = ?1" \
                           " UNION SELECT 2, repo_id, digest FROM manifest_blobs WHERE manifest_id = ?1" \
                           " UNION SELECT 0, s.repo_id, s.digest FROM manifests m JOIN manifests s"      \
                           " ON s.repo_id = m.repo_id AND s.subject = m.digest WHERE m.id = ?1"          \
                           ") AS d WHERE true" GC_QUEUE_KEEP_EARLIER)                                    \
    /* before repository ?1 goes: every blob it links or references */                                  \
    X(GC_QUEUE_REPO_BLOBS, "INSERT INTO gc_review (kind, repo_id, digest, review_ms)"                    \
                           " SELECT 2, ?1, digest, CAST(?2 AS BIGINT) FROM ("                            \
                           "SELECT digest FROM repo_blobs WHERE repo_id = ?1"                            \
                           " UNION SELECT b.digest FROM manifests m JOIN manifest_blobs b"               \
                           " ON b.manifest_id = m.id WHERE m.repo_id = ?1"                               \
                           " UNION SELECT c.digest FROM manifests m JOIN manifest_children c"            \
                           " ON c.manifest_id = m.id WHERE m.repo_id = ?1"                               \
                           ") AS d WHERE true" GC_QUEUE_KEEP_EARLIER)                                    \
    X(GC_QUEUE_FORGET_REPO, "DELETE FROM gc_review WHERE kind < 2 AND repo_id = ?1")                     \
    /* before registry ?1 goes: the same for each of its repositories */                               \
    X(GC_QUEUE_REGISTRY_BLOBS, "INSERT INTO gc_review (kind, repo_id, digest, review_ms)"                \
                               " SELECT 2, id, digest, CAST(?2 AS BIGINT) FROM ("                        \
                               "SELECT r.id, b.digest FROM repositories r JOIN repo_blobs b"             \
                               " ON b.repo_id = r.id WHERE r.registry_id = ?1"                           \
                               " UNION SELECT r.id, b.digest FROM repositories r JOIN manifests m"       \
                               " ON m.repo_id = r.id JOIN manifest_blobs b ON b.manifest_id = m.id"      \
                               " WHERE r.registry_id = ?1"                                               \
                               " UNION SELECT r.id, c.digest FROM repositories r JOIN manifests m"       \
                               " ON m.repo_id = r.id JOIN manifest_children c ON c.manifest_id = m.id"   \
                               " WHERE r.registry_id = ?1"                                               \
                               ") AS d WHERE true" GC_QUEUE_KEEP_EARLIER)                                \
    X(GC_QUEUE_FORGET_REGISTRY, "DELETE FROM gc_review WHERE kind < 2"                                   \
                                " AND repo_id IN (SELECT id FROM repositories WHERE registry_id = ?1)")  \
    /* entries of kind ?1 due by ?2, after (?3, ?4, ?5) in review order; another worker's are skipped */ \
    X(GC_REVIEW_NEXT, "SELECT repo_id, digest, review_ms FROM gc_review WHERE kind = ?1"                 \
                      " AND review_ms <= ?2 AND (review_ms, repo_id, digest) > (?3, ?4, ?5)"             \
                      " ORDER BY review_ms, repo_id, digest LIMIT ?6{SKIP_LOCKED}")                      \
    /* entries not due by ?1, by kind: how many and the earliest */                                     \
    X(GC_REVIEW_WAITING, "SELECT kind, COUNT(*), MIN(review_ms) FROM gc_review WHERE review_ms > ?1"       \
                         " GROUP BY kind")                                                               \
    /* one of blob ?1's entries, unless another worker holds them all */                               \
    X(GC_BLOB_TAKE, "SELECT repo_id FROM gc_review WHERE kind = 2 AND digest = ?1 LIMIT 1{SKIP_LOCKED}")   \
    X(GC_BLOB_DONE, "DELETE FROM gc_review WHERE kind = 2 AND digest = ?1")                               \
    X(GC_REVIEW_LATER, "UPDATE gc_review SET review_ms = ?4 WHERE kind = ?1 AND repo_id = ?2 AND digest = ?3") \
    X(GC_REVIEW_DONE, "DELETE FROM gc_review WHERE kind = ?1 AND repo_id = ?2 AND digest = ?3")         \
    /* a queued manifest: id, created, whether anything keeps it (tag, parent, live subject), repo */  \
    X(GC_MANIFEST_CHECK, "SELECT m.id, m.created_ms, CASE"                                               \
                         " WHEN EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)"                \
                         " OR EXISTS (SELECT 1 FROM manifest_children c"                                 \
                         " WHERE c.digest = m.digest AND c.repo_id = m.repo_id)"                         \
                         " OR (m.subject IS NOT NULL AND EXISTS (SELECT 1 FROM manifests s"              \
                         " WHERE s.repo_id = m.repo_id AND s.digest = m.subject))"                       \
                         " OR m.delete_enabled = 0 OR r.delete_enabled = 0 THEN 1 ELSE 0 END,"           \
                         " r.name FROM manifests m JOIN repositories r ON r.id = m.repo_id"              \
                         " WHERE m.repo_id = ?1 AND m.digest = ?2")                                      \
    X(GC_MANIFEST_DELETE, "DELETE FROM manifests WHERE id = ?1")                                         \
    /* a queued link: created, whether a manifest of its repository references it, repo */            \
    X(GC_LINK_CHECK, "SELECT b.created_ms, CASE WHEN EXISTS (SELECT 1 FROM manifest_blobs mb"            \
                     " WHERE mb.digest = b.digest AND mb.repo_id = b.repo_id) THEN 1 ELSE 0 END, r.name" \
                     " FROM repo_blobs b JOIN repositories r ON r.id = b.repo_id"                        \
                     " WHERE b.repo_id = ?1 AND b.digest = ?2")                                          \
    X(GC_LINK_DELETE, "DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2")                      \
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
    X(NET_RULE_DELETE, "DELETE FROM registry_ip_rules WHERE registry_id = ?1 AND value = ?2")            \
    X(KEY_LIST, "SELECT kid, created_ms, text FROM signing_keys ORDER BY created_ms, kid")               \
    X(KEY_ADD, "INSERT INTO signing_keys (kid, created_ms, text) VALUES (?1, ?2, ?3)"                    \
               " ON CONFLICT (kid) DO NOTHING")                                                          \
    X(KEY_REMOVE, "DELETE FROM signing_keys WHERE kid = ?1")                                             \
    /* one row: the pair's lockout end (NULL: none) and whether it has failures */                       \
    X(LOGIN_STATE, "SELECT (SELECT until_s FROM login_lockouts WHERE pair = ?1),"                        \
                   " CASE WHEN EXISTS (SELECT 1 FROM login_failures WHERE pair = ?1) THEN 1 ELSE 0 END") \
    /* failures of one second are one row: n counts them */                                              \
    X(LOGIN_FAIL_ADD, "INSERT INTO login_failures (pair, time_s, n) VALUES (?1, ?2, 1)"                  \
                      " ON CONFLICT (pair, time_s) DO UPDATE SET n = login_failures.n + 1")              \
    X(LOGIN_FAIL_COUNT, "SELECT coalesce(sum(n), 0) FROM login_failures WHERE pair = ?1 AND time_s > ?2") \
    X(LOGIN_LOCK, "INSERT INTO login_lockouts (pair, until_s) VALUES (?1, ?2)"                           \
                  " ON CONFLICT (pair) DO UPDATE SET until_s = excluded.until_s")                        \
    X(LOGIN_FAILS_CLEAR, "DELETE FROM login_failures WHERE pair = ?1")                                   \
    X(LOGIN_LOCK_CLEAR, "DELETE FROM login_lockouts WHERE pair = ?1")                                    \
    X(LOGIN_FAILS_PRUNE, "DELETE FROM login_failures WHERE time_s <= ?1")                                \
    X(LOGIN_LOCKS_PRUNE, "DELETE FROM login_lockouts WHERE until_s <= ?1")                               \
    /* every blob the metadata references, with the sizes recorded for it (none: a manifest's only) */   \
    X(BLOB_REFS, "SELECT digest, min(size), max(size) FROM (SELECT digest, size FROM blobs"              \
                 " UNION ALL SELECT digest, size FROM repo_blobs"                                        \
                 " UNION ALL SELECT digest, NULL FROM manifest_blobs) AS r GROUP BY digest ORDER BY digest")

enum berth_sql_id {
#define BERTH_SQL_ENUM(id, sql) SQL_##id,
    BERTH_META_STMTS(BERTH_SQL_ENUM)
#undef BERTH_SQL_ENUM
    SQL_COUNT
};

/* The statement's portable text, before the dialect fills it in. */
const char *berth_sql_portable(enum berth_sql_id id);

/*
 * Every table of the schema, a table after those its foreign keys name (the
 * order a copy writes them in), with the key its rows are read in, for
 * berth_meta_copy and berth_meta_compare (meta_copy.c): {ROWID} where the
 * statements list rows in insertion order, so that a copy keeps that order,
 * else the primary key. `local` names a column that holds the blob store's
 * own data (copied as NULL: every store resumes from the id alone), or NULL.
 * A migration that adds a table adds its row here: a schema with a table
 * this list lacks is refused by the copy.
 */
#define BERTH_META_TABLES(X)                                                                             \
    X(tenant, "one", NULL)                                                                               \
    X(registries, "id", NULL)                                                                            \
    X(registry_ip_rules, "registry_id, position", NULL)                                                  \
    X(repositories, "id", NULL)                                                                          \
    X(blobs, "digest", NULL)                                                                             \
    X(repo_blobs, "repo_id, digest", NULL)                                                               \
    X(manifests, "id", NULL)                                                                             \
    X(manifest_blobs, "manifest_id, digest", NULL)                                                       \
    X(manifest_children, "manifest_id, digest", NULL)                                                    \
    X(tags, "repo_id, name", NULL)                                                                       \
    X(uploads, "uuid", "store_ext")                                                                      \
    X(users, "id", NULL)                                                                                 \
    X(service_principals, "app_id", NULL)                                                                \
    X(sp_secrets, "{ROWID}", NULL)                                                                       \
    X(scope_maps, "id", NULL)                                                                            \
    X(scope_map_rules, "scope_map_id, position", NULL)                                                   \
    X(tokens, "id", NULL)                                                                                \
    X(role_assignments, "{ROWID}", NULL)                                                                 \
    X(events, "id", NULL)                                                                                \
    X(signing_keys, "kid", NULL)                                                                         \
    X(login_failures, "pair, time_s", NULL)                                                              \
    X(login_lockouts, "pair", NULL)                                                                      \
    X(gc_review, "kind, digest, repo_id", NULL)

/* ---- the dialect: everything the engines spell differently, in one table ---- */

enum berth_sql_params {
    BERTH_SQL_PARAMS_QMARK,  /* ?NNN kept as written (SQLite) */
    BERTH_SQL_PARAMS_DOLLAR, /* $1, $2, ... (PostgreSQL) */
};

struct berth_sql_dialect {
    const char *name;
    enum berth_sql_params params;
    const char *begin_write; /* starts a transaction that holds the write lock (or serialises) at once */
    /* starts a write transaction whose COMMIT returns without waiting for the disk; end_relaxed (or NULL)
     * runs once it has ended, so the connection's next commits wait again */
    const char *begin_relaxed, *end_relaxed;
    int limit_all_null;      /* LIMIT NULL means no limit (PostgreSQL); else LIMIT -1 (SQLite) */
    int upsert;              /* ON CONFLICT ... DO UPDATE / DO NOTHING; the statements need it */
    int returning;           /* INSERT ... RETURNING; the statements need it */
    /* filled into {NAME} of a statement's text */
    const char *rowid;      /* {ROWID}: a column that orders rows by insertion */
    const char *fixed_join; /* {FIXED_JOIN}: a join the planner must run in the written order */
    const char *now_s;      /* {NOW_S}: now, in whole unix seconds */
    const char *blob;       /* {BLOB}: the type of a byte string column */
    const char *skip_locked; /* {SKIP_LOCKED}: ends a SELECT: lock its rows, skipping rows others hold */
    /* for copying a whole store (meta_copy.c) */
    const char *begin_read; /* starts a transaction whose reads all see one snapshot */
    const char *tables;     /* lists the schema's tables (one text column), its own bookkeeping included */
    const char *schema_table; /* the table where the engine keeps the schema version, or NULL (never copied) */
    /* sets every identity column's sequence past the largest id in its table; NULL: the engine does it itself */
    const char *reset_ids;
};

extern const struct berth_sql_dialect berth_sql_sqlite;
extern const struct berth_sql_dialect berth_sql_postgres;

/*
 * The text a dialect runs for portable sql: {NAME}s filled in, then, for
 * BERTH_SQL_PARAMS_DOLLAR, each placeholder rewritten to $n (?NNN keeps its
 * number, a bare ? takes one above the highest so far). String literals,
 * quoted identifiers and comments are copied as they are. Returns a malloc'd
 * string; BERTH_EINTERNAL for an unknown {NAME} or an unterminated quote.
 */
enum berth_rc berth_sql_render(const struct berth_sql_dialect *d, const char *sql, char **out, struct berth_err *err);

/* ---- what a driver implements ---- */

/* The kind of a value: an argument's, or what a column holds. */
enum berth_sql_type { BERTH_SQL_T_NULL, BERTH_SQL_T_INT, BERTH_SQL_T_TEXT, BERTH_SQL_T_BLOB };

struct berth_sql;
struct berth_sql_stmt; /* the driver's prepared statement */

/* A connection; the driver's own struct starts with it. Used by one thread at a time. */
struct berth_sql_conn {
    struct berth_sql *db;
    int bound;   /* 0: the store's shared handle, each helper call takes a connection of its own */
    int busy;    /* the last error was the engine asking for the transaction to be retried */
    int discard; /* set inside berth_sql_tx: roll back at the end instead of committing */
    struct berth_sql_conn *pool_next; /* idle list link; guarded by the pool's lock */
};

/*
 * A bounded pool of a driver's connections, shared by the threads: take
 * gives an idle one, or opens one (outside the lock) while fewer than max
 * are open, or waits; give makes one idle again. Drivers open, set up and
 * free their own connections.
 */
struct berth_sql_pool {
    pthread_mutex_t lock; /* guards idle, nidle, nopen */
    pthread_cond_t cond;  /* signalled when a connection goes idle or a slot frees */
    struct berth_sql_conn *idle;
    int nidle, nopen, max;
};
typedef enum berth_rc (*berth_sql_open_fn)(void *ctx, struct berth_sql_conn **out, struct berth_err *err);

void berth_sql_pool_init(struct berth_sql_pool *p, int max);
enum berth_rc berth_sql_pool_take(struct berth_sql_pool *p, berth_sql_open_fn open, void *ctx,
                                  struct berth_sql_conn **out, struct berth_err *err);
void berth_sql_pool_give(struct berth_sql_pool *p, struct berth_sql_conn *c);
/* Counts c, opened by the caller, as one of the pool's and makes it idle. */
void berth_sql_pool_adopt(struct berth_sql_pool *p, struct berth_sql_conn *c);
/* Waits until every connection is idle, then returns them all (linked by pool_next) for the caller to free. */
struct berth_sql_conn *berth_sql_pool_drain(struct berth_sql_pool *p);
void berth_sql_pool_destroy(struct berth_sql_pool *p);

/* What the driver's error function says an engine status is. */
enum berth_sql_class {
    BERTH_SQL_OTHER,
    BERTH_SQL_BUSY,       /* a lock wait gave up, or the engine aborted the transaction (retry it) */
    BERTH_SQL_CONSTRAINT, /* a key, foreign key, NOT NULL or CHECK refused the row */
};

/* What step answers besides an engine status. */
#define BERTH_SQL_ROW (-1)
#define BERTH_SQL_DONE (-2)

struct berth_sql_driver {
    const char *name;
    const struct berth_sql_dialect *dialect;
    int tx_retries; /* how often berth_sql_tx runs a transaction again after BERTH_SQL_BUSY */

    /* Takes a connection of the pool (waiting for one), gives it back (rolling back an open transaction). */
    enum berth_rc (*acquire)(struct berth_sql *db, struct berth_sql_conn **out, struct berth_err *err);
    void (*release)(struct berth_sql *db, struct berth_sql_conn *c);

    /*
     * Prepares rendered sql. slot >= 0 (a statement id): cached on the
     * connection, later calls with the slot return it again; -1: for one
     * use, finalize ends it. Returns 0 or an engine status.
     */
    int (*prepare)(struct berth_sql_conn *c, int slot, const char *sql, struct berth_sql_stmt **out);
    /* Parameters count from 1. Values are borrowed until reset/finalize. 0 or an engine status. */
    int (*bind_null)(struct berth_sql_stmt *st, int k);
    int (*bind_int)(struct berth_sql_stmt *st, int k, int64_t v);
    int (*bind_text)(struct berth_sql_stmt *st, int k, const char *s);
    int (*bind_blob)(struct berth_sql_stmt *st, int k, const void *p, size_t n); /* n == 0: an empty blob */
    int (*step)(struct berth_sql_stmt *st); /* BERTH_SQL_ROW, BERTH_SQL_DONE or an engine status */
    /* Columns of the current row, from 0; text and blobs stay valid until the next step or reset. */
    int (*column_null)(struct berth_sql_stmt *st, int col);
    int64_t (*column_int)(struct berth_sql_stmt *st, int col);
    const char *(*column_text)(struct berth_sql_stmt *st, int col, size_t *len); /* NULL for SQL NULL */
    const void *(*column_blob)(struct berth_sql_stmt *st, int col, size_t *len);
    /*
     * The result's columns, known once the statement is prepared: how many,
     * the name of one (valid while the statement is), and the kind of value
     * it holds (BERTH_SQL_T_INT, _TEXT or _BLOB) by its declared type; for a
     * column with none (an expression), by the current row's value.
     */
    int (*column_count)(struct berth_sql_stmt *st);
    const char *(*column_name)(struct berth_sql_stmt *st, int col);
    enum berth_sql_type (*column_type)(struct berth_sql_stmt *st, int col);
    void (*reset)(struct berth_sql_stmt *st);    /* ready for the next use, bindings cleared */
    void (*finalize)(struct berth_sql_stmt *st); /* a slot -1 statement; NULL-safe */
    int64_t (*changes)(struct berth_sql_conn *c); /* rows the last finished statement wrote */
    int (*exec)(struct berth_sql_conn *c, const char *sql); /* a statement without arguments or rows */
    int (*in_tx)(struct berth_sql_conn *c);
    /*
     * Optional (NULL: one server per store, whose own exclusion suffices):
     * a lock on key shared by every server of the store, held until unlock
     * or until this server's connection to the engine ends (it died), so a
     * crashed holder never blocks the others. BERTH_EBUSY when another
     * server holds it.
     */
    enum berth_rc (*lock_try)(struct berth_sql *db, int32_t key, struct berth_err *err);
    void (*unlock)(struct berth_sql *db, int32_t key);
    /* Sets err for an engine status (BERTH_EDB "op: message"), *cls its class; returns the code. */
    enum berth_rc (*error)(struct berth_sql_conn *c, int status, const char *op, enum berth_sql_class *cls,
                           struct berth_err *err);
};

#define BERTH_SQL_MAGIC 0x53514c21u /* "SQL!" */

/* The part of a store the SQL layer owns; a driver's store struct starts with it. */
struct berth_sql {
    struct berth_meta base; /* first: magic, ops and the tables */
    uint32_t magic;         /* BERTH_SQL_MAGIC */
    const struct berth_sql_driver *drv;
    char *text[SQL_COUNT];      /* each statement rendered for the dialect; immutable after init */
    struct berth_sql_conn any;  /* the shared unbound handle (berth_sql_db) */
};

/* Sets up db for a driver: renders every statement, fills base with ops and the SQL layer's tables. */
enum berth_rc berth_sql_init(struct berth_sql *db, const struct berth_sql_driver *drv,
                             const struct berth_meta_ops *ops, struct berth_err *err);
void berth_sql_release(struct berth_sql *db); /* frees what init made */

/* The tables of meta.h the SQL layer fills (meta_registry.c, meta_dir.c, ...). */
extern const struct berth_meta_reg_ops berth_sql_reg_ops;
extern const struct berth_meta_dir_ops berth_sql_dir_ops;
extern const struct berth_meta_content_ops berth_sql_content_ops;
extern const struct berth_meta_upload_ops berth_sql_upload_ops;
extern const struct berth_meta_event_ops berth_sql_event_ops;
extern const struct berth_meta_auth_ops berth_sql_auth_ops;

/* ---- arguments ---- */

/* One bound value, borrowed for the call. */
struct berth_sql_arg {
    enum berth_sql_type type;
    int64_t i;
    const char *s;
    const void *p;
    size_t n;
};

#define SQL_NULL ((struct berth_sql_arg){.type = BERTH_SQL_T_NULL})
#define SQL_I(v) ((struct berth_sql_arg){.type = BERTH_SQL_T_INT, .i = (int64_t)(v)})
/* text; NULL binds SQL NULL */
#define SQL_T(v) ((struct berth_sql_arg){.type = BERTH_SQL_T_TEXT, .s = (v)})
/* a const struct berth_digest *, as text; NULL binds SQL NULL */
#define SQL_D(d) berth_sql_digest_arg(d)
/* bytes (p, n); never SQL NULL, n == 0 is an empty blob */
#define SQL_B(ptr, len) ((struct berth_sql_arg){.type = BERTH_SQL_T_BLOB, .p = (ptr), .n = (len)})
/* the arguments of one call: an array and its length */
#define SQL_ARGS(...)                                                                                     \
    (const struct berth_sql_arg[]){__VA_ARGS__},                                                          \
        sizeof((const struct berth_sql_arg[]){__VA_ARGS__}) / sizeof(struct berth_sql_arg)
#define SQL_NOARGS NULL, 0

struct berth_sql_arg berth_sql_digest_arg(const struct berth_digest *d);
/* The LIMIT argument for a page of n rows plus one (that tells whether more exist); n < 0: no limit. */
struct berth_sql_arg berth_sql_page_limit(struct berth_sql_conn *c, int64_t n);

/* ---- rows ---- */

/* The row a callback reads; valid during the callback only. */
struct berth_sql_row {
    struct berth_sql_conn *c;
    struct berth_sql_stmt *st;
    const char *op;
    int64_t n;  /* rows seen so far, this one included */
    int stop;   /* set by the callback: no further rows */
    int skip;   /* set by a berth_sql_list reader: drop this row's element */
};

/* Reads a row; ctx is the caller's (for berth_sql_list: the new element, zeroed). */
typedef enum berth_rc (*berth_sql_row_fn)(struct berth_sql_row *r, void *ctx, struct berth_err *err);

int berth_sql_null(const struct berth_sql_row *r, int col);
int64_t berth_sql_int(const struct berth_sql_row *r, int col);
const char *berth_sql_text(const struct berth_sql_row *r, int col); /* NULL for SQL NULL */
/* Bytes of a blob column; BERTH_EDB when the engine cannot give them. */
enum berth_rc berth_sql_blob(const struct berth_sql_row *r, int col, const void **p, size_t *n,
                             struct berth_err *err);
/* Copies a text column into dst (size len); -1 if NULL or too long. */
int berth_sql_copy(const struct berth_sql_row *r, int col, char *dst, size_t len);
/* What column col holds (the driver's column_type): BERTH_SQL_T_INT, _TEXT or _BLOB. */
enum berth_sql_type berth_sql_column_type(const struct berth_sql_row *r, int col);
/* A stored digest, checked (algorithm, length, lowercase hex); a damaged one is BERTH_EDB. */
enum berth_rc berth_sql_digest(const struct berth_sql_row *r, int col, struct berth_digest *d,
                               struct berth_err *err);

/* ---- running statements ---- */

/*
 * c is a connection berth_sql_run/berth_sql_tx handed to a function, or
 * berth_sql_db(m): then each call takes a connection of the pool for itself
 * (one autocommit statement) and gives it back before it returns. op names
 * the operation in error messages. Engine failures are BERTH_EDB.
 */

/* The store's shared handle; aborts when m is not a store of the SQL layer (a programming error). */
struct berth_sql_conn *berth_sql_db(struct berth_meta *m);

typedef enum berth_rc (*berth_sql_fn)(struct berth_sql_conn *c, void *ctx, struct berth_err *err);

/* Runs fn with one connection, outside a transaction. */
enum berth_rc berth_sql_run(struct berth_meta *m, berth_sql_fn fn, void *ctx, struct berth_err *err);

/*
 * Runs fn inside one write transaction: committed when fn returns BERTH_OK
 * (rolled back instead if fn set c->discard), rolled back when it fails.
 * When the engine asked for a retry (BERTH_SQL_BUSY) the whole transaction
 * runs again, up to the driver's tx_retries times, so fn must only write
 * its results out once it is sure to succeed (or be safe to run twice).
 */
/* berth_sql_tx started with begin (a dialect's begin_read, say) instead of begin_write. */
enum berth_rc berth_sql_tx_begin(struct berth_meta *m, const char *op, const char *begin, berth_sql_fn fn, void *ctx,
                                 struct berth_err *err);
enum berth_rc berth_sql_tx(struct berth_meta *m, const char *op, berth_sql_fn fn, void *ctx,
                           struct berth_err *err);
/*
 * berth_sql_tx whose commit does not wait for the disk: it survives the
 * server's crash but may be lost, whole, with a crash of the machine (or of
 * PostgreSQL); the next commit that waits makes it durable too. Only for
 * state that a later request rebuilds or refuses when it is gone.
 */
enum berth_rc berth_sql_tx_relaxed(struct berth_meta *m, const char *op, berth_sql_fn fn, void *ctx,
                                   struct berth_err *err);

/* Runs a statement that answers no rows (or whose rows are ignored); *changes (may be NULL) gets rows written. */
enum berth_rc berth_sql_exec(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, int64_t *changes,
                             struct berth_err *err);

/* Runs a statement to its first row: fn (may be NULL) reads it; *found (may be NULL) tells if there was one. */
enum berth_rc berth_sql_one(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                            const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                            int *found, struct berth_err *err);

/* berth_sql_one reading the first column as an integer into *val (may be NULL; untouched without a row). */
enum berth_rc berth_sql_int1(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, int *found, int64_t *val,
                             struct berth_err *err);

/* Calls fn for each row until it sets r->stop; *rows (may be NULL) gets the rows seen. */
enum berth_rc berth_sql_each(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                             int64_t *rows, struct berth_err *err);

/* berth_sql_each for text built at run time (portable, rendered here, prepared for one use). */
enum berth_rc berth_sql_each_sql(struct berth_sql_conn *c, const char *op, const char *sql,
                                 const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                                 int64_t *rows, struct berth_err *err);

/* A growing array of elements of one size; v is owned (berth_sql_list_release). */
struct berth_sql_list {
    void *v;
    size_t n, cap, size;
};
#define BERTH_SQL_LIST_INIT(type) {NULL, 0, 0, sizeof(type)}
void berth_sql_list_release(struct berth_sql_list *l);

/*
 * Appends one element per row to out: read gets the row and the new element
 * (zeroed); it may set r->skip to drop it or r->stop to end the list.
 * *rows (may be NULL) gets the rows seen, skipped ones included. On an
 * error out keeps what was read before it.
 */
enum berth_rc berth_sql_list(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn read,
                             struct berth_sql_list *out, int64_t *rows, struct berth_err *err);

/*
 * Hands the text of column col to fn, at most n names (n < 0: all; bind the
 * LIMIT with berth_sql_page_limit), skipping NULL ones; *more (may be NULL)
 * is set when a named row follows the last name given (also when fn's
 * nonzero return stopped the walk); *rows (may be NULL) counts every row.
 */
enum berth_rc berth_sql_names(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                              const struct berth_sql_arg *args, size_t nargs, int col, int64_t n,
                              berth_meta_name_fn fn, void *ctx, int *more, int64_t *rows, struct berth_err *err);

/*
 * A statement built at run time (portable text, rendered here), prepared
 * once on a connection of its own (one berth_sql_run or berth_sql_tx hands
 * out) and run many times: a copy's reads and inserts. Its columns are
 * known as soon as it is prepared.
 */
struct berth_sql_prep {
    struct berth_sql_conn *c; /* borrowed */
    struct berth_sql_stmt *st;
    const char *op; /* names it in errors; borrowed */
};

/* Runs portable sql without arguments or rows (several statements, DDL) on a connection of its own. */
enum berth_rc berth_sql_exec_text(struct berth_sql_conn *c, const char *op, const char *sql, struct berth_err *err);
/* BERTH_EINTERNAL when c is the store's shared handle (berth_sql_db). Close *p even after an error. */
enum berth_rc berth_sql_prepare(struct berth_sql_conn *c, const char *op, const char *sql, struct berth_sql_prep *p,
                                struct berth_err *err);
/* Binds args, runs the statement and calls fn (may be NULL) per row like berth_sql_each; ready to run again after. */
enum berth_rc berth_sql_prep_run(struct berth_sql_prep *p, const struct berth_sql_arg *args, size_t nargs,
                                 berth_sql_row_fn fn, void *ctx, int64_t *rows, struct berth_err *err);
void berth_sql_prep_close(struct berth_sql_prep *p); /* NULL-safe; also after a failed prepare */
int berth_sql_prep_columns(const struct berth_sql_prep *p);
const char *berth_sql_prep_column_name(const struct berth_sql_prep *p, int col);
enum berth_sql_type berth_sql_prep_column_type(const struct berth_sql_prep *p, int col);

/* ---- shared by the op files ---- */

/* Nonzero if the fixed-size field holds a terminated string. */
#define BERTH_SQL_FITS(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* BERTH_ENOENT "registry N not found". */
enum berth_rc berth_sql_no_registry(int64_t reg, struct berth_err *err);
/* BERTH_EDB "a stored <what> row is damaged". */
enum berth_rc berth_sql_damaged(const char *what, struct berth_err *err);

#endif
