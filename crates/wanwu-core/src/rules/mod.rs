//! The live rule engine of the platform: stored rules and scenes, compiled at start and
//! swapped on every change; fed with telemetry (ingest fan-out) and notices (bus: events,
//! presence, twin and alarm changes) on bounded queues partitioned by device; schedules
//! ticking; actions carried out on the platform.
//!
//! - [`definitions`]: create, read, update, delete, enable of rules and scenes, and running
//!   a scene, in the caller's tenant;
//! - [`feed`]: telemetry and notices into the runtime, through [`admission`] (each device's
//!   inputs in order, its first lookup off the feeders' path); [`directory`]: devices and
//!   twins for the evaluation threads;
//! - [`dispatch`]: firings to actions (alarms through [`crate::alarms`], the rest through
//!   [`target`]); [`outcomes`]: what each rule's actions did;
//! - [`hops`]: hop counts of inputs caused by actions, so that a rule triggering itself stops
//!   at the engine's hop limit.

pub mod admission;
pub mod bench;
pub mod definitions;
pub mod directory;
pub mod dispatch;
pub mod feed;
pub mod hops;
pub mod outcomes;
pub mod target;

pub use definitions::{RuleView, RulesError, SceneRunView, SceneView};
pub use outcomes::{FiringOutcome, RuleOutcomes};

use crate::Platform;
use crate::auth::ApiPrincipal;
use crate::error::CoreError;
use crate::scope::Scope;
use directory::PlatformDirectory;
use dispatch::Dispatcher;
use feed::Feed;
use hops::HopLedger;
use outcomes::OutcomeLog;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use target::PlatformTarget;
use wanwu_model::entity::Role;
use wanwu_rules::compile::CompiledScene;
use wanwu_rules::{Engine, EngineConfig, RuleDef, Runtime, RuntimeConfig, SceneDef, SystemClock};
use wanwu_store::{DefinitionKind, Store};

/// The scope the platform acts in for a tenant's rules (reads and writes, no admin).
pub fn system_scope(tenant: &str) -> Scope {
    Scope {
        tenant: tenant.to_owned(),
        principal: ApiPrincipal {
            tenant: tenant.to_owned(),
            role: Role::Operator,
            token_id: "rules".into(),
            platform_admin: false,
        },
    }
}

/// The running pieces, once started.
struct Running {
    runtime: Arc<Runtime>,
    dispatcher: Arc<Dispatcher>,
    feed: Arc<Feed>,
    /// The feed's tasks and the outcome flusher, ended by [`Rules::stop`].
    tasks: Vec<tokio::task::AbortHandle>,
}

/// Counters of the live rule stage, from the fan-out to the evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageStats {
    /// Telemetry batches (one per acknowledged payload) taken from the ingest fan-out.
    pub telemetry_batches: u64,
    /// The admission step (first lookups of devices).
    pub admission: admission::AdmissionStats,
    /// The runtime (queues partitioned by device, evaluation).
    pub runtime: wanwu_rules::RuntimeStats,
}

/// Rules and scenes of every tenant.
pub struct Rules {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    directory: Arc<PlatformDirectory>,
    scenes: RwLock<HashMap<(String, String), Arc<CompiledScene>>>,
    outcomes: Arc<OutcomeLog>,
    hops: Arc<HopLedger>,
    writes: tokio::sync::Mutex<()>,
    running: OnceLock<Running>,
}

impl Rules {
    /// Rules kept in `store`, reading devices and twins through `directory`; nothing runs
    /// until [`Rules::start`].
    pub fn new(store: Arc<dyn Store>, directory: Arc<PlatformDirectory>) -> Self {
        Rules {
            engine: Engine::new(
                directory.clone(),
                Arc::new(SystemClock),
                EngineConfig::default(),
            ),
            directory,
            scenes: RwLock::new(HashMap::new()),
            outcomes: Arc::new(OutcomeLog::new(store.clone())),
            store,
            hops: Arc::new(HopLedger::default()),
            writes: tokio::sync::Mutex::new(()),
            running: OnceLock::new(),
        }
    }

    /// The engine (rule set, counters).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Loads the stored rules and scenes, then starts evaluating: subscribes to `platform`'s
    /// ingest fan-out and bus, starts the workers, the schedule thread and the action lanes.
    /// Must run on a Tokio runtime; a second call does nothing.
    pub async fn start(&self, platform: &Platform) -> Result<(), CoreError> {
        if self.running.get().is_some() {
            return Ok(());
        }
        self.load().await?;
        let dispatcher = Arc::new(
            Dispatcher::new(
                PlatformTarget::new(platform.clone(), self.hops.clone()),
                platform.alarms.clone(),
                self.hops.clone(),
                self.outcomes.clone(),
            )
            .map_err(CoreError::Internal)?,
        );
        let sink = dispatcher.start();
        let flusher = tokio::spawn(self.outcomes.clone().keep_flushing());
        let runtime = Arc::new(Runtime::start(
            self.engine.clone(),
            RuntimeConfig::default(),
            sink,
        ));
        let feed = Arc::new(Feed {
            admission: admission::Admission::start(runtime.clone(), self.directory.clone()),
            hops: self.hops.clone(),
            batches: Default::default(),
        });
        let telemetry = platform
            .ingest
            .fanout()
            .subscribe("rules", feed::TELEMETRY_QUEUE);
        let notices = platform.bus.subscribe("rules", feed::NOTICE_QUEUE);
        let tasks = vec![
            flusher.abort_handle(),
            tokio::spawn(feed.clone().telemetry(telemetry)).abort_handle(),
            tokio::spawn(feed.clone().notices(notices)).abort_handle(),
        ];
        let _ = self.running.set(Running {
            runtime,
            dispatcher,
            feed,
            tasks,
        });
        Ok(())
    }

    /// Stops the rule stage: it takes no more inputs, evaluates what its workers hold and
    /// ends its threads and tasks (the outcomes are then flushed by the caller).
    pub async fn stop(&self) {
        let Some(running) = self.running.get() else {
            return;
        };
        running
            .tasks
            .iter()
            .for_each(tokio::task::AbortHandle::abort);
        let runtime = running.runtime.clone();
        if tokio::task::spawn_blocking(move || runtime.close())
            .await
            .is_err()
        {
            tracing::error!("stopping the rule workers panicked");
        }
    }

    async fn load(&self) -> Result<(), CoreError> {
        self.outcomes.load().await?;
        for record in self.store.all_definitions(DefinitionKind::Rule).await? {
            let loaded = RuleDef::from_json(record.definition.as_bytes())
                .and_then(|def| self.engine.put_rule(def));
            if let Err(e) = loaded {
                tracing::error!(tenant = %record.tenant, rule = %record.id, error = %e, "stored rule does not compile; skipped");
            }
        }
        for record in self.store.all_definitions(DefinitionKind::Scene).await? {
            let loaded = SceneDef::from_json(record.definition.as_bytes())
                .and_then(wanwu_rules::compile::compile_scene);
            match loaded {
                Ok(scene) => self.put_scene(scene),
                Err(e) => {
                    tracing::error!(tenant = %record.tenant, scene = %record.id, error = %e, "stored scene does not compile; skipped")
                }
            }
        }
        Ok(())
    }

    fn put_scene(&self, scene: CompiledScene) {
        let key = (scene.def.tenant.clone(), scene.def.id.clone());
        self.scenes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::new(scene));
    }

    fn scene(&self, tenant: &str, id: &str) -> Option<Arc<CompiledScene>> {
        self.scenes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_owned(), id.to_owned()))
            .cloned()
    }

    fn remove_scene(&self, tenant: &str, id: &str) {
        self.scenes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(tenant.to_owned(), id.to_owned()));
    }

    /// Writes the rules' outcomes not yet stored (at shutdown, before the store closes).
    pub async fn flush_outcomes(&self) {
        if let Err(e) = self.outcomes.flush().await {
            tracing::warn!(error = %e, "writing rule outcomes failed");
        }
    }

    /// Counters of the runtime (inputs accepted, dropped, evaluated; firings), once started.
    pub fn runtime_stats(&self) -> Option<wanwu_rules::RuntimeStats> {
        self.running.get().map(|r| r.runtime.stats())
    }

    /// Counters of the whole stage (fan-out batches taken, admission, runtime), once started.
    pub fn stage_stats(&self) -> Option<StageStats> {
        self.running.get().map(|r| StageStats {
            telemetry_batches: r.feed.batches.load(std::sync::atomic::Ordering::Relaxed),
            admission: r.feed.admission.stats(),
            runtime: r.runtime.stats(),
        })
    }
}
