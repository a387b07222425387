//! Scenes: named lists of actions run on demand (`POST /scenes/{id}/run`).

use crate::action::PlannedAction;
use crate::compile::CompiledScene;
use crate::plan::Plan;
use serde::Serialize;
use serde_json::json;

/// The actions of one run of a scene.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SceneRun {
    /// Tenant.
    pub tenant: String,
    /// Scene id.
    pub scene: String,
    /// Time of the run.
    pub ts: i64,
    /// The planned actions.
    pub actions: Vec<PlannedAction>,
    /// Actions that could not be planned.
    pub errors: Vec<String>,
}

impl CompiledScene {
    /// Plans a run at `now_ms`. Templates see `tenant`, `scene`, `scene_name` and `ts`.
    pub fn run(&self, now_ms: i64) -> SceneRun {
        let (actions, errors) = Plan {
            tenant: self.def.tenant.clone(),
            device: None,
            ts: now_ms,
            hops: 1,
            context: json!({
                "tenant": self.def.tenant, "scene": self.def.id, "scene_name": self.def.name,
                "ts": now_ms, "derived": {}
            }),
            scope: None,
        }
        .run(&self.actions);
        SceneRun {
            tenant: self.def.tenant.clone(),
            scene: self.def.id.clone(),
            ts: now_ms,
            actions,
            errors,
        }
    }
}
