//! Object storage for photos and souvenirs.
//!
//! `STORAGE=local` (the default) keeps objects as files under `DATA_DIR`,
//! which the API serves at `/media/` to signed URLs only (see `media_key`);
//! `STORAGE=s3` keeps them in the bucket `S3_BUCKET` of an S3 (or
//! S3-compatible, with `S3_ENDPOINT`) service, and links to them through
//! `S3_PUBLIC_BASE_URL` or presigned URLs. Each lives in its own file under
//! [`backends`]; [`Storage`] checks keys (see [`keys`]) and hands each call
//! to the one the settings name.

mod backends;
mod error;
mod keys;
mod settings;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::media_key::MediaKey;
use backends::local::LocalBackend;
pub use backends::s3::PRESIGNED_URL_TTL;
use backends::s3::S3Backend;
pub use error::StorageError;
use keys::check_key;
pub use settings::{S3Credentials, StorageSettings};

/// A connected object store. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Backend>,
}

enum Backend {
    Local(LocalBackend),
    S3(S3Backend),
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Backend::Local(local) => f
                .debug_struct("Storage::Local")
                .field("dir", &local.dir)
                .finish_non_exhaustive(),
            Backend::S3(s3) => f
                .debug_struct("Storage::S3")
                .field("bucket", &s3.bucket)
                .field("public_base_url", &s3.public_base_url)
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
            Backend::Local(local) => Storage {
                inner: Arc::new(Backend::Local(local.with_media_key(key))),
            },
            Backend::S3(_) => self,
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
                Backend::Local(LocalBackend::open(dir.clone()).await?)
            }
            StorageSettings::S3 {
                bucket,
                region,
                endpoint,
                public_base_url,
            } => Backend::S3(
                S3Backend::connect(
                    bucket,
                    region,
                    endpoint.as_deref(),
                    public_base_url.as_deref(),
                    credentials,
                )
                .await?,
            ),
        };
        Ok(Storage {
            inner: Arc::new(backend),
        })
    }

    /// `"local"` or `"s3"`, for logs.
    pub fn backend(&self) -> &'static str {
        match &*self.inner {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
        }
    }

    /// The directory of local storage (what the API serves at `/media/`).
    pub fn local_dir(&self) -> Option<&Path> {
        match &*self.inner {
            Backend::Local(local) => Some(&local.dir),
            Backend::S3(_) => None,
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
            Backend::Local(local) => local.put(key, bytes).await,
            Backend::S3(s3) => s3.put(key, bytes, content_type).await,
        }
    }

    /// The object under `key` and its content type, or `None` when there is
    /// no such object.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StorageError> {
        check_key(key)?;
        match &*self.inner {
            Backend::Local(local) => local.get(key).await,
            Backend::S3(s3) => s3.get(key).await,
        }
    }

    /// A URL where a browser can fetch `key`. Local:
    /// `{public_base_url}/media/{key}?expires=...&sig=...`, signed for
    /// [`MEDIA_URL_TTL`](crate::media_key::MEDIA_URL_TTL) to two hours
    /// (`public_base_url` is the API's `PUBLIC_BASE_URL`). S3:
    /// `{S3_PUBLIC_BASE_URL}/{key}` when that is set (and `public_base_url`
    /// is unused), else a presigned GET URL valid for [`PRESIGNED_URL_TTL`].
    /// Does not check that the object exists.
    pub async fn url(&self, key: &str, public_base_url: &str) -> Result<String, StorageError> {
        check_key(key)?;
        match &*self.inner {
            Backend::Local(local) => local.url(key, public_base_url),
            Backend::S3(s3) => s3.url(key).await,
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
            Backend::Local(_) => None,
            Backend::S3(s3) => s3.public_url(key),
        }
    }

    /// The expiry (Unix seconds) of a good `/media/` signature of `key`
    /// (see [`media_key`](crate::media_key)); `None` for a bad, expired or
    /// missing one, and for any store but a local one with its key.
    pub fn verify_media(&self, key: &str, expires: &str, sig: &str) -> Option<i64> {
        match &*self.inner {
            Backend::Local(local) => local.verify_media(key, expires, sig),
            Backend::S3(_) => None,
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
        match &*self.inner {
            Backend::Local(local) => local.delete_prefixes(prefixes).await,
            Backend::S3(s3) => s3.delete_prefixes(prefixes).await,
        }
    }

    /// Readiness: the bucket answers to our credentials (S3 HeadBucket), or
    /// the directory exists and is writable (local).
    pub async fn check(&self) -> Result<(), StorageError> {
        match &*self.inner {
            Backend::Local(local) => local.check().await,
            Backend::S3(s3) => s3.check().await,
        }
    }
}
