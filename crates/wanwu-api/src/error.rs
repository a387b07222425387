//! The error JSON of every failed request: `{"error": {"code", "message", "details"}}` with
//! the matching HTTP status.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use wanwu_core::CoreError;

/// The body of an error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code in snake_case, e.g. `not_found`, `invalid_input`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// More structure when there is some, e.g. the list of field errors
    /// (`[{"path": "properties[2].max", "message": "..."}]`).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl ErrorDetail {
    /// An error without details.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ErrorDetail {
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// A failed request: status, code, message and details.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: serde_json::Value,
}

impl ApiError {
    /// An error without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// 401: no usable credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 400: the query string is wrong.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let message = e.to_string();
        match e {
            CoreError::Invalid(errors) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
                    .with_details(serde_json::to_value(&errors).unwrap_or_default())
            }
            CoreError::NotFound { entity, id } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
                    .with_details(serde_json::json!({"entity": entity, "id": id}))
            }
            CoreError::AlreadyExists { entity, id } => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", message)
                    .with_details(serde_json::json!({"entity": entity, "id": id}))
            }
            CoreError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            CoreError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            CoreError::Internal(_) => {
                tracing::error!(error = %message, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body stays unread: the connection cannot carry another request.
            headers.insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
