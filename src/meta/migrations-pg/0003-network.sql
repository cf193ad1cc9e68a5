-- 0003-network (PostgreSQL): see src/meta/migrations/0003-network.sql.
ALTER TABLE registries ADD COLUMN public_network BIGINT NOT NULL DEFAULT 1;
ALTER TABLE registries ADD COLUMN default_action_allow BIGINT NOT NULL DEFAULT 1;

CREATE TABLE registry_ip_rules (
    registry_id BIGINT NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    action TEXT NOT NULL DEFAULT 'Allow' CHECK (action = 'Allow'),
    PRIMARY KEY (registry_id, position),
    UNIQUE (registry_id, value)
);
