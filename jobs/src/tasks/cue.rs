//! The cue job, which turns a cue's actions into jobs of their own, and
//! what those action jobs (`dmx`, `webhook`) share: their outcome, and
//! attempts counted and recorded in `cue_runs`.

use ondeck_domain::GameId;
use ondeck_domain::store::cue_runs::{self, ActionKind, NewRun};
use ondeck_domain::store::outbox::{self, Job};

use super::deps::{Deps, backoff};

/// How a cue job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CueOutcome {
    Fired,
    /// No cue of that name (the file changed since it was queued).
    Unknown,
}

impl CueOutcome {
    /// The `outcome` label of `ondeck_jobs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fired => "fired",
            Self::Unknown => "unknown",
        }
    }
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
        let (job, kind, target, key) = match action.get_ref() {
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
    ondeck_domain::store::commit::commit(tx).await?;
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

impl ActionOutcome {
    /// The `outcome` label of `ondeck_jobs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::AlreadyDone => "alreadydone",
            Self::Failed => "failed",
        }
    }
}

/// Errors kept in `cue_runs` are cut to this many characters.
const ERROR_CHARS: usize = 300;

/// Makes attempts at a cue action until one succeeds or `max_attempts` have
/// failed, pausing with backoff between them. Each attempt is counted and
/// its outcome recorded in the action's `cue_runs` row (`retrying`, then
/// `ok` or `failed`), so a job delivered again continues the count.
pub(super) async fn attempt_action<F, Fut>(
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
pub(super) async fn ensure_run(
    deps: &Deps,
    outbox_id: i64,
    run: &NewRun<'_>,
) -> anyhow::Result<()> {
    let mut conn = deps.db.acquire().await?;
    cue_runs::record(&mut conn, outbox_id, run).await?;
    Ok(())
}
