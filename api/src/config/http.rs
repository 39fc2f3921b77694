//! How the API serves: its addresses, public URL, browser origins, and the
//! limits on requests.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::HeaderValue;
use ondeck_domain::store::joins::CodeLimits;
use ondeck_env::{ConfigError, Source, bounded, seconds};

#[derive(Debug, Clone)]
pub struct Http {
    /// `LISTEN_ADDR`.
    pub listen_addr: SocketAddr,
    /// `METRICS_ADDR`: where `/metrics` is served; for `ondeck serve|run`
    /// instead of `LISTEN_ADDR` (keeping it off the public port), for
    /// `ondeck work` its own. Unset, the API serves it on `LISTEN_ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    /// `PUBLIC_BASE_URL`, without a trailing `/`; by default the listen
    /// address.
    pub public_base_url: String,
    /// `CORS_ORIGINS`: browser origins allowed to call the API.
    pub cors_origins: Vec<HeaderValue>,
    /// How long a request may take before it answers 503 (streams excepted).
    pub request_timeout: Duration,
    /// After SIGTERM, how long requests and jobs in progress may take to
    /// finish before the process exits anyway.
    pub shutdown_timeout: Duration,
    /// Open `GET /api/v1/events` streams this process serves at most.
    pub sse_max_subscribers: usize,
    /// Open `GET /api/v1/events` streams one token may hold at most.
    pub sse_max_per_token: usize,
    /// Requests per token (per client address without one); `None` when
    /// `RATE_LIMIT_PER_SECOND=0`.
    pub rate_limit: Option<RateLimit>,
    /// `PLAYER_RATE_LIMIT_PER_MINUTE`: requests to players' pages (`/p/...`)
    /// per client address and minute; `None` when 0.
    pub player_rate_per_minute: Option<u32>,
    /// `JOIN_CODES_PER_NUMBER` and `JOIN_CODES_PER_CLIENT`: join codes one
    /// number, and one client address, may ask for within an hour.
    pub join_codes: CodeLimits,
}

/// A token bucket: `per_second` requests a second on average, up to `burst`
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Http {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        let listen_addr = ondeck_env::parsed(
            env,
            "LISTEN_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8000)),
            "an address such as 127.0.0.1:8000",
        )?;
        Ok(Http {
            listen_addr,
            public_base_url: public_base_url(env, listen_addr)?,
            cors_origins: cors_origins(env)?,
            metrics_addr: ondeck_env::optional(
                env,
                "METRICS_ADDR",
                "an address such as 0.0.0.0:9100",
            )?,
            rate_limit: match (
                bounded(env, "RATE_LIMIT_PER_SECOND", 20, 0, 100_000)? as u32,
                bounded(env, "RATE_LIMIT_BURST", 100, 1, 1_000_000)? as u32,
            ) {
                (0, _) => None,
                (per_second, burst) => Some(RateLimit { per_second, burst }),
            },
            join_codes: CodeLimits {
                per_number: bounded(env, "JOIN_CODES_PER_NUMBER", 3, 1, 1_000)? as i64,
                per_client: bounded(env, "JOIN_CODES_PER_CLIENT", 20, 1, 1_000_000)? as i64,
            },
            player_rate_per_minute: match bounded(
                env,
                "PLAYER_RATE_LIMIT_PER_MINUTE",
                60,
                0,
                1_000_000,
            )? as u32
            {
                0 => None,
                n => Some(n),
            },
            request_timeout: seconds(env, "REQUEST_TIMEOUT_SECONDS", 30, 1, 3600)?,
            sse_max_subscribers: bounded(env, "SSE_MAX_SUBSCRIBERS", 2000, 1, 1_000_000)? as usize,
            sse_max_per_token: bounded(env, "SSE_MAX_PER_TOKEN", 50, 1, 1_000_000)? as usize,
            shutdown_timeout: seconds(env, "SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600)?,
        })
    }
}

fn public_base_url(env: Source, listen_addr: SocketAddr) -> Result<String, ConfigError> {
    match ondeck_env::var(env, "PUBLIC_BASE_URL")? {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        Some(url) => Err(ConfigError::new(
            "PUBLIC_BASE_URL",
            format!("expected an http(s):// URL, got {url:?}"),
        )),
        None => Ok(format!("http://{listen_addr}")),
    }
}

fn cors_origins(env: Source) -> Result<Vec<HeaderValue>, ConfigError> {
    let Some(raw) = ondeck_env::var(env, "CORS_ORIGINS")? else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| {
            o.parse()
                .ok()
                .filter(|_| o.starts_with("http://") || o.starts_with("https://"))
                .ok_or_else(|| {
                    ConfigError::new(
                        "CORS_ORIGINS",
                        format!("{o:?} is not an origin such as https://admin.example.com"),
                    )
                })
        })
        .collect()
}
