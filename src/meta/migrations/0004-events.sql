-- 0004-events: the login and repository event logs (one table, log = 0 login, 1 repository).
-- Rows are written in batches by the server's event writer and pruned by age and count.
-- registry_id is not a foreign key: a registry's log outlives the registry.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    log INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    registry_id INTEGER NOT NULL,
    registry TEXT NOT NULL DEFAULT '',
    login_server TEXT NOT NULL DEFAULT '',
    operation TEXT NOT NULL DEFAULT '',
    identity_type TEXT NOT NULL DEFAULT '',
    identity TEXT NOT NULL DEFAULT '',
    identity_id TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    duration_us INTEGER NOT NULL DEFAULT 0,
    repository TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL DEFAULT '',
    media_type TEXT NOT NULL DEFAULT '',
    artifact_type TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX events_by_registry ON events (registry_id, log, id);
CREATE INDEX events_by_time ON events (time_ms);
