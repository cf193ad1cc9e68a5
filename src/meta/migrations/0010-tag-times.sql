-- 0010-tag-times: when a tag was first made (ACR's createdTime; updated_ms is its lastUpdateTime),
-- and indexes for listing a repository's tags and manifests by time (ACR's orderby=time_desc / time_asc).
-- Tags made before this migration take their last update as their creation.
ALTER TABLE tags ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
UPDATE tags SET created_ms = updated_ms;
CREATE INDEX tags_by_time ON tags (repo_id, updated_ms, name);
CREATE INDEX manifests_by_time ON manifests (repo_id, created_ms, digest);
