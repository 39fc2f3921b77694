//! What `/metrics` holds beyond the counters recorded where things happen:
//! the recorder's histogram buckets, and gauges of the database and the
//! pools, read when scraped, so they are right whichever process (API or
//! worker) did the work. The database is read in the background, outside
//! the request pool (see [`DbGauges`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use ondeck_domain::GameState;
use ondeck_domain::store::stats;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::app_state::AppState;

/// Request latency buckets, in seconds: most answers take a few
/// milliseconds, the slowest allowed one 30 s (the request timeout).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Text statuses, so that a status with no texts reads 0 rather than
/// keeping its last value.
const MESSAGE_STATUSES: [&str; 4] = ["queued", "sent", "failed", "delivered"];

/// The recorder's settings: `ondeck_http_request_duration_seconds` is a
/// histogram (buckets a dashboard can aggregate across processes), not a
/// summary.
pub fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new().set_buckets_for_metric(
        Matcher::Full("ondeck_http_request_duration_seconds".into()),
        &LATENCY_BUCKETS,
    )
}

/// Installs the recorder and keeps it small: histogram samples are folded
/// into their buckets every few seconds even if nobody scrapes.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = builder()?.install_recorder()?;
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep: histograms are folded only when scraped");
    }
    Ok(handle)
}

/// How long a scrape waits for the database gauges to be read after it
/// arrived; past that it answers with the last values.
const SCRAPE_WAIT: Duration = Duration::from_secs(2);

/// The database gauges are read at most this often, however many scrapes
/// come in: a flood of `/metrics` costs the database one count a period.
const MIN_READ_GAP: Duration = Duration::from_millis(500);

/// The gauges read from the database (games of the current show by state,
/// texts by status, the outbox backlog). One background task reads them on
/// a connection of its own, never one of the request pool, when a scrape
/// asks and at most every [`MIN_READ_GAP`]; every scrape waiting at that
/// moment shares the read. A scrape waits for a read that started after it
/// arrived (so what it shows is current), or [`SCRAPE_WAIT`] at most.
#[derive(Default)]
pub struct DbGauges {
    /// Reads started so far.
    started: AtomicU64,
    /// Reads finished so far.
    done: tokio::sync::watch::Sender<u64>,
    wanted: tokio::sync::Notify,
    reader: OnceLock<()>,
}

impl DbGauges {
    /// Waits for a read of the gauges that began after this call (starting
    /// the reader on first use, with `db`'s connection settings).
    pub async fn fresh(self: &Arc<Self>, db: &PgPool) {
        self.reader.get_or_init(|| {
            let options = (*db.connect_options()).clone();
            tokio::spawn(self.clone().read_when_wanted(options));
        });
        let target = self.started.load(Ordering::SeqCst) + 1;
        let mut done = self.done.subscribe();
        self.wanted.notify_one();
        let _ = tokio::time::timeout(SCRAPE_WAIT, done.wait_for(|&n| n >= target)).await;
    }

    async fn read_when_wanted(self: Arc<Self>, options: PgConnectOptions) {
        let mut last: Option<tokio::time::Instant> = None;
        loop {
            self.wanted.notified().await;
            if let Some(at) = last {
                tokio::time::sleep_until(at + MIN_READ_GAP).await;
            }
            last = Some(tokio::time::Instant::now());
            let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
            read_db_gauges(&options).await;
            self.done.send_replace(n);
        }
    }
}

/// Reads the database gauges on a connection opened for the purpose and
/// closed after (a read every half second at most, so the connection is
/// not worth keeping, and none lingers when nobody scrapes). A database
/// that does not answer within a second leaves the last values and counts
/// an error.
async fn read_db_gauges(options: &PgConnectOptions) {
    let read = async {
        let mut conn = PgConnection::connect_with(options).await?;
        let counts = stats::counts(&mut conn).await;
        let _ = conn.close().await;
        counts.map_err(anyhow::Error::from)
    };
    let counts = match tokio::time::timeout(Duration::from_secs(1), read).await {
        Ok(Ok(counts)) => counts,
        Ok(Err(e)) => return scrape_failed(&e.to_string()),
        Err(_) => return scrape_failed("timed out"),
    };
    let count = |family: &str, label: &str| {
        counts
            .iter()
            .find(|c| c.family == family && c.label == label)
            .map_or(0.0, |c| c.n as f64)
    };
    for game_state in GameState::ALL {
        let name = game_state.as_str();
        metrics::gauge!("ondeck_games", "state" => name).set(count("games", name));
    }
    for status in MESSAGE_STATUSES {
        metrics::gauge!("ondeck_messages", "status" => status).set(count("messages", status));
    }
    for stage in ["pending", "relayed"] {
        metrics::gauge!("ondeck_outbox_backlog", "stage" => stage).set(count("outbox", stage));
    }
}

/// Sets the scrape-time gauges: the database pools (from memory) and the
/// database gauges (see [`DbGauges`]), so `/metrics` itself always answers
/// and never takes a connection from the request pool.
pub async fn refresh(state: &AppState, gauges: &Arc<DbGauges>) {
    pool_gauges("primary", &state.db);
    if let Some(replica) = state.reads.replica_pool() {
        pool_gauges("read", replica);
    }
    gauges.fresh(&state.db).await;
}

/// `/metrics` of an API process: the exposition after [`refresh`].
pub async fn scrape(state: &AppState, gauges: &Arc<DbGauges>) -> Response {
    match &state.metrics {
        Some(handle) => {
            refresh(state, gauges).await;
            exposition(handle)
        }
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        )
            .into_response(),
    }
}

/// `/metrics` of `ondeck serve|run` on `METRICS_ADDR` (then the public
/// port has none): the same answer as the public one would be, on an
/// address a firewall can keep private. Bound at once, so a taken address
/// stops start-up; the returned future serves it.
pub async fn api_endpoint(
    addr: SocketAddr,
    state: AppState,
) -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let gauges = Arc::new(DbGauges::default());
    let scrape = axum::routing::get(move || async move { scrape(&state, &gauges).await });
    endpoint(addr, scrape, "metrics").await
}

/// Binds `addr` and returns the future that serves `/metrics` there.
async fn endpoint(
    addr: SocketAddr,
    scrape: axum::routing::MethodRouter,
    what: &'static str,
) -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("METRICS_ADDR: cannot listen on {addr}"))?;
    let app = axum::Router::new().route("/metrics", scrape);
    tracing::info!(%addr, "{what} listening");
    Ok(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the {what} endpoint stopped");
        }
    })
}

fn scrape_failed(error: &str) {
    tracing::warn!(error, "cannot read the counts for /metrics");
    metrics::counter!("ondeck_metrics_scrape_errors_total").increment(1);
}

/// Connections of a pool: open (`size`) and of those `idle`; the
/// difference is in use.
fn pool_gauges(pool: &'static str, db: &PgPool) {
    metrics::gauge!("ondeck_db_pool_connections", "pool" => pool, "state" => "open")
        .set(f64::from(db.size()));
    metrics::gauge!("ondeck_db_pool_connections", "pool" => pool, "state" => "idle")
        .set(db.num_idle() as f64);
    metrics::gauge!("ondeck_db_pool_max_connections", "pool" => pool)
        .set(f64::from(db.options().get_max_connections()));
}

/// The text exposition of everything recorded so far.
pub fn exposition(handle: &PrometheusHandle) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// `/metrics` of `ondeck work` on `METRICS_ADDR`: what this process's
/// worker counts (jobs, the relay, DMX) and its pool; the database gauges
/// are the API's. Bound at once, so a taken address stops start-up; the
/// returned future serves it.
pub async fn worker_endpoint(
    addr: SocketAddr,
    handle: PrometheusHandle,
    db: PgPool,
) -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let scrape = axum::routing::get(move || {
        pool_gauges("primary", &db);
        std::future::ready(exposition(&handle))
    });
    endpoint(addr, scrape, "worker metrics").await
}
