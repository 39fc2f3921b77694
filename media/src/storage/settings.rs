//! Where objects are kept, as read from the environment (`STORAGE`,
//! `DATA_DIR`, `S3_*`), and the fixed S3 credentials tests and `_FILE`
//! secrets use instead of the AWS credential chain.

use std::path::PathBuf;

use ondeck_env::{ConfigError, Source};
use secrecy::SecretString;

/// Where objects are kept, as read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// Files under `dir` (`DATA_DIR`, default `data`).
    Local { dir: PathBuf },
    /// An S3 bucket. With `endpoint` (an S3-compatible server) requests use
    /// path-style addressing. Credentials come from the usual AWS chain.
    S3 {
        bucket: String,
        region: String,
        /// `S3_ENDPOINT`, without a trailing `/`.
        endpoint: Option<String>,
        /// `S3_PUBLIC_BASE_URL`, without a trailing `/`: object URLs are
        /// `{public_base_url}/{key}`. Without it, URLs are presigned.
        public_base_url: Option<String>,
    },
}

fn http_url(var: &str, raw: &str) -> Result<String, ConfigError> {
    let ok = (raw.starts_with("http://") || raw.starts_with("https://"))
        && url::Url::parse(raw).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
    if !ok {
        return Err(ConfigError::new(
            var,
            format!("expected an http(s):// URL, got {raw:?}"),
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

impl StorageSettings {
    /// Reads `STORAGE` (`local`, the default, or `s3`), `DATA_DIR` (default
    /// `data`), and with `s3`: `S3_BUCKET` (required), `S3_REGION` (default
    /// `us-east-1`), `S3_ENDPOINT` and `S3_PUBLIC_BASE_URL` (both optional).
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        let get = |name: &str| ondeck_env::var(env, name);
        let storage = get("STORAGE")?;
        match storage.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("local") => Ok(StorageSettings::Local {
                dir: PathBuf::from(get("DATA_DIR")?.unwrap_or_else(|| "data".to_owned())),
            }),
            Some("s3") => {
                let bucket = get("S3_BUCKET")?
                    .ok_or_else(|| ConfigError::new("S3_BUCKET", "is required when STORAGE=s3"))?;
                let bucket_ok = (3..=255).contains(&bucket.len())
                    && bucket
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                if !bucket_ok {
                    return Err(ConfigError::new(
                        "S3_BUCKET",
                        format!(
                            "expected a bucket name (3 or more letters, digits, '.', '-', '_'), got {bucket:?}"
                        ),
                    ));
                }
                let region = get("S3_REGION")?.unwrap_or_else(|| "us-east-1".to_owned());
                if !region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                {
                    return Err(ConfigError::new(
                        "S3_REGION",
                        format!("expected a region such as us-east-1, got {region:?}"),
                    ));
                }
                let endpoint = get("S3_ENDPOINT")?
                    .map(|v| http_url("S3_ENDPOINT", &v))
                    .transpose()?;
                let public_base_url = get("S3_PUBLIC_BASE_URL")?
                    .map(|v| http_url("S3_PUBLIC_BASE_URL", &v))
                    .transpose()?;
                Ok(StorageSettings::S3 {
                    bucket,
                    region,
                    endpoint,
                    public_base_url,
                })
            }
            Some(_) => Err(ConfigError::new(
                "STORAGE",
                format!(
                    "expected local or s3, got {:?}",
                    storage.unwrap_or_default()
                ),
            )),
        }
    }
}

/// Fixed S3 credentials, for when the AWS credential chain is not wanted
/// (e.g. a secret read from a `_FILE`, or tests).
#[derive(Debug, Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}
