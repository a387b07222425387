-- Tenants, API tokens, products, devices and assets.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    platform_admin INTEGER NOT NULL DEFAULT 0,
    hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_by_tenant ON api_tokens(tenant, id);

CREATE TABLE products (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;

CREATE TABLE assets (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    parent TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    lat REAL,
    lon REAL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, parent) REFERENCES assets(tenant, id)
) WITHOUT ROWID;
CREATE INDEX assets_by_parent ON assets(tenant, parent);

CREATE TABLE devices (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    id TEXT NOT NULL,
    product TEXT NOT NULL,
    name TEXT NOT NULL,
    tags TEXT NOT NULL,
    asset TEXT,
    lat REAL,
    lon REAL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, product) REFERENCES products(tenant, id),
    FOREIGN KEY (tenant, asset) REFERENCES assets(tenant, id)
) WITHOUT ROWID;
CREATE INDEX devices_by_product ON devices(tenant, product, id);
CREATE INDEX devices_by_asset ON devices(tenant, asset, id);
