//! The platform's side of the MQTT broker: who may connect ([`authenticate`]), which topics
//! each client may use ([`acl`]), what device messages mean ([`uplink`]) and who is
//! connected ([`presence`]). [`hooks`] bundles them for
//! [`Broker::start`](wanwu_mqtt::Broker::start).
//!
//! Each tenant is one broker namespace, so a client never sees another tenant's messages.
//! Devices log in with their id and token and use only `devices/{id}/...`; applications log
//! in as `app` with an API token and see their whole tenant; clients without credentials
//! are let in as applications of tenant `default` only when the platform allows anonymous
//! clients.

pub mod acl;
pub mod authenticate;
pub mod identity;
pub mod on_connect;
pub mod presence;
pub mod topics;
pub mod uplink;

pub use acl::TopicAcl;
pub use authenticate::PlatformAuthenticator;
pub use identity::ClientIdentity;
pub use on_connect::OnDeviceConnect;
pub use presence::PresenceTracker;
pub use uplink::UplinkHook;

use crate::Platform;
use wanwu_mqtt::Hooks;

/// The broker hooks of `platform`; `allow_anonymous` lets clients without credentials in
/// as app clients of tenant `default`.
pub fn hooks(platform: &Platform, allow_anonymous: bool) -> Hooks {
    Hooks::new(PlatformAuthenticator::new(
        platform.clone(),
        allow_anonymous,
    ))
    .with_acl(TopicAcl)
    .with_publish_hook(UplinkHook::new(platform.clone()))
    .with_presence_hook(OnDeviceConnect::new(
        PresenceTracker::new(platform.presence.clone(), platform.bus.clone()),
        device_connected(platform),
    ))
}

/// What a device's connection starts: its twin delta and its queued commands are sent.
fn device_connected(platform: &Platform) -> impl Fn(String, String) + Send + Sync + 'static {
    let twins = platform.twins.clone();
    let commands = platform.commands.clone();
    let presence = platform.presence.clone();
    move |tenant, device| {
        twins.send_delta_on_connect(tenant.clone(), device.clone());
        commands.deliver_on_connect(presence.clone(), tenant, device);
    }
}
