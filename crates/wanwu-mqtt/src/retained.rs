//! Retained messages, per namespace.

use std::collections::HashMap;
use std::sync::Arc;

use bytestring::ByteString;
use parking_lot::RwLock;

use crate::message::{Publication, now_ms};
use crate::topic::filter_matches;

/// What storing a retained message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetainOutcome {
    /// Stored or replaced.
    Stored,
    /// Deleted (empty payload).
    Cleared,
    /// Not stored: the namespace holds its maximum of retained messages.
    Full,
}

/// Retained messages of one namespace, by topic.
type Topics = HashMap<ByteString, Arc<Publication>>;

/// The retained store.
#[derive(Debug, Default)]
pub(crate) struct RetainedStore {
    namespaces: RwLock<HashMap<Arc<str>, Topics>>,
}

impl RetainedStore {
    /// Stores `publication` for its topic; an empty payload clears the topic.
    pub fn set(
        &self,
        namespace: &Arc<str>,
        publication: Arc<Publication>,
        limit: usize,
    ) -> RetainOutcome {
        let topic = publication.message.topic.clone();
        let mut namespaces = self.namespaces.write();
        if publication.message.payload.is_empty() {
            if let Some(topics) = namespaces.get_mut(namespace) {
                topics.remove(&topic);
                if topics.is_empty() {
                    namespaces.remove(namespace);
                }
            }
            return RetainOutcome::Cleared;
        }
        let topics = namespaces.entry(namespace.clone()).or_default();
        if topics.len() >= limit && !topics.contains_key(&topic) {
            return RetainOutcome::Full;
        }
        topics.insert(topic, publication);
        RetainOutcome::Stored
    }

    /// Unexpired retained messages in `namespace` whose topics match `filter`.
    pub fn matching(&self, namespace: &str, filter: &str) -> Vec<Arc<Publication>> {
        let now = now_ms();
        let namespaces = self.namespaces.read();
        let Some(topics) = namespaces.get(namespace) else {
            return Vec::new();
        };
        topics
            .iter()
            .filter(|(topic, publication)| {
                filter_matches(filter, topic) && publication.remaining_expiry(now).is_ok()
            })
            .map(|(_, publication)| publication.clone())
            .collect()
    }

    /// Number of retained messages across namespaces.
    pub fn len(&self) -> usize {
        self.namespaces.read().values().map(HashMap::len).sum()
    }
}
