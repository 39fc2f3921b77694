//! What each job does, as plain functions a test can call: send one text,
//! render one souvenir. Both are idempotent per outbox job, since a job may
//! be delivered more than once (a relay that crashed before marking it, a
//! worker that died holding it).

use std::time::Duration;

use anyhow::Context;
use ondeck_domain::store::cue_runs::{self, ActionKind, NewRun};
use ondeck_domain::store::messages::{self, Kind, Status};
use ondeck_domain::store::outbox::{self, Job, MessageKind};
use ondeck_domain::store::{event_log, games, souvenirs};
use ondeck_domain::{GameId, GameState};
use sqlx::PgPool;

use crate::images::{photo, souvenir};
use crate::sms::{SendError, SmsProvider};
use crate::storage::Storage;

/// What the tasks need; shared by every worker of a process.
pub struct Deps {
    pub db: PgPool,
    /// Wakes the event and outbox listeners after a commit.
    pub wake: ondeck_domain::store::wake::Wake,
    pub sms: SmsProvider,
    pub storage: Storage,
    pub public_base_url: String,
    pub souvenir_size: u32,
    pub souvenir_format: souvenir::Format,
    /// A recall text is worthless once the recall has expired: the provider
    /// is asked to drop it after this long.
    pub recall_validity: Duration,
    /// Attempts per text before it is marked failed, and the first pause
    /// between them (doubled each time, at most 30 s).
    pub max_attempts: i32,
    pub first_backoff: Duration,
    /// `CUES_FILE`, if any.
    pub cues: Option<std::sync::Arc<crate::cues::CueFile>>,
    /// The DMX output of this process (`DMX_DEVICE`), if any.
    pub dmx: Option<crate::cues::Dmx>,
    /// `CUES_WEBHOOK_SECRET`: signs webhooks whose cue file names no secret.
    pub webhook_secret: Option<secrecy::SecretString>,
    pub http: reqwest::Client,
    /// The jobs this process is running now.
    pub running: Running,
}

/// The outbox ids of the jobs a process is running, so that a worker that
/// has to stop before they end can hand them back (see `worker::run`).
#[derive(Debug, Default)]
pub struct Running(std::sync::Mutex<std::collections::HashSet<i64>>);

impl Running {
    /// Counts `outbox_id` as running until the guard is dropped.
    pub fn hold(&self, outbox_id: i64) -> RunningJob<'_> {
        self.ids().insert(outbox_id);
        RunningJob(self, outbox_id)
    }

    /// The ids running now.
    pub fn snapshot(&self) -> Vec<i64> {
        self.ids().iter().copied().collect()
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A job counted as running; see [`Running::hold`].
pub struct RunningJob<'a>(&'a Running, i64);

impl Drop for RunningJob<'_> {
    fn drop(&mut self) {
        self.0.ids().remove(&self.1);
    }
}

/// An attempt left with the provider for longer than this belongs to a
/// worker that died: its outcome is asked of the provider.
pub const STALE_ATTEMPT: Duration = Duration::from_secs(15);

fn backoff(deps: &Deps, attempt: i32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).max(0) as u32);
    deps.first_backoff
        .saturating_mul(factor)
        .min(Duration::from_secs(30))
}

/// How a text ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOutcome {
    /// The provider accepted it now.
    Sent,
    /// It had been sent (or failed for good) before this run.
    AlreadyDone,
    /// The player has no mobile number.
    NoRecipient,
    /// The provider refused it, or every attempt failed.
    Failed,
}

/// A job that cannot run now but may later (another worker holds the text,
/// the database is away): the queue retries it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Retry(pub String);

/// Sends the text an outbox job asks for, at most once however often this
/// runs: the text is a row claimed attempt by attempt, and an attempt whose
/// outcome is unknown is asked of the provider before any new one.
#[tracing::instrument(skip_all, fields(outbox_id, game_id = %game_id, kind = ?kind))]
pub async fn send_text(
    deps: &Deps,
    outbox_id: i64,
    game_id: GameId,
    kind: MessageKind,
) -> anyhow::Result<TextOutcome> {
    let mut conn = deps.db.acquire().await?;
    let link = match kind {
        MessageKind::Souvenir => {
            let (_, code) = souvenirs::of_game(&mut conn, game_id)
                .await?
                .context("a souvenir text before its souvenir was recorded")?;
            Some(format!("{}/s/{code}", deps.public_base_url))
        }
        _ => None,
    };
    let Some(message) = messages::prepare(
        &mut conn,
        outbox_id,
        game_id,
        Kind::from(kind),
        link.as_deref(),
    )
    .await?
    else {
        return Ok(TextOutcome::NoRecipient);
    };
    if message.status != Status::Queued || message.provider_id.is_some() {
        return Ok(TextOutcome::AlreadyDone);
    }
    let validity = (kind == MessageKind::Recall).then_some(deps.recall_validity);
    loop {
        let attempt = match messages::begin_attempt(&mut conn, message.id).await? {
            Some(n) => n,
            None => {
                // Another run holds an attempt. If it is stale, its worker is
                // gone: find out from the provider what became of it.
                let Some(started) = messages::take_over_stale_attempt(
                    &mut conn,
                    message.id,
                    STALE_ATTEMPT.as_secs_f64(),
                )
                .await?
                else {
                    return Err(Retry(format!(
                        "text {} is being sent by another worker",
                        message.id
                    ))
                    .into());
                };
                match deps.sms.find(&message.to, &message.body, started).await {
                    Ok(Some(provider_id)) => {
                        messages::mark_sent(&mut conn, message.id, &provider_id).await?;
                        tracing::info!(
                            message_id = message.id,
                            "an interrupted text had reached the provider"
                        );
                        return Ok(TextOutcome::Sent);
                    }
                    Ok(None) => {
                        messages::mark_attempt_failed(
                            &mut conn,
                            message.id,
                            "interrupted before the provider took it",
                            false,
                        )
                        .await?;
                        continue;
                    }
                    Err(e) => {
                        messages::mark_attempt_failed(&mut conn, message.id, &e.to_string(), false)
                            .await?;
                        return Err(Retry(format!(
                            "cannot ask the provider about text {}: {e}",
                            message.id
                        ))
                        .into());
                    }
                }
            }
        };
        // No connection is held while the provider is called.
        drop(conn);
        let result = deps.sms.send(&message.to, &message.body, validity).await;
        conn = deps.db.acquire().await?;
        let error = match result {
            Ok(provider_id) => {
                messages::mark_sent(&mut conn, message.id, &provider_id).await?;
                return Ok(TextOutcome::Sent);
            }
            Err(SendError::Permanent(e)) => {
                messages::mark_attempt_failed(&mut conn, message.id, &e, true).await?;
                tracing::warn!(message_id = message.id, error = %e, "the provider refused a text");
                return Ok(TextOutcome::Failed);
            }
            Err(SendError::Unknown(e)) => {
                // Ask before trying again: the provider may have it.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let started = chrono::Utc::now()
                    - chrono::Duration::from_std(crate::sms::SEND_TIMEOUT * 2).unwrap_or_default();
                if let Ok(Some(provider_id)) =
                    deps.sms.find(&message.to, &message.body, started).await
                {
                    messages::mark_sent(&mut conn, message.id, &provider_id).await?;
                    return Ok(TextOutcome::Sent);
                }
                e
            }
            Err(SendError::Transient(e)) => e,
        };
        let last = attempt >= deps.max_attempts;
        messages::mark_attempt_failed(&mut conn, message.id, &error, last).await?;
        if last {
            tracing::warn!(message_id = message.id, attempts = attempt, error = %error, "giving up on a text");
            return Ok(TextOutcome::Failed);
        }
        tracing::info!(message_id = message.id, attempt, error = %error, "text not sent; trying again");
        tokio::time::sleep(backoff(deps, attempt)).await;
    }
}

/// How a souvenir job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SouvenirOutcome {
    /// Rendered and stored; its text (if the player has a mobile) is queued.
    Rendered { key: String, bytes: usize },
    /// The game is not (or no longer) completed.
    Skipped,
}

/// Renders a game's souvenir, stores it, records its URL and short link,
/// and queues its text: once per souvenir job, however often this runs.
#[tracing::instrument(skip_all, fields(outbox_id, game_id = %game_id))]
pub async fn render_souvenir(
    deps: &Deps,
    outbox_id: i64,
    game_id: GameId,
) -> anyhow::Result<SouvenirOutcome> {
    let data = {
        let mut conn = deps.db.acquire().await?;
        souvenirs::data(&mut conn, game_id).await?
    };
    let Some(data) = data.filter(|d| d.state == GameState::Completed) else {
        return Ok(SouvenirOutcome::Skipped);
    };
    let photo = match &data.photo_key {
        Some(key) => match deps.storage.get(key).await? {
            Some((bytes, _)) => match photo::check(&bytes) {
                Ok(photo) => Some(photo),
                Err(e) => {
                    tracing::warn!(error = %e, "the stored photo does not decode; rendering without it");
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let (size, format) = (deps.souvenir_size, deps.souvenir_format);
    let image = tokio::task::spawn_blocking(move || {
        let card = souvenir::Souvenir {
            first_name: &data.first_name,
            last_name: data.last_name.as_deref(),
            team: data.team.as_deref(),
            show: &data.show,
            score: data.score.unwrap_or_default(),
            distance: data.distance.unwrap_or_default(),
            homeruns: data.homeruns.unwrap_or_default(),
            photo: photo.as_ref().map(|p| &p.image),
        };
        souvenir::render(&card, size, format).map(|bytes| (bytes, data.has_mobile))
    })
    .await
    .context("the renderer panicked")?;
    let (bytes, has_mobile) = image?;
    let key = format!("souvenirs/{game_id}.{}", format.extension());
    let size = bytes.len();
    deps.storage.put(&key, bytes, format.content_type()).await?;
    // A lasting URL: a public bucket's, else the short link, which signs a
    // fresh URL each time it is opened (local and presigned URLs expire).
    let public_url = deps.storage.public_url(&key);
    let mut tx = deps.db.begin().await?;
    let code = souvenirs::record(&mut tx, game_id, &key).await?;
    let url = public_url.unwrap_or_else(|| format!("{}/s/{code}", deps.public_base_url));
    souvenirs::set_url(&mut tx, game_id, &url).await?;
    if has_mobile {
        let text = Job::Sms {
            game_id,
            message: MessageKind::Souvenir,
        };
        // May wait for a second run of this job to commit its copy.
        outbox::enqueue_once(&mut tx, &text, &format!("souvenir-text:{outbox_id}")).await?;
    }
    let game = games::get(&mut tx, game_id).await?;
    let recall_minutes = (deps.recall_validity.as_secs() / 60) as i64;
    // Last, as every event (see `event_log`): nothing waited for after it.
    event_log::game_changed(&mut tx, &game, Some(game.state), recall_minutes).await?;
    tx.commit().await?;
    deps.wake.after_commit();
    tracing::info!(key, bytes = size, "souvenir rendered");
    Ok(SouvenirOutcome::Rendered { key, bytes: size })
}

/// How a cue job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueOutcome {
    Fired,
    /// No cue of that name (the file changed since it was queued).
    Unknown,
}

/// Runs a cue: each of its actions becomes a job of its own, recorded as a
/// pending run in `cue_runs` — DMX scenes on the DMX queue (served only by
/// the process that has `DMX_DEVICE`), webhooks on the shared one. Once per
/// cue job, however often this runs.
#[tracing::instrument(skip_all, fields(outbox_id, cue = name))]
pub async fn fire_cue(
    deps: &Deps,
    outbox_id: i64,
    name: &str,
    game_id: Option<GameId>,
) -> anyhow::Result<CueOutcome> {
    let Some(cue) = deps.cues.as_ref().and_then(|c| c.cues.get(name)) else {
        tracing::warn!("no cue of this name in CUES_FILE");
        return Ok(CueOutcome::Unknown);
    };
    let at = chrono::Utc::now();
    let mut tx = deps.db.begin().await?;
    for (i, action) in cue.actions.iter().enumerate() {
        let (job, kind, target, key) = match action {
            crate::cues::Action::Dmx { channels } => (
                Job::Dmx {
                    cue: name.to_owned(),
                    action: i,
                    channels: channels.iter().map(|c| (c.channel, c.value)).collect(),
                    game_id,
                    at,
                },
                ActionKind::Dmx,
                None,
                format!("cue-dmx:{outbox_id}:{i}"),
            ),
            crate::cues::Action::Webhook { url, .. } => (
                Job::Webhook {
                    cue: name.to_owned(),
                    action: i,
                    url: url.clone(),
                    game_id,
                    at,
                },
                ActionKind::Webhook,
                Some(crate::cues::shown_url(url)),
                format!("cue-webhook:{outbox_id}:{i}"),
            ),
        };
        outbox::enqueue_once(&mut tx, &job, &key).await?;
        let run = NewRun {
            cue: name,
            action: i32::try_from(i).unwrap_or(i32::MAX),
            kind,
            target: target.as_deref(),
            game_id,
        };
        if let Some(job_id) = outbox::id_of(&mut tx, &key).await? {
            cue_runs::record(&mut tx, job_id, &run).await?;
        }
    }
    tx.commit().await?;
    deps.wake.after_commit();
    Ok(CueOutcome::Fired)
}

/// How a cue action's job (a DMX scene, a webhook) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    Done,
    /// Its run had ended before this one (a job delivered twice).
    AlreadyDone,
    /// Every attempt failed; the run is `failed` with the last error.
    Failed,
}

/// Errors kept in `cue_runs` are cut to this many characters.
const ERROR_CHARS: usize = 300;

/// Makes attempts at a cue action until one succeeds or `max_attempts` have
/// failed, pausing with backoff between them. Each attempt is counted and
/// its outcome recorded in the action's `cue_runs` row (`retrying`, then
/// `ok` or `failed`), so a job delivered again continues the count.
async fn attempt_action<F, Fut>(
    deps: &Deps,
    outbox_id: i64,
    target: Option<&str>,
    mut attempt: F,
) -> anyhow::Result<ActionOutcome>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    loop {
        let number = {
            let mut conn = deps.db.acquire().await?;
            match cue_runs::begin_attempt(&mut conn, outbox_id, target).await? {
                Some(n) => n,
                None => return Ok(ActionOutcome::AlreadyDone),
            }
        };
        // No connection is held while the device or the target is waited for.
        let result = attempt()
            .await
            .map_err(|e| e.chars().take(ERROR_CHARS).collect::<String>());
        let last = number >= deps.max_attempts;
        let mut conn = deps.db.acquire().await?;
        let error = result.as_ref().err().map(String::as_str);
        cue_runs::end_attempt(&mut conn, outbox_id, error, last).await?;
        match error {
            None => return Ok(ActionOutcome::Done),
            Some(error) if last => {
                tracing::warn!(attempts = number, error, "giving up on a cue action");
                return Ok(ActionOutcome::Failed);
            }
            Some(error) => {
                tracing::info!(attempt = number, error, "cue action failed; trying again");
            }
        }
        drop(conn);
        tokio::time::sleep(backoff(deps, number)).await;
    }
}

/// Records the run of an action job unless its cue's job did (a job queued
/// before runs were recorded has none yet).
async fn ensure_run(deps: &Deps, outbox_id: i64, run: &NewRun<'_>) -> anyhow::Result<()> {
    let mut conn = deps.db.acquire().await?;
    cue_runs::record(&mut conn, outbox_id, run).await?;
    Ok(())
}

/// A DMX job taken this long after its cue fired is dropped (recorded as
/// failed): an old scene is worse than none.
pub const DMX_EXPIRES: Duration = Duration::from_secs(300);
/// How long one attempt waits for a frame to reach the device.
const DMX_ATTEMPT: Duration = Duration::from_secs(3);

/// Sets a cue's DMX channels in this process's universe (the process that
/// has `DMX_DEVICE`) and waits until a frame holding them reached the
/// device; a missing device fails the attempt, recorded and retried.
#[tracing::instrument(skip_all, fields(outbox_id, cue))]
pub async fn apply_dmx(
    deps: &Deps,
    outbox_id: i64,
    cue: &str,
    action: usize,
    channels: &[(u16, u8)],
    game_id: Option<GameId>,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<ActionOutcome> {
    let Some(dmx) = &deps.dmx else {
        return Err(Retry("a DMX job reached a process without DMX_DEVICE".to_owned()).into());
    };
    let device = dmx.device().display().to_string();
    let run = NewRun {
        cue,
        action: i32::try_from(action).unwrap_or(i32::MAX),
        kind: ActionKind::Dmx,
        target: Some(&device),
        game_id,
    };
    ensure_run(deps, outbox_id, &run).await?;
    let age = (chrono::Utc::now() - at).to_std().unwrap_or_default();
    if age > DMX_EXPIRES {
        let expired = format!(
            "expired: no process with DMX_DEVICE took it within {} s",
            DMX_EXPIRES.as_secs()
        );
        let mut conn = deps.db.acquire().await?;
        if cue_runs::begin_attempt(&mut conn, outbox_id, Some(&device))
            .await?
            .is_none()
        {
            return Ok(ActionOutcome::AlreadyDone);
        }
        cue_runs::end_attempt(&mut conn, outbox_id, Some(&expired), true).await?;
        tracing::warn!(age_s = age.as_secs(), "dropping an expired DMX scene");
        return Ok(ActionOutcome::Failed);
    }
    let mut generation = None;
    attempt_action(deps, outbox_id, Some(&device), move || {
        // Set once per run; later attempts wait for the device to take it.
        let g = *generation.get_or_insert_with(|| dmx.set(channels.iter().copied()));
        dmx.written(g, DMX_ATTEMPT)
    })
    .await
}

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
    let secret = deps
        .cues
        .as_ref()
        .and_then(|c| {
            let own = c
                .cues
                .get(cue)
                .and_then(|c| c.actions.get(action))
                .and_then(|a| match a {
                    crate::cues::Action::Webhook { secret, .. } => secret.clone(),
                    crate::cues::Action::Dmx { .. } => None,
                });
            own.or_else(|| c.webhook_secret.clone())
        })
        .or_else(|| {
            deps.webhook_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
        })
        .unwrap_or_default();
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
            Ok(res) => format!("the target answered {}", res.status()),
            Err(e) => crate::cues::request_error(e),
        };
        metrics::counter!("ondeck_webhook_errors_total").increment(1);
        Err(error)
    })
    .await
}
