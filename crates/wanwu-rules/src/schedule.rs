//! Schedule triggers: cron expressions in IANA time zones, ticked by the engine clock.
//!
//! A schedule rule fires once when the clock has passed its next occurrence (several missed
//! occurrences fire once), then waits for the occurrence after now. The first tick after a
//! rule is added only computes its next occurrence.

use crate::compile::{CompiledRule, CompiledTrigger};
use crate::engine::{Engine, Firing, condition, plan};
use crate::expr::root_context;
use crate::facts::Facts;
use crate::metrics::RuleFailure;
use crate::scopes::Scopes;
use cel::Context;
use std::collections::HashMap;

/// Keeps the next occurrence of every schedule rule and fires those that are due.
pub struct Scheduler {
    next: HashMap<u64, i64>,
    root: Context<'static, 'static>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler {
            next: HashMap::new(),
            root: root_context(),
        }
    }
}

/// The first occurrence of `rule`'s schedule strictly after `now_ms`.
pub fn next_occurrence(rule: &CompiledRule, now_ms: i64) -> Option<i64> {
    let CompiledTrigger::Schedule { cron, tz } = &rule.trigger else {
        return None;
    };
    let now = jiff::Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned(tz.clone());
    let next = cron.find_next_occurrence(&now, false).ok()?;
    Some(next.timestamp().as_millisecond())
}

impl Scheduler {
    /// A scheduler that has seen no rule yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the schedule rules of `engine` that are due at the engine clock's now.
    pub fn tick(&mut self, engine: &Engine) -> Vec<Firing> {
        let now = engine.clock.now_ms();
        let rules = engine.rules();
        let mut firings = Vec::new();
        let mut live = HashMap::new();
        for rule in rules.schedule_rules() {
            let next = match self.next.get(&rule.serial) {
                Some(&next) if next > now => Some(next),
                Some(_) => {
                    firings.extend(self.fire(rule, now));
                    next_occurrence(rule, now)
                }
                None => next_occurrence(rule, now),
            };
            if let Some(next) = next {
                live.insert(rule.serial, next);
            }
        }
        self.next = live;
        firings
    }

    fn fire(&self, rule: &CompiledRule, now: i64) -> Option<Firing> {
        let stats = rule.stats();
        stats.evaluated();
        let facts = Facts {
            tenant: &rule.def.tenant,
            input: None,
            ts: now,
            device: None,
            prev: None,
            twin: None,
        };
        let scopes = Scopes::new(&facts, &self.root, rule.vars, None);
        let scope = scopes.of_rule(rule);
        let failure = |message| RuleFailure {
            ts: now,
            device: None,
            message,
        };
        match condition(rule, &scope) {
            Ok(true) => stats.matched(),
            Ok(false) => return None,
            Err(message) => {
                stats.failed(failure(message));
                return None;
            }
        }
        let (actions, errors) = plan(rule, &scope, false, 0);
        for error in errors {
            stats.failed(failure(error));
        }
        stats.fired(actions.len());
        Some(Firing {
            tenant: rule.def.tenant.clone(),
            rule: rule.def.id.clone(),
            device: None,
            cleared: false,
            ts: now,
            actions,
        })
    }
}
