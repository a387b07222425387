//! `/health` and `/metrics` at the root, without authentication.

use crate::error::ErrorBody;
use crate::metrics;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(prometheus_metrics))
}

/// Liveness of the process.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` while the platform serves.
    pub status: &'static str,
    /// Version of the running binary.
    pub version: &'static str,
}

/// Tells that the platform serves (no authentication).
#[utoipa::path(get, path = "/health", tag = "system", security(()),
    responses((status = 200, body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Prometheus metrics in text format: requests and latencies by route, entity counts.
#[utoipa::path(get, path = "/metrics", tag = "system", security(()),
    responses((status = 200, content_type = "text/plain", body = String), (status = "5XX", body = ErrorBody)))]
async fn prometheus_metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "no metrics recorder installed").into_response();
    };
    metrics::record_entity_counts(&state.platform).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
