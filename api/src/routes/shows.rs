//! `/api/v1/shows`: events, each with its text messages. Written by admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ondeck_domain::ShowId;
use ondeck_domain::models::{Role, Show, ShowInput};
use ondeck_domain::store::shows;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::extract::{ApiJson, ApiPath};
use crate::list::ListParams;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_show, list_shows))
        .routes(routes!(get_show, update_show))
}

/// Create a show; messages not given get defaults.
#[utoipa::path(post, path = "/api/v1/shows", tag = "shows", request_body = ShowInput,
    responses((status = 201, body = Show), (status = 422)))]
async fn create_show(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ShowInput>,
) -> Result<Response> {
    caller.allow(&[Role::Admin])?;
    let changes = input.validate(true).map_err(ApiError::Invalid)?;
    let mut conn = state.db.acquire().await?;
    let show = shows::insert(&mut conn, &changes).await?;
    Ok((StatusCode::CREATED, axum::Json(show)).into_response())
}

/// Shows, latest date first.
#[utoipa::path(get, path = "/api/v1/shows", tag = "shows", params(ListParams),
    responses((status = 200, description = "`{items: [Show], next_cursor}` or CSV")))]
async fn list_shows(
    State(state): State<AppState>,
    caller: Caller,
    list: ListParams,
) -> Result<Response> {
    let listing = list.checked()?;
    let mut conn = state.reads.acquire(Some(caller)).await?;
    let paged = shows::list(&mut conn, listing.page).await?;
    listing.respond(
        paged,
        "shows",
        &[
            "id",
            "name",
            "date",
            "welcome_message",
            "recall_message",
            "souvenir_message",
            "created_at",
            "updated_at",
        ],
    )
}

#[utoipa::path(get, path = "/api/v1/shows/{id}", tag = "shows", params(("id" = i64, Path)),
    responses((status = 200, body = Show), (status = 404)))]
async fn get_show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ShowId>,
) -> Result<axum::Json<Show>> {
    let mut conn = state.reads.acquire(Some(caller)).await?;
    Ok(axum::Json(shows::get(&mut conn, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/shows/{id}", tag = "shows", params(("id" = i64, Path)), request_body = ShowInput,
    responses((status = 200, body = Show), (status = 404), (status = 422)))]
async fn update_show(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<ShowId>,
    ApiJson(input): ApiJson<ShowInput>,
) -> Result<axum::Json<Show>> {
    caller.allow(&[Role::Admin])?;
    let changes = input.validate(false).map_err(ApiError::Invalid)?;
    let mut conn = state.db.acquire().await?;
    Ok(axum::Json(shows::update(&mut conn, id, &changes).await?))
}
