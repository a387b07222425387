//! Evaluation off the ingest path: bounded queues partitioned by device, one worker thread
//! each, and a schedule thread.
//!
//! An input goes to worker `hash(tenant, device) % workers`, so each device's inputs are
//! evaluated in order by one [`Evaluator`]. [`Runtime::submit`] never blocks: when that
//! worker's queue is full the input is dropped and counted ([`crate::metrics::DROPPED`] and
//! [`RuntimeStats::dropped`]). A panic while evaluating one input is caught and counted; the
//! worker goes on.

use crate::engine::{Engine, Firing};
use crate::input::Input;
use crate::metrics::DROPPED;
use crate::schedule::Scheduler;
use serde::Serialize;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Receives what fired; called on the worker threads, so it must not block long (hand the
/// firing to the executor's queue).
pub trait FiringSink: Send + Sync + 'static {
    /// One firing.
    fn deliver(&self, firing: Firing);
}

impl<F: Fn(Firing) + Send + Sync + 'static> FiringSink for F {
    fn deliver(&self, firing: Firing) {
        self(firing)
    }
}

/// Settings of the runtime.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeConfig {
    /// Worker threads (and queues).
    pub workers: usize,
    /// Inputs each queue holds.
    pub queue_capacity: usize,
    /// How often schedules are checked; `None` runs no schedule thread.
    pub schedule_tick: Option<Duration>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: 2,
            queue_capacity: 8192,
            schedule_tick: Some(Duration::from_secs(1)),
        }
    }
}

/// Counters of the runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuntimeStats {
    /// Inputs accepted into a queue.
    pub accepted: u64,
    /// Inputs dropped because their queue was full.
    pub dropped: u64,
    /// Inputs evaluated.
    pub processed: u64,
    /// Firings delivered.
    pub firings: u64,
    /// Inputs whose evaluation panicked.
    pub panics: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    processed: AtomicU64,
    firings: AtomicU64,
    panics: AtomicU64,
}

/// The running engine: workers, queues and the schedule thread. Dropping it stops them.
pub struct Runtime {
    queues: Vec<SyncSender<Input>>,
    counters: Arc<Counters>,
    /// Set by [`Runtime::close`]: inputs are refused, idle workers end.
    closed: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_schedules: Mutex<Option<mpsc::Sender<()>>>,
}

/// How often an idle worker looks whether the runtime was closed.
const IDLE_CHECK: Duration = Duration::from_millis(100);

impl Runtime {
    /// Starts workers over `engine`, delivering firings to `sink`.
    pub fn start(engine: Arc<Engine>, config: RuntimeConfig, sink: Arc<dyn FiringSink>) -> Runtime {
        let counters = Arc::new(Counters::default());
        let closed = Arc::new(AtomicBool::new(false));
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for index in 0..config.workers.max(1) {
            let (tx, rx) = mpsc::sync_channel::<Input>(config.queue_capacity.max(1));
            queues.push(tx);
            let (engine, sink, counters, closed) = (
                Arc::clone(&engine),
                Arc::clone(&sink),
                Arc::clone(&counters),
                Arc::clone(&closed),
            );
            let thread = std::thread::Builder::new()
                .name(format!("rules-{index}"))
                .spawn(move || {
                    let mut evaluator = engine.evaluator();
                    // A queue is drained before the worker ends: it ends when idle and closed.
                    let next = || loop {
                        match rx.recv_timeout(IDLE_CHECK) {
                            Ok(input) => return Some(input),
                            Err(RecvTimeoutError::Timeout) if !closed.load(Ordering::Acquire) => {}
                            Err(_) => return None,
                        }
                    };
                    while let Some(input) = next() {
                        match catch_unwind(AssertUnwindSafe(|| evaluator.process(&input))) {
                            Ok(firings) => {
                                counters
                                    .firings
                                    .fetch_add(firings.len() as u64, Ordering::Relaxed);
                                firings.into_iter().for_each(|f| sink.deliver(f));
                            }
                            Err(_) => {
                                counters.panics.fetch_add(1, Ordering::Relaxed);
                                tracing::error!(device = %input.device, "rule evaluation panicked");
                            }
                        }
                        counters.processed.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("spawning a rule worker");
            threads.push(thread);
        }
        let stop_schedules = config.schedule_tick.map(|tick| {
            let (stop, stopped) = mpsc::channel::<()>();
            let (engine, sink, counters) = (
                Arc::clone(&engine),
                Arc::clone(&sink),
                Arc::clone(&counters),
            );
            threads.push(
                std::thread::Builder::new()
                    .name("rules-schedule".into())
                    .spawn(move || {
                        let mut scheduler = Scheduler::new();
                        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                            for firing in scheduler.tick(&engine) {
                                counters.firings.fetch_add(1, Ordering::Relaxed);
                                sink.deliver(firing);
                            }
                        }
                    })
                    .expect("spawning the schedule thread"),
            );
            stop
        });
        Runtime {
            queues,
            counters,
            closed,
            threads: Mutex::new(threads),
            stop_schedules: Mutex::new(stop_schedules),
        }
    }

    fn queue_of(&self, input: &Input) -> &SyncSender<Input> {
        let mut hasher = DefaultHasher::new();
        input.tenant.hash(&mut hasher);
        input.device.hash(&mut hasher);
        &self.queues[(hasher.finish() % self.queues.len() as u64) as usize]
    }

    /// Queues `input` for evaluation without blocking; false when it was dropped (counted).
    pub fn submit(&self, input: Input) -> bool {
        match self.offer(input) {
            Ok(()) => true,
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(DROPPED).increment(1);
                false
            }
        }
    }

    /// Queues `input` without blocking, giving it back when its queue is full; nothing is
    /// counted as dropped (for producers that can wait, such as replays and benchmarks).
    pub fn offer(&self, input: Input) -> Result<(), Input> {
        if self.closed.load(Ordering::Acquire) {
            return Err(input);
        }
        match self.queue_of(&input).try_send(input) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(input) | TrySendError::Disconnected(input)) => Err(input),
        }
    }

    /// The counters now.
    pub fn stats(&self) -> RuntimeStats {
        let c = &self.counters;
        RuntimeStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            processed: c.processed.load(Ordering::Relaxed),
            firings: c.firings.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
        }
    }

    /// Stops taking inputs, evaluates what is queued, and waits for the threads.
    pub fn shutdown(self) {
        self.close();
    }

    /// The same as [`Runtime::shutdown`] for a runtime that is shared: later inputs are
    /// refused. It blocks until the workers are done.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        lock(&self.stop_schedules).take();
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.close();
    }
}
