-- Commands sent to devices: one row per command, from queued to its final status. The
-- columns that lists and the delivery/expiry sweeps filter on are kept beside the whole
-- command document (JSON, opaque to the store). Deleting the device deletes its commands.
CREATE TABLE commands (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, device) REFERENCES devices(tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX commands_device ON commands(tenant, device, id);
CREATE INDEX commands_unfinished ON commands(expires_at) WHERE status IN ('queued', 'sent');
