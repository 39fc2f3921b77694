//! The event hub of an API process: one PostgreSQL LISTEN connection, and a
//! bounded broadcast to every SSE subscriber of this process. The broadcast
//! never waits for a subscriber: one that falls behind reads the rest from
//! the event log (see `routes::events`), so a slow client never holds up the
//! others or makes the process buffer without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use ondeck_domain::store::event_log::{self, CHANNEL, Event};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};

/// Events a subscriber may be behind the broadcast before it has to catch
/// up from the log.
const BUFFER: usize = 1024;
/// Events fetched per query.
pub const BATCH: i64 = 500;
/// The hub reads the log at most this often: finding the log's horizon
/// holds event writers back for an instant (see `event_log::horizon`).
const MIN_INTERVAL: Duration = Duration::from_millis(5);

pub struct EventHub {
    sender: broadcast::Sender<Arc<Event>>,
    /// The last event broadcast: replays read up to it, never beyond, so
    /// they never pass an event still in flight.
    horizon: AtomicI64,
    /// Set when the process stops: every stream ends.
    stopping: watch::Sender<bool>,
    /// Wake-ups and events seen so far (see [`EventHub::changes`]).
    changes: AtomicU64,
}

impl Default for EventHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUFFER).0,
            horizon: AtomicI64::new(0),
            stopping: watch::Sender::new(false),
            changes: AtomicU64::new(0),
        }
    }
}

impl EventHub {
    /// Ends every stream (the process is stopping): a stream would otherwise
    /// hold the graceful shutdown open for as long as its client listens.
    /// Clients reconnect with `Last-Event-ID` to another process or to this
    /// one's successor, and miss nothing.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Completes once [`EventHub::stop`] has been called.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|stop| *stop).await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// Replays read the log up to here (see `event_log::horizon`).
    pub fn horizon(&self) -> i64 {
        self.horizon.load(Ordering::Acquire)
    }

    /// Grows with every change any process announced: each NOTIFY received
    /// (a process sends one after each burst of commits, see `Wake`), each
    /// event passed on, and each reconnection of the listener (what was
    /// sent while it was away is lost). What this process read before may
    /// be out of date once it grows.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Follows the event log until the pool closes: woken by each NOTIFY,
    /// and once a second regardless (a notification lost while reconnecting
    /// delays an event by a second at most, never drops it).
    pub async fn run(&self, pool: PgPool) {
        let mut last = loop {
            match pool.acquire().await {
                Ok(mut conn) => match event_log::horizon(&mut conn, 0).await {
                    Ok(id) => {
                        self.horizon.store(id, Ordering::Release);
                        break id;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the event log yet"),
                },
                Err(_) if pool.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "cannot read the event log yet"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let mut listener: Option<PgListener> = None;
        while !pool.is_closed() {
            if listener.is_none() {
                listener = listen(&pool).await;
                self.changed();
            }
            match listener.as_mut() {
                Some(l) => {
                    // A notification, a lost connection, or a second gone by.
                    match tokio::time::timeout(Duration::from_secs(1), l.try_recv()).await {
                        Ok(Ok(Some(_))) => self.changed(),
                        // The connection was lost and made again: what was
                        // sent meanwhile is lost.
                        Ok(Ok(None)) => self.changed(),
                        Ok(Err(_)) => listener = None,
                        Err(_) => {}
                    }
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
            last = self.forward(&pool, last).await;
            tokio::time::sleep(MIN_INTERVAL).await;
        }
    }

    /// Broadcasts the events after `last`; returns the new last id.
    async fn forward(&self, pool: &PgPool, mut last: i64) -> i64 {
        let Ok(mut conn) = pool.acquire().await else {
            return last;
        };
        let horizon = match event_log::horizon(&mut conn, last).await {
            Ok(horizon) => horizon,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event log");
                return last;
            }
        };
        // Published before the events go out: a subscriber that misses
        // their broadcast (it subscribed just after) replays up to here.
        self.horizon.store(horizon, Ordering::Release);
        loop {
            let batch = match event_log::after(&mut conn, last, horizon, BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the event log");
                    return last;
                }
            };
            let full = batch.len() as i64 == BATCH;
            if !batch.is_empty() {
                self.changed();
            }
            for event in batch {
                last = event.id;
                // No subscriber is not an error.
                let _ = self.sender.send(Arc::new(event));
            }
            if !full {
                // Ids that hold no event (rolled-back writes) are passed too.
                return horizon;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}
