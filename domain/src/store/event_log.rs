//! The event log: one row per transition, signup or souvenir, written in the
//! caller's transaction, read back by id to stream and to replay. Writers
//! wake the readers after they commit (see `wake`).
//!
//! Ids come from a sequence, so a transaction can commit event N+1 while
//! event N is still in flight; a reader that went past N then would never
//! send it. Writers therefore hold `EVENTS_LOCK` in share mode from before
//! they take an id until they commit (writers never wait for each other),
//! and a reader first asks for the lock exclusively: once it has it, no
//! writer is in flight, so every id up to the largest it can see is final.
//! That id is the [`horizon`]; readers read only up to it. While a reader
//! waits, new writers wait behind it: a transaction writes its events last,
//! after anything that could make it wait (row locks, other advisory locks,
//! unique inserts that may conflict), and commits right away.

use serde_json::Value;
use sqlx::PgConnection;

use crate::error::Result;
use crate::game_state::GameState;
use crate::game_view::GameView;
use crate::models::{Game, Show};

pub const CHANNEL: &str = "ondeck_events";

/// Held in share mode by every transaction that writes events, until it
/// commits; taken exclusively, for an instant, by [`horizon`].
const EVENTS_LOCK: i64 = 0x6f6e_6465_636b_0002;

/// How many events are kept for clients that reconnect.
pub const KEPT: i64 = 10_000;

/// An event as subscribers get it: its payload is JSON text, read from the
/// log as text so that it is serialized once, not once per subscriber.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub data: String,
}

/// Records that `game` changed (from `previous`, if it existed before). The
/// payload never carries PII: every role may subscribe.
pub async fn game_changed(
    conn: &mut PgConnection,
    game: &Game,
    previous: Option<GameState>,
    recall_minutes: i64,
) -> Result<()> {
    let mut payload = serde_json::to_value(GameView::new(game.clone(), false, recall_minutes))
        .unwrap_or(Value::Null);
    if let Value::Object(map) = &mut payload {
        map.insert(
            "previous_state".into(),
            serde_json::to_value(previous).unwrap_or(Value::Null),
        );
    }
    insert(conn, "game", payload).await
}

/// Records that staff changed a show's settings: boards and players' pages
/// read the show again. Shows carry no PII.
pub async fn show_changed(conn: &mut PgConnection, show: &Show) -> Result<()> {
    insert(
        conn,
        "show",
        serde_json::to_value(show).unwrap_or(Value::Null),
    )
    .await
}

async fn insert(conn: &mut PgConnection, kind: &str, payload: Value) -> Result<()> {
    // The lock comes before the id: the sub-select runs before the row's
    // default takes the next value of the sequence.
    sqlx::query(
        "INSERT INTO events (kind, payload) \
         SELECT $1, $2 FROM (SELECT pg_advisory_xact_lock_shared($3)) AS writing",
    )
    .bind(kind)
    .bind(sqlx::types::Json(payload))
    .bind(EVENTS_LOCK)
    .execute(conn)
    .await?;
    Ok(())
}

/// The id up to which the log is final: every event at or below it is
/// committed or never will be. Waits for the writers in flight to commit
/// (and holds new ones back meanwhile), so call it at most every few
/// milliseconds; when no id was taken since `known`, it returns `known`
/// without waiting.
pub async fn horizon(conn: &mut PgConnection, known: i64) -> Result<i64> {
    let taken: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_id_seq",
    )
    .fetch_one(&mut *conn)
    .await?;
    if taken <= known {
        return Ok(known);
    }
    // One statement: its snapshot may predate the lock, but every event it
    // sees was committed, and every lower id (like every id up to `taken`)
    // was taken by a writer that held the lock before this statement asked
    // for it, so is settled once the lock is granted. The statement ends
    // only when it is. Ids taken by writers that rolled back are passed too,
    // so they cost one wait, not one per call.
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT (SELECT max(id) FROM events) FROM (SELECT pg_advisory_xact_lock($1)) AS settled",
    )
    .bind(EVENTS_LOCK)
    .fetch_one(conn)
    .await?;
    Ok(newest.unwrap_or(known).max(taken).max(known))
}

/// Events after `after` up to `until` (a [`horizon`]), oldest first, at
/// most `limit`.
pub async fn after(
    conn: &mut PgConnection,
    after: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<Event>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, payload::text AS data FROM events \
         WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(until)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The newest event's id (0 when there are none).
pub async fn last_id(conn: &mut PgConnection) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events")
            .fetch_one(conn)
            .await?,
    )
}

/// Keeps the newest `KEPT` events.
pub async fn prune(conn: &mut PgConnection) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - $1")
            .bind(KEPT)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
