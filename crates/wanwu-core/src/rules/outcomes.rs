//! What the actions of each rule did: the last [`KEPT`] firings' outcomes and counters of
//! actions done and failed, per rule (shown with the rule by the API).
//!
//! The outcomes are kept in memory and written to the metadata store in batches every
//! [`FLUSH_EVERY`] (one transaction per batch), so that a busy rule costs no store write per
//! firing and its recent outcomes are still shown after a restart. A rule's stored rows are
//! trimmed back to the newest [`KEPT`] once they pass twice that, not on every batch. Counters start from zero at each start, like the rules' other counters.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use wanwu_rules::{ActionOutcome, Firing};
use wanwu_store::{RuleOutcomeRecord, Store, StoreError};

/// Firings whose outcomes are kept per rule.
pub const KEPT: usize = 50;
/// How often new outcomes are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The outcomes of one firing.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FiringOutcome {
    /// When the rule fired, ms since the Unix epoch.
    pub ts: i64,
    /// The device it fired for (none for schedules).
    pub device: Option<String>,
    /// True when the rule's clear condition ran the clear actions.
    pub cleared: bool,
    /// How each action went, in order (`action`, `ok`, `error`; `webhook` with attempts and
    /// status; `alarm` with the change made).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Json>,
}

/// Action counters and recent outcomes of one rule.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RuleOutcomes {
    /// Actions carried out since the platform started.
    pub actions_ok: u64,
    /// Actions that failed (after retries, for webhooks) since the platform started.
    pub actions_failed: u64,
    /// The last firings, newest last.
    #[schema(value_type = Vec<FiringOutcome>)]
    pub recent: VecDeque<FiringOutcome>,
}

/// The outcomes of one rule, how many of the newest are not yet in the store, and how many
/// rows the store holds for it.
#[derive(Default)]
struct Kept {
    outcomes: RuleOutcomes,
    unsaved: usize,
    stored: usize,
}

/// Outcomes of every rule, by tenant and rule id.
pub struct OutcomeLog {
    rules: DashMap<(String, String), Kept>,
    store: Arc<dyn Store>,
}

impl OutcomeLog {
    /// Outcomes written to `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        OutcomeLog {
            rules: DashMap::new(),
            store,
        }
    }

    /// Loads the outcomes the store kept (at start, before any firing).
    pub async fn load(&self) -> Result<(), StoreError> {
        for record in self.store.all_rule_outcomes().await? {
            match serde_json::from_str::<FiringOutcome>(&record.outcome) {
                Ok(outcome) => {
                    let mut kept = self.rules.entry((record.tenant, record.rule)).or_default();
                    push_bounded(&mut kept.outcomes.recent, outcome);
                    kept.stored += 1;
                }
                Err(e) => {
                    tracing::warn!(rule = %record.rule, error = %e, "stored rule outcome is damaged; skipped")
                }
            }
        }
        Ok(())
    }

    /// Records the outcomes of `firing`.
    pub fn record(&self, firing: &Firing, actions: Vec<ActionOutcome>) {
        let failed = actions.iter().filter(|a| !a.ok).count() as u64;
        if failed > 0 {
            metrics::counter!("wanwu_rules_action_failures_total").increment(failed);
        }
        let mut kept = self
            .rules
            .entry((firing.tenant.clone(), firing.rule.clone()))
            .or_default();
        kept.outcomes.actions_failed += failed;
        kept.outcomes.actions_ok += actions.len() as u64 - failed;
        let outcome = FiringOutcome {
            ts: firing.ts,
            device: firing.device.clone(),
            cleared: firing.cleared,
            actions: actions
                .iter()
                .map(|a| serde_json::to_value(a).unwrap_or_default())
                .collect(),
        };
        push_bounded(&mut kept.outcomes.recent, outcome);
        kept.unsaved = (kept.unsaved + 1).min(KEPT);
    }

    /// The outcomes of rule `id` of `tenant`.
    pub fn of(&self, tenant: &str, id: &str) -> RuleOutcomes {
        self.rules
            .get(&(tenant.to_owned(), id.to_owned()))
            .map(|kept| kept.outcomes.clone())
            .unwrap_or_default()
    }

    /// Forgets rule `id` of `tenant` (deleted or replaced), in memory and in the store.
    pub async fn forget(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.rules.remove(&(tenant.to_owned(), id.to_owned()));
        self.store.delete_rule_outcomes(tenant, id).await
    }

    /// Writes the outcomes recorded since the last flush to the store, in one batch. They
    /// count as saved only once the write succeeded, so a failed write is retried at the next
    /// flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (mut batch, mut trim, mut written) = (Vec::new(), Vec::new(), Vec::new());
        for entry in self.rules.iter() {
            let (key, kept) = (entry.key(), entry.value());
            let recent = &kept.outcomes.recent;
            let unsaved = kept.unsaved.min(recent.len());
            if unsaved == 0 {
                continue;
            }
            for outcome in recent.iter().skip(recent.len() - unsaved) {
                batch.push(RuleOutcomeRecord {
                    tenant: key.0.clone(),
                    rule: key.1.clone(),
                    ts: outcome.ts,
                    outcome: serde_json::to_string(outcome).unwrap_or_default(),
                });
            }
            if kept.stored + unsaved > 2 * KEPT {
                trim.push(key.clone());
            }
            written.push((key.clone(), unsaved));
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.store
            .append_rule_outcomes(&batch, &trim, KEPT as u32)
            .await?;
        for (key, unsaved) in written {
            if let Some(mut kept) = self.rules.get_mut(&key) {
                // Outcomes recorded while the batch was written stay unsaved.
                kept.unsaved = kept.unsaved.saturating_sub(unsaved);
                kept.stored += unsaved;
                if kept.stored > 2 * KEPT {
                    kept.stored = KEPT;
                }
            }
        }
        Ok(())
    }

    /// Flushes every [`FLUSH_EVERY`] until the store is closed or the runtime stops.
    pub async fn keep_flushing(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = self.flush().await {
                metrics::counter!("wanwu_rules_outcome_flush_failures_total").increment(1);
                tracing::warn!(error = %e, "writing rule outcomes failed");
            }
        }
    }
}

fn push_bounded(recent: &mut VecDeque<FiringOutcome>, outcome: FiringOutcome) {
    if recent.len() == KEPT {
        recent.pop_front();
    }
    recent.push_back(outcome);
}
