//! Who an MQTT client is, as the platform sees it: attached to the broker's principal.

use crate::auth::DevicePrincipal;
use wanwu_mqtt::Principal;

/// The identity behind an MQTT connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A device, logged in with its id and token.
    Device(DevicePrincipal),
    /// An application of a tenant: an API token holder or an anonymous client.
    App {
        /// Tenant whose topics it sees.
        tenant: String,
        /// False for read-only (viewer) tokens: they subscribe but never publish.
        may_publish: bool,
    },
}

impl ClientIdentity {
    /// The broker principal carrying this identity, in its tenant's namespace.
    pub fn into_principal(self) -> Principal {
        let tenant = match &self {
            ClientIdentity::Device(device) => device.tenant.clone(),
            ClientIdentity::App { tenant, .. } => tenant.clone(),
        };
        Principal::new(tenant).with_identity(self)
    }

    /// The identity a principal carries, if the platform made it.
    pub fn of(principal: &Principal) -> Option<&ClientIdentity> {
        principal.identity::<ClientIdentity>()
    }
}
