//! Alarms: the platform side of the alarm lifecycle of [`wanwu_rules::AlarmBook`].
//!
//! The open alarms live in an [`AlarmBook`] loaded from the metadata store on first use;
//! every change is written to the store before it is answered, so alarms survive a
//! restart. Reads of cleared alarms and lists go to the store. Every operation runs in the
//! caller's tenant (an alarm of another tenant is not found); viewers only read.
//!
//! Every change (raised, repeated, acknowledged, cleared; by hand or by a rule) is published
//! on the platform [`Bus`] as a [`NoticeKind::Alarm`] notice whose body is the alarm as the
//! API shows it, once it is stored.

use crate::bus::{Bus, Notice, NoticeKind};
use crate::error::CoreError;
use crate::registry::Registry;
use crate::scope::Scope;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};
use wanwu_model::ValidationErrors;
use wanwu_rules::{Alarm, AlarmBook, AlarmChange, AlarmError, AlarmSeverity, AlarmStatus};
use wanwu_store::{AlarmFilter, AlarmRecord, Page, PageRequest, Store};

/// Which alarms a list returns.
#[derive(Clone, Debug, Default)]
pub struct AlarmQuery {
    /// Only this status: `active`, `acknowledged` or `cleared`.
    pub status: Option<String>,
    /// Only this severity: `info`, `minor`, `major` or `critical`.
    pub severity: Option<String>,
    /// Only alarms of this device.
    pub device: Option<String>,
    /// Only alarms of devices under this asset (anywhere below it).
    pub asset: Option<String>,
}

/// An alarm raised by hand (through the API) on a device of the caller's tenant.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseAlarm {
    /// Originating device.
    pub device: String,
    /// Alarm type, e.g. `high_pm25`.
    #[serde(rename = "type")]
    pub alarm_type: String,
    /// `info`, `minor`, `major` or `critical`.
    #[schema(value_type = String)]
    pub severity: AlarmSeverity,
    /// Details of this occurrence.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Largest page of devices read at once when resolving an asset filter.
const SUBTREE_PAGE: u32 = 1000;

/// The alarms of every tenant.
pub struct Alarms {
    store: Arc<dyn Store>,
    registry: Registry,
    bus: Arc<Bus>,
    book: OnceCell<Mutex<AlarmBook>>,
}

impl Alarms {
    /// Alarms kept in `store`, their changes published on `bus`; the open ones are loaded
    /// on first use.
    pub fn new(store: Arc<dyn Store>, registry: Registry, bus: Arc<Bus>) -> Self {
        Alarms {
            store,
            registry,
            bus,
            book: OnceCell::new(),
        }
    }

    async fn book(&self) -> Result<&Mutex<AlarmBook>, CoreError> {
        self.book
            .get_or_try_init(|| async {
                let rows = self.store.open_alarms().await?;
                let alarms = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
                Ok::<_, CoreError>(Mutex::new(AlarmBook::with_open(alarms)))
            })
            .await
    }

    /// Writes the alarm of `change` to the store, then publishes the change on the bus.
    pub async fn persist(&self, change: &AlarmChange) -> Result<(), CoreError> {
        self.store.put_alarm(&encode(&change.alarm)?).await?;
        if self.bus.processors() > 0 {
            let alarm = &change.alarm;
            self.bus.publish(Arc::new(Notice {
                tenant: alarm.tenant.clone(),
                device: alarm.device.clone(),
                kind: NoticeKind::Alarm,
                ts: alarm
                    .last_ts
                    .max(alarm.acknowledged_ts.unwrap_or(0))
                    .max(alarm.cleared_ts.unwrap_or(0)),
                body: serde_json::to_value(alarm).unwrap_or_default(),
            }));
        }
        Ok(())
    }

    /// Raises an alarm of `alarm_type` on `device` of `tenant` for the platform itself (rule
    /// actions): no role check, the device is not looked up.
    pub async fn raise_for(
        &self,
        tenant: &str,
        device: &str,
        alarm_type: &str,
        severity: AlarmSeverity,
        details: serde_json::Value,
        ts: i64,
    ) -> Result<AlarmChange, CoreError> {
        let mut book = self.book().await?.lock().await;
        let change = book.raise(tenant, device, alarm_type, severity, details, ts);
        self.persist(&change).await?;
        Ok(change)
    }

    /// Clears the open alarm of `alarm_type` on `device` of `tenant` for the platform itself
    /// (rule actions); `None` when none is open.
    pub async fn clear_for(
        &self,
        tenant: &str,
        device: &str,
        alarm_type: &str,
        ts: i64,
    ) -> Result<Option<AlarmChange>, CoreError> {
        let mut book = self.book().await?.lock().await;
        let Some(change) = book.clear_for(tenant, device, alarm_type, ts) else {
            return Ok(None);
        };
        self.persist(&change).await?;
        Ok(Some(change))
    }

    /// Raises an alarm (or repeats the open one of the same device and type) at `ts`.
    pub async fn raise(
        &self,
        scope: &Scope,
        input: RaiseAlarm,
        ts: i64,
    ) -> Result<AlarmChange, CoreError> {
        scope.require_write()?;
        if input.alarm_type.trim().is_empty() {
            return Err(ValidationErrors::single("type", "must not be empty").into());
        }
        self.registry.get_device(scope, &input.device).await?;
        self.raise_for(
            &scope.tenant,
            &input.device,
            &input.alarm_type,
            input.severity,
            input.details,
            ts,
        )
        .await
    }

    /// One alarm of the caller's tenant.
    pub async fn get(&self, scope: &Scope, id: &str) -> Result<Alarm, CoreError> {
        decode(&self.store.get_alarm(&scope.tenant, id).await?)
    }

    /// A page of the caller's alarms.
    pub async fn list(
        &self,
        scope: &Scope,
        query: &AlarmQuery,
        page: &PageRequest,
    ) -> Result<Page<Alarm>, CoreError> {
        let status = query
            .status
            .as_deref()
            .map(|s| parse::<AlarmStatus>("status", s))
            .transpose()?;
        let severity = query
            .severity
            .as_deref()
            .map(|s| parse::<AlarmSeverity>("severity", s))
            .transpose()?;
        let mut devices = match &query.asset {
            Some(asset) => Some(self.devices_under(scope, asset).await?),
            None => None,
        };
        if let Some(device) = &query.device {
            devices = Some(match devices {
                Some(under) => under.into_iter().filter(|d| d == device).collect(),
                None => vec![device.clone()],
            });
        }
        let filter = AlarmFilter {
            status: status.map(|s| label(&s)),
            severity: severity.map(|s| label(&s)),
            devices,
        };
        let rows = self.store.list_alarms(&scope.tenant, &filter, page).await?;
        let items = rows.items.iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: rows.next_cursor,
        })
    }

    async fn devices_under(&self, scope: &Scope, asset: &str) -> Result<Vec<String>, CoreError> {
        self.registry.get_asset(scope, asset).await?;
        let mut ids = Vec::new();
        let mut page = PageRequest {
            limit: Some(SUBTREE_PAGE),
            cursor: None,
        };
        loop {
            let devices = self
                .registry
                .devices_under_asset(scope, asset, &page)
                .await?;
            ids.extend(devices.items.into_iter().map(|d| d.id));
            match devices.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => return Ok(ids),
            }
        }
    }

    /// Acknowledges an active alarm of the caller's tenant at `ts`.
    pub async fn acknowledge(&self, scope: &Scope, id: &str, ts: i64) -> Result<Alarm, CoreError> {
        self.step(scope, id, |book| book.acknowledge(id, ts)).await
    }

    /// Clears an open alarm of the caller's tenant at `ts`.
    pub async fn clear(&self, scope: &Scope, id: &str, ts: i64) -> Result<Alarm, CoreError> {
        self.step(scope, id, |book| book.clear(id, ts)).await
    }

    async fn step(
        &self,
        scope: &Scope,
        id: &str,
        step: impl FnOnce(&mut AlarmBook) -> Result<AlarmChange, AlarmError>,
    ) -> Result<Alarm, CoreError> {
        scope.require_write()?;
        let stored = self.get(scope, id).await?;
        let mut book = self.book().await?.lock().await;
        let change = step(&mut book).map_err(|e| match e {
            AlarmError::NotFound(_) if stored.status == AlarmStatus::Cleared => {
                CoreError::Conflict(format!("alarm {id:?} is already cleared"))
            }
            e => CoreError::Conflict(e.to_string()),
        })?;
        self.persist(&change).await?;
        Ok(change.alarm)
    }
}

fn parse<T: serde::de::DeserializeOwned>(field: &str, value: &str) -> Result<T, CoreError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| ValidationErrors::single(field, format!("unknown {field} {value:?}")).into())
}

/// The snake_case name a status or severity is stored under.
fn label(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn encode(alarm: &Alarm) -> Result<AlarmRecord, CoreError> {
    Ok(AlarmRecord {
        tenant: alarm.tenant.clone(),
        id: alarm.id.clone(),
        device: alarm.device.clone(),
        alarm_type: alarm.alarm_type.clone(),
        severity: label(&alarm.severity),
        status: label(&alarm.status),
        last_ts: alarm.last_ts,
        document: serde_json::to_string(alarm)
            .map_err(|e| CoreError::Internal(format!("encoding alarm {}: {e}", alarm.id)))?,
    })
}

fn decode(record: &AlarmRecord) -> Result<Alarm, CoreError> {
    serde_json::from_str(&record.document)
        .map_err(|e| CoreError::Internal(format!("stored alarm {} is damaged: {e}", record.id)))
}
