-- 0006-blobs (PostgreSQL): see src/meta/migrations/0006-blobs.sql.
CREATE TABLE blobs (
    digest TEXT COLLATE "C" PRIMARY KEY,
    size BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
INSERT INTO blobs (digest, size, created_ms)
    SELECT digest, max(size), min(created_ms) FROM repo_blobs GROUP BY digest;

ALTER TABLE uploads ADD COLUMN principal TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX uploads_by_owner ON uploads (registry_id, repo, principal);
