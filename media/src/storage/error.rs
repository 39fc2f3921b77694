//! What a failed storage operation reports.

use std::path::PathBuf;

/// A failed storage operation. Messages name the operation and the key or
/// path, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is not one storage accepts (see the `storage` module docs).
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
    /// [`Storage::open`](super::Storage::open)).
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
