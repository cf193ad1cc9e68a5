-- 0006-blobs: one row per blob whose bytes the store holds, shared by every repository of every
-- registry. The row is where a push's claim on a blob and gc's decision to delete it meet: both
-- take it in one transaction, and the store's bytes are written or removed only inside that
-- transaction (docs/internals/store.md, "gc and pushes"). Every repository link has its row.
CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO blobs (digest, size, created_ms)
    SELECT digest, max(size), min(created_ms) FROM repo_blobs GROUP BY digest;

-- Who opened each upload session ('' for sessions from before), so open sessions can be capped
-- per principal and repository.
ALTER TABLE uploads ADD COLUMN principal TEXT NOT NULL DEFAULT '';
CREATE INDEX uploads_by_owner ON uploads (registry_id, repo, principal);
