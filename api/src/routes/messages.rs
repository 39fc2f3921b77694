//! `/api/v1/messages`: every text ondeck sent or tried to send (admin only).

use axum::response::Response;
use ondeck_domain::models::Role;
use ondeck_domain::store::messages::{self, MessageFilter};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::list::{Filtered, ListParams};
use crate::query::{parse, parse_name};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_messages))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    /// `queued`, `sent`, `failed` or `delivered`.
    #[param(schema_with = status_param)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    status: Option<String>,
    /// `welcome`, `recall` or `souvenir`.
    #[param(schema_with = kind_param)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    kind: Option<String>,
    #[param(value_type = Option<i64>)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    game_id: Option<String>,
}

/// Texts, newest first, with their status, attempts and provider id.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(MessageListQuery, ListParams),
    responses((status = 200, description = "`{items: [Message], next_cursor}` or CSV")))]
async fn list_messages(ctx: Ctx, list: Filtered<MessageListQuery>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let (listing, filter) = list.check(|q, errors| MessageFilter {
        status: parse_name(errors, "status", q.status.as_deref(), STATUSES),
        kind: parse_name(errors, "kind", q.kind.as_deref(), KINDS),
        game_id: parse(errors, "game_id", q.game_id.as_deref(), "a game's id"),
    })?;
    let paged = messages::list(&mut *ctx.read().await?, &filter, listing.page).await?;
    listing.respond(
        paged,
        "messages",
        &[
            "id",
            "game_id",
            "kind",
            "direction",
            "to",
            "from",
            "body",
            "status",
            "error_code",
            "attempts",
            "provider_id",
            "error",
            "created_at",
            "sent_at",
        ],
    )
}

const STATUSES: &[&str] = &["queued", "sent", "failed", "delivered"];
const KINDS: &[&str] = &[
    "welcome", "recall", "souvenir", "no_show", "verify", "reply",
];

fn status_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(STATUSES)
}

fn kind_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(KINDS)
}
