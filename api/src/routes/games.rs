//! `/api/v1/games`: start a game, read and list games, and the six
//! transitions of the lifecycle.

use axum::response::Response;
use ondeck_domain::game_state::CancelReason;
use ondeck_domain::lifecycle::GameChange;
use ondeck_domain::models::{CompletionInput, Role};
use ondeck_domain::store::games::{self, GameFilter};
use ondeck_domain::{Actor, GameId, PlayerId, ShowId, Transition};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::list::{Filtered, ListParams};
use crate::query::{columns_for, parse_day, parse_order, parse_show_id, parse_state};
use crate::read_cache::Read;
use crate::responses::{GameView, created};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_game, list_games))
        .routes(routes!(get_game))
        .routes(routes!(queue))
        .routes(routes!(recall))
        .routes(routes!(confirm))
        .routes(routes!(play))
        .routes(routes!(complete))
        .routes(routes!(cancel))
        .routes(routes!(move_game))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameInput {
    #[schema(value_type = i64)]
    player_id: Option<PlayerId>,
    /// Default: the current show.
    #[schema(value_type = Option<i64>)]
    show_id: Option<ShowId>,
}

/// Start another game for a player whose active game is completed or cancelled.
#[utoipa::path(post, path = "/api/v1/games", tag = "games", request_body = GameInput,
    responses((status = 201, body = GameView), (status = 409, description = "the player's active game is not over"),
              (status = 422)))]
#[tracing::instrument(skip_all)]
async fn create_game(ctx: Ctx, ApiJson(input): ApiJson<GameInput>) -> Result<Response> {
    ctx.caller.allow(&[Role::Tablet])?;
    let player_id = input
        .player_id
        .ok_or_else(|| ApiError::invalid("player_id", "is required"))?;
    let mut tx = ctx.state.db.begin().await?;
    let started = ctx
        .state
        .lifecycle()
        .start_game(&mut tx, player_id, input.show_id)
        .await?;
    let game = started.commit(tx).await?;
    Ok(created(ctx.game_view(game)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GameListQuery {
    /// Repeatable: `?state=queued&state=recalled`.
    #[serde(default)]
    #[param(schema_with = crate::query::params::game_states)]
    state: Vec<String>,
    /// A team's name.
    team: Option<String>,
    #[param(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    show_id: Option<String>,
    /// `YYYY-MM-DD` in `VENUE_TZ`: games created that day.
    #[param(schema_with = crate::query::params::day)]
    day: Option<String>,
    /// `score`, `-score`, `created_at` (default) or `-created_at`.
    #[param(schema_with = crate::query::params::order)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    order: Option<String>,
}

const GAME_COLUMNS: &[&str] = &[
    "id",
    "player_id",
    "show_id",
    "state",
    "score",
    "distance",
    "homeruns",
    "created_at",
    "updated_at",
    "queued_at",
    "recalled_at",
    "confirmed_at",
    "playing_at",
    "completed_at",
    "cancelled_at",
    "cancel_reason",
    "acknowledged_at",
    "later_count",
    "recall_expires_at",
    "souvenir_url",
    "player.id",
    "player.first_name",
    "player.last_name",
    "player.team",
    "player.mobile_number",
    "player.email",
];

/// List games, filtered and ordered; JSON or CSV.
#[utoipa::path(get, path = "/api/v1/games", tag = "games", params(GameListQuery, ListParams),
    responses((status = 200, description = "`{items: [Game], next_cursor}` or CSV")))]
async fn list_games(ctx: Ctx, list: Filtered<GameListQuery>) -> Result<Response> {
    let (listing, filter) = list.check(|q, errors| GameFilter {
        states: q
            .state
            .iter()
            .filter_map(|s| parse_state(errors, s))
            .collect(),
        team: q.team.filter(|t| !t.is_empty()),
        show_id: parse_show_id(errors, q.show_id.as_deref()),
        day: parse_day(errors, q.day.as_deref()),
        order: parse_order(errors, q.order.as_deref()),
    })?;
    let tz = ctx.state.config.venue.tz_name();
    let paged = games::list(&mut *ctx.read().await?, &filter, tz, listing.page).await?;
    let columns = columns_for(GAME_COLUMNS, ctx.caller);
    listing.respond(paged.map(|g| ctx.game_view(g)), "games", &columns)
}

#[utoipa::path(get, path = "/api/v1/games/{id}", tag = "games", params(("id" = i64, Path)),
    responses((status = 200, body = GameView), (status = 404)))]
async fn get_game(ctx: Ctx, ApiPath(id): ApiPath<GameId>) -> Result<Response> {
    let read = Read::Game {
        id,
        pii: ctx.caller.sees_pii(),
    };
    ctx.answer(read, || async {
        let game = games::get(&mut *ctx.read().await?, id).await?;
        Ok(ctx.game_view(game))
    })
    .await
}

/// Makes a change in one transaction with everything it implies (see
/// `ondeck_domain::lifecycle`).
async fn transition(ctx: Ctx, change: GameChange) -> Result<axum::Json<GameView>> {
    let mut tx = ctx.state.db.begin().await?;
    let changed = ctx.state.lifecycle().apply(&mut tx, change).await?;
    let game = changed.commit(tx).await?.game.game;
    Ok(axum::Json(ctx.game_view(game)))
}

/// Declares a body-less transition endpoint.
macro_rules! transition_endpoint {
    ($name:ident, $variant:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = concat!("/api/v1/games/{id}/", stringify!($name)), tag = "transitions",
            params(("id" = i64, Path)),
            responses((status = 200, body = GameView), (status = 404),
                      (status = 409, description = "not allowed from the game's state; the problem carries `current_state` and `transition`")))]
        async fn $name(ctx: Ctx, ApiPath(id): ApiPath<GameId>) -> Result<axum::Json<GameView>> {
            let change = GameChange::new(Actor::Staff(ctx.caller.role), id, Transition::$variant)?;
            transition(ctx, change).await
        }
    };
}

transition_endpoint!(queue, Queue, "Put a new or recalled game in the queue.");
transition_endpoint!(
    recall,
    Recall,
    "Text a queued player to come back (if they have a mobile number)."
);
transition_endpoint!(
    confirm,
    Confirm,
    "The player is here; a player without a team joins the smallest one."
);
transition_endpoint!(play, Play, "The game starts.");
/// The optional body of a cancel.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// Why (default `staff`).
    reason: Option<CancelReason>,
}

/// Cancel a game in any state but cancelled; a completed game leaves the
/// scores. The optional body says why (`{"reason": "staff"}` by default).
#[utoipa::path(post, path = "/api/v1/games/{id}/cancel", tag = "transitions",
    params(("id" = i64, Path)),
    request_body(content = Option<CancelInput>, description = "optional: why the game is cancelled"),
    responses((status = 200, body = GameView), (status = 404),
              (status = 409, description = "not allowed from the game's state; the problem carries `current_state` and `transition`"),
              (status = 422)))]
async fn cancel(
    ctx: Ctx,
    ApiPath(id): ApiPath<GameId>,
    OptionalJson(input): OptionalJson<CancelInput>,
) -> Result<axum::Json<GameView>> {
    let reason = input.and_then(|i| i.reason).unwrap_or(CancelReason::Staff);
    let change = GameChange::cancel(Actor::Staff(ctx.caller.role), id, reason)?;
    transition(ctx, change).await
}

/// The game ends with its result; its souvenir is rendered and texted.
#[utoipa::path(post, path = "/api/v1/games/{id}/complete", tag = "transitions", params(("id" = i64, Path)),
    request_body = CompletionInput,
    responses((status = 200, body = GameView), (status = 404), (status = 409), (status = 422)))]
async fn complete(
    ctx: Ctx,
    ApiPath(id): ApiPath<GameId>,
    ApiJson(input): ApiJson<CompletionInput>,
) -> Result<axum::Json<GameView>> {
    let change = GameChange::complete(Actor::Staff(ctx.caller.role), id, input)?;
    transition(ctx, change).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// The place in the queue, 1 = the front; past the back, the game goes
    /// to the back.
    #[schema(value_type = i64, minimum = 1)]
    position: Option<i64>,
}

/// Move a waiting (queued) game to a place in the queue. Moves of one
/// show's queue take turns, so positions stay 1..N however many come at once.
#[utoipa::path(post, path = "/api/v1/games/{id}/move", tag = "games", params(("id" = i64, Path)),
    request_body = MoveInput,
    responses((status = 200, body = GameView), (status = 404),
              (status = 409, description = "the game is not queued"), (status = 422)))]
async fn move_game(
    ctx: Ctx,
    ApiPath(id): ApiPath<GameId>,
    ApiJson(input): ApiJson<MoveInput>,
) -> Result<axum::Json<GameView>> {
    ctx.caller.allow(&[Role::Tablet])?;
    let position = input
        .position
        .ok_or_else(|| ApiError::invalid("position", "is required"))?;
    let mut tx = ctx.state.db.begin().await?;
    let moved = ctx
        .state
        .lifecycle()
        .move_in_line(&mut tx, id, position)
        .await?;
    let game = moved.commit(tx).await?;
    Ok(axum::Json(ctx.game_view(game)))
}
