//! Compiling definitions: every check with its field path, every expression and template
//! compiled once.

use crate::action::{
    ActionDef, ClearAlarmDef, CommandDef, DeriveDef, PublishDef, RaiseAlarmDef, SetDesiredDef,
    WebhookDef,
};
use crate::alarm::{AlarmSeverity, AlarmStatus};
use crate::error::DefinitionErrors;
use crate::expr::{AggregateCall, Expr, Vars};
use crate::input::InputKind;
use crate::metrics::RuleStats;
use crate::rule::{
    AlarmTrigger, DeviceSelector, MessageTrigger, RuleDef, SceneDef, ScheduleTrigger, Trigger,
};
use crate::span::Span;
use crate::template::{JsonTemplate, Template};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wanwu_model::id::id_problem;

/// Most actions in one list.
pub const MAX_ACTIONS: usize = 32;
/// Most retries of a webhook.
pub const MAX_WEBHOOK_RETRIES: u32 = 10;
/// Longest time limit of one webhook attempt.
pub const MAX_WEBHOOK_TIMEOUT_MS: u64 = 60_000;

static SERIAL: AtomicU64 = AtomicU64::new(1);

/// A rule ready to evaluate.
#[derive(Debug)]
pub struct CompiledRule {
    /// The definition it was compiled from.
    pub def: RuleDef,
    /// Unique per compilation: per-device state of an older compilation is dropped.
    pub(crate) serial: u64,
    pub(crate) trigger: CompiledTrigger,
    pub(crate) condition: Option<Expr>,
    pub(crate) hold_ms: u64,
    pub(crate) clear: Option<(Expr, Vec<CompiledAction>)>,
    pub(crate) actions: Vec<CompiledAction>,
    /// Every aggregate its expressions use.
    pub(crate) aggregates: Vec<AggregateCall>,
    /// Every variable its expressions read.
    pub(crate) vars: Vars,
    pub(crate) stats: Arc<RuleStats>,
}

impl CompiledRule {
    /// True when the rule remembers per device whether it fired (`for` or `clear`): it then
    /// fires once on entering the condition; otherwise it fires on every input that meets it.
    pub fn is_stateful(&self) -> bool {
        self.hold_ms > 0 || self.clear.is_some()
    }

    /// Counters of the rule.
    pub fn stats(&self) -> &RuleStats {
        &self.stats
    }
}

/// A compiled trigger.
#[derive(Debug)]
pub(crate) enum CompiledTrigger {
    Message {
        kinds: Vec<InputKind>,
        devices: DeviceSelector,
    },
    Schedule {
        cron: Box<croner::Cron>,
        tz: jiff::tz::TimeZone,
    },
    Alarm {
        types: Vec<String>,
        statuses: Vec<AlarmStatus>,
        min_severity: Option<AlarmSeverity>,
        devices: DeviceSelector,
    },
}

/// A compiled action: templates parsed, expressions compiled.
#[derive(Debug)]
pub(crate) enum CompiledAction {
    SetDesired {
        devices: Vec<String>,
        values: JsonTemplate,
    },
    Command {
        devices: Vec<String>,
        name: String,
        params: JsonTemplate,
    },
    RaiseAlarm {
        alarm: String,
        severity: AlarmSeverity,
        details: JsonTemplate,
        device: Option<Template>,
    },
    ClearAlarm {
        alarm: String,
        device: Option<Template>,
    },
    Publish {
        topic: Template,
        payload: JsonTemplate,
        qos: u8,
        retain: bool,
    },
    Webhook {
        url: Template,
        headers: BTreeMap<String, String>,
        body: Option<JsonTemplate>,
        timeout: Span,
        retries: u32,
        backoff: Span,
    },
    Derive {
        key: String,
        expr: Expr,
    },
}

/// A scene ready to run.
#[derive(Debug)]
pub struct CompiledScene {
    /// The definition.
    pub def: SceneDef,
    pub(crate) actions: Vec<CompiledAction>,
}

/// Compiles a rule, reporting every problem found.
pub fn compile_rule(def: RuleDef) -> Result<CompiledRule, DefinitionErrors> {
    let mut errors = DefinitionErrors::default();
    check_id(&mut errors, "id", &def.id);
    check_id(&mut errors, "tenant", &def.tenant);
    let device_bound = !matches!(def.trigger, Trigger::Schedule(_));
    let trigger = compile_trigger(&def.trigger, &mut errors);
    if !device_bound && (def.hold.is_some() || def.clear.is_some()) {
        errors.push(
            "trigger",
            "a schedule fires at instants: \"for\" and \"clear\" need a message or alarm trigger",
        );
    }
    let condition = def
        .condition
        .as_deref()
        .and_then(|source| keep(&mut errors, Expr::compile(source, "condition")));
    if def.actions.is_empty() {
        errors.push("actions", "a rule needs at least one action");
    }
    let actions = compile_actions(&def.actions, "actions", device_bound, &mut errors);
    let clear = def.clear.as_ref().and_then(|clear| {
        let expr = keep(
            &mut errors,
            Expr::compile(&clear.condition, "clear.condition"),
        );
        let actions = compile_actions(&clear.actions, "clear.actions", device_bound, &mut errors);
        expr.map(|e| (e, actions))
    });
    errors.into_result()?;
    let trigger = trigger.ok_or_else(|| DefinitionErrors::single("trigger", "invalid"))?;
    let exprs: Vec<&Expr> = condition
        .iter()
        .chain(clear.iter().map(|(e, _)| e))
        .chain(derive_exprs(&actions))
        .chain(clear.iter().flat_map(|(_, a)| derive_exprs(a)))
        .collect();
    let mut aggregates: Vec<AggregateCall> = exprs
        .iter()
        .flat_map(|e| e.aggregates().iter().cloned())
        .collect();
    aggregates.sort_by_key(AggregateCall::variable);
    aggregates.dedup();
    let vars = exprs
        .iter()
        .fold(Vars::default(), |all, e| all.union(e.vars()));
    Ok(CompiledRule {
        serial: SERIAL.fetch_add(1, Ordering::Relaxed),
        trigger,
        condition,
        hold_ms: def.hold.map_or(0, Span::as_millis),
        clear,
        actions,
        aggregates,
        vars,
        stats: Arc::default(),
        def,
    })
}

/// Compiles a scene, reporting every problem found.
pub fn compile_scene(def: SceneDef) -> Result<CompiledScene, DefinitionErrors> {
    let mut errors = DefinitionErrors::default();
    check_id(&mut errors, "id", &def.id);
    check_id(&mut errors, "tenant", &def.tenant);
    if def.actions.is_empty() {
        errors.push("actions", "a scene needs at least one action");
    }
    let actions = compile_actions(&def.actions, "actions", false, &mut errors);
    errors.into_result()?;
    Ok(CompiledScene { def, actions })
}

fn derive_exprs(actions: &[CompiledAction]) -> impl Iterator<Item = &Expr> {
    actions.iter().filter_map(|a| match a {
        CompiledAction::Derive { expr, .. } => Some(expr),
        _ => None,
    })
}

fn keep<T>(errors: &mut DefinitionErrors, result: Result<T, DefinitionErrors>) -> Option<T> {
    result.map_err(|e| errors.0.extend(e.0)).ok()
}

fn check_id(errors: &mut DefinitionErrors, path: &str, id: &str) {
    if let Some(problem) = id_problem(id) {
        errors.push(path, format!("invalid id {id:?}: {problem}"));
    }
}

fn check_selector(errors: &mut DefinitionErrors, path: &str, selector: &DeviceSelector) {
    for (i, id) in selector.ids.iter().enumerate() {
        check_id(errors, &format!("{path}.ids[{i}]"), id);
    }
}

fn compile_trigger(trigger: &Trigger, errors: &mut DefinitionErrors) -> Option<CompiledTrigger> {
    match trigger {
        Trigger::Message(MessageTrigger { kinds, devices }) => {
            if kinds.is_empty() {
                errors.push("trigger.kinds", "name at least one kind");
            }
            if kinds.contains(&InputKind::Alarm) {
                errors.push("trigger.kinds", "alarm changes take an alarm trigger");
            }
            check_selector(errors, "trigger.devices", devices);
            Some(CompiledTrigger::Message {
                kinds: kinds.clone(),
                devices: devices.clone(),
            })
        }
        Trigger::Schedule(ScheduleTrigger { cron, tz }) => {
            let parsed = croner::Cron::from_str(cron)
                .map_err(|e| {
                    errors.push(
                        "trigger.cron",
                        format!("invalid cron expression {cron:?}: {e}"),
                    )
                })
                .ok();
            let zone = jiff::tz::TimeZone::get(tz)
                .map_err(|_| errors.push("trigger.tz", format!("unknown IANA time zone {tz:?}")))
                .ok();
            Some(CompiledTrigger::Schedule {
                cron: Box::new(parsed?),
                tz: zone?,
            })
        }
        Trigger::Alarm(AlarmTrigger {
            types,
            statuses,
            min_severity,
            devices,
        }) => {
            for (i, t) in types.iter().enumerate() {
                check_id(errors, &format!("trigger.types[{i}]"), t);
            }
            check_selector(errors, "trigger.devices", devices);
            Some(CompiledTrigger::Alarm {
                types: types.clone(),
                statuses: statuses.clone(),
                min_severity: *min_severity,
                devices: devices.clone(),
            })
        }
    }
}

fn compile_actions(
    actions: &[ActionDef],
    path: &str,
    device_bound: bool,
    errors: &mut DefinitionErrors,
) -> Vec<CompiledAction> {
    if actions.len() > MAX_ACTIONS {
        errors.push(path, format!("at most {MAX_ACTIONS} actions"));
    }
    actions
        .iter()
        .enumerate()
        .filter_map(|(i, action)| {
            let mut checker = ActionChecker {
                path: format!("{path}[{i}]"),
                device_bound,
                errors: &mut *errors,
            };
            checker.compile(action)
        })
        .collect()
}

/// Checks and compiles one action, recording problems under its path.
struct ActionChecker<'a> {
    path: String,
    device_bound: bool,
    errors: &'a mut DefinitionErrors,
}

impl ActionChecker<'_> {
    fn at(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        let path = self.at(field);
        self.errors.push(path, message);
    }

    fn targets(&mut self, devices: &[String]) -> Vec<String> {
        if devices.is_empty() && !self.device_bound {
            self.fail(
                "devices",
                "name the devices: there is no triggering device here",
            );
        }
        for (i, id) in devices.iter().enumerate() {
            check_id(self.errors, &format!("{}.devices[{i}]", self.path), id);
        }
        devices.to_vec()
    }

    fn template(&mut self, field: &str, source: &str) -> Option<Template> {
        Template::compile(source)
            .map_err(|e| self.fail(field, e))
            .ok()
    }

    fn json(&mut self, field: &str, json: &serde_json::Value) -> Option<JsonTemplate> {
        JsonTemplate::compile(json)
            .map_err(|(inner, e)| {
                let path = format!("{}{inner}", self.at(field));
                self.errors.push(path, e);
            })
            .ok()
    }

    fn device(&mut self, device: &Option<String>) -> Option<Option<Template>> {
        match device {
            Some(source) => self.template("device", source).map(Some),
            None if !self.device_bound => {
                self.fail(
                    "device",
                    "name the device: there is no triggering device here",
                );
                None
            }
            None => Some(None),
        }
    }

    fn compile(&mut self, action: &ActionDef) -> Option<CompiledAction> {
        match action {
            ActionDef::SetDesired(SetDesiredDef { devices, values }) => {
                if values.is_empty() {
                    self.fail("values", "set at least one key");
                }
                let devices = self.targets(devices);
                let values = self.json("values", &serde_json::Value::Object(values.clone()))?;
                Some(CompiledAction::SetDesired { devices, values })
            }
            ActionDef::Command(CommandDef {
                devices,
                name,
                params,
            }) => {
                check_id(self.errors, &self.at("name"), name);
                let devices = self.targets(devices);
                let params = self.json("params", &serde_json::Value::Object(params.clone()))?;
                Some(CompiledAction::Command {
                    devices,
                    name: name.clone(),
                    params,
                })
            }
            ActionDef::RaiseAlarm(RaiseAlarmDef {
                alarm,
                severity,
                details,
                device,
            }) => {
                check_id(self.errors, &self.at("alarm"), alarm);
                let details = self.json("details", details);
                let device = self.device(device);
                Some(CompiledAction::RaiseAlarm {
                    alarm: alarm.clone(),
                    severity: *severity,
                    details: details?,
                    device: device?,
                })
            }
            ActionDef::ClearAlarm(ClearAlarmDef { alarm, device }) => {
                check_id(self.errors, &self.at("alarm"), alarm);
                Some(CompiledAction::ClearAlarm {
                    alarm: alarm.clone(),
                    device: self.device(device)?,
                })
            }
            ActionDef::Publish(PublishDef {
                topic,
                payload,
                qos,
                retain,
            }) => {
                if *qos > 1 {
                    self.fail("qos", "QoS must be 0 or 1");
                }
                if topic.contains(['+', '#']) || topic.is_empty() {
                    self.fail(
                        "topic",
                        "a topic to publish on is not empty and has no wildcards",
                    );
                }
                let topic = self.template("topic", topic);
                let payload = self.json("payload", payload);
                Some(CompiledAction::Publish {
                    topic: topic?,
                    payload: payload?,
                    qos: *qos,
                    retain: *retain,
                })
            }
            ActionDef::Webhook(WebhookDef {
                url,
                headers,
                body,
                timeout,
                retries,
                backoff,
            }) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    self.fail("url", "must start with http:// or https://");
                }
                if timeout.as_millis() == 0 || timeout.as_millis() > MAX_WEBHOOK_TIMEOUT_MS {
                    self.fail("timeout", "must be longer than 0 and at most 60s");
                }
                if *retries > MAX_WEBHOOK_RETRIES {
                    self.fail("retries", format!("at most {MAX_WEBHOOK_RETRIES}"));
                }
                for name in headers.keys() {
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                        self.fail("headers", format!("{name:?} is not a header name"));
                    }
                }
                let url = self.template("url", url);
                let body = match body {
                    Some(body) => Some(self.json("body", body)?),
                    None => None,
                };
                Some(CompiledAction::Webhook {
                    url: url?,
                    headers: headers.clone(),
                    body,
                    timeout: *timeout,
                    retries: *retries,
                    backoff: *backoff,
                })
            }
            ActionDef::Derive(DeriveDef { key, expr }) => {
                check_id(self.errors, &self.at("key"), key);
                if !self.device_bound {
                    self.fail(
                        "key",
                        "a derived key belongs to the triggering device; there is none here",
                    );
                }
                let path = self.at("expr");
                let expr = keep(self.errors, Expr::compile(expr, &path))?;
                Some(CompiledAction::Derive {
                    key: key.clone(),
                    expr,
                })
            }
        }
    }
}
