//! Who acts, and in which tenant: the tenancy and role policy of every registry operation.
//!
//! Every operation runs in one tenant. A token acts in its own tenant; the platform admin
//! may name any existing tenant. Viewers read; operators and admins write products,
//! devices and assets; only admins manage API tokens; only the platform admin manages
//! tenants.

use crate::auth::ApiPrincipal;
use crate::error::CoreError;
use wanwu_model::entity::Role;

/// The tenant an operation runs in and the principal running it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The tenant acted in.
    pub tenant: String,
    /// Who acts.
    pub principal: ApiPrincipal,
}

impl Scope {
    /// The scope of `principal` acting in its own tenant.
    pub fn own(principal: ApiPrincipal) -> Self {
        Scope {
            tenant: principal.tenant.clone(),
            principal,
        }
    }

    /// Fails unless the principal may change products, devices and assets.
    pub fn require_write(&self) -> Result<(), CoreError> {
        match self.principal.role {
            Role::Admin | Role::Operator => Ok(()),
            Role::Viewer => Err(CoreError::Forbidden(
                "a viewer token cannot change anything".into(),
            )),
        }
    }

    /// Fails unless the principal is an admin of the tenant.
    pub fn require_admin(&self) -> Result<(), CoreError> {
        match self.principal.role {
            Role::Admin => Ok(()),
            role => Err(CoreError::Forbidden(format!(
                "managing API tokens needs the admin role, not {}",
                role.as_str()
            ))),
        }
    }

    /// Fails unless the principal is the platform admin.
    pub fn require_platform_admin(&self) -> Result<(), CoreError> {
        if self.principal.platform_admin {
            Ok(())
        } else {
            Err(CoreError::Forbidden(
                "only the platform admin manages tenants".into(),
            ))
        }
    }
}
