//! API tokens: managed by admins of their tenant (and the platform admin). The secret is
//! returned once at creation; the store keeps its hash.

use super::Registry;
use crate::clock::now_ms;
use crate::error::CoreError;
use crate::scope::Scope;
use crate::token::{self, TokenKind};
use wanwu_model::entity::{ApiToken, ApiTokenPatch, NewApiToken};
use wanwu_store::{ApiTokenRecord, Page, PageRequest};

/// A new API token with its secret, shown this once.
#[derive(Clone, Debug)]
pub struct CreatedApiToken {
    /// The token as listed.
    pub token: ApiToken,
    /// The secret.
    pub secret: String,
}

impl Registry {
    /// Creates an API token in the scope's tenant, or in `input.tenant` (platform admin only).
    pub async fn create_api_token(
        &self,
        scope: &Scope,
        input: NewApiToken,
    ) -> Result<CreatedApiToken, CoreError> {
        scope.require_admin()?;
        input.validate()?;
        let tenant = match input.tenant {
            Some(tenant) if tenant != scope.tenant => {
                if !scope.principal.platform_admin {
                    return Err(CoreError::Forbidden(
                        "a tenant admin cannot create tokens for another tenant".into(),
                    ));
                }
                self.store.get_tenant(&tenant).await.map_err(|_| {
                    CoreError::Invalid(wanwu_model::ValidationErrors::single(
                        "tenant",
                        format!("tenant {tenant:?} does not exist"),
                    ))
                })?;
                tenant
            }
            _ => scope.tenant.clone(),
        };
        let secret = token::generate(TokenKind::Api);
        let record = ApiTokenRecord {
            token: ApiToken {
                id: token::random_id("tok"),
                tenant,
                name: input.name,
                role: input.role,
                platform_admin: false,
                created_at: now_ms(),
            },
            hash: token::hash(TokenKind::Api, &secret),
        };
        self.store.create_api_token(&record).await?;
        Ok(CreatedApiToken {
            token: record.token,
            secret,
        })
    }

    /// A page of the tenant's API tokens.
    pub async fn list_api_tokens(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<ApiToken>, CoreError> {
        scope.require_admin()?;
        Ok(self.store.list_api_tokens(&scope.tenant, page).await?)
    }

    /// One API token.
    pub async fn get_api_token(&self, scope: &Scope, id: &str) -> Result<ApiToken, CoreError> {
        scope.require_admin()?;
        Ok(self.store.get_api_token(&scope.tenant, id).await?)
    }

    /// Renames a token or changes its role; the platform admin token keeps its admin role.
    pub async fn update_api_token(
        &self,
        scope: &Scope,
        id: &str,
        patch: ApiTokenPatch,
    ) -> Result<ApiToken, CoreError> {
        scope.require_admin()?;
        patch.validate()?;
        let mut token = self.store.get_api_token(&scope.tenant, id).await?;
        if let Some(role) = patch.role {
            if token.platform_admin && role != token.role {
                return Err(CoreError::Conflict(
                    "the platform admin token keeps the admin role".into(),
                ));
            }
            token.role = role;
        }
        if let Some(name) = patch.name {
            token.name = name;
        }
        self.store.update_api_token(&token).await?;
        self.auth.forget_api_token(id);
        Ok(token)
    }

    /// Deletes a token; the platform admin token cannot be deleted.
    pub async fn delete_api_token(&self, scope: &Scope, id: &str) -> Result<(), CoreError> {
        scope.require_admin()?;
        let token = self.store.get_api_token(&scope.tenant, id).await?;
        if token.platform_admin {
            return Err(CoreError::Conflict(
                "the platform admin token cannot be deleted".into(),
            ));
        }
        self.store.delete_api_token(&scope.tenant, id).await?;
        self.auth.forget_api_token(id);
        Ok(())
    }
}
