//! Commands to devices from the thing model ([`command`] holds the lifecycle).
//!
//! [`Commands::send`] validates the parameters against the product's command, stores the
//! command (`queued`) and publishes `{"id", "params"}` on `devices/{id}/commands/{name}`
//! with QoS 1 (`sent` once the broker queued it for the device). The message carries the
//! MQTT 5 request/response properties: the response topic `devices/{id}/replies/{command id}`
//! and the command id as correlation data, so an MQTT 5 device can answer with its
//! library's request/response support; MQTT 3.1.1 devices publish on that topic directly.
//! Replies (`{"status": "ok" | "error", "result", "error"}`) finish the command
//! (`succeeded` or `failed`); replies for unknown or finished commands are refused and
//! change nothing.
//!
//! Mode `wait` answers with the reply, or marks the command `failed` after `timeout_ms`.
//! Mode `queue` answers at once; a device that is offline gets its queued commands when it
//! connects ([`Commands::deliver_on_connect`]), until `expires_at`; a sweep marks unfinished commands
//! `expired` once that time has passed. Every status is stored before it is answered, and
//! published on the platform bus as a [`NoticeKind::Command`] notice.

pub mod command;
pub mod on_connect;
pub mod params;

pub use command::{Command, CommandMode, CommandStatus};

use crate::auth::DevicePrincipal;
use crate::bus::{Bus, Notice, NoticeKind};
use crate::clock::now_ms;
use crate::downlink::Downlink;
use crate::error::CoreError;
use crate::presence::Presence;
use crate::registry::Registry;
use crate::scope::Scope;
use crate::uplink::Refusal;
use dashmap::DashMap;
use params::{Presence as ParamPresence, validate_params};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use wanwu_model::ValidationErrors;
use wanwu_mqtt::{Message, QoS};
use wanwu_store::{CommandFilter, Page, PageRequest, Store};

/// `timeout_ms` of mode `wait` when none is given.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Largest `timeout_ms`.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// How long a queued command waits for its device when no `expires_at` is given.
pub const DEFAULT_QUEUE_TTL_MS: i64 = 24 * 3600 * 1000;
/// A `wait` command expires this long after its timeout, so that only commands whose
/// waiter went away (a restart) are left to the expiry sweep.
const WAIT_GRACE_MS: i64 = 5_000;
/// How often unfinished commands past `expires_at` are looked for.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Most commands expired by one sweep round.
const SWEEP_BATCH: u32 = 256;
/// MQTT 5 reason code refusing a reply to an unknown or finished command.
pub const REPLY_REFUSED: u8 = Refusal::IMPLEMENTATION_SPECIFIC;
/// Suffix of the topics commands go out on (`commands/{name}`).
pub const COMMANDS_TOPIC: &str = "commands";
/// Suffix of the topics devices reply on (`replies/{command id}`).
pub const REPLIES_TOPIC: &str = "replies";

/// A command as an application (or a rule) asks for it.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCommand {
    /// Parameters of the command, as declared by the product.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Json,
    /// `wait` (default) or `queue`.
    #[serde(default)]
    pub mode: CommandMode,
    /// Mode `wait`: how long to wait for the reply, 1 to 300000 ms (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Mode `queue`: the command is dropped (`expired`) if not finished by then, ms since the
    /// Unix epoch (default: one day from now).
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Why a command was not sent, or not answered.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Not found, invalid, forbidden, or the store failed; nothing was stored.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Mode `wait` needs a connected device; nothing was stored.
    #[error(
        "device {0:?} is offline; send the command with mode \"queue\" to deliver it when it connects"
    )]
    DeviceOffline(String),
    /// No reply came within `timeout_ms`; the command is stored as `failed`.
    #[error("no reply from the device within {timeout_ms} ms")]
    TimedOut {
        /// The waited time.
        timeout_ms: u64,
        /// The command as stored.
        command: Box<Command>,
    },
}

impl From<wanwu_store::StoreError> for CommandError {
    fn from(e: wanwu_store::StoreError) -> Self {
        CommandError::Core(e.into())
    }
}

impl From<ValidationErrors> for CommandError {
    fn from(e: ValidationErrors) -> Self {
        CommandError::Core(CoreError::Invalid(e))
    }
}

/// What a device answers on `devices/{id}/replies/{command id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    status: ReplyStatus,
    #[serde(default)]
    result: Json,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ReplyStatus {
    Ok,
    Error,
}

type WaiterKey = (String, String);

/// The commands of every tenant.
pub struct Commands {
    store: Arc<dyn Store>,
    registry: Registry,
    presence: Arc<Presence>,
    downlink: Arc<Downlink>,
    bus: Arc<Bus>,
    waiters: DashMap<WaiterKey, oneshot::Sender<Command>>,
}

impl Commands {
    /// Commands kept in `store`, validated against `registry`'s products, delivered through
    /// `downlink` to devices that `presence` knows online, notices on `bus`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        presence: Arc<Presence>,
        downlink: Arc<Downlink>,
        bus: Arc<Bus>,
    ) -> Self {
        Commands {
            store,
            registry,
            presence,
            downlink,
            bus,
            waiters: DashMap::new(),
        }
    }

    /// Sends command `name` to device `device` of the caller's tenant; viewers cannot.
    /// See [`Commands::send_in`].
    pub async fn send(
        &self,
        scope: &Scope,
        device: &str,
        name: &str,
        request: SendCommand,
    ) -> Result<Command, CommandError> {
        scope.require_write()?;
        self.send_in(&scope.tenant, device, name, request).await
    }

    /// Sends command `name` to device `device` of `tenant` (for the platform's own senders,
    /// such as rules; no role check). Mode `wait` returns the finished command or
    /// [`CommandError::TimedOut`]; mode `queue` returns the command as stored (`queued`, or
    /// `sent` when the device is online).
    pub async fn send_in(
        &self,
        tenant: &str,
        device: &str,
        name: &str,
        request: SendCommand,
    ) -> Result<Command, CommandError> {
        let target = self
            .store
            .get_device(tenant, device)
            .await
            .map_err(CoreError::from)?;
        let product = self.registry.product_of(tenant, &target.product).await?;
        let definition = product.command(name).ok_or_else(|| CoreError::NotFound {
            entity: "command",
            id: name.to_owned(),
        })?;
        let params = validate_params(
            "params",
            &definition.params,
            &request.params,
            ParamPresence::Required,
        )?;
        let now = now_ms();
        let timeout_ms = request.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(ValidationErrors::single(
                "timeout_ms",
                format!("must be between 1 and {MAX_TIMEOUT_MS}"),
            )
            .into());
        }
        let expires_at = match (request.mode, request.expires_at) {
            (CommandMode::Wait, Some(_)) => {
                return Err(ValidationErrors::single(
                    "expires_at",
                    "only commands of mode \"queue\" expire; mode \"wait\" takes timeout_ms",
                )
                .into());
            }
            (CommandMode::Wait, None) => now + timeout_ms as i64 + WAIT_GRACE_MS,
            (CommandMode::Queue, Some(at)) if at <= now => {
                return Err(ValidationErrors::single("expires_at", "must be in the future").into());
            }
            (CommandMode::Queue, at) => at.unwrap_or(now + DEFAULT_QUEUE_TTL_MS),
        };
        let online = self.presence.get(tenant, device).online;
        if request.mode == CommandMode::Wait && !online {
            return Err(CommandError::DeviceOffline(device.to_owned()));
        }
        let command = Command {
            id: command::new_command_id(now),
            device: device.to_owned(),
            name: name.to_owned(),
            params,
            mode: request.mode,
            status: CommandStatus::Queued,
            result: None,
            error: None,
            created_at: now,
            sent_at: None,
            finished_at: None,
            expires_at,
        };
        self.store
            .insert_command(&command.to_record(tenant)?)
            .await
            .map_err(CoreError::from)?;
        metrics::counter!("wanwu_commands_total", "mode" => mode_name(request.mode)).increment(1);
        self.notify(tenant, &command);
        match request.mode {
            CommandMode::Queue if online => Ok(self.deliver(tenant, command).await),
            CommandMode::Queue => Ok(command),
            CommandMode::Wait => self.wait(tenant, command, timeout_ms).await,
        }
    }

    /// The command `id` of the caller's tenant.
    pub async fn get(&self, scope: &Scope, id: &str) -> Result<Command, CoreError> {
        Command::from_record(&self.store.get_command(&scope.tenant, id).await?)
    }

    /// A page of the commands of device `device` (oldest first), optionally of one status.
    pub async fn list(
        &self,
        scope: &Scope,
        device: &str,
        status: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Command>, CoreError> {
        self.registry.get_device(scope, device).await?;
        if let Some(status) = status
            && CommandStatus::parse(status).is_none()
        {
            return Err(ValidationErrors::single(
                "status",
                "must be one of queued, sent, succeeded, failed, expired",
            )
            .into());
        }
        let filter = CommandFilter {
            device: Some(device.to_owned()),
            status: status.map(str::to_owned),
        };
        let page = self
            .store
            .list_commands(&scope.tenant, &filter, page)
            .await?;
        let items = page
            .items
            .iter()
            .map(Command::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Handles a device's reply to command `command_id`: finishes the command, or refuses
    /// the reply (unknown or finished command, malformed reply) and changes nothing.
    pub async fn reply(
        &self,
        device: &DevicePrincipal,
        command_id: &str,
        payload: &[u8],
    ) -> Result<(), Refusal> {
        let reply: Reply = serde_json::from_slice(payload).map_err(|e| {
            Refusal::new(
                Refusal::PAYLOAD_FORMAT_INVALID,
                "invalid_payload",
                format!(
                    "a reply is {{\"status\": \"ok\" | \"error\", \"result\", \"error\"}}: {e}"
                ),
            )
        })?;
        let command = self.unfinished_command_of(device, command_id).await?;
        if reply.status == ReplyStatus::Ok {
            let product = self
                .registry
                .product_of(&device.tenant, &device.product)
                .await?;
            let declared = product
                .command(&command.name)
                .map(|c| c.response.as_slice())
                .unwrap_or_default();
            if !declared.is_empty() {
                validate_params("result", declared, &reply.result, ParamPresence::Optional)
                    .map_err(CoreError::Invalid)?;
            }
        }
        let now = now_ms();
        let finished = self
            .finish(&device.tenant, command_id, |c| match reply.status {
                ReplyStatus::Ok => Command {
                    result: Some(reply.result.clone()),
                    ..c.finished(CommandStatus::Succeeded, now)
                },
                ReplyStatus::Error => Command {
                    result: (!reply.result.is_null()).then(|| reply.result.clone()),
                    error: Some(
                        reply
                            .error
                            .clone()
                            .unwrap_or_else(|| "the device reported an error".into()),
                    ),
                    ..c.finished(CommandStatus::Failed, now)
                },
            })
            .await?;
        match finished {
            Some(_) => Ok(()),
            None => Err(finished_refusal(command_id)),
        }
    }

    /// Delivers the queued commands of a device (expiring the overdue ones); returns how
    /// many are still queued (the device is not subscribed yet, or the broker refused).
    pub async fn deliver_queued(&self, tenant: &str, device: &str) -> Result<usize, CoreError> {
        let queued = self.store.queued_commands(tenant, device).await?;
        let mut left = 0;
        for record in &queued {
            let command = Command::from_record(record)?;
            if command.expires_at <= now_ms() {
                self.expire(tenant, &command).await?;
            } else if self.deliver(tenant, command).await.status == CommandStatus::Queued {
                left += 1;
            }
        }
        Ok(left)
    }

    /// Starts [`Commands::sweep_expired`] on the current Tokio runtime; without one,
    /// commands expire only when their device connects.
    pub fn start_sweep(self: &Arc<Self>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.clone().sweep_expired());
            }
            Err(_) => tracing::warn!("no async runtime: overdue commands are not swept"),
        }
    }

    /// Marks unfinished commands past their `expires_at` as `expired`, every
    /// [`SWEEP_INTERVAL`], for as long as the platform runs.
    pub async fn sweep_expired(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.expire_overdue().await {
                tracing::warn!(%error, "expiring overdue commands");
            }
        }
    }

    /// One sweep round: expires up to a batch of overdue commands; returns how many.
    pub async fn expire_overdue(&self) -> Result<usize, CoreError> {
        let overdue = self.store.overdue_commands(now_ms(), SWEEP_BATCH).await?;
        for record in &overdue {
            self.expire(&record.tenant, &Command::from_record(record)?)
                .await?;
        }
        Ok(overdue.len())
    }

    async fn expire(&self, tenant: &str, command: &Command) -> Result<(), CoreError> {
        let now = now_ms();
        let error = match command.status {
            CommandStatus::Queued => "not delivered before expires_at",
            _ => "no reply before expires_at",
        };
        self.finish(tenant, &command.id, |c| Command {
            error: Some(error.into()),
            ..c.finished(CommandStatus::Expired, now)
        })
        .await?;
        metrics::counter!("wanwu_commands_expired_total").increment(1);
        Ok(())
    }

    /// Publishes a queued command to its device; marks it `sent` when the broker queued it
    /// for at least one session. Returns the command as it now is.
    async fn deliver(&self, tenant: &str, command: Command) -> Command {
        let topic = format!(
            "devices/{}/{COMMANDS_TOPIC}/{}",
            command.device, command.name
        );
        let mut message = Message::new(
            topic,
            json!({"id": command.id, "params": command.params}).to_string(),
        )
        .with_qos(QoS::AtLeastOnce);
        message.properties.response_topic =
            Some(format!("devices/{}/{REPLIES_TOPIC}/{}", command.device, command.id).into());
        message.properties.correlation_data = Some(command.id.clone().into_bytes().into());
        message.properties.content_type = Some("application/json".to_owned().into());
        let remaining_secs = (command.expires_at - now_ms()).max(1000) / 1000;
        message.properties.message_expiry_secs = Some(remaining_secs.min(u32::MAX as i64) as u32);
        match self.downlink.publish(tenant, message).await {
            Ok(0) => {
                metrics::counter!("wanwu_commands_undelivered_total").increment(1);
                command
            }
            Ok(_) => {
                let sent = Command {
                    status: CommandStatus::Sent,
                    sent_at: Some(now_ms()),
                    ..command.clone()
                };
                match self.transition(tenant, &command, &sent).await {
                    Ok(true) => sent,
                    // A reply (or the sweep) came first: show the command as stored.
                    Ok(false) => self.reread(tenant, command).await,
                    Err(error) => {
                        tracing::warn!(%error, command = %command.id, "sent status not stored");
                        command
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%error, command = %command.id, "command not published");
                command
            }
        }
    }

    /// Waits up to `timeout_ms` for the reply to `command`, which is delivered first.
    async fn wait(
        &self,
        tenant: &str,
        command: Command,
        timeout_ms: u64,
    ) -> Result<Command, CommandError> {
        let key = (tenant.to_owned(), command.id.clone());
        let (tx, rx) = oneshot::channel();
        self.waiters.insert(key.clone(), tx);
        let id = command.id.clone();
        let delivered = self.deliver(tenant, command).await;
        if delivered.status.is_final() {
            self.waiters.remove(&key);
            return Ok(delivered);
        }
        let answer = tokio::time::timeout(Duration::from_millis(timeout_ms), rx).await;
        self.waiters.remove(&key);
        if let Ok(Ok(finished)) = answer {
            return Ok(finished);
        }
        let now = now_ms();
        let error = format!("no reply within {timeout_ms} ms");
        let failed = self
            .finish(tenant, &id, |c| Command {
                error: Some(error.clone()),
                ..c.finished(CommandStatus::Failed, now)
            })
            .await?;
        match failed {
            Some(command) => Err(CommandError::TimedOut {
                timeout_ms,
                command: Box::new(command),
            }),
            // The reply came between the timeout and this update.
            None => Ok(Command::from_record(
                &self.store.get_command(tenant, &id).await?,
            )?),
        }
    }

    /// The unfinished command `id` of `device`, or the refusal of a reply to it.
    async fn unfinished_command_of(
        &self,
        device: &DevicePrincipal,
        id: &str,
    ) -> Result<Command, Refusal> {
        let record = match self.store.get_command(&device.tenant, id).await {
            Ok(record) if record.device == device.device => record,
            Ok(_) | Err(wanwu_store::StoreError::NotFound { .. }) => {
                return Err(Refusal::new(
                    REPLY_REFUSED,
                    "unknown_command",
                    format!("no command {id:?} was sent to this device"),
                ));
            }
            Err(e) => return Err(CoreError::from(e).into()),
        };
        let command = Command::from_record(&record)?;
        if command.status.is_final() {
            return Err(finished_refusal(id));
        }
        Ok(command)
    }

    /// Moves the unfinished command `id` to `change(command)` (a final status), stores it,
    /// tells its waiter and the bus. `None` when the command was already final.
    async fn finish(
        &self,
        tenant: &str,
        id: &str,
        change: impl Fn(&Command) -> Command,
    ) -> Result<Option<Command>, CoreError> {
        loop {
            let current = Command::from_record(&self.store.get_command(tenant, id).await?)?;
            if current.status.is_final() {
                return Ok(None);
            }
            let next = change(&current);
            if self.transition(tenant, &current, &next).await? {
                if let Some((_, waiter)) = self.waiters.remove(&(tenant.to_owned(), id.to_owned()))
                {
                    let _ = waiter.send(next.clone());
                }
                metrics::counter!("wanwu_commands_finished_total", "status" => next.status.as_str())
                    .increment(1);
                return Ok(Some(next));
            }
            // Another change came first (sent, or final): look again.
        }
    }

    /// Stores `next` if the stored command is still `current`'s status; publishes the notice.
    async fn transition(
        &self,
        tenant: &str,
        current: &Command,
        next: &Command,
    ) -> Result<bool, CoreError> {
        let changed = self
            .store
            .update_command(&next.to_record(tenant)?, current.status.as_str())
            .await?;
        if changed {
            self.notify(tenant, next);
        }
        Ok(changed)
    }

    async fn reread(&self, tenant: &str, fallback: Command) -> Command {
        match self.store.get_command(tenant, &fallback.id).await {
            Ok(record) => Command::from_record(&record).unwrap_or(fallback),
            Err(_) => fallback,
        }
    }

    fn notify(&self, tenant: &str, command: &Command) {
        self.bus.publish(Arc::new(Notice {
            tenant: tenant.to_owned(),
            device: command.device.clone(),
            kind: NoticeKind::Command,
            ts: now_ms(),
            body: serde_json::to_value(command).unwrap_or_default(),
        }));
    }
}

fn finished_refusal(id: &str) -> Refusal {
    Refusal::new(
        REPLY_REFUSED,
        "command_finished",
        format!("command {id:?} is already finished"),
    )
}

fn mode_name(mode: CommandMode) -> &'static str {
    match mode {
        CommandMode::Wait => "wait",
        CommandMode::Queue => "queue",
    }
}
