-- 0010-acr-attributes (PostgreSQL): see src/meta/migrations/0010-acr-attributes.sql.
ALTER TABLE tags ADD COLUMN created_ms BIGINT NOT NULL DEFAULT 0;
UPDATE tags SET created_ms = updated_ms;
CREATE INDEX tags_by_time ON tags (repo_id, updated_ms, name);
CREATE INDEX manifests_by_time ON manifests (repo_id, created_ms, digest);
ALTER TABLE repositories ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
