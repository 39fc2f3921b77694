//! Tokens that authenticated recently, kept in memory so that a busy tablet
//! does not cost a database round trip per request, and bearer strings that
//! failed recently, so that a client trying tokens does not cost one either.
//!
//! The cache of live tokens is used only while this process is listening for
//! revocations (`tokens::REVOKED_CHANNEL`): a revoked token is forgotten as
//! soon as the notification arrives, and if the listening connection drops,
//! everything is forgotten and the cache is off until it is back. Entries
//! also expire after `TTL` regardless.
//!
//! Every revocation notice (and every gap in listening) advances a
//! *generation*. A lookup notes the generation before it asks the database
//! and caches what it found only if no revocation came in between: an answer
//! read before a revocation never outlives it. Open event streams hear of
//! each revocation through [`TokenCache::revocations`] and end when their
//! token is the one revoked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ondeck_domain::TokenId;
use ondeck_domain::store::tokens::REVOKED_CHANNEL;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::caller::Caller;

const TTL: Duration = Duration::from_secs(30);
/// How long a bearer string that matched no live token is refused without
/// asking the database again. Tokens are random, so an unknown one cannot
/// become valid later; a revoked one stays revoked.
const REFUSED_TTL: Duration = Duration::from_secs(60);
/// A bound on memory: past it a map starts over.
const MAX_ENTRIES: usize = 10_000;

/// What a revocation notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// This token was revoked.
    Token(TokenId),
    /// Revocations may have been missed (the listening connection dropped):
    /// whoever holds a token should check it again.
    Unknown,
}

pub struct TokenCache {
    entries: Mutex<HashMap<Vec<u8>, (Caller, Instant)>>,
    refused: Mutex<HashMap<Vec<u8>, Instant>>,
    listening: AtomicBool,
    generation: AtomicU64,
    revocations: broadcast::Sender<Revoked>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            entries: Mutex::default(),
            refused: Mutex::default(),
            listening: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            revocations: broadcast::channel(64).0,
        }
    }
}

/// A lookup's ticket: taken before the database is asked, it lets the
/// answer be cached only if no revocation arrived meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl TokenCache {
    pub fn get(&self, token_hash: &[u8]) -> Option<Caller> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = lock(&self.entries);
        entries
            .get(token_hash)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(caller, _)| *caller)
    }

    /// Whether this bearer string matched no live token a moment ago.
    pub fn was_refused(&self, token_hash: &[u8]) -> bool {
        lock(&self.refused)
            .get(token_hash)
            .is_some_and(|at| at.elapsed() < REFUSED_TTL)
    }

    /// Taken before asking the database about a token.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Remembers a live token found by a lookup that started at `ticket`,
    /// unless a revocation arrived since.
    pub fn insert(&self, ticket: Ticket, token_hash: Vec<u8>, caller: Caller) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let mut entries = lock(&self.entries);
        // Checked under the lock that `forget_all` takes after advancing the
        // generation: either this sees the new generation, or its entry is
        // in the map before the revocation clears it.
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token_hash, (caller, Instant::now()));
    }

    /// Remembers a bearer string that matched no live token.
    pub fn refuse(&self, token_hash: Vec<u8>) {
        let mut refused = lock(&self.refused);
        if refused.len() >= MAX_ENTRIES {
            refused.retain(|_, at| at.elapsed() < REFUSED_TTL);
            if refused.len() >= MAX_ENTRIES {
                refused.clear();
            }
        }
        refused.insert(token_hash, Instant::now());
    }

    /// Revocation notices as they arrive, for streams that outlive a request.
    pub fn revocations(&self) -> broadcast::Receiver<Revoked> {
        self.revocations.subscribe()
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.entries).clear();
    }

    fn revoked(&self, notice: Revoked) {
        self.forget_all();
        // No receiver is fine: no stream is open.
        let _ = self.revocations.send(notice);
    }

    fn set_listening(&self, on: bool) {
        // Forget first: nothing cached while deaf may survive into the next period.
        self.forget_all();
        self.listening.store(on, Ordering::Release);
        if !on {
            self.forget_all();
        }
        // Whatever was revoked while nobody listened, streams check again.
        let _ = self.revocations.send(Revoked::Unknown);
    }

    /// Listens for revocations until the pool closes, reconnecting after a
    /// lost connection.
    pub async fn follow_revocations(&self, pool: PgPool) {
        while !pool.is_closed() {
            match listen(&pool).await {
                Ok(mut listener) => {
                    self.set_listening(true);
                    while let Ok(Some(notification)) = listener.try_recv().await {
                        let notice = notification
                            .payload()
                            .parse()
                            .map_or(Revoked::Unknown, Revoked::Token);
                        self.revoked(notice);
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(REVOKED_CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ondeck_domain::models::Role;

    fn caller() -> Caller {
        Caller {
            token_id: "7".parse().expect("a token id"),
            role: Role::Display,
        }
    }

    fn listening() -> TokenCache {
        let cache = TokenCache::default();
        cache.set_listening(true);
        cache
    }

    #[test]
    fn a_lookup_that_began_before_a_revocation_is_not_cached() {
        let cache = listening();
        let ticket = cache.ticket();
        cache.revoked(Revoked::Token(caller().token_id));
        cache.insert(ticket, b"hash".to_vec(), caller());
        assert_eq!(cache.get(b"hash"), None);
        let ticket = cache.ticket();
        cache.insert(ticket, b"hash".to_vec(), caller());
        assert_eq!(cache.get(b"hash"), Some(caller()));
    }

    #[test]
    fn nothing_is_cached_while_not_listening() {
        let cache = TokenCache::default();
        let ticket = cache.ticket();
        cache.insert(ticket, b"hash".to_vec(), caller());
        assert_eq!(cache.get(b"hash"), None);
    }

    #[test]
    fn revocations_reach_subscribers_with_the_token() {
        let cache = listening();
        let mut notices = cache.revocations();
        cache.revoked(Revoked::Token(caller().token_id));
        assert_eq!(notices.try_recv(), Ok(Revoked::Token(caller().token_id)));
        cache.set_listening(false);
        assert_eq!(notices.try_recv(), Ok(Revoked::Unknown));
    }

    #[test]
    fn refused_strings_are_remembered() {
        let cache = TokenCache::default();
        assert!(!cache.was_refused(b"nope"));
        cache.refuse(b"nope".to_vec());
        assert!(cache.was_refused(b"nope"));
    }
}
