//! API tokens: random 256-bit secrets, stored only as SHA-256 hashes.

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::{DomainError, Result, ResultExt};
use crate::ids::TokenId;
use crate::models::Role;

/// Every token starts with this, so a leaked one is easy to recognise (and
/// for secret scanners to find).
pub const PREFIX: &str = "odk_";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Revoking a token notifies this channel with the token's id, so that
/// processes caching authenticated tokens forget them at once.
pub const REVOKED_CHANNEL: &str = "ondeck_token_revoked";

/// What is stored of a token, and what a cache may key on.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The length of a token's secret part: 32 random bytes, URL-safe base64
/// without padding.
const SECRET_LEN: usize = 43;

/// Whether a bearer string has exactly the shape of one of our tokens
/// (`odk_` and 43 URL-safe base64 characters). Anything else is refused
/// without a look-up, so a malformed credential costs no query.
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Creates a token and returns it: the only time it is ever shown.
pub async fn create(conn: &mut PgConnection, name: &str, role: Role) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid("name", "must be 1 to 100 characters"));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    sqlx::query("INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(role)
        .bind(hash(&token))
        .execute(conn)
        .await
        .on_constraint("api_tokens_name_key", || {
            DomainError::Conflict(format!("a token named {name:?} exists already"))
        })?;
    Ok(token)
}

/// The live token a bearer string belongs to, if any.
pub async fn authenticate(conn: &mut PgConnection, token: &str) -> Result<Option<(TokenId, Role)>> {
    if !is_well_formed(token) {
        return Ok(None);
    }
    authenticate_hash(conn, &hash(token)).await
}

/// The live token with this hash, if any.
pub async fn authenticate_hash(
    conn: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<(TokenId, Role)>> {
    Ok(sqlx::query_as(
        "SELECT id, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?)
}

pub async fn list(conn: &mut PgConnection) -> Result<Vec<TokenInfo>> {
    Ok(
        sqlx::query_as("SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id")
            .fetch_all(conn)
            .await?,
    )
}

/// Whether the token with this id exists and is not revoked.
pub async fn is_live(conn: &mut PgConnection, id: TokenId) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE id = $1 AND revoked_at IS NULL)",
    )
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// Revokes a token by name; its requests answer 401 from then on, and every
/// API process hears of it on `REVOKED_CHANNEL` in the same statement.
pub async fn revoke(conn: &mut PgConnection, name: &str) -> Result<()> {
    let revoked: Vec<TokenId> = sqlx::query_scalar(
        "WITH revoked AS (UPDATE api_tokens SET revoked_at = now() \
                          WHERE name = $1 AND revoked_at IS NULL RETURNING id) \
         SELECT id FROM revoked, LATERAL (SELECT pg_notify($2, revoked.id::text)) notified",
    )
    .bind(name)
    .bind(REVOKED_CHANNEL)
    .fetch_all(conn)
    .await?;
    if revoked.is_empty() {
        return Err(DomainError::NotFound("live token with that name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_shape_is_well_formed() {
        let secret = "A".repeat(SECRET_LEN);
        assert!(is_well_formed(&format!("{PREFIX}{secret}")));
        assert!(is_well_formed(&format!("{PREFIX}{}-_9z", "b".repeat(39))));
        for bad in [
            String::new(),
            PREFIX.to_owned(),
            format!("{PREFIX}{}", "A".repeat(SECRET_LEN - 1)),
            format!("{PREFIX}{}", "A".repeat(SECRET_LEN + 1)),
            format!("{PREFIX}{}=", "A".repeat(SECRET_LEN - 1)),
            format!("{PREFIX}{}+", "A".repeat(SECRET_LEN - 1)),
            format!("xdk_{secret}"),
            format!("{PREFIX}{}é", "A".repeat(SECRET_LEN - 2)),
        ] {
            assert!(!is_well_formed(&bad), "{bad:?} is not a token");
        }
    }
}
