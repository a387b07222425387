//! One measurement run: the shared clock, the recording window and the accounting of
//! messages sent and delivered in it.
//!
//! Every payload carries its send time (nanoseconds on [`Run::now_ns`]'s clock). A message
//! belongs to the sample when its send time lies in the recording window as its publisher
//! saw it, and the payload says so, so publishers and receivers count the same messages:
//! after the window, publishers stop and receivers go on until every sampled message
//! arrived or the drain time is over; what is still missing then is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::summary::Percentiles;
use super::target::CpuProbe;
use super::{CpuUse, Outcome};

/// How often the drain checks whether every sampled message arrived.
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// Shared state of one run.
pub(crate) struct Run {
    base: Instant,
    window_start_ns: AtomicU64,
    window_end_ns: AtomicU64,
    /// Cleared when publishers are to stop.
    publishing: AtomicBool,
    /// Set when receivers are to stop.
    stopped: AtomicBool,
    /// Whether receivers keep every sampled message's latency.
    timing: bool,
    /// Messages received while recording, by arrival (the throughput).
    arrived: AtomicU64,
    /// Sampled messages sent.
    sent: AtomicU64,
    /// Sampled messages delivered (each subscriber's copy counts).
    delivered: AtomicU64,
}

/// Phases and lengths of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Before recording.
    pub warmup: Duration,
    /// Recording.
    pub duration: Duration,
    /// Longest wait for sampled messages after recording.
    pub drain: Duration,
}

impl Run {
    /// A run; with `timing`, receivers keep the latency of every sampled message.
    pub fn new(timing: bool) -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            window_start_ns: AtomicU64::new(u64::MAX),
            window_end_ns: AtomicU64::new(u64::MAX),
            publishing: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            timing,
            arrived: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        })
    }

    /// Nanoseconds since the run began: the clock of payload stamps.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// The instant `ns` nanoseconds after the run began.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }

    /// Whether a message sent at `stamp` belongs to the sample (the publisher's judgement,
    /// carried in the payload).
    pub fn sampled(&self, stamp: u64) -> bool {
        stamp >= self.window_start_ns.load(Ordering::Relaxed)
            && stamp < self.window_end_ns.load(Ordering::Relaxed)
    }

    /// Whether publishers go on.
    pub fn publishing(&self) -> bool {
        self.publishing.load(Ordering::Relaxed)
    }

    /// Whether receivers are to stop.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Whether receivers keep latencies.
    pub fn timing(&self) -> bool {
        self.timing
    }

    /// A publisher's account before a write: how many sampled messages it sends.
    pub fn count_sent(&self, sampled: u64) {
        self.sent.fetch_add(sampled, Ordering::Relaxed);
    }

    /// A receiver's account after a read: messages that arrived, and how many of them were
    /// sampled.
    pub fn count_received(&self, arrived: u64, sampled: u64) {
        if self.window_start_ns.load(Ordering::Relaxed) != u64::MAX
            && self.window_end_ns.load(Ordering::Relaxed) == u64::MAX
        {
            self.arrived.fetch_add(arrived, Ordering::Relaxed);
        }
        self.delivered.fetch_add(sampled, Ordering::Relaxed);
    }

    /// Warms up, records, stops the publishers and drains: every sampled message is
    /// expected `copies` times (once per subscriber). CPU use covers the recording only.
    pub async fn measure(&self, timing: Timing, copies: u64, cpu: &CpuProbe) -> Window {
        tokio::time::sleep(timing.warmup).await;
        let cpu_before = cpu.read();
        let started = Instant::now();
        self.window_start_ns.store(self.now_ns(), Ordering::Relaxed);
        tokio::time::sleep(timing.duration).await;
        self.window_end_ns.store(self.now_ns(), Ordering::Relaxed);
        let window = Window {
            elapsed: started.elapsed(),
            arrived: self.arrived.load(Ordering::Relaxed),
            cpu: cpu.read().since(cpu_before),
            copies,
        };
        self.publishing.store(false, Ordering::Relaxed);
        let deadline = Instant::now() + timing.drain;
        let expected = || self.sent.load(Ordering::Relaxed) * copies;
        while self.delivered.load(Ordering::Relaxed) < expected() && Instant::now() < deadline {
            tokio::time::sleep(DRAIN_POLL).await;
        }
        self.stopped.store(true, Ordering::Relaxed);
        window
    }

    /// The outcome, once every client task has ended, with the receivers' latencies and
    /// the publishers' lags behind their schedule (microseconds, sampled messages).
    pub fn outcome(&self, window: Window, latencies: Vec<u32>, lags: Vec<u32>) -> Outcome {
        let sent = self.sent.load(Ordering::Relaxed);
        let delivered = self.delivered.load(Ordering::Relaxed);
        let expected = sent * window.copies;
        let seconds = window.elapsed.as_secs_f64();
        Outcome {
            seconds,
            per_second: window.arrived as f64 / seconds,
            sent_per_second: sent as f64 / seconds,
            expected,
            delivered,
            lost: expected.saturating_sub(delivered),
            latency: Percentiles::of(latencies),
            lag: Percentiles::of(lags),
            cpu: window.cpu,
        }
    }
}

/// What the recording window saw.
pub(crate) struct Window {
    elapsed: Duration,
    arrived: u64,
    cpu: CpuUse,
    copies: u64,
}
