//! Tokens that authenticated recently, kept in memory so that a busy tablet
//! does not cost a database round trip per request. The cache is used only
//! while this process is listening for revocations (`tokens::REVOKED_CHANNEL`):
//! a revoked token is forgotten as soon as the notification arrives, and if
//! the listening connection drops, everything is forgotten and the cache is
//! off until it is back. Entries also expire after `TTL` regardless.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ondeck_domain::store::tokens::REVOKED_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::caller::Caller;

const TTL: Duration = Duration::from_secs(30);
/// A bound on memory: past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<Vec<u8>, (Caller, Instant)>>,
    listening: AtomicBool,
}

impl TokenCache {
    pub fn get(&self, token_hash: &[u8]) -> Option<Caller> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(token_hash)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(caller, _)| *caller)
    }

    pub fn insert(&self, token_hash: Vec<u8>, caller: Caller) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token_hash, (caller, Instant::now()));
    }

    fn forget_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn set_listening(&self, on: bool) {
        // Forget first: nothing cached while deaf may survive into the next period.
        self.forget_all();
        self.listening.store(on, Ordering::Release);
        if !on {
            self.forget_all();
        }
    }

    /// Listens for revocations until the pool closes, reconnecting after a
    /// lost connection.
    pub async fn follow_revocations(&self, pool: PgPool) {
        while !pool.is_closed() {
            match listen(&pool).await {
                Ok(mut listener) => {
                    self.set_listening(true);
                    // Any notification is a revocation; tokens are few, so
                    // forgetting them all is simpler than finding the one.
                    while let Ok(Some(_)) = listener.try_recv().await {
                        self.forget_all();
                    }
                    self.set_listening(false);
                }
                Err(e) => {
                    self.set_listening(false);
                    tracing::warn!(error = %e, "cannot listen for token revocations; tokens are checked on every request");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(REVOKED_CHANNEL).await?;
    Ok(listener)
}
