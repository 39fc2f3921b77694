//! Where a browser fetches a stored photo or souvenir: the URLs that the
//! player views carry and the souvenir links redirect to.

use crate::app_state::AppState;
use crate::error::{ApiError, Result};

/// URLs where a browser can fetch the stored objects `keys` (in order;
/// `None` stays `None`): signed `/media/` URLs for local storage,
/// `S3_PUBLIC_BASE_URL` or presigned URLs for S3 (`Storage::url`).
pub async fn object_urls<'a>(
    state: &AppState,
    keys: impl IntoIterator<Item = Option<&'a str>>,
) -> Result<Vec<Option<String>>> {
    let urls = keys.into_iter().map(|key| async move {
        match key {
            Some(key) => object_url(state, key).await.map(Some),
            None => Ok(None),
        }
    });
    futures::future::try_join_all(urls).await
}

pub async fn object_url(state: &AppState, key: &str) -> Result<String> {
    state
        .storage
        .url(key, &state.config.http.public_base_url)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("signing a media URL")))
}
