//! Counts for `/metrics`, read at scrape time: what the queue, the texts and
//! the outbox look like now, whichever process did the work.

use sqlx::PgConnection;

use crate::error::Result;

/// One sample: a family (`games`, `messages`, `outbox`), a label value and
/// a count.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Count {
    pub family: String,
    pub label: String,
    pub n: i64,
}

/// The current show's games by state, every text by status, and the outbox
/// rows not yet relayed (`pending`) or relayed and not finished (`relayed`),
/// in one round trip. Each part reads an index (`games_show_state`,
/// `messages_status`, `outbox_pending`, `outbox_unfinished`); states and
/// statuses with no rows are absent.
pub async fn counts(conn: &mut PgConnection) -> Result<Vec<Count>> {
    Ok(sqlx::query_as::<_, Count>(
        "SELECT 'games' AS family, g.state::text AS label, count(*) AS n FROM games g \
           WHERE g.show_id = (SELECT id FROM shows ORDER BY date DESC, id DESC LIMIT 1) \
           GROUP BY g.state \
         UNION ALL \
         SELECT 'messages', m.status::text, count(*) FROM messages m GROUP BY m.status \
         UNION ALL \
         SELECT 'outbox', 'pending', count(*) FROM outbox WHERE relayed_at IS NULL \
         UNION ALL \
         SELECT 'outbox', 'relayed', count(*) FROM outbox \
           WHERE done_at IS NULL AND relayed_at IS NOT NULL",
    )
    .fetch_all(conn)
    .await?)
}
