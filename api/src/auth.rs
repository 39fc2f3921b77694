//! Bearer tokens and roles (docs/api.md, section Roles): no or unknown token is 401, a
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
use ondeck_domain::models::Role;
use ondeck_domain::store::tokens;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};

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

/// The credential a request carries: its `Authorization` header, or the
/// admin cookie (see the module docs). `Err` for a malformed header.
fn credential(parts: &Parts) -> Result<Option<(&str, Via)>> {
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
        return Ok(Some((token, Via::Header)));
    }
    Ok(admin_cookie(parts).map(|token| (token, Via::AdminCookie)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Header,
    /// The staff page's session id; good for an admin only.
    AdminCookie,
}

fn accept(caller: Option<Caller>, via: Via) -> Result<Caller> {
    match (caller, via) {
        (Some(caller), Via::Header) => Ok(caller),
        (Some(caller), Via::AdminCookie) if caller.role == Role::Admin => Ok(caller),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Looks the request's bearer token (or the admin cookie, see the module
/// docs) up; the rate limiter calls this first and leaves the result in
/// the request's extensions.
pub async fn authenticate(state: &AppState, parts: &Parts) -> Result<Caller> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(*caller);
    }
    match credential(parts)?.ok_or(ApiError::Unauthorized)? {
        (token, Via::Header) => accept(lookup(state, token).await?, Via::Header),
        (session, Via::AdminCookie) => accept(
            crate::sessions::caller(state, session).await?,
            Via::AdminCookie,
        ),
    }
}

/// The caller, when it can be told without asking the database: a token
/// authenticated a moment ago. `None` when a look-up would be needed (or the
/// request carries no valid credential at all).
pub fn cached(state: &AppState, parts: &Parts) -> Option<Caller> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Some(*caller);
    }
    // A session is looked up on every request (the staff page makes few).
    let (token, Via::Header) = credential(parts).ok().flatten()? else {
        return None;
    };
    if !tokens::is_well_formed(token) {
        return None;
    }
    accept(state.tokens.get(&tokens::hash(token)), Via::Header).ok()
}

/// The live token `token` is, through the cache of recently authenticated
/// tokens; `None` for an unknown or revoked one.
///
/// Tokens are looked up on the primary, where a revocation is written: a
/// replica that has not replayed it yet would still accept the token. Only
/// while the primary is down or does not answer (an off-site API reading its
/// replica) does the replica answer; nothing can be revoked then anyway.
pub async fn lookup(state: &AppState, token: &str) -> Result<Option<Caller>> {
    if !tokens::is_well_formed(token) {
        return Ok(None);
    }
    let token_hash = tokens::hash(token);
    if let Some(caller) = state.tokens.get(&token_hash) {
        return Ok(Some(caller));
    }
    if state.tokens.was_refused(&token_hash) {
        return Ok(None);
    }
    let ticket = state.tokens.ticket();
    let found = {
        let mut conn = state.reads.acquire_for_tokens().await?;
        tokens::authenticate_hash(&mut conn, &token_hash).await?
    };
    match found {
        Some((token_id, role)) => {
            let caller = Caller { token_id, role };
            state.tokens.insert(ticket, token_hash, caller);
            Ok(Some(caller))
        }
        None => {
            state.tokens.refuse(token_hash);
            Ok(None)
        }
    }
}

/// Whether the token behind `caller` is still live, asked of the primary
/// (the replica while the primary is down): how an event stream checks its
/// token again after a revocation notice it cannot match, and periodically.
pub async fn still_live(state: &AppState, caller: Caller) -> Result<bool> {
    let mut conn = state.reads.acquire_for_tokens().await?;
    Ok(tokens::is_live(&mut conn, caller.token_id).await?)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = authenticate(state, parts).await?;
        parts.extensions.insert(caller);
        Ok(caller)
    }
}
