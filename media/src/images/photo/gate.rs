//! The decode gate: how many photo decodes run at once in this process.
//!
//! A decode within the limits may still need [`super::MAX_DECODE_ALLOC`]
//! for its pixels and as much again to turn them upright, and it runs on a
//! blocking thread that nothing can stop once it has started. Uploads and
//! souvenir renders alike go through [`run`], so that a flood of photos
//! costs at most a few decodes' memory and cores, and the rest of the
//! process keeps answering. A request that gives up (its timeout, a client
//! that goes away) stops waiting for the gate; a decode already started
//! keeps its place until it ends.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;
use tokio::task::JoinError;

/// Decodes at once in a process when `PHOTO_DECODES` is not set.
pub const DEFAULT_DECODES: usize = 2;

struct Gate {
    places: Arc<Semaphore>,
    decodes: usize,
}

static GATE: OnceLock<Gate> = OnceLock::new();

fn gate() -> &'static Gate {
    GATE.get_or_init(|| Gate::new(DEFAULT_DECODES))
}

impl Gate {
    fn new(decodes: usize) -> Gate {
        let decodes = decodes.max(1);
        Gate {
            places: Arc::new(Semaphore::new(decodes)),
            decodes,
        }
    }
}

/// Sets how many decodes may run at once (at least one), once, at start:
/// `false` when the gate was already set or used.
pub fn set_decodes(decodes: usize) -> bool {
    GATE.set(Gate::new(decodes)).is_ok()
}

/// How many decodes may run at once in this process.
pub fn decodes() -> usize {
    gate().decodes
}

/// Runs `work` (a decode and whatever is done with its pixels) on a
/// blocking thread once the gate lets it through, holding its place until
/// `work` returns. An error only when `work` panicked.
pub async fn run<T, F>(work: F) -> Result<T, JoinError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let permit = gate().places.clone().acquire_owned().await;
    tokio::task::spawn_blocking(move || {
        // The gate is never closed, so the permit is always there.
        let _place = permit;
        work()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_gate_allows_run_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(40));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.expect("joins").expect("runs");
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most >= 1 && most <= decodes(), "{most} at once");
        // The unit tests share one gate of the default size.
        assert_eq!(decodes(), DEFAULT_DECODES);
        assert_eq!(most, DEFAULT_DECODES, "the gate lets its full number run");
    }
}
