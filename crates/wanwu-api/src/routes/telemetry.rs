//! Telemetry: devices send readings with their own token (`POST /devices/{id}/telemetry`,
//! the same payloads as MQTT); applications read latest values, raw points and calendar
//! buckets (JSON, or CSV streamed for any range), aggregate across an asset's devices, and
//! delete ranges.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Query};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::telemetry::{
    AssetParams, AssetSeries, DeleteParams, DeleteReceipt, DeviceLatest, DeviceSeries, QueryError,
    SeriesParams,
};
use wanwu_core::{IngestError, IngestReceipt};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest_telemetry, query_telemetry, delete_telemetry))
        .routes(routes!(latest_telemetry))
        .routes(routes!(asset_telemetry))
}

/// What an accepted payload stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestReceiptView {
    /// Points (timestamps) stored.
    pub points: usize,
    /// Values stored (one per key and timestamp).
    pub values: usize,
}

impl From<IngestReceipt> for IngestReceiptView {
    fn from(r: IngestReceipt) -> Self {
        IngestReceiptView {
            points: r.points,
            values: r.values,
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "telemetry not stored");
        }
        let body = e.to_json();
        ApiError::new(status, e.code(), e.to_string())
            .with_details(body["error"]["details"].clone())
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Core(e) => e.into(),
            QueryError::BadQuery(message) => ApiError::invalid_query(message),
            QueryError::DiskFull => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                e.to_string(),
            ),
            QueryError::Storage(_) => {
                tracing::error!(error = %e, "telemetry query failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

/// The device token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <device token>"))
}

/// Ingests telemetry of a device, authenticated with the device's own token: `{"key": value}`
/// (server time), `{"ts": ms, "values": {...}}`, or an array of the latter. Keys and values
/// must match the product's properties; any problem rejects the whole payload (422 with the
/// field paths). Answered once the points are durable.
#[utoipa::path(post, path = "/devices/{id}/telemetry", tag = "telemetry",
    params(("id" = String, Path, description = "Device id")),
    request_body(content = Object, content_type = "application/json",
        description = "`{\"pm25\": 21.5}`, `{\"ts\": 1700000000000, \"values\": {...}}` or an array of the latter"),
    security(("device_token" = [])),
    responses((status = 200, body = IngestReceiptView),
        (status = 400, body = ErrorBody, description = "Not JSON, not a telemetry form, or too many points"),
        (status = 401, body = ErrorBody, description = "Not the device's token"),
        (status = 422, body = ErrorBody, description = "Values or timestamps rejected; `details` names each field"),
        (status = 507, body = ErrorBody, description = "Storage full; nothing stored, retry later")))]
async fn ingest_telemetry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReceiptView>> {
    let token = bearer(&headers)?;
    let device = state
        .platform
        .authenticate_device(&id, token)
        .await
        .ok_or_else(|| ApiError::unauthorized("unknown device or wrong device token"))?;
    let receipt = state.platform.ingest_telemetry(&device, &body).await?;
    Ok(Json(receipt.into()))
}

/// Reads the telemetry of a device: raw points (no `interval`) or buckets aligned in `tz`.
/// `format=csv` streams `ts,key,value` rows after a header row, for any range.
#[utoipa::path(get, path = "/devices/{id}/telemetry", tag = "telemetry",
    params(("id" = String, Path, description = "Device id"),
        ("keys" = Option<String>, Query, description = "Comma-separated keys; default every property (every numeric one for avg/min/max/sum)"),
        ("from" = Option<String>, Query, description = "Start, inclusive: ms since the epoch or RFC 3339; default 24 h before `to`"),
        ("to" = Option<String>, Query, description = "End, inclusive: ms or RFC 3339; default now"),
        ("interval" = Option<String>, Query, description = "Bucket width: 30s, 15m, 1h, 1d, 1w, 1mo; absent means raw points"),
        ("agg" = Option<String>, Query, description = "avg (default), min, max, sum, count, first, last"),
        ("tz" = Option<String>, Query, description = "IANA time zone buckets are aligned in, e.g. Asia/Shanghai; default UTC"),
        ("limit" = Option<usize>, Query, description = "Raw points per key: default 10000, at most 100000 (CSV: unlimited)"),
        ("order" = Option<String>, Query, description = "Raw points: asc (default) or desc"),
        ("format" = Option<String>, Query, description = "json (default) or csv")),
    responses((status = 200, content((DeviceSeries = "application/json"), (String = "text/csv"))),
        (status = "4XX", body = ErrorBody)))]
async fn query_telemetry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(params): Query<SeriesParams>,
) -> ApiResult<Response> {
    match params.format.as_deref() {
        None | Some("json") => {
            let series = state.platform.telemetry.query(&scope, &id, &params).await?;
            Ok(Json(series).into_response())
        }
        Some("csv") => {
            let export = state
                .platform
                .telemetry
                .export_csv(&scope, &id, &params)
                .await?;
            let chunks = futures_util::stream::unfold(export, |mut export| async move {
                let chunk = export.next_chunk().await?;
                Some((
                    chunk.map(Bytes::from).map_err(std::io::Error::other),
                    export,
                ))
            });
            let disposition = format!(
                "attachment; filename=\"{}-telemetry.csv\"",
                id.replace('"', "")
            );
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                Body::from_stream(chunks),
            )
                .into_response())
        }
        Some(other) => Err(ApiError::invalid_query(format!(
            "format {other:?}: expected json or csv"
        ))),
    }
}

/// Deletes the points of a device in a time range (operator or admin).
#[utoipa::path(delete, path = "/devices/{id}/telemetry", tag = "telemetry",
    params(("id" = String, Path, description = "Device id"),
        ("keys" = Option<String>, Query, description = "Comma-separated keys; default every property"),
        ("from" = String, Query, description = "Start, inclusive: ms or RFC 3339"),
        ("to" = String, Query, description = "End, inclusive: ms or RFC 3339")),
    responses((status = 200, body = DeleteReceipt), (status = "4XX", body = ErrorBody)))]
async fn delete_telemetry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(params): Query<DeleteParams>,
) -> ApiResult<Json<DeleteReceipt>> {
    Ok(Json(
        state
            .platform
            .telemetry
            .delete(&scope, &id, &params)
            .await?,
    ))
}

/// The latest value of every key of a device, with its time.
#[utoipa::path(get, path = "/devices/{id}/telemetry/latest", tag = "telemetry",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceLatest), (status = "4XX", body = ErrorBody)))]
async fn latest_telemetry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceLatest>> {
    Ok(Json(state.platform.telemetry.latest(&scope, &id).await?))
}

/// Aggregates one key across every device under an asset, in buckets aligned in `tz`;
/// `group=child` gives one series per child asset (e.g. hourly average PM2.5 per district).
#[utoipa::path(get, path = "/assets/{id}/telemetry", tag = "telemetry",
    params(("id" = String, Path, description = "Asset id"),
        ("key" = String, Query, description = "Property key"),
        ("interval" = String, Query, description = "Bucket width: 30s, 15m, 1h, 1d, 1w, 1mo"),
        ("agg" = Option<String>, Query, description = "avg (default), min, max, sum, count, first, last"),
        ("from" = Option<String>, Query, description = "Start, inclusive: ms or RFC 3339; default 24 h before `to`"),
        ("to" = Option<String>, Query, description = "End, inclusive: ms or RFC 3339; default now"),
        ("tz" = Option<String>, Query, description = "IANA time zone; default UTC"),
        ("group" = Option<String>, Query, description = "`child`: one series per child asset")),
    responses((status = 200, body = AssetSeries), (status = "4XX", body = ErrorBody)))]
async fn asset_telemetry(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(params): Query<AssetParams>,
) -> ApiResult<Json<AssetSeries>> {
    Ok(Json(
        state
            .platform
            .telemetry
            .asset_aggregate(&scope, &id, &params)
            .await?,
    ))
}
