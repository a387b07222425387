//! The alarm lifecycle as a pure state machine: raise, acknowledge, clear.
//!
//! An alarm is open while `active` or `acknowledged`; there is at most one open alarm per
//! (tenant, device, type). Raising it again while open bumps its count and last occurrence
//! (and takes the new severity and details); after it is cleared, the next raise opens a new
//! alarm. Every change returns an [`AlarmChange`] for the platform to persist and publish.
//! [`AlarmBook`] keeps the open alarms only; cleared ones live in the platform's store.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How serious an alarm is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmSeverity {
    /// For information.
    Info,
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

/// Where an alarm is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmStatus {
    /// Raised, nobody has acknowledged it.
    Active,
    /// Someone has seen it; still open.
    Acknowledged,
    /// Over.
    Cleared,
}

/// One alarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    /// Id, unique within the platform.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Originating device.
    pub device: String,
    /// Type, e.g. `high_pm25`.
    #[serde(rename = "type")]
    pub alarm_type: String,
    /// Severity of the latest occurrence.
    pub severity: AlarmSeverity,
    /// Status.
    pub status: AlarmStatus,
    /// First occurrence, ms since the Unix epoch.
    pub first_ts: i64,
    /// Latest occurrence.
    pub last_ts: i64,
    /// Occurrences while open.
    pub count: u64,
    /// Details of the latest occurrence.
    pub details: serde_json::Value,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_ts: Option<i64>,
    /// When it was cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_ts: Option<i64>,
}

/// What a lifecycle step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmChangeKind {
    /// A new alarm was opened.
    Raised,
    /// An open alarm occurred again.
    Repeated,
    /// It was acknowledged.
    Acknowledged,
    /// It was cleared.
    Cleared,
}

/// A change of one alarm: persist `alarm`, publish the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmChange {
    /// What happened.
    pub kind: AlarmChangeKind,
    /// The alarm after the change.
    pub alarm: Alarm,
}

/// Why a lifecycle step was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AlarmError {
    /// No open alarm has this id.
    #[error("no open alarm {0:?}")]
    NotFound(String),
    /// Acknowledging an alarm that already is.
    #[error("alarm {0:?} is already acknowledged")]
    AlreadyAcknowledged(String),
}

/// The open alarms, by id and by (tenant, device, type).
#[derive(Debug, Default)]
pub struct AlarmBook {
    open: HashMap<String, Alarm>,
    by_source: HashMap<(String, String, String), String>,
    next_id: u64,
}

impl AlarmBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// A book holding the open ones of `alarms` (as loaded from the platform's store).
    pub fn with_open(alarms: impl IntoIterator<Item = Alarm>) -> Self {
        let mut book = Self::new();
        for alarm in alarms {
            if alarm.status != AlarmStatus::Cleared {
                book.by_source.insert(source(&alarm), alarm.id.clone());
                book.open.insert(alarm.id.clone(), alarm);
            }
        }
        book
    }

    /// The open alarm with this id.
    pub fn get(&self, id: &str) -> Option<&Alarm> {
        self.open.get(id)
    }

    /// The open alarm of (tenant, device, type).
    pub fn open_for(&self, tenant: &str, device: &str, alarm_type: &str) -> Option<&Alarm> {
        let key = (tenant.to_owned(), device.to_owned(), alarm_type.to_owned());
        self.by_source.get(&key).and_then(|id| self.open.get(id))
    }

    /// Every open alarm.
    pub fn open(&self) -> impl Iterator<Item = &Alarm> {
        self.open.values()
    }

    /// Raises an alarm of `alarm_type` on `device` at `ts`: opens one, or repeats the open one.
    pub fn raise(
        &mut self,
        tenant: &str,
        device: &str,
        alarm_type: &str,
        severity: AlarmSeverity,
        details: serde_json::Value,
        ts: i64,
    ) -> AlarmChange {
        let key = (tenant.to_owned(), device.to_owned(), alarm_type.to_owned());
        if let Some(alarm) = self
            .by_source
            .get(&key)
            .and_then(|id| self.open.get_mut(id))
        {
            alarm.count += 1;
            alarm.last_ts = alarm.last_ts.max(ts);
            alarm.severity = severity;
            alarm.details = details;
            return AlarmChange {
                kind: AlarmChangeKind::Repeated,
                alarm: alarm.clone(),
            };
        }
        self.next_id += 1;
        let alarm = Alarm {
            id: format!("{device}.{alarm_type}.{ts}.{}", self.next_id),
            tenant: tenant.to_owned(),
            device: device.to_owned(),
            alarm_type: alarm_type.to_owned(),
            severity,
            status: AlarmStatus::Active,
            first_ts: ts,
            last_ts: ts,
            count: 1,
            details,
            acknowledged_ts: None,
            cleared_ts: None,
        };
        self.by_source.insert(key, alarm.id.clone());
        self.open.insert(alarm.id.clone(), alarm.clone());
        AlarmChange {
            kind: AlarmChangeKind::Raised,
            alarm,
        }
    }

    /// Acknowledges the open alarm `id`.
    pub fn acknowledge(&mut self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        let alarm = self
            .open
            .get_mut(id)
            .ok_or_else(|| AlarmError::NotFound(id.to_owned()))?;
        if alarm.status == AlarmStatus::Acknowledged {
            return Err(AlarmError::AlreadyAcknowledged(id.to_owned()));
        }
        alarm.status = AlarmStatus::Acknowledged;
        alarm.acknowledged_ts = Some(ts);
        Ok(AlarmChange {
            kind: AlarmChangeKind::Acknowledged,
            alarm: alarm.clone(),
        })
    }

    /// Clears the open alarm `id`.
    pub fn clear(&mut self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        let mut alarm = self
            .open
            .remove(id)
            .ok_or_else(|| AlarmError::NotFound(id.to_owned()))?;
        self.by_source.remove(&source(&alarm));
        alarm.status = AlarmStatus::Cleared;
        alarm.cleared_ts = Some(ts);
        Ok(AlarmChange {
            kind: AlarmChangeKind::Cleared,
            alarm,
        })
    }

    /// Clears the open alarm of (tenant, device, type), if there is one.
    pub fn clear_for(
        &mut self,
        tenant: &str,
        device: &str,
        alarm_type: &str,
        ts: i64,
    ) -> Option<AlarmChange> {
        let id = self.open_for(tenant, device, alarm_type)?.id.clone();
        self.clear(&id, ts).ok()
    }
}

fn source(alarm: &Alarm) -> (String, String, String) {
    (
        alarm.tenant.clone(),
        alarm.device.clone(),
        alarm.alarm_type.clone(),
    )
}
