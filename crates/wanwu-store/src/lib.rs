//! Metadata repositories: one trait, SQLite (embedded default) and PostgreSQL implementations.
//!
//! [`Store`] is the one interface the platform uses for tenants, API tokens, products,
//! devices and assets. Every method is one transaction: it either happens whole or not at
//! all. The trait speaks only in model types and plain values, so a PostgreSQL
//! implementation can sit behind it without touching callers. [`SqliteStore`] is the
//! embedded default: one file in the data directory, WAL mode, migrations embedded.

mod error;
mod page;
mod sqlite;
mod store;

pub use error::StoreError;
pub use page::{DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest};
pub use sqlite::SqliteStore;
pub use store::{
    AlarmFilter, AlarmRecord, ApiTokenRecord, AssetFilter, CommandFilter, CommandRecord,
    DefinitionKind, DefinitionRecord, DeviceAuth, DeviceFilter, EntityCounts, NewDeviceRecord,
    RuleOutcomeRecord, Store, TokenHash, TwinRecord,
};
