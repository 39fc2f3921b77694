//! Object storage for photos and souvenirs (API.md section 5).
//!
//! `STORAGE=local` (the default) keeps objects as files under `DATA_DIR`,
//! which the API serves at `/media/` to signed URLs only (see `media_key`);
//! `STORAGE=s3` keeps them in the bucket `S3_BUCKET` of an S3 (or
//! S3-compatible, with `S3_ENDPOINT`) service, and links to them through
//! `S3_PUBLIC_BASE_URL` or presigned URLs.
//!
//! Keys are relative paths such as `souvenirs/{game_id}.jpg`: ASCII letters,
//! digits, `.`, `_`, `-` and `/`, no `..`, no empty segment and no segment
//! starting with a dot. Both backends refuse other keys, so a key that works
//! locally works on S3 and the other way round.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{
    Credentials, ProvideCredentials as _, Region, RequestChecksumCalculation,
    ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use ondeck_env::{ConfigError, Source};
use secrecy::{ExposeSecret as _, SecretString};

use crate::media_key::{self, MediaKey};

/// How long a presigned GET URL stays valid.
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(3600);

/// Longest key accepted (S3's own limit).
const MAX_KEY_LEN: usize = 1024;

// --- settings ------------------------------------------------------------------

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
        && reqwest::Url::parse(raw).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
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

// --- errors --------------------------------------------------------------------

/// A failed storage operation. Messages name the operation and the key or
/// path, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is not one this module accepts (see the module docs).
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    /// A local file operation failed.
    #[error("{op} {}: {error}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// Local storage was opened without the key that signs its URLs (see
    /// [`Storage::open`]).
    #[error("cannot link to {key}: local storage has no media signing key")]
    Unsigned { key: String },
    /// An S3 request failed.
    #[error("S3 {op} {target}: {detail}")]
    S3 {
        op: &'static str,
        target: String,
        detail: String,
    },
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_owned();
    move |error| StorageError::Io { op, path, error }
}

/// Describes an SDK error from its status, error code and message only: the
/// full error (and its Debug form) carries the raw response, which we keep
/// out of messages.
fn s3_error<E>(op: &'static str, target: String, err: &SdkError<E>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("HTTP {status}, {code}: {message}"),
                (Some(code), None) => format!("HTTP {status}, {code}"),
                _ => format!("HTTP {status}"),
            }
        }
        other => DisplayErrorContext(other).to_string(),
    };
    StorageError::S3 { op, target, detail }
}

/// Checks a key (see the module docs).
fn check_key(key: &str) -> Result<(), StorageError> {
    let invalid = |reason: String| {
        Err(StorageError::InvalidKey {
            key: key.chars().take(200).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("it is empty".to_owned());
    }
    if key.len() > MAX_KEY_LEN {
        return invalid(format!("it is longer than {MAX_KEY_LEN} bytes"));
    }
    if key.starts_with('/') {
        return invalid("it is an absolute path".to_owned());
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return invalid(format!(
            "{c:?} is not allowed (only A-Z a-z 0-9 . _ - and /)"
        ));
    }
    if key.contains("..") {
        return invalid("it contains \"..\"".to_owned());
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("it has an empty path segment".to_owned());
        }
        if segment.starts_with('.') {
            return invalid("a path segment starts with '.'".to_owned());
        }
    }
    Ok(())
}

/// The content type of a local file, from its extension.
fn content_type_of(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(f: F) -> std::io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

/// A temporary file name next to `path`: hidden (so no valid key names it)
/// and unique.
fn temp_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!(".{stem}.{:016x}.tmp", rand::random::<u64>()))
}

/// Writes `bytes` to `path` so that readers see either the old content or
/// the new, never a part: a temporary file in the same directory, synced,
/// then renamed over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let temp = temp_path(parent, name);
    let written = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
        return written;
    }
    // Make the rename itself durable; best effort (not every platform can
    // open a directory for syncing).
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Splits a prefix such as `photos/12-` into its folder, a valid key, and
/// the start of a name.
fn split_prefix(prefix: &str) -> Result<(&str, &str), StorageError> {
    let Some((folder, start)) = prefix.rsplit_once('/') else {
        return Err(StorageError::InvalidKey {
            key: prefix.chars().take(200).collect(),
            reason: "a prefix needs a directory part".to_owned(),
        });
    };
    check_key(folder)?;
    if !start.is_empty() {
        check_key(start)?;
    }
    Ok((folder, start))
}

/// Deletes the files of `folder` whose name starts with one of `starts`
/// (start -> the caller's index); returns each index's count, or the file
/// that could not be deleted. A missing folder holds nothing.
#[allow(clippy::type_complexity)]
fn delete_matching(
    folder: &Path,
    starts: &std::collections::HashMap<String, usize>,
) -> std::io::Result<Vec<(usize, Result<usize, (PathBuf, std::io::Error)>)>> {
    let mut results: std::collections::HashMap<usize, Result<usize, (PathBuf, std::io::Error)>> =
        starts.values().map(|&i| (i, Ok(0))).collect();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(results.into_iter().collect());
        }
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Every start the name begins with (names are short).
        let matching = name
            .char_indices()
            .map(|(at, c)| &name[..at + c.len_utf8()])
            .filter_map(|head| starts.get(head));
        let matching: Vec<usize> = matching.copied().collect();
        if matching.is_empty() {
            continue;
        }
        let removed = std::fs::remove_file(entry.path());
        for i in matching {
            let slot = results.entry(i).or_insert(Ok(0));
            match &removed {
                Ok(()) => {
                    if let Ok(n) = slot {
                        *n += 1;
                    }
                }
                Err(e) => {
                    *slot = Err((entry.path(), std::io::Error::new(e.kind(), e.to_string())));
                }
            }
        }
    }
    Ok(results.into_iter().collect())
}

async fn s3_delete_prefix(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<usize, StorageError> {
    let target = || format!("{bucket}/{prefix}");
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error("ListObjectsV2", target(), &e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    for key in &keys {
        client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", format!("{bucket}/{key}"), &e))?;
    }
    Ok(keys.len())
}

// --- the store -----------------------------------------------------------------

/// A connected object store. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Backend>,
}

enum Backend {
    Local {
        dir: PathBuf,
        /// Signs and verifies `/media/` URLs; `None` when opened with
        /// [`Storage::connect`] (no URLs, e.g. for `ondeck purge`).
        media_key: Option<MediaKey>,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        public_base_url: Option<String>,
    },
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Backend::Local { dir, .. } => f
                .debug_struct("Storage::Local")
                .field("dir", dir)
                .finish_non_exhaustive(),
            Backend::S3 {
                bucket,
                public_base_url,
                ..
            } => f
                .debug_struct("Storage::S3")
                .field("bucket", bucket)
                .field("public_base_url", public_base_url)
                .finish_non_exhaustive(),
        }
    }
}

impl Storage {
    /// [`Storage::connect`], and for local storage the key that signs its
    /// `/media/` URLs, from the database (created on first use). What the
    /// API and the worker use.
    pub async fn open(settings: &StorageSettings, db: &sqlx::PgPool) -> anyhow::Result<Storage> {
        let storage = Self::connect(settings).await?;
        if storage.local_dir().is_none() {
            return Ok(storage);
        }
        let key = MediaKey::load(db)
            .await
            .context("cannot read the media signing key (has `ondeck migrate` run?)")?;
        Ok(storage.with_media_key(key))
    }

    /// This store, signing local URLs with `key` (S3 stores are unchanged).
    pub fn with_media_key(self, key: MediaKey) -> Storage {
        match &*self.inner {
            Backend::Local { dir, .. } => Storage {
                inner: Arc::new(Backend::Local {
                    dir: dir.clone(),
                    media_key: Some(key),
                }),
            },
            Backend::S3 { .. } => self,
        }
    }

    /// Opens the store: for `Local`, creates the directory; for `S3`, loads
    /// the AWS configuration and credentials from the usual chain
    /// (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, web identity,
    /// container and instance metadata) and fails when there are none.
    /// It does not contact the bucket: [`Storage::check`] does.
    pub async fn connect(settings: &StorageSettings) -> anyhow::Result<Storage> {
        Self::connect_with_credentials(settings, None).await
    }

    /// Like [`Storage::connect`], with fixed S3 credentials instead of the
    /// AWS chain when `credentials` is given (ignored for local storage).
    pub async fn connect_with_credentials(
        settings: &StorageSettings,
        credentials: Option<S3Credentials>,
    ) -> anyhow::Result<Storage> {
        let backend = match settings {
            StorageSettings::Local { dir } => {
                let dir = dir.clone();
                let created = dir.clone();
                blocking(move || std::fs::create_dir_all(&created))
                    .await
                    .with_context(|| format!("DATA_DIR: cannot create {}", dir.display()))?;
                Backend::Local {
                    dir,
                    media_key: None,
                }
            }
            StorageSettings::S3 {
                bucket,
                region,
                endpoint,
                public_base_url,
            } => {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(region.clone()));
                if let Some(c) = credentials {
                    loader = loader.credentials_provider(Credentials::new(
                        c.access_key_id,
                        c.secret_access_key.expose_secret(),
                        None,
                        None,
                        "ondeck-static",
                    ));
                }
                let shared = loader.load().await;
                let provider = shared
                    .credentials_provider()
                    .context("S3: no AWS credential provider is configured")?;
                // Fail at start-up rather than on the first upload.
                provider.provide_credentials().await.map_err(|e| {
                    anyhow::anyhow!(
                        "S3: no AWS credentials found (set AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY, or another source of the AWS credential chain): {}",
                        DisplayErrorContext(&e)
                    )
                })?;
                let mut config = aws_sdk_s3::config::Builder::from(&shared);
                if let Some(endpoint) = endpoint {
                    // S3-compatible servers: bucket in the path, and checksums
                    // only where S3 requires them (many servers reject the
                    // SDK's default trailing checksums).
                    config = config
                        .endpoint_url(endpoint)
                        .force_path_style(true)
                        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
                }
                Backend::S3 {
                    client: aws_sdk_s3::Client::from_conf(config.build()),
                    bucket: bucket.clone(),
                    public_base_url: public_base_url
                        .as_ref()
                        .map(|u| u.trim_end_matches('/').to_owned()),
                }
            }
        };
        Ok(Storage {
            inner: Arc::new(backend),
        })
    }

    /// `"local"` or `"s3"`, for logs.
    pub fn backend(&self) -> &'static str {
        match &*self.inner {
            Backend::Local { .. } => "local",
            Backend::S3 { .. } => "s3",
        }
    }

    /// The directory of local storage (what the API serves at `/media/`).
    pub fn local_dir(&self) -> Option<&Path> {
        match &*self.inner {
            Backend::Local { dir, .. } => Some(dir),
            Backend::S3 { .. } => None,
        }
    }

    /// Stores `bytes` under `key`, replacing any previous object. Locally the
    /// write is atomic (temporary file + rename) and `content_type` is not
    /// kept: [`Storage::get`] derives it from the key's extension.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        check_key(key)?;
        match &*self.inner {
            Backend::Local { dir, .. } => {
                let path = dir.join(key);
                let target = path.clone();
                blocking(move || write_atomically(&target, &bytes))
                    .await
                    .map_err(io_error("writing", &path))
            }
            Backend::S3 { client, bucket, .. } => client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map(drop)
                .map_err(|e| s3_error("PutObject", format!("{bucket}/{key}"), &e)),
        }
    }

    /// The object under `key` and its content type, or `None` when there is
    /// no such object.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StorageError> {
        check_key(key)?;
        match &*self.inner {
            Backend::Local { dir, .. } => {
                let path = dir.join(key);
                let source = path.clone();
                let read = blocking(move || match std::fs::read(&source) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::NotFound
                                | std::io::ErrorKind::IsADirectory
                                | std::io::ErrorKind::NotADirectory
                        ) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                })
                .await
                .map_err(io_error("reading", &path))?;
                Ok(read.map(|bytes| (bytes, content_type_of(key).to_owned())))
            }
            Backend::S3 { client, bucket, .. } => {
                let target = || format!("{bucket}/{key}");
                let output = match client.get_object().bucket(bucket).key(key).send().await {
                    Ok(output) => output,
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                        return Ok(None);
                    }
                    Err(e) => return Err(s3_error("GetObject", target(), &e)),
                };
                let content_type = output
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = output
                    .body
                    .collect()
                    .await
                    .map_err(|e| StorageError::S3 {
                        op: "GetObject",
                        target: target(),
                        detail: format!("reading the body: {}", DisplayErrorContext(&e)),
                    })?
                    .into_bytes()
                    .to_vec();
                Ok(Some((bytes, content_type)))
            }
        }
    }

    /// A URL where a browser can fetch `key`. Local:
    /// `{public_base_url}/media/{key}?expires=...&sig=...`, signed for
    /// [`media_key::MEDIA_URL_TTL`] to two hours (`public_base_url` is the
    /// API's `PUBLIC_BASE_URL`). S3:
    /// `{S3_PUBLIC_BASE_URL}/{key}` when that is set (and `public_base_url`
    /// is unused), else a presigned GET URL valid for [`PRESIGNED_URL_TTL`].
    /// Does not check that the object exists.
    pub async fn url(&self, key: &str, public_base_url: &str) -> Result<String, StorageError> {
        check_key(key)?;
        match &*self.inner {
            Backend::Local {
                media_key: Some(media_key),
                ..
            } => Ok(format!(
                "{}/media/{key}?{}",
                public_base_url.trim_end_matches('/'),
                media_key.query(key, media_key::now())
            )),
            Backend::Local {
                media_key: None, ..
            } => Err(StorageError::Unsigned {
                key: key.to_owned(),
            }),
            Backend::S3 {
                public_base_url: Some(base),
                ..
            } => Ok(format!("{base}/{key}")),
            Backend::S3 {
                client,
                bucket,
                public_base_url: None,
            } => {
                let target = || format!("{bucket}/{key}");
                let presigning = PresigningConfig::expires_in(PRESIGNED_URL_TTL).map_err(|e| {
                    StorageError::S3 {
                        op: "presigning GetObject",
                        target: target(),
                        detail: e.to_string(),
                    }
                })?;
                let request = client
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .presigned(presigning)
                    .await
                    .map_err(|e| s3_error("presigning GetObject", target(), &e))?;
                Ok(request.uri().to_owned())
            }
        }
    }

    /// A lasting public URL for `key`, when the store has one: S3 with
    /// `S3_PUBLIC_BASE_URL` (`{S3_PUBLIC_BASE_URL}/{key}`). `None` for local
    /// storage and S3 without it (their URLs expire: link to something that
    /// calls [`Storage::url`] when it is followed, such as a short link) and
    /// for an invalid key.
    pub fn public_url(&self, key: &str) -> Option<String> {
        check_key(key).ok()?;
        match &*self.inner {
            Backend::Local { .. } => None,
            Backend::S3 {
                public_base_url, ..
            } => public_base_url.as_ref().map(|base| format!("{base}/{key}")),
        }
    }

    /// The expiry (Unix seconds) of a good `/media/` signature of `key`
    /// (see [`media_key`]); `None` for a bad, expired or missing one, and
    /// for any store but a local one with its key.
    pub fn verify_media(&self, key: &str, expires: &str, sig: &str) -> Option<i64> {
        match &*self.inner {
            Backend::Local {
                media_key: Some(media_key),
                ..
            } => media_key.verify(key, expires, sig, media_key::now()),
            _ => None,
        }
    }

    /// Deletes every object whose key starts with `prefix` (a directory
    /// part that is a valid key, then the start of a name, e.g.
    /// `photos/12-`) and returns how many were deleted. Deleting nothing is
    /// not an error, so a repeat is harmless. Used by `ondeck purge`.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let mut outcomes = self.delete_prefixes(&[prefix.to_owned()]).await;
        outcomes.pop().unwrap_or(Ok(0))
    }

    /// [`Storage::delete_prefix`] for many prefixes at once, each with its
    /// own outcome, in order. Locally each folder is read once, however
    /// many prefixes name it.
    pub async fn delete_prefixes(&self, prefixes: &[String]) -> Vec<Result<usize, StorageError>> {
        let mut outcomes: Vec<Result<usize, StorageError>> =
            prefixes.iter().map(|_| Ok(0)).collect();
        match &*self.inner {
            Backend::Local { dir, .. } => {
                // folder -> start of a name -> the prefix's index
                let mut folders: std::collections::BTreeMap<
                    &str,
                    std::collections::HashMap<String, usize>,
                > = Default::default();
                for (i, prefix) in prefixes.iter().enumerate() {
                    match split_prefix(prefix) {
                        Ok((folder, start)) => {
                            folders
                                .entry(folder)
                                .or_default()
                                .insert(start.to_owned(), i);
                        }
                        Err(e) => outcomes[i] = Err(e),
                    }
                }
                for (folder, starts) in folders {
                    let path = dir.join(folder);
                    let listed = path.clone();
                    let deleted = blocking(move || delete_matching(&listed, &starts)).await;
                    match deleted {
                        Ok(results) => {
                            for (i, result) in results {
                                outcomes[i] = result.map_err(|(file, error)| StorageError::Io {
                                    op: "deleting",
                                    path: file,
                                    error,
                                });
                            }
                        }
                        Err(e) => {
                            // The folder itself could not be read: every
                            // prefix in it failed the same way.
                            for (i, prefix) in prefixes.iter().enumerate() {
                                if split_prefix(prefix).is_ok_and(|(f, _)| f == folder) {
                                    outcomes[i] = Err(StorageError::Io {
                                        op: "listing",
                                        path: path.clone(),
                                        error: std::io::Error::new(e.kind(), e.to_string()),
                                    });
                                }
                            }
                        }
                    }
                }
            }
            Backend::S3 { client, bucket, .. } => {
                for (i, prefix) in prefixes.iter().enumerate() {
                    outcomes[i] = match split_prefix(prefix) {
                        Ok(_) => s3_delete_prefix(client, bucket, prefix).await,
                        Err(e) => Err(e),
                    };
                }
            }
        }
        outcomes
    }

    /// Readiness: the bucket answers to our credentials (S3 HeadBucket), or
    /// the directory exists and is writable (local).
    pub async fn check(&self) -> Result<(), StorageError> {
        match &*self.inner {
            Backend::Local { dir, .. } => {
                let probe_dir = dir.clone();
                blocking(move || {
                    std::fs::create_dir_all(&probe_dir)?;
                    let probe = temp_path(&probe_dir, "check");
                    let written =
                        std::fs::File::create_new(&probe).and_then(|mut f| f.write_all(b"ok"));
                    let _ = std::fs::remove_file(&probe);
                    written
                })
                .await
                .map_err(io_error("checking that it can write to", dir))
            }
            Backend::S3 { client, bucket, .. } => client
                .head_bucket()
                .bucket(bucket)
                .send()
                .await
                .map(drop)
                .map_err(|e| s3_error("HeadBucket", bucket.clone(), &e)),
        }
    }
}
