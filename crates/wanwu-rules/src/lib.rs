//! The rule engine of wanwu: rules as data, compiled once, evaluated off the ingest path.
//!
//! - [`rule`]: rule and scene definitions (JSON); [`action`]: actions as written and as
//!   planned; [`compile`]: checking and compiling them, with field paths and CEL positions.
//! - [`engine`]: the rule set and the per-worker [`Evaluator`] (debounce, hysteresis, loop
//!   bound, aggregates over [`window`]); [`schedule`]: cron triggers; [`scene`]: scenes.
//! - [`runtime`]: bounded per-device-partitioned queues and workers.
//! - [`executor`]: carries out planned actions: webhooks here, alarms through an
//!   [`AlarmSink`] ([`alarm_sink`]), the rest through the [`ActionTarget`] the platform
//!   implements; [`alarm`]: the alarm lifecycle.
//! - [`input`]: what the platform feeds in, and the [`Directory`] it provides.
//! - [`template`]: the `${path}` syntax of action fields.
//! - [`bench`]: the engine benchmark.
//!
//! # A rule
//!
//! ```
//! use std::sync::Arc;
//! use wanwu_rules::{DeviceInfo, Engine, EngineConfig, Input, MemoryDirectory, RuleDef, SystemClock};
//!
//! let rule = RuleDef::from_json(br#"{
//!     "id": "high-pm25", "tenant": "default", "name": "PM2.5 too high",
//!     "trigger": {"type": "message", "kinds": ["telemetry"], "devices": {"product": "aq"}},
//!     "condition": "avg('pm25', '5m') > 75.0",
//!     "for": "10m",
//!     "clear": {"condition": "avg('pm25', '5m') < 50.0",
//!               "actions": [{"type": "clear_alarm", "alarm": "high_pm25"}]},
//!     "actions": [
//!         {"type": "raise_alarm", "alarm": "high_pm25", "severity": "major",
//!          "details": {"pm25": "${values.pm25}"}},
//!         {"type": "publish", "topic": "alerts/${device}", "payload": {"pm25": "${values.pm25}"}}
//!     ]
//! }"#).unwrap();
//! let directory = Arc::new(MemoryDirectory::default());
//! directory.put_device(DeviceInfo {
//!     id: "st-1".into(), tenant: "default".into(), product: "aq".into(), ..Default::default()
//! });
//! let engine = Engine::new(directory, Arc::new(SystemClock), EngineConfig::default());
//! engine.put_rule(rule).unwrap();
//! let mut evaluator = engine.evaluator();
//! let values = [("pm25".to_string(), wanwu_model::Value::Float(20.0))].into();
//! assert!(evaluator.process(&Input::telemetry("default", "st-1", 0, values)).is_empty());
//! ```

pub mod action;
pub mod alarm;
pub mod alarm_sink;
pub mod bench;
pub mod clock;
pub mod compile;
mod direct;
pub mod engine;
pub mod error;
pub mod executor;
pub mod expr;
mod facts;
pub mod input;
pub mod metrics;
mod plan;
pub mod rule;
pub mod runtime;
pub mod scene;
pub mod schedule;
mod scopes;
pub mod span;
pub mod template;
pub mod window;

pub use action::{ActionDef, PlannedAction, WebhookRequest};
pub use alarm::{
    Alarm, AlarmBook, AlarmChange, AlarmChangeKind, AlarmError, AlarmSeverity, AlarmStatus,
};
pub use alarm_sink::{AlarmAt, AlarmPublisher, AlarmSink, BookAlarms};
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineConfig, Evaluator, Firing, RuleSet, TestContext, TestOutcome};
pub use error::{DefinitionError, DefinitionErrors};
pub use executor::{ActionOutcome, ActionTarget, Executor, WebhookClient, WebhookOutcome};
pub use input::{DeviceInfo, Directory, Input, InputKind, MemoryDirectory, TwinSnapshot};
pub use metrics::RuleMetrics;
pub use rule::{ClearDef, DeviceSelector, RuleDef, SceneDef, Trigger};
pub use runtime::{FiringSink, Runtime, RuntimeConfig, RuntimeStats};
pub use schedule::Scheduler;
pub use span::Span;
