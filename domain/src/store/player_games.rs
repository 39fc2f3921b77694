//! What a player's page reads: the game its code opens, and every game of
//! a show's line with where it stands (place in line, rank of the day). A code is looked up by its
//! SHA-256 (`games.code_hash`), never compared as text, so an unknown code
//! costs the same index probe as a known one.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::ShowId;
use crate::models::Game;

/// How long a page keeps working after its game completed or was cancelled.
pub const CODE_HOURS_AFTER_END: i64 = 24;

/// The game of `code` and the name of its show, or `None` when no game has
/// that code or its page has expired (24 h after its end).
pub async fn by_code(conn: &mut PgConnection, code: &str) -> Result<Option<(Game, String)>> {
    let hash = Sha256::digest(code.as_bytes()).to_vec();
    let row: Option<GameWithShow> = sqlx::query_as(concat!(
        "SELECT ",
        game_columns!(),
        ", s.name AS show_name FROM games g",
        game_joins!(),
        " JOIN shows s ON s.id = g.show_id \
         WHERE g.code_hash = $1 \
           AND (least(g.completed_at, g.cancelled_at) IS NULL \
                OR least(g.completed_at, g.cancelled_at) > now() - make_interval(hours => $2::int))"
    ))
    .bind(hash)
    .bind(CODE_HOURS_AFTER_END as i32)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.game, r.show_name)))
}

#[derive(sqlx::FromRow)]
struct GameWithShow {
    #[sqlx(flatten)]
    game: Game,
    show_name: String,
}

/// A game of a show's line as its player's page shows it: the game, its
/// show's name, its place in line while queued and its rank of the day
/// once completed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineGame {
    #[sqlx(flatten)]
    pub game: Game,
    pub show_name: String,
    /// SHA-256 of the game's player code.
    pub code_hash: Vec<u8>,
    /// While queued: the 1-based place in line, by queue key.
    pub position: Option<i64>,
    /// While completed: the rank of its score among the completed games of
    /// its show on the same day in the venue's time zone, in the
    /// leaderboard's order (score, then distance, then who finished first).
    pub rank: Option<i64>,
    /// How many games wait in the show's line.
    pub waiting: i64,
    /// The show's `joining` is open ("Join again" is offered only then).
    pub joining_open: bool,
}

/// Every game of show `show_id` whose page works now (it has a code that
/// has not expired), with its place in line and its rank of the day in
/// `tz`: everything a page of the show shows, in one statement.
pub async fn line(conn: &mut PgConnection, show_id: ShowId, tz: &str) -> Result<Vec<LineGame>> {
    // Ranks are over the days of the games whose pages still work: those
    // days began at most 24 h before the oldest of them ended, plus a
    // daylight-saving hour.
    Ok(sqlx::query_as(concat!(
        "WITH line AS ( \
             SELECT id, row_number() OVER (ORDER BY queue_key, id) AS position FROM games \
             WHERE show_id = $1 AND state = 'queued'), \
         ranked AS ( \
             SELECT id, rank() OVER (PARTITION BY (completed_at AT TIME ZONE $2)::date \
                                     ORDER BY score DESC, distance DESC, completed_at) AS rank \
             FROM games WHERE show_id = $1 AND state = 'completed' \
               AND completed_at > now() - make_interval(hours => 2 * $3 + 1)) \
         SELECT ",
        game_columns!(),
        ", s.name AS show_name, g.code_hash, line.position, ranked.rank, \
           (SELECT count(*) FROM line) AS waiting, s.joining = 'open' AS joining_open FROM games g",
        game_joins!(),
        " JOIN shows s ON s.id = g.show_id \
         LEFT JOIN line ON line.id = g.id LEFT JOIN ranked ON ranked.id = g.id \
         WHERE g.show_id = $1 AND g.code_hash IS NOT NULL \
           AND (least(g.completed_at, g.cancelled_at) IS NULL \
                OR least(g.completed_at, g.cancelled_at) > now() - make_interval(hours => $3))"
    ))
    .bind(show_id)
    .bind(tz)
    .bind(CODE_HOURS_AFTER_END as i32)
    .fetch_all(conn)
    .await?)
}
