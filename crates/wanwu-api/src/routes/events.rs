//! `GET /devices/{id}/events`: the stored events of a device.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::events::{EventQuery, StoredEvent};
use wanwu_core::tsdb::Order;
use wanwu_model::thing::Severity;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// Filters of the event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// Start, inclusive: ms since the epoch or RFC 3339; default 24 h before `to`.
    pub from: Option<String>,
    /// End, inclusive: ms or RFC 3339; default now.
    pub to: Option<String>,
    /// Only this event (an event id of the product).
    pub name: Option<String>,
    /// Only events of this severity: `info`, `warning` or `critical`.
    #[param(value_type = Option<String>)]
    pub severity: Option<Severity>,
    /// Most events, 1 to 10000 (default 100).
    pub limit: Option<usize>,
    /// `desc` (default: the newest first) or `asc`.
    pub order: Option<String>,
}

/// The events of one device.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceEvents {
    /// Device id.
    pub device: String,
    /// The events, in the requested time order.
    pub events: Vec<StoredEvent>,
}

/// Lists a device's events in time order (newest first unless `order=asc`).
#[utoipa::path(get, path = "/devices/{id}/events", tag = "events",
    params(("id" = String, Path, description = "Device id"), EventListQuery),
    responses((status = 200, body = DeviceEvents), (status = "4XX", body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(query): Query<EventListQuery>,
) -> ApiResult<Json<DeviceEvents>> {
    let order = match query.order.as_deref() {
        None | Some("desc") => Order::Desc,
        Some("asc") => Order::Asc,
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "order {other:?}: expected asc or desc"
            )));
        }
    };
    let filter = EventQuery {
        from: query.from,
        to: query.to,
        name: query.name,
        severity: query.severity,
        limit: query.limit,
        order,
    };
    let events = state.platform.events.query(&scope, &id, &filter).await?;
    Ok(Json(DeviceEvents { device: id, events }))
}
