//! The staff page's sessions: `POST /admin/login` checks an admin token and
//! opens a session; the cookie [`crate::auth::ADMIN_COOKIE`] carries only the
//! session's random id, never the token. A session lasts [`SESSION_TTL`],
//! ends at logout, and ends with its token's revocation. Sessions are read
//! on the primary, where they are written.

use std::time::Duration;

use ondeck_domain::TokenId;
use ondeck_domain::store::sessions;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::Result;

/// How long a session (and its cookie) lasts: a long day at the venue.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Opens a session for an admin token; returns the id for the cookie.
pub async fn open(state: &AppState, token: TokenId) -> Result<String> {
    let mut conn = state.db.acquire().await?;
    Ok(sessions::create(&mut conn, token, SESSION_TTL).await?)
}

/// The caller a session id stands for, while the session is open and its
/// token live.
pub async fn caller(state: &AppState, id: &str) -> Result<Option<Caller>> {
    let mut conn = state.db.acquire().await?;
    let found = sessions::find(&mut conn, id).await?;
    Ok(found.map(|(token_id, role)| Caller { token_id, role }))
}

/// Ends a session: its id is refused from then on, whoever kept a copy.
pub async fn close(state: &AppState, id: &str) -> Result<()> {
    let mut conn = state.db.acquire().await?;
    Ok(sessions::delete(&mut conn, id).await?)
}
