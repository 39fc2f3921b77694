//! Merges each resource's router into the API, and collects the OpenAPI
//! document from the same handlers.

pub mod board;
pub mod cues;
pub mod events;
pub mod games;
pub mod media;
pub mod messages;
pub mod ops;
pub mod pages;
pub mod players;
pub mod shows;
pub mod teams;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, SecurityRequirement};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The `/api/v1` routes and the OpenAPI document that describes them.
pub fn api() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::new()
        .merge(shows::router())
        .merge(teams::router())
        .merge(players::router())
        .merge(games::router())
        .merge(board::router())
        .merge(media::router())
        .merge(messages::router())
        .merge(events::router())
        .merge(cues::router())
        .split_for_parts();
    doc.info = InfoBuilder::new()
        .title("ondeck")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The queue, scoreboard and jobs of a walk-up venue attraction. Every request carries \
             `Authorization: Bearer <token>`; errors are RFC 9457 problem details.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    (router, doc)
}
