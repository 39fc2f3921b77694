//! The order of the waiting line: games in `queued` by their queue key.
//! Entering `queued` takes the next value of the sequence `games_queue_key`
//! (the back of the line, see `games::transition`); a move ("later", or
//! staff moving a game) puts a game between two others, halfway between
//! their keys (numeric, so there is always room).

use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::{GameId, ShowId};

/// The 1-based place of a queued game in its show's line (0 when it is not
/// queued).
pub async fn position(conn: &mut PgConnection, show_id: ShowId, id: GameId) -> Result<i64> {
    Ok(sqlx::query_scalar(queue_position!())
        .bind(show_id)
        .bind(id)
        .fetch_one(conn)
        .await?)
}

/// Puts queued game `id` right behind the `behind`-th of the other games
/// waiting in its show (at the back when fewer wait), as "later" does: it
/// counts towards the game's `later_count`. The caller holds the show's
/// line lock (`recall::lock_show`), so moves do not interleave.
pub async fn move_behind(
    conn: &mut PgConnection,
    show_id: ShowId,
    id: GameId,
    behind: i64,
) -> Result<()> {
    put(conn, show_id, id, behind.max(1), 1).await
}

/// Puts queued game `id` at `position` (1 = the front; past the back, at
/// the back), as staff move it: not counted as "later". The caller holds
/// the show's line lock.
pub async fn move_to(
    conn: &mut PgConnection,
    show_id: ShowId,
    id: GameId,
    position: i64,
) -> Result<()> {
    put(conn, show_id, id, position.max(1) - 1, 0).await
}

/// The new key is halfway between the keys of the `behind`-th and the next
/// of the other waiting games, one less than the first's at the front, and
/// the sequence's next at the back.
async fn put(
    conn: &mut PgConnection,
    show_id: ShowId,
    id: GameId,
    behind: i64,
    later: i32,
) -> Result<()> {
    sqlx::query(
        "WITH others AS ( \
             SELECT queue_key, row_number() OVER (ORDER BY queue_key, id) AS n FROM games \
             WHERE show_id = $1 AND state = 'queued' AND id <> $2), \
         a AS (SELECT queue_key FROM others WHERE n = $3), \
         b AS (SELECT queue_key FROM others WHERE n = $3 + 1) \
         UPDATE games SET later_count = later_count + $4, queue_key = CASE \
             WHEN (SELECT queue_key FROM b) IS NULL THEN nextval('games_queue_key') \
             WHEN $3 = 0 THEN (SELECT queue_key FROM b) - 1 \
             ELSE ((SELECT queue_key FROM a) + (SELECT queue_key FROM b)) / 2 END \
         WHERE id = $2 AND state = 'queued'",
    )
    .bind(show_id)
    .bind(id)
    .bind(behind)
    .bind(later)
    .execute(conn)
    .await?;
    Ok(())
}
