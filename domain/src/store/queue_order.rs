//! The order of the waiting line: games in `queued` by their queue key.
//! Entering `queued` takes the next value of the sequence `games_queue_key`
//! (the back of the line, see `games::transition`); a move ("later") puts a
//! game between two others, halfway between their keys (numeric, so there
//! is always room).

use sqlx::PgConnection;

use crate::error::Result;
use crate::ids::{GameId, ShowId};

/// The 1-based place of a queued game in its show's line (0 when it is not
/// queued).
pub async fn position(conn: &mut PgConnection, show_id: ShowId, id: GameId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM games o, games g \
         WHERE g.id = $2 AND g.state = 'queued' AND o.show_id = $1 AND o.state = 'queued' \
           AND (o.queue_key, o.id) <= (g.queue_key, g.id)",
    )
    .bind(show_id)
    .bind(id)
    .fetch_one(conn)
    .await?)
}

/// Puts queued game `id` right behind the `behind`-th of the other games
/// waiting in its show (at the back when fewer wait). The caller holds the
/// show's line lock (`recall::lock_show`), so moves do not interleave.
pub async fn move_behind(
    conn: &mut PgConnection,
    show_id: ShowId,
    id: GameId,
    behind: i64,
) -> Result<()> {
    sqlx::query(
        "WITH others AS ( \
             SELECT queue_key, row_number() OVER (ORDER BY queue_key, id) AS n FROM games \
             WHERE show_id = $1 AND state = 'queued' AND id <> $2), \
         a AS (SELECT queue_key FROM others WHERE n = $3), \
         b AS (SELECT queue_key FROM others WHERE n = $3 + 1) \
         UPDATE games SET later_count = later_count + 1, queue_key = CASE \
             WHEN (SELECT queue_key FROM b) IS NULL THEN nextval('games_queue_key') \
             ELSE ((SELECT queue_key FROM a) + (SELECT queue_key FROM b)) / 2 END \
         WHERE id = $2 AND state = 'queued'",
    )
    .bind(show_id)
    .bind(id)
    .bind(behind.max(1))
    .execute(conn)
    .await?;
    Ok(())
}
