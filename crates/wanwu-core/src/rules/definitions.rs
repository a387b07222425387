//! Rules and scenes in the caller's tenant: stored first, then swapped into the running
//! engine (writes are serialised, so the store and the engine see changes in one order).
//! A definition that does not compile is refused whole with every error (field path, CEL
//! line and column). Viewers read; operators and admins write and run scenes.

use super::Rules;
use super::outcomes::RuleOutcomes;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use serde::Serialize;
use serde_json::Value as Json;
use wanwu_model::ValidationErrors;
use wanwu_rules::compile::{compile_rule, compile_scene};
use wanwu_rules::{ActionOutcome, DefinitionErrors, RuleDef, RuleMetrics, SceneDef};
use wanwu_store::{DefinitionKind, DefinitionRecord, Page, PageRequest};

/// Why a rule or scene operation failed; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The definition does not parse or compile.
    #[error("{0}")]
    Invalid(DefinitionErrors),
    /// Not found, forbidden, already exists, or the store failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// A rule as the API shows it: the definition, its times, counters and recent outcomes.
#[derive(Clone, Debug, Serialize)]
pub struct RuleView {
    /// The definition.
    #[serde(flatten)]
    pub rule: RuleDef,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
    /// Evaluations, matches, firings, actions planned, errors and the last error, since the
    /// rule was last loaded.
    pub metrics: RuleMetrics,
    /// Actions done and failed, and the outcomes of the last firings.
    pub outcomes: RuleOutcomes,
}

/// A scene as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SceneView {
    /// The definition.
    #[serde(flatten)]
    pub scene: SceneDef,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// Last change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What one run of a scene did.
#[derive(Clone, Debug, Serialize)]
pub struct SceneRunView {
    /// Scene id.
    pub scene: String,
    /// Time of the run, ms since the Unix epoch.
    pub ts: i64,
    /// How each action went, in order.
    pub actions: Vec<ActionOutcome>,
    /// Actions that could not be planned (a template naming nothing).
    pub errors: Vec<String>,
}

/// The definition JSON of `body` in the caller's tenant; with `id` (from the path) the body's
/// id, when given, must be the same.
fn definition_json(scope: &Scope, id: Option<&str>, mut body: Json) -> Result<Vec<u8>, CoreError> {
    let Some(fields) = body.as_object_mut() else {
        return Err(ValidationErrors::single("", "must be a JSON object").into());
    };
    fields.insert("tenant".into(), scope.tenant.clone().into());
    if let Some(id) = id {
        match fields.get("id").and_then(Json::as_str) {
            Some(given) if given != id => {
                return Err(ValidationErrors::single(
                    "id",
                    format!("{given:?} is not the id in the path, {id:?}"),
                )
                .into());
            }
            _ => {
                fields.insert("id".into(), id.into());
            }
        }
    }
    Ok(body.to_string().into_bytes())
}

impl Rules {
    /// Stores a definition: a new one (`created` from now), or over the existing one.
    async fn save(
        &self,
        kind: DefinitionKind,
        tenant: &str,
        id: &str,
        enabled: bool,
        definition: String,
        new: bool,
    ) -> Result<DefinitionRecord, CoreError> {
        let now = now_ms();
        let mut record = DefinitionRecord {
            tenant: tenant.to_owned(),
            id: id.to_owned(),
            enabled,
            definition,
            created_at: now,
            updated_at: now,
        };
        if new {
            self.store.insert_definition(kind, &record).await?;
        } else {
            record.created_at = self
                .store
                .get_definition(kind, tenant, id)
                .await?
                .created_at;
            self.store.update_definition(kind, &record).await?;
        }
        Ok(record)
    }

    fn rule_view(&self, record: &DefinitionRecord) -> Result<RuleView, CoreError> {
        let rule = RuleDef::from_json(record.definition.as_bytes()).map_err(|e| {
            CoreError::Internal(format!("stored rule {} is damaged: {e}", record.id))
        })?;
        Ok(RuleView {
            metrics: self
                .engine
                .metrics(&record.tenant, &record.id)
                .unwrap_or_default(),
            outcomes: self.outcomes.of(&record.tenant, &record.id),
            rule,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// Creates a rule (`id` in the body) in the caller's tenant.
    pub async fn create_rule(&self, scope: &Scope, body: Json) -> Result<RuleView, RulesError> {
        self.write_rule(scope, None, body).await
    }

    /// Replaces rule `id` of the caller's tenant (counters start over).
    pub async fn update_rule(
        &self,
        scope: &Scope,
        id: &str,
        body: Json,
    ) -> Result<RuleView, RulesError> {
        self.write_rule(scope, Some(id), body).await
    }

    async fn write_rule(
        &self,
        scope: &Scope,
        id: Option<&str>,
        body: Json,
    ) -> Result<RuleView, RulesError> {
        scope.require_write()?;
        let def =
            RuleDef::from_json(&definition_json(scope, id, body)?).map_err(RulesError::Invalid)?;
        compile_rule(def.clone()).map_err(RulesError::Invalid)?;
        let _serial = self.writes.lock().await;
        let json = serde_json::to_string(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        let record = self
            .save(
                DefinitionKind::Rule,
                &scope.tenant,
                &def.id,
                def.enabled,
                json,
                id.is_none(),
            )
            .await?;
        self.outcomes
            .forget(&def.tenant, &def.id)
            .await
            .map_err(CoreError::from)?;
        self.engine.put_rule(def).map_err(RulesError::Invalid)?;
        Ok(self.rule_view(&record)?)
    }

    /// Enables or disables rule `id` of the caller's tenant.
    pub async fn set_enabled(
        &self,
        scope: &Scope,
        id: &str,
        enabled: bool,
    ) -> Result<RuleView, RulesError> {
        scope.require_write()?;
        let _serial = self.writes.lock().await;
        let stored = self
            .store
            .get_definition(DefinitionKind::Rule, &scope.tenant, id)
            .await
            .map_err(CoreError::from)?;
        let mut def = self.rule_view(&stored)?.rule;
        def.enabled = enabled;
        let json = serde_json::to_string(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        let record = self
            .save(
                DefinitionKind::Rule,
                &scope.tenant,
                id,
                enabled,
                json,
                false,
            )
            .await?;
        self.engine.put_rule(def).map_err(RulesError::Invalid)?;
        Ok(self.rule_view(&record)?)
    }

    /// Rule `id` of the caller's tenant.
    pub async fn get_rule(&self, scope: &Scope, id: &str) -> Result<RuleView, CoreError> {
        let record = self
            .store
            .get_definition(DefinitionKind::Rule, &scope.tenant, id)
            .await?;
        self.rule_view(&record)
    }

    /// A page of the caller's rules, by id.
    pub async fn list_rules(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<RuleView>, CoreError> {
        let rows = self
            .store
            .list_definitions(DefinitionKind::Rule, &scope.tenant, page)
            .await?;
        Ok(Page {
            items: rows
                .items
                .iter()
                .map(|r| self.rule_view(r))
                .collect::<Result<_, _>>()?,
            next_cursor: rows.next_cursor,
        })
    }

    /// Deletes rule `id` of the caller's tenant; it stops at once.
    pub async fn delete_rule(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_write()?;
        let _serial = self.writes.lock().await;
        self.store
            .delete_definition(DefinitionKind::Rule, &scope.tenant, id)
            .await?;
        self.engine.remove_rule(&scope.tenant, id);
        self.outcomes.forget(&scope.tenant, id).await?;
        Ok(())
    }

    fn scene_view(record: &DefinitionRecord) -> Result<SceneView, CoreError> {
        let scene = SceneDef::from_json(record.definition.as_bytes()).map_err(|e| {
            CoreError::Internal(format!("stored scene {} is damaged: {e}", record.id))
        })?;
        Ok(SceneView {
            scene,
            created_at: record.created_at,
            updated_at: record.updated_at,
        })
    }

    /// Creates a scene (`id` in the body) in the caller's tenant, or with `id` replaces it.
    pub async fn write_scene(
        &self,
        scope: &Scope,
        id: Option<&str>,
        body: Json,
    ) -> Result<SceneView, RulesError> {
        scope.require_write()?;
        let def =
            SceneDef::from_json(&definition_json(scope, id, body)?).map_err(RulesError::Invalid)?;
        let compiled = compile_scene(def.clone()).map_err(RulesError::Invalid)?;
        let _serial = self.writes.lock().await;
        let json = serde_json::to_string(&def).map_err(|e| CoreError::Internal(e.to_string()))?;
        let record = self
            .save(
                DefinitionKind::Scene,
                &scope.tenant,
                &def.id,
                true,
                json,
                id.is_none(),
            )
            .await?;
        self.put_scene(compiled);
        Ok(Self::scene_view(&record)?)
    }

    /// Scene `id` of the caller's tenant.
    pub async fn get_scene(&self, scope: &Scope, id: &str) -> Result<SceneView, CoreError> {
        let record = self
            .store
            .get_definition(DefinitionKind::Scene, &scope.tenant, id)
            .await?;
        Self::scene_view(&record)
    }

    /// A page of the caller's scenes, by id.
    pub async fn list_scenes(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<SceneView>, CoreError> {
        let rows = self
            .store
            .list_definitions(DefinitionKind::Scene, &scope.tenant, page)
            .await?;
        Ok(Page {
            items: rows
                .items
                .iter()
                .map(Self::scene_view)
                .collect::<Result<_, _>>()?,
            next_cursor: rows.next_cursor,
        })
    }

    /// Deletes scene `id` of the caller's tenant.
    pub async fn delete_scene(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_write()?;
        let _serial = self.writes.lock().await;
        self.store
            .delete_definition(DefinitionKind::Scene, &scope.tenant, id)
            .await?;
        self.remove_scene(&scope.tenant, id);
        Ok(())
    }

    /// Runs scene `id` of the caller's tenant now and waits for its actions.
    pub async fn run_scene(&self, scope: &Scope, id: &str) -> Result<SceneRunView, CoreError> {
        scope.require_write()?;
        let scene = self
            .scene(&scope.tenant, id)
            .ok_or_else(|| CoreError::NotFound {
                entity: "scene",
                id: id.to_owned(),
            })?;
        let running = self
            .running
            .get()
            .ok_or_else(|| CoreError::Internal("the rule engine is not running".into()))?;
        let run = scene.run(now_ms());
        let actions = running.dispatcher.execute(&run.actions).await;
        Ok(SceneRunView {
            scene: run.scene,
            ts: run.ts,
            actions,
            errors: run.errors,
        })
    }
}
