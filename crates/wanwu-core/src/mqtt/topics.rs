//! The device topic tree: `devices/{id}/...`, and which of its topics are up topics (what
//! devices send) as opposed to down topics (what the platform sends).

use crate::uplink::DeviceUplink;

/// Root level of every device topic.
pub const DEVICES: &str = "devices";

/// Suffix of the topic on which refusals are reported to a device.
pub const ERRORS: &str = "errors";

/// `devices/{id}/{rest}` split into the device id and the rest, if the topic has that form.
pub fn split_device_topic(topic: &str) -> Option<(&str, &str)> {
    let rest = topic.strip_prefix(DEVICES)?.strip_prefix('/')?;
    let (device, rest) = rest.split_once('/')?;
    Some((device, rest))
}

/// The uplink a device's topic suffix (the part after `devices/{id}/`) carries, if it is
/// an up topic: `telemetry`, `events/{name}`, `shadow/reported`, `shadow/get`,
/// `replies/{command_id}`.
pub fn parse_uplink<'a>(suffix: &'a str, payload: &'a [u8]) -> Option<DeviceUplink<'a>> {
    match suffix {
        "telemetry" => Some(DeviceUplink::Telemetry { payload }),
        "shadow/reported" => Some(DeviceUplink::ShadowReported { payload }),
        "shadow/get" => Some(DeviceUplink::ShadowGet),
        _ => {
            if let Some(name) = single_level(suffix, "events/") {
                Some(DeviceUplink::Event { name, payload })
            } else {
                single_level(suffix, "replies/").map(|command_id| DeviceUplink::Reply {
                    command_id,
                    payload,
                })
            }
        }
    }
}

/// True when `suffix` names an up topic. Wildcards in `suffix` count as matching any level.
pub fn is_up_suffix(suffix: &str) -> bool {
    parse_uplink(suffix, &[]).is_some()
}

/// The one non-empty level after `prefix`.
fn single_level<'a>(suffix: &'a str, prefix: &str) -> Option<&'a str> {
    suffix
        .strip_prefix(prefix)
        .filter(|name| !name.is_empty() && !name.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_topics_split_into_id_and_suffix() {
        assert_eq!(
            split_device_topic("devices/d1/telemetry"),
            Some(("d1", "telemetry"))
        );
        assert_eq!(
            split_device_topic("devices/d1/events/fail"),
            Some(("d1", "events/fail"))
        );
        assert_eq!(split_device_topic("devices/d1"), None);
        assert_eq!(split_device_topic("devicesX/d1/telemetry"), None);
        assert_eq!(split_device_topic("apps/d1/telemetry"), None);
    }

    #[test]
    fn up_topics_are_recognised_and_down_topics_are_not() {
        let p = b"{}".as_slice();
        assert_eq!(
            parse_uplink("telemetry", p),
            Some(DeviceUplink::Telemetry { payload: p })
        );
        assert_eq!(
            parse_uplink("events/fail", p),
            Some(DeviceUplink::Event {
                name: "fail",
                payload: p
            })
        );
        assert_eq!(
            parse_uplink("replies/c-1", p),
            Some(DeviceUplink::Reply {
                command_id: "c-1",
                payload: p
            })
        );
        assert_eq!(parse_uplink("shadow/get", p), Some(DeviceUplink::ShadowGet));
        assert_eq!(
            parse_uplink("shadow/reported", p),
            Some(DeviceUplink::ShadowReported { payload: p })
        );
        for down in [
            "shadow",
            "shadow/delta",
            "commands/blink",
            "errors",
            "events/",
            "events/a/b",
            "replies/",
        ] {
            assert_eq!(parse_uplink(down, p), None, "{down}");
        }
        assert!(is_up_suffix("events/+"));
        assert!(!is_up_suffix("commands/+"));
    }
}
