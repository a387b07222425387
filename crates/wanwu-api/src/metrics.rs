//! Prometheus metrics: the recorder, the per-route request middleware and entity counts.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::time::{Duration, Instant};
use wanwu_core::Platform;

/// Latency buckets of `wanwu_http_request_duration_seconds`.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide Prometheus recorder and starts its upkeep task; call once,
/// inside a Tokio runtime.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("wanwu_http_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Counts every request and its latency by method, route template and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("wanwu_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("wanwu_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Sets the `wanwu_entities` gauges from the store.
pub async fn record_entity_counts(platform: &Platform) {
    match platform.store.counts().await {
        Ok(counts) => {
            for (kind, count) in [
                ("tenants", counts.tenants),
                ("api_tokens", counts.api_tokens),
                ("products", counts.products),
                ("devices", counts.devices),
                ("assets", counts.assets),
            ] {
                metrics::gauge!("wanwu_entities", "kind" => kind).set(count as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting entities for metrics failed"),
    }
    metrics::gauge!("wanwu_auth_device_cache_entries").set(platform.auth.cached_devices() as f64);
}
