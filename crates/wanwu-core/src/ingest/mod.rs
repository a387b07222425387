//! The ingest pipeline: the one path every reading takes, whichever adapter received it.
//!
//! A payload of an authenticated device (MQTT `devices/{id}/telemetry`, HTTP
//! `POST /devices/{id}/telemetry`) is
//! 1. parsed and validated against the device's product (cached in memory, see
//!    [`crate::product_cache`]): every key a property, every value of its type and range;
//!    at most [`IngestConfig::max_batch_points`] points; no timestamp further in the future
//!    than [`IngestConfig::max_future_skew`] (old timestamps are fine: late data from edge
//!    nodes lands where it belongs). Any problem rejects the whole payload;
//! 2. written to the time-series store as one atomic batch. [`Ingest::ingest`] returns only
//!    once the batch is in the write-ahead log (fsynced first under `fsync = "always"`), so
//!    an acknowledgement (PUBACK, HTTP 2xx) means the points survive `kill -9`;
//! 3. recorded as the latest value per (device, key) ([`LatestValues`]);
//! 4. offered to the processors (live subscribers, twin, rules) through bounded queues
//!    ([`IngestFanout`]); a full queue drops and counts, it never holds ingestion up.
//!
//! Metrics: `wanwu_ingest_messages_total` (accepted payloads), `wanwu_ingest_points_total`
//! (stored values), `wanwu_ingest_rejected_total{reason}`, `wanwu_ingest_latency_seconds`.

mod convert;
mod error;
mod ingested;
mod latest;

pub use convert::{from_stored, to_stored};
pub use error::{
    IngestError, MQTT_PAYLOAD_FORMAT_INVALID, MQTT_QUOTA_EXCEEDED, MQTT_UNSPECIFIED_ERROR,
};
pub use ingested::Ingested;

/// The processors fed with stored telemetry, one batch per accepted payload.
pub type IngestFanout = crate::fanout::Fanout<Arc<Ingested>>;
pub use latest::{LatestValue, LatestValues};

use crate::auth::DevicePrincipal;
use crate::clock::now_ms;
use crate::registry::Registry;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wanwu_model::message::MAX_POINTS_PER_PAYLOAD;
use wanwu_model::thing::Product;
use wanwu_model::{Point, ValidationErrors, parse_telemetry};
use wanwu_tsdb::{Batch, Engine, SeriesKey};

/// The largest batch size a configuration may set: points in one payload.
pub const MAX_BATCH_POINTS: usize = MAX_POINTS_PER_PAYLOAD;

/// Limits of the ingest pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestConfig {
    /// Most points (timestamps) one payload may carry; default and upper limit
    /// [`MAX_BATCH_POINTS`].
    pub max_batch_points: usize,
    /// How far in the future a timestamp may lie (device clocks run ahead); default 5 minutes.
    pub max_future_skew: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_batch_points: MAX_BATCH_POINTS,
            max_future_skew: Duration::from_secs(300),
        }
    }
}

/// How telemetry is stored and ingested.
#[derive(Clone, Debug, Default)]
pub struct TelemetryOptions {
    /// Options of the time-series engine (fsync policy, partition width, retention, ...).
    pub tsdb: wanwu_tsdb::Options,
    /// Limits of the ingest pipeline.
    pub ingest: IngestConfig,
}

/// What was stored of an accepted payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IngestReceipt {
    /// Points (timestamps) stored.
    pub points: usize,
    /// Values stored (one per key and timestamp).
    pub values: usize,
}

/// The ingest pipeline of a platform.
pub struct Ingest {
    tsdb: Engine,
    registry: Registry,
    latest: LatestValues,
    fanout: IngestFanout,
    config: IngestConfig,
    /// Registered at the first payload: the platform opens before the binary installs its
    /// metrics recorder, and handles taken earlier would count nowhere.
    metrics: OnceLock<IngestMetrics>,
}

/// Handles of the pipeline's metrics, registered once.
struct IngestMetrics {
    messages: metrics::Counter,
    points: metrics::Counter,
    latency: metrics::Histogram,
}

impl IngestMetrics {
    /// Handles registered with the global recorder installed now (no-ops without one).
    fn register() -> Self {
        IngestMetrics {
            messages: metrics::counter!("wanwu_ingest_messages_total"),
            points: metrics::counter!("wanwu_ingest_points_total"),
            latency: metrics::histogram!("wanwu_ingest_latency_seconds"),
        }
    }
}

impl Ingest {
    /// A pipeline storing into `tsdb`, validating against the products of `registry`.
    pub fn new(tsdb: Engine, registry: Registry, config: IngestConfig) -> Self {
        Ingest {
            tsdb,
            registry,
            latest: LatestValues::default(),
            fanout: IngestFanout::new("ingest"),
            config,
            metrics: OnceLock::new(),
        }
    }

    /// Validates and stores a telemetry payload of `device`; returns once it is durable.
    pub async fn ingest(
        &self,
        device: &DevicePrincipal,
        payload: &[u8],
    ) -> Result<IngestReceipt, IngestError> {
        let mut results = self.ingest_many(device, &[payload]).await;
        results
            .pop()
            .expect("ingest_many gives one result per payload")
    }

    /// Validates and stores several telemetry payloads of `device` (a client's pipelined
    /// messages, in order) with one write to the store; returns once they are durable, with
    /// one result per payload. Each payload is accepted or rejected on its own, exactly as
    /// [`Ingest::ingest`] would: a rejected payload stores nothing and holds none of the
    /// others back. Later payloads win over earlier ones at equal timestamps.
    pub async fn ingest_many(
        &self,
        device: &DevicePrincipal,
        payloads: &[&[u8]],
    ) -> Vec<Result<IngestReceipt, IngestError>> {
        let started = Instant::now();
        let results = self.store_many(device, payloads).await;
        let elapsed = started.elapsed().as_secs_f64();
        let counted = self.metrics.get_or_init(IngestMetrics::register);
        for result in &results {
            match result {
                Ok(receipt) => {
                    counted.messages.increment(1);
                    counted.points.increment(receipt.values as u64);
                    counted.latency.record(elapsed);
                }
                Err(e) => {
                    metrics::counter!("wanwu_ingest_rejected_total", "reason" => e.reason())
                        .increment(1);
                }
            }
        }
        results
    }

    async fn store_many(
        &self,
        device: &DevicePrincipal,
        payloads: &[&[u8]],
    ) -> Vec<Result<IngestReceipt, IngestError>> {
        let product = match self
            .registry
            .product_of(&device.tenant, &device.product)
            .await
        {
            Ok(product) => product,
            Err(e) => {
                let error = IngestError::Storage(format!("product of {}: {e}", device.device));
                return payloads.iter().map(|_| Err(error.clone())).collect();
            }
        };
        let now = now_ms();
        let mut results: Vec<Result<Vec<Point>, IngestError>> = payloads
            .iter()
            .map(|payload| self.validate(&product, payload, now))
            .collect();
        let accepted: Vec<&[Point]> = results
            .iter()
            .filter_map(|r| r.as_ref().ok().map(Vec::as_slice))
            .collect();
        let written = match accepted.len() {
            0 => Ok(()),
            _ => self.tsdb.write(batch_of(device, &accepted)).await,
        };
        match written {
            Ok(()) => {}
            Err(wanwu_tsdb::Error::TypeMismatch { .. }) if accepted.len() > 1 => {
                // One payload holds a value of another type than its stored series: store the
                // payloads one by one so that only that one is refused.
                for result in results.iter_mut() {
                    if let Ok(points) = result
                        && let Err(e) = self.tsdb.write(batch_of(device, &[points])).await
                    {
                        *result = Err(e.into());
                    }
                }
            }
            Err(e) => {
                let error = IngestError::from(e);
                for result in results.iter_mut().filter(|r| r.is_ok()) {
                    *result = Err(error.clone());
                }
            }
        }
        self.publish_stored(device, results)
    }

    /// Parses and checks one payload against `product`.
    fn validate(
        &self,
        product: &Product,
        payload: &[u8],
        now: i64,
    ) -> Result<Vec<Point>, IngestError> {
        let points = parse_telemetry(product, payload, now)?;
        if points.len() > self.config.max_batch_points {
            return Err(IngestError::TooManyPoints {
                got: points.len(),
                max: self.config.max_batch_points,
            });
        }
        self.check_skew(&points, payload, now)?;
        Ok(points)
    }

    /// Records stored points as latest values and offers them to the processors (one
    /// [`Ingested`] for all payloads stored together); the receipts.
    fn publish_stored(
        &self,
        device: &DevicePrincipal,
        results: Vec<Result<Vec<Point>, IngestError>>,
    ) -> Vec<Result<IngestReceipt, IngestError>> {
        let mut stored = Vec::new();
        let receipts = results
            .into_iter()
            .map(|result| {
                result.map(|mut points| {
                    let receipt = IngestReceipt {
                        points: points.len(),
                        values: points.iter().map(|p| p.values.len()).sum(),
                    };
                    stored.append(&mut points);
                    receipt
                })
            })
            .collect();
        if !stored.is_empty() {
            self.latest.record(&device.tenant, &device.device, &stored);
            if self.fanout.processors() > 0 {
                self.fanout.publish(Arc::new(Ingested {
                    tenant: device.tenant.clone(),
                    device: device.device.clone(),
                    product: device.product.clone(),
                    points: stored,
                }));
            }
        }
        receipts
    }

    /// Rejects timestamps beyond the allowed skew, naming each (`ts` or `[i].ts`).
    fn check_skew(&self, points: &[Point], payload: &[u8], now: i64) -> Result<(), IngestError> {
        let limit = now.saturating_add(self.config.max_future_skew.as_millis() as i64);
        let array = payload.trim_ascii_start().first() == Some(&b'[');
        let mut errors = ValidationErrors::default();
        for (i, point) in points.iter().enumerate().filter(|(_, p)| p.ts > limit) {
            let path = if array {
                format!("[{i}].ts")
            } else {
                "ts".to_owned()
            };
            errors.push(
                path,
                format!(
                    "{} {} ({} ms ahead of the server clock, at most {} allowed)",
                    point.ts,
                    error::FUTURE_TIMESTAMP,
                    point.ts - now,
                    self.config.max_future_skew.as_millis()
                ),
            );
        }
        errors.into_result().map_err(IngestError::Invalid)
    }

    /// The latest values of every device.
    pub fn latest(&self) -> &LatestValues {
        &self.latest
    }

    /// The processors fed with stored telemetry.
    pub fn fanout(&self) -> &IngestFanout {
        &self.fanout
    }

    /// The pipeline's limits.
    pub fn config(&self) -> &IngestConfig {
        &self.config
    }
}

/// The store batch of the points of `device`, one entry per key, in payload order. A
/// device's series belong to the retention group of its product, so that retention can be
/// set per product.
fn batch_of(device: &DevicePrincipal, payloads: &[&[Point]]) -> Batch {
    let mut by_key: BTreeMap<&str, Vec<wanwu_tsdb::Point>> = BTreeMap::new();
    for point in payloads.iter().flat_map(|points| points.iter()) {
        for (key, value) in &point.values {
            by_key
                .entry(key)
                .or_default()
                .push(wanwu_tsdb::Point::new(point.ts, to_stored(value)));
        }
    }
    let mut batch = Batch::new().in_group(device.product.as_str());
    for (key, points) in by_key {
        batch.extend(
            SeriesKey::new(device.tenant.as_str(), device.device.as_str(), key),
            points,
        );
    }
    batch
}
