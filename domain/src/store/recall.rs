//! Auto-recall's queries: keep `size` players recalled (texted to come back)
//! at a time, taking them from the front of the line (the queue key's order).

use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::{GameId, ShowId};

/// `RECALL_WINDOW_SIZE`, `RECALL_WINDOW_MINUTES` and `RECALL_DISABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecallPolicy {
    pub size: i64,
    pub minutes: i64,
    pub enabled: bool,
}

impl Default for RecallPolicy {
    fn default() -> Self {
        Self {
            size: 2,
            minutes: 20,
            enabled: true,
        }
    }
}

/// Class of the per-show advisory lock that serializes auto-recall.
const RECALL_LOCK_CLASS: i32 = 0x6f64_0001;

/// The games auto-recall should recall now (none while the show is
/// paused): the games at the front of a show whose players have a mobile
/// number, as many as the window has room
/// for (active recalls are those recalled within the window). Takes a
/// transaction-scoped lock per show, held until the caller commits, so
/// concurrent callers take turns and each sees the recalls of the one
/// before: the window is never overfilled. The caller recalls them (see
/// `lifecycle`).
#[tracing::instrument(skip_all, fields(show_id = %show_id))]
pub async fn due(
    conn: &mut PgConnection,
    show_id: ShowId,
    policy: RecallPolicy,
) -> Result<Vec<GameId>> {
    if !policy.enabled || policy.size <= 0 {
        return Ok(Vec::new());
    }
    lock_show(conn, show_id).await?;
    // A paused show recalls no one: the attraction is down.
    let paused: bool = sqlx::query_scalar("SELECT paused FROM shows WHERE id = $1")
        .bind(show_id)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(false);
    if paused {
        return Ok(Vec::new());
    }
    // clock_timestamp(), not now(): the transaction may have waited for the
    // lock, and the window is about the present.
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM games WHERE show_id = $1 AND state = 'recalled' \
           AND recall_started_at > clock_timestamp() - make_interval(mins => $2::int)",
    )
    .bind(show_id)
    .bind(policy.minutes as i32)
    .fetch_one(&mut *conn)
    .await?;
    let room = policy.size - active;
    if room <= 0 {
        return Ok(Vec::new());
    }
    // Locked as they are picked, passing over games another transaction
    // holds: that one is changing the game (a tablet confirming it, or a
    // complete or cancel waiting for this show's lock, which this
    // transaction holds: waiting for it would deadlock). The next caller or
    // sweep recalls a game passed over that is still queued.
    Ok(sqlx::query_scalar(
        "SELECT g.id FROM games g JOIN players p ON p.id = g.player_id \
         WHERE g.show_id = $1 AND g.state = 'queued' AND p.mobile_number IS NOT NULL \
         ORDER BY g.queue_key, g.id LIMIT $2 \
         FOR NO KEY UPDATE OF g SKIP LOCKED",
    )
    .bind(show_id)
    .bind(room)
    .fetch_all(&mut *conn)
    .await?)
}

/// Takes the show's line lock until the transaction ends: auto-recall and
/// moves in the line ("later") of one show take turns.
pub async fn lock_show(conn: &mut PgConnection, show_id: ShowId) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
        .bind(RECALL_LOCK_CLASS)
        .bind(show_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The shows that have queued games: what the periodic sweep visits.
pub async fn shows_with_queue(conn: &mut PgConnection) -> Result<Vec<ShowId>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT show_id FROM games WHERE state = 'queued' ORDER BY show_id",
    )
    .fetch_all(conn)
    .await?)
}
