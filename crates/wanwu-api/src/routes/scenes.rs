//! `/scenes`: the tenant's scenes, named lists of actions run on demand
//! (`POST /scenes/{id}/run`, like a tap-to-run button).

use super::common::{PageResponse, page_request};
use super::rules::{ListQuery, RuleBody, rules_error};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::rules::{SceneRunView, SceneView};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_scenes, create_scene))
        .routes(routes!(get_scene, replace_scene, delete_scene))
        .routes(routes!(run_scene))
}

/// A scene: `id`, `name`, `actions` (as in rules; actions aimed at devices name them),
/// `created_at`, `updated_at`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct SceneResponse(pub SceneView);

/// One run of a scene: `scene`, `ts`, `actions` (each action's outcome, in order), `errors`
/// (actions that could not be planned).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct SceneRunResponse(pub SceneRunView);

/// Lists the tenant's scenes, ordered by id.
#[utoipa::path(get, path = "/scenes", tag = "scenes", params(ListQuery),
    responses((status = 200, body = PageResponse<SceneResponse>), (status = "4XX", body = ErrorBody)))]
async fn list_scenes(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<SceneResponse>>> {
    let page = page_request(query.limit, query.cursor)?;
    let scenes = state.platform.rules.list_scenes(&scope, &page).await?;
    Ok(Json(PageResponse::of(scenes, SceneResponse)))
}

/// Creates a scene; a definition error is a 400 `invalid_rule` naming its field.
#[utoipa::path(post, path = "/scenes", tag = "scenes", request_body = RuleBody,
    responses((status = 201, body = SceneResponse), (status = "4XX", body = ErrorBody)))]
async fn create_scene(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<(StatusCode, Json<SceneResponse>)> {
    let scene = state
        .platform
        .rules
        .write_scene(&scope, None, body.0)
        .await
        .map_err(rules_error)?;
    Ok((StatusCode::CREATED, Json(SceneResponse(scene))))
}

/// Reads a scene.
#[utoipa::path(get, path = "/scenes/{id}", tag = "scenes", params(("id" = String, Path)),
    responses((status = 200, body = SceneResponse), (status = "4XX", body = ErrorBody)))]
async fn get_scene(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SceneResponse>> {
    Ok(Json(SceneResponse(
        state.platform.rules.get_scene(&scope, &id).await?,
    )))
}

/// Replaces a scene.
#[utoipa::path(put, path = "/scenes/{id}", tag = "scenes", params(("id" = String, Path)),
    request_body = RuleBody,
    responses((status = 200, body = SceneResponse), (status = "4XX", body = ErrorBody)))]
async fn replace_scene(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<Json<SceneResponse>> {
    let scene = state
        .platform
        .rules
        .write_scene(&scope, Some(&id), body.0)
        .await
        .map_err(rules_error)?;
    Ok(Json(SceneResponse(scene)))
}

/// Deletes a scene.
#[utoipa::path(delete, path = "/scenes/{id}", tag = "scenes", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_scene(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.rules.delete_scene(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a scene now and answers with each action's outcome.
#[utoipa::path(post, path = "/scenes/{id}/run", tag = "scenes", params(("id" = String, Path)),
    responses((status = 200, body = SceneRunResponse), (status = "4XX", body = ErrorBody)))]
async fn run_scene(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SceneRunResponse>> {
    let run = state.platform.rules.run_scene(&scope, &id).await?;
    Ok(Json(SceneRunResponse(run)))
}
