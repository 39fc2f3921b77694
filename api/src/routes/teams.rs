//! `/api/v1/teams`: teams with their members and daily scores. Written by admins.

use axum::response::Response;
use ondeck_domain::TeamId;
use ondeck_domain::models::{Role, Team, TeamInput};
use ondeck_domain::store::{scores, teams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath};
use crate::list::ListParams;
use crate::read_cache::Read;
use crate::responses::created;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team))
}

/// Create a team; names are unique regardless of case.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamInput,
    responses((status = 201, body = Team), (status = 422)))]
async fn create_team(ctx: Ctx, ApiJson(input): ApiJson<TeamInput>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let name = input.validate().map_err(ApiError::Invalid)?;
    let mut conn = ctx.state.db.acquire().await?;
    Ok(created(teams::insert(&mut conn, &name).await?))
}

/// Teams in creation order, each with its daily scores.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", params(ListParams),
    responses((status = 200, description = "`{items: [Team], next_cursor}` or CSV")))]
async fn list_teams(ctx: Ctx, list: ListParams) -> Result<Response> {
    let listing = list.checked()?;
    let mut conn = ctx.read().await?;
    let paged = teams::list(&mut conn, listing.page).await?;
    let ids: Vec<_> = paged.items.iter().map(|t| t.id).collect();
    let tz = ctx.state.config.venue.tz_name();
    let mut days = scores::team_days(&mut conn, &ids, tz).await?;
    let paged = paged.map(|team| Team {
        scores: days.remove(&team.id).unwrap_or_default(),
        ..team
    });
    listing.respond(
        paged,
        "teams",
        &[
            "id",
            "name",
            "members",
            "scores",
            "created_at",
            "updated_at",
        ],
    )
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", params(("id" = i64, Path)),
    responses((status = 200, body = Team), (status = 404)))]
async fn get_team(ctx: Ctx, ApiPath(id): ApiPath<TeamId>) -> Result<Response> {
    ctx.answer(Read::Team(id), || async {
        let mut conn = ctx.read().await?;
        let team = teams::get(&mut conn, id).await?;
        let scores = scores::team_days(&mut conn, &[id], ctx.state.config.venue.tz_name())
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(Team { scores, ..team })
    })
    .await
}
