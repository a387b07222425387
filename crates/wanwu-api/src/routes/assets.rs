//! `/assets`: the tenant's tree of places and things, and the devices under a subtree.

use super::common::{DeviceView, ListQuery, PageResponse, page_request};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_model::entity::{Asset, AssetPatch, NewAsset};
use wanwu_store::AssetFilter;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_assets, create_asset))
        .routes(routes!(get_asset, update_asset, delete_asset))
        .routes(routes!(list_asset_devices))
}

/// Filters and page of the asset list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetListQuery {
    /// Only children of this asset.
    pub parent: Option<String>,
    /// `true`: only root assets (without parent).
    pub root: Option<bool>,
    /// Only assets of this kind.
    pub kind: Option<String>,
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the tenant's assets.
#[utoipa::path(get, path = "/assets", tag = "assets", params(AssetListQuery),
    responses((status = 200, body = PageResponse<Asset>), (status = "4XX", body = ErrorBody)))]
async fn list_assets(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<AssetListQuery>,
) -> ApiResult<Json<PageResponse<Asset>>> {
    let filter = AssetFilter {
        parent: query.parent,
        roots_only: query.root.unwrap_or(false),
        kind: query.kind,
    };
    let page = page_request(query.limit, query.cursor)?;
    let assets = state
        .platform
        .registry
        .list_assets(&scope, &filter, &page)
        .await?;
    Ok(Json(PageResponse::of(assets, |a| a)))
}

/// Creates an asset under an existing parent, or as a root.
#[utoipa::path(post, path = "/assets", tag = "assets", request_body = NewAsset,
    responses((status = 201, body = Asset), (status = "4XX", body = ErrorBody)))]
async fn create_asset(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(input): JsonBody<NewAsset>,
) -> ApiResult<(StatusCode, Json<Asset>)> {
    let asset = state.platform.registry.create_asset(&scope, input).await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

/// Reads an asset.
#[utoipa::path(get, path = "/assets/{id}", tag = "assets", params(("id" = String, Path)),
    responses((status = 200, body = Asset), (status = "4XX", body = ErrorBody)))]
async fn get_asset(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(state.platform.registry.get_asset(&scope, &id).await?))
}

/// Changes an asset; moving it below itself is refused (409).
#[utoipa::path(patch, path = "/assets/{id}", tag = "assets", params(("id" = String, Path)),
    request_body = AssetPatch,
    responses((status = 200, body = Asset), (status = "4XX", body = ErrorBody)))]
async fn update_asset(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<AssetPatch>,
) -> ApiResult<Json<Asset>> {
    Ok(Json(
        state
            .platform
            .registry
            .update_asset(&scope, &id, patch)
            .await?,
    ))
}

/// Deletes an asset without children or devices.
#[utoipa::path(delete, path = "/assets/{id}", tag = "assets", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_asset(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.registry.delete_asset(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the devices under the asset or anywhere below it.
#[utoipa::path(get, path = "/assets/{id}/devices", tag = "assets",
    params(("id" = String, Path), ListQuery),
    responses((status = 200, body = PageResponse<DeviceView>), (status = "4XX", body = ErrorBody)))]
async fn list_asset_devices(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<DeviceView>>> {
    let devices = state
        .platform
        .registry
        .devices_under_asset(&scope, &id, &query.page()?)
        .await?;
    Ok(Json(PageResponse::of(devices, |d| {
        let presence = state.platform.presence.get(&d.tenant, &d.id);
        DeviceView::new(d, presence)
    })))
}
