//! The store: every SQL query ondeck runs. Query functions take
//! `&mut PgConnection` so they compose inside the caller's transaction.

/// The columns of `Game`, for a query that names `games` as `g`, joined with
/// `game_joins!()`.
macro_rules! game_columns {
    () => {
        "g.id, g.player_id, g.show_id, g.state, g.score, g.distance, g.homeruns, \
         g.created_at, g.updated_at, g.queued_at, g.recalled_at, g.confirmed_at, \
         g.playing_at, g.completed_at, g.cancelled_at, g.souvenir_url, \
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
pub mod messages;
pub mod outbox;
pub mod players;
pub mod purge;
pub mod recall;
pub mod scores;
pub mod sessions;
pub mod shows;
pub mod souvenirs;
pub mod stats;
pub mod teams;
pub mod tokens;
pub mod wake;

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

/// Rows fetched with `LIMIT page.limit + 1`, each with its keyset position:
/// the extra row only says whether another page exists.
pub(crate) fn paginate<T>(mut rows: Vec<(T, (i64, i64))>, page: Page) -> Paged<T> {
    let more = rows.len() as i64 > page.limit;
    rows.truncate(page.limit.max(0) as usize);
    let next = if more {
        rows.last().map(|(_, key)| *key)
    } else {
        None
    };
    Paged {
        items: rows.into_iter().map(|(item, _)| item).collect(),
        next,
    }
}

/// Sort orders shared by the player and game lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Score,
    ScoreDesc,
    #[default]
    CreatedAt,
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

impl std::str::FromStr for Order {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "score" => Ok(Order::Score),
            "-score" => Ok(Order::ScoreDesc),
            "created_at" => Ok(Order::CreatedAt),
            "-created_at" => Ok(Order::CreatedAtDesc),
            _ => Err(()),
        }
    }
}
