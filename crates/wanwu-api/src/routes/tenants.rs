//! `/tenants`: managed by the platform admin.

use super::common::{ListQuery, PageResponse};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_model::entity::{NewTenant, Tenant, TenantPatch};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// Lists tenants (platform admin).
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, body = PageResponse<Tenant>), (status = "4XX", body = ErrorBody)))]
async fn list_tenants(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<Tenant>>> {
    let page = state
        .platform
        .registry
        .list_tenants(&scope, &query.page()?)
        .await?;
    Ok(Json(PageResponse::of(page, |t| t)))
}

/// Creates a tenant (platform admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = "4XX", body = ErrorBody)))]
async fn create_tenant(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(input): JsonBody<NewTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let tenant = state.platform.registry.create_tenant(&scope, input).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// Reads a tenant (platform admin).
#[utoipa::path(get, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    responses((status = 200, body = Tenant), (status = "4XX", body = ErrorBody)))]
async fn get_tenant(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(state.platform.registry.get_tenant(&scope, &id).await?))
}

/// Renames a tenant (platform admin).
#[utoipa::path(patch, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    request_body = TenantPatch,
    responses((status = 200, body = Tenant), (status = "4XX", body = ErrorBody)))]
async fn update_tenant(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<TenantPatch>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(
        state
            .platform
            .registry
            .update_tenant(&scope, &id, patch)
            .await?,
    ))
}

/// Deletes an empty tenant and its API tokens (platform admin).
#[utoipa::path(delete, path = "/tenants/{id}", tag = "tenants", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_tenant(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.registry.delete_tenant(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
