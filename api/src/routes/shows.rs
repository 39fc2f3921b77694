//! `/api/v1/shows`: events, each with its text messages and the settings
//! its line runs by. Written by admins.

use axum::response::Response;
use ondeck_domain::ShowId;
use ondeck_domain::models::{Role, Show, ShowInput};
use ondeck_domain::store::shows;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath};
use crate::list::ListParams;
use crate::responses::created;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_show, list_shows))
        .routes(routes!(get_show, update_show))
}

/// Create a show; messages and line settings not given get defaults
/// (`stations`: `STATIONS`).
#[utoipa::path(post, path = "/api/v1/shows", tag = "shows", request_body = ShowInput,
    responses((status = 201, body = Show), (status = 422)))]
async fn create_show(ctx: Ctx, ApiJson(input): ApiJson<ShowInput>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let mut changes = input.validate(true).map_err(ApiError::Invalid)?;
    let stations = ctx.state.config.venue.stations as i32;
    changes.line.stations.get_or_insert(stations);
    let mut conn = ctx.state.db.acquire().await?;
    Ok(created(shows::insert(&mut conn, &changes).await?))
}

/// A show's fields, in the order of the CSV's columns.
pub(crate) const COLUMNS: &[&str] = &[
    "id",
    "name",
    "date",
    "welcome_message",
    "recall_message",
    "souvenir_message",
    "no_show_message",
    "joining",
    "closes_at",
    "max_waiting",
    "paused",
    "stations",
    "self_join",
    "waiver_text",
    "created_at",
    "updated_at",
];

/// Shows, latest date first.
#[utoipa::path(get, path = "/api/v1/shows", tag = "shows", params(ListParams),
    responses((status = 200, description = "`{items: [Show], next_cursor}` or CSV")))]
async fn list_shows(ctx: Ctx, list: ListParams) -> Result<Response> {
    let listing = list.checked()?;
    let paged = shows::list(&mut *ctx.read().await?, listing.page).await?;
    listing.respond(paged, "shows", COLUMNS)
}

#[utoipa::path(get, path = "/api/v1/shows/{id}", tag = "shows", params(("id" = i64, Path)),
    responses((status = 200, body = Show), (status = 404)))]
async fn get_show(ctx: Ctx, ApiPath(id): ApiPath<ShowId>) -> Result<axum::Json<Show>> {
    Ok(axum::Json(shows::get(&mut *ctx.read().await?, id).await?))
}

/// Change a show: its messages and how its line runs. Every change is a
/// `show` event on the stream, so boards and players' pages follow it.
#[utoipa::path(patch, path = "/api/v1/shows/{id}", tag = "shows", params(("id" = i64, Path)), request_body = ShowInput,
    responses((status = 200, body = Show), (status = 404), (status = 422)))]
async fn update_show(
    ctx: Ctx,
    ApiPath(id): ApiPath<ShowId>,
    ApiJson(input): ApiJson<ShowInput>,
) -> Result<axum::Json<Show>> {
    ctx.caller.allow(&[Role::Admin])?;
    let changes = input.validate(false).map_err(ApiError::Invalid)?;
    let mut tx = ctx.state.db.begin().await?;
    let changed = ctx
        .state
        .lifecycle()
        .change_show(&mut tx, id, &changes)
        .await?;
    Ok(axum::Json(changed.commit(tx).await?))
}
