//! The engine: the compiled rule set, and the evaluators that run it over inputs.
//!
//! # Firing
//! A rule without `for` and `clear` fires on every input that meets its condition. With
//! either, it remembers per device whether it fired: idle -> (condition holds) pending ->
//! (it held without a break for `for`, measured on the engine [`Clock`]) fired once -> back to
//! idle when the `clear` condition holds (running the clear actions), or, without `clear`,
//! as soon as the condition no longer holds. A pending rule fires at the first evaluation
//! after `for` has elapsed.
//!
//! # Loop protection
//! Every [`Input`] carries `hops`: 0 for what devices send. Actions planned while handling
//! an input of hop count h carry h + 1, and the platform puts that count on whatever the
//! action causes (the twin change, the derived telemetry, the alarm change). An input whose
//! hop count reached [`EngineConfig::max_hops`] updates the device's `prev` and history but
//! is evaluated by no rule, and is counted ([`crate::metrics::LOOP_STOPS`]). So a rule that
//! triggers itself (a derived key written back, a twin change it reacts to) runs at most
//! `max_hops` times per original input.
//!
//! # Conditions that lack data
//! A condition that reads a key absent from the message (`msg.values.pm25` on a message
//! without it) or an aggregate over an empty window is not met; it is not an error. Use
//! `has(msg.values.pm25)` to test for presence.

use crate::action::PlannedAction;
use crate::clock::Clock;
use crate::compile::{CompiledAction, CompiledRule, CompiledTrigger, compile_rule};
use crate::direct::Answer;
use crate::error::DefinitionErrors;
use crate::expr::{EvalError, Vars, root_context};
use crate::facts::Facts;
use crate::input::{DeviceInfo, Directory, Input, InputKind, TwinSnapshot};
use crate::metrics::{LOOP_STOPS, RuleFailure, RuleMetrics};
use crate::plan::Plan;
use crate::rule::RuleDef;
use crate::scopes::{RuleScope, Scopes};
use crate::window::{History, Tracked, WindowLimits};
use cel::Context;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use wanwu_model::Value;

/// Maps looked up per input: foldhash is several times cheaper than SipHash on short keys.
type FastMap<K, V> = foldhash::HashMap<K, V>;

/// Settings of the engine.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Inputs with this many hops or more are not evaluated (see the module docs).
    pub max_hops: u8,
    /// Bounds of the per-device history behind aggregates.
    pub window: WindowLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_hops: 4,
            window: WindowLimits::default(),
        }
    }
}

/// A rule fired (or cleared): the actions for the platform to carry out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    /// Tenant.
    pub tenant: String,
    /// Rule id.
    pub rule: String,
    /// The triggering device; `None` for schedules.
    pub device: Option<String>,
    /// True when these are the clear actions of a fired rule that is now over.
    pub cleared: bool,
    /// Time of the input or tick.
    pub ts: i64,
    /// The actions, in the rule's order.
    pub actions: Vec<PlannedAction>,
}

/// The compiled rules, indexed for the lookup of each input.
#[derive(Default)]
pub struct RuleSet {
    rules: Vec<Arc<CompiledRule>>,
    tenants: FastMap<String, TenantRules>,
    schedules: Vec<usize>,
}

/// One tenant's enabled rules: which to consider for an input.
#[derive(Default)]
struct TenantRules {
    /// Rules naming devices, by device id.
    by_device: HashMap<String, Vec<usize>>,
    /// Rules choosing a product (and naming no device), by product.
    by_product: HashMap<String, Vec<usize>>,
    /// Other message rules (tags, asset, or all devices).
    general: Vec<usize>,
    /// Alarm rules.
    alarm: Vec<usize>,
    /// Keys some rule aggregates, with the longest window used.
    tracked: Tracked,
}

impl RuleSet {
    fn build(rules: Vec<Arc<CompiledRule>>) -> RuleSet {
        let mut set = RuleSet {
            rules,
            ..RuleSet::default()
        };
        for (index, rule) in set.rules.iter().enumerate() {
            if !rule.def.enabled {
                continue;
            }
            let tenant = set.tenants.entry(rule.def.tenant.clone()).or_default();
            for call in &rule.aggregates {
                let longest = tenant.tracked.entry(call.key.clone()).or_default();
                *longest = (*longest).max(call.window_ms);
            }
            match &rule.trigger {
                CompiledTrigger::Schedule { .. } => set.schedules.push(index),
                CompiledTrigger::Alarm { .. } => tenant.alarm.push(index),
                CompiledTrigger::Message { devices, .. } => {
                    if !devices.ids.is_empty() {
                        for id in &devices.ids {
                            tenant.by_device.entry(id.clone()).or_default().push(index);
                        }
                    } else if let Some(product) = &devices.product {
                        tenant
                            .by_product
                            .entry(product.clone())
                            .or_default()
                            .push(index);
                    } else {
                        tenant.general.push(index);
                    }
                }
            }
        }
        set
    }

    /// Every rule, enabled or not.
    pub fn rules(&self) -> &[Arc<CompiledRule>] {
        &self.rules
    }

    /// The rule `id` of `tenant`.
    pub fn get(&self, tenant: &str, id: &str) -> Option<&Arc<CompiledRule>> {
        self.rules
            .iter()
            .find(|r| r.def.tenant == tenant && r.def.id == id)
    }

    pub(crate) fn schedule_rules(&self) -> impl Iterator<Item = &Arc<CompiledRule>> {
        self.schedules.iter().map(|&i| &self.rules[i])
    }
}

/// The rule engine: the current rule set, the directory and the clock. Evaluation happens in
/// [`Evaluator`]s (one per worker), which keep per-device state.
pub struct Engine {
    rules: RwLock<Arc<RuleSet>>,
    version: AtomicU64,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: EngineConfig,
}

impl Engine {
    /// An engine without rules.
    pub fn new(
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            rules: RwLock::new(Arc::new(RuleSet::default())),
            version: AtomicU64::new(0),
            directory,
            clock,
            config,
        })
    }

    /// The current rule set.
    pub fn rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.rules.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn replace(&self, change: impl FnOnce(&[Arc<CompiledRule>]) -> Vec<Arc<CompiledRule>>) {
        let mut guard = self.rules.write().unwrap_or_else(|p| p.into_inner());
        let rules = change(guard.rules());
        *guard = Arc::new(RuleSet::build(rules));
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Compiles `def` and adds it, replacing the rule of the same tenant and id (whose
    /// per-device state and counters start over). Nothing changes when it does not compile.
    pub fn put_rule(&self, def: RuleDef) -> Result<(), DefinitionErrors> {
        let rule = Arc::new(compile_rule(def)?);
        self.replace(|rules| {
            let mut next: Vec<_> = rules
                .iter()
                .filter(|r| !(r.def.tenant == rule.def.tenant && r.def.id == rule.def.id))
                .cloned()
                .collect();
            next.push(rule);
            next
        });
        Ok(())
    }

    /// Replaces every rule at once (e.g. on start). Nothing changes when one does not
    /// compile; the error gives its index.
    pub fn set_rules(&self, defs: Vec<RuleDef>) -> Result<(), (usize, DefinitionErrors)> {
        let compiled = defs
            .into_iter()
            .enumerate()
            .map(|(i, def)| compile_rule(def).map(Arc::new).map_err(|e| (i, e)))
            .collect::<Result<Vec<_>, _>>()?;
        self.replace(|_| compiled);
        Ok(())
    }

    /// Removes a rule; false when there was none.
    pub fn remove_rule(&self, tenant: &str, id: &str) -> bool {
        let mut removed = false;
        self.replace(|rules| {
            let next: Vec<_> = rules
                .iter()
                .filter(|r| !(r.def.tenant == tenant && r.def.id == id))
                .cloned()
                .collect();
            removed = next.len() != rules.len();
            next
        });
        removed
    }

    /// Counters of rule `id` of `tenant`.
    pub fn metrics(&self, tenant: &str, id: &str) -> Option<RuleMetrics> {
        self.rules().get(tenant, id).map(|r| r.stats().snapshot())
    }

    /// An evaluator over this engine. Each keeps its own per-device state: give each device's
    /// inputs to one evaluator only (the runtime partitions by device). It is not `Send`:
    /// create it on the thread that uses it.
    pub fn evaluator(self: &Arc<Self>) -> Evaluator {
        Evaluator {
            engine: Arc::clone(self),
            rules: self.rules(),
            version: self.version.load(Ordering::Acquire),
            devices: FastMap::default(),
            root: root_context(),
        }
    }

    /// What `def` would do with `input` (dry run): nothing is changed, no state is kept.
    pub fn test(
        &self,
        def: RuleDef,
        input: &Input,
        context: &TestContext,
    ) -> Result<TestOutcome, DefinitionErrors> {
        let rule = compile_rule(def)?;
        let root = root_context();
        let device = context
            .device
            .clone()
            .map(Arc::new)
            .or_else(|| self.directory.device(&input.tenant, &input.device));
        let mut history = History::default();
        let tracked: Tracked = rule
            .aggregates
            .iter()
            .map(|c| (c.key.clone(), c.window_ms))
            .collect();
        for point in context.history.iter().chain([&HistoryPoint {
            ts: input.ts,
            values: input.values.clone(),
        }]) {
            history.record(point.ts, point.values.iter(), &tracked, self.config.window);
        }
        let mut outcome = TestOutcome {
            trigger_matched: input.tenant == rule.def.tenant
                && trigger_matches(&rule, input, device.as_deref()),
            condition: None,
            error: None,
            fires: false,
            hold_ms: rule.hold_ms,
            actions: Vec::new(),
            action_errors: Vec::new(),
        };
        if !outcome.trigger_matched {
            return Ok(outcome);
        }
        let facts = Facts::of_input(
            input,
            device.as_deref(),
            &context.prev,
            context.twin.clone(),
        );
        let scopes = Scopes::new(&facts, &root, rule.vars, Some(&history));
        let scope = scopes.of_rule(&rule);
        match condition(&rule, &scope) {
            Ok(holds) => outcome.condition = Some(holds),
            Err(error) => outcome.error = Some(error),
        }
        if outcome.condition == Some(true) {
            outcome.fires = rule.hold_ms == 0;
            let (actions, errors) = plan(&rule, &scope, false, input.hops);
            outcome.actions = actions;
            outcome.action_errors = errors;
        }
        Ok(outcome)
    }
}

/// What a dry run may assume beyond the input.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestContext {
    /// The device; default: asked of the directory.
    #[serde(default)]
    pub device: Option<DeviceInfo>,
    /// The twin.
    #[serde(default)]
    pub twin: Option<TwinSnapshot>,
    /// The device's previous values.
    #[serde(default)]
    pub prev: BTreeMap<String, Value>,
    /// Earlier values, for aggregates.
    #[serde(default)]
    pub history: Vec<HistoryPoint>,
}

/// Values of a device at one time.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryPoint {
    /// Time, ms since the Unix epoch.
    pub ts: i64,
    /// Values.
    pub values: BTreeMap<String, Value>,
}

/// What a rule would do with an input.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestOutcome {
    /// The trigger accepts the input (tenant, kind, device).
    pub trigger_matched: bool,
    /// The condition's value, when it was evaluated without error.
    pub condition: Option<bool>,
    /// Why the condition failed.
    pub error: Option<String>,
    /// It would fire now (condition holds and there is no `for`).
    pub fires: bool,
    /// How long the condition must hold first (`for`), in ms.
    pub hold_ms: u64,
    /// The actions it would plan when it fires.
    pub actions: Vec<PlannedAction>,
    /// Actions that could not be planned.
    pub action_errors: Vec<String>,
}

/// Whether a stateful rule fired for a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Pending { since: i64 },
    Fired,
}

/// What one device's evaluator remembers.
#[derive(Default)]
struct DeviceState {
    prev: BTreeMap<String, Value>,
    history: History,
    /// Phase of each stateful rule, by the rule's compile serial.
    phases: FastMap<u64, Phase>,
    matches: MatchCache,
}

/// The rules whose trigger accepts the device's inputs, by kind, for one rule-set version and
/// one [`DeviceInfo`] (the directory hands out a new `Arc` when a device changes).
#[derive(Default)]
struct MatchCache {
    version: u64,
    device: Option<Arc<DeviceInfo>>,
    by_kind: [Option<Arc<[usize]>>; 4],
}

impl MatchCache {
    fn slot(kind: InputKind) -> Option<usize> {
        match kind {
            InputKind::Telemetry => Some(0),
            InputKind::Event => Some(1),
            InputKind::Presence => Some(2),
            InputKind::Twin => Some(3),
            // Alarm triggers look at the alarm itself: never cached.
            InputKind::Alarm => None,
        }
    }

    /// The cached matches of `kind`, or `compute`d and kept.
    fn get(
        &mut self,
        version: u64,
        device: &Option<Arc<DeviceInfo>>,
        kind: InputKind,
        compute: impl FnOnce() -> Vec<usize>,
    ) -> Arc<[usize]> {
        let Some(slot) = Self::slot(kind) else {
            return compute().into();
        };
        let same_device = match (&self.device, device) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if self.version != version || !same_device {
            *self = MatchCache {
                version,
                device: device.clone(),
                by_kind: Default::default(),
            };
        }
        Arc::clone(self.by_kind[slot].get_or_insert_with(|| compute().into()))
    }
}

/// Evaluates inputs against the engine's current rules, keeping per-device state (previous
/// values, history for aggregates, phases of stateful rules).
pub struct Evaluator {
    engine: Arc<Engine>,
    rules: Arc<RuleSet>,
    version: u64,
    devices: FastMap<String, FastMap<String, DeviceState>>,
    root: Context<'static, 'static>,
}

impl Evaluator {
    fn refresh(&mut self) {
        let version = self.engine.version.load(Ordering::Acquire);
        if version == self.version {
            return;
        }
        self.rules = self.engine.rules();
        self.version = version;
        let live: HashSet<u64> = self.rules.rules.iter().map(|r| r.serial).collect();
        for state in self.devices.values_mut().flat_map(HashMap::values_mut) {
            state.phases.retain(|serial, _| live.contains(serial));
        }
    }

    /// Evaluates `input` against every rule it may concern; returns what fired.
    pub fn process(&mut self, input: &Input) -> Vec<Firing> {
        self.refresh();
        let Evaluator {
            engine,
            rules,
            version,
            devices,
            root,
        } = self;
        let state = device_state(devices, &input.tenant, &input.device);
        let Some(tenant) = rules.tenants.get(&input.tenant) else {
            remember(state, input);
            return Vec::new();
        };
        if !tenant.tracked.is_empty() {
            state.history.record(
                input.ts,
                input.values.iter(),
                &tenant.tracked,
                engine.config.window,
            );
        }
        if input.hops >= engine.config.max_hops {
            metrics::counter!(LOOP_STOPS).increment(1);
            remember(state, input);
            return Vec::new();
        }
        let device = engine.directory.device(&input.tenant, &input.device);
        let matched = state.matches.get(*version, &device, input.kind, || {
            candidates(tenant, input, device.as_deref())
                .filter(|&i| trigger_matches(&rules.rules[i], input, device.as_deref()))
                .collect()
        });
        let mut firings = Vec::new();
        if !matched.is_empty() {
            let vars = matched
                .iter()
                .fold(Vars::default(), |all, &i| all.union(rules.rules[i].vars));
            let twin = vars
                .twin
                .then(|| engine.directory.twin(&input.tenant, &input.device))
                .flatten();
            let facts = Facts::of_input(input, device.as_deref(), &state.prev, twin);
            let scopes = Scopes::new(&facts, root, vars, Some(&state.history));
            let now = engine.clock.now_ms();
            for &index in matched.iter() {
                let rule = &rules.rules[index];
                if let Some(firing) = step(rule, &scopes, &mut state.phases, now) {
                    firings.push(firing);
                }
            }
        }
        remember(state, input);
        firings
    }
}

fn device_state<'a>(
    devices: &'a mut FastMap<String, FastMap<String, DeviceState>>,
    tenant: &str,
    device: &str,
) -> &'a mut DeviceState {
    if !devices.contains_key(tenant) {
        devices.insert(tenant.to_owned(), FastMap::default());
    }
    let by_device = devices.get_mut(tenant).expect("inserted above");
    if !by_device.contains_key(device) {
        by_device.insert(device.to_owned(), DeviceState::default());
    }
    by_device.get_mut(device).expect("inserted above")
}

/// Keeps the telemetry values of `input` as the device's previous values.
fn remember(state: &mut DeviceState, input: &Input) {
    if input.kind == InputKind::Telemetry {
        for (key, value) in &input.values {
            match state.prev.get_mut(key) {
                Some(slot) => slot.clone_from(value),
                None => {
                    state.prev.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

/// Indexes of the rules that may concern `input`.
fn candidates<'a>(
    tenant: &'a TenantRules,
    input: &Input,
    device: Option<&DeviceInfo>,
) -> impl Iterator<Item = usize> + 'a {
    let (named, product, general): (&[usize], &[usize], &[usize]) =
        if input.kind == InputKind::Alarm {
            (&[], &[], &tenant.alarm)
        } else {
            (
                tenant
                    .by_device
                    .get(&input.device)
                    .map_or(&[], Vec::as_slice),
                device
                    .and_then(|d| tenant.by_product.get(&d.product))
                    .map_or(&[], Vec::as_slice),
                &tenant.general,
            )
        };
    named.iter().chain(product).chain(general).copied()
}

/// True when the rule's trigger accepts `input` from `device`.
fn trigger_matches(rule: &CompiledRule, input: &Input, device: Option<&DeviceInfo>) -> bool {
    let chosen = |selector: &crate::rule::DeviceSelector| match device {
        Some(d) => selector.matches(d),
        None => {
            selector.product.is_none()
                && selector.asset.is_none()
                && selector.tags.is_empty()
                && (selector.ids.is_empty() || selector.ids.contains(&input.device))
        }
    };
    match &rule.trigger {
        CompiledTrigger::Message { kinds, devices } => {
            kinds.contains(&input.kind) && chosen(devices)
        }
        CompiledTrigger::Alarm {
            types,
            statuses,
            min_severity,
            devices,
        } => input.alarm.as_ref().is_some_and(|alarm| {
            (types.is_empty() || types.contains(&alarm.alarm_type))
                && (statuses.is_empty() || statuses.contains(&alarm.status))
                && min_severity.is_none_or(|min| alarm.severity >= min)
                && chosen(devices)
        }),
        CompiledTrigger::Schedule { .. } => false,
    }
}

/// Evaluates the rule's condition: met, not met (also when data is missing), or an error.
pub(crate) fn condition(
    rule: &CompiledRule,
    scope: &RuleScope<'_, '_, '_>,
) -> Result<bool, String> {
    holds(rule.condition.as_ref(), scope)
}

fn holds(expr: Option<&crate::expr::Expr>, scope: &RuleScope<'_, '_, '_>) -> Result<bool, String> {
    let Some(expr) = expr else {
        return Ok(true);
    };
    let answer = expr
        .direct()
        .map(|d| d.evaluate(scope.facts(), scope.history()));
    match answer {
        Some(Answer::Bool(b)) => Ok(b),
        Some(Answer::NoData) => Ok(false),
        Some(Answer::Ask) | None => match expr.holds(scope.get()) {
            Ok(b) => Ok(b),
            Err(EvalError::NoData(_)) => Ok(false),
            Err(EvalError::Failed(message)) => Err(message),
        },
    }
}

/// Plans the rule's actions (or its clear actions).
pub(crate) fn plan(
    rule: &CompiledRule,
    scope: &RuleScope<'_, '_, '_>,
    cleared: bool,
    hops: u8,
) -> (Vec<PlannedAction>, Vec<String>) {
    let facts = scope.facts();
    let actions = match (&rule.clear, cleared) {
        (Some((_, clear_actions)), true) => clear_actions,
        _ => &rule.actions,
    };
    let derives = actions
        .iter()
        .any(|a| matches!(a, CompiledAction::Derive { .. }));
    Plan {
        tenant: facts.tenant.to_owned(),
        device: facts.input.map(|i| i.device.clone()),
        ts: facts.ts,
        hops: hops.saturating_add(1),
        context: facts.template_context(&rule.def.id, &rule.def.name),
        scope: derives.then(|| scope.get()),
    }
    .run(actions)
}

/// Evaluates one rule for one input, moves its phase, and plans what fires.
pub(crate) fn step(
    rule: &CompiledRule,
    scopes: &Scopes<'_, '_>,
    phases: &mut FastMap<u64, Phase>,
    now: i64,
) -> Option<Firing> {
    let scope = &scopes.of_rule(rule);
    let facts = scope.facts();
    let stats = rule.stats();
    stats.evaluated();
    let fail = |message: String| {
        stats.failed(RuleFailure {
            ts: now,
            device: facts.input.map(|i| i.device.clone()),
            message,
        })
    };
    let met = condition(rule, scope).map_err(&fail).ok()?;
    if met {
        stats.matched();
    }
    let cleared = if rule.is_stateful() {
        let phase = phases.entry(rule.serial).or_insert(Phase::Idle);
        let (next, transition) = match (*phase, met) {
            (Phase::Fired, _) if rule.clear.is_some() => {
                let over = holds(rule.clear.as_ref().map(|(e, _)| e), scope)
                    .map_err(&fail)
                    .ok()?;
                if over {
                    (Phase::Idle, Some(true))
                } else {
                    (Phase::Fired, None)
                }
            }
            (Phase::Fired, met) => (if met { Phase::Fired } else { Phase::Idle }, None),
            (_, false) => (Phase::Idle, None),
            (Phase::Idle, true) if rule.hold_ms == 0 => (Phase::Fired, Some(false)),
            (Phase::Idle, true) => (Phase::Pending { since: now }, None),
            (Phase::Pending { since }, true)
                if now.saturating_sub(since) >= rule.hold_ms as i64 =>
            {
                (Phase::Fired, Some(false))
            }
            (pending, true) => (pending, None),
        };
        *phase = next;
        transition?
    } else if met {
        false
    } else {
        return None;
    };
    let hops = facts.input.map_or(0, |i| i.hops);
    let (actions, errors) = plan(rule, scope, cleared, hops);
    for error in errors {
        fail(error);
    }
    stats.fired(actions.len());
    Some(Firing {
        tenant: facts.tenant.to_owned(),
        rule: rule.def.id.clone(),
        device: facts.input.map(|i| i.device.clone()),
        cleared,
        ts: facts.ts,
        actions,
    })
}
