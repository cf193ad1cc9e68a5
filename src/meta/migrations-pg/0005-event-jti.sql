-- 0005-event-jti (PostgreSQL): see src/meta/migrations/0005-event-jti.sql.
ALTER TABLE events ADD COLUMN jti TEXT NOT NULL DEFAULT '';
