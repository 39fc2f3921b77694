//! `Idempotency-Key`: the first response to a POST is kept for 24 hours per
//! token and key, and replayed for a repeat with the same body.
//!
//! A claim whose request never finished (the client went away, the request
//! timed out or panicked, the process died) must not hold its key for a
//! day: the API releases it when the request is dropped, and a claim still
//! in progress after `stale_after` (the request timeout) is taken over by
//! the next request with that key.

use std::time::Duration;

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
    stale_after: Duration,
) -> Result<Claim> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 \
         AND (created_at < now() - interval '24 hours' \
              OR (status IS NULL AND created_at < now() - make_interval(secs => $3)))",
    )
    .bind(token)
    .bind(key)
    .bind(stale_after.as_secs_f64())
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

/// Keeps the response of a claimed request; `player_ids` are the players
/// it is about (see [`player_ids`]), whose purge deletes it.
pub async fn save(
    conn: &mut PgConnection,
    token: TokenId,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5, player_ids = $6 \
         WHERE token_id = $1 AND key = $2",
    )
    .bind(token)
    .bind(key)
    .bind(status as i16)
    .bind(content_type)
    .bind(body)
    .bind(player_ids(body))
    .execute(conn)
    .await?;
    Ok(())
}

/// The players a JSON response is about: every `player_id`, and the `id`
/// of every object that is a player (it has a `first_name`), at any depth.
/// Anything that is not JSON is about no one.
pub fn player_ids(body: &[u8]) -> Vec<i64> {
    fn walk(value: &serde_json::Value, out: &mut Vec<i64>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(id) = map.get("player_id").and_then(serde_json::Value::as_i64) {
                    out.push(id);
                }
                if map.contains_key("first_name")
                    && let Some(id) = map.get("id").and_then(serde_json::Value::as_i64)
                {
                    out.push(id);
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        walk(&value, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
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

#[cfg(test)]
mod tests {
    use super::player_ids;

    #[test]
    fn responses_name_their_players() {
        let player =
            br#"{"id": 7, "first_name": "Ada", "active_game": {"id": 30, "player_id": 7}}"#;
        assert_eq!(player_ids(player), vec![7]);
        let game = br#"{"id": 30, "player_id": 7, "player": {"id": 7, "first_name": "Ada"}}"#;
        assert_eq!(player_ids(game), vec![7]);
        let list = br#"{"items": [{"id": 1, "player_id": 2}, {"id": 3, "player_id": 4}]}"#;
        assert_eq!(player_ids(list), vec![2, 4]);
        assert!(player_ids(br#"{"id": 5, "name": "Team"}"#).is_empty());
        assert!(player_ids(b"not json").is_empty());
    }
}
