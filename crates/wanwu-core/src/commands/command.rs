//! A command and its lifecycle: `queued` -> `sent` -> `succeeded` | `failed` | `expired`,
//! as stored (a [`CommandRecord`] holding the JSON document) and as the API shows it.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use wanwu_store::CommandRecord;

/// Where a command is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Stored, not yet delivered to the device.
    Queued,
    /// Delivered to the device; waiting for its reply.
    Sent,
    /// The device replied `ok`.
    Succeeded,
    /// The device replied `error`, or no reply came in time (mode `wait`).
    Failed,
    /// Neither delivered nor answered before `expires_at`.
    Expired,
}

impl CommandStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Queued => "queued",
            CommandStatus::Sent => "sent",
            CommandStatus::Succeeded => "succeeded",
            CommandStatus::Failed => "failed",
            CommandStatus::Expired => "expired",
        }
    }

    /// The status named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            CommandStatus::Queued,
            CommandStatus::Sent,
            CommandStatus::Succeeded,
            CommandStatus::Failed,
            CommandStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// True once the command can no longer change.
    pub fn is_final(self) -> bool {
        !matches!(self, CommandStatus::Queued | CommandStatus::Sent)
    }
}

/// How the caller waits for the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandMode {
    /// The call returns with the device's reply, or fails after `timeout_ms`.
    #[default]
    Wait,
    /// The call returns at once; the command is delivered while, or as soon as, the device
    /// is online, until `expires_at`.
    Queue,
}

/// A command to a device, as stored and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Command {
    /// Id, unique within the tenant; ids sort in creation order.
    pub id: String,
    /// Target device.
    pub device: String,
    /// Command id of the product's thing model.
    pub name: String,
    /// The validated parameters.
    #[schema(value_type = Object)]
    pub params: Map<String, Json>,
    /// How the sender waits.
    pub mode: CommandMode,
    /// Where the command is in its lifecycle.
    pub status: CommandStatus,
    /// What the device answered (`result` of its `ok` reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Json>,
    /// Why the command failed or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Created, ms since the Unix epoch.
    pub created_at: i64,
    /// Delivered to the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
    /// Reached its final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// The command expires if it is not finished by then.
    pub expires_at: i64,
}

impl Command {
    /// The stored form of the command in `tenant`.
    pub fn to_record(&self, tenant: &str) -> Result<CommandRecord, CoreError> {
        Ok(CommandRecord {
            tenant: tenant.to_owned(),
            id: self.id.clone(),
            device: self.device.clone(),
            status: self.status.as_str().to_owned(),
            expires_at: self.expires_at,
            document: serde_json::to_string(self)
                .map_err(|e| CoreError::Internal(format!("command as JSON: {e}")))?,
        })
    }

    /// The command of a stored record.
    pub fn from_record(record: &CommandRecord) -> Result<Self, CoreError> {
        serde_json::from_str(&record.document).map_err(|e| {
            CoreError::Internal(format!("stored command {} is unreadable: {e}", record.id))
        })
    }

    /// The command moved to final `status` at `now`.
    pub fn finished(&self, status: CommandStatus, now: i64) -> Self {
        Command {
            status,
            finished_at: Some(now),
            ..self.clone()
        }
    }
}

/// A new, time-sortable command id: the creation time in hex, then random bits.
pub fn new_command_id(now: i64) -> String {
    format!("c{:012x}{:08x}", now.max(0), rand::random::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_ids_sort_by_time() {
        let command = Command {
            id: new_command_id(1_700_000_000_000),
            device: "d1".into(),
            name: "blink".into(),
            params: Map::new(),
            mode: CommandMode::Queue,
            status: CommandStatus::Queued,
            result: None,
            error: None,
            created_at: 1_700_000_000_000,
            sent_at: None,
            finished_at: None,
            expires_at: 1_700_000_060_000,
        };
        let record = command.to_record("t").unwrap();
        assert_eq!(record.status, "queued");
        assert_eq!(Command::from_record(&record).unwrap(), command);
        assert!(new_command_id(1) < new_command_id(2));
        assert_eq!(
            CommandStatus::parse("expired"),
            Some(CommandStatus::Expired)
        );
        assert!(CommandStatus::Failed.is_final() && !CommandStatus::Sent.is_final());
    }
}
