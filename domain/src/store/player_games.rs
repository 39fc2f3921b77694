//! What a player's page reads: the game its code opens, and where that game
//! stands (place in line, rank of the day). A code is looked up by its
//! SHA-256 (`games.code_hash`), never compared as text, so an unknown code
//! costs the same index probe as a known one.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::{GameId, ShowId};
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

/// How many games wait in the show's line.
pub async fn waiting(conn: &mut PgConnection, show_id: ShowId) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM games WHERE show_id = $1 AND state = 'queued'")
            .bind(show_id)
            .fetch_one(conn)
            .await?,
    )
}

/// The rank of a completed game among the completed games of its show on
/// the same day in `tz`, in the leaderboard's order (score, then distance,
/// then who finished first); `None` when the game is not completed.
pub async fn rank_of_day(conn: &mut PgConnection, id: GameId, tz: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT 1 + count(o.id) FILTER (WHERE o.id IS NOT NULL) FROM games g \
         LEFT JOIN games o ON o.show_id = g.show_id AND o.state = 'completed' AND o.id <> g.id \
              AND (o.completed_at AT TIME ZONE $2)::date = (g.completed_at AT TIME ZONE $2)::date \
              AND (o.score > g.score \
                   OR (o.score = g.score AND o.distance > g.distance) \
                   OR (o.score = g.score AND o.distance = g.distance AND o.completed_at < g.completed_at)) \
         WHERE g.id = $1 AND g.state = 'completed' GROUP BY g.id",
    )
    .bind(id)
    .bind(tz)
    .fetch_optional(conn)
    .await?)
}
