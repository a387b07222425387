//! Who may connect: devices with their id and token, applications as `app` with an API
//! token, and clients without credentials only when anonymous access is allowed.

use super::identity::ClientIdentity;
use crate::Platform;
use crate::bootstrap::DEFAULT_TENANT;
use wanwu_model::entity::Role;
use wanwu_mqtt::{Authenticator, ConnectInfo, HookFuture, Principal, ReasonCode};

/// User name of application clients.
pub const APP_USERNAME: &str = "app";

/// Authenticates MQTT clients against the platform's devices and API tokens.
#[derive(Clone)]
pub struct PlatformAuthenticator {
    platform: Platform,
    allow_anonymous: bool,
}

impl PlatformAuthenticator {
    /// Authentication against `platform`; `allow_anonymous` admits clients without
    /// credentials as app clients of tenant `default`.
    pub fn new(platform: Platform, allow_anonymous: bool) -> Self {
        PlatformAuthenticator {
            platform,
            allow_anonymous,
        }
    }

    async fn identify(&self, info: &ConnectInfo<'_>) -> Result<ClientIdentity, ReasonCode> {
        let password = match info.password {
            Some(bytes) => {
                Some(std::str::from_utf8(bytes).map_err(|_| ReasonCode::BAD_USERNAME_OR_PASSWORD)?)
            }
            None => None,
        };
        match (info.username, password) {
            (None, None) if self.allow_anonymous => Ok(ClientIdentity::App {
                tenant: DEFAULT_TENANT.to_owned(),
                may_publish: true,
            }),
            (None, None) => Err(ReasonCode::NOT_AUTHORIZED),
            (Some(APP_USERNAME), Some(token)) => self
                .platform
                .authenticate_api_token(token)
                .await
                .map(|holder| ClientIdentity::App {
                    tenant: holder.tenant,
                    may_publish: holder.role != Role::Viewer,
                })
                .ok_or(ReasonCode::BAD_USERNAME_OR_PASSWORD),
            (Some(device), Some(token)) => self
                .platform
                .authenticate_device(device, token)
                .await
                .map(ClientIdentity::Device)
                .ok_or(ReasonCode::BAD_USERNAME_OR_PASSWORD),
            (Some(_), None) | (None, Some(_)) => Err(ReasonCode::BAD_USERNAME_OR_PASSWORD),
        }
    }
}

impl Authenticator for PlatformAuthenticator {
    fn authenticate<'a>(
        &'a self,
        info: &'a ConnectInfo<'a>,
    ) -> HookFuture<'a, Result<Principal, ReasonCode>> {
        Box::pin(async move {
            let identity = self.identify(info).await;
            let outcome = if identity.is_ok() {
                "accepted"
            } else {
                "refused"
            };
            metrics::counter!("wanwu_mqtt_auth_total", "outcome" => outcome).increment(1);
            identity.map(ClientIdentity::into_principal)
        })
    }
}
