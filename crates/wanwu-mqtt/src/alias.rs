//! Server-to-client topic aliases (MQTT 5).
//!
//! A client that announces a Topic Alias Maximum in CONNECT gets aliases on the messages the
//! broker sends it: the first PUBLISH on a topic carries the topic and a new alias, later
//! ones only the alias (an empty topic). Aliases are handed out to the first topics sent, up
//! to the client's maximum, and kept for the life of the network connection; further
//! topics are sent in full. Nothing is allocated for clients that announce no maximum.

use std::collections::HashMap;
use std::num::NonZeroU16;

use bytestring::ByteString;
use rmqtt_codec::types::Publish;

/// The aliases of one connection's outbound topics.
#[derive(Debug)]
pub(crate) struct OutboundAliases {
    /// The client's Topic Alias Maximum (at least 1).
    maximum: u16,
    /// Aliases handed out, by topic.
    by_topic: HashMap<ByteString, NonZeroU16>,
}

/// What [`OutboundAliases::apply`] did to a PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Sent in full without alias (no room left, or no properties to carry one).
    Unchanged,
    /// The topic got a new alias; the PUBLISH carries both. The client learns the alias only
    /// if this PUBLISH is sent: otherwise [`OutboundAliases::forget`] the topic.
    Introduced(ByteString),
    /// The topic was replaced by its known alias.
    Replaced,
}

impl OutboundAliases {
    /// Aliases for a client whose Topic Alias Maximum is `maximum`; `None` for 0.
    pub(crate) fn for_client(maximum: u16) -> Option<Box<Self>> {
        (maximum > 0).then(|| {
            Box::new(Self {
                maximum,
                by_topic: HashMap::new(),
            })
        })
    }

    /// Puts an alias into `publish`: its topic's known alias (the topic is then left out) or
    /// a new one while fewer than the maximum are in use.
    pub(crate) fn apply(&mut self, publish: &mut Publish) -> Applied {
        let Some(properties) = publish.properties.as_mut() else {
            return Applied::Unchanged;
        };
        if let Some(alias) = self.by_topic.get(&publish.topic) {
            properties.topic_alias = Some(*alias);
            publish.topic = ByteString::new();
            return Applied::Replaced;
        }
        let next = self.by_topic.len() + 1;
        let Some(alias) = u16::try_from(next)
            .ok()
            .filter(|n| *n <= self.maximum)
            .and_then(NonZeroU16::new)
        else {
            return Applied::Unchanged;
        };
        self.by_topic.insert(publish.topic.clone(), alias);
        properties.topic_alias = Some(alias);
        Applied::Introduced(publish.topic.clone())
    }

    /// Withdraws the alias just introduced for `topic` (its PUBLISH was not sent).
    pub(crate) fn forget(&mut self, topic: &ByteString) {
        self.by_topic.remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rmqtt_codec::types::QoS;
    use rmqtt_codec::v5::PublishProperties;

    fn publish(topic: &str) -> Publish {
        Publish {
            dup: false,
            retain: false,
            qos: QoS::AtMostOnce,
            topic: topic.into(),
            packet_id: None,
            payload: Bytes::from_static(b"x"),
            properties: Some(PublishProperties::default()),
        }
    }

    fn alias_of(p: &Publish) -> Option<u16> {
        p.properties
            .as_ref()
            .and_then(|p| p.topic_alias)
            .map(NonZeroU16::get)
    }

    #[test]
    fn no_maximum_means_no_aliases() {
        assert!(OutboundAliases::for_client(0).is_none());
    }

    #[test]
    fn first_topics_get_aliases_then_travel_as_aliases_only() {
        let mut aliases = OutboundAliases::for_client(2).expect("maximum 2");
        let mut a = publish("a/1");
        assert_eq!(aliases.apply(&mut a), Applied::Introduced("a/1".into()));
        assert_eq!((a.topic.as_ref(), alias_of(&a)), ("a/1", Some(1)));

        let mut b = publish("b/2");
        assert_eq!(aliases.apply(&mut b), Applied::Introduced("b/2".into()));
        assert_eq!(alias_of(&b), Some(2));

        let mut c = publish("c/3");
        assert_eq!(aliases.apply(&mut c), Applied::Unchanged, "maximum reached");
        assert_eq!((c.topic.as_ref(), alias_of(&c)), ("c/3", None));

        let mut again = publish("a/1");
        assert_eq!(aliases.apply(&mut again), Applied::Replaced);
        assert_eq!((again.topic.as_ref(), alias_of(&again)), ("", Some(1)));
    }

    #[test]
    fn a_forgotten_alias_is_introduced_again() {
        let mut aliases = OutboundAliases::for_client(1).expect("maximum 1");
        let mut a = publish("a");
        let Applied::Introduced(topic) = aliases.apply(&mut a) else {
            panic!("alias introduced");
        };
        aliases.forget(&topic);
        let mut b = publish("b");
        assert_eq!(aliases.apply(&mut b), Applied::Introduced("b".into()));
        assert_eq!(alias_of(&b), Some(1));
    }
}
