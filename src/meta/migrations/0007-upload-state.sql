-- 0007-upload-state: an upload session's state, saved at the end of each of its requests, so that
-- any server sharing the metadata can take the next one: the bytes received, the running hash
-- (berth_hasher_save; NULL until first saved, when it is rebuilt from the store's bytes) and the
-- blob store's resume data (an S3 multipart upload's id and parts).
ALTER TABLE uploads ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uploads ADD COLUMN hash BLOB;
ALTER TABLE uploads ADD COLUMN store_ext TEXT;
ALTER TABLE uploads ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
