//! What the venue screens show: the queue with positions and estimated
//! waits, and the leaderboard.

use axum::response::Response;
use chrono::NaiveDate;
use ondeck_domain::lifecycle::refusal;
use ondeck_domain::models::Show;
use ondeck_domain::store::scores::{self, TeamRank};
use ondeck_domain::store::{PgConnection, shows};
use ondeck_domain::validation::FieldErrors;
use ondeck_domain::{GameId, GameState, PlayerId, ShowId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::ApiQuery;
use crate::query::{parse_day, parse_show_id};
use crate::read_cache::Read;
use crate::responses::{GameView, display_name};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_queue))
        .routes(routes!(get_leaderboard))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingGame {
    #[serde(flatten)]
    pub game: GameView,
    /// 1-based place in the queue.
    pub position: i64,
    /// position × median play time of the show's last 20 games ÷ the
    /// show's `stations`; null while the show is paused.
    pub eta_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queue {
    /// The show the queue is of; null when there is no show.
    #[schema(value_type = Option<i64>)]
    pub show_id: Option<ShowId>,
    /// The show is paused: the wait is on hold (no ETAs, no recalls).
    pub paused: bool,
    /// Players may join this show from their phone now (`self_join` is on
    /// and the line takes players): the board shows the join page's QR code.
    pub scan_to_join: bool,
    pub playing: Vec<GameView>,
    pub confirmed: Vec<GameView>,
    pub recalled: Vec<GameView>,
    pub waiting: Vec<WaitingGame>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Default: the current show.
    #[param(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    show_id: Option<String>,
}

/// The show a board asks about: the one named, or the current one.
async fn board_show(conn: &mut PgConnection, raw: Option<ShowId>) -> Result<Option<Show>> {
    Ok(match raw {
        Some(id) => Some(shows::get(conn, id).await?),
        None => shows::current(conn).await?,
    })
}

/// The queue of a show: who is playing, confirmed, recalled, and waiting.
#[utoipa::path(get, path = "/api/v1/queue", tag = "board", params(QueueQuery),
    responses((status = 200, body = Queue), (status = 404, description = "no show has that `show_id`")))]
async fn get_queue(ctx: Ctx, ApiQuery(q): ApiQuery<QueueQuery>) -> Result<Response> {
    let mut errors = FieldErrors::new();
    let show_id = parse_show_id(&mut errors, q.show_id.as_deref());
    errors.into_result().map_err(ApiError::Invalid)?;
    let read = Read::Queue {
        show: show_id,
        pii: ctx.caller.sees_pii(),
    };
    ctx.answer(read, || queue(&ctx, show_id)).await
}

async fn queue(ctx: &Ctx, show_id: Option<ShowId>) -> Result<Queue> {
    let mut conn = ctx.read().await?;
    let mut queue = Queue {
        show_id: None,
        paused: false,
        scan_to_join: false,
        playing: vec![],
        confirmed: vec![],
        recalled: vec![],
        waiting: vec![],
    };
    let Some(show) = board_show(&mut conn, show_id).await? else {
        return Ok(queue);
    };
    queue.show_id = Some(show.id);
    let games = scores::queue(&mut conn, show.id).await?;
    let wait = scores::wait(&mut conn, &show).await?;
    queue.paused = wait.paused;
    queue.scan_to_join = show.self_join && refusal(&mut conn, &show).await?.is_none();
    for game in games {
        let state = game.state;
        let view = ctx.game_view(game);
        match state {
            GameState::Playing => queue.playing.push(view),
            GameState::Confirmed => queue.confirmed.push(view),
            GameState::Recalled => queue.recalled.push(view),
            _ => {
                let position = queue.waiting.len() as i64 + 1;
                let eta_seconds = wait.eta_seconds(position);
                queue.waiting.push(WaitingGame {
                    game: view,
                    position,
                    eta_seconds,
                });
            }
        }
    }
    Ok(queue)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// Default: the current show.
    #[param(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    show_id: Option<String>,
    /// `YYYY-MM-DD` in `VENUE_TZ`; default: every day of the show.
    #[param(schema_with = crate::query::params::day)]
    day: Option<String>,
    /// Rows of each ranking, 1 to 500 (default 10).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlayerRow {
    pub rank: i64,
    pub game_id: GameId,
    pub player_id: PlayerId,
    /// First name and last initial.
    pub name: String,
    pub team: Option<String>,
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
    pub completed_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Leaderboard {
    #[schema(value_type = Option<i64>)]
    pub show_id: Option<ShowId>,
    pub day: Option<chrono::NaiveDate>,
    pub players: Vec<PlayerRow>,
    pub teams: Vec<TeamRank>,
}

/// Completed games by score, then distance, then who finished first; teams by summed score.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "board", params(LeaderboardQuery),
    responses((status = 200, body = Leaderboard), (status = 404, description = "no show has that `show_id`")))]
async fn get_leaderboard(ctx: Ctx, ApiQuery(q): ApiQuery<LeaderboardQuery>) -> Result<Response> {
    let mut errors = FieldErrors::new();
    let show_id = parse_show_id(&mut errors, q.show_id.as_deref());
    let day = parse_day(&mut errors, q.day.as_deref());
    let limit = match q.limit.as_deref().map(str::parse::<i64>) {
        None => 10,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => {
            errors.add("limit", "must be a whole number from 1 to 500");
            10
        }
    };
    errors.into_result().map_err(ApiError::Invalid)?;
    let read = Read::Leaderboard {
        show: show_id,
        day,
        limit,
    };
    ctx.answer(read, || leaderboard(&ctx, show_id, day, limit))
        .await
}

async fn leaderboard(
    ctx: &Ctx,
    show_id: Option<ShowId>,
    day: Option<NaiveDate>,
    limit: i64,
) -> Result<Leaderboard> {
    let mut conn = ctx.read().await?;
    let mut board = Leaderboard {
        show_id: None,
        day,
        players: vec![],
        teams: vec![],
    };
    let Some(show_id) = board_show(&mut conn, show_id).await?.map(|s| s.id) else {
        return Ok(board);
    };
    board.show_id = Some(show_id);
    let tz = ctx.state.config.venue.tz_name();
    board.players = scores::leaderboard_players(&mut conn, show_id, day, tz, limit)
        .await?
        .into_iter()
        .zip(1..)
        .map(|(r, rank)| PlayerRow {
            rank,
            game_id: r.game_id,
            player_id: r.player_id,
            name: display_name(&r.first_name, r.last_name.as_deref()),
            team: r.team,
            score: r.score,
            distance: r.distance,
            homeruns: r.homeruns,
            completed_at: r.completed_at,
        })
        .collect();
    board.teams = scores::leaderboard_teams(&mut conn, show_id, day, tz, limit).await?;
    Ok(board)
}
