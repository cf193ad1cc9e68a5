-- 0008-shared-logins (PostgreSQL): see src/meta/migrations/0008-shared-logins.sql.
CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    text TEXT NOT NULL
);

CREATE TABLE login_failures (
    pair TEXT COLLATE "C" NOT NULL,
    time_s BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (pair, time_s)
);
CREATE INDEX login_failures_by_time ON login_failures (time_s);

CREATE TABLE login_lockouts (
    pair TEXT COLLATE "C" PRIMARY KEY,
    until_s BIGINT NOT NULL
);
CREATE INDEX login_lockouts_by_until ON login_lockouts (until_s);
