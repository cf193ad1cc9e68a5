-- 0012-read-list-locks: ACR's other two changeable attributes of a repository, a manifest and a tag.
-- read_enabled 0 refuses pulling (a manifest by tag or digest; for a repository, its blobs too);
-- list_enabled 0 leaves it out of lists (_catalog, tags/list, /acr/v1 _tags and _manifests), while
-- it can still be read by name.
ALTER TABLE repositories ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE repositories ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE manifests ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN read_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tags ADD COLUMN list_enabled INTEGER NOT NULL DEFAULT 1;
