//! Carrying out what rules and scenes planned: firings queue on bounded lanes partitioned by
//! device (so each device's actions run in order, and a slow webhook holds up only its lane);
//! alarm actions go to the one [`Alarms`] service of the platform, every other action to the
//! rule engine's [`Executor`] over the [`PlatformTarget`]. Outcomes are kept per rule.

use crate::alarms::Alarms;
use crate::rules::hops::HopLedger;
use crate::rules::outcomes::OutcomeLog;
use crate::rules::target::PlatformTarget;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::slice;
use std::sync::Arc;
use tokio::sync::mpsc;
use wanwu_rules::{
    ActionOutcome, AlarmBook, Executor, Firing, FiringSink, InputKind, PlannedAction,
};

/// Lanes of firings, each run in order by one task.
pub const LANES: usize = 8;
/// Firings each lane holds; more are dropped and counted.
pub const LANE_CAPACITY: usize = 1024;

/// Runs planned actions on the platform.
pub struct Dispatcher {
    executor: Executor<PlatformTarget>,
    alarms: Arc<Alarms>,
    hops: Arc<HopLedger>,
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
        // The executor's own alarm book stays empty: alarm actions go to `alarms`.
        let executor = Executor::new(Arc::new(target), AlarmBook::new())
            .map_err(|e| format!("building the webhook client: {e}"))?;
        Ok(Dispatcher {
            executor,
            alarms,
            hops,
            outcomes,
        })
    }

    /// Carries out `actions` in order; one failing does not stop the next.
    pub async fn execute(&self, actions: &[PlannedAction]) -> Vec<ActionOutcome> {
        let mut outcomes = Vec::with_capacity(actions.len());
        for action in actions {
            let outcome = match action {
                PlannedAction::RaiseAlarm { .. } | PlannedAction::ClearAlarm { .. } => {
                    self.alarm(action).await
                }
                other => self
                    .executor
                    .execute(slice::from_ref(other))
                    .await
                    .pop()
                    .expect("one outcome per action"),
            };
            outcomes.push(outcome);
        }
        outcomes
    }

    async fn alarm(&self, action: &PlannedAction) -> ActionOutcome {
        let (name, result) = match action {
            PlannedAction::RaiseAlarm {
                tenant,
                device,
                alarm,
                severity,
                details,
                ts,
                hops,
            } => {
                self.hops.note(tenant, device, InputKind::Alarm, *hops);
                let raised = self
                    .alarms
                    .raise_for(tenant, device, alarm, *severity, details.clone(), *ts)
                    .await;
                ("raise_alarm", raised.map(Some))
            }
            PlannedAction::ClearAlarm {
                tenant,
                device,
                alarm,
                ts,
                hops,
            } => {
                self.hops.note(tenant, device, InputKind::Alarm, *hops);
                let cleared = self.alarms.clear_for(tenant, device, alarm, *ts).await;
                ("clear_alarm", cleared)
            }
            _ => unreachable!("only alarm actions come here"),
        };
        match result {
            Ok(change) => ActionOutcome {
                action: name,
                ok: true,
                error: None,
                webhook: None,
                alarm: change,
            },
            Err(e) => ActionOutcome {
                action: name,
                ok: false,
                error: Some(e.to_string()),
                webhook: None,
                alarm: None,
            },
        }
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
