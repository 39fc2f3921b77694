//! What every task needs ([`Deps`]), the jobs a process is running, and
//! what the tasks share: the retry pause and the error that asks for a
//! retry.

use std::time::Duration;

use ondeck_media::images::souvenir::Format;
use ondeck_media::storage::Storage;
use sqlx::PgPool;

use crate::sms::SmsProvider;

/// What the tasks need; shared by every worker of a process.
pub struct Deps {
    pub db: PgPool,
    /// Wakes the event and outbox listeners after a commit.
    pub wake: ondeck_domain::store::wake::Wake,
    pub sms: SmsProvider,
    pub storage: Storage,
    pub public_base_url: String,
    /// `VENUE_TZ` as PostgreSQL names it: the day a `{rank}` counts in.
    pub venue_tz: String,
    pub souvenir_size: u32,
    pub souvenir_format: Format,
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
    /// Posts webhooks; follows no redirects.
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

/// The pause after failed attempt number `attempt`: the first backoff,
/// doubled each time, at most 30 s.
pub(super) fn backoff(deps: &Deps, attempt: i32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).max(0) as u32);
    deps.first_backoff
        .saturating_mul(factor)
        .min(Duration::from_secs(30))
}

/// A job that cannot run now but may later (another worker holds the text,
/// the database is away): the queue retries it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Retry(pub String);
