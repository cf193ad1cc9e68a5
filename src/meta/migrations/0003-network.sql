-- 0003-network: network access per registry (ACR's publicNetworkAccess and networkRuleSet).
-- public_network = 0 refuses every client of the registry; default_action_allow = 0 lets in only
-- clients that an ip rule allows. Rule values are canonical IP addresses or CIDR ranges, checked by
-- the server before they are written; action is always 'Allow', as in ACR.
ALTER TABLE registries ADD COLUMN public_network INTEGER NOT NULL DEFAULT 1;
ALTER TABLE registries ADD COLUMN default_action_allow INTEGER NOT NULL DEFAULT 1;

CREATE TABLE registry_ip_rules (
    registry_id INTEGER NOT NULL REFERENCES registries (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    value TEXT NOT NULL,
    action TEXT NOT NULL DEFAULT 'Allow' CHECK (action = 'Allow'),
    PRIMARY KEY (registry_id, position),
    UNIQUE (registry_id, value)
);
