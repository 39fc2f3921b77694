//! Auto-recall: keep `size` players recalled (texted to come back) at a time,
//! taking the longest-queued first.

use sqlx::PgConnection;

use crate::error::{DomainError, Result};
use crate::ids::ShowId;
use crate::state::Transition;
use crate::store::games::{self, Transitioned};
use crate::store::outbox::{self, Job, MessageKind};

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

/// Writes the recall text of a game that was just recalled to the outbox,
/// if its player has a mobile number.
pub async fn notify_recalled(conn: &mut PgConnection, recalled: &Transitioned) -> Result<()> {
    if recalled.game.mobile_number.is_some() {
        outbox::enqueue(
            conn,
            &Job::Sms {
                game_id: recalled.game.id,
                message: MessageKind::Recall,
            },
        )
        .await?;
    }
    Ok(())
}

/// Recalls the oldest-queued games of a show whose players have a mobile
/// number, until the active recalls (recalled within the window) reach the
/// window size. The caller logs their events. Runs inside the caller's transaction and holds a
/// transaction-scoped lock per show, so concurrent callers take turns and
/// each sees the recalls of the one before: the window is never overfilled.
#[tracing::instrument(skip_all, fields(show_id = %show_id))]
pub async fn auto_recall(
    conn: &mut PgConnection,
    show_id: ShowId,
    policy: RecallPolicy,
) -> Result<Vec<Transitioned>> {
    if !policy.enabled || policy.size <= 0 {
        return Ok(Vec::new());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashint8($2))")
        .bind(RECALL_LOCK_CLASS)
        .bind(show_id)
        .execute(&mut *conn)
        .await?;
    // clock_timestamp(), not now(): the transaction may have waited for the
    // lock, and the window is about the present.
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM games WHERE show_id = $1 AND state = 'recalled' \
           AND recalled_at > clock_timestamp() - make_interval(mins => $2::int)",
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
    let candidates: Vec<crate::ids::GameId> = sqlx::query_scalar(
        "SELECT g.id FROM games g JOIN players p ON p.id = g.player_id \
         WHERE g.show_id = $1 AND g.state = 'queued' AND p.mobile_number IS NOT NULL \
         ORDER BY g.queued_at, g.id LIMIT $2 \
         FOR NO KEY UPDATE OF g SKIP LOCKED",
    )
    .bind(show_id)
    .bind(room)
    .fetch_all(&mut *conn)
    .await?;
    let mut recalled = Vec::with_capacity(candidates.len());
    for id in candidates {
        // A tablet may have moved the game meanwhile; the guard says so and
        // the next sweep fills the gap.
        match games::transition(conn, id, Transition::Recall, None).await {
            Ok(game) => {
                notify_recalled(conn, &game).await?;
                recalled.push(game);
            }
            Err(DomainError::IllegalTransition(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(recalled)
}

/// The shows that have queued games: what the periodic sweep visits.
pub async fn shows_with_queue(conn: &mut PgConnection) -> Result<Vec<ShowId>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT show_id FROM games WHERE state = 'queued' ORDER BY show_id",
    )
    .fetch_all(conn)
    .await?)
}
