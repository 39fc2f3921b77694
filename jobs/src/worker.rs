//! A worker process: the outbox relay, one apalis worker per queue, and the
//! recall sweep, all stopped by one shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use apalis::prelude::{
    AbortError, Attempt, BackendExt, BoxDynError, Data, WorkerBuilder, WorkerBuilderExt,
};
use apalis_redis::RedisStorage;
use ondeck_domain::store::outbox::{self, Job};
use ondeck_domain::store::wake::Wake;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::relay::{self, Envelope, Queues};
use crate::settings::Settings;
use crate::sms::SmsProvider;
use crate::sweep;
use crate::tasks::{self, Deps, Retry, Running};
use ondeck_media::storage::Storage;

/// Liveness of workers in Redis: a worker silent for `HEARTBEAT × MISSED`
/// is dead, and a live one puts the jobs it held back in the queue.
const HEARTBEAT: Duration = Duration::from_secs(3);
const MISSED: usize = 5;
/// How long one run of a job may take.
const TEXT_TIMEOUT: Duration = Duration::from_secs(120);
const SOUVENIR_TIMEOUT: Duration = Duration::from_secs(60);

pub fn queue_config(name: &str) -> apalis_redis::Config {
    apalis_redis::Config::default()
        .queue(name)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED)
}

/// The queues on one Redis connection.
pub fn queues(conn: ConnectionManager) -> Queues {
    Queues {
        texts: RedisStorage::new(conn.clone()).with_config(queue_config("ondeck:texts")),
        souvenirs: RedisStorage::new(conn.clone()).with_config(queue_config("ondeck:souvenirs")),
        webhooks: RedisStorage::new(conn.clone()).with_config(queue_config("ondeck:webhooks")),
        dmx: RedisStorage::new(conn.clone()).with_config(queue_config("ondeck:dmx")),
        redis: conn,
    }
}

/// Connects to Redis, waiting for it if it is down (a worker started during
/// an outage waits rather than exits; the outbox keeps the jobs meanwhile).
async fn connect_redis(
    url: &SecretString,
    stop: &mut watch::Receiver<bool>,
) -> Option<ConnectionManager> {
    let mut warned = false;
    loop {
        match apalis_redis::connect(url.expose_secret()).await {
            Ok(conn) => return Some(conn),
            Err(e) if !warned => {
                tracing::warn!(error = %e, "waiting for Redis");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return None,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

type Signal = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

/// Runs a worker until `stop`, starting it again (under a new name, after a
/// pause) whenever it ends with an error: a Redis outage or restart ends a
/// worker's poll, and the queue must be served again once Redis is back.
async fn supervise<F, Fut>(queue: &'static str, stop: watch::Receiver<bool>, run: F)
where
    F: Fn(usize, Signal) -> Fut,
    Fut: std::future::Future<Output = Result<(), apalis::prelude::WorkerError>>,
{
    let mut restarts = 0;
    while !*stop.borrow() {
        let mut rx = stop.clone();
        let signal: Signal = Box::pin(async move {
            let _ = rx.wait_for(|s| *s).await;
            Ok(())
        });
        match run(restarts, signal).await {
            Ok(()) => break,
            Err(e) => tracing::warn!(queue, error = %e, "job worker stopped; starting it again"),
        }
        restarts += 1;
        let mut rx = stop.clone();
        tokio::select! {
            _ = rx.wait_for(|s| *s) => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// A name no other process uses, so that Redis can tell a dead worker's
/// jobs from a live one's.
fn worker_name(queue: &str, restarts: usize) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ondeck".to_owned());
    format!(
        "{host}-{}-{}-{queue}-{restarts}",
        std::process::id(),
        *INSTANCE
    )
}

static INSTANCE: std::sync::LazyLock<u32> = std::sync::LazyLock::new(rand::random);

/// Whether a failed job may succeed later (the queue retries it) rather
/// than being over for good (aborted: it goes to the dead set).
fn is_transient(e: &anyhow::Error) -> bool {
    // Another worker holds the text, or the database is away: try again.
    // The store's errors wrap sqlx's (transparently, so the chain skips it).
    e.is::<Retry>()
        || e.downcast_ref::<sqlx::Error>().is_some()
        || matches!(
            e.downcast_ref::<ondeck_domain::DomainError>(),
            Some(ondeck_domain::DomainError::Database(_))
        )
}

/// Reports a job that ended without doing its work (a text refused or out
/// of attempts, a webhook that was never taken, an aborted job) to Sentry
/// when `SENTRY_DSN` is set: its kind, outbox id and attempt, and the
/// error of an aborted one (scrubbed before sending), never its payload,
/// phone number or text.
fn report_failure(
    kind: &'static str,
    outbox_id: i64,
    attempt: usize,
    error: Option<&anyhow::Error>,
) {
    sentry::with_scope(
        |scope| {
            scope.set_transaction(Some(&format!("job {kind}")));
            scope.set_tag("job.kind", kind);
            scope.set_tag("job.outbox_id", outbox_id);
            scope.set_tag("job.attempt", attempt);
        },
        || match error {
            Some(e) => sentry::capture_error(&**e),
            None => sentry::capture_message(
                &format!("a {kind} job failed for good"),
                sentry::Level::Error,
            ),
        },
    );
}

/// Records that a job is over, so the relay's janitor leaves it alone.
async fn finished(deps: &Deps, outbox_id: i64) {
    let done = async {
        let mut conn = deps.db.acquire().await?;
        outbox::mark_done(&mut conn, outbox_id).await?;
        Ok::<_, anyhow::Error>(())
    };
    if let Err(e) = done.await {
        tracing::warn!(outbox_id, error = %e, "cannot mark a job finished; it may run again");
    }
}

/// Ends a job's run: a finished (or hopeless) job is marked done and
/// counted; one that may succeed later goes back to the queue. A job that
/// failed for good is reported.
async fn conclude(
    deps: &Deps,
    outbox_id: i64,
    kind: &'static str,
    attempt: &Attempt,
    outcome: anyhow::Result<&'static str>,
) -> Result<(), BoxDynError> {
    let attempt = attempt.current();
    match outcome {
        Ok(outcome) => {
            finished(deps, outbox_id).await;
            if outcome == "failed" {
                report_failure(kind, outbox_id, attempt, None);
            }
            metrics::counter!("ondeck_jobs_total", "kind" => kind, "outcome" => outcome)
                .increment(1);
            Ok(())
        }
        Err(e) if is_transient(&e) => {
            metrics::counter!("ondeck_jobs_total", "kind" => kind, "outcome" => "retried")
                .increment(1);
            Err(e.into())
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "job failed for good");
            report_failure(kind, outbox_id, attempt, Some(&e));
            finished(deps, outbox_id).await;
            metrics::counter!("ondeck_jobs_total", "kind" => kind, "outcome" => "aborted")
                .increment(1);
            Err(AbortError::new(e).into())
        }
    }
}

/// Runs one job of any queue (the relay puts each kind in its own): counts
/// it as running while it runs, does it, and concludes it.
async fn job_task(
    envelope: Envelope,
    deps: Data<Arc<Deps>>,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let id = envelope.outbox_id;
    let _running = deps.running.hold(id);
    let (kind, outcome) = match envelope.job {
        Job::Sms { game_id, message } => (
            "text",
            tasks::send_text(&deps, id, game_id, message)
                .await
                .map(|o| o.label()),
        ),
        Job::Verify {} => ("text", tasks::send_code(&deps, id).await.map(|o| o.label())),
        Job::Souvenir { game_id } => (
            "souvenir",
            tasks::render_souvenir(&deps, id, game_id)
                .await
                .map(|o| o.label()),
        ),
        Job::Cue { ref name, game_id } => (
            "cue",
            tasks::fire_cue(&deps, id, name, game_id)
                .await
                .map(|o| o.label()),
        ),
        Job::Webhook {
            ref cue,
            action,
            ref url,
            game_id,
            at,
        } => (
            "webhook",
            tasks::deliver_webhook(&deps, id, cue, action, url, game_id, at)
                .await
                .map(|o| o.label()),
        ),
        // A process without DMX_DEVICE hands it back (see `apply_dmx`).
        Job::Dmx {
            ref cue,
            action,
            ref channels,
            game_id,
            at,
        } => (
            "dmx",
            tasks::apply_dmx(&deps, id, cue, action, channels, game_id, at)
                .await
                .map(|o| o.label()),
        ),
    };
    conclude(&deps, id, kind, &attempt, outcome).await
}

/// How one queue is served.
struct Served {
    /// The queue's short name, for logs and worker names.
    queue: &'static str,
    backend: RedisStorage<Envelope>,
    /// Jobs run at once.
    concurrency: usize,
    /// How long one run of a job may take.
    timeout: Duration,
}

/// Serves a queue with [`job_task`] until `stop`, under [`supervise`]: every
/// queue's worker is built the same way, only what [`Served`] names differs.
async fn serve(served: Served, deps: Arc<Deps>, stop: watch::Receiver<bool>) {
    let Served {
        queue,
        backend,
        concurrency,
        timeout,
    } = served;
    supervise(queue, stop, move |restarts, signal| {
        WorkerBuilder::new(worker_name(queue, restarts))
            .backend(
                backend
                    .clone()
                    .poll_with_interval(Duration::from_millis(100)),
            )
            .data(deps.clone())
            .concurrency(concurrency)
            .timeout(timeout)
            .catch_panic()
            .build(job_task)
            .run_until(signal)
    })
    .await
}

/// Runs the worker until `shutdown` completes; jobs in progress then finish
/// and the rest stay queued. Besides its own settings, a worker takes what it
/// shares with the API: the Redis at `redis_url`, `public_base_url` for the
/// links in texts, `venue_tz` (the venue's days, as PostgreSQL names the
/// zone), and `shutdown_timeout`, how long jobs in progress may take
/// to finish after the stop signal (those still running then are handed back
/// to the queue).
pub async fn run(
    db: PgPool,
    redis_url: &SecretString,
    public_base_url: &str,
    venue_tz: &str,
    shutdown_timeout: Duration,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let grace = shutdown_timeout;
    let storage = Storage::open(&settings.storage, &db)
        .await
        .context("cannot open the souvenir storage")?;
    let wake = Wake::start(db.clone());
    let lifecycle = settings.lifecycle(wake.clone());
    let deps = Arc::new(Deps {
        db: db.clone(),
        wake: wake.clone(),
        sms: SmsProvider::new(settings.sms)?,
        storage,
        public_base_url: public_base_url.to_owned(),
        venue_tz: venue_tz.to_owned(),
        souvenir_size: settings.souvenir.size,
        souvenir_format: settings.souvenir.format,
        recall_validity: Duration::from_secs(settings.recall.policy.minutes.max(1) as u64 * 60),
        max_attempts: 5,
        first_backoff: Duration::from_millis(500),
        dmx: settings
            .cues
            .dmx_device
            .map(|device| crate::cues::Dmx::start(device, stopped(stop.clone()))),
        cues: settings.cues.file,
        webhook_secret: settings.cues.webhook_secret,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // A redirect would carry the body and its signature to a host
            // the cue file never named: a 3xx is a failed attempt.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the webhook HTTP client")?,
        running: Running::default(),
    });
    let held = deps.clone();
    let sweep = tokio::spawn(sweep::run(
        db.clone(),
        lifecycle,
        settings.recall.sweep_period,
        stopped(stop.clone()),
    ));

    let mut waiting = stop.clone();
    let Some(conn) = connect_redis(redis_url, &mut waiting).await else {
        sweep.await?;
        return Ok(());
    };
    let queues = queues(conn);
    let relay = tokio::spawn(relay::run(db, queues.clone(), stopped(stop.clone())));
    let concurrency = settings.concurrency;
    let serves_dmx = deps.dmx.is_some();
    let texts_worker = serve(
        // A text's run (its attempts and their pauses) ends well within
        // `TEXT_TIMEOUT`; past it the run is cut off and the queue tries again.
        Served {
            queue: "texts",
            backend: queues.texts.clone(),
            concurrency,
            timeout: TEXT_TIMEOUT,
        },
        deps.clone(),
        stop.clone(),
    );
    let souvenirs_worker = serve(
        Served {
            queue: "souvenirs",
            backend: queues.souvenirs.clone(),
            // Rendering is CPU work: no more at once than there are cores.
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            timeout: SOUVENIR_TIMEOUT,
        },
        deps.clone(),
        stop.clone(),
    );
    let venue_worker = serve(
        Served {
            queue: "webhooks",
            backend: queues.webhooks.clone(),
            concurrency,
            timeout: TEXT_TIMEOUT,
        },
        deps.clone(),
        stop.clone(),
    );
    // Only the process that drives the interface takes DMX jobs; they wait
    // in their queue until it runs. One at a time: scenes apply in order.
    let dmx_worker = serves_dmx.then(|| {
        serve(
            Served {
                queue: "dmx",
                backend: queues.dmx.clone(),
                concurrency: 1,
                timeout: TEXT_TIMEOUT,
            },
            deps,
            stop.clone(),
        )
    });
    let dmx_worker = async move {
        if let Some(worker) = dmx_worker {
            worker.await;
        }
    };
    tracing::info!(
        dmx = serves_dmx,
        "worker running: relay, texts, souvenirs, cues and webhooks, recall sweep"
    );
    let finished = async {
        tokio::join!(texts_worker, souvenirs_worker, venue_worker, dmx_worker);
        relay.await?;
        sweep.await?;
        Ok::<_, anyhow::Error>(())
    };
    let mut signalled = stop.clone();
    let counted = held.clone();
    let out_of_time = async move {
        let _ = signalled.wait_for(|s| *s).await;
        tracing::info!(
            seconds = grace.as_secs(),
            jobs = counted.running.snapshot().len(),
            "stopping: jobs in progress may finish"
        );
        tokio::time::sleep(grace).await;
        // Read now: the jobs stop counting as running once `finished` is
        // dropped, which happens before a branch of `select!` runs.
        counted.running.snapshot()
    };
    tokio::select! {
        finished = finished => finished?,
        ids = out_of_time => hand_back(&held, &ids).await,
    }
    tracing::info!("worker stopped");
    Ok(())
}

/// Out of time at shutdown: the jobs still running go back to the queue
/// (their outbox rows are relayed again, by this process after a restart or
/// by another worker now) and are dropped here. A job cut off halfway runs
/// again from the start, which each task makes harmless.
async fn hand_back(deps: &Deps, ids: &[i64]) {
    let handed = async {
        let mut conn = deps.db.acquire().await?;
        outbox::requeue(&mut conn, ids).await
    };
    match tokio::time::timeout(Duration::from_secs(5), handed).await {
        Ok(Ok(n)) => {
            deps.wake.after_commit();
            tracing::warn!(
                running = ids.len(),
                handed_back = n,
                "shutdown timeout reached: jobs still running go back to the queue"
            );
        }
        _ => tracing::warn!(
            running = ids.len(),
            "shutdown timeout reached, and the jobs still running could not be handed \
             back; they run again when the janitor finds them unfinished"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_outage_is_retried_however_it_is_wrapped() {
        let outage = || sqlx::Error::PoolTimedOut;
        assert!(is_transient(&anyhow::Error::new(outage())));
        let from_the_store = ondeck_domain::DomainError::Database(outage());
        assert!(is_transient(&anyhow::Error::new(from_the_store)));
        assert!(is_transient(&anyhow::Error::new(Retry("held".into()))));
        let missing = ondeck_domain::DomainError::NotFound("game");
        assert!(!is_transient(&anyhow::Error::new(missing)));
    }
}
