//! Errors of platform operations; each maps to one HTTP status.

use wanwu_model::ValidationErrors;
use wanwu_store::StoreError;

/// Why a platform operation failed. Nothing was changed when an error is returned.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The input is well-formed but wrong (422); every field error is listed.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// No such entity in the caller's tenant (404).
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// Kind of entity.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// The id is taken (409).
    #[error("{entity} {id:?} already exists")]
    AlreadyExists {
        /// Kind of entity.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// The change would break an invariant (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller's role or tenant does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Something failed inside the platform (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ValidationErrors> for CoreError {
    fn from(e: ValidationErrors) -> Self {
        CoreError::Invalid(e)
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => CoreError::NotFound { entity, id },
            StoreError::AlreadyExists { entity, id } => CoreError::AlreadyExists { entity, id },
            StoreError::MissingReference { path, entity, id } => CoreError::Invalid(
                ValidationErrors::single(path, format!("{entity} {id:?} does not exist")),
            ),
            StoreError::Conflict(message) => CoreError::Conflict(message),
            StoreError::Backend(message) => CoreError::Internal(message),
        }
    }
}
