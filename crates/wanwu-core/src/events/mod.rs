//! Device events of the thing model: `devices/{id}/events/{name}` with
//! `{"params": {...}, "ts": ...}`, validated against the product's event, stored, and
//! published on the platform bus as [`NoticeKind::Event`] notices.
//!
//! Events live in the time-series engine beside telemetry, so the same retention applies:
//! one string series per device and event, keyed `event:{name}` (property ids cannot hold a
//! `:`, so the keys never meet telemetry's), each point the event's parameters as JSON. Two
//! events of one device and name with the same millisecond keep the later one, as
//! telemetry does.

use crate::auth::DevicePrincipal;
use crate::bus::{Bus, Notice, NoticeKind};
use crate::clock::now_ms;
use crate::commands::params::{Presence, validate_params};
use crate::error::CoreError;
use crate::registry::Registry;
use crate::scope::Scope;
use crate::telemetry::{QueryError, Window};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::sync::Arc;
use std::time::Duration;
use wanwu_model::ValidationErrors;
use wanwu_model::thing::Severity;
use wanwu_tsdb::{Batch, Engine, Order, SeriesKey, Value};

/// Prefix of the series key of an event.
pub const SERIES_PREFIX: &str = "event:";
/// Most events a query returns when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` of a query.
pub const MAX_LIMIT: usize = 10_000;

/// A stored event occurrence.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredEvent {
    /// Device that sent it.
    pub device: String,
    /// Event id of the product's thing model.
    pub name: String,
    /// Severity of the event as the product defines it.
    pub severity: Severity,
    /// When it happened, ms since the Unix epoch.
    pub ts: i64,
    /// Its parameters.
    #[schema(value_type = Object)]
    pub params: Map<String, Json>,
}

/// What a device publishes on `devices/{id}/events/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventPayload {
    #[serde(default)]
    params: Json,
    #[serde(default)]
    ts: Option<i64>,
}

/// Which events a query returns.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    /// Start, inclusive: ms or RFC 3339 (default 24 h before `to`).
    pub from: Option<String>,
    /// End, inclusive: ms or RFC 3339 (default now).
    pub to: Option<String>,
    /// Only this event.
    pub name: Option<String>,
    /// Only events of this severity.
    pub severity: Option<Severity>,
    /// Most events (default [`DEFAULT_LIMIT`]); the newest when `order` is descending.
    pub limit: Option<usize>,
    /// Newest first (default) or oldest first.
    pub order: Order,
}

/// The events of every device.
pub struct Events {
    tsdb: Engine,
    registry: Registry,
    bus: Arc<Bus>,
    max_future_skew: Duration,
}

impl Events {
    /// Events stored in `tsdb`, validated against `registry`'s products, published on `bus`;
    /// timestamps may be at most `max_future_skew` ahead of the platform's clock.
    pub fn new(tsdb: Engine, registry: Registry, bus: Arc<Bus>, max_future_skew: Duration) -> Self {
        Events {
            tsdb,
            registry,
            bus,
            max_future_skew,
        }
    }

    /// Validates and stores event `name` of `device`; returns once it is durable. On error
    /// nothing was stored.
    pub async fn record(
        &self,
        device: &DevicePrincipal,
        name: &str,
        payload: &[u8],
    ) -> Result<StoredEvent, CoreError> {
        let product = self
            .registry
            .product_of(&device.tenant, &device.product)
            .await?;
        let Some(definition) = product.event(name) else {
            return Err(ValidationErrors::single(
                "",
                format!("{name:?} is not an event of product {:?}", product.id),
            )
            .into());
        };
        let payload: EventPayload = serde_json::from_slice(payload).map_err(|e| {
            ValidationErrors::single(
                "",
                format!("an event is {{\"params\": {{...}}, \"ts\": ms}}: {e}"),
            )
        })?;
        let now = now_ms();
        let ts = payload.ts.unwrap_or(now);
        let latest = now.saturating_add(self.max_future_skew.as_millis() as i64);
        if !(0..=latest).contains(&ts) {
            return Err(ValidationErrors::single(
                "ts",
                format!("{ts} is not between 0 and {latest} (now plus the allowed clock skew)"),
            )
            .into());
        }
        let params = validate_params(
            "params",
            &definition.params,
            &payload.params,
            Presence::Optional,
        )?;
        let mut batch = Batch::new();
        batch.push(
            &series_key(&device.tenant, &device.device, name),
            ts,
            Value::Str(Json::Object(params.clone()).to_string()),
        );
        self.tsdb
            .write(batch)
            .await
            .map_err(|e| CoreError::Internal(format!("storing event {name:?}: {e}")))?;
        let event = StoredEvent {
            device: device.device.clone(),
            name: name.to_owned(),
            severity: definition.severity,
            ts,
            params,
        };
        metrics::counter!("wanwu_events_total").increment(1);
        self.bus.publish(Arc::new(Notice {
            tenant: device.tenant.clone(),
            device: device.device.clone(),
            kind: NoticeKind::Event,
            ts,
            body: serde_json::to_value(&event).unwrap_or_default(),
        }));
        Ok(event)
    }

    /// The events of device `id` in the caller's tenant that match `query`, in time order.
    pub async fn query(
        &self,
        scope: &Scope,
        id: &str,
        query: &EventQuery,
    ) -> Result<Vec<StoredEvent>, QueryError> {
        let device = self.registry.get_device(scope, id).await?;
        let product = self
            .registry
            .product_of(&scope.tenant, &device.product)
            .await?;
        if let Some(name) = &query.name
            && product.event(name).is_none()
        {
            return Err(QueryError::bad(format!(
                "{name:?} is not an event of product {:?}",
                product.id
            )));
        }
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(QueryError::bad(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let latest = now_ms().saturating_add(self.max_future_skew.as_millis() as i64);
        let window = Window::parse(query.from.as_deref(), query.to.as_deref(), latest)?;
        let mut events = Vec::new();
        let wanted = product.events.iter().filter(|e| {
            query.name.as_ref().is_none_or(|n| n == &e.id)
                && query.severity.is_none_or(|s| s == e.severity)
        });
        for definition in wanted {
            let series = series_key(&scope.tenant, id, &definition.id);
            let points =
                self.tsdb
                    .query_raw(&series, window.from, window.to, Some(limit), query.order)?;
            for point in points {
                let Value::Str(text) = point.value else {
                    continue;
                };
                let params = match serde_json::from_str(&text) {
                    Ok(Json::Object(params)) => params,
                    _ => Map::new(),
                };
                events.push(StoredEvent {
                    device: id.to_owned(),
                    name: definition.id.clone(),
                    severity: definition.severity,
                    ts: point.ts,
                    params,
                });
            }
        }
        match query.order {
            Order::Asc => events.sort_by_key(|e| e.ts),
            Order::Desc => events.sort_by_key(|e| std::cmp::Reverse(e.ts)),
        }
        events.truncate(limit);
        Ok(events)
    }
}

/// The series of event `name` of a device.
pub fn series_key(tenant: &str, device: &str, name: &str) -> SeriesKey {
    SeriesKey::new(tenant, device, format!("{SERIES_PREFIX}{name}"))
}
