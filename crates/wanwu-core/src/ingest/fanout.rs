//! Hands stored telemetry to the processors behind the store (live subscribers, twin, rules),
//! each through its own bounded queue. Publishing never waits: when a processor's queue is
//! full the batch is dropped for that processor and counted in
//! `wanwu_ingest_fanout_dropped_total{processor}`; a processor that went away is forgotten.

use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use wanwu_model::{Message, Point};

/// The telemetry of one accepted payload, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Ingested {
    /// Tenant of the device.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// Product of the device.
    pub product: String,
    /// The points, in payload order.
    pub points: Vec<Point>,
}

impl Ingested {
    /// The points as telemetry [`Message`]s, one per timestamp.
    pub fn messages(&self) -> impl Iterator<Item = Message> + '_ {
        self.points
            .iter()
            .map(|p| Message::telemetry(&self.tenant, &self.device, p.clone()))
    }
}

struct Processor {
    name: String,
    queue: mpsc::Sender<Arc<Ingested>>,
}

/// The processors fed by ingest.
#[derive(Default)]
pub struct Fanout {
    processors: RwLock<Vec<Processor>>,
}

impl Fanout {
    /// Registers a processor named `name` (the metric label) with a queue of `capacity`
    /// batches; it receives every batch stored from now on, unless its queue is full.
    pub fn subscribe(&self, name: &str, capacity: usize) -> mpsc::Receiver<Arc<Ingested>> {
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

    /// Offers `batch` to every processor without waiting.
    pub fn publish(&self, batch: Arc<Ingested>) {
        let mut gone = false;
        {
            let processors = self
                .processors
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for processor in processors.iter() {
                match processor.queue.try_send(batch.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        metrics::counter!("wanwu_ingest_fanout_dropped_total", "processor" => processor.name.clone())
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
    use std::collections::BTreeMap;

    fn batch(ts: i64) -> Arc<Ingested> {
        Arc::new(Ingested {
            tenant: "t".into(),
            device: "d".into(),
            product: "p".into(),
            points: vec![Point {
                ts,
                values: BTreeMap::new(),
            }],
        })
    }

    #[tokio::test]
    async fn a_full_queue_drops_for_that_processor_only() {
        let fanout = Fanout::default();
        let mut slow = fanout.subscribe("slow", 1);
        let mut fast = fanout.subscribe("fast", 8);
        for ts in 0..3 {
            fanout.publish(batch(ts));
        }
        assert_eq!(slow.recv().await.unwrap().points[0].ts, 0);
        assert!(slow.try_recv().is_err(), "later batches were dropped");
        for ts in 0..3 {
            assert_eq!(fast.recv().await.unwrap().points[0].ts, ts);
        }
    }

    #[tokio::test]
    async fn processors_that_went_away_are_forgotten() {
        let fanout = Fanout::default();
        drop(fanout.subscribe("gone", 1));
        let _kept = fanout.subscribe("kept", 1);
        fanout.publish(batch(1));
        assert_eq!(fanout.processors(), 1);
    }

    #[test]
    fn messages_are_telemetry_per_timestamp() {
        let b = batch(7);
        let messages: Vec<Message> = b.messages().collect();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].ts, 7);
        assert_eq!(messages[0].kind, wanwu_model::MessageKind::Telemetry);
    }
}
