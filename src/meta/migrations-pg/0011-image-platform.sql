-- 0011-image-platform (PostgreSQL): see src/meta/migrations/0011-image-platform.sql.
ALTER TABLE manifests ADD COLUMN architecture TEXT NOT NULL DEFAULT '';
ALTER TABLE manifests ADD COLUMN os TEXT NOT NULL DEFAULT '';
