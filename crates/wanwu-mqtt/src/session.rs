//! Session state: subscriptions, the outbound queue, the in-flight window and packet ids.
//!
//! A session outlives its connections when it is persistent. Publishers push into its queue
//! under a short lock and wake its connection; the connection drains the queue within the
//! client's receive maximum.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::num::{NonZeroU16, NonZeroU32};
use std::sync::Arc;

use bytestring::ByteString;
use parking_lot::Mutex;
use rmqtt_codec::v5::SubscriptionOptions;
use tokio::sync::{Notify, oneshot};

use crate::hooks::DisconnectReason;
use crate::message::{Publication, QoS};

/// Identifies a session: namespace and client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SessionKey {
    /// Namespace (tenant).
    pub namespace: Arc<str>,
    /// Client identifier.
    pub client_id: ByteString,
}

/// A subscription as a session remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionEntry {
    /// Subscription options.
    pub options: SubscriptionOptions,
    /// MQTT 5 subscription identifier.
    pub id: Option<NonZeroU32>,
}

/// A message waiting for (or in) delivery to one session.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The publication.
    pub publication: Arc<Publication>,
    /// Delivery QoS (min of published and granted).
    pub qos: QoS,
    /// Retain flag to deliver with.
    pub retain: bool,
    /// Subscription identifiers of the matching subscriptions.
    pub subscription_ids: Vec<NonZeroU32>,
    /// Persistence sequence number; 0 when the message is not persisted.
    pub seq: u64,
}

/// Where an outbound QoS 1/2 message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// QoS 1 sent, waiting for PUBACK; or QoS 2 sent, waiting for PUBREC.
    AwaitAck,
    /// QoS 2 PUBREL sent, waiting for PUBCOMP.
    AwaitComplete,
}

/// An outbound message in the in-flight window.
#[derive(Debug, Clone)]
pub(crate) struct Inflight {
    /// The message.
    pub message: Outgoing,
    /// Its phase.
    pub phase: Phase,
}

/// The link between a session and its current connection.
#[derive(Debug)]
pub(crate) struct ConnectionLink {
    /// Connection generation, to tell a stale detach from the current one.
    pub generation: u64,
    /// Ends the connection (takeover).
    pub kick: oneshot::Sender<DisconnectReason>,
}

/// Outcome of offering a message to a session's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued.
    Queued,
    /// Queued after evicting an older QoS 0 message.
    QueuedEvicting,
    /// The queue is full: the new message was dropped.
    Dropped,
}

/// Mutable session state.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// Session expiry interval (seconds); 0 ends the session with the connection.
    pub expiry_secs: u32,
    /// Subscriptions by filter as written (including `$share/...`).
    pub subscriptions: HashMap<ByteString, SubscriptionEntry>,
    /// Messages waiting for the in-flight window.
    pub queue: VecDeque<Outgoing>,
    /// QoS 1/2 messages sent and not yet acknowledged, by packet id.
    pub inflight: BTreeMap<u16, Inflight>,
    /// Inbound QoS 2 packet ids received and not yet released.
    pub incoming_qos2: HashSet<u16>,
    /// The current connection, if any.
    pub link: Option<ConnectionLink>,
    /// Bumped each time the session goes offline, to cancel stale expiry timers.
    pub offline_epoch: u64,
    /// Replaced by a new session under the same key (clean start): its will is void.
    pub superseded: bool,
    /// A record of this session was written to the persistence log.
    pub stored: bool,
    next_packet_id: u16,
}

impl SessionState {
    /// Offers `message`, keeping at most `limit` queued: QoS 0 messages are dropped first.
    pub fn enqueue(&mut self, message: Outgoing, limit: usize) -> Enqueued {
        if self.queue.len() < limit {
            self.queue.push_back(message);
            return Enqueued::Queued;
        }
        if message.qos == QoS::AtMostOnce {
            return Enqueued::Dropped;
        }
        match self.queue.iter().position(|m| m.qos == QoS::AtMostOnce) {
            Some(index) => {
                self.queue.remove(index);
                self.queue.push_back(message);
                Enqueued::QueuedEvicting
            }
            None => Enqueued::Dropped,
        }
    }

    /// A free packet id for an outbound message, `None` when all are in use.
    pub fn allocate_packet_id(&mut self) -> Option<NonZeroU16> {
        for _ in 0..u16::MAX {
            self.next_packet_id = self.next_packet_id.wrapping_add(1).max(1);
            if !self.inflight.contains_key(&self.next_packet_id) {
                return NonZeroU16::new(self.next_packet_id);
            }
        }
        None
    }

    /// True when the session survives its connection.
    pub fn is_persistent(&self) -> bool {
        self.expiry_secs > 0
    }
}

/// A session, shared by the router (which pushes to it) and its connection.
#[derive(Debug)]
pub(crate) struct Session {
    /// Unique id for no-local and router bookkeeping.
    pub id: u64,
    /// Namespace and client id.
    pub key: SessionKey,
    /// Mutable state.
    pub state: Mutex<SessionState>,
    /// Wakes the connection when the queue gains messages.
    pub wake: Notify,
}

impl Session {
    /// A fresh, empty session.
    pub fn new(id: u64, key: SessionKey, expiry_secs: u32) -> Self {
        Self {
            id,
            key,
            state: Mutex::new(SessionState {
                expiry_secs,
                ..SessionState::default()
            }),
            wake: Notify::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn outgoing(qos: QoS, tag: &str) -> Outgoing {
        Outgoing {
            publication: Arc::new(Publication::new(Message::new(tag.to_string(), "x"), 0)),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
            seq: 0,
        }
    }

    #[test]
    fn full_queue_drops_qos0_first() {
        let mut state = SessionState::default();
        let steps = [
            (QoS::AtMostOnce, "a", Enqueued::Queued),
            (QoS::AtLeastOnce, "b", Enqueued::Queued),
            (QoS::AtMostOnce, "c", Enqueued::Dropped),
            (QoS::AtLeastOnce, "d", Enqueued::QueuedEvicting),
            (QoS::AtLeastOnce, "e", Enqueued::Dropped),
        ];
        for (qos, topic, expected) in steps {
            assert_eq!(state.enqueue(outgoing(qos, topic), 2), expected, "{topic}");
        }
        let topics: Vec<_> = state
            .queue
            .iter()
            .map(|m| m.publication.message.topic.to_string())
            .collect();
        assert_eq!(topics, ["b", "d"]);
    }

    #[test]
    fn packet_ids_skip_those_in_flight() {
        let mut state = SessionState::default();
        let first = state.allocate_packet_id().unwrap();
        state.inflight.insert(
            first.get() + 1,
            Inflight {
                message: outgoing(QoS::AtLeastOnce, "a"),
                phase: Phase::AwaitAck,
            },
        );
        let second = state.allocate_packet_id().unwrap();
        assert_eq!(second.get(), first.get() + 2);
    }
}
