-- 0011-image-platform: an image manifest's platform (ACR's architecture and os), read from its
-- config blob when it is pushed; '' for an index, an artifact, or an image pushed before this.
ALTER TABLE manifests ADD COLUMN architecture TEXT NOT NULL DEFAULT '';
ALTER TABLE manifests ADD COLUMN os TEXT NOT NULL DEFAULT '';
