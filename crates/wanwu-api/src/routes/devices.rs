//! `/devices`: the tenant's devices, their tokens, and batch creation.

use super::common::{DeviceStatus, DeviceView, DeviceWithTokenView, PageResponse, page_request};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::Scope;
use wanwu_core::registry::DeviceWithToken;
use wanwu_model::entity::{Device, DevicePatch, NewDevice};
use wanwu_store::{DeviceFilter, MAX_LIMIT, Page, PageRequest};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, create_device))
        .routes(routes!(create_device_batch))
        .routes(routes!(get_device, update_device, delete_device))
        .routes(routes!(rotate_device_token))
}

/// Filters and page of the device list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceListQuery {
    /// Only devices of this product.
    pub product: Option<String>,
    /// Only devices directly under this asset (see `/assets/{id}/devices` for a subtree).
    pub asset: Option<String>,
    /// Only devices with this tag, as `key:value`.
    pub tag: Option<String>,
    /// Only devices that are `online` or `offline` now.
    pub status: Option<DeviceStatus>,
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Devices to create at once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceBatch {
    /// 1 to 1000 devices; all are created or none.
    pub devices: Vec<NewDevice>,
}

/// The devices a batch created, each with its token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedDevices {
    /// In the order of the request.
    pub devices: Vec<DeviceWithTokenView>,
}

fn view(state: &AppState, device: Device) -> DeviceView {
    let presence = state.platform.presence.get(&device.tenant, &device.id);
    DeviceView::new(device, presence)
}

fn with_token(state: &AppState, created: DeviceWithToken) -> DeviceWithTokenView {
    DeviceWithTokenView {
        device: view(state, created.device),
        token: created.token,
    }
}

/// Lists the tenant's devices.
#[utoipa::path(get, path = "/devices", tag = "devices", params(DeviceListQuery),
    responses((status = 200, body = PageResponse<DeviceView>), (status = "4XX", body = ErrorBody)))]
async fn list_devices(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<DeviceListQuery>,
) -> ApiResult<Json<PageResponse<DeviceView>>> {
    let tag = match query.tag {
        Some(tag) => match tag.split_once(':') {
            Some((key, value)) => Some((key.to_owned(), value.to_owned())),
            None => return Err(ApiError::invalid_query("tag must be key:value")),
        },
        None => None,
    };
    let filter = DeviceFilter {
        product: query.product,
        asset: query.asset,
        tag,
    };
    let page = page_request(query.limit, query.cursor)?;
    let devices = match query.status {
        None => {
            state
                .platform
                .registry
                .list_devices(&scope, &filter, &page)
                .await?
        }
        Some(status) => list_by_status(&state, &scope, &filter, page, status).await?,
    };
    Ok(Json(PageResponse::of(devices, |d| view(&state, d))))
}

/// A page of the devices matching `filter` whose connection state is `status`. Presence
/// lives in memory, so the store's list is read in large pages and filtered here; the
/// cursor is the last id returned, as for unfiltered lists.
async fn list_by_status(
    state: &AppState,
    scope: &Scope,
    filter: &DeviceFilter,
    page: PageRequest,
    status: DeviceStatus,
) -> Result<Page<Device>, ApiError> {
    let limit = page.effective_limit();
    let mut cursor = page.cursor;
    let mut matching = Vec::new();
    loop {
        let batch = state
            .platform
            .registry
            .list_devices(
                scope,
                filter,
                &PageRequest {
                    limit: Some(MAX_LIMIT),
                    cursor,
                },
            )
            .await?;
        for device in batch.items {
            let online = state
                .platform
                .presence
                .get(&device.tenant, &device.id)
                .online;
            if online == (status == DeviceStatus::Online) {
                matching.push(device);
            }
        }
        cursor = batch.next_cursor;
        if cursor.is_none() || matching.len() > limit as usize {
            return Ok(Page::from_rows(matching, limit, |d| &d.id));
        }
    }
}

/// Creates a device; the answer carries its token, shown only now.
#[utoipa::path(post, path = "/devices", tag = "devices", request_body = NewDevice,
    responses((status = 201, body = DeviceWithTokenView), (status = "4XX", body = ErrorBody)))]
async fn create_device(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(input): JsonBody<NewDevice>,
) -> ApiResult<(StatusCode, Json<DeviceWithTokenView>)> {
    let created = state.platform.registry.create_device(&scope, input).await?;
    Ok((StatusCode::CREATED, Json(with_token(&state, created))))
}

/// Creates up to 1000 devices at once, all or none; errors name `devices[i].field`.
#[utoipa::path(post, path = "/devices:batch", tag = "devices", request_body = DeviceBatch,
    responses((status = 201, body = CreatedDevices), (status = "4XX", body = ErrorBody)))]
async fn create_device_batch(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(batch): JsonBody<DeviceBatch>,
) -> ApiResult<(StatusCode, Json<CreatedDevices>)> {
    let created = state
        .platform
        .registry
        .create_device_batch(&scope, batch.devices)
        .await?;
    let devices = created.into_iter().map(|d| with_token(&state, d)).collect();
    Ok((StatusCode::CREATED, Json(CreatedDevices { devices })))
}

/// Reads a device with its connection state.
#[utoipa::path(get, path = "/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = "4XX", body = ErrorBody)))]
async fn get_device(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceView>> {
    let device = state.platform.registry.get_device(&scope, &id).await?;
    Ok(Json(view(&state, device)))
}

/// Changes a device's name, tags, asset or location.
#[utoipa::path(patch, path = "/devices/{id}", tag = "devices", params(("id" = String, Path)),
    request_body = DevicePatch,
    responses((status = 200, body = DeviceView), (status = "4XX", body = ErrorBody)))]
async fn update_device(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<DevicePatch>,
) -> ApiResult<Json<DeviceView>> {
    let device = state
        .platform
        .registry
        .update_device(&scope, &id, patch)
        .await?;
    Ok(Json(view(&state, device)))
}

/// Deletes a device; its token stops working at once.
#[utoipa::path(delete, path = "/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_device(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.registry.delete_device(&scope, &id).await?;
    state.platform.presence.remove(&scope.tenant, &id);
    state.platform.twins.forget(&scope.tenant, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a device a new token (returned, shown only now); the old one stops working.
#[utoipa::path(post, path = "/devices/{id}/token", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, body = DeviceWithTokenView), (status = "4XX", body = ErrorBody)))]
async fn rotate_device_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceWithTokenView>> {
    let rotated = state
        .platform
        .registry
        .rotate_device_token(&scope, &id)
        .await?;
    Ok(Json(with_token(&state, rotated)))
}
