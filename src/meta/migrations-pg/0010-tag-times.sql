-- 0010-tag-times (PostgreSQL): see src/meta/migrations/0010-tag-times.sql.
ALTER TABLE tags ADD COLUMN created_ms BIGINT NOT NULL DEFAULT 0;
UPDATE tags SET created_ms = updated_ms;
CREATE INDEX tags_by_time ON tags (repo_id, updated_ms, name);
CREATE INDEX manifests_by_time ON manifests (repo_id, created_ms, digest);
