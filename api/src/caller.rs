//! The authenticated caller of a request, and what its role allows (see
//! `auth` for how a request's token becomes one).

use ondeck_domain::TokenId;
use ondeck_domain::models::Role;

use crate::error::{ApiError, Result};

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub token_id: TokenId,
    pub role: Role,
}

impl Caller {
    /// Refuses the request unless the caller's role is one of `roles`.
    pub fn allow(self, roles: &[Role]) -> Result<Self> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(self)
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} token may not do this",
                self.role
            )))
        }
    }

    pub fn sees_pii(self) -> bool {
        self.role.sees_pii()
    }
}
