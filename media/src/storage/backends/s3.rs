//! S3 storage: objects in a bucket of S3 or an S3-compatible server, linked
//! to through a public base URL or presigned GET URLs.

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
use secrecy::ExposeSecret as _;

use crate::storage::error::StorageError;
use crate::storage::keys::split_prefix;
use crate::storage::settings::S3Credentials;

/// How long a presigned GET URL stays valid.
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(3600);

/// A bucket and the client that reaches it.
pub(crate) struct S3Backend {
    client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    /// `S3_PUBLIC_BASE_URL`, without a trailing `/`.
    pub(crate) public_base_url: Option<String>,
}

impl S3Backend {
    /// Loads the AWS configuration, with `credentials` instead of the usual
    /// chain when given, and fails when there are no credentials. It does
    /// not contact the bucket.
    pub(crate) async fn connect(
        bucket: &str,
        region: &str,
        endpoint: Option<&str>,
        public_base_url: Option<&str>,
        credentials: Option<S3Credentials>,
    ) -> anyhow::Result<S3Backend> {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
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
            // S3-compatible servers: bucket in the path, and checksums only
            // where S3 requires them (many servers reject the SDK's default
            // trailing checksums).
            config = config
                .endpoint_url(endpoint)
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(S3Backend {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: bucket.to_owned(),
            public_base_url: public_base_url.map(|u| u.trim_end_matches('/').to_owned()),
        })
    }

    /// PutObject of `bytes` under `key` (a checked key).
    pub(crate) async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let bucket = &self.bucket;
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(drop)
            .map_err(|e| s3_error("PutObject", format!("{bucket}/{key}"), &e))
    }

    /// The object under `key` (a checked key) and its content type; `None`
    /// when there is no such object.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StorageError> {
        let bucket = &self.bucket;
        let target = || format!("{bucket}/{key}");
        let output = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
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

    /// `{S3_PUBLIC_BASE_URL}/{key}` when that is set, else a presigned GET
    /// URL valid for [`PRESIGNED_URL_TTL`].
    pub(crate) async fn url(&self, key: &str) -> Result<String, StorageError> {
        if let Some(base) = &self.public_base_url {
            return Ok(format!("{base}/{key}"));
        }
        let bucket = &self.bucket;
        let target = || format!("{bucket}/{key}");
        let presigning =
            PresigningConfig::expires_in(PRESIGNED_URL_TTL).map_err(|e| StorageError::S3 {
                op: "presigning GetObject",
                target: target(),
                detail: e.to_string(),
            })?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| s3_error("presigning GetObject", target(), &e))?;
        Ok(request.uri().to_owned())
    }

    /// `{S3_PUBLIC_BASE_URL}/{key}`, when that is set.
    pub(crate) fn public_url(&self, key: &str) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|base| format!("{base}/{key}"))
    }

    /// Deletes the objects under each prefix; one outcome per prefix, in
    /// order.
    pub(crate) async fn delete_prefixes(
        &self,
        prefixes: &[String],
    ) -> Vec<Result<usize, StorageError>> {
        let mut outcomes = Vec::with_capacity(prefixes.len());
        for prefix in prefixes {
            outcomes.push(match split_prefix(prefix) {
                Ok(_) => self.delete_prefix(prefix).await,
                Err(e) => Err(e),
            });
        }
        outcomes
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let bucket = &self.bucket;
        let target = || format!("{bucket}/{prefix}");
        let mut pages = self
            .client
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
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| s3_error("DeleteObject", format!("{bucket}/{key}"), &e))?;
        }
        Ok(keys.len())
    }

    /// Readiness: the bucket answers to our credentials (HeadBucket).
    pub(crate) async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| s3_error("HeadBucket", self.bucket.clone(), &e))
    }
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
