//! `/devices/{id}/shadow`: the device twin, and its desired state as a JSON merge patch.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::twin::{TwinError, TwinView};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_shadow))
        .routes(routes!(patch_desired))
}

impl From<TwinError> for ApiError {
    fn from(e: TwinError) -> Self {
        match e {
            TwinError::Core(e) => e.into(),
            TwinError::VersionMismatch { expected, actual } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                format!("the twin is at version {actual}, not {expected}"),
            )
            .with_details(serde_json::json!({"expected": expected, "version": actual})),
        }
    }
}

/// The twin with its version as `ETag`.
fn twin_response(twin: TwinView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", twin.version));
    let mut response = Json(twin).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The version named by `If-Match` (`7` or `"7"`), if the header is there.
fn if_match(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "If-Match must be the twin's version, e.g. If-Match: 7",
            )
        })
}

/// Reads a device's twin: reported, desired, delta (desired keys that differ from
/// reported), version and per-key times.
#[utoipa::path(get, path = "/devices/{id}/shadow", tag = "twin", params(("id" = String, Path)),
    responses((status = 200, body = TwinView), (status = "4XX", body = ErrorBody)))]
async fn get_shadow(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let twin = state.platform.twins.get(&scope, &id).await?;
    Ok(twin_response(twin))
}

/// Changes the desired state with a JSON merge patch: keys are read_write properties,
/// `null` deletes a key. `If-Match: <version>` makes the change conditional (412 when the
/// twin is at another version). The device gets the new delta.
#[utoipa::path(patch, path = "/devices/{id}/shadow/desired", tag = "twin",
    params(("id" = String, Path), ("If-Match" = Option<u64>, Header, description = "Expected version")),
    request_body(content = Object, description = "Merge patch of desired property values"),
    responses((status = 200, body = TwinView), (status = 412, body = ErrorBody),
        (status = "4XX", body = ErrorBody)))]
async fn patch_desired(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    let expected = if_match(&headers)?;
    let twin = state
        .platform
        .twins
        .patch_desired(&scope, &id, &patch, expected)
        .await?;
    Ok(twin_response(twin))
}
