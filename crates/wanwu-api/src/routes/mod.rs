//! The routes, one module per family. A new family adds a module and one `merge` line.

pub mod alarms;
pub mod assets;
pub mod commands;
pub mod common;
pub mod devices;
pub mod events;
pub mod products;
pub mod rules;
pub mod scenes;
pub mod system;
pub mod telemetry;
pub mod tenants;
pub mod tokens;
pub mod twin;
pub mod whoami;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// Base path of the REST API.
pub const API_BASE: &str = "/api/v1";

/// The routes under [`API_BASE`] (paths relative to it).
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenants::router())
        .merge(tokens::router())
        .merge(products::router())
        .merge(devices::router())
        .merge(assets::router())
        .merge(alarms::router())
        .merge(rules::router())
        .merge(scenes::router())
        .merge(telemetry::router())
        .merge(twin::router())
        .merge(whoami::router())
        .merge(commands::router())
        .merge(events::router())
        .merge(crate::ws::router())
}

/// The routes at the root: `/health`, `/metrics`.
pub fn root_routes() -> OpenApiRouter<AppState> {
    system::router()
}
