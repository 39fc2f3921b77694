//! Where a request reads: the primary or the read replica of
//! `DATABASE_READ_URL`. Writes always go to the primary (`AppState::db`);
//! this module decides every read, in one place:
//!
//! - a replica that is down, or more than `DATABASE_READ_MAX_LAG_SECONDS`
//!   behind, is skipped: reads go to the primary;
//! - a client (an API token, the admin cookie's included) that has just
//!   written reads from the primary until the replica has replayed that
//!   write: its WAL position is kept, not a timer, so a client returns to the
//!   replica as soon as it may (usually within a second) and never earlier;
//! - when the primary is down, every read goes to the replica, lagging or
//!   not (stale beats nothing), and writes answer 503 at once.
//!
//! A background task ([`Reads::monitor`]) checks both servers every second
//! over connections of its own, so a busy pool never looks like an outage.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ondeck_domain::TokenId;
use secrecy::SecretString;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool, Postgres};

use crate::caller::Caller;

/// How often the monitor looks at both servers, and how long it waits for one.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Primary WAL positions kept to date the replica's position (two minutes).
const SAMPLES: usize = 120;
/// Clients remembered as having written; past it, see [`Replica::remember`].
const MAX_WRITERS: usize = 10_000;
/// Slack on top of the maximum lag for a remembered write: the lag is
/// measured once per check, so it may be a check old.
const SLACK: Duration = Duration::from_secs(2);

/// What a write answers while the primary is unreachable.
pub const PRIMARY_DOWN: &str = "the primary database is unavailable: nothing can be changed \
     until it is back; reads still work";

/// Which server a read went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary,
    Replica,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Primary => "primary",
            Source::Replica => "replica",
        }
    }
}

/// The replica as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    Ok,
    Lagging,
    Down,
}

impl ReplicaState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::Ok => "ok",
            ReplicaState::Lagging => "lagging",
            ReplicaState::Down => "down",
        }
    }
}

/// A snapshot for `/readyz`.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaReport {
    pub state: ReplicaState,
    /// How far behind the primary the replica is, when known.
    pub lag: Option<Duration>,
    /// Where a read by a client without a recent write goes now.
    pub reads: Source,
    /// Whether writes are refused at once (the primary was found down).
    pub writes_refused: bool,
}

/// The read side of the databases: the primary, and the replica if any.
pub struct Reads {
    primary: PgPool,
    replica: Option<Replica>,
    /// Without a replica: the last check of the primary was refused (see
    /// [`Reads::monitor`]). With one, its health says.
    primary_refused: AtomicBool,
}

struct Replica {
    pool: PgPool,
    max_lag: Duration,
    health: Mutex<Health>,
    /// Per client, the primary's WAL position after its last write, and
    /// when that write stops mattering (see [`Replica::remember`]).
    writers: Mutex<HashMap<TokenId, (i64, Instant)>>,
    /// Every read goes to the primary until then (the writers map overflowed).
    all_to_primary_until: Mutex<Option<Instant>>,
}

/// What the last checks found.
#[derive(Debug, Default)]
struct Health {
    /// Unknown until the first check: reads go to the primary meanwhile.
    checked: bool,
    primary_up: bool,
    replica_up: bool,
    /// The WAL position the replica has replayed.
    replayed: i64,
    /// The primary's WAL position at each check, oldest first.
    samples: VecDeque<(Instant, i64)>,
    /// The latest moment whose primary position the replica has replayed.
    caught_up_at: Option<Instant>,
    /// How far behind the replica was at the last check (unknown until it
    /// has reached a sampled primary position).
    lag: Option<Duration>,
}

impl Health {
    fn lag(&self) -> Option<Duration> {
        self.lag
    }

    fn record(&mut self, primary: Option<(Instant, i64)>, replica: Option<i64>, now: Instant) {
        self.checked = true;
        self.primary_up = primary.is_some();
        self.replica_up = replica.is_some();
        if let Some(sample) = primary {
            self.samples.push_back(sample);
            if self.samples.len() > SAMPLES {
                self.samples.pop_front();
            }
        }
        let Some(replayed) = replica else { return };
        self.replayed = replayed;
        let passed = self.samples.iter().rev().find(|(_, lsn)| *lsn <= replayed);
        let caught_up = match passed {
            // With the primary down nothing newer can exist than its last
            // position: a replica that has it is not behind.
            Some((_, lsn))
                if primary.is_none() && Some(lsn) == self.samples.back().map(|s| &s.1) =>
            {
                Some(now)
            }
            Some((at, _)) => Some(*at),
            None => None,
        };
        self.caught_up_at = self.caught_up_at.max(caught_up);
        self.lag = self
            .caught_up_at
            .map(|at| now.saturating_duration_since(at));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reads {
    /// Reads and writes on one server.
    pub fn primary_only(primary: PgPool) -> Reads {
        Reads {
            primary,
            replica: None,
            primary_refused: AtomicBool::new(false),
        }
    }

    /// Reads routed between `primary` and the replica at `url`. The replica
    /// is connected lazily, so ondeck starts while it is down.
    pub fn with_replica(
        primary: PgPool,
        url: &SecretString,
        pool_size: u32,
        max_lag: Duration,
    ) -> anyhow::Result<Reads> {
        let options = crate::pool::connect_options(url, "DATABASE_READ_URL")?;
        // A short acquire timeout: a replica that does not answer within a
        // second is passed over for the primary (see `acquire`).
        let pool = crate::pool::checked(PgPoolOptions::new(), "read")
            .max_connections(pool_size)
            .acquire_timeout(CHECK_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Reads {
            primary,
            replica: Some(Replica {
                pool,
                max_lag,
                health: Mutex::default(),
                writers: Mutex::default(),
                all_to_primary_until: Mutex::default(),
            }),
            primary_refused: AtomicBool::new(false),
        })
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// Where a read by `caller` (none: a request without a token yet) goes now.
    pub fn route(&self, caller: Option<Caller>) -> Source {
        let Some(replica) = &self.replica else {
            return Source::Primary;
        };
        let health = lock(&replica.health);
        if !health.checked || !health.replica_up {
            return Source::Primary;
        }
        if !health.primary_up {
            return Source::Replica;
        }
        let now = Instant::now();
        if health.lag().is_none_or(|lag| lag > replica.max_lag) {
            return Source::Primary;
        }
        if lock(&replica.all_to_primary_until).is_some_and(|until| now < until) {
            return Source::Primary;
        }
        let Some(caller) = caller else {
            return Source::Replica;
        };
        let mut writers = lock(&replica.writers);
        match writers.get(&caller.token_id) {
            Some(&(lsn, until)) if lsn > health.replayed && now < until => Source::Primary,
            Some(_) => {
                writers.remove(&caller.token_id);
                Source::Replica
            }
            None => Source::Replica,
        }
    }

    /// The replica's pool, if there is a replica (for its gauges).
    pub fn replica_pool(&self) -> Option<&PgPool> {
        self.replica.as_ref().map(|replica| &replica.pool)
    }

    /// The pool a read by `caller` should use now (for streams that keep it).
    pub fn pool(&self, caller: Option<Caller>) -> &PgPool {
        match (self.route(caller), &self.replica) {
            (Source::Replica, Some(replica)) => &replica.pool,
            _ => &self.primary,
        }
    }

    /// A connection for a read by `caller`.
    pub async fn acquire(&self, caller: Option<Caller>) -> sqlx::Result<PoolConnection<Postgres>> {
        self.acquire_from(caller).await.map(|(conn, _)| conn)
    }

    /// A connection for a read by `caller`, and which server it is on. When
    /// the chosen server fails, the other is tried (a check may be up to a
    /// second old).
    pub async fn acquire_from(
        &self,
        caller: Option<Caller>,
    ) -> sqlx::Result<(PoolConnection<Postgres>, Source)> {
        let Some(replica) = &self.replica else {
            return Ok((self.primary.acquire().await?, Source::Primary));
        };
        let (first, second) = match self.route(caller) {
            Source::Replica => (
                (&replica.pool, Source::Replica),
                (&self.primary, Source::Primary),
            ),
            Source::Primary => (
                (&self.primary, Source::Primary),
                (&replica.pool, Source::Replica),
            ),
        };
        match first.0.acquire().await {
            Ok(conn) => Ok((conn, first.1)),
            Err(e) => {
                tracing::warn!(error = %e, server = first.1.as_str(), "cannot read there; trying the other server");
                let conn = second.0.acquire().await.map_err(|_| e)?;
                Ok((conn, second.1))
            }
        }
    }

    /// A connection on the primary, where revocations are written, for
    /// looking tokens up; the replica's while the primary is down. The last
    /// check may be up to a second old, so a primary that does not answer
    /// within [`CHECK_TIMEOUT`] counts as down too: a caller whose token is
    /// not cached is then answered from the replica, not refused. (A primary
    /// that is only slow then lets the replica answer too: a revocation it
    /// has not replayed yet, at most its lag old, is missed for that call.)
    pub async fn acquire_for_tokens(&self) -> sqlx::Result<PoolConnection<Postgres>> {
        let Some(replica) = &self.replica else {
            return self.primary.acquire().await;
        };
        if self.primary_down() {
            return replica.pool.acquire().await;
        }
        let error = match tokio::time::timeout(CHECK_TIMEOUT, self.primary.acquire()).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => e,
            Err(_) => sqlx::Error::PoolTimedOut,
        };
        tracing::warn!(error = %error, "cannot look a token up on the primary; asking the replica");
        replica.pool.acquire().await.map_err(|_| error)
    }

    /// Whether the last check found the primary unreachable.
    pub fn primary_down(&self) -> bool {
        match &self.replica {
            Some(replica) => {
                let health = lock(&replica.health);
                health.checked && !health.primary_up
            }
            None => self.primary_refused.load(Ordering::Acquire),
        }
    }

    /// Remembers that `caller` has just written, so that its next reads see it.
    pub async fn wrote(&self, caller: Caller) {
        let Some(replica) = &self.replica else { return };
        let position = tokio::time::timeout(CHECK_TIMEOUT, async {
            let mut conn = self.primary.acquire().await?;
            wal_position(&mut conn).await
        })
        .await;
        // Unknown: the client reads from the primary until any replica
        // still used must have it (see `remember`).
        let lsn = match position {
            Ok(Ok(lsn)) => lsn,
            _ => i64::MAX,
        };
        replica.remember(caller.token_id, lsn);
    }

    /// The replica's state for `/readyz`; `None` without a replica.
    pub fn report(&self) -> Option<ReplicaReport> {
        let replica = self.replica.as_ref()?;
        let (state, lag) = {
            let health = lock(&replica.health);
            let lag = health.lag();
            let state = if !health.checked || !health.replica_up {
                ReplicaState::Down
            } else if lag.is_none_or(|lag| lag > replica.max_lag) {
                ReplicaState::Lagging
            } else {
                ReplicaState::Ok
            };
            (state, lag.filter(|_| health.replica_up))
        };
        Some(ReplicaReport {
            state,
            lag,
            reads: self.route(None),
            writes_refused: self.primary_down(),
        })
    }

    /// Checks both servers every second until the primary pool closes.
    pub async fn monitor(self: Arc<Self>) {
        let Some(replica) = &self.replica else {
            return self.watch_primary().await;
        };
        let primary_options = self.primary.connect_options();
        let replica_options = replica.pool.connect_options();
        let (mut primary, mut standby) = (None, None);
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was = None;
        while !self.primary.is_closed() {
            ticks.tick().await;
            // The primary first: a replica position at or past it was
            // replayed no later than now.
            let at = Instant::now();
            let primary_lsn = probe(&mut primary, &primary_options, wal_position).await;
            let replayed = probe(&mut standby, &replica_options, replay_position).await;
            lock(&replica.health).record(
                primary_lsn.map(|lsn| (at, lsn)),
                replayed,
                Instant::now(),
            );
            let now = self
                .report()
                .map(|r| (r.state, r.reads, primary_lsn.is_some()));
            if now != was {
                if let Some((state, reads, primary_up)) = now {
                    tracing::info!(
                        replica = state.as_str(),
                        reads = reads.as_str(),
                        primary_up,
                        "database routing changed"
                    );
                }
                was = now;
            }
        }
    }

    /// Without a replica: checks the primary every second, so that while it
    /// refuses connections (stopped, restarting, shutting down) requests
    /// answer 503 at once instead of each waiting out
    /// `DATABASE_ACQUIRE_TIMEOUT_MS`. Only a refusal counts: a server that is
    /// merely slow to answer is not down, and requests wait for it as usual.
    async fn watch_primary(&self) {
        let options = self.primary.connect_options();
        let mut conn: Option<PgConnection> = None;
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.primary.is_closed() {
            ticks.tick().await;
            let ping = async |c: &mut PgConnection| c.ping().await.map(|()| 0);
            let refused = matches!(
                probe_outcome(&mut conn, &options, ping).await,
                Probe::Refused
            );
            if self.primary_refused.swap(refused, Ordering::AcqRel) != refused {
                if refused {
                    tracing::warn!("the database refuses connections: requests answer 503");
                } else {
                    tracing::info!("the database is back");
                }
            }
        }
    }
}

impl Replica {
    /// A write by `client` at WAL position `lsn`. It matters until the
    /// replica has replayed it, or until any replica still read from must
    /// have it (no more than the maximum lag behind).
    fn remember(&self, client: TokenId, lsn: i64) {
        let now = Instant::now();
        let until = now + self.max_lag + SLACK;
        let mut writers = lock(&self.writers);
        if writers.len() >= MAX_WRITERS && !writers.contains_key(&client) {
            writers.retain(|_, (_, until)| now < *until);
            if writers.len() >= MAX_WRITERS {
                // Too many at once to track one by one: everybody reads from
                // the primary as long as any of them might need it.
                writers.clear();
                *lock(&self.all_to_primary_until) = Some(until);
                return;
            }
        }
        writers.insert(client, (lsn, until));
    }
}

/// What a check of a server found.
enum Probe {
    Answered(i64),
    /// An error: the server refused the connection or the query.
    Refused,
    /// No answer within the check timeout.
    Silent,
}

/// Runs `query` on the kept connection `conn` (opened again when needed)
/// within the check timeout; `None` if the server did not answer.
async fn probe<F>(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    query: F,
) -> Option<i64>
where
    F: AsyncFnOnce(&mut PgConnection) -> sqlx::Result<i64>,
{
    match probe_outcome(conn, options, query).await {
        Probe::Answered(n) => Some(n),
        Probe::Refused | Probe::Silent => None,
    }
}

/// [`probe`], telling a refusal from silence.
async fn probe_outcome<F>(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    query: F,
) -> Probe
where
    F: AsyncFnOnce(&mut PgConnection) -> sqlx::Result<i64>,
{
    let answer = tokio::time::timeout(CHECK_TIMEOUT, async {
        if conn.is_none() {
            *conn = Some(PgConnection::connect_with(options).await?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(sqlx::Error::PoolClosed);
        };
        query(c).await
    })
    .await;
    let outcome = match answer {
        Ok(Ok(n)) => return Probe::Answered(n),
        Ok(Err(_)) => Probe::Refused,
        Err(_) => Probe::Silent,
    };
    // A broken or half-open connection is not reused.
    *conn = None;
    outcome
}

/// The primary's current WAL position, in bytes.
async fn wal_position(conn: &mut PgConnection) -> sqlx::Result<i64> {
    // The insert position, not `pg_current_wal_lsn()` (what has been written
    // out): with `synchronous_commit = off` a commit returns before its
    // record is written, and a client that had read-your-writes up to the
    // written position only could read its write's predecessor.
    sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")
        .fetch_one(conn)
        .await
}

/// The WAL position a standby has replayed, in bytes (a server that is not
/// a standby has everything it wrote).
async fn replay_position(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
                                     ELSE pg_current_wal_lsn() END, '0/0')::bigint",
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_that_has_replayed_an_older_primary_position_lags_by_its_age() {
        let start = Instant::now();
        let mut health = Health::default();
        for (i, lsn) in [100, 200, 300].into_iter().enumerate() {
            let at = start + Duration::from_secs(i as u64);
            health.record(Some((at, lsn)), Some(150), at);
        }
        let now = start + Duration::from_secs(2);
        assert_eq!(
            health.lag(),
            Some(Duration::from_secs(2)),
            "caught up with the first position only"
        );
        health.record(Some((now, 300)), Some(300), now);
        assert_eq!(health.lag(), Some(Duration::ZERO));
    }

    #[test]
    fn a_replica_that_never_reached_a_primary_position_has_no_known_lag() {
        let start = Instant::now();
        let mut health = Health::default();
        health.record(Some((start, 500)), Some(400), start);
        assert_eq!(health.lag(), None);
    }

    #[test]
    fn with_the_primary_down_a_replica_with_its_last_position_is_not_behind() {
        let start = Instant::now();
        let mut health = Health::default();
        health.record(Some((start, 500)), Some(500), start);
        let later = start + Duration::from_secs(30);
        health.record(None, Some(500), later);
        assert_eq!(health.lag(), Some(Duration::ZERO));
        assert!(!health.primary_up);
    }
}
