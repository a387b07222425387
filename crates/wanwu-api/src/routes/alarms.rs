//! `/alarms`: the tenant's alarms, their list and lifecycle (acknowledge, clear).

use super::common::{PageResponse, page_request};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::alarms::{AlarmQuery, RaiseAlarm};
use wanwu_core::clock::now_ms;
use wanwu_rules::Alarm;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alarms, raise_alarm))
        .routes(routes!(get_alarm))
        .routes(routes!(acknowledge_alarm))
        .routes(routes!(clear_alarm))
}

/// An alarm: `id`, `tenant`, `device`, `type`, `severity`, `status` (active, acknowledged,
/// cleared), `first_ts`, `last_ts`, `count`, `details`, `acknowledged_ts`, `cleared_ts`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct AlarmView(pub Alarm);

/// Filters and page of the alarm list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmListQuery {
    /// Only this status: `active`, `acknowledged` or `cleared`.
    pub status: Option<String>,
    /// Only this severity: `info`, `minor`, `major` or `critical`.
    pub severity: Option<String>,
    /// Only alarms of this device.
    pub device: Option<String>,
    /// Only alarms of devices under this asset (anywhere below it).
    pub asset: Option<String>,
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the tenant's alarms, ordered by id.
#[utoipa::path(get, path = "/alarms", tag = "alarms", params(AlarmListQuery),
    responses((status = 200, body = PageResponse<AlarmView>), (status = "4XX", body = ErrorBody)))]
async fn list_alarms(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<AlarmListQuery>,
) -> ApiResult<Json<PageResponse<AlarmView>>> {
    let page = page_request(query.limit, query.cursor)?;
    let filter = AlarmQuery {
        status: query.status,
        severity: query.severity,
        device: query.device,
        asset: query.asset,
    };
    let alarms = state.platform.alarms.list(&scope, &filter, &page).await?;
    Ok(Json(PageResponse::of(alarms, AlarmView)))
}

/// Raises an alarm on a device by hand; raising the type of an open alarm of the device
/// again counts one more occurrence of it (200) instead of opening another (201).
#[utoipa::path(post, path = "/alarms", tag = "alarms", request_body = RaiseAlarm,
    responses((status = 201, body = AlarmView), (status = 200, body = AlarmView),
        (status = "4XX", body = ErrorBody)))]
async fn raise_alarm(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(input): JsonBody<RaiseAlarm>,
) -> ApiResult<(StatusCode, Json<AlarmView>)> {
    let change = state.platform.alarms.raise(&scope, input, now_ms()).await?;
    let status = match change.kind {
        wanwu_rules::AlarmChangeKind::Raised => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(AlarmView(change.alarm))))
}

/// Reads an alarm.
#[utoipa::path(get, path = "/alarms/{id}", tag = "alarms", params(("id" = String, Path)),
    responses((status = 200, body = AlarmView), (status = "4XX", body = ErrorBody)))]
async fn get_alarm(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AlarmView>> {
    Ok(Json(AlarmView(
        state.platform.alarms.get(&scope, &id).await?,
    )))
}

/// Acknowledges an active alarm (409 when it already is, or is cleared).
#[utoipa::path(post, path = "/alarms/{id}/ack", tag = "alarms", params(("id" = String, Path)),
    responses((status = 200, body = AlarmView), (status = "4XX", body = ErrorBody)))]
async fn acknowledge_alarm(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AlarmView>> {
    let alarm = state
        .platform
        .alarms
        .acknowledge(&scope, &id, now_ms())
        .await?;
    Ok(Json(AlarmView(alarm)))
}

/// Clears an open alarm (409 when it is cleared already).
#[utoipa::path(post, path = "/alarms/{id}/clear", tag = "alarms", params(("id" = String, Path)),
    responses((status = 200, body = AlarmView), (status = "4XX", body = ErrorBody)))]
async fn clear_alarm(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AlarmView>> {
    let alarm = state.platform.alarms.clear(&scope, &id, now_ms()).await?;
    Ok(Json(AlarmView(alarm)))
}
