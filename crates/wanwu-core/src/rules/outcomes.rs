//! What the actions of each rule did: the last [`KEPT`] firings' outcomes and counters of
//! actions done and failed, per rule, in memory (shown with the rule by the API).

use dashmap::DashMap;
use serde::Serialize;
use std::collections::VecDeque;
use wanwu_rules::{ActionOutcome, Firing};

/// Firings whose outcomes are kept per rule.
pub const KEPT: usize = 10;

/// The outcomes of one firing.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FiringOutcome {
    /// When the rule fired, ms since the Unix epoch.
    pub ts: i64,
    /// The device it fired for (none for schedules).
    pub device: Option<String>,
    /// True when the rule's clear condition ran the clear actions.
    pub cleared: bool,
    /// How each action went, in order.
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<ActionOutcome>,
}

/// Action counters and recent outcomes of one rule.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RuleOutcomes {
    /// Actions carried out.
    pub actions_ok: u64,
    /// Actions that failed (after retries, for webhooks).
    pub actions_failed: u64,
    /// The last firings, newest last.
    #[schema(value_type = Vec<FiringOutcome>)]
    pub recent: VecDeque<FiringOutcome>,
}

/// Outcomes of every rule, by tenant and rule id.
#[derive(Default)]
pub struct OutcomeLog {
    rules: DashMap<(String, String), RuleOutcomes>,
}

impl OutcomeLog {
    /// Records the outcomes of `firing`.
    pub fn record(&self, firing: &Firing, actions: Vec<ActionOutcome>) {
        let failed = actions.iter().filter(|a| !a.ok).count() as u64;
        if failed > 0 {
            metrics::counter!("wanwu_rules_action_failures_total").increment(failed);
        }
        let mut entry = self
            .rules
            .entry((firing.tenant.clone(), firing.rule.clone()))
            .or_default();
        entry.actions_failed += failed;
        entry.actions_ok += actions.len() as u64 - failed;
        if entry.recent.len() == KEPT {
            entry.recent.pop_front();
        }
        entry.recent.push_back(FiringOutcome {
            ts: firing.ts,
            device: firing.device.clone(),
            cleared: firing.cleared,
            actions,
        });
    }

    /// The outcomes of rule `id` of `tenant`.
    pub fn of(&self, tenant: &str, id: &str) -> RuleOutcomes {
        self.rules
            .get(&(tenant.to_owned(), id.to_owned()))
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    /// Forgets rule `id` of `tenant` (deleted or replaced).
    pub fn forget(&self, tenant: &str, id: &str) {
        self.rules.remove(&(tenant.to_owned(), id.to_owned()));
    }
}
