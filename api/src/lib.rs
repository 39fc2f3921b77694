//! ondeck's HTTP API and the processes of the `ondeck` binary. `main.rs`
//! only parses the command line; everything here is callable from tests.

pub mod app_state;
pub mod auth;
pub mod caller;
pub mod cli;
pub mod config;
pub mod ctx;
pub mod db;
pub mod error;
pub mod event_hub;
pub mod extract;
pub mod list;
pub mod media_urls;
pub mod middleware;
pub mod openapi;
pub mod player_detail;
pub mod player_lines;
pub mod pool;
pub mod prometheus;
pub mod qr;
pub mod query;
pub mod read_cache;
pub mod report_cache;
pub mod reporting;
pub mod responses;
pub mod routes;
pub mod sessions;
pub mod single_flight;
pub mod telemetry;
pub mod token_cache;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::app_state::AppState;
use crate::config::Config;
use crate::error::ApiError;

/// The whole HTTP surface: `/api/v1`, the operations endpoints and the
/// problem-format fallbacks. `main` and the tests build it the same way.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// [`app`] with `extra` routes merged in under every layer, as if they were
/// ondeck's own: how a test reaches a handler that production does not have
/// (one that panics, to check what error reporting sends).
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let (api, openapi) = routes::api();
    let openapi = openapi
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let limits = Arc::new(middleware::Limits::new(&state.config));
    let inner = Router::new()
        .merge(api)
        .merge(extra)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::idempotency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::route_writes,
        ))
        .layer(DefaultBodyLimit::max(extract::JSON_LIMIT))
        // With METRICS_ADDR, /metrics is served there instead (see `serve`).
        .merge(routes::ops::router(
            openapi,
            state.config.http.metrics_addr.is_none(),
        ))
        .merge(routes::media::public_router())
        .merge(routes::pages::router())
        .merge(routes::player_pages::router().split_for_parts().0)
        .merge(routes::join::router().split_for_parts().0)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), limits.clone()),
            middleware::rate_limit,
        ))
        .layer(axum::Extension(limits))
        .layer(axum::middleware::from_fn(middleware::http_metrics))
        // Sentry, only with SENTRY_DSN: a hub per request (outermost), the
        // request's data, then the route tags and the report of a 5xx.
        .layer(reporting::when_on(axum::middleware::from_fn(
            reporting::report_server_errors,
        )))
        .layer(reporting::when_on(
            sentry::integrations::tower::SentryHttpLayer::new(),
        ))
        .layer(reporting::when_on(
            sentry::integrations::tower::NewSentryLayer::new_from_top(),
        ))
        .with_state(state.clone());
    // The method override has to act before routing picks a handler, so it
    // wraps the routed service instead of being one of its layers.
    let overridden = axum::middleware::from_fn(middleware::method_override).layer(inner);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(state.config.http.cors_origins.clone()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            "idempotency-key".parse().expect("header name"),
            "x-http-method-override".parse().expect("header name"),
        ]);
    Router::new()
        .fallback_service(overridden)
        .layer(axum::middleware::from_fn_with_state(
            state.config.http.request_timeout,
            middleware::request_timeout,
        ))
        .layer(cors)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
        .layer(axum::middleware::map_response(hide_bare_errors))
}

/// Responses that come from layers rather than handlers (a timeout, a
/// panic) get the problem format too.
async fn hide_bare_errors(response: axum::response::Response) -> axum::response::Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    if response.headers().get(header::CONTENT_TYPE).is_some() {
        return response;
    }
    let status = response.status();
    let detail = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut problem = error::problem(status, "http", &detail, Default::default()).into_response();
    // A 405 says which methods the resource has (RFC 9110).
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// A panicking handler answers a plain 500 problem; the panic is logged, and
/// the process goes on serving.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    ApiError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// The process-wide Prometheus recorder (a recorder can be installed once).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match prometheus::install() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .clone()
}

pub async fn connect(url: &secrecy::SecretString, max_connections: u32) -> anyhow::Result<PgPool> {
    connect_waiting(url, max_connections, Duration::from_secs(3)).await
}

/// A pool whose requests wait at most `acquire_timeout` for a connection
/// (`DATABASE_ACQUIRE_TIMEOUT_MS`).
pub async fn connect_waiting(
    url: &secrecy::SecretString,
    max_connections: u32,
    acquire_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let options = pool::connect_options(url, "DATABASE_URL")?;
    // A short acquire timeout: when every connection is busy or the database
    // is down, a request fails fast with 503 instead of hanging.
    pool::checked(PgPoolOptions::new(), "primary")
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .context("cannot connect to PostgreSQL")
}

/// Connects to everything the API needs.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let db = connect_waiting(
        &config.database.url,
        config.database.pool_size,
        config.database.acquire_timeout,
    )
    .await?;
    let reads = match &config.database.read_url {
        Some(url) => db::Reads::with_replica(
            db.clone(),
            url,
            config.database.pool_size,
            config.database.read_max_lag,
        )?,
        None => db::Reads::primary_only(db.clone()),
    };
    // One gate for every photo this process decodes, set before any is.
    ondeck_media::images::photo::gate::set_decodes(config.worker.photo_decodes);
    let storage = ondeck_media::storage::Storage::open(&config.worker.storage, &db)
        .await
        .context("cannot open the storage")?;
    adopt_stations(&db, config.venue.stations).await;
    let redis = redis::Client::open(config.redis.url.expose_secret())
        .context("REDIS_URL is not a valid Redis URL")?;
    Ok(AppState {
        wake: ondeck_domain::store::wake::Wake::start(db.clone()),
        db,
        reads: Arc::new(reads),
        redis,
        config: Arc::new(config),
        metrics: metrics_handle(),
        tokens: Default::default(),
        events: Default::default(),
        lines: Default::default(),
        reports: Default::default(),
        answers: Default::default(),
        storage,
    })
}

/// Shows made before each show had its own `stations` followed
/// `STATIONS`: they keep its value. A database not migrated yet is left
/// for `ondeck migrate`.
async fn adopt_stations(db: &sqlx::PgPool, stations: u32) {
    let adopted = async {
        let mut conn = db.acquire().await?;
        ondeck_domain::store::shows::adopt_stations(&mut conn, stations as i32)
            .await
            .map_err(anyhow::Error::from)
    };
    match adopted.await {
        Ok(0) => {}
        Ok(n) => tracing::info!(shows = n, stations, "shows take STATIONS as their own"),
        Err(e) => tracing::warn!(error = %e, "cannot give older shows their stations"),
    }
}

/// How long a client may take to send a request's head (its line and
/// headers) before the connection is closed, so that slow or silent
/// clients cannot hold connections open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API until `shutdown` completes, then finishes in-flight
/// requests. With `METRICS_ADDR`, `/metrics` is served there and not on the
/// public port.
pub async fn serve(
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = state.config.http.listen_addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    if let Some(metrics_addr) = state.config.http.metrics_addr {
        tokio::spawn(prometheus::api_endpoint(metrics_addr, state.clone()).await?);
    }
    tracing::info!(%addr, url = %state.config.http.public_base_url, "ondeck API listening");
    // Revocations are announced on the primary, where they are written.
    let (tokens, primary) = (state.tokens.clone(), state.db.clone());
    tokio::spawn(async move { tokens.follow_revocations(primary).await });
    // Which server reads go to, checked every second.
    tokio::spawn(state.reads.clone().monitor());
    // Events are NOTIFYed on the primary too.
    state.follow_events();
    let (hub, grace) = (state.events.clone(), state.config.http.shutdown_timeout);
    let (signalled, mut stopping) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        tracing::info!(
            seconds = grace.as_secs(),
            "stopping: no new connections; requests in progress may finish"
        );
        // Event streams never finish by themselves.
        hub.stop();
        signalled.send_replace(true);
    };
    let server = serve_connections(listener, app(state), HEADER_READ_TIMEOUT, shutdown);
    let out_of_time = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {},
        () = out_of_time => tracing::warn!(
            "shutdown timeout reached: requests still in progress are cut off"
        ),
    }
    tracing::info!("API stopped");
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for
/// the open connections to finish. This is `axum::serve` (HTTP/1 and h2c,
/// upgrades, the peer address as `ConnectInfo` for the rate limit of
/// requests without a token) plus what it cannot set: a connection whose
/// request head has not arrived within `header_read_timeout` is closed.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small JSON answers should leave at once, not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let service =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req
                });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
