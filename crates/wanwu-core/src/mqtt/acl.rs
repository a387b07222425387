//! Which topics a client may use. Devices: only their own `devices/{id}/...`, both ways.
//! Applications: subscribe to anything in their tenant, publish anything except a device's
//! up topics (nobody but the device itself speaks for it); read-only tokens never publish.
//! Clients the platform did not authenticate may do nothing.

use super::identity::ClientIdentity;
use super::topics::{DEVICES, is_up_suffix, split_device_topic};
use wanwu_mqtt::{Acl, Action, Principal};

/// The platform's topic policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct TopicAcl;

impl Acl for TopicAcl {
    fn allowed(&self, principal: &Principal, topic: &str, action: Action) -> bool {
        match ClientIdentity::of(principal) {
            Some(ClientIdentity::Device(device)) => is_under_device(topic, &device.device),
            Some(ClientIdentity::App { may_publish, .. }) => match action {
                Action::Subscribe => true,
                Action::Publish => *may_publish && !is_device_up_topic(topic),
            },
            None => false,
        }
    }
}

/// True when `topic` (a name or a filter) lies under `devices/{device}/`, with the first
/// two levels spelled out (no wildcard reaches another device's topics).
fn is_under_device(topic: &str, device: &str) -> bool {
    topic
        .strip_prefix(DEVICES)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.strip_prefix(device))
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
}

/// True when `topic` is some device's up topic.
fn is_device_up_topic(topic: &str) -> bool {
    split_device_topic(topic).is_some_and(|(_, suffix)| is_up_suffix(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DevicePrincipal;

    fn device(id: &str) -> Principal {
        ClientIdentity::Device(DevicePrincipal {
            tenant: "t".into(),
            device: id.into(),
            product: "p".into(),
        })
        .into_principal()
    }

    fn app(may_publish: bool) -> Principal {
        ClientIdentity::App {
            tenant: "t".into(),
            may_publish,
        }
        .into_principal()
    }

    #[test]
    fn a_device_uses_only_its_own_topics() {
        let d1 = device("d1");
        for action in [Action::Publish, Action::Subscribe] {
            assert!(TopicAcl.allowed(&d1, "devices/d1/telemetry", action));
            assert!(!TopicAcl.allowed(&d1, "devices/d2/telemetry", action));
            assert!(!TopicAcl.allowed(&d1, "devices/d10/telemetry", action));
            assert!(!TopicAcl.allowed(&d1, "devices/d1", action));
            assert!(!TopicAcl.allowed(&d1, "devices/d1/", action));
            assert!(!TopicAcl.allowed(&d1, "other/topic", action));
        }
        assert!(TopicAcl.allowed(&d1, "devices/d1/#", Action::Subscribe));
        assert!(!TopicAcl.allowed(&d1, "devices/+/commands/#", Action::Subscribe));
        assert!(!TopicAcl.allowed(&d1, "#", Action::Subscribe));
    }

    #[test]
    fn apps_see_everything_but_never_speak_for_a_device() {
        let ops = app(true);
        assert!(TopicAcl.allowed(&ops, "#", Action::Subscribe));
        assert!(TopicAcl.allowed(&ops, "devices/d1/commands/blink", Action::Publish));
        assert!(TopicAcl.allowed(&ops, "devices/d1/shadow/delta", Action::Publish));
        assert!(TopicAcl.allowed(&ops, "apps/news", Action::Publish));
        for up in [
            "devices/d1/telemetry",
            "devices/d1/events/fail",
            "devices/d1/shadow/reported",
            "devices/d1/shadow/get",
            "devices/d1/replies/c1",
        ] {
            assert!(!TopicAcl.allowed(&ops, up, Action::Publish), "{up}");
        }
        let viewer = app(false);
        assert!(TopicAcl.allowed(&viewer, "devices/#", Action::Subscribe));
        assert!(!TopicAcl.allowed(&viewer, "apps/news", Action::Publish));
    }

    #[test]
    fn strangers_may_do_nothing() {
        let stranger = Principal::new("t");
        assert!(!TopicAcl.allowed(&stranger, "apps/news", Action::Subscribe));
        assert!(!TopicAcl.allowed(&stranger, "apps/news", Action::Publish));
    }
}
