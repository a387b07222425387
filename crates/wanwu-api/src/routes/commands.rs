//! Commands to devices: `POST /devices/{id}/commands/{name}` sends one (waiting for the
//! reply, or queued), `GET /commands/{id}` reads one, `GET /devices/{id}/commands` lists a
//! device's commands.

use super::common::{PageResponse, page_request};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, JsonBody, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::commands::{Command, CommandError, CommandMode, SendCommand};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_command))
        .routes(routes!(get_command))
        .routes(routes!(list_device_commands))
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let message = e.to_string();
        match e {
            CommandError::Core(e) => e.into(),
            CommandError::DeviceOffline(device) => {
                ApiError::new(StatusCode::CONFLICT, "device_offline", message)
                    .with_details(serde_json::json!({"device": device}))
            }
            CommandError::TimedOut { command, .. } => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
                    .with_details(serde_json::to_value(&command).unwrap_or_default())
            }
        }
    }
}

/// Status filter and page of a device's command list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommandListQuery {
    /// Only this status: `queued`, `sent`, `succeeded`, `failed` or `expired`.
    pub status: Option<String>,
    /// Most entries to return, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Sends a command of the device's product. Mode `wait` (default) answers with the device's
/// reply (200; `status` `succeeded` or `failed`), or 504 when none came within `timeout_ms`
/// (the command is then `failed`), or 409 `device_offline`. Mode `queue` answers 202 at once;
/// the device gets the command while, or as soon as, it is connected, until `expires_at`.
#[utoipa::path(post, path = "/devices/{id}/commands/{name}", tag = "commands",
    params(("id" = String, Path, description = "Device id"),
        ("name" = String, Path, description = "Command id of the product")),
    request_body = SendCommand,
    responses((status = 200, body = Command, description = "Mode wait: the device replied"),
        (status = 202, body = Command, description = "Mode queue: stored, delivered when possible"),
        (status = 404, body = ErrorBody, description = "Unknown device or command"),
        (status = 409, body = ErrorBody, description = "Mode wait: the device is offline"),
        (status = 422, body = ErrorBody, description = "Parameters rejected; `details` names each field"),
        (status = 504, body = ErrorBody, description = "Mode wait: no reply in time; `details` is the failed command"),
        (status = "4XX", body = ErrorBody)))]
async fn send_command(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path((id, name)): Path<(String, String)>,
    JsonBody(request): JsonBody<SendCommand>,
) -> ApiResult<(StatusCode, Json<Command>)> {
    let mode = request.mode;
    let command = state
        .platform
        .commands
        .send(&scope, &id, &name, request)
        .await?;
    let status = match mode {
        CommandMode::Wait => StatusCode::OK,
        CommandMode::Queue => StatusCode::ACCEPTED,
    };
    Ok((status, Json(command)))
}

/// Reads a command: its parameters, status, result or error and timestamps.
#[utoipa::path(get, path = "/commands/{id}", tag = "commands", params(("id" = String, Path)),
    responses((status = 200, body = Command), (status = "4XX", body = ErrorBody)))]
async fn get_command(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Command>> {
    Ok(Json(state.platform.commands.get(&scope, &id).await?))
}

/// Lists the commands of a device, oldest first.
#[utoipa::path(get, path = "/devices/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "Device id"), CommandListQuery),
    responses((status = 200, body = PageResponse<Command>), (status = "4XX", body = ErrorBody)))]
async fn list_device_commands(
    State(state): State<AppState>,
    Caller(scope): Caller,
    Path(id): Path<String>,
    Query(query): Query<CommandListQuery>,
) -> ApiResult<Json<PageResponse<Command>>> {
    let page = page_request(query.limit, query.cursor)?;
    let commands = state
        .platform
        .commands
        .list(&scope, &id, query.status.as_deref(), &page)
        .await?;
    Ok(Json(PageResponse::of(commands, |c| c)))
}
