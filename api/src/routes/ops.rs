//! Operations endpoints, no auth: liveness, readiness, metrics, the API docs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app_state::AppState;
use crate::prometheus::DbGauges;

/// What the operations endpoints keep between requests: the last readiness
/// check and the database gauges' reader.
#[derive(Default)]
pub struct Probes {
    /// When readiness was last checked, and whether the primary and Redis
    /// answered.
    ready: tokio::sync::Mutex<Option<(Instant, bool, bool)>>,
    gauges: Arc<DbGauges>,
}

/// A readiness check this recent answers `/readyz` again: a flood of
/// probes costs the database and Redis one check each per period.
const READY_FOR: Duration = Duration::from_millis(500);

/// The operations routes; `/metrics` only when `with_metrics` (it moves to
/// `METRICS_ADDR` when that is set).
pub fn router(openapi: String, with_metrics: bool) -> Router<AppState> {
    let probes = Arc::new(Probes::default());
    let ready = probes.clone();
    let mut router = Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move |State(state): State<AppState>| async move { readyz(&state, &ready).await }),
        )
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }),
        )
        .route(
            "/docs",
            get(|| async { Html(include_str!("../../assets/docs.html")) }),
        );
    if with_metrics {
        router = router.route(
            "/metrics",
            get(move |State(state): State<AppState>| async move {
                crate::prometheus::scrape(&state, &probes.gauges).await
            }),
        );
    }
    router
}

/// 200 when the primary database and Redis both answer within a second.
/// With a replica, the body also says how it is (`ok`, `lagging`, `down`),
/// how far behind it is, and where reads go. One check runs at a time and
/// its result answers for [`READY_FOR`]: the probe is cheap and bounded
/// however often it is asked (one pool connection and one Redis connection
/// at most).
async fn readyz(state: &AppState, probes: &Probes) -> Response {
    let (database_ok, redis_ok) = {
        let mut last = probes.ready.lock().await;
        match *last {
            Some((at, database, redis)) if at.elapsed() < READY_FOR => (database, redis),
            _ => {
                let limit = Duration::from_secs(1);
                let database =
                    tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.db));
                let redis = tokio::time::timeout(limit, ping_redis(&state.redis));
                let (database, redis) = tokio::join!(database, redis);
                let checked = (matches!(database, Ok(Ok(_))), matches!(redis, Ok(Ok(()))));
                *last = Some((Instant::now(), checked.0, checked.1));
                checked
            }
        }
    };
    let status = if database_ok && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let mut body = json!({"database": word(database_ok), "redis": word(redis_ok)});
    if let Some(report) = state.reads.report() {
        body["replica"] = json!(report.state.as_str());
        body["replica_lag_seconds"] = json!(report.lag.map(|lag| lag.as_secs_f64()));
        body["reads"] = json!(report.reads.as_str());
        body["writes"] = json!(if report.writes_refused {
            "refused"
        } else {
            "primary"
        });
    }
    (status, axum::Json(body)).into_response()
}

async fn ping_redis(client: &redis::Client) -> redis::RedisResult<()> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(|_| ())
}
