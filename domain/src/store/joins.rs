//! Joining from a phone: a code texted to the number the player typed, and
//! the check of the code they type back. A code is a row of `join_codes`
//! holding only its hash; the code itself exists in the text sent (its
//! `messages` row, written here with the job that sends it) and nowhere else.

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::{DomainError, Result};
use crate::ids::{GameId, ShowId};
use crate::store::outbox::Job;

/// How long a code can be used.
pub const CODE_MINUTES: i64 = 10;

/// Wrong codes a join may be given; the next try is refused even if right.
pub const MAX_TRIES: i32 = 5;

/// How many codes may be asked for within an hour, per number and per
/// client address: a number's owner is not flooded with texts, and one
/// client cannot run up the venue's texting bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    pub per_number: i64,
    pub per_client: i64,
}

impl Default for CodeLimits {
    fn default() -> Self {
        CodeLimits {
            per_number: 3,
            per_client: 20,
        }
    }
}

/// A code asked for: `id` names the join from now on.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

/// What a join asked for, once its code was right.
#[derive(Debug, Clone)]
pub struct Verified {
    pub show_id: ShowId,
    pub mobile_number: String,
    pub details: serde_json::Value,
}

fn code_hash(id: &str, code: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(id.as_bytes());
    hasher.update(b":");
    hasher.update(code.as_bytes());
    hasher.finalize().to_vec()
}

fn new_id() -> String {
    let mut secret = [0u8; 16];
    rand::rng().fill_bytes(&mut secret);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
}

/// Six digits from the system's CSPRNG (leading zeros kept).
fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Serializes the codes asked for by one number and one client address, so
/// that requests at once cannot all pass the count. Number first, then
/// client, in every caller: no two wait on each other in opposite orders.
async fn lock_keys(conn: &mut PgConnection, number: &str, client: &str) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('join-number:' || $1, 0)), \
                pg_advisory_xact_lock(hashtextextended('join-client:' || $2, 0))",
    )
    .bind(number)
    .bind(client)
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks for a code for `number` (E.164) from `client`, within `limits`
/// (else [`DomainError::TooMany`]): the row, and the text that carries the
/// code (`body` with `{code}` replaced), through the outbox like every text.
pub async fn start(
    conn: &mut PgConnection,
    show_id: ShowId,
    number: &str,
    client: &str,
    details: &serde_json::Value,
    body: &str,
    limits: CodeLimits,
) -> Result<Started> {
    lock_keys(conn, number, client).await?;
    let (by_number, by_client): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE mobile_number = $1), count(*) FILTER (WHERE client_addr = $2) \
         FROM join_codes WHERE created_at > now() - interval '1 hour' \
           AND (mobile_number = $1 OR client_addr = $2)",
    )
    .bind(number)
    .bind(client)
    .fetch_one(&mut *conn)
    .await?;
    if by_number >= limits.per_number {
        return Err(DomainError::TooMany(format!(
            "this number has been sent {} codes in the last hour; try again later",
            limits.per_number
        )));
    }
    if by_client >= limits.per_client {
        return Err(DomainError::TooMany(
            "too many codes were asked for from this device in the last hour; try again later"
                .into(),
        ));
    }
    let (id, code) = (new_id(), new_code());
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO join_codes (id, show_id, mobile_number, client_addr, code_hash, details, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(mins => $7)) RETURNING expires_at",
    )
    .bind(&id)
    .bind(show_id)
    .bind(number)
    .bind(client)
    .bind(code_hash(&id, &code))
    .bind(sqlx::types::Json(details))
    .bind(CODE_MINUTES as i32)
    .fetch_one(&mut *conn)
    .await?;
    let job = Job::Verify {};
    sqlx::query(
        "WITH job AS (INSERT INTO outbox (kind, payload) VALUES ($1, $2) RETURNING id) \
         INSERT INTO messages (outbox_id, show_id, kind, \"to\", body) SELECT id, $5, 'verify', $3, $4 FROM job",
    )
    .bind(job.kind())
    .bind(sqlx::types::Json(&job))
    .bind(number)
    .bind(body.replace("{code}", &code))
    .bind(show_id)
    .execute(conn)
    .await?;
    Ok(Started { id, expires_at })
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    show_id: ShowId,
    mobile_number: String,
    details: serde_json::Value,
    code_hash: Vec<u8>,
    tries: i32,
    expired: bool,
    used: bool,
}

/// Checks `code` for join `id`: a wrong one counts as a try (422 naming
/// `code`), the sixth try is refused whatever it says, an expired or used
/// join is refused. The right code uses the join up, in the caller's
/// transaction: if that rolls back (the line closed meanwhile), the code
/// can be given again.
pub async fn verify(conn: &mut PgConnection, id: &str, code: &str) -> Result<Verified> {
    let unknown = || DomainError::invalid("join", "this signup is unknown; start again");
    // Not an id this module makes (22 URL-safe characters): no row to look
    // for, and text PostgreSQL refuses (a NUL) never reaches it.
    let well_formed_id = id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed_id {
        return Err(unknown());
    }
    let row: Option<CodeRow> = sqlx::query_as(
        "SELECT show_id, mobile_number, details, code_hash, tries, \
                expires_at <= now() AS expired, used_at IS NOT NULL AS used \
         FROM join_codes WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(CodeRow {
        show_id,
        mobile_number,
        details,
        code_hash: hash,
        tries,
        expired,
        used,
    }) = row
    else {
        return Err(unknown());
    };
    if used {
        return Err(DomainError::invalid(
            "code",
            "this code has been used; start again",
        ));
    }
    if tries >= MAX_TRIES {
        return Err(DomainError::TooMany(
            "too many wrong codes; ask for a new one".into(),
        ));
    }
    if expired {
        return Err(DomainError::invalid(
            "code",
            "this code has expired; ask for a new one",
        ));
    }
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    // Compared as hashes: equal-length digests, so the comparison's time
    // says nothing useful about the code.
    if !well_formed || code_hash(id, code) != hash {
        sqlx::query("UPDATE join_codes SET tries = tries + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let left = MAX_TRIES - tries - 1;
        return Err(DomainError::invalid(
            "code",
            match left {
                0 => "wrong code; ask for a new one".to_owned(),
                1 => "wrong code; 1 try left".to_owned(),
                n => format!("wrong code; {n} tries left"),
            },
        ));
    }
    sqlx::query("UPDATE join_codes SET used_at = now() WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(Verified {
        show_id,
        mobile_number,
        details,
    })
}

/// The game `number` already has in show `show_id`'s line (any game not
/// over), if any. Takes the number's lock first, so two joins of one number
/// at once make one game.
pub async fn in_line(
    conn: &mut PgConnection,
    show_id: ShowId,
    number: &str,
) -> Result<Option<GameId>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('join-number:' || $1, 0))")
        .bind(number)
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_scalar(
        "SELECT g.id FROM games g JOIN players p ON p.id = g.player_id \
         WHERE p.mobile_number = $1 AND g.show_id = $2 AND g.state NOT IN ('completed', 'cancelled') \
         ORDER BY g.id DESC LIMIT 1",
    )
    .bind(number)
    .bind(show_id)
    .fetch_optional(conn)
    .await?)
}

/// Deletes codes older than a day (they hold a number and what the player
/// typed); the hour's counts only need the last hour. Returns how many.
pub async fn purge_old(conn: &mut PgConnection) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM join_codes WHERE created_at < now() - interval '1 day'")
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = new_code();
            assert_eq!(code.len(), 6, "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
    }

    #[test]
    fn a_hash_depends_on_the_join_and_the_code() {
        assert_eq!(code_hash("a", "123456"), code_hash("a", "123456"));
        assert_ne!(code_hash("a", "123456"), code_hash("b", "123456"));
        assert_ne!(code_hash("a", "123456"), code_hash("a", "123457"));
        assert_eq!(new_id().len(), 22);
    }
}
