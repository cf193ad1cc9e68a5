-- 0010-acr-attributes: when a tag was first made (ACR's createdTime; updated_ms is its lastUpdateTime),
-- and indexes for listing a repository's tags and manifests by time (ACR's orderby=time_desc / time_asc).
-- Tags made before this migration take their last update as their creation. And ACR's locks
-- (changeableAttributes writeEnabled and deleteEnabled) of a repository, a manifest and a tag: a
-- 0 refuses overwriting (pushing the tag or the manifest again, any push into the repository) or
-- deleting (the tag, the manifest, the repository; gc keeps a locked manifest) with 403 DENIED.
ALTER TABLE tags ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
UPDATE tags SET created_ms = updated_ms;
CREATE INDEX tags_by_time ON tags (repo_id, updated_ms, name);
CREATE INDEX manifests_by_time ON manifests (repo_id, created_ms, digest);
ALTER TABLE repositories ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN write_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN delete_enabled INTEGER NOT NULL DEFAULT 1;
