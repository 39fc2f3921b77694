//! Logging and the shutdown signal shared by the API and the worker.

use axum::extract::MatchedPath;
use axum::http::Request;
use sentry::integrations::tracing::BreadcrumbLayer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Logs to stderr as text or JSON lines; `RUST_LOG` overrides the level.
/// Log lines from info up are also kept as the breadcrumbs of a later error
/// report (never reports of their own: errors are reported once, where they
/// happen; see `reporting`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
        LogFormat::Text => lines.boxed(),
    };
    let breadcrumbs = BreadcrumbLayer::new().with_filter(LevelFilter::INFO);
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(breadcrumbs)
        .try_init();
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// Request spans carry the route template, never the query string (which
/// may hold a search for a phone number).
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), route)
}

/// Completes on SIGTERM or Ctrl-C: drives the API's graceful shutdown and the worker's.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
