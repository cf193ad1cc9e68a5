-- 0008-shared-logins: what servers sharing one metadata store must see alike to answer logins
-- alike. The token signing keys: the text of each is a key file's content as is
-- ("berth-key-created-ms: N" and a PKCS#8 PEM block), so one parser reads both; created_ms is the
-- key's creation time (the file's line, else its mtime). The brute-force limiter: failures per
-- pair (a hex SHA-256 of principal, NUL, client IP), one row per second with n failures in it, and
-- lockouts; rows a pair has outlived are deleted as failures come in.
-- A server alone on its SQLite store keeps its keys in <data>/keys and its limiter in memory; the
-- tables are here too so that both schemas hold the same tables (docs/internals/meta.md).
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    text TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE login_failures (
    pair TEXT NOT NULL,
    time_s INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (pair, time_s)
) WITHOUT ROWID;
CREATE INDEX login_failures_by_time ON login_failures (time_s);

CREATE TABLE login_lockouts (
    pair TEXT PRIMARY KEY,
    until_s INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_lockouts_by_until ON login_lockouts (until_s);
