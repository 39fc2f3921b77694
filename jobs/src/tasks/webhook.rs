//! The webhook job: one signed POST of a cue, retried like a text.

use std::time::Duration;

use ondeck_domain::GameId;
use ondeck_domain::store::cue_runs::{ActionKind, NewRun};
use ondeck_domain::store::{games, outbox};

use super::cue::{ActionOutcome, attempt_action, ensure_run};
use super::deps::Deps;

/// The JSON a cue's webhook carries.
pub fn webhook_body(
    cue: &str,
    game: Option<&ondeck_domain::models::Game>,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<u8> {
    let game = game.map(|g| {
        serde_json::json!({
            "id": g.id, "state": g.state, "team": g.team, "first_name": g.first_name,
            "score": g.score, "distance": g.distance, "homeruns": g.homeruns,
        })
    });
    serde_json::to_vec(&serde_json::json!({
        "cue": cue,
        "game": game,
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }))
    .unwrap_or_default()
}

/// POSTs a cue's webhook, signed, retrying with backoff like a text; every
/// attempt is recorded in the action's `cue_runs` row.
#[tracing::instrument(skip_all, fields(outbox_id, cue))]
pub async fn deliver_webhook(
    deps: &Deps,
    outbox_id: i64,
    cue: &str,
    action: usize,
    url: &str,
    game_id: Option<GameId>,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ActionOutcome> {
    use secrecy::ExposeSecret;
    let shown = crate::cues::shown_url(url);
    let run = NewRun {
        cue,
        action: i32::try_from(action).unwrap_or(i32::MAX),
        kind: ActionKind::Webhook,
        target: Some(&shown),
        game_id,
    };
    ensure_run(deps, outbox_id, &run).await?;
    let game = {
        let mut conn = deps.db.acquire().await?;
        if outbox::is_done(&mut conn, outbox_id).await? {
            return Ok(ActionOutcome::AlreadyDone);
        }
        match game_id {
            Some(id) => Some(games::get(&mut conn, id).await?),
            None => None,
        }
    };
    let body = webhook_body(cue, game.as_ref(), at);
    let fallback = deps.webhook_secret.as_ref().map(|s| s.expose_secret());
    // The cue file was checked at start for a secret of every webhook, so
    // this holds; an unsigned webhook is never sent in any case.
    let Some(secret) = deps
        .cues
        .as_ref()
        .and_then(|c| c.webhook_key(cue, action, fallback))
    else {
        anyhow::bail!("the webhook of cue {cue:?} has no secret to sign with");
    };
    let signature = crate::cues::signature(secret.as_bytes(), &body);
    let (signature, body) = (&signature, &body);
    attempt_action(deps, outbox_id, None, move || async move {
        let sent = deps
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-ondeck-signature", signature)
            .header("x-ondeck-delivery", outbox_id.to_string())
            .timeout(Duration::from_secs(10))
            .body(body.clone())
            .send()
            .await;
        let error = match sent {
            Ok(res) if res.status().is_success() => return Ok(()),
            Ok(res) if res.status().is_redirection() => format!(
                "the target answered {} (redirects are not followed)",
                res.status()
            ),
            Ok(res) => format!("the target answered {}", res.status()),
            Err(e) => crate::cues::request_error(e),
        };
        metrics::counter!("ondeck_webhook_errors_total").increment(1);
        Err(error)
    })
    .await
}
