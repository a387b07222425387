//! What the first start creates: tenant `default` and the platform admin token.

use crate::Platform;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::token::{self, MAX_TOKEN_LEN, TokenKind};
use wanwu_model::ValidationErrors;
use wanwu_model::entity::{ApiToken, Role, Tenant};
use wanwu_store::{ApiTokenRecord, StoreError};

/// The tenant created on first start.
pub const DEFAULT_TENANT: &str = "default";
/// Id of the platform admin token.
pub const PLATFORM_ADMIN_TOKEN_ID: &str = "admin";
/// Shortest admin token accepted from the operator.
pub const MIN_GIVEN_TOKEN_LEN: usize = 16;

/// What [`Platform::bootstrap`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// First start: the platform admin token was created with this generated secret, to be
    /// shown once.
    Generated(String),
    /// The platform admin token now has the secret the operator gave.
    Given,
    /// Nothing to do: the platform admin token exists.
    Existing,
}

impl Platform {
    /// Ensures tenant `default` and the platform admin token exist. With `given_token` (from
    /// `WANWU_ADMIN_TOKEN`) the admin token takes that secret, on first start and later.
    pub async fn bootstrap(
        &self,
        given_token: Option<&str>,
    ) -> Result<BootstrapOutcome, CoreError> {
        if let Some(given) = given_token {
            check_given_token(given)?;
        }
        match self.store.get_tenant(DEFAULT_TENANT).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                let now = now_ms();
                self.store
                    .create_tenant(&Tenant {
                        id: DEFAULT_TENANT.into(),
                        name: "Default".into(),
                        created_at: now,
                        updated_at: now,
                    })
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(existing) = self.store.platform_admin_token().await? {
            return match given_token {
                Some(given) => {
                    self.store
                        .set_api_token_hash(&existing.id, &token::hash(TokenKind::Api, given))
                        .await?;
                    self.auth.forget_api_token(&existing.id);
                    Ok(BootstrapOutcome::Given)
                }
                None => Ok(BootstrapOutcome::Existing),
            };
        }
        let secret = given_token
            .map(str::to_owned)
            .unwrap_or_else(|| token::generate(TokenKind::Api));
        self.store
            .create_api_token(&ApiTokenRecord {
                token: ApiToken {
                    id: PLATFORM_ADMIN_TOKEN_ID.into(),
                    tenant: DEFAULT_TENANT.into(),
                    name: "platform admin".into(),
                    role: Role::Admin,
                    platform_admin: true,
                    created_at: now_ms(),
                },
                hash: token::hash(TokenKind::Api, &secret),
            })
            .await?;
        Ok(match given_token {
            Some(_) => BootstrapOutcome::Given,
            None => BootstrapOutcome::Generated(secret),
        })
    }
}

fn check_given_token(token: &str) -> Result<(), CoreError> {
    let ok = (MIN_GIVEN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ValidationErrors::single(
            "WANWU_ADMIN_TOKEN",
            format!(
                "must be {MIN_GIVEN_TOKEN_LEN} to {MAX_TOKEN_LEN} printable ASCII characters without spaces"
            ),
        )
        .into())
    }
}
