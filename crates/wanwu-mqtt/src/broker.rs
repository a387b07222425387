//! The broker: shared state, session registry, routing and serving.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use rmqtt_codec::v5::{RetainHandling, SubscriptionOptions};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::BrokerConfig;
use crate::hooks::{DisconnectReason, Hooks};
use crate::message::{Message, Publication, QoS};
use crate::retained::{RetainOutcome, RetainedStore};
use crate::router::Router;
use crate::session::{ConnectionLink, Enqueued, Outgoing, Session, SessionKey, SubscriptionEntry};
use crate::stats::{DropReason, Stats};
use crate::store::{DurableState, Record, Store, StoreError, StoredOutgoing, StoredSubscription};
use crate::topic::{is_valid_topic_name, parse_filter};

/// How long a graceful shutdown waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors of the broker API.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The persistence store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A server-side publish named an invalid topic.
    #[error("invalid topic name {0:?}")]
    InvalidTopic(String),
}

/// State shared by the broker handle and all connections.
pub(crate) struct Inner {
    pub config: BrokerConfig,
    pub hooks: Hooks,
    pub router: Router,
    pub retained: RetainedStore,
    pub sessions: Mutex<HashMap<SessionKey, Arc<Session>>>,
    pub store: Option<Store>,
    pub stats: Stats,
    pub connections: AtomicUsize,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    next_session_id: AtomicU64,
    next_generation: AtomicU64,
    next_seq: AtomicU64,
}

/// An MQTT broker. Cheap to clone; all clones share one broker.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A session attached to a new connection.
pub(crate) struct Attached {
    pub session: Arc<Session>,
    pub session_present: bool,
    pub generation: u64,
    pub kicked: oneshot::Receiver<DisconnectReason>,
}

impl Broker {
    /// Builds a broker, recovering persistent sessions and retained messages from
    /// `config.data_dir`. Must run inside a Tokio runtime.
    pub async fn start(config: BrokerConfig, hooks: Hooks) -> Result<Self, BrokerError> {
        let (store, durable) = match &config.data_dir {
            Some(dir) => {
                let (store, durable) = Store::open(dir, config.fsync, config.compact_after_bytes)?;
                (Some(store), durable)
            }
            None => (None, DurableState::default()),
        };
        let inner = Arc::new(Inner {
            config,
            hooks,
            router: Router::default(),
            retained: RetainedStore::default(),
            sessions: Mutex::new(HashMap::new()),
            store,
            stats: Stats::new(),
            connections: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            next_session_id: AtomicU64::new(1),
            next_generation: AtomicU64::new(1),
            next_seq: AtomicU64::new(durable.max_seq() + 1),
        });
        inner.restore(durable);
        Ok(Self { inner })
    }

    /// Accepts MQTT connections on `listener` until [`shutdown`](Self::shutdown).
    pub async fn serve_tcp(&self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let inner = self.inner.clone();
                        self.inner.tasks.spawn(crate::connection::run(inner, stream, peer));
                    }
                    Err(error) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    /// Serves one MQTT connection over any byte stream (TCP, TLS, a WebSocket adapted with
    /// [`ws::WsIo`](crate::ws::WsIo)) until it ends. `peer` is reported to hooks.
    pub async fn serve_connection<IO>(&self, io: IO, peer: SocketAddr)
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let inner = self.inner.clone();
        let _ = self
            .inner
            .tasks
            .spawn(crate::connection::run(inner, io, peer))
            .await;
    }

    /// Publishes a server-originated message into `namespace` (commands, shadow deltas,
    /// error reports). Returns the number of sessions it was queued for; with QoS 1/2 it
    /// returns once the message is durable for offline persistent sessions (and retained).
    pub async fn publish(&self, namespace: &str, message: Message) -> Result<usize, BrokerError> {
        if !is_valid_topic_name(&message.topic) {
            return Err(BrokerError::InvalidTopic(message.topic.to_string()));
        }
        let namespace: Arc<str> = namespace.into();
        Ok(self
            .inner
            .route(&namespace, Publication::new(message, 0))
            .await?)
    }

    /// Stops accepting, tells clients the server is shutting down, waits (briefly) for
    /// connections to close and flushes persistence.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.inner.tasks.wait()).await;
        if let Some(store) = &self.inner.store {
            store.close().await;
        }
    }

    /// The shared state, for unit tests.
    #[cfg(test)]
    pub(crate) fn inner_for_tests(&self) -> Arc<Inner> {
        self.inner.clone()
    }

    /// Number of open client connections.
    pub fn connection_count(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// Rebuilds sessions, subscriptions and retained messages from durable state.
    fn restore(self: &Arc<Self>, durable: DurableState) {
        for ((namespace, _), publication) in durable.retained {
            let namespace: Arc<str> = namespace.into();
            self.retained
                .set(&namespace, Arc::new(publication), usize::MAX);
        }
        self.stats.retained.set(self.retained.len() as f64);
        for ((namespace, client_id), stored) in durable.sessions {
            let key = SessionKey {
                namespace: namespace.into(),
                client_id,
            };
            let session = self.new_session(key.clone(), stored.expiry_secs);
            {
                let mut state = session.state.lock();
                state.stored = true;
                for sub in &stored.subscriptions {
                    state
                        .subscriptions
                        .insert(sub.filter.clone(), stored_to_entry(sub));
                }
                for (seq, message) in stored.queue {
                    let subscription_ids = message
                        .subscription_ids
                        .iter()
                        .copied()
                        .filter_map(NonZeroU32::new)
                        .collect();
                    let outgoing = Outgoing {
                        publication: Arc::new(message.publication),
                        qos: message.qos,
                        retain: message.retain,
                        subscription_ids,
                        seq,
                    };
                    state.queue.push_back(outgoing);
                }
            }
            for sub in &stored.subscriptions {
                if let Some(spec) = parse_filter(&sub.filter) {
                    self.router.subscribe(
                        &key.namespace,
                        spec,
                        &session,
                        stored_to_entry(sub).options,
                        sub.id.and_then(NonZeroU32::new),
                    );
                }
            }
            self.sessions.lock().insert(key, session.clone());
            self.schedule_expiry(&session);
        }
    }

    fn new_session(&self, key: SessionKey, expiry_secs: u32) -> Arc<Session> {
        self.stats.sessions.increment(1.0);
        let id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
        Arc::new(Session::new(id, key, expiry_secs))
    }

    /// Attaches a new connection to the session `key`, taking over any connection it has.
    /// `clean_start` discards an existing session. Returns the records to persist.
    pub fn attach(
        &self,
        key: SessionKey,
        clean_start: bool,
        expiry_secs: u32,
    ) -> (Attached, Vec<Record>) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let (kick, kicked) = oneshot::channel();
        let link = ConnectionLink { generation, kick };
        let mut records = Vec::new();
        let mut sessions = self.sessions.lock();
        let existing = sessions.get(&key).cloned();
        if let Some(old) = &existing {
            let mut state = old.state.lock();
            if let Some(previous) = state.link.take() {
                let _ = previous.kick.send(DisconnectReason::TakenOver);
            }
            state.offline_epoch += 1;
            if !clean_start {
                state.expiry_secs = expiry_secs;
                state.link = Some(link);
                records.extend(session_record(old, &mut state));
                drop(state);
                let attached = Attached {
                    session: old.clone(),
                    session_present: true,
                    generation,
                    kicked,
                };
                return (attached, records);
            }
            state.superseded = true;
        }
        let session = self.new_session(key.clone(), expiry_secs);
        {
            let mut state = session.state.lock();
            state.link = Some(link);
            records.extend(session_record(&session, &mut state));
        }
        sessions.insert(key, session.clone());
        drop(sessions);
        if let Some(old) = existing {
            records.extend(self.forget_session(&old));
        }
        (
            Attached {
                session,
                session_present: false,
                generation,
                kicked,
            },
            records,
        )
    }

    /// Detaches connection `generation` from `session`: a non-persistent session ends, a
    /// persistent one waits for its expiry. Returns the records to persist.
    pub fn detach(self: &Arc<Self>, session: &Arc<Session>, generation: u64) -> Vec<Record> {
        let mut state = session.state.lock();
        if state.link.as_ref().map(|l| l.generation) != Some(generation) {
            return Vec::new();
        }
        state.link = None;
        state.offline_epoch += 1;
        let persistent = state.is_persistent();
        drop(state);
        if !persistent {
            let mut sessions = self.sessions.lock();
            if sessions
                .get(&session.key)
                .is_some_and(|s| Arc::ptr_eq(s, session))
            {
                sessions.remove(&session.key);
            }
            drop(sessions);
            return self.forget_session(session);
        }
        self.schedule_expiry(session);
        Vec::new()
    }

    /// Removes a session's subscriptions; the records to persist its end.
    fn forget_session(&self, session: &Arc<Session>) -> Vec<Record> {
        self.stats.sessions.decrement(1.0);
        let (filters, stored) = {
            let mut state = session.state.lock();
            state.queue.clear();
            state.inflight.clear();
            (
                state
                    .subscriptions
                    .drain()
                    .map(|(f, _)| f)
                    .collect::<Vec<_>>(),
                state.stored,
            )
        };
        for filter in &filters {
            if let Some(spec) = parse_filter(filter) {
                self.router
                    .unsubscribe(&session.key.namespace, spec, session.id);
            }
        }
        if stored && self.store.is_some() {
            vec![Record::SessionDrop {
                namespace: session.key.namespace.to_string(),
                client_id: session.key.client_id.clone(),
            }]
        } else {
            Vec::new()
        }
    }

    /// Ends an offline persistent session once its expiry interval passes.
    fn schedule_expiry(self: &Arc<Self>, session: &Arc<Session>) {
        let (expiry, epoch) = {
            let state = session.state.lock();
            (state.expiry_secs, state.offline_epoch)
        };
        if expiry == u32::MAX {
            return;
        }
        let inner = self.clone();
        let session = session.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(u64::from(expiry))) => {}
                () = inner.shutdown.cancelled() => return,
            }
            let expired = {
                let state = session.state.lock();
                state.link.is_none() && state.offline_epoch == epoch && !state.superseded
            };
            if !expired {
                return;
            }
            let removed = {
                let mut sessions = inner.sessions.lock();
                let current = sessions
                    .get(&session.key)
                    .is_some_and(|s| Arc::ptr_eq(s, &session));
                if current {
                    sessions.remove(&session.key);
                }
                current
            };
            if removed {
                let records = inner.forget_session(&session);
                inner.persist(records).await;
            }
        });
    }

    /// Persists records without waiting for durability.
    pub async fn persist(&self, records: Vec<Record>) {
        if let (Some(store), false) = (&self.store, records.is_empty()) {
            store.append(records).await;
        }
    }

    /// Persists records and waits until they are durable.
    pub async fn persist_durably(&self, records: Vec<Record>) -> Result<(), StoreError> {
        match (&self.store, records.is_empty()) {
            (Some(store), false) => store.commit(records).await,
            _ => Ok(()),
        }
    }

    /// Routes a publication: retained store, then every matching session's queue. Returns
    /// once everything that must be durable is.
    pub async fn route(
        &self,
        namespace: &Arc<str>,
        publication: Publication,
    ) -> Result<usize, StoreError> {
        let publication = Arc::new(publication);
        let mut records = Vec::new();
        if publication.message.retain {
            self.retain(namespace, &publication, &mut records);
        }
        let targets =
            self.router
                .targets(namespace, &publication.message.topic, publication.origin);
        if targets.is_empty() {
            self.stats.dropped(DropReason::NoSubscribers);
        }
        let delivered = targets.len();
        for target in targets {
            let outgoing = Outgoing {
                publication: publication.clone(),
                qos: publication.message.qos.min(target.qos),
                retain: publication.message.retain && target.retain_as_published,
                subscription_ids: target.subscription_ids,
                seq: 0,
            };
            self.offer(&target.session, outgoing, &mut records);
        }
        self.persist_durably(records).await?;
        Ok(delivered)
    }

    /// Queues `outgoing` for `session` (recording it when it must be durable) and wakes it.
    pub fn offer(&self, session: &Session, mut outgoing: Outgoing, records: &mut Vec<Record>) {
        let mut state = session.state.lock();
        let durable =
            self.store.is_some() && state.is_persistent() && outgoing.qos != QoS::AtMostOnce;
        if durable {
            outgoing.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        }
        let record = durable.then(|| Record::Enqueue {
            namespace: session.key.namespace.to_string(),
            client_id: session.key.client_id.clone(),
            seq: outgoing.seq,
            message: StoredOutgoing {
                publication: (*outgoing.publication).clone(),
                qos: outgoing.qos,
                retain: outgoing.retain,
                subscription_ids: outgoing
                    .subscription_ids
                    .iter()
                    .map(|id| id.get())
                    .collect(),
            },
        });
        match state.enqueue(outgoing, self.config.max_queued_messages) {
            Enqueued::Queued => records.extend(record),
            Enqueued::QueuedEvicting => {
                records.extend(record);
                self.stats.dropped(DropReason::QueueFull);
            }
            Enqueued::Dropped => self.stats.dropped(DropReason::QueueFull),
        }
        drop(state);
        session.wake.notify_one();
    }

    fn retain(
        &self,
        namespace: &Arc<str>,
        publication: &Arc<Publication>,
        records: &mut Vec<Record>,
    ) {
        let limit = self.config.max_retained_per_namespace;
        match self.retained.set(namespace, publication.clone(), limit) {
            RetainOutcome::Stored if self.store.is_some() => {
                records.push(Record::RetainSet {
                    namespace: namespace.to_string(),
                    publication: (**publication).clone(),
                });
            }
            RetainOutcome::Cleared if self.store.is_some() => {
                records.push(Record::RetainClear {
                    namespace: namespace.to_string(),
                    topic: publication.message.topic.clone(),
                });
            }
            RetainOutcome::Full => self.stats.dropped(DropReason::QueueFull),
            _ => {}
        }
        self.stats.retained.set(self.retained.len() as f64);
    }
}

/// The record describing a persistent session's settings and subscriptions.
pub(crate) fn session_record(
    session: &Session,
    state: &mut crate::session::SessionState,
) -> Option<Record> {
    state.stored |= state.is_persistent();
    state.is_persistent().then(|| Record::Session {
        namespace: session.key.namespace.to_string(),
        client_id: session.key.client_id.clone(),
        expiry_secs: state.expiry_secs,
        subscriptions: state
            .subscriptions
            .iter()
            .map(|(filter, entry)| StoredSubscription {
                filter: filter.clone(),
                qos: entry.options.qos,
                no_local: entry.options.no_local,
                retain_as_published: entry.options.retain_as_published,
                retain_handling: entry.options.retain_handling as u8,
                id: entry.id.map(NonZeroU32::get),
            })
            .collect(),
    })
}

fn stored_to_entry(sub: &StoredSubscription) -> SubscriptionEntry {
    SubscriptionEntry {
        options: SubscriptionOptions {
            qos: sub.qos,
            no_local: sub.no_local,
            retain_as_published: sub.retain_as_published,
            retain_handling: RetainHandling::try_from(sub.retain_handling)
                .unwrap_or(RetainHandling::AtSubscribe),
        },
        id: sub.id.and_then(NonZeroU32::new),
    }
}
