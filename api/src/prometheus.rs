//! What `/metrics` holds beyond the counters recorded where things happen:
//! the recorder's histogram buckets, and gauges read at scrape time from the
//! database and the pools, so they are right whichever process (API or
//! worker) did the work.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use ondeck_domain::GameState;
use ondeck_domain::store::stats;
use sqlx::PgPool;

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

/// Sets the scrape-time gauges: games of the current show by state, texts
/// by status, the outbox backlog and the database pools. A database that
/// does not answer within a second leaves the last values and counts an
/// error, so `/metrics` itself always answers.
pub async fn refresh(state: &AppState) {
    pool_gauges("primary", &state.db);
    if let Some(replica) = state.reads.replica_pool() {
        pool_gauges("read", replica);
    }
    let read = async {
        let mut conn = state.reads.acquire(None).await?;
        stats::counts(&mut conn).await.map_err(anyhow::Error::from)
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
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("METRICS_ADDR: cannot listen on {addr}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            pool_gauges("primary", &db);
            std::future::ready(exposition(&handle))
        }),
    );
    tracing::info!(%addr, "worker metrics listening");
    Ok(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the worker's metrics endpoint stopped");
        }
    })
}
