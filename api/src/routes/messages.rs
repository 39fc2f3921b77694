//! `/api/v1/messages`: every text ondeck sent or tried to send (admin only).

use axum::extract::State;
use axum::response::Response;
use ondeck_domain::models::Role;
use ondeck_domain::store::messages::{self, MessageFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::error::{ApiError, Result};
use crate::extract::ApiQuery;
use crate::list::ListParams;
use crate::query::parse;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_messages))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// `queued`, `sent`, `failed` or `delivered`.
    #[param(schema_with = status_param)]
    status: Option<String>,
    /// `welcome`, `recall` or `souvenir`.
    #[param(schema_with = kind_param)]
    kind: Option<String>,
    #[param(value_type = Option<i64>)]
    game_id: Option<String>,
}

/// Texts, newest first, with their status, attempts and provider id.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(MessageListQuery, ListParams),
    responses((status = 200, description = "`{items: [Message], next_cursor}` or CSV")))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MessageListQuery>,
    list: ListParams,
) -> Result<Response> {
    caller.allow(&[Role::Admin])?;
    let (listing, mut errors) = list.into_parts();
    let filter = MessageFilter {
        status: parse(
            &mut errors,
            "status",
            q.status.as_deref(),
            "queued, sent, failed or delivered",
        ),
        kind: parse(
            &mut errors,
            "kind",
            q.kind.as_deref(),
            "welcome, recall or souvenir",
        ),
        game_id: parse(&mut errors, "game_id", q.game_id.as_deref(), "a game's id"),
    };
    errors.into_result().map_err(ApiError::Invalid)?;
    let mut conn = state.reads.acquire(Some(caller)).await?;
    let paged = messages::list(&mut conn, &filter, listing.page).await?;
    listing.respond(
        paged,
        "messages",
        &[
            "id",
            "game_id",
            "kind",
            "to",
            "body",
            "status",
            "attempts",
            "provider_id",
            "error",
            "created_at",
            "sent_at",
        ],
    )
}

fn status_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(&["queued", "sent", "failed", "delivered"])
}

fn kind_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(&["welcome", "recall", "souvenir"])
}
