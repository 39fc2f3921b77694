//! Bearer tokens and roles (API.md section 2): no or unknown token is 401, a
//! known token whose role may not do this is 403.
//!
//! The staff page (`/admin`, see `routes::pages`) keeps a server-side
//! session (see `sessions`) whose random id sits in an HttpOnly,
//! SameSite=Strict cookie, [`ADMIN_COOKIE`]; the token itself never leaves
//! the login request. A `/api/v1` request without an `Authorization` header
//! may authenticate with that cookie instead, but only when it also carries
//! the header [`CSRF_HEADER`]`: 1` (a cross-site form or link cannot send a
//! custom header, and a cross-site script cannot without a CORS preflight
//! that ondeck never allows for it), and only as an admin: a cookie naming
//! no open session of a live admin token is a 401. The display board sends
//! its token in the `Authorization` header (it reads the event stream with
//! `fetch`), so no token is ever accepted in a URL.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use ondeck_domain::TokenId;
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;

use crate::db::Source;
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

/// The cookie in which the staff page keeps its session's id.
pub const ADMIN_COOKIE: &str = "ondeck_admin";

/// The header that must accompany [`ADMIN_COOKIE`] on a `/api/v1` request,
/// with the value `1`.
pub const CSRF_HEADER: &str = "x-ondeck-csrf";

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// The admin cookie, when this request may use it in place of a bearer
/// token: a `/api/v1` request with `X-Ondeck-Csrf: 1`.
fn admin_cookie(parts: &Parts) -> Option<&str> {
    let marked = parts
        .headers
        .get(CSRF_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1");
    if marked && parts.uri.path().starts_with("/api/v1/") {
        cookie(&parts.headers, ADMIN_COOKIE)
    } else {
        None
    }
}

/// Looks the request's bearer token (or the admin cookie, see the module
/// docs) up; the idempotency layer calls this first and leaves the result in
/// the request's extensions.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Caller> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(*caller);
    }
    // An Authorization header, even a malformed one, is the only credential
    // looked at when present.
    if let Some(header) = parts.headers.get(AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        return lookup(state, token).await?.ok_or(ApiError::Unauthorized);
    }
    let session = admin_cookie(parts).ok_or(ApiError::Unauthorized)?;
    match crate::sessions::caller(state, session).await? {
        Some(caller) if caller.role == Role::Admin => Ok(caller),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The live token `token` is, through the cache of recently authenticated
/// tokens; `None` for an unknown or revoked one.
pub async fn lookup(state: &AppState, token: &str) -> Result<Option<Caller>> {
    if !tokens::is_plausible(token) {
        return Ok(None);
    }
    let token_hash = tokens::hash(token);
    if let Some(caller) = state.tokens.get(&token_hash) {
        return Ok(Some(caller));
    }
    let (mut conn, source) = state.reads.acquire_from(None).await?;
    let mut found = tokens::authenticate_hash(&mut conn, &token_hash).await?;
    drop(conn);
    // A token created a moment ago may not have reached the replica yet.
    if found.is_none() && source == Source::Replica && !state.reads.primary_down() {
        let mut conn = state.db.acquire().await?;
        found = tokens::authenticate_hash(&mut conn, &token_hash).await?;
    }
    Ok(found.map(|(token_id, role)| {
        let caller = Caller { token_id, role };
        state.tokens.insert(token_hash, caller);
        caller
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = authenticate(state, parts).await?;
        parts.extensions.insert(caller);
        Ok(caller)
    }
}
