//! `/whoami`: who the calling token is and the tenant it acts in. Any role may ask; the
//! console reads it after sign-in to show tenant and role and to hide write controls from
//! viewers.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wanwu_core::CoreError;
use wanwu_model::entity::Role;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(whoami))
}

/// The caller as the API sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Identity {
    /// The tenant acted in: the token's own, or for the platform admin the one named by
    /// `X-Wanwu-Tenant`.
    pub tenant: String,
    /// What the token may do in that tenant.
    pub role: Role,
    /// True for the platform admin, which manages tenants and may act for any tenant.
    pub platform_admin: bool,
    /// The calling token (never its secret).
    pub token: TokenSummary,
}

/// The calling token's id, name and home tenant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenSummary {
    /// Id of the token.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The tenant the token belongs to.
    pub tenant: String,
}

/// Describes the calling token: the tenant it acts in, its role, id and name, and whether it
/// is the platform admin. Every role may call it.
#[utoipa::path(get, path = "/whoami", tag = "tokens",
    responses((status = 200, body = Identity), (status = "4XX", body = ErrorBody)))]
async fn whoami(State(state): State<AppState>, Caller(scope): Caller) -> ApiResult<Json<Identity>> {
    let principal = scope.principal;
    let token = state
        .platform
        .store
        .get_api_token(&principal.tenant, &principal.token_id)
        .await
        .map_err(CoreError::from)?;
    Ok(Json(Identity {
        tenant: scope.tenant,
        role: principal.role,
        platform_admin: principal.platform_admin,
        token: TokenSummary {
            id: token.id,
            name: token.name,
            tenant: token.tenant,
        },
    }))
}
