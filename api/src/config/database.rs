//! `DATABASE_*`: the primary, the replica reads may go to, and the pools.

use std::time::Duration;

use ondeck_env::{ConfigError, Source, bounded, required, seconds};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Database {
    /// `DATABASE_URL`: the primary.
    pub url: SecretString,
    /// `DATABASE_READ_URL`: a replica for lists and detail reads.
    pub read_url: Option<SecretString>,
    /// A replica further behind than this is not read from.
    pub read_max_lag: Duration,
    /// Connections per pool. Past a few per core, more connections only make
    /// PostgreSQL switch between them (measured in bench/lifecycle).
    pub pool_size: u32,
    /// How long a request waits for a connection of the primary's pool.
    pub acquire_timeout: Duration,
}

impl Database {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        Ok(Database {
            url: url(env)?,
            read_url: ondeck_env::var(env, "DATABASE_READ_URL")?
                .map(|v| postgres_url("DATABASE_READ_URL", v))
                .transpose()?,
            read_max_lag: seconds(env, "DATABASE_READ_MAX_LAG_SECONDS", 5, 1, 3600)?,
            pool_size: bounded(env, "DATABASE_POOL_SIZE", 8, 1, 500)? as u32,
            acquire_timeout: Duration::from_millis(bounded(
                env,
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                3000,
                100,
                60_000,
            )?),
        })
    }
}

/// `DATABASE_URL` alone, for the commands that only touch the database.
pub fn url(env: Source) -> Result<SecretString, ConfigError> {
    postgres_url("DATABASE_URL", required(env, "DATABASE_URL")?)
}

fn postgres_url(name: &str, value: String) -> Result<SecretString, ConfigError> {
    if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
        return Err(ConfigError::new(name, "expected a postgres:// URL"));
    }
    Ok(SecretString::from(value))
}
