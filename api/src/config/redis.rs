//! `REDIS_URL`: where the job queues are (the API checks it in `/readyz`).

use ondeck_env::{ConfigError, Source, required};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Redis {
    pub url: SecretString,
}

impl Redis {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        let url = required(env, "REDIS_URL")?;
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(ConfigError::new("REDIS_URL", "expected a redis:// URL"));
        }
        Ok(Redis {
            url: SecretString::from(url),
        })
    }
}
