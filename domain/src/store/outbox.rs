//! The job outbox: jobs are written in the same transaction as the change
//! that causes them, and a relay moves them to the job queue. A rolled-back
//! change leaves no job; a crash or a queue outage only delays one.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::GameId;

/// Which message of a game's text messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Welcome,
    Recall,
    Souvenir,
    /// The show's `no_show_message`, once, when the sweep cancels a no-show.
    NoShow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Text the game's player; the body comes from the show's messages.
    Sms {
        game_id: GameId,
        message: MessageKind,
    },
    /// Send a join code: the text is written with the job (see `joins`),
    /// since the code exists nowhere else.
    Verify {},
    /// Render the game's souvenir image, then text its link.
    Souvenir { game_id: GameId },
    /// Fire a venue cue of `CUES_FILE`: its actions become `Dmx` and
    /// `Webhook` jobs.
    Cue {
        name: String,
        #[serde(default)]
        game_id: Option<GameId>,
    },
    /// POST one cue's signed webhook (action `action` of cue `cue`).
    Webhook {
        cue: String,
        action: usize,
        url: String,
        #[serde(default)]
        game_id: Option<GameId>,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// Set DMX channels (`[channel, value]` pairs) of one cue's action: run
    /// only by a worker process that has `DMX_DEVICE` (a queue of its own).
    Dmx {
        cue: String,
        action: usize,
        channels: Vec<(u16, u8)>,
        #[serde(default)]
        game_id: Option<GameId>,
        at: chrono::DateTime<chrono::Utc>,
    },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Sms { .. } => "sms",
            Job::Verify {} => "verify",
            Job::Souvenir { .. } => "souvenir",
            Job::Cue { .. } => "cue",
            Job::Webhook { .. } => "webhook",
            Job::Dmx { .. } => "dmx",
        }
    }
}

/// Writes a job that a job causes (a souvenir's text): `dedupe_key` names
/// the cause, so running the causing job twice writes it once.
pub async fn enqueue_once(conn: &mut PgConnection, job: &Job, dedupe_key: &str) -> Result<()> {
    sqlx::query("INSERT INTO outbox (kind, payload, dedupe_key) VALUES ($1, $2, $3) ON CONFLICT (dedupe_key) DO NOTHING")
        .bind(job.kind())
        .bind(sqlx::types::Json(job))
        .bind(dedupe_key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The job written with `dedupe_key`, if any.
pub async fn id_of(conn: &mut PgConnection, dedupe_key: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM outbox WHERE dedupe_key = $1")
            .bind(dedupe_key)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn enqueue(conn: &mut PgConnection, job: &Job) -> Result<()> {
    sqlx::query("INSERT INTO outbox (kind, payload) VALUES ($1, $2)")
        .bind(job.kind())
        .bind(sqlx::types::Json(job))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub payload: sqlx::types::Json<Job>,
}

/// The oldest jobs not yet relayed, locked for the caller's transaction;
/// rows another relay holds are skipped, so relays never wait on each other.
pub async fn claim_pending(conn: &mut PgConnection, limit: i64) -> Result<Vec<OutboxRow>> {
    Ok(sqlx::query_as(
        "SELECT id, payload FROM outbox WHERE relayed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn mark_relayed(conn: &mut PgConnection, ids: &[i64]) -> Result<()> {
    sqlx::query("UPDATE outbox SET relayed_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// The channel an insert into the outbox notifies (see the jobs migration).
pub const CHANNEL: &str = "ondeck_outbox";

/// The job is finished (or given up for good): the relay won't bring it back.
pub async fn mark_done(conn: &mut PgConnection, id: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET done_at = now() WHERE id = $1 AND done_at IS NULL")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether a job has finished (or been given up for good).
pub async fn is_done(conn: &mut PgConnection, id: i64) -> Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT done_at IS NOT NULL FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .unwrap_or(false),
    )
}

/// Puts these jobs back to be relayed at once, unless they have finished:
/// a worker that stops before its jobs end hands them back. Returns how many.
pub async fn requeue(conn: &mut PgConnection, ids: &[i64]) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE outbox SET relayed_at = NULL \
         WHERE id = ANY($1) AND done_at IS NULL AND relayed_at IS NOT NULL",
    )
    .bind(ids)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Puts back jobs relayed more than `seconds` ago and never finished: Redis
/// lost them (or they are still retrying there, and will run twice,
/// harmlessly). Returns how many.
pub async fn requeue_unfinished(conn: &mut PgConnection, seconds: f64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE outbox SET relayed_at = NULL \
         WHERE done_at IS NULL AND relayed_at < now() - make_interval(secs => $1)",
    )
    .bind(seconds)
    .execute(conn)
    .await?
    .rows_affected())
}
