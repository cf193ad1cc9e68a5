-- 0005-event-jti: the id (jti) of the token a login event issued or presented ('' when none).
ALTER TABLE events ADD COLUMN jti TEXT NOT NULL DEFAULT '';
