//! Waiting for something to happen, and running many things at once.

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it gives `Some`, for at most `limit`;
/// then fails naming `what`.
pub async fn eventually<T>(
    what: &str,
    limit: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `futures` at most `n` at a time, in order of completion.
pub async fn at_most<F: Future>(n: usize, futures: Vec<F>) -> Vec<F::Output> {
    use futures::StreamExt as _;
    futures::stream::iter(futures)
        .buffer_unordered(n)
        .collect()
        .await
}
