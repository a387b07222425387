//! REST API with OpenAPI, WebSocket live data and the embedded web console.
//!
//! [`app`] builds the whole HTTP service on an [`AppState`]: the REST API under `/api/v1`
//! (one module per route family in [`routes`]), `/health` and `/metrics` at the root, the
//! OpenAPI document at `/api/v1/openapi.json`, Swagger UI at `/api/docs` (served from the
//! binary), MQTT over WebSocket at `/mqtt` ([`mqtt_ws`]), live data over WebSocket at
//! `/api/v1/ws` ([`ws`]), and the web console at `/`.
//! Errors are `{"error": {"code", "message", "details"}}` ([`error`]).

pub mod console;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod mqtt_ws;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod ws;

pub use state::{ApiConfig, AppState};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

/// Path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Path of Swagger UI.
pub const DOCS_PATH: &str = "/api/docs";

/// The HTTP service of the platform.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = openapi::router_with_document();
    let max_body = state.config.max_body_bytes;
    let live = ws::Hub::start(&state.platform);
    router
        .merge(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, openapi))
        .route(mqtt_ws::MQTT_WS_PATH, axum::routing::get(mqtt_ws::upgrade))
        .route_layer(axum::middleware::from_fn(metrics::track_requests))
        .layer(axum::Extension(live))
        .fallback(console::serve)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
