//! Games: creation, reads, lists and the guarded state transition.

use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::error::{DomainError, Result, ResultExt};
use crate::game_state::{CancelReason, GameState, IllegalTransition, Transition};
use crate::ids::{GameId, PlayerId, ShowId};
use crate::models::{Completion, Game};
use crate::store::{Order, Page, Paged, fetch_page};

/// A game after a transition, with the state it left.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Transitioned {
    #[sqlx(flatten)]
    pub game: Game,
    pub previous_state: GameState,
}

/// Moves a game along `transition` in one conditional write: the row is
/// changed only if its state is one of the transition's sources, so of any
/// number of racing requests exactly one wins. A refused transition changes
/// nothing and reports the state the game is in.
#[tracing::instrument(skip_all, fields(game_id = %id, transition = %transition))]
pub async fn transition(
    conn: &mut PgConnection,
    id: GameId,
    transition: Transition,
    completion: Option<Completion>,
    reason: Option<CancelReason>,
) -> Result<Transitioned> {
    let target = transition.target();
    let row = sqlx::query_as::<_, Transitioned>(concat!(
        "WITH old AS (SELECT id, state FROM games WHERE id = $1 FOR UPDATE), \
         g AS (UPDATE games SET state = $2, \
             queued_at    = coalesce(games.queued_at,    CASE WHEN $2 = 'queued'::game_state    THEN now() END), \
             recalled_at  = coalesce(games.recalled_at,  CASE WHEN $2 = 'recalled'::game_state  THEN now() END), \
             confirmed_at = coalesce(games.confirmed_at, CASE WHEN $2 = 'confirmed'::game_state THEN now() END), \
             playing_at   = coalesce(games.playing_at,   CASE WHEN $2 = 'playing'::game_state   THEN now() END), \
             completed_at = coalesce(games.completed_at, CASE WHEN $2 = 'completed'::game_state THEN now() END), \
             cancelled_at = coalesce(games.cancelled_at, CASE WHEN $2 = 'cancelled'::game_state THEN now() END), \
             queue_key = CASE WHEN $2 = 'queued'::game_state THEN nextval('games_queue_key') ELSE games.queue_key END, \
             recall_started_at = CASE WHEN $2 = 'recalled'::game_state THEN now() ELSE games.recall_started_at END, \
             acknowledged_at = CASE WHEN $2 = 'recalled'::game_state THEN NULL ELSE games.acknowledged_at END, \
             cancel_reason = CASE WHEN $2 = 'cancelled'::game_state THEN coalesce($7, 'staff') ELSE games.cancel_reason END, \
             score    = coalesce($4, games.score), \
             distance = coalesce($5, games.distance), \
             homeruns = coalesce($6, games.homeruns) \
           FROM old WHERE games.id = old.id AND old.state = ANY($3) \
           RETURNING games.*, old.state AS previous_state) \
         SELECT ",
        game_columns!(),
        ", g.previous_state FROM g",
        game_joins!()
    ))
    .bind(id)
    .bind(target)
    .bind(transition.sources())
    .bind(completion.map(|c| c.score))
    .bind(completion.map(|c| c.distance))
    .bind(completion.map(|c| c.homeruns))
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return Ok(row);
    }
    let current = current_state(conn, id).await?;
    Err(IllegalTransition {
        current,
        transition,
    }
    .into())
}

/// Keeps the wait quoted to queued game `id` as it entered the line (the
/// first quote only: a game that leaves the line and comes back keeps it).
pub async fn set_quoted_wait(conn: &mut PgConnection, id: GameId, seconds: i64) -> Result<()> {
    sqlx::query("UPDATE games SET quoted_wait_s = $2 WHERE id = $1 AND quoted_wait_s IS NULL")
        .bind(id)
        .bind(i32::try_from(seconds).unwrap_or(i32::MAX))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn current_state(conn: &mut PgConnection, id: GameId) -> Result<GameState> {
    sqlx::query_scalar("SELECT state FROM games WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::NotFound("game"))
}

/// Starts a new game for a player. The partial unique index
/// `games_one_open_per_player` refuses a second open game even under races.
#[tracing::instrument(skip_all, fields(player_id = %player_id))]
pub async fn create(
    conn: &mut PgConnection,
    player_id: PlayerId,
    show_id: ShowId,
) -> Result<GameId> {
    sqlx::query_scalar("INSERT INTO games (player_id, show_id) VALUES ($1, $2) RETURNING id")
        .bind(player_id)
        .bind(show_id)
        .fetch_one(conn)
        .await
        .on_constraint("games_one_open_per_player", || {
            DomainError::Conflict(
                "the player already has a game that is not completed or cancelled".into(),
            )
        })
}

pub async fn get(conn: &mut PgConnection, id: GameId) -> Result<Game> {
    sqlx::query_as::<_, Game>(concat!(
        "SELECT ",
        game_columns!(),
        " FROM games g",
        game_joins!(),
        "WHERE g.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("game"))
}

/// Reads a game and locks its row until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: GameId) -> Result<Game> {
    sqlx::query_as::<_, Game>(concat!(
        "SELECT ",
        game_columns!(),
        " FROM games g",
        game_joins!(),
        "WHERE g.id = $1 FOR UPDATE OF g"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound("game"))
}

/// "On my way": the first answer to the current recall counts.
pub async fn acknowledge(conn: &mut PgConnection, id: GameId) -> Result<Game> {
    sqlx::query(
        "UPDATE games SET acknowledged_at = coalesce(acknowledged_at, now()) \
         WHERE id = $1 AND state = 'recalled'",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

/// Games still recalled `minutes` after their last recall (twice that
/// after "On my way"), locked, passing over games someone else is changing
/// (the next sweep sees them). A paused show has no no-shows: its players
/// were told the wait is on hold; once it resumes, the time counts from
/// the resumption for those recalled before it.
pub async fn no_shows(conn: &mut PgConnection, minutes: i64) -> Result<Vec<GameId>> {
    Ok(sqlx::query_scalar(
        "SELECT g.id FROM games g JOIN shows s ON s.id = g.show_id \
         WHERE g.state = 'recalled' AND NOT s.paused \
           AND greatest(g.recall_started_at, s.resumed_at) < clock_timestamp() - make_interval(mins => \
               (CASE WHEN g.acknowledged_at IS NULL THEN $1 ELSE 2 * $1 END)::int) \
         ORDER BY g.recall_started_at, g.id LIMIT 500 FOR UPDATE OF g SKIP LOCKED",
    )
    .bind(minutes)
    .fetch_all(conn)
    .await?)
}

pub async fn get_many(conn: &mut PgConnection, ids: &[GameId]) -> Result<Vec<Game>> {
    Ok(sqlx::query_as::<_, Game>(concat!(
        "SELECT ",
        game_columns!(),
        " FROM games g",
        game_joins!(),
        "WHERE g.id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Every game of one player, oldest first.
pub async fn of_player(conn: &mut PgConnection, player_id: PlayerId) -> Result<Vec<Game>> {
    Ok(sqlx::query_as::<_, Game>(concat!(
        "SELECT ",
        game_columns!(),
        " FROM games g",
        game_joins!(),
        "WHERE g.player_id = $1 ORDER BY g.id"
    ))
    .bind(player_id)
    .fetch_all(conn)
    .await?)
}

/// The game a player is on now: their latest.
pub async fn active_of(
    conn: &mut PgConnection,
    player_id: PlayerId,
) -> Result<Option<(GameId, GameState)>> {
    Ok(
        sqlx::query_as("SELECT id, state FROM games WHERE player_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(player_id)
            .fetch_optional(conn)
            .await?,
    )
}

/// The newest game, neither completed nor cancelled, of a player with the
/// mobile number `number` (E.164), with its show's name: the game a text
/// from that number is about.
pub async fn open_of_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<(GameId, String)>> {
    Ok(sqlx::query_as(
        "SELECT g.id, s.name FROM games g JOIN players p ON p.id = g.player_id \
         JOIN shows s ON s.id = g.show_id \
         WHERE p.mobile_number = $1 AND g.state NOT IN ('completed', 'cancelled') \
         ORDER BY g.id DESC LIMIT 1",
    )
    .bind(number)
    .fetch_optional(conn)
    .await?)
}

#[derive(Debug, Default, Clone)]
pub struct GameFilter {
    pub states: Vec<GameState>,
    pub team: Option<String>,
    pub show_id: Option<ShowId>,
    /// A day in the venue's time zone, matched against `created_at`.
    pub day: Option<NaiveDate>,
    pub order: Order,
}

pub async fn list(
    conn: &mut PgConnection,
    filter: &GameFilter,
    tz: &str,
    page: Page,
) -> Result<Paged<Game>> {
    let query = sqlx::query_as(concat!(
        "SELECT * FROM (SELECT ",
        game_columns!(),
        ", $7::bigint * CASE WHEN $6 THEN coalesce(g.score, -1)::bigint \
                          ELSE (extract(epoch FROM g.created_at) * 1000000)::bigint END AS sort_key, \
           $7::bigint * g.id AS sort_id \
         FROM games g",
        game_joins!(),
        "WHERE (cardinality($1::game_state[]) = 0 OR g.state = ANY($1)) \
           AND ($2::text IS NULL OR lower(t.name) = lower($2)) \
           AND ($3::bigint IS NULL OR g.show_id = $3) \
           AND ($4::date IS NULL OR (g.created_at AT TIME ZONE $5)::date = $4)) q \
         WHERE ($8::bigint IS NULL OR (sort_key, sort_id) > ($8, $9)) \
         ORDER BY sort_key, sort_id LIMIT $10"
    ))
    .bind(&filter.states)
    .bind(filter.team.as_deref())
    .bind(filter.show_id)
    .bind(filter.day)
    .bind(tz)
    .bind(filter.order.by_score())
    .bind(filter.order.direction());
    fetch_page(conn, query, page).await
}
