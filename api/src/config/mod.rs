//! Configuration from the environment, checked at start-up, in parts that
//! each read their own variables: a bad value stops start-up with one line
//! that names the variable. Every variable `X` may instead be given as
//! `X_FILE`, naming a file that holds it (Docker secrets); `ondeck_env` has
//! that rule and the error every part reports.

pub mod database;
pub mod http;
pub mod redis;
pub mod telemetry;
pub mod venue;

pub use ondeck_env::{ConfigError, Source};

pub use self::database::Database;
pub use self::http::{Http, RateLimit};
pub use self::redis::Redis;
pub use self::telemetry::{LogFormat, Telemetry};
pub use self::venue::Venue;

use ondeck_env::process;

#[derive(Debug, Clone)]
pub struct Config {
    pub database: Database,
    pub redis: Redis,
    pub http: Http,
    pub venue: Venue,
    pub telemetry: Telemetry,
    /// What the worker is configured with (recall, texts, storage,
    /// souvenirs, cues, concurrency): `ondeck run` and `ondeck work` hand it
    /// to the worker as it is.
    pub worker: ondeck_jobs::Settings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&process)
    }

    /// Reads every setting from `env`, applying the documented defaults.
    pub fn from_source(env: Source) -> Result<Self, ConfigError> {
        Ok(Config {
            database: Database::from_env(env)?,
            redis: Redis::from_env(env)?,
            http: Http::from_env(env)?,
            venue: Venue::from_env(env)?,
            telemetry: Telemetry::from_env(env)?,
            worker: ondeck_jobs::Settings::from_env(env)?,
        })
    }
}

/// `DATABASE_URL` alone, for the commands that only touch the database.
pub fn database_url() -> Result<secrecy::SecretString, ConfigError> {
    database::url(&process)
}

/// `SENTRY_DSN`, checked: read on its own, before the runtime starts (the
/// Sentry client must exist before the threads that report).
pub fn sentry_dsn() -> Result<Option<sentry::types::Dsn>, ConfigError> {
    telemetry::sentry_dsn(&process)
}

/// `LOG_FORMAT`, read on its own before logging starts.
pub fn log_format() -> Result<LogFormat, ConfigError> {
    telemetry::log_format(&process)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono_tz::Tz;
    use ondeck_domain::store::recall::RecallPolicy;
    use ondeck_jobs::sms::SmsSettings;
    use ondeck_media::images::souvenir::Format;
    use ondeck_media::storage::StorageSettings;

    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_source(&ondeck_env::pairs(pairs))
    }

    const BASE: [(&str, &str); 2] = [
        ("DATABASE_URL", "postgres://localhost/ondeck"),
        ("REDIS_URL", "redis://localhost"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let config = from(&BASE).expect("valid");
        assert_eq!(config.http.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(
            config.worker.recall.policy,
            RecallPolicy {
                size: 2,
                minutes: 20,
                enabled: true
            }
        );
        assert_eq!(config.worker.recall.sweep_period, Duration::from_secs(30));
        assert_eq!(config.database.read_max_lag, Duration::from_secs(5));
        assert_eq!(
            (
                config.venue.stations,
                config.worker.souvenir.size,
                config.worker.souvenir.format
            ),
            (1, 1080, Format::Jpeg)
        );
        assert!(matches!(config.worker.sms, SmsSettings::Log));
        assert_eq!(
            config.worker.storage,
            StorageSettings::Local { dir: "data".into() }
        );
        assert_eq!(config.venue.tz, Tz::UTC);
        assert_eq!(config.http.public_base_url, "http://127.0.0.1:8000");
        assert_eq!(
            config.http.rate_limit,
            Some(RateLimit {
                per_second: 20,
                burst: 100
            })
        );
        assert_eq!(config.http.player_rate_per_minute, Some(60));
        assert_eq!(config.http.request_timeout, Duration::from_secs(30));
        assert_eq!(config.http.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.http.sse_max_subscribers, 2000);
        assert_eq!(config.http.sse_max_per_token, 50);
        assert_eq!(config.database.acquire_timeout, Duration::from_secs(3));
        assert_eq!(config.database.pool_size, 8);
        assert_eq!(config.worker.concurrency, 16);
        assert_eq!(config.worker.photo_decodes, 2);
        assert!(config.worker.cues.file.is_none());
    }

    #[test]
    fn a_rate_of_zero_turns_the_limit_off() {
        let mut pairs = BASE.to_vec();
        pairs.push(("RATE_LIMIT_PER_SECOND", "0"));
        assert_eq!(from(&pairs).expect("valid").http.rate_limit, None);
        pairs.push(("PLAYER_RATE_LIMIT_PER_MINUTE", "0"));
        let config = from(&pairs).expect("valid");
        assert_eq!(config.http.player_rate_per_minute, None);
    }

    #[test]
    fn each_bad_setting_names_its_variable() {
        let cases = [
            ("RECALL_WINDOW_SIZE", "two"),
            ("RECALL_WINDOW_MINUTES", "0"),
            ("LISTEN_ADDR", "localhost"),
            ("VENUE_TZ", "Mars/Olympus"),
            ("DEFAULT_REGION", "ZZ"),
            ("RECALL_DISABLE", "maybe"),
            ("STATIONS", "-1"),
            ("SOUVENIR_FORMAT", "gif"),
            ("SMS_PROVIDER", "pigeon"),
            ("STORAGE", "ftp"),
            ("LOG_FORMAT", "xml"),
            ("CORS_ORIGINS", "not an origin"),
            ("PUBLIC_BASE_URL", "ftp://x"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_READ_URL", "mysql://x"),
            ("DATABASE_READ_MAX_LAG_SECONDS", "0"),
            ("SENTRY_DSN", "not a dsn"),
            ("METRICS_ADDR", "9100"),
            ("RATE_LIMIT_PER_SECOND", "fast"),
            ("RATE_LIMIT_BURST", "0"),
            ("REQUEST_TIMEOUT_SECONDS", "0"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "0"),
            ("SSE_MAX_SUBSCRIBERS", "-5"),
            ("SSE_MAX_PER_TOKEN", "0"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "10"),
            ("DATABASE_POOL_SIZE", "0"),
            ("REDIS_URL", "http://x"),
            ("RECALL_SWEEP_SECONDS", "0"),
            ("SOUVENIR_SIZE", "10"),
            ("WORKER_CONCURRENCY", "0"),
            ("PHOTO_DECODES", "0"),
            ("CUES_FILE", "/nonexistent/ondeck/cues.toml"),
            ("DATA_DIR_FILE", "/nonexistent/ondeck/data-dir"),
        ];
        for (var, value) in cases {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            let err = from(&pairs).expect_err(var);
            assert_eq!(
                err.var, var,
                "{var}={value} should be refused naming {var}: {err}"
            );
        }
    }

    #[test]
    fn a_file_variant_that_cannot_be_read_is_named_in_every_part() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("SMS_PROVIDER", "twilio"),
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_AUTH_TOKEN_FILE", "/nonexistent/ondeck/token"),
        ]);
        let err = from(&pairs).expect_err("unreadable token file");
        assert_eq!(err.var, "TWILIO_AUTH_TOKEN_FILE", "{err}");
        assert!(
            err.problem
                .starts_with("cannot read /nonexistent/ondeck/token"),
            "{err}"
        );
    }

    #[test]
    fn missing_required_settings_are_named() {
        assert_eq!(
            from(&[BASE[1]]).expect_err("no database").var,
            "DATABASE_URL"
        );
        assert_eq!(from(&[BASE[0]]).expect_err("no redis").var, "REDIS_URL");
    }

    #[test]
    fn file_variants_read_the_file() {
        let path = std::env::temp_dir().join(format!("ondeck-config-test-{}", std::process::id()));
        std::fs::write(&path, "redis://from-file:6379\n").expect("write temp file");
        let path_str = path.to_string_lossy().into_owned();
        let config = from(&[BASE[0], ("REDIS_URL_FILE", &path_str)]).expect("valid");
        std::fs::remove_file(&path).ok();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&config.redis.url),
            "redis://from-file:6379"
        );
        let both = from(&[BASE[0], BASE[1], ("REDIS_URL_FILE", &path_str)]).expect_err("both set");
        assert_eq!(both.var, "REDIS_URL");
        let missing =
            from(&[BASE[0], ("REDIS_URL_FILE", "/nonexistent/ondeck")]).expect_err("missing file");
        assert_eq!(missing.var, "REDIS_URL_FILE");
    }
}
