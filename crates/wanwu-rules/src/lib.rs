//! The rule engine of wanwu: rules as data, compiled once, evaluated off the ingest path.
//!
//! - [`rule`]: rule and scene definitions (JSON); [`action`]: actions as written and as
//!   planned; [`compile`]: checking and compiling them, with field paths and CEL positions.
//! - [`engine`]: the rule set and the per-worker [`Evaluator`] (debounce, hysteresis, loop
//!   bound, aggregates over [`window`]); [`schedule`]: cron triggers; [`scene`]: scenes.
//! - [`runtime`]: bounded per-device-partitioned queues and workers.
//! - [`executor`]: carries out planned actions: webhooks here, the rest through the
//!   [`ActionTarget`] the platform implements; [`alarm`]: the alarm lifecycle.
//! - [`input`]: what the platform feeds in, and the [`Directory`] it provides.
//! - [`template`]: the `${path}` syntax of action fields.
//! - [`bench`]: the engine benchmark.

pub mod action;
pub mod alarm;
pub mod bench;
pub mod clock;
pub mod compile;
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
pub mod span;
pub mod template;
pub mod window;

pub use action::{ActionDef, PlannedAction, WebhookRequest};
pub use alarm::{
    Alarm, AlarmBook, AlarmChange, AlarmChangeKind, AlarmError, AlarmSeverity, AlarmStatus,
};
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
