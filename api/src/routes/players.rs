//! `/api/v1/players`: signup (a player and their first game, atomically),
//! reads, the filtered list and PATCH.

use axum::response::Response;
use ondeck_domain::PlayerId;
use ondeck_domain::models::{Handedness, PlayerChanges, PlayerInput, Role};
use ondeck_domain::store::games;
use ondeck_domain::store::players::{self, PlayerFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath};
use crate::list::{Filtered, ListParams};
use crate::media_urls::object_urls;
use crate::player_detail::load;
use crate::query::{columns_for, parse_bool, parse_order, parse_state};
use crate::responses::{PlayerView, created};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_player, list_players))
        .routes(routes!(get_player, update_player))
}

/// The changes a tablet (or an admin) sends, checked: `is_finalist` is the
/// admin's alone.
fn checked(ctx: &Ctx, input: PlayerInput, creating: bool) -> Result<PlayerChanges> {
    let caller = ctx.caller.allow(&[Role::Tablet])?;
    if input.is_finalist.is_some() && caller.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "only an admin token may set is_finalist".into(),
        ));
    }
    input
        .validate(ctx.state.config.venue.default_region, creating)
        .map_err(ApiError::Invalid)
}

/// Sign a player up: creates the player and a `new` game in the show
/// (default: the current show) in one transaction, and queues a welcome text
/// when there is a mobile number.
#[utoipa::path(post, path = "/api/v1/players", tag = "players", request_body = PlayerInput,
    responses((status = 201, body = PlayerView), (status = 409, description = "no show exists yet"),
              (status = 422, description = "a field is not valid")))]
#[tracing::instrument(skip_all)]
async fn create_player(ctx: Ctx, ApiJson(input): ApiJson<PlayerInput>) -> Result<Response> {
    let changes = checked(&ctx, input, true)?;
    let (state, caller) = (&ctx.state, ctx.caller);
    let mut tx = state.db.begin().await?;
    let signed_up = state.lifecycle().sign_up(&mut tx, &changes).await?;
    let (player_id, game_id) = (signed_up.value().player_id, signed_up.value().game.id);
    let view = load(&mut tx, state, player_id, caller).await?;
    signed_up.commit(tx).await?;
    tracing::info!(player_id = %player_id, game_id = %game_id, "player signed up");
    Ok(created(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlayerListQuery {
    /// The state of the player's active game.
    #[param(schema_with = crate::query::params::game_state)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    state: Option<String>,
    /// A team's name.
    team: Option<String>,
    /// `L` or `R`.
    #[param(schema_with = crate::query::params::handedness)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    handedness: Option<String>,
    #[param(value_type = Option<bool>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    signed_waiver: Option<String>,
    #[param(value_type = Option<bool>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    is_finalist: Option<String>,
    /// Part of a name, or at least three digits of a mobile number (PII roles).
    q: Option<String>,
    /// `score`, `-score`, `created_at` (default) or `-created_at`.
    #[param(schema_with = crate::query::params::order)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    order: Option<String>,
}

const PLAYER_COLUMNS: &[&str] = &[
    "id",
    "show_id",
    "first_name",
    "last_name",
    "mobile_number",
    "email",
    "sms_opted_out",
    "handedness",
    "signed_waiver",
    "team",
    "profile_id",
    "is_finalist",
    "photo_url",
    "total_score",
    "active_game",
    "created_at",
    "updated_at",
];

/// List players, filtered and ordered; JSON or CSV.
#[utoipa::path(get, path = "/api/v1/players", tag = "players", params(PlayerListQuery, ListParams),
    responses((status = 200, description = "`{items: [Player], next_cursor}` or CSV")))]
async fn list_players(ctx: Ctx, list: Filtered<PlayerListQuery>) -> Result<Response> {
    let (state, caller) = (&ctx.state, ctx.caller);
    let (listing, filter) = list.check(|q, errors| {
        let handedness = q.handedness.as_deref().and_then(|h| match h {
            "L" => Some(Handedness::L),
            "R" => Some(Handedness::R),
            _ => {
                errors.add("handedness", "must be L or R");
                None
            }
        });
        PlayerFilter {
            state: q.state.as_deref().and_then(|s| parse_state(errors, s)),
            team: q.team.filter(|t| !t.is_empty()),
            handedness,
            signed_waiver: parse_bool(errors, "signed_waiver", q.signed_waiver.as_deref()),
            is_finalist: parse_bool(errors, "is_finalist", q.is_finalist.as_deref()),
            // Searching by phone digits would let a PII-blind role probe numbers.
            search: q
                .q
                .filter(|s| caller.sees_pii() || !s.chars().any(|c| c.is_ascii_digit())),
            order: parse_order(errors, q.order.as_deref()),
        }
    })?;
    let mut conn = ctx.read().await?;
    let paged = players::list(&mut conn, &filter, listing.page).await?;
    let active_ids: Vec<_> = paged
        .items
        .iter()
        .filter_map(|p| p.active_game_id)
        .collect();
    let mut active: std::collections::HashMap<_, _> = games::get_many(&mut conn, &active_ids)
        .await?
        .into_iter()
        .map(|g| (g.id, ctx.game_view(g)))
        .collect();
    let photo_keys = paged.items.iter().map(|p| p.photo_key.as_deref());
    let mut photo_urls = object_urls(state, photo_keys).await?.into_iter();
    let views = paged.map(|p| {
        let game = p.active_game_id.and_then(|id| active.remove(&id));
        let photo_url = photo_urls.next().flatten();
        PlayerView::new(p, game, None, caller.sees_pii(), photo_url)
    });
    listing.respond(views, "players", &columns_for(PLAYER_COLUMNS, caller))
}

/// One player with every game.
#[utoipa::path(get, path = "/api/v1/players/{id}", tag = "players", params(("id" = i64, Path)),
    responses((status = 200, body = PlayerView), (status = 404)))]
async fn get_player(ctx: Ctx, ApiPath(id): ApiPath<PlayerId>) -> Result<axum::Json<PlayerView>> {
    let mut conn = ctx.read().await?;
    Ok(axum::Json(
        load(&mut conn, &ctx.state, id, ctx.caller).await?,
    ))
}

/// Change a player: absent fields stay, `null` clears optional ones.
#[utoipa::path(patch, path = "/api/v1/players/{id}", tag = "players", params(("id" = i64, Path)),
    request_body = PlayerInput, responses((status = 200, body = PlayerView), (status = 404), (status = 422)))]
#[tracing::instrument(skip_all, fields(player_id = %id))]
async fn update_player(
    ctx: Ctx,
    ApiPath(id): ApiPath<PlayerId>,
    ApiJson(input): ApiJson<PlayerInput>,
) -> Result<axum::Json<PlayerView>> {
    let changes = checked(&ctx, input, false)?;
    let mut tx = ctx.state.db.begin().await?;
    players::update(&mut tx, id, &changes).await?;
    let view = load(&mut tx, &ctx.state, id, ctx.caller).await?;
    ondeck_domain::store::commit::commit(tx).await?;
    Ok(axum::Json(view))
}
