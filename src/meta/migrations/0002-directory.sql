-- 0002-directory: the tenant, users, service principals and their secrets, scope maps, repository
-- tokens and role assignments. GUIDs are lowercase 8-4-4-4-12 text made by the driver.
-- Times are milliseconds since the epoch; password hashes are argon2id strings ('' = none).

-- One row: the server's tenant id, made on first use.
CREATE TABLE tenant (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE BINARY,
    hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    password_set_ms INTEGER NOT NULL
);

CREATE TABLE service_principals (
    app_id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

-- Listed newest first; rowid breaks ties between secrets added in the same millisecond.
CREATE TABLE sp_secrets (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES service_principals (app_id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    description TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX sp_secrets_by_app ON sp_secrets (app_id, created_ms);

CREATE TABLE scope_maps (
    id INTEGER PRIMARY KEY,
    registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE BINARY,
    description TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (registry_id, name)
);

-- A map's rules in the order they were given, replaced whole by every put.
CREATE TABLE scope_map_rules (
    scope_map_id INTEGER NOT NULL REFERENCES scope_maps (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    rule TEXT NOT NULL,
    PRIMARY KEY (scope_map_id, position)
) WITHOUT ROWID;

-- scopemap is a name, not a key: it may name a system map, which is not stored. Password slots 1
-- and 2 each have a hash ('' = none), when it was made and when it expires (0 = never).
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE BINARY,
    scopemap TEXT NOT NULL COLLATE BINARY,
    enabled INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    hash1 TEXT NOT NULL,
    hash2 TEXT NOT NULL,
    set1_ms INTEGER NOT NULL,
    set2_ms INTEGER NOT NULL,
    expires1_ms INTEGER NOT NULL,
    expires2_ms INTEGER NOT NULL,
    UNIQUE (registry_id, name)
);
-- "is this scope map used by a token" (scopemap_delete)
CREATE INDEX tokens_by_scopemap ON tokens (registry_id, scopemap, name);

-- scope is "/", "/registries/<r>" or "/registries/<r>/repositories/<prefix>". The principal is
-- not a foreign key (it is a user or a service principal); user_delete, sp_delete and
-- registry_delete remove the assignments that name what they delete.
CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY,
    principal_type TEXT NOT NULL CHECK (principal_type IN ('user', 'sp')),
    principal_id TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT NOT NULL COLLATE BINARY,
    created_ms INTEGER NOT NULL,
    UNIQUE (principal_type, principal_id, role, scope)
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);
CREATE INDEX role_assignments_by_scope ON role_assignments (scope);
