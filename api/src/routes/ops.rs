//! Operations endpoints, no auth: liveness, readiness, metrics, the API docs.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app_state::AppState;

pub fn router(openapi: String) -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }),
        )
        .route(
            "/docs",
            get(|| async { Html(include_str!("../../assets/docs.html")) }),
        )
}

/// 200 when the primary database and Redis both answer within a second.
/// With a replica, the body also says how it is (`ok`, `lagging`, `down`),
/// how far behind it is, and where reads go.
async fn readyz(State(state): State<AppState>) -> Response {
    let limit = Duration::from_secs(1);
    let database = tokio::time::timeout(limit, sqlx::query("SELECT 1").execute(&state.db)).await;
    let database_ok = matches!(database, Ok(Ok(_)));
    let redis_ok = matches!(
        tokio::time::timeout(limit, ping_redis(&state.redis)).await,
        Ok(Ok(()))
    );
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

async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => {
            // The gauges read from the database and the pools, set just now.
            crate::prometheus::refresh(&state).await;
            crate::prometheus::exposition(handle)
        }
        None => (
            StatusCode::NOT_FOUND,
            "metrics are not enabled in this process",
        )
            .into_response(),
    }
}
