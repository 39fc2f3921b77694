//! What a worker is configured with, in parts that each read their own
//! variables. The API's configuration holds these settings as they are, so
//! a process that runs both reads every variable once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ondeck_domain::store::recall::RecallPolicy;
use ondeck_env::{ConfigError, Source, bounded, seconds};
use secrecy::SecretString;

use ondeck_domain::Lifecycle;
use ondeck_domain::lifecycle::PlayerPolicy;
use ondeck_domain::store::wake::Wake;
use ondeck_media::images::photo::gate::DEFAULT_DECODES;
use ondeck_media::images::souvenir::Format;
use ondeck_media::storage::StorageSettings;

use crate::cues::CueFile;
use crate::sms::SmsSettings;

/// Everything a worker process is configured with, beyond the addresses it
/// shares with the API (see [`crate::run`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub recall: RecallSettings,
    pub sms: SmsSettings,
    pub storage: StorageSettings,
    pub souvenir: SouvenirSettings,
    pub cues: CueSettings,
    /// Jobs run at once per queue (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Photo decodes at once in the process, uploads and souvenirs alike
    /// (`PHOTO_DECODES`, see `ondeck_media::images::photo::gate`).
    pub photo_decodes: usize,
}

impl Settings {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        Ok(Settings {
            recall: RecallSettings::from_env(env)?,
            souvenir: SouvenirSettings::from_env(env)?,
            sms: SmsSettings::from_env(env)?,
            storage: StorageSettings::from_env(env)?,
            concurrency: bounded(env, "WORKER_CONCURRENCY", 16, 1, 1000)? as usize,
            photo_decodes: bounded(env, "PHOTO_DECODES", DEFAULT_DECODES as u64, 1, 64)? as usize,
            cues: CueSettings::from_env(env)?,
        })
    }

    /// The path every change to a game takes, as this worker's recall sweep
    /// makes them: the same recall window and cues as the API's.
    pub fn lifecycle(&self, wake: Wake) -> Lifecycle {
        Lifecycle::new(self.recall.policy, wake)
            .with_cues(self.cues.file.clone())
            .with_players(self.recall.players)
    }
}

/// `RECALL_WINDOW_SIZE`, `RECALL_WINDOW_MINUTES`, `RECALL_DISABLE`, how
/// often the sweep looks for games to recall and no-shows
/// (`RECALL_SWEEP_SECONDS`), and what players may do: `LATER_PLACES`,
/// `LATER_LIMIT`, `NO_SHOW_MINUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecallSettings {
    pub policy: RecallPolicy,
    pub sweep_period: Duration,
    pub players: PlayerPolicy,
}

impl RecallSettings {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        let policy = RecallPolicy {
            size: bounded(env, "RECALL_WINDOW_SIZE", 2, 0, 1000)? as i64,
            minutes: bounded(env, "RECALL_WINDOW_MINUTES", 20, 1, 24 * 60)? as i64,
            enabled: !ondeck_env::boolean(env, "RECALL_DISABLE")?,
        };
        let defaults = PlayerPolicy::defaults(policy.minutes);
        Ok(RecallSettings {
            policy,
            sweep_period: seconds(env, "RECALL_SWEEP_SECONDS", 30, 1, 86_400)?,
            players: PlayerPolicy {
                later_places: bounded(env, "LATER_PLACES", defaults.later_places as u64, 1, 1000)?
                    as i64,
                later_limit: bounded(env, "LATER_LIMIT", defaults.later_limit as u64, 0, 100)?
                    as i32,
                no_show_minutes: bounded(
                    env,
                    "NO_SHOW_MINUTES",
                    defaults.no_show_minutes as u64,
                    0,
                    7 * 24 * 60,
                )? as i64,
            },
        })
    }
}

/// `SOUVENIR_SIZE` (pixels a side) and `SOUVENIR_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SouvenirSettings {
    pub size: u32,
    pub format: Format,
}

impl SouvenirSettings {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        Ok(SouvenirSettings {
            size: bounded(env, "SOUVENIR_SIZE", 1080, 64, 4096)? as u32,
            format: match ondeck_env::choice(env, "SOUVENIR_FORMAT", "jpeg", &["jpeg", "png"])? {
                "png" => Format::Png,
                _ => Format::Jpeg,
            },
        })
    }
}

/// Venue cues: `CUES_FILE`, parsed and checked at start, `DMX_DEVICE` and
/// `CUES_WEBHOOK_SECRET`.
#[derive(Debug, Clone, Default)]
pub struct CueSettings {
    pub file: Option<Arc<CueFile>>,
    /// This process's worker drives the DMX interface at this path.
    pub dmx_device: Option<PathBuf>,
    /// Signs webhooks whose cue file names no secret of its own.
    pub webhook_secret: Option<SecretString>,
}

impl CueSettings {
    /// A webhook with no secret from any source is an error: it would be
    /// signed with an empty key.
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        let webhook_secret = ondeck_env::var(env, "CUES_WEBHOOK_SECRET")?;
        Ok(CueSettings {
            file: ondeck_env::var(env, "CUES_FILE")?
                .map(|path| {
                    CueFile::load(std::path::Path::new(&path), webhook_secret.is_some())
                        .map(Arc::new)
                        .map_err(|e| ConfigError::new("CUES_FILE", format!("{e:#}")))
                })
                .transpose()?,
            dmx_device: ondeck_env::var(env, "DMX_DEVICE")?.map(PathBuf::from),
            webhook_secret: webhook_secret.map(SecretString::from),
        })
    }
}
