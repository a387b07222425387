//! Where the executor's alarm actions go: an [`AlarmSink`] keeps the lifecycle (one open alarm
//! per device and type) and makes each change last. [`BookAlarms`] is the in-process one: an
//! [`AlarmBook`] whose changes an [`AlarmPublisher`] persists and publishes; the platform has
//! its own sink over its alarm service.

use crate::alarm::{Alarm, AlarmBook, AlarmChange, AlarmError, AlarmSeverity};
use serde_json::Value as Json;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which alarm an action is about, and when: the one of a device and type.
#[derive(Clone, Copy, Debug)]
pub struct AlarmAt<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Originating device.
    pub device: &'a str,
    /// Alarm type.
    pub alarm_type: &'a str,
    /// When, ms since the Unix epoch.
    pub ts: i64,
}

/// Keeps alarms for the executor. `hops` must be put on the alarm input a change causes (see
/// the loop protection of [`crate::engine`]). `Err` carries a message for the action's outcome.
pub trait AlarmSink: Send + Sync + 'static {
    /// Raises the alarm with `severity` and `details`, or repeats the open one; the change
    /// made.
    fn raise(
        &self,
        alarm: AlarmAt<'_>,
        severity: AlarmSeverity,
        details: &Json,
        hops: u8,
    ) -> impl Future<Output = Result<AlarmChange, String>> + Send;
    /// Clears the open alarm of (tenant, device, type); `None` when none is open.
    fn clear(
        &self,
        alarm: AlarmAt<'_>,
        hops: u8,
    ) -> impl Future<Output = Result<Option<AlarmChange>, String>> + Send;
}

/// Persists and publishes alarm changes of a [`BookAlarms`].
pub trait AlarmPublisher: Send + Sync + 'static {
    /// Persists a change and publishes it (WebSocket, and rules as an alarm input).
    fn alarm_changed(
        &self,
        change: &AlarmChange,
        hops: u8,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Open alarms in an [`AlarmBook`] in memory, each change handed to a publisher.
pub struct BookAlarms<P> {
    book: Mutex<AlarmBook>,
    publisher: Arc<P>,
}

impl<P: AlarmPublisher> BookAlarms<P> {
    /// The open alarms of `book`, changes published through `publisher`.
    pub fn new(book: AlarmBook, publisher: Arc<P>) -> Self {
        BookAlarms {
            book: Mutex::new(book),
            publisher,
        }
    }

    fn book(&self) -> MutexGuard<'_, AlarmBook> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every open alarm.
    pub fn open_alarms(&self) -> Vec<Alarm> {
        self.book().open().cloned().collect()
    }

    /// Acknowledges an open alarm (`POST /alarms/{id}/ack`).
    pub async fn acknowledge(&self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        let change = self.book().acknowledge(id, ts)?;
        let _logged = self.publish(&change, 0).await;
        Ok(change)
    }

    /// Clears an open alarm by id (`POST /alarms/{id}/clear`).
    pub async fn clear_by_id(&self, id: &str, ts: i64) -> Result<AlarmChange, AlarmError> {
        let change = self.book().clear(id, ts)?;
        let _logged = self.publish(&change, 0).await;
        Ok(change)
    }

    async fn publish(&self, change: &AlarmChange, hops: u8) -> Result<(), String> {
        let published = self.publisher.alarm_changed(change, hops).await;
        if let Err(e) = &published {
            tracing::warn!(alarm = %change.alarm.id, error = %e, "publishing an alarm change failed");
        }
        published
    }
}

impl<P: AlarmPublisher> AlarmSink for BookAlarms<P> {
    async fn raise(
        &self,
        alarm: AlarmAt<'_>,
        severity: AlarmSeverity,
        details: &Json,
        hops: u8,
    ) -> Result<AlarmChange, String> {
        let AlarmAt {
            tenant,
            device,
            alarm_type,
            ts,
        } = alarm;
        let change = self
            .book()
            .raise(tenant, device, alarm_type, severity, details.clone(), ts);
        self.publish(&change, hops).await.map(|()| change)
    }

    async fn clear(&self, alarm: AlarmAt<'_>, hops: u8) -> Result<Option<AlarmChange>, String> {
        let change = self
            .book()
            .clear_for(alarm.tenant, alarm.device, alarm.alarm_type, alarm.ts);
        match change {
            Some(change) => self.publish(&change, hops).await.map(|()| Some(change)),
            None => Ok(None),
        }
    }
}
