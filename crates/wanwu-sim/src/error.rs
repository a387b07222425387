//! Why a simulation run could not start.

/// A failure to provision or to start a run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The options make no sense.
    #[error("invalid option: {0}")]
    Options(String),
    /// The platform could not be reached or its answer not read.
    #[error("{context}: {source}")]
    Http {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The platform refused a request.
    #[error("{context}: HTTP {status}: {message}")]
    Api {
        /// What was being done.
        context: String,
        /// HTTP status.
        status: u16,
        /// The platform's error message (or body).
        message: String,
    },
    /// A product of the same id exists with another definition; it is left as it is.
    #[error("product {0:?} exists with a different definition; delete it or use another tenant")]
    ProductConflict(String),
}
