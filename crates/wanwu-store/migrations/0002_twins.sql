-- The device twin: one JSON document (reported, desired, per-key metadata) per device,
-- with its version. Deleting the device deletes its twin.
CREATE TABLE twins (
    tenant TEXT NOT NULL,
    device TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant, device),
    FOREIGN KEY (tenant, device) REFERENCES devices(tenant, id) ON DELETE CASCADE
) WITHOUT ROWID;
