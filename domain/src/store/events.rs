//! The event log: one row per transition, signup or souvenir, written in the
//! caller's transaction (a NOTIFY on `CHANNEL` follows each commit), read
//! back by id to stream and to replay.

use serde_json::Value;
use sqlx::PgConnection;

use crate::error::Result;
use crate::models::Game;
use crate::state::GameState;
use crate::views::GameView;

pub const CHANNEL: &str = "ondeck_events";

/// Taken by every transaction as it writes its first event and held until
/// it commits, so that events become visible in id order: a reader that has
/// seen event N can never later meet a committed event below N. It
/// serializes only the commits of event-writing transactions.
const EVENTS_LOCK: i64 = 0x6f6e_6465_636b_0002;

/// How many events are kept for clients that reconnect.
pub const KEPT: i64 = 10_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub payload: sqlx::types::Json<Value>,
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
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENTS_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO events (kind, payload) VALUES ('game', $1)")
        .bind(sqlx::types::Json(payload))
        .execute(conn)
        .await?;
    Ok(())
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn after(conn: &mut PgConnection, after: i64, limit: i64) -> Result<Vec<Event>> {
    Ok(
        sqlx::query_as("SELECT id, kind, payload FROM events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(conn)
            .await?,
    )
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
