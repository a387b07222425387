//! Subscription routing: one topic trie per namespace, with `+`, `#` and shared groups.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::RwLock;
use rmqtt_codec::v5::SubscriptionOptions;

use crate::message::QoS;
use crate::session::Session;
use crate::topic::FilterSpec;

/// Up to this many targets, duplicates are found by scanning.
const LINEAR_SCAN_LIMIT: usize = 8;

/// One subscriber of a trie node.
#[derive(Debug, Clone)]
struct Subscriber {
    session: Arc<Session>,
    options: SubscriptionOptions,
    id: Option<NonZeroU32>,
}

/// A shared-subscription group: one member receives each message, in turn.
#[derive(Debug, Default)]
struct ShareGroup {
    members: Vec<Subscriber>,
    next: AtomicUsize,
}

/// Subscribers attached at one trie node.
#[derive(Debug, Default)]
struct Subscribers {
    direct: HashMap<u64, Subscriber>,
    shared: HashMap<Box<str>, ShareGroup>,
}

impl Subscribers {
    fn is_empty(&self) -> bool {
        self.direct.is_empty() && self.shared.is_empty()
    }
}

/// A trie node: children by level, a `+` child, and subscribers of `.../#` and exact filters.
#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    multi: Subscribers,
    exact: Subscribers,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.multi.is_empty()
            && self.exact.is_empty()
    }

    /// The subscriber set for `levels`, creating nodes on the way.
    fn slot(&mut self, levels: &[&str]) -> &mut Subscribers {
        match levels {
            [] => &mut self.exact,
            ["#"] => &mut self.multi,
            ["+", rest @ ..] => self.plus.get_or_insert_with(Box::default).slot(rest),
            [level, rest @ ..] => self.children.entry((*level).into()).or_default().slot(rest),
        }
    }

    /// Removes the subscriber from `levels`, pruning empty nodes; true if it was there.
    fn remove(&mut self, levels: &[&str], group: Option<&str>, session_id: u64) -> bool {
        match levels {
            [] => remove_from(&mut self.exact, group, session_id),
            ["#"] => remove_from(&mut self.multi, group, session_id),
            ["+", rest @ ..] => {
                let Some(plus) = self.plus.as_mut() else {
                    return false;
                };
                let removed = plus.remove(rest, group, session_id);
                if plus.is_empty() {
                    self.plus = None;
                }
                removed
            }
            [level, rest @ ..] => {
                let Some(child) = self.children.get_mut(*level) else {
                    return false;
                };
                let removed = child.remove(rest, group, session_id);
                if child.is_empty() {
                    self.children.remove(*level);
                }
                removed
            }
        }
    }

    /// Visits every subscriber set matching `levels`; `first` is true at the topic's root.
    fn visit<'a>(&'a self, levels: &[&str], first: bool, visit: &mut impl FnMut(&'a Subscribers)) {
        let dollar = first && levels.first().is_some_and(|l| l.starts_with('$'));
        if !dollar {
            visit(&self.multi);
        }
        match levels {
            [] => visit(&self.exact),
            [level, rest @ ..] => {
                if let Some(child) = self.children.get(*level) {
                    child.visit(rest, false, visit);
                }
                if !dollar && let Some(plus) = &self.plus {
                    plus.visit(rest, false, visit);
                }
            }
        }
    }
}

fn remove_from(subs: &mut Subscribers, group: Option<&str>, session_id: u64) -> bool {
    match group {
        None => subs.direct.remove(&session_id).is_some(),
        Some(group) => {
            let Some(share) = subs.shared.get_mut(group) else {
                return false;
            };
            let before = share.members.len();
            share.members.retain(|m| m.session.id != session_id);
            let removed = share.members.len() != before;
            if share.members.is_empty() {
                subs.shared.remove(group);
            }
            removed
        }
    }
}

/// A session that should receive a message, with what its matching subscriptions ask.
#[derive(Debug)]
pub(crate) struct Target {
    /// The session.
    pub session: Arc<Session>,
    /// Highest granted QoS among the matching subscriptions.
    pub qos: QoS,
    /// Retain-as-published on any matching subscription.
    pub retain_as_published: bool,
    /// Subscription identifiers of the matching subscriptions.
    pub subscription_ids: Vec<NonZeroU32>,
}

/// All namespaces' subscription tries.
#[derive(Debug, Default)]
pub(crate) struct Router {
    namespaces: RwLock<HashMap<Arc<str>, Node>>,
}

impl Router {
    /// Adds (or replaces) `session`'s subscription to `spec` in `namespace`.
    pub fn subscribe(
        &self,
        namespace: &Arc<str>,
        spec: FilterSpec<'_>,
        session: &Arc<Session>,
        options: SubscriptionOptions,
        id: Option<NonZeroU32>,
    ) {
        let levels: Vec<&str> = spec.filter.split('/').collect();
        let mut namespaces = self.namespaces.write();
        let root = namespaces.entry(namespace.clone()).or_default();
        let slot = root.slot(&levels);
        let subscriber = Subscriber {
            session: session.clone(),
            options,
            id,
        };
        match spec.group {
            None => {
                slot.direct.insert(session.id, subscriber);
            }
            Some(group) => {
                let share = slot.shared.entry(group.into()).or_default();
                share.members.retain(|m| m.session.id != session.id);
                share.members.push(subscriber);
            }
        }
    }

    /// Removes `session`'s subscription to `spec`; true if it existed.
    pub fn unsubscribe(&self, namespace: &str, spec: FilterSpec<'_>, session_id: u64) -> bool {
        let levels: Vec<&str> = spec.filter.split('/').collect();
        let mut namespaces = self.namespaces.write();
        let Some(root) = namespaces.get_mut(namespace) else {
            return false;
        };
        let removed = root.remove(&levels, spec.group, session_id);
        if root.is_empty() {
            namespaces.remove(namespace);
        }
        removed
    }

    /// The sessions a message on `topic` goes to; `origin` is skipped where no-local is set.
    /// A session matched by several filters appears once.
    pub fn targets(&self, namespace: &str, topic: &str, origin: u64) -> Vec<Target> {
        let levels: Vec<&str> = topic.split('/').collect();
        let namespaces = self.namespaces.read();
        let Some(root) = namespaces.get(namespace) else {
            return Vec::new();
        };
        let mut targets: Vec<Target> = Vec::new();
        // Where each session is in `targets`; a linear scan is cheaper for a few targets.
        let mut positions: HashMap<u64, usize> = HashMap::new();
        let mut add = |subscriber: &Subscriber| {
            if subscriber.options.no_local && subscriber.session.id == origin {
                return;
            }
            let id = subscriber.session.id;
            let found = if targets.len() <= LINEAR_SCAN_LIMIT {
                targets.iter().position(|t| t.session.id == id)
            } else {
                if positions.is_empty() {
                    positions.extend(targets.iter().enumerate().map(|(at, t)| (t.session.id, at)));
                }
                positions.get(&id).copied()
            };
            match found {
                Some(at) => {
                    let target = &mut targets[at];
                    target.qos = target.qos.max(subscriber.options.qos);
                    target.retain_as_published |= subscriber.options.retain_as_published;
                    target.subscription_ids.extend(subscriber.id);
                }
                None => {
                    if !positions.is_empty() {
                        positions.insert(id, targets.len());
                    }
                    targets.push(Target {
                        session: subscriber.session.clone(),
                        qos: subscriber.options.qos,
                        retain_as_published: subscriber.options.retain_as_published,
                        subscription_ids: subscriber.id.into_iter().collect(),
                    });
                }
            }
        };
        root.visit(&levels, true, &mut |subs: &Subscribers| {
            subs.direct.values().for_each(&mut add);
            for share in subs.shared.values() {
                if let Some(member) = pick_member(share) {
                    add(member);
                }
            }
        });
        targets
    }
}

/// Round-robin over the group, preferring members with a live connection.
fn pick_member(share: &ShareGroup) -> Option<&Subscriber> {
    let count = share.members.len();
    let start = share.next.fetch_add(1, Ordering::Relaxed);
    (0..count)
        .map(|offset| &share.members[(start + offset) % count])
        .find(|m| m.session.state.lock().link.is_some())
        .or_else(|| share.members.get(start % count.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionKey;
    use crate::topic::parse_filter;
    use rmqtt_codec::v5::RetainHandling;

    fn session(id: u64) -> Arc<Session> {
        Arc::new(Session::new(
            id,
            SessionKey {
                namespace: "t".into(),
                client_id: format!("c{id}").into(),
            },
            0,
        ))
    }

    fn options(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::AtSubscribe,
        }
    }

    fn ids(targets: &[Target]) -> Vec<u64> {
        let mut ids: Vec<u64> = targets.iter().map(|t| t.session.id).collect();
        ids.sort();
        ids
    }

    #[test]
    fn wildcards_match_and_namespaces_isolate() {
        let router = Router::default();
        let ns: Arc<str> = "t".into();
        let other: Arc<str> = "u".into();
        router.subscribe(
            &ns,
            parse_filter("a/+/c").unwrap(),
            &session(1),
            options(QoS::AtLeastOnce),
            None,
        );
        router.subscribe(
            &ns,
            parse_filter("a/#").unwrap(),
            &session(2),
            options(QoS::AtMostOnce),
            None,
        );
        router.subscribe(
            &ns,
            parse_filter("#").unwrap(),
            &session(3),
            options(QoS::AtMostOnce),
            None,
        );
        router.subscribe(
            &other,
            parse_filter("#").unwrap(),
            &session(4),
            options(QoS::AtMostOnce),
            None,
        );
        assert_eq!(ids(&router.targets("t", "a/b/c", 0)), [1, 2, 3]);
        assert_eq!(ids(&router.targets("t", "a", 0)), [2, 3]);
        assert_eq!(ids(&router.targets("t", "$SYS/a", 0)), Vec::<u64>::new());
        assert_eq!(ids(&router.targets("u", "a/b/c", 0)), [4]);
        assert!(router.unsubscribe("t", parse_filter("a/#").unwrap(), 2));
        assert_eq!(ids(&router.targets("t", "a/b/c", 0)), [1, 3]);
    }

    #[test]
    fn overlapping_filters_deliver_once_at_the_highest_qos() {
        let router = Router::default();
        let ns: Arc<str> = "t".into();
        let s = session(1);
        router.subscribe(
            &ns,
            parse_filter("a/+").unwrap(),
            &s,
            options(QoS::AtMostOnce),
            NonZeroU32::new(1),
        );
        router.subscribe(
            &ns,
            parse_filter("a/b").unwrap(),
            &s,
            options(QoS::ExactlyOnce),
            NonZeroU32::new(2),
        );
        let targets = router.targets("t", "a/b", 0);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].qos, QoS::ExactlyOnce);
        assert_eq!(targets[0].subscription_ids.len(), 2);
    }

    #[test]
    fn many_overlapping_subscribers_are_each_targeted_once() {
        let router = Router::default();
        let ns: Arc<str> = "t".into();
        for id in 1..=20 {
            let s = session(id);
            router.subscribe(
                &ns,
                parse_filter("a/#").unwrap(),
                &s,
                options(QoS::AtMostOnce),
                None,
            );
            router.subscribe(
                &ns,
                parse_filter("a/b").unwrap(),
                &s,
                options(QoS::AtLeastOnce),
                None,
            );
        }
        let targets = router.targets("t", "a/b", 0);
        assert_eq!(ids(&targets), (1..=20).collect::<Vec<u64>>());
        assert!(targets.iter().all(|t| t.qos == QoS::AtLeastOnce));
    }

    #[test]
    fn shared_groups_take_turns() {
        let router = Router::default();
        let ns: Arc<str> = "t".into();
        for id in [1, 2] {
            router.subscribe(
                &ns,
                parse_filter("$share/g/x").unwrap(),
                &session(id),
                options(QoS::AtMostOnce),
                None,
            );
        }
        let picks: Vec<u64> = (0..4)
            .map(|_| router.targets("t", "x", 0)[0].session.id)
            .collect();
        assert_eq!(picks.iter().filter(|&&id| id == 1).count(), 2);
    }
}
