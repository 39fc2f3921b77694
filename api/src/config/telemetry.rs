//! `SENTRY_DSN` and `LOG_FORMAT`. Both are also read alone, before the
//! runtime starts: the logs and the Sentry client must exist before the
//! threads that use them.

use ondeck_env::{ConfigError, Source};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Telemetry {
    pub sentry_dsn: Option<SecretString>,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Telemetry {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        Ok(Telemetry {
            sentry_dsn: sentry_dsn(env)?.map(|dsn| SecretString::from(dsn.to_string())),
            log_format: log_format(env)?,
        })
    }
}

/// `SENTRY_DSN`, checked.
pub fn sentry_dsn(env: Source) -> Result<Option<sentry::types::Dsn>, ConfigError> {
    ondeck_env::var(env, "SENTRY_DSN")?
        .map(|v| {
            v.parse::<sentry::types::Dsn>().map_err(|_| {
                ConfigError::new(
                    "SENTRY_DSN",
                    "expected a Sentry DSN like https://KEY@HOST/PROJECT",
                )
            })
        })
        .transpose()
}

/// `LOG_FORMAT`: `text` (the default) or `json`.
pub fn log_format(env: Source) -> Result<LogFormat, ConfigError> {
    Ok(
        match ondeck_env::choice(env, "LOG_FORMAT", "text", &["text", "json"])? {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        },
    )
}
