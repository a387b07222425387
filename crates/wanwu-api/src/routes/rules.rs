//! `/rules`: the tenant's rules (create, list, read, replace, enable, disable, delete, with
//! their counters and recent action outcomes) and `/rules:test`, what a rule would do with a
//! message (dry run; nothing changes).

use super::common::{PageResponse, page_request};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::clock::now_ms;
use wanwu_core::rules::{RuleView, RulesError};
use wanwu_rules::{
    DefinitionErrors, DeviceInfo, Engine, EngineConfig, Input, MemoryDirectory, RuleDef,
    SystemClock, TestContext, TestOutcome,
};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_rule))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, replace_rule, delete_rule))
        .routes(routes!(enable_rule))
        .routes(routes!(disable_rule))
}

/// A rule: its definition (`id`, `name`, `enabled`, `trigger`, `condition`, `for`, `clear`,
/// `actions`), `created_at`, `updated_at`, `metrics` (`evaluations`, `matches`, `firings`,
/// `actions`, `errors`, `last_error`) and `outcomes` (`actions_ok`, `actions_failed`, and
/// the `recent` firings with each action's outcome, webhook attempts included).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct RuleResponse(pub RuleView);

/// A rule definition as JSON (see `POST /rules:test` for the shape; `tenant` is the
/// caller's and may be left out).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct RuleBody(pub serde_json::Value);

/// Page of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A definition error is a 400 `invalid_rule`; the rest as usual.
pub(super) fn rules_error(error: RulesError) -> ApiError {
    match error {
        RulesError::Invalid(errors) => invalid_rule(errors),
        RulesError::Core(error) => error.into(),
    }
}

/// Lists the tenant's rules, ordered by id.
#[utoipa::path(get, path = "/rules", tag = "rules", params(ListQuery),
    responses((status = 200, body = PageResponse<RuleResponse>), (status = "4XX", body = ErrorBody)))]
async fn list_rules(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PageResponse<RuleResponse>>> {
    let page = page_request(query.limit, query.cursor)?;
    let rules = state.platform.rules.list_rules(&scope, &page).await?;
    Ok(Json(PageResponse::of(rules, RuleResponse)))
}

/// Creates a rule; it runs at once when enabled. A rule that does not compile is a 400
/// `invalid_rule` naming each error's field and, in CEL, its line and column.
#[utoipa::path(post, path = "/rules", tag = "rules", request_body = RuleBody,
    responses((status = 201, body = RuleResponse), (status = "4XX", body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<(StatusCode, Json<RuleResponse>)> {
    let rule = state
        .platform
        .rules
        .create_rule(&scope, body.0)
        .await
        .map_err(rules_error)?;
    Ok((StatusCode::CREATED, Json(RuleResponse(rule))))
}

/// Reads a rule with its counters and recent outcomes.
#[utoipa::path(get, path = "/rules/{id}", tag = "rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleResponse), (status = "4XX", body = ErrorBody)))]
async fn get_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleResponse>> {
    Ok(Json(RuleResponse(
        state.platform.rules.get_rule(&scope, &id).await?,
    )))
}

/// Replaces a rule (its counters and per-device state start over).
#[utoipa::path(put, path = "/rules/{id}", tag = "rules", params(("id" = String, Path)),
    request_body = RuleBody,
    responses((status = 200, body = RuleResponse), (status = "4XX", body = ErrorBody)))]
async fn replace_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RuleBody>,
) -> ApiResult<Json<RuleResponse>> {
    let rule = state
        .platform
        .rules
        .update_rule(&scope, &id, body.0)
        .await
        .map_err(rules_error)?;
    Ok(Json(RuleResponse(rule)))
}

/// Deletes a rule; it stops at once.
#[utoipa::path(delete, path = "/rules/{id}", tag = "rules", params(("id" = String, Path)),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.platform.rules.delete_rule(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables a rule.
#[utoipa::path(post, path = "/rules/{id}/enable", tag = "rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleResponse), (status = "4XX", body = ErrorBody)))]
async fn enable_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleResponse>> {
    switch(state, scope, id, true).await
}

/// Disables a rule: kept, not evaluated.
#[utoipa::path(post, path = "/rules/{id}/disable", tag = "rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleResponse), (status = "4XX", body = ErrorBody)))]
async fn disable_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleResponse>> {
    switch(state, scope, id, false).await
}

async fn switch(
    state: AppState,
    scope: wanwu_core::Scope,
    id: String,
    enabled: bool,
) -> ApiResult<Json<RuleResponse>> {
    let rule = state
        .platform
        .rules
        .set_enabled(&scope, &id, enabled)
        .await
        .map_err(rules_error)?;
    Ok(Json(RuleResponse(rule)))
}

/// A rule, a telemetry message of a device of the caller's tenant, and what else to assume.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTestRequest {
    /// The rule definition (its `tenant` is the caller's and may be left out).
    #[schema(value_type = Object)]
    pub rule: serde_json::Value,
    /// The telemetry message.
    pub message: TestMessage,
    /// Previous values, history for aggregates, twin, device (default: the stored device).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub context: serde_json::Value,
}

/// A telemetry message of a dry run.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessage {
    /// Device id.
    pub device: String,
    /// Time, ms since the Unix epoch (default: now).
    pub ts: Option<i64>,
    /// Values by key.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, wanwu_model::Value>,
}

/// What the rule would do: `trigger_matched`, `condition`, `error`, `fires`, `hold_ms`,
/// `actions` (as planned), `action_errors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct TestOutcomeView(pub TestOutcome);

/// 400 `invalid_rule` with every definition error (field path; line and column inside a
/// CEL expression) in `details`.
fn invalid_rule(errors: DefinitionErrors) -> ApiError {
    let message = errors
        .0
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_rule", message)
        .with_details(serde_json::to_value(&errors).unwrap_or_default())
}

/// Evaluates a rule against a message without changing anything: whether the trigger
/// matches, the condition's value, and the actions it would plan. A rule that does not
/// compile is a 400 naming each error's field and, in CEL, its line and column.
#[utoipa::path(post, path = "/rules:test", tag = "rules", request_body = RuleTestRequest,
    responses((status = 200, body = TestOutcomeView), (status = "4XX", body = ErrorBody)))]
async fn test_rule(
    State(state): State<AppState>,
    Caller(scope): Caller,
    JsonBody(request): JsonBody<RuleTestRequest>,
) -> ApiResult<Json<TestOutcomeView>> {
    let mut rule = request.rule;
    if let Some(fields) = rule.as_object_mut() {
        fields.insert("tenant".into(), scope.tenant.clone().into());
    }
    let def = RuleDef::from_json(rule.to_string().as_bytes()).map_err(invalid_rule)?;
    let context: TestContext = if request.context.is_null() {
        TestContext::default()
    } else {
        serde_json::from_value(request.context).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("context: {e}"),
            )
        })?
    };
    let device = state
        .platform
        .registry
        .get_device(&scope, &request.message.device)
        .await?;
    let directory = Arc::new(MemoryDirectory::default());
    directory.put_device(DeviceInfo {
        id: device.id,
        tenant: device.tenant,
        product: device.product,
        name: device.name,
        tags: device.tags,
        attributes: serde_json::Map::new(),
        assets: device.asset.into_iter().collect(),
    });
    let engine = Engine::new(directory, Arc::new(SystemClock), EngineConfig::default());
    let input = Input::telemetry(
        &scope.tenant,
        &request.message.device,
        request.message.ts.unwrap_or_else(now_ms),
        request.message.values,
    );
    let outcome = engine.test(def, &input, &context).map_err(invalid_rule)?;
    Ok(Json(TestOutcomeView(outcome)))
}
