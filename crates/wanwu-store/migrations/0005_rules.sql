-- Rules and scenes: one row per definition and tenant. The definition is the JSON the user
-- wrote (opaque to the store); `enabled` is kept beside it for rules (scenes are always 1).
CREATE TABLE rules (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE scenes (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
