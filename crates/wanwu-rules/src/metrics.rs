//! Per-rule counters, readable as a struct for the API, and the names of the process-wide
//! counters (metrics crate) the engine and runtime record.

use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Inputs dropped because a worker queue was full.
pub const DROPPED: &str = "wanwu_rules_dropped_total";
/// Inputs not evaluated because their hop count reached the limit.
pub const LOOP_STOPS: &str = "wanwu_rules_loop_stops_total";
/// Rule evaluations.
pub const EVALUATIONS: &str = "wanwu_rules_evaluations_total";
/// Rule evaluations that failed.
pub const ERRORS: &str = "wanwu_rules_errors_total";
/// Rule firings (including clears).
pub const FIRINGS: &str = "wanwu_rules_firings_total";
/// Webhook calls that failed after every retry.
pub const WEBHOOK_FAILURES: &str = "wanwu_rules_webhook_failures_total";

/// Live counters of one rule.
#[derive(Debug, Default)]
pub struct RuleStats {
    evaluations: AtomicU64,
    matches: AtomicU64,
    firings: AtomicU64,
    actions: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<RuleFailure>>,
}

/// The latest failure of a rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleFailure {
    /// When, ms since the Unix epoch (engine clock).
    pub ts: i64,
    /// Device whose input it was evaluating, if any.
    pub device: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// A snapshot of one rule's counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleMetrics {
    /// Inputs (and schedule ticks) the rule was evaluated for.
    pub evaluations: u64,
    /// Evaluations whose condition held.
    pub matches: u64,
    /// Times it fired (or cleared).
    pub firings: u64,
    /// Actions planned.
    pub actions: u64,
    /// Evaluations or plans that failed.
    pub errors: u64,
    /// The latest failure.
    pub last_error: Option<RuleFailure>,
}

impl RuleStats {
    pub(crate) fn evaluated(&self) {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn matched(&self) {
        self.matches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fired(&self, actions: usize) {
        self.firings.fetch_add(1, Ordering::Relaxed);
        self.actions.fetch_add(actions as u64, Ordering::Relaxed);
        metrics::counter!(FIRINGS).increment(1);
    }

    pub(crate) fn failed(&self, failure: RuleFailure) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(ERRORS).increment(1);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
    }

    /// The counters now.
    pub fn snapshot(&self) -> RuleMetrics {
        RuleMetrics {
            evaluations: self.evaluations.load(Ordering::Relaxed),
            matches: self.matches.load(Ordering::Relaxed),
            firings: self.firings.load(Ordering::Relaxed),
            actions: self.actions.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
