//! `/api/v1/cues`: the venue cues of `CUES_FILE`, and firing one.

use axum::extract::State;
use axum::http::StatusCode;
use ondeck_domain::models::Role;
use ondeck_domain::store::outbox::{self, Job};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, Result};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_cues, fire_cue))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CueView {
    name: String,
    /// The kinds of its actions, in order: `dmx`, `webhook`.
    actions: Vec<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CueList {
    items: Vec<CueView>,
}

/// The configured cues (every role may read them).
#[utoipa::path(get, path = "/api/v1/cues", tag = "cues", responses((status = 200, body = CueList)))]
async fn list_cues(State(state): State<AppState>, _caller: Caller) -> Result<axum::Json<CueList>> {
    let items = state
        .config
        .cues
        .iter()
        .flat_map(|file| file.cues.iter())
        .map(|(name, cue)| CueView {
            name: name.clone(),
            actions: cue
                .actions
                .iter()
                .map(|a| match a {
                    ondeck_jobs::cues::Action::Dmx { .. } => "dmx",
                    ondeck_jobs::cues::Action::Webhook { .. } => "webhook",
                })
                .collect(),
        })
        .collect();
    Ok(axum::Json(CueList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FireInput {
    cue: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Fired {
    cue: String,
}

/// Fire a cue: queued through the outbox, so this never waits for the lights
/// or a webhook.
#[utoipa::path(post, path = "/api/v1/cues", tag = "cues", request_body = FireInput,
    responses((status = 202, body = Fired), (status = 403), (status = 404, description = "no cue of that name")))]
async fn fire_cue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<FireInput>,
) -> Result<(StatusCode, axum::Json<Fired>)> {
    caller.allow(&[Role::Tablet, Role::Game])?;
    let known = state
        .config
        .cues
        .as_ref()
        .is_some_and(|c| c.cues.contains_key(&input.cue));
    if !known {
        return Err(ApiError::NotFound(format!(
            "no cue is named {:?}",
            input.cue
        )));
    }
    let mut tx = state.db.begin().await?;
    let job = Job::Cue {
        name: input.cue.clone(),
        game_id: None,
    };
    outbox::enqueue(&mut tx, &job).await?;
    tx.commit().await?;
    state.wake.after_commit();
    metrics::counter!("ondeck_cues_fired_total").increment(1);
    Ok((StatusCode::ACCEPTED, axum::Json(Fired { cue: input.cue })))
}
