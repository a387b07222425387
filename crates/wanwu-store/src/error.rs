//! Errors of the metadata store.

/// Why a store operation failed. Nothing was changed when an error is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The entity does not exist (in the tenant asked).
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// Kind of entity, e.g. `device`.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// An entity with the same id (or token) already exists.
    #[error("{entity} {id:?} already exists")]
    AlreadyExists {
        /// Kind of entity.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A field refers to an entity that does not exist, e.g. a device's product.
    #[error("{path}: {entity} {id:?} does not exist")]
    MissingReference {
        /// Path of the referring field in the input, e.g. `devices[3].product`.
        path: String,
        /// Kind of the referred entity.
        entity: &'static str,
        /// The id referred to.
        id: String,
    },
    /// The change would break an invariant, e.g. deleting a product that devices still use.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}
