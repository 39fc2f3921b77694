//! `/api/v1/teams`: teams with their members and daily scores. Written by admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ondeck_domain::TeamId;
use ondeck_domain::models::{Role, Team, TeamInput};
use ondeck_domain::store::{scores, teams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath};
use crate::list::ListParams;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team))
}

/// Create a team; names are unique regardless of case.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", request_body = TeamInput,
    responses((status = 201, body = Team), (status = 422)))]
async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TeamInput>,
) -> Result<Response> {
    caller.allow(&[Role::Admin])?;
    let name = input.validate().map_err(ApiError::Invalid)?;
    let mut conn = state.db.acquire().await?;
    let team = teams::insert(&mut conn, &name).await?;
    Ok((StatusCode::CREATED, axum::Json(team)).into_response())
}

/// Teams in creation order, each with its daily scores.
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", params(ListParams),
    responses((status = 200, description = "`{items: [Team], next_cursor}` or CSV")))]
async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
    list: ListParams,
) -> Result<Response> {
    let listing = list.checked()?;
    let mut conn = state.reads.acquire(Some(caller)).await?;
    let paged = teams::list(&mut conn, listing.page).await?;
    let ids: Vec<_> = paged.items.iter().map(|t| t.id).collect();
    let mut days = scores::team_days(&mut conn, &ids, state.config.venue.tz_name()).await?;
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
async fn get_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<TeamId>,
) -> Result<axum::Json<Team>> {
    let mut conn = state.reads.acquire(Some(caller)).await?;
    let team = teams::get(&mut conn, id).await?;
    let scores = scores::team_days(&mut conn, &[id], state.config.venue.tz_name())
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(axum::Json(Team { scores, ..team }))
}
