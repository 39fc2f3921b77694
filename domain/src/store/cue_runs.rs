//! Venue cue runs: one row per action of a fired cue (a DMX scene, a
//! webhook), written when the cue is fired and updated on every attempt, so
//! that a missing DMX device or a failing webhook is recorded and visible
//! (`GET /api/v1/cues/runs`, the staff page) rather than only logged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::GameId;
use crate::store::{Page, Paged, fetch_page};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "cue_action_kind", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Dmx,
    Webhook,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "cue_run_status", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Fired; no attempt has finished yet.
    Pending,
    Ok,
    /// An attempt failed; another follows.
    Retrying,
    /// Every attempt failed (or the job expired).
    Failed,
}

from_str_by_serde_name!(RunStatus, ActionKind);

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CueRun {
    pub id: i64,
    pub cue: String,
    /// The action's position in the cue (0-based).
    pub action: i32,
    pub kind: ActionKind,
    /// The webhook URL (without credentials or query) or the DMX device.
    pub target: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub game_id: Option<GameId>,
    pub status: RunStatus,
    pub attempts: i32,
    /// The last attempt's error.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

macro_rules! run_columns {
    () => {
        "id, cue, action, kind, target, game_id, status, attempts, error, created_at, updated_at, finished_at"
    };
}

/// An action about to be queued.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub cue: &'a str,
    pub action: i32,
    pub kind: ActionKind,
    pub target: Option<&'a str>,
    pub game_id: Option<GameId>,
}

/// Records the action of outbox job `outbox_id` as pending, in the caller's
/// transaction; a second call changes nothing.
pub async fn record(conn: &mut PgConnection, outbox_id: i64, run: &NewRun<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO cue_runs (outbox_id, cue, action, kind, target, game_id) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outbox_id) DO NOTHING",
    )
    .bind(outbox_id)
    .bind(run.cue)
    .bind(run.action)
    .bind(run.kind)
    .bind(run.target)
    .bind(run.game_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts an attempt (and sets the target when it is known only now, like
/// the DMX device); returns the attempt's number, or `None` when the run is
/// over (ok or failed) or was never recorded.
pub async fn begin_attempt(
    conn: &mut PgConnection,
    outbox_id: i64,
    target: Option<&str>,
) -> Result<Option<i32>> {
    Ok(sqlx::query_scalar(
        "UPDATE cue_runs SET attempts = attempts + 1, target = coalesce($2, target) \
         WHERE outbox_id = $1 AND status IN ('pending', 'retrying') RETURNING attempts",
    )
    .bind(outbox_id)
    .bind(target)
    .fetch_optional(conn)
    .await?)
}

/// How an attempt ended: `None` is success; an error with `last` fails the
/// run for good, without it the run is retrying.
pub async fn end_attempt(
    conn: &mut PgConnection,
    outbox_id: i64,
    error: Option<&str>,
    last: bool,
) -> Result<()> {
    let status = match (error, last) {
        (None, _) => RunStatus::Ok,
        (Some(_), true) => RunStatus::Failed,
        (Some(_), false) => RunStatus::Retrying,
    };
    sqlx::query(
        "UPDATE cue_runs SET status = $2, error = coalesce($3, error), \
                finished_at = CASE WHEN $2 IN ('ok', 'failed') THEN now() END \
         WHERE outbox_id = $1",
    )
    .bind(outbox_id)
    .bind(status)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub kind: Option<ActionKind>,
    pub cue: Option<String>,
}

/// Newest first.
pub async fn list(
    conn: &mut PgConnection,
    filter: &RunFilter,
    page: Page,
) -> Result<Paged<CueRun>> {
    let query = sqlx::query_as(concat!(
        "SELECT ",
        run_columns!(),
        ", 0::bigint AS sort_key, -id AS sort_id FROM cue_runs \
         WHERE ($1::cue_run_status IS NULL OR status = $1) AND ($2::cue_action_kind IS NULL OR kind = $2) \
           AND ($3::text IS NULL OR cue = $3) AND ($4::bigint IS NULL OR -id > $5) \
         ORDER BY id DESC LIMIT $6"
    ))
    .bind(filter.status)
    .bind(filter.kind)
    .bind(filter.cue.as_deref());
    fetch_page(conn, query, page).await
}
