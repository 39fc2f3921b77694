//! The DMX job: one scene of a cue, set on the interface of the process
//! that has `DMX_DEVICE`.

use std::time::Duration;

use ondeck_domain::GameId;
use ondeck_domain::store::cue_runs::{self, ActionKind, NewRun};

use super::cue::{ActionOutcome, attempt_action, ensure_run};
use super::deps::{Deps, Retry};

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
