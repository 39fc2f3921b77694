//! Bearer tokens and roles (API.md section 2): no or unknown token is 401, a
//! known token whose role may not do this is 403.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ondeck_domain::TokenId;
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;

use crate::error::{ApiError, Result};
use crate::state::AppState;

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

/// Looks the request's bearer token up; the idempotency layer calls this
/// first and leaves the result in the request's extensions.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Caller> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(*caller);
    }
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    if !tokens::is_plausible(token) {
        return Err(ApiError::Unauthorized);
    }
    let token_hash = tokens::hash(token);
    if let Some(caller) = state.tokens.get(&token_hash) {
        return Ok(caller);
    }
    let mut conn = state.read_db.acquire().await?;
    match tokens::authenticate_hash(&mut conn, &token_hash).await? {
        Some((token_id, role)) => {
            let caller = Caller { token_id, role };
            state.tokens.insert(token_hash, caller);
            Ok(caller)
        }
        None => Err(ApiError::Unauthorized),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = authenticate(state, parts).await?;
        parts.extensions.insert(caller);
        Ok(caller)
    }
}
