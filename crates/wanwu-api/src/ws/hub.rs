//! The hub between the platform and the sockets: one subscriber to the ingest fan-out
//! (telemetry) and one to the bus (every other notice), routing each message to the
//! sockets of its tenant whose subscriptions want it.
//!
//! Each socket has a bounded queue of frames ([`Route`]). The hub never waits for a socket:
//! when a socket's queue is full the socket is marked as overflowed, gets nothing more, and
//! its session closes it with [`CloseReason::SlowConsumer`](super::protocol::CloseReason).
//! Messages the hub itself could not take in time are dropped and counted by the fan-outs
//! (`wanwu_fanout_dropped_total{processor="ws"}`).
//!
//! Metrics: `wanwu_ws_connections` (open sockets), `wanwu_ws_frames_total` (data frames
//! queued to sockets), `wanwu_ws_overflows_total` (sockets whose queue filled up).

use super::placement::{Placement, Placements};
use super::protocol::LiveKind;
use super::render::SharedPart;
use super::subscription::Subscription;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::{Notify, mpsc};
use wanwu_core::ingest::Ingested;
use wanwu_core::{Notice, Platform};

/// Capacity of the hub's own queues (telemetry batches, notices) from the platform.
pub const HUB_QUEUE: usize = 8192;
/// Name of the hub's queues on the fan-outs (the `processor` label of their metrics).
const PROCESSOR: &str = "ws";

/// One socket as the hub sees it: its tenant, subscriptions and queue of frames.
pub struct Route {
    id: u64,
    tenant: String,
    subscriptions: RwLock<Vec<Subscription>>,
    queue: mpsc::Sender<String>,
    overflowed: AtomicBool,
    overflow: Notify,
}

impl Route {
    /// The socket's subscriptions.
    pub fn subscriptions(&self) -> std::sync::RwLockReadGuard<'_, Vec<Subscription>> {
        self.subscriptions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket's subscriptions, to change.
    pub fn subscriptions_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Subscription>> {
        self.subscriptions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Completes once the socket's queue has filled up.
    pub async fn overflowed(&self) {
        while !self.overflowed.load(Ordering::Acquire) {
            self.overflow.notified().await;
        }
    }

    /// Ids of the subscriptions that want `kind` of `device`.
    fn wanted_by(
        &self,
        kind: LiveKind,
        device: &str,
        product: Option<&str>,
        placement: Option<&Placement>,
    ) -> Vec<Arc<str>> {
        self.subscriptions()
            .iter()
            .filter(|s| s.matches(kind, device, product, placement))
            .map(|s| s.id.clone())
            .collect()
    }

    fn needs_placement(&self, kind: LiveKind, device: &str, product_known: bool) -> bool {
        self.subscriptions()
            .iter()
            .any(|s| s.needs_placement(kind, device, product_known))
    }

    /// Queues `frame` without waiting; a full queue marks the socket as overflowed.
    fn push(&self, frame: String) -> bool {
        if self.overflowed.load(Ordering::Acquire) {
            return false;
        }
        match self.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Release);
                self.overflow.notify_one();
                metrics::counter!("wanwu_ws_overflows_total").increment(1);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

type TenantRoutes = Arc<Vec<Arc<Route>>>;

/// The routing of live data to sockets.
pub struct Hub {
    routes: RwLock<HashMap<String, TenantRoutes>>,
    placements: Placements,
    next_id: AtomicU64,
}

/// A socket's place in the hub; dropping it takes the socket out.
pub struct Registration {
    hub: Arc<Hub>,
    /// The socket's route.
    pub route: Arc<Route>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(&self.route);
    }
}

impl Hub {
    /// A hub on `platform` whose routing tasks run on the current Tokio runtime (without a
    /// runtime sockets get no data).
    pub fn start(platform: &Platform) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            routes: RwLock::new(HashMap::new()),
            placements: Placements::new(platform.store.clone(), platform.registry.clone()),
            next_id: AtomicU64::new(1),
        });
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let mut telemetry = platform.ingest.fanout().subscribe(PROCESSOR, HUB_QUEUE);
                let mut notices = platform.bus.subscribe(PROCESSOR, HUB_QUEUE);
                let to_route = hub.clone();
                runtime.spawn(async move {
                    while let Some(batch) = telemetry.recv().await {
                        to_route.route_telemetry(&batch).await;
                    }
                });
                let to_route = hub.clone();
                runtime.spawn(async move {
                    while let Some(notice) = notices.recv().await {
                        to_route.route_notice(&notice).await;
                    }
                });
            }
            Err(_) => tracing::warn!("no async runtime: WebSocket subscribers get no data"),
        }
        hub
    }

    /// Adds a socket of `tenant` with a queue of `capacity` frames; returns its registration
    /// and the receiving end of its queue.
    pub fn register(
        self: &Arc<Self>,
        tenant: &str,
        capacity: usize,
    ) -> (Registration, mpsc::Receiver<String>) {
        let (queue, frames) = mpsc::channel(capacity.max(1));
        let route = Arc::new(Route {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            tenant: tenant.to_owned(),
            subscriptions: RwLock::new(Vec::new()),
            queue,
            overflowed: AtomicBool::new(false),
            overflow: Notify::new(),
        });
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let entry = routes.entry(tenant.to_owned()).or_default();
        let mut updated = entry.as_ref().clone();
        updated.push(route.clone());
        *entry = Arc::new(updated);
        metrics::gauge!("wanwu_ws_connections").increment(1.0);
        let registration = Registration {
            hub: self.clone(),
            route,
        };
        (registration, frames)
    }

    fn unregister(&self, route: &Route) {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = routes.get_mut(&route.tenant) {
            let kept: Vec<_> = entry.iter().filter(|r| r.id != route.id).cloned().collect();
            if kept.is_empty() {
                routes.remove(&route.tenant);
            } else {
                *entry = Arc::new(kept);
            }
        }
        metrics::gauge!("wanwu_ws_connections").decrement(1.0);
    }

    fn routes_of(&self, tenant: &str) -> Option<TenantRoutes> {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .cloned()
    }

    /// Routes one telemetry batch: a frame per timestamp to every socket that wants it.
    pub async fn route_telemetry(&self, batch: &Ingested) {
        let parts = || {
            batch
                .points
                .iter()
                .map(|point| SharedPart::telemetry(&batch.device, &batch.product, point))
        };
        self.route(
            &batch.tenant,
            &batch.device,
            LiveKind::Telemetry,
            Some(&batch.product),
            parts,
        )
        .await;
    }

    /// Routes one notice to every socket that wants it.
    pub async fn route_notice(&self, notice: &Notice) {
        let parts = || std::iter::once(SharedPart::notice(notice));
        self.route(
            &notice.tenant,
            &notice.device,
            notice.kind.into(),
            None,
            parts,
        )
        .await;
    }

    async fn route<I: Iterator<Item = SharedPart>>(
        &self,
        tenant: &str,
        device: &str,
        kind: LiveKind,
        product: Option<&str>,
        parts: impl FnOnce() -> I,
    ) {
        let Some(routes) = self.routes_of(tenant) else {
            return;
        };
        let placement = if routes
            .iter()
            .any(|r| r.needs_placement(kind, device, product.is_some()))
        {
            Some(self.placements.of(tenant, device).await)
        } else {
            None
        };
        let targets: Vec<(&Arc<Route>, Vec<Arc<str>>)> = routes
            .iter()
            .map(|r| (r, r.wanted_by(kind, device, product, placement.as_deref())))
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        if targets.is_empty() {
            return;
        }
        let mut queued = 0u64;
        for part in parts() {
            for (route, ids) in &targets {
                if route.push(part.frame(ids.iter().map(|id| &**id))) {
                    queued += 1;
                }
            }
        }
        metrics::counter!("wanwu_ws_frames_total").increment(queued);
    }
}
