//! `ondeck purge --before DATE`: removes the personal data of players whose
//! games all ended before a moment, keeping their anonymous scores.
//!
//! For each such player (created before the moment, every game completed or
//! cancelled before it, not purged yet): the mobile number, email, profile
//! id and photo key are cleared and the last name is cut to its initial (the
//! leaderboard already shows only "Ada L."); their texts lose their number,
//! body and provider error (a text not sent yet is marked failed), and so
//! do the texts that came in from their number; their games lose the player
//! code and the souvenir (URL, short link, and the name in the event log's
//! copies); responses kept for Idempotency-Key replays that are about them
//! are deleted. Games, scores, teams and the leaderboard are untouched, and
//! so are opt-outs: `sms_opt_outs` holds only keyed hashes of numbers, and a
//! number that answered STOP stays opted out.
//!
//! The stored objects (every photo uploaded for the player, every souvenir
//! of their games) are recorded as prefixes in `purge_objects` in the same
//! transaction; the caller deletes them after the commit and calls
//! [`objects_deleted`] for those deleted, so a failed delete is retried by the next run.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::error::Result;

/// What one run changed (or, rolled back, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    pub players: u64,
    pub messages: u64,
    pub souvenirs: u64,
    pub events: u64,
    /// Expired Idempotency-Key responses (which may hold PII) deleted.
    pub idempotency_keys: u64,
    /// Idempotency-Key responses about the purged players deleted.
    pub player_responses: u64,
}

/// The moment midnight starts `date` (YYYY-MM-DD) in the IANA zone `tz`,
/// as PostgreSQL computes it (a zone's gap at midnight included).
pub async fn start_of_day(conn: &mut PgConnection, date: &str, tz: &str) -> Result<DateTime<Utc>> {
    Ok(
        sqlx::query_scalar("SELECT ($1::date::timestamp AT TIME ZONE $2)")
            .bind(date)
            .bind(tz)
            .fetch_one(conn)
            .await?,
    )
}

/// Purges every player whose games all ended before `before`, inside the
/// caller's transaction. Running it again changes nothing.
pub async fn players_before(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<Purged> {
    // Whether a player qualifies; `$1` is the moment. A game completed and
    // then cancelled ended when it was cancelled.
    const ENDED: &str = "p.purged_at IS NULL AND p.created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM games g WHERE g.player_id = p.id \
             AND (g.state NOT IN ('completed', 'cancelled') \
                  OR coalesce(greatest(g.completed_at, g.cancelled_at), g.updated_at) >= $1))";
    // Locking the players first keeps a new game from being created for
    // them (its foreign key check needs a lock that conflicts); the second
    // statement, with a fresh snapshot, checks again what committed while
    // we waited for the locks.
    let candidates: Vec<(i64, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.id, p.mobile_number FROM players p WHERE {ENDED} ORDER BY p.id FOR UPDATE OF p"
    )))
    .bind(before)
    .fetch_all(&mut *conn)
    .await?;
    if candidates.is_empty() {
        return Ok(Purged {
            idempotency_keys: expired_idempotency_keys(conn).await?,
            ..Purged::default()
        });
    }
    let players: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE players p SET mobile_number = NULL, email = NULL, profile_id = NULL, \
             photo_key = NULL, last_name = nullif(left(last_name, 1), ''), purged_at = now() \
         WHERE p.id = ANY($2) AND {ENDED} RETURNING p.id"
    )))
    .bind(before)
    .bind(candidates.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let numbers: Vec<String> = candidates
        .into_iter()
        .filter(|(id, _)| players.contains(id))
        .filter_map(|(_, number)| number)
        .collect();
    let games: Vec<i64> = sqlx::query_scalar("SELECT id FROM games WHERE player_id = ANY($1)")
        .bind(&players)
        .fetch_all(&mut *conn)
        .await?;

    let messages = sqlx::query(
        "UPDATE messages SET \"to\" = '', body = '', \
             status = CASE WHEN status = 'queued' THEN 'failed'::message_status ELSE status END, \
             error = CASE WHEN status = 'queued' THEN 'purged before it was sent' END \
         WHERE game_id = ANY($1) OR (direction = 'inbound' AND \"to\" = ANY($2))",
    )
    .bind(&games)
    .bind(&numbers)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    sqlx::query("UPDATE games SET player_code = NULL WHERE id = ANY($1)")
        .bind(&games)
        .execute(&mut *conn)
        .await?;

    let souvenirs = sqlx::query(
        "UPDATE games SET souvenir_url = NULL WHERE id = ANY($1) AND souvenir_url IS NOT NULL",
    )
    .bind(&games)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    // Their pages: a code no longer opens anything (its hash goes with it).
    sqlx::query(
        "UPDATE games SET player_code = NULL WHERE id = ANY($1) AND player_code IS NOT NULL",
    )
    .bind(&games)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM short_links WHERE game_id = ANY($1)")
        .bind(&games)
        .execute(&mut *conn)
        .await?;

    // The event log keeps games as every role sees them: no number or
    // email, but the name and the souvenir's URL.
    let events = sqlx::query(
        "UPDATE events SET payload = jsonb_set(jsonb_set(payload, '{player,last_name}', \
             coalesce(to_jsonb(nullif(left(payload #>> '{player,last_name}', 1), '')), 'null'::jsonb)), \
             '{souvenir_url}', 'null'::jsonb) \
         WHERE payload ? 'player' AND (payload ->> 'id') ~ '^[0-9]+$' \
           AND (payload ->> 'id')::bigint = ANY($1)",
    )
    .bind(&games)
    .execute(&mut *conn)
    .await?
    .rows_affected();

    // A kept response (a signup, a game of theirs) holds their name and
    // number; it is only replayed for a day, but purge means now.
    let player_responses = sqlx::query("DELETE FROM idempotency_keys WHERE player_ids && $1")
        .bind(&players)
        .execute(&mut *conn)
        .await?
        .rows_affected();

    let prefixes: Vec<String> = players
        .iter()
        .map(|id| format!("photos/{id}-"))
        .chain(games.iter().map(|id| format!("souvenirs/{id}.")))
        .collect();
    sqlx::query(
        "INSERT INTO purge_objects (prefix) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(&prefixes)
    .execute(&mut *conn)
    .await?;

    Ok(Purged {
        players: players.len() as u64,
        messages,
        souvenirs,
        events,
        idempotency_keys: expired_idempotency_keys(conn).await?,
        player_responses,
    })
}

/// Responses kept for Idempotency-Key replays are only replayed for 24
/// hours; older ones are deleted (they may hold a player's number).
async fn expired_idempotency_keys(conn: &mut PgConnection) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// The prefixes of stored objects still to delete, oldest first.
pub async fn pending_objects(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT prefix FROM purge_objects ORDER BY created_at, prefix")
            .fetch_all(conn)
            .await?,
    )
}

/// Every object under each of `prefixes` is gone.
pub async fn objects_deleted(conn: &mut PgConnection, prefixes: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM purge_objects WHERE prefix = ANY($1)")
        .bind(prefixes)
        .execute(conn)
        .await?;
    Ok(())
}
