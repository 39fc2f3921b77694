//! Wake-ups for the listeners of the event log and the outbox.
//!
//! A NOTIFY inside a transaction makes PostgreSQL serialize the commits of
//! every notifying transaction: it holds one lock from before the commit
//! record is written until it is flushed. With a NOTIFY in every write
//! request, ondeck ran one fsync at a time. So writers commit without it and
//! then call [`Wake::after_commit`], which never waits: a task of the
//! process sends one NOTIFY on each channel, from its own connection, for
//! every burst of commits. The listeners also poll, so a wake-up lost to a
//! failed NOTIFY delays them by their poll interval at most.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::store::{event_log, outbox};

#[derive(Clone, Debug)]
pub struct Wake {
    pending: Arc<Notify>,
    /// How many commits this process announced so far.
    commits: Arc<AtomicU64>,
}

impl Wake {
    /// Starts the task that notifies on `pool` (the primary). It ends when
    /// the pool is closed.
    pub fn start(pool: PgPool) -> Wake {
        let pending = Arc::new(Notify::new());
        tokio::spawn(notify_loop(pool, pending.clone()));
        Wake {
            pending,
            commits: Arc::default(),
        }
    }

    /// Tells the listeners that a transaction that wrote events or outbox
    /// rows, or changed anything readers are shown, has committed. Calls
    /// that come while a NOTIFY is under way are folded into the next one.
    pub fn after_commit(&self) {
        self.commits.fetch_add(1, Ordering::AcqRel);
        self.pending.notify_one();
    }

    /// Tells the outbox's listeners that a transaction that wrote outbox
    /// rows, and changed no game, has committed (a join code's text): what
    /// this process read of the games stays up to date, unlike after
    /// [`Wake::after_commit`].
    pub fn after_outbox_commit(&self) {
        self.pending.notify_one();
    }

    /// How many commits [`Wake::after_commit`] was told of: what this
    /// process read before it may be out of date once this grows.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }
}

async fn notify_loop(pool: PgPool, pending: Arc<Notify>) {
    while !pool.is_closed() {
        // Wakes up now and then to see whether the pool was closed.
        if tokio::time::timeout(Duration::from_secs(1), pending.notified())
            .await
            .is_err()
        {
            continue;
        }
        let sent = sqlx::query("SELECT pg_notify($1, ''), pg_notify($2, '')")
            .bind(event_log::CHANNEL)
            .bind(outbox::CHANNEL)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "cannot wake the listeners; they poll");
        }
    }
}
