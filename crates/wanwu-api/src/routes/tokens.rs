//! `/tokens`: API tokens of the tenant (admins). The secret is shown once at creation.

use super::common::{ListQuery, PageResponse};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_model::entity::{ApiToken, ApiTokenPatch, NewApiToken};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(get_token, update_token, delete_token))
}

/// A new API token with its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The token as listed.
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret to send as `Authorization: Bearer <token>`; shown only now.
    #[serde(rename = "token")]
    pub secret: String,
}

/// Lists the tenant's API tokens (admin).
#[utoipa::path(get, path = "/tokens", tag = "tokens", params(ListQuery),
    responses((status = 200, body = PageResponse<ApiToken>), (status = "4XX", body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<ApiToken>>> {
    let page = state
        .platform
        .registry
        .list_api_tokens(&scope, &query.page()?)
        .await?;
    Ok(Json(PageResponse::of(page, |t| t)))
}

/// Creates an API token (admin). `tenant` defaults to the caller's; only the platform admin
/// may name another tenant.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewApiToken,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(input): JsonBody<NewApiToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let created = state
        .platform
        .registry
        .create_api_token(&scope, input)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: created.token,
            secret: created.secret,
        }),
    ))
}

/// Reads an API token (admin); the secret is never shown again.
#[utoipa::path(get, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 200, body = ApiToken), (status = "4XX", body = ErrorBody)))]
async fn get_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiToken>> {
    Ok(Json(
        state.platform.registry.get_api_token(&scope, &id).await?,
    ))
}

/// Renames an API token or changes its role (admin).
#[utoipa::path(patch, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    request_body = ApiTokenPatch,
    responses((status = 200, body = ApiToken), (status = "4XX", body = ErrorBody)))]
async fn update_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<ApiTokenPatch>,
) -> ApiResult<Json<ApiToken>> {
    Ok(Json(
        state
            .platform
            .registry
            .update_api_token(&scope, &id, patch)
            .await?,
    ))
}

/// Revokes an API token (admin).
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_token(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .registry
        .delete_api_token(&scope, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
