//! The store: every SQL query ondeck runs. Query functions take
//! `&mut PgConnection` so they compose inside the caller's transaction.

/// The columns of `Game`, for a query that names `games` as `g`, joined with
/// `game_joins!()`.
macro_rules! game_columns {
    () => {
        "g.id, g.player_id, g.show_id, g.state, g.score, g.distance, g.homeruns, \
         g.created_at, g.updated_at, g.queued_at, g.recalled_at, g.confirmed_at, \
         g.playing_at, g.completed_at, g.cancelled_at, g.cancel_reason, g.acknowledged_at, \
         g.later_count, g.recall_started_at, g.souvenir_url, g.player_code, \
         p.first_name, p.last_name, p.mobile_number, p.email, t.name AS team "
    };
}

macro_rules! game_joins {
    () => {
        " JOIN players p ON p.id = g.player_id LEFT JOIN teams t ON t.id = p.team_id "
    };
}

pub mod commit;
pub mod cue_runs;
pub mod event_log;
pub mod games;
pub mod idempotency;
pub mod joins;
pub mod messages;
pub mod opt_outs;
pub mod outbox;
pub mod player_games;
pub mod players;
pub mod purge;
pub mod queue_order;
pub mod recall;
pub mod reports;
pub mod scores;
pub mod sessions;
pub mod shows;
pub mod souvenirs;
pub mod stats;
pub mod teams;
pub mod tokens;
pub mod wake;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, Row};
pub use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// Keyset pagination over any ordering: a list query exposes `sort_key`
/// (a bigint: a score, or a timestamp in microseconds) and `id`, both already
/// multiplied by the direction (1 or -1), so one ascending comparison
/// `(sort_key, id) > (cursor)` serves every order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub after: Option<(i64, i64)>,
}

/// One page of rows and the cursor of the next, if there is one.
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: Option<(i64, i64)>,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// A list query's row: the item and its keyset position, the columns
/// `sort_key` and `sort_id` (a list in id order alone selects
/// `0::bigint AS sort_key`).
pub(crate) struct Keyed<T>(T, (i64, i64));

impl<'r, T: FromRow<'r, PgRow>> FromRow<'r, PgRow> for Keyed<T> {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let key = (row.try_get("sort_key")?, row.try_get("sort_id")?);
        Ok(Keyed(T::from_row(row)?, key))
    }
}

/// Runs a list query whose last three parameters are the page: the
/// cursor's two halves and `LIMIT page.limit + 1`, whose extra row only says
/// whether another page exists.
pub(crate) async fn fetch_page<T>(
    conn: &mut PgConnection,
    query: QueryAs<'_, Postgres, Keyed<T>, PgArguments>,
    page: Page,
) -> crate::error::Result<Paged<T>>
where
    T: Send + Unpin + for<'r> FromRow<'r, PgRow>,
{
    let mut rows = query
        .bind(page.after.map(|a| a.0))
        .bind(page.after.map(|a| a.1))
        .bind(page.limit + 1)
        .fetch_all(conn)
        .await?;
    let more = rows.len() as i64 > page.limit;
    rows.truncate(page.limit.max(0) as usize);
    let next = if more {
        rows.last().map(|Keyed(_, key)| *key)
    } else {
        None
    };
    Ok(Paged {
        items: rows.into_iter().map(|Keyed(item, _)| item).collect(),
        next,
    })
}

/// Sort orders shared by the player and game lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum Order {
    #[serde(rename = "score")]
    Score,
    #[serde(rename = "-score")]
    ScoreDesc,
    #[default]
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
}

impl Order {
    pub fn by_score(self) -> bool {
        matches!(self, Order::Score | Order::ScoreDesc)
    }

    pub fn direction(self) -> i64 {
        match self {
            Order::Score | Order::CreatedAt => 1,
            Order::ScoreDesc | Order::CreatedAtDesc => -1,
        }
    }
}

from_str_by_serde_name!(Order);

#[cfg(test)]
mod tests {
    use super::Order;

    #[test]
    fn orders_parse_their_serde_names_and_nothing_else() {
        assert_eq!("-score".parse(), Ok(Order::ScoreDesc));
        assert_eq!("created_at".parse(), Ok(Order::CreatedAt));
        for wrong in ["Score", "score ", "", "ScoreDesc", "\"score\""] {
            assert_eq!(wrong.parse::<Order>(), Err(()), "{wrong:?}");
        }
    }
}
