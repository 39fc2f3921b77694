//! Configuration from the environment (API.md section 6), checked at start-up.
//! Every variable `X` may instead be given as `X_FILE`, naming a file that
//! holds it (Docker secrets). A bad value stops start-up with one line that
//! names the variable.

use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;
use ondeck_domain::phone::Region;
use ondeck_domain::store::recall::RecallPolicy;
use ondeck_jobs::images::souvenir::Format;
use ondeck_jobs::sms::SmsSettings;
use ondeck_jobs::storage::StorageSettings;
use secrecy::SecretString;

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

fn problem(var: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.to_owned(),
        problem: problem.into(),
    }
}

/// Where settings come from: the process environment, or a map in tests.
pub type Source<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads `name`, or the file `name_FILE` points at. Empty counts as unset.
pub fn var(env: Source, name: &str) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = env(name).filter(|v| !v.trim().is_empty());
    let file = env(&file_var).filter(|v| !v.trim().is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(problem(
            name,
            format!("set either {name} or {file_var}, not both"),
        )),
        (Some(v), None) => Ok(Some(v.trim().to_owned())),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
            Ok(_) => Err(problem(&file_var, format!("{path} is empty"))),
            Err(e) => Err(problem(&file_var, format!("cannot read {path}: {e}"))),
        },
        (None, None) => Ok(None),
    }
}

pub fn required(env: Source, name: &str) -> Result<String, ConfigError> {
    var(env, name)?.ok_or_else(|| problem(name, "is required but not set"))
}

fn parsed<T>(env: Source, name: &str, default: T, expect: &str) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
{
    match var(env, name)? {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| problem(name, format!("expected {expect}, got {raw:?}"))),
    }
}

fn bounded(env: Source, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    let value: u64 = parsed(
        env,
        name,
        default,
        &format!("a whole number from {min} to {max}"),
    )?;
    if value < min || value > max {
        return Err(problem(
            name,
            format!("expected a whole number from {min} to {max}, got {value}"),
        ));
    }
    Ok(value)
}

fn boolean(env: Source, name: &str) -> Result<bool, ConfigError> {
    match var(env, name)?
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(problem(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

fn postgres_url(name: &str, value: String) -> Result<SecretString, ConfigError> {
    if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
        return Err(problem(name, "expected a postgres:// URL"));
    }
    Ok(SecretString::from(value))
}

fn choice(
    env: Source,
    name: &str,
    default: &'static str,
    allowed: &[&'static str],
) -> Result<&'static str, ConfigError> {
    match var(env, name)? {
        None => Ok(default),
        Some(raw) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&raw))
            .copied()
            .ok_or_else(|| {
                problem(
                    name,
                    format!("expected one of {}, got {raw:?}", allowed.join(", ")),
                )
            }),
    }
}

/// `DATABASE_URL` alone, for the commands that only touch the database.
pub fn database_url() -> Result<SecretString, ConfigError> {
    postgres_url("DATABASE_URL", required(&process_env, "DATABASE_URL")?)
}

/// `SENTRY_DSN`, checked: read on its own, before the runtime starts (the
/// Sentry client must exist before the threads that report).
pub fn sentry_dsn() -> Result<Option<sentry::types::Dsn>, ConfigError> {
    sentry_dsn_from(&process_env)
}

fn sentry_dsn_from(env: Source) -> Result<Option<sentry::types::Dsn>, ConfigError> {
    var(env, "SENTRY_DSN")?
        .map(|v| {
            v.parse::<sentry::types::Dsn>().map_err(|_| {
                problem(
                    "SENTRY_DSN",
                    "expected a Sentry DSN like https://KEY@HOST/PROJECT",
                )
            })
        })
        .transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn log_format() -> Result<LogFormat, ConfigError> {
    log_format_from(&process_env)
}

fn log_format_from(env: Source) -> Result<LogFormat, ConfigError> {
    Ok(
        match choice(env, "LOG_FORMAT", "text", &["text", "json"])? {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        },
    )
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: SecretString,
    pub database_read_url: Option<SecretString>,
    /// A replica further behind than this is not read from.
    pub database_read_max_lag: Duration,
    /// Connections per pool. Past a few per core, more connections only make
    /// PostgreSQL switch between them (measured in bench/lifecycle).
    pub database_pool_size: u32,
    pub redis_url: SecretString,
    pub listen_addr: SocketAddr,
    /// `METRICS_ADDR`: where `/metrics` is served; for `ondeck serve|run`
    /// instead of `LISTEN_ADDR` (keeping it off the public port), for
    /// `ondeck work` its own. Unset, the API serves it on `LISTEN_ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    pub public_base_url: String,
    pub venue_tz: Tz,
    pub default_region: Region,
    pub recall: RecallPolicy,
    pub recall_sweep: Duration,
    pub stations: u32,
    pub souvenir_size: u32,
    pub souvenir_format: Format,
    pub sms: SmsSettings,
    pub storage: StorageSettings,
    /// Jobs run at once per queue in a worker process (`WORKER_CONCURRENCY`).
    pub worker_concurrency: usize,
    pub sentry_dsn: Option<SecretString>,
    pub log_format: LogFormat,
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// `CUES_FILE`, parsed and checked at start.
    pub cues: Option<std::sync::Arc<ondeck_jobs::cues::CueFile>>,
    /// `DMX_DEVICE`: the worker of this process drives the DMX interface.
    pub dmx_device: Option<std::path::PathBuf>,
    pub cues_webhook_secret: Option<SecretString>,
    /// Requests per token (per client address without one); `None` when
    /// `RATE_LIMIT_PER_SECOND=0`.
    pub rate_limit: Option<RateLimit>,
    /// How long a request may take before it answers 503 (streams excepted).
    pub request_timeout: Duration,
    /// Open `GET /api/v1/events` streams this process serves at most.
    pub sse_max_subscribers: usize,
    /// How long a request waits for a connection of the primary's pool.
    pub database_acquire_timeout: Duration,
    /// After SIGTERM, how long requests and jobs in progress may take to
    /// finish before the process exits anyway.
    pub shutdown_timeout: Duration,
}

/// A token bucket: `per_second` requests a second on average, up to `burst`
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&process_env)
    }

    /// Reads every setting from `env`, applying API.md's defaults.
    pub fn from_source(env: Source) -> Result<Self, ConfigError> {
        // The jobs crate reads its own settings through a plain lookup; a
        // `_FILE` problem met there is reported as ours.
        let file_problem = std::cell::RefCell::new(None);
        let resolved = |name: &str| match var(env, name) {
            Ok(value) => value,
            Err(e) => {
                file_problem.borrow_mut().get_or_insert(e);
                None
            }
        };
        let listen_addr: SocketAddr = parsed(
            env,
            "LISTEN_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8000)),
            "an address such as 127.0.0.1:8000",
        )?;
        let public_base_url = match var(env, "PUBLIC_BASE_URL")? {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => {
                return Err(problem(
                    "PUBLIC_BASE_URL",
                    format!("expected an http(s):// URL, got {url:?}"),
                ));
            }
            None => format!("http://{listen_addr}"),
        };
        let redis_url = required(env, "REDIS_URL")?;
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(problem("REDIS_URL", "expected a redis:// URL"));
        }
        let cors_origins = var(env, "CORS_ORIGINS")?
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        o.parse()
                            .ok()
                            .filter(|_| o.starts_with("http://") || o.starts_with("https://"))
                            .ok_or_else(|| {
                                problem(
                                    "CORS_ORIGINS",
                                    format!(
                                        "{o:?} is not an origin such as https://admin.example.com"
                                    ),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let config = Config {
            database_url: postgres_url("DATABASE_URL", required(env, "DATABASE_URL")?)?,
            database_read_url: var(env, "DATABASE_READ_URL")?
                .map(|v| postgres_url("DATABASE_READ_URL", v))
                .transpose()?,
            database_read_max_lag: Duration::from_secs(bounded(
                env,
                "DATABASE_READ_MAX_LAG_SECONDS",
                5,
                1,
                3600,
            )?),
            database_pool_size: bounded(env, "DATABASE_POOL_SIZE", 8, 1, 500)? as u32,
            redis_url: SecretString::from(redis_url),
            listen_addr,
            metrics_addr: var(env, "METRICS_ADDR")?
                .map(|raw| {
                    raw.parse().map_err(|_| {
                        problem(
                            "METRICS_ADDR",
                            format!("expected an address such as 0.0.0.0:9100, got {raw:?}"),
                        )
                    })
                })
                .transpose()?,
            public_base_url,
            venue_tz: parsed(
                env,
                "VENUE_TZ",
                Tz::UTC,
                "an IANA time zone such as America/New_York",
            )?,
            default_region: match var(env, "DEFAULT_REGION")? {
                None => Region::default(),
                Some(raw) => raw
                    .parse()
                    .map_err(|e: String| problem("DEFAULT_REGION", e))?,
            },
            recall: RecallPolicy {
                size: bounded(env, "RECALL_WINDOW_SIZE", 2, 0, 1000)? as i64,
                minutes: bounded(env, "RECALL_WINDOW_MINUTES", 20, 1, 24 * 60)? as i64,
                enabled: !boolean(env, "RECALL_DISABLE")?,
            },
            recall_sweep: Duration::from_secs(bounded(env, "RECALL_SWEEP_SECONDS", 30, 1, 86_400)?),
            stations: bounded(env, "STATIONS", 1, 1, 1000)? as u32,
            souvenir_size: bounded(env, "SOUVENIR_SIZE", 1080, 64, 4096)? as u32,
            souvenir_format: match choice(env, "SOUVENIR_FORMAT", "jpeg", &["jpeg", "png"])? {
                "png" => Format::Png,
                _ => Format::Jpeg,
            },
            sms: SmsSettings::from_lookup(&resolved).map_err(|e| problem(&e.var, e.problem))?,
            storage: StorageSettings::from_env(&resolved)
                .map_err(|e| problem(&e.var, e.problem))?,
            worker_concurrency: bounded(env, "WORKER_CONCURRENCY", 16, 1, 1000)? as usize,
            sentry_dsn: sentry_dsn_from(env)?.map(|dsn| SecretString::from(dsn.to_string())),
            log_format: log_format_from(env)?,
            cors_origins,
            cues: var(env, "CUES_FILE")?
                .map(|path| {
                    ondeck_jobs::cues::CueFile::load(std::path::Path::new(&path))
                        .map(std::sync::Arc::new)
                        .map_err(|e| problem("CUES_FILE", format!("{e:#}")))
                })
                .transpose()?,
            dmx_device: var(env, "DMX_DEVICE")?.map(std::path::PathBuf::from),
            cues_webhook_secret: var(env, "CUES_WEBHOOK_SECRET")?.map(SecretString::from),
            rate_limit: match (
                bounded(env, "RATE_LIMIT_PER_SECOND", 20, 0, 100_000)? as u32,
                bounded(env, "RATE_LIMIT_BURST", 100, 1, 1_000_000)? as u32,
            ) {
                (0, _) => None,
                (per_second, burst) => Some(RateLimit { per_second, burst }),
            },
            request_timeout: Duration::from_secs(bounded(
                env,
                "REQUEST_TIMEOUT_SECONDS",
                30,
                1,
                3600,
            )?),
            sse_max_subscribers: bounded(env, "SSE_MAX_SUBSCRIBERS", 2000, 1, 1_000_000)? as usize,
            database_acquire_timeout: Duration::from_millis(bounded(
                env,
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                3000,
                100,
                60_000,
            )?),
            shutdown_timeout: Duration::from_secs(bounded(
                env,
                "SHUTDOWN_TIMEOUT_SECONDS",
                30,
                1,
                3600,
            )?),
        };
        if let Some(e) = file_problem.into_inner() {
            return Err(e);
        }
        Ok(config)
    }

    /// What a worker process needs of these settings.
    pub fn worker_settings(&self) -> ondeck_jobs::Settings {
        ondeck_jobs::Settings {
            redis_url: self.redis_url.clone(),
            public_base_url: self.public_base_url.clone(),
            sms: self.sms.clone(),
            storage: self.storage.clone(),
            souvenir_size: self.souvenir_size,
            souvenir_format: self.souvenir_format,
            recall: self.recall,
            sweep_period: self.recall_sweep,
            concurrency: self.worker_concurrency,
            cues: self.cues.clone(),
            dmx_device: self.dmx_device.clone(),
            webhook_secret: self.cues_webhook_secret.clone(),
            shutdown_timeout: self.shutdown_timeout,
        }
    }

    /// The IANA name of `VENUE_TZ`, as PostgreSQL's `AT TIME ZONE` takes it.
    pub fn tz_name(&self) -> &'static str {
        self.venue_tz.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_source(&move |k: &str| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        ("DATABASE_URL", "postgres://localhost/ondeck"),
        ("REDIS_URL", "redis://localhost"),
    ];

    #[test]
    fn defaults_follow_the_contract() {
        let config = from(&BASE).expect("valid");
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(
            config.recall,
            RecallPolicy {
                size: 2,
                minutes: 20,
                enabled: true
            }
        );
        assert_eq!(config.recall_sweep, Duration::from_secs(30));
        assert_eq!(config.database_read_max_lag, Duration::from_secs(5));
        assert_eq!(
            (
                config.stations,
                config.souvenir_size,
                config.souvenir_format
            ),
            (1, 1080, Format::Jpeg)
        );
        assert!(matches!(config.sms, SmsSettings::Log));
        assert_eq!(
            config.storage,
            StorageSettings::Local { dir: "data".into() }
        );
        assert_eq!(config.venue_tz, Tz::UTC);
        assert_eq!(config.public_base_url, "http://127.0.0.1:8000");
        assert_eq!(
            config.rate_limit,
            Some(RateLimit {
                per_second: 20,
                burst: 100
            })
        );
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.sse_max_subscribers, 2000);
        assert_eq!(config.database_acquire_timeout, Duration::from_secs(3));
    }

    #[test]
    fn a_rate_of_zero_turns_the_limit_off() {
        let mut pairs = BASE.to_vec();
        pairs.push(("RATE_LIMIT_PER_SECOND", "0"));
        assert_eq!(from(&pairs).expect("valid").rate_limit, None);
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
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "10"),
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
            secrecy::ExposeSecret::expose_secret(&config.redis_url),
            "redis://from-file:6379"
        );
        let both = from(&[BASE[0], BASE[1], ("REDIS_URL_FILE", &path_str)]).expect_err("both set");
        assert_eq!(both.var, "REDIS_URL");
        let missing =
            from(&[BASE[0], ("REDIS_URL_FILE", "/nonexistent/ondeck")]).expect_err("missing file");
        assert_eq!(missing.var, "REDIS_URL_FILE");
    }
}
