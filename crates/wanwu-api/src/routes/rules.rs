//! `/rules:test`: what a rule would do with a message (dry run; nothing changes).

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::clock::now_ms;
use wanwu_rules::{
    DefinitionErrors, DeviceInfo, Engine, EngineConfig, Input, MemoryDirectory, RuleDef,
    SystemClock, TestContext, TestOutcome,
};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_rule))
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
