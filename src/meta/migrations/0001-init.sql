-- 0001-init: registries, repositories, blob links, manifests and their references, tags, upload sessions.
-- Text compares byte by byte (COLLATE BINARY, SQLite's default), which is the order listings use.
-- Times are milliseconds since the epoch.

-- A registry owns its repositories, uploads, tokens, scope maps (0002) and everything below them:
-- deleting its row deletes them all through ON DELETE CASCADE. Admin passwords are argon2id hash
-- strings, '' when unset; a TTL of 0 means the server default.
CREATE TABLE registries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE BINARY,
    created_ms INTEGER NOT NULL,
    admin_enabled INTEGER NOT NULL DEFAULT 0,
    anonymous_pull INTEGER NOT NULL DEFAULT 0,
    refresh_ttl_s INTEGER NOT NULL DEFAULT 0,
    access_ttl_s INTEGER NOT NULL DEFAULT 0,
    admin_hash1 TEXT NOT NULL DEFAULT '',
    admin_hash2 TEXT NOT NULL DEFAULT '',
    admin_set1_ms INTEGER NOT NULL DEFAULT 0,
    admin_set2_ms INTEGER NOT NULL DEFAULT 0
);

-- Repository ids are unique across registries, so every table below keys on repo_id alone and
-- nothing of one registry can match a row of another.
CREATE TABLE repositories (
    id INTEGER PRIMARY KEY,
    registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE BINARY,
    created_ms INTEGER NOT NULL,
    UNIQUE (registry_id, name)
);

-- A blob is usable in a repository once linked; gc unlinks what no manifest references.
CREATE TABLE repo_blobs (
    repo_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
) WITHOUT ROWID;
CREATE INDEX repo_blobs_by_digest ON repo_blobs (digest);

-- payload holds the exact bytes pushed; size is their length, kept so HEAD need not read them.
CREATE TABLE manifests (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    artifact_type TEXT,
    annotations TEXT,
    subject TEXT,
    created_ms INTEGER NOT NULL,
    UNIQUE (repo_id, digest)
);
-- digest last so referrers come out in digest order without a sort
CREATE INDEX manifests_by_subject ON manifests (repo_id, subject, digest) WHERE subject IS NOT NULL;

-- What a manifest references, replaced whenever the manifest is put again. repo_id repeats the
-- manifest's so "is this digest referenced in this repository" is one probe of (digest, repo_id).
CREATE TABLE manifest_blobs (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    repo_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (manifest_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifest_blobs_by_digest ON manifest_blobs (digest, repo_id);

CREATE TABLE manifest_children (
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    repo_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (manifest_id, digest)
) WITHOUT ROWID;
CREATE INDEX manifest_children_by_digest ON manifest_children (digest, repo_id);

CREATE TABLE tags (
    repo_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE BINARY,
    manifest_id INTEGER NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name)
) WITHOUT ROWID;
CREATE INDEX tags_by_manifest ON tags (manifest_id);

-- The repository is kept by name: a session may start before its repository exists.
CREATE TABLE uploads (
    uuid TEXT PRIMARY KEY,
    registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    repo TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX uploads_by_registry ON uploads (registry_id);
