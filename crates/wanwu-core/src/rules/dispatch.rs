//! Carrying out what rules and scenes planned: firings queue on bounded lanes partitioned by
//! device (so each device's actions run in order, and a slow webhook holds up only its lane);
//! the rule engine's [`Executor`] carries them out over the [`PlatformTarget`], its alarm
//! actions going to the one [`Alarms`] service of the platform through [`PlatformAlarms`].
//! Outcomes are kept per rule.

use crate::alarms::Alarms;
use crate::rules::hops::HopLedger;
use crate::rules::outcomes::OutcomeLog;
use crate::rules::target::PlatformTarget;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use tokio::sync::mpsc;
use wanwu_rules::{
    ActionOutcome, AlarmAt, AlarmChange, AlarmSeverity, AlarmSink, Executor, Firing, FiringSink,
    InputKind, PlannedAction,
};

/// Lanes of firings, each run in order by one task.
pub const LANES: usize = 8;
/// Firings each lane holds; more are dropped and counted.
pub const LANE_CAPACITY: usize = 1024;

/// Alarm actions of rules, kept by the platform's [`Alarms`] (stored, then published on the
/// bus); each notes its hop count for the alarm input it causes.
pub struct PlatformAlarms {
    alarms: Arc<Alarms>,
    hops: Arc<HopLedger>,
}

impl AlarmSink for PlatformAlarms {
    async fn raise(
        &self,
        alarm: AlarmAt<'_>,
        severity: AlarmSeverity,
        details: &serde_json::Value,
        hops: u8,
    ) -> Result<AlarmChange, String> {
        self.hops
            .note(alarm.tenant, alarm.device, InputKind::Alarm, hops);
        let (tenant, device, alarm_type) = (alarm.tenant, alarm.device, alarm.alarm_type);
        self.alarms
            .raise_for(
                tenant,
                device,
                alarm_type,
                severity,
                details.clone(),
                alarm.ts,
            )
            .await
            .map_err(|e| e.to_string())
    }

    async fn clear(&self, alarm: AlarmAt<'_>, hops: u8) -> Result<Option<AlarmChange>, String> {
        self.hops
            .note(alarm.tenant, alarm.device, InputKind::Alarm, hops);
        self.alarms
            .clear_for(alarm.tenant, alarm.device, alarm.alarm_type, alarm.ts)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Runs planned actions on the platform.
pub struct Dispatcher {
    executor: Executor<PlatformTarget, PlatformAlarms>,
    outcomes: Arc<OutcomeLog>,
}

impl Dispatcher {
    /// A dispatcher acting through `target`, raising alarms in `alarms`, keeping outcomes in
    /// `outcomes`.
    pub fn new(
        target: PlatformTarget,
        alarms: Arc<Alarms>,
        hops: Arc<HopLedger>,
        outcomes: Arc<OutcomeLog>,
    ) -> Result<Self, String> {
        let alarms = Arc::new(PlatformAlarms { alarms, hops });
        let executor = Executor::with_alarms(Arc::new(target), alarms)
            .map_err(|e| format!("building the webhook client: {e}"))?;
        Ok(Dispatcher { executor, outcomes })
    }

    /// Carries out `actions` in order; one failing does not stop the next.
    pub async fn execute(&self, actions: &[PlannedAction]) -> Vec<ActionOutcome> {
        self.executor.execute(actions).await
    }

    /// Starts the lanes on the current Tokio runtime; the returned sink feeds them.
    pub fn start(self: &Arc<Self>) -> Arc<LaneSink> {
        let lanes = (0..LANES)
            .map(|_| {
                let (queue, mut firings) = mpsc::channel::<Firing>(LANE_CAPACITY);
                let dispatcher = Arc::clone(self);
                tokio::spawn(async move {
                    while let Some(firing) = firings.recv().await {
                        let outcomes = dispatcher.execute(&firing.actions).await;
                        dispatcher.outcomes.record(&firing, outcomes);
                    }
                });
                queue
            })
            .collect();
        Arc::new(LaneSink { lanes })
    }
}

/// Hands firings from the evaluation threads to the dispatcher's lanes without waiting.
pub struct LaneSink {
    lanes: Vec<mpsc::Sender<Firing>>,
}

impl FiringSink for LaneSink {
    fn deliver(&self, firing: Firing) {
        let mut hasher = DefaultHasher::new();
        firing.tenant.hash(&mut hasher);
        firing.device.hash(&mut hasher);
        let lane = &self.lanes[(hasher.finish() % self.lanes.len() as u64) as usize];
        if lane.try_send(firing).is_err() {
            metrics::counter!("wanwu_rules_firings_dropped_total").increment(1);
        }
    }
}
