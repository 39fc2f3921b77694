//! The outbox relay: moves jobs written by requests (in the same
//! transaction as their cause) to the Redis queues, and marks them relayed.
//! A relay that dies between pushing and marking pushes again: the tasks are
//! idempotent per outbox row, so that costs nothing but a duplicate run.

use std::time::Duration;

use apalis::prelude::TaskSink;
use apalis_core::backend::Vacuum;
use apalis_redis::RedisStorage;
use ondeck_domain::store::outbox::{self, Job};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// What travels through Redis: the outbox row's id (the job's identity for
/// idempotency) and the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub outbox_id: i64,
    pub job: Job,
}

/// The Redis queues, one per kind of job, so that a provider outage that
/// keeps texts retrying never holds up souvenirs.
#[derive(Clone)]
pub struct Queues {
    pub texts: RedisStorage<Envelope>,
    pub souvenirs: RedisStorage<Envelope>,
    /// Venue cues and their webhooks.
    pub webhooks: RedisStorage<Envelope>,
    /// DMX scenes: served only by the process that has `DMX_DEVICE`.
    pub dmx: RedisStorage<Envelope>,
    pub redis: ConnectionManager,
}

/// Rows moved per transaction.
const BATCH: i64 = 200;
/// Relaying pauses while a queue holds this many waiting jobs: the Redis
/// backend jams when several thousand jobs are due at once, and PostgreSQL
/// holds a backlog better anyway.
pub const MAX_WAITING: i64 = 2_000;
/// Finished jobs stay in Redis this long (for apalis' own tools), then go.
const FINISHED_KEPT: Duration = Duration::from_secs(600);
const VACUUM_EVERY: Duration = Duration::from_secs(60);
/// A job relayed this long ago and not finished is relayed again.
const UNFINISHED_AFTER: Duration = Duration::from_secs(300);
/// No Redis command may hold the relay longer than this.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);
/// A key the relays keep in Redis. When it is gone, Redis has lost what it
/// held (restarted without persistence, flushed, failed over to an empty
/// replica), and with it the jobs it was holding: see [`recover_lost_jobs`].
pub const EPOCH_KEY: &str = "ondeck:relay:epoch";
/// How often a relay looks for that key.
const EPOCH_EVERY: Duration = Duration::from_secs(1);

impl Queues {
    fn for_job(&mut self, job: &Job) -> &mut RedisStorage<Envelope> {
        match job {
            Job::Sms { .. } | Job::Verify {} => &mut self.texts,
            Job::Souvenir { .. } => &mut self.souvenirs,
            Job::Cue { .. } | Job::Webhook { .. } => &mut self.webhooks,
            Job::Dmx { .. } => &mut self.dmx,
        }
    }

    /// Forgets finished jobs: apalis keeps them in Redis until vacuumed, and
    /// what they did is recorded in PostgreSQL (messages, souvenirs).
    async fn vacuum(&mut self) -> usize {
        let mut removed = 0;
        let queues = [
            &mut self.texts,
            &mut self.souvenirs,
            &mut self.webhooks,
            &mut self.dmx,
        ];
        for queue in queues {
            match queue.vacuum_before(FINISHED_KEPT).await {
                Ok(n) => removed += n,
                Err(e) => tracing::warn!(error = %e, "cannot vacuum finished jobs"),
            }
        }
        removed
    }

    /// Jobs waiting in the fullest queue. The DMX queue does not count: with
    /// no process that has `DMX_DEVICE` it only grows, and must not stop the
    /// texts.
    async fn waiting(&mut self) -> redis::RedisResult<i64> {
        let mut most = 0;
        for key in [
            self.texts.get_config().active_jobs_list(),
            self.souvenirs.get_config().active_jobs_list(),
            self.webhooks.get_config().active_jobs_list(),
        ] {
            let len: i64 = redis::cmd("LLEN")
                .arg(&key)
                .query_async(&mut self.redis)
                .await?;
            most = most.max(len);
        }
        Ok(most)
    }
}

/// Moves one batch; returns how many rows it relayed.
pub async fn relay_batch(db: &PgPool, queues: &mut Queues) -> anyhow::Result<usize> {
    if queues.waiting().await? >= MAX_WAITING {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let rows = outbox::claim_pending(&mut tx, BATCH).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let envelope = Envelope {
            outbox_id: row.id,
            job: row.payload.0,
        };
        queues
            .for_job(&envelope.job)
            .push(envelope)
            .await
            .map_err(|e| anyhow::anyhow!("cannot push to Redis: {e}"))?;
        ids.push(row.id);
    }
    outbox::mark_relayed(&mut tx, &ids).await?;
    ondeck_domain::store::commit::commit(tx).await?;
    metrics::counter!("ondeck_outbox_relayed_total").increment(ids.len() as u64);
    Ok(ids.len())
}

/// Relays until `shutdown`: woken by the outbox's NOTIFY, and every second
/// regardless (a missed notification, a Redis outage, a full queue).
pub async fn run(db: PgPool, mut queues: Queues, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut listener = listen(&db).await;
    let mut failing = false;
    let mut last_vacuum = tokio::time::Instant::now();
    let mut last_epoch: Option<tokio::time::Instant> = None;
    loop {
        if last_vacuum.elapsed() >= VACUUM_EVERY {
            last_vacuum = tokio::time::Instant::now();
            housekeeping(&db, &mut queues).await;
        }
        if last_epoch.is_none_or(|at| at.elapsed() >= EPOCH_EVERY) {
            last_epoch = Some(tokio::time::Instant::now());
            let recovered =
                tokio::time::timeout(REDIS_TIMEOUT, recover_lost_jobs(&db, &mut queues));
            if let Ok(Err(e)) = recovered.await {
                tracing::debug!(error = %format!("{e:#}"), "cannot check whether Redis lost jobs");
            }
        }
        let batch = tokio::time::timeout(REDIS_TIMEOUT, relay_batch(&db, &mut queues)).await;
        match batch.unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "Redis did not answer within {REDIS_TIMEOUT:?}"
            ))
        }) {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => failing = false,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %format!("{e:#}"), "relay paused; jobs wait in the outbox");
                }
                failing = true;
            }
        }
        let wake = async {
            match listener.as_mut() {
                Some(l) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), l.try_recv()).await;
                }
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = wake => {}
        }
        if listener.is_none() {
            listener = listen(&db).await;
        }
    }
    tracing::info!("relay stopped");
}

/// Brings back, at once, the jobs a Redis that lost its data held: when
/// [`EPOCH_KEY`] is missing, the relay that sets it again marks every job
/// relayed and not finished for relaying again. A job that was in fact still
/// queued runs twice, which the tasks make harmless (each is idempotent per
/// outbox row); without this it would wait for the janitor's
/// [`UNFINISHED_AFTER`]. The first relay on a new Redis does the same, which
/// is right: nothing relayed earlier can be in it.
pub async fn recover_lost_jobs(db: &PgPool, queues: &mut Queues) -> anyhow::Result<u64> {
    let present: bool = redis::cmd("EXISTS")
        .arg(EPOCH_KEY)
        .query_async(&mut queues.redis)
        .await?;
    if present {
        return Ok(0);
    }
    // Of several relays, only the one whose SET NX succeeds requeues.
    let set: Option<String> = redis::cmd("SET")
        .arg(EPOCH_KEY)
        .arg(chrono::Utc::now().to_rfc3339())
        .arg("NX")
        .query_async(&mut queues.redis)
        .await?;
    if set.is_none() {
        return Ok(0);
    }
    let requeued = async {
        let mut conn = db.acquire().await?;
        outbox::requeue_unfinished(&mut conn, 0.0).await
    };
    let requeued = match requeued.await {
        Ok(n) => n,
        Err(e) => {
            // The next check (this relay's or another's) tries again.
            let _: redis::RedisResult<i64> = redis::cmd("DEL")
                .arg(EPOCH_KEY)
                .query_async(&mut queues.redis)
                .await;
            return Err(e.into());
        }
    };
    if requeued > 0 {
        tracing::warn!(
            jobs = requeued,
            "Redis has lost the jobs it held (restarted without persistence?); relaying them again"
        );
    }
    Ok(requeued)
}

/// Once a minute: forget finished jobs in Redis, and (in one process per
/// minute) bring back jobs that Redis lost.
async fn housekeeping(db: &PgPool, queues: &mut Queues) {
    if let Ok(removed) = tokio::time::timeout(REDIS_TIMEOUT, queues.vacuum()).await
        && removed > 0
    {
        tracing::debug!(removed, "vacuumed finished jobs");
    }
    if let Ok(true) = crate::sweep::claim_period(db, "outbox_janitor", VACUUM_EVERY).await {
        let requeued = async {
            let mut conn = db.acquire().await?;
            Ok::<_, anyhow::Error>(
                outbox::requeue_unfinished(&mut conn, UNFINISHED_AFTER.as_secs_f64()).await?,
            )
        };
        match requeued.await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "jobs relayed long ago never finished; relaying them again"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot look for unfinished jobs"),
        }
    }
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(db).await.ok()?;
    listener.listen(outbox::CHANNEL).await.ok()?;
    Some(listener)
}
