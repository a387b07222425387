//! Reading and deleting stored telemetry, scoped to the caller's tenant: latest values, raw
//! points and calendar buckets of one device, CSV export streamed for any range, and
//! aggregation across the devices under an asset (grouped per child asset).
//!
//! A device or asset of another tenant is "not found". Any API token may read; deleting needs
//! the operator or admin role. Keys are the product's properties (or keys stored earlier);
//! an unknown key, `from` after `to`, a bad interval or time zone, or more buckets than the
//! store allows is a [`QueryError::BadQuery`].

mod asset;
mod csv;
mod error;
mod params;

pub use asset::{AssetGroup, AssetSeries};
pub use csv::CsvExport;
pub use error::QueryError;
pub use params::{
    AssetParams, Bucketing, DEFAULT_RAW_LIMIT, DEFAULT_WINDOW_MS, DeleteParams, MAX_RAW_LIMIT,
    SeriesParams, Shape, Window, parse_time, split_keys,
};

use crate::clock::now_ms;
use crate::ingest::{Ingest, LatestValue, from_stored};
use crate::registry::Registry;
use crate::scope::Scope;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use wanwu_model::Value;
use wanwu_model::thing::{Product, PropertyType};
use wanwu_tsdb::{Engine, SeriesKey};

/// The OpenAPI schema of a telemetry value: a number, bool, string or `{"lat", "lon"}`.
pub fn value_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    let geo = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("lat", ObjectBuilder::new().schema_type(Type::Number))
        .property("lon", ObjectBuilder::new().schema_type(Type::Number))
        .required("lat")
        .required("lon");
    let any = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(geo)
        .description(Some(
            "A number, bool, string or {\"lat\", \"lon\"} as the property's type",
        ))
        .build();
    Schema::AnyOf(any)
}

/// One point of a series: a raw value, or a bucket stamped with its start.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    /// Time (bucket start for aggregations), ms since the Unix epoch.
    pub ts: i64,
    /// The value: a number, bool, string or `{"lat", "lon"}`.
    #[schema(schema_with = value_schema)]
    pub value: Value,
}

/// The points of one key.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Series {
    /// Property key.
    pub key: String,
    /// Points in the requested order (buckets oldest first; empty buckets are left out).
    pub points: Vec<SeriesPoint>,
}

/// The answer of a device telemetry query.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceSeries {
    /// Device id.
    pub device: String,
    /// One series per requested key, in the order requested.
    pub series: Vec<Series>,
}

/// The latest value of every key of a device.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceLatest {
    /// Device id.
    pub device: String,
    /// Latest value and its time, by key; keys without data are absent.
    pub values: BTreeMap<String, LatestValue>,
}

/// What a delete removed.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeleteReceipt {
    /// Device id.
    pub device: String,
    /// Keys whose points in the range were deleted.
    pub keys: Vec<String>,
    /// Start of the range, ms.
    pub from: i64,
    /// End of the range, ms.
    pub to: i64,
}

/// Telemetry reads and deletes of a platform.
pub struct Telemetry {
    tsdb: Engine,
    registry: Registry,
    ingest: Arc<Ingest>,
}

/// What a device query reads.
struct Plan {
    device: String,
    shape: Shape,
    window: Window,
    /// Series and their keys, in the order asked.
    series: Vec<(SeriesKey, String)>,
}

/// A device resolved for a query: its tenant-scoped series keys and product.
struct Target {
    tenant: String,
    device: String,
    product: Arc<Product>,
}

impl Telemetry {
    /// Reads of `tsdb`, with devices from `registry` and latest values from `ingest`.
    pub fn new(tsdb: Engine, registry: Registry, ingest: Arc<Ingest>) -> Self {
        Telemetry {
            tsdb,
            registry,
            ingest,
        }
    }

    async fn target(&self, scope: &Scope, device: &str) -> Result<Target, QueryError> {
        let device = self.registry.get_device(scope, device).await?;
        let product = self
            .registry
            .product_of(&device.tenant, &device.product)
            .await?;
        Ok(Target {
            tenant: device.tenant,
            device: device.id,
            product,
        })
    }

    /// The newest timestamp ingest accepts now: the default end of a window.
    fn newest_accepted(&self) -> i64 {
        let skew = self.ingest.config().max_future_skew.as_millis() as i64;
        now_ms().saturating_add(skew)
    }

    /// The latest value of every key of `device`.
    pub async fn latest(&self, scope: &Scope, device: &str) -> Result<DeviceLatest, QueryError> {
        let target = self.target(scope, device).await?;
        let latest = self.ingest.latest();
        if let Some(values) = latest.get(&target.tenant, &target.device) {
            return Ok(DeviceLatest {
                device: target.device,
                values,
            });
        }
        let generation = latest.generation();
        let keys: Vec<String> = target
            .product
            .properties
            .iter()
            .map(|p| p.id.clone())
            .collect();
        let series: Vec<SeriesKey> = keys.iter().map(|k| target.series(k)).collect();
        let tsdb = self.tsdb.clone();
        let stored = blocking(move || tsdb.latest_many(&series)).await??;
        let stored = keys.into_iter().zip(stored).filter_map(|(key, point)| {
            let point = point?;
            Some((
                key,
                LatestValue {
                    ts: point.ts,
                    value: from_stored(point.value),
                },
            ))
        });
        let values = latest.fill(&target.tenant, &target.device, stored, generation);
        Ok(DeviceLatest {
            device: target.device,
            values,
        })
    }

    /// What a device query reads: the series of its keys, the window and the shape.
    async fn plan(
        &self,
        scope: &Scope,
        device: &str,
        params: &SeriesParams,
        streaming: bool,
    ) -> Result<Plan, QueryError> {
        let target = self.target(scope, device).await?;
        let shape = Shape::parse(params, streaming)?;
        let window = Window::parse(
            params.from.as_deref(),
            params.to.as_deref(),
            self.newest_accepted(),
        )?;
        let series = self
            .keys(&target, params.keys.as_deref(), &shape)?
            .into_iter()
            .map(|key| (target.series(&key), key))
            .collect();
        Ok(Plan {
            device: target.device,
            shape,
            window,
            series,
        })
    }

    /// Raw points or buckets of the keys of `device` (the `format` parameter is not read).
    pub async fn query(
        &self,
        scope: &Scope,
        device: &str,
        params: &SeriesParams,
    ) -> Result<DeviceSeries, QueryError> {
        let Plan {
            device,
            shape,
            window,
            series,
        } = self.plan(scope, device, params, false).await?;
        let tsdb = self.tsdb.clone();
        let series = blocking(move || {
            series
                .into_iter()
                .map(|(series, key)| {
                    let points = read_series(&tsdb, &series, window, &shape)?;
                    Ok(Series { key, points })
                })
                .collect::<Result<Vec<_>, QueryError>>()
        })
        .await??;
        Ok(DeviceSeries { device, series })
    }

    /// The same query as [`Telemetry::query`] as CSV (`ts,key,value` with a header row),
    /// produced chunk by chunk: raw exports have no limit and decode one block at a time.
    /// Errors in the parameters are found before the first chunk.
    pub async fn export_csv(
        &self,
        scope: &Scope,
        device: &str,
        params: &SeriesParams,
    ) -> Result<CsvExport, QueryError> {
        let plan = self.plan(scope, device, params, true).await?;
        let tsdb = self.tsdb.clone();
        blocking(move || CsvExport::open(&tsdb, plan.series, plan.window, &plan.shape)).await?
    }

    /// Deletes the points of the keys of `device` in the range (operator or admin).
    pub async fn delete(
        &self,
        scope: &Scope,
        device: &str,
        params: &DeleteParams,
    ) -> Result<DeleteReceipt, QueryError> {
        scope.require_write()?;
        let target = self.target(scope, device).await?;
        let window = Window::required(params.from.as_deref(), params.to.as_deref())?;
        let raw = Shape::Raw {
            limit: None,
            order: wanwu_tsdb::Order::Asc,
        };
        let keys = self.keys(&target, params.keys.as_deref(), &raw)?;
        for key in &keys {
            self.tsdb
                .delete(&target.series(key), window.from, window.to)
                .await?;
        }
        self.ingest.latest().forget(&target.tenant, &target.device);
        Ok(DeleteReceipt {
            device: target.device,
            keys,
            from: window.from,
            to: window.to,
        })
    }

    /// The keys a query reads: those asked for (each a property of the product, or stored
    /// before), or every property (every numeric one for numeric aggregations).
    fn keys(
        &self,
        target: &Target,
        asked: Option<&str>,
        shape: &Shape,
    ) -> Result<Vec<String>, QueryError> {
        let numbers_only = matches!(shape, Shape::Buckets(b) if b.needs_numbers());
        let Some(asked) = asked else {
            return Ok(target
                .product
                .properties
                .iter()
                .filter(|p| !numbers_only || is_numeric(p.kind))
                .map(|p| p.id.clone())
                .collect());
        };
        let keys = split_keys(asked);
        if keys.is_empty() {
            return Err(QueryError::bad("keys is empty"));
        }
        for key in &keys {
            let stored = self.tsdb.series_type(&target.series(key));
            match (target.product.property(key), stored) {
                (None, None) => {
                    return Err(QueryError::bad(format!(
                        "unknown key {key:?}: product {:?} has no such property",
                        target.product.id
                    )));
                }
                (Some(p), _) if numbers_only && !is_numeric(p.kind) => {
                    return Err(not_numeric(key, shape));
                }
                (None, Some(ty)) if numbers_only && !ty.is_numeric() => {
                    return Err(not_numeric(key, shape));
                }
                _ => {}
            }
        }
        Ok(keys)
    }
}

impl Target {
    fn series(&self, key: &str) -> SeriesKey {
        SeriesKey::new(self.tenant.as_str(), self.device.as_str(), key)
    }
}

/// True for the property types numeric aggregations accept (bools count as 0 and 1).
fn is_numeric(kind: PropertyType) -> bool {
    matches!(
        kind,
        PropertyType::Int | PropertyType::Float | PropertyType::Bool
    )
}

fn not_numeric(key: &str, shape: &Shape) -> QueryError {
    let agg = match shape {
        Shape::Buckets(b) => b.agg.name(),
        Shape::Raw { .. } => "raw",
    };
    QueryError::bad(format!(
        "agg={agg} needs numbers, but {key:?} does not hold numbers (use count, first or last)"
    ))
}

/// The points of one series in the window, raw or bucketed.
fn read_series(
    tsdb: &Engine,
    series: &SeriesKey,
    window: Window,
    shape: &Shape,
) -> Result<Vec<SeriesPoint>, QueryError> {
    Ok(match shape {
        Shape::Raw { limit, order } => tsdb
            .query_raw(series, window.from, window.to, *limit, *order)?
            .into_iter()
            .map(|p| SeriesPoint {
                ts: p.ts,
                value: from_stored(p.value),
            })
            .collect(),
        Shape::Buckets(b) => buckets_to_points(tsdb.query_agg(
            series,
            window.from,
            window.to,
            b.interval,
            b.agg,
            &b.tz,
        )?),
    })
}

fn buckets_to_points(buckets: Vec<wanwu_tsdb::Bucket>) -> Vec<SeriesPoint> {
    buckets
        .into_iter()
        .map(|b| SeriesPoint {
            ts: b.start,
            value: from_stored(b.value),
        })
        .collect()
}

/// Runs a store read off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, QueryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| QueryError::Storage(format!("query task failed: {e}")))
}
