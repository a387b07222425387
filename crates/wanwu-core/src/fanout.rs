//! One publisher, many processors, each behind its own bounded queue. Publishing never
//! waits: when a processor's queue is full the item is dropped for that processor and
//! counted in `wanwu_fanout_dropped_total{fanout, processor}`; a processor that went away is
//! forgotten.

use std::sync::RwLock;
use tokio::sync::mpsc;

struct Processor<T> {
    name: String,
    queue: mpsc::Sender<T>,
}

/// The processors fed by one publisher.
pub struct Fanout<T> {
    name: &'static str,
    processors: RwLock<Vec<Processor<T>>>,
}

impl<T: Clone> Fanout<T> {
    /// An empty fanout named `name` (the `fanout` label of its metrics).
    pub fn new(name: &'static str) -> Self {
        Fanout {
            name,
            processors: RwLock::new(Vec::new()),
        }
    }

    /// Registers a processor named `name` (the `processor` label) with a queue of `capacity`
    /// items; it receives every item published from now on, unless its queue is full.
    pub fn subscribe(&self, name: &str, capacity: usize) -> mpsc::Receiver<T> {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        self.processors
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Processor {
                name: name.to_owned(),
                queue,
            });
        receiver
    }

    /// Offers `item` to every processor without waiting.
    pub fn publish(&self, item: T) {
        let mut gone = false;
        {
            let processors = self
                .processors
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for processor in processors.iter() {
                match processor.queue.try_send(item.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        metrics::counter!(
                            "wanwu_fanout_dropped_total",
                            "fanout" => self.name,
                            "processor" => processor.name.clone()
                        )
                        .increment(1);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
                }
            }
        }
        if gone {
            self.processors
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|p| !p.queue.is_closed());
        }
    }

    /// Number of registered processors.
    pub fn processors(&self) -> usize {
        self.processors
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_for_that_processor_only() {
        let fanout = Fanout::new("test");
        let mut slow = fanout.subscribe("slow", 1);
        let mut fast = fanout.subscribe("fast", 8);
        for item in 0..3 {
            fanout.publish(item);
        }
        assert_eq!(slow.recv().await, Some(0));
        assert!(slow.try_recv().is_err(), "later items were dropped");
        for item in 0..3 {
            assert_eq!(fast.recv().await, Some(item));
        }
    }

    #[tokio::test]
    async fn processors_that_went_away_are_forgotten() {
        let fanout = Fanout::new("test");
        drop(fanout.subscribe("gone", 1));
        let _kept = fanout.subscribe("kept", 1);
        fanout.publish(1);
        assert_eq!(fanout.processors(), 1);
    }
}
