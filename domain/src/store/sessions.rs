//! The staff page's server-side sessions: the cookie carries a random id,
//! the table only its SHA-256, the admin token it was opened with and when
//! it expires. Logging out deletes the session; revoking the token deletes
//! its sessions (a trigger) and a lookup only finds sessions of live tokens.

use std::time::Duration;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::TokenId;
use crate::models::Role;

/// A session id is 43 base64url characters (32 random bytes).
const ID_LEN: usize = 43;

fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// Opens a session for `token` lasting `ttl`; returns its id, the only
/// time it exists outside the cookie. Expired sessions are cleared on the way.
pub async fn create(conn: &mut PgConnection, token: TokenId, ttl: Duration) -> Result<String> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO admin_sessions (id_hash, token_id, expires_at) \
         VALUES ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(hash(&id))
    .bind(token)
    .bind(ttl.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(id)
}

/// The live, unexpired session `id` names, as its token and role.
pub async fn find(conn: &mut PgConnection, id: &str) -> Result<Option<(TokenId, Role)>> {
    if id.len() != ID_LEN {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT t.id, t.role FROM admin_sessions s JOIN api_tokens t ON t.id = s.token_id \
         WHERE s.id_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL",
    )
    .bind(hash(id))
    .fetch_optional(conn)
    .await?)
}

/// Ends the session `id` (logging out); nothing when there is none.
pub async fn delete(conn: &mut PgConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
        .bind(hash(id))
        .execute(conn)
        .await?;
    Ok(())
}
