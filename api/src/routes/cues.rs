//! `/api/v1/cues`: the venue cues of `CUES_FILE`, and firing one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ondeck_domain::models::Role;
use ondeck_domain::store::cue_runs::{self, RunFilter};
use ondeck_domain::store::outbox::{self, Job};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::ApiJson;
use crate::list::{Filtered, ListParams};
use crate::query::parse_name;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cues, fire_cue))
        .routes(routes!(list_runs))
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
        .worker
        .cues
        .file
        .iter()
        .flat_map(|file| file.cues.iter())
        .map(|(name, cue)| CueView {
            name: name.clone(),
            actions: cue
                .actions
                .iter()
                .map(|a| match a.get_ref() {
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
        .worker
        .cues
        .file
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
    ondeck_domain::store::commit::commit(tx).await?;
    state.wake.after_commit();
    metrics::counter!("ondeck_cues_fired_total").increment(1);
    Ok((StatusCode::ACCEPTED, axum::Json(Fired { cue: input.cue })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// `pending`, `ok`, `retrying` or `failed`.
    #[param(schema_with = status_param)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    status: Option<String>,
    /// `dmx` or `webhook`.
    #[param(schema_with = kind_param)]
    #[serde(default, deserialize_with = "crate::extract::given")]
    kind: Option<String>,
    /// A cue's name.
    cue: Option<String>,
}

/// What each action of each fired cue did, newest first: a DMX scene or a
/// webhook, its target, status (`pending`, `ok`, `retrying`, `failed`),
/// attempts and last error (admin only).
#[utoipa::path(get, path = "/api/v1/cues/runs", tag = "cues", params(RunListQuery, ListParams),
    responses((status = 200, description = "`{items: [CueRun], next_cursor}` or CSV")))]
async fn list_runs(ctx: Ctx, list: Filtered<RunListQuery>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let (listing, filter) = list.check(|q, errors| RunFilter {
        status: parse_name(errors, "status", q.status.as_deref(), STATUSES),
        kind: parse_name(errors, "kind", q.kind.as_deref(), KINDS),
        cue: q.cue.filter(|c| !c.trim().is_empty()),
    })?;
    let paged = cue_runs::list(&mut *ctx.read().await?, &filter, listing.page).await?;
    listing.respond(
        paged,
        "cue-runs",
        &[
            "id",
            "cue",
            "action",
            "kind",
            "target",
            "game_id",
            "status",
            "attempts",
            "error",
            "created_at",
            "updated_at",
            "finished_at",
        ],
    )
}

const STATUSES: &[&str] = &["pending", "ok", "retrying", "failed"];
const KINDS: &[&str] = &["dmx", "webhook"];

fn status_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(STATUSES)
}

fn kind_param() -> utoipa::openapi::schema::Object {
    crate::query::params::one_of(KINDS)
}
