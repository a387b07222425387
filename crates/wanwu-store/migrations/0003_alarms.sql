-- Alarms: one row per alarm (open or cleared). The columns that lists filter on are kept
-- beside the full alarm document (JSON, opaque to the store).
CREATE TABLE alarms (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    device TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    last_ts INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX alarms_open ON alarms(status) WHERE status <> 'cleared';
CREATE INDEX alarms_device ON alarms(tenant, device);
