//! `Idempotency-Key`: the first response to a POST is kept for 24 hours per
//! token and key, and replayed for a repeat with the same body.

use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::TokenId;

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use of the key: run the request, then `save` its response.
    New,
    /// The key was used with the same request: answer this again.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used with a different request.
    Mismatch,
    /// The first request with this key has not finished yet.
    InProgress,
}

/// request_hash, status, content_type, body: status is null while in progress.
type StoredResponse = (Vec<u8>, Option<i16>, Option<String>, Option<Vec<u8>>);

pub async fn claim(
    conn: &mut PgConnection,
    token: TokenId,
    key: &str,
    request_hash: &[u8],
) -> Result<Claim> {
    sqlx::query("DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'")
        .bind(token)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (token_id, key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(token)
    .bind(key)
    .bind(request_hash)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let row: Option<StoredResponse> = sqlx::query_as(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE token_id = $1 AND key = $2",
    )
    .bind(token)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        // Deleted between our insert and select: treat as in progress, the
        // client retries.
        None => Claim::InProgress,
        Some((hash, _, _, _)) if hash != request_hash => Claim::Mismatch,
        Some((_, Some(status), content_type, body)) => Claim::Replay {
            status: status as u16,
            content_type,
            body: body.unwrap_or_default(),
        },
        Some(_) => Claim::InProgress,
    })
}

pub async fn save(
    conn: &mut PgConnection,
    token: TokenId,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE token_id = $1 AND key = $2")
        .bind(token)
        .bind(key)
        .bind(status as i16)
        .bind(content_type)
        .bind(body)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets a claim whose request failed on our side, so a retry can run.
pub async fn release(conn: &mut PgConnection, token: TokenId, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND status IS NULL")
        .bind(token)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
